//! `apppass login`, `whoami` and `logout` against a REAL OpenID provider (oidc-provider, in
//! `tests/harness/oidc`) on 127.0.0.1, started by these tests. The browser is
//! `tests/harness/oidc/browser.mjs`, run by apppass as `$BROWSER`: it submits the provider's real
//! login and consent pages and follows the redirect to apppass's loopback listener; for the code
//! flow the test runs it with the code apppass printed.
//!
//! Tests that store tokens need the throwaway keyring of `scripts/with-keyring.sh` (checked from
//! outside with secret-tool); with APPPASS_REQUIRE_KEYRING=1 a missing keyring fails them,
//! otherwise they print SKIPPED. Tests that never reach a store run with a dead D-Bus address.

#![cfg(target_os = "linux")]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const USER: &str = "ann@example.test";
const CLIENT: &str = "apppass-test";

// ---- the provider: common::oidc ------------------------------------------------------------------

use common::oidc::{browser, provider};

// ---- helpers -------------------------------------------------------------------------------------

/// `apppass ARGS` in `home`, with the real (throwaway) keyring of the environment.
fn apppass(home: &Home, args: &[&str]) -> Command {
    let mut c = home.std_cmd(args);
    c.env_remove("APPPASS_EXTRA_POLICY")
        .env_remove("BROWSER")
        .stdin(Stdio::null());
    c
}

/// The same with no keyring reachable (commands that must fail before any store).
fn apppass_no_keyring(home: &Home, args: &[&str]) -> Command {
    let mut c = apppass(home, args);
    c.env("DBUS_SESSION_BUS_ADDRESS", DEAD_BUS);
    c
}

fn output_within(mut cmd: Command, limit: Duration) -> std::process::Output {
    let mut a = assert_cmd::Command::from_std(std::mem::replace(&mut cmd, Command::new("true")));
    a.timeout(limit);
    a.output().unwrap()
}

fn whoami_json(home: &Home) -> serde_json::Value {
    let out = output_within(
        apppass(home, &["whoami", "--json"]),
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "whoami: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("whoami --json is JSON")
}

fn namespace(home: &Home) -> String {
    apppass_core::profile::Profile::isolated(home.path())
        .unwrap()
        .namespace
}

/// The sign-in's keyring item as secret-tool sees it: (label, secret).
fn refresh_item(home: &Home, account_key: &str) -> Option<(String, String)> {
    let user = format!("{}/signin/{account_key}/refresh", namespace(home));
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", "apppass", "username", &user])
        .output()
        .expect("secret-tool runs");
    let all = text(&out.stdout) + &text(&out.stderr);
    let label = all.lines().find_map(|l| l.strip_prefix("label = "))?;
    let secret = all.lines().find_map(|l| l.strip_prefix("secret = "))?;
    Some((label.to_string(), secret.to_string()))
}

/// Every sign-in item id of this profile in the keyring (split parts included), via the store.
fn signin_ids(home: &Home) -> Vec<String> {
    use apppass_core::vault::store::{KeyringStore, SecretStore};
    let store = KeyringStore::open().expect("the test keyring is reachable");
    store
        .ids(&namespace(home))
        .unwrap()
        .unwrap_or_default()
        .into_iter()
        .filter(|id| id.starts_with("signin/"))
        .collect()
}

fn write_settings(home: &Home, issuer: &str) {
    std::fs::write(
        home.path().join("settings.toml"),
        format!(
            "[signin]\nauthority = \"{issuer}\"\nclient_id = \"{CLIENT}\"\nscopes = [\"mail.read\"]\n"
        ),
    )
    .unwrap();
}

// ---- browser ---------------------------------------------------------------------------------------

#[test]
fn login_in_the_browser_whoami_and_logout() {
    if !keyring("login_in_the_browser_whoami_and_logout") {
        return;
    }
    let p = provider();
    let h = Home::new();
    let t0 = Instant::now();
    let mut login = apppass(
        &h,
        &[
            "login",
            "--authority",
            &p.issuer,
            "--client-id",
            CLIENT,
            "--scope",
            "mail.read",
        ],
    );
    login.env("BROWSER", browser());
    let out = output_within(login, Duration::from_secs(90));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "login: {stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    // The address is printed even though a browser was started...
    assert!(
        stderr.contains(&format!("{}/auth?", p.issuer)) && stderr.contains("code_challenge="),
        "{stderr}"
    );
    // ...the scripted browser reached apppass's listener and got its page (on apppass's stderr)...
    assert!(stderr.contains("You can close this tab"), "{stderr}");
    assert!(
        stderr.contains(&format!("Signed in as {USER} (Ann Example)")),
        "{stderr}"
    );
    eprintln!("browser login took {:?}", t0.elapsed());

    // whoami: from the data directory, with no network and no keyring.
    let me = whoami_json(&h);
    assert_eq!(me["username"], USER);
    assert_eq!(me["email"], USER);
    assert_eq!(me["issuer"], p.issuer.as_str());
    assert_eq!(me["method"], "browser");
    assert_eq!(me["mfa_used"], true);
    assert_eq!(me["state"], "active");
    let key = me["account_key"].as_str().unwrap().to_string();
    let out = output_within(apppass_no_keyring(&h, &["whoami"]), Duration::from_secs(30));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains(&format!("username:  {USER}")), "{shown}");
    assert!(
        shown.contains("used at this sign-in (amr: pwd, mfa)"),
        "{shown}"
    );

    // The refresh token is in the keyring, labelled with the account, and nowhere on disk.
    assert_eq!(signin_ids(&h), vec![format!("signin/{key}/refresh")]);
    let (label, refresh) = refresh_item(&h, &key).expect("secret-tool finds the sign-in item");
    assert_eq!(label, format!("apppass: sign-in ({USER})"));
    assert!(refresh.len() > 20);
    assert_eq!(h.files_containing(&refresh), Vec::<PathBuf>::new());

    // logout: revoked at the provider, deleted from the keyring and the data directory.
    let out = output_within(apppass(&h, &["logout"]), Duration::from_secs(60));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "logout: {stderr}");
    assert!(
        stderr.contains(&format!("Signed out {USER}")) && stderr.contains("revoked"),
        "{stderr}"
    );
    assert_eq!(refresh_item(&h, &key), None);
    assert_eq!(signin_ids(&h), Vec::<String>::new());
    assert!(!h.path().join("signin.json").exists());

    // whoami now says signed out (exit 12, SignInRequired); logout again is harmless.
    let out = output_within(apppass(&h, &["whoami", "--json"]), Duration::from_secs(30));
    let line = one_line_failure(&out, 12);
    assert!(
        line.contains("Not signed in") && line.contains("apppass login"),
        "{line}"
    );
    let out = output_within(apppass(&h, &["logout"]), Duration::from_secs(30));
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("Not signed in"));
}

#[test]
fn login_with_the_localhost_redirect_entra_registers() {
    if !keyring("login_with_the_localhost_redirect_entra_registers") {
        return;
    }
    let p = provider();
    let h = Home::new();
    write_settings(&h, &p.issuer);
    let mut login = apppass(&h, &["login", "--redirect", "localhost", "--json"]);
    login.env("BROWSER", browser());
    let out = output_within(login, Duration::from_secs(90));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "login: {stderr}");
    assert!(
        stderr.contains("redirect_uri=http%3A%2F%2Flocalhost%3A"),
        "{stderr}"
    );
    // --json without --device-code: one line, the account.
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let account: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(account["username"], USER);
    let out = output_within(apppass(&h, &["logout"]), Duration::from_secs(60));
    assert!(out.status.success(), "{}", text(&out.stderr));
}

// ---- device code -------------------------------------------------------------------------------

#[test]
fn login_with_a_code_prints_the_code_first_as_json() {
    if !keyring("login_with_a_code_prints_the_code_first_as_json") {
        return;
    }
    let p = provider();
    let h = Home::new();
    // The configuration from the documented settings file this time.
    write_settings(&h, &p.issuer);
    let t0 = Instant::now();
    let mut child = apppass(&h, &["login", "--device-code", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = stdout.read_line(&mut first);
        let _ = tx.send(first);
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
        rest
    });
    // The first line arrives while apppass is still waiting for the code to be entered.
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| {
            let _ = child.kill();
            let mut e = String::new();
            let _ = stderr.read_to_string(&mut e);
            panic!("no first line on stdout; stderr: {e}")
        });
    assert!(child.try_wait().unwrap().is_none(), "apppass is waiting");
    let code: serde_json::Value = serde_json::from_str(&first).expect("the first line is JSON");
    let uri = code["verification_uri"].as_str().unwrap().to_string();
    let user_code = code["user_code"].as_str().unwrap().to_string();
    assert_eq!(uri, format!("{}/device", p.issuer));
    assert!(!user_code.is_empty());

    // The person enters the code at the provider's real device pages.
    let approve = Command::new("node")
        .arg(common::oidc::harness_dir().join("browser.mjs"))
        .args(["--device", &uri, &user_code])
        .output()
        .unwrap();
    assert!(
        approve.status.success(),
        "device approval: {}",
        text(&approve.stderr)
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("apppass did not finish after the code was approved");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(0), "login: {err}");
    assert!(
        err.contains(&uri) && err.contains(&user_code) && err.contains("Signed in as"),
        "{err}"
    );
    eprintln!("device login took {:?}", t0.elapsed());
    // The last line: the account.
    let me = whoami_json(&h);
    assert_eq!(me["username"], USER);
    assert_eq!(me["method"], "device_code");
    let key = me["account_key"].as_str().unwrap();
    assert!(refresh_item(&h, key).is_some());
    let out = output_within(apppass(&h, &["logout"]), Duration::from_secs(60));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(signin_ids(&h), Vec::<String>::new());
}

// ---- refusals and failures, each with its exit status -------------------------------------------

#[test]
fn declined_expired_and_unreachable_sign_ins_exit_with_their_status() {
    if !keyring("declined_expired_and_unreachable_sign_ins_exit_with_their_status") {
        return;
    }
    let p = provider();
    let h = Home::new();
    write_settings(&h, &p.issuer);

    // The user presses Cancel on the provider's consent page: access_denied, SignInDenied (13).
    let mut login = apppass(&h, &["login"]);
    login.env("BROWSER", format!("{} --deny", browser()));
    let out = output_within(login, Duration::from_secs(90));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(13), "{stderr}");
    // (The scripted browser's page may follow apppass's line: it shares the stream.)
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("apppass: The sign-in was declined")),
        "{stderr}"
    );
    assert!(
        stderr.contains("code SignInDenied"),
        "the tab was told: {stderr}"
    );

    // A code nobody enters (the harness's apppass-short codes live 2 s): SignInTimedOut (13).
    let out = output_within(
        apppass(
            &h,
            &["login", "--device-code", "--client-id", "apppass-short"],
        ),
        Duration::from_secs(90),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(13), "{stderr}");
    assert!(stderr.contains("expired"), "{stderr}");

    // Nothing listens at the authority: Offline (18), before any browser is opened.
    let marker = h.path().join("browser-was-opened");
    let mut login = apppass(&h, &["login", "--authority", "http://127.0.0.1:9"]);
    login.env("BROWSER", format!("touch {}", marker.display()));
    let line = one_line_failure(&output_within(login, Duration::from_secs(90)), 18);
    assert!(line.contains("127.0.0.1"), "{line}");
    assert!(!marker.exists());
    assert!(!h.path().join("signin.json").exists());
}

#[test]
fn a_locked_keyring_fails_before_the_browser_opens() {
    if !keyring("a_locked_keyring_fails_before_the_browser_opens") {
        return;
    }
    let h = Home::new();
    let marker = h.path().join("browser-was-opened");
    // A keyring of its own, started locked (the other tests' keyring stays unlocked).
    let out = Command::new(repo_root().join("scripts/with-keyring.sh"))
        .args(["--locked", "bash", "-c"])
        .arg(format!(
            "'{BIN}' login --authority http://127.0.0.1:9 --client-id x 2>login.err; echo \"login=$?\"; cat login.err; rm -f login.err"
        ))
        .env("APPPASS_HOME", h.path())
        .env("BROWSER", format!("touch {}", marker.display()))
        .env_remove("APPPASS_EXTRA_POLICY")
        .current_dir(h.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = text(&out.stdout);
    assert!(
        shown.lines().any(|l| l == "login=5"),
        "{shown}{}",
        text(&out.stderr)
    );
    assert!(
        shown.contains("apppass: The OS keyring is locked"),
        "{shown}"
    );
    assert!(!marker.exists(), "no browser with a locked keyring");
}

// ---- cancel ------------------------------------------------------------------------------------

#[test]
fn ctrl_c_cancels_the_wait_and_changes_nothing() {
    if !keyring("ctrl_c_cancels_the_wait_and_changes_nothing") {
        return;
    }
    let p = provider();
    let h = Home::new();
    write_settings(&h, &p.issuer);
    // A "browser" that opens nothing: apppass waits for an answer that never comes.
    let mut child = apppass(&h, &["login"])
        .env("BROWSER", "true")
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap_or_default();
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("Waiting for the sign-in") {
                let _ = tx.send(());
            }
        }
        seen
    });
    if rx.recv_timeout(Duration::from_secs(30)).is_err() {
        let _ = child.kill();
        panic!(
            "apppass never said it was waiting: {}",
            reader.join().unwrap()
        );
    }
    // SAFETY: sending SIGINT (what Ctrl+C sends) to our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    let seen = reader.join().unwrap();
    assert_eq!(status.code(), Some(13), "{seen}");
    assert!(seen.contains("/auth?"), "the address is printed: {seen}");
    assert!(
        seen.lines()
            .last()
            .unwrap_or("")
            .starts_with("apppass: The sign-in was cancelled"),
        "{seen}"
    );
    assert!(!h.path().join("signin.json").exists());
}

// ---- configuration refused before anything happens ------------------------------------------

#[test]
fn without_a_client_id_login_says_what_it_must_do_and_opens_nothing() {
    let h = Home::new();
    let marker = h.path().join("browser-was-opened");
    let mut login = apppass_no_keyring(&h, &["login", "--authority", "http://127.0.0.1:9"]);
    login.env("BROWSER", format!("touch {}", marker.display()));
    let out = output_within(login, Duration::from_secs(30));
    let line = one_line_failure(&out, 10);
    for words in [
        "client ID",
        "IT",
        "Mobile and desktop applications",
        "http://localhost",
        "Allow public client flows",
        "--client-id",
    ] {
        assert!(line.contains(words), "{words:?} missing: {line}");
    }
    assert!(!marker.exists(), "no browser without a client id");
    // The same for the code flow; the rest of apppass keeps working.
    let out = output_within(
        apppass_no_keyring(&h, &["login", "--device-code", "--json"]),
        Duration::from_secs(30),
    );
    one_line_failure(&out, 10);
    let out = output_within(
        apppass_no_keyring(&h, &["providers"]),
        Duration::from_secs(30),
    );
    assert!(out.status.success());
}

#[test]
fn a_setting_fixed_by_the_policy_cannot_be_overridden() {
    let h = Home::new();
    let policy = h.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[signin]\nclient_id = \"it-client\"\ntenant = \"contoso.example\"\n",
    )
    .unwrap();
    let marker = h.path().join("browser-was-opened");
    for (args, field) in [
        (vec!["login", "--client-id", "my-own-client"], "client_id"),
        (vec!["login", "--tenant", "fabrikam.example"], "tenant"),
        // An authority would side-step the locked tenant.
        (
            vec![
                "login",
                "--device-code",
                "--authority",
                "https://idp.example.com",
            ],
            "tenant",
        ),
    ] {
        let mut login = apppass_no_keyring(&h, &args);
        login
            .env("APPPASS_EXTRA_POLICY", &policy)
            .env("BROWSER", format!("touch {}", marker.display()));
        let out = output_within(login, Duration::from_secs(30));
        let line = one_line_failure(&out, 11);
        assert!(
            line.contains(&format!("`{field}`")) && line.contains(&policy.display().to_string()),
            "{args:?}: {line}"
        );
    }
    assert!(!marker.exists());
    // The policy's own value is not a conflict: the command goes on (here to the keyring, which
    // this test does not offer: exit 4).
    let mut login = apppass_no_keyring(&h, &["login", "--client-id", "it-client"]);
    login.env("APPPASS_EXTRA_POLICY", &policy);
    let out = output_within(login, Duration::from_secs(30));
    one_line_failure(&out, 4);
    // A damaged policy is reported, never ignored.
    std::fs::write(&policy, "[signin]\nclient_id = 7\n").unwrap();
    let mut login = apppass_no_keyring(&h, &["login"]);
    login.env("APPPASS_EXTRA_POLICY", &policy);
    let line = one_line_failure(&output_within(login, Duration::from_secs(30)), 6);
    assert!(line.contains("policy file"), "{line}");
}

#[test]
fn settings_show_the_sign_in_in_force_and_what_the_policy_fixes() {
    let h = Home::new();
    let out = output_within(
        apppass_no_keyring(&h, &["settings"]),
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("https://login.microsoftonline.com/organizations/v2.0")
            && shown.contains("none: IT must register apppass"),
        "{shown}"
    );
    std::fs::write(
        h.path().join("settings.toml"),
        "[signin]\nclient_id = \"mine\"\n",
    )
    .unwrap();
    let policy = h.path().join("policy.toml");
    std::fs::write(&policy, "[signin]\ntenant = \"contoso.example\"\n").unwrap();
    let mut settings = apppass_no_keyring(&h, &["settings"]);
    settings.env("APPPASS_EXTRA_POLICY", &policy);
    let out = output_within(settings, Duration::from_secs(30));
    let shown = text(&out.stdout);
    let line = |key: &str| {
        shown
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key} missing: {shown}"))
            .to_string()
    };
    assert_eq!(
        line("signin.authority"),
        format!(
            "signin.authority         https://login.microsoftonline.com/contoso.example/v2.0 (fixed by {})",
            policy.display()
        )
    );
    assert_eq!(line("signin.client_id"), "signin.client_id         mine");
}

#[test]
fn whoami_shows_an_ended_sign_in_and_exits_12() {
    let h = Home::new();
    // What apppass-core writes when the provider refused the refresh token (invalid_grant).
    std::fs::write(
        h.path().join("signin.json"),
        serde_json::json!({
            "username": "bob@contoso.example", "email": "bob@contoso.example", "name": "Bob",
            "issuer": "https://login.microsoftonline.com/t/v2.0", "tenant_id": "t",
            "object_id": "o", "subject": "s",
            "authority": "https://login.microsoftonline.com/t/v2.0", "client_id": "c",
            "scopes": ["openid"], "amr": ["pwd"], "mfa_used": false, "method": "device_code",
            "signed_in_at": 1_764_000_000, "id_token_expires_at": 1_764_003_600,
            "state": "sign_in_required", "account_key": "0123456789abcdef"
        })
        .to_string(),
    )
    .unwrap();
    let out = output_within(apppass_no_keyring(&h, &["whoami"]), Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(12));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("username:  bob@contoso.example")
            && shown.contains("tenant:    t")
            && shown.contains("not used at this sign-in (amr: pwd)")
            && shown.contains("with a code")
            && shown.contains("ended: sign in again"),
        "{shown}"
    );
    assert!(text(&out.stderr).contains("apppass login"));
    let out = output_within(
        apppass_no_keyring(&h, &["whoami", "--json"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(12));
    let me: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(me["state"], "sign_in_required");
}

#[test]
fn whoami_when_nobody_signed_in_needs_no_keyring() {
    let h = Home::new();
    let out = output_within(apppass_no_keyring(&h, &["whoami"]), Duration::from_secs(30));
    let line = one_line_failure(&out, 12);
    assert!(line.contains("apppass login"), "{line}");
    let out = output_within(apppass_no_keyring(&h, &["logout"]), Duration::from_secs(30));
    assert!(out.status.success(), "{}", text(&out.stderr));
}
