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
    /// Prepares the demo archive and starts serving it on loopback.
    pub fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let demo = imapvault::demo::prepare(Some(dir.path())).expect("demo archive");
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let server = imapvault::demo::bind(
            &demo,
            vec![(any, Security::ImplicitTls), (any, Security::StartTls)],
        )
        .expect("bind");
        let addrs = server.local_addrs();
        let find = |s: Security| addrs.iter().find(|(_, k)| *k == s).expect("listener").0;
        let shutdown = server.shutdown_handle();
        let thread = std::thread::spawn(move || {
            server.run().expect("server run");
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
        let mut client = imap::Client::new(self.tls_stream());
        client.read_greeting().expect("greeting");
        client
            .login(imapvault::demo::USER, &self.password)
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
