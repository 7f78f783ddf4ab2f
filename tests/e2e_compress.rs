//! COMPRESS=DEFLATE (RFC 4978) over real TLS, checked by Python's zlib: the same bytes come back
//! compressed, and a deflate bomb meets the line limit (a BYE), not the server's memory.

mod common;

use std::process::Command;
use std::time::Duration;

use common::TestServer;

fn client(server: &TestServer, mode: &str) -> std::process::Output {
    let mut cmd = Command::new("python3");
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/compress_check.py"
    ))
    .arg("127.0.0.1")
    .arg(server.tls_addr.port().to_string())
    .arg(server.cert_path())
    .arg("demo")
    .arg(&server.password)
    .arg(mode);
    let out = common::run_with_timeout(cmd, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "compress_check.py {mode} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn compressed_session_serves_the_same_bytes() {
    if !common::require_tool("python3") {
        return;
    }
    let server = TestServer::start();
    let out = client(&server, "fetch");
    let hex = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let compressed: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let mut plain = server.raw_logged_in();
    plain.command("EXAMINE INBOX");
    plain.send(b"x FETCH 1 BODY.PEEK[]\r\n");
    let head = plain.read_line();
    let size: usize = head[head.rfind('{').unwrap() + 1..head.len() - 1]
        .parse()
        .unwrap();
    assert_eq!(
        plain.read_exact(size),
        compressed,
        "same message through COMPRESS"
    );
}

#[test]
fn deflate_bomb_meets_the_line_limit() {
    if !common::require_tool("python3") {
        return;
    }
    let server = TestServer::start();
    let out = client(&server, "bomb");
    let first = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        first.starts_with("* BYE") || first == "<closed>",
        "a 64 MiB line must end the session: {first}"
    );
    // And the server still serves others.
    let mut other = server.raw_logged_in();
    assert!(other.command("NOOP").last().unwrap().contains("OK"));
}
