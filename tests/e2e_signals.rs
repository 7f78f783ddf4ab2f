//! The real binary under signals: SIGHUP reloads the certificate for new connections while
//! open sessions go on; SIGTERM gives every session `* BYE` and exits 0 (issue 8).

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::RawClient;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// A free loopback port (bound then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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

#[test]
fn sighup_reloads_the_certificate_and_sigterm_says_bye_to_everyone() {
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
    let port = free_port();
    let config = dir.path().join("imapvault.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten_tls = [\"127.0.0.1:{port}\"]\nlisten_starttls = []\nworkers = 4\n\
             [tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n[archive]\ndir = \"archive\"\n[log]\nlevel = \"info\"\n"
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_imapvault");
    let mut add = Command::new(bin)
        .args([
            "--config",
            config.to_str().unwrap(),
            "user",
            "add",
            "ann",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    add.stdin.take().unwrap().write_all(b"pw-of-ann\n").unwrap();
    assert!(add.wait().unwrap().success());

    let mut server = Command::new(bin)
        .args(["--config", config.to_str().unwrap(), "serve"])
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
    let roots = [pem_a, pem_b];

    let (mut old, shown) = connect(addr, &roots);
    assert_eq!(shown, der_a);
    assert!(old
        .command("LOGIN ann pw-of-ann")
        .last()
        .unwrap()
        .contains("OK"));

    // Renewed certificate: new connections get it after SIGHUP, the open one goes on.
    std::fs::copy(dir.path().join("b.pem"), dir.path().join("cert.pem")).unwrap();
    std::fs::copy(dir.path().join("b.key"), dir.path().join("key.pem")).unwrap();
    kill(server.id(), "-HUP");
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
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").unwrap();
    kill(server.id(), "-HUP");
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
    kill(server.id(), "-TERM");
    assert_eq!(old.read_line(), "* BYE Server shutting down");
    assert_eq!(idle.read_line(), "* BYE Server shutting down");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "server did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}
