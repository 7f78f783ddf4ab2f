//! One client connection on a worker thread: TLS handshake, then the IMAP session over it.
//!
//! Owns: the byte stream (plain TCP or rustls over TCP), its timeouts, and the STARTTLS upgrade.
//! One thread owns a TLS session at a time; nothing here is shared (DESIGN §2).

use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::{ServerConnection, StreamOwned};

use super::{Security, Shutdown};
use crate::imap::{ChannelSecurity, Exit, Session, SessionContext, Transport, WorkerResources};

/// How long a client has to complete the TLS handshake.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(30);
/// A client that does not read what we send for this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(120);
/// Read buffer per connection: large enough for a typical command, small enough for many idlers.
const READ_BUFFER: usize = 8 * 1024;

/// The connection's byte stream.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => &t.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(t) => t.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(t) => t.flush(),
        }
    }
}

impl Transport for Stream {
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.tcp().set_read_timeout(Some(timeout))
    }
}

/// Serves one connection until the client logs out, disconnects or the server stops.
pub(crate) fn serve(
    tcp: TcpStream,
    peer: SocketAddr,
    security: Security,
    tls: &RwLock<Arc<rustls::ServerConfig>>,
    context: &Arc<SessionContext>,
    resources: &mut WorkerResources,
    shutdown: &Shutdown,
) {
    if shutdown.is_requested() {
        return;
    }
    let _ = tcp.set_write_timeout(Some(WRITE_TIMEOUT));
    let (stream, channel) = match security {
        Security::ImplicitTls => match handshake(tcp, tls) {
            Ok(t) => (Stream::Tls(Box::new(t)), ChannelSecurity::Tls),
            Err(e) => {
                log::debug!("{peer}: TLS handshake failed: {e}");
                return;
            }
        },
        Security::StartTls => (Stream::Plain(tcp), ChannelSecurity::Plain),
    };
    let mut session = Session::new(context.clone(), peer.to_string(), channel);
    let mut io = BufReader::with_capacity(READ_BUFFER, stream);
    if io
        .get_mut()
        .write_all(&session.greeting())
        .and_then(|_| io.get_mut().flush())
        .is_err()
    {
        return;
    }
    loop {
        let exit = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            session.serve(&mut io, resources)
        }));
        match exit {
            Ok(Exit::Closed) => return,
            Ok(Exit::StartTls) => {
                // RFC 3501 §6.2.1 / RFC 2595 §3.1: whatever the client sent after STARTTLS and
                // before the handshake is discarded, never read as a command.
                let buffered = io.buffer().len();
                if buffered > 0 {
                    log::warn!("{peer}: {buffered} byte(s) pipelined after STARTTLS discarded");
                }
                let Stream::Plain(tcp) = io.into_inner() else {
                    return;
                };
                match handshake(tcp, tls) {
                    Ok(t) => {
                        io = BufReader::with_capacity(READ_BUFFER, Stream::Tls(Box::new(t)));
                        session.tls_established();
                    }
                    Err(e) => {
                        log::debug!("{peer}: STARTTLS handshake failed: {e}");
                        return;
                    }
                }
            }
            Err(_) => {
                log::error!("{peer}: session panicked; sending BYE [SERVERBUG]");
                let _ = io
                    .get_mut()
                    .write_all(b"* BYE [SERVERBUG] Internal error; the session is closed\r\n");
                let _ = io.get_mut().flush();
                resources.reset();
                return;
            }
        }
    }
}

/// Runs the TLS handshake with a deadline, then leaves the socket in blocking mode.
fn handshake(
    tcp: TcpStream,
    tls: &RwLock<Arc<rustls::ServerConfig>>,
) -> io::Result<StreamOwned<ServerConnection, TcpStream>> {
    let config = tls
        .read()
        .map_err(|_| io::Error::other("TLS configuration lock poisoned"))?
        .clone();
    let conn = ServerConnection::new(config).map_err(io::Error::other)?;
    tcp.set_read_timeout(Some(HANDSHAKE_DEADLINE))?;
    let mut stream = StreamOwned::new(conn, tcp);
    let deadline = std::time::Instant::now() + HANDSHAKE_DEADLINE;
    while stream.conn.is_handshaking() {
        if std::time::Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "handshake deadline",
            ));
        }
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}
