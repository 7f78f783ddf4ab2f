//! A session over memory for SEARCH tests: a fresh archive with the given folders, one user,
//! and a real `Session` fed a whole script of commands at once (the transport ends after the
//! script, which ends the session). No sockets, no TLS handshake; the session is told the
//! channel is TLS so LOGIN is allowed.

#![allow(dead_code)]

use std::io::{self, BufReader, Cursor, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use imapvault::archive::Archive;
use imapvault::config::FlagPolicy;
use imapvault::imap::{ChannelSecurity, Session, SessionContext, Transport, WorkerResources};
use imapvault::import::ingest::Ingester;

pub const USER: &str = "u";
pub const PASSWORD: &str = "search-test-password";

/// An archive and what a session needs to serve it.
pub struct MemSession {
    pub dir: tempfile::TempDir,
    pub archive: Archive,
    context: Arc<SessionContext>,
}

impl MemSession {
    /// An archive holding `folders` (name, raw messages in UID order) for user [`USER`].
    pub fn with_mail(folders: &[(&str, &[Vec<u8>])]) -> MemSession {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut archive = Archive::open(&dir.path().join("archive")).expect("archive");
        let hash = imapvault::auth::hash_password(PASSWORD.as_bytes()).expect("hash");
        let (index, store) = archive.parts_mut();
        let user = index.add_user(USER, &hash).expect("user");
        let mut ingester = Ingester::new(index, store);
        for (name, messages) in folders {
            let mailbox = ingester
                .index()
                .ensure_mailbox(user, name)
                .expect("mailbox");
            for raw in *messages {
                ingester
                    .add(raw.clone(), mailbox, String::new(), None)
                    .expect("ingest");
            }
            ingester.flush().expect("flush");
        }
        // It hands the index back when dropped (its checkpoint thread stops).
        drop(ingester);
        let context = Arc::new(SessionContext::new(&archive, FlagPolicy::PerUser));
        MemSession {
            dir,
            archive,
            context,
        }
    }

    /// Runs `a LOGIN`, then `script` (CRLF-terminated commands), then LOGOUT; returns all
    /// that the server wrote.
    pub fn run(&self, script: &[u8]) -> String {
        let mut input = format!("a LOGIN {USER} {PASSWORD}\r\n").into_bytes();
        input.extend_from_slice(script);
        input.extend_from_slice(b"z LOGOUT\r\n");
        let mem = Mem::new(input, Vec::new());
        let mut session = Session::new(self.context.clone(), "mem".into(), ChannelSecurity::Tls);
        let mut io = BufReader::new(mem);
        let mut resources = WorkerResources::default();
        let _ = session.serve(&mut io, &mut resources);
        String::from_utf8_lossy(&io.into_inner().output).into_owned()
    }
}

impl MemSession {
    /// Runs one `UID SEARCH <key>` per key, after `SELECT INBOX`, in one session (one LOGIN:
    /// argon2 is slow in debug builds); returns for each the UIDs, or the tagged line when it
    /// is not OK.
    pub fn uid_searches(&self, keys: &[Vec<u8>]) -> Vec<Result<Vec<u32>, String>> {
        let mut script = b"s SELECT INBOX\r\n".to_vec();
        for (i, key) in keys.iter().enumerate() {
            script.extend(format!("q{i} UID SEARCH ").bytes());
            script.extend_from_slice(key);
            script.extend_from_slice(b"\r\n");
        }
        let out = self.run(&script);
        let mut answers = vec![Err(format!("no tagged answer in {out}")); keys.len()];
        let mut hits = Vec::new();
        for line in out.split("\r\n") {
            if let Some(rest) = line.strip_prefix("* SEARCH") {
                hits = rest
                    .split_whitespace()
                    .map(|n| n.parse().unwrap())
                    .collect();
            } else if let Some(tagged) = line.strip_prefix('q') {
                let (n, status) = tagged.split_once(' ').unwrap();
                let n: usize = n.parse().unwrap();
                answers[n] = if status.starts_with("OK") {
                    Ok(std::mem::take(&mut hits))
                } else {
                    Err(format!("q {status}"))
                };
            }
        }
        answers
    }
}

/// `{n+}\r\n` and the bytes (RFC 7888 LITERAL+).
pub fn literal(bytes: &[u8]) -> Vec<u8> {
    let mut v = format!("{{{}+}}\r\n", bytes.len()).into_bytes();
    v.extend_from_slice(bytes);
    v
}

/// A transport over memory: reads come from a script, writes go to a buffer. Also the fuzz
/// targets' transport (fuzz/src/lib.rs includes this file).
pub struct Mem {
    input: Cursor<Vec<u8>>,
    pub output: Vec<u8>,
}

impl Mem {
    /// A transport that will read `input`, with `output` already written (a greeting).
    pub fn new(input: Vec<u8>, output: Vec<u8>) -> Mem {
        Mem {
            input: Cursor::new(input),
            output,
        }
    }
}

impl Read for Mem {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Mem {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Mem {
    fn set_read_timeout(&mut self, _: Duration) -> io::Result<()> {
        Ok(())
    }

    /// The whole script is on the wire from the start (as when a client pipelines).
    fn has_buffered_input(&mut self) -> bool {
        (self.input.position() as usize) < self.input.get_ref().len()
    }
}
