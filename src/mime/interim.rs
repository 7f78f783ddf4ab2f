//! INTERIM stand-in for two `crate::mime` items, written by the storage engineer so that the
//! storage and import layers compile and test before the real MIME module lands.
//!
//! THIS FILE IS TEMPORARY: it is replaced at merge by the MIME engineer's `canonical_line_ends`
//! and `analyze`. Only the signatures matter; storage tests must not depend on what `analyze`
//! puts in the envelope, body structure or body.

use std::borrow::Cow;

/// What the index caches about a message (the real one is computed by `crate::mime`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Analysis {
    /// The FETCH ENVELOPE response text (interim: a placeholder).
    pub envelope: Vec<u8>,
    /// The FETCH BODYSTRUCTURE response text (interim: a placeholder).
    pub body_structure: Vec<u8>,
    /// The FETCH BODY response text (interim: a placeholder).
    pub body: Vec<u8>,
    /// The `Date:` header as Unix seconds (interim: never parsed).
    pub sent_date: Option<i64>,
    /// The `Date:` header's calendar day in its own zone, for SENTBEFORE/SENTON/SENTSINCE.
    pub sent_day: Option<(i32, u32, u32)>,
    /// Whether the message has an attachment (interim: always false).
    pub has_attachment: bool,
}

/// Every bare LF becomes CRLF; a CRLF stays as it is (RFC 5322 §2.1 line ends, as IMAP sends
/// them). Borrows when the input already has only CRLF line ends.
pub fn canonical_line_ends(raw: &[u8]) -> Cow<'_, [u8]> {
    let bare = raw
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || raw[i - 1] != b'\r'))
        .count();
    if bare == 0 {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + bare);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    Cow::Owned(out)
}

/// Interim analysis: placeholders only (see the file header).
pub fn analyze(message: &[u8]) -> Analysis {
    Analysis {
        envelope: b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)".to_vec(),
        body_structure: format!(
            "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" {} 0)",
            message.len()
        )
        .into_bytes(),
        body: Vec::new(),
        sent_date: None,
        sent_day: None,
        has_attachment: false,
    }
}
