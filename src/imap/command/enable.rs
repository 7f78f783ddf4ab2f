//! ENABLE (RFC 5161): turns on extensions that change how the server answers.
//!
//! None of the extensions that need enabling (CONDSTORE, QRESYNC, UTF8=ACCEPT, IMAP4rev2) is
//! offered yet, so `* ENABLED` lists nothing; RFC 5161 §3.1 says unknown names are ignored.

use crate::imap::response::{Completion, Out};
use crate::imap::types::Atom;

/// Runs ENABLE.
pub fn run(requested: &[Atom], peer: &str, out: &mut Out<'_>) -> Completion {
    let names: Vec<&str> = requested.iter().map(Atom::as_str).collect();
    log::debug!("{peer}: ENABLE {} (none offered)", names.join(" "));
    out.text("* ENABLED\r\n");
    Completion::ok("ENABLE completed")
}
