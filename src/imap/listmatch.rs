//! LIST and LSUB patterns: `*` matches anything, `%` anything but the hierarchy separator
//! (RFC 3501 §6.3.8, RFC 9051 §6.3.9).
//!
//! Owns: matching a mailbox name against a reference and pattern, with INBOX case-insensitive.

/// The hierarchy separator of every mailbox name we serve.
pub const SEPARATOR: char = '/';

/// Longest pattern accepted; longer ones match nothing (bounds the matcher's work).
pub const MAX_PATTERN_LEN: usize = 1024;

/// A compiled pattern: the reference joined with the pattern, as RFC 3501 §6.3.8 describes.
#[derive(Debug, Clone)]
pub struct Pattern {
    chars: Vec<char>,
}

impl Pattern {
    /// Joins `reference` and `pattern` (the reference is a prefix; a separator is added when the
    /// reference does not end in one and the pattern does not start with one).
    pub fn new(reference: &str, pattern: &str) -> Pattern {
        let mut joined = String::with_capacity(reference.len() + pattern.len() + 1);
        joined.push_str(reference);
        if !reference.is_empty()
            && !reference.ends_with(SEPARATOR)
            && !pattern.is_empty()
            && !pattern.starts_with(SEPARATOR)
        {
            joined.push(SEPARATOR);
        }
        joined.push_str(pattern);
        // `INBOX` is case-insensitive (RFC 3501 §5.1): match its first component as INBOX.
        let joined = canonical_inbox(&joined);
        Pattern {
            chars: joined.chars().collect(),
        }
    }

    /// Whether `name` (already canonical: INBOX upper-case) matches.
    pub fn matches(&self, name: &str) -> bool {
        if self.chars.len() > MAX_PATTERN_LEN {
            return false;
        }
        let name: Vec<char> = name.chars().collect();
        wildcard_match(&self.chars, &name)
    }
}

/// `inbox`, `Inbox/x`, ... → `INBOX`, `INBOX/x`.
pub fn canonical_inbox(name: &str) -> String {
    let head = name.split(SEPARATOR).next().unwrap_or("");
    if head.eq_ignore_ascii_case("INBOX") && head != "INBOX" {
        let mut s = String::from("INBOX");
        s.push_str(&name[head.len()..]);
        s
    } else {
        name.to_owned()
    }
}

/// Iterative wildcard matching with backtracking limited to the last star, so its time is
/// O(pattern × name) at worst and its stack constant, whatever the input.
fn wildcard_match(pattern: &[char], name: &[char]) -> bool {
    // Dynamic programming over positions: `reach[j]` = pattern prefix matches name[..j].
    let mut reach = vec![false; name.len() + 1];
    reach[0] = true;
    for &p in pattern {
        let mut next = vec![false; name.len() + 1];
        match p {
            '*' => {
                let mut any = false;
                for j in 0..=name.len() {
                    any |= reach[j];
                    next[j] = any;
                }
            }
            '%' => {
                let mut any = false;
                for j in 0..=name.len() {
                    if j > 0 && name[j - 1] == SEPARATOR {
                        any = false;
                    }
                    any |= reach[j];
                    next[j] = any;
                }
            }
            c => {
                for j in 1..=name.len() {
                    next[j] = reach[j - 1] && name[j - 1] == c;
                }
            }
        }
        reach = next;
        if !reach.iter().any(|&r| r) {
            return false;
        }
    }
    reach[name.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(reference: &str, pattern: &str, name: &str) -> bool {
        Pattern::new(reference, pattern).matches(name)
    }

    #[test]
    fn star_and_percent() {
        assert!(m("", "*", "Archive/2019"));
        assert!(m("", "%", "Archive"));
        assert!(!m("", "%", "Archive/2019"));
        assert!(m("", "Archive/%", "Archive/2019"));
        assert!(!m("", "Archive/%", "Archive"));
        assert!(m("", "A*9", "Archive/2019"));
        assert!(m("", "%/%", "Archive/2019"));
        assert!(!m("", "%/%", "Archive/2019/Q1"));
    }

    #[test]
    fn reference_is_a_prefix() {
        assert!(m("Archive", "%", "Archive/2019"));
        assert!(m("Archive/", "%", "Archive/2019"));
        assert!(!m("Archive", "%", "Sent"));
    }

    #[test]
    fn inbox_is_case_insensitive() {
        assert!(m("", "inbox", "INBOX"));
        assert!(m("", "Inbox/%", "INBOX/Sub"));
        assert_eq!(canonical_inbox("inBox/x"), "INBOX/x");
        assert_eq!(canonical_inbox("INBOXES"), "INBOXES");
    }

    #[test]
    fn long_patterns_stay_cheap() {
        let p = "*".repeat(MAX_PATTERN_LEN);
        assert!(Pattern::new("", &p).matches("a/b/c"));
        let too_long = "*".repeat(MAX_PATTERN_LEN + 1);
        assert!(!Pattern::new("", &too_long).matches("a"));
    }
}
