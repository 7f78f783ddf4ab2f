//! The embedded default: `imapvault serve --demo` runs a complete server with no configuration.
//!
//! Owns: the demo archive (mail written for this project, in `src/demo/mail/`, embedded in the
//! binary), the demo user, the self-signed certificate and the loopback listeners.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::archive::Archive;
use crate::config::FlagPolicy;
use crate::imap::SessionContext;
use crate::import::{self, Target};
use crate::server::{self, Security, Server, ServerSettings};

/// The demo's user name.
pub const USER: &str = "demo";
/// Where the demo listens: loopback only.
pub const TLS_ADDR: &str = "127.0.0.1:1993";
pub const STARTTLS_ADDR: &str = "127.0.0.1:1143";

/// The demo mail: `(file name, bytes)`; `MANIFEST` maps each file to its folder.
const MAIL: &[(&str, &[u8])] = &include!(concat!(env!("OUT_DIR"), "/demo_mail.rs"));
const MANIFEST: &str = include_str!("mail/MANIFEST");

/// Errors from setting up the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo data dir {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error("cannot make the self-signed certificate: {0}")]
    Certificate(String),
    #[error(transparent)]
    Tls(#[from] crate::server::tls::TlsError),
    #[error(transparent)]
    Start(#[from] crate::server::StartError),
    #[error(transparent)]
    Server(#[from] crate::server::ServerError),
    #[error("demo MANIFEST names {0}, which is not embedded")]
    Manifest(String),
}

/// A demo archive ready to serve: its directory, the password of `demo`, and the certificate.
pub struct Demo {
    pub dir: PathBuf,
    pub password: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_path: PathBuf,
}

/// Sets up the demo in `dir` (a fresh temporary directory when `None`) and serves it on the
/// loopback addresses until SIGINT or SIGTERM.
pub fn serve(dir: Option<&Path>) -> Result<(), DemoError> {
    let demo = prepare(dir)?;
    let listeners = vec![
        (parse_addr(TLS_ADDR), Security::ImplicitTls),
        (parse_addr(STARTTLS_ADDR), Security::StartTls),
    ];
    let (server, context) = bind(&demo, listeners)?;
    println!("imapvault demo: archive in {}", demo.dir.display());
    for (addr, security) in server.local_addrs() {
        let how = match security {
            Security::ImplicitTls => "IMAP over TLS",
            Security::StartTls => "IMAP with STARTTLS",
        };
        println!("  {how} on {addr}");
    }
    println!("  user: {USER}   password: {}", demo.password);
    println!("  self-signed certificate: {}", demo.cert_path.display());
    println!(
        "  try: curl --cacert {} -u {USER}:{} 'imaps://localhost:1993/INBOX;UID=1'",
        demo.cert_path.display(),
        demo.password
    );
    println!("Stop with Ctrl-C.");
    server::run_until_signalled(server, context, || {
        log::info!("SIGHUP: the demo has nothing to reload");
    })?;
    Ok(())
}

fn parse_addr(text: &str) -> SocketAddr {
    // The constants above are valid socket addresses; checked by a unit test.
    text.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// Binds a server for a prepared demo on `listeners` (tests pass port 0), with the session
/// context to run it with.
pub fn bind(
    demo: &Demo,
    listeners: Vec<(SocketAddr, Security)>,
) -> Result<(Server, Arc<SessionContext>), DemoError> {
    bind_with(demo, listeners, |context| context)
}

/// [`bind`], with the session context passed through `configure` first (tests set a sync
/// window and a clock they move).
pub fn bind_with(
    demo: &Demo,
    listeners: Vec<(SocketAddr, Security)>,
    configure: impl FnOnce(SessionContext) -> SessionContext,
) -> Result<(Server, Arc<SessionContext>), DemoError> {
    let tls =
        server::tls::server_config_from_pem(demo.cert_pem.as_bytes(), demo.key_pem.as_bytes())?;
    let server = Server::bind(ServerSettings {
        listeners,
        workers: 16,
        queue: 64,
        tls: Arc::new(RwLock::new(tls)),
    })?;
    let archive = Archive::open(&demo.dir.join("archive"))?;
    let context = configure(SessionContext::new(&archive, FlagPolicy::PerUser));
    let context = Arc::new(context.stopped_by(server.stop_flag()));
    Ok((server, context))
}

/// Makes the demo archive, user and certificate in `dir` (or a fresh temporary directory).
/// Run twice on the same directory, it imports nothing new and gives `demo` a new password.
pub fn prepare(dir: Option<&Path>) -> Result<Demo, DemoError> {
    let demo = prepare_empty(dir)?;
    let mail_dir = demo.dir.join("demo-mail");
    std::fs::create_dir_all(&mail_dir).map_err(io_err(&mail_dir))?;
    let mut archive = Archive::open(&demo.dir.join("archive"))?;
    for line in MANIFEST
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (file, folder) = line.split_once('\t').unwrap_or((line, "INBOX"));
        let bytes = MAIL
            .iter()
            .find(|(name, _)| *name == file)
            .map(|(_, b)| *b)
            .ok_or_else(|| DemoError::Manifest(file.to_owned()))?;
        let path = mail_dir.join(file);
        std::fs::write(&path, bytes).map_err(io_err(&path))?;
        import::run(
            &mut archive,
            USER,
            Target::Folder(folder.to_owned()),
            &[path],
            &mut |_| {},
        )?;
    }
    Ok(demo)
}

/// As [`prepare`], without the demo mail: an archive with only the user `demo` in it, and the
/// certificate (tests build their own archives on it, e.g. a journal-mode one).
pub fn prepare_empty(dir: Option<&Path>) -> Result<Demo, DemoError> {
    let dir = match dir {
        Some(d) => d.to_owned(),
        None => fresh_dir()?,
    };
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let archive = Archive::open(&dir.join("archive"))?;
    let password = random_password();
    let hash = crate::auth::hash_password(password.as_bytes())?;
    {
        let mut index = archive.open_index()?;
        if index.user_password_hash(USER)?.is_some() {
            index.set_password_hash(USER, &hash)?;
        } else {
            index.add_user(USER, &hash)?;
        }
    }
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .map_err(|e| DemoError::Certificate(e.to_string()))?;
    let cert_pem = cert.cert.pem();
    let key_pem = cert.key_pair.serialize_pem();
    let cert_path = dir.join("demo-cert.pem");
    std::fs::write(&cert_path, &cert_pem).map_err(io_err(&cert_path))?;
    Ok(Demo {
        dir,
        password,
        cert_pem,
        key_pem,
        cert_path,
    })
}

/// The error for an I/O failure on `path`.
fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError {
    let path = path.to_owned();
    move |source| DemoError::Io { path, source }
}

fn fresh_dir() -> Result<PathBuf, DemoError> {
    let base = std::env::temp_dir();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = base.join(format!("imapvault-demo-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| DemoError::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

/// Twelve letters and digits from the OS random source.
fn random_password() -> String {
    use rand_core::{OsRng, RngCore};
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..12)
        .map(|_| ALPHABET[(OsRng.next_u32() as usize) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_addresses_are_loopback() {
        for a in [TLS_ADDR, STARTTLS_ADDR] {
            let addr: SocketAddr = a.parse().unwrap();
            assert!(addr.ip().is_loopback(), "{a}");
        }
    }

    #[test]
    fn manifest_names_only_embedded_files() {
        let mut folders = 0;
        for line in MANIFEST
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let (file, _) = line.split_once('\t').expect("file<TAB>folder");
            assert!(MAIL.iter().any(|(n, _)| *n == file), "{file} not embedded");
            folders += 1;
        }
        assert!(folders >= 4);
    }
}
