//! The configuration file: what it may say (raw, straight from TOML) and what it means (validated).
//!
//! Owns: the TOML schema, defaults and validation. Reading certificates happens in
//! [`crate::server::tls`]; this module only checks that the paths are there.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::time::Duration;

use serde::Deserialize;

use crate::imap::window::SyncWindow;
use crate::limits::Limits;

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
    #[serde(default)]
    limits: RawLimits,
}

/// `[limits]`: every field defaults to [`Limits::DEFAULT`]; see [`crate::limits`] for why each
/// has its value. Durations carry their unit in the key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimits {
    line_before_login: usize,
    line_after_login: usize,
    literal_before_login: u64,
    literal_after_login: u64,
    command_before_login: usize,
    command_after_login: usize,
    bad_commands_before_login: u32,
    bad_commands_after_login: u32,
    connections_per_ip: usize,
    sessions_per_user: usize,
    prelogin_timeout_secs: u64,
    tls_handshake_timeout_secs: u64,
    write_timeout_secs: u64,
    autologout_secs: u64,
    login_failure_delay_ms: u64,
    login_failure_delay_max_ms: u64,
    login_failure_forget_secs: u64,
    search_secs: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        let d = Limits::DEFAULT;
        RawLimits {
            line_before_login: d.line_before_login,
            line_after_login: d.line_after_login,
            literal_before_login: d.literal_before_login,
            literal_after_login: d.literal_after_login,
            command_before_login: d.command_before_login,
            command_after_login: d.command_after_login,
            bad_commands_before_login: d.bad_commands_before_login,
            bad_commands_after_login: d.bad_commands_after_login,
            connections_per_ip: d.connections_per_ip,
            sessions_per_user: d.sessions_per_user,
            prelogin_timeout_secs: d.prelogin_timeout.as_secs(),
            tls_handshake_timeout_secs: d.tls_handshake_timeout.as_secs(),
            write_timeout_secs: d.write_timeout.as_secs(),
            autologout_secs: d.autologout.as_secs(),
            login_failure_delay_ms: d.login_failure_delay.as_millis() as u64,
            login_failure_delay_max_ms: d.login_failure_delay_max.as_millis() as u64,
            login_failure_forget_secs: d.login_failure_forget.as_secs(),
            search_secs: d.search_budget.as_secs(),
        }
    }
}

impl RawLimits {
    /// Checks every value and gives it its meaning; errors name the key.
    fn validate(self) -> Result<Limits, (&'static str, String)> {
        // A zero would refuse every command or every connection; a size beyond 1 GiB is no
        // longer a limit. Durations are bounded to a day so `Instant + d` cannot overflow.
        const GIB: u64 = 1 << 30;
        const DAY: u64 = 24 * 3600;
        let range = |key: &'static str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err((key, format!("{v} is not between {lo} and {hi}")))
            }
        };
        let size = |key, v: usize| range(key, v as u64, 1, GIB).map(|v| v as usize);
        let line = |key, v: usize| range(key, v as u64, 1024, GIB).map(|v| v as usize);
        let count = |key, v: u32| range(key, u64::from(v), 1, 1_000_000).map(|v| v as u32);
        let secs = |key, v| range(key, v, 1, DAY).map(Duration::from_secs);
        let ms = |key, v| range(key, v, 0, DAY * 1000).map(Duration::from_millis);
        let limits = Limits {
            line_before_login: line("limits.line_before_login", self.line_before_login)?,
            line_after_login: line("limits.line_after_login", self.line_after_login)?,
            literal_before_login: range(
                "limits.literal_before_login",
                self.literal_before_login,
                1,
                GIB,
            )?,
            literal_after_login: range(
                "limits.literal_after_login",
                self.literal_after_login,
                1,
                GIB,
            )?,
            command_before_login: size("limits.command_before_login", self.command_before_login)?,
            command_after_login: size("limits.command_after_login", self.command_after_login)?,
            bad_commands_before_login: count(
                "limits.bad_commands_before_login",
                self.bad_commands_before_login,
            )?,
            bad_commands_after_login: count(
                "limits.bad_commands_after_login",
                self.bad_commands_after_login,
            )?,
            connections_per_ip: size("limits.connections_per_ip", self.connections_per_ip)?,
            sessions_per_user: size("limits.sessions_per_user", self.sessions_per_user)?,
            prelogin_timeout: secs("limits.prelogin_timeout_secs", self.prelogin_timeout_secs)?,
            tls_handshake_timeout: secs(
                "limits.tls_handshake_timeout_secs",
                self.tls_handshake_timeout_secs,
            )?,
            write_timeout: secs("limits.write_timeout_secs", self.write_timeout_secs)?,
            // RFC 9051 §5.4 / RFC 3501 §5.4: an autologout timer of at least 30 minutes.
            autologout: range("limits.autologout_secs", self.autologout_secs, 30 * 60, DAY)
                .map(Duration::from_secs)?,
            login_failure_delay: ms("limits.login_failure_delay_ms", self.login_failure_delay_ms)?,
            login_failure_delay_max: ms(
                "limits.login_failure_delay_max_ms",
                self.login_failure_delay_max_ms,
            )?,
            login_failure_forget: secs(
                "limits.login_failure_forget_secs",
                self.login_failure_forget_secs,
            )?,
            search_budget: secs("limits.search_secs", self.search_secs)?,
        };
        if limits.login_failure_delay_max < limits.login_failure_delay {
            return Err((
                "limits.login_failure_delay_max_ms",
                "is less than login_failure_delay_ms".into(),
            ));
        }
        Ok(limits)
    }
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
    /// `[limits]`: see [`crate::limits`].
    pub limits: Limits,
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

        let limits = raw
            .limits
            .validate()
            .map_err(|(key, message)| invalid(key, message))?;

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
            limits,
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
        assert_eq!(c.limits, d.limits);
        assert_eq!(d.limits, Limits::DEFAULT);
    }

    #[test]
    fn limits_are_read_and_checked() {
        let c = parse("[limits]\nconnections_per_ip = 3\nautologout_secs = 1800\n").unwrap();
        assert_eq!(c.limits.connections_per_ip, 3);
        assert_eq!(c.limits.autologout, Duration::from_secs(1800));
        assert_eq!(
            c.limits.sessions_per_user,
            Limits::DEFAULT.sessions_per_user
        );
        // RFC 9051 §5.4: at least 30 minutes.
        let e = parse("[limits]\nautologout_secs = 1799\n").unwrap_err();
        assert!(e.to_string().contains("limits.autologout_secs"), "{e}");
        let e = parse("[limits]\nconnections_per_ip = 0\n").unwrap_err();
        assert!(e.to_string().contains("limits.connections_per_ip"), "{e}");
        let e = parse("[limits]\nline_before_login = 1023\n").unwrap_err();
        assert!(e.to_string().contains("limits.line_before_login"), "{e}");
        let e = parse("[limits]\nlogin_failure_delay_max_ms = 1\n").unwrap_err();
        assert!(e.to_string().contains("login_failure_delay_max_ms"), "{e}");
        let e = parse("[limits]\nmax_line = 5\n").unwrap_err();
        assert!(e.to_string().contains("max_line"), "{e}");
        // The search budget: 1 s to a day, as the other durations in seconds.
        for (secs, ok) in [(0, false), (1, true), (86_400, true), (86_401, false)] {
            let c = parse(&format!("[limits]\nsearch_secs = {secs}\n"));
            match c {
                Ok(c) => {
                    assert!(ok, "{secs} accepted");
                    assert_eq!(c.limits.search_budget, Duration::from_secs(secs));
                }
                Err(e) => {
                    assert!(!ok, "{secs} refused: {e}");
                    assert!(e.to_string().contains("limits.search_secs"), "{e}");
                }
            }
        }
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
        // The cap at N and N+1.
        let c = parse(&format!("[archive]\nsync_days = {MAX_SYNC_DAYS}\n")).unwrap();
        assert_eq!(c.archive.sync_window, SyncWindow::Days(MAX_SYNC_DAYS));
        let e = parse(&format!("[archive]\nsync_days = {}\n", MAX_SYNC_DAYS + 1)).unwrap_err();
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
