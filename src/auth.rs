//! Passwords: hashing them for storage and checking a login against the stored hash.
//!
//! Owns: the hash format (argon2id, PHC string) and [`Verified`], the proof that a password was
//! checked. The IMAP session can only enter the authenticated state with a `Verified` in hand, and
//! only [`check_password`] makes one, so "forgot to check" cannot be written (STYLE: proof tokens).
//! The plain password is never stored or logged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::Argon2;
use rand_core::OsRng;

use crate::limits::{Limits, LOGIN_FAILURE_ENTRIES};

/// Errors from hashing a new password.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("the password is empty")]
    EmptyPassword,
    #[error("the password is longer than {MAX_PASSWORD_LEN} bytes")]
    PasswordTooLong,
    #[error("user name {0:?} is not allowed: use 1 to {MAX_USER_NAME_LEN} letters, digits and . _ - + @")]
    BadUserName(String),
}

pub use crate::limits::{MAX_PASSWORD_LEN, MAX_USER_NAME_LEN};

/// User names are plain tokens: they appear in logs, in `Other Users/NAME` paths and in LOGIN
/// strings, so control characters, spaces, quotes, wildcards and `/` are refused at creation.
pub fn validate_user_name(name: &str) -> Result<(), AuthError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_USER_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+@".contains(&b))
        && !name.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(AuthError::BadUserName(name.to_owned()))
    }
}

/// Proof that a user's password was checked. Its field is private and only [`check_password`]
/// builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    user: String,
}

impl Verified {
    /// The name of the user whose password was checked.
    pub fn user(&self) -> &str {
        &self.user
    }
}

/// Hashes `password` for storage with argon2id and a fresh random salt.
pub fn hash_password(password: &[u8]) -> Result<String, AuthError> {
    if password.is_empty() {
        return Err(AuthError::EmptyPassword);
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(AuthError::PasswordTooLong);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// A hash to check against when the user does not exist, so that an unknown user costs the same
/// time as a wrong password and the two cannot be told apart by timing.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        hash_password(b"decoy password that matches nothing").unwrap_or_else(|_| String::new())
    })
}

/// Password checks performed by this process (successful or not): logged at shutdown and
/// used by tests to prove that some paths never look at a password.
static CHECKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many password checks this process has performed.
pub fn password_checks() -> u64 {
    CHECKS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Checks `password` for `user` against `stored` (the user's hash, or `None` when there is no
/// such user). Unknown users and wrong passwords take the same path and give the same answer.
///
/// The hash is computed on [`checker`]'s small fixed pool of threads, whatever thread asks: a
/// burst of logins queues there instead of running hundreds of argon2 computations (19 MiB
/// each) at once, which starved the server and left gigabytes with the allocator (DESIGN §6;
/// benches/RESULTS.md).
pub fn check_password(user: &str, stored: Option<&str>, password: &[u8]) -> Option<Verified> {
    CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if password.is_empty() || password.len() > MAX_PASSWORD_LEN {
        return None;
    }
    let (hash, known) = match stored {
        Some(h) => (h.to_owned(), true),
        None => (decoy_hash().to_owned(), false),
    };
    let matches = checker::verify(hash, password.to_vec());
    (matches && known).then(|| Verified {
        user: user.to_owned(),
    })
}

/// Failed logins remembered per client address and per user name, for the escalating pause
/// after each failure (issue 6): guessing is slowed for one address trying many names and for
/// many addresses trying one name alike. Bounded: at most [`LOGIN_FAILURE_ENTRIES`] entries;
/// beyond that the one idle longest is forgotten.
#[derive(Default)]
pub struct LoginFailures {
    table: Mutex<HashMap<FailureKey, Failures>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FailureKey {
    Address(String),
    User(String),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl LoginFailures {
    /// Counts a failed login from `address` for `user` (`None` when the name could never exist)
    /// and returns the pause to make before answering it, under `limits`.
    pub fn record(&self, address: &str, user: Option<&str>, limits: &Limits) -> Duration {
        let now = Instant::now();
        let Ok(mut table) = self.table.lock() else {
            return limits.login_failure_delay;
        };
        let mut keys = vec![FailureKey::Address(address.to_owned())];
        keys.extend(user.map(|u| FailureKey::User(u.to_ascii_lowercase())));
        let mut worst = 0;
        for key in keys {
            if !table.contains_key(&key) && table.len() >= LOGIN_FAILURE_ENTRIES {
                make_room(&mut table, now, limits.login_failure_forget);
            }
            let entry = table.entry(key).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now.duration_since(entry.last) >= limits.login_failure_forget {
                entry.count = 0;
            }
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
            worst = worst.max(entry.count);
        }
        limits.login_delay(worst)
    }

    /// Forgets the failures of `user` after a successful login (the address's stay: another
    /// user behind it may still be guessing).
    pub fn succeeded(&self, user: &str) {
        if let Ok(mut table) = self.table.lock() {
            table.remove(&FailureKey::User(user.to_ascii_lowercase()));
        }
    }

    /// How many entries are held (for tests of the bound).
    pub fn len(&self) -> usize {
        self.table.lock().map_or(0, |t| t.len())
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops forgotten entries, and if none was, the one idle longest.
fn make_room(table: &mut HashMap<FailureKey, Failures>, now: Instant, forget: Duration) {
    table.retain(|_, f| now.duration_since(f.last) < forget);
    if table.len() >= LOGIN_FAILURE_ENTRIES {
        let oldest = table
            .iter()
            .min_by_key(|(_, f)| f.last)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            table.remove(&k);
        }
    }
}

/// The pool of threads that compute password hashes.
mod checker {
    use std::sync::OnceLock;

    use argon2::password_hash::{Output, PasswordHash};
    use argon2::{Algorithm, Argon2, Block, Params, Version};
    use crossbeam_channel::{bounded, Sender};

    use crate::limits::MAX_HASH_BLOCKS as MAX_BLOCKS;
    use crate::limits::{PASSWORD_CHECK_QUEUE as QUEUE, PASSWORD_CHECK_THREADS as MAX_THREADS};

    struct Job {
        hash: String,
        password: Vec<u8>,
        reply: Sender<bool>,
    }

    static POOL: OnceLock<Sender<Job>> = OnceLock::new();

    /// The number of checking threads.
    pub fn threads() -> usize {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_THREADS)
    }

    fn pool() -> &'static Sender<Job> {
        POOL.get_or_init(|| {
            let (tx, rx) = bounded::<Job>(QUEUE);
            for n in 0..threads() {
                let rx = rx.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("password-check-{n}"))
                    .spawn(move || {
                        // One argon2 working area per thread, reused by every check: freeing and
                        // reallocating 19 MiB per login left gigabytes with the allocator
                        // (benches/RESULTS.md, push benchmark).
                        let mut memory: Vec<Block> = Vec::new();
                        for job in rx {
                            let ok = matches(&job.hash, &job.password, &mut memory);
                            let _ = job.reply.send(ok);
                        }
                    });
                if let Err(e) = spawned {
                    log::error!("cannot start a password-check thread: {e}");
                }
            }
            tx
        })
    }

    /// Whether `password` hashes to the PHC string `hash`, computing in `memory` (grown once to
    /// the largest cost seen, never shrunk, so no allocation per check).
    fn matches(hash: &str, password: &[u8], memory: &mut Vec<Block>) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        let (Ok(algorithm), Ok(params)) = (
            Algorithm::try_from(parsed.algorithm),
            Params::try_from(&parsed),
        ) else {
            return false;
        };
        let version = match parsed.version {
            Some(v) => match Version::try_from(v) {
                Ok(v) => v,
                Err(_) => return false,
            },
            None => Version::default(),
        };
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let blocks = params.block_count();
        if blocks > MAX_BLOCKS {
            log::warn!("password hash asks for {blocks} KiB of memory; refused");
            return false;
        }
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        let mut out = vec![0u8; expected.len()];
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..blocks])
            .is_ok()
            // Output's equality is constant-time.
            && Output::new(&out).is_ok_and(|computed| computed == expected)
    }

    /// Whether `password` matches the PHC string `hash`; false if no thread could check it.
    pub fn verify(hash: String, password: Vec<u8>) -> bool {
        let (reply, answer) = bounded(1);
        let job = Job {
            hash,
            password,
            reply,
        };
        pool().send(job).is_ok() && answer.recv().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_password_verifies_and_wrong_does_not() {
        let h = hash_password(b"s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(
            check_password("ann", Some(&h), b"s3cret").map(|v| v.user().to_owned()),
            Some("ann".to_owned())
        );
        assert!(check_password("ann", Some(&h), b"s3cret ").is_none());
        assert!(check_password("ann", Some(&h), b"").is_none());
    }

    #[test]
    fn unknown_user_is_refused_even_with_the_decoy_password() {
        assert!(check_password("nobody", None, b"decoy password that matches nothing").is_none());
    }

    #[test]
    fn salts_differ_and_plain_text_is_not_kept() {
        let a = hash_password(b"same").unwrap();
        let b = hash_password(b"same").unwrap();
        assert_ne!(a, b);
        assert!(!a.contains("same"));
    }

    #[test]
    fn user_names_are_plain_tokens() {
        for good in [
            "demo",
            "alice.smith",
            "bob+archive",
            "carol@example.org",
            "x",
        ] {
            assert!(validate_user_name(good).is_ok(), "{good}");
        }
        let long = "a".repeat(MAX_USER_NAME_LEN + 1);
        for bad in [
            "",
            "a b",
            "a/b",
            "a\"b",
            "a*",
            "a%",
            "-x",
            ".x",
            "a\nb",
            "bob'--",
            long.as_str(),
        ] {
            assert!(validate_user_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_user_name(&"a".repeat(MAX_USER_NAME_LEN)).is_ok());
    }

    /// That checks run on at most `checker::threads()` threads follows from the pool's structure
    /// (it is measured by benches/compare.sh's logins and idle_push.sh's memory); this test
    /// pins what a burst must still do: answer every check, each correctly.
    #[test]
    fn a_burst_of_checks_answers_each_correctly() {
        let h = hash_password(b"burst").unwrap();
        let answers: Vec<bool> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..24)
                .map(|i| {
                    let h = h.clone();
                    s.spawn(move || {
                        let pw: &[u8] = if i % 2 == 0 { b"burst" } else { b"wrong" };
                        check_password("u", Some(&h), pw).is_some()
                    })
                })
                .collect();
            handles.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let expected: Vec<bool> = (0..24).map(|i| i % 2 == 0).collect();
        assert_eq!(answers, expected);
    }

    #[test]
    fn hashes_of_other_costs_verify_on_the_reused_memory() {
        use argon2::password_hash::PasswordHasher as _;
        // Smaller, then larger than the default cost: the area grows, answers stay right.
        for m_cost in [8 * 1024, 32 * 1024] {
            let params = argon2::Params::new(m_cost, 1, 1, None).unwrap();
            let argon = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
            let salt = SaltString::generate(&mut OsRng);
            let h = argon.hash_password(b"cost", &salt).unwrap().to_string();
            assert!(
                check_password("u", Some(&h), b"cost").is_some(),
                "m={m_cost}"
            );
            assert!(
                check_password("u", Some(&h), b"Cost").is_none(),
                "m={m_cost}"
            );
        }
        // A stored hash asking for 4 GiB is refused, not computed.
        let greedy = "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$\
                      AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(check_password("u", Some(greedy), b"x").is_none());
    }

    #[test]
    fn failures_escalate_per_address_and_per_user_and_are_bounded() {
        let limits = Limits::DEFAULT;
        let f = LoginFailures::default();
        let ms = |d: Duration| d.as_millis();
        assert_eq!(ms(f.record("192.0.2.1", Some("ann"), &limits)), 300);
        assert_eq!(ms(f.record("192.0.2.1", Some("bob"), &limits)), 600);
        // A new address guessing ann's password: ann's count escalates.
        assert_eq!(ms(f.record("192.0.2.2", Some("ANN"), &limits)), 600);
        f.succeeded("ann");
        assert_eq!(ms(f.record("192.0.2.3", Some("ann"), &limits)), 300);
        // Forgotten after the quiet period.
        let quick = Limits {
            login_failure_forget: Duration::ZERO,
            ..limits
        };
        assert_eq!(ms(f.record("192.0.2.1", None, &quick)), 300);
        // A flood of made-up names stays within the bound.
        for i in 0..LOGIN_FAILURE_ENTRIES + 50 {
            f.record("192.0.2.9", Some(&format!("u{i}")), &limits);
        }
        assert!(f.len() <= LOGIN_FAILURE_ENTRIES, "{}", f.len());
        // The flooding address is still tracked (it is touched on every failure).
        assert_eq!(ms(f.record("192.0.2.9", None, &limits)), 5000);
    }

    #[test]
    fn password_length_limits() {
        assert!(matches!(hash_password(b""), Err(AuthError::EmptyPassword)));
        assert!(hash_password(&[b'x'; MAX_PASSWORD_LEN]).is_ok());
        assert!(matches!(
            hash_password(&[b'x'; MAX_PASSWORD_LEN + 1]),
            Err(AuthError::PasswordTooLong)
        ));
    }
}
