//! Content-Transfer-Encoding removal for BINARY (RFC 3516, RFC 9051 §6.4.5): base64
//! (RFC 2045 §6.8) and quoted-printable (RFC 2045 §6.7).

use super::BinaryError;

/// base64: whitespace and line ends are skipped, decoding stops at `=` padding; any other byte
/// outside the alphabet is an error (RFC 2045 §6.8 says to ignore them, but RFC 3516 §4.2 lets a
/// server refuse data it cannot decode, and silently dropping bytes would hand the client a
/// corrupt attachment without warning).
pub(crate) fn base64(input: &[u8]) -> Result<Vec<u8>, BinaryError> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
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

/// quoted-printable, robustly (RFC 2045 §6.7 note 1): `=XX` (either case) is a byte, `=` before
/// the line end is a soft break, trailing whitespace on a line is dropped (rule 3), and a `=` not
/// followed by two hex digits is kept as it is.
pub(crate) fn quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
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

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

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
