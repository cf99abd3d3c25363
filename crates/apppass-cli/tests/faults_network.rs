//! Network faults seen from the command line (issue 6 §3): the REAL test OpenID provider
//! (`tests/harness/oidc`, an instance of its own) answering 5xx on its token or discovery
//! endpoint while `apppass mfa status` must refresh (every CLI run is a new process, so it always
//! does), and the Graph emulator answering 503. The user sees exit status 18 (network) and one
//! line that says what happened and what to do; afterwards the app password, the sign-in (its
//! refresh token read back from the keyring) and `doctor` are as before, and the same command
//! works once the fault is gone.
//!
//! Needs the throwaway keyring of scripts/with-keyring.sh (the refresh token is stored there).

#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::oidc::{browser, start, Server};
use common::*;

const CLIENT: &str = "apppass-test";

/// This file's own provider and Graph emulator (faults armed here never reach other tests).
struct World {
    provider: Server,
    graph: Server,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let provider = start("oidc", &[], Duration::from_secs(90));
        let issuer = provider.info["issuer"].as_str().unwrap().to_string();
        let graph = start("graph", &["--issuer", &issuer], Duration::from_secs(30));
        World { provider, graph }
    })
}

fn issuer() -> String {
    world().provider.info["issuer"]
        .as_str()
        .unwrap()
        .to_string()
}

fn graph(scenario: &str) -> String {
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!(
        "{}/s/{scenario}/faults-{}-{n}",
        world().graph.info["base"].as_str().unwrap(),
        std::process::id()
    )
}

/// A POST to the provider's admin endpoint (plain HTTP/1.0 on 127.0.0.1).
fn admin(path_and_query: &str) -> serde_json::Value {
    let issuer = issuer();
    let hostport = issuer.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(hostport).unwrap();
    write!(
        s,
        "POST {path_and_query} HTTP/1.0\r\nHost: {hostport}\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|_| panic!("{path_and_query}: {answer}"))
}

fn apppass(home: &Home, args: &[&str]) -> assert_cmd::Command {
    let mut c = home.cmd(args);
    c.env_remove("APPPASS_EXTRA_POLICY")
        .env_remove("BROWSER")
        .timeout(Duration::from_secs(90));
    c
}

fn whoami(home: &Home) -> serde_json::Value {
    let out = apppass(home, &["whoami", "--json"]).output().unwrap();
    assert!(out.status.success(), "whoami: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The sign-in's refresh token as the keyring holds it (`secret-tool lookup`, by the item's user
/// name: the profile's namespace, then `signin/<account key>/refresh`).
fn refresh_token_in_keyring(h: &Home, account_key: &str) -> Option<String> {
    let namespace = apppass_core::profile::Profile::isolated(h.path())
        .unwrap()
        .namespace;
    let out = Command::new("secret-tool")
        .args([
            "lookup",
            "service",
            "apppass",
            "username",
            &format!("{namespace}/signin/{account_key}/refresh"),
        ])
        .output()
        .expect("secret-tool runs");
    let secret = text(&out.stdout);
    (out.status.success() && !secret.is_empty()).then_some(secret)
}

#[test]
fn provider_5xx_during_a_refresh_is_exit_18_and_loses_nothing() {
    if !keyring("provider_5xx_during_a_refresh_is_exit_18_and_loses_nothing") {
        return;
    }
    let h = Home::new();
    // Committed first: an app password, and a sign-in.
    h.add("work-msmtp", "custom", "fault-test-app-password")
        .success();
    let out = apppass(
        &h,
        &["login", "--authority", &issuer(), "--client-id", CLIENT],
    )
    .env("BROWSER", browser())
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "login: {}", text(&out.stderr));
    let account = whoami(&h);
    let key = account["account_key"].as_str().unwrap().to_string();
    let before = refresh_token_in_keyring(&h, &key).expect("the refresh token is in the keyring");

    for (fault, words) in [
        (
            "/_test/fail?path=/token&status=503&body=json&retry_after=9",
            "(HTTP 503, temporarily_unavailable)",
        ),
        ("/_test/fail?path=/token&status=502&body=text", "(HTTP 502)"),
        (
            "/_test/fail?path=/.well-known/openid-configuration&status=500&body=empty",
            "(HTTP 500)",
        ),
    ] {
        assert_eq!(admin(fault)["armed"], 1);
        let start = Instant::now();
        let out = apppass(
            &h,
            &["mfa", "status", "--graph-url", &graph("authenticator")],
        )
        .output()
        .unwrap();
        let line = one_line_failure(&out, 18);
        assert!(start.elapsed() < Duration::from_secs(10), "{fault}");
        assert!(
            line.contains("identity provider")
                && line.contains(words)
                && line.contains("Nothing was changed and nothing was lost")
                && line.contains("try again"),
            "{fault}: {line}"
        );
        assert!(!line.contains(&before), "no token in the message");
        // Nothing lost: the same refresh token in the keyring, still signed in.
        assert_eq!(
            refresh_token_in_keyring(&h, &key).as_deref(),
            Some(before.as_str()),
            "{fault}"
        );
        assert_eq!(whoami(&h)["state"], "active", "{fault}");
    }

    // Graph answering 503 (its Retry-After: 1, five attempts): exit 18 too, after the retries.
    let start = Instant::now();
    let out = apppass(&h, &["mfa", "status", "--graph-url", &graph("error503")])
        .output()
        .unwrap();
    let line = one_line_failure(&out, 18);
    assert!(
        line.contains("Microsoft Graph kept answering HTTP 503") && line.contains("Try again"),
        "{line}"
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(20),
        "four waits of Retry-After: 1, then the answer: {took:?}"
    );
    // That run refreshed (successfully): the provider rotated the refresh token, and the new one
    // is what the keyring holds.
    let rotated = refresh_token_in_keyring(&h, &key).expect("still in the keyring");
    assert_ne!(rotated, before);

    // Read everything back, and the same command works again.
    let out = apppass(&h, &["get", "work-msmtp"]).output().unwrap();
    assert_eq!(text(&out.stdout), "fault-test-app-password\n");
    assert_eq!(h.names(), vec!["work-msmtp".to_string()]);
    let out = apppass(&h, &["doctor"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "doctor: {}", text(&out.stderr));
    let out = apppass(
        &h,
        &["mfa", "status", "--graph-url", &graph("authenticator")],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("MFA:             registered"));
    assert_eq!(whoami(&h)["account_key"], account["account_key"]);
    let out = apppass(&h, &["logout"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
