//! The fuzz entry points of imapvault (issue 6), one function per cargo-fuzz target.
//!
//! Owns: what each target feeds the server and what it asserts besides "no panic". The cargo-fuzz
//! binaries in `fuzz_targets/` only call these; `tests/fuzz_seeds.rs` in the main suite compiles
//! this file too and replays `fuzz/seeds/` through the same functions on every test run, so the
//! targets cannot rot between fuzzing campaigns.
//!
//! - [`command_parser`]: framing and the command parser on arbitrary bytes, under each set of
//!   frame limits.
//! - [`mime`]: the MIME parser: ENVELOPE, BODY and BODYSTRUCTURE read back by [`strict`], an
//!   independent strict response reader; section and BINARY extraction; the search text.
//! - [`session`]: a whole session over memory, started in each state (not authenticated over
//!   TLS or plain text, authenticated, selected, examined, idling, CONDSTORE/QRESYNC), against
//!   the demo archive; every response must be well-formed and the blob store must not change.
//! - [`search`]: one SEARCH program through the parser and then through a selected session
//!   (compilation to text sets, the content index's words, evaluation, ESEARCH encoding).
//!
//! The functions panic on a finding: that is how a fuzzer learns of it.

pub mod strict;

// The main tests' in-memory transport (and their search-test archive helpers, unused here).
#[path = "../../tests/common_session/mod.rs"]
mod common_session;

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use imapvault::config::FlagPolicy;
use imapvault::imap::framing::{read_command, read_line, Joined, Recovery, LITERAL_CONTINUATION};
use imapvault::imap::limits::FrameLimits;
use imapvault::imap::{
    parse_command, ChannelSecurity, Exit, FrameError, IdleStep, Session, SessionContext, Wake,
    WorkerResources,
};
use imapvault::mime::{self, Section, SectionText};

use common_session::Mem;
use strict::{BodyForm, Value};

// ---------------------------------------------------------------------------------------------
// command_parser

/// Frames `data[1..]` into commands under the limits `data[0]` picks and parses each one.
///
/// Asserts: the framer only ever writes continuation requests; a parsed command (or a parse
/// error that names a tag) starts with that tag; a framing error that lets the session go on
/// leaves the stream where the next command can be read.
pub fn command_parser(data: &[u8]) {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let limits = match mode & 3 {
        0 => FrameLimits::AUTHENTICATED,
        1 => FrameLimits::NOT_AUTHENTICATED,
        2 => FrameLimits::AUTHENTICATED.with_literal_minus(),
        // Tiny limits, so that short inputs reach every limit's edge.
        _ => FrameLimits {
            max_line: 48,
            max_literal: 24,
            max_non_sync_literal: 8,
            max_command: 160,
        },
    };
    // The parser alone, on bytes the framer never produced.
    check_parse(input);

    let mut reader = Cursor::new(input);
    let mut wire = Vec::new();
    // Every command or error consumes at least one octet, so input.len() + 1 rounds suffice.
    for _ in 0..=input.len() {
        let frame = read_command(
            &mut Joined {
                reader: &mut reader,
                writer: &mut wire,
            },
            &limits,
        );
        match frame {
            Ok(bytes) => check_parse(&bytes),
            Err(FrameError::Closed) => break,
            Err(e) => {
                let _ = e.to_string();
                match e.recovery() {
                    Recovery::Close | Recovery::Bye => break,
                    Recovery::RejectTooBig | Recovery::RejectBad => {}
                }
            }
        }
    }
    let continuations = wire.len() / LITERAL_CONTINUATION.len();
    assert_eq!(
        wire,
        LITERAL_CONTINUATION.repeat(continuations),
        "the framer wrote something other than continuation requests"
    );

    let mut reader = Cursor::new(input);
    if let Ok(line) = read_line(&mut reader, 64) {
        assert!(line.len() <= 64, "read_line returned more than its maximum");
    }
}

fn check_parse(bytes: &[u8]) {
    match parse_command(bytes) {
        Ok(command) => {
            let _ = format!("{command:?}");
            let _ = command.body.name();
            assert!(
                bytes.starts_with(command.tag.as_str().as_bytes()),
                "parsed tag {:?} is not where the command starts",
                command.tag.as_str()
            );
        }
        Err(e) => {
            let _ = e.kind.to_string();
            if let Some(tag) = &e.tag {
                assert!(
                    bytes.starts_with(tag.as_str().as_bytes()),
                    "error's tag {:?} is not where the command starts",
                    tag.as_str()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// mime

/// Analyses `data` as a message, raw and in its canonical CRLF form.
///
/// Asserts: ENVELOPE, BODY and BODYSTRUCTURE are each exactly one well-formed value of the right
/// shape for [`strict`], and the three together make a well-formed FETCH response; the sent
/// date is a real day; `BODY[]` and `BINARY[]` are the message itself; every section and BINARY
/// section asked for is answered without panicking.
pub fn mime(data: &[u8]) {
    let canonical = mime::canonical_line_ends(data);
    check_message(&canonical);
    if canonical.as_ref() != data {
        check_message(data);
    }
    // Helpers the content index and SEARCH use on header text.
    let _ = mime::text::decode_words(data);
    let text = String::from_utf8_lossy(data);
    let _ = mime::text::html_to_text(&text);
    let _ = mime::text::header_values(&text, "subject").count();
    let _ = mime::text::fold(&text);
    let label_end = data.iter().position(|&b| b == b' ').unwrap_or(0).min(32);
    let _ = mime::text::decode_charset(&data[..label_end], &data[label_end..]);
}

fn check_message(message: &[u8]) {
    let a = mime::analyze(message);
    let shape = |bytes: &[u8], what: &str, check: &dyn Fn(&Value<'_>) -> Result<(), String>| {
        let v = strict::value(bytes).unwrap_or_else(|e| {
            panic!(
                "{what} is malformed: {e}\n{}",
                String::from_utf8_lossy(bytes)
            )
        });
        if let Err(e) = check(&v) {
            panic!(
                "{what} has the wrong shape: {e}\n{}",
                String::from_utf8_lossy(bytes)
            );
        }
    };
    shape(&a.envelope, "ENVELOPE", &strict::envelope);
    shape(&a.body_structure, "BODYSTRUCTURE", &|v| {
        strict::body(v, BodyForm::Structure)
    });
    shape(&a.body, "BODY", &|v| strict::body(v, BodyForm::Body));
    let mut line = b"* 1 FETCH (ENVELOPE ".to_vec();
    line.extend_from_slice(&a.envelope);
    line.extend_from_slice(b" BODYSTRUCTURE ");
    line.extend_from_slice(&a.body_structure);
    line.extend_from_slice(b" BODY ");
    line.extend_from_slice(&a.body);
    line.extend_from_slice(b")\r\n");
    if let Err(e) = strict::check_stream(&line, &|_| false) {
        panic!("FETCH response is malformed: {e}");
    }
    if let Some((year, month, day)) = a.sent_day {
        assert!(
            (1..=12).contains(&month) && (1..=31).contains(&day) && (0..=9999).contains(&year),
            "sent day {year}-{month}-{day} is not a date"
        );
    }

    let _ = mime::text::extract(message).folded();

    let whole = mime::section(message, &Section::default());
    assert_eq!(whole.as_deref(), Some(message), "BODY[] is not the message");
    let binary = mime::binary_section(message, &[]);
    assert_eq!(
        binary.ok().flatten().as_deref(),
        Some(message),
        "BINARY[] is not the message"
    );
    // Part paths: the usual ones, and one the message's own bytes spell (so the fuzzer can
    // steer it into deep paths).
    let own: Vec<u32> = message.iter().take(6).map(|b| u32::from(b % 4)).collect();
    let paths: [&[u32]; 7] = [&[1], &[2], &[1, 1], &[1, 2], &[2, 1], &[3, 1, 1], &own];
    for part in paths {
        let _ = mime::binary_section(message, part);
        for text in [
            None,
            Some(SectionText::Header),
            Some(SectionText::Text),
            Some(SectionText::Mime),
            Some(SectionText::HeaderFields(vec![
                "subject".into(),
                "from".into(),
            ])),
            Some(SectionText::HeaderFieldsNot(vec!["received".into()])),
        ] {
            let section = Section {
                part: part.to_vec(),
                text,
            };
            let _ = mime::section(message, &section);
        }
    }
    for text in [SectionText::Header, SectionText::Text] {
        let s = Section {
            part: vec![],
            text: Some(text),
        };
        assert!(
            mime::section(message, &s).is_some(),
            "a top-level section is missing"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// session

/// Where a fuzzed session starts: what the fixed prefix of its input does first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Not authenticated, over TLS.
    NotAuthenticated,
    /// Not authenticated, on the plain-text (STARTTLS) port.
    Plain,
    Authenticated,
    /// INBOX selected.
    Selected,
    /// A folder examined (read-only select).
    Examined,
    /// In IDLE on INBOX: the fuzz input is what the client sends during IDLE.
    Idle,
    /// CONDSTORE and QRESYNC enabled, INBOX selected with CONDSTORE.
    Condstore,
    /// A nested folder selected.
    Nested,
}

impl Start {
    fn from_byte(b: u8) -> Start {
        match b & 7 {
            0 => Start::NotAuthenticated,
            1 => Start::Plain,
            2 => Start::Authenticated,
            3 => Start::Selected,
            4 => Start::Examined,
            5 => Start::Idle,
            6 => Start::Condstore,
            _ => Start::Nested,
        }
    }

    /// The commands that bring a session to this state, and their tags (each must get OK).
    fn prefix(self) -> (Vec<u8>, &'static [&'static str]) {
        let login = format!("L LOGIN {} {PASSWORD}\r\n", imapvault::demo::USER);
        let (rest, tags): (&str, &'static [&'static str]) = match self {
            Start::NotAuthenticated | Start::Plain => return (Vec::new(), &[]),
            Start::Authenticated => ("", &["L"]),
            Start::Selected => ("S SELECT INBOX\r\n", &["L", "S"]),
            Start::Examined => ("S EXAMINE Archive/2022\r\n", &["L", "S"]),
            Start::Idle => ("S SELECT INBOX (CONDSTORE)\r\nI IDLE\r\n", &["L", "S"]),
            Start::Condstore => (
                "E ENABLE CONDSTORE QRESYNC\r\nS SELECT INBOX (CONDSTORE)\r\n",
                &["L", "E", "S"],
            ),
            Start::Nested => ("S SELECT Projects/Apollo\r\n", &["L", "S"]),
        };
        ((login + rest).into_bytes(), tags)
    }
}

/// Runs a session: `data[0]` picks the start state (low three bits) and the flag policy (bit
/// 3), the rest is what the client sends after the prefix that reaches that state.
///
/// Asserts: no panic; the whole output is well-formed ([`strict::check_stream`]) and every
/// tagged response answers a tag the client sent; the prefix's commands succeeded; the archive's
/// blobs are unchanged.
///
/// Inputs that name LOGIN or AUTHENTICATE after the prefix are skipped on TLS channels: a failed
/// login costs a decoy argon2 hash and a 300 ms pause by design (issue 6), which would starve the
/// fuzzer; the login path itself is fuzzed through the prefix and [`command_parser`].
pub fn session(data: &[u8]) {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let start = Start::from_byte(mode);
    let policy = if mode & 8 == 0 {
        FlagPolicy::PerUser
    } else {
        FlagPolicy::ReadOnly
    };
    let channel = if start == Start::Plain {
        ChannelSecurity::Plain
    } else {
        ChannelSecurity::Tls
    };
    if mentions_login(input) && (channel == ChannelSecurity::Tls || mentions_starttls(input)) {
        return;
    }
    let (mut script, prefix_tags) = start.prefix();
    script.extend_from_slice(input);
    run_and_check(&script, channel, policy, prefix_tags);
}

/// A SEARCH in a selected mailbox: `data[0]` picks the command's form (SEARCH or UID SEARCH,
/// CHARSET, ESEARCH RETURN options), the rest is the search program. The program is parsed
/// alone, then sent in a session with INBOX selected, where it is compiled into text sets
/// (content index candidates, exact checks), evaluated for every message, and encoded.
///
/// Asserts: as [`session`], and the SEARCH got a tagged answer (unless the session ended).
pub fn search(data: &[u8]) {
    let Some((&mode, program)) = data.split_first() else {
        return;
    };
    const FORMS: [&str; 8] = [
        "SEARCH ",
        "UID SEARCH ",
        "SEARCH CHARSET UTF-8 ",
        "UID SEARCH RETURN (MIN MAX COUNT) ",
        "SEARCH RETURN () ",
        "UID SEARCH RETURN (ALL) CHARSET ISO-8859-1 ",
        "SEARCH RETURN (COUNT) CHARSET KOI8-R ",
        "UID SEARCH CHARSET X-UNKNOWN ",
    ];
    let mut command = b"T ".to_vec();
    command.extend_from_slice(FORMS[usize::from(mode & 7)].as_bytes());
    command.extend_from_slice(program);
    let _ = parse_command(&command);
    if mentions_login(program) {
        return;
    }
    let policy = if mode & 8 == 0 {
        FlagPolicy::PerUser
    } else {
        FlagPolicy::ReadOnly
    };
    let (mut script, prefix_tags) = Start::Selected.prefix();
    script.extend_from_slice(&command);
    script.extend_from_slice(b"\r\n");
    let summary = run_and_check(&script, ChannelSecurity::Tls, policy, prefix_tags);
    // Unless the session ended, or a literal marker (`{n}`, `{n+}`) in the program announced
    // more octets than the input holds, so the command never ended.
    assert!(
        summary.bye || program.contains(&b'{') || summary.tagged.iter().any(|(t, _)| t == b"T"),
        "the SEARCH got no tagged answer"
    );
}

/// Whether `input` holds LOGIN or AUTHENTICATE in any case.
fn mentions_login(input: &[u8]) -> bool {
    contains_ignore_case(input, b"login") || contains_ignore_case(input, b"authenticate")
}

fn mentions_starttls(input: &[u8]) -> bool {
    contains_ignore_case(input, b"starttls")
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Serves `script` in a fresh session on the fixture archive and checks everything said.
fn run_and_check(
    script: &[u8],
    channel: ChannelSecurity,
    policy: FlagPolicy,
    prefix_tags: &[&str],
) -> strict::Summary {
    let fixture = fixture();
    let context = match policy {
        FlagPolicy::PerUser => &fixture.per_user,
        FlagPolicy::ReadOnly => &fixture.read_only,
    };
    let output = serve(context.clone(), channel, script);
    let sent = |tag: &[u8]| script.windows(tag.len()).any(|w| w == tag);
    let summary = strict::check_stream(&output, &sent).unwrap_or_else(|e| {
        panic!(
            "malformed server output: {e}\n--- client ---\n{}\n--- server ---\n{}",
            String::from_utf8_lossy(script),
            String::from_utf8_lossy(&output)
        )
    });
    for (i, tag) in prefix_tags.iter().enumerate() {
        let got = summary.tagged.get(i);
        assert!(
            got.is_some_and(|(t, s)| t == tag.as_bytes() && s == b"OK"),
            "prefix command {tag} did not succeed: {}",
            String::from_utf8_lossy(&output)
        );
    }
    fixture.check_unchanged();
    summary
}

thread_local! {
    /// One index connection for every fuzzed session, as a server worker keeps one.
    static RESOURCES: RefCell<WorkerResources> = RefCell::new(WorkerResources::default());
}

/// Runs a session the way the server's worker does, handling each [`Exit`]; returns the output.
fn serve(context: Arc<SessionContext>, channel: ChannelSecurity, script: &[u8]) -> Vec<u8> {
    let mut session = Session::new(context, "fuzz".into(), channel);
    let mut io = BufReader::new(Mem::new(script.to_vec(), session.greeting()));
    RESOURCES.with(|r| {
        let resources = &mut r.borrow_mut();
        // A session returns at most once per command, and each command consumes input.
        for _ in 0..=script.len() {
            match session.serve(&mut io, resources) {
                Exit::Closed => break,
                Exit::StartTls => {
                    // The server discards whatever was pipelined after STARTTLS before the
                    // handshake (RFC 3501 §6.2.1); the rest of the script is "after TLS".
                    let buffered = io.buffer().len();
                    io.consume(buffered);
                    session.tls_established();
                }
                // The rest of the stream would be deflated; the session ends here.
                Exit::Compress => break,
                // Only for streams that can tell a line is incomplete; memory cannot (its
                // `line_ready` is None), so this would just serve again.
                Exit::AwaitLine => {}
                Exit::Idle => {
                    // Parked with nothing left to read: what a parked session can be woken for.
                    for wake in [Wake::Changed, Wake::Keepalive, Wake::Autologout] {
                        match session.resume_idle(&mut io, resources, wake) {
                            IdleStep::Park => {}
                            IdleStep::Serve | IdleStep::Closed => break,
                        }
                    }
                    break;
                }
            }
        }
    });
    io.into_inner().output
}

// ---------------------------------------------------------------------------------------------
// The fixture archive.

/// The fuzz user's password.
const PASSWORD: &str = "fuzz-password";

/// The demo archive, served under both flag policies.
pub struct Fixture {
    _dir: tempfile::TempDir,
    blobs: PathBuf,
    per_user: Arc<SessionContext>,
    read_only: Arc<SessionContext>,
    /// (path, length) of every blob file, and the hash of them all.
    sizes: Vec<(PathBuf, u64)>,
    hash: String,
    runs: AtomicU64,
}

/// The fixture, built on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let demo = imapvault::demo::prepare(Some(dir.path())).expect("demo archive");
        let archive_dir = demo.dir.join("archive");
        let mut archive = imapvault::archive::Archive::open(&archive_dir).expect("archive");
        archive
            .index_mut()
            .set_password_hash(imapvault::demo::USER, &cheap_hash(PASSWORD))
            .expect("password");
        let blobs = archive_dir.join("blobs");
        let sizes = blob_sizes(&blobs);
        assert!(!sizes.is_empty(), "the demo archive has no blob files");
        let hash = tree_hash(&sizes);
        Fixture {
            per_user: Arc::new(SessionContext::new(&archive, FlagPolicy::PerUser)),
            read_only: Arc::new(SessionContext::new(&archive, FlagPolicy::ReadOnly)),
            _dir: dir,
            blobs,
            sizes,
            hash,
            runs: AtomicU64::new(0),
        }
    })
}

impl Fixture {
    /// Panics if the blob store changed: file list and sizes on every call, contents every
    /// 1024th call (and on the first).
    pub fn check_unchanged(&self) {
        let sizes = blob_sizes(&self.blobs);
        assert_eq!(sizes, self.sizes, "the archive's blob files changed");
        if self.runs.fetch_add(1, Ordering::Relaxed) % 1024 == 0 {
            self.check_contents();
        }
    }

    /// Panics if any blob file's contents changed.
    pub fn check_contents(&self) {
        assert_eq!(
            tree_hash(&self.sizes),
            self.hash,
            "the archive's blobs changed"
        );
    }
}

/// An argon2id hash of `password` with the smallest costs: what the server verifies (it reads
/// the costs from the stored hash), in microseconds.
fn cheap_hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    use argon2::{Algorithm, Argon2, Params, Version};
    let params = Params::new(8, 1, 1, None).expect("argon2 params");
    let salt = SaltString::encode_b64(b"imapvault-fuzz-salt").expect("salt");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .expect("hash")
        .to_string()
}

fn blob_sizes(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let entry = entry.expect("dir entry");
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                out.push((entry.path(), meta.len()));
            }
        }
    }
    out.sort();
    out
}

fn tree_hash(files: &[(PathBuf, u64)]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (path, _) in files {
        h.update(path.to_string_lossy().as_bytes());
        h.update(std::fs::read(path).expect("read blob file"));
    }
    format!("{:x}", h.finalize())
}
