//! `imapvault check-config`: is this configuration usable, and what does it amount to?
//!
//! Owns: the checks an admin wants before (re)starting the service (issue 8): the file parses,
//! the certificate and key load and go together, the certificate's expiry, whether phones will
//! accept it (self-signed? does it name this host?), the archive directory's permissions, and
//! the effective configuration with every default filled in.
//!
//! Does not own: parsing and validating the file ([`crate::config`]) nor building the TLS
//! configuration ([`crate::server::tls`]); this module calls them exactly as `serve` does, so a
//! configuration that passes here is one `serve` accepts. It changes nothing on disk.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;

use crate::config::{ArchiveMode, Config, FlagPolicy};

/// A certificate closer to its end than this is worth a warning: Let's Encrypt renews with 30
/// days left, so 14 left means renewal has been failing for two weeks.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(14 * 24 * 3600);

/// What the checks need to know about the machine, apart so tests can pin it.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The name clients are expected to connect to (`uname -n`).
    pub hostname: String,
    pub now: SystemTime,
}

impl Environment {
    /// This machine's host name and clock.
    pub fn of_this_machine() -> Environment {
        Environment {
            hostname: hostname(),
            now: SystemTime::now(),
        }
    }
}

/// The host name as `uname -n` reports it (the kernel's nodename), else `/etc/hostname`.
pub fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// A check passed.
    Ok,
    /// Usable, but clients or admins may be hurt by it.
    Warning,
    /// `serve` would refuse to start, or clients could not connect.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Finding {
    pub severity: Severity,
    pub message: String,
}

/// Everything `check-config` found, printed by its `Display`.
#[derive(Debug, Clone)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// The effective configuration as TOML, when the file could be parsed at all.
    pub effective: Option<String>,
}

impl Report {
    /// Usable: no errors (warnings allowed). `check-config` exits 0 exactly then.
    pub fn is_usable(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    fn push(&mut self, severity: Severity, message: impl Into<String>) {
        self.findings.push(Finding {
            severity,
            message: message.into(),
        });
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            // A TOML error quotes the offending line over several lines: indent the rest so
            // each finding still starts with its severity at the margin.
            let message = finding.message.trim_end().replace('\n', "\n    ");
            writeln!(f, "{}: {message}", finding.severity)?;
        }
        if let Some(effective) = &self.effective {
            writeln!(
                f,
                "\n# effective configuration (defaults filled in, paths resolved)"
            )?;
            f.write_str(effective)?;
        }
        let (errors, warnings) = (self.count(Severity::Error), self.count(Severity::Warning));
        if errors == 0 {
            writeln!(f, "\nconfiguration usable ({warnings} warning(s))")
        } else {
            writeln!(
                f,
                "\nconfiguration NOT usable: {errors} error(s), {warnings} warning(s)"
            )
        }
    }
}

/// Checks the configuration file at `path` on a machine described by `env`.
pub fn check(path: &Path, env: &Environment) -> Report {
    let mut report = Report {
        findings: Vec::new(),
        effective: None,
    };
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(e) => {
            report.push(Severity::Error, e.to_string());
            return report;
        }
    };
    report.push(Severity::Ok, format!("{} parses", path.display()));
    check_tls(&config, env, &mut report);
    check_archive_dir(&config.archive.dir, &mut report);
    report.effective = Some(effective_toml(&config));
    report
}

fn check_tls(config: &Config, env: &Environment, report: &mut Report) {
    let (cert, key) = (&config.tls.cert, &config.tls.key);
    // Exactly what `serve` does; its error names the file and what is wrong with it.
    match crate::server::tls::load_server_config(cert, key) {
        Ok(_) => report.push(
            Severity::Ok,
            format!(
                "certificate {} and key {} load and go together",
                cert.display(),
                key.display()
            ),
        ),
        Err(e) => report.push(Severity::Error, e.to_string()),
    }
    // The leaf is inspected even when the key did not match: its expiry is still worth knowing.
    let der = match CertificateDer::pem_file_iter(cert).map(|mut it| it.next()) {
        Ok(Some(Ok(der))) => der,
        // Unreadable or empty: already reported by the load above.
        _ => return,
    };
    let leaf = match x509_parser::parse_x509_certificate(&der) {
        Ok((_, leaf)) => leaf,
        Err(e) => {
            report.push(
                Severity::Error,
                format!(
                    "certificate {}: the first certificate does not parse: {e}",
                    cert.display()
                ),
            );
            return;
        }
    };
    check_validity(&leaf, cert, env.now, report);
    check_self_signed(&leaf, cert, report);
    check_names(&leaf, cert, &env.hostname, report);
}

fn check_validity(
    leaf: &x509_parser::certificate::X509Certificate<'_>,
    cert: &Path,
    now: SystemTime,
    report: &mut Report,
) {
    let validity = leaf.validity();
    let now_secs = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    };
    let (not_before, not_after) = (
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    );
    let days = |secs: i64| secs / 86_400;
    if now_secs > not_after {
        report.push(
            Severity::Error,
            format!(
                "certificate {} expired on {} ({} day(s) ago): clients refuse it",
                cert.display(),
                validity.not_after,
                days(now_secs - not_after)
            ),
        );
    } else if now_secs < not_before {
        report.push(
            Severity::Error,
            format!(
                "certificate {} is not valid before {}: clients refuse it until then",
                cert.display(),
                validity.not_before
            ),
        );
    } else if not_after - now_secs < EXPIRY_WARNING.as_secs() as i64 {
        report.push(
            Severity::Warning,
            format!(
                "certificate {} expires on {} (in {} day(s)): is its renewal working?",
                cert.display(),
                validity.not_after,
                days(not_after - now_secs)
            ),
        );
    } else {
        report.push(
            Severity::Ok,
            format!(
                "certificate {} is valid until {} ({} day(s) left)",
                cert.display(),
                validity.not_after,
                days(not_after - now_secs)
            ),
        );
    }
}

fn check_self_signed(
    leaf: &x509_parser::certificate::X509Certificate<'_>,
    cert: &Path,
    report: &mut Report,
) {
    // Self-issued (issuer = subject) or signed by its own key: no CA vouches for it either way.
    let self_signed =
        leaf.issuer().as_raw() == leaf.subject().as_raw() || leaf.verify_signature(None).is_ok();
    if self_signed {
        report.push(
            Severity::Warning,
            format!(
                "certificate {} is self-signed: phones and most mail clients refuse it or make \
                 every user accept it by hand; use one from a CA (e.g. Let's Encrypt)",
                cert.display()
            ),
        );
    }
}

fn check_names(
    leaf: &x509_parser::certificate::X509Certificate<'_>,
    cert: &Path,
    hostname: &str,
    report: &mut Report,
) {
    let names: Vec<String> = match leaf.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some((*d).to_owned()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    if names.is_empty() {
        report.push(
            Severity::Warning,
            format!(
                "certificate {} has no subjectAltName DNS entry: clients ignore the subject's \
                 CN and refuse it",
                cert.display()
            ),
        );
    } else if names.iter().any(|n| dns_name_matches(n, hostname)) {
        report.push(
            Severity::Ok,
            format!(
                "certificate {} names this host ({hostname})",
                cert.display()
            ),
        );
    } else {
        report.push(
            Severity::Warning,
            format!(
                "certificate {} names {} but not this host ({hostname}): clients that connect \
                 to {hostname} refuse it (fine if clients use one of the names it has)",
                cert.display(),
                names.join(", ")
            ),
        );
    }
}

/// RFC 6125 §6.4: case-insensitive, and a `*` stands for exactly one whole left-most label.
fn dns_name_matches(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (
        pattern.trim_end_matches('.').to_ascii_lowercase(),
        host.trim_end_matches('.').to_ascii_lowercase(),
    );
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(label, host_rest)| !label.is_empty() && host_rest == rest),
        None => pattern == host,
    }
}

fn check_archive_dir(dir: &Path, report: &mut Report) {
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => report.push(
            Severity::Error,
            format!("archive.dir {} is not a directory", dir.display()),
        ),
        Ok(meta) => check_archive_permissions(dir, &meta, report),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            match nearest_existing_ancestor(dir) {
                Some(parent) if parent.is_dir() => report.push(
                    Severity::Ok,
                    format!(
                        "archive.dir {} does not exist yet; it is created (mode 0700) on first \
                         use under {}",
                        dir.display(),
                        parent.display()
                    ),
                ),
                Some(parent) => report.push(
                    Severity::Error,
                    format!(
                        "archive.dir {} cannot be created: {} is not a directory",
                        dir.display(),
                        parent.display()
                    ),
                ),
                None => report.push(
                    Severity::Error,
                    format!("archive.dir {} cannot be created", dir.display()),
                ),
            }
        }
        Err(e) => report.push(
            Severity::Error,
            format!("archive.dir {}: {e}", dir.display()),
        ),
    }
}

fn nearest_existing_ancestor(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .skip(1)
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| a.symlink_metadata().is_ok())
        .map(Path::to_path_buf)
}

/// The archive holds everyone's mail: only its owner should read it. Group access is accepted
/// when the group is the owner's own private group (`imapvault:imapvault`, as the Debian
/// package creates it with mode 0750): nobody else is in it.
fn check_archive_permissions(dir: &Path, meta: &std::fs::Metadata, report: &mut Report) {
    let mode = meta.mode() & 0o7777;
    let owner = user_name(meta.uid());
    let group = group_name(meta.gid());
    let private_group = owner.is_some() && owner == group;
    let owner_text = format!(
        "{}:{}",
        owner.unwrap_or_else(|| meta.uid().to_string()),
        group.unwrap_or_else(|| meta.gid().to_string())
    );
    if mode & 0o007 != 0 {
        report.push(
            Severity::Warning,
            format!(
                "archive.dir {} (mode {mode:04o}, {owner_text}): other users can read it; \
                 chmod o-rwx it",
                dir.display()
            ),
        );
    } else if mode & 0o070 != 0 && !private_group {
        report.push(
            Severity::Warning,
            format!(
                "archive.dir {} (mode {mode:04o}, {owner_text}): group members can read it; \
                 chmod g-rwx it",
                dir.display()
            ),
        );
    } else {
        report.push(
            Severity::Ok,
            format!(
                "archive.dir {} (mode {mode:04o}, {owner_text}) is private to its owner",
                dir.display()
            ),
        );
    }
}

/// Names from the local files only (system users such as `imapvault` live there); `None` when
/// the id is not listed.
fn user_name(uid: u32) -> Option<String> {
    name_by_id("/etc/passwd", uid)
}

fn group_name(gid: u32) -> Option<String> {
    name_by_id("/etc/group", gid)
}

fn name_by_id(file: &str, id: u32) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        (fields.next()?.parse::<u32>().ok()? == id).then(|| name.to_owned())
    })
}

/// The configuration as `serve` will use it, in the file's own syntax: every key, defaults
/// filled in, relative paths resolved against the file's directory.
fn effective_toml(config: &Config) -> String {
    let string = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let path = |p: &Path| string(&p.to_string_lossy());
    let addrs = |a: &[std::net::SocketAddr]| {
        let items: Vec<String> = a.iter().map(|a| string(&a.to_string())).collect();
        format!("[{}]", items.join(", "))
    };
    let mode = match config.archive.mode {
        ArchiveMode::Mailbox => "mailbox",
        ArchiveMode::Journal => "journal",
    };
    let flags = match config.archive.flags {
        FlagPolicy::PerUser => "per-user",
        FlagPolicy::ReadOnly => "read-only",
    };
    let level = config.log_level.to_string().to_ascii_lowercase();
    // Optional keys that are not set are shown commented out, saying what that means.
    let optional = |key: &str, value: Option<String>, unset: &str| match value {
        Some(v) => format!("{key} = {v}\n"),
        None => format!("# {key} is not set: {unset}\n"),
    };
    let user = optional(
        "user",
        config.server.user.as_deref().map(string),
        "the server keeps the user it was started as",
    );
    let group = optional(
        "group",
        config.server.group.as_deref().map(string),
        "the user's own group",
    );
    let spool = optional(
        "dir",
        config.spool_dir.as_deref().map(path),
        "no spool directory is watched",
    );
    format!(
        "[server]\n\
         listen_tls = {}\n\
         listen_starttls = {}\n\
         workers = {}\n\
         queue = {}\n\
         {user}{group}\
         \n\
         [tls]\n\
         cert = {}\n\
         key = {}\n\
         \n\
         [archive]\n\
         dir = {}\n\
         mode = {}\n\
         flags = {}\n\
         sync_days = {}\n\
         \n\
         [spool]\n\
         {spool}\
         \n\
         [log]\n\
         level = {}\n\
         \n\
         [limits]\n\
         {}",
        addrs(&config.server.listen_tls),
        addrs(&config.server.listen_starttls),
        config.server.workers,
        config.server.queue,
        path(&config.tls.cert),
        path(&config.tls.key),
        path(&config.archive.dir),
        string(mode),
        string(flags),
        config.archive.sync_window.days(),
        string(&level),
        config.limits.to_toml(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_stand_for_one_label() {
        assert!(dns_name_matches("mail.example.org", "MAIL.example.org."));
        assert!(dns_name_matches("*.example.org", "mail.example.org"));
        assert!(!dns_name_matches("*.example.org", "example.org"));
        assert!(!dns_name_matches("*.example.org", "a.mail.example.org"));
        assert!(!dns_name_matches("mail.example.org", "mail"));
    }

    #[test]
    fn effective_configuration_parses_back_to_the_same() {
        let path = Path::new("/etc/imapvault/imapvault.toml");
        let c = Config::parse(
            "[server]\nlisten_starttls = []\n[archive]\nsync_days = 7\n[log]\nlevel = \"debug\"\n",
            path,
        )
        .unwrap();
        let text = effective_toml(&c);
        let again = Config::parse(&text, path).unwrap();
        assert_eq!(effective_toml(&again), text);
        assert!(text.contains("listen_starttls = []\n"), "{text}");
        assert!(text.contains("level = \"debug\"\n"), "{text}");
        assert!(text.contains("sync_days = 7\n"), "{text}");
    }
}
