//! The vault against the real OS keyring (gnome-keyring's Secret Service), checked from outside
//! with `secret-tool`. Run inside `scripts/with-keyring.sh` (the test suite does); with
//! `APPPASS_REQUIRE_KEYRING=1` a missing keyring is a failure, otherwise these tests say they are
//! skipped.

#![cfg(target_os = "linux")]

use std::process::Command;
use std::sync::Arc;

use apppass_core::clock::SystemClock;
use apppass_core::profile::Profile;
use apppass_core::vault::store::{KeyringStore, SecretStore};
use apppass_core::vault::{Access, EntryKind, NewEntry, Vault};
use apppass_core::{Code, Secret};

mod support;
use support::keyring::{files_containing, secret_tool_item};

fn keyring_available() -> bool {
    let ready = support::keyring::available();
    if !ready {
        eprintln!("skipped: no test keyring (run inside scripts/with-keyring.sh)");
    }
    ready
}

fn open(dir: &std::path::Path) -> Vault {
    let profile = Profile::isolated(dir).unwrap();
    Vault::open(
        profile,
        Box::new(KeyringStore::open().expect("Secret Service reachable")),
        Arc::new(SystemClock),
        "cli",
    )
    .unwrap()
}

fn new(name: &str, provider: &str) -> NewEntry {
    NewEntry {
        name: name.into(),
        provider: provider.into(),
        account: "ann@example.com".into(),
        client: "thunderbird".into(),
        kind: EntryKind::AppPassword,
        notes: String::new(),
        servers: None,
    }
}

#[test]
fn real_keyring_round_trip_labels_and_no_secret_on_disk() {
    if !keyring_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vault = open(dir.path());
    let ns = vault.profile().namespace.clone();
    let canary = "canary-kr1-abcd-efgh-ijkl";

    let e = vault
        .add(
            new("Thunderbird on laptop", "custom"),
            &Secret::from(canary),
        )
        .unwrap();
    let user = format!("{ns}/{}", e.id);
    let (label, secret) = secret_tool_item(&user).expect("secret-tool finds the item");
    assert_eq!(label, "apppass: Thunderbird on laptop");
    assert_eq!(secret, canary);

    // A second process (a fresh vault over the same profile) reads it back.
    let again = open(dir.path());
    assert_eq!(
        again
            .secret("thunderbird on laptop", Access::Reveal)
            .unwrap()
            .1
            .expose(),
        canary
    );

    again
        .rename("Thunderbird on laptop", "Thunderbird at home")
        .unwrap();
    assert_eq!(
        secret_tool_item(&user).unwrap().0,
        "apppass: Thunderbird at home"
    );

    let rotated = "canary-kr1-rotated";
    again
        .rotate("Thunderbird at home", Some(&Secret::from(rotated)))
        .unwrap();
    assert_eq!(secret_tool_item(&user).unwrap().1, rotated);
    let doctor = again.doctor().unwrap();
    assert_eq!(doctor.orphans_removed, 0);
    assert!(doctor.missing_secrets.is_empty());
    assert!(doctor.store_problem.is_none());

    for needle in [canary, rotated] {
        assert_eq!(
            files_containing(dir.path(), needle),
            Vec::<String>::new(),
            "{needle} on disk"
        );
    }

    again.remove("Thunderbird at home").unwrap();
    assert!(
        secret_tool_item(&user).is_none(),
        "the keyring item is gone"
    );
    // The vault key (for duplicate detection) stays; it is the only item left for this profile.
    let left = KeyringStore::open().unwrap().ids(&ns).unwrap().unwrap();
    assert_eq!(left, vec!["vault-key".to_string()]);
}

#[test]
fn profiles_are_isolated_in_the_keyring() {
    if !keyring_available() {
        return;
    }
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let va = open(a.path());
    let vb = open(b.path());
    va.add(new("Printer", "custom"), &Secret::from("secret-a"))
        .unwrap();
    vb.add(new("Printer", "custom"), &Secret::from("secret-b"))
        .unwrap();
    assert_eq!(
        va.secret("Printer", Access::Reveal).unwrap().1.expose(),
        "secret-a"
    );
    assert_eq!(
        vb.secret("Printer", Access::Reveal).unwrap().1.expose(),
        "secret-b"
    );
    va.remove("Printer").unwrap();
    assert_eq!(
        vb.secret("Printer", Access::Reveal).unwrap().1.expose(),
        "secret-b"
    );
    assert_eq!(
        va.secret("Printer", Access::Reveal).unwrap_err().code,
        Code::NotFound
    );
}

#[test]
fn an_orphaned_keyring_item_is_found_and_removed_by_doctor() {
    if !keyring_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vault = open(dir.path());
    vault
        .add(new("Kept", "custom"), &Secret::from("kept"))
        .unwrap();
    let ns = vault.profile().namespace.clone();
    let status = Command::new("sh")
        .args([
            "-c",
            &format!("printf orphan | secret-tool store --label='apppass: lost' service apppass username '{ns}/0123456789abcdef'"),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let report = vault.doctor().unwrap();
    assert_eq!((report.orphans_kept, report.orphans_removed), (1, 0));
    assert!(secret_tool_item(&format!("{ns}/0123456789abcdef")).is_some());
    let report = vault.remove_orphans().unwrap();
    assert_eq!((report.orphans_kept, report.orphans_removed), (0, 1));
    assert!(secret_tool_item(&format!("{ns}/0123456789abcdef")).is_none());
    assert_eq!(
        vault.secret("Kept", Access::Reveal).unwrap().1.expose(),
        "kept"
    );
}
