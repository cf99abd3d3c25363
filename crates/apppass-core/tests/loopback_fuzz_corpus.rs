//! Runs the `loopback_callback` fuzz target's body (fuzz/src/) on stable Rust over its seed
//! corpus in fuzz/corpus/loopback_callback/ and over truncations and byte changes of each file,
//! so CI exercises the target without a fuzzing run.

include!("../../../fuzz/src/loopback_callback_body.rs");

#[path = "support/fuzz_corpus.rs"]
mod fuzz_corpus;
use fuzz_corpus::holds_on;

fn corpus() -> Vec<(String, Vec<u8>)> {
    fuzz_corpus::seeds("loopback_callback")
}

#[test]
fn loopback_fuzz_body_holds_on_the_corpus_and_its_mutations() {
    let files = corpus();
    assert!(files.len() >= 12, "the seed corpus is missing");
    let mut runs = 0;
    for (name, data) in &files {
        let mut inputs = vec![data.clone()];
        if data.len() < 1000 {
            for cut in 0..data.len() {
                inputs.push(data[..cut].to_vec());
            }
            for at in 0..data.len() {
                for byte in [b' ', b'?', b'&', b'=', b'%', b'\r', b'\n', 0xff, b'/'] {
                    let mut d = data.clone();
                    d[at] = byte;
                    inputs.push(d);
                }
            }
        }
        runs += holds_on(name, &inputs, check);
    }
    assert!(runs > 2000, "only {runs} inputs");
}

#[test]
fn the_seeds_mean_what_their_names_say() {
    use apppass_core::fuzzing::{parse_callback, Refusal};
    let files: std::collections::HashMap<String, Vec<u8>> = corpus().into_iter().collect();
    let get = |name: &str| parse_callback(&files[name], "/");
    assert_eq!(get("code-state").unwrap().get("code"), Some("c+1"));
    assert_eq!(get("error").unwrap().get("error"), Some("access_denied"));
    assert_eq!(
        parse_callback(&files["code-state-iss"], "/callback")
            .unwrap()
            .get("iss"),
        Some("https://login.example")
    );
    assert_eq!(get("favicon").unwrap_err(), Refusal::NotTheCallback);
    assert_eq!(get("post").unwrap_err(), Refusal::NotTheCallback);
    assert_eq!(
        get("duplicate-state").unwrap_err(),
        Refusal::DuplicateParameter
    );
    assert_eq!(get("http2").unwrap_err(), Refusal::BadRequestLine);
    assert_eq!(get("absolute-target").unwrap_err(), Refusal::BadRequestLine);
    assert_eq!(get("no-blank-line").unwrap_err(), Refusal::Incomplete);
    assert_eq!(get("junk").unwrap_err(), Refusal::BadRequestLine);
    assert_eq!(get("not-utf8").unwrap_err(), Refusal::BadRequestLine);
    assert_eq!(get("fragment").unwrap_err(), Refusal::BadRequestLine);
    assert_eq!(get("too-large").unwrap_err(), Refusal::TooLarge);
    // Percent-encoded bytes that are not UTF-8 decode lossily; the sign-in then refuses the
    // state as not its own.
    assert_eq!(
        get("percent-not-utf8").unwrap().get("code"),
        Some("\u{fffd}\u{fffd}")
    );
}
