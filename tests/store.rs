//! Blob store and index tests: round trips, damage, torn tails, roll-over, UIDs, mailboxes.

use std::fs::OpenOptions;
use std::io::Write;

use imapvault::index::{Index, SpecialUse, Subscription};
use imapvault::store::{BlobRef, BlobStore, Damage, SegmentEnd, StoreError};

/// Appends `blobs` in one batch, as the ingest does (no index: committed end is the caller's).
fn append_batch(store: &BlobStore, head: Option<SegmentEnd>, blobs: &[&[u8]]) -> Vec<BlobRef> {
    let lock = store.lock_writer().unwrap();
    let mut w = lock.writer(head).unwrap();
    let refs = blobs.iter().map(|b| w.append(b).unwrap()).collect();
    w.sync().unwrap();
    refs
}

fn end_of(refs: &[BlobRef]) -> Option<SegmentEnd> {
    refs.last().map(|r| SegmentEnd {
        segment: r.segment,
        committed_end: r.offset + r.len,
    })
}

#[test]
fn append_read_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let refs = append_batch(&store, None, &[b"Subject: a\r\n\r\nx\r\n", b"", b"second"]);
    assert_eq!(refs[0].segment, 1);
    assert_eq!(refs[0].offset, 16);
    assert_eq!(&*store.read(refs[0]).unwrap(), b"Subject: a\r\n\r\nx\r\n");
    assert_eq!(&*store.read(refs[1]).unwrap(), b"");
    assert_eq!(&*store.read(refs[2]).unwrap(), b"second");
    // A second batch continues the segment at its committed end.
    let more = append_batch(&store, end_of(&refs), &[b"third"]);
    assert_eq!(more[0].segment, 1);
    assert_eq!(&*store.read(more[0]).unwrap(), b"third");
}

#[test]
fn reader_opened_before_appends_sees_later_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let writer_side = BlobStore::open(dir.path()).unwrap();
    let reader = BlobStore::open(dir.path()).unwrap();
    let first = append_batch(&writer_side, None, &[b"one"]);
    let held = reader.read(first[0]).unwrap();
    let second = append_batch(&writer_side, end_of(&first), &[b"two, longer than one"]);
    assert_eq!(&*reader.read(second[0]).unwrap(), b"two, longer than one");
    // The blob read from the older, shorter map is still valid.
    assert_eq!(&*held, b"one");
}

#[test]
fn torn_tail_is_left_and_next_writer_starts_new_segment() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let refs = append_batch(&store, None, &[b"committed message"]);
    // A crash mid-record: half a record after the committed end.
    let seg = store.segment_path(1);
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(b"IVB1\x40\x00\x00\x00\x00\x00\x00\x00garbage")
        .unwrap();
    drop(f);
    let len_before = std::fs::metadata(&seg).unwrap().len();

    let report = store.verify(&refs).unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.torn_tails.len(), 1);
    assert_eq!(
        report.torn_tails[0].committed_end,
        refs[0].offset + refs[0].len
    );

    let next = append_batch(&store, end_of(&refs), &[b"after the crash"]);
    assert_eq!(
        next[0].segment, 2,
        "must not continue a segment with a torn tail"
    );
    assert_eq!(
        std::fs::metadata(&seg).unwrap().len(),
        len_before,
        "never truncated"
    );
    assert_eq!(&*store.read(refs[0]).unwrap(), b"committed message");
    assert_eq!(&*store.read(next[0]).unwrap(), b"after the crash");
}

#[test]
fn flipped_bit_is_an_error_and_verify_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let refs = append_batch(&store, None, &[b"first record", b"second record", b"third"]);
    let seg = store.segment_path(1);
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[refs[1].offset as usize + 3] ^= 0x04;
    // Rewriting a test file in place, which the store itself never does.
    std::fs::write(&seg, &bytes).unwrap();
    let fresh = BlobStore::open(dir.path()).unwrap();
    match fresh.read(refs[1]) {
        Err(StoreError::Damaged { damage, .. }) => assert_eq!(damage, Damage::BadChecksum),
        other => panic!("damaged record served: {other:?}"),
    }
    assert_eq!(&*fresh.read(refs[2]).unwrap(), b"third");
    let report = fresh.verify(&refs).unwrap();
    assert_eq!(report.damaged.len(), 1, "{report:?}");
    assert_eq!(report.damaged[0].record_offset, refs[1].offset - 16);
    assert_eq!(report.damaged[0].damage, Damage::BadChecksum);
    assert!(report.torn_tails.is_empty());
    assert_eq!(report.records, 2);
}

#[test]
fn damaged_length_is_found_and_walk_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let refs = append_batch(&store, None, &[b"aaaa", b"bbbb", b"cccc"]);
    let seg = store.segment_path(1);
    let mut bytes = std::fs::read(&seg).unwrap();
    // Damage the length field of the first record: the walk cannot follow it.
    bytes[(refs[0].offset - 12) as usize] = 0xff;
    std::fs::write(&seg, &bytes).unwrap();
    let fresh = BlobStore::open(dir.path()).unwrap();
    let report = fresh.verify(&refs).unwrap();
    assert_eq!(report.damaged.len(), 1, "{report:?}");
    assert_eq!(report.damaged[0].damage, Damage::BadLength);
    assert_eq!(report.records, 2);
}

#[test]
fn segments_roll_over_at_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::with_segment_cap(dir.path(), 100).unwrap();
    let blob = [b'x'; 40];
    let refs = append_batch(&store, None, &[&blob, &blob, &blob, &[b'y'; 300]]);
    // 56 bytes per record: two do not fit in 100, so each gets its own segment.
    let segs: Vec<u32> = refs.iter().map(|r| r.segment).collect();
    assert_eq!(segs, vec![1, 2, 3, 4]);
    for r in &refs {
        assert_eq!(store.read(*r).unwrap().len() as u64, r.len);
    }
    assert_eq!(store.segments().unwrap(), vec![1, 2, 3, 4]);
    // A full head segment is not continued.
    let next = append_batch(&store, end_of(&refs), &[b"z"]);
    assert_eq!(next[0].segment, 5);
}

#[test]
fn wrong_length_or_offset_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let r = append_batch(&store, None, &[b"hello world"])[0];
    let longer = BlobRef {
        len: r.len + 1,
        ..r
    };
    assert!(store.read(longer).is_err());
    let shifted = BlobRef {
        offset: r.offset + 1,
        ..r
    };
    assert!(store.read(shifted).is_err());
    let missing = BlobRef { segment: 9, ..r };
    assert!(store.read(missing).is_err());
}

// ---- index ----

#[test]
fn migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.sqlite");
    let mut a = Index::open(&path).unwrap();
    assert_eq!(a.schema_version().unwrap(), 2);
    a.add_user("alice", "hash").unwrap();
    drop(a);
    let b = Index::open(&path).unwrap();
    assert_eq!(b.schema_version().unwrap(), 2);
    assert!(b.user_password_hash("alice").unwrap().is_some());
}

#[test]
fn users_add_passwd_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
    let alice = ix.add_user("alice", "h1").unwrap();
    assert!(ix.add_user("alice", "h2").is_err());
    ix.set_password_hash("alice", "h3").unwrap();
    assert_eq!(
        ix.user_password_hash("alice").unwrap(),
        Some((alice, "h3".into()))
    );
    ix.ensure_mailbox(alice, "Archive/2019").unwrap();
    let list = ix.list_users().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].mailboxes, 2);
    ix.delete_user("alice").unwrap();
    assert!(ix.user_password_hash("alice").unwrap().is_none());
    assert!(ix.list_users().unwrap().is_empty());
    assert!(ix.delete_user("alice").is_err());
}

#[test]
fn special_use_parents_and_subscriptions() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
    let u = ix.add_user("bob", "h").unwrap();
    for name in [
        "inbox",
        "Sent Items",
        "DRAFTS",
        "Deleted Messages",
        "Junk E-mail",
        "Archive/2019",
        "Projects/Sent",
    ] {
        ix.ensure_mailbox(u, name).unwrap();
    }
    let boxes = ix.mailboxes(u).unwrap();
    let use_of = |n: &str| {
        boxes
            .iter()
            .find(|b| b.name == n)
            .unwrap_or_else(|| panic!("no {n}"))
            .special_use
    };
    assert_eq!(use_of("INBOX"), None);
    assert_eq!(use_of("Sent Items"), Some(SpecialUse::Sent));
    assert_eq!(use_of("DRAFTS"), Some(SpecialUse::Drafts));
    assert_eq!(use_of("Deleted Messages"), Some(SpecialUse::Trash));
    assert_eq!(use_of("Junk E-mail"), Some(SpecialUse::Junk));
    assert_eq!(
        use_of("Archive"),
        Some(SpecialUse::Archive),
        "parent created"
    );
    assert_eq!(use_of("Archive/2019"), None, "top level only");
    assert_eq!(use_of("Projects/Sent"), None);
    assert!(boxes
        .iter()
        .all(|b| b.subscribed == Subscription::Subscribed));
    // UIDVALIDITY strictly increases in creation order.
    let mut by_id = boxes.clone();
    by_id.sort_by_key(|b| b.id);
    assert!(by_id
        .windows(2)
        .all(|w| w[0].uidvalidity < w[1].uidvalidity));

    ix.set_subscribed(u, "Archive", Subscription::Unsubscribed)
        .unwrap();
    let a = ix.mailbox(u, "Archive").unwrap().unwrap();
    assert_eq!(a.subscribed, Subscription::Unsubscribed);
    ix.set_subscribed(u, "Not/Yet", Subscription::Subscribed)
        .unwrap();
    assert!(ix
        .subscriptions(u)
        .unwrap()
        .contains(&"Not/Yet".to_string()));
    assert!(ix.mailbox(u, "Not/Yet").unwrap().is_none());
    assert!(ix.ensure_mailbox(u, "bad//name").is_err());
    assert!(ix.ensure_mailbox(u, "/lead").is_err());
}

#[test]
fn recreated_mailbox_gets_a_larger_uidvalidity() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open(&dir.path().join("i.sqlite")).unwrap();
    let u = ix.add_user("carol", "h").unwrap();
    ix.ensure_mailbox(u, "INBOX").unwrap();
    let before = ix.mailbox(u, "INBOX").unwrap().unwrap().uidvalidity;
    ix.delete_user("carol").unwrap();
    let u = ix.add_user("carol", "h").unwrap();
    ix.ensure_mailbox(u, "INBOX").unwrap();
    let after = ix.mailbox(u, "INBOX").unwrap().unwrap().uidvalidity;
    assert!(after > before);
}

#[test]
fn index_and_store_can_move_to_worker_threads() {
    fn send<T: Send>() {}
    fn sync<T: Send + Sync>() {}
    send::<Index>();
    sync::<BlobStore>();
    send::<imapvault::store::Blob>();
}
