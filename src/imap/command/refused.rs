//! The commands that would change the archive: APPEND, COPY, MOVE, EXPUNGE, UID EXPUNGE, CREATE,
//! DELETE, RENAME (DESIGN §4), and SETACL and DELETEACL (`NO [NOPERM]`, RFC 4314). Each is answered `NO [CANNOT]` with a text that says why, so
//! clients show a clear message instead of retrying. Nothing is read from or written to the
//! archive.
//!
//! CREATE of a name that already exists answers `NO [ALREADYEXISTS]` (RFC 5530), which clients
//! such as Thunderbird, which send `CREATE "Trash"` on every refresh, take quietly.
//! APPEND never answers `[TRYCREATE]`: that would invite a CREATE, then another APPEND.

use crate::imap::encode::ResponseCode;
use crate::imap::response::Completion;
use crate::imap::session::Ctx;
use crate::imap::types::Mailbox;

/// Why every write is refused.
const READ_ONLY: &str = "this is a read-only archive";

/// The answer to a command that would change the archive.
pub fn refuse(ctx: &Ctx<'_>, command: &str) -> Completion {
    log::info!(
        "{}: refused {command} (user {})",
        ctx.session.peer,
        ctx.session.user_name().unwrap_or("-")
    );
    let what = match command {
        "APPEND" => "messages cannot be added",
        "COPY" | "MOVE" => "messages cannot be copied or moved",
        "EXPUNGE" | "UID EXPUNGE" => "messages cannot be deleted",
        "CREATE" | "DELETE" | "RENAME" => "folders cannot be created, deleted or renamed",
        _ => "nothing can be changed",
    };
    Completion::no(
        ResponseCode::Cannot,
        format!("{command} refused: {READ_ONLY}; {what}"),
    )
}

/// CREATE: `[ALREADYEXISTS]` for an existing name, otherwise the read-only refusal.
pub fn create(ctx: &mut Ctx<'_>, mailbox: &Mailbox) -> Completion {
    if let (Ok(user), Ok(name)) = (super::user(ctx), super::mailbox_name(ctx, mailbox)) {
        // RFC 3501 §6.3.3: a trailing separator only says a child may follow; the name is the
        // same mailbox.
        let name = name
            .strip_suffix(crate::imap::listmatch::SEPARATOR)
            .unwrap_or(&name);
        // Only a name the user can see may be said to exist (issue 5: forbidden and missing
        // answer alike).
        if let Ok(Some(_)) = crate::imap::access::resolve(ctx.index, &user, name) {
            return Completion::no(ResponseCode::AlreadyExists, "Mailbox already exists");
        }
    }
    refuse(ctx, "CREATE")
}

/// SETACL and DELETEACL (RFC 4314 §3.1–2): rights are given with `imapvault user grant`, never
/// over IMAP, and nobody holds the `a` right. The answer is the same for every mailbox name,
/// whether it exists, is the user's, or is hidden from them, so it tells nothing.
pub fn acl(ctx: &Ctx<'_>, command: &str) -> Completion {
    log::info!(
        "{}: refused {command} (user {})",
        ctx.session.peer,
        ctx.session.user_name().unwrap_or("-")
    );
    Completion::no(
        ResponseCode::NoPerm,
        format!("{command} refused: access rights are managed by the archive's administrator"),
    )
}
