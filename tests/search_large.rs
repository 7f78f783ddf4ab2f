//! SEARCH on a mailbox large enough that the index reads in two halves at once (issue 3): a
//! word's rows past the first 4,096 and an exact check of more than 4,096 candidates run half
//! on a second index connection in a helper thread (`Index::in_two`). The answers must be
//! those of a plain scan of the same texts, through a real session.

mod common_session;

use common_session::MemSession;

/// More than the 4,096 rows (and candidates) after which a read is split.
const MESSAGES: u32 = 4_600;

fn subject(i: u32) -> String {
    if i % 3 == 0 {
        format!("Re: item {i}")
    } else {
        format!("item {i}")
    }
}

fn body(i: u32) -> String {
    let extra = if i % 7 == 0 { " seventh" } else { "" };
    format!("common text {i}{extra}")
}

fn message(i: u32) -> Vec<u8> {
    format!(
        "From: a{i}@example.org\r\nTo: b@example.org\r\nSubject: {}\r\n\r\n{}\r\n",
        subject(i),
        body(i)
    )
    .into_bytes()
}

#[test]
fn large_reads_in_two_halves_answer_as_a_scan_does() {
    let mail: Vec<Vec<u8>> = (1..=MESSAGES).map(message).collect();
    let s = MemSession::with_mail(&[("INBOX", &mail)]);
    // (key, the UIDs whose subject or body passes the test). UID i is message i.
    type Test = fn(u32) -> bool;
    let cases: &[(&str, Test)] = &[
        // A word in every message: its rows are read in two halves.
        ("BODY common", |_| true),
        ("TEXT common", |_| true),
        // A phrase of two such words: 4,600 candidates, checked in two halves.
        ("BODY \"common text\"", |_| true),
        // A phrase whose candidates are all messages, found in some.
        ("BODY \"text 7\"", |i| body(i).contains("text 7")),
        ("NOT BODY \"text 7\"", |i| !body(i).contains("text 7")),
        // Few rows: read on one connection.
        ("BODY seventh", |i| i % 7 == 0),
        ("SUBJECT re:", |i| i % 3 == 0),
        ("OR BODY seventh SUBJECT re:", |i| i % 7 == 0 || i % 3 == 0),
        ("FROM a1", |i| format!("a{i}@").starts_with("a1")),
    ];
    let keys: Vec<Vec<u8>> = cases.iter().map(|(k, _)| k.as_bytes().to_vec()).collect();
    let answers = s.uid_searches(&keys);
    for ((key, test), got) in cases.iter().zip(answers) {
        let want: Vec<u32> = (1..=MESSAGES).filter(|&i| test(i)).collect();
        let got = got.unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(got.len(), want.len(), "{key}: how many");
        assert_eq!(got, want, "{key}");
    }
}
