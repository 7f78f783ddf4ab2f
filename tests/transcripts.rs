//! Transcript tests: every IMAP command as an RFC-style `C:` / `S:` trace, run against a real
//! [`Session`] over an in-memory stream (no sockets, no TLS), on a small fixture archive.
//!
//! # Where things are
//! - `tests/transcripts/<command>.txt`: one file per command, same stem as
//!   `src/imap/command/<command>.rs` (plus `starttls`, `noop_logout`, `errors`).
//! - `tests/transcripts/mail/`: the fixture mail, written for these tests (see [`fixture`]).
//!
//! # Transcript format
//! ```text
//! # RFC 3501 §6.2.3: a comment; names the rule the following lines check.
//! === session name           a new session (fresh connection) on the file's archive, over TLS
//! === other session [plain] the same, on a plain-text channel (the STARTTLS port)
//! S: * OK [CAPABILITY ...] imapvault ready (read-only archive)
//! C: a1 LOGIN alice pw
//! S: a1 OK [CAPABILITY ...] Logged in
//! ```
//! - `C:` lines are what the client sends; each is sent followed by CRLF. All of a session's
//!   client lines are the input, sent at once (the server reads until the input ends; a session
//!   that does not LOGOUT just ends there). A client literal is written as in the RFCs:
//!   `C: a1 LOGIN {5}` then `C: alice {2}` then `C: pw`, and the server's
//!   `S: + Ready for literal data` goes where the server sends it.
//! - `S:` lines are what the server must send, in order, each followed by CRLF, starting with
//!   the greeting. The whole output of the session must match them exactly: nothing more,
//!   nothing less, byte for byte.
//! - `{*}` in an `S:` line matches any run of characters within one line (UIDVALIDITY, dates).
//! - `{CAPS}` in an `S:` line stands for [`CAPS`], the capabilities every state shares, so a new
//!   capability is one edit here and in `capability.txt` (which spells them out) rather than one
//!   in every greeting of every file.
//!   Keep it rare.
//! - A response literal is written as in the RFCs too: the `S:` line ends with `{N}` and the N
//!   octets of the literal follow on the next `S:` lines (each of which stands for its text plus
//!   CRLF). If the literal does not end with CRLF, the rest of the response continues on the same
//!   line as its last octets (`S: Subject: h)`). Literal octets are always compared exactly (no
//!   wildcards inside them), and the runner checks that `N` fits the lines that follow.
//! - Lines starting with `#`, and blank lines, are ignored.
//! - `C: !starttls` is not sent: it marks the point where the TLS handshake happens after a
//!   STARTTLS that the server accepted. The runner checks that `serve` returned
//!   [`Exit::StartTls`] there, calls [`Session::tls_established`] and serves the rest of the input.
//!
//! # State
//! Each transcript file gets its own archive (built from the fixture mail in a temporary
//! directory); the sessions of one file run in order on it, so a flag set in one session is seen
//! by the next.
//!
//! # Known bugs
//! A session that shows a server bug keeps asserting the *correct* behaviour and is listed in
//! [`KNOWN_BUGS`] with the reason: it is then expected to fail (the suite stays green), and the
//! runner fails if it passes, so the entry is removed when the bug is fixed.

use std::fmt::Write as _;
use std::io::{self, BufReader, Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use imapvault::archive::Archive;
use imapvault::config::FlagPolicy;
use imapvault::imap::{ChannelSecurity, Exit, Session, SessionContext, Transport, WorkerResources};
use imapvault::import::{self, Target};

/// Sessions expected to fail because of a server bug: (file stem, session name, the bug).
/// Each entry is a bug report: remove it when the server is fixed (the runner then insists).
const KNOWN_BUGS: &[(&str, &str, &str)] = &[];

// One test per transcript file: they run in parallel, each on its own archive.
macro_rules! transcripts {
    ($($name:ident),* $(,)?) => {
        $( #[test] fn $name() { run_file(stringify!($name)); } )*
        /// Every transcript file present has a test above.
        const FILES: &[&str] = &[$(stringify!($name)),*];
    };
}

transcripts!(
    capability,
    login,
    myrights,
    getacl,
    listrights,
    authenticate,
    id,
    enable,
    namespace,
    list,
    lsub,
    subscribe,
    status,
    select,
    close,
    fetch,
    search,
    sort,
    thread,
    store,
    refused,
    starttls,
    noop_logout,
    errors,
    idle,
    condstore,
);

/// Every `.txt` in `tests/transcripts/` is run, and every command module has its transcript.
#[test]
fn every_file_is_run_and_every_command_has_a_transcript() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(root.join("tests/transcripts")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "txt") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(
                FILES.contains(&stem.as_str()),
                "{stem}.txt has no test: add it to transcripts!()"
            );
        }
    }
    for entry in std::fs::read_dir(root.join("src/imap/command")).unwrap() {
        let stem = entry
            .unwrap()
            .path()
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if stem != "mod" {
            assert!(
                FILES.contains(&stem.as_str()),
                "src/imap/command/{stem}.rs has no transcript"
            );
        }
    }
    for (file, session, _) in KNOWN_BUGS {
        assert!(
            FILES.contains(file),
            "KNOWN_BUGS names {file}, which is not a transcript"
        );
        let text =
            std::fs::read_to_string(root.join(format!("tests/transcripts/{file}.txt"))).unwrap();
        let sessions = parse(file, &text);
        assert!(
            sessions.iter().any(|s| s.name == *session),
            "KNOWN_BUGS names session {session:?} of {file}.txt, which does not exist"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The fixture archive.

/// The password of every fixture user.
const PASSWORD: &[u8] = b"pw";

/// A fresh archive for one transcript file:
/// - user `alice` (password `pw`): INBOX (4 messages, `mail/inbox.mbox`), Sent (1, special use
///   \Sent from its name), Archive/2019 (1), whose parent Archive (\Archive, no messages) is
///   created by the import, and `Entwürfe` (1; `Entw&APw-rfe` on the wire, RFC 3501 §5.1.3);
///   every imported folder starts out subscribed (DESIGN §4);
/// - user `bob` (password `pw`): no mail at all;
/// - user `carol` (password `pw`): no mail; alice has granted carol her archive (issue 5), so
///   carol sees it as `Other Users/alice/...`;
/// - user `audit` (password `pw`): an auditor, no mail: sees alice's, bob's, carol's and dora's
///   archives under `Other Users/`;
/// - user `dora` (password `pw`): INBOX of 10 messages for SORT and THREAD (`threads.mbox`:
///   replies, charsets, missing and duplicate ids, a cycle).
///
/// INTERNALDATE comes from the mbox `From ` lines, so every date is fixed.
fn fixture() -> (tempfile::TempDir, Archive) {
    // One argon2 hash for every archive: hashing is slow in a debug build.
    static HASH: OnceLock<String> = OnceLock::new();
    let hash = HASH.get_or_init(|| imapvault::auth::hash_password(PASSWORD).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut archive = Archive::open(&dir.path().join("archive")).unwrap();
    archive.index_mut().add_user("alice", hash).unwrap();
    archive.index_mut().add_user("bob", hash).unwrap();
    archive.index_mut().add_user("carol", hash).unwrap();
    archive.index_mut().add_user("dora", hash).unwrap();
    let auditor = imapvault::index::Role::Auditor;
    archive
        .index_mut()
        .add_user_as("audit", hash, auditor)
        .unwrap();
    let mail = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts/mail");
    for (user, file, folder) in [
        ("alice", "inbox.mbox", "INBOX"),
        ("alice", "sent.mbox", "Sent"),
        ("alice", "archive2019.mbox", "Archive/2019"),
        ("alice", "archive2019.mbox", "Entwürfe"),
        // SORT and THREAD: replies, charsets, missing and duplicate ids, a cycle.
        ("dora", "threads.mbox", "INBOX"),
    ] {
        let summary = import::run(
            &mut archive,
            user,
            Target::Folder(folder.into()),
            &[mail.join(file)],
            &mut |_| {},
        )
        .unwrap();
        assert!(summary.rejected.is_empty(), "{file}: {summary}");
    }
    // After the import, so carol is subscribed to alice's folders as they are.
    archive.index_mut().grant("alice", "carol").unwrap();
    (dir, archive)
}

/// The capabilities offered in every state, as `{CAPS}` expands in `S:` lines.
const CAPS: &str = "IMAP4rev1 LITERAL+ ID ENABLE UNSELECT NAMESPACE CHILDREN SPECIAL-USE \
                    LIST-EXTENDED LIST-STATUS STATUS=SIZE BINARY IDLE CONDSTORE QRESYNC COMPRESS=DEFLATE ESEARCH ACL SEARCHRES WITHIN PREVIEW SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES";

// ---------------------------------------------------------------------------------------------
// The in-memory transport.

/// Reads come from the client's script, writes go to a buffer.
struct Memory {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Memory {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Memory {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Memory {
    fn set_read_timeout(&mut self, _: Duration) -> io::Result<()> {
        Ok(())
    }

    /// The whole script is "on the wire" from the start, as when a client pipelines: a
    /// session only parks for IDLE when nothing of it is left.
    fn has_buffered_input(&mut self) -> bool {
        (self.input.position() as usize) < self.input.get_ref().len()
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing transcripts.

/// One session of a transcript file.
struct Script {
    name: String,
    /// Line number of its `===` line.
    line: usize,
    channel: ChannelSecurity,
    /// The client's input, in parts: a new part starts after each `C: !starttls`.
    input: Vec<Vec<u8>>,
    /// The expected output, as (transcript line number, text) per `S:` line.
    expected: Vec<(usize, String)>,
}

fn parse(file: &str, text: &str) -> Vec<Script> {
    let mut scripts: Vec<Script> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix("=== ") {
            let (name, channel) = match header.strip_suffix(" [plain]") {
                Some(name) => (name, ChannelSecurity::Plain),
                None => (header, ChannelSecurity::Tls),
            };
            scripts.push(Script {
                name: name.trim().to_owned(),
                line: n,
                channel,
                input: vec![Vec::new()],
                expected: Vec::new(),
            });
            continue;
        }
        let Some(script) = scripts.last_mut() else {
            panic!("{file}.txt:{n}: a line before the first `=== session` header");
        };
        if line == "C: !starttls" {
            script.input.push(Vec::new());
        } else if let Some(c) = line.strip_prefix("C: ") {
            let part = script.input.last_mut().unwrap(); // never empty: starts with one part
            part.extend_from_slice(c.as_bytes());
            part.extend_from_slice(b"\r\n");
        } else if line == "C:" {
            script.input.last_mut().unwrap().extend_from_slice(b"\r\n");
        } else if let Some(s) = line.strip_prefix("S: ") {
            script.expected.push((n, s.replace("{CAPS}", CAPS)));
        } else if line == "S:" {
            script.expected.push((n, String::new()));
        } else {
            panic!("{file}.txt:{n}: not a `C:`, `S:`, `#` or `===` line: {line:?}");
        }
    }
    scripts
}

// ---------------------------------------------------------------------------------------------
// Matching.

/// A piece of the expected output.
#[derive(Debug)]
enum Piece {
    /// Octets that must appear exactly.
    Exact(Vec<u8>),
    /// `{*}`: any run of octets other than CR and LF.
    Any,
}

/// The expected output as pieces; literal octets (after a `{N}` line end) are exact.
fn pieces(file: &str, expected: &[(usize, String)]) -> Vec<Piece> {
    let mut stream: Vec<u8> = Vec::new();
    // Octet ranges of `stream` that are literal data.
    let mut literal_until = 0usize;
    let mut out: Vec<Piece> = Vec::new();
    let mut exact: Vec<u8> = Vec::new();
    let mut pending_literal: Option<(usize, usize, usize)> = None; // (line, start, len)
    for (n, text) in expected {
        let line = format!("{text}\r\n");
        let start = stream.len();
        stream.extend_from_slice(line.as_bytes());
        // The part of this line outside any literal may hold wildcards.
        let free_from = literal_until.saturating_sub(start).min(line.len());
        exact.extend_from_slice(&line.as_bytes()[..free_from]);
        let free = &line[free_from..];
        let mut rest = free;
        while let Some(at) = rest.find("{*}") {
            exact.extend_from_slice(&rest.as_bytes()[..at]);
            out.push(Piece::Exact(std::mem::take(&mut exact)));
            out.push(Piece::Any);
            rest = &rest[at + 3..];
        }
        exact.extend_from_slice(rest.as_bytes());
        if let Some(len) = literal_length(free) {
            let begin = stream.len();
            literal_until = begin + len;
            pending_literal = Some((*n, begin, len));
        }
    }
    if let Some((n, begin, len)) = pending_literal {
        assert!(
            begin + len <= stream.len(),
            "{file}.txt:{n}: the literal {{{len}}} is longer than the S: lines after it"
        );
    }
    out.push(Piece::Exact(exact));
    out
}

/// `N` if the line ends with a literal announcement `{N}` (the CRLF not included).
fn literal_length(line: &str) -> Option<usize> {
    let body = line
        .strip_suffix("\r\n")
        .unwrap_or(line)
        .strip_suffix('}')?;
    let open = body.rfind('{')?;
    let digits = &body[open + 1..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Whether `actual` is exactly what the pieces describe.
fn matches(pieces: &[Piece], actual: &[u8]) -> bool {
    match pieces.split_first() {
        None => actual.is_empty(),
        Some((Piece::Exact(e), rest)) => actual.starts_with(e) && matches(rest, &actual[e.len()..]),
        Some((Piece::Any, rest)) => {
            let line_end = actual
                .iter()
                .position(|&b| b == b'\r' || b == b'\n')
                .unwrap_or(actual.len());
            (0..=line_end).any(|k| matches(rest, &actual[k..]))
        }
    }
}

/// Whether one expected line matches one actual line (for the diff only).
fn line_matches(expected: &str, actual: &str) -> bool {
    let mut parts: Vec<Piece> = Vec::new();
    let mut rest = expected;
    while let Some(at) = rest.find("{*}") {
        parts.push(Piece::Exact(rest.as_bytes()[..at].to_vec()));
        parts.push(Piece::Any);
        rest = &rest[at + 3..];
    }
    parts.push(Piece::Exact(rest.as_bytes().to_vec()));
    matches(&parts, actual.as_bytes())
}

/// A line diff of expected against actual (longest common subsequence), with the transcript
/// line number of each expected line and the output line number of each actual line.
fn diff(expected: &[(usize, String)], actual: &[u8]) -> String {
    let actual_text = String::from_utf8_lossy(actual);
    let mut act: Vec<&str> = actual_text.split("\r\n").collect();
    if act.last() == Some(&"") {
        act.pop();
    }
    let (e, a) = (expected.len(), act.len());
    let mut lcs = vec![vec![0usize; a + 1]; e + 1];
    for i in (0..e).rev() {
        for j in (0..a).rev() {
            lcs[i][j] = if line_matches(&expected[i].1, act[j]) {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::from("  (- expected, at transcript line | + actual, at output line)\n");
    let (mut i, mut j) = (0, 0);
    while i < e || j < a {
        if i < e && j < a && line_matches(&expected[i].1, act[j]) {
            let _ = writeln!(out, "   {:>4} | {:>4}  {}", expected[i].0, j + 1, act[j]);
            i += 1;
            j += 1;
        } else if j < a && (i == e || lcs[i][j + 1] >= lcs[i + 1][j]) {
            let _ = writeln!(out, "+       | {:>4}  {}", j + 1, act[j]);
            j += 1;
        } else {
            let _ = writeln!(out, "-  {:>4} |       {}", expected[i].0, expected[i].1);
            i += 1;
        }
    }
    if !actual.ends_with(b"\r\n") && !actual.is_empty() {
        out.push_str("  (the actual output does not end with CRLF)\n");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Running.

/// Runs one session; the server's whole output, or a description of what went wrong.
fn run_session(context: &Arc<SessionContext>, script: &Script) -> Result<Vec<u8>, String> {
    let mut session = Session::new(context.clone(), "transcript".into(), script.channel);
    let input: Vec<u8> = script.input.concat();
    let mut io = BufReader::new(Memory {
        input: Cursor::new(Vec::new()),
        output: session.greeting(),
    });
    let mut resources = WorkerResources::default();
    let parts = script.input.len();
    let mut consumed = 0usize;
    for (k, part) in script.input.iter().enumerate() {
        // The whole input is available from the start, as when a client pipelines; after a
        // STARTTLS the rest continues on the same reader, as the TLS layer would deliver it.
        consumed += part.len();
        if k == 0 {
            io.get_mut().input = Cursor::new(input.clone());
        }
        let mut exit = session.serve(&mut io, &mut resources);
        let want = if k + 1 < parts {
            Exit::StartTls
        } else {
            Exit::Closed
        };
        // A script that ends while its session idles: the client simply went quiet.
        if exit == Exit::Idle && want == Exit::Closed {
            exit = Exit::Closed;
        }
        if exit != want {
            return Err(format!(
                "serve returned {exit:?} after input part {} of {parts}, expected {want:?}\n{}",
                k + 1,
                String::from_utf8_lossy(&io.get_ref().output)
            ));
        }
        if exit == Exit::StartTls {
            let read = io.get_ref().input.position() as usize - io.buffer().len();
            if read != consumed {
                return Err(format!(
                    "at `C: !starttls` the server had read {read} octets of input, expected {consumed} \
                     (the client lines before the handshake)"
                ));
            }
            session.tls_established();
        }
    }
    Ok(std::mem::take(&mut io.get_mut().output))
}

fn run_file(file: &str) {
    let path: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/transcripts/{file}.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let scripts = parse(file, &text);
    assert!(!scripts.is_empty(), "{file}.txt has no sessions");
    let (_dir, archive) = fixture();
    let context = Arc::new(SessionContext::new(&archive, FlagPolicy::PerUser));
    let record = std::env::var_os("TRANSCRIPT_PRINT").is_some();

    let mut failures: Vec<String> = Vec::new();
    for script in &scripts {
        let known = KNOWN_BUGS
            .iter()
            .find(|(f, s, _)| *f == file && *s == script.name)
            .map(|(_, _, why)| *why);
        let result = run_session(&context, script);
        if record {
            if let Ok(out) = &result {
                let text = String::from_utf8_lossy(out);
                eprintln!("=== {} (actual)", script.name);
                for l in text.strip_suffix("\r\n").unwrap_or(&text).split("\r\n") {
                    eprintln!(
                        "{}",
                        if l.is_empty() {
                            "S:".to_owned()
                        } else {
                            format!("S: {l}")
                        }
                    );
                }
            }
        }
        let failure = match result {
            Err(e) => Some(e),
            Ok(actual) if matches(&pieces(file, &script.expected), &actual) => None,
            Ok(actual) => Some(diff(&script.expected, &actual)),
        };
        match (failure, known) {
            (None, None) => {}
            (Some(f), None) => failures.push(format!(
                "{file}.txt:{} session {:?} does not match:\n{f}",
                script.line, script.name
            )),
            (Some(_), Some(why)) => {
                eprintln!(
                    "{file}.txt session {:?}: fails as expected (KNOWN_BUGS: {why})",
                    script.name
                )
            }
            (None, Some(_)) => failures.push(format!(
                "{file}.txt:{} session {:?} now passes: remove it from KNOWN_BUGS",
                script.line, script.name
            )),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
