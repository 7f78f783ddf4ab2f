//! Size and count limits of the grammar layer, in one place.
//!
//! Owns: every number that bounds what a client can make us read, allocate or recurse into
//! before a command is even looked at. Does not own per-session policy (timeouts, rate limits).
//!
//! Why these values:
//! - The archive is read-only, so no command legitimately carries a large literal: APPEND is
//!   refused whatever its size, and the largest honest literals are search strings, passwords
//!   and mailbox names. A literal cap of 1 MiB after login (64 KiB before) keeps one session's
//!   worst case small even with hundreds of sessions, and an oversized APPEND simply gets
//!   `NO [TOOBIG]` instead of `NO [CANNOT]`: a refusal either way.
//! - Lines are capped at 64 KiB after login: RFC 7162 §4 asks servers to accept command lines of
//!   at least 8192 octets; long UID sets from clients that resynchronise large folders are the
//!   only reason to go higher. Before login 8 KiB is ample for LOGIN/AUTHENTICATE/ID.

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
    /// Limits once a user is authenticated.
    pub const AUTHENTICATED: FrameLimits = FrameLimits {
        max_line: 64 * 1024,
        max_literal: 1024 * 1024,
        max_non_sync_literal: 1024 * 1024,
        max_command: 2 * 1024 * 1024,
    };

    /// Limits before authentication: only CAPABILITY, STARTTLS, LOGIN, AUTHENTICATE, ID, NOOP,
    /// LOGOUT make sense, and none of them needs much.
    pub const NOT_AUTHENTICATED: FrameLimits = FrameLimits {
        max_line: 8 * 1024,
        max_literal: 64 * 1024,
        max_non_sync_literal: 64 * 1024,
        max_command: 128 * 1024,
    };

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
/// recursion's stack use small (tested on a 512 KiB thread stack in a debug build).
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
