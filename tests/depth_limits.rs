//! Input never chooses the stack depth (issue 6): the deepest input each capped recursion
//! accepts runs on a server worker's stack, and one level more is refused or made opaque.
//!
//! The recursions over client or mail input, and their caps (audit of issue 6):
//! - SEARCH programs: the parser (`imap::parser`, `search_key`) counts `NOT`, `OR` and
//!   parentheses against `imap::limits::MAX_SEARCH_DEPTH` before recursing; everything that
//!   walks a parsed program afterwards (`command::search`: `visit`, `matches`; the derived
//!   `Drop`, `Debug`, `Clone`) is bounded by that. Every other parenthesised list of the grammar
//!   is read iteratively.
//! - MIME: `mime::tree::entity` opens at most `mime::limits::MAX_DEPTH` nested containers
//!   (multipart or message/rfc822), deeper ones become opaque leaves; the writers
//!   (`mime::structure::body`/`leaf`, `has_attachment`) recurse over that tree only;
//!   `mime::text` walks it with an explicit stack; comments and groups in headers are read with
//!   depth counters, not recursion. tests/mime_golden.rs checks the cap on pure multipart and
//!   pure message/rfc822 nesting; this file checks the worst mix on a worker's stack.
//! - Encoders (`imap::encode`, sequence sets, ESEARCH): no recursion.
//!
//! Each check runs on a thread with the stack the server gives its workers (1 MiB,
//! `server::WORKER_STACK`), in whatever build the tests run (a debug build has the largest
//! frames).

mod common_session;

use common_session::MemSession;
use imapvault::imap::limits::MAX_SEARCH_DEPTH;
use imapvault::mime::{self, limits::MAX_DEPTH, Section};

/// The stack of a server worker thread.
const WORKER_STACK: usize = 1024 * 1024;

/// Runs `f` on a thread with a worker's stack.
fn on_worker_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(WORKER_STACK)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the thread overflowed its stack or panicked")
}

/// A search program whose innermost key sits under `levels` nesting operators, cycling
/// through `NOT`, `(` and `OR ALL` (each adds one level), with a text key at the bottom so that
/// every walk of the program (text keys, meta keys, evaluation) goes all the way down.
fn nested_program(levels: usize) -> String {
    let mut p = String::new();
    let mut close = 0;
    for i in 0..levels {
        match i % 3 {
            0 => p.push_str("NOT "),
            1 => {
                p.push('(');
                close += 1;
            }
            _ => p.push_str("OR ALL "),
        }
    }
    p.push_str("TEXT deep");
    p.push_str(&")".repeat(close));
    p
}

#[test]
fn search_at_the_depth_cap_runs_on_a_worker_stack_and_one_more_level_is_refused() {
    let mail = vec![
        b"Subject: deep\r\n\r\nthe deep end\r\n".to_vec(),
        b"Subject: shallow\r\n\r\nnothing here\r\n".to_vec(),
    ];
    let session = MemSession::with_mail(&[("INBOX", &mail)]);
    // `MAX_SEARCH_DEPTH` levels of keys: the innermost one under MAX_SEARCH_DEPTH - 1 operators.
    let at_cap = nested_program(MAX_SEARCH_DEPTH - 1);
    let over = nested_program(MAX_SEARCH_DEPTH);
    let script = format!(
        "s SELECT INBOX\r\n\
         c SEARCH {at_cap}\r\n\
         u UID SEARCH RETURN (MIN MAX COUNT) CHARSET UTF-8 {at_cap}\r\n\
         d SEARCH {over}\r\n"
    );
    let out = on_worker_stack(move || session.run(script.as_bytes()));
    assert!(out.contains("\r\nc OK "), "{out}");
    assert!(out.contains("\r\nu OK "), "{out}");
    assert!(out.contains("\r\n* ESEARCH (TAG \"u\") UID"), "{out}");
    assert!(
        out.contains(&format!(
            "\r\nd BAD [PARSE] nesting deeper than {MAX_SEARCH_DEPTH} levels"
        )),
        "{out}"
    );
}

/// A message whose body nests `levels` containers, alternating multipart/mixed and
/// message/rfc822 (a message/rfc822 level costs the writers the most: envelope and body), with
/// an attached text part at the bottom.
fn mixed_nesting(levels: usize) -> Vec<u8> {
    let mut head = Vec::new();
    let mut tail = Vec::new();
    head.extend_from_slice(b"Subject: top\r\nFrom: a@example.org\r\n");
    for i in 0..levels {
        if i % 2 == 0 {
            head.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=\"m{i}\"\r\n\r\n--m{i}\r\n")
                    .as_bytes(),
            );
            tail.push(format!("\r\n--m{i}--\r\n"));
        } else {
            head.extend_from_slice(
                format!("Content-Type: message/rfc822\r\n\r\nSubject: level {i}\r\n").as_bytes(),
            );
        }
    }
    head.extend_from_slice(
        b"Content-Type: text/plain\r\nContent-Disposition: attachment; filename=deep.txt\r\n\r\n\
          the deepest part\r\n",
    );
    for t in tail.iter().rev() {
        head.extend_from_slice(t.as_bytes());
    }
    head
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// What the BODYSTRUCTURE of `message` shows: (containers opened, the deepest part shown,
/// opaque leaves).
fn shown(message: &[u8]) -> (usize, usize, usize) {
    let s = mime::analyze(message).body_structure;
    (
        count(&s, b"\"mixed\"") + count(&s, b"\"rfc822\""),
        count(&s, b"\"deep.txt\""),
        count(&s, b"\"octet-stream\""),
    )
}

#[test]
fn mime_nesting_at_the_depth_cap_runs_on_a_worker_stack_and_one_more_level_is_opaque() {
    on_worker_stack(|| {
        let at_cap = mixed_nesting(MAX_DEPTH);
        assert_eq!(shown(&at_cap), (MAX_DEPTH, 1, 0));
        assert!(
            mime::analyze(&at_cap).has_attachment,
            "the deepest part's file name was not reached"
        );
        assert!(mime::text::extract(&at_cap)
            .body
            .contains("the deepest part"));
        // The deepest part is addressable: `1.1.1...`, one `1` per message/rfc822 level (a
        // number inside an encapsulated message picks a part of its multipart body) and one
        // for the part itself (RFC 3501 §6.4.5).
        let deepest = Section {
            part: vec![1; MAX_DEPTH / 2 + 1],
            text: None,
        };
        let bytes = mime::section(&at_cap, &deepest).expect("the deepest part");
        assert!(
            bytes.starts_with(b"the deepest part"),
            "{:?}",
            String::from_utf8_lossy(&bytes)
        );
        assert!(mime::binary_section(&at_cap, &deepest.part).is_ok());

        let over = mixed_nesting(MAX_DEPTH + 1);
        assert_eq!(shown(&over), (MAX_DEPTH, 0, 1));
        assert!(!mime::text::extract(&over).body.contains("the deepest part"));
    });
}
