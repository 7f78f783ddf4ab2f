//! SEARCH with non-ASCII strings from Python's imaplib against the demo server over TLS
//! (issue 3): German, French, Japanese and Russian headers and bodies, CHARSET UTF-8 with a
//! literal, legacy charsets, ESEARCH. Skipped (with a note) when python3 is not installed.

mod common;

#[test]
fn imaplib_searches_the_demo_archive() {
    common::TestServer::start().run_python_client("tests/search/imaplib_check.py");
}
