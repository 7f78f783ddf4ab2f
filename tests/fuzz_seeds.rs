//! The fuzz targets' seed corpora, replayed on every test run: each file of
//! `fuzz/seeds/<target>/` goes through the same entry point the cargo-fuzz target calls
//! (`fuzz/src/lib.rs`, compiled here as a module), so a target that stops building or an input
//! that once crashed it (kept there as a seed) fails the ordinary suite, without cargo-fuzz or
//! a nightly toolchain. Long campaigns are `fuzz/run.sh`'s job, not this file's.

#[path = "../fuzz/src/lib.rs"]
mod entry;

use std::path::Path;

/// Feeds every seed of `target` to `run`; returns how many there were.
fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    for f in &files {
        let data = std::fs::read(f).expect("read seed");
        // The file name says which seed failed (the panic carries the rest).
        eprintln!("{target}: {}", f.display());
        run(&data);
    }
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files.len()
}

#[test]
fn command_parser_seeds() {
    replay("command_parser", entry::command_parser);
}

#[test]
fn mime_seeds() {
    replay("mime", entry::mime);
}

#[test]
fn session_seeds() {
    replay("session", entry::session);
    entry::fixture().check_contents();
}

#[test]
fn search_seeds() {
    replay("search", entry::search);
    entry::fixture().check_contents();
}
