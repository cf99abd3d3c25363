//! Keyring faults seen from the CLI, against the REAL gnome-keyring (issue 6, section 3): the
//! keyring locked while entries exist, and the Secret Service disappearing and coming back. Each
//! scenario runs in its own nested `scripts/with-keyring.sh` session (the test binary runs itself
//! there), whose keyring it locks, unlocks, stops and starts with `$APPPASS_TEST_KEYRING_CTL`.
//! Every scenario commits entries first and reads everything back after the fault is removed.

#![cfg(target_os = "linux")]

mod common;
#[path = "../../apppass-core/tests/support/dovecot.rs"]
mod dovecot;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::bridge::{imap_login, Running};
use common::oidc::{browser, provider};
use common::*;

const ENTRIES: &[(&str, &str)] = &[
    ("Work IMAP", "work-imap-secret-01"),
    ("Phone", "phone-secret-02"),
    ("Printer", "printer-secret-03"),
];

fn ctl(action: &str) {
    let ctl = std::env::var("APPPASS_TEST_KEYRING_CTL").expect("inside scripts/with-keyring.sh");
    let out = Command::new(ctl).arg(action).output().unwrap();
    assert!(
        out.status.success(),
        "keyring ctl {action}: {}",
        text(&out.stderr)
    );
}

/// Runs `body` in a nested keyring session of its own (see the module comment).
fn in_own_keyring(test: &str, body: impl FnOnce()) {
    if std::env::var("APPPASS_FAULT_SCENARIO").as_deref() == Ok(test) {
        body();
        return;
    }
    if !keyring(test) {
        return;
    }
    let out = Command::new(repo_root().join("scripts/with-keyring.sh"))
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("APPPASS_FAULT_SCENARIO", test)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} in its own keyring: {:?}\n{stdout}\n{}",
        out.status,
        text(&out.stderr)
    );
}

/// `apppass ARGS` with `stdin`, bounded: it must answer within 15 s.
fn run(h: &Home, args: &[&str], stdin: &str) -> std::process::Output {
    let started = Instant::now();
    let out = h.cmd(args).write_stdin(stdin).output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "apppass {args:?} took {:?}",
        started.elapsed()
    );
    out
}

fn commit(h: &Home) {
    for (name, secret) in ENTRIES {
        h.add(name, "custom", secret).success();
    }
    h.cmd(["rotate", "Printer", "--mark-only"])
        .assert()
        .success();
}

/// Everything committed is there: listed with its metadata, its exact password, doctor clean.
fn read_back(h: &Home, extra: &[(&str, &str)]) {
    let mut want: Vec<&str> = ENTRIES.iter().chain(extra).map(|(n, _)| *n).collect();
    want.sort_by_key(|n| n.to_lowercase());
    assert_eq!(h.names(), want);
    let list: serde_json::Value =
        serde_json::from_slice(&h.cmd(["list", "--json"]).output().unwrap().stdout).unwrap();
    for e in list.as_array().unwrap() {
        if e["kind"] == "bridge" {
            continue; // its own user name and local servers, checked by logging in
        }
        assert_eq!(e["account"], "ann@example.com", "{e}");
        assert_eq!(e["provider"], "custom", "{e}");
        assert_eq!(
            e["rotated"].is_number(),
            e["name"] == "Printer",
            "rotation date kept: {e}"
        );
    }
    for (name, secret) in ENTRIES.iter().chain(extra) {
        let out = h.cmd(["get", name]).output().unwrap();
        assert_eq!(
            text(&out.stdout),
            format!("{secret}\n"),
            "get {name}: {}",
            text(&out.stderr)
        );
    }
    let out = h.cmd(["doctor", "--json"]).output().unwrap();
    assert!(out.status.success(), "doctor: {}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["store_problem"], serde_json::Value::Null, "{report}");
    assert_eq!(report["orphans_removed"], 0, "{report}");
    assert_eq!(report["missing_secrets"], serde_json::json!([]), "{report}");
}

/// Every command that needs the keyring, with what it is given on stdin.
const NEEDS_KEYRING: &[(&[&str], &str)] = &[
    (&["get", "Work IMAP"], ""),
    (
        &[
            "add",
            "New one",
            "--provider",
            "custom",
            "--account",
            "ann@example.com",
            "--client",
            "c",
        ],
        "new-one-secret-04",
    ),
    (&["rotate", "Phone"], "phone-rotated-05"),
    (&["rm", "Printer"], ""),
    (&["rename", "Phone", "Old phone"], ""),
    (&["doctor"], ""),
];

#[test]
fn keyring_locked_with_entries_refuses_each_command_with_exit_5_and_loses_nothing() {
    in_own_keyring(
        "keyring_locked_with_entries_refuses_each_command_with_exit_5_and_loses_nothing",
        || {
            let h = Home::new();
            commit(&h);
            ctl("lock");
            for (args, stdin) in NEEDS_KEYRING {
                let out = run(&h, args, stdin);
                if args[0] == "doctor" {
                    // doctor prints its report (with the problem in it) and exits 5.
                    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
                    let report = text(&out.stdout);
                    assert!(
                        report.contains(
                            "unlocked:            no: The OS keyring is locked. Unlock it"
                        ),
                        "{report}"
                    );
                    continue;
                }
                let msg = one_line_failure(&out, 5);
                assert!(
                    msg.contains("The OS keyring is locked") && msg.contains("Unlock it"),
                    "{args:?}: {msg}"
                );
                assert!(!msg.contains(stdin) || stdin.is_empty(), "{args:?}: {msg}");
            }
            // The metadata still lists (no keyring needed), unchanged.
            let out = run(&h, &["list", "--json"], "");
            assert!(out.status.success(), "{}", text(&out.stderr));
            let mut want: Vec<String> = ENTRIES.iter().map(|(n, _)| n.to_string()).collect();
            want.sort_by_key(|n| n.to_lowercase());
            assert_eq!(names_of(&out.stdout), want);
            ctl("unlock");
            read_back(&h, &[]);
        },
    );
}

#[test]
fn secret_service_gone_answers_exit_4_quickly_and_everything_is_back_after_a_restart() {
    in_own_keyring(
        "secret_service_gone_answers_exit_4_quickly_and_everything_is_back_after_a_restart",
        || {
            let h = Home::new();
            commit(&h);
            ctl("stop");
            for (args, stdin) in NEEDS_KEYRING
                .iter()
                .chain([(&["list"][..], ""), (&["health"][..], "")].iter())
            {
                let out = run(&h, args, stdin);
                let msg = one_line_failure(&out, 4);
                assert!(
                    msg.contains("No OS keyring could be reached")
                        && msg.contains("Start your desktop's keyring"),
                    "{args:?}: {msg}"
                );
            }
            ctl("start");
            read_back(&h, &[]);
            // And it writes again.
            h.add("After restart", "custom", "after-restart-06")
                .success();
            read_back(&h, &[("After restart", "after-restart-06")]);
        },
    );
}

/// The bridge, a long-running process holding one keyring connection: the Secret Service killed
/// under it. A client's login is refused before anything goes upstream, with a reply that says
/// why; the bridge keeps running; once the daemon is started again the same bridge process
/// (not restarted) lets the client in, and the CLI reads everything back.
#[test]
fn the_bridge_outlives_the_secret_service_and_serves_again_when_it_returns() {
    in_own_keyring(
        "the_bridge_outlives_the_secret_service_and_serves_again_when_it_returns",
        || {
            let p = provider();
            let d = dovecot::dovecot_oauth2(&p.introspection);
            let h = Home::new();
            write_bridge_settings(&h, &p.issuer, d.imaps, d.submission, d.pop3s);
            let out = h
                .cmd(["login"])
                .env("BROWSER", browser())
                .timeout(Duration::from_secs(90))
                .output()
                .unwrap();
            assert!(out.status.success(), "login: {}", text(&out.stderr));
            commit(&h);
            let out = h
                .cmd([
                    "bridge",
                    "add",
                    "Thunderbird",
                    "--client",
                    "thunderbird",
                    "--json",
                ])
                .output()
                .unwrap();
            assert!(out.status.success(), "bridge add: {}", text(&out.stderr));
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let (user, password) = (
                v["username"].as_str().unwrap().to_string(),
                v["password"].as_str().unwrap().to_string(),
            );
            let cert = h.path().join("bridge.pem");
            h.cmd(["bridge", "cert", "--output", cert.to_str().unwrap()])
                .assert()
                .success();
            let mut bridge = Running::start(&h, &d.ca_file);
            let port = bridge.port("imap", false);
            assert_eq!(imap_login(port, &cert, &user, &password), "ok");

            ctl("stop");
            let started = Instant::now();
            let refused = imap_login(port, &cert, &user, &password);
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the refusal took {:?}",
                started.elapsed()
            );
            assert!(
                refused.starts_with("NO")
                    && refused.contains("[UNAVAILABLE]")
                    && refused.contains("cannot check the password now")
                    && refused.contains("Start your desktop's keyring"),
                "{refused}"
            );
            assert!(!refused.contains(&password), "{refused}");
            assert!(bridge.alive(), "the bridge exited with the keyring");
            // The CLI meanwhile: exit 4, as everywhere.
            let out = run(&h, &["bridge", "list"], "");
            one_line_failure(&out, 4);

            ctl("start");
            assert_eq!(
                imap_login(port, &cert, &user, &password),
                "ok",
                "the same bridge process serves again"
            );
            // A wrong password is still refused as such (the check really runs again).
            assert!(imap_login(port, &cert, &user, "not-the-password").starts_with("NO"));
            read_back(&h, &[("Thunderbird", password.as_str())]);
            let (code, stderr) = bridge.stop();
            assert_eq!(code, Some(0), "{stderr}");
            assert!(!stderr.contains(&password));
        },
    );
}
