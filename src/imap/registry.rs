//! The live sessions of a server, for `imapvault sessions` and `imapvault kick` (issue 8).
//!
//! Owns: what an administrator sees of each session (user, peer, client ID, state, folder,
//! since, commands, bytes) and the way to end one. It holds no socket: ending a session calls
//! the interrupt the server attached, and the session says `* BYE` when it sees its input end.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

/// Bytes a connection carried, counted by the transport (IMAP bytes, after TLS and compression).
#[derive(Debug, Default)]
pub struct Traffic {
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
}

/// What is shown of one session.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: u64,
    pub peer: String,
    pub user: Option<String>,
    pub client: Option<String>,
    pub state: &'static str,
    pub mailbox: Option<String>,
    pub since: SystemTime,
    pub commands: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

type Interrupt = Box<dyn Fn() + Send + Sync>;

struct Entry {
    info: SessionInfo,
    traffic: Option<std::sync::Arc<Traffic>>,
    interrupt: Option<Interrupt>,
    kicked: bool,
}

/// The registry; one per server.
#[derive(Default)]
pub struct Registry {
    next: AtomicU64,
    live: Mutex<BTreeMap<u64, Entry>>,
}

impl Registry {
    /// Adds a session from `peer`; returns its id.
    pub fn register(&self, peer: &str) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let info = SessionInfo {
            id,
            peer: peer.to_owned(),
            user: None,
            client: None,
            state: "not authenticated",
            mailbox: None,
            since: SystemTime::now(),
            commands: 0,
            bytes_in: 0,
            bytes_out: 0,
        };
        if let Ok(mut live) = self.live.lock() {
            live.insert(
                id,
                Entry {
                    info,
                    traffic: None,
                    interrupt: None,
                    kicked: false,
                },
            );
        }
        id
    }

    /// Gives session `id` its byte counters and the way to interrupt its reads.
    pub fn attach(&self, id: u64, traffic: std::sync::Arc<Traffic>, interrupt: Interrupt) {
        if let Ok(mut live) = self.live.lock() {
            if let Some(e) = live.get_mut(&id) {
                e.traffic = Some(traffic);
                e.interrupt = Some(interrupt);
            }
        }
    }

    /// Changes what is shown of session `id`.
    pub fn update(&self, id: u64, change: impl FnOnce(&mut SessionInfo)) {
        if let Ok(mut live) = self.live.lock() {
            if let Some(e) = live.get_mut(&id) {
                change(&mut e.info);
            }
        }
    }

    /// Forgets session `id` (it ended).
    /// Records that session `id` is logged in as `user`, unless `user` already has `max`
    /// logged-in sessions (issue 6: sessions per user); false then. Counting and recording
    /// happen under one lock, so parallel logins cannot overshoot.
    pub fn claim_user(&self, id: u64, user: &str, max: usize) -> bool {
        let Ok(mut live) = self.live.lock() else {
            return false;
        };
        let held = live
            .values()
            .filter(|e| e.info.id != id && e.info.user.as_deref() == Some(user))
            .count();
        if held >= max {
            return false;
        }
        if let Some(e) = live.get_mut(&id) {
            e.info.user = Some(user.to_owned());
        }
        true
    }

    pub fn remove(&self, id: u64) {
        if let Ok(mut live) = self.live.lock() {
            live.remove(&id);
        }
    }

    /// Every live session, by id.
    pub fn list(&self) -> Vec<SessionInfo> {
        let Ok(live) = self.live.lock() else {
            return Vec::new();
        };
        live.values()
            .map(|e| {
                let mut info = e.info.clone();
                if let Some(t) = &e.traffic {
                    info.bytes_in = t.bytes_in.load(Ordering::Relaxed);
                    info.bytes_out = t.bytes_out.load(Ordering::Relaxed);
                }
                info
            })
            .collect()
    }

    /// Ends the sessions `target` names: a session id, or a user name (all of that user's).
    /// Returns how many were told to end.
    pub fn kick(&self, target: &str) -> usize {
        let Ok(mut live) = self.live.lock() else {
            return 0;
        };
        let by_id: Option<u64> = target.parse().ok();
        let mut count = 0;
        for e in live.values_mut() {
            let hit = by_id == Some(e.info.id) || e.info.user.as_deref() == Some(target);
            if hit {
                e.kicked = true;
                if let Some(interrupt) = &e.interrupt {
                    interrupt();
                }
                count += 1;
            }
        }
        count
    }

    /// IMAP bytes in and out of session `id` so far.
    pub fn traffic(&self, id: u64) -> (u64, u64) {
        self.live
            .lock()
            .ok()
            .and_then(|live| {
                live.get(&id).and_then(|e| e.traffic.as_ref()).map(|t| {
                    (
                        t.bytes_in.load(Ordering::Relaxed),
                        t.bytes_out.load(Ordering::Relaxed),
                    )
                })
            })
            .unwrap_or((0, 0))
    }

    /// Whether session `id` was kicked (it then says why in its BYE).
    pub fn is_kicked(&self, id: u64) -> bool {
        self.live
            .lock()
            .map(|live| live.get(&id).is_some_and(|e| e.kicked))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn kick_by_user_or_id_interrupts_exactly_those() {
        let r = Registry::default();
        let a = r.register("127.0.0.1:1");
        let b = r.register("127.0.0.1:2");
        let c = r.register("127.0.0.1:3");
        let hits = Arc::new(AtomicUsize::new(0));
        for id in [a, b, c] {
            let hits = hits.clone();
            r.attach(
                id,
                Arc::new(Traffic::default()),
                Box::new(move || {
                    hits.fetch_add(1, Ordering::SeqCst);
                }),
            );
        }
        r.update(a, |i| i.user = Some("ann".into()));
        r.update(b, |i| i.user = Some("ann".into()));
        r.update(c, |i| i.user = Some("bob".into()));
        assert_eq!(r.kick("ann"), 2);
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        assert!(r.is_kicked(a) && r.is_kicked(b) && !r.is_kicked(c));
        assert_eq!(r.kick(&c.to_string()), 1);
        assert_eq!(r.kick("nobody"), 0);
        r.remove(a);
        assert_eq!(r.list().len(), 2);
    }
}
