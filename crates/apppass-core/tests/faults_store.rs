//! Keyring faults in the middle of a vault operation, against the REAL gnome-keyring of
//! `scripts/with-keyring.sh` (issue 6, section 3).
//!
//! The vault takes any `Box<dyn SecretStore>`; here it is the real `KeyringStore` wrapped in
//! [`Faulty`], which counts the vault's calls into the store and, right after the Nth one returns,
//! either locks the real keyring (`$APPPASS_TEST_KEYRING_CTL lock`) or SIGKILLs its own process.
//! Every N an operation makes is tried, for add, rotate, remove and rename:
//!
//! - **lock**: the call ends in `Ok` or a clear `KeyringLocked`; then the keyring is unlocked, the
//!   vault reopened (a new process would do the same) and every committed entry reads back its
//!   exact password, the operation either happened whole or not at all, and `doctor` finds no
//!   orphan and no missing secret.
//! - **kill**: the test binary runs itself as a child (`current_exe`, this test's name as the
//!   filter, the kill point in the environment); the child's wrapper SIGKILLs it after the Nth
//!   store call; the parent reopens the vault and checks the same invariants, where "whole or not
//!   at all" for a rotation means: `get` gives the old password with the old rotation date and
//!   fingerprint, or the new one with the rotation recorded (seen through `health`'s duplicate
//!   check: the new password is another entry's).
//!
//! Each scenario runs in its own nested keyring session (it locks the keyring), never in the one
//! the other tests share.

#![cfg(target_os = "linux")]

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apppass_core::clock::SystemClock;
use apppass_core::profile::Profile;
use apppass_core::settings::StoreKind;
use apppass_core::vault::store::{KeyringStore, SecretKey, SecretStore, StoreResult};
use apppass_core::vault::{Access, EntryKind, NewEntry, Vault};
use apppass_core::{Code, Secret};

mod support;

/// The entries committed before every fault: (name, password). "Dup" holds the password that
/// rotations switch to, so a rotation that reached the keyring shows as a duplicate in `health`.
const COMMITTED: &[(&str, &str)] = &[
    ("Alpha", "alpha-secret-0001"),
    ("Bravo", "bravo-secret-0002"),
    ("Dup", "rotated-secret-0003"),
];
const NEW_ENTRY: (&str, &str) = ("Added", "added-secret-0004");
const ROTATED_TO: &str = "rotated-secret-0003";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Rotate,
    Remove,
    Rename,
}

const OPS: [Op; 4] = [Op::Add, Op::Rotate, Op::Remove, Op::Rename];

impl Op {
    fn parse(s: &str) -> Op {
        *OPS.iter()
            .find(|o| o.name() == s)
            .unwrap_or_else(|| panic!("unknown op {s}"))
    }
    fn name(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Rotate => "rotate",
            Op::Remove => "remove",
            Op::Rename => "rename",
        }
    }
    fn run(self, vault: &Vault) -> Result<(), apppass_core::Failure> {
        match self {
            Op::Add => vault
                .add(new(NEW_ENTRY.0), &Secret::from(NEW_ENTRY.1))
                .map(|_| ()),
            Op::Rotate => vault
                .rotate("Alpha", Some(&Secret::from(ROTATED_TO)))
                .map(|_| ()),
            Op::Remove => vault.remove("Bravo").map(|_| ()),
            Op::Rename => vault.rename("Alpha", "Alpha renamed").map(|_| ()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Count only.
    None,
    /// `$APPPASS_TEST_KEYRING_CTL lock` after the Nth call.
    LockAfter(usize),
    /// SIGKILL this process after the Nth call.
    KillAfter(usize),
}

/// The real keyring store, with a fault after the Nth call.
struct Faulty {
    inner: KeyringStore,
    calls: Arc<AtomicUsize>,
    fault: Fault,
}

impl Faulty {
    fn after_call(&self) {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        match self.fault {
            Fault::LockAfter(at) if at == n => ctl("lock"),
            Fault::KillAfter(at) if at == n => {
                // SIGKILL from outside the process: no destructor, no flush, no unwinding.
                let _ = Command::new("kill")
                    .args(["-KILL", &std::process::id().to_string()])
                    .status();
                std::thread::sleep(Duration::from_secs(30));
                unreachable!("still alive after SIGKILL");
            }
            _ => {}
        }
    }
    fn call<T>(&self, r: StoreResult<T>) -> StoreResult<T> {
        self.after_call();
        r
    }
}

impl SecretStore for Faulty {
    fn kind(&self) -> StoreKind {
        self.inner.kind()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn put(&self, key: &SecretKey, label: &str, secret: &Secret) -> StoreResult<()> {
        self.call(self.inner.put(key, label, secret))
    }
    fn get(&self, key: &SecretKey) -> StoreResult<Option<Secret>> {
        self.call(self.inner.get(key))
    }
    fn delete(&self, key: &SecretKey) -> StoreResult<bool> {
        self.call(self.inner.delete(key))
    }
    fn relabel(&self, key: &SecretKey, label: &str) -> StoreResult<()> {
        self.call(self.inner.relabel(key, label))
    }
    fn ids(&self, namespace: &str) -> StoreResult<Option<Vec<String>>> {
        self.call(self.inner.ids(namespace))
    }
    fn probe(&self, namespace: &str) -> StoreResult<()> {
        self.call(self.inner.probe(namespace))
    }
}

fn ctl(action: &str) {
    let ctl = std::env::var("APPPASS_TEST_KEYRING_CTL")
        .expect("APPPASS_TEST_KEYRING_CTL (run inside scripts/with-keyring.sh)");
    let out = Command::new(&ctl).arg(action).output().unwrap();
    assert!(
        out.status.success(),
        "keyring ctl {action}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn new(name: &str) -> NewEntry {
    NewEntry {
        name: name.into(),
        provider: "custom".into(),
        account: "ann@example.com".into(),
        client: "thunderbird".into(),
        kind: EntryKind::AppPassword,
        notes: String::new(),
        servers: None,
    }
}

fn open(dir: &Path, fault: Fault, calls: Arc<AtomicUsize>) -> Vault {
    let store = Faulty {
        inner: KeyringStore::open().expect("Secret Service reachable"),
        calls,
        fault,
    };
    Vault::open(
        Profile::isolated(dir).unwrap(),
        Box::new(store),
        Arc::new(SystemClock),
        "cli",
    )
    .unwrap()
}

fn plain(dir: &Path) -> Vault {
    open(dir, Fault::None, Arc::new(AtomicUsize::new(0)))
}

/// A profile with the committed entries.
fn committed() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let vault = plain(dir.path());
    for (name, secret) in COMMITTED {
        vault.add(new(name), &Secret::from(*secret)).unwrap();
    }
    dir
}

/// How many store calls `op` makes on a profile like the ones the faults hit.
fn calls_of(op: Op) -> usize {
    let dir = committed();
    let calls = Arc::new(AtomicUsize::new(0));
    let vault = open(dir.path(), Fault::None, calls.clone());
    calls.store(0, Ordering::SeqCst);
    op.run(&vault).unwrap();
    calls.load(Ordering::SeqCst)
}

/// Reopens the vault (as the next process would) and checks what the interrupted `op` left:
/// every committed entry reads back, `op` happened whole or not at all, doctor is clean.
/// Returns whether `op` took effect.
fn check_after(dir: &Path, op: Op, what: &str) -> bool {
    let vault = plain(dir);
    let names: Vec<String> = vault.list().unwrap().into_iter().map(|e| e.name).collect();
    let get = |name: &str| {
        vault
            .secret(name, Access::Reveal)
            .map(|(_, s)| s.expose().to_string())
            .unwrap_or_else(|f| panic!("{what}: get {name:?}: {f:?}"))
    };
    let applied = match op {
        Op::Add => names.iter().any(|n| n == NEW_ENTRY.0),
        Op::Rotate => get("Alpha") == ROTATED_TO,
        Op::Remove => !names.iter().any(|n| n == "Bravo"),
        Op::Rename => names.iter().any(|n| n == "Alpha renamed"),
    };
    let mut want: Vec<(String, String)> = COMMITTED
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect();
    if applied {
        match op {
            Op::Add => want.push((NEW_ENTRY.0.into(), NEW_ENTRY.1.into())),
            Op::Rotate => want[0].1 = ROTATED_TO.into(),
            Op::Remove => want.retain(|(n, _)| n != "Bravo"),
            Op::Rename => want[0].0 = "Alpha renamed".into(),
        }
    }
    want.sort();
    let mut got: Vec<(String, String)> = names.iter().map(|n| (n.clone(), get(n))).collect();
    got.sort();
    assert_eq!(got, want, "{what}: entries and passwords after reopening");

    // A rotation is recorded exactly when the keyring holds the new password: its date, and its
    // fingerprint (the new password is Dup's, so `health` must see them as duplicates).
    let alpha = if op == Op::Rename && applied {
        "Alpha renamed"
    } else {
        "Alpha"
    };
    let rotated = vault.entry(alpha).unwrap().rotated;
    let duplicates = vault.health(365, 365).unwrap().duplicates;
    let alpha_dup = duplicates.iter().any(|g| g.iter().any(|n| n == alpha));
    if op == Op::Rotate && applied {
        assert!(
            rotated.is_some(),
            "{what}: new password but no rotation date"
        );
        assert!(
            alpha_dup,
            "{what}: new password but the old fingerprint: {duplicates:?}"
        );
    } else {
        assert_eq!(rotated, None, "{what}: rotation date without a rotation");
        assert!(
            !alpha_dup,
            "{what}: fingerprint changed without a rotation: {duplicates:?}"
        );
    }

    let doctor = vault.doctor().unwrap();
    assert_eq!(doctor.store_problem, None, "{what}");
    assert_eq!(doctor.orphans_removed, 0, "{what}: orphans: {doctor:?}");
    assert!(doctor.missing_secrets.is_empty(), "{what}: {doctor:?}");
    assert_eq!(doctor.entries as usize, want.len(), "{what}");
    applied
}

/// Runs `body` in a nested `scripts/with-keyring.sh` of its own (the test binary runs itself
/// there with `test` as the exact filter); in that nested run, runs `body`.
fn in_own_keyring(test: &str, body: impl FnOnce()) {
    if std::env::var("APPPASS_FAULT_SCENARIO").as_deref() == Ok(test) {
        body();
        return;
    }
    if !support::keyring::available() {
        eprintln!("skipped {test}: no test keyring (run inside scripts/with-keyring.sh)");
        return;
    }
    let out = run_bounded(
        Command::new(repo_root().join("scripts/with-keyring.sh"))
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env("APPPASS_FAULT_SCENARIO", test),
        Duration::from_secs(600),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} in its own keyring: {:?}\n{stdout}\n{stderr}",
        out.status
    );
    eprint!("{stderr}");
}

/// Runs `cmd` with its output captured, killing it (and its process group) after `limit`.
fn run_bounded(cmd: &mut Command, limit: Duration) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let started = Instant::now();
    let watchdog = std::thread::spawn(move || {
        while started.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(200));
            if std::path::Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            return;
        }
        let _ = Command::new("kill")
            .args(["-KILL", &format!("-{pid}")])
            .status();
    });
    let out = child.wait_with_output().unwrap();
    drop(watchdog);
    assert!(started.elapsed() < limit, "{cmd:?} ran over {limit:?}");
    out
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

#[test]
fn keyring_locked_after_every_store_call_of_add_rotate_remove_rename() {
    in_own_keyring(
        "keyring_locked_after_every_store_call_of_add_rotate_remove_rename",
        || {
            let mut figures = Vec::new();
            for op in OPS {
                let total = calls_of(op);
                assert!(total >= 1, "{op:?} makes no store call");
                for n in 1..=total {
                    let what = format!(
                        "{} with the keyring locked after call {n}/{total}",
                        op.name()
                    );
                    let dir = committed();
                    let vault = open(
                        dir.path(),
                        Fault::LockAfter(n),
                        Arc::new(AtomicUsize::new(0)),
                    );
                    let started = Instant::now();
                    let result = op.run(&vault);
                    assert!(
                        started.elapsed() < Duration::from_secs(20),
                        "{what}: too slow"
                    );
                    let code = match &result {
                        Ok(()) => "ok".to_string(),
                        Err(f) => {
                            assert_eq!(f.code, Code::KeyringLocked, "{what}: {f:?}");
                            assert!(f.message.contains("Unlock it"), "{what}: {}", f.message);
                            f.code.as_str().to_string()
                        }
                    };
                    drop(vault);
                    ctl("unlock");
                    let applied = check_after(dir.path(), op, &what);
                    assert_eq!(
                        applied,
                        result.is_ok(),
                        "{what}: the call answered {code} but the change was {}made",
                        if applied { "" } else { "not " }
                    );
                    figures.push(format!("{} lock@{n}/{total}: {code}", op.name()));
                }
            }
            eprintln!("keyring locked mid-operation: {}", figures.join("; "));
        },
    );
}

/// The child's side of the kill points: opens the profile in APPPASS_KILL_DIR with the wrapper
/// armed and runs the operation, which never returns when the kill point is reached.
#[test]
fn kill_point_child() {
    let (Ok(dir), Ok(op), Ok(at)) = (
        std::env::var("APPPASS_KILL_DIR"),
        std::env::var("APPPASS_KILL_OP"),
        std::env::var("APPPASS_KILL_AT"),
    ) else {
        return; // only meaningful as the child of sigkill_after_every_store_call_…
    };
    let at: usize = at.parse().unwrap();
    let vault = open(
        Path::new(&dir),
        Fault::KillAfter(at),
        Arc::new(AtomicUsize::new(0)),
    );
    let result = Op::parse(&op).run(&vault);
    panic!("{op} finished ({result:?}) before its kill point {at}");
}

#[test]
fn sigkill_after_every_store_call_of_add_rotate_remove_rename() {
    if !support::keyring::available() {
        eprintln!("skipped: no test keyring (run inside scripts/with-keyring.sh)");
        return;
    }
    // Killing the process does not disturb the shared keyring: no nested session needed.
    let mut figures = Vec::new();
    for op in OPS {
        let total = calls_of(op);
        for n in 1..=total {
            let what = format!("{} killed after store call {n}/{total}", op.name());
            let dir = committed();
            let out = run_bounded(
                Command::new(std::env::current_exe().unwrap())
                    .args(["--exact", "kill_point_child", "--nocapture"])
                    .env("APPPASS_KILL_DIR", dir.path())
                    .env("APPPASS_KILL_OP", op.name())
                    .env("APPPASS_KILL_AT", n.to_string()),
                Duration::from_secs(120),
            );
            assert_eq!(
                out.status.signal(),
                Some(9),
                "{what}: the child was not killed: {:?}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            let applied = check_after(dir.path(), op, &what);
            figures.push(format!(
                "{} kill@{n}/{total}: {}",
                op.name(),
                if applied { "done" } else { "undone" }
            ));
        }
    }
    eprintln!("killed mid-operation: {}", figures.join("; "));
}

/// A long-running process (the bridge, the app) keeps one `KeyringStore` for its whole life. The
/// Secret Service disappearing answers `KeyringUnavailable` quickly, changes nothing, and once it
/// is back the same store (no restart of the process) reads everything and writes again.
#[test]
fn one_store_lives_through_the_secret_service_stopping_and_starting() {
    in_own_keyring(
        "one_store_lives_through_the_secret_service_stopping_and_starting",
        || {
            let dir = committed();
            let vault = plain(dir.path());
            ctl("stop");
            let timed = |what: &str, f: &dyn Fn() -> Result<(), apppass_core::Failure>| {
                let started = Instant::now();
                let err = f().expect_err(what);
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "{what} took {:?}",
                    started.elapsed()
                );
                assert_eq!(err.code, Code::KeyringUnavailable, "{what}: {err:?}");
                assert!(
                    err.message.contains("Start your desktop's keyring"),
                    "{what}: {}",
                    err.message
                );
            };
            timed("get", &|| vault.secret("Alpha", Access::Reveal).map(|_| ()));
            timed("add", &|| {
                vault
                    .add(new(NEW_ENTRY.0), &Secret::from(NEW_ENTRY.1))
                    .map(|_| ())
            });
            timed("rotate", &|| {
                vault
                    .rotate("Alpha", Some(&Secret::from(ROTATED_TO)))
                    .map(|_| ())
            });
            timed("remove", &|| vault.remove("Bravo").map(|_| ()));
            timed("rename", &|| {
                vault.rename("Alpha", "Alpha renamed").map(|_| ())
            });
            // The metadata still lists; doctor names the problem instead of failing.
            assert_eq!(vault.list().unwrap().len(), COMMITTED.len());
            let doctor = vault.doctor().unwrap();
            assert_eq!(
                doctor.store_problem.map(|f| f.code),
                Some(Code::KeyringUnavailable)
            );

            ctl("start");
            for (name, secret) in COMMITTED {
                let (_, got) = vault
                    .secret(name, Access::Reveal)
                    .unwrap_or_else(|f| panic!("get {name} after the restart: {f:?}"));
                assert_eq!(got.expose(), *secret);
            }
            vault
                .rotate("Alpha", Some(&Secret::from(ROTATED_TO)))
                .expect("rotate after the restart");
            assert!(check_after(dir.path(), Op::Rotate, "after the restart"));
            vault
                .add(new(NEW_ENTRY.0), &Secret::from(NEW_ENTRY.1))
                .expect("add after the restart");
            drop(vault);
            let vault = plain(dir.path());
            assert_eq!(
                vault
                    .secret(NEW_ENTRY.0, Access::Reveal)
                    .unwrap()
                    .1
                    .expose(),
                NEW_ENTRY.1
            );
        },
    );
}
