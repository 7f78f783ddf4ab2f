//! What packagers ship works (issue 8): the SysV init script parses, starts the real server
//! (via start-stop-daemon and from plain shell), reports its status and stops it; the systemd
//! unit passes `systemd-analyze verify` and keeps its hardening; the maintainer scripts parse;
//! the `cargo deb` assets exist. Building the .deb itself needs cargo-deb and is not tested.

mod common;

use common::free_port;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn init_script() -> PathBuf {
    root().join("packaging/init.d/imapvault")
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): run tests/run.sh, which installs it")
        })
}

// ------------------------------------------------------------------ shell scripts parse

#[test]
fn shell_scripts_pass_sh_n() {
    let scripts = [
        init_script(),
        root().join("packaging/debian/postinst"),
        root().join("packaging/debian/prerm"),
        root().join("packaging/debian/postrm"),
    ];
    for script in scripts {
        let out = run("sh", &["-n", script.to_str().unwrap()]);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "sh -n {}: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn init_script_has_lsb_headers() {
    let text = std::fs::read_to_string(init_script()).unwrap();
    let header = text
        .split("### BEGIN INIT INFO")
        .nth(1)
        .and_then(|t| t.split("### END INIT INFO").next())
        .expect("an LSB INIT INFO block");
    for field in [
        "Provides:",
        "Required-Start:",
        "Required-Stop:",
        "Default-Start:",
        "Default-Stop:",
        "Short-Description:",
    ] {
        assert!(
            header.lines().any(|l| l.starts_with(&format!("# {field}"))),
            "no {field}"
        );
    }
}

// ------------------------------------------------------------------ the init script runs it

/// A configuration in a temporary directory: loopback ports, a self-signed certificate, the
/// archive, the pid file and the log all inside it.
struct Setup {
    dir: tempfile::TempDir,
    starttls_port: u16,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let (tls_port, starttls_port) = (free_port(), free_port());
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
        let config = format!(
            "[server]\nlisten_tls = [\"127.0.0.1:{tls_port}\"]\n\
             listen_starttls = [\"127.0.0.1:{starttls_port}\"]\nworkers = 4\n\
             [tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n\
             [archive]\ndir = \"data\"\n"
        );
        std::fs::write(dir.path().join("imapvault.toml"), config).unwrap();
        Setup { dir, starttls_port }
    }

    fn pidfile(&self) -> PathBuf {
        self.dir.path().join("imapvault.pid")
    }

    /// `init.d/imapvault ACTION`, pointed at this setup by the variables the script documents.
    fn script(&self, action: &str, start_stop_daemon: StartWith) -> Output {
        let mut cmd = Command::new("sh");
        cmd.arg(init_script())
            .arg(action)
            .env("DAEMON", env!("CARGO_BIN_EXE_imapvault"))
            .env("CONFIG", self.dir.path().join("imapvault.toml"))
            .env("PIDFILE", self.pidfile())
            .env("LOGFILE", self.dir.path().join("imapvault.log"))
            .env("STOP_TIMEOUT", "20")
            .env("DEFAULTS", self.dir.path().join("no-such-defaults"));
        if let StartWith::PlainShell = start_stop_daemon {
            cmd.env("START_STOP_DAEMON", "");
        }
        let out = cmd.output().unwrap();
        eprintln!(
            "init.d/imapvault {action}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("imapvault.log")).unwrap_or_default()
    }
}

/// How the init script starts the server.
#[derive(Clone, Copy)]
enum StartWith {
    StartStopDaemon,
    PlainShell,
}

/// Whether process `pid` is gone (or exited and only waits to be reaped).
fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

fn greeting(port: u16) -> String {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

fn starts_and_stops_the_server(start_with: StartWith) {
    let setup = Setup::new();
    let text = |o: &Output| String::from_utf8_lossy(&o.stdout).into_owned();

    let status = setup.script("status", start_with);
    assert_eq!(status.status.code(), Some(3), "status before start");
    assert!(text(&status).contains("is stopped"));

    let start = setup.script("start", start_with);
    assert!(
        start.status.success(),
        "start failed; log:\n{}",
        setup.log()
    );
    let pid: u32 = std::fs::read_to_string(setup.pidfile())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!process_gone(pid));

    let line = greeting(setup.starttls_port);
    assert!(line.starts_with("* OK"), "greeting: {line:?}");

    let status = setup.script("status", start_with);
    assert_eq!(status.status.code(), Some(0), "status while running");
    assert!(text(&status).contains(&format!("is running (pid {pid})")));

    // A second start leaves the running server alone.
    let again = setup.script("start", start_with);
    assert!(again.status.success());
    assert!(text(&again).contains("already running"));

    let stop = setup.script("stop", start_with);
    assert!(stop.status.success(), "stop failed; log:\n{}", setup.log());
    assert!(text(&stop).contains("stopped"));
    assert!(process_gone(pid), "pid {pid} still there after stop");
    assert!(!setup.pidfile().exists());
    assert!(
        TcpStream::connect(("127.0.0.1", setup.starttls_port)).is_err(),
        "the port still accepts"
    );
    // The server logged to LOGFILE and stopped on SIGTERM as it should.
    assert!(setup.log().contains("stopped"), "log:\n{}", setup.log());

    let status = setup.script("status", start_with);
    assert_eq!(status.status.code(), Some(3), "status after stop");
    assert!(text(&status).contains("is stopped"));

    let stop = setup.script("stop", start_with);
    assert!(stop.status.success(), "stopping a stopped server is fine");
}

#[test]
fn init_script_starts_and_stops_the_server_with_start_stop_daemon() {
    if run("sh", &["-c", "command -v start-stop-daemon"])
        .stdout
        .is_empty()
    {
        panic!("start-stop-daemon missing (package dpkg): run tests/run.sh on Debian");
    }
    starts_and_stops_the_server(StartWith::StartStopDaemon);
}

#[test]
fn init_script_starts_and_stops_the_server_from_plain_shell() {
    starts_and_stops_the_server(StartWith::PlainShell);
}

#[test]
fn init_script_refuses_to_start_on_a_broken_configuration() {
    let setup = Setup::new();
    std::fs::remove_file(setup.dir.path().join("key.pem")).unwrap();
    let start = setup.script("start", StartWith::StartStopDaemon);
    assert_eq!(start.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&start.stderr);
    assert!(stderr.contains("key.pem"), "{stderr}");
    assert!(!setup.pidfile().exists());
}

// ------------------------------------------------------------------ the systemd unit

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    // `verify` insists that ExecStart's binary exists and runs `man` for each Documentation=
    // page; in a test neither /usr/bin/imapvault nor the installed pages are there. So: a copy
    // of the unit whose ExecStart names the binary just built, and --man=no. Nothing else of
    // the unit is changed. Any message at all fails the test: verify exits 0 on unknown keys.
    let unit = std::fs::read_to_string(root().join("packaging/imapvault.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/imapvault "));
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("imapvault.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/bin/imapvault", env!("CARGO_BIN_EXE_imapvault")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .env("SYSTEMD_LOG_LEVEL", "info")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run systemd-analyze ({e}): run tests/run.sh, which installs systemd")
        });
    let messages = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && messages.trim().is_empty(),
        "systemd-analyze verify: {}\n{messages}",
        out.status
    );
}

#[test]
fn systemd_unit_keeps_its_user_and_hardening() {
    let unit = std::fs::read_to_string(root().join("packaging/imapvault.service")).unwrap();
    let lines: Vec<&str> = unit.lines().map(str::trim).collect();
    for wanted in [
        "Type=simple",
        "User=imapvault",
        "Group=imapvault",
        "ExecStart=/usr/bin/imapvault --config /etc/imapvault/imapvault.toml serve",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "ReadWritePaths=/var/lib/imapvault",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "Restart=on-failure",
    ] {
        assert!(lines.contains(&wanted), "{wanted} missing from the unit");
    }
}

// ------------------------------------------------------------------ cargo deb metadata

#[test]
fn deb_assets_exist_and_the_config_is_a_conffile() {
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    let assets = deb["assets"].as_array().unwrap();
    let mut targets = Vec::new();
    for asset in assets {
        let source = asset[0].as_str().unwrap();
        let target = asset[1].as_str().unwrap();
        targets.push(target.to_owned());
        if source.starts_with("target/") {
            continue; // built by `cargo deb` itself
        }
        assert!(root().join(source).is_file(), "asset {source} is missing");
    }
    for dir in [
        "usr/bin/",
        "usr/share/man/man8/",
        "usr/share/man/man5/",
        "etc/imapvault/",
        "etc/init.d/",
    ] {
        assert!(targets.iter().any(|t| t == dir), "nothing goes to {dir}");
    }
    let conf_files: Vec<&str> = deb["conf-files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(conf_files.contains(&"/etc/imapvault/imapvault.toml"));
    let scripts = root().join(deb["maintainer-scripts"].as_str().unwrap());
    for script in ["postinst", "prerm", "postrm"] {
        let text = std::fs::read_to_string(scripts.join(script)).unwrap();
        assert!(text.contains("#DEBHELPER#"), "{script} lacks #DEBHELPER#");
    }
    let unit_dir = deb["systemd-units"]["unit-scripts"].as_str().unwrap();
    assert!(root().join(unit_dir).join("imapvault.service").is_file());
}
