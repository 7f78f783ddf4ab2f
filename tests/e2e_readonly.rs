//! The archive is read-only from the wire: every write command is refused with a code clients
//! understand, nothing on disk changes, and the session keeps working. Also the plain port's
//! rules (no login before STARTTLS, nothing pipelined after STARTTLS runs) and sequence-set
//! edge cases. Raw IMAP lines over real TLS, so the exact answers are checked.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{demo_mail, exists_of, RawClient, TestServer};

fn tagged(lines: &[String]) -> &str {
    lines.last().expect("a tagged line")
}

/// The tagged line minus its tag.
fn status_of(lines: &[String]) -> String {
    tagged(lines).split_once(' ').expect("tag").1.to_owned()
}

fn assert_no_code(lines: &[String], code: &str, what: &str) {
    let status = status_of(lines);
    assert!(
        status.starts_with(&format!("NO [{code}]")),
        "{what}: expected NO [{code}], got {lines:?}"
    );
    // No untagged data that suggests something happened (EXPUNGE, EXISTS, new FETCH ...).
    for l in &lines[..lines.len() - 1] {
        assert!(
            !l.contains("EXPUNGE") && !l.contains("EXISTS") && !l.contains(" FETCH "),
            "{what}: {l}"
        );
    }
}

#[test]
fn write_commands_are_refused_and_nothing_changes() {
    let server = TestServer::start();
    let blobs = server.archive_dir().join("blobs");
    let blobs_before = common::tree_hash(&blobs);
    let counts_before = common::index_counts(&server.archive_dir());
    assert_eq!(counts_before.len(), 7, "{counts_before:?}");

    let mut c = server.raw_logged_in();
    let inbox_n = exists_of(&c.command("SELECT INBOX"));

    // APPEND with a synchronizing literal: the server may ask for the data (+) and must then
    // refuse; it must not answer [TRYCREATE] (that invites CREATE + APPEND loops).
    let msg = b"From: x@example.org\r\nSubject: injected\r\n\r\nhello\r\n";
    c.send(format!("a1 APPEND INBOX (\\Seen) {{{}}}\r\n", msg.len()).as_bytes());
    let first = c.read_line();
    if first.starts_with('+') {
        c.send(msg);
        c.send(b"\r\n");
        let lines = c.read_until_tagged("a1");
        assert_no_code(&lines, "CANNOT", "APPEND sync literal");
    } else {
        // Refused before the literal: allowed (RFC 3501 §7.5), but then no data is expected.
        assert!(first.starts_with("a1 NO [CANNOT]"), "{first}");
    }
    // Non-synchronizing literal (LITERAL+): the data follows at once and must be swallowed.
    c.send(format!("a2 APPEND Sent {{{}+}}\r\n", msg.len()).as_bytes());
    c.send(msg);
    c.send(b"\r\n");
    let lines = c.read_until_tagged("a2");
    assert_no_code(&lines, "CANNOT", "APPEND LITERAL+");
    let lines = c.command("APPEND NoSuchFolder {5+}\r\nhello");
    assert!(!tagged(&lines).contains("TRYCREATE"), "{lines:?}");
    assert!(status_of(&lines).starts_with("NO"), "{lines:?}");

    for (cmd, code) in [
        ("COPY 1:2 Sent", "CANNOT"),
        ("UID COPY 1 Sent", "CANNOT"),
        ("MOVE 1 Sent", "CANNOT"),
        ("UID MOVE 1:* Archive/2022", "CANNOT"),
        ("EXPUNGE", "CANNOT"),
        ("UID EXPUNGE 1:*", "CANNOT"),
        ("CREATE NewFolder", "CANNOT"),
        ("CREATE Trash", "CANNOT"),
        ("CREATE INBOX", "ALREADYEXISTS"),
        ("CREATE Sent", "ALREADYEXISTS"),
        ("CREATE Archive/2022", "ALREADYEXISTS"),
        ("CREATE Archive", "ALREADYEXISTS"),
        ("DELETE Sent", "CANNOT"),
        ("DELETE Archive/2022", "CANNOT"),
        ("DELETE NoSuchFolder", "CANNOT"),
        ("RENAME Sent Sent2", "CANNOT"),
        ("RENAME INBOX OldInbox", "CANNOT"),
        ("RENAME Projects/Apollo Projects/Gemini", "CANNOT"),
    ] {
        let lines = c.command(cmd);
        assert_no_code(&lines, code, cmd);
    }

    // STORE \Deleted is accepted but not kept; the answer shows the real flags.
    let lines = c.command("STORE 1:3 +FLAGS (\\Deleted \\Seen)");
    assert!(status_of(&lines).starts_with("OK"), "{lines:?}");
    assert_eq!(lines.len(), 4, "{lines:?}");
    for l in &lines[..3] {
        assert!(l.contains("\\Seen") && !l.contains("\\Deleted"), "{l}");
    }
    let lines = c.command("UID STORE 1:* +FLAGS.SILENT (\\Deleted)");
    assert!(status_of(&lines).starts_with("OK"), "{lines:?}");
    let lines = c.command("FETCH 1:* (FLAGS)");
    assert_eq!(lines.len(), inbox_n + 1);
    assert!(lines.iter().all(|l| !l.contains("\\Deleted")), "{lines:?}");
    let lines = c.command("SEARCH DELETED");
    assert_eq!(lines[0], "* SEARCH", "{lines:?}");
    // CLOSE expunges \Deleted messages silently (RFC 3501 §6.4.2): there are none.
    assert!(status_of(&c.command("CLOSE")).starts_with("OK"));
    assert_eq!(exists_of(&c.command("SELECT INBOX")), inbox_n);
    assert!(status_of(&c.command("LOGOUT")).starts_with("OK"));

    assert_eq!(
        common::tree_hash(&blobs),
        blobs_before,
        "blob segments changed"
    );
    assert_eq!(common::index_counts(&server.archive_dir()), counts_before);

    // A new session still serves every folder's first message byte for byte.
    let mut s = server.imap_session();
    for folder in demo_mail() {
        let mailbox = s.examine(&folder.name).expect("EXAMINE");
        assert_eq!(
            mailbox.exists as usize,
            folder.messages.len(),
            "{}",
            folder.name
        );
        let f = s.fetch("1", "BODY.PEEK[]").expect("FETCH");
        assert_eq!(f.get(0).unwrap().body(), Some(&folder.messages[0][..]));
    }
    s.logout().ok();
}

/// A plain connection to the STARTTLS port, greeting read.
fn plain(server: &TestServer) -> RawClient<TcpStream> {
    let tcp = TcpStream::connect(server.starttls_addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut c = RawClient::new(tcp);
    let greeting = c.read_line();
    assert!(greeting.starts_with("* OK"), "{greeting}");
    assert!(greeting.contains("LOGINDISABLED"), "{greeting}");
    assert!(
        !greeting.contains("AUTH="),
        "no mechanism before TLS: {greeting}"
    );
    c
}

#[test]
fn no_login_before_starttls_whatever_the_password() {
    let server = TestServer::start();
    let mut c = plain(&server);
    let right = c.command(&format!("LOGIN demo {}", server.password));
    let wrong = c.command("LOGIN demo wrong-password");
    let unknown = c.command("LOGIN nobody x");
    assert!(
        status_of(&right).starts_with("NO [PRIVACYREQUIRED]"),
        "{right:?}"
    );
    // Identical answers: the plain port does not reveal whether a password is right.
    assert_eq!(status_of(&right), status_of(&wrong));
    assert_eq!(status_of(&right), status_of(&unknown));
    assert_eq!((right.len(), wrong.len()), (1, 1));

    let ir = |user: &str, pw: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{pw}"))
    };
    let good = c.command(&format!(
        "AUTHENTICATE PLAIN {}",
        ir("demo", &server.password)
    ));
    let bad = c.command(&format!("AUTHENTICATE PLAIN {}", ir("demo", "nope")));
    assert!(
        status_of(&good).starts_with("NO [PRIVACYREQUIRED]"),
        "{good:?}"
    );
    assert_eq!(status_of(&good), status_of(&bad));
    // Without an initial response: refused at once, no "+" continuation that takes a password.
    let lines = c.command("AUTHENTICATE PLAIN");
    assert!(
        status_of(&lines).starts_with("NO [PRIVACYREQUIRED]"),
        "{lines:?}"
    );
    // Still not authenticated.
    let lines = c.command("SELECT INBOX");
    assert!(!status_of(&lines).starts_with("OK"), "{lines:?}");
    let lines = c.command("LIST \"\" *");
    assert!(!status_of(&lines).starts_with("OK"), "{lines:?}");
}

#[test]
fn commands_pipelined_after_starttls_are_never_executed() {
    let server = TestServer::start();
    let mut tcp = TcpStream::connect(server.starttls_addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // Read the greeting byte by byte so nothing after it is buffered on our side.
    let read_line = |tcp: &mut TcpStream| {
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while !line.ends_with(b"\n") {
            match tcp.read(&mut b) {
                Ok(1) => line.push(b[0]),
                _ => break,
            }
        }
        String::from_utf8_lossy(&line).into_owned()
    };
    assert!(read_line(&mut tcp).starts_with("* OK"));
    // One write, one packet: the LOGIN arrives together with STARTTLS, in the clear.
    tcp.write_all(
        format!(
            "a STARTTLS\r\nb LOGIN demo {}\r\nc SELECT INBOX\r\n",
            server.password
        )
        .as_bytes(),
    )
    .unwrap();
    let answer = read_line(&mut tcp);
    assert!(answer.starts_with("a OK"), "{answer}");

    // The server must have dropped the pipelined plaintext (the classic STARTTLS command
    // injection). Either it fails the handshake because of them, or the TLS session starts
    // unauthenticated with no answer to b or c.
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(server.client_config(), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut handshake_ok = true;
    for _ in 0..100 {
        if !tls.conn.is_handshaking() {
            break;
        }
        if tls.conn.complete_io(&mut tls.sock).is_err() {
            handshake_ok = false;
            break;
        }
    }
    if !handshake_ok {
        eprintln!("TLS handshake failed after the pipelined plaintext (acceptable)");
        return; // nothing could have been answered to b over TLS either
    }
    eprintln!("TLS handshake succeeded; the pipelined plaintext must have been dropped");
    let mut c = RawClient::new(tls);
    let lines = c.command("SELECT INBOX");
    for l in &lines {
        assert!(
            !l.starts_with("b ") && !l.starts_with("c "),
            "pipelined plaintext was executed: {lines:?}"
        );
    }
    assert!(
        !status_of(&lines).starts_with("OK"),
        "session is authenticated without a login over TLS: {lines:?}"
    );
    let lines = c.command(&format!("LOGIN demo {}", server.password));
    assert!(status_of(&lines).starts_with("OK"), "{lines:?}");
}

#[test]
fn sequence_numbers_and_uids_at_the_edges() {
    let server = TestServer::start();
    let mut c = server.raw_logged_in();
    let n = exists_of(&c.command("SELECT INBOX"));
    let uid_next: u32 = c
        .command("STATUS INBOX (UIDNEXT)")
        .iter()
        .find_map(|l| {
            l.split("UIDNEXT ")
                .nth(1)?
                .trim_end_matches(')')
                .parse()
                .ok()
        })
        .expect("UIDNEXT");

    // Past EXISTS is a client error (RFC 9051 §6.4.5 / RFC 3501 §9: BAD).
    for cmd in [
        format!("FETCH {} (FLAGS)", n + 1),
        format!("FETCH 1:{} (FLAGS)", n + 5),
        format!("STORE {} +FLAGS (\\Seen)", n + 1),
        "FETCH 0 (FLAGS)".to_owned(),
    ] {
        let lines = c.command(&cmd);
        assert!(status_of(&lines).starts_with("BAD"), "{cmd}: {lines:?}");
        assert_eq!(lines.len(), 1, "{cmd}: no data with BAD: {lines:?}");
    }
    // `*` is the last message.
    let lines = c.command("FETCH * (UID)");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("* {n} FETCH (UID ")),
        "{lines:?}"
    );
    let lines = c.command(&format!("FETCH {n}:* (UID)"));
    assert_eq!(lines.len(), 2, "{lines:?}");
    let lines = c.command("FETCH *:1 (UID)");
    assert_eq!(lines.len(), n + 1, "{lines:?}");
    // UIDs that do not exist: OK with no data (RFC 3501 §6.4.8).
    for set in [
        format!("{uid_next}"),
        format!("{}:{}", uid_next + 10, uid_next + 20),
        "4000000000".to_owned(),
    ] {
        let lines = c.command(&format!("UID FETCH {set} (FLAGS)"));
        assert_eq!(lines.len(), 1, "UID FETCH {set}: {lines:?}");
        assert!(status_of(&lines).starts_with("OK"), "{lines:?}");
    }
    // ... and UID STORE on them changes nothing: OK, no data.
    let lines = c.command(&format!("UID STORE {uid_next} +FLAGS (\\Seen)"));
    assert!(status_of(&lines).starts_with("OK"), "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let lines = c.command("SEARCH SEEN");
    assert_eq!(lines[0], "* SEARCH", "{lines:?}");
}
