//! Framing: cutting one whole command out of the client's byte stream.
//!
//! Owns: reading lines (CRLF, or a bare LF), recognising a literal marker at the end of a line
//! (`{n}` synchronising, `{n+}` non-synchronising per RFC 7888, `~{n}` literal8 per RFC 3516),
//! sending the continuation request for synchronising literals, reading the literal's octets,
//! and enforcing [`FrameLimits`] before anything is allocated. Also reads single continuation
//! lines (AUTHENTICATE responses, IDLE's `DONE`).
//!
//! Does not own: the grammar (the parser re-reads the markers it leaves inline), timeouts (the
//! socket has them; a timeout surfaces here as [`FrameError::Timeout`]), or the answer to an
//! error: [`FrameError::recovery`] says what the caller should do.
//!
//! Output shape: the command's lines joined by `\r\n` (a bare LF from the client becomes CRLF),
//! literal markers left as sent, each literal's octets right after its marker's CRLF, and a final
//! `\r\n`. [`super::parser::parse_command`] takes exactly that.

use std::io::{self, BufRead, Write};

use super::limits::{FrameLimits, MAX_DISCARD};
use super::types::Tag;

/// The continuation request sent before a synchronising literal (RFC 3501 §7.5).
pub const LITERAL_CONTINUATION: &[u8] = b"+ Ready for literal data\r\n";

/// Whether the client waits for our `+` before sending a literal (RFC 7888 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Synchronization {
    /// `{n}`: the client waits for the continuation request.
    Synchronizing,
    /// `{n+}`: the octets follow at once.
    NonSynchronizing,
}

/// What the caller should do after a [`FrameError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recovery {
    /// Answer `tag NO [TOOBIG] ...` (`* NO [TOOBIG]` without a tag) and read the next command:
    /// the client sent nothing more for this one (RFC 7888 §4).
    RejectTooBig,
    /// Answer `tag BAD ...` (`* BAD` without a tag) and read the next command.
    RejectBad,
    /// Say `* BYE ...` and close: the stream cannot be resynchronised.
    Bye,
    /// Close without a word: the client is gone or the transport failed.
    Close,
}

/// Why no command could be read. Carries the tag when the first line had one, so the session
/// can answer tagged.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// End of stream before the first octet of a command: the client hung up cleanly.
    #[error("connection closed by the client")]
    Closed,
    /// End of stream in the middle of a command.
    #[error("connection closed in the middle of a command")]
    UnexpectedEof {
        /// The command's tag, if read.
        tag: Option<Tag>,
    },
    /// The socket's read timeout expired (`WouldBlock` or `TimedOut`); any partial command is
    /// dropped, so the caller should treat this as the end of the session (autologout).
    #[error("timed out waiting for the client")]
    Timeout {
        /// The command's tag, if read.
        tag: Option<Tag>,
    },
    /// Any other I/O error, reading or writing the continuation request.
    #[error("I/O error: {0}")]
    Io(#[source] io::Error),
    /// A literal larger than [`FrameLimits::max_literal`] or than what is left of
    /// [`FrameLimits::max_command`]. For a synchronising literal no `+` was sent.
    #[error("literal too big: {} octets, at most {limit} allowed", size.map_or_else(|| "over 2^64".to_owned(), |s| s.to_string()))]
    LiteralTooBig {
        /// The command's tag, if read.
        tag: Option<Tag>,
        /// The announced size (`None` when it does not even fit in 64 bits).
        size: Option<u64>,
        /// The largest size that would have been accepted here.
        limit: u64,
        /// Whether the client is waiting (`{n}`) or already sending (`{n+}`).
        sync: Synchronization,
    },
    /// A line longer than [`FrameLimits::max_line`] (or than what is left of
    /// [`FrameLimits::max_command`]).
    #[error("command line too long (at most {limit} octets)")]
    LineTooLong {
        /// The command's tag, if read.
        tag: Option<Tag>,
        /// The limit that was hit.
        limit: usize,
        /// Whether the rest of the line was skipped (`RejectBad`) or could not be (`Bye`).
        recovery: Recovery,
    },
}

impl FrameError {
    /// The tag of the command that failed, if one was read.
    pub fn tag(&self) -> Option<&Tag> {
        match self {
            FrameError::Closed | FrameError::Io(_) => None,
            FrameError::UnexpectedEof { tag }
            | FrameError::Timeout { tag }
            | FrameError::LiteralTooBig { tag, .. }
            | FrameError::LineTooLong { tag, .. } => tag.as_ref(),
        }
    }

    /// What the caller should do now.
    pub fn recovery(&self) -> Recovery {
        match self {
            FrameError::Closed | FrameError::UnexpectedEof { .. } | FrameError::Io(_) => {
                Recovery::Close
            }
            FrameError::Timeout { .. } => Recovery::Bye,
            FrameError::LiteralTooBig {
                sync: Synchronization::Synchronizing,
                ..
            } => Recovery::RejectTooBig,
            FrameError::LiteralTooBig {
                sync: Synchronization::NonSynchronizing,
                ..
            } => Recovery::Bye,
            FrameError::LineTooLong { recovery, .. } => *recovery,
        }
    }
}

/// Reads one whole command: its lines and literals, within `limits`.
///
/// `io` is the connection, read through a buffer and written to directly: for each
/// synchronising literal [`LITERAL_CONTINUATION`] is written and flushed before the octets are
/// read; for `{n+}` nothing is written.
pub fn read_command<S: BufRead + Write>(
    io: &mut S,
    limits: &FrameLimits,
) -> Result<Vec<u8>, FrameError> {
    let mut out: Vec<u8> = Vec::new();
    let mut tag: Option<Tag> = None;
    let mut first_line = true;
    loop {
        let line_start = out.len();
        let room = limits.max_command.saturating_sub(out.len() + 2);
        let cap = limits.max_line.min(room);
        let read = read_line_into(io, &mut out, cap);
        if first_line {
            tag = leading_tag(&out);
        }
        match read {
            Ok(LineRead::Line) => {}
            Ok(LineRead::Eof) if first_line && out.is_empty() => return Err(FrameError::Closed),
            Ok(LineRead::Eof) => return Err(FrameError::UnexpectedEof { tag }),
            Ok(LineRead::TooLong(recovery)) => {
                return Err(FrameError::LineTooLong {
                    tag,
                    limit: cap,
                    recovery,
                })
            }
            Err(e) => return Err(io_error(e, tag)),
        }
        first_line = false;
        let Some(marker) = literal_marker(&out[line_start..]) else {
            out.extend_from_slice(b"\r\n");
            return Ok(out);
        };
        // Check the literal against both caps before reading (or acknowledging) it.
        let left = limits.max_command.saturating_sub(out.len() + 2 + 2) as u64;
        let per_literal = match marker.sync {
            Synchronization::Synchronizing => limits.max_literal,
            Synchronization::NonSynchronizing => {
                limits.max_literal.min(limits.max_non_sync_literal)
            }
        };
        let limit = per_literal.min(left);
        let len = match marker.length {
            Some(n) if n <= limit => n,
            size => {
                return Err(FrameError::LiteralTooBig {
                    tag,
                    size,
                    limit,
                    sync: marker.sync,
                })
            }
        };
        if marker.sync == Synchronization::Synchronizing {
            io.write_all(LITERAL_CONTINUATION)
                .and_then(|()| io.flush())
                .map_err(|e| io_error(e, tag.clone()))?;
        }
        out.extend_from_slice(b"\r\n");
        // len <= limit <= max_command, a usize.
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        match read_exact_into(io, &mut out, len) {
            Ok(true) => {}
            Ok(false) => return Err(FrameError::UnexpectedEof { tag }),
            Err(e) => return Err(io_error(e, tag)),
        }
    }
}

/// A reader and a writer joined into one `BufRead + Write` (for tests, and for callers whose
/// two directions are separate objects).
pub struct Joined<'a, R, W> {
    /// Where input comes from.
    pub reader: &'a mut R,
    /// Where continuation requests go.
    pub writer: &'a mut W,
}

impl<R: BufRead, W> io::Read for Joined<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl<R: BufRead, W> BufRead for Joined<'_, R, W> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.reader.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.reader.consume(amt)
    }
}

impl<R, W: Write> Write for Joined<'_, R, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// Reads one continuation line (an AUTHENTICATE response, IDLE's `DONE`) of at most `max`
/// octets, without its line ending.
pub fn read_line<R: BufRead>(reader: &mut R, max: usize) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::new();
    match read_line_into(reader, &mut out, max) {
        Ok(LineRead::Line) => Ok(out),
        Ok(LineRead::Eof) if out.is_empty() => Err(FrameError::Closed),
        Ok(LineRead::Eof) => Err(FrameError::UnexpectedEof { tag: None }),
        Ok(LineRead::TooLong(recovery)) => Err(FrameError::LineTooLong {
            tag: None,
            limit: max,
            recovery,
        }),
        Err(e) => Err(io_error(e, None)),
    }
}

fn io_error(e: io::Error, tag: Option<Tag>) -> FrameError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => FrameError::Timeout { tag },
        io::ErrorKind::UnexpectedEof => FrameError::UnexpectedEof { tag },
        _ => FrameError::Io(e),
    }
}

/// How a line read ended.
enum LineRead {
    /// A line ending was found (and consumed, not stored).
    Line,
    /// End of stream before a line ending.
    Eof,
    /// The line was over the cap; what follows says whether its rest could be skipped.
    TooLong(Recovery),
}

/// The reader's buffered octets, read in if none are (empty only at end of stream); a read
/// interrupted by a signal is retried.
fn fill<R: BufRead>(reader: &mut R) -> io::Result<&[u8]> {
    loop {
        match reader.fill_buf() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
            Ok([]) => return Ok(&[]),
            // Buffered now, so asking again does no I/O (returning the first borrow from inside
            // the loop does not borrow-check).
            Ok(_) => return reader.fill_buf(),
        }
    }
}

/// `buf` up to its first LF (not included), and whether there was one.
fn up_to_lf(buf: &[u8]) -> (&[u8], bool) {
    match buf.iter().position(|&b| b == b'\n') {
        Some(i) => (&buf[..i], true),
        None => (buf, false),
    }
}

/// Appends one line to `out` (without its CRLF / LF), storing at most `cap` octets of it.
fn read_line_into<R: BufRead>(
    reader: &mut R,
    out: &mut Vec<u8>,
    cap: usize,
) -> io::Result<LineRead> {
    let start = out.len();
    loop {
        let buf = fill(reader)?;
        if buf.is_empty() {
            return Ok(LineRead::Eof);
        }
        let (chunk, found) = up_to_lf(buf);
        let stored = out.len() - start;
        // A CR just before the LF does not count against the cap (it is dropped below).
        let counted = if found && chunk.last() == Some(&b'\r') {
            chunk.len() - 1
        } else {
            chunk.len()
        };
        if stored + counted > cap {
            // Store what fits, so the caller still sees the tag, then skip the rest while
            // keeping its tail to see whether it announced a literal.
            let fit = cap.saturating_sub(stored).min(chunk.len());
            out.extend_from_slice(&chunk[..fit]);
            reader.consume(fit);
            let mut tail: Vec<u8> = out[out.len().saturating_sub(TAIL)..].to_vec();
            return discard_rest_of_line(reader, &mut tail).map(LineRead::TooLong);
        }
        out.extend_from_slice(chunk);
        let used = chunk.len() + usize::from(found);
        reader.consume(used);
        if found {
            if out.len() > start && out.last() == Some(&b'\r') {
                out.pop();
            }
            return Ok(LineRead::Line);
        }
    }
}

/// How many trailing octets of a discarded line are kept to look for a literal marker.
const TAIL: usize = 32;

/// Skips the rest of an over-long line, reading at most [`MAX_DISCARD`] octets.
/// `tail` starts with the last octets already stored and keeps the last [`TAIL`] ones.
fn discard_rest_of_line<R: BufRead>(reader: &mut R, tail: &mut Vec<u8>) -> io::Result<Recovery> {
    let mut discarded = 0usize;
    loop {
        let buf = fill(reader)?;
        if buf.is_empty() {
            return Ok(Recovery::Close);
        }
        let (chunk, found) = up_to_lf(buf);
        let keep_from = chunk.len().saturating_sub(TAIL);
        tail.extend_from_slice(&chunk[keep_from..]);
        if tail.len() > TAIL {
            tail.drain(..tail.len() - TAIL);
        }
        let used = chunk.len() + usize::from(found);
        discarded += used;
        reader.consume(used);
        if found {
            if tail.last() == Some(&b'\r') {
                tail.pop();
            }
            // A non-synchronising literal's octets are on their way and would be read as
            // commands: no way back. A synchronising one waits for a `+` that never comes.
            return Ok(match literal_marker(tail) {
                Some(LiteralMarker {
                    sync: Synchronization::NonSynchronizing,
                    ..
                }) => Recovery::Bye,
                _ => Recovery::RejectBad,
            });
        }
        if discarded > MAX_DISCARD {
            return Ok(Recovery::Bye);
        }
    }
}

/// Reads exactly `len` octets into `out`, growing it only as octets arrive. `Ok(false)` on EOF.
fn read_exact_into<R: BufRead>(
    reader: &mut R,
    out: &mut Vec<u8>,
    mut len: usize,
) -> io::Result<bool> {
    while len > 0 {
        let buf = fill(reader)?;
        if buf.is_empty() {
            return Ok(false);
        }
        let n = buf.len().min(len);
        out.extend_from_slice(&buf[..n]);
        reader.consume(n);
        len -= n;
    }
    Ok(true)
}

/// A literal announced at the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LiteralMarker {
    /// The length, or `None` if it overflows 64 bits.
    length: Option<u64>,
    sync: Synchronization,
}

/// Recognises `{n}`, `{n+}`, `~{n}`, `~{n+}` at the end of `line` (RFC 3501 §9 `literal`,
/// RFC 7888 §8 `literal`, RFC 3516 §4.1 `literal8`). Leading zeros are allowed (`number =
/// 1*DIGIT`).
fn literal_marker(line: &[u8]) -> Option<LiteralMarker> {
    let body = line.strip_suffix(b"}")?;
    let (body, sync) = match body.strip_suffix(b"+") {
        Some(b) => (b, Synchronization::NonSynchronizing),
        None => (body, Synchronization::Synchronizing),
    };
    let digits = body.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || body.len() == digits || body[body.len() - digits - 1] != b'{' {
        return None;
    }
    let mut length = Some(0u64);
    for &d in &body[body.len() - digits..] {
        length = length
            .and_then(|v| v.checked_mul(10))
            .and_then(|v| v.checked_add(u64::from(d - b'0')));
    }
    Some(LiteralMarker { length, sync })
}

/// The tag at the start of the first line, if it is a valid one.
fn leading_tag(line: &[u8]) -> Option<Tag> {
    let end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    Tag::new(&line[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor, Read};

    fn small() -> FrameLimits {
        FrameLimits {
            max_line: 64,
            max_literal: 16,
            max_non_sync_literal: 16,
            max_command: 128,
        }
    }

    fn read(input: &[u8], limits: &FrameLimits) -> (Result<Vec<u8>, FrameError>, Vec<u8>) {
        let mut r = Cursor::new(input.to_vec());
        let mut w = Vec::new();
        let res = read_command(
            &mut Joined {
                reader: &mut r,
                writer: &mut w,
            },
            limits,
        );
        (res, w)
    }

    #[test]
    fn simple_line_crlf_and_bare_lf() {
        let (r, w) = read(b"a1 NOOP\r\n", &small());
        assert_eq!(r.unwrap(), b"a1 NOOP\r\n");
        assert!(w.is_empty());
        let (r, _) = read(b"a1 NOOP\n", &small());
        assert_eq!(r.unwrap(), b"a1 NOOP\r\n");
    }

    #[test]
    fn sync_literal_sends_continuation() {
        let (r, w) = read(b"a LOGIN {3}\r\nbob {4}\r\npass\r\n", &small());
        assert_eq!(r.unwrap(), b"a LOGIN {3}\r\nbob {4}\r\npass\r\n");
        assert_eq!(w, [LITERAL_CONTINUATION, LITERAL_CONTINUATION].concat());
    }

    #[test]
    fn non_sync_literal_sends_nothing() {
        let (r, w) = read(b"a LOGIN {3+}\r\nbob pw\r\n", &small());
        assert_eq!(r.unwrap(), b"a LOGIN {3+}\r\nbob pw\r\n");
        assert!(w.is_empty());
    }

    #[test]
    fn binary_literal_with_crlf_and_nul_inside() {
        let (r, w) = read(b"a APPEND x ~{5}\r\n\r\n\0\r\n\r\n", &small());
        assert_eq!(r.unwrap(), b"a APPEND x ~{5}\r\n\r\n\0\r\n\r\n");
        assert_eq!(w, LITERAL_CONTINUATION);
    }

    #[test]
    fn oversized_sync_literal_sends_no_continuation() {
        let (r, w) = read(b"a1 LOGIN {17}\r\n", &small());
        let e = r.unwrap_err();
        assert!(w.is_empty(), "no '+' for a refused literal");
        assert_eq!(e.tag().map(Tag::as_str), Some("a1"));
        assert_eq!(e.recovery(), Recovery::RejectTooBig);
        assert!(matches!(
            e,
            FrameError::LiteralTooBig { size: Some(17), .. }
        ));
    }

    #[test]
    fn oversized_non_sync_literal_means_bye() {
        let (r, w) = read(b"a1 APPEND x {999+}\r\n", &small());
        assert!(w.is_empty());
        assert_eq!(r.unwrap_err().recovery(), Recovery::Bye);
    }

    #[test]
    fn literal_length_overflow_and_leading_zeros() {
        let (r, w) = read(b"a LOGIN {4294967296}\r\n", &FrameLimits::AUTHENTICATED);
        assert!(matches!(
            r,
            Err(FrameError::LiteralTooBig {
                size: Some(4294967296),
                ..
            })
        ));
        assert!(w.is_empty());
        let (r, _) = read(b"a LOGIN {99999999999999999999999}\r\n", &small());
        assert!(matches!(
            r,
            Err(FrameError::LiteralTooBig { size: None, .. })
        ));
        let (r, _) = read(b"a LOGIN {0003}\r\nbob x\r\n", &small());
        assert_eq!(r.unwrap(), b"a LOGIN {0003}\r\nbob x\r\n");
    }

    #[test]
    fn literal_counts_against_command_cap() {
        let limits = FrameLimits {
            max_line: 64,
            max_literal: 1000,
            max_non_sync_literal: 1000,
            max_command: 40,
        };
        let (r, _) = read(b"a LOGIN {10}\r\n0123456789 {20}\r\n", &limits);
        assert!(matches!(r, Err(FrameError::LiteralTooBig { .. })));
    }

    #[test]
    fn long_line_is_discarded_and_next_command_readable() {
        let mut input = b"t1 SEARCH ".to_vec();
        input.extend(std::iter::repeat_n(b'A', 500));
        input.extend_from_slice(b"\r\nt2 NOOP\r\n");
        let mut r = BufReader::with_capacity(16, Cursor::new(input));
        let mut w = Vec::new();
        let e = read_command(
            &mut Joined {
                reader: &mut r,
                writer: &mut w,
            },
            &small(),
        )
        .unwrap_err();
        assert_eq!(e.tag().map(Tag::as_str), Some("t1"));
        assert_eq!(e.recovery(), Recovery::RejectBad);
        assert_eq!(
            read_command(
                &mut Joined {
                    reader: &mut r,
                    writer: &mut w
                },
                &small()
            )
            .unwrap(),
            b"t2 NOOP\r\n"
        );
    }

    #[test]
    fn long_line_in_one_chunk_still_reports_the_tag() {
        let mut input = b"t9 SEARCH ".to_vec();
        input.extend(std::iter::repeat_n(b'A', 500));
        input.extend_from_slice(b"\r\nt2 NOOP\r\n");
        let mut r = Cursor::new(input);
        let e = read_command(
            &mut Joined {
                reader: &mut r,
                writer: &mut Vec::new(),
            },
            &small(),
        )
        .unwrap_err();
        assert_eq!(e.tag().map(Tag::as_str), Some("t9"));
        assert_eq!(e.recovery(), Recovery::RejectBad);
        assert_eq!(
            read_command(
                &mut Joined {
                    reader: &mut r,
                    writer: &mut Vec::new()
                },
                &small()
            )
            .unwrap(),
            b"t2 NOOP\r\n"
        );
    }

    #[test]
    fn literal_minus_caps_non_sync_literals_only() {
        let l = FrameLimits::AUTHENTICATED.with_literal_minus();
        let mut big = b"a LOGIN {5000+}\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'x', 5000));
        big.extend_from_slice(b" y\r\n");
        let (r, _) = read(&big, &l);
        let e = r.unwrap_err();
        assert!(matches!(e, FrameError::LiteralTooBig { limit: 4096, .. }));
        assert_eq!(e.recovery(), Recovery::Bye);
        let mut sync = b"a LOGIN {5000}\r\n".to_vec();
        sync.extend(std::iter::repeat_n(b'x', 5000));
        sync.extend_from_slice(b" y\r\n");
        let (r, w) = read(&sync, &l);
        assert_eq!(r.unwrap().len(), sync.len());
        assert_eq!(w, LITERAL_CONTINUATION);
    }

    #[test]
    fn long_line_ending_in_non_sync_literal_cannot_resync() {
        let mut input = b"t1 APPEND ".to_vec();
        input.extend(std::iter::repeat_n(b'A', 200));
        input.extend_from_slice(b" {5+}\r\nhello\r\n");
        let (r, _) = read(&input, &small());
        assert_eq!(r.unwrap_err().recovery(), Recovery::Bye);
    }

    #[test]
    fn endless_line_gives_up() {
        let input = std::io::repeat(b'x').take((MAX_DISCARD * 2) as u64);
        let mut r = BufReader::new(input);
        let e = read_command(
            &mut Joined {
                reader: &mut r,
                writer: &mut Vec::new(),
            },
            &small(),
        )
        .unwrap_err();
        assert_eq!(e.recovery(), Recovery::Bye);
    }

    #[test]
    fn pipelined_commands_one_at_a_time() {
        let mut r = Cursor::new(b"a NOOP\r\nb LOGIN {1+}\r\nx y\r\nc LOGOUT\r\n".to_vec());
        let mut w = Vec::new();
        let l = FrameLimits::NOT_AUTHENTICATED;
        assert_eq!(
            read_command(
                &mut Joined {
                    reader: &mut r,
                    writer: &mut w
                },
                &l
            )
            .unwrap(),
            b"a NOOP\r\n"
        );
        assert_eq!(
            read_command(
                &mut Joined {
                    reader: &mut r,
                    writer: &mut w
                },
                &l
            )
            .unwrap(),
            b"b LOGIN {1+}\r\nx y\r\n"
        );
        assert_eq!(
            read_command(
                &mut Joined {
                    reader: &mut r,
                    writer: &mut w
                },
                &l
            )
            .unwrap(),
            b"c LOGOUT\r\n"
        );
        assert!(matches!(
            read_command(
                &mut Joined {
                    reader: &mut r,
                    writer: &mut w
                },
                &l
            ),
            Err(FrameError::Closed)
        ));
    }

    #[test]
    fn eof_cases() {
        assert!(matches!(read(b"", &small()).0, Err(FrameError::Closed)));
        let e = read(b"a1 NOOP", &small()).0.unwrap_err();
        assert!(matches!(e, FrameError::UnexpectedEof { .. }));
        assert_eq!(e.tag().map(Tag::as_str), Some("a1"));
        assert!(matches!(
            read(b"a1 LOGIN {5}\r\nab", &small()).0,
            Err(FrameError::UnexpectedEof { .. })
        ));
    }

    struct Failing(io::ErrorKind);
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
    }

    #[test]
    fn timeouts_and_io_errors_are_distinct() {
        for kind in [io::ErrorKind::WouldBlock, io::ErrorKind::TimedOut] {
            let mut r = BufReader::new(Failing(kind));
            let e = read_command(
                &mut Joined {
                    reader: &mut r,
                    writer: &mut Vec::new(),
                },
                &small(),
            )
            .unwrap_err();
            assert!(matches!(e, FrameError::Timeout { .. }));
        }
        let mut r = BufReader::new(Failing(io::ErrorKind::ConnectionReset));
        let e = read_command(
            &mut Joined {
                reader: &mut r,
                writer: &mut Vec::new(),
            },
            &small(),
        )
        .unwrap_err();
        assert!(matches!(e, FrameError::Io(_)));
        assert_eq!(e.recovery(), Recovery::Close);
    }

    #[test]
    fn read_line_for_done_and_sasl() {
        let mut r = Cursor::new(b"DONE\r\nAGJvYgBwdw==\nrest".to_vec());
        assert_eq!(read_line(&mut r, 100).unwrap(), b"DONE");
        assert_eq!(read_line(&mut r, 100).unwrap(), b"AGJvYgBwdw==");
        assert!(matches!(
            read_line(&mut r, 100),
            Err(FrameError::UnexpectedEof { .. })
        ));
        let mut r = Cursor::new(b"0123456789\r\nDONE\r\n".to_vec());
        assert!(matches!(
            read_line(&mut r, 5),
            Err(FrameError::LineTooLong { .. })
        ));
        assert_eq!(read_line(&mut r, 5).unwrap(), b"DONE");
    }

    #[test]
    fn empty_line_is_a_command_for_the_parser() {
        assert_eq!(read(b"\r\n", &small()).0.unwrap(), b"\r\n");
    }

    #[test]
    fn noise_never_panics_and_respects_the_command_cap() {
        let alphabet: &[u8] = b"a1 {}+~0123456789\r\nx";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let limits = small();
        for _ in 0..5_000 {
            let mut input = Vec::new();
            for _ in 0..(state % 300) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                input.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let mut r = BufReader::with_capacity(7, Cursor::new(input));
            let mut w = Vec::new();
            for _ in 0..100 {
                match read_command(
                    &mut Joined {
                        reader: &mut r,
                        writer: &mut w,
                    },
                    &limits,
                ) {
                    Ok(cmd) => assert!(cmd.len() <= limits.max_command),
                    Err(e) if e.recovery() == Recovery::Close => break,
                    Err(e) if e.recovery() == Recovery::Bye => break,
                    Err(_) => {}
                }
            }
        }
    }

    #[test]
    fn marker_recognition() {
        assert_eq!(
            literal_marker(b"x {12}"),
            Some(LiteralMarker {
                length: Some(12),
                sync: Synchronization::Synchronizing
            })
        );
        assert!(literal_marker(b"x ~{0+}").is_some());
        assert!(literal_marker(b"x {}").is_none());
        assert!(literal_marker(b"x {1a}").is_none());
        assert!(literal_marker(b"x 12}").is_none());
        assert!(literal_marker(b"}").is_none());
    }
}
