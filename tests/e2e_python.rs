//! End to end with Python's stdlib imaplib (tests/clients/imaplib_check.py) over real TLS and
//! STARTTLS on loopback. The script asserts everything itself against the demo mbox files and
//! prints a JSON summary; a non-zero exit fails the test with the script's stderr.

mod common;

use std::process::Command;
use std::time::Duration;

use common::TestServer;

fn run_script(server: &TestServer, mode: &str) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut cmd = Command::new("python3");
    cmd.arg(format!("{root}/tests/clients/imaplib_check.py"))
        .arg("127.0.0.1")
        .arg(server.tls_addr.port().to_string())
        .arg(server.starttls_addr.port().to_string())
        .arg(server.cert_path())
        .arg(imapvault::demo::USER)
        .arg(&server.password)
        .arg(format!("{root}/src/demo/mail"))
        .arg(mode);
    let out = common::run_with_timeout(cmd, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "imaplib_check.py {mode} failed ({}):\n{}\nstdout: {stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn imaplib_logs_in_lists_fetches_and_searches() {
    if !common::require_tool("python3") {
        return;
    }
    let server = TestServer::start();
    let summary = run_script(&server, "main");
    // The script ran its checks, not an early exit: its summary names each group.
    for key in [
        "login_imaps",
        "login_starttls",
        "login_wrong_password_refused",
        "list_folders",
        "status",
        "header_and_text_bytes",
        "partial_fetch",
        "binary_base64_parts",
        "search_dates",
        "search_flags",
        "search_sets",
        "search_text_subject",
    ] {
        assert!(
            summary.contains(&format!("\"{key}\"")),
            "{key} missing: {summary}"
        );
    }
    eprintln!("imaplib: {summary}");
}

/// BODYSTRUCTURE, BODY[section] sizes and BINARY of every MIME part, compared with Python's
/// `email` parse of the same bytes.
#[test]
// Regression: a nested boundary that extends the outer one (Projects/Apollo message 5,
// `apollo-photo` / `apollo-photo-alt`) was taken for the outer delimiter.
fn imaplib_mime_structure_matches_the_email_package() {
    if !common::require_tool("python3") {
        return;
    }
    let server = TestServer::start();
    let summary = run_script(&server, "mime");
    assert!(summary.contains("\"bodystructure_parts\""), "{summary}");
    eprintln!("imaplib mime: {summary}");
}
