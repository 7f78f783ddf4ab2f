//! LOGIN (RFC 3501 §6.2.3), and the password check that AUTHENTICATE PLAIN shares.
//!
//! Before TLS the answer is `NO [PRIVACYREQUIRED]` without looking at the password (RFC 3501
//! §6.2.3: LOGINDISABLED; RFC 8314). Unknown user and wrong password get the same answer after
//! the same work (a hash check against a decoy), so neither text nor timing tells them apart.

use crate::auth;
use crate::imap::context::ChannelSecurity;
use crate::imap::encode::ResponseCode;
use crate::imap::response::Completion;
use crate::imap::session::{Ctx, State, User};

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
            // RFC 5530 LIMIT: the user's sessions are at the configured cap. Checked only after
            // the password, so the answer tells nothing to someone who does not know it.
            let max = ctx.session.context.limits.sessions_per_user;
            if !ctx
                .session
                .context
                .sessions
                .claim_user(ctx.session.id(), verified.user(), max)
            {
                log::warn!(
                    "{peer}: login as {} refused: {max} sessions already open",
                    verified.user()
                );
                return Completion::no(
                    ResponseCode::Limit,
                    format!("Too many sessions for this user (at most {max}); log out elsewhere"),
                );
            }
            ctx.session
                .context
                .login_failures
                .succeeded(verified.user());
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
            // Issue 6: the pause doubles with each failure of this address or this name, up to
            // the configured cap, so guessing is slow from one address and against one user
            // alike. The answer is the same whatever the class of failure.
            let context = ctx.session.context.clone();
            let address = peer_address(&peer);
            let delay = context
                .login_failures
                .record(address, name, &context.limits);
            std::thread::sleep(delay);
            Completion::no(ResponseCode::AuthenticationFailed, "Invalid credentials")
        }
    }
}

/// The address part of a peer written `address:port` (`[v6]:port`), which is what failures are
/// counted by; anything else is used whole.
fn peer_address(peer: &str) -> &str {
    match peer.parse::<std::net::SocketAddr>() {
        Ok(_) => peer.rsplit_once(':').map_or(peer, |(a, _)| {
            a.trim_start_matches('[').trim_end_matches(']')
        }),
        Err(_) => peer,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn failures_count_by_address_without_port() {
        assert_eq!(super::peer_address("192.0.2.1:4000"), "192.0.2.1");
        assert_eq!(super::peer_address("[2001:db8::1]:993"), "2001:db8::1");
        assert_eq!(super::peer_address("memory"), "memory");
    }
}
