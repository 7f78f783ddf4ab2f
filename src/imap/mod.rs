//! The IMAP protocol layer.
//!
//! Owns, bottom up: the grammar (this file's submodules: framing of one command out of the byte
//! stream, the command types and their parser, response encoding primitives, sequence sets and
//! modified UTF-7), then the session: its state machine ([`session`]), what it needs from outside
//! ([`context`]), the selected mailbox ([`view`]) and one module per command ([`command`]).
//!
//! The grammar modules know nothing of mailboxes, users or storage: they turn bytes into typed
//! commands and typed values into bytes, with every size checked before anything is allocated.

pub mod access;
pub mod command;
pub mod context;
pub mod datetime;
pub mod encode;
pub mod flags;
pub mod framing;
pub mod limits;
pub mod listmatch;
pub mod mutf7;
pub mod parser;
pub mod registry;
pub mod response;
pub mod sequence;
pub mod session;
pub mod types;
pub mod updates;
pub mod view;
pub mod window;

pub use context::{
    ChannelSecurity, Exit, IdleStep, SessionContext, Transport, Wake, WorkerResources,
};
pub use framing::{read_command, read_line, FrameError};
pub use parser::{parse_command, ParseError, ParseErrorKind};
pub use sequence::{SeqNumber, SeqRange, SequenceArg, SequenceSet};
pub use session::Session;
pub use types::{Command, CommandBody, Tag};
