//! Every limit of `src/limits.rs` at N and N+1, through the real server over loopback where it
//! is a server behaviour (issue 6), plus the denial-of-service cases: slowloris, a client that
//! never reads, a burst of bad logins.
//!
//! Limits are set small per test ([`TestServer::start_with`]); time limits are set in seconds,
//! below the config file's minimums, so that a test takes seconds. No assertion is on timing:
//! waits are bounded generously and only what happens is checked.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{RawClient, TestServer};
use imapvault::imap::{parse_command, CommandBody};
use imapvault::limits::{Limits, MAX_ID_FIELD, MAX_ID_PAIRS, MAX_ID_VALUE, MAX_SEQUENCE_RANGES};

/// How long any single wait for the server may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A plain-text client on the STARTTLS port, greeting read.
fn plain(server: &TestServer) -> RawClient<TcpStream> {
    let tcp = TcpStream::connect(server.starttls_addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut c = RawClient::new(tcp);
    let greeting = c.read_line();
    assert!(greeting.starts_with("* OK"), "{greeting}");
    c
}

/// Sends raw `bytes` and returns the next line.
fn say<S: Read + Write>(c: &mut RawClient<S>, bytes: &[u8]) -> String {
    c.send(bytes);
    c.read_line()
}

/// Reads lines until the connection ends (bounded by the socket's read timeout); returns them.
fn rest_of<S: Read + Write>(c: &mut RawClient<S>) -> Vec<String> {
    let mut lines = Vec::new();
    for _ in 0..10_000 {
        let mut buf = [0u8; 1];
        // read_line panics on an I/O error (a reset); a reset is an end too.
        match c.stream().read(&mut buf) {
            Ok(0) | Err(_) => return lines,
            Ok(_) => {
                let mut line = String::from_utf8_lossy(&buf).into_owned();
                line.push_str(&c.read_line());
                lines.push(line);
            }
        }
    }
    lines
}

/// A TLS handshake on `tcp` that may fail (a refused connection is closed without one).
fn try_tls(server: &TestServer, tcp: TcpStream) -> Option<Tls> {
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(server.client_config(), name).unwrap();
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock).ok()?;
    }
    Some(stream)
}

/// The first bytes a TLS client sends (its ClientHello), for trickling.
fn client_hello(server: &TestServer) -> Vec<u8> {
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(server.client_config(), name).unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    hello
}

fn login(server: &TestServer) -> RawClient<Tls> {
    server.raw_logged_in()
}

// ------------------------------------------------------------------ framing sizes

#[test]
fn line_length_before_and_after_login_at_n_and_n_plus_1() {
    let limits = Limits {
        line_before_login: 1024,
        line_after_login: 2048,
        ..Limits::DEFAULT
    };
    let server = TestServer::start_with(4, 8, limits);
    // A line of exactly `len` octets (CRLF not counted): an unknown command, padded.
    let line = |tag: &str, len: usize| {
        let mut l = format!("{tag} XNOOP ");
        l.push_str(&"x".repeat(len - l.len()));
        l.push_str("\r\n");
        l
    };
    let mut c = plain(&server);
    let at = say(&mut c, line("a", 1024).as_bytes());
    assert!(at.starts_with("a BAD [PARSE]"), "{at}");
    let over = say(&mut c, line("b", 1025).as_bytes());
    assert!(over.starts_with("b BAD [TOOBIG]"), "{over}");
    // The session goes on.
    assert!(say(&mut c, b"c NOOP\r\n").starts_with("c OK"));

    let mut c = login(&server);
    let at = say(&mut c, line("a", 2048).as_bytes());
    assert!(at.starts_with("a BAD [PARSE]"), "{at}");
    let over = say(&mut c, line("b", 2049).as_bytes());
    assert!(over.starts_with("b BAD [TOOBIG]"), "{over}");
    assert!(say(&mut c, b"c NOOP\r\n").starts_with("c OK"));
}

#[test]
fn literal_size_before_and_after_login_at_n_and_n_plus_1() {
    let limits = Limits {
        literal_before_login: 100,
        literal_after_login: 300,
        ..Limits::DEFAULT
    };
    let server = TestServer::start_with(4, 8, limits);

    fn check<S: Read + Write>(c: &mut RawClient<S>, n: usize) {
        // Synchronising, N: `+`, then the command is answered (LOGIN of a made-up user).
        let plus = say(c, format!("a LOGIN {{{n}}}\r\n").as_bytes());
        assert!(plus.starts_with('+'), "{plus}");
        c.send(&vec![b'u'; n]);
        let answer = say(c, b" pw\r\n");
        assert!(
            answer.starts_with("a NO") || answer.starts_with("a BAD"),
            "{answer}"
        );
        assert!(!answer.contains("TOOBIG"), "{answer}");
        // Synchronising, N+1: NO [TOOBIG] and no `+` (the client never sends the octets).
        let refused = say(c, format!("b LOGIN {{{}}}\r\n", n + 1).as_bytes());
        assert!(refused.starts_with("b NO [TOOBIG]"), "{refused}");
        assert!(say(c, b"c NOOP\r\n").starts_with("c OK"));
        // Non-synchronising, N: accepted.
        c.send(format!("d LOGIN {{{n}+}}\r\n").as_bytes());
        c.send(&vec![b'u'; n]);
        let answer = say(c, b" pw\r\n");
        assert!(answer.starts_with("d "), "{answer}");
        assert!(!answer.contains("TOOBIG"), "{answer}");
        // Non-synchronising, N+1: its octets are already coming, so BYE.
        let bye = say(c, format!("e LOGIN {{{}+}}\r\n", n + 1).as_bytes());
        assert!(bye.starts_with("* BYE [TOOBIG]"), "{bye}");
    }
    check(&mut plain(&server), 100);
    // After login LOGIN is BAD (already logged in), but the framer answers first.
    check(&mut login(&server), 300);
}

#[test]
fn command_size_at_n_and_n_plus_1() {
    let limits = Limits {
        command_before_login: 2000,
        literal_before_login: 100_000,
        ..Limits::DEFAULT
    };
    let server = TestServer::start_with(4, 8, limits);
    // `a LOGIN {L}` CRLF, L octets, CRLF: 13 + digits(L) + L octets in all (the final empty
    // line adds nothing).
    let total = |l: usize| "a LOGIN {}".len() + l.to_string().len() + 2 + l + 2;
    let l = (1..2000).rev().find(|&l| total(l) == 2000).unwrap();
    let mut c = plain(&server);
    let plus = say(&mut c, format!("a LOGIN {{{l}}}\r\n").as_bytes());
    assert!(
        plus.starts_with('+'),
        "a command of exactly 2000 octets: {plus}"
    );
    c.send(&vec![b'u'; l]);
    let answer = say(&mut c, b"\r\n");
    assert!(!answer.contains("TOOBIG"), "{answer}");
    let refused = say(&mut c, format!("b LOGIN {{{}}}\r\n", l + 1).as_bytes());
    assert!(
        refused.starts_with("b NO [TOOBIG]"),
        "2001 octets: {refused}"
    );
}

#[test]
fn bad_commands_before_and_after_login_at_n_and_n_plus_1() {
    let limits = Limits {
        bad_commands_before_login: 3,
        bad_commands_after_login: 5,
        ..Limits::DEFAULT
    };
    let server = TestServer::start_with(4, 8, limits);
    fn run<S: Read + Write>(c: &mut RawClient<S>, n: usize) {
        for i in 1..n {
            let bad = say(c, format!("b{i} BOGUS\r\n").as_bytes());
            assert!(bad.starts_with(&format!("b{i} BAD")), "{bad}");
        }
        // N-1 BADs: still served.
        assert!(say(c, b"n NOOP\r\n").starts_with("n OK"));
        // The Nth: its BAD, then BYE, then the end.
        let bad = say(c, b"last BOGUS\r\n");
        assert!(bad.starts_with("last BAD"), "{bad}");
        let bye = c.read_line();
        assert_eq!(bye, "* BYE Too many invalid commands");
        assert!(rest_of(c).is_empty());
    }
    run(&mut plain(&server), 3);
    // After login the count starts from what was spent before it (nothing here).
    run(&mut login(&server), 5);
}

// ------------------------------------------------------------------ grammar counts (no server)

#[test]
fn id_pairs_and_field_sizes_at_n_and_n_plus_1() {
    let id = |pairs: usize, field: usize, value: usize| {
        let mut cmd = String::from("a ID (");
        for i in 0..pairs {
            let mut name = format!("f{i}");
            name.push_str(&"n".repeat(field.saturating_sub(name.len())));
            cmd.push_str(&format!("\"{name}\" \"{}\" ", "v".repeat(value)));
        }
        cmd.pop();
        cmd.push_str(")\r\n");
        parse_command(cmd.as_bytes())
    };
    assert!(matches!(
        id(MAX_ID_PAIRS, 4, 4).unwrap().body,
        CommandBody::Id(_)
    ));
    assert!(id(MAX_ID_PAIRS + 1, 4, 4).is_err());
    assert!(id(1, MAX_ID_FIELD, 4).is_ok());
    assert!(id(1, MAX_ID_FIELD + 1, 4).is_err());
    assert!(id(1, 4, MAX_ID_VALUE).is_ok());
    assert!(id(1, 4, MAX_ID_VALUE + 1).is_err());
}

#[test]
fn sequence_set_length_at_n_and_n_plus_1() {
    let fetch = |ranges: usize| {
        let set: Vec<String> = (0..ranges).map(|i| (i * 2 + 1).to_string()).collect();
        parse_command(format!("a UID FETCH {} (UID)\r\n", set.join(",")).as_bytes())
    };
    assert!(fetch(MAX_SEQUENCE_RANGES).is_ok());
    assert!(fetch(MAX_SEQUENCE_RANGES + 1).is_err());
}

// ------------------------------------------------------------------ connections

#[test]
fn connections_per_ip_at_n_and_n_plus_1_idle_ones_included() {
    let limits = Limits {
        connections_per_ip: 3,
        ..Limits::DEFAULT
    };
    let server = TestServer::start_with(4, 8, limits);
    // Three connections: one parked in IDLE (it holds no worker but still counts), two plain.
    let mut idler = login(&server);
    idler.command("SELECT INBOX");
    let idling = say(&mut idler, b"i IDLE\r\n");
    assert!(idling.starts_with('+'), "{idling}");
    let _a = plain(&server);
    let b = plain(&server);
    // The fourth is refused at once, on either port.
    let tcp = TcpStream::connect(server.starttls_addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut refused = RawClient::new(tcp);
    let bye = refused.read_line();
    assert!(bye.starts_with("* BYE [UNAVAILABLE]"), "{bye}");
    let tcp = TcpStream::connect(server.tls_addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut refused = RawClient::new(server.wrap_tls(tcp));
    let bye = refused.read_line();
    assert!(bye.starts_with("* BYE [UNAVAILABLE]"), "{bye}");
    // One closes: a new one is served again (bounded retry: the close reaches the server
    // asynchronously).
    drop(b);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let tcp = TcpStream::connect(server.starttls_addr).unwrap();
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut c = RawClient::new(tcp);
        let greeting = c.read_line();
        if greeting.starts_with("* OK") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never admitted again: {greeting}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The idler was never disturbed.
    assert!(say(&mut idler, b"DONE\r\n").starts_with("i OK"));
}

#[test]
fn sessions_per_user_at_n_and_n_plus_1() {
    let limits = Limits {
        sessions_per_user: 2,
        ..Limits::DEFAULT
    };
    let server = TestServer::start_with(8, 8, limits);
    let first = login(&server);
    let _second = login(&server);
    let mut third = server.raw();
    let r = third.command(&format!(
        "LOGIN {} {}",
        imapvault::demo::USER,
        server.password
    ));
    assert!(r.last().unwrap().contains("NO [LIMIT]"), "{r:?}");
    // AUTHENTICATE PLAIN is counted the same way.
    use base64::Engine as _;
    let plain_ir = base64::engine::general_purpose::STANDARD.encode(format!(
        "\0{}\0{}",
        imapvault::demo::USER,
        server.password
    ));
    let r = third.command(&format!("AUTHENTICATE PLAIN {plain_ir}"));
    assert!(r.last().unwrap().contains("NO [LIMIT]"), "{r:?}");
    // A wrong password still gets AUTHENTICATIONFAILED: LIMIT tells only the rightful user.
    let r = third.command(&format!("LOGIN {} wrong", imapvault::demo::USER));
    assert!(
        r.last().unwrap().contains("NO [AUTHENTICATIONFAILED]"),
        "{r:?}"
    );
    // One logs out: the third may log in.
    let mut first = first;
    first.command("LOGOUT");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let r = third.command(&format!(
            "LOGIN {} {}",
            imapvault::demo::USER,
            server.password
        ));
        if r.last().unwrap().contains(" OK ") {
            break;
        }
        assert!(Instant::now() < deadline, "{r:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ------------------------------------------------------------------ time

#[test]
fn prelogin_deadline_cuts_off_a_trickling_client_but_not_a_prompt_one() {
    let limits = Limits {
        prelogin_timeout: Duration::from_secs(2),
        ..Limits::DEFAULT
    };
    let server = TestServer::start_with(4, 8, limits);
    // A prompt client logs in well within the deadline.
    let mut prompt = login(&server);
    assert!(prompt.command("NOOP").last().unwrap().contains(" OK "));

    // A trickler sends a byte every 200 ms, never a whole line: a read timeout would never
    // fire, the deadline does.
    let mut slow = plain(&server);
    let started = Instant::now();
    let mut ended = None;
    for b in b"a LOGIN someone ".iter().cycle() {
        if slow.stream().write_all(&[*b]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        let _ = slow.stream().set_nonblocking(true);
        let mut buf = [0u8; 256];
        let got = slow.stream().read(&mut buf);
        let _ = slow.stream().set_nonblocking(false);
        match got {
            Ok(0) => break,
            Ok(n) => {
                ended = Some(String::from_utf8_lossy(&buf[..n]).into_owned());
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the trickler was never cut off"
        );
    }
    let ended = ended.expect("a BYE before the close");
    assert!(ended.starts_with("* BYE Login timeout"), "{ended}");
    // The logged-in client is not subject to it.
    std::thread::sleep(Duration::from_millis(2100));
    assert!(prompt.command("NOOP").last().unwrap().contains(" OK "));
}

#[test]
fn tls_handshake_deadline_cuts_off_a_trickled_handshake() {
    let limits = Limits {
        tls_handshake_timeout: Duration::from_secs(2),
        ..Limits::DEFAULT
    };
    let server = TestServer::start_with(4, 8, limits);
    // A real ClientHello, sent one byte every 200 ms (never complete before the deadline).
    let hello = client_hello(&server);
    let mut tcp = TcpStream::connect(server.tls_addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    let mut closed = false;
    for b in hello.iter().cycle() {
        if tcp.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 64];
        match tcp.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            // Anything the server sends before the hello is complete is an alert.
            Ok(_) | Err(_) => {
                closed = true;
                break;
            }
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the handshake was never cut off"
        );
    }
    assert!(closed);
    // A normal client still gets in.
    assert!(server
        .raw()
        .command("NOOP")
        .last()
        .unwrap()
        .contains(" OK "));
}

#[test]
fn autologout_ends_an_inactive_session_in_idle_or_not() {
    // Below RFC 9051's 30 minutes only here: the config file refuses less (tested in config).
    let limits = Limits {
        autologout: Duration::from_secs(2),
        ..Limits::DEFAULT
    };
    let server = TestServer::start_with(4, 8, limits);
    let mut quiet = login(&server);
    let mut idler = login(&server);
    idler.command("SELECT INBOX");
    assert!(say(&mut idler, b"i IDLE\r\n").starts_with('+'));
    let bye = quiet.read_line();
    assert!(bye.starts_with("* BYE Autologout"), "{bye}");
    let lines = rest_of(&mut idler);
    assert!(
        lines.iter().any(|l| l.starts_with("* BYE Autologout")),
        "{lines:?}"
    );
}

#[test]
fn write_timeout_frees_the_worker_of_a_client_that_never_reads() {
    // One worker: while the non-reader holds it nobody else is served; once the write timeout
    // ends that session, the next client is.
    let limits = Limits {
        write_timeout: Duration::from_secs(2),
        ..Limits::DEFAULT
    };
    let server = TestServer::start_with(1, 8, limits);
    let mut hog = login(&server);
    hog.command("SELECT INBOX");
    // Far more than the socket buffers hold on both sides: 2,000 whole-mailbox fetches,
    // pipelined, and nothing read.
    let mut pipelined = Vec::new();
    for i in 0..2000 {
        pipelined.extend_from_slice(format!("f{i} FETCH 1:* (BODY.PEEK[])\r\n").as_bytes());
    }
    hog.send(&pipelined);
    // The next client waits in the queue, then is served once the hog's write times out.
    let started = Instant::now();
    let mut next = server.raw_logged_in();
    let waited = started.elapsed();
    assert!(next.command("NOOP").last().unwrap().contains(" OK "));
    eprintln!("next client served after {waited:?} (write timeout 2 s)");
    // The hog's connection was closed by the server: reading drains what was buffered, then
    // ends (never a BYE: it could not be delivered).
    let tcp = &hog.stream().sock;
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut drained = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + PATIENCE;
    loop {
        match hog.stream().read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
        assert!(
            Instant::now() < deadline,
            "the hog's connection was never closed"
        );
    }
    eprintln!("the non-reader got {drained} bytes before its connection was closed");
}

// ------------------------------------------------------------------ denial of service

/// What became of a slowloris attack.
struct Slowloris {
    /// Trickling connections told `* BYE [UNAVAILABLE]` at once.
    refused: usize,
    /// Trickling connections ended by the server later (BYE, or closed mid-handshake).
    cut_off: usize,
    /// Tricklers not yet ended (as far as they knew) when the legitimate client was served.
    alive_when_served: usize,
}

/// Slowloris: 1,000 connections from 127.0.0.1, half on each port, each trickling a byte every
/// 250 ms (a command line that never ends, or a ClientHello), while a legitimate client
/// connects over TLS, logs in, and sends NOOP and SELECT.
fn slowloris(workers: usize, connections_per_ip: usize) -> Slowloris {
    const SLOW: usize = 1000;
    let limits = Limits {
        prelogin_timeout: Duration::from_secs(3),
        tls_handshake_timeout: Duration::from_secs(3),
        connections_per_ip,
        ..Limits::DEFAULT
    };
    let server = TestServer::start_with(workers, 64, limits);
    let hello = client_hello(&server);
    let started = Instant::now();
    let mut slow: Vec<TcpStream> = Vec::with_capacity(SLOW);
    for i in 0..SLOW {
        let addr = if i % 2 == 0 {
            server.starttls_addr
        } else {
            server.tls_addr
        };
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_nonblocking(true).unwrap();
        slow.push(tcp);
    }
    // Trickle: one byte to each every 250 ms; watch for BYE or close.
    let stop = Arc::new(AtomicBool::new(false));
    let ended_so_far = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let trickler = {
        let stop = stop.clone();
        let ended_so_far = ended_so_far.clone();
        std::thread::spawn(move || {
            let mut ended = vec![false; slow.len()];
            let mut sent = vec![0usize; slow.len()];
            let mut refused = 0usize;
            let mut cut_off = 0usize;
            let deadline = Instant::now() + PATIENCE;
            while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                for (i, tcp) in slow.iter_mut().enumerate() {
                    if ended[i] {
                        continue;
                    }
                    let mut buf = [0u8; 512];
                    let outcome = match tcp.read(&mut buf) {
                        Ok(0) => Some(false),
                        Ok(n) => {
                            let text = String::from_utf8_lossy(&buf[..n]);
                            // The plain port's greeting is not an end; a BYE is.
                            if text.contains("* BYE [UNAVAILABLE]") {
                                Some(true)
                            } else if text.contains("* BYE") {
                                Some(false)
                            } else {
                                None
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
                        Err(_) => Some(false),
                    };
                    match outcome {
                        Some(true) => {
                            ended[i] = true;
                            refused += 1;
                        }
                        Some(false) => {
                            ended[i] = true;
                            cut_off += 1;
                        }
                        None => {
                            // The next byte of a command line that never ends (plain port) or
                            // of a ClientHello (TLS port).
                            let byte = if i % 2 == 0 {
                                b'x'
                            } else {
                                hello[sent[i] % hello.len()]
                            };
                            if matches!(tcp.write(&[byte]), Ok(1)) {
                                sent[i] += 1;
                            }
                        }
                    }
                }
                ended_so_far.store(refused + cut_off, Ordering::SeqCst);
                if ended.iter().all(|e| *e) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            (refused, cut_off, ended.iter().filter(|e| !**e).count())
        })
    };
    // The legitimate client, meanwhile. It may be refused while the tricklers' connections from
    // the same address are still open (they share 127.0.0.1); it retries until served.
    let mut attempts = 0;
    let (served_after, alive_when_served) = loop {
        attempts += 1;
        let tcp = TcpStream::connect(server.tls_addr).unwrap();
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        // Refused connections over TLS get their BYE from one refuser thread; when it is busy
        // they are closed without a handshake. Either way: try again.
        let greeting = match try_tls(&server, tcp) {
            Some(tls) => {
                let mut c = RawClient::new(tls);
                let greeting = c.read_line();
                if greeting.starts_with("* OK") {
                    Some(c)
                } else {
                    assert!(
                        greeting.is_empty() || greeting.starts_with("* BYE [UNAVAILABLE]"),
                        "{greeting}"
                    );
                    None
                }
            }
            None => None,
        };
        if let Some(mut c) = greeting {
            let r = c.command(&format!(
                "LOGIN {} {}",
                imapvault::demo::USER,
                server.password
            ));
            assert!(r.last().unwrap().contains(" OK "), "{r:?}");
            assert!(c.command("NOOP").last().unwrap().contains(" OK "));
            let r = c.command("SELECT INBOX");
            assert!(r.last().unwrap().contains(" OK "), "{r:?}");
            break (
                started.elapsed(),
                SLOW - ended_so_far.load(Ordering::SeqCst),
            );
        }
        assert!(
            started.elapsed() < PATIENCE,
            "never served during the attack"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let (refused, cut_off, still_open) = trickler.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    let outcome = Slowloris {
        refused,
        cut_off,
        alive_when_served,
    };
    eprintln!(
        "slowloris, {workers} workers, {connections_per_ip} connections per IP: {SLOW} trickling \
         connections: {refused} refused at once with BYE [UNAVAILABLE], {cut_off} cut off (BYE \
         or closed) at the deadline, {still_open} still open; the legitimate client was served \
         after {served_after:?} ({attempts} attempt(s)) while {alive_when_served} tricklers \
         were still connected"
    );
    assert_eq!(still_open, 0, "trickling connections outlived the deadline");
    assert_eq!(refused + cut_off, SLOW);
    outcome
}

/// With the default cap of connections per address, all but 50 tricklers are refused at once;
/// the legitimate client shares their address (127.0.0.1), so it is refused too until the
/// deadline has cut them off.
#[test]
fn slowloris_1000_trickling_connections_per_ip_cap() {
    let s = slowloris(64, Limits::DEFAULT.connections_per_ip);
    // Of the 500 on the plain port (refused in clear text, always readable), at most 50 were
    // let in while all were connecting; on the TLS port a refusal may be a close instead.
    assert!(s.refused >= 400, "{}", s.refused);
    assert!(s.cut_off > 0);
}

/// With the address cap out of the way, 1,000 tricklers against 4 workers: they wait in the
/// reactor, not on workers, so the legitimate client is served while more of them are
/// connected than there are workers (a count, not a time).
#[test]
fn slowloris_1000_trickling_connections_cannot_starve_4_workers() {
    let s = slowloris(4, 5000);
    assert!(s.cut_off > 0);
    assert!(
        s.alive_when_served > 4 * 10,
        "served only once {} tricklers were left",
        s.alive_when_served
    );
}

/// 200 bad logins in parallel while a logged-in client keeps sending NOOP: every NOOP is
/// answered, every bad login gets `NO [AUTHENTICATIONFAILED]`. The NOOP latencies are printed
/// (issue 6 asks for the figures; no timed assertion).
#[test]
fn bad_logins_200_parallel_while_noops_are_answered() {
    const BAD: usize = 200;
    let limits = Limits {
        connections_per_ip: 1000,
        ..Limits::DEFAULT
    };
    let server = Arc::new(TestServer::start_with(256, 256, limits));
    let mut noop = login(&server);
    let done = Arc::new(AtomicBool::new(false));
    let attackers: Vec<_> = (0..BAD)
        .map(|i| {
            let server = server.clone();
            std::thread::spawn(move || {
                let mut c = server.raw();
                let user = match i % 4 {
                    0 => imapvault::demo::USER.to_owned(),
                    1 => format!("nobody{i}"),
                    2 => "\"x' OR 1=1 --\"".to_owned(),
                    _ => "\"a*%\"".to_owned(),
                };
                let r = c.command(&format!("LOGIN {user} wrong{i}"));
                r.last().unwrap().clone()
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || {
            for a in attackers {
                let answer = a.join().unwrap();
                assert!(answer.contains("NO [AUTHENTICATIONFAILED]"), "{answer}");
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    while !done.load(Ordering::SeqCst) {
        let t = Instant::now();
        let r = noop.command("NOOP");
        latencies.push(t.elapsed());
        assert!(r.last().unwrap().contains(" OK "), "{r:?}");
        assert!(Instant::now() < deadline, "bad logins never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    watcher.join().unwrap();
    latencies.sort();
    let pick = |p: usize| latencies[(latencies.len() - 1) * p / 100];
    eprintln!(
        "NOOP during {BAD} parallel bad logins: {} NOOPs, p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        pick(50),
        pick(99),
        latencies.last().unwrap()
    );
    assert!(!latencies.is_empty());
}

#[test]
fn hostile_user_names_get_authenticationfailed() {
    // Short pauses: nine failures from one address would otherwise wait 30 s in all.
    let limits = Limits {
        login_failure_delay: Duration::from_millis(20),
        login_failure_delay_max: Duration::from_millis(100),
        ..Limits::DEFAULT
    };
    let server = TestServer::start_with(4, 8, limits);
    let mut c = server.raw();
    for user in [
        "nobody",
        "\"demo\\\"\"",
        "\"de*mo\"",
        "\"%\"",
        "\"x' OR '1'='1\"",
        "\"demo; DROP TABLE users\"",
        "{5+}\r\nde\x01mo",
    ] {
        let r = c.command(&format!("LOGIN {user} wrong"));
        assert!(
            r.last().unwrap().contains("NO [AUTHENTICATIONFAILED]"),
            "{user:?}: {r:?}"
        );
    }
    // A real user with a wrong password: the same answer, word for word.
    let wrong = c.command(&format!("LOGIN {} wrong", imapvault::demo::USER));
    let unknown = c.command("LOGIN nobody wrong");
    let text = |r: &[String]| r.last().unwrap().split_once(' ').unwrap().1.to_owned();
    assert_eq!(text(&wrong), text(&unknown));
}

/// Unknown user and wrong password: the same answer after the same work (a hash check against a
/// decoy for the unknown user). The mean times are printed for the record, not asserted.
#[test]
fn unknown_user_and_wrong_password_answer_alike() {
    let limits = Limits {
        login_failure_delay: Duration::ZERO,
        login_failure_delay_max: Duration::ZERO,
        ..Limits::DEFAULT
    };
    let server = TestServer::start_with(4, 8, limits);
    let mut c = server.raw();
    let (mut unknown, mut wrong) = (Duration::ZERO, Duration::ZERO);
    const ROUNDS: u32 = 10;
    for i in 0..ROUNDS {
        let t = Instant::now();
        let a = c.command(&format!("LOGIN nobody{i} wrong"));
        unknown += t.elapsed();
        let t = Instant::now();
        let b = c.command(&format!("LOGIN {} wrong{i}", imapvault::demo::USER));
        wrong += t.elapsed();
        let text = |r: &[String]| r.last().unwrap().split_once(' ').unwrap().1.to_owned();
        assert_eq!(text(&a), text(&b));
        assert!(text(&a).starts_with("NO [AUTHENTICATIONFAILED]"), "{a:?}");
    }
    eprintln!(
        "failed LOGIN, mean of {ROUNDS}: unknown user {:?}, wrong password {:?}",
        unknown / ROUNDS,
        wrong / ROUNDS
    );
}

/// `[limits] search_secs`: a SEARCH, SORT or THREAD whose text checks reach the deadline is
/// answered `NO [LIMIT]` (and the session goes on); within the budget the same commands are
/// answered. A zero budget stands for "already past it": the configured minimum, 1 s, is not a
/// wait a test can rely on to run out.
#[test]
fn search_sort_and_thread_past_the_time_budget_are_no_limit() {
    for (budget, want) in [
        (Duration::ZERO, "NO [LIMIT]"),
        (Limits::DEFAULT.search_budget, "OK"),
    ] {
        let limits = Limits {
            search_budget: budget,
            ..common::test_limits()
        };
        let server = TestServer::start_with(4, 8, limits);
        let mut c = login(&server);
        c.send(b"s SELECT INBOX\r\n");
        let selected = c.read_until_tagged("s");
        assert!(selected.last().unwrap().starts_with("s OK"), "{selected:?}");
        // One character: every message's text is checked, so the deadline is looked at.
        for (tag, command) in [
            ("a", "SEARCH TEXT e"),
            ("b", "SORT (DATE) UTF-8 TEXT e"),
            ("c", "THREAD REFERENCES UTF-8 TEXT e"),
        ] {
            c.send(format!("{tag} {command}\r\n").as_bytes());
            let lines = c.read_until_tagged(tag);
            let done = lines.last().unwrap();
            assert!(
                done.starts_with(&format!("{tag} {want}")),
                "budget {budget:?}, {command}: {lines:?}"
            );
        }
        assert!(say(&mut c, b"d NOOP\r\n").starts_with("d OK"));
    }
}
