//! cargo-fuzz target `search`: see [`imapvault_fuzz::search`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imapvault_fuzz::search(data));
