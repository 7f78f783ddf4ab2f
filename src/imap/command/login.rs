//! LOGIN (RFC 3501 §6.2.3), and the password check that AUTHENTICATE PLAIN shares.
//!
//! Before TLS the answer is `NO [PRIVACYREQUIRED]` without looking at the password (RFC 3501
//! §6.2.3: LOGINDISABLED; RFC 8314). Unknown user and wrong password get the same answer after
//! the same work (a hash check against a decoy), so neither text nor timing tells them apart.

use std::time::Duration;

use crate::auth;
use crate::imap::context::ChannelSecurity;
use crate::imap::encode::ResponseCode;
use crate::imap::response::Completion;
use crate::imap::session::{Ctx, State, User};

/// Pause after a failed login, so password guessing over one connection is slow.
const FAILURE_DELAY: Duration = Duration::from_millis(300);

/// Runs LOGIN.
pub fn run(ctx: &mut Ctx<'_>, username: &[u8], password: &[u8]) -> Completion {
    if ctx.session.channel == ChannelSecurity::Plain {
        log::info!("{}: login refused: plain-text connection", ctx.session.peer);
        return privacy_required();
    }
    attempt(ctx, username, password)
}

/// The answer to a login attempt on a plain connection.
pub fn privacy_required() -> Completion {
    Completion::no(
        ResponseCode::PrivacyRequired,
        "Login is only allowed over TLS: send STARTTLS first",
    )
}

/// Checks `username`/`password` and, on success, enters the authenticated state.
pub fn attempt(ctx: &mut Ctx<'_>, username: &[u8], password: &[u8]) -> Completion {
    let peer = ctx.session.peer.clone();
    // A name that could never have been created (control characters, quotes, wildcards, SQL) is
    // refused exactly like a wrong password, after the same decoy hash check.
    let name = std::str::from_utf8(username)
        .ok()
        .filter(|n| auth::validate_user_name(n).is_ok());
    let stored = match name {
        Some(n) => match ctx.index.user_password_hash(n) {
            Ok(s) => s,
            Err(e) => return super::index_failure(ctx, "LOGIN", &e),
        },
        None => None,
    };
    let verified = auth::check_password(
        name.unwrap_or(""),
        stored.as_ref().map(|(_, h)| h.as_str()),
        password,
    );
    match (verified, stored) {
        (Some(verified), Some((id, _))) => {
            log::info!(
                "{peer}: login as {} (client {})",
                verified.user(),
                ctx.session.client.as_deref().unwrap_or("not identified")
            );
            ctx.session.state = State::Authenticated(User { verified, id });
            Completion::ok_with(
                ResponseCode::Capability(
                    super::capability::list(ctx.session)
                        .split(' ')
                        .map(str::to_owned)
                        .collect(),
                ),
                "Logged in",
            )
        }
        (_, stored) => {
            // The class of failure is for the administrator's log only; the client's answer
            // and its timing are the same for all of them. Never the password.
            let class = match (name, stored) {
                (None, _) => "malformed user name",
                (Some(_), None) => "no such user",
                (Some(_), Some(_)) => "wrong password",
            };
            log::info!(
                "{peer}: failed login for {:?}: {class}",
                String::from_utf8_lossy(&username[..username.len().min(64)])
            );
            std::thread::sleep(FAILURE_DELAY);
            Completion::no(ResponseCode::AuthenticationFailed, "Invalid credentials")
        }
    }
}
