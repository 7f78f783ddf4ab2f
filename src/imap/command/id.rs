//! ID (RFC 2971): logs what the client says it is and says what this server is.

use crate::imap::response::{Completion, Out};
use crate::imap::types::IdParam;

/// Runs ID.
pub fn run(peer: &str, params: Option<&[IdParam]>, out: &mut Out<'_>) -> Completion {
    if let Some(params) = params {
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
        log::info!("{peer}: client ID {}", described.join(" "));
    }
    out.text(&format!(
        "* ID (\"name\" \"imapvault\" \"version\" \"{}\" \"support-url\" NIL)\r\n",
        env!("CARGO_PKG_VERSION")
    ));
    Completion::ok("ID completed")
}
