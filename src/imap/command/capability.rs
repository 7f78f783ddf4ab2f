//! CAPABILITY (RFC 3501 §6.1.1): what this server offers, which depends on the session's state.
//!
//! Only what is implemented is listed. Before TLS the plain port offers STARTTLS and says
//! LOGINDISABLED, with no AUTH= mechanism (RFC 3501 §6.2.3, RFC 8314).

use crate::imap::context::ChannelSecurity;
use crate::imap::response::Completion;
use crate::imap::session::{Session, State};

/// Offered in every state.
const COMMON: &[&str] = &[
    "IMAP4rev1",
    "LITERAL+",
    "ID",
    "ENABLE",
    "UNSELECT",
    "NAMESPACE",
    "CHILDREN",
    "SPECIAL-USE",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "STATUS=SIZE",
    "BINARY",
    "IDLE",
    "CONDSTORE",
    "QRESYNC",
    "COMPRESS=DEFLATE",
    // RFC 4731: SEARCH RETURN (MIN MAX COUNT ALL) answered with `* ESEARCH` (command/search.rs).
    "ESEARCH",
    // RFC 4314, read side: MYRIGHTS, GETACL, LISTRIGHTS; SETACL/DELETEACL refused (issue 5).
    "ACL",
    // RFC 5182: SEARCH RETURN (SAVE) and `$` (command/search.rs, view.rs).
    "SEARCHRES",
    // RFC 5032: SEARCH OLDER / YOUNGER.
    "WITHIN",
    // RFC 8970: FETCH PREVIEW, computed at ingest (mime::text::preview).
    "PREVIEW",
    // RFC 5256 SORT and THREAD, RFC 5957 DISPLAYFROM/DISPLAYTO, RFC 5267 ESORT (command/sort.rs,
    // command/thread.rs).
    "SORT",
    "SORT=DISPLAY",
    "ESORT",
    "THREAD=ORDEREDSUBJECT",
    "THREAD=REFERENCES",
];

/// The capability list for `session`'s current state, space-separated.
pub fn list(session: &Session) -> String {
    let mut caps: Vec<&str> = COMMON.to_vec();
    if matches!(session.state, State::NotAuthenticated) {
        match session.channel {
            ChannelSecurity::Plain => caps.extend(["STARTTLS", "LOGINDISABLED"]),
            ChannelSecurity::Tls => caps.extend(["AUTH=PLAIN", "SASL-IR"]),
        }
    }
    caps.join(" ")
}

/// Runs CAPABILITY.
pub fn run(session: &Session, out: &mut crate::imap::response::Out<'_>) -> Completion {
    out.text(&format!("* CAPABILITY {}\r\n", list(session)));
    Completion::ok("CAPABILITY completed")
}
