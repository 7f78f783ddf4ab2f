//! cargo-fuzz target `command_parser`: see [`imapvault_fuzz::command_parser`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imapvault_fuzz::command_parser(data));
