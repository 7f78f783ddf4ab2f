//! One client connection on a worker thread: TLS handshake, then the IMAP session over it, and
//! the hand-over of an idling connection to the reactor and back.
//!
//! Owns: the byte stream (plain TCP or rustls over TCP), its timeouts, the STARTTLS upgrade and
//! [`Parked`], an idle connection with its whole state. One thread owns a TLS session at a time:
//! a parked connection belongs to the reactor's table until a worker takes it (DESIGN §2).

use std::io::{self, BufReader, Read, Write};
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
}

impl Read for Metered {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
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
        self.stream.has_buffered_input()
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

/// An idling connection with everything needed to continue it on any worker.
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
}

impl Parked {
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
    let (stream, channel) = match security {
        Security::ImplicitTls => match handshake(sock, tls, limits.tls_handshake_timeout) {
            Ok(t) => (Stream::Tls(Box::new(t)), ChannelSecurity::Tls),
            Err(e) => {
                log::debug!("{peer}: TLS handshake failed: {e}");
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
    let mut io = BufReader::with_capacity(READ_BUFFER, Metered { stream, traffic });
    let greeting = session.greeting();
    if io
        .get_mut()
        .write_all(&greeting)
        .and_then(|_| io.get_mut().flush())
        .is_err()
    {
        return Outcome::Closed;
    }
    drive(session, io, peer, slot, tls, resources)
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
                }));
            }
            Ok(Exit::Compress) => {
                // RFC 4978 §3: compression starts right after the OK; whatever the client sent
                // after COMPRESS is already compressed, so it is handed on, not discarded.
                let pending = io.buffer().to_vec();
                let Metered { stream, traffic } = io.into_inner();
                let stream =
                    Stream::Deflated(Box::new(super::deflate::Deflated::new(stream, pending)));
                io = BufReader::with_capacity(READ_BUFFER, Metered { stream, traffic });
            }
            Ok(Exit::StartTls) => {
                // RFC 3501 §6.2.1 / RFC 2595 §3.1: whatever the client sent after STARTTLS and
                // before the handshake is discarded, never read as a command.
                let buffered = io.buffer().len();
                if buffered > 0 {
                    log::warn!("{peer}: {buffered} byte(s) pipelined after STARTTLS discarded");
                }
                let Metered {
                    stream: Stream::Plain(sock),
                    traffic,
                } = io.into_inner()
                else {
                    return Outcome::Closed;
                };
                let deadline = session.context.limits.tls_handshake_timeout;
                match handshake(sock, tls, deadline) {
                    Ok(t) => {
                        let stream = Stream::Tls(Box::new(t));
                        io = BufReader::with_capacity(READ_BUFFER, Metered { stream, traffic });
                        session.tls_established();
                    }
                    Err(e) => {
                        log::debug!("{peer}: STARTTLS handshake failed: {e}");
                        return Outcome::Closed;
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

/// Runs the TLS handshake, all of it within `limit` (an absolute deadline on every read, so a
/// handshake trickled byte by byte is cut off too), then lifts the deadline.
fn handshake(
    mut sock: Sock,
    tls: &RwLock<Arc<rustls::ServerConfig>>,
    limit: Duration,
) -> io::Result<StreamOwned<ServerConnection, Sock>> {
    let config = tls
        .read()
        .map_err(|_| io::Error::other("TLS configuration lock poisoned"))?
        .clone();
    let conn = ServerConnection::new(config).map_err(io::Error::other)?;
    sock.set_read_timeout(limit)?;
    sock.set_deadline(Some(Instant::now() + limit))?;
    let mut stream = StreamOwned::new(conn, sock);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    stream.sock.set_deadline(None)?;
    Ok(stream)
}
