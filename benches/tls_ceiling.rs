//! The TLS ceiling for FETCH: how fast rustls (ring, the provider imapvault uses) moves
//! application data between a client and a server in memory, with no sockets and no IMAP.
//!
//! Owns: one measurement, printed as `RESULT workload=tls-ceiling ...` for compare.sh.
//! The server writes 16 KiB plaintext chunks (one full TLS record each); the client decrypts
//! them. Reported: encrypt-only and decrypt-only rates (each end on its own core: the bound for
//! one FETCH stream when client and server each have a core) and the combined rate (both ends
//! on one core, what a 2-core box running server + client at once is nearer to).
//!
//! ```text
//! cargo bench --bench tls_ceiling [-- --seconds 3]
//! ```

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

const CHUNK: usize = 16 * 1024;

fn main() {
    let mut seconds = 3.0f64;
    // Run with no arguments (`cargo test --all-targets`, a debug build): a quick smoke run that
    // proves the code works; the figures only mean something from `cargo bench` / compare.sh.
    if std::env::args().len() <= 1 {
        seconds = 0.05;
    }
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--seconds" {
            seconds = args.next().and_then(|v| v.parse().ok()).unwrap_or(seconds);
        }
    }
    let (client_cfg, server_cfg) = configs();
    let (client, mut server) = handshake(&client_cfg, &server_cfg);
    let suite = format!("{:?}", client.negotiated_cipher_suite().map(|s| s.suite()));

    // Phase 1: encrypt only, the output buffer reused.
    let plain = vec![0x5au8; CHUNK];
    let limit = Duration::from_secs_f64(seconds);
    let mut out = Vec::with_capacity(CHUNK + 64);
    let t0 = Instant::now();
    let mut enc_bytes = 0usize;
    while t0.elapsed() < limit {
        for _ in 0..16 {
            out.clear();
            encrypt(&mut server, &plain, &mut out);
            enc_bytes += CHUNK;
        }
    }
    let enc_secs = t0.elapsed().as_secs_f64();
    // The client never saw those records; start a fresh pair for the decrypt phases.
    let (mut client, mut server) = handshake(&client_cfg, &server_cfg);

    // Phase 2: decrypt only: records made ahead (untimed) in 32 MiB batches, then decrypted.
    let mut sink = vec![0u8; CHUNK * 2];
    let mut dec_bytes = 0usize;
    let mut dec_time = Duration::ZERO;
    while dec_time < limit {
        let wire: Vec<Vec<u8>> = (0..2048)
            .map(|_| {
                let mut out = Vec::with_capacity(CHUNK + 64);
                encrypt(&mut server, &plain, &mut out);
                out
            })
            .collect();
        let t1 = Instant::now();
        for rec in &wire {
            dec_bytes += decrypt(&mut client, rec, &mut sink);
        }
        dec_time += t1.elapsed();
    }
    let dec_secs = dec_time.as_secs_f64();

    // Phase 3: both ends, one thread.
    let t2 = Instant::now();
    let mut both = 0usize;
    while t2.elapsed() < limit {
        for _ in 0..16 {
            out.clear();
            encrypt(&mut server, &plain, &mut out);
            both += decrypt(&mut client, &out, &mut sink);
        }
    }
    let both_secs = t2.elapsed().as_secs_f64();

    let mib = |b: usize, s: f64| b as f64 / 1048576.0 / s;
    eprintln!(
        "rustls {suite}, 16 KiB records, in memory: encrypt {:.0} MiB/s, decrypt {:.0} MiB/s, \
         encrypt+decrypt on one core {:.0} MiB/s",
        mib(enc_bytes, enc_secs),
        mib(dec_bytes, dec_secs),
        mib(both, both_secs)
    );
    println!(
        "RESULT label=rustls workload=tls-ceiling cipher={suite} encrypt_bytes_per_s={:.0} \
         decrypt_bytes_per_s={:.0} both_one_core_bytes_per_s={:.0}",
        enc_bytes as f64 / enc_secs,
        dec_bytes as f64 / dec_secs,
        both as f64 / both_secs
    );
}

fn encrypt(server: &mut ServerConnection, plain: &[u8], out: &mut Vec<u8>) {
    server.writer().write_all(plain).expect("buffer plaintext");
    while server.wants_write() {
        server.write_tls(out).expect("write_tls");
    }
}

fn decrypt(client: &mut ClientConnection, mut rec: &[u8], sink: &mut [u8]) -> usize {
    let mut n = 0;
    while !rec.is_empty() {
        client.read_tls(&mut rec).expect("read_tls");
        client.process_new_packets().expect("decrypt");
        n += drain(client, sink);
    }
    n
}

fn drain(client: &mut ClientConnection, sink: &mut [u8]) -> usize {
    let mut n = 0;
    loop {
        match client.reader().read(sink) {
            Ok(0) => return n,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return n,
            Err(e) => panic!("reading plaintext: {e}"),
        }
    }
}

/// A CA and a leaf for "localhost" signed by it; the client trusts the CA.
fn configs() -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA cert");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("leaf params")
        .signed_by(&leaf_key, &ca, &ca_key)
        .expect("leaf cert");

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone()).expect("trust the CA");
    let client = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone(), ca.der().clone()];
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server cert");
    (Arc::new(client), Arc::new(server))
}

fn handshake(
    client_cfg: &Arc<ClientConfig>,
    server_cfg: &Arc<ServerConfig>,
) -> (ClientConnection, ServerConnection) {
    let name = ServerName::try_from("localhost").expect("name");
    let mut client = ClientConnection::new(client_cfg.clone(), name).expect("client");
    let mut server = ServerConnection::new(server_cfg.clone()).expect("server");
    let mut buf = Vec::new();
    for _ in 0..20 {
        if !client.is_handshaking() && !server.is_handshaking() {
            break;
        }
        buf.clear();
        while client.wants_write() {
            client.write_tls(&mut buf).expect("client write");
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            server.read_tls(&mut rd).expect("server read");
            server.process_new_packets().expect("server process");
        }
        buf.clear();
        while server.wants_write() {
            server.write_tls(&mut buf).expect("server write");
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            client.read_tls(&mut rd).expect("client read");
            client.process_new_packets().expect("client process");
        }
    }
    assert!(
        !client.is_handshaking() && !server.is_handshaking(),
        "handshake done"
    );
    (client, server)
}
