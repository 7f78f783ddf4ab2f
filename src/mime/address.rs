//! A raw RFC 5322 §3.4 address-list reader for ENVELOPE (RFC 3501 §7.4.2).
//!
//! Owns turning an address header into `(name adl mailbox host)` tuples **without decoding**:
//! RFC 2047 encoded words stay encoded, quoted strings lose only their quotes and escapes.
//! It handles groups, display names, quoted strings, comments, route-addrs, domain literals and
//! missing parts, and never fails: what cannot be read is skipped. Missing parts are filled the
//! way Dovecot fills them (`MISSING_MAILBOX`, `MISSING_DOMAIN`), so clients see a well-formed
//! address rather than NIL where RFC 3501 needs a string.

/// Placeholder for an address without a local part.
pub(crate) const MISSING_MAILBOX: &[u8] = b"MISSING_MAILBOX";
/// Placeholder for an address without a domain.
pub(crate) const MISSING_DOMAIN: &[u8] = b"MISSING_DOMAIN";

/// One ENVELOPE address (RFC 3501 §7.4.2). Group start: `mailbox` = group name, `host` = None;
/// group end: everything None.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Address {
    pub name: Option<Vec<u8>>,
    pub adl: Option<Vec<u8>>,
    pub mailbox: Option<Vec<u8>>,
    pub host: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// An atom (any run of non-special, non-space bytes, 8-bit included).
    Atom(Vec<u8>),
    /// A quoted string's content.
    Quoted(Vec<u8>),
    /// A comment's content (outer parentheses removed).
    Comment(Vec<u8>),
    /// A domain literal, brackets included.
    Literal(Vec<u8>),
    /// One of `< > @ , ; : .`
    Special(u8),
}

/// A token and whether whitespace (or a comment) came before it.
type Spaced = (Tok, bool);

fn tokenize(s: &[u8]) -> Vec<Spaced> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut space = false;
    while i < s.len() {
        let b = s[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                space = true;
                i += 1;
                continue;
            }
            b'"' => {
                let mut v = Vec::new();
                i += 1;
                while i < s.len() && s[i] != b'"' {
                    match s[i] {
                        b'\\' if i + 1 < s.len() => {
                            v.push(s[i + 1]);
                            i += 2;
                            continue;
                        }
                        b'\r' | b'\n' => {}
                        c => v.push(c),
                    }
                    i += 1;
                }
                i += 1; // closing quote (or end)
                out.push((Tok::Quoted(v), space));
            }
            b'(' => {
                // Nested comments with a counter, never recursion.
                let mut depth = 0usize;
                let mut v = Vec::new();
                while i < s.len() {
                    let c = s[i];
                    i += 1;
                    match c {
                        b'\\' if i < s.len() => {
                            v.push(s[i]);
                            i += 1;
                            continue;
                        }
                        b'(' => {
                            depth += 1;
                            if depth == 1 {
                                continue;
                            }
                        }
                        b')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                break;
                            }
                        }
                        b'\r' | b'\n' => continue,
                        _ => {}
                    }
                    v.push(c);
                }
                out.push((Tok::Comment(v), space));
                space = true;
                continue;
            }
            b'[' => {
                let start = i;
                while i < s.len() && s[i] != b']' {
                    i += 1;
                }
                i = (i + 1).min(s.len());
                let v = s[start..i]
                    .iter()
                    .copied()
                    .filter(|&c| c != b'\r' && c != b'\n')
                    .collect();
                out.push((Tok::Literal(v), space));
            }
            b'<' | b'>' | b'@' | b',' | b';' | b':' | b'.' => {
                out.push((Tok::Special(b), space));
                i += 1;
            }
            b')' | b'\\' | b']' => i += 1, // stray: ignored
            _ => {
                let start = i;
                while i < s.len() && !b" \t\r\n\"()[]<>@,;:.\\".contains(&s[i]) {
                    i += 1;
                }
                out.push((Tok::Atom(s[start..i].to_vec()), space));
            }
        }
        space = false;
    }
    out
}

/// Reads an address list; an empty result means the field gives no address (NIL).
pub(crate) fn parse_list(value: &[u8]) -> Vec<Address> {
    let toks = tokenize(value);
    let mut p = Parser {
        toks: &toks,
        pos: 0,
    };
    let mut out = Vec::new();
    let mut in_group = false;
    while p.pos < toks.len() {
        let start = p.pos;
        p.item(&mut out, &mut in_group);
        if p.pos == start {
            p.pos += 1; // always advance, whatever the input
        }
    }
    if in_group {
        out.push(Address::default());
    }
    out
}

struct Parser<'t> {
    toks: &'t [Spaced],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    /// One mailbox, group start or group end, ending at `,` / `;` / end of input.
    fn item(&mut self, out: &mut Vec<Address>, in_group: &mut bool) {
        // The phrase (display name or local part) before `<`, `:` or `@`.
        let phrase_start = self.pos;
        let mut last_comment: Option<Vec<u8>> = None;
        while let Some(t) = self.peek() {
            match t {
                Tok::Special(b'<' | b':' | b'@' | b',' | b';') => break,
                Tok::Special(b'>') => self.pos += 1,
                Tok::Comment(c) => {
                    last_comment = Some(c.clone());
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
        let phrase = &self.toks[phrase_start..self.pos];
        match self.peek() {
            Some(Tok::Special(b':')) if !*in_group => {
                self.pos += 1;
                *in_group = true;
                out.push(Address {
                    mailbox: Some(join_phrase(phrase)),
                    ..Address::default()
                });
            }
            Some(Tok::Special(b'<')) => {
                self.pos += 1;
                let mut addr = self.angle_addr();
                let name = join_phrase(phrase);
                addr.name = if name.is_empty() {
                    self.trailing_comment()
                } else {
                    self.skip_to_end();
                    Some(name)
                };
                out.push(addr);
            }
            Some(Tok::Special(b'@')) => {
                self.pos += 1;
                let local = join_word(phrase);
                let host = self.domain();
                let comment = self.trailing_comment();
                out.push(Address {
                    name: comment,
                    adl: None,
                    mailbox: Some(if local.is_empty() {
                        MISSING_MAILBOX.to_vec()
                    } else {
                        local
                    }),
                    host: Some(host.unwrap_or_else(|| MISSING_DOMAIN.to_vec())),
                });
            }
            _ => {
                // No `@` and no `<`: a bare word or a display name alone.
                let words: Vec<_> = phrase
                    .iter()
                    .filter(|t| !matches!(t.0, Tok::Comment(_)))
                    .collect();
                if !words.is_empty() {
                    let only_quoted = words.len() == 1 && matches!(words[0].0, Tok::Quoted(_));
                    out.push(if only_quoted {
                        Address {
                            name: Some(join_phrase(phrase)),
                            adl: None,
                            mailbox: Some(MISSING_MAILBOX.to_vec()),
                            host: Some(MISSING_DOMAIN.to_vec()),
                        }
                    } else {
                        Address {
                            name: last_comment,
                            adl: None,
                            mailbox: Some(join_word(phrase)),
                            host: Some(MISSING_DOMAIN.to_vec()),
                        }
                    });
                }
            }
        }
        match self.peek() {
            Some(Tok::Special(b',')) => self.pos += 1,
            Some(Tok::Special(b';')) => {
                self.pos += 1;
                if *in_group {
                    *in_group = false;
                    out.push(Address::default());
                }
            }
            _ => {}
        }
    }

    /// After `<`: `[route ":"] local "@" domain ">"`.
    fn angle_addr(&mut self) -> Address {
        // An obsolete route (RFC 5322 §4.4): `@a,@b:`, kept as the adl.
        let mut adl = Vec::new();
        if matches!(self.peek(), Some(Tok::Special(b'@'))) {
            let save = self.pos;
            let mut route = Vec::new();
            while matches!(self.peek(), Some(Tok::Special(b'@'))) {
                self.pos += 1;
                if !route.is_empty() {
                    route.push(b',');
                }
                route.push(b'@');
                route.extend(self.domain().unwrap_or_default());
                while matches!(self.peek(), Some(Tok::Special(b','))) {
                    self.pos += 1;
                }
            }
            if matches!(self.peek(), Some(Tok::Special(b':'))) {
                self.pos += 1;
                adl = route;
            } else {
                self.pos = save; // `<@domain>`: not a route, a missing local part
            }
        }
        let start = self.pos;
        while let Some(t) = self.peek() {
            match t {
                Tok::Special(b'@' | b'>' | b',' | b';') => break,
                _ => self.pos += 1,
            }
        }
        let local = join_word(&self.toks[start..self.pos]);
        let mut host = None;
        if matches!(self.peek(), Some(Tok::Special(b'@'))) {
            self.pos += 1;
            host = self.domain();
        }
        // Anything up to `>` is junk inside the brackets.
        while let Some(t) = self.peek() {
            match t {
                Tok::Special(b'>') => {
                    self.pos += 1;
                    break;
                }
                Tok::Special(b',' | b';') => break,
                _ => self.pos += 1,
            }
        }
        Address {
            name: None,
            adl: (!adl.is_empty()).then_some(adl),
            mailbox: Some(if local.is_empty() {
                MISSING_MAILBOX.to_vec()
            } else {
                local
            }),
            host: Some(host.unwrap_or_else(|| MISSING_DOMAIN.to_vec())),
        }
    }

    /// `dot-atom / domain-literal`, comments skipped; None when empty.
    fn domain(&mut self) -> Option<Vec<u8>> {
        let mut d = Vec::new();
        while let Some(t) = self.peek() {
            match t {
                Tok::Atom(a) | Tok::Literal(a) => {
                    if !d.is_empty() && !d.ends_with(b".") && self.toks[self.pos].1 {
                        break; // `a@b c`: the domain ended at the space
                    }
                    d.extend_from_slice(a);
                }
                Tok::Special(b'.') => d.push(b'.'),
                // A comment after the domain may be the display name: leave it to the caller.
                Tok::Comment(_) if !d.is_empty() => break,
                Tok::Comment(_) => {}
                _ => break,
            }
            self.pos += 1;
        }
        (!d.is_empty()).then_some(d)
    }

    /// The last comment before the end of this item (Dovecot uses it as the display name of a
    /// bare addr-spec: `user@host (Name)`); the rest of the item is skipped.
    fn trailing_comment(&mut self) -> Option<Vec<u8>> {
        let mut last = None;
        while let Some(t) = self.peek() {
            match t {
                Tok::Special(b',' | b';') => break,
                Tok::Comment(c) => last = Some(c.clone()),
                _ => {}
            }
            self.pos += 1;
        }
        last.filter(|c| !c.is_empty())
    }

    fn skip_to_end(&mut self) {
        while let Some(t) = self.peek() {
            if matches!(t, Tok::Special(b',' | b';')) {
                break;
            }
            self.pos += 1;
        }
    }
}

/// A display name: words joined by one space where the source had whitespace, dots kept tight
/// (`A.B.`), comments dropped, quotes removed (Dovecot does the same).
fn join_phrase(toks: &[Spaced]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pending_space = false;
    for (t, space) in toks {
        let word: &[u8] = match t {
            Tok::Atom(a) | Tok::Quoted(a) | Tok::Literal(a) => a,
            Tok::Special(b'.') => b".",
            Tok::Comment(_) => {
                pending_space = true;
                continue;
            }
            Tok::Special(_) => continue,
        };
        if !out.is_empty() && (*space || pending_space) {
            out.push(b' ');
        }
        pending_space = false;
        out.extend_from_slice(word);
    }
    out
}

/// A local part: words and dots joined without spaces, comments dropped.
fn join_word(toks: &[Spaced]) -> Vec<u8> {
    let mut out = Vec::new();
    for (t, _) in toks {
        match t {
            Tok::Atom(a) | Tok::Quoted(a) | Tok::Literal(a) => out.extend_from_slice(a),
            Tok::Special(b'.') => out.push(b'.'),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(name: Option<&str>, adl: Option<&str>, mb: Option<&str>, host: Option<&str>) -> Address {
        let f = |s: Option<&str>| s.map(|s| s.as_bytes().to_vec());
        Address {
            name: f(name),
            adl: f(adl),
            mailbox: f(mb),
            host: f(host),
        }
    }

    #[test]
    fn simple_and_named() {
        assert_eq!(
            parse_list(b"Alice Example <alice@example.org>, bob@example.net"),
            vec![
                a(
                    Some("Alice Example"),
                    None,
                    Some("alice"),
                    Some("example.org")
                ),
                a(None, None, Some("bob"), Some("example.net"))
            ]
        );
    }

    #[test]
    fn encoded_words_stay_encoded() {
        assert_eq!(
            parse_list(b"=?ISO-8859-1?Q?Andr=E9?= Pirard <p@e.be>"),
            vec![a(
                Some("=?ISO-8859-1?Q?Andr=E9?= Pirard"),
                None,
                Some("p"),
                Some("e.be")
            )]
        );
    }

    #[test]
    fn quoted_names_and_comments() {
        assert_eq!(
            parse_list(b"\"Quoted \\\"Name\\\"\" <q@e>, u@e (Comment Name), (c) c@d, g@h (x) (y), Muller (Ltd) <m@l>, \"\" <e@f>"),
            vec![
                a(Some("Quoted \"Name\""), None, Some("q"), Some("e")),
                a(Some("Comment Name"), None, Some("u"), Some("e")),
                a(None, None, Some("c"), Some("d")),
                a(Some("y"), None, Some("g"), Some("h")),
                a(Some("Muller"), None, Some("m"), Some("l")),
                a(None, None, Some("e"), Some("f")),
            ]
        );
    }

    #[test]
    fn groups() {
        assert_eq!(
            parse_list(b"undisclosed-recipients:;"),
            vec![
                a(None, None, Some("undisclosed-recipients"), None),
                a(None, None, None, None)
            ]
        );
        assert_eq!(
            parse_list(b"F: b@n, \"C C\" <c@m>;, d@m"),
            vec![
                a(None, None, Some("F"), None),
                a(None, None, Some("b"), Some("n")),
                a(Some("C C"), None, Some("c"), Some("m")),
                a(None, None, None, None),
                a(None, None, Some("d"), Some("m")),
            ]
        );
        // An unterminated group is closed at the end.
        assert_eq!(parse_list(b"G: x@y").len(), 3);
    }

    #[test]
    fn routes_and_literals() {
        assert_eq!(
            parse_list(b"Old <@r1.ex,@r2.ex:u@ex.org>, <x@[1.2.3.4]>, \"x y\"@z"),
            vec![
                a(
                    Some("Old"),
                    Some("@r1.ex,@r2.ex"),
                    Some("u"),
                    Some("ex.org")
                ),
                a(None, None, Some("x"), Some("[1.2.3.4]")),
                a(None, None, Some("x y"), Some("z")),
            ]
        );
    }

    #[test]
    fn missing_parts() {
        assert_eq!(
            parse_list(b"<>"),
            vec![a(
                None,
                None,
                Some("MISSING_MAILBOX"),
                Some("MISSING_DOMAIN")
            )]
        );
        assert_eq!(
            parse_list(b"@example.org"),
            vec![a(None, None, Some("MISSING_MAILBOX"), Some("example.org"))]
        );
        assert_eq!(
            parse_list(b"naked"),
            vec![a(None, None, Some("naked"), Some("MISSING_DOMAIN"))]
        );
        assert_eq!(
            parse_list(b"\"Only Name\""),
            vec![a(
                Some("Only Name"),
                None,
                Some("MISSING_MAILBOX"),
                Some("MISSING_DOMAIN")
            )]
        );
        assert!(parse_list(b"").is_empty());
        assert!(parse_list(b" , ,").is_empty());
    }

    #[test]
    fn junk_never_panics() {
        for s in [
            &b"<<<>>>@@@;;::,,"[..],
            b"(((",
            b"\"",
            b"[",
            b"a@",
            b"<a@",
            b"\\",
            b":;:;",
            b"<@a,@b",
        ] {
            let _ = parse_list(s);
        }
    }
}
