//! Response encoding primitives: strings, mailbox names, number lists, response codes and
//! status lines, written into a `Vec<u8>`.
//!
//! Owns: the server-side spelling of RFC 3501 §9 / RFC 9051 §9 values (`astring`, `nstring`,
//! `string` as quoted or literal, `resp-text-code`, `resp-cond-state`). Does not own whole
//! responses (FETCH, LIST, ESEARCH... are built by the command modules from these pieces).
//!
//! Strings are sent quoted when they can be (short, 7-bit, no CR/LF/NUL) and as a literal
//! `{n}\r\n...` otherwise. A literal may not carry NUL (`CHAR8`): data with NUL can only go out
//! as `literal8` (`~{n}`, RFC 3516 §4.3, BINARY responses only) via [`write_literal8`].

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use super::mutf7;
use super::sequence::SequenceSet;
use super::types::{is_astring_char, Flag, MailboxEncoding, ObjectId, Tag};

/// Strings longer than this go out as literals even when they could be quoted: a long quoted
/// string is no cheaper and some clients mis-handle them.
pub const MAX_QUOTED: usize = 1024;

/// Whether 8-bit UTF-8 may go out inside a quoted string: only once the client has enabled
/// UTF8=ACCEPT (RFC 6855 §3) or under IMAP4rev2 (RFC 9051 §9 `QUOTED-CHAR =/ UTF8-2 ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EightBit {
    /// 7-bit only: any octet above 0x7f forces a literal.
    Literal,
    /// Valid UTF-8 may be quoted.
    QuotedUtf8,
}

/// Writes `s` as a `string`: quoted when possible, else a literal.
pub fn write_string(out: &mut Vec<u8>, s: &[u8], eight_bit: EightBit) {
    if can_quote(s, eight_bit) {
        write_quoted(out, s);
    } else {
        write_literal(out, s);
    }
}

/// `s` as a `string` (7-bit quoting rules), in a new buffer.
pub fn quoted_or_literal(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 8);
    write_string(&mut out, s, EightBit::Literal);
    out
}

fn can_quote(s: &[u8], eight_bit: EightBit) -> bool {
    if s.len() > MAX_QUOTED || s.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n')) {
        return false;
    }
    if s.is_ascii() {
        return true;
    }
    eight_bit == EightBit::QuotedUtf8 && std::str::from_utf8(s).is_ok()
}

/// `quoted = DQUOTE *QUOTED-CHAR DQUOTE`, escaping `"` and `\`. The caller has checked that
/// `s` holds no CR, LF or NUL.
fn write_quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// `literal = "{" number "}" CRLF *CHAR8`.
pub fn write_literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// `literal8 = "~{" number "}" CRLF *OCTET` (RFC 3516 §4.3), for BINARY[] data.
pub fn write_literal8(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("~{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// Writes `s` as an `astring`: an atom when every octet is an ASTRING-CHAR, else a string.
pub fn write_astring(out: &mut Vec<u8>, s: &[u8], eight_bit: EightBit) {
    if !s.is_empty() && s.iter().all(|&b| is_astring_char(b)) {
        out.extend_from_slice(s);
    } else {
        write_string(out, s, eight_bit);
    }
}

/// Writes an `nstring`: `NIL` for `None`, else a string (never an atom, so `"NIL"` stays a
/// string).
pub fn write_nstring(out: &mut Vec<u8>, s: Option<&[u8]>, eight_bit: EightBit) {
    match s {
        None => out.extend_from_slice(b"NIL"),
        Some(s) => write_string(out, s, eight_bit),
    }
}

/// Writes a Unicode mailbox name as `mailbox`: modified UTF-7 (RFC 3501 §5.1.3) or UTF-8
/// (RFC 6855 §3). Always a string (quoted, or a literal if it must be), never an atom, so names
/// such as `NIL` or ones with wildcards stay unambiguous; `mailbox` is an astring, so this is
/// valid wherever a mailbox name goes.
pub fn write_mailbox(out: &mut Vec<u8>, name: &str, encoding: MailboxEncoding) {
    match encoding {
        MailboxEncoding::ModifiedUtf7 => {
            let enc = mutf7::encode(name);
            write_string(out, enc.as_bytes(), EightBit::Literal);
        }
        MailboxEncoding::Utf8 => write_string(out, name.as_bytes(), EightBit::QuotedUtf8),
    }
}

/// Writes numbers separated by SP (the `* SEARCH` answer, `SORT`): a common word's answer on
/// 1,000,000 messages is 400,000 of them. Each number's digits go straight into a block on the
/// stack, appended to `out` 4 KiB at a time, rather than one short copy per number:
/// `search.answer.uids400k` (benches/micro.rs) 9.3–10.5 → 7.0 ns a number. Its own digit loop
/// in u32, not [`write_number`]'s in u64: sharing one u64 loop measured 8.7–9.7 ns.
pub fn write_number_list<I: IntoIterator<Item = u32>>(out: &mut Vec<u8>, numbers: I) {
    const BLOCK: usize = 4096;
    let mut block = [0u8; BLOCK];
    let mut at = 0;
    for (i, n) in numbers.into_iter().enumerate() {
        // A space and at most 10 digits.
        if at > BLOCK - 11 {
            out.extend_from_slice(&block[..at]);
            at = 0;
        }
        if i > 0 {
            block[at] = b' ';
            at += 1;
        }
        let len = decimal_len(n);
        let mut rest = n;
        for k in (at..at + len).rev() {
            block[k] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        at += len;
    }
    out.extend_from_slice(&block[..at]);
}

/// How many decimal digits `n` has. Not `u32::checked_ilog10`: with it
/// `search.answer.uids400k` took 7.5 ns a number against this loop's 6.9 (twice each, 16:10 UTC).
fn decimal_len(n: u32) -> usize {
    let mut len = 1;
    let mut bound = 10u64;
    while u64::from(n) >= bound {
        len += 1;
        bound *= 10;
    }
    len
}

/// Writes `n` in decimal. Without the formatting machinery and a `String` per number: a
/// common word's `* SEARCH` answer on 1,000,000 messages is 400,000 numbers.
pub fn write_number(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// Writes a sequence set as written (`1:3,7,9:*`).
pub fn write_sequence_set(out: &mut Vec<u8>, set: &SequenceSet) {
    out.extend_from_slice(set.to_string().as_bytes());
}

/// Writes `flag-list = "(" [flag *(SP flag)] ")"`.
pub fn write_flag_list(out: &mut Vec<u8>, flags: &[Flag]) {
    out.push(b'(');
    for (i, f) in flags.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(f.to_string().as_bytes());
    }
    out.push(b')');
}

/// Whether the client may create new keywords: `\*` in PERMANENTFLAGS (RFC 3501 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NewKeywords {
    /// `\*` is listed.
    Allowed,
    /// `\*` is not listed.
    Refused,
}

/// `resp-text-code` (RFC 3501 §7.1, RFC 9051 §7.1, RFC 5530 §3, RFC 7162 §7, RFC 5182 §2.5,
/// RFC 4978 §3, RFC 6154 §5.3, RFC 8474 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseCode {
    /// `ALERT`.
    Alert,
    /// `BADCHARSET [SP "(" charset *(SP charset) ")"]`.
    BadCharset(Vec<String>),
    /// `CAPABILITY` followed by the capability atoms.
    Capability(Vec<String>),
    /// `PARSE`.
    Parse,
    /// `PERMANENTFLAGS (flags [\*])`.
    PermanentFlags {
        /// The flags that persist.
        flags: Vec<Flag>,
        /// Whether `\*` is listed.
        new_keywords: NewKeywords,
    },
    /// `READ-ONLY`.
    ReadOnly,
    /// `READ-WRITE`.
    ReadWrite,
    /// `TRYCREATE`.
    TryCreate,
    /// `UIDNEXT nz-number`.
    UidNext(NonZeroU32),
    /// `UIDVALIDITY nz-number`.
    UidValidity(NonZeroU32),
    /// `UNSEEN nz-number` (IMAP4rev1).
    Unseen(NonZeroU32),
    /// `UNAVAILABLE`.
    Unavailable,
    /// `AUTHENTICATIONFAILED`.
    AuthenticationFailed,
    /// `AUTHORIZATIONFAILED`.
    AuthorizationFailed,
    /// `EXPIRED`.
    Expired,
    /// `PRIVACYREQUIRED`.
    PrivacyRequired,
    /// `CONTACTADMIN`.
    ContactAdmin,
    /// `NOPERM`.
    NoPerm,
    /// `INUSE`.
    InUse,
    /// `EXPUNGEISSUED`.
    ExpungeIssued,
    /// `CORRUPTION`.
    Corruption,
    /// `SERVERBUG`.
    ServerBug,
    /// `CLIENTBUG`.
    ClientBug,
    /// `CANNOT`.
    Cannot,
    /// `LIMIT`.
    Limit,
    /// `OVERQUOTA`.
    OverQuota,
    /// `ALREADYEXISTS`.
    AlreadyExists,
    /// `NONEXISTENT`.
    NonExistent,
    /// `TOOBIG` (RFC 7888 §4, RFC 4469).
    TooBig,
    /// `UNKNOWN-CTE` (RFC 3516).
    UnknownCte,
    /// `CLOSED` (RFC 7162 §3.2.11).
    Closed,
    /// `HIGHESTMODSEQ mod-sequence-value` (RFC 7162).
    HighestModSeq(NonZeroU64),
    /// `NOMODSEQ` (RFC 7162).
    NoModSeq,
    /// `MODIFIED sequence-set` (RFC 7162).
    Modified(SequenceSet),
    /// `NOTSAVED` (RFC 5182).
    NotSaved,
    /// `HASCHILDREN` (RFC 9051).
    HasChildren,
    /// `COMPRESSIONACTIVE` (RFC 4978).
    CompressionActive,
    /// `USEATTR` (RFC 6154).
    UseAttr,
    /// `MAILBOXID (objectid)` (RFC 8474).
    MailboxId(ObjectId),
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ResponseCode as C;
        let simple = match self {
            C::Alert => "ALERT",
            C::Parse => "PARSE",
            C::ReadOnly => "READ-ONLY",
            C::ReadWrite => "READ-WRITE",
            C::TryCreate => "TRYCREATE",
            C::Unavailable => "UNAVAILABLE",
            C::AuthenticationFailed => "AUTHENTICATIONFAILED",
            C::AuthorizationFailed => "AUTHORIZATIONFAILED",
            C::Expired => "EXPIRED",
            C::PrivacyRequired => "PRIVACYREQUIRED",
            C::ContactAdmin => "CONTACTADMIN",
            C::NoPerm => "NOPERM",
            C::InUse => "INUSE",
            C::ExpungeIssued => "EXPUNGEISSUED",
            C::Corruption => "CORRUPTION",
            C::ServerBug => "SERVERBUG",
            C::ClientBug => "CLIENTBUG",
            C::Cannot => "CANNOT",
            C::Limit => "LIMIT",
            C::OverQuota => "OVERQUOTA",
            C::AlreadyExists => "ALREADYEXISTS",
            C::NonExistent => "NONEXISTENT",
            C::TooBig => "TOOBIG",
            C::UnknownCte => "UNKNOWN-CTE",
            C::Closed => "CLOSED",
            C::NoModSeq => "NOMODSEQ",
            C::NotSaved => "NOTSAVED",
            C::HasChildren => "HASCHILDREN",
            C::CompressionActive => "COMPRESSIONACTIVE",
            C::UseAttr => "USEATTR",
            C::BadCharset(charsets) => {
                f.write_str("BADCHARSET")?;
                if !charsets.is_empty() {
                    // Charset names are atoms in practice (UTF-8, US-ASCII).
                    write!(f, " ({})", charsets.join(" "))?;
                }
                return Ok(());
            }
            C::Capability(caps) => {
                f.write_str("CAPABILITY")?;
                for c in caps {
                    write!(f, " {c}")?;
                }
                return Ok(());
            }
            C::PermanentFlags {
                flags,
                new_keywords,
            } => {
                f.write_str("PERMANENTFLAGS (")?;
                let mut first = true;
                for fl in flags {
                    if !first {
                        f.write_str(" ")?;
                    }
                    first = false;
                    write!(f, "{fl}")?;
                }
                if *new_keywords == NewKeywords::Allowed {
                    f.write_str(if first { "\\*" } else { " \\*" })?;
                }
                return f.write_str(")");
            }
            C::UidNext(n) => return write!(f, "UIDNEXT {n}"),
            C::UidValidity(n) => return write!(f, "UIDVALIDITY {n}"),
            C::Unseen(n) => return write!(f, "UNSEEN {n}"),
            C::HighestModSeq(n) => return write!(f, "HIGHESTMODSEQ {n}"),
            C::Modified(set) => return write!(f, "MODIFIED {set}"),
            C::MailboxId(id) => return write!(f, "MAILBOXID ({})", id.as_str()),
        };
        f.write_str(simple)
    }
}

/// `resp-cond-state`, `resp-cond-bye`, `resp-cond-auth` status words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `OK`.
    Ok,
    /// `NO`.
    No,
    /// `BAD`.
    Bad,
    /// `PREAUTH` (greeting only).
    PreAuth,
    /// `BYE` (untagged only).
    Bye,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::PreAuth => "PREAUTH",
            Status::Bye => "BYE",
        }
    }
}

/// Writes `tag SP status SP ["[" code "]" SP] text CRLF`, or with `*` when `tag` is `None`.
///
/// `text` is sanitised: CR, LF and NUL become spaces (TEXT-CHAR excludes them), an empty text
/// becomes `completed` (`text = 1*TEXT-CHAR`), and a text starting with `[` when no code is
/// given is prefixed by `- ` so it cannot read as a response code.
pub fn write_status(
    out: &mut Vec<u8>,
    tag: Option<&Tag>,
    status: Status,
    code: Option<&ResponseCode>,
    text: &str,
) {
    match tag {
        Some(t) => out.extend_from_slice(t.as_str().as_bytes()),
        None => out.push(b'*'),
    }
    out.push(b' ');
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    if let Some(code) = code {
        out.push(b'[');
        out.extend_from_slice(code.to_string().as_bytes());
        out.extend_from_slice(b"] ");
    }
    if text.is_empty() {
        out.extend_from_slice(b"completed");
    } else {
        if code.is_none() && text.starts_with('[') {
            out.extend_from_slice(b"- ");
        }
        out.extend(text.bytes().map(|b| {
            if matches!(b, 0 | b'\r' | b'\n') {
                b' '
            } else {
                b
            }
        }));
    }
    out.extend_from_slice(b"\r\n");
}

/// [`write_status`] into a new buffer.
pub fn status_line(
    tag: Option<&Tag>,
    status: Status,
    code: Option<&ResponseCode>,
    text: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 32);
    write_status(&mut out, tag, status, code, text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::types::Atom;

    #[test]
    fn strings_quoted_or_literal() {
        assert_eq!(quoted_or_literal(b"hello"), b"\"hello\"");
        assert_eq!(quoted_or_literal(b""), b"\"\"");
        assert_eq!(quoted_or_literal(b"a\"b\\c"), b"\"a\\\"b\\\\c\"");
        assert_eq!(quoted_or_literal(b"a\r\nb"), b"{4}\r\na\r\nb");
        assert_eq!(quoted_or_literal("é".as_bytes()), b"{2}\r\n\xc3\xa9");
        let long = vec![b'x'; MAX_QUOTED + 1];
        assert!(quoted_or_literal(&long).starts_with(b"{1025}\r\n"));
        let mut out = Vec::new();
        write_string(&mut out, "é".as_bytes(), EightBit::QuotedUtf8);
        assert_eq!(out, "\"é\"".as_bytes());
        out.clear();
        write_string(&mut out, b"\xff", EightBit::QuotedUtf8);
        assert_eq!(out, b"{1}\r\n\xff");
    }

    #[test]
    fn astring_nstring() {
        let mut out = Vec::new();
        write_astring(&mut out, b"INBOX", EightBit::Literal);
        out.push(b' ');
        write_astring(&mut out, b"two words", EightBit::Literal);
        out.push(b' ');
        write_astring(&mut out, b"", EightBit::Literal);
        out.push(b' ');
        write_nstring(&mut out, None, EightBit::Literal);
        out.push(b' ');
        write_nstring(&mut out, Some(b"NIL"), EightBit::Literal);
        assert_eq!(out, b"INBOX \"two words\" \"\" NIL \"NIL\"");
    }

    #[test]
    fn mailbox_names() {
        let mut out = Vec::new();
        write_mailbox(&mut out, "Entwürfe", MailboxEncoding::ModifiedUtf7);
        assert_eq!(out, b"\"Entw&APw-rfe\"");
        out.clear();
        write_mailbox(&mut out, "Entwürfe", MailboxEncoding::Utf8);
        assert_eq!(out, "\"Entwürfe\"".as_bytes());
    }

    #[test]
    fn number_lists_and_sets() {
        let mut out = Vec::new();
        write_number_list(&mut out, [2, 3, 17]);
        out.push(b' ');
        write_sequence_set(&mut out, &SequenceSet::parse(b"1:3,7,9:*").unwrap());
        assert_eq!(out, b"2 3 17 1:3,7,9:*");
        // Lists that fill the 4 KiB block many times, numbers of every length among them.
        let mut rng = crate::test_rng::Rng::new(9);
        for count in [0, 1, 372, 373, 374, 5_000] {
            let numbers: Vec<u32> = (0..count)
                .map(|_| (rng.next() >> (rng.below(33) as u32)) as u32)
                .chain([0, 9, 10, u32::MAX])
                .collect();
            let want: Vec<String> = numbers.iter().map(u32::to_string).collect();
            let mut out = b"* SEARCH ".to_vec();
            write_number_list(&mut out, numbers.iter().copied());
            assert_eq!(
                out,
                format!("* SEARCH {}", want.join(" ")).as_bytes(),
                "{count}"
            );
        }
    }

    #[test]
    fn numbers_in_decimal() {
        let edges = [
            0,
            1,
            9,
            10,
            99,
            100,
            101,
            4_294_967_295,
            4_294_967_296,
            u64::MAX,
        ];
        // Every number of up to six digits, each power of ten and its neighbours.
        let powers = (0..20).flat_map(|e| {
            let p = 10u64.pow(e);
            [p - 1, p, p + 1]
        });
        for n in edges.into_iter().chain(0..1_000_000).chain(powers) {
            let mut out = b"x".to_vec();
            write_number(&mut out, n);
            assert_eq!(out, format!("x{n}").as_bytes(), "{n}");
        }
    }

    #[test]
    fn status_lines() {
        let tag = Tag::new(b"a1").unwrap();
        assert_eq!(
            status_line(
                Some(&tag),
                Status::No,
                Some(&ResponseCode::Cannot),
                "archive is read-only"
            ),
            b"a1 NO [CANNOT] archive is read-only\r\n"
        );
        assert_eq!(
            status_line(
                None,
                Status::Bye,
                Some(&ResponseCode::Unavailable),
                "busy\r\n"
            ),
            b"* BYE [UNAVAILABLE] busy  \r\n"
        );
        assert_eq!(
            status_line(Some(&tag), Status::Ok, None, ""),
            b"a1 OK completed\r\n"
        );
        assert_eq!(
            status_line(None, Status::Ok, None, "[x]"),
            b"* OK - [x]\r\n"
        );
    }

    #[test]
    fn response_codes_render() {
        let pf = ResponseCode::PermanentFlags {
            flags: vec![Flag::Seen, Flag::Answered, Flag::Flagged],
            new_keywords: NewKeywords::Allowed,
        };
        assert_eq!(
            pf.to_string(),
            "PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\*)"
        );
        let empty = ResponseCode::PermanentFlags {
            flags: vec![],
            new_keywords: NewKeywords::Refused,
        };
        assert_eq!(empty.to_string(), "PERMANENTFLAGS ()");
        assert_eq!(
            ResponseCode::UidValidity(NonZeroU32::new(3857529045).unwrap()).to_string(),
            "UIDVALIDITY 3857529045"
        );
        assert_eq!(
            ResponseCode::Modified(SequenceSet::parse(b"7,9").unwrap()).to_string(),
            "MODIFIED 7,9"
        );
        assert_eq!(
            ResponseCode::BadCharset(vec!["UTF-8".into(), "US-ASCII".into()]).to_string(),
            "BADCHARSET (UTF-8 US-ASCII)"
        );
        assert_eq!(
            ResponseCode::Capability(vec!["IMAP4rev1".into(), "IDLE".into()]).to_string(),
            "CAPABILITY IMAP4rev1 IDLE"
        );
        assert_eq!(ResponseCode::UnknownCte.to_string(), "UNKNOWN-CTE");
        let kw = Flag::Keyword(Atom::new(b"$Forwarded").unwrap());
        let mut out = Vec::new();
        write_flag_list(&mut out, &[Flag::Seen, kw]);
        assert_eq!(out, b"(\\Seen $Forwarded)");
    }
}
