//! The sync window (`[archive] sync_days`, issue 5) over real TLS, with a clock the test moves
//! (no test sleeps for days): a folder `Window` holds messages aged 10, 5 and 1 days (UIDs 1, 2,
//! 3, in that order) and the server shows the last 7 days.
//!
//! What must hold: only UIDs 2 and 3 are visible to SELECT, STATUS, LIST-STATUS, SEARCH, ESEARCH
//! and FETCH; when the clock passes the 5-day message's edge, every session learns it as
//! `* 1 EXPUNGE` (or `* VANISHED 2` under QRESYNC) before the end of its next command (an idler
//! without sending anything), never inside a FETCH or SEARCH answer; HIGHESTMODSEQ grows, and a
//! QRESYNC reconnect reports UID 2 as vanished. With `sync_days = 0` everything is visible.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::{response_code as code, TestServer};
use imapvault::archive::Archive;
use imapvault::imap::window::{ManualClock, SyncWindow, DAY};
use imapvault::import::ingest::Ingester;
use imapvault::index::InternalDate;

/// "Now" when the test starts: 2033-05-18, far from the demo mail's dates.
const T0: i64 = 2_000_000_000;
const FOLDER: &str = "Window";

/// A small message written for this test.
fn message(n: u32, age_days: i64) -> Vec<u8> {
    format!(
        "From: Sender {n} <sender{n}@example.org>\r\n\
         To: demo@example.org\r\n\
         Subject: aged {age_days} days\r\n\
         Message-ID: <window-{n}@example.org>\r\n\
         \r\n\
         Message {n}, archived {age_days} days before the test's start.\r\n"
    )
    .into_bytes()
}

/// Adds `Window` with messages aged 10, 5 and 1 days (at T0) to the demo user's archive.
fn add_window_folder(archive_dir: &Path) {
    let mut archive = Archive::open(archive_dir).expect("archive");
    let (index, store) = archive.parts_mut();
    let user = index.user_id(imapvault::demo::USER).expect("demo user");
    let mut ingester = Ingester::new(index, store);
    let mailbox = ingester
        .index()
        .ensure_mailbox(user, FOLDER)
        .expect("mailbox");
    for (n, age) in [(1, 10), (2, 5), (3, 1)] {
        let date = InternalDate {
            unix: T0 - age * DAY,
            tz_minutes: 0,
        };
        ingester
            .add(message(n, age), mailbox, String::new(), Some(date))
            .expect("ingest");
    }
    ingester.flush().expect("flush");
}

/// A server showing the last `days` days, by `clock`.
fn server(days: u32, clock: &Arc<ManualClock>) -> TestServer {
    let clock: Arc<ManualClock> = clock.clone();
    TestServer::start_configured(add_window_folder, move |context| {
        context
            .with_window(SyncWindow::from_days(days))
            .with_clock(clock)
    })
}

/// The untagged lines of a command's answer (the tagged line, which must be OK, left out).
fn untagged(lines: Vec<String>) -> Vec<String> {
    let (last, rest) = lines.split_last().expect("a tagged line");
    assert!(last.contains(" OK "), "{lines:?}");
    rest.to_vec()
}

/// The value of `item` in a `* STATUS name (item value ...)` line.
fn status_value(line: &str, item: &str) -> u64 {
    let inner = line.split('(').nth(1).expect("(").trim_end_matches(')');
    let words: Vec<&str> = inner.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == item)
        .unwrap_or_else(|| panic!("{item} in {line}"));
    words[at + 1].parse().unwrap()
}

/// Moves the clock past the edge of the 5-day message: it is then more than 7 days old, while
/// the 1-day message is 3 days old.
fn age_past_the_5_day_edge(clock: &ManualClock) {
    clock.advance(2 * DAY + 3600);
}

#[test]
fn only_the_window_is_visible_and_departures_reach_every_session() {
    let clock = Arc::new(ManualClock::at(T0));
    let server = server(7, &clock);

    // ---- before: UIDs 2 and 3 only.
    let mut a = server.raw_logged_in();
    let status = untagged(a.command(&format!(
        "STATUS {FOLDER} (MESSAGES UNSEEN SIZE UIDNEXT HIGHESTMODSEQ)"
    )));
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(status_value(&status[0], "MESSAGES"), 2, "{status:?}");
    assert_eq!(status_value(&status[0], "UNSEEN"), 2, "{status:?}");
    let visible_size = (message(2, 5).len() + message(3, 1).len()) as u64;
    assert_eq!(status_value(&status[0], "SIZE"), visible_size, "{status:?}");
    assert_eq!(
        status_value(&status[0], "UIDNEXT"),
        4,
        "UIDs stay: {status:?}"
    );
    let list = untagged(a.command(&format!(
        "LIST \"\" {FOLDER} RETURN (STATUS (MESSAGES UNSEEN))"
    )));
    assert_eq!(
        list.last().unwrap(),
        &format!("* STATUS \"{FOLDER}\" (MESSAGES 2 UNSEEN 2)"),
        "{list:?}"
    );

    let select = a.command(&format!("SELECT {FOLDER}"));
    assert!(select.contains(&"* 2 EXISTS".to_owned()), "{select:?}");
    assert!(
        select.contains(&"* OK [UNSEEN 1] First unseen message".to_owned()),
        "{select:?}"
    );
    assert_eq!(code(&select, "UIDNEXT"), 4);
    assert_eq!(untagged(a.command("SEARCH ALL")), vec!["* SEARCH 1 2"]);
    assert_eq!(untagged(a.command("UID SEARCH ALL")), vec!["* SEARCH 2 3"]);
    assert_eq!(
        untagged(a.command("UID SEARCH RETURN (COUNT MIN) ALL")),
        vec!["* ESEARCH (TAG \"t7\") UID MIN 2 COUNT 2"]
    );
    // RFC 3501 §6.4.8: a UID that is not in the mailbox gets no data, and no error.
    assert_eq!(
        untagged(a.command("UID FETCH 1 (UID FLAGS)")),
        Vec::<String>::new()
    );
    assert_eq!(
        untagged(a.command("UID FETCH 1:* (UID)")),
        vec!["* 1 FETCH (UID 2)", "* 2 FETCH (UID 3)"]
    );
    assert!(a.command("FETCH 3 (UID)").last().unwrap().contains(" BAD "));

    // A QRESYNC session, whose news are VANISHED, and its state for a later reconnect.
    let mut q = server.raw_logged_in();
    assert_eq!(
        untagged(q.command("ENABLE QRESYNC")),
        vec!["* ENABLED QRESYNC"]
    );
    let q_select = q.command(&format!("SELECT {FOLDER}"));
    let uidvalidity = code(&q_select, "UIDVALIDITY");
    let modseq_before = code(&q_select, "HIGHESTMODSEQ");

    // An idler.
    let mut idler = server.raw_logged_in();
    assert_eq!(idler.select_exists(FOLDER), 2);
    idler.send(b"i1 IDLE\r\n");
    assert_eq!(idler.read_line(), "+ idling");

    // ---- the 5-day message leaves the window.
    age_past_the_5_day_edge(&clock);

    // The idler is told without sending anything (the server wakes it at the edge).
    assert_eq!(idler.read_line(), "* 1 EXPUNGE");
    idler.send(b"DONE\r\n");
    assert_eq!(idler.read_line(), "i1 OK IDLE terminated");
    assert_eq!(
        untagged(idler.command("UID SEARCH ALL")),
        vec!["* SEARCH 3"]
    );

    // RFC 9051 §7.5.1: not while answering FETCH or SEARCH; the client's numbers still hold.
    assert_eq!(
        untagged(a.command("FETCH 1:* (UID)")),
        vec!["* 1 FETCH (UID 2)", "* 2 FETCH (UID 3)"]
    );
    assert_eq!(untagged(a.command("SEARCH ALL")), vec!["* SEARCH 1 2"]);
    // The next command that may carry it does.
    assert_eq!(untagged(a.command("NOOP")), vec!["* 1 EXPUNGE"]);
    assert_eq!(untagged(a.command("SEARCH ALL")), vec!["* SEARCH 1"]);
    assert_eq!(
        untagged(a.command("FETCH 1 (UID)")),
        vec!["* 1 FETCH (UID 3)"]
    );
    assert_eq!(
        untagged(a.command("UID FETCH 2 (UID)")),
        Vec::<String>::new()
    );

    // QRESYNC: VANISHED instead of EXPUNGE (RFC 7162 §3.2.10).
    assert_eq!(untagged(q.command("NOOP")), vec!["* VANISHED 2"]);

    // STATUS counts what is left, and HIGHESTMODSEQ says that something changed.
    let status = untagged(a.command(&format!(
        "STATUS {FOLDER} (MESSAGES UNSEEN UIDNEXT HIGHESTMODSEQ)"
    )));
    assert_eq!(status_value(&status[0], "MESSAGES"), 1, "{status:?}");
    assert_eq!(status_value(&status[0], "UNSEEN"), 1, "{status:?}");
    assert_eq!(status_value(&status[0], "UIDNEXT"), 4, "{status:?}");
    let modseq_after = status_value(&status[0], "HIGHESTMODSEQ");
    assert!(
        modseq_after > modseq_before,
        "{modseq_before} -> {status:?}"
    );

    // A client that reconnects with what it knew hears that UID 2 vanished (RFC 7162 §3.2.5.1).
    let mut back = server.raw_logged_in();
    back.command("ENABLE QRESYNC");
    let resync = back.command(&format!(
        "SELECT {FOLDER} (QRESYNC ({uidvalidity} {modseq_before} 2:3))"
    ));
    assert!(resync.contains(&"* 1 EXISTS".to_owned()), "{resync:?}");
    assert!(
        resync.contains(&"* VANISHED (EARLIER) 2".to_owned()),
        "{resync:?}"
    );
    assert_eq!(code(&resync, "HIGHESTMODSEQ"), modseq_after);
    // UID FETCH ... (CHANGEDSINCE m VANISHED) says the same (RFC 7162 §3.2.6).
    assert_eq!(
        untagged(back.command(&format!(
            "UID FETCH 1:3 (FLAGS) (CHANGEDSINCE {modseq_before} VANISHED)"
        ))),
        vec!["* VANISHED (EARLIER) 1:2"]
    );
}

#[test]
fn departures_held_back_by_fetch_go_out_with_uid_commands_in_sequence_order() {
    let clock = Arc::new(ManualClock::at(T0));
    let server = server(7, &clock);
    let mut c = server.raw_logged_in();
    assert_eq!(c.select_exists(FOLDER), 2);
    // Every visible message leaves: 2 by sequence, announced as 1 then 1 again.
    clock.advance(10 * DAY);
    assert_eq!(
        untagged(c.command("STORE 1 +FLAGS (\\Seen)")),
        vec!["* 1 FETCH (FLAGS (\\Seen $HasNoAttachment))"]
    );
    // UID commands may carry EXPUNGE (RFC 9051 §7.5.1).
    assert_eq!(
        untagged(c.command("UID SEARCH ALL")),
        vec!["* SEARCH 2 3", "* 1 EXPUNGE", "* 1 EXPUNGE"]
    );
    assert_eq!(untagged(c.command("UID SEARCH ALL")), vec!["* SEARCH"]);
    let status = untagged(c.command(&format!("STATUS {FOLDER} (MESSAGES UNSEEN SIZE)")));
    assert_eq!(
        status,
        vec![format!(
            "* STATUS \"{FOLDER}\" (MESSAGES 0 UNSEEN 0 SIZE 0)"
        )]
    );
}

#[test]
fn sync_days_zero_shows_everything_whatever_the_clock() {
    let clock = Arc::new(ManualClock::at(T0));
    let server = server(0, &clock);
    let mut c = server.raw_logged_in();
    assert_eq!(c.select_exists(FOLDER), 3);
    clock.advance(10_000 * DAY);
    assert_eq!(untagged(c.command("NOOP")), Vec::<String>::new());
    assert_eq!(
        untagged(c.command("UID SEARCH ALL")),
        vec!["* SEARCH 1 2 3"]
    );
    let status = untagged(c.command(&format!("STATUS {FOLDER} (MESSAGES)")));
    assert_eq!(status, vec![format!("* STATUS \"{FOLDER}\" (MESSAGES 3)")]);
}

/// Python's imaplib, a real client, over TLS: it checks the window, then waits on its stdin
/// while the test moves the clock, then checks that its open session was told `EXPUNGE`.
#[test]
fn imaplib_sees_the_window_and_the_departure() {
    if !common::require_tool("python3") {
        return;
    }
    let clock = Arc::new(ManualClock::at(T0));
    let server = server(7, &clock);
    let root = env!("CARGO_MANIFEST_DIR");
    let mut child = Command::new("python3")
        .arg(format!("{root}/tests/clients/sync_window_check.py"))
        .arg("127.0.0.1")
        .arg(server.tls_addr.port().to_string())
        .arg(server.cert_path())
        .arg(imapvault::demo::USER)
        .arg(&server.password)
        .arg(FOLDER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    use std::io::{BufRead, Write};
    // Bounded: the script reads with a socket timeout, and prints this line or exits.
    stdout.read_line(&mut line).expect("read");
    assert_eq!(line.trim(), "advance the clock", "script said {line:?}");
    age_past_the_5_day_edge(&clock);
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"advanced\n")
        .expect("write");
    // Ends when the script exits, which its socket timeouts bound.
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("read");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    let status = child.wait().expect("wait");
    assert!(
        status.success(),
        "sync_window_check.py failed ({status}):\n{stderr}\nstdout: {rest}"
    );
    for key in ["before", "expunge_on_noop", "after"] {
        assert!(
            rest.contains(&format!("\"{key}\"")),
            "{key} missing: {rest}"
        );
    }
}

/// A delegate reading the demo user's `Window` (issue 5's delegates and the window together):
/// the window applies to another user's mailbox as to one's own, UNSEEN counts the delegate's
/// own `\Seen` within the window, and a departure reaches the delegate's selected session.
#[test]
fn a_delegate_sees_the_same_window_with_their_own_unseen() {
    let clock = Arc::new(ManualClock::at(T0));
    let shared: Arc<ManualClock> = clock.clone();
    let server = TestServer::start_configured(
        |dir| {
            add_window_folder(dir);
            let mut archive = Archive::open(dir).expect("archive");
            let index = archive.index_mut();
            let (_, hash) = index
                .user_password_hash(imapvault::demo::USER)
                .unwrap()
                .unwrap();
            index.add_user("dele", &hash).unwrap();
            index.grant(imapvault::demo::USER, "dele").unwrap();
        },
        move |context| {
            context
                .with_window(SyncWindow::from_days(7))
                .with_clock(shared)
        },
    );
    let shared_name = format!("\"Other Users/{}/{FOLDER}\"", imapvault::demo::USER);
    let mut d = server.raw();
    let r = d.command(&format!("LOGIN dele {}", server.password));
    assert!(r.last().unwrap().contains(" OK "), "{r:?}");
    let status = |c: &mut common::RawClient<_>, name: &str| {
        let s = untagged(c.command(&format!("STATUS {name} (MESSAGES UNSEEN)")));
        (
            status_value(&s[0], "MESSAGES"),
            status_value(&s[0], "UNSEEN"),
        )
    };
    assert_eq!(status(&mut d, &shared_name), (2, 2));
    assert_eq!(d.select_exists(&shared_name), 2);
    assert_eq!(untagged(d.command("UID SEARCH ALL")), vec!["* SEARCH 2 3"]);
    // The delegate reads the newest message: their UNSEEN drops, the owner's does not.
    d.command("FETCH 2 (BODY[])");
    d.command("UNSELECT");
    assert_eq!(status(&mut d, &shared_name), (2, 1));
    let mut owner = server.raw_logged_in();
    assert_eq!(status(&mut owner, FOLDER), (2, 2));

    assert_eq!(d.select_exists(&shared_name), 2);
    age_past_the_5_day_edge(&clock);
    assert_eq!(untagged(d.command("NOOP")), vec!["* 1 EXPUNGE"]);
    d.command("UNSELECT");
    assert_eq!(status(&mut d, &shared_name), (1, 0));
}
