//! IMAP load client for the imapvault-vs-Dovecot comparison (`benches/compare.sh`).
//!
//! Owns: the four workloads (`fetch-bodies`, `open-folder`, `mixed`, `logins`), a minimal IMAP
//! client (line + literal framing over rustls, no response parsing beyond what the workloads
//! need) and the `RESULT key=value ...` lines that compare.sh turns into the table.
//! Does not own: starting or configuring servers (compare.sh), the corpus (gen_corpus.py).
//!
//! Synchronous on purpose, like the server: std threads, blocking sockets, rustls with ring.
//! Every loop is bounded both by a count and by `--seconds`, so a stuck server cannot hang a run.
//!
//! ```text
//! cargo bench --bench load_client -- WORKLOAD --port P --ca ca.pem --user U --pass PW [options]
//!   --host 127.0.0.1  --rounds 3 (fetch-bodies)  --repeats 50 (open-folder)
//!   --clients N (mixed: 100, logins: 8, fetch-bodies: 1)  --seconds S  --label NAME
//!   --name NAME (the workload's name in the RESULT line)
//! ```

#[path = "support/tls.rs"]
mod tls;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// Socket read/write timeout: a server that stops answering is counted as an error, not waited
/// for forever.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest response line we accept (literals excluded); anything longer is a framing error.
const MAX_LINE: usize = 1 << 20;

fn main() {
    // `cargo test --all-targets` runs bench binaries with no arguments: nothing to measure then
    // (benches/compare.sh gives the workload), and that is not a failure.
    if std::env::args().len() <= 1 {
        println!("load_client: no workload given; run it from benches/compare.sh");
        return;
    }
    let opts = match Opts::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("load_client: {e}\n\n{}", USAGE);
            std::process::exit(2);
        }
    };
    let cfg = match tls::client_config(&opts.ca) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("load_client: CA file {}: {e}", opts.ca);
            std::process::exit(2);
        }
    };
    let outcome = match opts.workload {
        Workload::FetchBodies => fetch_bodies(&opts, &cfg),
        Workload::OpenFolder => open_folder(&opts, &cfg),
        Workload::Mixed => mixed(&opts, &cfg),
        Workload::Logins => logins(&opts, &cfg),
    };
    if let Err(e) = outcome {
        eprintln!("load_client: {}: {e}", opts.workload.name());
        println!(
            "RESULT label={} workload={} failed=1",
            opts.label,
            opts.workload.name()
        );
        std::process::exit(1);
    }
}

const USAGE: &str = "usage: load_client fetch-bodies|open-folder|mixed|logins --port P --ca FILE \
--user U --pass PW [--host H] [--rounds N] [--repeats N] [--clients N] [--seconds S] \
[--batch N] [--mailbox NAME] [--label NAME] [--name NAME]";

// ------------------------------------------------------------------------------------ options

#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    FetchBodies,
    OpenFolder,
    Mixed,
    Logins,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::FetchBodies => "fetch-bodies",
            Workload::OpenFolder => "open-folder",
            Workload::Mixed => "mixed",
            Workload::Logins => "logins",
        }
    }
}

struct Opts {
    workload: Workload,
    host: String,
    port: u16,
    user: String,
    pass: String,
    ca: String,
    mailbox: String,
    label: String,
    /// The workload's name in the RESULT line (to tell two runs of one workload apart).
    name: String,
    rounds: u32,
    repeats: u32,
    clients: usize,
    seconds: f64,
    batch: u32,
}

impl Opts {
    fn parse(args: impl Iterator<Item = String>) -> Result<Opts, String> {
        let mut workload = None;
        let mut kv = std::collections::HashMap::new();
        let mut args = args.peekable();
        while let Some(a) = args.next() {
            // `cargo bench` appends `--bench` to the arguments of a harness = false target.
            if a == "--bench" {
                continue;
            }
            if let Some(key) = a.strip_prefix("--") {
                let v = args
                    .next()
                    .ok_or_else(|| format!("--{key} needs a value"))?;
                kv.insert(key.to_owned(), v);
            } else if workload.is_none() {
                workload = Some(match a.as_str() {
                    "fetch-bodies" => Workload::FetchBodies,
                    "open-folder" => Workload::OpenFolder,
                    "mixed" => Workload::Mixed,
                    "logins" => Workload::Logins,
                    other => return Err(format!("unknown workload {other:?}")),
                });
            } else {
                return Err(format!("unexpected argument {a:?}"));
            }
        }
        let workload = workload.ok_or("no workload given")?;
        let mut take = |k: &str| kv.remove(k);
        let num = |v: Option<String>, k: &str, d: f64| -> Result<f64, String> {
            v.map_or(Ok(d), |s| {
                s.parse().map_err(|_| format!("--{k}: not a number: {s}"))
            })
        };
        let default_clients = match workload {
            Workload::Mixed => 100.0,
            Workload::Logins => 8.0,
            _ => 1.0,
        };
        let default_seconds = match workload {
            Workload::FetchBodies | Workload::OpenFolder => 120.0,
            _ => 20.0,
        };
        let opts = Opts {
            workload,
            host: take("host").unwrap_or_else(|| "127.0.0.1".into()),
            port: num(take("port"), "port", 0.0)? as u16,
            user: take("user").ok_or("--user is required")?,
            pass: take("pass").ok_or("--pass is required")?,
            ca: take("ca").ok_or("--ca is required")?,
            mailbox: take("mailbox").unwrap_or_else(|| "INBOX".into()),
            label: take("label").unwrap_or_else(|| "server".into()),
            name: take("name").unwrap_or_else(|| workload.name().into()),
            rounds: num(take("rounds"), "rounds", 3.0)? as u32,
            repeats: num(take("repeats"), "repeats", 50.0)? as u32,
            clients: num(take("clients"), "clients", default_clients)? as usize,
            seconds: num(take("seconds"), "seconds", default_seconds)?,
            batch: num(take("batch"), "batch", 100.0)? as u32,
        };
        if let Some(k) = kv.keys().next() {
            return Err(format!("unknown option --{k}"));
        }
        if opts.port == 0 || opts.clients == 0 || opts.batch == 0 {
            return Err("--port, --clients and --batch must be positive".into());
        }
        Ok(opts)
    }

    fn deadline(&self) -> Instant {
        Instant::now() + Duration::from_secs_f64(self.seconds)
    }
}

// ------------------------------------------------------------------------------ IMAP client

/// How a tagged command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    No,
    Bad,
}

/// What a command's responses amounted to.
#[derive(Default)]
struct Reply {
    /// `* N FETCH` responses seen.
    fetches: u64,
    /// Bytes inside literals (message bodies, headers).
    literal_bytes: u64,
    /// The logical untagged responses, literals left out; only kept when asked for.
    untagged: Vec<Vec<u8>>,
}

#[derive(Debug)]
enum ImapError {
    Io(io::Error),
    /// Tagged NO or BAD, with the line.
    Refused(Status, String),
    /// Untagged BYE outside LOGOUT, or a greeting that is not OK.
    Bye(String),
    /// Something that is not IMAP as we expect it.
    Protocol(String),
}

impl std::fmt::Display for ImapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImapError::Io(e) => write!(f, "I/O: {e}"),
            ImapError::Refused(s, l) => write!(f, "{s:?}: {l}"),
            ImapError::Bye(l) => write!(f, "BYE: {l}"),
            ImapError::Protocol(l) => write!(f, "protocol: {l}"),
        }
    }
}

impl ImapError {
    /// A short class for error tallies.
    fn kind(&self) -> &'static str {
        match self {
            ImapError::Io(e) if e.kind() == io::ErrorKind::WouldBlock => "timeout",
            ImapError::Io(e) if e.kind() == io::ErrorKind::TimedOut => "timeout",
            ImapError::Io(_) => "io",
            ImapError::Refused(Status::No, _) => "NO",
            ImapError::Refused(_, _) => "BAD",
            ImapError::Bye(_) => "BYE",
            ImapError::Protocol(_) => "protocol",
        }
    }
}

impl From<io::Error> for ImapError {
    fn from(e: io::Error) -> Self {
        ImapError::Io(e)
    }
}

type Res<T> = Result<T, ImapError>;

/// One IMAP connection over TLS with its own read buffer: lines are cut at LF, literals
/// (`{N}` at the end of a line) are consumed by count without copying.
struct Conn {
    tls: StreamOwned<ClientConnection, TcpStream>,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    next_tag: u32,
}

impl Conn {
    /// Connects, completes the TLS handshake and reads the greeting.
    fn connect(cfg: &Arc<ClientConfig>, host: &str, port: u16) -> Res<Conn> {
        let tcp = TcpStream::connect((host, port))?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(IO_TIMEOUT))?;
        tcp.set_write_timeout(Some(IO_TIMEOUT))?;
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| ImapError::Protocol(format!("server name {host}: {e}")))?;
        let tls = ClientConnection::new(cfg.clone(), name)
            .map_err(|e| ImapError::Protocol(e.to_string()))?;
        let mut c = Conn {
            tls: StreamOwned::new(tls, tcp),
            buf: vec![0u8; 256 * 1024].into_boxed_slice(),
            start: 0,
            end: 0,
            next_tag: 1,
        };
        let mut greeting = Vec::new();
        c.read_line(&mut greeting)?;
        if !greeting.starts_with(b"* OK") && !greeting.starts_with(b"* PREAUTH") {
            return Err(ImapError::Bye(lossy(&greeting)));
        }
        Ok(c)
    }

    fn login(&mut self, user: &str, pass: &str) -> Res<()> {
        self.command(&format!("LOGIN {} {}", quote(user), quote(pass)), false)
            .map(drop)
    }

    /// SELECTs `mailbox` and returns (EXISTS, UIDNEXT).
    fn select(&mut self, mailbox: &str) -> Res<(u32, u32)> {
        let r = self.command(&format!("SELECT {}", quote(mailbox)), true)?;
        let mut exists = None;
        let mut uidnext = None;
        for line in &r.untagged {
            let s = lossy(line);
            let words: Vec<&str> = s.split_whitespace().collect();
            if words.len() >= 3 && words[2].eq_ignore_ascii_case("EXISTS") {
                exists = words[1].parse().ok();
            }
            if let Some(i) = s.find("[UIDNEXT ") {
                uidnext = s[i + 9..]
                    .split(']')
                    .next()
                    .and_then(|n| n.trim().parse().ok());
            }
        }
        match (exists, uidnext) {
            (Some(e), Some(u)) => Ok((e, u)),
            _ => Err(ImapError::Protocol(
                "SELECT without EXISTS or UIDNEXT".into(),
            )),
        }
    }

    fn logout(mut self) -> Res<()> {
        let tag = self.send("LOGOUT")?;
        // The BYE is expected here; read until the tagged answer.
        let mut line = Vec::new();
        loop {
            line.clear();
            self.read_response(&mut line, None)?;
            if line.starts_with(tag.as_bytes()) {
                break;
            }
        }
        self.tls.conn.send_close_notify();
        let _ = self.tls.flush();
        Ok(())
    }

    fn send(&mut self, cmd: &str) -> Res<String> {
        let tag = format!("a{}", self.next_tag);
        self.next_tag += 1;
        let line = format!("{tag} {cmd}\r\n");
        self.tls.write_all(line.as_bytes())?;
        self.tls.flush()?;
        Ok(tag)
    }

    /// Sends `cmd` and reads every response up to its tagged completion. NO, BAD and an
    /// untagged BYE are errors. With `keep`, the untagged responses are returned (literals
    /// left out).
    fn command(&mut self, cmd: &str, keep: bool) -> Res<Reply> {
        let tag = self.send(cmd)?;
        let mut reply = Reply::default();
        let mut line = Vec::with_capacity(256);
        loop {
            line.clear();
            self.read_response(&mut line, Some(&mut reply))?;
            if line.starts_with(b"* ") {
                let head = head_words(&line);
                if head.first().is_some_and(|w| w.eq_ignore_ascii_case("BYE")) {
                    return Err(ImapError::Bye(lossy(&line)));
                }
                if head.get(1).is_some_and(|w| w.eq_ignore_ascii_case("FETCH")) {
                    reply.fetches += 1;
                }
                if keep {
                    reply.untagged.push(line.clone());
                }
            } else if line.starts_with(tag.as_bytes()) && line.get(tag.len()) == Some(&b' ') {
                let rest = &line[tag.len() + 1..];
                let status = if starts_with_ci(rest, b"OK") {
                    Status::Ok
                } else if starts_with_ci(rest, b"NO") {
                    Status::No
                } else {
                    Status::Bad
                };
                if status != Status::Ok {
                    return Err(ImapError::Refused(status, lossy(&line)));
                }
                return Ok(reply);
            } else {
                return Err(ImapError::Protocol(format!(
                    "unexpected line for {tag}: {}",
                    lossy(&line)
                )));
            }
        }
    }

    /// Reads one logical response: a line, and for each literal announced at its end, the
    /// literal (counted, not kept) and the line that continues after it. `out` gets the line
    /// text with literals left out.
    fn read_response(&mut self, out: &mut Vec<u8>, mut reply: Option<&mut Reply>) -> Res<()> {
        loop {
            let from = out.len();
            self.read_line(out)?;
            match literal_len(&out[from..]) {
                Some(n) => {
                    self.skip(n)?;
                    if let Some(r) = reply.as_deref_mut() {
                        r.literal_bytes += n as u64;
                    }
                }
                None => return Ok(()),
            }
        }
    }

    fn fill(&mut self) -> Res<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = self.tls.read(&mut self.buf[self.end..])?;
        if n == 0 {
            return Err(ImapError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        self.end += n;
        Ok(())
    }

    /// Appends one line (through its LF) to `out`.
    fn read_line(&mut self, out: &mut Vec<u8>) -> Res<()> {
        let base = out.len();
        loop {
            let avail = &self.buf[self.start..self.end];
            if let Some(i) = avail.iter().position(|&b| b == b'\n') {
                out.extend_from_slice(&avail[..=i]);
                self.start += i + 1;
                return Ok(());
            }
            out.extend_from_slice(avail);
            self.start = self.end;
            if out.len() - base > MAX_LINE {
                return Err(ImapError::Protocol("response line over 1 MiB".into()));
            }
            self.fill()?;
        }
    }

    /// Consumes `n` bytes of literal.
    fn skip(&mut self, mut n: usize) -> Res<()> {
        while n > 0 {
            if self.start == self.end {
                self.fill()?;
            }
            let take = n.min(self.end - self.start);
            self.start += take;
            n -= take;
        }
        Ok(())
    }

    fn cipher(&self) -> String {
        self.tls
            .conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_else(|| "?".into())
    }
}

/// `{N}` or `{N+}` at the end of a line (before CRLF) announces a literal of N bytes.
fn literal_len(line: &[u8]) -> Option<usize> {
    let l = line.strip_suffix(b"\n")?;
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    let l = l.strip_suffix(b"}")?;
    let open = l.iter().rposition(|&b| b == b'{')?;
    let digits = &l[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The second and third words of an untagged line (`* 12 FETCH` → ["12", "FETCH"]).
fn head_words(line: &[u8]) -> Vec<&str> {
    let end = line.len().min(64);
    let s = std::str::from_utf8(&line[2..end]).unwrap_or("");
    s.split([' ', '\r', '\n']).take(2).collect()
}

fn starts_with_ci(s: &[u8], p: &[u8]) -> bool {
    s.len() >= p.len() && s[..p.len()].eq_ignore_ascii_case(p)
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end().to_owned()
}

fn login_conn(o: &Opts, cfg: &Arc<ClientConfig>) -> Res<Conn> {
    let mut c = Conn::connect(cfg, &o.host, o.port)?;
    c.login(&o.user, &o.pass)?;
    Ok(c)
}

// ------------------------------------------------------------------------------- statistics

/// Percentile by nearest rank over a sorted slice, in milliseconds.
fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

fn result_line(o: &Opts, fields: &[(&str, String)]) {
    let mut s = format!("RESULT label={} workload={}", o.label, o.name);
    for (k, v) in fields {
        s.push_str(&format!(" {k}={v}"));
    }
    println!("{s}");
}

// -------------------------------------------------------------------------------- workloads

/// SELECT, then `UID FETCH a:b BODY.PEEK[]` in batches over the whole mailbox, `--rounds`
/// times, on `--clients` connections at once (each reads the whole mailbox).
fn fetch_bodies(o: &Opts, cfg: &Arc<ClientConfig>) -> Res<()> {
    let deadline = o.deadline();
    let mut conns = Vec::new();
    let mut ranges = Vec::new();
    for _ in 0..o.clients {
        let mut c = login_conn(o, cfg)?;
        ranges.push(c.select(&o.mailbox)?);
        conns.push(c);
    }
    let cipher = conns[0].cipher();
    let t0 = Instant::now();
    let handles: Vec<_> = conns
        .into_iter()
        .zip(ranges)
        .map(|(mut c, (exists, uidnext))| {
            let (rounds, batch) = (o.rounds, o.batch);
            std::thread::spawn(move || -> Res<(u64, u64, u32, u32)> {
                let (mut msgs, mut bytes, mut done) = (0u64, 0u64, 0u32);
                'rounds: for _ in 0..rounds {
                    let mut a = 1u32;
                    while a < uidnext {
                        if Instant::now() > deadline {
                            break 'rounds;
                        }
                        let b = (a + batch - 1).min(uidnext - 1);
                        let r = c.command(&format!("UID FETCH {a}:{b} BODY.PEEK[]"), false)?;
                        msgs += r.fetches;
                        bytes += r.literal_bytes;
                        a = b + 1;
                    }
                    done += 1;
                }
                let _ = c.logout();
                Ok((msgs, bytes, done, exists))
            })
        })
        .collect();
    let (mut msgs, mut bytes, mut rounds_done, mut exists) = (0, 0, u32::MAX, 0);
    for h in handles {
        let (m, b, d, e) = h
            .join()
            .map_err(|_| ImapError::Protocol("client thread panicked".into()))??;
        msgs += m;
        bytes += b;
        rounds_done = rounds_done.min(d);
        exists = e;
    }
    let secs = t0.elapsed().as_secs_f64();
    let expected = u64::from(exists) * u64::from(rounds_done) * o.clients as u64;
    eprintln!(
        "{}: fetch-bodies: {msgs} messages, {:.1} MiB in {secs:.2} s: {:.1} MiB/s, {:.0} msg/s \
         ({} of {} rounds, {} client(s), {cipher})",
        o.label,
        bytes as f64 / 1048576.0,
        bytes as f64 / 1048576.0 / secs,
        msgs as f64 / secs,
        rounds_done,
        o.rounds,
        o.clients,
    );
    if msgs < expected {
        eprintln!(
            "{}: fetch-bodies: only {msgs} of {expected} expected FETCH responses",
            o.label
        );
    }
    result_line(
        o,
        &[
            ("msgs", msgs.to_string()),
            ("bytes", bytes.to_string()),
            ("secs", format!("{secs:.3}")),
            ("bytes_per_s", format!("{:.0}", bytes as f64 / secs)),
            ("msgs_per_s", format!("{:.1}", msgs as f64 / secs)),
            ("rounds_done", rounds_done.to_string()),
            ("exists", exists.to_string()),
            ("cipher", cipher),
        ],
    );
    Ok(())
}

/// What a client does when it opens a folder: SELECT, ENVELOPE and BODYSTRUCTURE of the newest
/// 500, then UID and FLAGS of everything. One logged-in connection, `--repeats` times.
fn open_folder(o: &Opts, cfg: &Arc<ClientConfig>) -> Res<()> {
    let deadline = o.deadline();
    let mut c = login_conn(o, cfg)?;
    let mut total = Vec::new();
    let mut parts: [Vec<Duration>; 3] = Default::default();
    let mut exists_seen = 0;
    for _ in 0..o.repeats {
        if Instant::now() > deadline {
            break;
        }
        let t0 = Instant::now();
        let (exists, uidnext) = c.select(&o.mailbox)?;
        let t1 = Instant::now();
        let lo = uidnext.saturating_sub(500).max(1);
        let r = c.command(
            &format!("UID FETCH {lo}:* (UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE)"),
            false,
        )?;
        let t2 = Instant::now();
        let all = c.command("FETCH 1:* (UID FLAGS)", false)?;
        let t3 = Instant::now();
        let want_new = u64::from((uidnext - lo).min(exists));
        if r.fetches != want_new || all.fetches != u64::from(exists) {
            return Err(ImapError::Protocol(format!(
                "open-folder: got {} + {} FETCH responses, expected {want_new} + {exists}",
                r.fetches, all.fetches
            )));
        }
        exists_seen = exists;
        total.push(t3 - t0);
        parts[0].push(t1 - t0);
        parts[1].push(t2 - t1);
        parts[2].push(t3 - t2);
    }
    let _ = c.logout();
    total.sort();
    for p in &mut parts {
        p.sort();
    }
    eprintln!(
        "{}: open-folder ({} repeats, {exists_seen} messages): p50 {:.1} ms, p99 {:.1} ms \
         [select p50 {:.1}, envelope-500 p50 {:.1}, flags-all p50 {:.1}]",
        o.label,
        total.len(),
        pct(&total, 50.0),
        pct(&total, 99.0),
        pct(&parts[0], 50.0),
        pct(&parts[1], 50.0),
        pct(&parts[2], 50.0),
    );
    result_line(
        o,
        &[
            ("repeats", total.len().to_string()),
            ("p50_ms", format!("{:.2}", pct(&total, 50.0))),
            ("p99_ms", format!("{:.2}", pct(&total, 99.0))),
            ("select_p50_ms", format!("{:.2}", pct(&parts[0], 50.0))),
            ("envelope_p50_ms", format!("{:.2}", pct(&parts[1], 50.0))),
            ("flags_p50_ms", format!("{:.2}", pct(&parts[2], 50.0))),
        ],
    );
    Ok(())
}

/// The commands of the mixed load and their weights.
const MIX: &[(&str, u32)] = &[
    ("SELECT", 5),
    ("STATUS", 10),
    ("LIST", 10),
    ("FETCH", 30),
    ("SEARCH", 10),
    ("UIDSEARCH", 10),
    ("NOOP", 25),
];

fn mix_command(op: usize, rng: &mut u64, exists: u32, mailbox: &str) -> String {
    match MIX[op].0 {
        "SELECT" => format!("SELECT {}", quote(mailbox)),
        "STATUS" => format!("STATUS {} (MESSAGES UIDNEXT UNSEEN)", quote(mailbox)),
        "LIST" => "LIST \"\" \"*\"".into(),
        "FETCH" => {
            let span = exists.saturating_sub(9).max(1);
            let a = 1 + (xorshift(rng) % u64::from(span)) as u32;
            let b = (a + 9).min(exists.max(1));
            format!("FETCH {a}:{b} (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER])")
        }
        "SEARCH" => "SEARCH SINCE 1-Jan-2020 LARGER 5000".into(),
        "UIDSEARCH" => "UID SEARCH 1:100".into(),
        _ => "NOOP".into(),
    }
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn pick(rng: &mut u64) -> usize {
    let sum: u32 = MIX.iter().map(|m| m.1).sum();
    let mut r = (xorshift(rng) % u64::from(sum)) as u32;
    for (i, m) in MIX.iter().enumerate() {
        if r < m.1 {
            return i;
        }
        r -= m.1;
    }
    MIX.len() - 1
}

/// Per-thread tallies of the mixed load.
#[derive(Default)]
struct MixStats {
    lat: Vec<Vec<Duration>>,
    errors: std::collections::BTreeMap<String, u64>,
    first_error: Option<String>,
}

impl MixStats {
    fn error(&mut self, what: &str, e: &ImapError) {
        *self
            .errors
            .entry(format!("{what}:{}", e.kind()))
            .or_default() += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{what}: {e}"));
        }
    }
}

/// `--clients` connections, logged in and SELECTed before the clock starts, each looping the
/// weighted MIX for `--seconds`. An error is counted; after an I/O error or BYE the client
/// reconnects (the reconnection time counts against it).
fn mixed(o: &Opts, cfg: &Arc<ClientConfig>) -> Res<()> {
    const MAX_OPS_PER_CLIENT: u64 = 10_000_000;
    let barrier = Arc::new(Barrier::new(o.clients + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let all = Arc::new(Mutex::new(Vec::<MixStats>::new()));
    let connect = |st: &mut MixStats| -> Option<(Conn, u32)> {
        let r = login_conn(o, cfg).and_then(|mut c| c.select(&o.mailbox).map(|(e, _)| (c, e)));
        r.map_err(|e| st.error("connect", &e)).ok()
    };
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for id in 0..o.clients {
            let (barrier, stop, all) = (barrier.clone(), stop.clone(), all.clone());
            let connect = &connect;
            let mailbox = &o.mailbox;
            handles.push(s.spawn(move || {
                let mut st = MixStats {
                    lat: vec![Vec::new(); MIX.len()],
                    ..Default::default()
                };
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ ((id as u64 + 1) * 0x2545_F491_4F6C_DD1D);
                let mut conn = connect(&mut st);
                barrier.wait();
                let mut ops = 0u64;
                while !stop.load(Ordering::Relaxed) && ops < MAX_OPS_PER_CLIENT {
                    let Some((c, exists)) = conn.as_mut() else {
                        conn = connect(&mut st);
                        if conn.is_none() {
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        continue;
                    };
                    let op = pick(&mut rng);
                    let cmd = mix_command(op, &mut rng, *exists, mailbox);
                    let t = Instant::now();
                    match c.command(&cmd, false) {
                        Ok(_) => st.lat[op].push(t.elapsed()),
                        Err(e) => {
                            st.error(MIX[op].0, &e);
                            if matches!(
                                e,
                                ImapError::Io(_) | ImapError::Bye(_) | ImapError::Protocol(_)
                            ) {
                                conn = None;
                            }
                        }
                    }
                    ops += 1;
                }
                if let Some((c, _)) = conn {
                    let _ = c.logout();
                }
                all.lock().unwrap_or_else(|p| p.into_inner()).push(st);
            }));
        }
        barrier.wait();
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(o.seconds));
        stop.store(true, Ordering::Relaxed);
        let elapsed = t0.elapsed();
        for h in handles {
            let _ = h.join();
        }
        // Commands still in flight when the clock stopped finish after it; they count, and the
        // time they take is small against --seconds.
        report_mixed(o, &all.lock().unwrap_or_else(|p| p.into_inner()), elapsed);
    });
    Ok(())
}

fn report_mixed(o: &Opts, stats: &[MixStats], elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    let mut fields = Vec::new();
    let mut total = 0usize;
    let mut all_lat = Vec::new();
    let mut lines = Vec::new();
    for (i, (name, _)) in MIX.iter().enumerate() {
        let mut l: Vec<Duration> = stats
            .iter()
            .flat_map(|s| s.lat[i].iter().copied())
            .collect();
        l.sort();
        total += l.len();
        all_lat.extend_from_slice(&l);
        lines.push(format!(
            "{name} n={} p50={:.2}ms p99={:.2}ms",
            l.len(),
            pct(&l, 50.0),
            pct(&l, 99.0)
        ));
        fields.push((
            format!("{}_p50_ms", name.to_lowercase()),
            format!("{:.2}", pct(&l, 50.0)),
        ));
        fields.push((
            format!("{}_p99_ms", name.to_lowercase()),
            format!("{:.2}", pct(&l, 99.0)),
        ));
    }
    all_lat.sort();
    let mut errors = std::collections::BTreeMap::<&str, u64>::new();
    for s in stats {
        for (k, v) in &s.errors {
            *errors.entry(k).or_default() += v;
        }
    }
    let nerr: u64 = errors.values().sum();
    eprintln!(
        "{}: mixed, {} clients, {secs:.1} s: {total} ok commands, {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, {nerr} errors {:?}",
        o.label,
        o.clients,
        total as f64 / secs,
        pct(&all_lat, 50.0),
        pct(&all_lat, 99.0),
        errors
    );
    if let Some(e) = stats.iter().find_map(|s| s.first_error.as_ref()) {
        eprintln!("{}: first error: {e}", o.label);
    }
    for l in lines {
        eprintln!("  {l}");
    }
    let err_detail = errors
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut f: Vec<(&str, String)> = vec![
        ("clients", o.clients.to_string()),
        ("secs", format!("{secs:.3}")),
        ("commands", total.to_string()),
        ("cmds_per_s", format!("{:.1}", total as f64 / secs)),
        ("p50_ms", format!("{:.2}", pct(&all_lat, 50.0))),
        ("p99_ms", format!("{:.2}", pct(&all_lat, 99.0))),
        ("errors", nerr.to_string()),
        (
            "error_kinds",
            if err_detail.is_empty() {
                "-".into()
            } else {
                err_detail
            },
        ),
    ];
    f.extend(fields.iter().map(|(k, v)| (k.as_str(), v.clone())));
    result_line(o, &f);
}

/// `--clients` threads, each looping TLS connect + LOGIN + LOGOUT for `--seconds`.
fn logins(o: &Opts, cfg: &Arc<ClientConfig>) -> Res<()> {
    const MAX_PER_CLIENT: u64 = 1_000_000;
    let deadline = o.deadline();
    let t0 = Instant::now();
    let results: Vec<(Vec<Duration>, u64, Option<String>)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..o.clients)
            .map(|_| {
                s.spawn(|| {
                    let (mut lat, mut errs, mut first) = (Vec::new(), 0u64, None);
                    for _ in 0..MAX_PER_CLIENT {
                        if Instant::now() > deadline {
                            break;
                        }
                        let t = Instant::now();
                        match login_conn(o, cfg).and_then(Conn::logout) {
                            Ok(()) => lat.push(t.elapsed()),
                            Err(e) => {
                                errs += 1;
                                first.get_or_insert_with(|| e.to_string());
                            }
                        }
                    }
                    (lat, errs, first)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let secs = t0.elapsed().as_secs_f64();
    let mut lat: Vec<Duration> = results.iter().flat_map(|r| r.0.iter().copied()).collect();
    lat.sort();
    let errs: u64 = results.iter().map(|r| r.1).sum();
    eprintln!(
        "{}: logins, {} clients, {secs:.1} s: {} ok, {:.1}/s, p50 {:.1} ms, p99 {:.1} ms, {errs} errors{}",
        o.label,
        o.clients,
        lat.len(),
        lat.len() as f64 / secs,
        pct(&lat, 50.0),
        pct(&lat, 99.0),
        results
            .iter()
            .find_map(|r| r.2.as_ref())
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    result_line(
        o,
        &[
            ("clients", o.clients.to_string()),
            ("logins", lat.len().to_string()),
            ("secs", format!("{secs:.3}")),
            ("logins_per_s", format!("{:.2}", lat.len() as f64 / secs)),
            ("p50_ms", format!("{:.1}", pct(&lat, 50.0))),
            ("p99_ms", format!("{:.1}", pct(&lat, 99.0))),
            ("errors", errs.to_string()),
        ],
    );
    Ok(())
}
