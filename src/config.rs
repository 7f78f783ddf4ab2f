//! The configuration file: what it may say (raw, straight from TOML) and what it means (validated).
//!
//! Owns: the TOML schema, defaults and validation. Reading certificates happens in
//! [`crate::server::tls`]; this module only checks that the paths are there.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::imap::window::SyncWindow;

/// The largest `sync_days`: a century. More is a typo, and N days in seconds must not overflow.
pub const MAX_SYNC_DAYS: u32 = 36_500;

/// Where the configuration lives unless `--config` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/imapvault/imapvault.toml";

/// Errors met while reading or validating the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: key `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        key: &'static str,
        message: String,
    },
}

/// The file as written, before any meaning is given to it. Every table rejects unknown keys,
/// so a misspelt key stops start-up with its line instead of being silently ignored.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    tls: RawTls,
    #[serde(default)]
    archive: RawArchive,
    #[serde(default)]
    spool: RawSpool,
    #[serde(default)]
    log: RawLog,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSpool {
    dir: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    #[serde(default = "default_listen_tls")]
    listen_tls: Vec<String>,
    #[serde(default = "default_listen_starttls")]
    listen_starttls: Vec<String>,
    #[serde(default = "default_workers")]
    workers: usize,
    #[serde(default = "default_queue")]
    queue: usize,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    group: Option<String>,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen_tls: default_listen_tls(),
            listen_starttls: default_listen_starttls(),
            workers: default_workers(),
            queue: default_queue(),
            user: None,
            group: None,
        }
    }
}

fn default_listen_tls() -> Vec<String> {
    vec!["0.0.0.0:993".into()]
}
fn default_listen_starttls() -> Vec<String> {
    vec!["0.0.0.0:143".into()]
}
fn default_workers() -> usize {
    1024
}
fn default_queue() -> usize {
    256
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    #[serde(default = "default_cert")]
    cert: PathBuf,
    #[serde(default = "default_key")]
    key: PathBuf,
}

impl Default for RawTls {
    fn default() -> Self {
        RawTls {
            cert: default_cert(),
            key: default_key(),
        }
    }
}

fn default_cert() -> PathBuf {
    "/etc/imapvault/fullchain.pem".into()
}
fn default_key() -> PathBuf {
    "/etc/imapvault/privkey.pem".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArchive {
    #[serde(default = "default_dir")]
    dir: PathBuf,
    #[serde(default = "default_mode")]
    mode: String,
    #[serde(default = "default_flags")]
    flags: String,
    #[serde(default)]
    sync_days: u32,
}

impl Default for RawArchive {
    fn default() -> Self {
        RawArchive {
            dir: default_dir(),
            mode: default_mode(),
            flags: default_flags(),
            sync_days: 0,
        }
    }
}

fn default_dir() -> PathBuf {
    "/var/lib/imapvault".into()
}
fn default_mode() -> String {
    "mailbox".into()
}
fn default_flags() -> String {
    "per-user".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    #[serde(default = "default_level")]
    level: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            level: default_level(),
        }
    }
}

fn default_level() -> String {
    "info".into()
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub tls: TlsConfig,
    pub archive: ArchiveConfig,
    /// `[spool] dir`: files moved in here are archived while the server runs; `None` = off.
    pub spool_dir: Option<PathBuf>,
    pub log_level: log::LevelFilter,
}

/// `[server]`: listeners and the size of the worker pool.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Implicit TLS listeners (port 993 by convention).
    pub listen_tls: Vec<SocketAddr>,
    /// Plain listeners where STARTTLS is required before login (port 143 by convention).
    pub listen_starttls: Vec<SocketAddr>,
    /// Fixed number of session threads (DESIGN §2: the pool never grows).
    pub workers: usize,
    /// Accepted connections that may wait for a worker; beyond this, `* BYE [UNAVAILABLE]`.
    pub queue: usize,
    /// The user (and group) to become after binding, when started as root.
    pub user: Option<String>,
    pub group: Option<String>,
}

/// `[tls]`: the PEM certificate chain and private key.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `[archive]`.
#[derive(Debug, Clone)]
pub struct ArchiveConfig {
    pub dir: PathBuf,
    pub mode: ArchiveMode,
    pub flags: FlagPolicy,
    /// `sync_days`: clients see only the messages of the last N days (issue 5).
    pub sync_window: SyncWindow,
}

/// How the archive is organised (DESIGN §1); one archive is never both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveMode {
    /// Each user's own archived folders, imported per user.
    Mailbox,
    /// Messages from a journal; each user sees those they took part in.
    Journal,
}

/// Whether users may keep their own \Seen, \Flagged, ... state (DESIGN §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagPolicy {
    /// Flags are kept per user, apart from the archive.
    PerUser,
    /// No flag changes at all: SELECT answers `[READ-ONLY]`.
    ReadOnly,
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Validates `text` as if read from `path` (the path is used in messages and to resolve
    /// relative paths, which are taken relative to the file's directory).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let invalid = |key: &'static str, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            key,
            message,
        };

        let listen_tls =
            parse_addrs(&raw.server.listen_tls).map_err(|m| invalid("server.listen_tls", m))?;
        let listen_starttls = parse_addrs(&raw.server.listen_starttls)
            .map_err(|m| invalid("server.listen_starttls", m))?;
        if listen_tls.is_empty() && listen_starttls.is_empty() {
            return Err(invalid(
                "server.listen_tls",
                "no listener at all: give listen_tls or listen_starttls".into(),
            ));
        }
        if !(1..=65_536).contains(&raw.server.workers) {
            return Err(invalid(
                "server.workers",
                format!("{} is not between 1 and 65536", raw.server.workers),
            ));
        }
        if raw.server.queue > 1_000_000 {
            return Err(invalid(
                "server.queue",
                format!("{} is more than 1000000", raw.server.queue),
            ));
        }

        let archive = raw.archive;
        let mode = match archive.mode.as_str() {
            "mailbox" => ArchiveMode::Mailbox,
            "journal" => ArchiveMode::Journal,
            other => {
                return Err(invalid(
                    "archive.mode",
                    format!("`{other}` is neither \"mailbox\" nor \"journal\""),
                ))
            }
        };
        let flags = match archive.flags.as_str() {
            "per-user" => FlagPolicy::PerUser,
            "read-only" => FlagPolicy::ReadOnly,
            other => {
                return Err(invalid(
                    "archive.flags",
                    format!("`{other}` is neither \"per-user\" nor \"read-only\""),
                ))
            }
        };
        if archive.sync_days > MAX_SYNC_DAYS {
            return Err(invalid(
                "archive.sync_days",
                format!(
                    "{} is more than {MAX_SYNC_DAYS} (a century); 0 shows all mail",
                    archive.sync_days
                ),
            ));
        }
        let sync_window = SyncWindow::from_days(archive.sync_days);
        let log_level = raw.log.level.parse::<log::LevelFilter>().map_err(|_| {
            invalid(
                "log.level",
                format!(
                    "`{}` is not one of off, error, warn, info, debug, trace",
                    raw.log.level
                ),
            )
        })?;

        Ok(Config {
            server: ServerConfig {
                listen_tls,
                listen_starttls,
                workers: raw.server.workers,
                queue: raw.server.queue,
                user: raw.server.user,
                group: raw.server.group,
            },
            tls: TlsConfig {
                cert: base.join(raw.tls.cert),
                key: base.join(raw.tls.key),
            },
            archive: ArchiveConfig {
                dir: base.join(archive.dir),
                mode,
                flags,
                sync_window,
            },
            spool_dir: raw.spool.dir.map(|d| base.join(d)),
            log_level,
        })
    }
}

fn parse_addrs(values: &[String]) -> Result<Vec<SocketAddr>, String> {
    values
        .iter()
        .map(|v| {
            v.parse::<SocketAddr>()
                .map_err(|_| format!("`{v}` is not an address:port such as \"0.0.0.0:993\""))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/imapvault/imapvault.toml"))
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.archive.dir, Path::new("/var/lib/imapvault"));
        assert_eq!(c.server.workers, 1024);
        assert_eq!(c.server.listen_tls, vec!["0.0.0.0:993".parse().unwrap()]);
        assert_eq!(c.archive.mode, ArchiveMode::Mailbox);
        assert_eq!(c.archive.flags, FlagPolicy::PerUser);
        assert_eq!(c.archive.sync_window, SyncWindow::All);
        assert_eq!(c.tls.cert, Path::new("/etc/imapvault/fullchain.pem"));
    }

    #[test]
    fn shipped_example_parses_with_the_documented_defaults() {
        let c = parse(include_str!("../conf/imapvault.toml")).unwrap();
        let d = parse("").unwrap();
        assert_eq!(c.server.listen_tls, d.server.listen_tls);
        assert_eq!(c.server.listen_starttls, d.server.listen_starttls);
        assert_eq!(c.server.workers, d.server.workers);
        assert_eq!(c.server.queue, d.server.queue);
        assert_eq!(c.tls.cert, d.tls.cert);
        assert_eq!(c.tls.key, d.tls.key);
        assert_eq!(c.archive.dir, d.archive.dir);
        assert_eq!(c.archive.mode, d.archive.mode);
        assert_eq!(c.archive.flags, d.archive.flags);
        assert_eq!(c.archive.sync_window, d.archive.sync_window);
        assert_eq!(c.log_level, d.log_level);
        assert_eq!(c.spool_dir, d.spool_dir);
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let e = parse("[archive]\ndir = \"/x\"\nmdoe = \"journal\"\n").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("mdoe"), "{text}");
        assert!(text.contains("line 3"), "{text}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = parse("[archive]\ndir = \"/x\"\nmode = \"both\"\n").unwrap_err();
        assert!(e.to_string().contains("archive.mode"), "{e}");
        let e = parse("[server]\nworkers = 0\n[archive]\ndir = \"/x\"\n").unwrap_err();
        assert!(e.to_string().contains("server.workers"), "{e}");
        let e = parse("[server]\nlisten_tls = [\"993\"]\n[archive]\ndir = \"/x\"\n").unwrap_err();
        assert!(e.to_string().contains("server.listen_tls"), "{e}");
        let e = parse("[log]\nlevel = \"loud\"\n[archive]\ndir = \"/x\"\n").unwrap_err();
        assert!(e.to_string().contains("log.level"), "{e}");
        let e = parse("[archive]\nsync_days = 99999\n").unwrap_err();
        assert!(e.to_string().contains("archive.sync_days"), "{e}");
        let e = parse("[archive]\nsync_days = -1\n").unwrap_err();
        assert!(e.to_string().contains("sync_days"), "{e}");
        let c = parse("[archive]\nsync_days = 30\n").unwrap();
        assert_eq!(c.archive.sync_window, SyncWindow::Days(30));
    }

    #[test]
    fn relative_paths_resolve_against_the_file() {
        let c = parse("[tls]\ncert = \"c.pem\"\nkey = \"/k.pem\"\n[archive]\ndir = \"data\"\n")
            .unwrap();
        let tls = c.tls;
        assert_eq!(tls.cert, Path::new("/etc/imapvault/c.pem"));
        assert_eq!(tls.key, Path::new("/k.pem"));
        assert_eq!(c.archive.dir, Path::new("/etc/imapvault/data"));
    }
}
