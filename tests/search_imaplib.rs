//! SEARCH with non-ASCII strings from Python's imaplib against the demo server over TLS
//! (issue 3): German, French, Japanese and Russian headers and bodies, CHARSET UTF-8 with a
//! literal, legacy charsets, ESEARCH. Skipped (with a note) when python3 is not installed.

mod common;

use std::process::Command;

#[test]
fn imaplib_searches_the_demo_archive() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("python3 not found: skipped");
        return;
    }
    let server = common::TestServer::start();
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/search/imaplib_check.py"
        ))
        .arg("localhost")
        .arg(server.tls_addr.port().to_string())
        .arg(server.cert_path())
        .arg(imapvault::demo::USER)
        .arg(&server.password)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "imaplib_check.py failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
