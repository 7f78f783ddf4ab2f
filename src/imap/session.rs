//! One IMAP session: the state machine of RFC 3501 §3 / RFC 9051 §3, reading commands and
//! dispatching each to its file under `command/`.
//!
//! Owns: the session state (types make "selected while not logged in" unwritable), the command
//! loop, timeouts, the count of bad commands, and the tagged completion of every command.
//! Knows no sockets: it runs over any [`Transport`].

use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use crate::auth::Verified;
use crate::imap::command::{self, authenticate::ClientResponse};
use crate::imap::context::{
    ChannelSecurity, Exit, IdleStep, SessionContext, Transport, Wake, WorkerResources,
};
use crate::imap::encode::ResponseCode;
use crate::imap::framing::{self, FrameError, Recovery};
use crate::imap::parser::parse_command;
use crate::imap::response::{Completion, Out};
use crate::imap::types::{Command, CommandBody, InitialResponse, MailboxEncoding};
use crate::imap::updates::Expunges;
use crate::imap::view::MailboxView;
use crate::index::{Index, Subscription, UserId};
use crate::limits::{IDLE_INPUT_TIMEOUT, MAX_CONTINUATION_LINE};
use crate::store::BlobStore;

/// A logged-in user: the proof that their password was checked, and their id in the index.
#[derive(Debug, Clone)]
pub struct User {
    pub verified: Verified,
    pub id: UserId,
}

impl User {
    /// The user's name.
    pub fn name(&self) -> &str {
        self.verified.user()
    }
}

/// The states of RFC 3501 §3, each holding what it needs.
pub enum State {
    /// Before login.
    NotAuthenticated,
    /// Logged in, no mailbox selected.
    Authenticated(User),
    /// Logged in with a mailbox selected.
    Selected(User, MailboxView),
    /// After LOGOUT or BYE.
    Logout,
}

/// Extensions the client turned on (RFC 5161 ENABLE, or implicitly by using them).
#[derive(Debug, Clone, Copy, Default)]
pub struct Enabled {
    /// RFC 6855 UTF8=ACCEPT: mailbox names travel as UTF-8 (not offered yet; always off).
    pub utf8_accept: bool,
    /// RFC 7162 §3.1: CONDSTORE, by ENABLE or by any CONDSTORE-enabling command; from then on
    /// every untagged FETCH carries MODSEQ.
    pub condstore: bool,
    /// RFC 7162 §3.2.3: QRESYNC, only by ENABLE (implies CONDSTORE).
    pub qresync: bool,
}

impl Enabled {
    /// How mailbox names travel on the wire in this session.
    pub fn mailbox_encoding(&self) -> MailboxEncoding {
        if self.utf8_accept {
            MailboxEncoding::Utf8
        } else {
            MailboxEncoding::ModifiedUtf7
        }
    }
}

/// One session.
pub struct Session {
    pub(crate) context: Arc<SessionContext>,
    pub(crate) peer: String,
    pub(crate) channel: ChannelSecurity,
    pub(crate) state: State,
    pub(crate) enabled: Enabled,
    /// Commands answered BAD so far.
    bad_commands: u32,
    /// Commands run, and when the session began: for the log line at its end.
    commands: u64,
    started: Instant,
    /// This session's id in the server's registry.
    id: u64,
    /// What the client said it is (ID command), for `imapvault sessions`.
    pub(crate) client: Option<String>,
    /// The tag of the IDLE command in progress, if any.
    idling: Option<String>,
    /// Whether COMPRESS DEFLATE is on (RFC 4978: only once).
    compressed: bool,
}

/// What a command handler sees: the session and the worker's index and store.
pub struct Ctx<'a> {
    pub session: &'a mut Session,
    pub index: &'a mut Index,
    pub store: &'a BlobStore,
}

/// What to do after a command.
enum Next {
    Continue,
    Exit(Exit),
}

impl Session {
    /// A new session on a fresh connection.
    pub fn new(context: Arc<SessionContext>, peer: String, channel: ChannelSecurity) -> Session {
        let id = context.sessions.register(&peer);
        Session {
            id,
            client: None,
            context,
            peer,
            channel,
            state: State::NotAuthenticated,
            enabled: Enabled::default(),
            bad_commands: 0,
            commands: 0,
            started: Instant::now(),
            idling: None,
            compressed: false,
        }
    }

    /// The greeting (RFC 3501 §7.1.1), with the capabilities so clients need not ask.
    pub fn greeting(&self) -> Vec<u8> {
        format!(
            "* OK [CAPABILITY {}] imapvault ready (read-only archive)\r\n",
            command::capability::list(self)
        )
        .into_bytes()
    }

    /// Called by the transport after a successful STARTTLS handshake.
    pub fn tls_established(&mut self) {
        self.channel = ChannelSecurity::Tls;
    }

    /// When the connection was accepted (the pre-login deadline counts from here).
    pub fn started(&self) -> Instant {
        self.started
    }

    /// This session's id (as `imapvault sessions` shows it).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Shows the session's current state in the registry.
    fn publish(&self) {
        let (state, mailbox) = match &self.state {
            State::NotAuthenticated => ("not authenticated", None),
            State::Authenticated(_) => ("authenticated", None),
            State::Selected(_, v) => ("selected", Some(v.info.name.clone())),
            State::Logout => ("logout", None),
        };
        let state = if self.idling.is_some() { "idle" } else { state };
        let user = self.user_name().map(str::to_owned);
        let (commands, client) = (self.commands, self.client.clone());
        self.context.sessions.update(self.id, |info| {
            info.state = state;
            info.mailbox = mailbox;
            info.user = user;
            info.client = client;
            info.commands = commands;
        });
    }

    /// The BYE for a session whose input ended, if it ended on the server's side.
    fn bye_for_closed_input(&self) -> Option<&'static [u8]> {
        if self.context.sessions.is_kicked(self.id) {
            Some(b"* BYE Disconnected by the administrator\r\n")
        } else if self.context.is_stopping() {
            Some(b"* BYE Server shutting down\r\n")
        } else {
            None
        }
    }

    /// One line for the log when the session ends: who, for how long, how much.
    pub fn summary(&self) -> String {
        let (bytes_in, bytes_out) = self.context.sessions.traffic(self.id);
        format!(
            "{}: session of {} ended after {} s, {} command(s), {} bytes in, {} bytes out",
            self.peer,
            self.user_name().unwrap_or("(not logged in)"),
            self.started.elapsed().as_secs(),
            self.commands,
            bytes_in,
            bytes_out
        )
    }

    /// The name of the logged-in user, if any (for logs).
    pub fn user_name(&self) -> Option<&str> {
        match &self.state {
            State::Authenticated(u) | State::Selected(u, _) => Some(u.name()),
            _ => None,
        }
    }

    /// Reads and answers commands until the session ends or the transport must change.
    pub fn serve<T: Transport>(
        &mut self,
        io: &mut BufReader<T>,
        resources: &mut WorkerResources,
    ) -> Exit {
        loop {
            if matches!(self.state, State::Logout) {
                return Exit::Closed;
            }
            // Before login, a command is read only once its whole line is there: a client
            // trickling bytes waits in the reactor, not in a read on a worker (issue 6).
            if matches!(self.state, State::NotAuthenticated)
                && !io.buffer().contains(&b'\n')
                && io.get_mut().line_ready() == Some(false)
            {
                return Exit::AwaitLine;
            }
            // Before login the whole time since connecting counts (issue 6: a client trickling
            // a byte now and then must not hold a worker for long); after it, inactivity does.
            let configured = self.context.limits;
            let (timeout, deadline, limits) = match self.state {
                State::NotAuthenticated => (
                    configured.prelogin_timeout,
                    Some(self.started + configured.prelogin_timeout),
                    configured.frame_before_login(),
                ),
                _ => (configured.autologout, None, configured.frame_after_login()),
            };
            let transport = io.get_mut();
            if transport.set_read_timeout(timeout).is_err()
                || transport.set_deadline(deadline).is_err()
            {
                return Exit::Closed;
            }
            let frame = framing::read_command(&mut Duplex(io), &limits);
            let bytes = match frame {
                Ok(bytes) => bytes,
                Err(e) => match self.frame_error(io, &e) {
                    Next::Continue => continue,
                    Next::Exit(exit) => return exit,
                },
            };
            let command = match parse_command(&bytes) {
                Ok(c) => c,
                Err(e) => {
                    let tag = e.tag.as_ref().map_or("*", |t| t.as_str()).to_owned();
                    let reply = Completion::bad(ResponseCode::Parse, e.kind.to_string());
                    match self.send_bad(io, &tag, &reply) {
                        Next::Continue => continue,
                        Next::Exit(exit) => return exit,
                    }
                }
            };
            match self.execute(command, io, resources) {
                Next::Continue => {}
                Next::Exit(exit) => return exit,
            }
        }
    }

    /// Answers a framing error as [`FrameError::recovery`] says.
    fn frame_error<T: Transport>(&mut self, io: &mut BufReader<T>, e: &FrameError) -> Next {
        let tag = e.tag().map_or("*", |t| t.as_str()).to_owned();
        match e.recovery() {
            Recovery::Close => {
                if let Some(bye) = self.bye_for_closed_input() {
                    write_line(io, bye);
                }
                Next::Exit(Exit::Closed)
            }
            Recovery::Bye => {
                let text: &[u8] = match e {
                    FrameError::Timeout { .. } if self.context.is_stopping() => {
                        b"* BYE Server shutting down\r\n"
                    }
                    FrameError::Timeout { .. } if matches!(self.state, State::NotAuthenticated) => {
                        b"* BYE Login timeout: log in sooner after connecting\r\n"
                    }
                    FrameError::Timeout { .. } => b"* BYE Autologout: idle for too long\r\n",
                    _ => b"* BYE [TOOBIG] Command too large; closing the connection\r\n",
                };
                write_line(io, text);
                Next::Exit(Exit::Closed)
            }
            Recovery::RejectTooBig => {
                let reply = Completion::no(ResponseCode::TooBig, e.to_string());
                self.send_bad(io, &tag, &reply)
            }
            Recovery::RejectBad => {
                let reply = Completion::bad(ResponseCode::TooBig, e.to_string());
                self.send_bad(io, &tag, &reply)
            }
        }
    }

    /// Sends a refusal of a malformed command and counts it; too many end the session.
    fn send_bad<T: Transport>(
        &mut self,
        io: &mut BufReader<T>,
        tag: &str,
        reply: &Completion,
    ) -> Next {
        self.bad_commands += 1;
        let mut line = reply.line(tag);
        if self.bad_commands >= self.bad_command_limit() {
            line.extend_from_slice(b"* BYE Too many invalid commands\r\n");
            write_line(io, &line);
            return Next::Exit(Exit::Closed);
        }
        if write_line(io, &line) {
            Next::Continue
        } else {
            Next::Exit(Exit::Closed)
        }
    }

    /// Commands answered BAD after which the session is ended: a client this confused (or
    /// hostile) is not going to recover, and each BAD costs us a parse. Fewer before login.
    fn bad_command_limit(&self) -> u32 {
        match self.state {
            State::NotAuthenticated => self.context.limits.bad_commands_before_login,
            _ => self.context.limits.bad_commands_after_login,
        }
    }

    /// Runs one parsed command and writes its responses.
    fn execute<T: Transport>(
        &mut self,
        command: Command,
        io: &mut BufReader<T>,
        resources: &mut WorkerResources,
    ) -> Next {
        self.commands += 1;
        let tag = command.tag.as_str().to_owned();
        let name = command.body.name();
        let expunges = expunges_after(&command.body);

        // Commands that need the stream itself (STARTTLS, AUTHENTICATE) or end the session.
        match &command.body {
            CommandBody::StartTls => return self.starttls(io, &tag),
            CommandBody::Idle => return self.idle(io, resources, &tag),
            CommandBody::Compress(_) => return self.compress(io, &tag),
            CommandBody::Logout => {
                self.state = State::Logout;
                let mut line = b"* BYE Logging out\r\n".to_vec();
                line.extend(Completion::ok("LOGOUT completed").line(&tag));
                write_line(io, &line);
                return Next::Exit(Exit::Closed);
            }
            _ => {}
        }
        let sasl = match &command.body {
            CommandBody::Authenticate {
                mechanism,
                initial_response: None,
            } if self.channel == ChannelSecurity::Tls
                && matches!(self.state, State::NotAuthenticated)
                && mechanism.eq_ignore_case("PLAIN") =>
            {
                match read_sasl_response(io) {
                    Ok(r) => Some(r),
                    Err(exit) => return Next::Exit(exit),
                }
            }
            _ => None,
        };

        let context = self.context.clone();
        let index = match resources.index(&context) {
            Ok(i) => i,
            Err(e) => {
                log::error!("{}: cannot open the index: {e}", self.peer);
                let reply = Completion::no(
                    ResponseCode::Unavailable,
                    "The archive is unavailable; try again later",
                );
                return if write_line(io, &reply.line(&tag)) {
                    Next::Continue
                } else {
                    Next::Exit(Exit::Closed)
                };
            }
        };
        let writer: &mut dyn Write = io.get_mut();
        let mut out = Out::new(writer);
        let mut ctx = Ctx {
            session: self,
            index,
            store: &context.store,
        };
        // Issue 5: a revoke takes effect at the delegate's next command, also with the owner's
        // mailbox selected; the grant is asked of the index, never taken from this session.
        if say_bye_if_revoked(&mut ctx, &mut out) {
            return Next::Exit(Exit::Closed);
        }
        let reply = dispatch(&mut ctx, &mut out, &tag, command.body, sasl);
        // News for the selected mailbox goes before the tagged response of every command.
        if let Err(e) = crate::imap::updates::send(&mut ctx, &mut out, expunges) {
            log::warn!("{}: cannot check for changes: {e}", ctx.session.peer);
        }
        let is_bad = reply.status == crate::imap::response::Status::Bad;
        out.push(&reply.line(&tag));
        if out.finish().is_err() {
            return Next::Exit(Exit::Closed);
        }
        log::debug!("{}: {name} -> {:?}", self.peer, reply.status);
        self.publish();
        if is_bad {
            self.bad_commands += 1;
            if self.bad_commands >= self.bad_command_limit() {
                write_line(io, b"* BYE Too many invalid commands\r\n");
                return Next::Exit(Exit::Closed);
            }
        }
        Next::Continue
    }

    /// IDLE (RFC 2177): sends what is pending, `+ idling`, and hands the connection back to be
    /// parked, unless input is already buffered (a pipelined `DONE`), which is read at once.
    fn idle<T: Transport>(
        &mut self,
        io: &mut BufReader<T>,
        resources: &mut WorkerResources,
        tag: &str,
    ) -> Next {
        if matches!(self.state, State::NotAuthenticated) {
            let reply =
                Completion::bad(ResponseCode::ClientBug, "IDLE is not allowed before login");
            return self.send_bad(io, tag, &reply);
        }
        if !self.send_news(io, resources) || !write_line(io, b"+ idling\r\n") {
            return Next::Exit(Exit::Closed);
        }
        self.idling = Some(tag.to_owned());
        self.publish();
        if io.buffer().is_empty() && !io.get_mut().has_buffered_input() {
            return Next::Exit(Exit::Idle);
        }
        match self.resume_idle(io, resources, Wake::Input) {
            IdleStep::Serve => Next::Continue,
            IdleStep::Park => Next::Exit(Exit::Idle),
            IdleStep::Closed => Next::Exit(Exit::Closed),
        }
    }

    /// Continues a parked IDLE after `wake`.
    pub fn resume_idle<T: Transport>(
        &mut self,
        io: &mut BufReader<T>,
        resources: &mut WorkerResources,
        wake: Wake,
    ) -> IdleStep {
        let Some(tag) = self.idling.clone() else {
            return IdleStep::Serve;
        };
        match wake {
            Wake::Changed => {
                if self.send_news(io, resources) {
                    IdleStep::Park
                } else {
                    IdleStep::Closed
                }
            }
            Wake::Keepalive => {
                // Also a second chance for news whose wake-up was missed (the clock jumped).
                if self.send_news(io, resources) && write_line(io, b"* OK Still here\r\n") {
                    IdleStep::Park
                } else {
                    IdleStep::Closed
                }
            }
            Wake::Autologout => {
                write_line(io, b"* BYE Autologout: idle for too long\r\n");
                IdleStep::Closed
            }
            Wake::Shutdown => {
                write_line(io, b"* BYE Server shutting down\r\n");
                IdleStep::Closed
            }
            Wake::Input => {
                // The client is writing: give it a moment to finish its line.
                if io.get_mut().set_read_timeout(IDLE_INPUT_TIMEOUT).is_err() {
                    return IdleStep::Closed;
                }
                let line = match framing::read_line(io, MAX_CONTINUATION_LINE) {
                    Ok(line) => line,
                    Err(e) => {
                        if let Some(bye) = self.bye_for_closed_input() {
                            write_line(io, bye);
                        } else if matches!(e, FrameError::Timeout { .. }) {
                            write_line(io, b"* BYE Incomplete line during IDLE\r\n");
                        }
                        return IdleStep::Closed;
                    }
                };
                self.idling = None;
                self.publish();
                // RFC 2177 §3: the only thing a client may send during IDLE is DONE.
                let reply = if line.eq_ignore_ascii_case(b"DONE") {
                    Completion::ok("IDLE terminated")
                } else {
                    Completion::bad(ResponseCode::ClientBug, "Expected DONE; IDLE terminated")
                };
                if write_line(io, &reply.line(&tag)) {
                    IdleStep::Serve
                } else {
                    IdleStep::Closed
                }
            }
        }
    }

    /// Writes pending news for the selected mailbox; false when the client is gone.
    fn send_news<T: Transport>(
        &mut self,
        io: &mut BufReader<T>,
        resources: &mut WorkerResources,
    ) -> bool {
        if !matches!(self.state, State::Selected(..)) {
            return true;
        }
        let context = self.context.clone();
        let index = match resources.index(&context) {
            Ok(i) => i,
            Err(e) => {
                log::error!("{}: cannot open the index: {e}", self.peer);
                return true;
            }
        };
        let writer: &mut dyn Write = io.get_mut();
        let mut out = Out::new(writer);
        let mut ctx = Ctx {
            session: self,
            index,
            store: &context.store,
        };
        if say_bye_if_revoked(&mut ctx, &mut out) {
            return false;
        }
        // RFC 2177: during IDLE the server may send EXPUNGE like any other update.
        if let Err(e) = crate::imap::updates::send(&mut ctx, &mut out, Expunges::Allowed) {
            log::warn!("{}: cannot check for changes: {e}", ctx.session.peer);
        }
        out.finish().is_ok()
    }

    /// The mailbox this session has selected, for change notifications while parked.
    pub fn selected_mailbox(&self) -> Option<crate::index::MailboxId> {
        match &self.state {
            State::Selected(_, v) => Some(v.info.id),
            _ => None,
        }
    }

    /// When the next message of the selected mailbox leaves the sync window (Unix seconds by
    /// the context's clock): a parked IDLE session is woken then to announce it. `None` when
    /// nothing is selected, the mailbox is empty or there is no window.
    pub fn next_departure(&self) -> Option<i64> {
        match &self.state {
            State::Selected(_, v) => v
                .oldest_date()
                .and_then(|d| self.context.window().departure(d)),
            _ => None,
        }
    }

    /// COMPRESS DEFLATE (RFC 4978): after login, once per connection.
    fn compress<T: Transport>(&mut self, io: &mut BufReader<T>, tag: &str) -> Next {
        let reply = if matches!(self.state, State::NotAuthenticated) {
            Completion::bad(
                ResponseCode::ClientBug,
                "COMPRESS is not allowed before login",
            )
        } else if self.compressed {
            Completion::no(ResponseCode::CompressionActive, "Compression is already on")
        } else {
            self.compressed = true;
            let line = Completion::ok("DEFLATE active").line(tag);
            return if write_line(io, &line) {
                Next::Exit(Exit::Compress)
            } else {
                Next::Exit(Exit::Closed)
            };
        };
        if reply.status == crate::imap::response::Status::Bad {
            self.send_bad(io, tag, &reply)
        } else if write_line(io, &reply.line(tag)) {
            Next::Continue
        } else {
            Next::Exit(Exit::Closed)
        }
    }

    /// STARTTLS (RFC 3501 §6.2.1): only on a plain connection before login.
    fn starttls<T: Transport>(&mut self, io: &mut BufReader<T>, tag: &str) -> Next {
        let reply = match (&self.state, self.channel) {
            (State::NotAuthenticated, ChannelSecurity::Plain) => {
                let line = Completion::ok("Begin TLS negotiation now").line(tag);
                return if write_line(io, &line) {
                    Next::Exit(Exit::StartTls)
                } else {
                    Next::Exit(Exit::Closed)
                };
            }
            (_, ChannelSecurity::Tls) => {
                Completion::bad(ResponseCode::ClientBug, "TLS is already active")
            }
            _ => Completion::bad(
                ResponseCode::ClientBug,
                "STARTTLS is only allowed before login",
            ),
        };
        self.send_bad(io, tag, &reply)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.context.sessions.remove(self.id);
    }
}

/// Says BYE and ends the session if its selected mailbox is another user's that it may no longer
/// read (issue 5); true when it did.
fn say_bye_if_revoked(ctx: &mut Ctx<'_>, out: &mut Out<'_>) -> bool {
    let Some(bye) = lost_selection(ctx) else {
        return false;
    };
    out.push(bye);
    let _ = out.finish();
    ctx.session.state = State::Logout;
    true
}

/// The BYE for a session whose selected mailbox it may no longer read, if so (a failing index
/// closes the session too: access is never assumed).
fn lost_selection(ctx: &Ctx<'_>) -> Option<&'static [u8]> {
    match crate::imap::access::selection_allowed(ctx.index, &ctx.session.state) {
        Ok(true) => None,
        Ok(false) => {
            log::info!(
                "{}: {} lost access to the selected mailbox; closing the session",
                ctx.session.peer,
                ctx.session.user_name().unwrap_or("-")
            );
            Some(crate::imap::access::REVOKED_BYE)
        }
        Err(e) => {
            log::error!("{}: cannot check access: {e}", ctx.session.peer);
            Some(b"* BYE [UNAVAILABLE] The archive index is unavailable\r\n")
        }
    }
}

/// Sends `+ ` and reads the client's SASL response line (RFC 3501 §6.2.2).
fn read_sasl_response<T: Transport>(io: &mut BufReader<T>) -> Result<ClientResponse, Exit> {
    if !write_line(io, b"+ \r\n") {
        return Err(Exit::Closed);
    }
    match framing::read_line(io, MAX_CONTINUATION_LINE) {
        Ok(line) if line == b"*" => Ok(ClientResponse::Cancelled),
        Ok(line) if line == b"=" => Ok(ClientResponse::Empty),
        Ok(line) => Ok(ClientResponse::Base64(line)),
        Err(_) => Err(Exit::Closed),
    }
}

/// Whether the news after `body` may include EXPUNGE: RFC 9051 §7.5.1 forbids it while
/// answering FETCH, STORE or SEARCH, and allows it during their UID forms.
fn expunges_after(body: &CommandBody) -> Expunges {
    use crate::imap::types::Addressing;
    match body {
        CommandBody::Fetch { addressing, .. }
        | CommandBody::Store { addressing, .. }
        | CommandBody::Search { addressing, .. }
            if *addressing == Addressing::Sequence =>
        {
            Expunges::HeldBack
        }
        _ => Expunges::Allowed,
    }
}

/// Routes a command by the session's state (RFC 3501 §6: which commands are valid where).
fn dispatch(
    ctx: &mut Ctx<'_>,
    out: &mut Out<'_>,
    tag: &str,
    body: CommandBody,
    sasl: Option<ClientResponse>,
) -> Completion {
    use CommandBody as C;
    let authenticated = !matches!(ctx.session.state, State::NotAuthenticated);
    let selected = matches!(ctx.session.state, State::Selected(..));
    let name = body.name();
    match body {
        // Any state (RFC 3501 §6.1).
        C::Capability => command::capability::run(ctx.session, out),
        C::Noop => Completion::ok("NOOP completed"),
        C::Id(params) => command::id::run(ctx.session, params.as_deref(), out),

        // Not authenticated (RFC 3501 §6.2).
        C::Login { username, password } if !authenticated => {
            command::login::run(ctx, username.as_bytes(), password.as_bytes())
        }
        C::Authenticate {
            mechanism,
            initial_response,
        } if !authenticated => {
            let response = match (initial_response, sasl) {
                (Some(InitialResponse::Base64(b)), _) => Some(ClientResponse::Base64(b)),
                (Some(InitialResponse::Empty), _) => Some(ClientResponse::Empty),
                (None, r) => r,
            };
            command::authenticate::run(ctx, mechanism.as_str(), response)
        }
        C::Login { .. } | C::Authenticate { .. } => {
            Completion::bad(ResponseCode::ClientBug, "Already logged in")
        }
        _ if !authenticated => Completion::bad(
            ResponseCode::ClientBug,
            format!("{name} is not allowed before login"),
        ),

        // Authenticated (RFC 3501 §6.3).
        C::Enable(names) => command::enable::run(ctx.session, &names, out),
        C::Namespace => command::namespace::run(out),
        C::List(list) => command::list::run(ctx, out, &list),
        C::Lsub { reference, pattern } => command::list::lsub(ctx, out, &reference, &pattern),
        C::Subscribe(m) => command::subscribe::run(ctx, &m, Subscription::Subscribed),
        C::Unsubscribe(m) => command::subscribe::run(ctx, &m, Subscription::Unsubscribed),
        C::Status { mailbox, items } => command::status::run(ctx, out, &mailbox, &items),
        C::Select {
            access,
            mailbox,
            params,
        } => command::select::run(ctx, out, &mailbox, access, &params),
        C::Create { mailbox, .. } => command::refused::create(ctx, &mailbox),
        // RFC 4314 (issue 5).
        C::MyRights(m) => command::myrights::run(ctx, out, &m),
        C::GetAcl(m) => command::getacl::run(ctx, out, &m),
        C::ListRights {
            mailbox,
            identifier,
        } => command::listrights::run(ctx, out, &mailbox, &identifier),
        C::SetAcl { .. } | C::DeleteAcl { .. } => command::refused::acl(ctx, name),
        C::Delete(_) | C::Rename { .. } | C::Append { .. } => command::refused::refuse(ctx, name),

        // Selected (RFC 3501 §6.4).
        C::Check if selected => Completion::ok("CHECK completed"),
        C::Close if selected => command::select::close(ctx, "CLOSE"),
        C::Unselect if selected => command::select::close(ctx, "UNSELECT"),
        C::Fetch {
            addressing,
            set,
            items,
            modifiers,
        } if selected => command::fetch::run(ctx, out, addressing, &set, &items, modifiers),
        C::Store {
            addressing,
            set,
            action,
            unchanged_since,
        } if selected => command::store::run(ctx, out, addressing, &set, &action, unchanged_since),
        C::Search {
            addressing,
            ret,
            charset,
            criteria,
        } if selected => command::search::run(
            ctx,
            out,
            &command::search::SearchCommand {
                tag,
                addressing,
                ret: ret.as_deref(),
                charset: charset.as_ref(),
                key: &criteria,
            },
        ),
        C::Sort {
            addressing,
            ret,
            criteria,
            charset,
            search,
        } if selected => command::sort::run(
            ctx,
            out,
            tag,
            addressing,
            ret.as_deref(),
            &criteria,
            &charset,
            &search,
        ),
        C::Thread {
            addressing,
            algorithm,
            charset,
            search,
        } if selected => command::thread::run(ctx, out, addressing, &algorithm, &charset, &search),
        C::Expunge | C::UidExpunge(_) | C::Copy { .. } | C::Move { .. } if selected => {
            command::refused::refuse(ctx, name)
        }
        C::Check
        | C::Close
        | C::Unselect
        | C::Fetch { .. }
        | C::Store { .. }
        | C::Search { .. }
        | C::Sort { .. }
        | C::Thread { .. }
        | C::Expunge
        | C::UidExpunge(_)
        | C::Copy { .. }
        | C::Move { .. } => Completion::bad(ResponseCode::ClientBug, "No mailbox selected"),

        // Parsed, but not offered by this server (not in CAPABILITY).
        C::GetQuota(_) | C::GetQuotaRoot(_) => Completion::bad(
            ResponseCode::ClientBug,
            format!("{name} is not supported by this server (see CAPABILITY)"),
        ),
        // Handled in `execute` before dispatch.
        C::StartTls | C::Logout | C::Idle | C::Compress(_) => {
            Completion::bad(ResponseCode::ServerBug, "unreachable")
        }
    }
}

/// Writes and flushes `bytes`; false when the client is gone.
fn write_line<T: Transport>(io: &mut BufReader<T>, bytes: &[u8]) -> bool {
    let w = io.get_mut();
    w.write_all(bytes).and_then(|_| w.flush()).is_ok()
}

/// The session's stream as one `BufRead + Write`: reads come through the buffer, writes go
/// straight to the transport (the framer writes the literal continuation request this way).
struct Duplex<'a, T: Read + Write>(&'a mut BufReader<T>);

impl<T: Read + Write> Read for Duplex<'_, T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<T: Read + Write> BufRead for Duplex<'_, T> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.0.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.0.consume(amt)
    }
}

impl<T: Read + Write> Write for Duplex<'_, T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.get_mut().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.get_mut().flush()
    }
}
