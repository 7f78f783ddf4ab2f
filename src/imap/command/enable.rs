//! ENABLE (RFC 5161): turns on extensions that change how the server answers: CONDSTORE and
//! QRESYNC (RFC 7162; QRESYNC implies CONDSTORE). Unknown names are ignored (RFC 5161 §3.1).

use crate::imap::response::{Completion, Out};
use crate::imap::session::Session;
use crate::imap::types::Atom;

/// Runs ENABLE.
pub fn run(session: &mut Session, requested: &[Atom], out: &mut Out<'_>) -> Completion {
    let mut newly = Vec::new();
    for name in requested {
        if name.eq_ignore_case("CONDSTORE") && !session.enabled.condstore {
            session.enabled.condstore = true;
            newly.push("CONDSTORE");
        } else if name.eq_ignore_case("QRESYNC") && !session.enabled.qresync {
            session.enabled.qresync = true;
            session.enabled.condstore = true;
            newly.push("QRESYNC");
        }
    }
    // RFC 5161 §3.1: ENABLED lists what this command enabled, nothing already on.
    let mut line = String::from("* ENABLED");
    for n in newly {
        line.push(' ');
        line.push_str(n);
    }
    line.push_str("\r\n");
    out.text(&line);
    Completion::ok("ENABLE completed")
}
