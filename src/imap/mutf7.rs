//! Modified UTF-7 for mailbox names (RFC 3501 §5.1.3; RFC 9051 §5.1.3 keeps it for clients
//! that have not enabled UTF8=ACCEPT).
//!
//! Owns: encoding a Unicode mailbox name to modified UTF-7 and decoding it back, strictly.
//! Decoding never substitutes replacement characters: anything RFC 3501 rules out is an error.
//!
//! The rules, from RFC 3501 §5.1.3:
//! - printable US-ASCII (0x20–0x7e) except `&` represents itself; `&` is written `&-`;
//! - every other character is UTF-16 encoded, then written in modified BASE64 (RFC 2045 BASE64
//!   with `,` in place of `/`, no `=` padding) between `&` and `-`;
//! - modified BASE64 MUST NOT encode a printing US-ASCII character that can represent itself.
//!
//! [`encode`] always produces the canonical form (one shift sequence per run of non-ASCII
//! characters). [`decode`] accepts two adjacent shift sequences (`&AOk-&AOk-`), which RFC 3501
//! does not forbid, so decoding then encoding may normalise such a name.

/// Why a byte string is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mutf7Error {
    /// A byte outside printable US-ASCII (0x20–0x7e) outside of a shift sequence.
    #[error("byte 0x{byte:02x} at offset {offset} is not printable US-ASCII")]
    NotPrintable {
        /// The byte.
        byte: u8,
        /// Its offset in the input.
        offset: usize,
    },
    /// A shift sequence without its closing `-`.
    #[error("shift sequence at offset {offset} is not closed by '-'")]
    Unterminated {
        /// Offset of the `&`.
        offset: usize,
    },
    /// A byte inside a shift sequence that is not modified BASE64.
    #[error("invalid modified BASE64 at offset {offset}")]
    BadBase64 {
        /// Offset of the byte.
        offset: usize,
    },
    /// A shift sequence whose bits do not end on a UTF-16 code unit, or whose padding bits are set.
    #[error("shift sequence at offset {offset} has a partial or non-zero trailing code unit")]
    BadPadding {
        /// Offset of the `&`.
        offset: usize,
    },
    /// Unpaired UTF-16 surrogate.
    #[error("shift sequence at offset {offset} holds invalid UTF-16")]
    BadUtf16 {
        /// Offset of the `&`.
        offset: usize,
    },
    /// A printable US-ASCII character encoded in BASE64, which RFC 3501 forbids.
    #[error("shift sequence at offset {offset} encodes printable US-ASCII")]
    EncodedAscii {
        /// Offset of the `&`.
        offset: usize,
    },
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Encodes a Unicode mailbox name as modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush_base64(&mut out, &mut pending);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush_base64(&mut out, &mut pending);
    out
}

fn flush_base64(out: &mut String, units: &mut Vec<u16>) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for &u in units.iter() {
        acc = (acc << 16) | u32::from(u);
        bits += 16;
        while bits >= 6 {
            bits -= 6;
            out.push(char::from(ALPHABET[((acc >> bits) & 0x3f) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (6 - bits)) & 0x3f) as usize]));
    }
    out.push('-');
    units.clear();
}

fn base64_value(b: u8) -> Option<u32> {
    let v = match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b',' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes a modified UTF-7 mailbox name, strictly.
pub fn decode(input: &[u8]) -> Result<String, Mutf7Error> {
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if !(0x20..=0x7e).contains(&b) {
            return Err(Mutf7Error::NotPrintable { byte: b, offset: i });
        }
        if b != b'&' {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        if input.get(i) == Some(&b'-') {
            out.push('&');
            i += 1;
            continue;
        }
        let mut units: Vec<u16> = Vec::new();
        let mut acc: u32 = 0;
        let mut bits: u32 = 0;
        loop {
            let Some(&c) = input.get(i) else {
                return Err(Mutf7Error::Unterminated { offset: start });
            };
            if c == b'-' {
                i += 1;
                break;
            }
            let v = base64_value(c).ok_or(Mutf7Error::BadBase64 { offset: i })?;
            acc = (acc << 6) | v;
            bits += 6;
            if bits >= 16 {
                bits -= 16;
                // Truncation intended: the top 16 of the accumulated bits are one code unit.
                units.push(((acc >> bits) & 0xffff) as u16);
                acc &= (1 << bits) - 1;
            }
            i += 1;
        }
        if bits >= 6 || acc != 0 || units.is_empty() {
            return Err(Mutf7Error::BadPadding { offset: start });
        }
        for c in char::decode_utf16(units.iter().copied()) {
            let c = c.map_err(|_| Mutf7Error::BadUtf16 { offset: start })?;
            if (' '..='~').contains(&c) {
                return Err(Mutf7Error::EncodedAscii { offset: start });
            }
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_example() {
        // RFC 3501 §5.1.3: "~peter/mail/日本語/台北"
        let name = "~peter/mail/\u{65e5}\u{672c}\u{8a9e}/\u{53f0}\u{5317}";
        let enc = "~peter/mail/&ZeVnLIqe-/&U,BTFw-";
        assert_eq!(encode(name), enc);
        assert_eq!(decode(enc.as_bytes()).unwrap(), name);
    }

    #[test]
    fn ampersand_and_plain() {
        assert_eq!(encode("A&B"), "A&-B");
        assert_eq!(decode(b"A&-B").unwrap(), "A&B");
        assert_eq!(encode("INBOX"), "INBOX");
        assert_eq!(encode(""), "");
    }

    #[test]
    fn round_trips() {
        for s in [
            "Entw\u{fc}rfe",
            "\u{e9}t\u{e9}",
            "Gel\u{f6}schte Elemente",
            "\u{1f600} emoji",
            "a&\u{e9}&b",
            "\u{4e2d}\u{6587}",
            "\u{10ffff}",
        ] {
            let e = encode(s);
            assert!(e.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            assert_eq!(decode(e.as_bytes()).unwrap(), s, "{e}");
        }
    }

    #[test]
    fn strict_decode_errors() {
        assert!(matches!(
            decode(b"&AGE"),
            Err(Mutf7Error::Unterminated { .. })
        ));
        assert!(matches!(
            decode(b"&A/E-"),
            Err(Mutf7Error::BadBase64 { .. })
        ));
        assert!(matches!(
            decode(b"caf\xc3\xa9"),
            Err(Mutf7Error::NotPrintable { .. })
        ));
        // "&AGE-" is 'a' (0x61) in base64: printable ASCII must not be encoded.
        assert!(matches!(
            decode(b"&AGE-"),
            Err(Mutf7Error::EncodedAscii { .. })
        ));
        // Lone high surrogate D800.
        assert!(matches!(decode(b"&2AA-"), Err(Mutf7Error::BadUtf16 { .. })));
        // Non-zero padding bits: "&AOl-" would be e9 with bits left set.
        assert!(matches!(
            decode(b"&AOl-"),
            Err(Mutf7Error::BadPadding { .. })
        ));
        // Too many bits for the code units: a dangling sextet.
        assert!(matches!(
            decode(b"&AOkA-"),
            Err(Mutf7Error::BadPadding { .. })
        ));
        assert!(decode(b"&AOk-").is_ok());
        assert!(matches!(
            decode(b"tab\there"),
            Err(Mutf7Error::NotPrintable { .. })
        ));
    }
}
