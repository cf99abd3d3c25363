//! Shared by the stable fuzz-corpus tests (`*_fuzz_corpus.rs`, which include it with `#[path]`):
//! a target's seed corpus, and a fuzz body run over inputs derived from one seed.

/// The files of fuzz/corpus/TARGET, sorted by name: (file name, bytes).
pub fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
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
    files
}

/// Runs `check` (a fuzz body) on each input; a broken invariant (a panic) fails the test, naming
/// the seed the inputs came from and showing the input. Returns how many inputs ran.
#[allow(dead_code)] // paste_fuzz_corpus.rs has its own loops
pub fn holds_on(seed: &str, inputs: &[Vec<u8>], check: fn(&[u8])) -> usize {
    for input in inputs {
        let run = std::panic::catch_unwind(|| check(input));
        assert!(
            run.is_ok(),
            "{seed} (or a mutation of it) broke an invariant: {:?}",
            String::from_utf8_lossy(input)
        );
    }
    inputs.len()
}
