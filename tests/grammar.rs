//! The grammar layer end to end through its public API: bytes as a client sends them, framed
//! by `read_command`, parsed by `parse_command`, answered with `encode` helpers.

use std::io::Cursor;

use imapvault::imap::encode::{status_line, ResponseCode, Status};
use imapvault::imap::framing::{read_command, Joined, Recovery, LITERAL_CONTINUATION};
use imapvault::imap::limits::FrameLimits;
use imapvault::imap::types::{Addressing, FetchItems, StoreKind};
use imapvault::imap::{parse_command, CommandBody, FrameError};

/// What a Thunderbird-like client pipelines after login, read one command at a time.
#[test]
fn pipelined_session_frames_and_parses() {
    let client: &[u8] = b"1 capability\r\n\
        2 LOGIN {4}\r\nuser {6}\r\nsecret\r\n\
        3 LIST (SUBSCRIBED) \"\" \"*\" RETURN (CHILDREN SPECIAL-USE)\r\n\
        4 SELECT INBOX (CONDSTORE)\r\n\
        5 UID fetch 1:* (FLAGS) (CHANGEDSINCE 1)\r\n\
        6 UID STORE 7 +FLAGS (\\Seen)\r\n\
        7 CREATE \"Trash\"\r\n\
        8 IDLE\r\n";
    let mut reader = Cursor::new(client.to_vec());
    let mut wire = Vec::new();
    let mut names = Vec::new();
    let limits = FrameLimits::AUTHENTICATED;
    loop {
        match read_command(
            &mut Joined {
                reader: &mut reader,
                writer: &mut wire,
            },
            &limits,
        ) {
            Ok(bytes) => {
                let cmd = parse_command(&bytes).unwrap();
                match &cmd.body {
                    CommandBody::Fetch {
                        addressing, items, ..
                    } => {
                        assert_eq!(*addressing, Addressing::Uid);
                        assert!(matches!(items, FetchItems::Attributes(_)));
                    }
                    CommandBody::Store { action, .. } => assert_eq!(action.kind, StoreKind::Add),
                    _ => {}
                }
                names.push(cmd.body.name());
            }
            Err(FrameError::Closed) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        names,
        [
            "CAPABILITY",
            "LOGIN",
            "LIST",
            "SELECT",
            "FETCH",
            "STORE",
            "CREATE",
            "IDLE"
        ]
    );
    // Two synchronising literals in LOGIN: two continuation requests, nothing else.
    assert_eq!(wire, [LITERAL_CONTINUATION, LITERAL_CONTINUATION].concat());
}

/// RFC 7888 §4: an oversized synchronising literal gets `NO [TOOBIG]`, no `+`, and the next
/// command is read normally.
#[test]
fn oversized_literal_then_next_command() {
    let mut reader = Cursor::new(b"a1 LOGIN {999999}\r\na2 NOOP\r\n".to_vec());
    let mut wire = Vec::new();
    let limits = FrameLimits::NOT_AUTHENTICATED;
    let e = read_command(
        &mut Joined {
            reader: &mut reader,
            writer: &mut wire,
        },
        &limits,
    )
    .unwrap_err();
    assert_eq!(e.recovery(), Recovery::RejectTooBig);
    assert!(wire.is_empty());
    let answer = status_line(
        e.tag(),
        Status::No,
        Some(&ResponseCode::TooBig),
        "literal too big",
    );
    assert_eq!(answer, b"a1 NO [TOOBIG] literal too big\r\n");
    let next = read_command(
        &mut Joined {
            reader: &mut reader,
            writer: &mut wire,
        },
        &limits,
    )
    .unwrap();
    assert_eq!(parse_command(&next).unwrap().body, CommandBody::Noop);
}

/// A parse error carries the tag for `tag BAD`, or none for `* BAD`.
#[test]
fn parse_errors_answer_tagged_or_untagged() {
    let e = parse_command(b"x1 FETCH 1 (FLAGS\r\n").unwrap_err();
    let line = status_line(e.tag.as_ref(), Status::Bad, None, &e.to_string());
    assert!(
        line.starts_with(b"x1 BAD expected"),
        "{}",
        String::from_utf8_lossy(&line)
    );
    let e = parse_command(b"+ FETCH\r\n").unwrap_err();
    let line = status_line(e.tag.as_ref(), Status::Bad, None, &e.to_string());
    assert!(line.starts_with(b"* BAD invalid or missing tag"));
}
