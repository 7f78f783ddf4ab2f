//! The real binary as an admin runs it (issue 8): SIGHUP reloads the certificate for new
//! connections while open sessions go on; SIGTERM gives every session `* BYE` and exits 0;
//! `imapvault sessions` and `kick` work through the control socket.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::RawClient;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// A client that trusts both certificates and reports which one the server showed.
fn connect(
    addr: SocketAddr,
    roots: &[String],
) -> (
    RawClient<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>,
    Vec<u8>,
) {
    let mut store = rustls::RootCertStore::empty();
    for pem in roots {
        store
            .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
            .unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(store)
    .with_no_client_auth();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock).unwrap();
    }
    let shown = stream.conn.peer_certificates().unwrap()[0].to_vec();
    let mut client = RawClient::new(stream);
    assert!(client.read_line().starts_with("* OK"));
    (client, shown)
}

fn kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// `imapvault serve` run as a separate process on a fresh archive with user `ann`, using
/// certificate `a`; `b` is a second certificate in the same directory, for SIGHUP.
struct Daemon {
    dir: tempfile::TempDir,
    child: std::process::Child,
    addr: SocketAddr,
    /// The plain (STARTTLS) port: it greets at once, before any handshake.
    plain_addr: SocketAddr,
    config: std::path::PathBuf,
    der_a: Vec<u8>,
    der_b: Vec<u8>,
    roots: [String; 2],
}

impl Daemon {
    fn start() -> Daemon {
        Daemon::start_with("", None)
    }

    /// As [`Daemon::start`], with `extra` appended to the configuration and, with `nofile`,
    /// that limit on open files (`ulimit -n`, so the binary runs as an admin would run it).
    fn start_with(extra: &str, nofile: Option<u32>) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let make = |name: &str| {
            let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
            std::fs::write(dir.path().join(format!("{name}.pem")), c.cert.pem()).unwrap();
            std::fs::write(
                dir.path().join(format!("{name}.key")),
                c.key_pair.serialize_pem(),
            )
            .unwrap();
            (c.cert.pem(), c.cert.der().to_vec())
        };
        let (pem_a, der_a) = make("a");
        let (pem_b, der_b) = make("b");
        std::fs::copy(dir.path().join("a.pem"), dir.path().join("cert.pem")).unwrap();
        std::fs::copy(dir.path().join("a.key"), dir.path().join("key.pem")).unwrap();
        let (port, plain_port) = (common::free_port(), common::free_port());
        let config = dir.path().join("imapvault.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten_tls = [\"127.0.0.1:{port}\"]\n\
                 listen_starttls = [\"127.0.0.1:{plain_port}\"]\nworkers = 4\n\
                 [tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n[archive]\ndir = \"archive\"\n[log]\nlevel = \"info\"\n{extra}"
            ),
        )
        .unwrap();
        let mut add = admin(&config, &["user", "add", "ann", "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        add.stdin.take().unwrap().write_all(b"pw-of-ann\n").unwrap();
        assert!(add.wait().unwrap().success());
        let mut serve = match nofile {
            None => admin(&config, &["serve"]),
            Some(n) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(env!("CARGO_BIN_EXE_imapvault"))
                    .arg("--config")
                    .arg(&config)
                    .arg("serve");
                sh
            }
        };
        let child = serve
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Daemon {
            dir,
            child,
            addr,
            plain_addr: SocketAddr::from(([127, 0, 0, 1], plain_port)),
            config,
            der_a,
            der_b,
            roots: [pem_a, pem_b],
        }
    }

    /// Runs an admin subcommand against this server's configuration.
    fn run(&self, args: &[&str]) -> std::process::Output {
        admin(&self.config, args).output().unwrap()
    }

    /// Sends SIGTERM, runs `meanwhile` (checks of what clients hear), and waits (bounded) for the
    /// exit status.
    fn stop_after(&mut self, meanwhile: impl FnOnce()) -> std::process::ExitStatus {
        kill(self.child.id(), "-TERM");
        meanwhile();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn admin(config: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imapvault"));
    cmd.arg("--config").arg(config).args(args);
    cmd
}

#[test]
fn sighup_reloads_the_certificate_and_sigterm_says_bye_to_everyone() {
    let mut daemon = Daemon::start();
    let (addr, roots, dir) = (
        daemon.addr,
        daemon.roots.clone(),
        daemon.dir.path().to_owned(),
    );
    let (der_a, der_b) = (daemon.der_a.clone(), daemon.der_b.clone());
    let (mut old, shown) = connect(addr, &roots);
    assert_eq!(shown, der_a);
    assert!(old
        .command("LOGIN ann pw-of-ann")
        .last()
        .unwrap()
        .contains("OK"));

    // Renewed certificate: new connections get it after SIGHUP, the open one goes on.
    std::fs::copy(dir.join("b.pem"), dir.join("cert.pem")).unwrap();
    std::fs::copy(dir.join("b.key"), dir.join("key.pem")).unwrap();
    kill(daemon.child.id(), "-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, shown) = connect(addr, &roots);
        if shown == der_b {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the certificate"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        old.command("NOOP").last().unwrap().contains("OK"),
        "open session survives SIGHUP"
    );

    // A broken certificate on the next SIGHUP keeps the good one in service.
    std::fs::write(dir.join("cert.pem"), "not a certificate").unwrap();
    kill(daemon.child.id(), "-HUP");
    std::thread::sleep(Duration::from_millis(300));
    let (_, shown) = connect(addr, &roots);
    assert_eq!(
        shown, der_b,
        "a bad certificate must not replace the good one"
    );

    // SIGTERM: every session hears BYE, idle or not, and the process exits 0.
    let (mut idle, _) = connect(addr, &roots);
    assert!(idle
        .command("LOGIN ann pw-of-ann")
        .last()
        .unwrap()
        .contains("OK"));
    idle.send(b"i IDLE\r\n");
    assert_eq!(idle.read_line(), "+ idling");
    let status = daemon.stop_after(|| {
        assert_eq!(old.read_line(), "* BYE Server shutting down");
        assert_eq!(idle.read_line(), "* BYE Server shutting down");
    });
    assert!(status.success(), "{status:?}");
}

#[test]
fn sessions_lists_live_sessions_and_kick_ends_a_users() {
    let mut daemon = Daemon::start();
    let mail = daemon.dir.path().join("hello.eml");
    std::fs::write(&mail, "From: b@example.org\r\nSubject: hello\r\n\r\nhi\r\n").unwrap();
    let out = daemon.run(&[
        "import",
        "--user",
        "ann",
        "--folder",
        "INBOX",
        mail.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let roots = daemon.roots.clone();
    let (mut a, _) = connect(daemon.addr, &roots);
    assert!(a
        .command("LOGIN ann pw-of-ann")
        .last()
        .unwrap()
        .contains("OK"));
    a.command("ID (\"name\" \"TestMail\" \"version\" \"7.1\")");
    assert!(a.command("EXAMINE INBOX").last().unwrap().contains("OK"));
    let (mut b, _) = connect(daemon.addr, &roots);
    assert!(b
        .command("LOGIN ann pw-of-ann")
        .last()
        .unwrap()
        .contains("OK"));
    b.send(b"i IDLE\r\n");
    assert_eq!(b.read_line(), "+ idling");
    let (mut anonymous, _) = connect(daemon.addr, &roots);

    let out = daemon.run(&["sessions"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<Vec<&str>> = listing
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(rows.len(), 3, "{listing}");
    let examining = rows
        .iter()
        .find(|r| r[4] == "selected")
        .expect("selected session");
    assert_eq!(
        (examining[1], examining[3], examining[5]),
        ("ann", "TestMail 7.1", "INBOX")
    );
    assert!(examining[8].parse::<u64>().unwrap() > 0 && examining[9].parse::<u64>().unwrap() > 0);
    assert!(
        rows.iter().any(|r| r[1] == "ann" && r[4] == "idle"),
        "{listing}"
    );
    assert!(
        rows.iter()
            .any(|r| r[1] == "-" && r[4] == "not authenticated"),
        "{listing}"
    );

    // Kicking the user ends both of ann's sessions, idle or not, and only those.
    let out = daemon.run(&["kick", "ann"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "kicked 2");
    assert_eq!(a.read_line(), "* BYE Disconnected by the administrator");
    assert_eq!(b.read_line(), "* BYE Disconnected by the administrator");
    assert!(anonymous.command("NOOP").last().unwrap().contains("OK"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = daemon.run(&["sessions"]);
        if String::from_utf8_lossy(&out.stdout).lines().count() == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "kicked sessions still listed");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Kicking nobody says so with a failing exit status.
    assert_eq!(daemon.run(&["kick", "nobody"]).status.code(), Some(1));
    assert!(daemon.stop_after(|| ()).success());
    // With the server stopped there is nobody to ask.
    let out = daemon.run(&["sessions"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is `imapvault serve` running"));
}

/// Issue 6: running out of file descriptors is survived and recovered from. The server runs
/// with `ulimit -n 128`; clients connect to the plain port (which greets at once) until one
/// gets no greeting: the server could not accept it and it waits in the kernel's queue. When
/// the others hang up, that waiting connection is accepted and greeted without any new
/// connection arriving to wake the listener (the reactor retries a listener whose accept
/// failed), and the server goes on serving TLS logins.
#[test]
fn running_out_of_file_descriptors_is_survived_and_recovered_from() {
    use std::io::{BufRead, BufReader};
    let daemon = Daemon::start_with("[limits]\nconnections_per_ip = 10000\n", Some(128));
    let greeted = |tcp: &TcpStream, wait: Duration| -> bool {
        tcp.set_read_timeout(Some(wait)).unwrap();
        let mut line = String::new();
        match BufReader::new(tcp).read_line(&mut line) {
            Ok(_) => line.starts_with("* OK"),
            Err(_) => false,
        }
    };
    let mut held = Vec::new();
    let waiting = loop {
        assert!(
            held.len() < 300,
            "300 connections and the server never ran out of descriptors"
        );
        let tcp = TcpStream::connect(daemon.plain_addr).unwrap();
        if !greeted(&tcp, Duration::from_secs(3)) {
            break tcp;
        }
        held.push(tcp);
    };
    assert!(held.len() > 10, "only {} connections fit", held.len());
    drop(held);
    assert!(
        greeted(&waiting, Duration::from_secs(20)),
        "the connection left waiting was never served"
    );
    let (mut client, _) = connect(daemon.addr, &daemon.roots);
    let r = client.command("LOGIN ann pw-of-ann");
    assert!(r.last().unwrap().contains(" OK "), "{r:?}");
}
