//! Runs the `paste_normaliser` fuzz target's body (fuzz/src/) on stable Rust: over the seed
//! corpus in fuzz/corpus/paste_normaliser/ (plus anything a fuzzing run added there) and over
//! inputs derived from it, so CI exercises the target without nightly or cargo-fuzz.

include!("../../../fuzz/src/paste_normaliser_body.rs");

#[path = "support/fuzz_corpus.rs"]
mod fuzz_corpus;

fn corpus() -> Vec<(String, Vec<u8>)> {
    fuzz_corpus::seeds("paste_normaliser")
}

#[test]
fn fuzz_body_holds_on_the_corpus() {
    let files = corpus();
    assert!(files.len() >= 10, "the seed corpus is missing");
    for (name, data) in &files {
        let run = std::panic::catch_unwind(|| check(data));
        assert!(run.is_ok(), "corpus file {name} broke an invariant");
    }
}

#[test]
fn fuzz_body_holds_on_mutations_of_the_corpus() {
    // Cheap deterministic mutations: every prefix/suffix cut, byte flips and doubled input.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (_, data) in corpus() {
        if data.len() > 200 {
            check(&data[..200]);
            continue;
        }
        for cut in 0..=data.len() {
            check(&data[..cut]);
            check(&data[cut..]);
        }
        for _ in 0..32 {
            let mut m = data.clone();
            if !m.is_empty() {
                let i = (next() as usize) % m.len();
                m[i] ^= 1 << (next() % 8);
            }
            m.push((next() % 256) as u8);
            check(&m);
        }
        check(&[data.clone(), data.clone()].concat());
    }
}
