//! The per-message keys of SORT and THREAD (RFC 5256, RFC 5957), computed once at ingest (and
//! by `imapvault reindex`, or on demand for messages stored before the 0004 migration).
//!
//! Owns: base-subject extraction (RFC 5256 §2.1) with the reply/forward mark THREAD=REFERENCES
//! needs (§4 step 5), the i;unicode-casemap canonical form every string key is compared in
//! (RFC 5051 via RFC 5256 §7), the first From/To/Cc addr-mailbox (RFC 5256 §3) and display name
//! (RFC 5957 §3), and the Message-ID / References / In-Reply-To message ids (RFC 5256 §4).
//! Knows nothing of SQL or IMAP syntax. Pure, never fails, never panics.
//!
//! Every string key is stored already in canonical form, so comparing two keys is comparing
//! their bytes (i;unicode-casemap orders like i;octet on the canonical strings, RFC 5051 §2).
//! Known limits: keys are cut at [`MAX_KEY`] bytes (two subjects equal in their first 4 KiB sort
//! as equal); a message's references keep the last [`MAX_REFERENCES`] ids (the last ones name
//! the parent; RFC 5256 §4 already expects truncated References).

use unicode_normalization::UnicodeNormalization;

use super::address::{self, MISSING_DOMAIN, MISSING_MAILBOX};
use super::header;
use super::text::decode_words;

/// Bytes kept of each string key.
pub const MAX_KEY: usize = 4096;
/// Message ids kept of a References field (the last ones).
pub const MAX_REFERENCES: usize = 128;
/// Longest message id kept (RFC 5322 lines are at most 998 characters).
const MAX_ID: usize = 998;

/// What SORT and THREAD need of one message besides its dates and size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SortKeys {
    /// The base subject (RFC 5256 §2.1), in canonical form ([`casemap`]).
    pub subject: String,
    /// Whether extracting the base subject removed a reply or forward mark (`Re:`, `Fwd:`,
    /// `(fwd)`, `[fwd: ...]`): THREAD=REFERENCES step 5 prefers the original to replies.
    pub subject_is_reply: bool,
    /// The addr-mailbox (local part) of the first From address, canonical; empty if none.
    pub from: String,
    /// Same for To.
    pub to: String,
    /// Same for Cc.
    pub cc: String,
    /// The display name of the first From address (RFC 2047-decoded), or its addr-spec when it
    /// has none (RFC 5957 §3), canonical.
    pub display_from: String,
    /// Same for To.
    pub display_to: String,
    /// The first message id of `Message-ID:`, without its angle brackets; None when missing or
    /// invalid.
    pub message_id: Option<String>,
    /// The message ids of `References:`, in order, or when it has none the first of
    /// `In-Reply-To:` (RFC 5256 §4 step 1.A); without angle brackets.
    pub references: Vec<String>,
}

/// Computes the keys of a message (canonical CRLF bytes).
pub fn keys(message: &[u8]) -> SortKeys {
    let head = &message[..header::split(message).header_end];
    let subject = header::first(head, "Subject")
        .map(|v| decode_words(&header::unfold(v)))
        .unwrap_or_default();
    let (base, subject_is_reply) = base_subject(&subject);
    let from = first_address(head, "From");
    let to = first_address(head, "To");
    let cc = first_address(head, "Cc");
    let mut references = header::first(head, "References")
        .map(message_ids)
        .unwrap_or_default();
    if references.is_empty() {
        references = header::first(head, "In-Reply-To")
            .and_then(|v| message_ids(v).into_iter().next())
            .into_iter()
            .collect();
    }
    if references.len() > MAX_REFERENCES {
        references.drain(..references.len() - MAX_REFERENCES);
    }
    SortKeys {
        subject: casemap(&base),
        subject_is_reply,
        from: casemap(&from.local),
        to: casemap(&to.local),
        cc: casemap(&cc.local),
        display_from: casemap(&from.display),
        display_to: casemap(&to.display),
        message_id: header::first(head, "Message-ID")
            .and_then(|v| message_ids(v).into_iter().next()),
        references,
    }
}

/// The first address of a field: its local part, and what DISPLAYFROM/DISPLAYTO sort by.
#[derive(Default)]
struct FirstAddress {
    local: String,
    display: String,
}

fn first_address(head: &[u8], field: &str) -> FirstAddress {
    let Some(value) = header::first(head, field) else {
        return FirstAddress::default();
    };
    // Group starts (no host) and ends (no mailbox) are not addresses; the first member is.
    let Some(a) = address::parse_list(value)
        .into_iter()
        .find(|a| a.mailbox.is_some() && a.host.is_some())
    else {
        return FirstAddress::default();
    };
    let part = |v: &Option<Vec<u8>>, missing: &[u8]| match v {
        Some(v) if v.as_slice() != missing => String::from_utf8_lossy(v).into_owned(),
        _ => String::new(),
    };
    let local = part(&a.mailbox, MISSING_MAILBOX);
    let domain = part(&a.host, MISSING_DOMAIN);
    let name = a
        .name
        .as_deref()
        .map(decode_words)
        .unwrap_or_default()
        .trim()
        .to_owned();
    // RFC 5957 §3: no (or an empty) display name sorts by the addr-spec.
    let display = if !name.is_empty() {
        name
    } else if domain.is_empty() {
        local.clone()
    } else {
        format!("{local}@{domain}")
    };
    FirstAddress { local, display }
}

/// The msg-ids of a header value (`<id-left@id-right>`, RFC 5322 §3.6.4), without brackets
/// and folding whitespace; ids that are empty or too long are not valid and are skipped.
pub fn message_ids(value: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(open) = header::memchr(b'<', rest) {
        rest = &rest[open + 1..];
        let Some(close) = header::memchr(b'>', rest) else {
            break;
        };
        // `<x<y@z>`: the id starts at the last `<` before the `>`.
        if let Some(again) = memchr::memrchr(b'<', &rest[..close]) {
            rest = &rest[again..];
            continue;
        }
        let inner: Vec<u8> = rest[..close]
            .iter()
            .copied()
            .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .collect();
        rest = &rest[close + 1..];
        if inner.is_empty() || inner.len() > MAX_ID {
            continue;
        }
        out.push(String::from_utf8_lossy(&inner).into_owned());
    }
    out
}

/// The base subject of a decoded subject (RFC 5256 §2.1), and whether a reply or forward mark
/// was removed on the way. Not yet in canonical form (see [`casemap`]).
pub fn base_subject(decoded: &str) -> (String, bool) {
    // (1) Tabs and line breaks become spaces, runs of spaces one space.
    let mut s = String::with_capacity(decoded.len().min(MAX_KEY));
    for c in decoded.chars() {
        let c = if matches!(c, '\t' | '\r' | '\n') {
            ' '
        } else {
            c
        };
        if c == ' ' && s.ends_with(' ') {
            continue;
        }
        if s.len() + c.len_utf8() > MAX_KEY {
            break;
        }
        s.push(c);
    }
    let mut reply = false;
    // Every pass of each loop below shortens `s`, so they all end.
    loop {
        // (2) subj-trailer = "(fwd)" / WSP, repeatedly.
        loop {
            if s.ends_with(' ') {
                s.pop();
            } else if ends_with_ci(&s, "(fwd)") {
                s.truncate(s.len() - 5);
                reply = true;
            } else {
                break;
            }
        }
        // (5) Repeat (3) and (4) until neither removes anything.
        loop {
            let before = s.len();
            // (3) subj-leader = (*subj-blob subj-refwd) / WSP, repeatedly.
            loop {
                if s.starts_with(' ') {
                    s.remove(0);
                } else if let Some(n) = refwd_leader(&s) {
                    s.drain(..n);
                    reply = true;
                } else {
                    break;
                }
            }
            // (4) A leading subj-blob goes if something (a subj-base) is left after it.
            if let Some(n) = blob(&s, 0) {
                if n < s.len() {
                    s.drain(..n);
                }
            }
            if s.len() == before {
                break;
            }
        }
        // (6) "[fwd:" subject "]": unwrap and start again at (2).
        if starts_with_ci(&s, "[fwd:") && s.ends_with(']') {
            s.truncate(s.len() - 1);
            s.drain(..5);
            reply = true;
            continue;
        }
        return (s, reply);
    }
}

/// `subj-blob = "[" *BLOBCHAR "]" *WSP` at byte `at`: its length.
fn blob(s: &str, at: usize) -> Option<usize> {
    let b = s.as_bytes();
    if b.get(at) != Some(&b'[') {
        return None;
    }
    let close = at + 1 + b[at + 1..].iter().position(|&c| c == b'[' || c == b']')?;
    if b[close] != b']' {
        return None;
    }
    let mut end = close + 1;
    while b.get(end) == Some(&b' ') {
        end += 1;
    }
    Some(end - at)
}

/// `*subj-blob subj-refwd` at the start, with `subj-refwd = ("re" / ("fw" ["d"])) *WSP
/// [subj-blob] ":"`: its length.
fn refwd_leader(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut at = 0;
    while let Some(n) = blob(s, at) {
        at += n;
    }
    let word =
        |w: &str| b.len() >= at + w.len() && b[at..at + w.len()].eq_ignore_ascii_case(w.as_bytes());
    if word("re") {
        at += 2;
    } else if word("fwd") {
        at += 3;
    } else if word("fw") {
        at += 2;
    } else {
        return None;
    }
    while b.get(at) == Some(&b' ') {
        at += 1;
    }
    if let Some(n) = blob(s, at) {
        at += n;
    }
    (b.get(at) == Some(&b':')).then_some(at + 1)
}

fn ends_with_ci(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// The "titlecased canonicalized UTF-8" of i;unicode-casemap (RFC 5051 §2): each character
/// titlecased (the simple mapping), then fully decomposed (canonical and compatibility
/// mappings), and titlecased again for what decomposition produced. Two strings compare under
/// the collation as their canonical forms compare byte by byte. Cut at [`MAX_KEY`] bytes.
///
/// Unlike RFC 5051, Hangul syllables are decomposed too (NFKD does); both sides of every
/// comparison are, and jamo order follows syllable order, so no order changes.
pub fn casemap(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_KEY));
    for c in s.chars().map(titlecase).nfkd().map(titlecase) {
        if out.len() + c.len_utf8() > MAX_KEY {
            break;
        }
        out.push(c);
    }
    out
}

/// The simple titlecase mapping of UnicodeData.txt: the uppercase mapping where it is one
/// character, except the four digraphs whose titlecase form differs from their uppercase.
fn titlecase(c: char) -> char {
    match c {
        '\u{1C4}'..='\u{1C6}' => '\u{1C5}',
        '\u{1C7}'..='\u{1C9}' => '\u{1C8}',
        '\u{1CA}'..='\u{1CC}' => '\u{1CB}',
        '\u{1F1}'..='\u{1F3}' => '\u{1F2}',
        c if c.is_ascii() => c.to_ascii_uppercase(),
        c => {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                // A full mapping to several characters (ß → SS) has no simple form: unchanged.
                _ => c,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> (String, bool) {
        base_subject(s)
    }

    /// RFC 5256 §2.1, each step, with the edge cases the ABNF allows.
    #[test]
    fn base_subject_steps() {
        assert_eq!(base("Hello"), ("Hello".into(), false));
        // (1) whitespace
        assert_eq!(base("a \t  b"), ("a b".into(), false));
        // (2) trailers, repeated, any case
        assert_eq!(base("Report (fwd) (FWD)  "), ("Report".into(), true));
        assert_eq!(base("Report(fwd)"), ("Report".into(), true));
        // (3) leaders: re, fw, fwd, with blobs before and inside, repeated
        assert_eq!(base("Re: Re: RE: hi"), ("hi".into(), true));
        assert_eq!(base("Fw: hi"), ("hi".into(), true));
        assert_eq!(base("FWD:hi"), ("hi".into(), true));
        assert_eq!(base("re [2]: hi"), ("hi".into(), true));
        assert_eq!(base("[list] Re: hi"), ("hi".into(), true));
        assert_eq!(base("[a][b] re: [c] Re[3]: hi"), ("hi".into(), true));
        // (4) a blob goes only when something is left
        assert_eq!(base("[list] hi"), ("hi".into(), false));
        assert_eq!(base("[list]"), ("[list]".into(), false));
        assert_eq!(base("Re: [list]"), ("[list]".into(), true));
        assert_eq!(base("[a] [b]"), ("[b]".into(), false));
        // not leaders: no colon, a word that only starts with re
        assert_eq!(base("Rex: hi"), ("Rex: hi".into(), false));
        assert_eq!(base("Re hi"), ("Re hi".into(), false));
        assert_eq!(base("Regarding: x"), ("Regarding: x".into(), false));
        // (6) [fwd: ...], nested with the other steps
        assert_eq!(base("[Fwd: Re: hi]"), ("hi".into(), true));
        assert_eq!(base("[fwd: [fwd: hi] ] (fwd)"), ("hi".into(), true));
        assert_eq!(base("[fwd: hi"), ("[fwd: hi".into(), false));
        // empty and degenerate
        assert_eq!(base(""), ("".into(), false));
        assert_eq!(base("Re:"), ("".into(), true));
        assert_eq!(base("   "), ("".into(), false));
        assert_eq!(base("[]"), ("[]".into(), false));
        assert_eq!(base("[unclosed Re: hi"), ("[unclosed Re: hi".into(), false));
        // non-ASCII text survives byte-wise cuts
        assert_eq!(base("Re: Привет (fwd)"), ("Привет".into(), true));
        assert_eq!(base("[日本] 日本語"), ("日本語".into(), false));
    }

    #[test]
    fn casemap_folds_case_and_diacritics_apart() {
        assert_eq!(casemap("Müller"), casemap("MÜLLER"));
        assert_eq!(casemap("привет"), casemap("ПРИВЕТ"));
        // Decomposition: é sorts right after E, before F.
        assert!(casemap("é") > casemap("e") && casemap("é") < casemap("f"));
        assert_eq!(casemap("ﬁ"), "FI");
        assert_eq!(casemap("ǆ"), casemap("Ǆ"));
        // ß has no simple titlecase form.
        assert_eq!(casemap("ß"), "ß");
        assert!(casemap(&"x".repeat(10_000)).len() <= MAX_KEY);
    }

    #[test]
    fn keys_of_a_message() {
        let m = b"From: =?ISO-8859-1?Q?J=F6rg?= <joerg@example.org>\r\n\
To: undisclosed:;, \"Bob\" <bob@example.com>, c@d\r\n\
Subject: =?KOI8-R?B?8NLJ18XU?= (fwd)\r\n\
Message-ID: <a1@x> <a2@x>\r\n\
References: <r1@x> (comment)\r\n <r2@x>\r\n\
In-Reply-To: <ignored@x>\r\n\r\nbody\r\n";
        let k = keys(m);
        assert_eq!(k.subject, casemap("Привет"));
        assert!(k.subject_is_reply);
        assert_eq!(k.from, "JOERG");
        assert_eq!(k.display_from, casemap("Jörg"));
        assert_eq!(k.to, "BOB");
        assert_eq!(k.display_to, "BOB");
        assert_eq!(k.cc, "");
        assert_eq!(k.message_id.as_deref(), Some("a1@x"));
        assert_eq!(k.references, vec!["r1@x".to_string(), "r2@x".to_string()]);
        let m = b"From: <nobody@example.org>\r\nIn-Reply-To: junk <p@x> <q@x>\r\n\r\n";
        let k = keys(m);
        assert_eq!(k.display_from, "NOBODY@EXAMPLE.ORG");
        assert_eq!(k.references, vec!["p@x".to_string()]);
        assert_eq!(k.message_id, None);
        assert_eq!(keys(b""), SortKeys::default());
    }

    #[test]
    fn references_keep_the_last_ones() {
        let mut m = b"References:".to_vec();
        for i in 0..1000 {
            m.extend_from_slice(format!(" <{i}@x>").as_bytes());
        }
        m.extend_from_slice(b"\r\n\r\n");
        let k = keys(&m);
        assert_eq!(k.references.len(), MAX_REFERENCES);
        assert_eq!(k.references.last().map(String::as_str), Some("999@x"));
        assert_eq!(message_ids(b"<> < > <a b@c> <x<y@z>"), vec!["ab@c", "y@z"]);
    }
}
