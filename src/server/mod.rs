//! Sockets and threads: the mio reactor, the fixed worker pool and the bounded queue between
//! them, and the parking of idle sessions.
//!
//! Owns: listening, accepting, TLS handshakes, socket options and timeouts, parked IDLE
//! connections, change notification, shutdown. It knows no IMAP syntax: each worker hands its
//! connection to [`crate::imap::Session`] (DESIGN §2).
//!
//! ```text
//!  reactor: mio Poll ── accept ──► bounded queue ──► N workers (fixed) ── IDLE ──┐
//!     ▲  listeners, Waker          full? ──► refuser: * BYE [UNAVAILABLE]       │
//!     │  parked sockets readable / changed / keepalive / window edge ──► resume queue ──► workers
//!     └──────────────── park (socket registered with the reactor) ◄───────────────┘
//!  watcher: SQLite data_version ──► changed mailboxes ──► reactor wakes their idlers
//! ```

pub mod connection;
pub mod control;
pub mod deflate;
pub mod privileges;
pub mod tls;

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, never, select, unbounded, Receiver, Sender, TrySendError};
use mio::net::TcpListener;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::imap::{SessionContext, Wake, WorkerResources};
use crate::index::MailboxId;
use crate::limits::{Limits, REFUSAL_DEADLINE, REFUSER_QUEUE};
use connection::{Outcome, Parked, Waiting};

/// Errors that stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("event loop failed: {0}")]
    Poll(io::Error),
    #[error("cannot start a thread: {0}")]
    Spawn(io::Error),
}

/// How a listener's connections are secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (port 993, RFC 8314).
    ImplicitTls,
    /// Plain text until the client sends STARTTLS; login is refused before that.
    StartTls,
}

/// What the server needs to run: where to listen, how many workers, and the TLS configuration.
pub struct ServerSettings {
    pub listeners: Vec<(SocketAddr, Security)>,
    pub workers: usize,
    pub queue: usize,
    pub tls: Arc<RwLock<Arc<rustls::ServerConfig>>>,
}

/// A handle to ask a running server to stop, usable from a signal handler thread.
#[derive(Clone)]
pub struct Shutdown {
    requested: Arc<AtomicBool>,
    waker: Arc<Waker>,
    connections: Arc<Connections>,
    parking: Arc<Parking>,
}

impl Shutdown {
    /// Stops accepting, and ends every session: each gets `* BYE` at its next read, and every
    /// parked one at once.
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
        self.connections.interrupt_all();
        if let Err(e) = self.waker.wake() {
            log::error!("cannot wake the reactor to stop it: {e}");
        }
    }

    /// Interrupts session `id` (`imapvault kick`): its blocked read, or its parked socket, sees
    /// end of input, and the session says why in its BYE. Both tables own the socket they
    /// shut, so a descriptor number can never be reused under us.
    pub(crate) fn interrupt_session(&self, id: u64) {
        self.connections.interrupt(id);
        self.parking.interrupt(id);
    }

    /// Whether a stop was requested.
    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }
}

/// The sockets of sessions running on workers, so that shutdown can interrupt their reads.
/// Keyed by session id; only sessions on a worker are here (parked ones are in [`Parking`]),
/// so it holds at most one extra descriptor per worker.
#[derive(Default)]
pub(crate) struct Connections {
    live: Mutex<HashMap<u64, TcpStream>>,
}

impl Connections {
    /// Keeps a clone of session `id`'s socket while a worker serves it.
    fn register(&self, id: u64, stream: &TcpStream) {
        if let (Ok(clone), Ok(mut live)) = (stream.try_clone(), self.live.lock()) {
            live.insert(id, clone);
        }
    }

    fn unregister(&self, id: u64) {
        if let Ok(mut live) = self.live.lock() {
            live.remove(&id);
        }
    }

    /// Shuts the read half of session `id`'s socket, if a worker is serving it.
    fn interrupt(&self, id: u64) {
        if let Ok(live) = self.live.lock() {
            if let Some(stream) = live.get(&id) {
                let _ = stream.shutdown(std::net::Shutdown::Read);
            }
        }
    }

    /// Shuts the read half of every live socket: a worker blocked in `read` sees end of file,
    /// notices the stop request and says `* BYE` (the write half stays open for that).
    fn interrupt_all(&self) {
        if let Ok(live) = self.live.lock() {
            for stream in live.values() {
                let _ = stream.shutdown(std::net::Shutdown::Read);
            }
        }
    }
}

/// Idle connections, owned by this table while no worker has them (DESIGN §2: an IDLE session
/// does not pin a worker).
struct Parking {
    table: Mutex<HashMap<usize, Box<Parked>>>,
    next: AtomicUsize,
    registry: Registry,
}

impl Parking {
    /// Hands `parked` to the reactor: it is woken when its socket is readable, its mailbox
    /// changes, or a timer fires. Returns it back when it cannot be parked (stopping, or the
    /// registration failed), for the caller to finish.
    fn park(&self, parked: Box<Parked>, shutdown: &Shutdown) -> Option<(Box<Parked>, Wake)> {
        let token = PARK_BASE + self.next.fetch_add(1, Ordering::Relaxed) % (usize::MAX / 2);
        let fd = parked.fd();
        self.table.lock().ok()?.insert(token, parked);
        // Registered after it is in the table, so the reactor finds it when the event comes
        // (a socket already readable is reported at once).
        let registered =
            self.registry
                .register(&mut SourceFd(&fd), Token(token), Interest::READABLE);
        // A stop requested meanwhile: the reactor may already have emptied the table, so finish
        // this one here if it is still ours.
        let wake = match registered {
            Err(e) => {
                log::warn!("cannot park an idle session: {e}");
                Wake::Shutdown
            }
            Ok(()) if shutdown.is_requested() => Wake::Shutdown,
            Ok(()) => return None,
        };
        let parked = self.table.lock().ok()?.remove(&token)?;
        let _ = self.registry.deregister(&mut SourceFd(&fd));
        Some((parked, wake))
    }

    /// Shuts the read half of parked session `id`'s socket: it becomes readable (end of input),
    /// and the reactor resumes it.
    fn interrupt(&self, id: u64) {
        if let Ok(table) = self.table.lock() {
            for p in table.values().filter(|p| p.session.id() == id) {
                let _ = p.tcp().shutdown(std::net::Shutdown::Read);
            }
        }
    }

    /// Takes the parked connections `pick` selects out of the table, unregistered.
    // Boxed because they travel on to workers through a channel: a pointer, not the whole state.
    #[allow(clippy::vec_box)]
    fn take(&self, mut pick: impl FnMut(usize, &Parked) -> bool) -> Vec<Box<Parked>> {
        let Ok(mut table) = self.table.lock() else {
            return Vec::new();
        };
        let tokens: Vec<usize> = table
            .iter()
            .filter(|(t, p)| pick(**t, p))
            .map(|(t, _)| *t)
            .collect();
        tokens
            .into_iter()
            .filter_map(|t| table.remove(&t))
            .inspect(|p| {
                let _ = self.registry.deregister(&mut SourceFd(&p.fd()));
            })
            .collect()
    }
}

/// Open connections per client address (issue 6: connections per IP), parked IDLE ones
/// included: each connection holds an [`AddressSlot`] from accept to close.
#[derive(Default)]
struct AddressCounts {
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl AddressCounts {
    /// A place for one more connection from `ip`, unless it already has `max`.
    fn claim(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        // An IPv4 client on an IPv6 socket (`::ffff:a.b.c.d`) counts as its IPv4 address.
        let ip = ip.to_canonical();
        let mut open = self.open.lock().ok()?;
        let count = open.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            counts: self.clone(),
            ip,
        })
    }
}

/// One connection's place in [`AddressCounts`]; given back when dropped (the connection is
/// closed).
pub struct AddressSlot {
    counts: Arc<AddressCounts>,
    ip: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.counts.open.lock() {
            if let Some(count) = open.get_mut(&self.ip) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.remove(&self.ip);
                }
            }
        }
    }
}

/// One accepted connection waiting for a worker.
struct Job {
    stream: TcpStream,
    peer: SocketAddr,
    slot: AddressSlot,
    security: Security,
}

/// A connection to turn away, and what to tell it.
struct Refusal {
    stream: TcpStream,
    peer: SocketAddr,
    security: Security,
    bye: &'static [u8],
}

/// A parked connection going back to a worker, and why.
type Resume = (Box<Parked>, Wake);

const WAKER: Token = Token(usize::MAX);
/// Tokens of parked connections start here; listeners use the small ones.
const PARK_BASE: usize = 1 << 20;
/// How often the reactor looks for due keepalives and autologouts.
const TIMER_TICK: Duration = Duration::from_secs(1);
/// How often the watcher asks SQLite whether anything was committed (DESIGN §8: push within
/// 100 ms at p99).
const WATCH_INTERVAL: Duration = Duration::from_millis(20);

/// The bound listeners, ready to run. Binding is separate from running so that the caller can
/// print the addresses (the demo) and, later, drop privileges between the two.
pub struct Server {
    poll: Poll,
    listeners: Vec<(TcpListener, Security)>,
    settings: ServerSettings,
    shutdown: Shutdown,
    parking: Arc<Parking>,
    addresses: Arc<AddressCounts>,
}

impl Server {
    /// Binds every listener. Nothing else is touched, so a server started as root can bind
    /// privileged ports and then drop its privileges before opening the archive.
    pub fn bind(settings: ServerSettings) -> Result<Server, ServerError> {
        let stopping = Arc::new(AtomicBool::new(false));
        let poll = Poll::new().map_err(ServerError::Poll)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(ServerError::Poll)?);
        let mut listeners = Vec::new();
        for (i, &(addr, security)) in settings.listeners.iter().enumerate() {
            let mut listener =
                TcpListener::bind(addr).map_err(|source| ServerError::Bind { addr, source })?;
            poll.registry()
                .register(&mut listener, Token(i), Interest::READABLE)
                .map_err(ServerError::Poll)?;
            listeners.push((listener, security));
        }
        let parking = Arc::new(Parking {
            table: Mutex::new(HashMap::new()),
            next: AtomicUsize::new(0),
            registry: poll.registry().try_clone().map_err(ServerError::Poll)?,
        });
        Ok(Server {
            poll,
            listeners,
            settings,
            shutdown: Shutdown {
                requested: stopping,
                waker,
                connections: Arc::new(Connections::default()),
                parking: parking.clone(),
            },
            parking,
            addresses: Arc::new(AddressCounts::default()),
        })
    }

    /// The addresses actually bound (port 0 in the settings becomes a real port here).
    pub fn local_addrs(&self) -> Vec<(SocketAddr, Security)> {
        self.listeners
            .iter()
            .filter_map(|(l, s)| l.local_addr().ok().map(|a| (a, *s)))
            .collect()
    }

    /// A handle that stops this server.
    pub fn shutdown_handle(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// The flag a stop request sets: give it to the [`SessionContext`] with
    /// [`SessionContext::stopped_by`], so sessions say `* BYE` when the server stops.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.shutdown.requested.clone()
    }

    /// The TLS configuration new connections use; replace what it holds to reload certificates
    /// (live sessions keep theirs).
    pub fn tls_handle(&self) -> Arc<RwLock<Arc<rustls::ServerConfig>>> {
        self.settings.tls.clone()
    }

    /// Accepts connections until a stop is requested, then waits for the sessions to end.
    pub fn run(mut self, context: Arc<SessionContext>) -> Result<(), ServerError> {
        debug_assert!(
            Arc::ptr_eq(&context.stopping, &self.shutdown.requested),
            "the session context must share the server's stop flag (SessionContext::stopped_by)"
        );
        let (jobs, queue) = bounded::<Job>(self.settings.queue);
        let (resumes, resumed) = unbounded::<Resume>();
        let (refusals, refused) = bounded::<Refusal>(REFUSER_QUEUE);
        let (changes, changed) = unbounded::<Vec<MailboxId>>();

        let mut workers = Vec::with_capacity(self.settings.workers);
        for n in 0..self.settings.workers {
            let worker = Worker {
                context: context.clone(),
                tls: self.settings.tls.clone(),
                shutdown: self.shutdown.clone(),
                parking: self.parking.clone(),
            };
            let (queue, resumed) = (queue.clone(), resumed.clone());
            let handle = thread::Builder::new()
                .name(format!("worker-{n}"))
                .stack_size(WORKER_STACK)
                .spawn(move || worker.run(queue, resumed))
                .map_err(ServerError::Spawn)?;
            workers.push(handle);
        }
        drop((queue, resumed));
        let refuser_tls = self.settings.tls.clone();
        let refuser = thread::Builder::new()
            .name("refuser".into())
            .spawn(move || refuse_connections(refused, refuser_tls))
            .map_err(ServerError::Spawn)?;
        let watcher = {
            let context = context.clone();
            let waker = self.shutdown.waker.clone();
            thread::Builder::new()
                .name("watcher".into())
                .spawn(move || watch_changes(&context, &changes, &waker))
                .map_err(ServerError::Spawn)?
        };

        let result = self.reactor(&context, &jobs, &refusals, &resumes, &changed);
        // Stopping: every parked session is woken to say BYE, then no more work is queued.
        for parked in self.parking.take(|_, _| true) {
            let _ = resumes.send((parked, Wake::Shutdown));
        }
        drop((jobs, refusals, resumes));
        log::info!("stopped accepting; waiting for {} worker(s)", workers.len());
        for w in workers {
            let _ = w.join();
        }
        let _ = refuser.join();
        let _ = watcher.join();
        result
    }

    /// The event loop: accepts, resumes parked connections, runs the idle timers.
    fn reactor(
        &mut self,
        context: &SessionContext,
        jobs: &Sender<Job>,
        refusals: &Sender<Refusal>,
        resumes: &Sender<Resume>,
        changed: &Receiver<Vec<MailboxId>>,
    ) -> Result<(), ServerError> {
        let limits = &context.limits;
        let mut events = Events::with_capacity(1024);
        let mut next_tick = Instant::now() + TIMER_TICK;
        // Listeners whose last accept failed with connections still pending.
        let mut stalled: HashSet<usize> = HashSet::new();
        loop {
            if self.shutdown.is_requested() {
                return Ok(());
            }
            let timeout = next_tick.saturating_duration_since(Instant::now());
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ServerError::Poll(e)),
            }
            let mut readable: HashSet<usize> = HashSet::new();
            for event in events.iter() {
                match event.token() {
                    WAKER => {}
                    Token(t) if t >= PARK_BASE => {
                        readable.insert(t);
                    }
                    Token(i) => {
                        if !self.accept(i, limits, jobs, refusals) {
                            stalled.insert(i);
                        }
                    }
                }
            }
            if !readable.is_empty() {
                for parked in self.parking.take(|t, _| readable.contains(&t)) {
                    let _ = resumes.send((parked, Wake::Input));
                }
            }
            let mut mailboxes: HashSet<MailboxId> = HashSet::new();
            while let Ok(batch) = changed.try_recv() {
                mailboxes.extend(batch);
            }
            if !mailboxes.is_empty() {
                let woken = self
                    .parking
                    .take(|_, p| p.mailbox.is_some_and(|m| mailboxes.contains(&m)));
                for parked in woken {
                    let _ = resumes.send((parked, Wake::Changed));
                }
            }
            let now = Instant::now();
            if now >= next_tick {
                next_tick = now + TIMER_TICK;
                stalled.retain(|&i| !self.accept(i, limits, jobs, refusals));
                // RFC 9051 §5.4: the same autologout as outside IDLE (clients re-issue IDLE
                // every 29 minutes, RFC 2177 §3).
                let autologout = limits.autologout;
                let due = self.parking.take(|_, p| match p.waiting {
                    Waiting::Idle => {
                        now >= p.keepalive_at || now.duration_since(p.idle_since) >= autologout
                    }
                    Waiting::PreLogin { deadline } => now >= deadline,
                });
                for parked in due {
                    let wake = match parked.waiting {
                        Waiting::PreLogin { .. } => Wake::Autologout,
                        Waiting::Idle if now.duration_since(parked.idle_since) >= autologout => {
                            Wake::Autologout
                        }
                        Waiting::Idle => Wake::Keepalive,
                    };
                    let _ = resumes.send((parked, wake));
                }
                // Sync window (issue 5): a message of an idler's mailbox reached the window's
                // edge, so the idler must hear its EXPUNGE now, not at its next command. The
                // edge is read from the sessions' clock, which tests move by days.
                let clock = context.now();
                let leaving = self
                    .parking
                    .take(|_, p| p.session.next_departure().is_some_and(|at| at <= clock));
                for parked in leaving {
                    let _ = resumes.send((parked, Wake::Changed));
                }
            }
        }
    }

    /// Accepts everything pending on listener `i` (edge-triggered: until WouldBlock). Returns
    /// false when accepting failed with connections left pending (EMFILE and friends): the
    /// listener gets no new readiness event for them, so the reactor must try again.
    fn accept(
        &self,
        i: usize,
        limits: &Limits,
        jobs: &Sender<Job>,
        refusals: &Sender<Refusal>,
    ) -> bool {
        let Some((listener, security)) = self.listeners.get(i) else {
            return true;
        };
        loop {
            match listener.accept() {
                Ok((stream, peer)) => {
                    let slot = self.addresses.claim(peer.ip(), limits.connections_per_ip);
                    dispatch(stream, peer, slot, *security, jobs, refusals);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of file descriptors (or another transient failure): keep serving the
                    // sessions that exist; the waiting connections are retried at each tick,
                    // as sessions end and free descriptors (tests/e2e_daemon.rs).
                    log::warn!("accept failed, retrying within {TIMER_TICK:?}: {e}");
                    return false;
                }
            }
        }
    }
}

/// Polls SQLite's `data_version` and tells the reactor which mailboxes changed, so their idle
/// sessions hear of new mail at once, whoever committed it (this server or `imapvault import`).
fn watch_changes(context: &SessionContext, changes: &Sender<Vec<MailboxId>>, waker: &Waker) {
    let index = match crate::archive::Archive::open_index_at(&context.archive_dir) {
        Ok(i) => i,
        Err(e) => {
            log::error!("change watcher cannot open the index; IDLE will not push: {e}");
            return;
        }
    };
    let snapshot = |index: &crate::index::Index| -> HashMap<MailboxId, (u64, u64)> {
        index
            .mailbox_versions()
            .map(|v| {
                v.into_iter()
                    .map(|m| (m.mailbox, (m.uidnext, m.highestmodseq)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut version = index.data_version().unwrap_or(0);
    let mut known = snapshot(&index);
    while !context.is_stopping() {
        thread::sleep(WATCH_INTERVAL);
        let now = match index.data_version() {
            Ok(v) => v,
            Err(e) => {
                log::warn!("change watcher: {e}");
                continue;
            }
        };
        if now == version {
            continue;
        }
        version = now;
        let current = snapshot(&index);
        let changed: Vec<MailboxId> = current
            .iter()
            .filter(|(id, v)| known.get(id) != Some(v))
            .map(|(id, _)| *id)
            .collect();
        known = current;
        if !changed.is_empty() && changes.send(changed).is_ok() {
            let _ = waker.wake();
        }
    }
}

/// Stack of a worker thread: sessions recurse only to capped depths.
const WORKER_STACK: usize = 1024 * 1024;
const BUSY_BYE: &[u8] = b"* BYE [UNAVAILABLE] Server busy, try again later\r\n";
const ADDRESS_BYE: &[u8] = b"* BYE [UNAVAILABLE] Too many connections from your address\r\n";

/// Hands a new connection to the workers, or refuses it: too many from its address (`slot` is
/// `None`), or the pool and its queue are full. Never blocks the reactor.
fn dispatch(
    stream: mio::net::TcpStream,
    peer: SocketAddr,
    slot: Option<AddressSlot>,
    security: Security,
    jobs: &Sender<Job>,
    refusals: &Sender<Refusal>,
) {
    let stream: TcpStream = stream.into();
    // Accepted sockets are non-blocking; workers use blocking I/O with timeouts (DESIGN §6).
    if let Err(e) = stream.set_nonblocking(false) {
        log::warn!("{peer}: cannot make the socket blocking: {e}");
        return;
    }
    let _ = stream.set_nodelay(true);
    let Some(slot) = slot else {
        log::warn!("{peer}: too many connections from this address; refusing");
        refuse(
            Refusal {
                stream,
                peer,
                security,
                bye: ADDRESS_BYE,
            },
            refusals,
        );
        return;
    };
    let job = Job {
        stream,
        peer,
        slot,
        security,
    };
    match jobs.try_send(job) {
        Ok(()) => {}
        Err(TrySendError::Full(job)) => {
            log::warn!("{peer}: all workers busy and the queue is full; refusing");
            let Job {
                stream, security, ..
            } = job;
            refuse(
                Refusal {
                    stream,
                    peer,
                    security,
                    bye: BUSY_BYE,
                },
                refusals,
            );
        }
        Err(TrySendError::Disconnected(_)) => {}
    }
}

/// Says the refusal's BYE: in clear text from here on the STARTTLS port (never blocking the
/// reactor), through the refuser thread on the TLS port; closes without a word when that is
/// busy too.
fn refuse(refusal: Refusal, refusals: &Sender<Refusal>) {
    match refusal.security {
        Security::StartTls => {
            let _ = refusal.stream.set_nonblocking(true);
            let _ = (&refusal.stream).write(refusal.bye);
        }
        Security::ImplicitTls => {
            let peer = refusal.peer;
            if refusals.try_send(refusal).is_err() {
                log::warn!("{peer}: refuser queue full too; closing without BYE");
            }
        }
    }
}

/// Says `* BYE [UNAVAILABLE]` over TLS to connections that were refused. Up to
/// [`REFUSER_QUEUE`] handshakes run at once, each on a non-blocking socket within
/// [`REFUSAL_DEADLINE`]: clients trickling their handshakes (slowloris on port 993) cannot hold
/// this thread, and those beyond the queue are closed without a word by the reactor.
fn refuse_connections(refused: Receiver<Refusal>, tls: Arc<RwLock<Arc<rustls::ServerConfig>>>) {
    let mut pending: Vec<Refusing> = Vec::new();
    loop {
        if pending.is_empty() {
            match refused.recv() {
                Ok(r) => pending.extend(Refusing::start(r, &tls)),
                Err(_) => return,
            }
        }
        while pending.len() < REFUSER_QUEUE {
            match refused.try_recv() {
                Ok(r) => pending.extend(Refusing::start(r, &tls)),
                Err(_) => break,
            }
        }
        let now = Instant::now();
        pending.retain_mut(|r| now < r.deadline && r.step());
        if !pending.is_empty() {
            thread::sleep(REFUSER_POLL);
        }
    }
}

/// How often the refuser looks at its handshakes in progress.
const REFUSER_POLL: Duration = Duration::from_millis(10);

/// One refused TLS connection: handshake, BYE, close_notify, without ever blocking.
struct Refusing {
    conn: rustls::ServerConnection,
    tcp: TcpStream,
    bye: &'static [u8],
    deadline: Instant,
    said: bool,
}

impl Refusing {
    fn start(refusal: Refusal, tls: &RwLock<Arc<rustls::ServerConfig>>) -> Option<Refusing> {
        let config = tls.read().ok()?.clone();
        let conn = rustls::ServerConnection::new(config).ok()?;
        refusal.stream.set_nonblocking(true).ok()?;
        Some(Refusing {
            conn,
            tcp: refusal.stream,
            bye: refusal.bye,
            deadline: Instant::now() + REFUSAL_DEADLINE,
            said: false,
        })
    }

    /// Moves the exchange on with what the socket has; false once it is over (either way).
    fn step(&mut self) -> bool {
        loop {
            match self.conn.read_tls(&mut self.tcp) {
                Ok(0) => return false,
                Ok(_) => {
                    if self.conn.process_new_packets().is_err() {
                        // Send the alert rustls queued, then give up.
                        let _ = self.conn.write_tls(&mut self.tcp);
                        return false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return false,
            }
        }
        if !self.conn.is_handshaking() && !self.said {
            let _ = self.conn.writer().write_all(self.bye);
            self.conn.send_close_notify();
            self.said = true;
        }
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.tcp) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
        !self.said
    }
}

/// One thread of the pool: serves new connections and resumes parked ones, one at a time.
struct Worker {
    context: Arc<SessionContext>,
    tls: Arc<RwLock<Arc<rustls::ServerConfig>>>,
    shutdown: Shutdown,
    parking: Arc<Parking>,
}

impl Worker {
    fn run(self, mut queue: Receiver<Job>, mut resumed: Receiver<Resume>) {
        // Each worker keeps its own index connection across sessions (DESIGN §6: one SQLite
        // connection per worker), opened on first use.
        let mut resources = WorkerResources::default();
        let (mut queue_open, mut resumed_open) = (true, true);
        while queue_open || resumed_open {
            // A closed channel is swapped for one that never delivers, so `select` does not spin.
            select! {
                recv(resumed) -> msg => match msg {
                    Ok((parked, wake)) => self.resume(parked, wake, &mut resources),
                    Err(_) => { resumed_open = false; resumed = never(); }
                },
                recv(queue) -> msg => match msg {
                    Ok(job) => self.serve(job, &mut resources),
                    Err(_) => { queue_open = false; queue = never(); }
                },
            }
        }
    }

    fn serve(&self, job: Job, resources: &mut WorkerResources) {
        let outcome = connection::serve(
            job.stream,
            job.peer,
            job.slot,
            job.security,
            &self.tls,
            &self.context,
            resources,
            &self.shutdown,
        );
        self.finish(outcome, resources);
    }

    fn resume(&self, parked: Box<Parked>, wake: Wake, resources: &mut WorkerResources) {
        let outcome = connection::resume(parked, wake, &self.tls, resources, &self.shutdown);
        self.finish(outcome, resources);
    }

    /// Parks an idling connection; one that cannot be parked is finished here.
    fn finish(&self, mut outcome: Outcome, resources: &mut WorkerResources) {
        while let Outcome::Park(parked) = outcome {
            match self.parking.park(parked, &self.shutdown) {
                None => return,
                Some((parked, wake)) => {
                    outcome =
                        connection::resume(parked, wake, &self.tls, resources, &self.shutdown);
                }
            }
        }
    }
}

/// Errors from starting the configured server.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error(transparent)]
    Spool(#[from] crate::spool::SpoolError),
    #[error(transparent)]
    Privileges(#[from] privileges::PrivilegeError),
    #[error(transparent)]
    Control(#[from] control::ControlError),
    #[error("cannot install the signal handler: {0}")]
    Signal(String),
}

/// Runs the server that `config` describes until SIGINT or SIGTERM; SIGHUP reloads the TLS
/// certificate and key.
pub fn run_configured(config: &crate::config::Config) -> Result<(), StartError> {
    // Read what may be readable only by root (the key) and bind (ports below 1024) first...
    let tls = tls::load_server_config(&config.tls.cert, &config.tls.key)?;
    let mut listeners: Vec<(SocketAddr, Security)> = config
        .server
        .listen_tls
        .iter()
        .map(|a| (*a, Security::ImplicitTls))
        .collect();
    listeners.extend(
        config
            .server
            .listen_starttls
            .iter()
            .map(|a| (*a, Security::StartTls)),
    );
    let server = Server::bind(ServerSettings {
        listeners,
        workers: config.server.workers,
        queue: config.server.queue,
        tls: Arc::new(RwLock::new(tls)),
    })?;
    for (addr, security) in server.local_addrs() {
        log::info!("listening on {addr} ({security:?})");
    }
    // ...then become the service user before opening any file of the archive or reading any
    // client input, so everything the server creates belongs to that user.
    privileges::drop_to(
        config.server.user.as_deref(),
        config.server.group.as_deref(),
    )?;

    let archive = crate::archive::Archive::open(&config.archive.dir)?;
    // DESIGN §1: an archive's mode never changes; serving it in the other mode would show
    // nothing (journal folders stay empty) or ingest spool files of the wrong kind.
    match archive.index().recorded_mode() {
        Ok(Some(recorded)) if recorded != config.archive.mode => {
            return Err(crate::archive::ArchiveError::Index(
                crate::index::IndexError::ModeMismatch {
                    recorded,
                    configured: config.archive.mode,
                },
            )
            .into())
        }
        Ok(_) => {}
        Err(e) => return Err(crate::archive::ArchiveError::Index(e).into()),
    }
    let context = Arc::new(
        SessionContext::new(&archive, config.archive.flags)
            .with_limits(config.limits)
            .with_window(config.archive.sync_window)
            .stopped_by(server.stop_flag()),
    );
    let spool = match &config.spool_dir {
        Some(dir) => {
            let spool = crate::spool::Spool::open(
                dir,
                crate::archive::Archive::open(&config.archive.dir)?,
                config.archive.mode,
            )?;
            let stopping = server.stop_flag();
            Some(
                thread::Builder::new()
                    .name("spool".into())
                    .spawn(move || spool.run(&stopping))
                    .map_err(ServerError::Spawn)?,
            )
        }
        None => None,
    };
    let control = control::spawn(context.clone(), server.stop_flag())?;
    let (cert, key) = (config.tls.cert.clone(), config.tls.key.clone());
    let tls = server.tls_handle();
    let reload = move || reload_tls(&tls, &cert, &key);
    let result = run_until_signalled(server, context, reload);
    if let Some(spool) = spool {
        let _ = spool.join();
    }
    let _ = control.join();
    result
}

/// SIGHUP: loads the certificate and key again; new connections use them, live ones keep
/// theirs. A bad new pair keeps the old one in service and says why.
fn reload_tls(
    tls: &RwLock<Arc<rustls::ServerConfig>>,
    cert: &std::path::Path,
    key: &std::path::Path,
) {
    match tls::load_server_config(cert, key) {
        Ok(config) => match tls.write() {
            Ok(mut current) => {
                *current = config;
                log::info!(
                    "SIGHUP: reloaded the TLS certificate {} and key {}; new connections use them",
                    cert.display(),
                    key.display()
                );
            }
            Err(_) => log::error!("SIGHUP: TLS configuration lock poisoned; not reloaded"),
        },
        Err(e) => log::error!("SIGHUP: keeping the current certificate: {e}"),
    }
    // Users and passwords are read from the index at every login: nothing to reload.
}

/// Runs a bound server until SIGINT or SIGTERM (every session gets `* BYE`), calling `reload`
/// on SIGHUP.
pub fn run_until_signalled(
    server: Server,
    context: Arc<SessionContext>,
    reload: impl Fn() + Send + 'static,
) -> Result<(), StartError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| StartError::Signal(e.to_string()))?;
    let signal_handle = signals.handle();
    let shutdown = server.shutdown_handle();
    let listener = thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if signal == SIGHUP {
                    reload();
                } else {
                    log::info!("signal {signal}: stopping; every session gets BYE");
                    shutdown.request();
                }
            }
        })
        .map_err(ServerError::Spawn)?;
    let result = server.run(context);
    signal_handle.close();
    let _ = listener.join();
    result?;
    log::info!("stopped");
    Ok(())
}
