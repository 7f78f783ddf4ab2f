//! Every limit of the server, in one place: its default, why it has that value, the config key
//! that changes it (`[limits]` in the TOML file), and what a client that hits it is told.
//!
//! Owns: the numbers. [`Limits`] holds the ones an administrator may change (read from the
//! config by [`crate::config`], handed to the server and to every session); the `MAX_*`
//! constants below are fixed because they bound stack depth or shape data stored in the index,
//! or because an RFC fixes them. [`table`] describes them all, for the README and the man page
//! (tests check both against it). Does not own enforcement: the framer, the parser, the
//! session, the reactor and the MIME parser each check what concerns them, with these values.
//!
//! Why the configurable values:
//! - The archive is read-only, so no command legitimately carries a large literal: APPEND is
//!   refused whatever its size, and the largest honest literals are search strings, passwords
//!   and mailbox names. 1 MiB after login (64 KiB before) keeps one session's worst case small
//!   even with hundreds of sessions; an oversized APPEND gets `NO [TOOBIG]` instead of
//!   `NO [CANNOT]`: a refusal either way.
//! - Lines: RFC 7162 §4 asks servers to accept command lines of at least 8192 octets; long UID
//!   sets from clients resynchronising large folders are the only reason to go to 64 KiB. Before
//!   login 8 KiB is ample for LOGIN/AUTHENTICATE/ID.
//! - Time: a client that has not logged in within a minute of connecting is not a person at a
//!   phone; RFC 9051 §5.4 wants at least 30 minutes of inactivity before autologout.

use std::time::Duration;

/// The limits an administrator may change, each under `[limits]` in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line before login, in octets.
    pub line_before_login: usize,
    /// Longest command line after login, in octets.
    pub line_after_login: usize,
    /// Largest literal before login, in octets.
    pub literal_before_login: u64,
    /// Largest literal after login, in octets.
    pub literal_after_login: u64,
    /// Largest whole command (lines and literals) before login, in octets.
    pub command_before_login: usize,
    /// Largest whole command after login, in octets.
    pub command_after_login: usize,
    /// Commands answered BAD before login after which the session gets BYE.
    pub bad_commands_before_login: u32,
    /// Commands answered BAD in a logged-in session after which it gets BYE.
    pub bad_commands_after_login: u32,
    /// Open connections from one IP address (parked IDLE ones included).
    pub connections_per_ip: usize,
    /// Logged-in sessions of one user at the same time.
    pub sessions_per_user: usize,
    /// Time from connecting to a successful login, all of it (not per read).
    pub prelogin_timeout: Duration,
    /// Time for the whole TLS handshake (implicit TLS or after STARTTLS).
    pub tls_handshake_timeout: Duration,
    /// How long a write may wait for a client that does not read.
    pub write_timeout: Duration,
    /// Inactivity after which a logged-in session is ended (in IDLE too).
    pub autologout: Duration,
    /// Pause after the first failed login; it doubles with each further failure.
    pub login_failure_delay: Duration,
    /// The longest pause after failed logins.
    pub login_failure_delay_max: Duration,
    /// Failures are forgotten after this long without a new one.
    pub login_failure_forget: Duration,
    /// Time one SEARCH, SORT or THREAD may take (its text checks above all) before it is
    /// answered `NO [LIMIT]` and the worker is free again.
    pub search_budget: Duration,
}

impl Limits {
    /// The defaults, as documented in the README, `conf/imapvault.toml` and the man page.
    pub const DEFAULT: Limits = Limits {
        line_before_login: 8 * 1024,
        line_after_login: 64 * 1024,
        literal_before_login: 64 * 1024,
        literal_after_login: 1024 * 1024,
        command_before_login: 128 * 1024,
        command_after_login: 2 * 1024 * 1024,
        bad_commands_before_login: 10,
        bad_commands_after_login: 20,
        connections_per_ip: 50,
        sessions_per_user: 40,
        prelogin_timeout: Duration::from_secs(60),
        tls_handshake_timeout: Duration::from_secs(20),
        write_timeout: Duration::from_secs(120),
        autologout: Duration::from_secs(31 * 60),
        login_failure_delay: Duration::from_millis(300),
        login_failure_delay_max: Duration::from_secs(5),
        login_failure_forget: Duration::from_secs(15 * 60),
        search_budget: Duration::from_secs(20),
    };

    /// What the framer enforces before login.
    pub const fn frame_before_login(&self) -> FrameLimits {
        FrameLimits {
            max_line: self.line_before_login,
            max_literal: self.literal_before_login,
            max_non_sync_literal: self.literal_before_login,
            max_command: self.command_before_login,
        }
    }

    /// What the framer enforces after login.
    pub const fn frame_after_login(&self) -> FrameLimits {
        FrameLimits {
            max_line: self.line_after_login,
            max_literal: self.literal_after_login,
            max_non_sync_literal: self.literal_after_login,
            max_command: self.command_after_login,
        }
    }

    /// The `[limits]` table's keys with these values, one `key = value` line each, as the
    /// config file writes them (for `imapvault check-config`).
    pub fn to_toml(&self) -> String {
        let lines = [
            ("line_before_login", self.line_before_login as u64),
            ("line_after_login", self.line_after_login as u64),
            ("literal_before_login", self.literal_before_login),
            ("literal_after_login", self.literal_after_login),
            ("command_before_login", self.command_before_login as u64),
            ("command_after_login", self.command_after_login as u64),
            (
                "bad_commands_before_login",
                u64::from(self.bad_commands_before_login),
            ),
            (
                "bad_commands_after_login",
                u64::from(self.bad_commands_after_login),
            ),
            ("connections_per_ip", self.connections_per_ip as u64),
            ("sessions_per_user", self.sessions_per_user as u64),
            ("prelogin_timeout_secs", self.prelogin_timeout.as_secs()),
            (
                "tls_handshake_timeout_secs",
                self.tls_handshake_timeout.as_secs(),
            ),
            ("write_timeout_secs", self.write_timeout.as_secs()),
            ("autologout_secs", self.autologout.as_secs()),
            (
                "login_failure_delay_ms",
                self.login_failure_delay.as_millis() as u64,
            ),
            (
                "login_failure_delay_max_ms",
                self.login_failure_delay_max.as_millis() as u64,
            ),
            (
                "login_failure_forget_secs",
                self.login_failure_forget.as_secs(),
            ),
            ("search_secs", self.search_budget.as_secs()),
        ];
        lines.iter().map(|(k, v)| format!("{k} = {v}\n")).collect()
    }

    /// The delay after a failed login when `failures` (this one included) were counted for the
    /// address or the user name: [`login_failure_delay`](Self::login_failure_delay) doubled for
    /// each earlier failure, at most [`login_failure_delay_max`](Self::login_failure_delay_max).
    pub fn login_delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.login_failure_delay
            .saturating_mul(1u32 << doublings)
            .min(self.login_failure_delay_max)
            .max(self.login_failure_delay.min(self.login_failure_delay_max))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Limits the framer enforces while it reads one command (see [`crate::imap::framing`]).
///
/// Every check happens before the bytes it guards are allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Longest single line (text between literals), in octets, without its line ending.
    pub max_line: usize,
    /// Largest single literal, in octets.
    pub max_literal: u64,
    /// Largest non-synchronising literal (`{n+}`), in octets: [`max_literal`](Self::max_literal)
    /// when LITERAL+ is advertised, [`LITERAL_MINUS_MAX`] under LITERAL- (RFC 7888 §5).
    pub max_non_sync_literal: u64,
    /// Largest whole command (all lines and literals together), in octets.
    pub max_command: usize,
}

impl FrameLimits {
    /// The default limits once a user is authenticated.
    pub const AUTHENTICATED: FrameLimits = Limits::DEFAULT.frame_after_login();

    /// The default limits before authentication: only CAPABILITY, STARTTLS, LOGIN,
    /// AUTHENTICATE, ID, NOOP, LOGOUT make sense, and none of them needs much.
    pub const NOT_AUTHENTICATED: FrameLimits = Limits::DEFAULT.frame_before_login();

    /// These limits with non-synchronising literals capped as LITERAL- requires.
    pub const fn with_literal_minus(self) -> FrameLimits {
        FrameLimits {
            max_non_sync_literal: LITERAL_MINUS_MAX,
            ..self
        }
    }
}

impl Default for FrameLimits {
    fn default() -> Self {
        Self::AUTHENTICATED
    }
}

// ---------------------------------------------------------------- fixed limits

/// RFC 7888 §5: under LITERAL- a non-synchronising literal may be at most 4096 octets.
pub const LITERAL_MINUS_MAX: u64 = 4096;

/// How many octets of an over-long line the framer will read and drop while looking for its end
/// before it gives up resynchronising (the caller then says BYE).
pub const MAX_DISCARD: usize = 1024 * 1024;

/// Longest continuation line (AUTHENTICATE responses, IDLE's `DONE`), in octets.
pub const MAX_CONTINUATION_LINE: usize = 16 * 1024;

/// Most ranges in one sequence set. A 64 KiB line holds at most ~32 Ki ranges (`1,1,1,...`).
pub const MAX_SEQUENCE_RANGES: usize = 32 * 1024;

/// Deepest nesting of parenthesised lists, `NOT` and `OR` in one search program.
///
/// Clients OR many terms together as a right-nested chain (`OR a OR b OR c d`), one level per
/// term, so a search for 100 addresses nests 99 deep; 128 allows that while keeping the
/// recursion's stack use small (tested on a 512 KiB thread stack in a debug build). Fixed:
/// it bounds recursion, so no configuration may raise it past what was tested.
pub const MAX_SEARCH_DEPTH: usize = 128;

/// Most search keys (counted at every level) in one search program.
pub const MAX_SEARCH_KEYS: usize = 1024;

/// Most items in any other parenthesised list (flags, fetch attributes, header names, status
/// items, patterns, ENABLE capabilities, ...).
pub const MAX_LIST_ITEMS: usize = 256;

/// Most `section-part` numbers in one FETCH section (`BODY[1.2.3...]`).
pub const MAX_SECTION_PARTS: usize = 64;

/// RFC 2971 §3.3: at most 30 field/value pairs in an ID command.
pub const MAX_ID_PAIRS: usize = 30;

/// RFC 2971 §3.3: a field name is at most 30 octets.
pub const MAX_ID_FIELD: usize = 30;

/// RFC 2971 §3.3: a value is at most 1024 octets.
pub const MAX_ID_VALUE: usize = 1024;

/// Longest tag we accept, in octets. Real clients use under 16.
pub const MAX_TAG: usize = 64;

/// RFC 8474 §4: an `objectid` is 1 to 255 characters.
pub const MAX_OBJECT_ID: usize = 255;

/// MIME containers (multipart or message/rfc822) nested inside each other that are opened at
/// ingest; the next one is shown as an opaque leaf (the message is still archived byte for
/// byte). Fixed: it bounds the MIME parser's recursion, and BODYSTRUCTURE and section numbers
/// are stored at ingest, so a different value later would disagree with what is stored.
pub const MIME_MAX_DEPTH: usize = 32;

/// Body parts (every node of the tree, the message itself included) parsed at ingest; when a
/// multipart would go beyond it, its last shown part is an opaque leaf holding the rest. Fixed
/// for the same reason as [`MIME_MAX_DEPTH`].
pub const MIME_MAX_PARTS: usize = 10_000;

/// How long a client that started writing during IDLE has to finish its line.
pub const IDLE_INPUT_TIMEOUT: Duration = Duration::from_secs(30);

/// DESIGN §2: an idling client hears `* OK Still here` this often (NAT keepalive).
pub const IDLE_KEEPALIVE: Duration = Duration::from_secs(120);

/// Addresses and user names whose failed logins are remembered at once; beyond it the entry
/// idle longest is forgotten, so a flood of made-up names cannot grow memory without bound.
pub const LOGIN_FAILURE_ENTRIES: usize = 10_000;

/// Longest user name, in bytes (names are plain tokens: letters, digits and `. _ - + @`).
pub const MAX_USER_NAME_LEN: usize = 64;

/// Longest password accepted, in bytes: far beyond any human password, short enough that
/// hashing it costs nothing extra.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Largest argon2 memory cost accepted from a stored hash, in 1 KiB blocks (256 MiB): far
/// above any sane setting (Dovecot's default is 64 MiB), and a bound on what one check holds.
pub const MAX_HASH_BLOCKS: usize = 256 * 1024;

/// Most keywords kept on one message, so a client cannot grow a row without bound; further
/// ones are dropped and the real flags answered (RFC 4314 style, so clients do not loop).
pub const MAX_KEYWORDS: usize = 64;

/// Longest keyword, in bytes; a longer one is dropped likewise.
pub const MAX_KEYWORD_LEN: usize = 128;

/// Refused TLS connections told `* BYE [UNAVAILABLE]` at once, and as many waiting; beyond
/// that they are just closed.
pub const REFUSER_QUEUE: usize = 64;

/// How long a refused TLS client gets to finish its handshake and read the BYE.
pub const REFUSAL_DEADLINE: Duration = Duration::from_secs(5);

/// Password checks running at once (argon2, ~19 MiB each): the cores, and never more.
pub const PASSWORD_CHECK_THREADS: usize = 4;

/// Password checks waiting for a thread; beyond it, askers wait to enqueue (backpressure).
pub const PASSWORD_CHECK_QUEUE: usize = 256;

// ---------------------------------------------------------------- the documented table

/// One row of the limits table (README "Limits", `man imapvault.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// What is limited.
    pub what: &'static str,
    /// The default, as the README shows it.
    pub default: String,
    /// The key under `[limits]`, or `None` when the value is fixed.
    pub key: Option<&'static str>,
    /// What a client that goes beyond it gets.
    pub client_gets: &'static str,
}

/// Every limit, in the order the README lists them. Defaults come from [`Limits::DEFAULT`] and
/// the constants, so the text cannot drift from the code.
pub fn table() -> Vec<Row> {
    let d = Limits::DEFAULT;
    let secs = |t: Duration| format!("{} s", t.as_secs());
    let ms = |t: Duration| format!("{} ms", t.as_millis());
    let row = |what, default: String, key, client_gets| Row {
        what,
        default,
        key,
        client_gets,
    };
    vec![
        row("line length before login", bytes(d.line_before_login as u64), Some("line_before_login"),
            "`BAD [TOOBIG]`; a line over 1 MiB: `BYE`"),
        row("line length after login", bytes(d.line_after_login as u64), Some("line_after_login"),
            "`BAD [TOOBIG]`; a line over 1 MiB: `BYE`"),
        row("literal before login", bytes(d.literal_before_login), Some("literal_before_login"),
            "synchronising: `NO [TOOBIG]` and no `+`; non-synchronising: `BYE [TOOBIG]`"),
        row("literal after login", bytes(d.literal_after_login), Some("literal_after_login"),
            "synchronising: `NO [TOOBIG]` and no `+`; non-synchronising: `BYE [TOOBIG]`"),
        row("command size before login", bytes(d.command_before_login as u64), Some("command_before_login"),
            "as for the line or literal that crosses it"),
        row("command size after login", bytes(d.command_after_login as u64), Some("command_after_login"),
            "as for the line or literal that crosses it"),
        row("bad commands before login", d.bad_commands_before_login.to_string(), Some("bad_commands_before_login"),
            "the last `BAD`, then `* BYE Too many invalid commands`"),
        row("bad commands after login", d.bad_commands_after_login.to_string(), Some("bad_commands_after_login"),
            "the last `BAD`, then `* BYE Too many invalid commands`"),
        row("connections per IP address", d.connections_per_ip.to_string(), Some("connections_per_ip"),
            "`* BYE [UNAVAILABLE]` at once, no worker used"),
        row("logged-in sessions per user", d.sessions_per_user.to_string(), Some("sessions_per_user"),
            "LOGIN/AUTHENTICATE: `NO [LIMIT]`"),
        row("time to log in after connecting", secs(d.prelogin_timeout), Some("prelogin_timeout_secs"),
            "`* BYE`, closed"),
        row("TLS handshake", secs(d.tls_handshake_timeout), Some("tls_handshake_timeout_secs"),
            "closed"),
        row("write to a client that does not read", secs(d.write_timeout), Some("write_timeout_secs"),
            "closed (a BYE could not be delivered)"),
        row("autologout (RFC 9051 §5.4: at least 30 min)", secs(d.autologout), Some("autologout_secs"),
            "`* BYE Autologout`"),
        row("pause after a failed login", ms(d.login_failure_delay), Some("login_failure_delay_ms"),
            "`NO [AUTHENTICATIONFAILED]` after the pause; doubles per failure of the address or user"),
        row("longest pause after failed logins", ms(d.login_failure_delay_max), Some("login_failure_delay_max_ms"),
            "as above"),
        row("failed logins forgotten after", secs(d.login_failure_forget), Some("login_failure_forget_secs"),
            "the pause starts again from the first"),
        row("one SEARCH, SORT or THREAD", secs(d.search_budget), Some("search_secs"),
            "`NO [LIMIT]`"),
        row("sequence-set ranges", MAX_SEQUENCE_RANGES.to_string(), None, "`BAD [PARSE]`"),
        row("search nesting (parentheses, NOT, OR)", MAX_SEARCH_DEPTH.to_string(), None, "`BAD [PARSE]`"),
        row("search keys", MAX_SEARCH_KEYS.to_string(), None, "`BAD [PARSE]`"),
        row("items in other lists", MAX_LIST_ITEMS.to_string(), None, "`BAD [PARSE]`"),
        row("section part numbers", MAX_SECTION_PARTS.to_string(), None, "`BAD [PARSE]`"),
        row("ID pairs (RFC 2971 §3.3)", MAX_ID_PAIRS.to_string(), None, "`BAD [PARSE]`"),
        row("ID field name (RFC 2971 §3.3)", bytes(MAX_ID_FIELD as u64), None, "`BAD [PARSE]`"),
        row("ID value (RFC 2971 §3.3)", bytes(MAX_ID_VALUE as u64), None, "`BAD [PARSE]`"),
        row("tag", bytes(MAX_TAG as u64), None, "`BAD [PARSE]`"),
        row("non-synchronising literal under LITERAL- (RFC 7888 §5)", bytes(LITERAL_MINUS_MAX), None,
            "`BYE [TOOBIG]`"),
        row("continuation line (SASL response, DONE)", bytes(MAX_CONTINUATION_LINE as u64), None,
            "closed"),
        row("MIME nesting at ingest", MIME_MAX_DEPTH.to_string(), None,
            "deeper parts shown as opaque; the message is archived byte for byte"),
        row("MIME parts at ingest", MIME_MAX_PARTS.to_string(), None,
            "further parts shown as one opaque part; archived byte for byte"),
        row("IDLE: time to finish a line once begun", secs(IDLE_INPUT_TIMEOUT), None,
            "`* BYE`, closed"),
        row("failed-login tracking entries", LOGIN_FAILURE_ENTRIES.to_string(), None,
            "the entry idle longest is forgotten"),
        row("user name", bytes(MAX_USER_NAME_LEN as u64), None, "`NO [AUTHENTICATIONFAILED]`"),
        row("password", bytes(MAX_PASSWORD_LEN as u64), None, "`NO [AUTHENTICATIONFAILED]`"),
        row("keywords per message", MAX_KEYWORDS.to_string(), None,
            "further keywords dropped; the real flags are answered"),
        row("keyword length", bytes(MAX_KEYWORD_LEN as u64), None,
            "the keyword dropped; the real flags are answered"),
        row("refused TLS connections being told BYE", REFUSER_QUEUE.to_string(), None,
            "beyond it: closed without a word"),
        row("time for a refused TLS client to read its BYE", secs(REFUSAL_DEADLINE), None,
            "closed"),
    ]
}

/// The table as the README's "Limits" section shows it (Markdown); a test keeps them equal.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| limit | default | config key (`[limits]`) | what the client gets |\n\
         | --- | --- | --- | --- |\n",
    );
    for r in table() {
        let key = r
            .key
            .map_or_else(|| "fixed".to_owned(), |k| format!("`{k}`"));
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.what, r.default, key, r.client_gets
        ));
    }
    out
}

/// `n` octets the way the README writes them: `8 KiB`, `1 MiB`, or plain octets.
fn bytes(n: u64) -> String {
    if n >= 1024 * 1024 && n % (1024 * 1024) == 0 {
        format!("{} MiB", n / (1024 * 1024))
    } else if n >= 1024 && n % 1024 == 0 {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} octets")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_delay_doubles_to_its_cap() {
        let d = Limits::DEFAULT;
        let ms = |n| d.login_delay(n).as_millis();
        assert_eq!(
            [ms(1), ms(2), ms(3), ms(4), ms(5), ms(6), ms(100)],
            [300, 600, 1200, 2400, 4800, 5000, 5000]
        );
        // A zero count (no failure recorded) still pauses the base amount.
        assert_eq!(ms(0), 300);
    }

    #[test]
    fn every_configurable_limit_has_one_row() {
        let keys: Vec<_> = table().iter().filter_map(|r| r.key).collect();
        let mut unique = keys.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(keys.len(), unique.len(), "{keys:?}");
        assert_eq!(keys.len(), 18);
    }

    #[test]
    fn the_readme_shows_this_table() {
        let readme = include_str!("../README.md");
        let table = markdown_table();
        assert!(
            readme.contains(&table),
            "README.md's Limits table differs from src/limits.rs; it should read:\n{table}"
        );
    }

    #[test]
    fn check_config_writes_every_key_of_the_table() {
        let written: Vec<String> = Limits::DEFAULT
            .to_toml()
            .lines()
            .map(|l| l.split(" = ").next().unwrap_or_default().to_owned())
            .collect();
        let keys: Vec<String> = table()
            .iter()
            .filter_map(|r| r.key.map(str::to_owned))
            .collect();
        assert_eq!(written, keys);
    }

    #[test]
    fn frame_limits_follow_the_configured_values() {
        let l = Limits {
            line_before_login: 100,
            literal_after_login: 7,
            ..Limits::DEFAULT
        };
        assert_eq!(l.frame_before_login().max_line, 100);
        assert_eq!(l.frame_after_login().max_literal, 7);
        assert_eq!(l.frame_after_login().max_non_sync_literal, 7);
    }
}
