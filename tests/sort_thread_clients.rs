//! SORT, ESORT and THREAD end to end over real TLS (issue 3), with two real clients, on a corpus
//! of replies, several languages and charsets, missing and duplicate Message-IDs and reference
//! cycles (tests/sort/corpus.py, imported into the demo user's "Threads" folder):
//! - Python's imaplib (`sort()`, `thread()`, ESORT through its raw interface), checked against
//!   a naive reference in tests/sort/imaplib_check.py;
//! - the `imap` crate (`sort()`, `uid_sort()`; it has no THREAD), checked against orders this
//!   test derives itself from FETCH RFC822.SIZE and INTERNALDATE.
//!
//! Skipped (with a note) when python3 is not installed.

mod common;

use std::path::Path;
use std::process::Command;

use imap::extensions::sort::{SortCharset, SortCriterion};
use imapvault::archive::Archive;
use imapvault::import::{self, Target};

const FOLDER: &str = "Threads";

/// (sequence number, UID, RFC822.SIZE, INTERNALDATE as Unix seconds) of a message.
type Facts = (u32, u32, u32, i64);

/// Starts a demo server and imports the corpus into the demo user's [`FOLDER`].
fn server_with_corpus(dir: &Path) -> Option<(common::TestServer, std::path::PathBuf)> {
    let mbox = dir.join("corpus.mbox");
    let status = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sort/corpus.py"))
        .arg(&mbox)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("corpus.py failed: {s}"),
        Err(_) => {
            eprintln!("python3 not found: skipped");
            return None;
        }
    }
    let server = common::TestServer::start();
    let mut archive = Archive::open(&server.archive_dir()).expect("open the served archive");
    let summary = import::run(
        &mut archive,
        imapvault::demo::USER,
        Target::Folder(FOLDER.into()),
        std::slice::from_ref(&mbox),
        &mut |_| {},
    )
    .expect("import the corpus");
    assert!(summary.rejected.is_empty(), "{summary}");
    Some((server, mbox))
}

#[test]
fn imaplib_sort_and_thread_match_a_naive_reference() {
    let dir = tempfile::tempdir().unwrap();
    let Some((server, mbox)) = server_with_corpus(dir.path()) else {
        return;
    };
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/sort/imaplib_check.py"
        ))
        .arg("localhost")
        .arg(server.tls_addr.port().to_string())
        .arg(server.cert_path())
        .arg(imapvault::demo::USER)
        .arg(&server.password)
        .arg(&mbox)
        .arg(FOLDER)
        .output()
        .expect("run python3");
    // The summary line says how many messages were checked.
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "imaplib_check.py failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn imap_crate_sorts_by_size_and_arrival() {
    let dir = tempfile::tempdir().unwrap();
    let Some((server, _)) = server_with_corpus(dir.path()) else {
        return;
    };
    let mut s = server.imap_session();
    let caps = s.capabilities().expect("CAPABILITY");
    for c in ["SORT", "SORT=DISPLAY", "ESORT", "THREAD=REFERENCES"] {
        assert!(caps.has_str(c), "{c} not advertised");
    }
    s.examine(FOLDER).expect("EXAMINE");
    // Of every message, from FETCH.
    let fetched = s
        .fetch("1:*", "(UID RFC822.SIZE INTERNALDATE)")
        .expect("FETCH");
    let mut facts: Vec<Facts> = fetched
        .iter()
        .map(|f| {
            (
                f.message,
                f.uid.expect("UID"),
                f.size.expect("RFC822.SIZE"),
                f.internal_date().expect("INTERNALDATE").timestamp(),
            )
        })
        .collect();
    facts.sort();
    assert!(facts.len() > 50, "{} messages", facts.len());
    // Ties by sequence number, ascending, also under REVERSE (RFC 5256 §3): a stable sort of
    // the sequence order.
    let by = |key: &dyn Fn(&Facts) -> i64, reverse: bool| -> Vec<u32> {
        let mut v = facts.clone();
        v.sort_by(|a, b| {
            let o = key(a).cmp(&key(b));
            if reverse {
                o.reverse()
            } else {
                o
            }
        });
        v.iter().map(|f| f.0).collect()
    };
    let size = |f: &Facts| i64::from(f.2);
    let arrival = |f: &Facts| f.3;
    assert_eq!(
        s.sort(&[SortCriterion::Size], SortCharset::Utf8, "ALL")
            .expect("SORT"),
        by(&size, false)
    );
    assert_eq!(
        s.sort(
            &[SortCriterion::Reverse(&SortCriterion::Size)],
            SortCharset::UsAscii,
            "ALL"
        )
        .expect("SORT"),
        by(&size, true)
    );
    assert_eq!(
        s.sort(
            &[SortCriterion::Reverse(&SortCriterion::Arrival)],
            SortCharset::Utf8,
            "ALL"
        )
        .expect("SORT"),
        by(&arrival, true)
    );
    // UID SORT answers UIDs, in the same order.
    let uid_of = |seq: u32| facts[seq as usize - 1].1;
    let want: Vec<u32> = by(&arrival, false).into_iter().map(uid_of).collect();
    assert_eq!(
        s.uid_sort(&[SortCriterion::Arrival], SortCharset::Utf8, "ALL")
            .expect("UID SORT"),
        want
    );
    // A search program narrows the set: the 10 largest messages, by size.
    let largest: Vec<u32> = by(&size, true).into_iter().take(10).collect();
    let mut set: Vec<String> = largest.iter().map(u32::to_string).collect();
    set.sort();
    let got = s
        .sort(&[SortCriterion::Size], SortCharset::Utf8, set.join(","))
        .expect("SORT");
    let want: Vec<u32> = by(&size, false)
        .into_iter()
        .filter(|n| largest.contains(n))
        .collect();
    assert_eq!(got, want);
    s.logout().expect("logout");
}
