//! Pure functions over one message's bytes: ENVELOPE, BODYSTRUCTURE, section extraction.
//!
//! Owns: the reading of RFC 5322 / MIME structure. Knows nothing of sockets, SQL or IMAP
//! commands; it is given the canonical (CRLF) bytes of a message and returns bytes.
//!
//! Files: [`header`] (header block and raw fields), [`params`] (Content-Type & co, RFC 2231),
//! [`address`] (raw address lists for ENVELOPE), [`tree`] (the part tree by offsets, with the
//! caps of [`limits`]), [`structure`] (ENVELOPE / BODYSTRUCTURE / BODY), [`imapstr`] (quoted
//! string or literal), [`date`] (the `Date:` header), [`decode`] (base64 / quoted-printable),
//! [`text`] (the decoded text SEARCH matches, for the content index), [`journal`] (journal
//! messages: participants, Exchange journal reports unwrapped).
//!
//! Nothing here panics or fails on any input: malformed mail gives a best-effort, well-formed
//! answer, and the message itself is always served byte for byte.

mod address;
mod casefold;
mod date;
mod decode;
mod header;
mod imapstr;
pub mod journal;
mod params;
pub mod sort;
mod structure;
pub mod text;
mod tree;

use std::borrow::Cow;

use tree::{Kind, Part};

/// A FETCH section, as RFC 3501 §6.4.5 / RFC 9051 §6.4.5 define it:
///
/// ```text
/// section      = "[" [section-spec] "]"
/// section-spec = section-msgtext / (section-part ["." section-text])
/// section-part = nz-number *("." nz-number)
/// section-text = section-msgtext / "MIME"
/// section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
/// ```
///
/// `BODY[]` is `Section { part: vec![], text: None }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// The `section-part` numbers; empty for the whole message.
    pub part: Vec<u32>,
    /// The `section-text`, if any.
    pub text: Option<SectionText>,
}

/// The `section-text` of a [`Section`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// `HEADER`: the header of the message (or of the message/rfc822 part), with its final CRLF.
    Header,
    /// `HEADER.FIELDS (...)`: only these fields (names compared case-insensitively).
    HeaderFields(Vec<String>),
    /// `HEADER.FIELDS.NOT (...)`: every field but these.
    HeaderFieldsNot(Vec<String>),
    /// `TEXT`: the body of the message (or of the message/rfc822 part).
    Text,
    /// `MIME`: the MIME header of a body part (only valid with a non-empty part).
    Mime,
}

/// The caps on MIME structure (defined with their reasons in [`crate::limits`]). Beyond them the
/// rest of the structure is shown as an opaque application/octet-stream leaf; sections still
/// address the bytes.
pub mod limits {
    pub use crate::limits::{MIME_MAX_DEPTH as MAX_DEPTH, MIME_MAX_PARTS as MAX_PARTS};
}

/// Every bare LF becomes CRLF (a CR not followed by LF stays as is). Borrowed when nothing changes.
///
/// One pass over the line ends (memchr), copying the runs between them whole: every imported
/// message goes through here, and mbox input has a bare LF on every line.
pub fn canonical_line_ends(raw: &[u8]) -> Cow<'_, [u8]> {
    let bare = |i: usize| i == 0 || raw[i - 1] != b'\r';
    let mut lfs = memchr::memchr_iter(b'\n', raw).filter(|&i| bare(i));
    let Some(first) = lfs.next() else {
        return Cow::Borrowed(raw);
    };
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32);
    // Each bare LF: the bytes before it (from the previous one on), then CR; the LF itself
    // starts the next run.
    let mut from = 0;
    for lf in std::iter::once(first).chain(lfs) {
        out.extend_from_slice(&raw[from..lf]);
        out.push(b'\r');
        from = lf;
    }
    out.extend_from_slice(&raw[from..]);
    Cow::Owned(out)
}

/// What the index caches per message, computed once at ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    /// The ENVELOPE parenthesised list (RFC 3501 §7.4.2), raw header strings.
    pub envelope: Vec<u8>,
    /// BODYSTRUCTURE (extension data included), the list only.
    pub body_structure: Vec<u8>,
    /// BODY (non-extensible form), the list only.
    pub body: Vec<u8>,
    /// The `Date:` header as Unix seconds (UTC); None when missing or unparseable.
    pub sent_date: Option<i64>,
    /// (year, month, day) of the `Date:` header in its own zone (RFC 3501 SENTON semantics).
    pub sent_day: Option<(i32, u32, u32)>,
    /// Any part with `Content-Disposition: attachment`, or a non-text, non-multipart,
    /// non-message leaf with a file name (disposition `filename` or Content-Type `name`,
    /// RFC 2231 forms included).
    pub has_attachment: bool,
}

/// Analyses a message (canonical CRLF form). Never fails.
///
/// Strings that cannot be quoted (8-bit, RFC 3501 §9 `quoted`) are written as literals
/// `{n}\r\n...` inside the lists; NUL bytes are dropped from strings.
pub fn analyze(message: &[u8]) -> Analysis {
    let root = tree::build(message);
    let head = &message[root.header.clone()];
    let mut envelope = Vec::with_capacity(256);
    structure::envelope(&mut envelope, head);
    let mut body_structure = Vec::with_capacity(256);
    structure::body(
        &mut body_structure,
        message,
        &root,
        structure::Form::Structure,
    );
    let mut body = Vec::with_capacity(128);
    structure::body(&mut body, message, &root, structure::Form::Body);
    let date = header::first(head, "Date").and_then(date::parse);
    Analysis {
        envelope,
        body_structure,
        body,
        sent_date: date.map(|d| d.0),
        sent_day: date.map(|d| d.1),
        has_attachment: has_attachment(message, &root, 0),
    }
}

/// Whether the message has an attachment (the `$HasAttachment` keyword), as
/// [`Analysis::has_attachment`] defines it, without the rest of the analysis (for reindex).
pub fn has_attachment_of(message: &[u8]) -> bool {
    has_attachment(message, &tree::build(message), 0)
}

fn has_attachment(msg: &[u8], part: &Part, depth: usize) -> bool {
    let head = &msg[part.header.clone()];
    let disp = header::first(head, "Content-Disposition").and_then(params::disposition);
    if disp
        .as_ref()
        .is_some_and(|d| d.kind.eq_ignore_ascii_case(b"attachment"))
    {
        return true;
    }
    // `depth` is bounded by the tree, which limits::MAX_DEPTH caps; the guard is belt and braces.
    if depth > limits::MAX_DEPTH + 1 {
        return false;
    }
    match &part.kind {
        Kind::Multipart(children) => children.iter().any(|c| has_attachment(msg, c, depth + 1)),
        Kind::Message(inner) => has_attachment(msg, inner, depth + 1),
        Kind::Leaf | Kind::Opaque => {
            let named = |params: &[(Vec<u8>, Vec<u8>)], name: &str| {
                params.iter().any(|(n, _)| {
                    n.len() >= name.len()
                        && n[..name.len()].eq_ignore_ascii_case(name.as_bytes())
                        && (n.len() == name.len() || n[name.len()] == b'*')
                })
            };
            let has_name = disp.as_ref().is_some_and(|d| named(&d.params, "filename"))
                || named(&part.ctype.params, "name");
            has_name && !part.ctype.is("text")
        }
    }
}

/// BODY[section] (RFC 3501 §6.4.5, RFC 9051 §6.4.5), including nested message/rfc822 numbering.
///
/// Choices (Dovecot's where the RFCs are silent):
/// - `[]` is the whole message, `[HEADER]` the header with its empty line, `[TEXT]` the body.
/// - Part numbers: the message is treated as an encapsulated message; in an encapsulated
///   message, `n` is the n-th part of its multipart body, or, when the body is not multipart,
///   `1` is that body. `1` of a non-multipart message is therefore its body, and `2` does not
///   exist. A leaf part has no sub-parts (`1.1` of a leaf is None).
/// - `n.HEADER`, `n.TEXT`, `n.HEADER.FIELDS...` of a message/rfc822 part address the
///   encapsulated message; of any other part they give an empty string (the part exists but has
///   no such header), as Dovecot does.
/// - `n.MIME` is the part's own MIME header, with its empty line; `1.MIME` of a non-multipart
///   message is the message header (what Dovecot sends). `MIME` without a part is None.
/// - A part beyond the caps of [`limits`] is addressed as the opaque leaf the structure shows.
/// - A multipart without parts shows one empty text/plain part; `n.1` of it is empty.
/// - `HEADER.FIELDS` keeps the fields in message order, as raw lines, then the empty line.
///
/// Returns None when the part does not exist (the caller decides what to send; Dovecot sends an
/// empty string).
pub fn section<'a>(message: &'a [u8], section: &Section) -> Option<Cow<'a, [u8]>> {
    let root = tree::build(message);
    let target = match resolve(&root, &section.part)? {
        Target::Part(p) => p,
        Target::Dummy => return Some(Cow::Borrowed(&message[0..0])),
    };
    let is_root = section.part.is_empty();
    // The message whose HEADER/TEXT we want: the root, or the part's encapsulated message.
    let inner: Option<&Part> = if is_root {
        Some(&root)
    } else if let Kind::Message(m) = &target.kind {
        Some(m)
    } else {
        None
    };
    let empty = Cow::Borrowed(&message[0..0]);
    Some(match &section.text {
        None if is_root => Cow::Borrowed(message),
        None => Cow::Borrowed(&message[target.body.clone()]),
        Some(SectionText::Mime) if is_root => return None,
        Some(SectionText::Mime) => Cow::Borrowed(&message[target.header.clone()]),
        Some(SectionText::Header) => {
            inner.map_or(empty, |m| Cow::Borrowed(&message[m.header.clone()]))
        }
        Some(SectionText::Text) => inner.map_or(empty, |m| Cow::Borrowed(&message[m.body.clone()])),
        Some(SectionText::HeaderFields(names)) => inner.map_or(empty, |m| {
            Cow::Owned(header_fields(
                &message[m.header.clone()],
                names,
                FieldChoice::Only,
            ))
        }),
        Some(SectionText::HeaderFieldsNot(names)) => inner.map_or(empty, |m| {
            Cow::Owned(header_fields(
                &message[m.header.clone()],
                names,
                FieldChoice::AllBut,
            ))
        }),
    })
}

enum FieldChoice {
    Only,
    AllBut,
}

/// The fields of `head` named (or not named) in `names`, then the empty line (RFC 3501 §6.4.5:
/// "the header ... including the delimiting blank line").
fn header_fields(head: &[u8], names: &[String], choice: FieldChoice) -> Vec<u8> {
    let mut out = Vec::new();
    for f in header::fields(head) {
        let listed = names
            .iter()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(f.name));
        if listed == matches!(choice, FieldChoice::Only) {
            out.extend_from_slice(f.raw);
            if !f.raw.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

enum Target<'p> {
    Part(&'p Part),
    /// The empty text/plain part shown for a multipart without parts.
    Dummy,
}

/// Walks the part numbers (a loop, not recursion) from the root.
fn resolve<'p>(root: &'p Part, path: &[u32]) -> Option<Target<'p>> {
    let mut cur = root;
    for (i, &n) in path.iter().enumerate() {
        let index = usize::try_from(n).ok()?.checked_sub(1)?;
        // Where the number looks: the message itself and message/rfc822 parts look inside their
        // encapsulated message; a multipart looks at its parts; a leaf has nothing inside.
        let (entity, encapsulated) = if i == 0 {
            (root, true)
        } else {
            match &cur.kind {
                Kind::Message(inner) => (&**inner, true),
                Kind::Multipart(_) => (cur, false),
                Kind::Leaf | Kind::Opaque => return None,
            }
        };
        cur = match &entity.kind {
            Kind::Multipart(children) if children.is_empty() && index == 0 => {
                return (i + 1 == path.len()).then_some(Target::Dummy);
            }
            Kind::Multipart(children) => children.get(index)?,
            _ if encapsulated && index == 0 => entity,
            _ => return None,
        };
    }
    Some(Target::Part(cur))
}

/// Why a BINARY fetch cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinaryError {
    /// The part's Content-Transfer-Encoding is not one this server can remove: answer
    /// `NO [UNKNOWN-CTE]` (RFC 3516 §4.3, RFC 9051 §7.1).
    #[error("unknown Content-Transfer-Encoding {0:?}")]
    UnknownEncoding(String),
    /// The part claims base64 but holds bytes outside the base64 alphabet (or a dangling
    /// single character at the end). Answer `NO` (RFC 3516 §4.2: the server could not decode).
    #[error("invalid base64 content at byte {offset} of the part")]
    InvalidBase64 {
        /// Offset inside the part's body.
        offset: usize,
    },
}

/// BINARY[part] (RFC 3516 / RFC 9051 §6.4.5): the part's content with its
/// Content-Transfer-Encoding removed.
///
/// - `[]` (empty part) is the whole message, unchanged.
/// - 7bit, 8bit, binary or no Content-Transfer-Encoding: the bytes as they are (borrowed).
/// - base64 and quoted-printable (any case) are decoded; anything else is
///   [`BinaryError::UnknownEncoding`].
/// - A multipart part or a message/rfc822 part is returned as it is: RFC 2045 §6.4 allows them
///   only identity encodings, so there is nothing to remove (Dovecot does the same).
/// - Part numbering and nonexistent parts (None) are as in [`section`].
pub fn binary_section<'a>(
    message: &'a [u8],
    part: &[u32],
) -> Result<Option<Cow<'a, [u8]>>, BinaryError> {
    if part.is_empty() {
        return Ok(Some(Cow::Borrowed(message)));
    }
    let root = tree::build(message);
    let target = match resolve(&root, part) {
        None => return Ok(None),
        Some(Target::Dummy) => return Ok(Some(Cow::Borrowed(&message[0..0]))),
        Some(Target::Part(p)) => p,
    };
    let content = &message[target.body.clone()];
    if matches!(target.kind, Kind::Multipart(_) | Kind::Message(_)) {
        return Ok(Some(Cow::Borrowed(content)));
    }
    let head = &message[target.header.clone()];
    let enc = header::first(head, "Content-Transfer-Encoding").and_then(params::encoding);
    let enc = enc.as_deref().unwrap_or(b"7bit").to_ascii_lowercase();
    match enc.as_slice() {
        b"7bit" | b"8bit" | b"binary" => Ok(Some(Cow::Borrowed(content))),
        b"base64" => decode::base64(content).map(|v| Some(Cow::Owned(v))),
        b"quoted-printable" => Ok(Some(Cow::Owned(decode::quoted_printable(content)))),
        other => Err(BinaryError::UnknownEncoding(
            String::from_utf8_lossy(other).into_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &[u8] = b"Subject: m\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/x; name=a\r\n\
Content-Transfer-Encoding: base64\r\n\r\naGk=\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: in\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\none\r\n--c\r\n\r\ntwo\r\n--c--\r\n\
--b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n--b--\r\n";

    fn sec(m: &[u8], part: &[u32], text: Option<SectionText>) -> Option<Vec<u8>> {
        section(
            m,
            &Section {
                part: part.to_vec(),
                text,
            },
        )
        .map(|c| c.into_owned())
    }

    /// The byte-at-a-time form [`canonical_line_ends`] replaced.
    fn canonical_line_ends_reference(raw: &[u8]) -> Cow<'_, [u8]> {
        let bare = |i: usize| raw[i] == b'\n' && (i == 0 || raw[i - 1] != b'\r');
        if !(0..raw.len()).any(bare) {
            return Cow::Borrowed(raw);
        }
        let mut out = Vec::new();
        for (i, &b) in raw.iter().enumerate() {
            if bare(i) {
                out.push(b'\r');
            }
            out.push(b);
        }
        Cow::Owned(out)
    }

    #[test]
    fn canonical_line_ends_equals_reference() {
        let pieces: [&[u8]; 8] = [
            b"\n",
            b"\r",
            b"\r\n",
            b"a",
            b"line of text",
            b"\n\n",
            b"\0",
            b"\xc3\xbc",
        ];
        for seed in 0..2000u64 {
            let mut rng = crate::test_rng::Rng::new(seed);
            let len = rng.below(if seed % 10 == 0 { 2000 } else { 12 });
            let raw = rng.bytes_of(&pieces, len);
            let (fast, slow) = (
                canonical_line_ends(&raw),
                canonical_line_ends_reference(&raw),
            );
            assert_eq!(fast, slow, "seed {seed}");
            assert_eq!(
                matches!(fast, Cow::Borrowed(_)),
                matches!(slow, Cow::Borrowed(_)),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn canonical_line_ends_borrows_when_clean() {
        assert!(matches!(
            canonical_line_ends(b"a\r\nb\r\n"),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            &*canonical_line_ends(b"a\nb\r\nc\rd\n"),
            b"a\r\nb\r\nc\rd\r\n"
        );
        assert_eq!(&*canonical_line_ends(b"\n"), b"\r\n");
        assert_eq!(&*canonical_line_ends(b""), b"");
    }

    #[test]
    fn whole_header_text() {
        let m = b"Subject: a\r\n\r\nbody\r\n";
        assert_eq!(sec(m, &[], None).unwrap(), m);
        assert_eq!(
            sec(m, &[], Some(SectionText::Header)).unwrap(),
            b"Subject: a\r\n\r\n"
        );
        assert_eq!(sec(m, &[], Some(SectionText::Text)).unwrap(), b"body\r\n");
        assert_eq!(sec(m, &[], Some(SectionText::Mime)), None);
    }

    #[test]
    fn part_one_of_a_plain_message_is_its_body() {
        let m = b"Subject: a\r\n\r\nbody\r\n";
        assert_eq!(sec(m, &[1], None).unwrap(), b"body\r\n");
        assert_eq!(
            sec(m, &[1], Some(SectionText::Mime)).unwrap(),
            b"Subject: a\r\n\r\n"
        );
        assert_eq!(sec(m, &[1], Some(SectionText::Header)).unwrap(), b"");
        assert_eq!(sec(m, &[2], None), None);
        assert_eq!(sec(m, &[1, 1], None), None);
        assert_eq!(sec(m, &[0], None), None);
    }

    #[test]
    fn nested_numbering() {
        assert_eq!(sec(MIXED, &[1], None).unwrap(), b"hello");
        assert_eq!(
            sec(MIXED, &[1], Some(SectionText::Mime)).unwrap(),
            b"Content-Type: text/plain\r\n\r\n"
        );
        assert_eq!(sec(MIXED, &[3, 1], None).unwrap(), b"one");
        assert_eq!(sec(MIXED, &[3, 2], None).unwrap(), b"two");
        assert_eq!(sec(MIXED, &[3, 3], None), None);
        assert!(sec(MIXED, &[3], Some(SectionText::Header))
            .unwrap()
            .starts_with(b"Subject: in\r\n"));
        assert!(sec(MIXED, &[3], Some(SectionText::Text))
            .unwrap()
            .starts_with(b"--c\r\n"));
        assert_eq!(sec(MIXED, &[5], None), None);
    }

    #[test]
    fn header_fields() {
        let m = b"From: a\r\nSubject: s\r\n x\r\nTo: b\r\n\r\nbody";
        let f = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            sec(
                m,
                &[],
                Some(SectionText::HeaderFields(f(&["subject", "TO"])))
            )
            .unwrap(),
            b"Subject: s\r\n x\r\nTo: b\r\n\r\n"
        );
        assert_eq!(
            sec(m, &[], Some(SectionText::HeaderFieldsNot(f(&["subject"])))).unwrap(),
            b"From: a\r\nTo: b\r\n\r\n"
        );
    }

    #[test]
    fn binary_decodes() {
        assert_eq!(
            binary_section(MIXED, &[2]).unwrap().unwrap().as_ref(),
            b"hi"
        );
        assert_eq!(
            binary_section(MIXED, &[1]).unwrap().unwrap().as_ref(),
            b"hello"
        );
        assert!(
            matches!(binary_section(MIXED, &[4]), Err(BinaryError::UnknownEncoding(e)) if e == "x-uuencode")
        );
        assert_eq!(binary_section(MIXED, &[9]).unwrap(), None);
        assert_eq!(binary_section(MIXED, &[]).unwrap().unwrap().as_ref(), MIXED);
    }

    #[test]
    fn analysis_fields() {
        let a = analyze(MIXED);
        assert!(a.has_attachment);
        assert_eq!(a.sent_date, None);
        let a = analyze(b"Date: Mon, 1 Jan 2024 10:00:00 +0100\r\n\r\nx");
        assert_eq!(a.sent_day, Some((2024, 1, 1)));
        assert!(!a.has_attachment);
    }
}
