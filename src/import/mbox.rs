//! Streaming mbox reader (mboxo and mboxrd; RFC 4155 describes the family).
//!
//! A message starts at a line beginning `From ` that is at the start of the file or follows a
//! blank line; that separator line is not part of the message, and the one blank line before it
//! (which the mbox writer added) is dropped too. Lines of the form `>From `, `>>From `, … lose one
//! `>` (the mboxrd rule). For an mboxo file this is ambiguous: mboxo escaped `From ` to `>From `
//! but left `>From ` as it was, so an original `>From ` line comes back as `From `. The two
//! variants cannot be told apart from the file, and the mboxrd reading is right for every line
//! mboxo did escape, so it is used for both.
//!
//! One message at a time is held in memory; the file is read through a `BufReader`.

use std::io::{self, BufRead};

/// One message of an mbox.
pub struct MboxMessage {
    /// Byte offset of its `From ` line in the file (for error reports).
    pub offset: u64,
    /// The `From ` line, without its line end.
    pub from_line: Vec<u8>,
    /// The message, unescaped, with its line ends as in the file.
    pub bytes: Vec<u8>,
}

/// Iterates over the messages of an mbox.
pub struct MboxReader<R> {
    input: R,
    /// Bytes read so far.
    pos: u64,
    /// The separator line that starts the next message, once read.
    next_from: Option<(u64, Vec<u8>)>,
    at_start: bool,
    line: Vec<u8>,
    /// The size of the last message read.
    last_len: usize,
}

impl<R: BufRead> MboxReader<R> {
    /// A reader over `input`, which should start with a `From ` line.
    pub fn new(input: R) -> Self {
        MboxReader {
            input,
            pos: 0,
            next_from: None,
            at_start: true,
            line: Vec::new(),
            last_len: 0,
        }
    }

    /// Byte offset reached in the input.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The next message, or `None` at the end of the file.
    pub fn next_message(&mut self) -> io::Result<Option<MboxMessage>> {
        if self.at_start {
            self.at_start = false;
            // Text before the first separator is not a message (the caller checked that the file
            // starts with `From `; if it does not, that text becomes the first message's body).
            if !self.read_line()? {
                return Ok(None);
            }
            if is_separator(&self.line) {
                self.next_from = Some((0, trim_line_end(&self.line).to_vec()));
            } else {
                return self.collect(0, Vec::new(), true).map(Some);
            }
        }
        let Some((offset, from_line)) = self.next_from.take() else {
            return Ok(None);
        };
        self.collect(offset, from_line, false).map(Some)
    }

    /// Reads message lines until the next separator or the end of the file. With
    /// `keep_current`, the line already in `self.line` is the message's first line.
    fn collect(
        &mut self,
        offset: u64,
        from_line: Vec<u8>,
        keep_current: bool,
    ) -> io::Result<MboxMessage> {
        // The last message's size: most messages of an mbox are alike, so this saves most of
        // the copies a growing vector makes.
        let mut bytes = Vec::with_capacity(self.last_len);
        let mut prev_blank = false;
        if keep_current {
            // Not a separator: nothing is blank before it.
            take_line(&self.line, 0, &mut prev_blank, &mut bytes);
        }
        loop {
            let line_start = self.pos;
            // A line is looked at in the reader's buffer and copied once, into the message;
            // only one that runs past the buffer's end is gathered in `self.line` first.
            let in_buffer = {
                let buf = self.input.fill_buf()?;
                memchr::memchr(b'\n', buf).map(|end| {
                    let line = &buf[..=end];
                    (
                        line.len(),
                        take_line(line, line_start, &mut prev_blank, &mut bytes),
                    )
                })
            };
            let next = match in_buffer {
                Some((len, next)) => {
                    self.input.consume(len);
                    self.pos += len as u64;
                    next
                }
                None if self.read_line()? => {
                    take_line(&self.line, line_start, &mut prev_blank, &mut bytes)
                }
                None => break,
            };
            if next.is_some() {
                self.next_from = next;
                break;
            }
        }
        self.last_len = bytes.len();
        drop_final_blank_line(&mut bytes);
        Ok(MboxMessage {
            offset,
            from_line,
            bytes,
        })
    }

    /// Reads one line (with its `\n`) into `self.line`; false at the end of the file.
    fn read_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        let n = self.input.read_until(b'\n', &mut self.line)?;
        self.pos += n as u64;
        Ok(n > 0)
    }
}

/// One line of the message being collected, read from byte `line_start` of the file: the
/// next message's separator (its offset and line) if it is one, else added to `bytes`.
/// `prev_blank` says whether the line before was blank, and is updated.
fn take_line(
    line: &[u8],
    line_start: u64,
    prev_blank: &mut bool,
    bytes: &mut Vec<u8>,
) -> Option<(u64, Vec<u8>)> {
    if *prev_blank && is_separator(line) {
        return Some((line_start, trim_line_end(line).to_vec()));
    }
    *prev_blank = is_blank(line);
    push_unescaped(bytes, line);
    None
}

fn is_separator(line: &[u8]) -> bool {
    line.starts_with(b"From ")
}

fn is_blank(line: &[u8]) -> bool {
    matches!(line, b"\n" | b"\r\n")
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Appends `line`, removing one `>` from a `>…>From ` line (mboxrd).
fn push_unescaped(out: &mut Vec<u8>, line: &[u8]) {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        out.extend_from_slice(&line[1..]);
    } else {
        out.extend_from_slice(line);
    }
}

/// Removes the blank line the mbox writer put before the next separator (or at the end).
fn drop_final_blank_line(bytes: &mut Vec<u8>) {
    for blank in [&b"\r\n\r\n"[..], b"\n\n", b"\r\n\n"] {
        if bytes.ends_with(blank) {
            // Keep the message's own last line end; drop the blank line after it.
            let keep = blank.len() - if blank.ends_with(b"\r\n") { 2 } else { 1 };
            bytes.truncate(bytes.len() - blank.len() + keep);
            return;
        }
    }
    if is_blank(bytes) {
        bytes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Vec<Vec<u8>> {
        let mut r = MboxReader::new(input);
        let mut out = Vec::new();
        while let Some(m) = r.next_message().unwrap() {
            out.push(m.bytes);
        }
        out
    }

    #[test]
    fn splits_on_from_after_blank_line_only() {
        let mbox = b"From a Mon Jan  1 10:00:00 2024\nSubject: one\n\nbody\nFrom here, not a separator\n\nFrom b Mon Jan  1 11:00:00 2024\nSubject: two\n\nx\n";
        let msgs = all(mbox);
        assert_eq!(msgs.len(), 2);
        assert_eq!(
            msgs[0],
            b"Subject: one\n\nbody\nFrom here, not a separator\n".to_vec()
        );
        assert_eq!(msgs[1], b"Subject: two\n\nx\n".to_vec());
    }

    #[test]
    fn mboxrd_unescaping_removes_one_quote() {
        let mbox = b"From a Mon Jan  1 10:00:00 2024\n\n>From me\n>>From you\n>not from\n";
        assert_eq!(all(mbox)[0], b"\nFrom me\n>From you\n>not from\n".to_vec());
    }

    #[test]
    fn empty_message_between_separators() {
        let mbox = b"From a Mon Jan  1 10:00:00 2024\n\nFrom b Mon Jan  1 10:00:00 2024\nX: y\n";
        let msgs = all(mbox);
        assert_eq!(msgs.len(), 2);
        assert!(msgs[0].is_empty());
    }

    #[test]
    fn a_line_across_the_buffers_end_reads_as_any_other() {
        // Separators, escaped lines, blank lines and a last line with no line end, read
        // through buffers of every size up to the whole input, so that each kind of line is
        // cut at each of its bytes somewhere.
        let mbox = b"From a Mon Jan  1 10:00:00 2024\r\nSubject: one\r\n\r\n>From x\r\nFrom y\r\n\
\r\nFrom b Mon Jan  1 11:00:00 2024\nSubject: two\n\n>>From z\nlast";
        let expected = vec![
            b"Subject: one\r\n\r\nFrom x\r\nFrom y\r\n".to_vec(),
            b"Subject: two\n\n>From z\nlast".to_vec(),
        ];
        assert_eq!(all(mbox), expected);
        let second = mbox.windows(6).position(|w| w == b"From b").unwrap() as u64;
        for capacity in 1..=mbox.len() {
            let mut r = MboxReader::new(std::io::BufReader::with_capacity(capacity, &mbox[..]));
            let mut got = Vec::new();
            let mut offsets = Vec::new();
            while let Some(m) = r.next_message().unwrap() {
                offsets.push(m.offset);
                got.push(m.bytes);
            }
            assert_eq!(got, expected, "buffer of {capacity} bytes");
            assert_eq!(offsets, [0, second], "buffer of {capacity} bytes");
            assert_eq!(r.position(), mbox.len() as u64);
        }
    }
}
