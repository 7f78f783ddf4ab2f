//! Journal mode end to end (issue 5, DESIGN §1): journal messages imported once, each user
//! sees, through a real IMAP client over TLS, the ones their addresses took part in (INBOX for
//! received, Bcc included; Sent for sent); an Exchange journal report is unwrapped to its
//! original; an address added later brings old mail with new, higher UIDs and pushes EXISTS
//! to an idling client; imports of the wrong mode are refused and archive nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{tree_hash, TestServer};
use imapvault::archive::Archive;
use imapvault::config::ArchiveMode;
use imapvault::import::{self, Feed};

/// The original message an Exchange journal report carries (external sender to alice).
const ORIGINAL: &[u8] = b"From: Pat Partner <partner@other.example>\r\n\
To: Alice <alice@example.org>\r\n\
Subject: Offer\r\n\
Date: Mon, 2 Jun 2025 10:00:00 +0000\r\n\
Message-ID: <offer@other.example>\r\n\
\r\n\
Our offer stands until Friday.\r\n";

/// Alice writes to an external partner, Bcc bob.
const SENT_BY_ALICE: &str = "From: Alice <alice@example.org>\r\n\
To: Pat Partner <partner@other.example>\r\n\
Bcc: bob@example.org\r\n\
Subject: Quarterly plan\r\n\
Date: Mon, 2 Jun 2025 09:00:00 +0000\r\n\
Message-ID: <plan@example.org>\r\n\
\r\n\
The plan, as discussed.\r\n";

/// Bob is in To and, spelled otherwise, in Cc.
const BOB_TWICE: &str = "From: partner@other.example\r\n\
To: bob@example.org\r\n\
Cc: Bob <BOB@Example.org>\r\n\
Subject: Twice addressed\r\n\
Date: Mon, 2 Jun 2025 11:00:00 +0000\r\n\
Message-ID: <twice@other.example>\r\n\
\r\n\
Once is enough.\r\n";

/// For dave's current address, journaled after the report.
const TO_DAVE: &str = "From: partner@other.example\r\n\
To: dave@example.org\r\n\
Subject: Hello Dave\r\n\
Date: Mon, 2 Jun 2025 12:00:00 +0000\r\n\
Message-ID: <dave@other.example>\r\n\
\r\n\
Welcome.\r\n";

/// An Exchange envelope journal report: alice received ORIGINAL, and dave's old address had
/// it by Bcc.
fn journal_report() -> Vec<u8> {
    let mut r = b"From: Microsoft Exchange <journal@example.org>\r\n\
To: journal-archive@example.org\r\n\
Subject: Offer\r\n\
X-MS-Journal-Report:\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"journal-boundary\"\r\n\
\r\n\
--journal-boundary\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
Sender: partner@other.example\r\n\
Subject: Offer\r\n\
Message-Id: <offer@other.example>\r\n\
To: alice@example.org\r\n\
Bcc: dave.old@example.org\r\n\
\r\n\
--journal-boundary\r\n\
Content-Type: message/rfc822\r\n\
\r\n"
        .to_vec();
    r.extend_from_slice(ORIGINAL);
    r.extend_from_slice(b"\r\n--journal-boundary--\r\n");
    r
}

/// The journal feed, as files whose names give the journal order.
fn write_journal(dir: &Path) -> Vec<PathBuf> {
    let feed = dir.join("journal-feed");
    std::fs::create_dir_all(&feed).unwrap();
    let files: [(&str, &[u8]); 4] = [
        ("1.eml", SENT_BY_ALICE.as_bytes()),
        ("2.eml", &journal_report()),
        ("3.eml", BOB_TWICE.as_bytes()),
        ("4.eml", TO_DAVE.as_bytes()),
    ];
    files
        .iter()
        .map(|(name, bytes)| {
            let path = feed.join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect()
}

/// A journal-mode archive: alice, bob, carol and dave (each with one address, password the
/// demo's), the four journal messages imported.
fn journal_server() -> TestServer {
    TestServer::start_on(|archive_dir, _| {
        let mut archive = Archive::open(archive_dir).unwrap();
        {
            let index = archive.index_mut();
            let (_, hash) = index.user_password_hash("demo").unwrap().unwrap();
            for user in ["alice", "bob", "carol", "dave"] {
                index.add_user(user, &hash).unwrap();
                index
                    .add_address(user, &format!("{user}@example.org"))
                    .unwrap();
                index.ensure_journal_mailboxes(user).unwrap();
            }
            // An auditor from the start: the journal reaches its `Journal` at ingest.
            index
                .add_user_as("audit1", &hash, imapvault::index::Role::Auditor)
                .unwrap();
            index.ensure_journal_mailboxes("audit1").unwrap();
        }
        let files = write_journal(archive_dir.parent().unwrap());
        let summary = import::run_in_mode(
            &mut archive,
            ArchiveMode::Journal,
            &Feed::Journal,
            &files,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!((summary.imported, summary.duplicates), (4, 0), "{summary}");
        assert!(summary.rejected.is_empty());
        // An auditor added afterwards: its `Journal` is filled from the journal.
        let index = archive.index_mut();
        let (_, hash) = index.user_password_hash("demo").unwrap().unwrap();
        index
            .add_user_as("audit2", &hash, imapvault::index::Role::Auditor)
            .unwrap();
        index.ensure_journal_mailboxes("audit2").unwrap();
    })
}

type Session = imap::Session<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>>;

/// (UID, BODY[]) of every message in `folder`.
fn messages(session: &mut Session, folder: &str) -> Vec<(u32, Vec<u8>)> {
    let exists = session.examine(folder).expect("EXAMINE").exists;
    if exists == 0 {
        return Vec::new();
    }
    let fetches = session.fetch("1:*", "(UID BODY.PEEK[])").expect("FETCH");
    let mut out: Vec<(u32, Vec<u8>)> = fetches
        .iter()
        .map(|f| (f.uid.expect("UID"), f.body().expect("BODY[]").to_vec()))
        .collect();
    out.sort();
    assert_eq!(out.len(), exists as usize);
    out
}

fn bodies(session: &mut Session, folder: &str) -> Vec<Vec<u8>> {
    messages(session, folder)
        .into_iter()
        .map(|(_, b)| b)
        .collect()
}

#[test]
fn each_participant_sees_a_journal_message_once_in_the_right_folder() {
    let server = journal_server();
    let pw = server.password.clone();

    let mut alice = server.imap_session_as("alice", &pw);
    assert_eq!(
        bodies(&mut alice, "Sent"),
        vec![SENT_BY_ALICE.as_bytes().to_vec()],
        "alice sent the plan"
    );
    assert_eq!(
        bodies(&mut alice, "INBOX"),
        vec![ORIGINAL.to_vec()],
        "the journal report is unwrapped to the attached original, byte for byte"
    );
    alice.logout().unwrap();

    let mut bob = server.imap_session_as("bob", &pw);
    assert_eq!(
        bodies(&mut bob, "INBOX"),
        vec![
            SENT_BY_ALICE.as_bytes().to_vec(),
            BOB_TWICE.as_bytes().to_vec()
        ],
        "Bcc counts; an address in both To and Cc gives one message"
    );
    assert!(bodies(&mut bob, "Sent").is_empty());
    bob.logout().unwrap();

    let mut carol = server.imap_session_as("carol", &pw);
    for folder in ["INBOX", "Sent"] {
        assert!(bodies(&mut carol, folder).is_empty(), "carol sees nothing");
    }
    // SEARCH cannot reach beyond carol's own folders either.
    carol.examine("INBOX").unwrap();
    assert!(carol.search("TEXT plan").unwrap().is_empty());
    carol.logout().unwrap();

    // Stored once: four journal messages, one blob each, shared by alice and bob.
    let archive = Archive::open(&server.archive_dir()).unwrap();
    assert_eq!(archive.index().journal(0, 100).unwrap().len(), 4);
    assert_eq!(archive.verify().unwrap().records, 4);
}

#[test]
fn auditors_see_the_whole_journal_as_journal_and_others_do_not() {
    let server = journal_server();
    let pw = server.password.clone();
    let whole: Vec<Vec<u8>> = vec![
        SENT_BY_ALICE.as_bytes().to_vec(),
        ORIGINAL.to_vec(),
        BOB_TWICE.as_bytes().to_vec(),
        TO_DAVE.as_bytes().to_vec(),
    ];
    for auditor in ["audit1", "audit2"] {
        let mut s = server.imap_session_as(auditor, &pw);
        let got = messages(&mut s, "Journal");
        let uids: Vec<u32> = got.iter().map(|(uid, _)| *uid).collect();
        assert_eq!(uids, vec![1, 2, 3, 4], "{auditor}: journal order");
        let bodies: Vec<Vec<u8>> = got.into_iter().map(|(_, b)| b).collect();
        assert_eq!(bodies, whole, "{auditor} sees every journaled message once");
        s.logout().unwrap();
    }
    let mut carol = server.imap_session_as("carol", &pw);
    let names: Vec<String> = carol
        .list(None, Some("*"))
        .unwrap()
        .iter()
        .map(|n| n.name().to_owned())
        .collect();
    assert!(!names.iter().any(|n| n == "Journal"), "{names:?}");
    assert!(carol.examine("Journal").is_err(), "no Journal for a user");
    carol.logout().unwrap();
}

#[test]
fn journal_folders_are_read_only_special_use_folders() {
    let server = journal_server();
    let mut c = server.raw();
    let r = c.command(&format!("LOGIN carol {}", server.password));
    assert!(r.last().unwrap().contains("OK"), "{r:?}");
    let list = c.command("LIST \"\" \"*\"");
    assert!(list.iter().any(|l| l.contains("INBOX")), "{list:?}");
    assert!(
        list.iter()
            .any(|l| l.contains("\\Sent") && l.ends_with("\"Sent\"")),
        "{list:?}"
    );
    c.select_exists("INBOX");
    let r = c.command("APPEND INBOX {3+}\r\nabc");
    assert!(r.last().unwrap().contains("NO [CANNOT]"), "{r:?}");
}

/// Runs the real `imapvault` binary on the server's archive in `mode`.
fn cli(server: &TestServer, mode: &str, args: &[&str]) -> Output {
    let config = server.dir.path().join(format!("{mode}.toml"));
    std::fs::write(
        &config,
        format!(
            "[archive]\ndir = {:?}\nmode = \"{mode}\"\n",
            server.archive_dir().display().to_string()
        ),
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_imapvault"))
        .arg("--config")
        .arg(&config)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn an_address_added_later_brings_old_mail_with_higher_uids_and_pushes_exists() {
    let server = journal_server();
    let mut dave = idling(&server, "dave", 1);

    // The report (journaled before dave's own message) named dave's old address by Bcc.
    let out = cli(
        &server,
        "journal",
        &["user", "address", "add", "dave", "Dave.Old@Example.org"],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 journal message(s) newly shown"),
        "{out:?}"
    );

    // Bounded: the stream's read timeout (20 s) ends a silent wait with a panic.
    let mut pushed = Vec::new();
    for _ in 0..10 {
        let line = dave.read_line();
        let done = line == "* 2 EXISTS";
        pushed.push(line);
        if done {
            break;
        }
    }
    assert_eq!(
        pushed.last().map(String::as_str),
        Some("* 2 EXISTS"),
        "{pushed:?}"
    );
    dave.send(b"DONE\r\n");
    let r = dave.read_until_tagged("idle1");
    assert!(r.last().unwrap().contains("OK"), "{r:?}");
    dave.command("LOGOUT");

    let mut s = server.imap_session_as("dave", &server.password);
    let got = messages(&mut s, "INBOX");
    assert_eq!(
        got,
        vec![(1, TO_DAVE.as_bytes().to_vec()), (2, ORIGINAL.to_vec())],
        "the older message comes after, with the next UID"
    );
    // UIDs no longer follow the archive's message order here, which text SEARCH must map
    // back right (its hits are found by message, then placed by UID).
    let uids = |s: &mut Session, q: &str| {
        let mut v: Vec<u32> = s.uid_search(q).unwrap().into_iter().collect();
        v.sort_unstable();
        v
    };
    assert_eq!(uids(&mut s, "BODY \"offer stands\""), vec![2]);
    assert_eq!(uids(&mut s, "TEXT welcome"), vec![1]);
    assert_eq!(uids(&mut s, "FROM partner"), vec![1, 2]);
    assert_eq!(uids(&mut s, "NOT SUBJECT hello"), vec![2]);
    s.logout().unwrap();

    let list = cli(&server, "journal", &["user", "address", "list", "dave"]);
    assert_eq!(
        String::from_utf8_lossy(&list.stdout),
        "dave.old@example.org\ndave@example.org\n"
    );
}

#[test]
fn imports_of_the_other_mode_are_refused_and_archive_nothing() {
    let server = journal_server();
    let message = server.dir.path().join("extra.eml");
    std::fs::write(
        &message,
        "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: extra\r\n\r\nx\r\n",
    )
    .unwrap();
    let before = tree_hash(&server.archive_dir().join("blobs"));
    let journal_before = Archive::open(&server.archive_dir())
        .unwrap()
        .index()
        .journal(0, 100)
        .unwrap();

    // A per-user import into the journal-mode archive.
    let out = cli(
        &server,
        "journal",
        &["import", "--user", "alice", message.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("journal mode"),
        "{out:?}"
    );
    // A journal import into an archive configured for mailbox mode.
    let out = cli(
        &server,
        "mailbox",
        &["import", "--journal", message.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mailbox mode"),
        "{out:?}"
    );

    // A configuration switched to mailbox mode under this journal archive: the archive
    // remembers its mode.
    let out = cli(
        &server,
        "mailbox",
        &["import", "--user", "alice", message.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("holds journal-mode mail"),
        "{out:?}"
    );

    assert_eq!(tree_hash(&server.archive_dir().join("blobs")), before);
    let archive = Archive::open(&server.archive_dir()).unwrap();
    assert_eq!(archive.index().journal(0, 100).unwrap(), journal_before);
    let mut alice = server.imap_session_as("alice", &server.password);
    assert_eq!(alice.examine("INBOX").unwrap().exists, 1);
    alice.logout().unwrap();

    // The right mode archives it, and a second run counts it as a duplicate.
    for expect in ["1 imported, 0 duplicates", "0 imported, 1 duplicates"] {
        let out = cli(
            &server,
            "journal",
            &["import", "--journal", message.to_str().unwrap()],
        );
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(expect),
            "{out:?}"
        );
    }
}

#[test]
fn address_commands_check_their_input() {
    let server = journal_server();
    for (args, code, text) in [
        (
            &["user", "address", "add", "carol", "not an address"][..],
            1,
            "is not an address",
        ),
        (
            &["user", "address", "add", "carol", "ALICE@example.org"],
            1,
            "already belongs to user \"alice\"",
        ),
        (
            &["user", "address", "add", "nobody", "n@example.org"],
            1,
            "no user \"nobody\"",
        ),
        (
            &["user", "address", "del", "carol", "alice@example.org"],
            1,
            "has no address alice@example.org",
        ),
        (&["user", "address", "list", "nobody"], 1, "no user"),
    ] {
        let out = cli(&server, "journal", args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(text),
            "{args:?}: {out:?}"
        );
    }
    let out = cli(
        &server,
        "journal",
        &["user", "address", "del", "carol", "Carol@Example.ORG"],
    );
    assert!(out.status.success(), "{out:?}");
    let out = cli(&server, "journal", &["user", "address", "list", "carol"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");

    // In journal mode a new user has INBOX and Sent from the start.
    let config = server.dir.path().join("journal.toml");
    let mut add = Command::new(env!("CARGO_BIN_EXE_imapvault"))
        .arg("--config")
        .arg(&config)
        .args(["user", "add", "erin", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    add.stdin
        .take()
        .unwrap()
        .write_all(b"erin's password\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let out = cli(&server, "journal", &["user", "list"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("erin\tuser\t2 folders\t0 messages"),
        "{out:?}"
    );
}

/// Logs `user` in, selects INBOX (which must hold `exists` messages) and enters IDLE.
fn idling(
    server: &TestServer,
    user: &str,
    exists: u32,
) -> common::RawClient<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>> {
    let mut c = server.raw();
    let r = c.command(&format!("LOGIN {user} {}", server.password));
    assert!(r.last().unwrap().contains("OK"), "{r:?}");
    assert_eq!(c.select_exists("INBOX"), exists, "{user}");
    c.send(b"idle1 IDLE\r\n");
    let cont = c.read_line();
    assert!(cont.starts_with("+ "), "{cont}");
    c
}

/// Reads (at most 10 lines, each within the stream's read timeout) until `want`.
fn expect_line<S: std::io::Read + std::io::Write>(c: &mut common::RawClient<S>, want: &str) {
    let mut seen = Vec::new();
    for _ in 0..10 {
        let line = c.read_line();
        if line == want {
            return;
        }
        seen.push(line);
    }
    panic!("no {want:?} in {seen:?}");
}

#[test]
fn journal_spool_archives_once_and_pushes_to_every_participant() {
    use imapvault::spool::{PassSummary, Spool};
    let server = journal_server();
    let mut alice = idling(&server, "alice", 1);
    let mut bob = idling(&server, "bob", 2);

    let spool_dir = server.dir.path().join("spool");
    let mut spool = Spool::open(
        &spool_dir,
        Archive::open(&server.archive_dir()).unwrap(),
        ArchiveMode::Journal,
    )
    .unwrap();
    let message = "From: partner@other.example\r\nTo: alice@example.org\r\n\
        Cc: bob@example.org\r\nSubject: Spooled\r\n\r\nFrom the journal spool.\r\n";
    for (name, bytes) in [("a.eml", message), ("empty.eml", "")] {
        let tmp = spool_dir.join("tmp").join(name);
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::create_dir_all(spool_dir.join("server1")).unwrap();
        std::fs::rename(&tmp, spool_dir.join("server1").join(name)).unwrap();
    }
    let summary = spool.pass().unwrap();
    assert_eq!(
        summary,
        PassSummary {
            archived: 1,
            duplicates: 0,
            failed: 1,
            deferred: 0
        }
    );
    assert!(!spool_dir.join("server1/a.eml").exists());
    assert!(spool_dir.join("failed/empty.eml.reason").exists());

    expect_line(&mut alice, "* 2 EXISTS");
    expect_line(&mut bob, "* 3 EXISTS");
    for c in [&mut alice, &mut bob] {
        c.send(b"DONE\r\n");
        let r = c.read_until_tagged("idle1");
        assert!(r.last().unwrap().contains("OK"), "{r:?}");
    }
    let archive = Archive::open(&server.archive_dir()).unwrap();
    assert_eq!(archive.verify().unwrap().records, 5, "stored once for both");
}

#[test]
fn serve_refuses_a_configuration_of_the_other_mode() {
    let server = journal_server();
    let dir = server.dir.path();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
    let config = dir.join("serve-mailbox.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten_tls = [\"127.0.0.1:0\"]\nlisten_starttls = []\n\
             [tls]\ncert = {:?}\nkey = {:?}\n[archive]\ndir = {:?}\nmode = \"mailbox\"\n",
            dir.join("cert.pem").display().to_string(),
            dir.join("key.pem").display().to_string(),
            server.archive_dir().display().to_string()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_imapvault"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: a server that starts instead of refusing is killed, and the test fails below.
    for _ in 0..200 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    if child.try_wait().unwrap().is_none() {
        child.kill().unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("holds journal-mode mail"),
        "{out:?}"
    );
}
