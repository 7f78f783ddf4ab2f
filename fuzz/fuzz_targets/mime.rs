//! cargo-fuzz target `mime`: see [`imapvault_fuzz::mime`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imapvault_fuzz::mime(data));
