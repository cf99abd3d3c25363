//! Crash safety of the CLI against the real keyring: 200 `apppass add` / `apppass rotate` /
//! `apppass rm` processes (new passwords on stdin), a random half of them killed with SIGKILL at a
//! random moment. Afterwards every operation that reported success holds, nothing that was never
//! committed is listed, every listed entry reads back its exact password (after a killed rotation:
//! exactly the old or the new one, never nothing or garbage), and `doctor` finds no orphan and no
//! missing secret.
//!
//! The run is reproducible: the seed is printed, and APPPASS_CRASH_SEED=N replays it (the
//! timing of the kills relative to the process still varies with the machine's load).

#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

const OPERATIONS: usize = 200;

/// SplitMix64: small, seedable, good enough to pick operations and delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Committed,
    Killed,
    Failed(i32),
}

/// Runs `apppass ARGS` with `stdin`, killing it after `kill_after` if given.
fn run(home: &Home, args: &[&str], stdin: &str, kill_after: Option<Duration>) -> (Outcome, String) {
    let mut child = home
        .std_cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // The child may already be dead (killed, or failed early): a broken pipe is expected then.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    if let Some(delay) = kill_after {
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL; harmless if it has already exited (not yet reaped)
    }
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    let outcome = match (out.status.code(), out.status.signal()) {
        (Some(0), _) => Outcome::Committed,
        (_, Some(libc::SIGKILL)) => Outcome::Killed,
        (Some(code), _) => Outcome::Failed(code),
        (None, sig) => panic!("apppass died of signal {sig:?}: {stderr}"),
    };
    (outcome, stderr)
}

#[test]
fn sigkill_during_200_adds_and_removes_loses_nothing_committed() {
    if !keyring("sigkill_during_200_adds_and_removes_loses_nothing_committed") {
        return;
    }
    let seed = std::env::var("APPPASS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let _ = writeln!(
        std::io::stderr(),
        "crash test seed: {seed} (replay with APPPASS_CRASH_SEED={seed})"
    );
    let mut rng = Rng(seed);
    let started = Instant::now();
    let h = Home::new();

    // How long one add takes here (the profile's first add also creates the database and the
    // vault key, so time a second one): kills are timed against it.
    let add = |name: &str, secret: &str| {
        let t = Instant::now();
        let (o, e) = run(
            &h,
            &[
                "add",
                name,
                "--provider",
                "custom",
                "--account",
                "a",
                "--client",
                "c",
            ],
            secret,
            None,
        );
        assert_eq!(o, Outcome::Committed, "{e}");
        t.elapsed()
    };
    add("calibration 1", "calibration-secret-1");
    let add_time = add("calibration 2", "calibration-secret-2");
    for name in ["calibration 1", "calibration 2"] {
        let (o, e) = run(&h, &["rm", name], "", None);
        assert_eq!(o, Outcome::Committed, "{e}");
    }
    let span_us = (add_time.as_micros() as u64 * 3 / 2).max(5_000);

    // present: committed and not removed since. maybe: the last operation on it was killed.
    let mut present: BTreeMap<String, String> = BTreeMap::new();
    let mut maybe: BTreeMap<String, String> = BTreeMap::new();
    // A rotation killed: either password may be the one stored (name -> the other one).
    let mut either: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut figures: BTreeMap<&str, u32> = BTreeMap::new();
    let mut unexpected = Vec::new();

    for i in 0..OPERATIONS {
        let candidates: Vec<String> = present.keys().chain(maybe.keys()).cloned().collect();
        let roll = rng.below(100);
        let adding = candidates.is_empty() || roll < 45;
        let rotating = !adding && roll < 75;
        // Half the operations are killed: a quarter of those anywhere in 0..1.5x an add's time,
        // the rest in its second half, where the database and the keyring are written.
        let kill_after = (rng.below(100) < 50).then(|| {
            let us = if rng.below(4) == 0 {
                rng.below(span_us)
            } else {
                span_us / 3 + rng.below(span_us * 2 / 5)
            };
            Duration::from_micros(us)
        });
        if adding {
            let name = format!("crash {i}");
            let secret = format!("secret-{i}-{:016x}", rng.next());
            let (outcome, stderr) = run(
                &h,
                &[
                    "add",
                    &name,
                    "--provider",
                    "custom",
                    "--account",
                    "a",
                    "--client",
                    "c",
                ],
                &secret,
                kill_after,
            );
            match outcome {
                Outcome::Committed => {
                    *figures.entry("adds committed").or_default() += 1;
                    present.insert(name, secret);
                }
                Outcome::Killed => {
                    *figures.entry("adds killed").or_default() += 1;
                    maybe.insert(name, secret);
                }
                Outcome::Failed(code) => {
                    unexpected.push(format!("add {name}: exit {code}: {stderr}"));
                }
            }
        } else if rotating {
            let name = candidates[rng.below(candidates.len() as u64) as usize].clone();
            let secret = format!("rotated-{i}-{:016x}", rng.next());
            let (outcome, stderr) = run(&h, &["rotate", &name], &secret, kill_after);
            // The map that holds the entry's expected password (committed or maybe).
            let slot = if present.contains_key(&name) {
                &mut present
            } else {
                &mut maybe
            };
            match outcome {
                Outcome::Committed => {
                    *figures.entry("rotations committed").or_default() += 1;
                    either.remove(&name);
                    slot.insert(name, secret);
                }
                Outcome::Killed => {
                    *figures.entry("rotations killed").or_default() += 1;
                    // `get` must show the new password or one of those before it.
                    if let Some(old) = slot.insert(name.clone(), secret) {
                        either.entry(name).or_default().push(old);
                    }
                }
                Outcome::Failed(3) if maybe.contains_key(&name) => {
                    *figures.entry("rotations of never-committed").or_default() += 1;
                    maybe.remove(&name);
                    either.remove(&name);
                }
                Outcome::Failed(code) => {
                    unexpected.push(format!("rotate {name}: exit {code}: {stderr}"));
                }
            }
        } else {
            let name = candidates[rng.below(candidates.len() as u64) as usize].clone();
            let (outcome, stderr) = run(&h, &["rm", &name], "", kill_after);
            match outcome {
                Outcome::Committed => {
                    *figures.entry("removes committed").or_default() += 1;
                    present.remove(&name);
                    maybe.remove(&name);
                    either.remove(&name);
                }
                Outcome::Killed => {
                    *figures.entry("removes killed").or_default() += 1;
                    if let Some(secret) = present.remove(&name) {
                        maybe.insert(name, secret);
                    }
                }
                // Not found: only possible for an entry whose add or remove was killed.
                Outcome::Failed(3) if maybe.contains_key(&name) => {
                    *figures.entry("removes of never-committed").or_default() += 1;
                    maybe.remove(&name);
                    either.remove(&name);
                }
                Outcome::Failed(code) => {
                    unexpected.push(format!("rm {name}: exit {code}: {stderr}"));
                }
            }
        }
    }
    let ops_time = started.elapsed();
    assert!(
        unexpected.is_empty(),
        "unexpected failures:\n{}",
        unexpected.join("\n")
    );

    // Every committed entry is listed; nothing listed that was never committed or was removed.
    let listed = h.names();
    for name in present.keys() {
        assert!(
            listed.contains(name),
            "committed entry {name:?} is missing (seed {seed})"
        );
    }
    for name in &listed {
        assert!(
            present.contains_key(name) || maybe.contains_key(name),
            "{name:?} is listed but was never committed or was removed (seed {seed})"
        );
    }
    // Every listed entry is whole: its password reads back exactly (after a killed rotation,
    // exactly the new one or the one before).
    let mut rotations_undone = 0;
    for name in &listed {
        let want = present.get(name).or_else(|| maybe.get(name)).unwrap();
        let out = h.cmd(["get", name]).output().unwrap();
        assert!(
            out.status.success(),
            "get {name:?}: {} (seed {seed})",
            text(&out.stderr)
        );
        let got = text(&out.stdout);
        let older = either.get(name).cloned().unwrap_or_default();
        if older.iter().any(|old| got == format!("{old}\n")) {
            rotations_undone += 1;
        } else {
            assert_eq!(
                got,
                format!("{want}\n"),
                "{name:?}: neither the last password nor one before it {older:?} (seed {seed})"
            );
        }
    }
    let out = h.cmd(["doctor", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["orphans_removed"], 0, "{report} (seed {seed})");
    assert_eq!(
        report["missing_secrets"],
        serde_json::json!([]),
        "{report} (seed {seed})"
    );
    assert_eq!(report["entries"], listed.len() as u64);

    let repaired = {
        let out = h.cmd(["audit", "--json"]).output().unwrap();
        let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        log.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "repaired")
            .count()
    };
    let killed_then_present = listed.iter().filter(|n| maybe.contains_key(*n)).count();
    let _ = writeln!(
        std::io::stderr(),
        "crash test: {OPERATIONS} operations in {:.1} s (add takes ~{} ms, kills within {} ms); {figures:?}; \
         at the end {} listed ({} committed, {killed_then_present} of {} killed ones complete), \
         {repaired} half-done operations rolled back or finished by the next process, \
         {rotations_undone} of {} killed rotations left the old password, \
         doctor: {} unfinished, {} orphans; total {:.1} s",
        ops_time.as_secs_f64(),
        add_time.as_millis(),
        span_us / 1000,
        listed.len(),
        present.len(),
        maybe.len(),
        either.len(),
        report["unfinished_repaired"],
        report["orphans_removed"],
        started.elapsed().as_secs_f64(),
    );
}
