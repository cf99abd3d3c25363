//! The CLI on a D-Bus session with no Secret Service (`scripts/without-keyring.sh`): exit 4, one
//! line that offers the encrypted file store, and nothing written. Needs only the D-Bus tools.

#![cfg(target_os = "linux")]

mod common;

use std::process::{Command, Stdio};

use common::*;

fn dbus_tools() -> bool {
    let present = Command::new("dbus-run-session")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present && std::env::var("APPPASS_REQUIRE_KEYRING").as_deref() == Ok("1") {
        panic!("APPPASS_REQUIRE_KEYRING=1 but dbus-run-session is missing: run scripts/setup.sh --test");
    }
    if !present {
        skipped("no_keyring", "dbus-run-session is not installed");
    }
    present
}

/// `scripts/without-keyring.sh [--no-bus] apppass ARGS` in `home`, with `stdin`.
fn without_keyring(home: &Home, no_bus: bool, args: &[&str], stdin: &str) -> std::process::Output {
    let mut cmd = Command::new(repo_root().join("scripts/without-keyring.sh"));
    if no_bus {
        cmd.arg("--no-bus");
    }
    cmd.arg(BIN)
        .args(args)
        .env("APPPASS_HOME", home.path())
        .env_remove("APPPASS_PASSPHRASE_FD");
    let mut cmd = assert_cmd::Command::from_std(cmd);
    cmd.write_stdin(stdin)
        .timeout(std::time::Duration::from_secs(60));
    cmd.output().unwrap()
}

#[test]
fn no_secret_service_exits_4_offering_the_file_store_and_writes_nothing() {
    if !dbus_tools() {
        return;
    }
    for no_bus in [false, true] {
        let h = Home::new();
        for args in [
            vec!["list"],
            vec!["get", "msmtp"],
            vec!["search", "x"],
            vec!["health"],
            vec!["rm", "msmtp"],
            vec![
                "add",
                "msmtp",
                "--provider",
                "custom",
                "--account",
                "a",
                "--client",
                "c",
            ],
        ] {
            let out = without_keyring(&h, no_bus, &args, "would-be-secret");
            let msg = one_line_failure(&out, 4);
            assert!(msg.contains("No OS keyring"), "{args:?}: {msg}");
            assert!(msg.contains("apppass store use-file"), "{args:?}: {msg}");
            assert!(!msg.contains("would-be-secret"));
        }
        let out = without_keyring(&h, no_bus, &["doctor", "--json"], "");
        one_line_failure(&out, 4);
        assert!(
            !h.path().join("vault.sqlite3").exists(),
            "nothing is created when the store cannot be reached"
        );
        assert!(h.files_containing("would-be-secret").is_empty());
    }
}

#[test]
fn use_file_works_where_there_is_no_keyring() {
    if !dbus_tools() {
        return;
    }
    let h = Home::new();
    // The passphrase comes on stdin (descriptor 0) here, through the wrapper script.
    let strong = "violet tractor sings under ninety lamps";
    let run = |args: &[&str], stdin: &str| {
        let mut cmd = Command::new(repo_root().join("scripts/without-keyring.sh"));
        cmd.arg(BIN)
            .args(args)
            .env("APPPASS_HOME", h.path())
            .env("APPPASS_PASSPHRASE_FD", "0");
        let mut cmd = assert_cmd::Command::from_std(cmd);
        cmd.write_stdin(stdin.to_string()).output().unwrap()
    };
    let out = run(&["store", "use-file"], &format!("{strong}\n"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(
        &[
            "add",
            "msmtp",
            "--provider",
            "custom",
            "--account",
            "a",
            "--client",
            "c",
        ],
        &format!("{strong}\nheadless-secret\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&["get", "msmtp"], &format!("{strong}\n"));
    assert_eq!(
        text(&out.stdout),
        "headless-secret\n",
        "{}",
        text(&out.stderr)
    );
    assert!(h.files_containing("headless-secret").is_empty());
}
