//! LIST (RFC 3501 §6.3.8, LIST-EXTENDED RFC 5258, SPECIAL-USE RFC 6154, LIST-STATUS RFC 5819)
//! and LSUB (RFC 3501 §6.3.9).
//!
//! Every mailbox's parents exist (import creates them), so no `\Noselect` placeholder is ever
//! needed for a real mailbox; a subscription to a name with no mailbox is `\NonExistent`. The
//! other-users namespace (`Other Users/OWNER/...`, issue 5) adds two `\Noselect` levels above
//! the mailboxes of each archive the user may read ([`crate::imap::access::visible`]).

use std::collections::BTreeSet;

use crate::imap::access::Listed;
use crate::imap::encode::ResponseCode;
use crate::imap::listmatch::{Pattern, SEPARATOR};
use crate::imap::response::{Completion, Out};
use crate::imap::session::Ctx;
use crate::imap::session::User;
use crate::imap::types::{
    ListCommand, ListMailbox, ListReturnOption, ListSelectOption, Mailbox, StatusItem,
};

/// Runs LIST.
pub fn run(ctx: &mut Ctx<'_>, out: &mut Out<'_>, cmd: &ListCommand) -> Completion {
    let user = match super::user(ctx) {
        Ok(u) => u,
        Err(c) => return c,
    };
    let reference = match decode(ctx, cmd.reference.as_bytes()) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let mut patterns = Vec::with_capacity(cmd.patterns.len());
    for p in &cmd.patterns {
        match decode(ctx, p.as_bytes()) {
            Ok(text) => patterns.push(text),
            Err(c) => return c,
        }
    }

    // RFC 3501 §6.3.8: an empty pattern asks for the hierarchy delimiter and root.
    if !cmd.is_extended() && patterns.len() == 1 && patterns[0].is_empty() {
        out.text(&format!("* LIST (\\Noselect) \"{SEPARATOR}\" \"\"\r\n"));
        return Completion::ok("LIST completed");
    }

    let select_subscribed = cmd.selection.contains(&ListSelectOption::Subscribed);
    let select_special = cmd.selection.contains(&ListSelectOption::SpecialUse);
    let recursive = cmd.selection.contains(&ListSelectOption::RecursiveMatch);
    // RFC 5258 §3.1: RECURSIVEMATCH alone is an error.
    if recursive && !select_subscribed && !select_special {
        return Completion::bad(
            ResponseCode::ClientBug,
            "RECURSIVEMATCH needs another selection option",
        );
    }
    let return_subscribed =
        select_subscribed || cmd.return_options.contains(&ListReturnOption::Subscribed);
    let status_items: Option<Vec<StatusItem>> = cmd.return_options.iter().find_map(|o| match o {
        ListReturnOption::Status(items) => Some(items.clone()),
        _ => None,
    });

    let listed = match crate::imap::access::visible(ctx.index, &user) {
        Ok(m) => m,
        Err(e) => return super::index_failure(ctx, "LIST", &e),
    };
    let subscriptions = if select_subscribed {
        match ctx.index.subscriptions(user.id) {
            Ok(s) => s,
            Err(e) => return super::index_failure(ctx, "LIST", &e),
        }
    } else {
        Vec::new()
    };
    let compiled: Vec<Pattern> = patterns
        .iter()
        .map(|p| Pattern::new(&reference, p))
        .collect();
    let matches = |name: &str| compiled.iter().any(|p| p.matches(name));
    let names: BTreeSet<&str> = listed.iter().map(|m| m.name.as_str()).collect();
    // Issue 5: an auditor's reading of other users' mailboxes is logged, LIST-STATUS included.
    let auditor = match (
        &status_items,
        crate::imap::access::is_auditor(ctx.index, user.id),
    ) {
        (None, _) => false,
        (Some(_), Ok(a)) => a,
        (Some(_), Err(e)) => return super::index_failure(ctx, "LIST", &e),
    };
    let is_selected = |l: &Listed| {
        (!select_subscribed || l.is_subscribed())
            && (!select_special || l.info.as_ref().is_some_and(|i| i.special_use.is_some()))
    };

    for entry in sorted(&listed) {
        let subscribed = entry.is_subscribed();
        let direct = is_selected(entry) && matches(&entry.name);
        // RFC 5258 §3.5: with RECURSIVEMATCH, a parent that is not itself selected but has a
        // selected descendant is returned with CHILDINFO.
        let child_info = recursive
            && !direct
            && matches(&entry.name)
            && listed
                .iter()
                .any(|c| is_descendant(&c.name, &entry.name) && is_selected(c));
        if !direct && !child_info {
            continue;
        }
        let mut attrs = Vec::with_capacity(4);
        // `Other Users` and `Other Users/OWNER` are levels of the other-users namespace that
        // hold no messages (RFC 3501 §7.2.2 \Noselect).
        if entry.info.is_none() {
            attrs.push("\\Noselect");
        }
        attrs.push(if has_children(&names, &entry.name) {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        });
        if let Some(u) = entry.info.as_ref().and_then(|i| i.special_use) {
            attrs.push(u.as_str());
        }
        if return_subscribed && subscribed {
            attrs.push("\\Subscribed");
        }
        out.text(&format!(
            "* LIST ({}) \"{SEPARATOR}\" {}",
            attrs.join(" "),
            super::wire_name(ctx, &entry.name)
        ));
        if child_info {
            let why = if select_subscribed {
                "SUBSCRIBED"
            } else {
                "SPECIAL-USE"
            };
            out.text(&format!(" (\"CHILDINFO\" (\"{why}\"))"));
        }
        out.text("\r\n");
        // RFC 5819 §2: STATUS follows the LIST line of each selectable mailbox returned.
        if let (Some(items), Some(info), true) = (&status_items, &entry.info, direct) {
            if auditor {
                crate::imap::access::log_audit_listed(&ctx.session.peer, &user, &info.name);
            }
            if let Err(e) = super::status::write(ctx, out, info, items) {
                return super::index_failure(ctx, "LIST", &e);
            }
        }
    }

    // Subscriptions to names with no mailbox (RFC 5258 §3.1: \NonExistent \Subscribed).
    if select_subscribed {
        for name in subscriptions
            .iter()
            .filter(|n| !names.contains(n.as_str()) && is_personal(n))
        {
            if matches(name) {
                out.text(&format!(
                    "* LIST (\\NonExistent \\Subscribed) \"{SEPARATOR}\" {}\r\n",
                    super::wire_name(ctx, name)
                ));
            }
        }
    }
    Completion::ok("LIST completed")
}

/// Runs LSUB: the subscribed names that match.
pub fn lsub(
    ctx: &mut Ctx<'_>,
    out: &mut Out<'_>,
    reference: &Mailbox,
    pattern: &ListMailbox,
) -> Completion {
    let user = match super::user(ctx) {
        Ok(u) => u,
        Err(c) => return c,
    };
    let (reference, pattern) = match (
        decode(ctx, reference.as_bytes()),
        decode(ctx, pattern.as_bytes()),
    ) {
        (Ok(r), Ok(p)) => (r, p),
        (Err(c), _) | (_, Err(c)) => return c,
    };
    if pattern.is_empty() {
        out.text(&format!("* LSUB (\\Noselect) \"{SEPARATOR}\" \"\"\r\n"));
        return Completion::ok("LSUB completed");
    }
    let subscriptions = match lsub_names(ctx, &user) {
        Ok(s) => s,
        Err(e) => return super::index_failure(ctx, "LSUB", &e),
    };
    let compiled = Pattern::new(&reference, &pattern);
    // RFC 3501 §6.3.9: when `%` stops above a subscribed name, its unsubscribed parent that the
    // pattern matches is returned with \Noselect (subscribed "foo/bar" → "foo" for "%").
    let subscribed: BTreeSet<&str> = subscriptions.iter().map(String::as_str).collect();
    // Keyed (not INBOX, name) so INBOX comes first, then by name, each name once.
    let mut lines: BTreeSet<(bool, &str, &str)> = BTreeSet::new();
    for name in &subscriptions {
        if compiled.matches(name) {
            lines.insert((name != "INBOX", name, "()"));
        }
        for (at, _) in name.match_indices(SEPARATOR) {
            let parent = &name[..at];
            if !subscribed.contains(parent) && compiled.matches(parent) {
                lines.insert((parent != "INBOX", parent, "(\\Noselect)"));
            }
        }
    }
    for (_, name, attributes) in lines {
        out.text(&format!(
            "* LSUB {attributes} \"{SEPARATOR}\" {}\r\n",
            super::wire_name(ctx, name)
        ));
    }
    Completion::ok("LSUB completed")
}

/// The subscribed names LSUB may show: every personal one (a subscription may outlive its
/// mailbox, RFC 3501 §6.3.9), but in the other-users namespace only those the user can see now,
/// so a subscription kept from before a revoke tells nothing.
fn lsub_names(ctx: &Ctx<'_>, user: &User) -> Result<Vec<String>, crate::index::IndexError> {
    let mut names = ctx.index.subscriptions(user.id)?;
    if names.iter().any(|n| !is_personal(n)) {
        let visible: BTreeSet<String> = crate::imap::access::visible(ctx.index, user)?
            .into_iter()
            .filter(|l| l.info.is_some())
            .map(|l| l.name)
            .collect();
        names.retain(|n| is_personal(n) || visible.contains(n));
    }
    Ok(names)
}

fn is_personal(name: &str) -> bool {
    matches!(
        crate::imap::access::classify(name),
        crate::imap::access::Named::Personal(_)
    )
}

fn decode(ctx: &Ctx<'_>, bytes: &[u8]) -> Result<String, Completion> {
    let mailbox = Mailbox::new(bytes.to_vec())
        .ok_or_else(|| Completion::bad(ResponseCode::ClientBug, "NUL in mailbox name"))?;
    mailbox
        .decode(ctx.session.enabled.mailbox_encoding())
        .map_err(|e| Completion::bad(ResponseCode::ClientBug, e.to_string()))
}

fn sorted(mailboxes: &[Listed]) -> Vec<&Listed> {
    let mut v: Vec<&Listed> = mailboxes.iter().collect();
    v.sort_by(|a, b| inbox_first(&a.name, &b.name));
    v
}

/// INBOX first, then by name: what clients show.
fn inbox_first(a: &str, b: &str) -> std::cmp::Ordering {
    (a != "INBOX").cmp(&(b != "INBOX")).then_with(|| a.cmp(b))
}

fn is_descendant(name: &str, parent: &str) -> bool {
    name.len() > parent.len() + 1
        && name.starts_with(parent)
        && name[parent.len()..].starts_with(SEPARATOR)
}

fn has_children(names: &BTreeSet<&str>, parent: &str) -> bool {
    let prefix = format!("{parent}{SEPARATOR}");
    names
        .range(prefix.as_str()..)
        .next()
        .is_some_and(|n| n.starts_with(&prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_and_descendants() {
        let names: BTreeSet<&str> = ["Archive", "Archive/2019", "ArchiveX", "Sent"]
            .into_iter()
            .collect();
        assert!(has_children(&names, "Archive"));
        assert!(!has_children(&names, "ArchiveX"));
        assert!(!has_children(&names, "Sent"));
        assert!(is_descendant("Archive/2019", "Archive"));
        assert!(!is_descendant("ArchiveX", "Archive"));
    }

    #[test]
    fn inbox_sorts_first() {
        let mut v = vec!["Archive", "INBOX", "Drafts"];
        v.sort_by(|a, b| inbox_first(a, b));
        assert_eq!(v, ["INBOX", "Archive", "Drafts"]);
    }
}
