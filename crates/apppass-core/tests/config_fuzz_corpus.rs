//! Runs the `config_parsers` fuzz target's body (fuzz/src/) on stable Rust over its seed corpus
//! in fuzz/corpus/config_parsers/ and over truncations and byte flips of each file, so CI
//! exercises the target without a fuzzing run.

include!("../../../fuzz/src/config_parsers_body.rs");

#[test]
fn config_fuzz_body_holds_on_the_corpus_and_its_mutations() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/config_parsers");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|f| {
            let f = f.unwrap();
            (
                f.file_name().to_string_lossy().into_owned(),
                std::fs::read(f.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
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
        for input in inputs {
            let run = std::panic::catch_unwind(|| check(&input));
            assert!(
                run.is_ok(),
                "{name} (or a mutation of it) broke an invariant: {:?}",
                String::from_utf8_lossy(&input)
            );
            runs += 1;
        }
    }
    assert!(runs > 500, "only {runs} inputs");
}
