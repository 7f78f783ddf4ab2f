//! Content-Transfer-Encoding removal for BINARY (RFC 3516, RFC 9051 §6.4.5): base64
//! (RFC 2045 §6.8) and quoted-printable (RFC 2045 §6.7).

use super::BinaryError;

/// base64: whitespace and line ends are skipped, decoding stops at `=` padding; any other byte
/// outside the alphabet is an error (RFC 2045 §6.8 says to ignore them, but RFC 3516 §4.2 lets a
/// server refuse data it cannot decode, and silently dropping bytes would hand the client a
/// corrupt attachment without warning).
pub(crate) fn base64(input: &[u8]) -> Result<Vec<u8>, BinaryError> {
    base64_with(input, Junk::Reject)
}

/// base64 for search (RFC 2045 §6.8): every byte outside the alphabet is ignored, as §6.8 says,
/// decoding stops at `=` padding, and a dangling final character is dropped. Never fails.
pub(crate) fn base64_lenient(input: &[u8]) -> Vec<u8> {
    // Skip mode has no error to return.
    base64_with(input, Junk::Skip).unwrap_or_default()
}

/// What base64 decoding does with a byte outside the alphabet that is not whitespace.
#[derive(Clone, Copy)]
enum Junk {
    /// An error at its offset (BINARY).
    Reject,
    /// Ignored, as is a single dangling final character (search).
    Skip,
}

/// [`BASE64_VALUES`] of `=`.
const B64_PAD: u8 = 0x40;
/// [`BASE64_VALUES`] of space, tab, CR and LF.
const B64_SPACE: u8 = 0x41;
/// [`BASE64_VALUES`] of every other byte outside the alphabet.
const B64_JUNK: u8 = 0xff;

/// Each byte's base64 value (RFC 2045 Table 1), or one of the markers above (all >= 64).
static BASE64_VALUES: [u8; 256] = {
    let mut t = [B64_JUNK; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t[b'=' as usize] = B64_PAD;
    t[b' ' as usize] = B64_SPACE;
    t[b'\t' as usize] = B64_SPACE;
    t[b'\r' as usize] = B64_SPACE;
    t[b'\n' as usize] = B64_SPACE;
    t
};

/// The base64 decoder behind [`base64`] and [`base64_lenient`]. Between groups, four alphabet
/// bytes in a row (nearly all of a body's lines) decode at once; anything else goes byte by
/// byte until a group is complete again.
fn base64_with(input: &[u8], junk: Junk) -> Result<Vec<u8>, BinaryError> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut acc = 0u32;
    let mut n = 0u32;
    let mut i = 0;
    while i < input.len() {
        if n == 0 {
            while let Some(&[a, b, c, d]) = input.get(i..i + 4) {
                let v = [a, b, c, d].map(|x| BASE64_VALUES[usize::from(x)]);
                // Every marker is >= 64, and alphabet values OR to < 64.
                if v[0] | v[1] | v[2] | v[3] >= 64 {
                    break;
                }
                let group = v.iter().fold(0u32, |g, &x| (g << 6) | u32::from(x));
                out.extend_from_slice(&[(group >> 16) as u8, (group >> 8) as u8, group as u8]);
                i += 4;
            }
            if i == input.len() {
                break;
            }
        }
        match BASE64_VALUES[usize::from(input[i])] {
            B64_PAD => break,
            B64_SPACE => {}
            B64_JUNK => match junk {
                Junk::Reject => return Err(BinaryError::InvalidBase64 { offset: i }),
                Junk::Skip => {}
            },
            v => {
                acc = (acc << 6) | u32::from(v);
                n += 1;
                if n == 4 {
                    out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
                    acc = 0;
                    n = 0;
                }
            }
        }
        i += 1;
    }
    match (n, junk) {
        (0, _) | (1, Junk::Skip) => {}
        (2, _) => out.push((acc >> 4) as u8),
        (3, _) => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {
            return Err(BinaryError::InvalidBase64 {
                offset: input.len(),
            })
        }
    }
    Ok(out)
}

/// quoted-printable, robustly (RFC 2045 §6.7 note 1): `=XX` (either case) is a byte, `=` before
/// the line end is a soft break, trailing whitespace on a line is dropped (rule 3), and a `=` not
/// followed by two hex digits is kept as it is. Text between `=` signs is copied whole.
pub(crate) fn quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while !rest.is_empty() {
        let line_len = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        let (line, after) = rest.split_at(line_len);
        rest = after;
        let (body, eol): (&[u8], &[u8]) = match line {
            [head @ .., b'\r', b'\n'] => (head, b"\r\n"),
            [head @ .., b'\n'] => (head, b"\n"),
            _ => (line, b""),
        };
        let mut body = body;
        while let [head @ .., b' ' | b'\t'] = body {
            body = head;
        }
        let mut soft = false;
        // Text in a non-Latin script is `=XX` after `=XX`: the next `=` is checked for first.
        while let Some(eq) = match body.first() {
            Some(b'=') => Some(0),
            _ => memchr::memchr(b'=', body),
        } {
            out.extend_from_slice(&body[..eq]);
            if eq + 1 == body.len() {
                soft = true;
                body = &[];
                break;
            }
            let digit = |at: usize| body.get(at).and_then(|&c| hex(c));
            if let (Some(h), Some(l)) = (digit(eq + 1), digit(eq + 2)) {
                out.push(h << 4 | l);
                body = &body[eq + 3..];
            } else {
                out.push(b'=');
                body = &body[eq + 1..];
            }
        }
        out.extend_from_slice(body);
        if !soft {
            out.extend_from_slice(eol);
        }
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-at-a-time strict base64 [`base64`] replaced.
    fn base64_reference(input: &[u8]) -> Result<Vec<u8>, BinaryError> {
        let mut out = Vec::new();
        let mut acc = 0u32;
        let mut n = 0u32;
        for (offset, &b) in input.iter().enumerate() {
            let v = match b {
                b'A'..=b'Z' => b - b'A',
                b'a'..=b'z' => b - b'a' + 26,
                b'0'..=b'9' => b - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' => break,
                b' ' | b'\t' | b'\r' | b'\n' => continue,
                _ => return Err(BinaryError::InvalidBase64 { offset }),
            };
            acc = (acc << 6) | u32::from(v);
            n += 1;
            if n == 4 {
                out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
                acc = 0;
                n = 0;
            }
        }
        match n {
            0 => {}
            2 => out.push((acc >> 4) as u8),
            3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
            _ => {
                return Err(BinaryError::InvalidBase64 {
                    offset: input.len(),
                })
            }
        }
        Ok(out)
    }

    /// The lenient base64 search used before [`base64_lenient`]: filter, then decode strictly.
    fn base64_lenient_reference(raw: &[u8]) -> Vec<u8> {
        let mut clean: Vec<u8> = raw
            .iter()
            .copied()
            .take_while(|&b| b != b'=')
            .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
            .collect();
        if clean.len() % 4 == 1 {
            clean.pop();
        }
        base64_reference(&clean).unwrap()
    }

    /// The byte-at-a-time quoted-printable [`quoted_printable`] replaced.
    fn quoted_printable_reference(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for line in input.split_inclusive(|&b| b == b'\n') {
            let (body, eol): (&[u8], &[u8]) = match line {
                [head @ .., b'\r', b'\n'] => (head, b"\r\n"),
                [head @ .., b'\n'] => (head, b"\n"),
                _ => (line, b""),
            };
            let mut body = body;
            while let [head @ .., b' ' | b'\t'] = body {
                body = head;
            }
            let mut i = 0;
            let mut soft = false;
            while i < body.len() {
                if body[i] == b'=' {
                    if i + 1 == body.len() {
                        soft = true;
                        break;
                    }
                    if let (Some(h), Some(l)) = (
                        body.get(i + 1).and_then(|&c| hex(c)),
                        body.get(i + 2).and_then(|&c| hex(c)),
                    ) {
                        out.push(h << 4 | l);
                        i += 3;
                        continue;
                    }
                }
                out.push(body[i]);
                i += 1;
            }
            if !soft {
                out.extend_from_slice(eol);
            }
        }
        out
    }

    /// Fast base64 (strict and lenient) equals the references on random input: mostly valid
    /// groups, with line ends, spaces, junk bytes (ASCII and 8-bit) and `=` anywhere.
    #[test]
    fn base64_equals_reference() {
        let pieces: [&[u8]; 12] = [
            b"QUJD",
            b"aGVsbG8g",
            b"+/+/",
            b"x",
            b"Zm9v",
            b"\r\n",
            b"\n",
            b" ",
            b"=",
            b"==",
            b"*",
            b"\xc3\xbc",
        ];
        for seed in 0..4000u64 {
            let mut rng = crate::test_rng::Rng::new(seed);
            let len = rng.below(if seed % 10 == 0 { 400 } else { 16 });
            let mut raw = rng.bytes_of(&pieces[..if seed % 3 == 0 { 12 } else { 7 }], len);
            if seed % 2 == 0 {
                // A well-formed body: every junk-free group, as a MIME encoder writes it.
                raw.retain(|b| b.is_ascii_alphanumeric() || b"+/\r\n".contains(b));
            }
            assert_eq!(base64(&raw), base64_reference(&raw), "seed {seed}: {raw:?}");
            assert_eq!(
                base64_lenient(&raw),
                base64_lenient_reference(&raw),
                "seed {seed}: {raw:?}"
            );
        }
    }

    /// Fast quoted-printable equals the reference on random `=`, hex, soft breaks, trailing
    /// whitespace and CR/LF mixes.
    #[test]
    fn quoted_printable_equals_reference() {
        let pieces: [&[u8]; 14] = [
            b"=", b"=3D", b"=c3=BC", b"=\r\n", b"=\n", b"a", b"text ", b" ", b"\t", b"\r\n", b"\n",
            b"\r", b"F", b"=Z",
        ];
        for seed in 0..4000u64 {
            let mut rng = crate::test_rng::Rng::new(seed);
            let len = rng.below(if seed % 10 == 0 { 400 } else { 12 });
            let raw = rng.bytes_of(&pieces, len);
            assert_eq!(
                quoted_printable(&raw),
                quoted_printable_reference(&raw),
                "seed {seed}: {raw:?}"
            );
        }
    }

    #[test]
    fn base64_basic_and_padding() {
        assert_eq!(base64(b"aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64(b"aGVs\r\nbG8").unwrap(), b"hello");
        assert_eq!(base64(b"aGVsbA==").unwrap(), b"hell");
        assert_eq!(base64(b"").unwrap(), b"");
    }

    #[test]
    fn base64_rejects_garbage() {
        assert!(matches!(
            base64(b"aG*s"),
            Err(BinaryError::InvalidBase64 { offset: 2 })
        ));
        assert!(base64(b"a").is_err());
    }

    #[test]
    fn qp_rules() {
        assert_eq!(
            quoted_printable(b"caf=E9 au lait=\r\n ok"),
            b"caf\xe9 au lait ok"
        );
        assert_eq!(quoted_printable(b"a=3d=3D  \r\nb"), b"a==\r\nb");
        assert_eq!(quoted_printable(b"bad =ZZ and =\r"), b"bad =ZZ and =\r");
    }
}
