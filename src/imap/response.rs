//! Writing responses: a buffered writer that sends large literals straight from the message
//! store, and the tagged completion every command ends with.
//!
//! Owns: output buffering and the shape of `tag OK|NO|BAD [code] text`. The encoding of single
//! values (strings, literals, codes) is [`crate::imap::encode`]'s.

use std::io::{self, Write};

use crate::imap::encode::ResponseCode;

/// Output is gathered up to this size before it is written (one TLS record holds 16 KiB).
const BUFFER: usize = 64 * 1024;
/// Literal bodies at least this large skip the buffer and go straight from the store.
const DIRECT: usize = 16 * 1024;

/// A response writer. The first I/O error sticks: later writes do nothing and
/// [`Out::finish`] reports it, so handlers need not check every write.
pub struct Out<'a> {
    w: &'a mut dyn Write,
    buf: Vec<u8>,
    error: Option<io::Error>,
}

impl<'a> Out<'a> {
    /// A writer over `w`.
    pub fn new(w: &'a mut dyn Write) -> Out<'a> {
        Out {
            w,
            buf: Vec::with_capacity(4096),
            error: None,
        }
    }

    /// Appends bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if bytes.len() >= DIRECT {
            self.drain();
            if self.error.is_none() {
                if let Err(e) = self.w.write_all(bytes) {
                    self.error = Some(e);
                }
            }
            return;
        }
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= BUFFER {
            self.drain();
        }
    }

    /// Appends text.
    pub fn text(&mut self, text: &str) {
        self.push(text.as_bytes());
    }

    /// Appends a literal: `{n}\r\n` and the bytes (RFC 3501 §4.3), or `~{n}\r\n` for a literal8
    /// when the bytes hold NUL (RFC 3516 §4.2).
    pub fn literal(&mut self, bytes: &[u8], kind: LiteralKind) {
        let prefix = match kind {
            LiteralKind::Text => "",
            LiteralKind::Binary if bytes.contains(&0) => "~",
            LiteralKind::Binary => "",
        };
        self.text(&format!("{prefix}{{{}}}\r\n", bytes.len()));
        self.push(bytes);
    }

    fn drain(&mut self) {
        if self.buf.is_empty() || self.error.is_some() {
            return;
        }
        if let Err(e) = self.w.write_all(&self.buf) {
            self.error = Some(e);
        }
        self.buf.clear();
    }

    /// Writes out everything and flushes; reports the first I/O error met.
    pub fn finish(&mut self) -> io::Result<()> {
        self.drain();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.w.flush()
    }
}

/// Whether a literal may carry NUL (and so be sent as literal8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteralKind {
    /// `literal`: BODY[...] and RFC822 data, which is the message as stored.
    Text,
    /// `literal8` when needed: BINARY[...] data.
    Binary,
}

/// The status of a tagged completion (RFC 3501 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
}

/// The tagged line that ends a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub status: Status,
    pub code: Option<ResponseCode>,
    pub text: String,
}

impl Completion {
    /// `OK text`.
    pub fn ok(text: impl Into<String>) -> Completion {
        Completion {
            status: Status::Ok,
            code: None,
            text: text.into(),
        }
    }

    /// `OK [code] text`.
    pub fn ok_with(code: ResponseCode, text: impl Into<String>) -> Completion {
        Completion {
            status: Status::Ok,
            code: Some(code),
            text: text.into(),
        }
    }

    /// `NO [code] text`: every refusal says why with an RFC 5530 code.
    pub fn no(code: ResponseCode, text: impl Into<String>) -> Completion {
        Completion {
            status: Status::No,
            code: Some(code),
            text: text.into(),
        }
    }

    /// `BAD [code] text`.
    pub fn bad(code: ResponseCode, text: impl Into<String>) -> Completion {
        Completion {
            status: Status::Bad,
            code: Some(code),
            text: text.into(),
        }
    }

    /// The line for `tag`, CRLF included.
    pub fn line(&self, tag: &str) -> Vec<u8> {
        let status = match self.status {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
        };
        let mut line = format!("{tag} {status} ");
        if let Some(code) = &self.code {
            line.push('[');
            line.push_str(&code.to_string());
            line.push_str("] ");
        }
        line.push_str(&self.text);
        line.push_str("\r\n");
        line.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_literals_bypass_the_buffer_in_order() {
        let mut sink = Vec::new();
        {
            let mut out = Out::new(&mut sink);
            out.text("* 1 FETCH (BODY[] ");
            out.literal(&vec![b'x'; DIRECT + 1], LiteralKind::Text);
            out.text(")\r\n");
            out.finish().unwrap();
        }
        let head = format!("* 1 FETCH (BODY[] {{{}}}\r\n", DIRECT + 1);
        assert!(sink.starts_with(head.as_bytes()));
        assert!(sink.ends_with(b"x)\r\n"));
        assert_eq!(sink.len(), head.len() + DIRECT + 1 + 3);
    }

    #[test]
    fn binary_literal_only_when_nul_present() {
        let mut sink = Vec::new();
        {
            let mut out = Out::new(&mut sink);
            out.literal(b"a\0b", LiteralKind::Binary);
            out.literal(b"ab", LiteralKind::Binary);
            out.literal(b"a\0b", LiteralKind::Text);
            out.finish().unwrap();
        }
        assert_eq!(sink, b"~{3}\r\na\0b{2}\r\nab{3}\r\na\0b");
    }

    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "gone"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn first_error_sticks() {
        let mut w = Broken;
        let mut out = Out::new(&mut w);
        out.push(&vec![0; BUFFER + 1]);
        out.text("more");
        assert_eq!(out.finish().unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }
}
