//! AUTHENTICATE (RFC 3501 §6.2.2) with the PLAIN mechanism (RFC 4616) and an optional initial
//! response (SASL-IR, RFC 4959).

use base64::Engine as _;

use crate::imap::context::ChannelSecurity;
use crate::imap::encode::ResponseCode;
use crate::imap::response::Completion;
use crate::imap::session::Ctx;

/// How the client's SASL response was obtained.
pub enum ClientResponse {
    /// The client sent these base64 bytes (initial response or continuation line).
    Base64(Vec<u8>),
    /// `=`: an empty response (RFC 4959 §3).
    Empty,
    /// `*`: the client cancelled (RFC 3501 §6.2.2).
    Cancelled,
}

/// Runs AUTHENTICATE. `response` is the client's SASL response: the initial response sent
/// with the command, or the line read after the session's `+ ` challenge.
pub fn run(ctx: &mut Ctx<'_>, mechanism: &str, response: Option<ClientResponse>) -> Completion {
    if ctx.session.channel == ChannelSecurity::Plain {
        return super::login::privacy_required();
    }
    if !mechanism.eq_ignore_ascii_case("PLAIN") {
        return Completion::no(
            ResponseCode::Cannot,
            format!("Mechanism {mechanism} is not supported; use PLAIN"),
        );
    }
    let Some(response) = response else {
        return Completion::bad(ResponseCode::ClientBug, "No SASL response received");
    };
    let encoded = match response {
        ClientResponse::Cancelled => {
            return Completion::bad(ResponseCode::ClientBug, "AUTHENTICATE cancelled")
        }
        ClientResponse::Empty => Vec::new(),
        ClientResponse::Base64(b) => b,
    };
    let Ok(message) = base64::engine::general_purpose::STANDARD.decode(&encoded) else {
        return Completion::bad(ResponseCode::ClientBug, "SASL response is not valid base64");
    };
    // RFC 4616 §2: message = [authzid] NUL authcid NUL passwd
    let mut fields = message.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Completion::bad(
            ResponseCode::ClientBug,
            "PLAIN response must be authzid NUL authcid NUL password",
        );
    };
    // Acting as another user is not offered: the authorization identity must be empty or the
    // user's own (RFC 4616 §2).
    if !authzid.is_empty() && authzid != authcid {
        return Completion::no(
            ResponseCode::AuthorizationFailed,
            "Authorization as another user is not allowed",
        );
    }
    super::login::attempt(ctx, authcid, password)
}
