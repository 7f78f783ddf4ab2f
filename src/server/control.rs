//! The local control socket: `imapvault sessions` lists live sessions, `imapvault kick`
//! ends some (issue 8).
//!
//! Owns: the socket `<archive dir>/control.sock` and its one-line protocol. The socket is made
//! owner-only (0600) inside the archive directory (0700), so only the service user and root
//! can open it.
//!
//! ```text
//! client: sessions\n            server: one line per session (tab-separated), then end of stream
//! client: kick <id|user>\n      server: kicked <n>\n
//! ```

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime};

use crate::imap::SessionContext;

/// The socket's file name in the archive directory.
pub const SOCKET: &str = "control.sock";
/// Longest request line read.
const MAX_REQUEST: u64 = 1024;
/// How long a control client has to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the listener looks whether the server is stopping.
const POLL: Duration = Duration::from_millis(100);

/// Where the control socket of the archive in `archive_dir` is.
pub fn socket_path(archive_dir: &Path) -> PathBuf {
    archive_dir.join(SOCKET)
}

/// Errors of the control socket.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control socket {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("no server is listening on {path} ({source}); is `imapvault serve` running with this configuration?")]
    NotRunning { path: PathBuf, source: io::Error },
}

/// Listens on the control socket until `stopping` is set.
pub fn spawn(
    context: Arc<SessionContext>,
    stopping: Arc<AtomicBool>,
) -> Result<thread::JoinHandle<()>, ControlError> {
    let path = socket_path(&context.archive_dir);
    let io_err = |source| ControlError::Io {
        path: path.clone(),
        source,
    };
    // A socket file left by a server that died is stale: nothing listens on it any more.
    if path.exists() && UnixStream::connect(&path).is_err() {
        std::fs::remove_file(&path).map_err(io_err)?;
    }
    let listener = UnixListener::bind(&path).map_err(io_err)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io_err)?;
    listener.set_nonblocking(true).map_err(io_err)?;
    thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Err(e) = answer(stream, &context) {
                            log::warn!("control socket: {e}");
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(POLL),
                    Err(e) => {
                        log::warn!("control socket: {e}");
                        thread::sleep(POLL);
                    }
                }
            }
            let _ = std::fs::remove_file(socket_path(&context.archive_dir));
        })
        .map_err(io_err)
}

fn answer(stream: UnixStream, context: &SessionContext) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    let mut line = String::new();
    BufReader::new((&stream).take(MAX_REQUEST)).read_line(&mut line)?;
    let mut out = &stream;
    let request = line.trim();
    if request == "sessions" {
        for s in context.sessions.list() {
            let secs = s
                .since
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let since = crate::imap::datetime::format_internal_date(secs, 0).replace('"', "");
            writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                s.id,
                s.user.as_deref().unwrap_or("-"),
                s.peer,
                s.client.as_deref().unwrap_or("-"),
                s.state,
                s.mailbox.as_deref().unwrap_or("-"),
                since,
                s.commands,
                s.bytes_in,
                s.bytes_out
            )?;
        }
    } else if let Some(target) = request.strip_prefix("kick ") {
        let n = context.sessions.kick(target.trim());
        log::info!("control socket: kick {target:?} ended {n} session(s)");
        writeln!(out, "kicked {n}")?;
    } else {
        writeln!(
            out,
            "error: unknown request {request:?}; say `sessions` or `kick <id|user>`"
        )?;
    }
    Ok(())
}

/// Sends `request` to the server of the archive in `archive_dir` and returns its answer.
pub fn ask(archive_dir: &Path, request: &str) -> Result<String, ControlError> {
    let path = socket_path(archive_dir);
    let mut stream = UnixStream::connect(&path).map_err(|source| ControlError::NotRunning {
        path: path.clone(),
        source,
    })?;
    let io_err = |source| ControlError::Io {
        path: path.clone(),
        source,
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(io_err)?;
    writeln!(stream, "{request}").map_err(io_err)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(io_err)?;
    Ok(answer)
}
