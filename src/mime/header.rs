//! The RFC 5322 §2.2 header block of one entity: where it ends and what fields it holds.
//!
//! Owns the splitting of raw bytes into header and body and the iteration over raw fields. It
//! never decodes anything (RFC 2047 words stay as they are); unfolding is the caller's choice.

/// Offsets of an entity's header and body inside the slice it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Split {
    /// End of the header, including the empty line that ends it (if there is one).
    pub header_end: usize,
    /// Start of the body (equal to `header_end`).
    pub body_start: usize,
}

/// Splits an entity at the first empty line (RFC 5322 §2.1).
///
/// An entity that starts with CRLF has an empty header. An entity without any empty line is all
/// header and has an empty body (Dovecot does the same). A bare LF also ends a line here, so that
/// input that escaped canonicalisation still splits sensibly.
pub(crate) fn split(entity: &[u8]) -> Split {
    let mut line_start = 0;
    while line_start < entity.len() {
        let rest = &entity[line_start..];
        if rest.starts_with(b"\r\n") {
            let end = line_start + 2;
            return Split {
                header_end: end,
                body_start: end,
            };
        }
        if rest.starts_with(b"\n") {
            let end = line_start + 1;
            return Split {
                header_end: end,
                body_start: end,
            };
        }
        match memchr(b'\n', rest) {
            Some(i) => line_start += i + 1,
            None => break,
        }
    }
    Split {
        header_end: entity.len(),
        body_start: entity.len(),
    }
}

/// One raw header field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    /// The field name, as written (no trailing whitespace).
    pub name: &'a [u8],
    /// The raw value: after the colon and the whitespace following it, up to (not including) the
    /// final CRLF; folding CRLFs are still inside.
    pub value: &'a [u8],
    /// The whole field including its final line end, for HEADER.FIELDS.
    pub raw: &'a [u8],
}

/// Iterates over the fields of a header block. Lines without a colon (and continuation lines
/// before any field) are skipped, as Dovecot does; they never end the header early.
pub(crate) fn fields(header: &[u8]) -> Fields<'_> {
    Fields { rest: header }
}

pub(crate) struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            // One field: its first line and every following line that starts with WSP.
            let mut end = line_end(self.rest, 0);
            while end < self.rest.len() && matches!(self.rest[end], b' ' | b'\t') {
                end = line_end(self.rest, end);
            }
            let raw = &self.rest[..end];
            self.rest = &self.rest[end..];
            let Some(colon) = memchr(b':', raw) else {
                continue;
            };
            let name = trim_end(&raw[..colon]);
            if name.is_empty()
                || name
                    .iter()
                    .any(|&b| b == b' ' || b == b'\t' || b == b'\r' || b == b'\n')
            {
                // "no colon line" before a colon elsewhere, or an empty line: not a field.
                if raw == b"\r\n" || raw == b"\n" {
                    return None;
                }
                continue;
            }
            let mut value = &raw[colon + 1..];
            value = strip_line_end(value);
            while let [b' ' | b'\t', tail @ ..] = value {
                value = tail;
            }
            return Some(Field { name, value, raw });
        }
    }
}

/// The first field named `name` (case-insensitive). RFC 5322 §3.6 allows most fields once; where
/// a message repeats one, the first is used (Dovecot uses the last for ENVELOPE fields).
pub(crate) fn first<'a>(header: &'a [u8], name: &str) -> Option<&'a [u8]> {
    fields(header)
        .find(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
        .map(|f| f.value)
}

/// RFC 5322 §2.2.3 unfolding: the CRLFs of folding are removed, the whitespace after them stays.
/// Any other CR or LF goes too, so the result can never break an IMAP line.
pub(crate) fn unfold(value: &[u8]) -> Vec<u8> {
    value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect()
}

fn line_end(s: &[u8], from: usize) -> usize {
    match memchr(b'\n', &s[from..]) {
        Some(i) => from + i + 1,
        None => s.len(),
    }
}

fn strip_line_end(v: &[u8]) -> &[u8] {
    let v = v.strip_suffix(b"\n").unwrap_or(v);
    v.strip_suffix(b"\r").unwrap_or(v)
}

pub(crate) fn trim_end(mut v: &[u8]) -> &[u8] {
    while let [head @ .., b' ' | b'\t' | b'\r' | b'\n'] = v {
        v = head;
    }
    v
}

pub(crate) fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', tail @ ..] = v {
        v = tail;
    }
    trim_end(v)
}

pub(crate) fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    memchr::memchr(needle, hay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_at_first_empty_line() {
        let m = b"A: 1\r\nB: 2\r\n\r\nbody\r\n";
        let s = split(m);
        assert_eq!(&m[..s.header_end], b"A: 1\r\nB: 2\r\n\r\n");
        assert_eq!(&m[s.body_start..], b"body\r\n");
    }

    #[test]
    fn split_empty_header_and_header_only() {
        assert_eq!(split(b"\r\nbody").body_start, 2);
        assert_eq!(split(b"A: 1\r\n").body_start, 6);
        assert_eq!(split(b"").body_start, 0);
    }

    #[test]
    fn fields_keep_folding_and_skip_junk() {
        let h = b"junk line\r\nSubject: a\r\n\tb\r\nX-Y:z\r\n\r\n";
        let f: Vec<_> = fields(h).collect();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].name, b"Subject");
        assert_eq!(f[0].value, b"a\r\n\tb");
        assert_eq!(f[0].raw, b"Subject: a\r\n\tb\r\n");
        assert_eq!(f[1].value, b"z");
    }

    #[test]
    fn first_is_case_insensitive_and_first_wins() {
        let h = b"subject: one\r\nSUBJECT: two\r\n";
        assert_eq!(first(h, "Subject"), Some(&b"one"[..]));
        assert_eq!(first(h, "From"), None);
    }

    #[test]
    fn unfold_removes_only_line_ends() {
        assert_eq!(unfold(b"a\r\n b"), b"a b");
    }
}
