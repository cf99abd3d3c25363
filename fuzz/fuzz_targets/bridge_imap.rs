//! Fuzzes the bridge's IMAP session before sign-in with arbitrary client bytes, in memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../src/bridge_body.rs");

fuzz_target!(|data: &[u8]| {
    check_imap(data);
});
