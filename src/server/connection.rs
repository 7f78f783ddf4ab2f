//! One client connection on a worker thread: TLS handshake, then the IMAP session over it, and
//! the hand-over of an idling connection to the reactor and back.
//!
//! Owns: the byte stream (plain TCP or rustls over TCP), its timeouts, the STARTTLS upgrade and
//! [`Parked`], an idle connection with its whole state. One thread owns a TLS session at a time:
//! a parked connection belongs to the reactor's table until a worker takes it (DESIGN §2).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rustls::{ServerConnection, StreamOwned};

use super::{Security, Shutdown};
use crate::imap::registry::Traffic;
use crate::imap::{
    ChannelSecurity, Exit, IdleStep, Session, SessionContext, Transport, Wake, WorkerResources,
};
use crate::index::MailboxId;
use crate::limits::IDLE_KEEPALIVE;
use std::sync::atomic::Ordering;

/// Read buffer per connection: large enough for a typical command, small enough for many idlers.
const READ_BUFFER: usize = 8 * 1024;

/// A TCP socket whose reads can be given an absolute deadline (issue 6): a read timeout alone
/// restarts with every byte, so a client trickling one byte at a time (slowloris) could hold a
/// worker for ever; with a deadline each read waits only for what is left of it. The TLS layer
/// reads through this too, so a handshake trickled record by record is bounded as well.
pub struct Sock {
    tcp: TcpStream,
    /// The read timeout the session asked for (per read).
    timeout: Option<Duration>,
    deadline: Option<Instant>,
}

impl Sock {
    fn new(tcp: TcpStream) -> Sock {
        Sock {
            tcp,
            timeout: None,
            deadline: None,
        }
    }

    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.timeout = Some(timeout);
        self.tcp.set_read_timeout(Some(timeout))
    }

    fn set_deadline(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        self.deadline = deadline;
        if deadline.is_none() {
            self.tcp.set_read_timeout(self.timeout)?;
        }
        Ok(())
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
            }
            let wait = self.timeout.map_or(left, |t| t.min(left));
            self.tcp.set_read_timeout(Some(wait))?;
        }
        self.tcp.read(buf)
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// The connection's byte stream.
pub enum Stream {
    Plain(Sock),
    Tls(Box<StreamOwned<ServerConnection, Sock>>),
    /// After COMPRESS DEFLATE (RFC 4978), over one of the others.
    Deflated(Box<super::deflate::Deflated<Stream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        &self.sock().tcp
    }

    /// Whether a TLS handshake is still under way (no IMAP can be read or written yet).
    fn is_handshaking(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(t) => t.conn.is_handshaking(),
            Stream::Deflated(d) => d.get_ref().is_handshaking(),
        }
    }

    fn sock(&self) -> &Sock {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => &t.sock,
            Stream::Deflated(d) => d.get_ref().sock(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(t) => t.read(buf),
            Stream::Deflated(d) => d.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(t) => t.write(buf),
            Stream::Deflated(d) => d.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(t) => t.flush(),
            Stream::Deflated(d) => d.flush(),
        }
    }
}

/// The stream with its byte counters (what `imapvault sessions` shows): IMAP bytes, counted
/// above TLS and compression.
pub struct Metered {
    pub stream: Stream,
    pub traffic: Arc<Traffic>,
    /// Input already read from the stream (while the connection waited for a whole line in
    /// the reactor), served before anything new.
    pending: Vec<u8>,
    /// Pending input longer than this counts as ready even without its line end: the framer
    /// then answers the over-long line as it answers any.
    line_cap: usize,
}

impl Metered {
    fn new(stream: Stream, traffic: Arc<Traffic>) -> Metered {
        Metered {
            stream,
            traffic,
            pending: Vec::new(),
            line_cap: usize::MAX,
        }
    }
}

impl Read for Metered {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.pending.is_empty() {
            // Counted when it was gathered.
            let n = buf.len().min(self.pending.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            return Ok(n);
        }
        let n = self.stream.read(buf)?;
        self.traffic.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Write for Metered {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.stream.write(buf)?;
        self.traffic
            .bytes_out
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl Transport for Metered {
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }
    fn set_deadline(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        self.stream.set_deadline(deadline)
    }
    fn has_buffered_input(&mut self) -> bool {
        !self.pending.is_empty() || self.stream.has_buffered_input()
    }
    fn line_ready(&mut self) -> Option<bool> {
        Some(self.pending.contains(&b'\n') || self.pending.len() > self.line_cap)
    }
}

impl Transport for Stream {
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.set_read_timeout(timeout),
            Stream::Tls(t) => t.sock.set_read_timeout(timeout),
            Stream::Deflated(d) => d.set_read_timeout(timeout),
        }
    }

    fn set_deadline(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.set_deadline(deadline),
            Stream::Tls(t) => t.sock.set_deadline(deadline),
            Stream::Deflated(d) => d.set_deadline(deadline),
        }
    }

    fn has_buffered_input(&mut self) -> bool {
        match self {
            Stream::Plain(_) => false,
            // Records already received but not yet decrypted are processed here, so that what
            // is left unseen is only in the kernel's buffer, where readiness will report it.
            Stream::Tls(t) => t
                .conn
                .process_new_packets()
                .map_or(true, |state| state.plaintext_bytes_to_read() > 0),
            Stream::Deflated(d) => d.has_buffered_input(),
        }
    }
}

/// What a parked connection waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// In IDLE (RFC 2177): input, a change to its mailbox, the keepalive or autologout.
    Idle,
    /// Not logged in (issue 6, slowloris): the rest of its TLS handshake or of a command line,
    /// until `deadline`. A client trickling bytes waits here, in the reactor, not on a worker.
    PreLogin { deadline: Instant },
}

/// A connection waiting in the reactor with everything needed to continue it on any worker.
pub struct Parked {
    pub session: Session,
    pub io: BufReader<Metered>,
    pub peer: SocketAddr,
    /// The selected mailbox, whose changes wake the session.
    pub mailbox: Option<MailboxId>,
    /// When this IDLE began (for autologout).
    pub idle_since: Instant,
    /// When the next keepalive line is due.
    pub keepalive_at: Instant,
    /// Its place in the count of connections from its address, given back when it closes.
    pub slot: super::AddressSlot,
    /// What it waits for.
    pub waiting: Waiting,
    /// Whether the greeting was sent (not yet while the first TLS handshake runs).
    greeted: bool,
}

impl Parked {
    /// A greeted connection, not logged in, to wait in the reactor for input until `deadline`.
    fn prelogin(
        session: Session,
        io: BufReader<Metered>,
        peer: SocketAddr,
        slot: super::AddressSlot,
        deadline: Instant,
    ) -> Box<Parked> {
        let now = Instant::now();
        Box::new(Parked {
            session,
            io,
            peer,
            mailbox: None,
            idle_since: now,
            keepalive_at: now,
            slot,
            waiting: Waiting::PreLogin { deadline },
            greeted: true,
        })
    }

    /// The socket, for readiness registration.
    pub fn fd(&self) -> RawFd {
        self.io.get_ref().stream.tcp().as_raw_fd()
    }

    /// A clone of the socket, so that shutdown can interrupt a blocking read on it.
    pub fn tcp(&self) -> &TcpStream {
        self.io.get_ref().stream.tcp()
    }
}

/// How a worker leaves a connection.
pub enum Outcome {
    /// Done: the connection is closed (dropped).
    Closed,
    /// In IDLE: hand it to the reactor.
    Park(Box<Parked>),
}

/// Serves a new connection until the client logs out, disconnects, idles, or the server stops.
#[allow(clippy::too_many_arguments)]
pub(crate) fn serve(
    tcp: TcpStream,
    peer: SocketAddr,
    slot: super::AddressSlot,
    security: Security,
    tls: &RwLock<Arc<rustls::ServerConfig>>,
    context: &Arc<SessionContext>,
    resources: &mut WorkerResources,
    shutdown: &Shutdown,
) -> Outcome {
    if shutdown.is_requested() {
        return Outcome::Closed;
    }
    let limits = context.limits;
    // A client that does not read what we send (a large FETCH) blocks our write; after this
    // the write fails, the session ends and the worker is free (issue 6).
    let _ = tcp.set_write_timeout(Some(limits.write_timeout));
    let sock = Sock::new(tcp);
    let now = Instant::now();
    let mut deadline = now + limits.prelogin_timeout;
    let (stream, channel) = match security {
        Security::ImplicitTls => match tls_stream(sock, tls) {
            Ok(t) => {
                deadline = deadline.min(now + limits.tls_handshake_timeout);
                (Stream::Tls(Box::new(t)), ChannelSecurity::Tls)
            }
            Err(e) => {
                log::warn!("{peer}: cannot start TLS: {e}");
                return Outcome::Closed;
            }
        },
        Security::StartTls => (Stream::Plain(sock), ChannelSecurity::Plain),
    };
    let session = Session::new(context.clone(), peer.to_string(), channel);
    let traffic = Arc::new(Traffic::default());
    // `imapvault kick` ends a session by shutting its read side (through the server's tables,
    // which own the socket): a blocked read sees end of input, an idle socket becomes readable,
    // and either way the session says why in its BYE.
    let id = session.id();
    let interrupter = shutdown.clone();
    context.sessions.attach(
        id,
        traffic.clone(),
        Box::new(move || interrupter.interrupt_session(id)),
    );
    let _on_worker = OnWorker::new(shutdown, id, stream.tcp());
    let io = BufReader::with_capacity(READ_BUFFER, Metered::new(stream, traffic));
    let mut parked = Parked::prelogin(session, io, peer, slot, deadline);
    parked.greeted = false;
    advance_prelogin(parked, tls, resources)
}

/// Moves a connection that is not logged in on as far as its input allows without waiting:
/// the TLS handshake, the greeting, then commands once a whole line is there. When the input
/// stops short, the connection goes back to the reactor to wait (issue 6: slowloris).
fn advance_prelogin(
    mut parked: Box<Parked>,
    tls: &RwLock<Arc<rustls::ServerConfig>>,
    resources: &mut WorkerResources,
) -> Outcome {
    match handshake_step(parked.io.get_mut()) {
        Step::Done => {}
        Step::Waiting => return Outcome::Park(parked),
        Step::Closed => {
            log::debug!("{}: TLS handshake failed or abandoned", parked.peer);
            return Outcome::Closed;
        }
    }
    if !parked.greeted {
        let greeting = parked.session.greeting();
        let w = parked.io.get_mut();
        if w.write_all(&greeting).and_then(|_| w.flush()).is_err() {
            return Outcome::Closed;
        }
        parked.greeted = true;
    }
    let Parked {
        session,
        io,
        peer,
        slot,
        ..
    } = *parked;
    drive(session, io, peer, slot, tls, resources)
}

/// How far a non-blocking step got.
enum Step {
    /// Finished: go on.
    Done,
    /// The input stopped short: wait in the reactor.
    Waiting,
    /// The client is gone or broke the protocol.
    Closed,
}

/// Runs the TLS handshake as far as the input received allows. Reads do not block; writes
/// (the server's flights, a few KiB) do, bounded by the write timeout.
fn handshake_step(m: &mut Metered) -> Step {
    let Stream::Tls(t) = &mut m.stream else {
        return Step::Done;
    };
    // Bounded: each turn consumes input, and a handshake is a few records.
    for _ in 0..1024 {
        while t.conn.wants_write() {
            if t.conn.write_tls(&mut t.sock).is_err() {
                return Step::Closed;
            }
        }
        if !t.conn.is_handshaking() {
            return Step::Done;
        }
        if t.sock.tcp.set_nonblocking(true).is_err() {
            return Step::Closed;
        }
        let read = t.conn.read_tls(&mut t.sock);
        if t.sock.tcp.set_nonblocking(false).is_err() {
            return Step::Closed;
        }
        match read {
            Ok(0) => return Step::Closed,
            Ok(_) => {
                if t.conn.process_new_packets().is_err() {
                    // Send the alert rustls queued, then give up.
                    let _ = t.conn.write_tls(&mut t.sock);
                    return Step::Closed;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Waiting,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Step::Closed,
        }
    }
    Step::Closed
}

/// Reads whatever input has arrived, without waiting, into the connection's pending bytes
/// (after what its buffer already held), until a whole line is there. A line longer than
/// `max` without its end is not waited for: the framer answers it, as for any long line.
fn gather(io: &mut BufReader<Metered>, max: usize) -> Step {
    let held = io.buffer().to_vec();
    io.consume(held.len());
    let m = io.get_mut();
    m.line_cap = max;
    if !held.is_empty() {
        let mut pending = held;
        pending.append(&mut m.pending);
        m.pending = pending;
    }
    if m.stream.tcp().set_nonblocking(true).is_err() {
        return Step::Closed;
    }
    let mut buf = [0u8; 4096];
    let step = loop {
        if m.pending.contains(&b'\n') || m.pending.len() > max {
            break Step::Done;
        }
        match m.stream.read(&mut buf) {
            Ok(0) => break Step::Closed,
            Ok(n) => {
                m.pending.extend_from_slice(&buf[..n]);
                m.traffic.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Step::Waiting,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break Step::Closed,
        }
    };
    if m.stream.tcp().set_nonblocking(false).is_err() {
        return Step::Closed;
    }
    step
}

/// Continues a parked connection after `wake`.
pub(crate) fn resume(
    mut parked: Box<Parked>,
    wake: Wake,
    tls: &RwLock<Arc<rustls::ServerConfig>>,
    resources: &mut WorkerResources,
    shutdown: &Shutdown,
) -> Outcome {
    let peer = parked.peer;
    let _on_worker = OnWorker::new(shutdown, parked.session.id(), parked.tcp());
    if let Waiting::PreLogin { .. } = parked.waiting {
        let bye: &[u8] = match wake {
            Wake::Input => return advance_prelogin(parked, tls, resources),
            Wake::Changed | Wake::Keepalive => return Outcome::Park(parked),
            Wake::Autologout => b"* BYE Login timeout: log in sooner after connecting\r\n",
            Wake::Shutdown => b"* BYE Server shutting down\r\n",
        };
        // A BYE only where it can be read: not in the middle of a TLS handshake.
        if parked.greeted && !parked.io.get_ref().stream.is_handshaking() {
            let w = parked.io.get_mut();
            let _ = w.write_all(bye).and_then(|_| w.flush());
        }
        log::info!("{}", parked.session.summary());
        return Outcome::Closed;
    }
    let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parked.session.resume_idle(&mut parked.io, resources, wake)
    }));
    match step {
        Ok(IdleStep::Park) => {
            if wake == Wake::Keepalive {
                parked.keepalive_at = Instant::now() + IDLE_KEEPALIVE;
            }
            Outcome::Park(parked)
        }
        Ok(IdleStep::Serve) => {
            let Parked {
                session, io, slot, ..
            } = *parked;
            drive(session, io, peer, slot, tls, resources)
        }
        Ok(IdleStep::Closed) => {
            log::info!("{}", parked.session.summary());
            Outcome::Closed
        }
        Err(_) => {
            server_bug(&mut parked.io, peer, resources);
            Outcome::Closed
        }
    }
}

/// While alive, session `id`'s socket is in the server's table of sessions on workers, so that
/// shutdown and kick can interrupt a blocked read.
struct OnWorker<'a> {
    shutdown: &'a Shutdown,
    id: u64,
}

impl<'a> OnWorker<'a> {
    fn new(shutdown: &'a Shutdown, id: u64, tcp: &TcpStream) -> OnWorker<'a> {
        shutdown.connections.register(id, tcp);
        OnWorker { shutdown, id }
    }
}

impl Drop for OnWorker<'_> {
    fn drop(&mut self) {
        self.shutdown.connections.unregister(self.id);
    }
}

/// Runs commands until the session ends or idles, upgrading to TLS on STARTTLS.
fn drive(
    mut session: Session,
    mut io: BufReader<Metered>,
    peer: SocketAddr,
    slot: super::AddressSlot,
    tls: &RwLock<Arc<rustls::ServerConfig>>,
    resources: &mut WorkerResources,
) -> Outcome {
    loop {
        let exit = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            session.serve(&mut io, resources)
        }));
        match exit {
            Ok(Exit::Closed) => {
                log::info!("{}", session.summary());
                return Outcome::Closed;
            }
            Ok(Exit::Idle) => {
                let now = Instant::now();
                return Outcome::Park(Box::new(Parked {
                    mailbox: session.selected_mailbox(),
                    session,
                    io,
                    peer,
                    idle_since: now,
                    keepalive_at: now + IDLE_KEEPALIVE,
                    slot,
                    waiting: Waiting::Idle,
                    greeted: true,
                }));
            }
            Ok(Exit::AwaitLine) => {
                let max = session.context.limits.line_before_login;
                match gather(&mut io, max) {
                    Step::Done => {}
                    Step::Closed => {
                        log::info!("{}", session.summary());
                        return Outcome::Closed;
                    }
                    Step::Waiting => {
                        let deadline = session.started() + session.context.limits.prelogin_timeout;
                        return Outcome::Park(Parked::prelogin(session, io, peer, slot, deadline));
                    }
                }
            }
            Ok(Exit::Compress) => {
                // RFC 4978 §3: compression starts right after the OK; whatever the client sent
                // after COMPRESS is already compressed, so it is handed on, not discarded.
                let mut pending = io.buffer().to_vec();
                let Metered {
                    stream,
                    traffic,
                    pending: unread,
                    ..
                } = io.into_inner();
                pending.extend_from_slice(&unread);
                let stream =
                    Stream::Deflated(Box::new(super::deflate::Deflated::new(stream, pending)));
                io = BufReader::with_capacity(READ_BUFFER, Metered::new(stream, traffic));
            }
            Ok(Exit::StartTls) => {
                // RFC 3501 §6.2.1 / RFC 2595 §3.1: whatever the client sent after STARTTLS and
                // before the handshake is discarded, never read as a command.
                let buffered = io.buffer().len() + io.get_ref().pending.len();
                if buffered > 0 {
                    log::warn!("{peer}: {buffered} byte(s) pipelined after STARTTLS discarded");
                }
                let Metered {
                    stream: Stream::Plain(sock),
                    traffic,
                    ..
                } = io.into_inner()
                else {
                    return Outcome::Closed;
                };
                match tls_stream(sock, tls) {
                    Ok(t) => {
                        let stream = Stream::Tls(Box::new(t));
                        io = BufReader::with_capacity(READ_BUFFER, Metered::new(stream, traffic));
                        session.tls_established();
                    }
                    Err(e) => {
                        log::warn!("{peer}: cannot start TLS: {e}");
                        return Outcome::Closed;
                    }
                }
                // The handshake runs as far as the client's input allows, then waits in the
                // reactor like any pre-login input.
                match handshake_step(io.get_mut()) {
                    Step::Done => {}
                    Step::Closed => {
                        log::debug!("{peer}: STARTTLS handshake failed or abandoned");
                        return Outcome::Closed;
                    }
                    Step::Waiting => {
                        let limits = session.context.limits;
                        let deadline = (session.started() + limits.prelogin_timeout)
                            .min(Instant::now() + limits.tls_handshake_timeout);
                        return Outcome::Park(Parked::prelogin(session, io, peer, slot, deadline));
                    }
                }
            }
            Err(_) => {
                server_bug(&mut io, peer, resources);
                return Outcome::Closed;
            }
        }
    }
}

/// After a panic in a session: tell the client, and start the worker's resources afresh.
fn server_bug(io: &mut BufReader<Metered>, peer: SocketAddr, resources: &mut WorkerResources) {
    log::error!("{peer}: session panicked; sending BYE [SERVERBUG]");
    let _ = io
        .get_mut()
        .write_all(b"* BYE [SERVERBUG] Internal error; the session is closed\r\n");
    let _ = io.get_mut().flush();
    resources.reset();
}

/// A TLS server stream over `sock` with the current configuration, its handshake not begun:
/// [`handshake_step`] runs it without ever waiting for the client on a worker.
fn tls_stream(
    sock: Sock,
    tls: &RwLock<Arc<rustls::ServerConfig>>,
) -> io::Result<StreamOwned<ServerConnection, Sock>> {
    let config = tls
        .read()
        .map_err(|_| io::Error::other("TLS configuration lock poisoned"))?
        .clone();
    let conn = ServerConnection::new(config).map_err(io::Error::other)?;
    Ok(StreamOwned::new(conn, sock))
}
