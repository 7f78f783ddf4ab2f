//! Import tests: mbox, Maildir++, .eml, duplicates, garbage, rejections, crash mid-batch.

use std::path::{Path, PathBuf};

use imapvault::archive::Archive;
use imapvault::import::{self, Location, RejectReason, Summary, Target};
use imapvault::index::MailboxId;
use imapvault::store::SegmentEnd;

fn setup() -> (tempfile::TempDir, Archive) {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Archive::open(&dir.path().join("archive")).unwrap();
    a.index_mut().add_user("alice", "x").unwrap();
    (dir, a)
}

fn run(a: &mut Archive, target: Target, paths: &[PathBuf]) -> Summary {
    import::run(a, "alice", target, paths, &mut |_| {}).unwrap()
}

fn mailbox(a: &Archive, name: &str) -> MailboxId {
    let u = a.index().user_id("alice").unwrap();
    a.index()
        .mailbox(u, name)
        .unwrap()
        .unwrap_or_else(|| panic!("no mailbox {name}"))
        .id
}

/// The stored bytes and metadata of every message of a mailbox, by UID.
fn bodies(a: &Archive, name: &str) -> Vec<Vec<u8>> {
    let entries = a.index().mailbox_entries(mailbox(a, name)).unwrap();
    let ids: Vec<_> = entries.iter().map(|e| e.message).collect();
    let metas = a.index().messages_meta(&ids).unwrap();
    metas
        .iter()
        .map(|m| {
            let blob = a.store().read(m.blob).unwrap();
            assert_eq!(blob.len() as u64, m.size);
            blob.to_vec()
        })
        .collect()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

const MBOX: &[u8] = b"From alice@example.org Mon Jan  1 10:00:00 2024\n\
Subject: first\n\nHello\n>From the start\n>>From nested\n\n\
From bob@example.org Tue Jan  2 11:30:00 2024\n\
Subject: second\n\nBye\n\n";

#[test]
fn mbox_unescapes_dates_and_canonicalises() {
    let (dir, mut a) = setup();
    let mbox = dir.path().join("mail.mbox");
    write(&mbox, MBOX);
    let s = run(&mut a, Target::Auto, &[mbox]);
    assert_eq!((s.imported, s.duplicates), (2, 0), "{s}");
    let b = bodies(&a, "INBOX");
    assert_eq!(
        b[0],
        b"Subject: first\r\n\r\nHello\r\nFrom the start\r\n>From nested\r\n".to_vec()
    );
    assert_eq!(b[1], b"Subject: second\r\n\r\nBye\r\n".to_vec());
    let entries = a.index().mailbox_entries(mailbox(&a, "INBOX")).unwrap();
    assert_eq!(entries.iter().map(|e| e.uid).collect::<Vec<_>>(), [1, 2]);
    let meta = a.index().message_meta(entries[0].message).unwrap();
    assert_eq!(meta.internal_date.unix, 1_704_103_200);
    let meta = a.index().message_meta(entries[1].message).unwrap();
    assert_eq!(meta.internal_date.unix, 1_704_103_200 + 86_400 + 5_400);
}

#[test]
fn several_batches_keep_the_sources_order_and_count_every_message() {
    // 2,600 messages: two full ingest batches of 1,000 and a part, so batches are written
    // while the preparing threads hold messages of the next one. Every 7th repeats the one
    // before it (a duplicate within its batch or across the batch edge).
    let (dir, mut a) = setup();
    let mut mbox = Vec::new();
    let mut expected = Vec::new();
    for i in 0..2600 {
        let n = if i % 7 == 6 { i - 1 } else { i };
        mbox.extend_from_slice(
            format!("From x Mon Jan  1 10:00:00 2024\nSubject: number {n}\n\nbody {n}\n\n")
                .as_bytes(),
        );
        if n == i {
            expected.push(format!("Subject: number {n}\r\n\r\nbody {n}\r\n").into_bytes());
        }
    }
    let path = dir.path().join("many.mbox");
    write(&path, &mbox);
    let s = run(&mut a, Target::Auto, &[path]);
    let repeats = 2600 / 7;
    assert_eq!((s.imported, s.duplicates), (2600 - repeats, repeats), "{s}");
    let b = bodies(&a, "INBOX");
    assert_eq!(b.len(), expected.len());
    for (uid, (got, want)) in b.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "UID {}", uid + 1);
    }
    let entries = a.index().mailbox_entries(mailbox(&a, "INBOX")).unwrap();
    let uids: Vec<u32> = entries.iter().map(|e| e.uid).collect();
    assert_eq!(uids, (1..=expected.len() as u32).collect::<Vec<_>>());
}

#[test]
fn message_files_read_ahead_keep_their_order_and_rejections() {
    // 700 .eml files (several chunks of the reading thread), one of them a dangling link: it
    // is rejected where it stands, and the others keep the files' order as UIDs.
    let (dir, mut a) = setup();
    let d = dir.path().join("emls");
    std::fs::create_dir_all(&d).unwrap();
    let mut expected = Vec::new();
    for i in 0..700 {
        let path = d.join(format!("m{i:04}.eml"));
        if i == 350 {
            std::os::unix::fs::symlink(d.join("nowhere"), &path).unwrap();
            continue;
        }
        write(&path, format!("Subject: {i}\n\nbody {i}\n").as_bytes());
        expected.push(format!("Subject: {i}\r\n\r\nbody {i}\r\n").into_bytes());
    }
    let s = run(&mut a, Target::Auto, std::slice::from_ref(&d));
    assert_eq!((s.imported, s.duplicates), (699, 0), "{s}");
    assert_eq!(s.rejected.len(), 1, "{s}");
    assert_eq!(
        s.rejected[0].location,
        Location::File(d.join("m0350.eml")),
        "{s}"
    );
    assert_eq!(bodies(&a, "INBOX"), expected);
}

#[test]
fn rerun_counts_duplicates_and_stores_once() {
    let (dir, mut a) = setup();
    let mbox = dir.path().join("mail.mbox");
    write(&mbox, MBOX);
    run(&mut a, Target::Auto, std::slice::from_ref(&mbox));
    let s = run(&mut a, Target::Auto, std::slice::from_ref(&mbox));
    assert_eq!((s.imported, s.duplicates), (0, 2), "{s}");
    assert_eq!(bodies(&a, "INBOX").len(), 2);
    assert_eq!(
        a.store().segments().unwrap(),
        [1],
        "a batch of duplicates writes nothing"
    );
    // Into another folder: new memberships, same blobs.
    let s = run(&mut a, Target::Folder("Old/Mail".into()), &[mbox]);
    assert_eq!(s.imported, 2);
    assert_eq!(a.index().committed_blobs().unwrap().len(), 2);
    assert!(a.verify().unwrap().is_clean());
}

#[test]
fn maildir_plus_plus_folders_and_flags() {
    let (dir, mut a) = setup();
    let md = dir.path().join("Maildir");
    write(
        &md.join("cur/1000.a.host:2,SR"),
        b"Subject: in\n\nread and answered\n",
    );
    write(&md.join("new/1001.b.host"), b"Subject: new\n\nunread\n");
    write(
        &md.join("tmp/1002.c.host"),
        b"Subject: tmp\n\nin delivery\n",
    );
    write(
        &md.join(".Sent/cur/2000.d.host:2,S"),
        b"Subject: sent\n\nx\n",
    );
    write(
        &md.join(".Archive.2019/cur/3000.e.host:2,FDT"),
        b"Subject: old\n\ny\n",
    );
    write(
        &md.join(".Entw&APw-rfe/cur/4000.f.host:2,"),
        b"Subject: draft\n\nz\n",
    );
    std::fs::create_dir_all(md.join(".Archive.2019/new")).unwrap();
    let s = run(&mut a, Target::Auto, &[md]);
    assert_eq!(s.imported, 5, "{s}");
    assert!(s.rejected.is_empty());

    let ix = a.index();
    let flags = |name: &str| -> Vec<String> {
        ix.mailbox_entries(mailbox(&a, name))
            .unwrap()
            .into_iter()
            .map(|e| e.flags)
            .collect()
    };
    assert_eq!(flags("INBOX"), ["\\Seen \\Answered", ""]);
    assert_eq!(flags("Sent"), ["\\Seen"]);
    assert_eq!(
        flags("Archive/2019"),
        ["\\Flagged \\Draft"],
        "T is never \\Deleted"
    );
    assert_eq!(flags("Entwürfe"), [""]);
    assert_eq!(
        flags("Archive"),
        Vec::<String>::new(),
        "parent exists, empty"
    );
    let u = ix.user_id("alice").unwrap();
    let info = ix.mailbox(u, "INBOX").unwrap().unwrap();
    assert_eq!((info.messages, info.unseen), (2, 1));
    assert_eq!(info.uidnext, 3);
}

#[test]
fn eml_directory_recursive_and_target_folder() {
    let (dir, mut a) = setup();
    let d = dir.path().join("emls");
    write(&d.join("a.eml"), b"Subject: a\n\n1\n");
    write(&d.join("sub/b.EML"), b"Subject: b\n\n2\n");
    write(&d.join("notes.txt"), b"not mail, not imported");
    let s = run(&mut a, Target::Auto, std::slice::from_ref(&d));
    assert_eq!(s.imported, 2, "{s}");
    assert_eq!(bodies(&a, "INBOX").len(), 2);
    let s = run(&mut a, Target::Folder("Imported".into()), &[d]);
    assert_eq!(s.imported, 2);
    assert_eq!(bodies(&a, "Imported").len(), 2);
}

#[test]
fn garbage_is_archived_as_is_and_bad_inputs_rejected() {
    let (dir, mut a) = setup();
    let garbage = dir.path().join("blob.bin");
    let bytes: Vec<u8> = (0..=255u8)
        .cycle()
        .take(2000)
        .filter(|&b| b != b'\n')
        .collect();
    write(&garbage, &bytes);
    let empty = dir.path().join("empty.eml");
    write(&empty, b"");
    let missing = dir.path().join("does-not-exist");
    let s = run(
        &mut a,
        Target::Auto,
        &[garbage, empty.clone(), missing.clone()],
    );
    assert_eq!(s.imported, 1, "{s}");
    assert_eq!(bodies(&a, "INBOX"), [bytes]);
    assert_eq!(s.rejected.len(), 2);
    assert_eq!(s.rejected[0].location, Location::File(empty));
    assert_eq!(s.rejected[0].reason, RejectReason::Empty);
    assert_eq!(s.rejected[1].location, Location::File(missing));
    assert!(matches!(s.rejected[1].reason, RejectReason::Unreadable(_)));
    assert!(s.to_string().contains("2 rejected"));
}

#[test]
fn empty_mbox_message_rejected_with_offset() {
    let (dir, mut a) = setup();
    let mbox = dir.path().join("m");
    write(
        &mbox,
        b"From a Mon Jan  1 10:00:00 2024\n\nFrom b Mon Jan  1 10:00:00 2024\nSubject: x\n\ny\n",
    );
    let s = run(&mut a, Target::Auto, std::slice::from_ref(&mbox));
    assert_eq!(s.imported, 1);
    assert_eq!(
        s.rejected[0].location,
        Location::MboxMessage {
            path: mbox,
            offset: 0
        }
    );
}

#[test]
fn crash_mid_batch_leaves_nothing_visible_and_uids_are_not_reused() {
    let (dir, mut a) = setup();
    let first = dir.path().join("first.eml");
    write(&first, b"Subject: committed\n\nx\n");
    run(&mut a, Target::Auto, &[first]);
    let inbox = mailbox(&a, "INBOX");
    let state = a.index().mailbox_state(inbox).unwrap();

    // A batch whose blobs were appended and synced, but whose index commit never happened.
    {
        let (index, store) = a.parts_mut();
        let lock = store.lock_writer().unwrap();
        let seg = lock.head_segment().unwrap().unwrap();
        let head = SegmentEnd {
            segment: seg,
            committed_end: index.segment_end(seg).unwrap(),
        };
        let mut w = lock.writer(Some(head)).unwrap();
        w.append(b"Subject: lost\r\n\r\nnever committed\r\n")
            .unwrap();
        w.sync().unwrap();
    }
    assert_eq!(a.index().mailbox_state(inbox).unwrap(), state);
    assert_eq!(a.verify().unwrap().torn_tails.len(), 1);

    let second = dir.path().join("second.eml");
    write(&second, b"Subject: after\n\ny\n");
    let s = run(&mut a, Target::Auto, &[second]);
    assert_eq!(s.imported, 1);
    let entries = a.index().mailbox_entries(inbox).unwrap();
    assert_eq!(entries.iter().map(|e| e.uid).collect::<Vec<_>>(), [1, 2]);
    let b = bodies(&a, "INBOX");
    assert_eq!(b[1], b"Subject: after\r\n\r\ny\r\n".to_vec());
    let report = a.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(a.store().segments().unwrap(), [1, 2]);
}

#[test]
fn set_flags_bumps_modseq_and_drops_deleted() {
    let (dir, mut a) = setup();
    let f = dir.path().join("m.eml");
    write(&f, b"Subject: f\n\nz\n");
    run(&mut a, Target::Auto, &[f]);
    let inbox = mailbox(&a, "INBOX");
    let before = a.index().mailbox_state(inbox).unwrap().highestmodseq;
    let m = a
        .index_mut()
        .set_flags(inbox, 1, "\\deleted \\SEEN $Label1 \\Seen")
        .unwrap();
    assert_eq!(m, before + 1);
    let e = &a.index().mailbox_entries(inbox).unwrap()[0];
    assert_eq!(e.flags, "\\Seen $Label1");
    assert_eq!(e.modseq, m);
    // No change, no new modseq.
    assert_eq!(
        a.index_mut().set_flags(inbox, 1, "\\Seen $Label1").unwrap(),
        m
    );
    assert!(a.index_mut().set_flags(inbox, 99, "").is_err());
}

/// Release-mode throughput: `cargo test --release --test import -- --ignored --nocapture`.
#[test]
#[ignore]
fn import_rate_10k_small_messages() {
    let (dir, mut a) = setup();
    let mbox = dir.path().join("big.mbox");
    let mut text = Vec::new();
    for i in 0..10_000 {
        text.extend_from_slice(
            format!(
                "From sender{i}@example.org Mon Jan  1 10:00:00 2024\n\
                 From: Sender {i} <sender{i}@example.org>\nTo: alice@example.org\n\
                 Subject: message number {i}\nMessage-ID: <{i}@example.org>\n\n\
                 Body of message {i}, a few words long to look like mail.\n\n"
            )
            .as_bytes(),
        );
    }
    write(&mbox, &text);
    let t = std::time::Instant::now();
    let s = run(&mut a, Target::Auto, &[mbox]);
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(s.imported, 10_000);
    println!(
        "imported {} messages in {secs:.3} s: {:.0} messages/s",
        s.imported,
        s.imported as f64 / secs
    );
}

#[test]
fn mailbox_counters_follow_imports_and_flag_changes() {
    let (dir, mut a) = setup();
    let mbox = dir.path().join("in.mbox");
    write(
        &mbox,
        b"From a@example.org Mon Jan  1 10:00:00 2024\nSubject: one\n\nbody one\n\n\
          From a@example.org Mon Jan  1 11:00:00 2024\nSubject: two\n\nbody two, longer\n\n\
          From a@example.org Mon Jan  1 12:00:00 2024\nSubject: three\n\nthree\n",
    );
    run(
        &mut a,
        Target::Folder("INBOX".into()),
        std::slice::from_ref(&mbox),
    );
    let user = a.index().user_password_hash("alice").unwrap().unwrap().0;
    let info = |a: &Archive| a.index().mailbox(user, "INBOX").unwrap().unwrap();
    let sizes: u64 = bodies(&a, "INBOX").iter().map(|b| b.len() as u64).sum();
    let i = info(&a);
    assert_eq!((i.messages, i.unseen, i.size), (3, 3, sizes));

    let inbox = mailbox(&a, "INBOX");
    a.index_mut()
        .set_flags_many(
            inbox,
            &[(1, "\\Seen".into()), (2, "\\Seen \\Flagged".into())],
        )
        .unwrap();
    assert_eq!(info(&a).unseen, 1);
    a.index_mut().set_flags(inbox, 2, "\\Flagged").unwrap();
    assert_eq!(info(&a).unseen, 2, "unseen again after -\\Seen");
    a.index_mut().set_flags(inbox, 1, "\\Seen $Work").unwrap();
    assert_eq!(
        info(&a).unseen,
        2,
        "a keyword change leaves the count alone"
    );

    // A re-run adds nothing, so the counters do not move either.
    run(&mut a, Target::Folder("INBOX".into()), &[mbox]);
    let i = info(&a);
    assert_eq!((i.messages, i.unseen, i.size), (3, 2, sizes));
}

/// The import's checkpoints are made by a thread of their own after each commit (off the
/// writer's path), not left to SQLite's default on the writer, which would copy nothing back
/// into the database file for an import this small (its WAL stays under 1,000 pages): with the
/// archive's connection still open (so nothing checkpoints on close), the database file has
/// grown by the imported rows once the import returns.
#[test]
fn the_import_checkpoints_its_commits_into_the_database_file() {
    let (dir, mut a) = setup();
    let index_file = dir.path().join("archive/index.sqlite");
    let before = std::fs::metadata(&index_file).unwrap().len();
    let mut mbox = Vec::new();
    for i in 0..300 {
        mbox.extend(
            format!(
                "From a@example.org Mon Jan  1 10:00:00 2024\nSubject: message {i}\n\n{}\n\n",
                format!("word{i} text of the body, line after line. ").repeat(20)
            )
            .bytes(),
        );
    }
    let path = dir.path().join("many.mbox");
    write(&path, &mbox);
    let s = run(&mut a, Target::Auto, &[path]);
    assert_eq!(s.imported, 300);
    let after = std::fs::metadata(&index_file).unwrap().len();
    assert!(
        after > before + 100 * 1024,
        "index file {before} -> {after} bytes: the commits were not checkpointed"
    );
}
