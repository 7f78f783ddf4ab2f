//! Sockets and threads: the mio acceptor, the fixed worker pool and the bounded queue between them.
//!
//! Owns: listening, accepting, TLS handshakes, socket options and timeouts, shutdown. It knows no
//! IMAP syntax: each worker hands its connection to [`crate::imap::Session`] (DESIGN §2).
//!
//! ```text
//!  main: mio Poll ── accept ──► bounded crossbeam channel ──► N workers (fixed)
//!        listeners, Waker           full? ──► refuser thread: * BYE [UNAVAILABLE]
//! ```

pub mod connection;
pub mod tls;

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use std::sync::{Arc, Mutex, RwLock};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::imap::SessionContext;

/// Errors that stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("event loop failed: {0}")]
    Poll(io::Error),
    #[error("cannot start a worker thread: {0}")]
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
}

impl Shutdown {
    /// Stops accepting, and ends every session: each gets `* BYE` at its next read.
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
        self.connections.interrupt_all();
        if let Err(e) = self.waker.wake() {
            log::error!("cannot wake the acceptor to stop it: {e}");
        }
    }

    /// Whether a stop was requested.
    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }
}

/// The sockets of live sessions, so that shutdown can interrupt their blocking reads.
#[derive(Default)]
pub(crate) struct Connections {
    next_id: AtomicU64,
    live: Mutex<HashMap<u64, TcpStream>>,
}

impl Connections {
    fn register(&self, stream: &TcpStream) -> Option<u64> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let clone = stream.try_clone().ok()?;
        self.live.lock().ok()?.insert(id, clone);
        Some(id)
    }

    fn unregister(&self, id: u64) {
        if let Ok(mut live) = self.live.lock() {
            live.remove(&id);
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

/// One accepted connection waiting for a worker.
struct Job {
    stream: TcpStream,
    peer: SocketAddr,
    security: Security,
}

const WAKER: Token = Token(usize::MAX);

/// The bound listeners, ready to run. Binding is separate from running so that the caller can
/// print the addresses (the demo) and, later, drop privileges between the two.
pub struct Server {
    poll: Poll,
    listeners: Vec<(TcpListener, Security)>,
    settings: ServerSettings,
    context: Arc<SessionContext>,
    shutdown: Shutdown,
}

impl Server {
    /// Binds every listener.
    pub fn bind(
        settings: ServerSettings,
        context: Arc<SessionContext>,
    ) -> Result<Server, ServerError> {
        let stopping = context.stopping.clone();
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
        Ok(Server {
            poll,
            listeners,
            settings,
            context,
            shutdown: Shutdown {
                requested: stopping,
                waker,
                connections: Arc::new(Connections::default()),
            },
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

    /// Accepts connections until a stop is requested, then waits for the sessions to end.
    pub fn run(mut self) -> Result<(), ServerError> {
        let context = self.context.clone();
        let (jobs, queue) = bounded::<Job>(self.settings.queue);
        let (refusals, refused) = bounded::<Job>(REFUSER_QUEUE);
        let mut workers = Vec::with_capacity(self.settings.workers);
        for n in 0..self.settings.workers {
            let queue = queue.clone();
            let worker = Worker {
                context: context.clone(),
                tls: self.settings.tls.clone(),
                shutdown: self.shutdown.clone(),
            };
            let handle = thread::Builder::new()
                .name(format!("worker-{n}"))
                .stack_size(WORKER_STACK)
                .spawn(move || worker.run(queue))
                .map_err(ServerError::Spawn)?;
            workers.push(handle);
        }
        drop(queue);
        let refuser_tls = self.settings.tls.clone();
        let refuser = thread::Builder::new()
            .name("refuser".into())
            .spawn(move || refuse_connections(refused, refuser_tls))
            .map_err(ServerError::Spawn)?;

        let result = self.accept_loop(&jobs, &refusals);
        drop(jobs);
        drop(refusals);
        log::info!("stopped accepting; waiting for {} worker(s)", workers.len());
        for w in workers {
            let _ = w.join();
        }
        let _ = refuser.join();
        result
    }

    fn accept_loop(
        &mut self,
        jobs: &Sender<Job>,
        refusals: &Sender<Job>,
    ) -> Result<(), ServerError> {
        let mut events = Events::with_capacity(128);
        loop {
            if self.shutdown.is_requested() {
                return Ok(());
            }
            match self.poll.poll(&mut events, None) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ServerError::Poll(e)),
            }
            for event in events.iter() {
                if event.token() == WAKER {
                    continue;
                }
                let Some((listener, security)) = self.listeners.get(event.token().0) else {
                    continue;
                };
                // Edge-triggered: accept until WouldBlock (DESIGN §6).
                loop {
                    match listener.accept() {
                        Ok((stream, peer)) => {
                            dispatch(stream, peer, *security, jobs, refusals);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            // EMFILE and friends: log, back off briefly so the loop does not
                            // spin, and keep serving the sessions that exist.
                            log::warn!("accept failed: {e}");
                            thread::sleep(Duration::from_millis(50));
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// Stack of a worker thread: sessions recurse only to capped depths.
const WORKER_STACK: usize = 1024 * 1024;
/// Connections waiting to be told `* BYE [UNAVAILABLE]`; beyond that they are just closed.
const REFUSER_QUEUE: usize = 64;
/// How long a refused TLS client gets to finish its handshake and read the BYE.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(5);
const BUSY_BYE: &[u8] = b"* BYE [UNAVAILABLE] Server busy, try again later\r\n";

fn dispatch(
    stream: mio::net::TcpStream,
    peer: SocketAddr,
    security: Security,
    jobs: &Sender<Job>,
    refusals: &Sender<Job>,
) {
    // SAFETY-free conversion: mio's stream owns the fd; std's takes it over.
    let stream: TcpStream = stream.into();
    // Accepted sockets are non-blocking; workers use blocking I/O with timeouts (DESIGN §6).
    if let Err(e) = stream.set_nonblocking(false) {
        log::warn!("{peer}: cannot make the socket blocking: {e}");
        return;
    }
    let _ = stream.set_nodelay(true);
    let job = Job {
        stream,
        peer,
        security,
    };
    match jobs.try_send(job) {
        Ok(()) => {}
        Err(TrySendError::Full(job)) => {
            log::warn!("{peer}: all workers busy and the queue is full; refusing");
            match job.security {
                // No handshake needed: say BYE from here, never blocking the acceptor.
                Security::StartTls => {
                    let _ = job.stream.set_nonblocking(true);
                    let _ = (&job.stream).write(BUSY_BYE);
                }
                Security::ImplicitTls => {
                    if refusals.try_send(job).is_err() {
                        log::warn!("{peer}: refuser queue full too; closing without BYE");
                    }
                }
            }
        }
        Err(TrySendError::Disconnected(_)) => {}
    }
}

/// Says `* BYE [UNAVAILABLE]` over TLS to connections that found the pool full.
fn refuse_connections(refused: Receiver<Job>, tls: Arc<RwLock<Arc<rustls::ServerConfig>>>) {
    for job in refused {
        let _ = job.stream.set_read_timeout(Some(REFUSAL_DEADLINE));
        let _ = job.stream.set_write_timeout(Some(REFUSAL_DEADLINE));
        let config = match tls.read() {
            Ok(c) => c.clone(),
            Err(_) => continue,
        };
        let Ok(conn) = rustls::ServerConnection::new(config) else {
            continue;
        };
        let mut tls = rustls::StreamOwned::new(conn, job.stream);
        let _ = tls.write_all(BUSY_BYE).and_then(|_| tls.flush());
        tls.conn.send_close_notify();
        let _ = tls.flush();
    }
}

/// One thread of the pool: takes connections off the queue and serves them one at a time.
struct Worker {
    context: Arc<SessionContext>,
    tls: Arc<RwLock<Arc<rustls::ServerConfig>>>,
    shutdown: Shutdown,
}

impl Worker {
    fn run(self, queue: Receiver<Job>) {
        // Each worker keeps its own index connection across sessions (DESIGN §6: one SQLite
        // connection per worker), opened on first use.
        let mut resources = crate::imap::WorkerResources::default();
        for job in queue {
            let Some(id) = self.shutdown.connections.register(&job.stream) else {
                continue;
            };
            let peer = job.peer;
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                connection::serve(
                    job.stream,
                    job.peer,
                    job.security,
                    &self.tls,
                    &self.context,
                    &mut resources,
                    &self.shutdown,
                )
            }));
            self.shutdown.connections.unregister(id);
            if outcome.is_err() {
                // The session's state is gone with the panic; the worker and its index
                // connection are rebuilt clean for the next client.
                log::error!("{peer}: session panicked; connection closed");
                resources = crate::imap::WorkerResources::default();
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
    #[error("cannot install the signal handler: {0}")]
    Signal(String),
    #[error("archive.mode = \"journal\" is not available in this version; use \"mailbox\"")]
    JournalMode,
}

/// Runs the server that `config` describes until SIGINT or SIGTERM.
pub fn run_configured(config: &crate::config::Config) -> Result<(), StartError> {
    if config.archive.mode == crate::config::ArchiveMode::Journal {
        return Err(StartError::JournalMode);
    }
    let tls = tls::load_server_config(&config.tls.cert, &config.tls.key)?;
    let archive = crate::archive::Archive::open(&config.archive.dir)?;
    let context = Arc::new(SessionContext::new(&archive, config.archive.flags));
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
    let server = Server::bind(
        ServerSettings {
            listeners,
            workers: config.server.workers,
            queue: config.server.queue,
            tls: Arc::new(RwLock::new(tls)),
        },
        context,
    )?;
    for (addr, security) in server.local_addrs() {
        log::info!("listening on {addr} ({security:?})");
    }
    run_until_signalled(server)
}

/// Runs a bound server, stopping it cleanly on SIGINT or SIGTERM (every session gets `* BYE`).
pub fn run_until_signalled(server: Server) -> Result<(), StartError> {
    let handle = server.shutdown_handle();
    ctrlc::set_handler(move || {
        log::info!("stop requested; ending sessions");
        handle.request();
    })
    .map_err(|e| StartError::Signal(e.to_string()))?;
    server.run()?;
    log::info!("stopped");
    Ok(())
}
