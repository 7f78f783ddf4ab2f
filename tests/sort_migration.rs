//! SORT and THREAD on an archive written before migration 0004 (issue 3): its messages have no
//! stored sort keys, so the keys come from the blobs, with the same answers; `imapvault
//! reindex` then stores them. Nothing else in the archive changes.

mod common_session;

use common_session::MemSession;

fn mail(date: &str, subject: &str, id: &str, refs: &str, body: &str) -> Vec<u8> {
    format!(
        "Date: {date}\r\nFrom: =?iso-8859-1?q?J=F6rg?= <joerg@example.de>\r\nTo: team@example.org\r\n\
Subject: {subject}\r\nMessage-ID: <{id}>\r\nReferences: {refs}\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

const SCRIPT: &[u8] = b"s EXAMINE INBOX\r\n\
t1 SORT (SUBJECT REVERSE DATE) UTF-8 ALL\r\n\
t2 SORT (DISPLAYFROM SIZE) UTF-8 ALL\r\n\
t3 THREAD REFERENCES UTF-8 ALL\r\n\
t4 THREAD ORDEREDSUBJECT UTF-8 ALL\r\n";

/// The untagged SORT and THREAD lines of one run of [`SCRIPT`].
fn answers(s: &MemSession) -> Vec<String> {
    let out = s.run(SCRIPT);
    let lines: Vec<String> = out
        .split("\r\n")
        .filter(|l| l.starts_with("* SORT") || l.starts_with("* THREAD"))
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 4, "{out}");
    lines
}

fn stored_keys(s: &MemSession) -> i64 {
    let db = rusqlite::Connection::open(s.dir.path().join("archive/index.sqlite")).unwrap();
    db.query_row("SELECT count(*) FROM message_sort_keys", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn keys_come_from_the_blobs_until_reindex_stores_them() {
    let inbox = vec![
        mail("Mon, 1 Jan 2024 10:00:00 +0000", "Plans", "a@x", "", "one"),
        mail(
            "Tue, 2 Jan 2024 10:00:00 +0000",
            "Re: Plans",
            "b@x",
            "<a@x>",
            "two two",
        ),
        mail(
            "Wed, 3 Jan 2024 10:00:00 +0000",
            "=?koi8-r?b?8NLJ18XU?=",
            "c@x",
            "<gone@x>",
            "3",
        ),
        mail(
            "Thu, 4 Jan 2024 10:00:00 +0000",
            "Fwd: Plans",
            "d@x",
            "<b@x>",
            "four",
        ),
        mail(
            "Fri, 5 Jan 2024 10:00:00 +0000",
            "Re: Привет",
            "e@x",
            "<gone@x>",
            "five!",
        ),
    ];
    let mut s = MemSession::with_mail(&[("INBOX", &inbox)]);
    let before = answers(&s);
    assert_eq!(
        before,
        [
            "* SORT 4 2 1 5 3",
            // One sender: SIZE decides (166, 179, 188, 177 and 187 octets).
            "* SORT 1 4 2 5 3",
            "* THREAD (1 2 4)((3)(5))",
            "* THREAD (1 (2)(4))(3 5)",
        ]
    );
    assert_eq!(stored_keys(&s), 5);

    // What an archive written before 0004 looks like once migrated: 0004 only creates the
    // table, so its messages have no rows. (Rolling user_version back is no longer possible:
    // later migrations would run twice.)
    let db = rusqlite::Connection::open(s.dir.path().join("archive/index.sqlite")).unwrap();
    db.execute_batch("DELETE FROM message_sort_keys").unwrap();
    drop(db);
    assert_eq!(answers(&s), before);
    assert_eq!(stored_keys(&s), 0, "the migration computes nothing itself");

    let (done, skipped) = imapvault::import::reindex::run(&mut s.archive, &mut |_| {}).unwrap();
    assert_eq!((done.indexed, skipped.len()), (5, 0));
    assert_eq!(stored_keys(&s), 5);
    assert_eq!(answers(&s), before);
}
