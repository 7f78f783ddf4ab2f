//! IDLE push benchmark (`benches/idle_push.sh`, DESIGN §8, issue 4): holds N concurrent IDLE
//! sessions over TLS against a running imapvault, measures the server's memory, threads and CPU
//! while they idle, then archives messages in-process and times commit → `* N EXISTS` at every
//! session of the users concerned.
//!
//! Owns: the idle fleet (establishment on a few blocking threads, then a few mio reader threads
//! holding every socket non-blocking), the in-process imports, the measurements and the
//! `RESULT key=value` line. Does not own: building, users, certificates, the initial mail and
//! starting the server (idle_push.sh).
//!
//! Synchronous like the server: std threads, mio, rustls `ClientConnection` driven by hand on
//! readiness. Every loop is bounded by a count and by a deadline; only 127.0.0.1.
//!
//! ```text
//! idle_push --port P --ca ca.pem --archive DATA_DIR --pid SERVER_PID --pass PW
//!   --users 100 --user-prefix user  --conns 10000  --establishers 16  --readers 2
//!   --settle 5  --idle-seconds 30  --rounds 20  --per-round 5  --push-timeout 5
//!   --connect-seconds 1200  --work DIR (where the pushed .eml files are written)
//! ```

#[path = "support/tls.rs"]
mod tls;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};
use mio::{Events, Interest, Poll, Token};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// Blocking I/O timeout while establishing a session (LOGIN waits for argon2 on the server).
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest line accepted from the server while establishing or idling.
const MAX_LINE: usize = 64 * 1024;
/// Attempts per session before it counts as failed to establish.
const ATTEMPTS: u32 = 3;
const HOST: &str = "127.0.0.1";

fn main() {
    // `cargo test --all-targets` runs bench binaries with no arguments (debug build): nothing
    // to measure then, and that is not a failure.
    if std::env::args().len() <= 1 {
        println!("idle_push: no options given; run it from benches/idle_push.sh");
        return;
    }
    let opts = match Opts::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("idle_push: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&opts) {
        eprintln!("idle_push: {e}");
        println!("RESULT workload=idle-push failed=1");
        std::process::exit(1);
    }
}

const USAGE: &str = "usage: idle_push --port P --ca FILE --archive DIR --pid PID --pass PW \
[--users K] [--user-prefix S] [--conns N] [--establishers E] [--readers R] [--settle S] \
[--idle-seconds S] [--rounds N] [--per-round U] [--push-timeout S] [--connect-seconds S] \
[--work DIR]";

// ------------------------------------------------------------------------------------ options

struct Opts {
    port: u16,
    ca: String,
    archive: PathBuf,
    pid: u32,
    pass: String,
    users: usize,
    user_prefix: String,
    conns: usize,
    establishers: usize,
    readers: usize,
    settle: f64,
    idle_seconds: f64,
    rounds: usize,
    per_round: usize,
    push_timeout: f64,
    connect_seconds: f64,
    work: PathBuf,
}

impl Opts {
    fn parse(args: impl Iterator<Item = String>) -> Result<Opts, String> {
        let mut kv = HashMap::new();
        let mut args = args.peekable();
        while let Some(a) = args.next() {
            // `cargo bench` appends `--bench` to the arguments of a harness = false target.
            if a == "--bench" {
                continue;
            }
            let key = a
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {a:?}"))?;
            let v = args
                .next()
                .ok_or_else(|| format!("--{key} needs a value"))?;
            kv.insert(key.to_owned(), v);
        }
        let mut take = |k: &str| kv.remove(k);
        fn num(v: Option<String>, k: &str, d: f64) -> Result<f64, String> {
            v.map_or(Ok(d), |s| {
                s.parse().map_err(|_| format!("--{k}: not a number: {s}"))
            })
        }
        let archive: PathBuf = take("archive").ok_or("--archive is required")?.into();
        let opts = Opts {
            port: num(take("port"), "port", 0.0)? as u16,
            ca: take("ca").ok_or("--ca is required")?,
            pid: num(take("pid"), "pid", 0.0)? as u32,
            pass: take("pass").ok_or("--pass is required")?,
            users: num(take("users"), "users", 100.0)? as usize,
            user_prefix: take("user-prefix").unwrap_or_else(|| "user".into()),
            conns: num(take("conns"), "conns", 10_000.0)? as usize,
            establishers: num(take("establishers"), "establishers", 16.0)? as usize,
            readers: num(take("readers"), "readers", 2.0)? as usize,
            settle: num(take("settle"), "settle", 5.0)?,
            idle_seconds: num(take("idle-seconds"), "idle-seconds", 30.0)?,
            rounds: num(take("rounds"), "rounds", 20.0)? as usize,
            per_round: num(take("per-round"), "per-round", 5.0)? as usize,
            push_timeout: num(take("push-timeout"), "push-timeout", 5.0)?,
            connect_seconds: num(take("connect-seconds"), "connect-seconds", 1200.0)?,
            work: take("work")
                .map(PathBuf::from)
                .unwrap_or_else(|| archive.with_extension("push")),
            archive,
        };
        if let Some(k) = kv.keys().next() {
            return Err(format!("unknown option --{k}"));
        }
        if opts.port == 0 || opts.pid == 0 {
            return Err("--port and --pid must be given".into());
        }
        if opts.users == 0 || opts.conns == 0 || opts.establishers == 0 || opts.readers == 0 {
            return Err("--users, --conns, --establishers and --readers must be positive".into());
        }
        if opts.per_round > opts.users {
            return Err("--per-round cannot exceed --users".into());
        }
        Ok(opts)
    }

    fn user_name(&self, u: usize) -> String {
        format!("{}{u}", self.user_prefix)
    }
}

// ------------------------------------------------------------------------------- /proc probes

/// What /proc says about the server process.
#[derive(Clone, Copy, Default)]
struct ProcSample {
    rss_kib: u64,
    anon_kib: u64,
    threads: u64,
    /// utime + stime, in clock ticks.
    cpu_ticks: u64,
    /// Of the main thread (the reactor) only: /proc/PID/status reports the thread-group leader.
    voluntary_switches: u64,
}

fn sample(pid: u32) -> Result<ProcSample, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("server process {pid}: {e}"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("server process {pid}: {e}"))?;
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Ok(ProcSample {
        rss_kib: field("VmRSS:"),
        anon_kib: field("RssAnon:"),
        threads: field("Threads:"),
        // utime is field 14, stime 15; `rest` starts at field 3.
        cpu_ticks: tick(11) + tick(12),
        voluntary_switches: field("voluntary_ctxt_switches:"),
    })
}

fn self_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// ------------------------------------------------------------------------------ establishing

/// An idling session handed from an establisher to a reader thread.
struct Idler {
    id: usize,
    conn: ClientConnection,
    sock: TcpStream,
    /// Plaintext received after `+ idling`, not yet parsed.
    pending: Vec<u8>,
}

/// Reads one line (up to LF) from `s`, keeping what follows in `buf`.
fn read_line(
    s: &mut StreamOwned<ClientConnection, TcpStream>,
    buf: &mut Vec<u8>,
) -> Result<Vec<u8>, String> {
    for _ in 0..10_000 {
        if let Some(p) = buf.iter().position(|&b| b == b'\n') {
            return Ok(buf.drain(..=p).collect());
        }
        if buf.len() > MAX_LINE {
            return Err("line too long".into());
        }
        let mut tmp = [0u8; 4096];
        match s.read(&mut tmp) {
            Ok(0) => return Err("connection closed".into()),
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    Err("no line after 10,000 reads".into())
}

/// `* N EXISTS` → N.
fn parse_exists(line: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(line).ok()?;
    let mut w = s.split_whitespace();
    if w.next()? != "*" {
        return None;
    }
    let n = w.next()?.parse().ok()?;
    w.next()?.eq_ignore_ascii_case("EXISTS").then_some(n)
}

/// Sends `tag command` and reads to its tagged reply; returns the last EXISTS seen.
fn command(
    s: &mut StreamOwned<ClientConnection, TcpStream>,
    buf: &mut Vec<u8>,
    tag: &str,
    cmd: &str,
) -> Result<Option<u32>, String> {
    s.write_all(format!("{tag} {cmd}\r\n").as_bytes())
        .and_then(|_| s.flush())
        .map_err(|e| format!("write: {e}"))?;
    let mut exists = None;
    for _ in 0..1_000 {
        let line = read_line(s, buf)?;
        if let Some(n) = parse_exists(&line) {
            exists = Some(n);
        }
        if line.starts_with(b"* BYE") {
            return Err(format!(
                "BYE: {}",
                String::from_utf8_lossy(&line).trim_end()
            ));
        }
        if line.starts_with(tag.as_bytes()) && line.get(tag.len()) == Some(&b' ') {
            let rest = &line[tag.len() + 1..];
            return if rest.starts_with(b"OK") {
                Ok(exists)
            } else {
                let verb = cmd.split_whitespace().next().unwrap_or(cmd);
                Err(format!(
                    "{verb}: {}",
                    String::from_utf8_lossy(rest).trim_end()
                ))
            };
        }
    }
    Err("no tagged reply after 1,000 lines".into())
}

/// LOGIN → SELECT INBOX → IDLE, until `+ idling`. Returns the session, non-blocking, and the
/// EXISTS count SELECT gave.
fn establish(
    cfg: &Arc<ClientConfig>,
    opts: &Opts,
    id: usize,
    user: &str,
) -> Result<(Idler, u32), String> {
    let tcp = TcpStream::connect((HOST, opts.port)).map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    tcp.set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|_| tcp.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|e| format!("socket: {e}"))?;
    let name = ServerName::try_from(HOST).map_err(|e| e.to_string())?;
    let conn = ClientConnection::new(cfg.clone(), name).map_err(|e| e.to_string())?;
    let mut s = StreamOwned::new(conn, tcp);
    let mut buf = Vec::new();
    let greeting = read_line(&mut s, &mut buf)?;
    if !greeting.starts_with(b"* OK") {
        return Err(format!(
            "greeting: {}",
            String::from_utf8_lossy(&greeting).trim_end()
        ));
    }
    command(
        &mut s,
        &mut buf,
        "a1",
        &format!("LOGIN {user} \"{}\"", opts.pass),
    )?;
    let exists = command(&mut s, &mut buf, "a2", "SELECT INBOX")?.ok_or("SELECT gave no EXISTS")?;
    s.write_all(b"a3 IDLE\r\n")
        .and_then(|_| s.flush())
        .map_err(|e| format!("write: {e}"))?;
    let mut exists_now = exists;
    for _ in 0..100 {
        let line = read_line(&mut s, &mut buf)?;
        if line.starts_with(b"+") {
            let StreamOwned { conn, sock } = s;
            sock.set_nonblocking(true)
                .map_err(|e| format!("socket: {e}"))?;
            return Ok((
                Idler {
                    id,
                    conn,
                    sock,
                    pending: buf,
                },
                exists_now,
            ));
        }
        if let Some(n) = parse_exists(&line) {
            exists_now = n;
        }
        if line.starts_with(b"a3 ") || line.starts_with(b"* BYE") {
            return Err(format!(
                "IDLE: {}",
                String::from_utf8_lossy(&line).trim_end()
            ));
        }
    }
    Err("no continuation after IDLE".into())
}

// ----------------------------------------------------------------------------------- readers

/// What a reader saw on an idling session.
struct Arrival {
    id: usize,
    exists: u32,
    at: Instant,
}

#[derive(Default)]
struct Counters {
    registered: AtomicUsize,
    keepalives: AtomicU64,
    exists_lines: AtomicU64,
    other_lines: AtomicU64,
    byes: AtomicU64,
    closed: AtomicU64,
}

struct Live {
    id: usize,
    conn: ClientConnection,
    sock: mio::net::TcpStream,
    buf: Vec<u8>,
    open: bool,
}

/// One reader thread: owns its sockets, reads on readiness, reports EXISTS arrivals.
fn reader(
    incoming: Receiver<Idler>,
    arrivals: Sender<Arrival>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(1024);
    let mut live: Vec<Live> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        // New sessions, at most a bounded batch per turn.
        for _ in 0..1024 {
            let Ok(idler) = incoming.try_recv() else {
                break;
            };
            let token = Token(live.len());
            let mut sock = mio::net::TcpStream::from_std(idler.sock);
            if let Err(e) = poll
                .registry()
                .register(&mut sock, token, Interest::READABLE)
            {
                eprintln!("idle_push: cannot register session {}: {e}", idler.id);
                counters.closed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            live.push(Live {
                id: idler.id,
                conn: idler.conn,
                sock,
                buf: idler.pending,
                open: true,
            });
            counters.registered.fetch_add(1, Ordering::Relaxed);
            // Whatever rustls or our buffer already holds is parsed now: readiness will not
            // report it again.
            if let Some(l) = live.last_mut() {
                service(l, &arrivals, &counters);
            }
        }
        match poll.poll(&mut events, Some(Duration::from_millis(50))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        for ev in events.iter() {
            if let Some(l) = live.get_mut(ev.token().0) {
                if l.open {
                    service(l, &arrivals, &counters);
                }
            }
        }
    }
    Ok(())
}

/// Drains the socket (edge-triggered: until WouldBlock), decrypts, parses whole lines.
fn service(l: &mut Live, arrivals: &Sender<Arrival>, counters: &Counters) {
    let mut plain = [0u8; 4096];
    let mut at = Instant::now();
    for _ in 0..10_000 {
        // Plaintext rustls already holds.
        loop {
            match l.conn.reader().read(&mut plain) {
                Ok(0) => {
                    close(l, counters);
                    break;
                }
                Ok(n) => l.buf.extend_from_slice(&plain[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    close(l, counters);
                    break;
                }
            }
        }
        parse_lines(l, at, arrivals, counters);
        if !l.open {
            return;
        }
        if l.conn.wants_write() {
            let _ = l.conn.write_tls(&mut l.sock);
        }
        match l.conn.read_tls(&mut l.sock) {
            Ok(0) => {
                close(l, counters);
                return;
            }
            Ok(_) => {
                at = Instant::now();
                if l.conn.process_new_packets().is_err() {
                    close(l, counters);
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                close(l, counters);
                return;
            }
        }
    }
}

fn close(l: &mut Live, counters: &Counters) {
    if l.open {
        l.open = false;
        counters.closed.fetch_add(1, Ordering::Relaxed);
    }
}

fn parse_lines(l: &mut Live, at: Instant, arrivals: &Sender<Arrival>, counters: &Counters) {
    while let Some(p) = l.buf.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = l.buf.drain(..=p).collect();
        if let Some(n) = parse_exists(&line) {
            counters.exists_lines.fetch_add(1, Ordering::Relaxed);
            let _ = arrivals.send(Arrival {
                id: l.id,
                exists: n,
                at,
            });
        } else if line.starts_with(b"* OK Still here") {
            counters.keepalives.fetch_add(1, Ordering::Relaxed);
        } else if line.starts_with(b"* BYE") {
            counters.byes.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.other_lines.fetch_add(1, Ordering::Relaxed);
        }
    }
    if l.buf.len() > MAX_LINE {
        eprintln!("idle_push: session {}: line too long; dropping it", l.id);
        close(l, counters);
    }
}

// --------------------------------------------------------------------------------------- run

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

fn run(opts: &Opts) -> Result<(), String> {
    let cfg = tls::client_config(&opts.ca)?;
    let ticks = clock_ticks();
    let before = sample(opts.pid)?;
    eprintln!(
        "server pid {}: RSS {:.1} MiB, {} threads before any connection",
        opts.pid,
        mib(before.rss_kib),
        before.threads
    );

    // Readers first, so sessions are held as soon as they idle.
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::default());
    let (arrivals_tx, arrivals) = unbounded::<Arrival>();
    let mut to_readers = Vec::new();
    let mut readers = Vec::new();
    for r in 0..opts.readers {
        let (tx, rx) = unbounded::<Idler>();
        to_readers.push(tx);
        let (a, c, s) = (arrivals_tx.clone(), counters.clone(), stop.clone());
        readers.push(
            thread::Builder::new()
                .name(format!("reader-{r}"))
                .spawn(move || reader(rx, a, c, s))
                .map_err(|e| e.to_string())?,
        );
    }
    drop(arrivals_tx);

    // --------------------------------------------------------------- establish N idlers
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(opts.connect_seconds);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    // Per session: its user and the EXISTS count it had when it started idling.
    let sessions: Mutex<Vec<Option<(usize, u32)>>> = Mutex::new(vec![None; opts.conns]);
    let failures: Mutex<HashMap<String, u64>> = Mutex::new(HashMap::new());
    let retries = AtomicU64::new(0);
    let establish_one = |id: usize| {
        let user = id % opts.users;
        let name = opts.user_name(user);
        let mut last_err = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                retries.fetch_add(1, Ordering::Relaxed);
                thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
            }
            match establish(&cfg, opts, id, &name) {
                Ok((idler, exists)) => {
                    if let Ok(mut s) = sessions.lock() {
                        s[id] = Some((user, exists));
                    }
                    let _ = to_readers[id % to_readers.len()].send(idler);
                    last_err.clear();
                    break;
                }
                Err(e) => last_err = e,
            }
        }
        if !last_err.is_empty() {
            // The class of the error: its text up to the first colon.
            let class = last_err.split(':').next().unwrap_or("").to_owned();
            if let Ok(mut f) = failures.lock() {
                if f.is_empty() {
                    eprintln!("idle_push: session {id} failed: {last_err}");
                }
                *f.entry(class).or_default() += 1;
            }
        }
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if n % 1000 == 0 || n == opts.conns {
            let el = started.elapsed().as_secs_f64();
            let rss = sample(opts.pid).map(|s| mib(s.rss_kib)).unwrap_or(0.0);
            eprintln!(
                "  {n} sessions set up in {el:.1} s ({:.0}/s), server RSS {rss:.1} MiB",
                n as f64 / el
            );
        }
    };
    // Two phases: the first 10%, a pause with nothing in flight, a sample, then the rest. The
    // slope between the two quiet samples is the marginal cost of an idle session, free of
    // one-time allocations (SQLite caches, TLS config) and of argon2's 19 MiB per LOGIN in
    // flight (a sample taken mid-setup would count those).
    let warm_n = (opts.conns / 10).max(1);
    let mut warm_s = before;
    for (lo, hi) in [(0, warm_n), (warm_n, opts.conns)] {
        next.store(lo, Ordering::Relaxed);
        thread::scope(|scope| {
            for _ in 0..opts.establishers.min(hi - lo) {
                scope.spawn(|| {
                    for _ in lo..hi {
                        let id = next.fetch_add(1, Ordering::Relaxed);
                        if id >= hi || Instant::now() > deadline {
                            return;
                        }
                        establish_one(id);
                    }
                });
            }
        });
        if lo == 0 {
            thread::sleep(Duration::from_secs(1));
            warm_s = sample(opts.pid)?;
        }
    }
    let setup_secs = started.elapsed().as_secs_f64();
    let sessions: Vec<Option<(usize, u32)>> = sessions.into_inner().unwrap_or_default();
    let established = sessions.iter().filter(|s| s.is_some()).count();
    let failures = failures.into_inner().unwrap_or_default();
    let failed_setup: u64 = failures.values().sum();
    eprintln!(
        "{established} of {} sessions idling after {setup_secs:.1} s ({:.0}/s); failed: {failed_setup} {failures:?}; retries {}",
        opts.conns,
        established as f64 / setup_secs,
        retries.load(Ordering::Relaxed)
    );
    let held_by = Instant::now() + Duration::from_secs(30);
    while counters.registered.load(Ordering::Relaxed) < established && Instant::now() < held_by {
        thread::sleep(Duration::from_millis(20));
    }
    if established == 0 {
        stop.store(true, Ordering::Relaxed);
        return Err("no session could be established".into());
    }

    // --------------------------------------------------------------- idle: memory, threads, CPU
    thread::sleep(Duration::from_secs_f64(opts.settle));
    let idle = sample(opts.pid)?;
    let closed_before_idle = counters.closed.load(Ordering::Relaxed);
    let keep0 = counters.keepalives.load(Ordering::Relaxed);
    let other0 = counters.other_lines.load(Ordering::Relaxed)
        + counters.exists_lines.load(Ordering::Relaxed);
    let t0 = Instant::now();
    thread::sleep(Duration::from_secs_f64(opts.idle_seconds));
    let after_idle = sample(opts.pid)?;
    let window = t0.elapsed().as_secs_f64();
    let idle_cpu_pct =
        (after_idle.cpu_ticks.saturating_sub(idle.cpu_ticks)) as f64 / ticks / window * 100.0;
    let idle_switches = after_idle
        .voluntary_switches
        .saturating_sub(idle.voluntary_switches);
    let window_keepalives = counters.keepalives.load(Ordering::Relaxed) - keep0;
    let window_other = counters.other_lines.load(Ordering::Relaxed)
        + counters.exists_lines.load(Ordering::Relaxed)
        - other0;
    let per_session_kib = idle.rss_kib.saturating_sub(before.rss_kib) as f64 / established as f64;
    let marginal_kib = if established > warm_n {
        idle.rss_kib.saturating_sub(warm_s.rss_kib) as f64 / (established - warm_n) as f64
    } else {
        f64::NAN
    };
    eprintln!(
        "idle: server RSS {:.1} MiB (anon {:.1}), {:.1} KiB/session overall, {:.1} KiB/session from {warm_n} to {established}; threads {} (before {}); CPU {:.2}% of a core over {window:.0} s, {idle_switches} voluntary switches of the reactor (main) thread; {window_keepalives} keepalives, {window_other} other lines at clients",
        mib(idle.rss_kib),
        mib(idle.anon_kib),
        per_session_kib,
        marginal_kib,
        idle.threads,
        before.threads,
        idle_cpu_pct,
    );

    // --------------------------------------------------------------- push
    std::fs::create_dir_all(&opts.work).map_err(|e| format!("{}: {e}", opts.work.display()))?;
    let mut archive = imapvault::archive::Archive::open(&opts.archive)
        .map_err(|e| format!("archive {}: {e}", opts.archive.display()))?;
    let mut by_user: Vec<Vec<usize>> = vec![Vec::new(); opts.users];
    // Per session: the EXISTS it must reach next, and whether it did.
    let mut target: Vec<u32> = vec![0; opts.conns];
    for (id, s) in sessions.iter().enumerate() {
        if let Some((u, exists)) = s {
            by_user[*u].push(id);
            target[id] = *exists;
        }
    }
    let mut latencies_ms: Vec<f64> = Vec::new();
    let mut round_max_ms: Vec<f64> = Vec::new();
    let mut commit_ms: Vec<f64> = Vec::new();
    let mut missed: u64 = 0;
    let mut expected_total: u64 = 0;
    let mut user_cursor = 0usize;
    let push_timeout = Duration::from_secs_f64(opts.push_timeout);
    // Arrivals that came in outside any round (e.g. a late one).
    let mut stray: u64 = 0;
    // xorshift64 state for the gaps between rounds (seeded from the clock, never zero).
    let mut jitter: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
        | 1;
    for round in 0..opts.rounds {
        // Nothing should arrive between rounds; anything that does is counted, not timed.
        while arrivals.try_recv().is_ok() {
            stray += 1;
        }
        // Waiting: session → (commit instant of its user's message).
        let mut waiting: HashMap<usize, Instant> = HashMap::new();
        let mut round_commits = Vec::new();
        for _ in 0..opts.per_round {
            let u = user_cursor % opts.users;
            user_cursor += 1;
            let file = opts.work.join(format!("r{round}-u{u}.eml"));
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let body = format!(
                "From: Push Bench <push@bench.invalid>\r\nTo: {0}@bench.invalid\r\nSubject: push round {round} for {0}\r\nDate: Mon, 1 Jan 2024 12:00:00 +0000\r\nMessage-ID: <push-{round}-{u}-{nanos}@bench.invalid>\r\n\r\nRound {round}, pushed at {nanos}.\r\n",
                opts.user_name(u)
            );
            std::fs::write(&file, body).map_err(|e| format!("{}: {e}", file.display()))?;
            let t_start = Instant::now();
            let summary = imapvault::import::run(
                &mut archive,
                &opts.user_name(u),
                imapvault::import::Target::Folder("INBOX".into()),
                &[file],
                &mut |_| {},
            )
            .map_err(|e| format!("import for {}: {e}", opts.user_name(u)))?;
            let committed = Instant::now();
            commit_ms.push((committed - t_start).as_secs_f64() * 1e3);
            if summary.imported != 1 {
                return Err(format!("import for {}: {summary}", opts.user_name(u)));
            }
            for &id in &by_user[u] {
                target[id] += 1;
                waiting.insert(id, committed);
            }
            round_commits.push(committed);
        }
        expected_total += waiting.len() as u64;
        let last_commit = round_commits
            .iter()
            .max()
            .copied()
            .unwrap_or_else(Instant::now);
        let give_up = last_commit + push_timeout;
        let mut worst = 0.0f64;
        for _ in 0..(opts.conns * 4 + 16) {
            if waiting.is_empty() {
                break;
            }
            let left = give_up.saturating_duration_since(Instant::now());
            match arrivals.recv_timeout(left) {
                Ok(a) => {
                    let Some(&committed) = waiting.get(&a.id) else {
                        stray += 1;
                        continue;
                    };
                    if a.exists >= target[a.id] {
                        waiting.remove(&a.id);
                        let ms = a.at.saturating_duration_since(committed).as_secs_f64() * 1e3;
                        worst = worst.max(ms);
                        latencies_ms.push(ms);
                    }
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if !waiting.is_empty() {
            eprintln!(
                "  round {round}: {} session(s) got no EXISTS within {:.1} s",
                waiting.len(),
                opts.push_timeout
            );
            missed += waiting.len() as u64;
        }
        round_max_ms.push(worst);
        // A pause, so that rounds are separate events for the watcher, with jitter: a fixed
        // gap that is a multiple of the watcher's 20 ms poll would keep every commit at the same
        // phase of its cycle and measure one point of the 0–20 ms spread, not the spread.
        jitter = jitter ^ (jitter << 13);
        jitter ^= jitter >> 7;
        jitter ^= jitter << 17;
        thread::sleep(Duration::from_millis(200 + jitter % 97));
    }
    let after_push = sample(opts.pid)?;
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        match r.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("idle_push: reader: {e}"),
            Err(_) => eprintln!("idle_push: a reader panicked"),
        }
    }

    latencies_ms.sort_by(|a, b| a.total_cmp(b));
    commit_ms.sort_by(|a, b| a.total_cmp(b));
    let p50 = percentile(&latencies_ms, 50.0);
    let p99 = percentile(&latencies_ms, 99.0);
    let max = latencies_ms.last().copied().unwrap_or(f64::NAN);
    let closed = counters.closed.load(Ordering::Relaxed);
    println!(
        "RESULT workload=idle-push conns={} established={established} setup_failed={failed_setup} setup_secs={setup_secs:.1} \
rss0_kib={} rss_idle_kib={} anon_idle_kib={} rss_warm_kib={} warm_n={warm_n} kib_per_session={per_session_kib:.1} marginal_kib_per_session={marginal_kib:.1} \
threads0={} threads_idle={} idle_cpu_pct={idle_cpu_pct:.2} idle_window_s={window:.1} idle_voluntary_switches={idle_switches} idle_keepalives={window_keepalives} idle_other_lines={window_other} \
rounds={} per_round={} notified={} expected={expected_total} missed={missed} stray={stray} p50_ms={p50:.1} p99_ms={p99:.1} max_ms={max:.1} \
commit_p50_ms={:.1} rss_after_push_kib={} closed_before_idle={closed_before_idle} closed_total={closed} byes={} client_rss_kib={}",
        opts.conns,
        before.rss_kib,
        idle.rss_kib,
        idle.anon_kib,
        warm_s.rss_kib,
        before.threads,
        idle.threads,
        opts.rounds,
        opts.per_round,
        latencies_ms.len(),
        percentile(&commit_ms, 50.0),
        after_push.rss_kib,
        counters.byes.load(Ordering::Relaxed),
        self_rss_kib(),
    );
    let rounds_sorted = {
        let mut r = round_max_ms.clone();
        r.sort_by(|a, b| a.total_cmp(b));
        r
    };
    eprintln!(
        "push: {} of {expected_total} sessions notified, {missed} missed; commit→EXISTS p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms; per-round slowest median {:.1} ms; import (one message) p50 {:.1} ms",
        latencies_ms.len(),
        percentile(&rounds_sorted, 50.0),
        percentile(&commit_ms, 50.0),
    );
    Ok(())
}
