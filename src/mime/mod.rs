//! Pure functions over one message's bytes: ENVELOPE, BODYSTRUCTURE, section extraction.
//!
//! Owns: the reading of RFC 5322 / MIME structure. Knows nothing of sockets, SQL or IMAP
//! commands; it is given the canonical (CRLF) bytes of a message and returns bytes.

// INTERIM (storage branch): `canonical_line_ends` and `analyze` until the real MIME module
// lands; replaced at merge.
mod interim;
pub use interim::*;

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
