//! ID (RFC 2971): logs what the client says it is, keeps its name for `imapvault sessions`, and
//! says what this server is.

use crate::imap::response::{Completion, Out};
use crate::imap::session::Session;
use crate::imap::types::IdParam;

/// Longest client description kept for the session list.
const MAX_CLIENT: usize = 120;

/// Runs ID.
pub fn run(session: &mut Session, params: Option<&[IdParam]>, out: &mut Out<'_>) -> Completion {
    if let Some(params) = params {
        let value = |field: &str| {
            params
                .iter()
                .find(|p| p.field.as_bytes().eq_ignore_ascii_case(field.as_bytes()))
                .and_then(|p| p.value.as_ref())
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let described: Vec<String> = params
            .iter()
            .map(|p| {
                let field = String::from_utf8_lossy(p.field.as_bytes());
                let value = p
                    .value
                    .as_ref()
                    .map_or_else(|| "NIL".into(), |v| String::from_utf8_lossy(v.as_bytes()));
                format!("{field}={value:?}")
            })
            .collect();
        log::info!("{}: client ID {}", session.peer, described.join(" "));
        let client = match (value("name"), value("version")) {
            (Some(n), Some(v)) => Some(format!("{n} {v}")),
            (Some(n), None) => Some(n),
            _ => None,
        };
        // Control characters would break the session list's one-line-per-session format.
        session.client = client.map(|c| {
            c.chars()
                .map(|ch| if ch.is_control() { ' ' } else { ch })
                .take(MAX_CLIENT)
                .collect()
        });
    }
    out.text(&format!(
        "* ID (\"name\" \"imapvault\" \"version\" \"{}\" \"support-url\" NIL)\r\n",
        env!("CARGO_PKG_VERSION")
    ));
    Completion::ok("ID completed")
}
