//! End to end with curl's IMAP client (libcurl) over real TLS on loopback.
//!
//! curl writes a fetched message's literal to stdout exactly as received, so its output must be
//! the archived message byte for byte. `--resolve` pins `localhost` (the name in the demo
//! certificate) to 127.0.0.1, where the test server listens.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::{demo_mail, TestServer};

/// How curl reaches the server.
#[derive(Clone, Copy)]
enum Transport {
    /// `imaps://` to the implicit-TLS port.
    Imaps,
    /// `imap://` with `--ssl-reqd`: STARTTLS on the plain port.
    StartTls,
    /// `imap://` with no TLS at all.
    Cleartext,
}

fn curl(
    server: &TestServer,
    how: Transport,
    user_pass: &str,
    url_path: &str,
    extra: &[&str],
) -> Output {
    let (scheme, port) = match how {
        Transport::Imaps => ("imaps", server.tls_addr.port()),
        Transport::StartTls | Transport::Cleartext => ("imap", server.starttls_addr.port()),
    };
    let mut cmd = Command::new("curl");
    cmd.arg("--silent")
        .arg("--show-error")
        .arg("--max-time")
        .arg("30")
        .arg("--resolve")
        .arg(format!("localhost:{port}:127.0.0.1"))
        .arg("--cacert")
        .arg(server.cert_path())
        .arg("-u")
        .arg(user_pass)
        .args(extra);
    if let Transport::StartTls = how {
        cmd.arg("--ssl-reqd");
    }
    cmd.arg(format!("{scheme}://localhost:{port}/{url_path}"));
    common::run_with_timeout(cmd, Duration::from_secs(40))
}

fn user_pass(server: &TestServer) -> String {
    format!("{}:{}", imapvault::demo::USER, server.password)
}

/// UIDs of `folder` in sequence order, asked over IMAP.
fn uids(server: &TestServer, folder: &str) -> Vec<u32> {
    let mut s = server.imap_session();
    s.examine(folder).expect("EXAMINE");
    let mut v: Vec<(u32, u32)> = s
        .fetch("1:*", "UID")
        .expect("FETCH")
        .iter()
        .map(|f| (f.message, f.uid.unwrap()))
        .collect();
    v.sort();
    s.logout().ok();
    v.into_iter().map(|(_, u)| u).collect()
}

/// `Archive/2022` as a URL path segment (curl decodes %2F back to `/`).
fn url_name(folder: &str) -> String {
    folder.replace('/', "%2F")
}

fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "curl {what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn curl_fetches_exact_message_bytes_by_uid() {
    if !common::require_tool("curl") {
        return;
    }
    let server = TestServer::start();
    let mut checked = 0;
    for folder in demo_mail() {
        let uids = uids(&server, &folder.name);
        assert_eq!(uids.len(), folder.messages.len(), "{}", folder.name);
        // Every message of INBOX; first and last of the others (each curl run is a new login).
        let picks: Vec<usize> = if folder.name == "INBOX" {
            (0..uids.len()).collect()
        } else {
            vec![0, uids.len() - 1]
        };
        for i in picks {
            let path = format!("{};UID={}", url_name(&folder.name), uids[i]);
            let out = curl(&server, Transport::Imaps, &user_pass(&server), &path, &[]);
            assert_success(&out, &path);
            assert!(
                out.stdout == folder.messages[i],
                "{path}: {}",
                common::first_difference(&out.stdout, &folder.messages[i])
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked}");
}

#[test]
fn curl_lists_the_folders() {
    if !common::require_tool("curl") {
        return;
    }
    let server = TestServer::start();
    let out = curl(&server, Transport::Imaps, &user_pass(&server), "", &[]);
    assert_success(&out, "LIST");
    let text = String::from_utf8(out.stdout).expect("utf-8 listing");
    let names: std::collections::BTreeSet<String> = text
        .lines()
        .map(|l| {
            assert!(l.starts_with("* LIST ("), "{l}");
            l.rsplit_once(" \"/\" ")
                .expect("delimiter")
                .1
                .trim_matches('"')
                .to_owned()
        })
        .collect();
    assert_eq!(names, common::demo_folder_names_with_parents(), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("\\Sent") && l.ends_with("\"Sent\"")),
        "{text}"
    );
}

#[test]
fn curl_starttls_fetches_and_never_logs_in_without_tls() {
    if !common::require_tool("curl") {
        return;
    }
    let server = TestServer::start();
    let folder = &demo_mail()[1];
    let uid = uids(&server, &folder.name)[1];
    let path = format!("{};UID={uid}", url_name(&folder.name));
    let out = curl(
        &server,
        Transport::StartTls,
        &user_pass(&server),
        &path,
        &[],
    );
    assert_success(&out, "STARTTLS fetch");
    assert!(
        out.stdout == folder.messages[1],
        "{}",
        common::first_difference(&out.stdout, &folder.messages[1])
    );

    // Without TLS the server offers no way to log in (LOGINDISABLED, no AUTH=): curl gives up
    // with "login denied" and never sends the password in the clear.
    let out = curl(
        &server,
        Transport::Cleartext,
        &user_pass(&server),
        &path,
        &["-v"],
    );
    assert_eq!(
        out.status.code(),
        Some(67),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("LOGINDISABLED"), "{log}");
    assert!(
        !log.lines()
            .any(|l| l.starts_with("> ") && (l.contains("LOGIN ") || l.contains("AUTHENTICATE"))),
        "credentials sent without TLS: {log}"
    );
}

#[test]
fn curl_wrong_password_is_login_denied() {
    if !common::require_tool("curl") {
        return;
    }
    let server = TestServer::start();
    let bad = format!("{}:{}x", imapvault::demo::USER, server.password);
    let out = curl(&server, Transport::Imaps, &bad, "INBOX;UID=1", &[]);
    assert_eq!(
        out.status.code(),
        Some(67),
        "CURLE_LOGIN_DENIED expected: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "no message without a login");
    // An unknown user is refused the same way.
    let out = curl(&server, Transport::Imaps, "nobody:x", "INBOX;UID=1", &[]);
    assert_eq!(out.status.code(), Some(67));
    // And a UID that does not exist is "remote file not found", not an empty success.
    let out = curl(
        &server,
        Transport::Imaps,
        &user_pass(&server),
        "INBOX;UID=4000000",
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(78),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
