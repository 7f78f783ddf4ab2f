//! Hostile input over real TLS (issue 6): a table of inputs and the tagged answer or BYE each
//! must get. After the whole table the archive's blob files are unchanged and the server still
//! serves.

mod common;

use common::{tree_hash, TestServer};

/// Where a case starts.
#[derive(Clone, Copy)]
enum Start {
    /// Right after the greeting.
    PreLogin,
    /// Logged in, with `INBOX` selected (12 messages in the demo archive).
    Inbox,
    /// Logged in, with the empty parent folder `Archive` selected.
    Empty,
}

/// What the case must end with.
enum Expect {
    /// The line tagged `x` starts with this.
    Tagged(&'static str),
    /// `* BYE` (and the connection ends).
    Bye,
}

struct Case {
    name: &'static str,
    start: Start,
    input: Vec<u8>,
    expect: Expect,
}

fn case(name: &'static str, start: Start, input: impl Into<Vec<u8>>, expect: Expect) -> Case {
    Case {
        name,
        start,
        input: input.into(),
        expect,
    }
}

fn table() -> Vec<Case> {
    use Expect::{Bye, Tagged};
    use Start::{Empty, Inbox, PreLogin};
    let parens = format!(
        "x SEARCH {}ALL{}\r\n",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let nots = format!("x SEARCH {}ALL\r\n", "NOT ".repeat(15_000));
    let many_nots = format!("x SEARCH {}ALL\r\n", "NOT ".repeat(60_000));
    let ranges: Vec<String> = (1..=40_000u32).map(|n| format!("{}", n * 2)).collect();
    let huge_set = format!("x UID FETCH {} (UID)\r\n", ranges.join(","));
    vec![
        // Nesting and size: every one is refused before it costs stack or memory.
        case("100,000 open parentheses", Inbox, parens, Tagged("x BAD")),
        case(
            "15,000 NOTs (fits a line)",
            Inbox,
            nots,
            Tagged("x BAD [PARSE] nesting deeper"),
        ),
        case("60,000 NOTs", Inbox, many_nots, Tagged("x BAD")),
        case(
            "40,000-range sequence set",
            Inbox,
            huge_set,
            Tagged("x BAD"),
        ),
        case(
            "1:4294967295 is a range, not a list",
            Inbox,
            "x UID FETCH 1:4294967295 (UID)\r\n",
            Tagged("x OK"),
        ),
        case(
            "* on an empty mailbox (sequence)",
            Empty,
            "x FETCH * (FLAGS)\r\n",
            Tagged("x BAD"),
        ),
        case(
            "* on an empty mailbox (UID)",
            Empty,
            "x UID FETCH * (FLAGS)\r\n",
            Tagged("x OK"),
        ),
        case(
            "SEARCH * on an empty mailbox",
            Empty,
            "x SEARCH *\r\n",
            Tagged("x OK"),
        ),
        // Partial fetches near 2^32: an empty string, or BAD past the grammar's numbers.
        case(
            "partial origin 2^32-1",
            Inbox,
            "x FETCH 1 BODY.PEEK[]<4294967295.4294967295>\r\n",
            Tagged("x OK"),
        ),
        case(
            "partial origin 2^32",
            Inbox,
            "x FETCH 1 BODY.PEEK[]<4294967296.1>\r\n",
            Tagged("x BAD"),
        ),
        case(
            "partial length 0",
            Inbox,
            "x FETCH 1 BODY.PEEK[]<0.0>\r\n",
            Tagged("x BAD"),
        ),
        // FTS5 query syntax in a search string is plain text, never an error.
        case(
            "FTS5 NEAR",
            Inbox,
            "x SEARCH TEXT \"NEAR(a b)\"\r\n",
            Tagged("x OK"),
        ),
        case(
            "FTS5 column filter",
            Inbox,
            "x SEARCH BODY \"subject:x OR y*\"\r\n",
            Tagged("x OK"),
        ),
        case(
            "FTS5 quote",
            Inbox,
            "x SEARCH SUBJECT {3+}\r\na\"b\r\n",
            Tagged("x OK"),
        ),
        // NUL and 8-bit where the grammar forbids them.
        case(
            "NUL in a quoted string",
            Inbox,
            b"x SELECT \"IN\0BOX\"\r\n".to_vec(),
            Tagged("x BAD"),
        ),
        case(
            "NUL in a literal mailbox name",
            Inbox,
            b"x SELECT {6+}\r\nIN\0BOX\r\n".to_vec(),
            Tagged("x BAD"),
        ),
        case(
            "8-bit atom",
            Inbox,
            "x SELECT INB\u{d6}X\r\n",
            Tagged("x BAD"),
        ),
        case(
            "NUL in LOGIN",
            PreLogin,
            b"x LOGIN {4+}\r\nde\0o pw\r\n".to_vec(),
            Tagged("x BAD"),
        ),
        case(
            "user name with SQL",
            PreLogin,
            "x LOGIN \"demo' OR '1'='1\" pw\r\n",
            Tagged("x NO [AUTHENTICATIONFAILED]"),
        ),
        case(
            "user name with a wildcard",
            PreLogin,
            "x LOGIN \"*\" pw\r\n",
            Tagged("x NO [AUTHENTICATIONFAILED]"),
        ),
        // Literals over the caps: a synchronising one is refused without `+`, a
        // non-synchronising one (whose octets are already coming) ends the session.
        case(
            "sync literal over the cap",
            Inbox,
            "x APPEND INBOX {999999999}\r\n",
            Tagged("x NO [TOOBIG]"),
        ),
        case(
            "literal length past 2^64",
            Inbox,
            "x APPEND INBOX {99999999999999999999999}\r\n",
            Tagged("x NO [TOOBIG]"),
        ),
        case(
            "non-sync literal over the cap",
            Inbox,
            "x APPEND INBOX {999999999+}\r\n",
            Bye,
        ),
        case(
            "pre-login sync literal over its smaller cap",
            PreLogin,
            "x LOGIN {70000}\r\n",
            Tagged("x NO [TOOBIG]"),
        ),
        // Lines over the cap.
        case(
            "over-long line before login",
            PreLogin,
            format!("x NOOP {}\r\n", "a".repeat(9000)),
            Tagged("x BAD [TOOBIG]"),
        ),
        case(
            "over-long line after login",
            Inbox,
            format!("x NOOP {}\r\n", "a".repeat(70_000)),
            Tagged("x BAD [TOOBIG]"),
        ),
        // STARTTLS where it makes no sense, and write commands.
        case(
            "STARTTLS over TLS",
            PreLogin,
            "x STARTTLS\r\n",
            Tagged("x BAD"),
        ),
        case("EXPUNGE", Inbox, "x EXPUNGE\r\n", Tagged("x NO [CANNOT]")),
        case(
            "APPEND with a small literal",
            Inbox,
            "x APPEND INBOX {5+}\r\nhello\r\n",
            Tagged("x NO [CANNOT]"),
        ),
        case(
            "STORE \\Deleted",
            Inbox,
            "x STORE 1:* +FLAGS.SILENT (\\Deleted)\r\n",
            Tagged("x OK"),
        ),
    ]
}

/// Runs one case on a fresh connection; returns the line it ended with.
fn run(server: &TestServer, case: &Case) -> String {
    let mut client = match case.start {
        Start::PreLogin => server.raw(),
        Start::Inbox | Start::Empty => server.raw_logged_in(),
    };
    match case.start {
        Start::Inbox => assert!(client
            .command("SELECT INBOX")
            .last()
            .unwrap()
            .contains(" OK ")),
        Start::Empty => assert!(client
            .command("SELECT Archive")
            .last()
            .unwrap()
            .contains(" OK ")),
        Start::PreLogin => {}
    }
    client.send(&case.input);
    // Bounded: at most this many lines before the answer (a FETCH of every message, say).
    for _ in 0..10_000 {
        let line = client.read_line();
        if line.is_empty() || line.starts_with("* BYE") || line.starts_with("x ") {
            return line;
        }
    }
    panic!("{}: no answer within 10,000 lines", case.name);
}

#[test]
fn hostile_inputs_get_their_answer_and_change_nothing() {
    let server = TestServer::start();
    let blobs = server.archive_dir().join("blobs");
    let before = tree_hash(&blobs);
    let mut failures = Vec::new();
    let cases = table();
    for case in &cases {
        let got = run(&server, case);
        let ok = match case.expect {
            Expect::Tagged(prefix) => got.starts_with(prefix),
            Expect::Bye => got.starts_with("* BYE"),
        };
        if !ok {
            failures.push(format!("{}: got {got:?}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(tree_hash(&blobs), before, "the archive's blobs changed");
    // And the server still serves.
    let mut client = server.raw_logged_in();
    assert!(client
        .command("SELECT INBOX")
        .last()
        .unwrap()
        .contains(" OK "));
    let fetch = client.command("FETCH 1 (RFC822.SIZE FLAGS)");
    assert!(fetch.last().unwrap().contains(" OK "), "{fetch:?}");
    eprintln!("adversarial: {} cases passed", cases.len());
}
