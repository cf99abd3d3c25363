//! Fuzzes the paste normaliser and validator with every provider's format.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../src/paste_normaliser_body.rs");

fuzz_target!(|data: &[u8]| {
    check(data);
});
