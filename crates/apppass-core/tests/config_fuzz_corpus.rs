//! Runs the `config_parsers` fuzz target's body (fuzz/src/) on stable Rust over its seed corpus
//! in fuzz/corpus/config_parsers/ and over truncations and byte flips of each file, so CI
//! exercises the target without a fuzzing run.

include!("../../../fuzz/src/config_parsers_body.rs");

#[path = "support/fuzz_corpus.rs"]
mod fuzz_corpus;

#[test]
fn config_fuzz_body_holds_on_the_corpus_and_its_mutations() {
    let files = fuzz_corpus::seeds("config_parsers");
    assert!(files.len() >= 7, "the seed corpus is missing");
    let mut runs = 0;
    for (name, data) in &files {
        let mut inputs = vec![data.clone()];
        for cut in 0..data.len() {
            inputs.push(data[..cut].to_vec());
        }
        for at in (0..data.len()).step_by(3) {
            for byte in [b'"', b'[', b'=', b'\n', 0xff, b'0'] {
                let mut d = data.clone();
                d[at] = byte;
                inputs.push(d);
            }
        }
        runs += fuzz_corpus::holds_on(name, &inputs, check);
    }
    assert!(runs > 500, "only {runs} inputs");
}
