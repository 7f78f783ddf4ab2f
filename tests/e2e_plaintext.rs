//! The plain (STARTTLS) port before TLS: no login is possible, no password is even looked at,
//! and nothing a client pipelines after STARTTLS is ever executed (RFC 3501 §6.2.1, RFC 8314).
//!
//! One test in its own binary, so the process-wide count of password checks is this test's alone.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine as _;
use common::{RawClient, TestServer};

#[test]
fn plain_port_refuses_login_without_checking_and_discards_pipelined_commands() {
    let server = TestServer::start();
    let checks_before = imapvault::auth::password_checks();

    let tcp = TcpStream::connect(server.starttls_addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut plain = RawClient::new(tcp.try_clone().unwrap());
    let greeting = plain.read_line();
    assert!(
        greeting.contains("STARTTLS") && greeting.contains("LOGINDISABLED"),
        "{greeting}"
    );
    assert!(
        !greeting.contains("AUTH="),
        "no mechanism before TLS: {greeting}"
    );

    // Right and wrong passwords get the same refusal, and neither is checked.
    let right = plain.command(&format!("LOGIN demo {}", server.password));
    let wrong = plain.command("LOGIN demo not-the-password");
    let strip = |lines: &[String]| lines.last().unwrap().split_once(' ').unwrap().1.to_owned();
    assert!(
        strip(&right).starts_with("NO [PRIVACYREQUIRED]"),
        "{right:?}"
    );
    assert_eq!(strip(&right), strip(&wrong));
    let plain_sasl =
        base64::engine::general_purpose::STANDARD.encode(format!("\0demo\0{}", server.password));
    let auth = plain.command(&format!("AUTHENTICATE PLAIN {plain_sasl}"));
    assert!(strip(&auth).starts_with("NO [PRIVACYREQUIRED]"), "{auth:?}");
    assert_eq!(
        imapvault::auth::password_checks(),
        checks_before,
        "a password was checked"
    );

    // STARTTLS with a LOGIN pipelined in the same packet: the LOGIN must never run.
    plain.send(format!("s1 STARTTLS\r\ns2 LOGIN demo {}\r\n", server.password).as_bytes());
    let ok = plain.read_line();
    assert!(ok.starts_with("s1 OK"), "{ok}");
    let mut tls = RawClient::new(server.wrap_tls(tcp));
    let caps = tls.command("CAPABILITY");
    assert!(
        caps[0].contains("AUTH=PLAIN"),
        "still not logged in after TLS: {caps:?}"
    );
    assert!(
        !caps.iter().any(|l| l.starts_with("s2 ")),
        "pipelined LOGIN answered: {caps:?}"
    );
    let select = tls.command("SELECT INBOX");
    assert!(select.last().unwrap().contains("BAD"), "{select:?}");
    assert_eq!(
        imapvault::auth::password_checks(),
        checks_before,
        "a password was checked"
    );

    // And STARTTLS twice is a client error.
    let again = tls.command("STARTTLS");
    assert!(again.last().unwrap().contains("BAD"), "{again:?}");
    tls.stream().flush().unwrap();
}
