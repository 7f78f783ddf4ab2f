//! SEARCH text keys over a session in memory (issue 3): FTS5 syntax in search strings is plain
//! text, Unicode case folding, 1- and 2-character strings, HEADER, CHARSET, ESEARCH, and the
//! content index's life cycle (backfill pending after the 0002 migration, `reindex`).

mod common_session;

use common_session::{literal, MemSession};

fn mail(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Hans =?utf-8?q?M=C3=BCller?= <hans@example.de>\r\nTo: team@example.org\r\n\
Subject: {subject}\r\nX-Flag: yes\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn corpus() -> Vec<Vec<u8>> {
    vec![
        mail("say \"hi\" now", "plain body"),    // 1
        mail("NEAR(a b) in the subject", "a b"), // 2
        mail("a OR b", "nothing"),               // 3
        mail("x*y and ^x", "subject:x is here"), // 4
        mail("a and b apart", "a lot of b"),     // 5
        mail("=?utf-8?q?GR=C3=9CSSE_AUS_M=C3=9CNCHEN?=", "ÜBER alles"), // 6
        String::from(
            "From: other@example.org\r\nSubject: =?iso-8859-1?q?Caf=E9?=\r\n\
Content-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
<p>Cr=E8me br&ucirc;l&eacute;e</p>\r\n",
        )
        .into_bytes(), // 7
    ]
}

/// Runs one `UID SEARCH` (after SELECT INBOX) whose key bytes are `key`; returns the UIDs, or
/// the tagged line when it is not OK.
fn search(s: &MemSession, key: &[u8]) -> Result<Vec<u32>, String> {
    s.uid_searches(&[key.to_vec()]).remove(0)
}

fn key(name: &str, s: &str) -> Vec<u8> {
    let mut k = format!("CHARSET UTF-8 {name} ").into_bytes();
    k.extend(literal(s.as_bytes()));
    k
}

#[test]
fn fts5_syntax_in_search_strings_is_plain_text() {
    let s = MemSession::with_mail(&[("INBOX", &corpus())]);
    let cases: &[(&str, &str, &[u32])] = &[
        ("SUBJECT", "\"hi\"", &[1]),
        ("SUBJECT", "\"", &[1]),
        ("SUBJECT", "\"\"", &[]),
        ("SUBJECT", "NEAR(a b)", &[2]),
        ("TEXT", "NEAR(a", &[2]),
        ("SUBJECT", "a OR b", &[3]),
        ("SUBJECT", "x*", &[4]),
        ("SUBJECT", "x*y", &[4]),
        ("SUBJECT", "^x", &[4]),
        ("BODY", "subject:x", &[4]),
        ("SUBJECT", "subject:x", &[]),
        ("TEXT", "{subject}", &[]),
        ("TEXT", "AND x", &[]),
        ("TEXT", "and ^x", &[4]),
        ("SUBJECT", "*", &[4]),
        ("BODY", "a b", &[2]),
        ("SUBJECT", ")", &[2]),
        ("SUBJECT", "a (", &[]),
    ];
    let keys: Vec<Vec<u8>> = cases.iter().map(|(k, n, _)| key(k, n)).collect();
    for ((k, needle, want), got) in cases.iter().zip(s.uid_searches(&keys)) {
        assert_eq!(got.as_deref(), Ok(*want), "{k} {needle:?}");
    }
}

#[test]
fn case_folding_and_short_strings() {
    let s = MemSession::with_mail(&[("INBOX", &corpus())]);
    let all: &[u32] = &[1, 2, 3, 4, 5, 6];
    let cases: &[(&str, &str, &[u32])] = &[
        ("FROM", "MÜLLER", all),
        ("FROM", "müller", all),
        ("FROM", "hans@EXAMPLE.de", all),
        ("SUBJECT", "grüsse aus münchen", &[6]),
        ("SUBJECT", "Münch", &[6]),
        ("BODY", "über", &[6]),
        ("BODY", "Ü", &[6]),
        ("BODY", "üb", &[6]),
        ("SUBJECT", "é", &[7]),
        ("SUBJECT", "CAFÉ", &[7]),
        // HTML rendered, entities decoded, charset decoded.
        ("BODY", "crème brûlée", &[7]),
        ("BODY", "<p>", &[]),
        ("TEXT", "other@", &[7]),
        ("TO", "team", all),
        ("CC", "a", &[]),
        ("BODY", "", &[1, 2, 3, 4, 5, 6, 7]),
    ];
    let keys: Vec<Vec<u8>> = cases.iter().map(|(k, n, _)| key(k, n)).collect();
    for ((k, needle, want), got) in cases.iter().zip(s.uid_searches(&keys)) {
        assert_eq!(got.as_deref(), Ok(*want), "{k} {needle:?}");
    }
}

#[test]
fn header_key_any_field_and_empty_string() {
    let s = MemSession::with_mail(&[("INBOX", &corpus())]);
    let header = |name: &str, v: &str| {
        let mut k = b"HEADER ".to_vec();
        k.extend(literal(name.as_bytes()));
        k.push(b' ');
        k.extend(literal(v.as_bytes()));
        k
    };
    assert_eq!(
        search(&s, &header("x-flag", "")),
        Ok(vec![1, 2, 3, 4, 5, 6])
    );
    assert_eq!(
        search(&s, &header("X-FLAG", "YE")),
        Ok(vec![1, 2, 3, 4, 5, 6])
    );
    assert_eq!(search(&s, &header("X-Flag", "no")), Ok(vec![]));
    assert_eq!(search(&s, &header("Subject", "café")), Ok(vec![7]));
    // The field name is not part of the value.
    assert_eq!(search(&s, &header("Subject", "subject")), Ok(vec![2]));
    assert_eq!(search(&s, &header("Subject", "subject:")), Ok(vec![]));
    // Combined with other keys.
    let mut k = b"NOT ".to_vec();
    k.extend(header("x-flag", ""));
    assert_eq!(search(&s, &k), Ok(vec![7]));
    let mut k = b"OR UID 1 ".to_vec();
    k.extend(key("SUBJECT", "CAFÉ")[14..].to_vec());
    assert_eq!(search(&s, &k), Ok(vec![1, 7]));
}

#[test]
fn charsets_of_search_strings() {
    let s = MemSession::with_mail(&[("INBOX", &corpus())]);
    // ISO-8859-1 "MÜNCH" (Ü = 0xDC).
    let mut k = b"CHARSET ISO-8859-1 SUBJECT ".to_vec();
    k.extend(literal(b"M\xdcNCH"));
    assert_eq!(search(&s, &k), Ok(vec![6]));
    let mut k = b"CHARSET windows-1252 BODY ".to_vec();
    k.extend(literal(b"cr\xe8me"));
    assert_eq!(search(&s, &k), Ok(vec![7]));
    let mut k = b"CHARSET KOI8-R BODY ".to_vec();
    k.extend(literal(b"\xf0\xd2\xc9"));
    assert_eq!(search(&s, &k), Ok(vec![]));
    let err = search(&s, b"CHARSET X-MARTIAN SUBJECT a").unwrap_err();
    assert!(err.starts_with("q NO [BADCHARSET (UTF-8 US-ASCII"), "{err}");
}

#[test]
fn esearch_return_options() {
    let s = MemSession::with_mail(&[("INBOX", &corpus())]);
    let out = s.run(
        b"c CAPABILITY\r\ns SELECT INBOX\r\n\
q1 UID SEARCH RETURN (MIN MAX COUNT) FROM muller\r\n\
q2 UID SEARCH RETURN () FROM ller\r\n\
q3 SEARCH RETURN (MIN MAX ALL) SUBJECT nonexistent\r\n\
q4 SEARCH RETURN (COUNT) SUBJECT nonexistent\r\n",
    );
    assert!(out.contains(" ESEARCH"), "{out}");
    assert!(
        out.contains("* ESEARCH (TAG \"q1\") UID COUNT 0\r\n"),
        "{out}"
    );
    assert!(
        out.contains("* ESEARCH (TAG \"q2\") UID ALL 1:6\r\n"),
        "{out}"
    );
    assert!(out.contains("* ESEARCH (TAG \"q3\")\r\n"), "{out}");
    assert!(out.contains("* ESEARCH (TAG \"q4\") COUNT 0\r\n"), "{out}");
    let out = s.run(
        b"s SELECT INBOX\r\nq5 UID SEARCH RETURN (MIN MAX COUNT) FROM {7+}\r\nm\xc3\xbcller\r\n",
    );
    assert!(
        out.contains("* ESEARCH (TAG \"q5\") UID MIN 1 MAX 6 COUNT 6\r\n"),
        "{out}"
    );
}

#[test]
fn other_mailboxes_never_answer() {
    let inbox = vec![mail("alpha", "one")];
    let other = vec![mail("beta", "two"), mail("alpha beta", "three")];
    let s = MemSession::with_mail(&[("INBOX", &inbox), ("Other", &other)]);
    assert_eq!(search(&s, &key("SUBJECT", "beta")), Ok(vec![]));
    assert_eq!(search(&s, &key("SUBJECT", "alpha")), Ok(vec![1]));
    assert_eq!(search(&s, &key("BODY", "t")), Ok(vec![]));
}

#[test]
fn backfill_pending_answers_unavailable_until_reindex() {
    let mut s = MemSession::with_mail(&[("INBOX", &corpus())]);
    // What an archive migrated from schema 1 looks like: messages without content rows.
    let db = rusqlite::Connection::open(s.dir.path().join("archive/index.sqlite")).unwrap();
    db.execute_batch(
        "DELETE FROM message_words; DELETE FROM message_text_store;
         UPDATE content_state SET backfill_pending = 1;",
    )
    .unwrap();
    drop(db);
    let err = search(&s, &key("SUBJECT", "café")).unwrap_err();
    assert!(err.starts_with("q NO [UNAVAILABLE]"), "{err}");
    // Non-text searches still work.
    assert_eq!(search(&s, b"UID 2:3"), Ok(vec![2, 3]));
    let (done, skipped) = imapvault::import::reindex::run(&mut s.archive, &mut |_| {}).unwrap();
    assert_eq!((done.indexed, done.total, skipped.len()), (7, 7, 0));
    assert_eq!(search(&s, &key("SUBJECT", "café")), Ok(vec![7]));
    // Reindexing again replaces rows, never duplicates them.
    imapvault::import::reindex::run(&mut s.archive, &mut |_| {}).unwrap();
    assert_eq!(
        search(&s, &key("FROM", "müller")),
        Ok(vec![1, 2, 3, 4, 5, 6])
    );
}

/// A message whose blob is damaged is skipped by reindex, which cannot read its text again; it
/// stays as searchable as it was (its stored text stays, and so must its words: the reindex
/// empties the words' index first, so they are taken from the stored text).
#[test]
fn reindex_keeps_a_damaged_message_searchable() {
    use std::io::{Seek, SeekFrom, Write};
    let mut s = MemSession::with_mail(&[("INBOX", &corpus())]);
    let db = rusqlite::Connection::open(s.dir.path().join("archive/index.sqlite")).unwrap();
    // Message 5 ("a and b apart" / "a lot of b"): one byte of its blob flipped, in place.
    let (segment, offset): (u32, u64) = db
        .query_row(
            "SELECT m.segment, m.offset FROM messages m
               JOIN mailbox_messages mm ON mm.message_id = m.id WHERE mm.uid = 5",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let path = s.archive.store().segment_path(segment);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0u8];
    file.seek(SeekFrom::Start(offset + 2)).unwrap();
    std::io::Read::read_exact(&mut file, &mut byte).unwrap();
    file.seek(SeekFrom::Start(offset + 2)).unwrap();
    file.write_all(&[byte[0] ^ 0x20]).unwrap();
    drop(file);
    let (done, skipped) = imapvault::import::reindex::run(&mut s.archive, &mut |_| {}).unwrap();
    assert_eq!((done.indexed, done.damaged, skipped.len()), (6, 1, 1));
    // A plain word (answered by the index alone), and a string checked against stored text.
    assert_eq!(search(&s, &key("BODY", "lot")), Ok(vec![5]));
    assert_eq!(search(&s, &key("SUBJECT", "apart")), Ok(vec![5]));
    assert_eq!(search(&s, &key("BODY", "a lot of")), Ok(vec![5]));
    assert_eq!(search(&s, &key("SUBJECT", "alpha")), Ok(vec![]));
}

/// An archive from before migration 0005: its rows were folded by `str::to_lowercase` and its
/// messages have no stored PREVIEW. Text searches answer NO [UNAVAILABLE] (they could miss
/// `ß`/`SS` or sigma matches) until `imapvault reindex`; FETCH PREVIEW computes the preview from
/// the blob meanwhile and PREVIEW (LAZY) answers NIL, never an empty or wrong preview.
#[test]
fn refold_pending_answers_unavailable_and_preview_is_computed_until_reindex() {
    let mut s = MemSession::with_mail(&[("INBOX", &corpus())]);
    let db = rusqlite::Connection::open(s.dir.path().join("archive/index.sqlite")).unwrap();
    db.execute_batch(
        "UPDATE content_state SET refold_pending = 1; UPDATE messages SET preview = NULL;",
    )
    .unwrap();
    let err = search(&s, &key("SUBJECT", "grüße")).unwrap_err();
    assert!(err.starts_with("q NO [UNAVAILABLE]"), "{err}");
    let out = s.run(b"s SELECT INBOX\r\nf UID FETCH 6:7 (PREVIEW PREVIEW (LAZY))\r\n");
    assert!(
        out.contains("* 6 FETCH (UID 6 PREVIEW {11}\r\nÜBER alles PREVIEW NIL)"),
        "{out}"
    );
    assert!(
        out.contains("* 7 FETCH (UID 7 PREVIEW {15}\r\nCrème brûlée PREVIEW NIL)"),
        "{out}"
    );
    imapvault::import::reindex::run(&mut s.archive, &mut |_| {}).unwrap();
    // `GRÜSSE` in the subject, `grüße` asked: full case folding finds it.
    assert_eq!(search(&s, &key("SUBJECT", "grüße")), Ok(vec![6]));
    let out = s.run(b"s SELECT INBOX\r\nf UID FETCH 7 PREVIEW (LAZY)\r\n");
    assert!(
        out.contains("* 7 FETCH (UID 7 PREVIEW {15}\r\nCrème brûlée)"),
        "{out}"
    );
    let count: i64 = db
        .query_row(
            "SELECT count(*) FROM messages WHERE preview IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(count, 0);
}

#[test]
fn sharp_s_and_sigma_fold_fully() {
    let inbox = vec![
        mail("Straße", "ΟΔΟΣ ΛΟΓΟΣ"),   // 1
        mail("STRASSE", "οδός"),        // 2
        mail("GROẞE Fußball", "σοφία"), // 3
        mail("plain", "Meſſe ﬁle"),     // 4
    ];
    let s = MemSession::with_mail(&[("INBOX", &inbox)]);
    let keys = [
        key("SUBJECT", "strasse"),
        key("SUBJECT", "STRAẞE"),
        key("SUBJECT", "grosse"),
        key("BODY", "ς"),
        key("BODY", "ΟΣ Λ"),
        key("BODY", "ΌΣ"),
        key("BODY", "MESSE"),
        key("BODY", "FILE"),
        key("SUBJECT", "ss"),
    ];
    let got = s.uid_searches(&keys);
    assert_eq!(
        got,
        vec![
            Ok(vec![1, 2]),
            Ok(vec![1, 2]),
            Ok(vec![3]),
            Ok(vec![1, 2, 3]),
            Ok(vec![1]),
            Ok(vec![2]),
            Ok(vec![4]),
            Ok(vec![4]),
            Ok(vec![1, 2, 3]),
        ]
    );
}

/// A mailbox whose messages were stored out of its UID order (some were archived earlier into
/// another folder, so they keep their older ids): the index answers by message id, and every
/// answer must come back as the right UIDs, for common words (one walk along the view), rare
/// ones (one lookup each) and strings that need the exact check.
#[test]
fn a_mailbox_out_of_id_order_gets_the_right_uids() {
    let m: Vec<Vec<u8>> = (0..40)
        .map(|i| {
            let rare = if i % 13 == 5 { " zebra" } else { "" };
            mail(
                &format!("common {i}{rare}"),
                &format!("body {i} shared text"),
            )
        })
        .collect();
    // "Other" first stores every third message (ids 1..), backwards; INBOX then holds all 40
    // in order, so its ids go up and down.
    let other: Vec<Vec<u8>> = m.iter().step_by(3).rev().cloned().collect();
    let s = MemSession::with_mail(&[("Other", &other), ("INBOX", &m)]);
    let all: Vec<u32> = (1..=40).collect();
    let answers = s.uid_searches(&[
        key("SUBJECT", "common"),
        key("SUBJECT", "zebra"),
        key("BODY", "shared text"),
        key("BODY", "ody 1"),
        key("TEXT", "ommo"),
    ]);
    assert_eq!(answers[0], Ok(all.clone()));
    assert_eq!(answers[1], Ok(vec![6, 19, 32]));
    assert_eq!(answers[2], Ok(all.clone()));
    let body_1: Vec<u32> = (1..=40)
        .filter(|u| (u - 1).to_string().starts_with('1'))
        .collect();
    assert_eq!(answers[3], Ok(body_1));
    assert_eq!(answers[4], Ok(all));
}
