//! `imapvault check-config` on good and broken configurations (issue 8), run as the admin runs
//! it: the built binary, a configuration file in a temporary directory, certificates made with
//! rcgen for each case (CA-signed, self-signed, expired, expiring, wrong host, wrong key).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

const DAY: Duration = Duration::from_secs(86_400);

/// What one run of `check-config` said.
struct Outcome {
    code: i32,
    stdout: String,
}

impl Outcome {
    fn lines(&self, severity: &str) -> Vec<&str> {
        let prefix = format!("{severity}: ");
        self.stdout
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .collect()
    }
    fn has(&self, severity: &str, needle: &str) -> bool {
        self.lines(severity).iter().any(|l| l.contains(needle))
    }
}

/// The validity of a generated certificate, relative to now.
struct Validity {
    from: SystemTime,
    until: SystemTime,
}

impl Validity {
    fn current() -> Validity {
        Validity {
            from: SystemTime::now() - DAY,
            until: SystemTime::now() + 365 * DAY,
        }
    }
}

/// Who signed a generated certificate.
enum Signer {
    /// A throw-away CA, as a real deployment would have (Let's Encrypt and the like).
    Ca,
    /// The certificate's own key.
    Itself,
}

/// A temporary directory with `imapvault.toml`, `cert.pem`, `key.pem` and `data/` (mode 0700).
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        let f = Fixture { dir };
        f.write_config("");
        f
    }

    /// A good setup: a CA-signed certificate for this host, valid for a year.
    fn good() -> Fixture {
        let f = Fixture::new();
        f.write_cert(&[&this_host()], Validity::current(), Signer::Ca);
        f
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The configuration: loopback listeners, the files of this fixture, then `extra`.
    fn write_config(&self, extra: &str) {
        let text = format!(
            "[server]\nlisten_tls = [\"127.0.0.1:0\"]\nlisten_starttls = []\n\
             [tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n\
             [archive]\ndir = \"data\"\n{extra}"
        );
        std::fs::write(self.path("imapvault.toml"), text).unwrap();
    }

    fn write_cert(&self, names: &[&str], validity: Validity, signer: Signer) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        // rcgen takes `time`'s OffsetDateTime, which this crate does not name: count from 1970.
        let at = |t: SystemTime| {
            rcgen::date_time_ymd(1970, 1, 1) + t.duration_since(UNIX_EPOCH).unwrap()
        };
        let mut params = CertificateParams::new(names).unwrap();
        params.not_before = at(validity.from);
        params.not_after = at(validity.until);
        let key = KeyPair::generate().unwrap();
        let cert = match signer {
            Signer::Itself => params.self_signed(&key).unwrap(),
            Signer::Ca => {
                let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
                ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                ca_params
                    .distinguished_name
                    .push(rcgen::DnType::CommonName, "imapvault test CA");
                let ca_key = KeyPair::generate().unwrap();
                let ca = ca_params.self_signed(&ca_key).unwrap();
                params.signed_by(&key, &ca, &ca_key).unwrap()
            }
        };
        std::fs::write(self.path("cert.pem"), cert.pem()).unwrap();
        std::fs::write(self.path("key.pem"), key.serialize_pem()).unwrap();
    }

    fn run(&self) -> Outcome {
        let out = Command::new(env!("CARGO_BIN_EXE_imapvault"))
            .arg("--config")
            .arg(self.path("imapvault.toml"))
            .arg("check-config")
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        Outcome {
            code: out.status.code().unwrap(),
            stdout,
        }
    }
}

/// The name check-config compares certificates against (what `uname -n` says).
fn this_host() -> String {
    imapvault::check_config::hostname()
}

#[test]
fn good_configuration_passes_without_warnings_and_prints_every_key() {
    let f = Fixture::good();
    let out = f.run();
    assert_eq!(out.code, 0);
    assert!(
        out.lines("warning").is_empty(),
        "{:?}",
        out.lines("warning")
    );
    assert!(out.lines("error").is_empty());
    assert!(out.has("ok", "load and go together"));
    assert!(out.has("ok", "days) left") || out.has("ok", "day(s) left"));
    assert!(out.has("ok", "names this host"));
    assert!(out.has("ok", "private to its owner"));
    assert!(out.stdout.contains("configuration usable"));

    // The effective configuration names every key of the shipped example, with its value.
    let effective = out
        .stdout
        .split("# effective configuration")
        .nth(1)
        .expect("an effective configuration section");
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/imapvault.toml"))
            .unwrap();
    let mut section = String::new();
    for line in example.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_owned();
            assert!(effective.contains(&section), "{section} missing");
        } else if let Some((key, _)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
            let key = key.trim();
            let after = effective.split(&section).nth(1).unwrap();
            assert!(
                after.lines().any(|l| l.starts_with(&format!("{key} = "))),
                "{section} {key} missing from the effective configuration"
            );
        }
    }
    // Defaults are filled in, paths resolved against the file's directory.
    assert!(effective.contains("workers = 1024"), "{effective}");
    let data = f.path("data");
    assert!(
        effective.contains(&format!("dir = \"{}\"", data.display())),
        "{effective}"
    );
}

#[test]
fn expired_certificate_is_an_error() {
    let f = Fixture::new();
    let validity = Validity {
        from: SystemTime::now() - 400 * DAY,
        until: SystemTime::now() - 35 * DAY,
    };
    f.write_cert(&[&this_host()], validity, Signer::Ca);
    let out = f.run();
    assert_eq!(out.code, 1);
    assert!(out.has("error", "expired"), "{}", out.stdout);
    assert!(out.stdout.contains("NOT usable"));
}

#[test]
fn certificate_not_yet_valid_is_an_error() {
    let f = Fixture::new();
    let validity = Validity {
        from: SystemTime::now() + 3 * DAY,
        until: SystemTime::now() + 300 * DAY,
    };
    f.write_cert(&[&this_host()], validity, Signer::Ca);
    let out = f.run();
    assert_eq!(out.code, 1);
    assert!(out.has("error", "not valid before"), "{}", out.stdout);
}

#[test]
fn certificate_about_to_expire_is_a_warning() {
    let f = Fixture::new();
    let validity = Validity {
        from: SystemTime::now() - 80 * DAY,
        until: SystemTime::now() + 5 * DAY + Duration::from_secs(3600),
    };
    f.write_cert(&[&this_host()], validity, Signer::Ca);
    let out = f.run();
    assert_eq!(out.code, 0);
    assert!(out.has("warning", "(in 5 day(s))"), "{}", out.stdout);
}

#[test]
fn self_signed_certificate_is_a_warning() {
    let f = Fixture::new();
    f.write_cert(&[&this_host()], Validity::current(), Signer::Itself);
    let out = f.run();
    assert_eq!(out.code, 0);
    assert!(out.has("warning", "self-signed"), "{}", out.stdout);
    assert_eq!(out.lines("warning").len(), 1);
}

#[test]
fn certificate_for_another_host_is_a_warning_naming_both() {
    let f = Fixture::new();
    f.write_cert(
        &["mail.wrong-host.invalid", "*.also-wrong.invalid"],
        Validity::current(),
        Signer::Ca,
    );
    let out = f.run();
    assert_eq!(out.code, 0);
    let host = this_host();
    let warning = out
        .lines("warning")
        .into_iter()
        .find(|l| l.contains("not this host"))
        .expect("a host name warning");
    assert!(warning.contains("mail.wrong-host.invalid"), "{warning}");
    assert!(warning.contains(&format!("({host})")), "{warning}");
}

#[test]
fn wildcard_certificate_for_this_domain_names_this_host() {
    let host = this_host();
    let Some((_, domain)) = host.split_once('.') else {
        // A single-label host name cannot be covered by a wildcard; nothing to test here.
        return;
    };
    let f = Fixture::new();
    f.write_cert(&[&format!("*.{domain}")], Validity::current(), Signer::Ca);
    let out = f.run();
    assert!(out.has("ok", "names this host"), "{}", out.stdout);
}

#[test]
fn key_of_another_certificate_is_an_error() {
    let f = Fixture::good();
    std::fs::write(
        f.path("key.pem"),
        KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    let out = f.run();
    assert_eq!(out.code, 1);
    assert!(out.has("error", "do not go together"), "{}", out.stdout);
    // The certificate itself is still looked at.
    assert!(out.has("ok", "valid until"), "{}", out.stdout);
}

#[test]
fn missing_certificate_is_an_error_naming_the_file() {
    let f = Fixture::good();
    std::fs::remove_file(f.path("cert.pem")).unwrap();
    let out = f.run();
    assert_eq!(out.code, 1);
    let cert = f.path("cert.pem");
    assert!(
        out.has("error", &cert.display().to_string()),
        "{}",
        out.stdout
    );
}

#[test]
fn unknown_key_is_an_error_naming_it() {
    let f = Fixture::good();
    f.write_config("[log]\nlevle = \"debug\"\n");
    let out = f.run();
    assert_eq!(out.code, 1);
    // The TOML error spans lines (it quotes the line); the key is in it.
    assert!(out.has("error", "line 10"), "{}", out.stdout);
    assert!(
        out.stdout.contains("unknown field `levle`"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("# effective configuration"));
}

#[test]
fn bad_value_is_an_error_naming_the_key() {
    let f = Fixture::good();
    f.write_config("[log]\nlevel = \"loud\"\n");
    let out = f.run();
    assert_eq!(out.code, 1);
    assert!(out.has("error", "log.level"), "{}", out.stdout);
}

#[test]
fn journal_mode_is_usable_and_shown_in_the_effective_configuration() {
    let f = Fixture::good();
    let text = std::fs::read_to_string(f.path("imapvault.toml")).unwrap();
    let text = text.replace("dir = \"data\"", "dir = \"data\"\nmode = \"journal\"");
    std::fs::write(f.path("imapvault.toml"), text).unwrap();
    let out = f.run();
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(!out.has("error", "journal"), "{}", out.stdout);
    assert!(out.stdout.contains("mode = \"journal\""), "{}", out.stdout);
}

#[test]
fn missing_configuration_file_is_an_error() {
    let f = Fixture::good();
    std::fs::remove_file(f.path("imapvault.toml")).unwrap();
    let out = f.run();
    assert_eq!(out.code, 1);
    assert!(out.has("error", "cannot read"), "{}", out.stdout);
}

#[test]
fn archive_dir_readable_by_others_is_a_warning() {
    let f = Fixture::good();
    std::fs::set_permissions(f.path("data"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = f.run();
    assert_eq!(out.code, 0);
    assert!(
        out.has("warning", "other users can read it"),
        "{}",
        out.stdout
    );
}

#[test]
fn archive_dir_yet_to_be_created_is_fine() {
    let f = Fixture::good();
    std::fs::remove_dir(f.path("data")).unwrap();
    let out = f.run();
    assert_eq!(out.code, 0);
    assert!(out.has("ok", "does not exist yet"), "{}", out.stdout);
}

#[test]
fn archive_dir_that_is_a_file_is_an_error() {
    let f = Fixture::good();
    std::fs::remove_dir(f.path("data")).unwrap();
    std::fs::write(f.path("data"), "not a directory").unwrap();
    let out = f.run();
    assert_eq!(out.code, 1);
    assert!(out.has("error", "not a directory"), "{}", out.stdout);
}
