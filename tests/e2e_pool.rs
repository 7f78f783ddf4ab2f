//! A full worker pool: a new connection is told `* BYE [UNAVAILABLE]` at once, on both ports,
//! and served again once a worker is free (DESIGN §2).

mod common;

use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use common::RawClient;
use imapvault::config::FlagPolicy;
use imapvault::imap::SessionContext;
use imapvault::server::{tls, Security, Server, ServerSettings};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

#[test]
fn full_pool_says_bye_unavailable_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let demo = imapvault::demo::prepare(Some(dir.path())).unwrap();
    let archive = imapvault::archive::Archive::open(&dir.path().join("archive")).unwrap();
    let config =
        tls::server_config_from_pem(demo.cert_pem.as_bytes(), demo.key_pem.as_bytes()).unwrap();
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = Server::bind(ServerSettings {
        listeners: vec![(any, Security::ImplicitTls), (any, Security::StartTls)],
        workers: 1,
        queue: 0,
        tls: Arc::new(RwLock::new(config)),
    })
    .unwrap();
    let context = Arc::new(context_for(&archive).stopped_by(server.stop_flag()));
    let addrs = server.local_addrs();
    let addr = |s: Security| addrs.iter().find(|(_, k)| *k == s).unwrap().0;
    let shutdown = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run(context).unwrap());

    // The one worker serves this client (once its thread is up and waiting: bounded retry).
    // It logs in: a logged-in session holds its worker while it waits for a command, whereas
    // one that has not logged in waits for its line in the reactor (issue 6).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut occupant = loop {
        let tcp = TcpStream::connect(addr(Security::ImplicitTls)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut client = RawClient::new(tls_client(&demo.cert_pem, tcp));
        let greeting = client.read_line();
        if greeting.starts_with("* OK") {
            let r = client.command(&format!(
                "LOGIN {} {}",
                imapvault::demo::USER,
                demo.password
            ));
            assert!(r.last().unwrap().contains(" OK "), "{r:?}");
            break client;
        }
        assert!(greeting.starts_with("* BYE [UNAVAILABLE]"), "{greeting}");
        assert!(
            Instant::now() < deadline,
            "the worker never took a connection"
        );
        std::thread::sleep(Duration::from_millis(50));
    };

    // Plain port: BYE in clear text.
    let refused = TcpStream::connect(addr(Security::StartTls)).unwrap();
    refused
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let line = RawClient::new(refused).read_line();
    assert!(line.starts_with("* BYE [UNAVAILABLE]"), "{line}");

    // TLS port: BYE over TLS.
    let tcp = TcpStream::connect(addr(Security::ImplicitTls)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let line = RawClient::new(tls_client(&demo.cert_pem, tcp)).read_line();
    assert!(line.starts_with("* BYE [UNAVAILABLE]"), "{line}");

    // Once the occupant leaves, a new client is served (bounded wait for the worker to return).
    let bye = occupant.command("LOGOUT");
    assert!(bye.last().unwrap().contains("OK"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let tcp = TcpStream::connect(addr(Security::StartTls)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let line = RawClient::new(tcp).read_line();
        if line.starts_with("* OK") {
            break;
        }
        assert!(line.starts_with("* BYE [UNAVAILABLE]"), "{line}");
        assert!(Instant::now() < deadline, "worker never came back");
        std::thread::sleep(Duration::from_millis(50));
    }
    shutdown.request();
    thread.join().unwrap();
}

/// A TLS client over `tcp` that trusts `cert_pem`, handshake done.
fn tls_client(
    cert_pem: &str,
    tcp: TcpStream,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock).unwrap();
    }
    stream
}

fn context_for(archive: &imapvault::archive::Archive) -> SessionContext {
    SessionContext::new(archive, FlagPolicy::PerUser)
}
