//! COMPRESS=DEFLATE (RFC 4978): raw deflate (RFC 1951) in both directions over the connection's
//! stream, after the tagged OK of the COMPRESS command.
//!
//! Owns: the compressor and decompressor state of one connection. Input is inflated into the
//! caller's buffer a read at a time, so what a client can make us hold is bounded by the framing
//! limits on the decompressed stream, like plain input: a deflate bomb meets the line and
//! literal caps (and a BYE), not our memory.

use std::io::{self, Read, Write};
use std::time::Duration;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::imap::Transport;

/// Compressed input read from the network at a time.
const INPUT_CHUNK: usize = 16 * 1024;
/// Level 1: phones want fewer bytes, servers want little CPU; higher levels gain little on mail.
const LEVEL: u32 = 1;

/// A stream whose bytes are deflated on the wire.
pub struct Deflated<S> {
    inner: S,
    inflate: Decompress,
    deflate: Compress,
    /// Compressed input received and not yet inflated: `input[start..]`.
    input: Vec<u8>,
    start: usize,
    /// Compressed output produced and not yet written.
    output: Vec<u8>,
}

impl<S> Deflated<S> {
    /// Wraps `inner`; `pending` is compressed input the client sent right after COMPRESS, already
    /// read into the plain buffer (RFC 4978 §3: compression starts right after the CRLF of OK).
    pub fn new(inner: S, pending: Vec<u8>) -> Deflated<S> {
        Deflated {
            inner,
            inflate: Decompress::new(false),
            deflate: Compress::new(Compression::new(LEVEL), false),
            input: pending,
            start: 0,
            output: Vec::with_capacity(INPUT_CHUNK),
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

fn corrupt(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("deflate: {e}"))
}

impl<S: Read> Read for Deflated<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.start < self.input.len() {
                let before_in = self.inflate.total_in();
                let before_out = self.inflate.total_out();
                let status = self
                    .inflate
                    .decompress(&self.input[self.start..], buf, FlushDecompress::None)
                    .map_err(corrupt)?;
                self.start += (self.inflate.total_in() - before_in) as usize;
                let produced = (self.inflate.total_out() - before_out) as usize;
                if produced > 0 {
                    return Ok(produced);
                }
                if status == Status::StreamEnd {
                    // RFC 4978 has no end of stream: the client closed it; treat as end of input.
                    return Ok(0);
                }
            }
            // Everything inflated: read more compressed input.
            self.input.clear();
            self.start = 0;
            self.input.resize(INPUT_CHUNK, 0);
            let n = match self.inner.read(&mut self.input) {
                Ok(n) => n,
                Err(e) => {
                    self.input.clear();
                    return Err(e);
                }
            };
            self.input.truncate(n);
            if n == 0 {
                return Ok(0);
            }
        }
    }
}

impl<S: Write> Deflated<S> {
    fn compress(&mut self, mut data: &[u8], flush: FlushCompress) -> io::Result<()> {
        loop {
            if self.output.capacity() - self.output.len() < 1024 {
                self.output.reserve(INPUT_CHUNK);
            }
            let before_in = self.deflate.total_in();
            self.deflate
                .compress_vec(data, &mut self.output, flush)
                .map_err(corrupt)?;
            let used = (self.deflate.total_in() - before_in) as usize;
            data = &data[used..];
            // A flush is complete once the compressor stopped short of filling the buffer.
            let filled = self.output.len() == self.output.capacity();
            if self.output.len() >= INPUT_CHUNK {
                self.inner.write_all(&self.output)?;
                self.output.clear();
            }
            if data.is_empty() && (flush == FlushCompress::None || !filled) {
                return Ok(());
            }
        }
    }
}

impl<S: Write> Write for Deflated<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.compress(buf, FlushCompress::None)?;
        Ok(buf.len())
    }

    /// A sync flush: everything written so far reaches the client decodable (RFC 4978 §4).
    fn flush(&mut self) -> io::Result<()> {
        self.compress(&[], FlushCompress::Sync)?;
        self.inner.write_all(&self.output)?;
        self.output.clear();
        self.inner.flush()
    }
}

impl<S: Transport> Transport for Deflated<S> {
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.inner.set_read_timeout(timeout)
    }

    fn set_deadline(&mut self, deadline: Option<std::time::Instant>) -> io::Result<()> {
        self.inner.set_deadline(deadline)
    }

    fn has_buffered_input(&mut self) -> bool {
        self.start < self.input.len() || self.inner.has_buffered_input()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A transport over memory: reads from `input`, writes into `output`.
    struct Pipe {
        input: Cursor<Vec<u8>>,
        output: Vec<u8>,
    }
    impl Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }
    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut c = Compress::new(Compression::new(6), false);
        let mut out = Vec::with_capacity(data.len() + 1024);
        c.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
        out
    }

    fn inflate(data: &[u8]) -> Vec<u8> {
        let mut d = Decompress::new(false);
        let mut out = Vec::new();
        loop {
            out.reserve(64 * 1024);
            let taken = d.total_in() as usize;
            d.decompress_vec(&data[taken..], &mut out, FlushDecompress::Sync)
                .unwrap();
            if d.total_in() as usize == data.len() && out.len() < out.capacity() {
                return out;
            }
        }
    }

    #[test]
    fn both_directions_round_trip_with_pending_input() {
        let client = deflate(b"a NOOP\r\nb LOGOUT\r\n");
        let (pending, rest) = client.split_at(3);
        let mut s = Deflated::new(
            Pipe {
                input: Cursor::new(rest.to_vec()),
                output: Vec::new(),
            },
            pending.to_vec(),
        );
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"a NOOP\r\nb LOGOUT\r\n");

        let big: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        s.write_all(b"* OK hello\r\n").unwrap();
        s.write_all(&big).unwrap();
        s.flush().unwrap();
        let sent = std::mem::take(&mut s.inner.output);
        let mut expected = b"* OK hello\r\n".to_vec();
        expected.extend_from_slice(&big);
        let got = inflate(&sent);
        assert!(
            got == expected,
            "inflated {} bytes, wanted {}",
            got.len(),
            expected.len()
        );
    }

    #[test]
    fn a_deflate_bomb_is_inflated_a_buffer_at_a_time() {
        // 64 MiB of zeros compress to ~64 KiB; each read yields at most the caller's buffer.
        let bomb = deflate(&vec![0u8; 64 << 20]);
        let mut s = Deflated::new(
            Pipe {
                input: Cursor::new(bomb),
                output: Vec::new(),
            },
            Vec::new(),
        );
        let mut buf = [0u8; 8192];
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0 && n <= buf.len());
        assert!(
            s.input.capacity() <= 2 * INPUT_CHUNK,
            "holds only a chunk of compressed input"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut s = Deflated::new(
            Pipe {
                input: Cursor::new(vec![0xff; 64]),
                output: Vec::new(),
            },
            Vec::new(),
        );
        let mut buf = [0u8; 64];
        assert!(s.read(&mut buf).is_err());
    }
}
