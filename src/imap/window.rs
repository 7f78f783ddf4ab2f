//! The sync window (`[archive] sync_days`, issue 5): clients see only the messages whose
//! internal date lies within the last N days, and the clock that says what "now" is.
//!
//! Owns: the rule (visible iff `internal_date >= now - N days`), the moment a message leaves,
//! and the [`Clock`] (injectable, so tests move time instead of sleeping). Does not own what a
//! session tells its client when messages leave: that is [`crate::imap::updates`].
//!
//! Once left, a message never comes back into a session's view: the edge a view has applied
//! only moves forward (a clock stepped back changes nothing for it), and RFC 3501 §2.3.1.1 lets
//! a view grow only at its end, with new UIDs.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds in a day of the window (calendar days are not meant: "the last 7 days" is 7 × 24 h
/// back from now, whatever the time zone).
pub const DAY: i64 = 24 * 3600;

/// What time it is, as Unix seconds.
pub trait Clock: Send + Sync {
    /// Now, Unix seconds.
    fn now(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            // A clock before 1970 is a broken clock; the window then shows everything dated
            // after 1970 minus N days, which is the least surprising thing to do.
            Err(_) => 0,
        }
    }
}

/// A clock that stands still until told to move: for tests, which advance it by days.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock showing `now` (Unix seconds).
    pub fn at(now: i64) -> ManualClock {
        ManualClock {
            now: AtomicI64::new(now),
        }
    }

    /// Moves the clock by `seconds` (forward when positive).
    pub fn advance(&self, seconds: i64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Sets the clock to `now`.
    pub fn set(&self, now: i64) {
        self.now.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// `[archive] sync_days`: how many days back clients see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncWindow {
    /// Every message is visible (`sync_days = 0`, the default).
    #[default]
    All,
    /// Only messages of the last `days` days.
    Days(u32),
}

impl SyncWindow {
    /// The window for `sync_days` (0 = all).
    pub fn from_days(days: u32) -> SyncWindow {
        match days {
            0 => SyncWindow::All,
            n => SyncWindow::Days(n),
        }
    }

    /// The `sync_days` value this window is configured with.
    pub fn days(self) -> u32 {
        match self {
            SyncWindow::All => 0,
            SyncWindow::Days(n) => n,
        }
    }

    /// The oldest visible internal date at `now`: a message is visible iff its internal date is
    /// at or after the edge. `None` when everything is visible.
    pub fn edge(self, now: i64) -> Option<i64> {
        match self {
            SyncWindow::All => None,
            SyncWindow::Days(n) => Some(now.saturating_sub(i64::from(n) * DAY)),
        }
    }

    /// The first instant at which a message of `internal_date` is no longer visible (its
    /// internal date is then below the edge). `None` when nothing ever leaves.
    pub fn departure(self, internal_date: i64) -> Option<i64> {
        match self {
            SyncWindow::All => None,
            SyncWindow::Days(n) => Some(
                internal_date
                    .saturating_add(i64::from(n) * DAY)
                    .saturating_add(1),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_visible_until_its_departure_and_not_after() {
        let w = SyncWindow::from_days(7);
        let date = 1_000_000;
        let leaves = w.departure(date).unwrap();
        let visible = |now: i64| date >= w.edge(now).unwrap();
        assert!(visible(date));
        assert!(visible(leaves - 1));
        assert!(!visible(leaves));
        assert_eq!(leaves - date, 7 * DAY + 1);
    }

    #[test]
    fn zero_days_is_everything() {
        let w = SyncWindow::from_days(0);
        assert_eq!(w, SyncWindow::All);
        assert_eq!(w.edge(i64::MAX), None);
        assert_eq!(w.departure(0), None);
        assert_eq!(SyncWindow::from_days(30).days(), 30);
    }

    #[test]
    fn the_manual_clock_moves_only_when_told() {
        let c = ManualClock::at(100);
        assert_eq!(c.now(), 100);
        c.advance(DAY);
        assert_eq!(c.now(), 100 + DAY);
        c.set(5);
        assert_eq!(c.now(), 5);
    }
}
