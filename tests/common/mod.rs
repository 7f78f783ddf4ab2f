//! Shared end-to-end harness: a real imapvault server on a loopback port, over real TLS.
//!
//! Each test gets its own demo archive (in a temporary directory), its own server on ports
//! chosen by the kernel (127.0.0.1:0), and clients that trust the demo's self-signed certificate.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use imapvault::server::{Security, Shutdown};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// A free loopback port for a server started as a separate process (bound then released),
/// never the same one twice in this test process: tests run in parallel, and the kernel may
/// hand a just-released port to the next `bind(0)`, so two tests' servers would meet on it.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a loopback port")
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// The default limits, but with room for the many sessions tests open from one address as one
/// user, and the fixed 300 ms pause after a failed login that tests were written against
/// (tests/limits.rs tests the limits themselves).
pub fn test_limits() -> imapvault::limits::Limits {
    let d = imapvault::limits::Limits::DEFAULT;
    imapvault::limits::Limits {
        connections_per_ip: 10_000,
        sessions_per_user: 10_000,
        login_failure_delay_max: d.login_failure_delay,
        ..d
    }
}

/// A running server over a fresh demo archive.
pub struct TestServer {
    pub tls_addr: SocketAddr,
    pub starttls_addr: SocketAddr,
    pub password: String,
    pub cert_pem: String,
    pub dir: tempfile::TempDir,
    shutdown: Shutdown,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// The demo archive plus `extra` messages for user `demo`: (folder, raw message, file
    /// mtime, which becomes the INTERNALDATE; None for now), imported in that order (so UIDs
    /// follow it) before the server starts.
    pub fn start_with_mail(extra: &[(&str, &[u8], Option<std::time::SystemTime>)]) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let demo = imapvault::demo::prepare(Some(dir.path())).expect("demo archive");
        if !extra.is_empty() {
            let mut archive =
                imapvault::archive::Archive::open(&dir.path().join("archive")).expect("archive");
            for (i, (folder, raw, mtime)) in extra.iter().enumerate() {
                let path = dir.path().join(format!("extra-{i}.eml"));
                std::fs::write(&path, raw).expect("write message");
                if let Some(t) = mtime {
                    std::fs::File::options()
                        .write(true)
                        .open(&path)
                        .and_then(|f| f.set_modified(*t))
                        .expect("set mtime");
                }
                let summary = imapvault::import::run(
                    &mut archive,
                    imapvault::demo::USER,
                    imapvault::import::Target::Folder((*folder).to_owned()),
                    &[path],
                    &mut |_| {},
                )
                .expect("import");
                assert!(summary.rejected.is_empty(), "{summary}");
            }
        }
        TestServer::serve(dir, demo, 16, 64, test_limits())
    }

    /// Like [`TestServer::start`], with `workers` threads, a queue of `queue` and `limits`
    /// (tests of the limits set them small; values below the config file's minimums are
    /// allowed here so that time limits can be tested in seconds).
    pub fn start_with(
        workers: usize,
        queue: usize,
        limits: imapvault::limits::Limits,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let demo = imapvault::demo::prepare(Some(dir.path())).expect("demo archive");
        TestServer::serve(dir, demo, workers, queue, limits)
    }

    /// Prepares the demo archive, lets `add_mail` add to it (given the archive's directory)
    /// and starts serving it with the session context passed through `configure`.
    pub fn start_configured(
        add_mail: impl FnOnce(&std::path::Path),
        configure: impl FnOnce(imapvault::imap::SessionContext) -> imapvault::imap::SessionContext,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let demo = imapvault::demo::prepare(Some(dir.path())).expect("demo archive");
        add_mail(&dir.path().join("archive"));
        TestServer::serve_configured(dir, demo, 16, 64, test_limits(), configure)
    }

    /// Starts a server on an archive that `setup` fills: it gets the archive directory and the
    /// password of user `demo` (the only user so far), e.g. to build a journal-mode archive.
    pub fn start_on(setup: impl FnOnce(&std::path::Path, &str)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let demo = imapvault::demo::prepare_empty(Some(dir.path())).expect("empty archive");
        setup(&dir.path().join("archive"), &demo.password);
        TestServer::serve(dir, demo, 16, 64, test_limits())
    }

    fn serve(
        dir: tempfile::TempDir,
        demo: imapvault::demo::Demo,
        workers: usize,
        queue: usize,
        limits: imapvault::limits::Limits,
    ) -> TestServer {
        TestServer::serve_configured(dir, demo, workers, queue, limits, |c| c)
    }

    fn serve_configured(
        dir: tempfile::TempDir,
        demo: imapvault::demo::Demo,
        workers: usize,
        queue: usize,
        limits: imapvault::limits::Limits,
        configure: impl FnOnce(imapvault::imap::SessionContext) -> imapvault::imap::SessionContext,
    ) -> TestServer {
        use imapvault::server::{tls, Server, ServerSettings};
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let config = tls::server_config_from_pem(demo.cert_pem.as_bytes(), demo.key_pem.as_bytes())
            .expect("tls");
        let server = Server::bind(ServerSettings {
            listeners: vec![(any, Security::ImplicitTls), (any, Security::StartTls)],
            workers,
            queue,
            tls: Arc::new(std::sync::RwLock::new(config)),
        })
        .expect("bind");
        let archive =
            imapvault::archive::Archive::open(&dir.path().join("archive")).expect("archive");
        let context = Arc::new(configure(
            imapvault::imap::SessionContext::new(&archive, imapvault::config::FlagPolicy::PerUser)
                .with_limits(limits)
                .stopped_by(server.stop_flag()),
        ));
        let addrs = server.local_addrs();
        let find = |s: Security| addrs.iter().find(|(_, k)| *k == s).expect("listener").0;
        let shutdown = server.shutdown_handle();
        let thread = std::thread::spawn(move || {
            server.run(context).expect("server run");
        });
        TestServer {
            tls_addr: find(Security::ImplicitTls),
            starttls_addr: find(Security::StartTls),
            password: demo.password,
            cert_pem: demo.cert_pem,
            dir,
            shutdown,
            thread: Some(thread),
        }
    }

    /// Prepares the demo archive and starts serving it on loopback, as `serve --demo` does
    /// (16 workers, a queue of 64) but with [`test_limits`].
    pub fn start() -> TestServer {
        TestServer::start_with(16, 64, test_limits())
    }

    /// Runs the Python client `script` (relative to the crate root) as `script localhost PORT
    /// CAFILE USER PASSWORD` against the TLS port, with a time limit, and fails the test with
    /// its output unless it exits 0. Returns false (after a note) when python3 is missing.
    pub fn run_python_client(&self, script: &str) -> bool {
        if std::process::Command::new("python3")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("python3 not found: skipped");
            return false;
        }
        let mut cmd = std::process::Command::new("python3");
        cmd.arg(format!("{}/{script}", env!("CARGO_MANIFEST_DIR")))
            .arg("localhost")
            .arg(self.tls_addr.port().to_string())
            .arg(self.cert_path())
            .arg(imapvault::demo::USER)
            .arg(&self.password);
        let out = run_with_timeout(cmd, Duration::from_secs(120));
        assert!(
            out.status.success(),
            "{script} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        true
    }

    /// The archive's directory (for hashing its files before and after).
    pub fn archive_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("archive")
    }

    /// Path of the demo certificate in PEM, for clients that take a CA file.
    pub fn cert_path(&self) -> std::path::PathBuf {
        self.dir.path().join("demo-cert.pem")
    }

    /// A TLS client configuration that trusts the demo certificate.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.cert_pem.as_bytes()) {
            roots.add(cert.expect("pem")).expect("root");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }

    /// A TLS connection to the implicit-TLS port, handshake done.
    pub fn tls_stream(&self) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        let tcp = TcpStream::connect(self.tls_addr).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        self.wrap_tls(tcp)
    }

    /// Wraps an already connected socket (e.g. after STARTTLS) in TLS and completes the handshake.
    pub fn wrap_tls(
        &self,
        tcp: TcpStream,
    ) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        let name = ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(self.client_config(), name).expect("client");
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .expect("handshake");
        }
        stream
    }

    /// A logged-in client of the `imap` crate.
    pub fn imap_session(
        &self,
    ) -> imap::Session<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
        self.imap_session_as(imapvault::demo::USER, &self.password)
    }

    /// A client of the `imap` crate logged in as `user`.
    pub fn imap_session_as(
        &self,
        user: &str,
        password: &str,
    ) -> imap::Session<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
        let mut client = imap::Client::new(self.tls_stream());
        client.read_greeting().expect("greeting");
        client
            .login(user, password)
            .map_err(|(e, _)| e)
            .expect("login")
    }

    /// A raw line client over TLS, greeting read.
    pub fn raw(&self) -> RawClient<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
        let mut c = RawClient::new(self.tls_stream());
        let greeting = c.read_line();
        assert!(greeting.starts_with("* OK"), "greeting: {greeting}");
        c
    }

    /// A raw client logged in as the demo user.
    pub fn raw_logged_in(
        &self,
    ) -> RawClient<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
        let mut c = self.raw();
        let r = c.command(&format!(
            "LOGIN {} {}",
            imapvault::demo::USER,
            self.password
        ));
        assert!(r.last().unwrap().contains("OK"), "{r:?}");
        c
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.request();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A client that speaks raw IMAP lines, for checking exact responses.
pub struct RawClient<S: Read + Write> {
    io: BufReader<S>,
    next_tag: u32,
}

impl<S: Read + Write> RawClient<S> {
    pub fn new(stream: S) -> Self {
        RawClient {
            io: BufReader::new(stream),
            next_tag: 1,
        }
    }

    /// Sends raw bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.io.get_mut().write_all(bytes).expect("write");
        self.io.get_mut().flush().expect("flush");
    }

    /// Reads one line (with its CRLF removed), lossily decoded. Empty at end of stream.
    pub fn read_line(&mut self) -> String {
        let mut buf = Vec::new();
        self.io.read_until(b'\n', &mut buf).expect("read");
        String::from_utf8_lossy(&buf)
            .trim_end_matches(['\r', '\n'])
            .to_owned()
    }

    /// Reads exactly `n` bytes (a literal's content).
    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.io.read_exact(&mut buf).expect("read literal");
        buf
    }

    /// Sends `tag command`, returns every line up to and including the tagged response.
    /// Literals in responses are read whole and appear inline in the line.
    pub fn command(&mut self, command: &str) -> Vec<String> {
        let tag = format!("t{}", self.next_tag);
        self.next_tag += 1;
        self.send(format!("{tag} {command}\r\n").as_bytes());
        self.read_until_tagged(&tag)
    }

    /// Reads responses until the one tagged `tag`.
    pub fn read_until_tagged(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = self.read_line();
            // Follow literals: `... {n}` at the end of a line means n bytes then more line.
            while let Some(n) = literal_len(&line) {
                let bytes = self.read_exact(n);
                line.push_str("\r\n");
                line.push_str(&String::from_utf8_lossy(&bytes));
                let rest = self.read_line();
                line.push_str(&rest);
            }
            if line.is_empty() {
                panic!("connection closed before {tag}; got {lines:?}");
            }
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// Selects `mailbox` (SELECT must succeed) and returns its EXISTS count.
    pub fn select_exists(&mut self, mailbox: &str) -> u32 {
        let lines = self.command(&format!("SELECT {mailbox}"));
        assert!(
            lines.last().is_some_and(|l| l.contains(" OK ")),
            "{lines:?}"
        );
        exists_of(&lines) as u32
    }

    /// The underlying stream.
    pub fn stream(&mut self) -> &mut S {
        self.io.get_mut()
    }
}

fn literal_len(line: &str) -> Option<usize> {
    let open = line.rfind('{')?;
    let inner = line[open + 1..].strip_suffix('}')?;
    inner.trim_end_matches('+').parse().ok()
}

/// SHA-256 over every file under `dir` (paths and contents), to prove nothing changed.
pub fn tree_hash(dir: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let p = entry.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        h.update(f.strip_prefix(dir).unwrap().to_string_lossy().as_bytes());
        h.update(std::fs::read(&f).expect("read"));
    }
    format!("{:x}", h.finalize())
}

/// One folder of the demo archive as the test reads it from `src/demo/mail` itself, independent
/// of the importer: the folder name from `MANIFEST` and its messages as the server must serve
/// them (mboxrd-unescaped, CRLF line ends).
pub struct DemoFolder {
    pub name: String,
    pub file: String,
    pub messages: Vec<Vec<u8>>,
}

/// The demo mail by folder, in `MANIFEST` order.
pub fn demo_mail() -> Vec<DemoFolder> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/demo/mail");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST")).expect("MANIFEST");
    manifest
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (file, folder) = line.split_once('\t').expect("file<TAB>folder");
            let bytes = std::fs::read(dir.join(file)).expect("mbox");
            DemoFolder {
                name: folder.to_owned(),
                file: file.to_owned(),
                messages: parse_mbox(&bytes),
            }
        })
        .collect()
}

/// The demo folder names plus every parent they imply (`Archive` for `Archive/2022`), sorted:
/// the folders LIST must show.
pub fn demo_folder_names_with_parents() -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for f in demo_mail() {
        let mut prefix = String::new();
        for (i, part) in f.name.split('/').enumerate() {
            if i > 0 {
                prefix.push('/');
            }
            prefix.push_str(part);
            names.insert(prefix.clone());
        }
    }
    names
}

/// Splits an mbox into messages: a message starts after a `From ` line at the start of the file
/// or after a blank line; the blank line before a separator (and at the end) belongs to the mbox,
/// not the message; `>From `, `>>From `, ... lose one `>` (mboxrd); LF becomes CRLF.
pub fn parse_mbox(mbox: &[u8]) -> Vec<Vec<u8>> {
    let mut messages: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut prev_blank = true;
    for line in mbox.split_inclusive(|&b| b == b'\n') {
        if prev_blank && line.starts_with(b"From ") {
            messages.push(Vec::new());
            prev_blank = false;
            continue;
        }
        prev_blank = line == b"\n" || line == b"\r\n";
        messages
            .last_mut()
            .expect("the mbox starts with a From line")
            .push(line.to_vec());
    }
    messages
        .into_iter()
        .map(|mut lines| {
            if lines.last().is_some_and(|l| l == b"\n") {
                lines.pop();
            }
            let mut out = Vec::new();
            for line in lines {
                let quotes = line.iter().take_while(|&&b| b == b'>').count();
                let line = if quotes > 0 && line[quotes..].starts_with(b"From ") {
                    &line[1..]
                } else {
                    &line[..]
                };
                let body = line.strip_suffix(b"\n").unwrap_or(line);
                let body = body.strip_suffix(b"\r").unwrap_or(body);
                out.extend_from_slice(body);
                if line.ends_with(b"\n") {
                    out.extend_from_slice(b"\r\n");
                }
            }
            out
        })
        .collect()
}

/// Number of `From ` separator lines (the way a person counts an mbox's messages).
pub fn count_from_lines(mbox: &[u8]) -> usize {
    mbox.split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"From "))
        .count()
}

/// Message count per mailbox of the demo user, straight from the index (not through IMAP).
pub fn index_counts(archive_dir: &std::path::Path) -> std::collections::BTreeMap<String, u64> {
    let index = imapvault::archive::Archive::open_index_at(archive_dir).expect("index");
    let user = index.user_id(imapvault::demo::USER).expect("user");
    index
        .mailboxes(user)
        .expect("mailboxes")
        .into_iter()
        .map(|m| (m.name, m.messages))
        .collect()
}

/// The first line index at which `a` and `b` differ, with both lines, for readable failures.
pub fn first_difference(a: &[u8], b: &[u8]) -> String {
    let la: Vec<&[u8]> = a.split(|&c| c == b'\n').collect();
    let lb: Vec<&[u8]> = b.split(|&c| c == b'\n').collect();
    for i in 0..la.len().max(lb.len()) {
        let x = la.get(i).copied().unwrap_or(b"<end>");
        let y = lb.get(i).copied().unwrap_or(b"<end>");
        if x != y {
            return format!(
                "line {}: {:?} vs {:?} (lengths {} vs {})",
                i + 1,
                String::from_utf8_lossy(x),
                String::from_utf8_lossy(y),
                a.len(),
                b.len()
            );
        }
    }
    format!("same lines, lengths {} vs {}", a.len(), b.len())
}

/// Runs `cmd` with a deadline; kills it (by its own pid) when the deadline passes.
/// Returns the output, or panics naming the command if it had to be killed.
pub fn run_with_timeout(mut cmd: std::process::Command, limit: Duration) -> std::process::Output {
    use std::process::Stdio;
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    // Drain the pipes in threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err_t.join().unwrap_or_default();
            panic!(
                "{what} did not finish in {limit:?}; stderr: {}",
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// Whether an external tool is on PATH; tests that need it fail loudly when it is not, unless
/// `IMAPVAULT_E2E_SKIP_MISSING_TOOLS=1` (then they print why and pass as skipped).
pub fn require_tool(name: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(name).is_file()));
    if !found {
        if std::env::var("IMAPVAULT_E2E_SKIP_MISSING_TOOLS").as_deref() == Ok("1") {
            eprintln!("SKIPPED: {name} is not installed");
            return false;
        }
        panic!("{name} is not installed (tests/run.sh installs it; set IMAPVAULT_E2E_SKIP_MISSING_TOOLS=1 to skip)");
    }
    true
}

/// The number in a `* OK [NAME n]` response code among `lines` (UIDVALIDITY, HIGHESTMODSEQ,
/// UIDNEXT of a SELECT answer).
pub fn response_code(lines: &[String], name: &str) -> u64 {
    let prefix = format!("* OK [{name} ");
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&prefix).and_then(|r| r.split(']').next()))
        .unwrap_or_else(|| panic!("no {name} in {lines:?}"))
        .parse()
        .unwrap()
}

/// The EXISTS count in a SELECT or EXAMINE answer.
pub fn exists_of(lines: &[String]) -> usize {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("* ")?.strip_suffix(" EXISTS")?.parse().ok())
        .unwrap_or_else(|| panic!("no EXISTS in {lines:?}"))
}
