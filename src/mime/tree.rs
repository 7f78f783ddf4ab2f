//! The MIME part tree of one message (RFC 2045, RFC 2046 §5), by byte offsets into the message.
//!
//! Owns finding where each part's header and body lie, multipart splitting and message/rfc822
//! encapsulation, and the caps of [`super::limits`]. Building recurses once per nesting level,
//! and the level is capped by [`super::limits::MAX_DEPTH`], so input can never choose the stack
//! depth; beyond a cap a part is an opaque leaf ([`Kind::Opaque`]) and is still served byte for
//! byte.

use std::ops::Range;

use super::header;
use super::limits::{MAX_DEPTH, MAX_PARTS};
use super::params::{self, ContentType};

/// One body part: its MIME header, its body, and what it contains.
#[derive(Debug)]
pub(crate) struct Part {
    /// The part's header block, including the empty line that ends it (the `MIME` section).
    pub header: Range<usize>,
    /// The part's body (for message/rfc822: the whole encapsulated message).
    pub body: Range<usize>,
    /// The effective Content-Type (defaults applied).
    pub ctype: ContentType,
    pub kind: Kind,
}

#[derive(Debug)]
pub(crate) enum Kind {
    /// A leaf with its own content.
    Leaf,
    /// A multipart: its children (may be empty: no boundary, or no delimiter found).
    Multipart(Vec<Part>),
    /// message/rfc822 (or message/global): the encapsulated message, a `Part` whose header is
    /// the inner message header.
    Message(Box<Part>),
    /// A container that was not opened because a cap was reached: shown as
    /// application/octet-stream, served as bytes.
    Opaque,
}

/// Builds the tree of the whole message: the root is the message itself.
pub(crate) fn build(msg: &[u8]) -> Part {
    let mut budget = Budget { parts: 0 };
    entity(msg, 0..msg.len(), DefaultType::Text, 0, &mut budget)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DefaultType {
    /// RFC 2045 §5.2: text/plain; charset=us-ascii.
    Text,
    /// RFC 2046 §5.1.5: inside multipart/digest, message/rfc822.
    Message,
}

struct Budget {
    parts: usize,
}

/// Parses the entity in `range`; `depth` is the number of containers around it.
fn entity(
    msg: &[u8],
    range: Range<usize>,
    default: DefaultType,
    depth: usize,
    budget: &mut Budget,
) -> Part {
    budget.parts += 1;
    let bytes = &msg[range.clone()];
    let split = header::split(bytes);
    let header_range = range.start..range.start + split.header_end;
    let body = range.start + split.body_start..range.end;
    let head = &msg[header_range.clone()];
    let ctype = header::first(head, "Content-Type")
        .and_then(params::content_type)
        .unwrap_or_else(|| match default {
            DefaultType::Text => {
                let mut ct = ContentType::new("text", "plain");
                ct.params.push((b"charset".to_vec(), b"us-ascii".to_vec()));
                ct
            }
            DefaultType::Message => ContentType::new("message", "rfc822"),
        });
    let is_multipart = ctype.is("multipart");
    let is_message = ctype.is_sub("message", "rfc822") || ctype.is_sub("message", "global");
    let kind = if !is_multipart && !is_message {
        Kind::Leaf
    } else if depth >= MAX_DEPTH || budget.parts >= MAX_PARTS {
        Kind::Opaque
    } else if is_message {
        Kind::Message(Box::new(entity(
            msg,
            body.clone(),
            DefaultType::Text,
            depth + 1,
            budget,
        )))
    } else {
        let child_default = if ctype.sub.eq_ignore_ascii_case(b"digest") {
            DefaultType::Message
        } else {
            DefaultType::Text
        };
        let children = match ctype.param("boundary") {
            Some(b) if !b.is_empty() => {
                let boundary = b.to_vec();
                let segments = split_multipart(msg, body.clone(), &boundary);
                let mut children = Vec::with_capacity(segments.len().min(64));
                let count = segments.len();
                for (i, seg) in segments.into_iter().enumerate() {
                    // The part cap: the last part allowed takes the rest of the multipart, opaque.
                    if budget.parts + 1 >= MAX_PARTS && i + 1 < count {
                        budget.parts += 1;
                        let rest = seg.start..body.end;
                        children.push(opaque(msg, rest));
                        break;
                    }
                    children.push(entity(msg, seg, child_default, depth + 1, budget));
                }
                children
            }
            _ => Vec::new(),
        };
        Kind::Multipart(children)
    };
    Part {
        header: header_range,
        body,
        ctype,
        kind,
    }
}

fn opaque(msg: &[u8], range: Range<usize>) -> Part {
    let split = header::split(&msg[range.clone()]);
    Part {
        header: range.start..range.start + split.header_end,
        body: range.start + split.body_start..range.end,
        ctype: ContentType::new("application", "octet-stream"),
        kind: Kind::Opaque,
    }
}

/// The ranges of the body parts of a multipart (RFC 2046 §5.1.1).
///
/// A delimiter line is `--boundary` at the start of a line; like Dovecot, anything may follow on
/// that line (RFC 2046 forbids a boundary that is a prefix of content lines, so this only
/// matters for broken mail). The CRLF before a delimiter belongs to the delimiter. The preamble
/// and epilogue are not parts. A part that is never closed runs to the end of the multipart.
/// At most [`MAX_PARTS`] ranges are returned: the last one then runs to the end.
fn split_multipart(msg: &[u8], body: Range<usize>, boundary: &[u8]) -> Vec<Range<usize>> {
    let mut delimiter = Vec::with_capacity(boundary.len() + 2);
    delimiter.extend_from_slice(b"--");
    delimiter.extend_from_slice(boundary);
    // memmem keeps deep nesting cheap: each level scans its body once, fast.
    let finder = memchr::memmem::Finder::new(&delimiter);
    let mut parts = Vec::new();
    let mut current: Option<usize> = None;
    let mut pos = body.start;
    while let Some(hit) = finder.find(&msg[pos..body.end]) {
        let at = pos + hit;
        let line_end = memchr::memchr(b'\n', &msg[at..body.end]).map_or(body.end, |i| at + i + 1);
        pos = line_end;
        if at != body.start && msg[at - 1] != b'\n' {
            continue; // not at the start of a line
        }
        let rest = &msg[at + delimiter.len()..line_end];
        let close = rest.starts_with(b"--");
        // RFC 2046 §5.1.1: a boundary character right after ours means a longer boundary that
        // merely starts with ours (a nested part's, e.g. "b" and "b-alt"): not our delimiter.
        // Anything else may follow, as Dovecot allows (transport padding, junk).
        if !close && rest.first().is_some_and(|&c| is_bchar_nospace(c)) {
            continue;
        }
        if let Some(start) = current.take() {
            // The line end before the delimiter is part of the delimiter.
            let mut end = at;
            if end > start && msg[end - 1] == b'\n' {
                end -= 1;
                if end > start && msg[end - 1] == b'\r' {
                    end -= 1;
                }
            }
            parts.push(start..end.max(start));
        }
        if close {
            return parts;
        }
        if parts.len() + 1 >= MAX_PARTS {
            // Do not collect more than the cap: the rest becomes one (opaque) range.
            parts.push(line_end..body.end);
            return parts;
        }
        current = Some(line_end);
        if pos >= body.end {
            break;
        }
    }
    if let Some(start) = current {
        parts.push(start..body.end);
    }
    parts
}

/// `bcharsnospace` of RFC 2046 §5.1.1.
fn is_bchar_nospace(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"'()+_,-./:=?".contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_boundary_that_extends_the_outer_one_is_not_a_delimiter() {
        let m = b"--b\r\nContent-Type: multipart/alternative; boundary=b-alt\r\n\r\n--b-alt\r\nX\r\n--b-alt--\r\n--b\r\nY\r\n--b--\r\n";
        let r = split_multipart(m, 0..m.len(), b"b");
        let got: Vec<&[u8]> = r.into_iter().map(|r| &m[r]).collect();
        assert_eq!(
            got,
            vec![
                &b"Content-Type: multipart/alternative; boundary=b-alt\r\n\r\n--b-alt\r\nX\r\n--b-alt--"[..],
                &b"Y"[..]
            ]
        );
        // Junk that is not a boundary character may still follow a real delimiter.
        let m = b"--b \t\r\nA\r\n--b--junk\r\n";
        let r = split_multipart(m, 0..m.len(), b"b");
        assert_eq!(
            r.into_iter().map(|r| &m[r]).collect::<Vec<_>>(),
            vec![&b"A"[..]]
        );
    }

    #[test]
    fn split_basic() {
        let m = b"--b\r\nA\r\n--b\r\n\r\nB\r\n--b--\r\nepi";
        let r = split_multipart(m, 0..m.len(), b"b");
        let got: Vec<&[u8]> = r.into_iter().map(|r| &m[r]).collect();
        assert_eq!(got, vec![&b"A"[..], &b"\r\nB"[..]]);
    }

    #[test]
    fn split_unclosed_runs_to_end() {
        let m = b"pre\r\n--b\r\nA\r\n";
        let r = split_multipart(m, 0..m.len(), b"b");
        assert_eq!(r, vec![10..m.len()]);
    }

    #[test]
    fn default_types() {
        let m = b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: x\r\n\r\ny\r\n--d--\r\n";
        let p = build(m);
        let Kind::Multipart(children) = &p.kind else {
            panic!("multipart expected")
        };
        assert!(children[0].ctype.is_sub("message", "rfc822"));
        assert!(matches!(children[0].kind, Kind::Message(_)));
    }

    #[test]
    fn no_boundary_means_no_children() {
        let p = build(b"Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\na\r\n--x--\r\n");
        assert!(matches!(&p.kind, Kind::Multipart(c) if c.is_empty()));
    }
}
