//! What a session needs from outside the protocol: the archive, the policies, a stop flag, and a
//! byte stream. Described as values and a trait so that the IMAP layer knows no sockets.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::archive::Archive;
use crate::auth::LoginFailures;
use crate::config::FlagPolicy;
use crate::imap::window::{Clock, SyncWindow, SystemClock};
use crate::index::{Index, IndexError};
use crate::limits::Limits;
use crate::store::BlobStore;

/// A bidirectional byte stream a session runs over. The server implements it for TCP and TLS;
/// tests implement it over memory. Timeouts are a property of the stream, set by the session as
/// its state changes (short before login, long after).
pub trait Transport: Read + Write {
    /// After `timeout` without input, reads fail with `WouldBlock` or `TimedOut`.
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()>;

    /// After `deadline`, reads fail with `TimedOut` however the input trickles in (a read
    /// timeout alone restarts with every byte); `None` lifts it. A stream with no clock of its
    /// own (memory, in tests) may ignore it.
    fn set_deadline(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        let _ = deadline;
        Ok(())
    }

    /// Whether input already received can be read without waiting for the network (e.g.
    /// decrypted TLS data held by the TLS layer). A session may only be parked for IDLE when
    /// this is false and its own buffer is empty, or a pipelined `DONE` would never be seen.
    fn has_buffered_input(&mut self) -> bool;

    /// Whether a whole line of input is waiting beyond the session's own buffer: `Some(false)`
    /// makes a session that is not logged in return [`Exit::AwaitLine`] instead of blocking in
    /// a read (the server then waits for the line without holding a worker). `None` (the
    /// default) when the stream cannot tell: the session just reads.
    fn line_ready(&mut self) -> Option<bool> {
        None
    }
}

/// Whether the bytes of this connection are encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelSecurity {
    /// Plain text (the STARTTLS port before STARTTLS): login is refused (RFC 3501 §6.2.3,
    /// RFC 8314 §3: no plain-text passwords).
    Plain,
    /// TLS (implicit, or after STARTTLS).
    Tls,
}

/// Why [`crate::imap::Session::serve`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The session is over (LOGOUT, BYE, end of stream, I/O error); close the connection.
    Closed,
    /// The client sent STARTTLS and got OK: run the TLS handshake, then call `serve` again.
    StartTls,
    /// The client sent COMPRESS DEFLATE and got OK: deflate the stream both ways (RFC 4978),
    /// keeping any input already buffered, then call `serve` again.
    Compress,
    /// Not logged in, and no whole command line has arrived: wait for the rest of it without
    /// holding a thread, then call `serve` again (issue 6: slowloris).
    AwaitLine,
    /// The client is in IDLE (RFC 2177) and nothing of its input is buffered: park the
    /// connection until it writes or something happens, then call `resume_idle`.
    Idle,
}

/// Why a parked IDLE session is woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The client sent something (normally `DONE`).
    Input,
    /// Something changed in the archive that this session may need to hear about.
    Changed,
    /// Time for the keepalive line (NAT boxes drop silent connections).
    Keepalive,
    /// The session has idled past the autologout limit.
    Autologout,
    /// The server is stopping.
    Shutdown,
}

/// What to do after [`crate::imap::Session::resume_idle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleStep {
    /// Still idling: park the connection again.
    Park,
    /// IDLE is over: call `serve` again.
    Serve,
    /// The session is over.
    Closed,
}

/// Everything sessions share, built once at start-up.
pub struct SessionContext {
    pub(crate) archive_dir: PathBuf,
    pub(crate) store: Arc<BlobStore>,
    pub(crate) flags: FlagPolicy,
    /// `[archive] sync_days`: which messages clients see.
    pub(crate) window: SyncWindow,
    /// What time it is, for the window (a [`crate::imap::window::ManualClock`] in tests).
    pub(crate) clock: Arc<dyn Clock>,
    /// Set when the server is stopping: a session that sees its input end says `* BYE`.
    pub stopping: Arc<AtomicBool>,
    /// The live sessions, for `imapvault sessions` and `kick`.
    pub sessions: crate::imap::registry::Registry,
    /// The configured limits (`[limits]`), see [`crate::limits`].
    pub limits: Limits,
    /// Failed logins per address and per user, for the escalating pause.
    pub login_failures: LoginFailures,
}

impl SessionContext {
    /// The context for serving `archive`.
    pub fn new(archive: &Archive, flags: FlagPolicy) -> SessionContext {
        SessionContext {
            archive_dir: archive.dir().to_owned(),
            store: archive.store().clone(),
            flags,
            window: SyncWindow::All,
            clock: Arc::new(SystemClock),
            stopping: Arc::new(AtomicBool::new(false)),
            sessions: crate::imap::registry::Registry::default(),
            limits: Limits::DEFAULT,
            login_failures: LoginFailures::default(),
        }
    }

    /// Uses `limits` instead of the defaults (the config file's `[limits]`).
    pub fn with_limits(mut self, limits: Limits) -> SessionContext {
        self.limits = limits;
        self
    }

    /// Shares `flag` as the stop flag: a server's [`crate::server::Server::stop_flag`], so that
    /// sessions say `* BYE` when that server stops.
    pub fn stopped_by(mut self, flag: Arc<AtomicBool>) -> SessionContext {
        self.stopping = flag;
        self
    }

    /// Shows clients only the messages of `window` (`[archive] sync_days`).
    pub fn with_window(mut self, window: SyncWindow) -> SessionContext {
        self.window = window;
        self
    }

    /// Reads "now" from `clock` instead of the system clock (tests move a manual clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> SessionContext {
        self.clock = clock;
        self
    }

    /// The sync window.
    pub fn window(&self) -> SyncWindow {
        self.window
    }

    /// Now, by this context's clock (Unix seconds).
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The oldest internal date visible now, or `None` when every message is.
    pub fn window_edge(&self) -> Option<i64> {
        self.window.edge(self.clock.now())
    }

    /// Whether the server is stopping.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// Per-thread resources a worker keeps across the sessions it serves: its own index connection
/// (DESIGN §6: one SQLite connection per worker, never shared; a large search also opens a
/// second, which only this worker's helper thread borrows, see `Index::in_two`).
#[derive(Default)]
pub struct WorkerResources {
    index: Option<Index>,
}

impl WorkerResources {
    /// The worker's index connection, opened on first use.
    pub fn index(&mut self, context: &SessionContext) -> Result<&mut Index, IndexError> {
        if self.index.is_none() {
            self.index = Some(Archive::open_index_at(&context.archive_dir)?);
        }
        // Just filled when empty; `get_or_insert` cannot carry the error.
        Ok(self.index.as_mut().expect("index opened above"))
    }

    /// Drops everything (after a panic), so the next session starts clean.
    pub fn reset(&mut self) {
        self.index = None;
    }
}
