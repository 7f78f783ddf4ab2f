//! NAMESPACE (RFC 2342): the personal namespace (the empty prefix) and the other-users
//! namespace `Other Users/` under which a delegate or auditor finds the archives they may read
//! (issue 5, [`crate::imap::access`]); `/` separates levels in both. No shared namespace.

use crate::imap::access::OTHER_USERS;
use crate::imap::response::{Completion, Out};

/// Runs NAMESPACE. The other-users namespace is announced to every user, also one who may read
/// no other archive: its LIST is then empty, and answering alike for everyone tells nobody
/// whether anyone shares with them (RFC 2342 §5 lets a server list a namespace it shows nothing
/// in).
pub fn run(out: &mut Out<'_>) -> Completion {
    out.text(&format!(
        "* NAMESPACE ((\"\" \"/\")) ((\"{OTHER_USERS}/\" \"/\")) NIL\r\n"
    ));
    Completion::ok("NAMESPACE completed")
}
