//! IDLE (RFC 2177) over real TLS: new mail and flag changes reach idling clients at once,
//! whoever made them, and an idling session does not hold a worker.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::TestServer;

/// Our rustls stream, with the read-timeout control the `imap` crate's IDLE needs.
struct TlsConn(rustls::StreamOwned<rustls::ClientConnection, TcpStream>);

impl Read for TlsConn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}
impl Write for TlsConn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
impl imap::extensions::idle::SetReadTimeout for TlsConn {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> imap::Result<()> {
        self.0
            .sock
            .set_read_timeout(timeout)
            .map_err(imap::Error::Io)
    }
}

/// A message written for this test, with a unique subject.
fn write_message(dir: &Path, subject: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{subject}.eml"));
    std::fs::write(
        &path,
        format!(
            "From: Ingest Robot <robot@example.org>\r\nTo: demo@example.org\r\n\
             Subject: {subject}\r\nDate: Tue, 3 Jun 2025 10:00:00 +0000\r\n\
             Message-ID: <{subject}@example.org>\r\n\r\nArchived while you were idling.\r\n"
        ),
    )
    .unwrap();
    path
}

/// Runs `imapvault import` as a separate process on the server's archive.
fn import_in_another_process(server: &TestServer, message: &Path) {
    let config = server.dir.path().join("import.toml");
    std::fs::write(
        &config,
        format!(
            "[archive]\ndir = {:?}\n",
            server.archive_dir().display().to_string()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_imapvault"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "import",
            "--user",
            "demo",
            "--folder",
            "INBOX",
        ])
        .arg(message)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 imported"),
        "{out:?}"
    );
}

#[test]
fn idle_client_hears_of_mail_imported_by_another_process() {
    let server = TestServer::start();
    let mut client = imap::Client::new(TlsConn(server.tls_stream()));
    client.read_greeting().unwrap();
    let mut session = client
        .login("demo", &server.password)
        .map_err(|(e, _)| e)
        .unwrap();
    let before = session.select("INBOX").unwrap().exists;

    let message = write_message(server.dir.path(), "pushed-by-idle");
    let importer = std::thread::scope(|scope| {
        let handle = scope.spawn(|| {
            // Give the client time to enter IDLE, so the news arrives while it idles.
            std::thread::sleep(Duration::from_millis(500));
            import_in_another_process(&server, &message);
        });
        let outcome = session
            .idle()
            .timeout(Duration::from_secs(20))
            .keepalive(false)
            .wait_while(|response| !matches!(response, imap::types::UnsolicitedResponse::Exists(n) if n == before + 1))
            .unwrap();
        handle.join().unwrap();
        outcome
    });
    assert_eq!(
        importer,
        imap::extensions::idle::WaitOutcome::MailboxChanged
    );

    // The pushed message is really there.
    let fetched = session
        .fetch(
            (before + 1).to_string(),
            "BODY.PEEK[HEADER.FIELDS (SUBJECT)]",
        )
        .unwrap();
    let header = fetched
        .iter()
        .next()
        .and_then(|f| f.header())
        .unwrap()
        .to_vec();
    assert_eq!(
        String::from_utf8_lossy(&header).trim(),
        "Subject: pushed-by-idle"
    );
    session.logout().unwrap();
}

#[test]
fn idle_client_sees_flag_changes_from_the_users_other_session() {
    let server = TestServer::start();
    let mut idler = server.raw_logged_in();
    idler.command("SELECT INBOX");
    idler.send(b"i1 IDLE\r\n");
    assert_eq!(idler.read_line(), "+ idling");

    let mut other = server.raw_logged_in();
    other.command("SELECT INBOX");
    let stored = other.command("STORE 2 +FLAGS (\\Flagged)");
    assert!(stored.last().unwrap().contains("OK"), "{stored:?}");

    let news = idler.read_line();
    assert_eq!(news, "* 2 FETCH (UID 2 FLAGS (\\Flagged $HasNoAttachment))");
    idler.send(b"DONE\r\n");
    assert_eq!(idler.read_line(), "i1 OK IDLE terminated");
    let noop = idler.command("NOOP");
    assert_eq!(noop.len(), 1, "nothing more to report: {noop:?}");
}

#[test]
fn session_not_idling_gets_exists_with_its_next_command() {
    let server = TestServer::start();
    let mut client = server.raw_logged_in();
    let exists = client.select_exists("INBOX");
    import_in_another_process(&server, &write_message(server.dir.path(), "seen-on-noop"));
    let noop = client.command("NOOP");
    assert_eq!(noop[0], format!("* {} EXISTS", exists + 1), "{noop:?}");
    let fetch = client.command(&format!("FETCH {} (UID)", exists + 1));
    assert!(
        fetch[0].starts_with(&format!("* {} FETCH (UID ", exists + 1)),
        "{fetch:?}"
    );
}

#[test]
fn pipelined_done_is_answered_without_parking() {
    let server = TestServer::start();
    let mut client = server.raw_logged_in();
    client.command("SELECT INBOX");
    client.send(b"i1 IDLE\r\nDONE\r\ni2 NOOP\r\n");
    assert_eq!(client.read_line(), "+ idling");
    assert_eq!(client.read_line(), "i1 OK IDLE terminated");
    assert_eq!(client.read_line(), "i2 OK NOOP completed");
}

#[test]
fn anything_but_done_ends_idle_with_bad() {
    let server = TestServer::start();
    let mut client = server.raw_logged_in();
    client.send(b"i1 IDLE\r\n");
    assert_eq!(client.read_line(), "+ idling");
    client.send(b"i2 NOOP\r\n");
    assert!(client.read_line().starts_with("i1 BAD"));
    let caps = client.command("CAPABILITY");
    assert!(caps[0].contains(" IDLE"), "{caps:?}");
}

#[test]
fn idle_sessions_do_not_hold_workers_and_get_bye_at_shutdown() {
    // The demo server has 16 workers: 40 idlers at once only work if idling holds none.
    let server = TestServer::start();
    let mut idlers = Vec::new();
    for n in 0..40 {
        let mut c = server.raw_logged_in();
        c.send(format!("i{n} IDLE\r\n").as_bytes());
        assert_eq!(c.read_line(), "+ idling", "idler {n}");
        idlers.push(c);
    }
    let mut active = server.raw_logged_in();
    assert!(active.command("NOOP").last().unwrap().contains("OK"));
    drop(server);
    for (n, c) in idlers.iter_mut().enumerate() {
        assert_eq!(c.read_line(), "* BYE Server shutting down", "idler {n}");
    }
}

/// Regression: each session once held a duplicate of its socket for `imapvault kick`, so 10,000
/// idlers needed 20,000 descriptors and the push benchmark ran out. A parked session now costs
/// one descriptor on the server (the client's end is the other one counted here).
#[test]
fn an_idle_session_holds_one_descriptor() {
    fn open_fds() -> usize {
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    }
    let server = TestServer::start();
    let idle = |i: usize| {
        let mut c = server.raw_logged_in();
        c.command("SELECT INBOX");
        c.send(format!("i{i} IDLE\r\n").as_bytes());
        assert_eq!(c.read_line(), "+ idling");
        c
    };
    // A first batch warms every worker up (each opens its own index files once); what a
    // session costs is what the second batch adds.
    let mut idlers: Vec<_> = (0..40).map(idle).collect();
    std::thread::sleep(Duration::from_millis(300));
    let before = open_fds();
    let n = 30;
    idlers.extend((40..40 + n).map(idle));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let extra = open_fds().saturating_sub(before);
        if extra <= 2 * n + 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} idle sessions hold {extra} descriptors (client and server ends together)"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
