//! cargo-fuzz target `session`: see [`imapvault_fuzz::session`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imapvault_fuzz::session(data));
