//! The spool: files moved in are archived and removed, failures end in failed/ with a reason,
//! nothing is lost or stored twice, and an IDLE client hears of spooled mail at once.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use common::TestServer;
use imapvault::archive::Archive;
use imapvault::config::ArchiveMode;
use imapvault::spool::{PassSummary, Spool};

fn message(subject: &str) -> String {
    format!(
        "From: Backup Agent <agent@example.org>\r\nTo: demo@example.org\r\nSubject: {subject}\r\n\
         Date: Wed, 4 Jun 2025 08:00:00 +0000\r\nMessage-ID: <{subject}@example.org>\r\n\r\nBody of {subject}.\r\n"
    )
}

/// Writes a file the way a spool writer must: into tmp/, then renamed into place.
fn drop_file(spool: &Path, rel_dir: &str, name: &str, content: &str) -> PathBuf {
    let tmp = spool.join("tmp").join(name);
    fs::create_dir_all(spool.join("tmp")).unwrap();
    fs::write(&tmp, content).unwrap();
    let dir = spool.join(rel_dir);
    fs::create_dir_all(&dir).unwrap();
    let target = dir.join(name);
    fs::rename(&tmp, &target).unwrap();
    target
}

fn folder_count(archive_dir: &Path, user: &str, folder: &str) -> u64 {
    let index = Archive::open_index_at(archive_dir).unwrap();
    let (id, _) = index.user_password_hash(user).unwrap().unwrap();
    index.mailbox(id, folder).unwrap().map_or(0, |m| m.messages)
}

#[test]
fn spooled_files_are_archived_removed_or_failed_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let archive_dir = dir.path().join("archive");
    let spool_dir = dir.path().join("spool");
    {
        let archive = Archive::open(&archive_dir).unwrap();
        archive
            .open_index()
            .unwrap()
            .add_user("alice", &imapvault::auth::hash_password(b"pw").unwrap())
            .unwrap();
    }
    let mut spool = Spool::open(
        &spool_dir,
        Archive::open(&archive_dir).unwrap(),
        ArchiveMode::Mailbox,
    )
    .unwrap();

    let inbox = drop_file(&spool_dir, "alice", "one.eml", &message("one"));
    let nested = drop_file(&spool_dir, "alice/Archive/2019", "two.eml", &message("two"));
    let unknown = drop_file(&spool_dir, "mallory", "three.eml", &message("three"));
    let empty = drop_file(&spool_dir, "alice", "empty.eml", "");
    // A half-written file still in tmp/ is never touched.
    fs::write(spool_dir.join("tmp").join("partial.eml"), "From: x").unwrap();

    let summary = spool.pass().unwrap();
    assert_eq!(
        summary,
        PassSummary {
            archived: 2,
            duplicates: 0,
            failed: 2,
            deferred: 0
        }
    );
    assert!(
        !inbox.exists() && !nested.exists(),
        "archived files are removed"
    );
    assert_eq!(folder_count(&archive_dir, "alice", "INBOX"), 1);
    assert_eq!(folder_count(&archive_dir, "alice", "Archive/2019"), 1);
    assert!(!unknown.exists() && !empty.exists());
    let failed_unknown = spool_dir.join("failed/mallory/INBOX/three.eml");
    assert_eq!(
        fs::read_to_string(&failed_unknown).unwrap(),
        message("three"),
        "kept byte for byte"
    );
    let reason =
        fs::read_to_string(spool_dir.join("failed/mallory/INBOX/three.eml.reason")).unwrap();
    assert!(reason.contains("no user \"mallory\""), "{reason}");
    let reason = fs::read_to_string(spool_dir.join("failed/alice/INBOX/empty.eml.reason")).unwrap();
    assert!(reason.contains("empty"), "{reason}");
    assert!(spool_dir.join("tmp/partial.eml").exists());

    // The same message spooled again (a re-run backup) is a duplicate, not a second copy.
    drop_file(&spool_dir, "alice", "one-again.eml", &message("one"));
    let summary = spool.pass().unwrap();
    assert_eq!((summary.archived, summary.duplicates), (0, 1));
    assert_eq!(folder_count(&archive_dir, "alice", "INBOX"), 1);
    assert_eq!(
        spool.pass().unwrap(),
        PassSummary::default(),
        "nothing left to do"
    );
}

#[test]
fn idle_client_hears_of_a_spooled_message() {
    let server = TestServer::start();
    let spool_dir = server.dir.path().join("spool");
    let stopping = Arc::new(AtomicBool::new(false));
    let spool = Spool::open(
        &spool_dir,
        Archive::open(&server.archive_dir()).unwrap(),
        ArchiveMode::Mailbox,
    )
    .unwrap();
    let spool_thread = {
        let stopping = stopping.clone();
        std::thread::spawn(move || spool.run(&stopping))
    };

    let mut client = server.raw_logged_in();
    let exists = client.select_exists("INBOX");
    client.send(b"i1 IDLE\r\n");
    assert_eq!(client.read_line(), "+ idling");
    let start = Instant::now();
    drop_file(
        &spool_dir,
        "demo",
        "spooled.eml",
        &message("spooled-while-idle"),
    );
    let news = client.read_line();
    assert_eq!(news, format!("* {} EXISTS", exists + 1));
    eprintln!("spool drop to EXISTS: {:?}", start.elapsed());
    client.send(b"DONE\r\n");
    assert_eq!(client.read_line(), "i1 OK IDLE terminated");
    let fetch = client.command(&format!(
        "FETCH {} (BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
        exists + 1
    ));
    assert!(
        fetch[0].contains("Subject: spooled-while-idle"),
        "{fetch:?}"
    );

    stopping.store(true, Ordering::SeqCst);
    spool_thread.join().unwrap();
}
