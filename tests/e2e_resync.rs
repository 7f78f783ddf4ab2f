//! QRESYNC (RFC 7162) over real TLS: a client that reconnects with what it knew gets only the
//! messages that changed since, and no VANISHED for messages that are still there.

mod common;

use common::{response_code as code, TestServer};

#[test]
fn reconnect_with_qresync_gets_only_what_changed() {
    let server = TestServer::start();

    // First visit: the client remembers UIDVALIDITY and HIGHESTMODSEQ.
    let mut first = server.raw_logged_in();
    let select = first.command("SELECT INBOX");
    let uidvalidity = code(&select, "UIDVALIDITY");
    let modseq = code(&select, "HIGHESTMODSEQ");
    let uidnext = code(&select, "UIDNEXT");
    first.command("LOGOUT");

    // Meanwhile the user's phone flags message 3 and reads message 5.
    let mut phone = server.raw_logged_in();
    phone.command("SELECT INBOX");
    assert!(phone
        .command("STORE 3 +FLAGS (\\Flagged)")
        .last()
        .unwrap()
        .contains("OK"));
    assert!(phone
        .command("FETCH 5 BODY[TEXT]")
        .last()
        .unwrap()
        .contains("OK"));
    phone.command("LOGOUT");

    // Second visit: only messages 3 and 5 come back, with their new flags and mod-sequences.
    let mut again = server.raw_logged_in();
    assert_eq!(again.command("ENABLE QRESYNC")[0], "* ENABLED QRESYNC");
    let resync = again.command(&format!(
        "SELECT INBOX (QRESYNC ({uidvalidity} {modseq} 1:{}))",
        uidnext + 10
    ));
    let fetches: Vec<&String> = resync.iter().filter(|l| l.contains(" FETCH ")).collect();
    assert_eq!(fetches.len(), 2, "{resync:?}");
    assert!(
        fetches[0].starts_with("* 3 FETCH (UID 3 FLAGS (\\Flagged $HasNoAttachment) MODSEQ ("),
        "{fetches:?}"
    );
    assert!(
        fetches[1].starts_with("* 5 FETCH (UID 5 FLAGS (\\Seen $HasNoAttachment) MODSEQ ("),
        "{fetches:?}"
    );
    assert!(
        !resync.iter().any(|l| l.contains("VANISHED")),
        "nothing vanished: {resync:?}"
    );
    assert!(code(&resync, "HIGHESTMODSEQ") > modseq);

    // A client whose UIDVALIDITY is stale gets a plain SELECT (it must resynchronise fully).
    let stale = again.command(&format!(
        "SELECT INBOX (QRESYNC ({} {modseq}))",
        uidvalidity + 1
    ));
    assert!(!stale.iter().any(|l| l.contains(" FETCH ")), "{stale:?}");
    assert!(stale.last().unwrap().contains("OK"), "{stale:?}");
}
