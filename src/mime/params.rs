//! Structured MIME header values: `Content-Type` (RFC 2045 §5.1), `Content-Disposition`
//! (RFC 2183), `Content-Transfer-Encoding` (RFC 2045 §6.1), `Content-Language` (RFC 3282).
//!
//! Owns the tokenising of these values. Case is kept as written (Dovecot does the same; MIME
//! names are case-insensitive, so clients compare them that way). Comments are dropped.
//!
//! RFC 2231 parameters: continuations (`name*0`, `name*1`, ...) are joined into one parameter,
//! but charset-encoded values are **not** decoded: `filename*=utf-8''a%20b` is sent as the
//! parameter `filename*` with the value `utf-8''a%20b`. IMAP strings carry no charset label, so
//! decoding would either lose the charset or send 8-bit text the client cannot interpret; clients
//! (Thunderbird, Apple Mail) decode `name*` themselves. This is also what Dovecot sends.

/// A `type/subtype; params` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContentType {
    pub main: Vec<u8>,
    pub sub: Vec<u8>,
    pub params: Vec<(Vec<u8>, Vec<u8>)>,
}

impl ContentType {
    pub fn new(main: &str, sub: &str) -> ContentType {
        ContentType {
            main: main.into(),
            sub: sub.into(),
            params: Vec::new(),
        }
    }

    pub fn is(&self, main: &str) -> bool {
        self.main.eq_ignore_ascii_case(main.as_bytes())
    }

    pub fn is_sub(&self, main: &str, sub: &str) -> bool {
        self.is(main) && self.sub.eq_ignore_ascii_case(sub.as_bytes())
    }

    pub fn param(&self, name: &str) -> Option<&[u8]> {
        param(&self.params, name)
    }
}

/// The first parameter named `name` (case-insensitive).
pub(crate) fn param<'p>(params: &'p [(Vec<u8>, Vec<u8>)], name: &str) -> Option<&'p [u8]> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| v.as_slice())
}

/// Parses a `Content-Type` value; `None` when it has no `type/subtype` (the caller then uses the
/// default, RFC 2045 §5.2).
pub(crate) fn content_type(value: &[u8]) -> Option<ContentType> {
    let mut t = Tokens::new(value);
    let main = t.token()?;
    if !t.eat(b'/') {
        return None;
    }
    let sub = t.token()?;
    let params = t.params();
    Some(ContentType { main, sub, params })
}

/// A parsed `Content-Disposition`: its type and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Disposition {
    pub kind: Vec<u8>,
    pub params: Vec<(Vec<u8>, Vec<u8>)>,
}

pub(crate) fn disposition(value: &[u8]) -> Option<Disposition> {
    let mut t = Tokens::new(value);
    let kind = t.token()?;
    let params = t.params();
    Some(Disposition { kind, params })
}

/// The mechanism of a `Content-Transfer-Encoding` value, comments dropped, case kept.
pub(crate) fn encoding(value: &[u8]) -> Option<Vec<u8>> {
    Tokens::new(value).token()
}

/// The tags of a `Content-Language` list (RFC 3282): comma- or space-separated, comments dropped.
pub(crate) fn languages(value: &[u8]) -> Vec<Vec<u8>> {
    let mut t = Tokens::new(value);
    let mut out = Vec::new();
    loop {
        t.skip_cfws();
        if t.at_end() {
            return out;
        }
        match t.token() {
            Some(tag) => out.push(tag),
            None => t.pos += 1, // a stray special: skip it, never loop
        }
    }
}

/// A small RFC 2045 §5.1 tokenizer (token, quoted-string, comments, tspecials).
struct Tokens<'a> {
    s: &'a [u8],
    pos: usize,
}

fn is_tspecial(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')'
            | b'<'
            | b'>'
            | b'@'
            | b','
            | b';'
            | b':'
            | b'\\'
            | b'"'
            | b'/'
            | b'['
            | b']'
            | b'?'
            | b'='
    )
}

impl<'a> Tokens<'a> {
    fn new(s: &'a [u8]) -> Tokens<'a> {
        Tokens { s, pos: 0 }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// Skips whitespace, line ends and (nested) comments. Loops only while it advances.
    fn skip_cfws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'(' => self.skip_comment(),
                _ => return,
            }
        }
    }

    /// Skips one comment with a depth counter (no recursion, RFC 5322 §3.2.2 nesting).
    fn skip_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'\\' => self.pos += 1,
                b'(' => depth += 1,
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_cfws();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn token(&mut self) -> Option<Vec<u8>> {
        self.skip_cfws();
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b <= b' ' || b == 0x7f || is_tspecial(b) {
                break;
            }
            self.pos += 1;
        }
        (self.pos > start).then(|| self.s[start..self.pos].to_vec())
    }

    /// A quoted string's content, escapes removed and folding line ends dropped.
    fn quoted(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.pos += 1; // the opening quote
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'"' => return out,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        self.pos += 1;
                        out.push(n);
                    }
                }
                b'\r' | b'\n' => {}
                _ => out.push(b),
            }
        }
        out
    }

    /// `*(";" attribute "=" value)`, tolerant: junk up to the next `;` is skipped.
    fn params(&mut self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut raw = Vec::new();
        loop {
            self.skip_cfws();
            if self.at_end() {
                break;
            }
            if !self.eat(b';') {
                self.skip_past(b';');
                continue;
            }
            let Some(name) = self.token() else { continue };
            if !self.eat(b'=') {
                continue;
            }
            self.skip_cfws();
            let value = match self.peek() {
                Some(b'"') => self.quoted(),
                _ => match self.value_token() {
                    Some(v) => v,
                    None => continue,
                },
            };
            raw.push((name, value));
        }
        merge_rfc2231(raw)
    }

    /// An unquoted value: a token, but tolerant of the `/`, `?`, `=`, `@`... that real mail puts
    /// there (`boundary=--=_x/y`); it stops at whitespace, `;`, `"` or `(`.
    fn value_token(&mut self) -> Option<Vec<u8>> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b <= b' ' || b == b';' || b == b'"' || b == b'(' || b == 0x7f {
                break;
            }
            self.pos += 1;
        }
        (self.pos > start).then(|| self.s[start..self.pos].to_vec())
    }

    fn skip_past(&mut self, c: u8) {
        while let Some(b) = self.peek() {
            if b == c {
                return;
            }
            if b == b'"' {
                self.quoted();
            } else {
                self.pos += 1;
            }
        }
    }
}

/// RFC 2231 §3: joins `name*0`, `name*1`... (or `name*0*`, `name*1*`...) into one parameter
/// `name` (or `name*` when the first segment is extended, value kept encoded). Only complete
/// runs starting at 0 are joined; anything else is passed on unchanged. Plain parameters keep
/// their order and come first, joined ones follow in order of first appearance (Dovecot order).
fn merge_rfc2231(raw: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<(Vec<u8>, Vec<u8>)> {
    struct Group {
        base: Vec<u8>,
        segs: Vec<(u32, bool, Vec<u8>, Vec<u8>)>, // index, extended, original name, value
    }
    let mut plain = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    for (name, value) in raw {
        match continuation(&name) {
            Some((base, index, extended)) => {
                let base = base.to_ascii_lowercase();
                let seg = (index, extended, name, value);
                match groups.iter_mut().find(|g| g.base == base) {
                    Some(g) => g.segs.push(seg),
                    None => groups.push(Group {
                        base,
                        segs: vec![seg],
                    }),
                }
            }
            None => plain.push((name, value)),
        }
    }
    for mut g in groups {
        g.segs.sort_by_key(|s| s.0);
        let complete = g.segs.iter().enumerate().all(|(i, s)| s.0 as usize == i);
        if !complete {
            plain.extend(g.segs.into_iter().map(|(_, _, n, v)| (n, v)));
            continue;
        }
        let extended = g.segs.first().is_some_and(|s| s.1);
        // The base name as the sender spelled it (from the `*0` segment).
        let mut name = g.segs.first().map(|s| s.2.clone()).unwrap_or_default();
        if let Some(star) = name.iter().position(|&b| b == b'*') {
            name.truncate(star);
        }
        if extended {
            name.push(b'*');
        }
        let value = g.segs.into_iter().flat_map(|s| s.3).collect();
        plain.push((name, value));
    }
    plain
}

/// `base*N` or `base*N*` → (base, N, extended).
fn continuation(name: &[u8]) -> Option<(&[u8], u32, bool)> {
    let star = name.iter().position(|&b| b == b'*')?;
    let (base, rest) = (&name[..star], &name[star + 1..]);
    let (digits, extended) = match rest.strip_suffix(b"*") {
        Some(d) => (d, true),
        None => (rest, false),
    };
    if base.is_empty()
        || digits.is_empty()
        || digits.len() > 4
        || !digits.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((base, n, extended))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        v.iter()
            .map(|(a, b)| (a.as_bytes().to_vec(), b.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn content_type_keeps_case_drops_comments() {
        let ct = content_type(b"TEXT/Plain (c); Charset = \"UTF-8\" (x); format=flowed").unwrap();
        assert_eq!(ct.main, b"TEXT");
        assert_eq!(ct.sub, b"Plain");
        assert_eq!(ct.params, p(&[("Charset", "UTF-8"), ("format", "flowed")]));
    }

    #[test]
    fn content_type_without_subtype_is_invalid() {
        assert_eq!(content_type(b"text"), None);
        assert_eq!(content_type(b""), None);
    }

    #[test]
    fn quoted_values_unescape() {
        let ct = content_type(b"a/b; x=\"a \\\"q\\\" b\"; y=--=_z/w").unwrap();
        assert_eq!(ct.params, p(&[("x", "a \"q\" b"), ("y", "--=_z/w")]));
    }

    #[test]
    fn rfc2231_continuations_join_but_stay_encoded() {
        let ct = content_type(
            b"a/b; a=1; b*=us-ascii'en'x%20y; c*0*=utf-8''%C3; c*1*=%A9; d*0=p; d*2=r",
        )
        .unwrap();
        assert_eq!(
            ct.params,
            p(&[
                ("a", "1"),
                ("b*", "us-ascii'en'x%20y"),
                ("c*", "utf-8''%C3%A9"),
                ("d*0", "p"),
                ("d*2", "r")
            ])
        );
        let ct = content_type(b"a/b; name*1=\"y\"; name*0=\"x \"").unwrap();
        assert_eq!(ct.params, p(&[("name", "x y")]));
    }

    #[test]
    fn disposition_and_languages() {
        let d = disposition(b"attachment; filename=\"a b\"").unwrap();
        assert_eq!(d.kind, b"attachment");
        assert_eq!(d.params, p(&[("filename", "a b")]));
        assert_eq!(
            languages(b"en, de-CH (Swiss)"),
            vec![b"en".to_vec(), b"de-CH".to_vec()]
        );
        assert!(languages(b" ").is_empty());
        assert_eq!(encoding(b" Base64 (x)"), Some(b"Base64".to_vec()));
    }

    #[test]
    fn junk_never_loops() {
        let _ = content_type(b"a/b;;;=;\"unterminated");
        let _ = content_type(b"a/b; x=\"a\\");
        let _ = languages(b",,;;((");
    }
}
