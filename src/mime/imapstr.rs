//! IMAP string output (RFC 3501 §4.3 / RFC 9051 §4.3): quoted strings, literals and NIL.
//!
//! Owns only the choice between the two string forms; callers decide what is NIL.

/// Appends `s` as an IMAP `string`.
///
/// A quoted string may carry only 7-bit `TEXT-CHAR`s (no NUL, CR or LF, RFC 3501 §9), with `"`
/// and `\` escaped; anything else (8-bit bytes, CR, LF) is sent as a synchronising literal
/// `{n}\r\n...`. NUL is not a `CHAR8` either, so it cannot travel even in a literal: NUL bytes
/// are dropped (only `literal8` could carry them, and BODYSTRUCTURE strings are not `literal8`).
pub(crate) fn string(out: &mut Vec<u8>, s: &[u8]) {
    let needs_literal = s.iter().any(|&b| b >= 0x80 || b == b'\r' || b == b'\n');
    if needs_literal {
        let n = s.iter().filter(|&&b| b != 0).count();
        out.extend_from_slice(format!("{{{n}}}\r\n").as_bytes());
        out.extend(s.iter().copied().filter(|&b| b != 0));
    } else {
        out.push(b'"');
        for &b in s {
            match b {
                0 => {}
                b'"' | b'\\' => {
                    out.push(b'\\');
                    out.push(b);
                }
                _ => out.push(b),
            }
        }
        out.push(b'"');
    }
}

/// Appends `s` as an IMAP `nstring`: `NIL` when absent.
pub(crate) fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        string(&mut out, v);
        out
    }

    #[test]
    fn plain_text_is_quoted() {
        assert_eq!(s(b"abc def"), b"\"abc def\"");
        assert_eq!(s(b""), b"\"\"");
    }

    #[test]
    fn quote_and_backslash_are_escaped() {
        assert_eq!(s(b"a\"b\\c"), b"\"a\\\"b\\\\c\"");
    }

    #[test]
    fn eight_bit_and_line_ends_become_literals() {
        assert_eq!(s("é".as_bytes()), b"{2}\r\n\xc3\xa9");
        assert_eq!(s(b"a\r\nb"), b"{4}\r\na\r\nb");
    }

    #[test]
    fn nul_is_dropped() {
        assert_eq!(s(b"a\0b"), b"\"ab\"");
        assert_eq!(s(b"\xff\0"), b"{1}\r\n\xff");
    }

    #[test]
    fn nil_for_absent() {
        let mut out = Vec::new();
        nstring(&mut out, None);
        assert_eq!(out, b"NIL");
    }
}
