//! imapvault: read-only IMAP access to archived mail.
//!
//! Layers, from the bottom up (DESIGN §2–§4):
//! - [`store`]: the append-only, checksummed, content-addressed blob store (the only `unsafe`).
//! - [`index`]: the SQLite index; all SQL of the crate lives there and in `sql/`.
//! - [`mime`]: pure functions over a message's bytes (ENVELOPE, BODYSTRUCTURE, sections).
//! - [`import`]: readers for mbox, Maildir and `.eml`, and the ingest pipeline.
//! - [`auth`]: password hashing and the proof that a login was checked.
//! - [`imap`]: the protocol: framing, grammar, session state machine, one file per command.
//! - [`server`]: sockets, TLS, the mio acceptor and the worker pool.
//! - [`spool`]: archiving files dropped into a directory while the server runs.
//! - [`limits`]: every limit, its default, reason and config key (issue 6).
//! - [`config`], [`demo`]: the configuration file and the embedded demo archive.

pub mod archive;
pub mod auth;
pub mod check_config;
pub mod config;
pub mod demo;
pub mod imap;
pub mod import;
pub mod index;
pub mod limits;
pub mod mime;
pub mod server;
pub mod spool;
pub mod store;
#[cfg(test)]
mod test_rng;
