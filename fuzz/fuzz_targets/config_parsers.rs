//! Fuzzes the settings, `[bridge]` and policy parsers and what apppass resolves from them.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../src/config_parsers_body.rs");

fuzz_target!(|data: &[u8]| {
    check(data);
});
