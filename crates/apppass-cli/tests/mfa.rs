//! `apppass mfa status` end to end: `apppass login` at the REAL test OpenID provider
//! (`tests/harness/oidc`, with its scripted browser `browser.mjs` as `$BROWSER`), then
//! `apppass mfa status --graph-url` against the Graph emulator (`tests/harness/graph`), which
//! checks the CLI's access token at that provider. Both on 127.0.0.1, started by these tests.
//!
//! The signed-in tests store the refresh token, so they need the throwaway keyring of
//! `scripts/with-keyring.sh` (with APPPASS_REQUIRE_KEYRING=1 a missing keyring fails them,
//! otherwise they print SKIPPED).

#![cfg(target_os = "linux")]

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use common::oidc::{browser, provider, start, Server};
use common::*;

const CLIENT: &str = "apppass-test";

fn issuer() -> String {
    provider().issuer.clone()
}

/// The Graph base URL of a fresh run of `scenario`.
fn graph(scenario: &str) -> String {
    static EMULATOR: OnceLock<Server> = OnceLock::new();
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let issuer = issuer();
    let base = EMULATOR
        .get_or_init(|| start("graph", &["--issuer", &issuer], Duration::from_secs(30)))
        .info["base"]
        .as_str()
        .unwrap()
        .to_string();
    let n = RUN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{base}/s/{scenario}/cli-{}-{n}", std::process::id())
}

fn apppass(home: &Home, args: &[&str]) -> assert_cmd::Command {
    let mut c = home.cmd(args);
    c.env_remove("APPPASS_EXTRA_POLICY")
        .env_remove("BROWSER")
        .timeout(Duration::from_secs(90));
    c
}

fn login(home: &Home) {
    let issuer = issuer();
    let browser = browser();
    let out = apppass(
        home,
        &["login", "--authority", &issuer, "--client-id", CLIENT],
    )
    .env("BROWSER", browser)
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "login: {}", text(&out.stderr));
}

#[test]
fn mfa_status_when_nobody_signed_in_needs_no_keyring() {
    let h = Home::new();
    let out = apppass(&h, &["mfa", "status"])
        .env("DBUS_SESSION_BUS_ADDRESS", DEAD_BUS)
        .output()
        .unwrap();
    let line = one_line_failure(&out, 12);
    assert!(line.contains("apppass login"), "{line}");
}

#[test]
fn login_then_mfa_status_against_the_graph_emulator() {
    if !keyring("login_then_mfa_status_against_the_graph_emulator") {
        return;
    }
    let h = Home::new();
    login(&h);

    // Human output: status at a glance, methods, MFA used, the preflight with sources and dates.
    let out = apppass(&h, &["mfa", "status", "--graph-url", &graph("phone-fido2")])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("Account:         ann@example.test (Ann Example)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("MFA:             registered (2 strong methods)"),
        "{stdout}"
    );
    assert!(stdout.contains("This sign-in:    used MFA"), "{stdout}");
    assert!(stdout.contains("+ Phone: mobile, ending in 55"), "{stdout}");
    assert!(
        stdout.contains("+ Security key (FIDO2): Red key, NFC key"),
        "{stdout}"
    );
    assert!(
        stdout.contains("App passwords: unknown (per-user MFA: unknown)"),
        "{stdout}"
    );
    assert!(stdout.contains("Policy.Read.All"), "{stdout}");
    assert!(
        stdout.contains("Exchange Online IMAP: does not accept passwords"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("    source: https://").count(),
        4,
        "{stdout}"
    );

    // JSON: the core's types; guided mode on 403 still exits 0.
    let out = apppass(
        &h,
        &[
            "mfa",
            "status",
            "--json",
            "--graph-url",
            &graph("forbidden"),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["status"]["state"], "unknown");
    assert_eq!(v["status"]["guided"]["code"], "GraphAccessDenied");
    assert_eq!(v["status"]["mfa_used"], true);
    assert_eq!(v["preflight"]["protocols"][2]["protocol"], "SMTP AUTH");

    let out = apppass(
        &h,
        &[
            "mfa",
            "status",
            "--json",
            "--graph-url",
            &graph("mfa-enforced"),
        ],
    )
    .output()
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["preflight"]["per_user_mfa"], "enforced");
    assert_eq!(v["preflight"]["app_passwords"], "possible");

    // Failures: one line, their exit status.
    let out = apppass(&h, &["mfa", "status", "--graph-url", &graph("malformed")])
        .output()
        .unwrap();
    one_line_failure(&out, 17);
    let out = apppass(&h, &["mfa", "status", "--graph-url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    one_line_failure(&out, 18);
}
