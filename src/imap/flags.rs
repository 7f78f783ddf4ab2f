//! Message flags as a user sees them: the system flags a user may keep and their keywords.
//!
//! Owns: the canonical text form stored in the index (`\Seen \Flagged $Work`) and the rules of
//! what may be stored. `\Deleted` is never stored: nothing in the archive can be deleted, and
//! PERMANENTFLAGS never lists it (DESIGN §4). `\Recent` is a session flag, never stored.
//!
//! Also owns the archive keywords ([`AttachmentKeyword`]): `$HasAttachment` or
//! `$HasNoAttachment`, a fact about the archived message set once at ingest (the index's
//! `messages.has_attachment`), the same for every user and every mailbox that holds it. Clients
//! see it among a message's flags and can SEARCH KEYWORD it, but it is never a per-user flag:
//! [`Flags`] refuses to hold it, so STORE can neither add nor remove it (the IANA keyword
//! registry: set by the server, clients should not change it).

use std::fmt::Write as _;

pub use crate::limits::{MAX_KEYWORDS, MAX_KEYWORD_LEN};

/// The system flags a user may keep, in the order they are written out.
const SYSTEM: [(&str, u8); 4] = [
    ("\\Seen", 1),
    ("\\Answered", 2),
    ("\\Flagged", 4),
    ("\\Draft", 8),
];

/// The archive keywords (see the module docs), in the order SELECT's FLAGS lists them.
pub const ARCHIVE_KEYWORDS: [&str; 2] = ["$HasAttachment", "$HasNoAttachment"];

/// Whether `flag` is an archive keyword (case-insensitive, RFC 3501 §2.3.2).
pub fn is_archive_keyword(flag: &str) -> bool {
    ARCHIVE_KEYWORDS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(flag))
}

/// Which archive keyword a message carries: whether it has an attachment (a part with
/// `Content-Disposition: attachment`, or a non-text leaf that is neither multipart nor
/// message/rfc822 and has a file name; `mime::Analysis::has_attachment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentKeyword {
    /// `$HasAttachment`.
    HasAttachment,
    /// `$HasNoAttachment`.
    HasNoAttachment,
}

impl AttachmentKeyword {
    /// The keyword for the index's `has_attachment` fact.
    pub fn of(has_attachment: bool) -> AttachmentKeyword {
        if has_attachment {
            AttachmentKeyword::HasAttachment
        } else {
            AttachmentKeyword::HasNoAttachment
        }
    }

    /// The keyword as clients see it.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKeyword::HasAttachment => ARCHIVE_KEYWORDS[0],
            AttachmentKeyword::HasNoAttachment => ARCHIVE_KEYWORDS[1],
        }
    }
}

/// A message's per-user flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    system: u8,
    keywords: Vec<String>,
}

/// What became of a flag a client asked to store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Stored as asked.
    Kept,
    /// Dropped: a flag no user may set on an archive (`\Deleted`, `\Recent`, unknown `\X`), or a
    /// keyword past the limits. RFC 4314 §4: the server answers with the real flags.
    Dropped,
}

impl Flags {
    /// Reads the index's text form; anything it does not recognise is ignored.
    pub fn from_stored(text: &str) -> Flags {
        let mut flags = Flags::default();
        for word in text.split_ascii_whitespace() {
            let _ = flags.insert(word);
        }
        flags
    }

    /// The index's text form, and the IMAP flag list without parentheses.
    pub fn to_stored(&self) -> String {
        let mut out = String::new();
        for (name, bit) in SYSTEM {
            if self.system & bit != 0 {
                push_word(&mut out, name);
            }
        }
        for k in &self.keywords {
            push_word(&mut out, k);
        }
        out
    }

    /// Whether `\Seen` is set.
    pub fn is_seen(&self) -> bool {
        self.system & 1 != 0
    }

    /// Whether the flag (system flag or keyword, case-insensitive, RFC 3501 §2.3.2) is set.
    pub fn contains(&self, flag: &str) -> bool {
        match system_bit(flag) {
            Some(bit) => self.system & bit != 0,
            None => self.keywords.iter().any(|k| k.eq_ignore_ascii_case(flag)),
        }
    }

    /// Adds one flag, if a user may keep it.
    pub fn insert(&mut self, flag: &str) -> Admission {
        if let Some(bit) = system_bit(flag) {
            self.system |= bit;
            return Admission::Kept;
        }
        if flag.starts_with('\\') || !is_keyword(flag) || is_archive_keyword(flag) {
            return Admission::Dropped;
        }
        if self.contains(flag) {
            return Admission::Kept;
        }
        if self.keywords.len() >= MAX_KEYWORDS {
            return Admission::Dropped;
        }
        self.keywords.push(flag.to_owned());
        Admission::Kept
    }

    /// Removes one flag.
    pub fn remove(&mut self, flag: &str) {
        match system_bit(flag) {
            Some(bit) => self.system &= !bit,
            None => self.keywords.retain(|k| !k.eq_ignore_ascii_case(flag)),
        }
    }

    /// The keywords, for the FLAGS and PERMANENTFLAGS lists of SELECT.
    pub fn keywords(&self) -> impl Iterator<Item = &str> {
        self.keywords.iter().map(String::as_str)
    }
}

fn push_word(out: &mut String, word: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    let _ = write!(out, "{word}");
}

fn system_bit(flag: &str) -> Option<u8> {
    SYSTEM
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(flag))
        .map(|(_, bit)| *bit)
}

/// RFC 3501 §9: `flag-keyword = atom`; atom-specials excluded, and bounded here.
fn is_keyword(flag: &str) -> bool {
    !flag.is_empty()
        && flag.len() <= MAX_KEYWORD_LEN
        && flag
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_round_trips_in_canonical_order() {
        let f = Flags::from_stored("$Work \\flagged \\SEEN");
        assert_eq!(f.to_stored(), "\\Seen \\Flagged $Work");
        assert_eq!(Flags::from_stored(&f.to_stored()), f);
    }

    #[test]
    fn deleted_and_recent_are_never_kept() {
        let mut f = Flags::default();
        assert_eq!(f.insert("\\Deleted"), Admission::Dropped);
        assert_eq!(f.insert("\\Recent"), Admission::Dropped);
        assert_eq!(f.insert("\\Unknown"), Admission::Dropped);
        assert_eq!(f.to_stored(), "");
        assert_eq!(Flags::from_stored("\\Deleted \\Seen").to_stored(), "\\Seen");
    }

    #[test]
    fn archive_keywords_are_never_per_user_flags() {
        let mut f = Flags::default();
        assert_eq!(f.insert("$HasAttachment"), Admission::Dropped);
        assert_eq!(f.insert("$hasnoattachment"), Admission::Dropped);
        // A row written before these keywords existed loses them when read.
        assert_eq!(
            Flags::from_stored("\\Seen $HasAttachment $Work").to_stored(),
            "\\Seen $Work"
        );
        assert_eq!(AttachmentKeyword::of(true).as_str(), "$HasAttachment");
        assert!(is_archive_keyword("$HASNOATTACHMENT") && !is_archive_keyword("$Work"));
    }

    #[test]
    fn keywords_are_case_insensitive_and_bounded() {
        let mut f = Flags::default();
        assert_eq!(f.insert("$Label1"), Admission::Kept);
        assert_eq!(f.insert("$label1"), Admission::Kept);
        assert_eq!(f.to_stored(), "$Label1");
        f.remove("$LABEL1");
        assert_eq!(f.to_stored(), "");
        for i in 0..MAX_KEYWORDS {
            assert_eq!(f.insert(&format!("k{i}")), Admission::Kept);
        }
        assert_eq!(f.insert("one-too-many"), Admission::Dropped);
        assert_eq!(
            f.insert(&"x".repeat(MAX_KEYWORD_LEN + 1)),
            Admission::Dropped
        );
        assert_eq!(f.insert("bad(kw"), Admission::Dropped);
    }
}
