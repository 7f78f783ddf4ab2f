//! The IMAP protocol layer.
//!
//! Owns, bottom up: the grammar (this file's submodules: framing of one command out of the byte
//! stream, the command types and their parser, response encoding primitives, sequence sets and
//! modified UTF-7) and, later, the session state machine and one module per command.
//!
//! The grammar modules know nothing of mailboxes, users or storage: they turn bytes into typed
//! commands and typed values into bytes, with every size checked before anything is allocated.

pub mod encode;
pub mod framing;
pub mod limits;
pub mod mutf7;
pub mod parser;
pub mod sequence;
pub mod types;

pub use framing::{read_command, read_line, FrameError};
pub use parser::{parse_command, ParseError, ParseErrorKind};
pub use sequence::{SeqNumber, SeqRange, SequenceArg, SequenceSet};
pub use types::{Command, CommandBody, Tag};
