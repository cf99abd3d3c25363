//! Fuzzes the sign-in's loopback listener: request parsing and its bounded reader.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../src/loopback_callback_body.rs");

fuzz_target!(|data: &[u8]| {
    check(data);
});
