//! Crash safety of ingest (issue 6, DESIGN §3): `imapvault import` killed at each named step of
//! the ingest order (blobs appended, blobs synced, index committed) and with SIGKILL at random
//! moments, many times over. After every crash: nothing committed is lost, nothing is stored
//! twice, UIDs strictly ascend and are never reused, UIDVALIDITY does not change, SQLite's
//! integrity check passes and every committed blob's checksum holds. A final clean run then
//! archives the rest exactly once. And an import whose writes the system refuses (a file size
//! cap, as a full disk or a quota would) stops with a clear error and loses nothing committed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use imapvault::archive::Archive;
use imapvault::index::MessageId;

/// Messages in the feed: six batches of 1,000, so kills land between and inside batches.
const MESSAGES: usize = 6000;
/// Random kills, bounded in count; each run is itself bounded in time.
const RANDOM_KILLS: usize = 12;

fn write_feed(path: &Path) {
    let mut mbox = String::new();
    for i in 0..MESSAGES {
        mbox.push_str(&format!(
            "From a@example.org Mon Jan  1 10:00:00 2024\nFrom: A <a@example.org>\n\
             Subject: crash-{i:05}\nMessage-ID: <crash-{i}@example.org>\n\n"
        ));
        for line in 0..8 {
            mbox.push_str(&format!(
                "line {line} of message {i}, archived while we pull the plug\n"
            ));
        }
        mbox.push('\n');
    }
    std::fs::write(path, mbox).unwrap();
}

/// What a check has seen: the mailbox's UIDVALIDITY and each stored message's UID.
#[derive(Default)]
struct Seen {
    uidvalidity: Option<u32>,
    uid_of: BTreeMap<MessageId, u32>,
    uidnext: u64,
}

/// What was fed: how many messages at most, and how each one's stored bytes begin.
struct Feed {
    messages: usize,
    starts_with: &'static [u8],
}

/// The mbox feed of the import tests.
const MBOX: Feed = Feed {
    messages: MESSAGES,
    starts_with: b"From: A <a@example.org>\r\nSubject: crash-",
};

/// The spooled files of the spool test.
const SPOOLED: Feed = Feed {
    messages: 50,
    starts_with: b"From: A <a@example.org>\r\nSubject: spooled-",
};

/// Checks every invariant on the archive in `dir` and folds what it found into `seen`.
fn check(dir: &Path, feed: &Feed, seen: &mut Seen, after: &str) {
    let archive = Archive::open(dir).unwrap();
    let index = archive.index();
    assert_eq!(
        index.integrity_check().unwrap(),
        "ok",
        "{after}: SQLite integrity"
    );
    let report = archive.verify().unwrap();
    assert!(
        report.is_clean(),
        "{after}: damaged records {:?}",
        report.damaged
    );

    let user = index.user_password_hash("u").unwrap().unwrap().0;
    let Some(inbox) = index.mailbox(user, "INBOX").unwrap() else {
        assert!(seen.uid_of.is_empty(), "{after}: INBOX vanished");
        return;
    };
    if let Some(v) = seen.uidvalidity {
        assert_eq!(inbox.uidvalidity, v, "{after}: UIDVALIDITY changed");
    }
    seen.uidvalidity = Some(inbox.uidvalidity);
    assert!(inbox.uidnext >= seen.uidnext, "{after}: UIDNEXT went back");

    let entries = index.mailbox_entries(inbox.id).unwrap();
    assert!(
        entries.len() <= feed.messages,
        "{after}: more messages than the feed has"
    );
    assert!(
        entries.windows(2).all(|w| w[0].uid < w[1].uid),
        "{after}: UIDs not strictly ascending"
    );
    let distinct: BTreeSet<MessageId> = entries.iter().map(|e| e.message).collect();
    assert_eq!(
        distinct.len(),
        entries.len(),
        "{after}: a message stored twice"
    );
    assert!(entries.iter().all(|e| u64::from(e.uid) < inbox.uidnext));
    assert_eq!(
        inbox.messages,
        entries.len() as u64,
        "{after}: counters disagree"
    );

    // Nothing committed before is lost or renumbered; anything new took a fresh UID.
    let now: BTreeMap<MessageId, u32> = entries.iter().map(|e| (e.message, e.uid)).collect();
    for (message, uid) in &seen.uid_of {
        assert_eq!(
            now.get(message),
            Some(uid),
            "{after}: committed message lost or renumbered"
        );
    }
    for (message, uid) in &now {
        if !seen.uid_of.contains_key(message) {
            assert!(u64::from(*uid) >= seen.uidnext, "{after}: a UID was reused");
        }
    }
    // Every committed message reads back whole, checksum verified.
    let ids: Vec<MessageId> = entries.iter().map(|e| e.message).collect();
    for chunk in ids.chunks(500) {
        for meta in index.messages_meta(chunk).unwrap() {
            let blob = archive.store().read(meta.blob).unwrap();
            assert!(blob.starts_with(feed.starts_with), "{after}: wrong bytes");
        }
    }
    eprintln!(
        "{after}: {} committed, {} segment(s), {} torn tail(s)",
        now.len(),
        report.segments,
        report.torn_tails.len()
    );
    seen.uid_of = now;
    seen.uidnext = inbox.uidnext;
}

fn import(config: &Path, feed: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imapvault"));
    cmd.arg("--config")
        .arg(config)
        .args(["import", "--user", "u", "--folder", "INBOX"])
        .arg(feed)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// The next of a deterministic sequence (xorshift32; `state` must not be 0), so that a failure
/// replays.
fn xorshift(state: &mut u32) -> u32 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    *state
}

/// Waits for `child`, at most `limit`.
fn wait_bounded(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "import did not end");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let archive_dir = dir.path().join("archive");
    {
        let mut archive = Archive::open(&archive_dir).unwrap();
        let hash = imapvault::auth::hash_password(b"pw").unwrap();
        archive.index_mut().add_user("u", &hash).unwrap();
    }
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[archive]\ndir = \"archive\"\n[log]\nlevel = \"off\"\n",
    )
    .unwrap();
    let feed = dir.path().join("feed.mbox");
    write_feed(&feed);
    (dir, archive_dir, config, feed)
}

#[test]
fn import_killed_at_each_step_of_the_ingest_order_loses_nothing_committed() {
    let (_dir, archive_dir, config, feed) = setup();
    let mut seen = Seen::default();
    // (step, messages visible afterwards): only the commit makes a batch visible.
    for (step, visible) in [("appended", 0), ("synced", 0), ("committed", 1000)] {
        let mut child = import(&config, &feed)
            .env("IMAPVAULT_CRASH_AT", step)
            .spawn()
            .unwrap();
        let status = wait_bounded(&mut child, Duration::from_secs(60));
        assert!(!status.success(), "the crash point {step} was not reached");
        check(&archive_dir, &MBOX, &mut seen, step);
        assert_eq!(seen.uid_of.len(), visible, "after a crash at {step}");
    }
    finish_cleanly(&archive_dir, &config, &feed, &mut seen);
}

/// After the crashes: an import run to its end archives every remaining message, and the
/// archive then holds each message exactly once.
fn finish_cleanly(archive_dir: &Path, config: &Path, feed: &Path, seen: &mut Seen) {
    let status = wait_bounded(
        &mut import(config, feed).spawn().unwrap(),
        Duration::from_secs(60),
    );
    assert!(status.success());
    check(archive_dir, &MBOX, seen, "the clean run");
    assert_eq!(
        seen.uid_of.len(),
        MESSAGES,
        "every message archived exactly once"
    );
}

/// A clean import of the 6,000-message feed commits six batches of exactly 1,000 (each batch's
/// entries share one MODSEQ): none larger, even at the end of the input, where the batch the
/// reading left full is written before more prepared messages join it.
#[test]
fn an_import_commits_batches_of_at_most_a_thousand_messages() {
    let (_dir, archive_dir, config, feed) = setup();
    let status = wait_bounded(
        &mut import(&config, &feed).spawn().unwrap(),
        Duration::from_secs(60),
    );
    assert!(status.success());
    let archive = Archive::open(&archive_dir).unwrap();
    let index = archive.index();
    let user = index.user_password_hash("u").unwrap().unwrap().0;
    let inbox = index.mailbox(user, "INBOX").unwrap().unwrap();
    let mut batches: BTreeMap<u64, usize> = BTreeMap::new();
    for e in index.mailbox_entries(inbox.id).unwrap() {
        *batches.entry(e.modseq).or_default() += 1;
    }
    let sizes: Vec<usize> = batches.into_values().collect();
    assert_eq!(sizes, vec![1000; MESSAGES / 1000]);
}

#[test]
fn import_killed_at_random_moments_loses_nothing_committed() {
    let (_dir, archive_dir, config, feed) = setup();
    let mut seen = Seen::default();
    // Deterministic pseudo-random delays, so a failure can be replayed.
    let mut state = 0x2545_f491_u32;
    for kill in 0..RANDOM_KILLS {
        let delay = Duration::from_millis(u64::from(xorshift(&mut state) % 600));
        let mut child = import(&config, &feed).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL; it may have finished already
        wait_bounded(&mut child, Duration::from_secs(60));
        check(
            &archive_dir,
            &MBOX,
            &mut seen,
            &format!("kill {kill} after {delay:?}"),
        );
    }
    finish_cleanly(&archive_dir, &config, &feed, &mut seen);
}

/// The spool path: a server whose spool pass dies at each step of the ingest order, restarted
/// without the crash point, archives every spooled file exactly once and empties the spool.
#[test]
fn server_killed_while_spooling_archives_each_file_once_after_restart() {
    for step in ["appended", "synced", "committed"] {
        let dir = tempfile::tempdir().unwrap();
        let archive_dir = dir.path().join("archive");
        {
            let mut archive = Archive::open(&archive_dir).unwrap();
            let hash = imapvault::auth::hash_password(b"pw").unwrap();
            archive.index_mut().add_user("u", &hash).unwrap();
        }
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("c.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten_tls = [\"127.0.0.1:{port}\"]\nlisten_starttls = []\nworkers = 2\n\
                 [tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n[archive]\ndir = \"archive\"\n\
                 [spool]\ndir = \"spool\"\n[log]\nlevel = \"off\"\n"
            ),
        )
        .unwrap();
        // The files wait in the spool before the server starts, written the way a spool writer
        // must (tmp/, then renamed into place).
        let inbox = dir.path().join("spool/u");
        std::fs::create_dir_all(dir.path().join("spool/tmp")).unwrap();
        std::fs::create_dir_all(&inbox).unwrap();
        for i in 0..50 {
            let tmp = dir.path().join(format!("spool/tmp/m{i}.eml"));
            std::fs::write(
                &tmp,
                format!("From: A <a@example.org>\r\nSubject: spooled-{i}\r\n\r\nbody {i}\r\n"),
            )
            .unwrap();
            std::fs::rename(&tmp, inbox.join(format!("m{i}.eml"))).unwrap();
        }
        let serve = |crash: Option<&str>| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_imapvault"));
            cmd.arg("--config").arg(&config).arg("serve");
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            if let Some(step) = crash {
                cmd.env("IMAPVAULT_CRASH_AT", step);
            }
            cmd.spawn().unwrap()
        };
        // With the crash point, the first spool pass kills the server.
        let mut crashed = serve(Some(step));
        let status = wait_bounded(&mut crashed, Duration::from_secs(30));
        assert!(
            !status.success(),
            "{step}: the spool pass did not reach the crash point"
        );
        let mut seen = Seen::default();
        check(&archive_dir, &SPOOLED, &mut seen, step);
        let left = std::fs::read_dir(&inbox).unwrap().count();
        assert_eq!(
            left, 50,
            "{step}: a file left the spool before its commit was known"
        );

        // Restarted normally, it archives all 50, once, and empties the spool.
        let mut server = serve(None);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::fs::read_dir(&inbox).unwrap().count() > 0 {
            assert!(
                Instant::now() < deadline,
                "{step}: spool not emptied after restart"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = server.kill();
        let _ = server.wait();
        check(
            &archive_dir,
            &SPOOLED,
            &mut seen,
            &format!("{step}, restarted"),
        );
        assert_eq!(
            seen.uid_of.len(),
            50,
            "{step}: each spooled message archived exactly once"
        );
        assert!(std::fs::read_dir(dir.path().join("spool/failed"))
            .unwrap()
            .next()
            .is_none());
    }
}

/// The cap on each file's size for the index case of the failing-write test: 6,000 small
/// messages make a ~10 MB index beside ~3.3 MB of blobs, so the index (or its WAL) reaches it
/// first, a few batches in.
const INDEX_CAP_KIB: u64 = 4096;

/// The feed of the failing-write test: each message carries an 8 KB attachment, whose bytes
/// the content index does not read, so the blob segment grows several times faster than the
/// index; three batches (1,000, 1,000, 500).
const HEAVY_MESSAGES: usize = 2500;

/// As [`MBOX`], for the heavy feed.
const HEAVY: Feed = Feed {
    messages: HEAVY_MESSAGES,
    starts_with: b"From: A <a@example.org>\r\nSubject: crash-",
};

fn write_heavy_feed(path: &Path) {
    let mut mbox = String::new();
    let mut state = 0x9e37_79b9_u32;
    for i in 0..HEAVY_MESSAGES {
        mbox.push_str(&format!(
            "From a@example.org Mon Jan  1 10:00:00 2024\nFrom: A <a@example.org>\n\
             Subject: crash-{i:05}\nMessage-ID: <heavy-{i}@example.org>\nMIME-Version: 1.0\n\
             Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n\
             message {i}, with a scan attached\n--b\nContent-Type: application/octet-stream\n\
             Content-Disposition: attachment; filename=scan-{i}.bin\n\
             Content-Transfer-Encoding: base64\n\n"
        ));
        // 8 KB of base64 letters from a xorshift: nothing a compressor or an index could share.
        for _ in 0..108 {
            for _ in 0..76 {
                mbox.push(char::from(b'A' + (xorshift(&mut state) % 26) as u8));
            }
            mbox.push('\n');
        }
        mbox.push_str("--b--\n\n");
    }
    std::fs::write(path, mbox).unwrap();
}

/// `imapvault import` of `feed` with every file it writes capped at `limit_kib` KiB
/// (RLIMIT_FSIZE, set by bash's `ulimit -f`): a write past the cap fails with EFBIG, as on a
/// full disk or a quota, and SIGXFSZ is ignored so that the failure reaches imapvault. Returns
/// its exit status and standard error.
fn import_capped(config: &Path, feed: &Path, limit_kib: u64) -> (std::process::ExitStatus, String) {
    // The same command as `import`, run by bash once it has set the cap.
    let capped = import(config, feed);
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(r#"ulimit -f "$1" && trap '' XFSZ && shift && exec "$@""#)
        .arg("bash")
        .arg(limit_kib.to_string())
        .arg(capped.get_program())
        .args(capped.get_args())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A write the system refuses mid-import (DESIGN §3) ends the import with an error that names
/// the file and the system's reason, never a panic; the batches committed before it stay
/// whole, the failed batch leaves nothing an index row names, and a later import archives the
/// rest exactly once. Both writers: the blob store's (a large feed, the segment passes the cap
/// first) and SQLite's (small messages, the index passes it first).
#[test]
fn import_whose_writes_fail_stops_with_an_error_and_loses_nothing_committed() {
    // The blob segment: 8 MB per batch, so a 12 MiB cap lets one batch in and stops the second.
    let (dir, archive_dir, config, _) = setup();
    let feed = dir.path().join("heavy.mbox");
    write_heavy_feed(&feed);
    let mut seen = Seen::default();
    let (status, stderr) = import_capped(&config, &feed, 12 * 1024);
    assert!(!status.success(), "the capped import succeeded: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("seg-000001.blob") && stderr.contains("File too large"),
        "the error names the segment and the reason: {stderr}"
    );
    assert_eq!(
        stderr.matches("File too large").count(),
        1,
        "the reason once: {stderr}"
    );
    check(&archive_dir, &HEAVY, &mut seen, "the failed blob write");
    assert_eq!(seen.uid_of.len(), 1000, "the first batch, and only it");
    let status = wait_bounded(
        &mut import(&config, &feed).spawn().unwrap(),
        Duration::from_secs(120),
    );
    assert!(status.success());
    check(&archive_dir, &HEAVY, &mut seen, "the clean run");
    assert_eq!(seen.uid_of.len(), HEAVY_MESSAGES, "each message once");

    // The index: small messages, whose index rows outgrow their blobs.
    let (_dir, archive_dir, config, feed) = setup();
    let mut seen = Seen::default();
    let (status, stderr) = import_capped(&config, &feed, INDEX_CAP_KIB);
    assert!(!status.success(), "the capped import succeeded: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("index database: disk I/O error (writing a database file failed"),
        "the error names the index and the step: {stderr}"
    );
    assert_eq!(
        stderr.matches("disk I/O error").count(),
        1,
        "the reason once: {stderr}"
    );
    check(&archive_dir, &MBOX, &mut seen, "the failed index write");
    let committed = seen.uid_of.len();
    assert!(
        committed > 0 && committed < MESSAGES && committed % 1000 == 0,
        "whole batches before the cap, not all: {committed}"
    );
    finish_cleanly(&archive_dir, &config, &feed, &mut seen);
}
