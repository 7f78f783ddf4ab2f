//! NAMESPACE (RFC 2342): one personal namespace, the empty prefix, `/` as separator.

use crate::imap::response::{Completion, Out};

/// Runs NAMESPACE.
pub fn run(out: &mut Out<'_>) -> Completion {
    out.text("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
    Completion::ok("NAMESPACE completed")
}
