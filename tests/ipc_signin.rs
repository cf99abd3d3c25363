//! The app's sign-in and MFA commands through Tauri's mock runtime (real context, so the ACL
//! applies): their answers' shapes, their failure codes, and whole sign-ins against the REAL test
//! OpenID provider (`tests/harness/oidc`, oidc-provider on 127.0.0.1) by browser and by code. The
//! "browser" is injected: it submits the provider's real login and consent pages, then delivers the
//! redirect to the app's loopback listener. Tokens go to an in-memory store; no answer carries one.

#[path = "../crates/apppass-core/tests/support/node.rs"]
mod node;
#[path = "../crates/apppass-core/tests/support/oidc.rs"]
mod oidc;

use std::io::BufRead;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use apppass_app::{configure, context, AppState, Clipboard, StoreOpener, UrlOpener};
use apppass_core::profile::Profile;
use apppass_core::settings::Settings;
use apppass_core::vault::store::{MemoryStore, SecretStore};
use apppass_core::{Failure, Secret};
use oidc::{Browser, Choice};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{WebviewWindow, WebviewWindowBuilder};

// ---- the test provider ----------------------------------------------------------------------------

struct Provider {
    issuer: String,
    _child: Mutex<Child>,
    _stdin: Mutex<ChildStdin>,
}

/// The test OpenID provider, started once for this test binary (it exits when its stdin closes).
fn provider() -> &'static Provider {
    static P: OnceLock<Provider> = OnceLock::new();
    P.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/harness/oidc");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the test OpenID provider is not installed: run scripts/setup.sh --test"
        );
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs (Node.js 20+)");
        let stdin = child.stdin.take().unwrap();
        let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let parsed: Value = serde_json::from_str(&line).expect("the provider's JSON line");
        Provider {
            issuer: parsed["issuer"].as_str().unwrap().to_string(),
            _child: Mutex::new(child),
            _stdin: Mutex::new(stdin),
        }
    })
}

/// The Graph emulator (`tests/harness/graph`), checking tokens at the test provider.
fn graph() -> &'static str {
    static G: OnceLock<(String, Mutex<Child>, Mutex<ChildStdin>)> = OnceLock::new();
    &G.get_or_init(|| {
        let issuer = provider().issuer.clone();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/harness/graph");
        let mut child = Command::new("node")
            .args(["server.mjs", "--issuer", &issuer])
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs (Node.js 20+)");
        let stdin = child.stdin.take().unwrap();
        let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let parsed: Value = serde_json::from_str(&line).expect("the emulator's JSON line");
        (
            parsed["base"].as_str().unwrap().to_string(),
            Mutex::new(child),
            Mutex::new(stdin),
        )
    })
    .0
}

// ---- the app --------------------------------------------------------------------------------------

/// One in-memory "keyring" per app, kept open by the vault.
struct TestStores;

impl StoreOpener for TestStores {
    fn open(
        &self,
        _: &Profile,
        _: &Settings,
        _: Option<&Secret>,
    ) -> Result<Box<dyn SecretStore>, Failure> {
        Ok(Box::new(MemoryStore::default()))
    }
}

/// No OS keyring at all, as on a machine without a Secret Service.
struct NoKeyring;

impl StoreOpener for NoKeyring {
    fn open(
        &self,
        _: &Profile,
        _: &Settings,
        _: Option<&Secret>,
    ) -> Result<Box<dyn SecretStore>, Failure> {
        Err(Failure::new(
            apppass_core::Code::KeyringUnavailable,
            "No OS keyring could be reached (test).",
        ))
    }
}

struct NoClipboard;

impl Clipboard for NoClipboard {
    fn put_secret(&self, _: &Secret) -> Result<(), Failure> {
        Ok(())
    }
    fn text(&self) -> Result<Option<Secret>, Failure> {
        Ok(None)
    }
    fn clear(&self) -> Result<(), Failure> {
        Ok(())
    }
}

/// The browser: records every address it is asked to open; for the provider's authorization
/// address it signs in and consents on the real pages, then follows the redirect to the loopback
/// listener (as a real browser would).
#[derive(Default)]
struct ScriptedBrowser {
    opened: Mutex<Vec<String>>,
    choice: Mutex<Option<Choice>>,
}

impl UrlOpener for ScriptedBrowser {
    fn open(&self, url: &str) -> Result<(), String> {
        self.opened.lock().unwrap().push(url.to_string());
        let Some(choice) = *self.choice.lock().unwrap() else {
            return Ok(());
        };
        let url = url.to_string();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let b = Browser::new();
                let callback = b.authorize(&url, choice).await;
                b.deliver(&callback).await
            });
        });
        Ok(())
    }
}

struct TestApp {
    _app: tauri::App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    browser: Arc<ScriptedBrowser>,
    home: tempfile::TempDir,
}

fn start_with(settings: &str, policy: Option<&str>) -> TestApp {
    start_full(settings, policy, None)
}

/// `scenario`: the Graph emulator's scenario for this app's MFA checks.
fn start_full(settings: &str, policy: Option<&str>, scenario: Option<&str>) -> TestApp {
    start_with_stores(settings, policy, scenario, Box::new(TestStores))
}

fn start_with_stores(
    settings: &str,
    policy: Option<&str>,
    scenario: Option<&str>,
    stores: Box<dyn StoreOpener>,
) -> TestApp {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("settings.toml"), settings).unwrap();
    let policy_path = home.path().join("policy.toml");
    if let Some(p) = policy {
        std::fs::write(&policy_path, p).unwrap();
    }
    let browser = Arc::new(ScriptedBrowser::default());
    let state = AppState::new(
        Profile::isolated(home.path()),
        stores,
        Arc::new(NoClipboard),
    )
    .with_browser(browser.clone())
    .with_policy_path(policy_path);
    let state = match scenario {
        Some(scenario) => {
            static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let run = RUN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            state.with_graph_url(format!(
                "{}/s/{scenario}/ipc-{}-{run}",
                graph(),
                std::process::id()
            ))
        }
        None => state,
    };
    let app = configure(mock_builder(), state)
        .build(context())
        .expect("the app builds with the real context");
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    TestApp {
        _app: app,
        window,
        browser,
        home,
    }
}

/// Settings that sign in to the test provider.
fn test_provider_settings() -> String {
    format!(
        "[signin]\nauthority = \"{}\"\nclient_id = \"{}\"\nscopes = [\"mail.read\"]\n",
        provider().issuer,
        oidc::CLIENT
    )
}

impl TestApp {
    fn call(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        get_ipc_response(&self.window, request).map(|b| b.deserialize::<Value>().unwrap())
    }

    fn ok(&self, cmd: &str) -> Value {
        self.call(cmd, json!({}))
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    /// The failure's code, after checking that the error is exactly `{code, message}`.
    fn fails(&self, cmd: &str, args: Value) -> String {
        let err = self.call(cmd, args).expect_err(cmd);
        let obj = err.as_object().unwrap_or_else(|| panic!("{cmd}: {err}"));
        assert_eq!(obj.len(), 2, "{cmd}: {err}");
        assert!(!obj["message"].as_str().unwrap().is_empty());
        obj["code"].as_str().unwrap().to_string()
    }

    /// Polls `signin_status` until its phase is `phase`.
    fn wait_for_phase(&self, phase: &str) -> Value {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let status = self.ok("signin_status");
            assert_no_token(&status);
            if status["phase"] == phase {
                return status;
            }
            assert!(
                Instant::now() < until,
                "still {} waiting for {phase}: {status}",
                status["phase"]
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// No answer may carry a token: only the account, addresses and codes to type.
fn assert_no_token(answer: &Value) {
    let text = answer.to_string();
    for word in [
        "\"access_token\"",
        "\"refresh_token\"",
        "\"id_token\"",
        "eyJ",
    ] {
        assert!(!text.contains(word), "{word} in {text}");
    }
}

// ---- tests ----------------------------------------------------------------------------------------

#[test]
fn without_a_client_id_sign_in_says_what_it_must_do_and_the_rest_works() {
    let app = start_with("", None);
    let setup = app.ok("signin_config");
    assert_eq!(setup["client_id"], Value::Null);
    assert_eq!(
        setup["authority"],
        "https://login.microsoftonline.com/organizations/v2.0"
    );
    assert_eq!(setup["problem"]["code"], "ClientIdMissing");
    let message = setup["problem"]["message"].as_str().unwrap();
    assert!(message.contains("Allow public client flows"), "{message}");
    assert_eq!(setup["locked"], json!([]));

    for cmd in ["signin_browser_start", "signin_code_start"] {
        assert_eq!(app.fails(cmd, json!({})), "ClientIdMissing", "{cmd}");
    }
    assert!(app.browser.opened.lock().unwrap().is_empty());
    assert_eq!(app.ok("signin_status")["phase"], "idle");
    assert_eq!(app.ok("account_get"), Value::Null);
    assert_eq!(app.ok("signout")["account"], Value::Null);
    // The vault is unaffected.
    assert_eq!(app.ok("vault_list"), json!([]));

    // MFA: guided mode, Security info not pinned (no tenant known).
    let mfa = app.ok("mfa_status");
    assert_eq!(mfa["account"], Value::Null);
    assert_eq!(mfa["status"], Value::Null);
    assert_eq!(mfa["problem"]["code"], "SignInRequired");
    let preflight = app.ok("preflight");
    assert_eq!(preflight["per_user_mfa"], "unknown");
    assert_eq!(preflight["per_user_mfa_unknown"]["code"], "SignInRequired");
    assert_eq!(
        mfa["security_info_url"],
        "https://mysignins.microsoft.com/security-info"
    );
    assert_eq!(
        app.ok("security_info_open"),
        "https://mysignins.microsoft.com/security-info"
    );
    assert_eq!(
        *app.browser.opened.lock().unwrap(),
        ["https://mysignins.microsoft.com/security-info"]
    );
}

#[test]
fn client_id_and_tenant_go_to_settings_unless_the_policy_locks_them() {
    let app = start_with("", None);
    let setup = app
        .call(
            "signin_config_set",
            json!({"clientId": " 11112222-3333-4444-5555-666677778888 ", "tenant": "contoso.example"}),
        )
        .unwrap();
    assert_eq!(setup["client_id"], "11112222-3333-4444-5555-666677778888");
    assert_eq!(setup["tenant"], "contoso.example");
    assert_eq!(setup["problem"], Value::Null);
    assert_eq!(
        setup["authority"],
        "https://login.microsoftonline.com/contoso.example/v2.0"
    );
    let saved = std::fs::read_to_string(app.home.path().join("settings.toml")).unwrap();
    assert!(saved.contains("[signin]"), "{saved}");
    assert!(saved.contains("contoso.example"), "{saved}");
    // The Security info page is pinned to the configured tenant.
    assert_eq!(
        app.ok("mfa_status")["security_info_url"],
        "https://mysignins.microsoft.com/security-info?tenant=contoso.example"
    );
    // A malformed tenant is refused, and nothing is saved.
    assert_eq!(
        app.fails(
            "signin_config_set",
            json!({"clientId": "x", "tenant": "a/b"})
        ),
        "InvalidInput"
    );
    assert_eq!(
        std::fs::read_to_string(app.home.path().join("settings.toml")).unwrap(),
        saved
    );
    // Empty values clear the section.
    let cleared = app
        .call("signin_config_set", json!({"clientId": "", "tenant": null}))
        .unwrap();
    assert_eq!(cleared["problem"]["code"], "ClientIdMissing");

    let locked = start_with(
        "",
        Some("[signin]\nclient_id = \"it-client\"\ntenant = \"00001111-aaaa-2222-bbbb-3333cccc4444\"\n"),
    );
    let setup = locked.ok("signin_config");
    assert_eq!(setup["client_id"], "it-client");
    assert_eq!(setup["locked"], json!(["tenant", "client_id"]));
    assert!(setup["policy_path"]
        .as_str()
        .unwrap()
        .ends_with("policy.toml"));
    assert_eq!(
        locked.fails(
            "signin_config_set",
            json!({"clientId": "mine", "tenant": null})
        ),
        "LockedByPolicy"
    );
    assert_eq!(
        locked.ok("mfa_status")["security_info_url"],
        "https://mysignins.microsoft.com/security-info/?tenantId=00001111-aaaa-2222-bbbb-3333cccc4444"
    );

    let damaged = start_with("", Some("[signin]\nclient_id = 7\n"));
    assert_eq!(
        damaged.ok("signin_config")["problem"]["code"],
        "DataCorrupt"
    );
    assert_eq!(
        damaged.fails("signin_browser_start", json!({})),
        "DataCorrupt"
    );
}

#[test]
fn an_unreachable_provider_fails_with_a_network_code() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = start_with(
        &format!("[signin]\nauthority = \"http://127.0.0.1:{port}\"\nclient_id = \"c\"\n"),
        None,
    );
    assert_eq!(app.fails("signin_browser_start", json!({})), "Offline");
    let status = app.ok("signin_status");
    assert_eq!(status["phase"], "failed");
    assert_eq!(status["failure"]["code"], "Offline");
    assert_eq!(app.fails("signin_code_start", json!({})), "Offline");
}

#[test]
fn browser_sign_in_with_the_real_provider_then_mfa_status_and_sign_out() {
    let app = start_full(&test_provider_settings(), None, Some("authenticator"));
    *app.browser.choice.lock().unwrap() = Some(Choice::Approve);
    let started = app.ok("signin_browser_start");
    assert_no_token(&started);
    assert_eq!(started["phase"], "waiting_for_browser");
    let url = started["browser_url"].as_str().unwrap();
    assert!(url.starts_with(&provider().issuer), "{url}");
    assert_eq!(app.browser.opened.lock().unwrap().as_slice(), [url]);

    let done = app.wait_for_phase("signed_in");
    assert_eq!(done["account"]["username"], oidc::USER);
    assert_eq!(done["account"]["method"], "browser");
    assert_eq!(done["failure"], Value::Null);
    let account = app.ok("account_get");
    assert_eq!(account["username"], oidc::USER);
    assert_eq!(account["mfa_used"], true);
    assert_no_token(&account);

    let mfa = app.ok("mfa_status");
    assert_no_token(&mfa);
    assert_eq!(mfa["account"]["username"], oidc::USER);
    assert_eq!(mfa["problem"], Value::Null, "{mfa}");
    let status = &mfa["status"];
    assert_eq!(status["state"], "registered", "{mfa}");
    assert_eq!(status["mfa_used"], true);
    assert_eq!(status["methods"][0]["kind"], "microsoft_authenticator");
    let preflight = app.ok("preflight");
    assert_no_token(&preflight);
    // An ordinary employee may not read the per-user state (403 in this scenario).
    assert_eq!(preflight["per_user_mfa"], "unknown");
    assert_eq!(
        preflight["per_user_mfa_unknown"]["code"],
        "GraphAccessDenied"
    );
    assert!(!preflight["protocols"].as_array().unwrap().is_empty());

    let out = app.ok("signout");
    assert_eq!(out["account"]["username"], oidc::USER);
    assert_eq!(out["revoked"], true);
    assert_eq!(app.ok("account_get"), Value::Null);
    assert_eq!(app.ok("signin_status")["phase"], "idle");
}

#[test]
fn declined_consent_is_reported_with_its_code() {
    let app = start_with(&test_provider_settings(), None);
    *app.browser.choice.lock().unwrap() = Some(Choice::Deny);
    app.ok("signin_browser_start");
    let failed = app.wait_for_phase("failed");
    assert_eq!(failed["failure"]["code"], "SignInDenied");
    assert_eq!(failed["account"], Value::Null);
}

#[test]
fn code_sign_in_shows_the_code_and_a_qr_code_and_polls_in_rust() {
    let app = start_with(&test_provider_settings(), None);
    let started = app.ok("signin_code_start");
    assert_no_token(&started);
    assert_eq!(started["phase"], "waiting_for_code");
    let code = &started["device_code"];
    let uri = code["verification_uri"].as_str().unwrap();
    let user_code = code["user_code"].as_str().unwrap();
    assert!(uri.starts_with(&provider().issuer), "{uri}");
    assert!(!user_code.is_empty());
    let svg = started["qr_svg"].as_str().unwrap();
    assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
    // The device code itself (the secret half) never reaches the webview.
    assert!(code.get("device_code").is_none());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(Browser::new().approve_device(uri, user_code, Choice::Approve));
    let done = app.wait_for_phase("signed_in");
    assert_eq!(done["account"]["username"], oidc::USER);
    assert_eq!(done["account"]["method"], "device_code");
    assert_eq!(done["device_code"], Value::Null);
}

#[test]
fn a_cancelled_sign_in_stays_cancelled() {
    let app = start_with(&test_provider_settings(), None);
    assert_eq!(app.ok("signin_code_start")["phase"], "waiting_for_code");
    let cancelled = app.ok("signin_cancel");
    assert_eq!(cancelled["phase"], "idle");
    assert_eq!(cancelled["device_code"], Value::Null);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(app.ok("signin_status")["phase"], "idle");

    // A browser sign-in that nobody finishes can be cancelled too, and a new one started.
    assert_eq!(
        app.ok("signin_browser_start")["phase"],
        "waiting_for_browser"
    );
    assert_eq!(app.ok("signin_cancel")["phase"], "idle");
    *app.browser.choice.lock().unwrap() = Some(Choice::Approve);
    app.ok("signin_browser_start");
    app.wait_for_phase("signed_in");
}

#[test]
fn mfa_status_without_a_strong_method_and_in_guided_mode() {
    let none = start_full(&test_provider_settings(), None, Some("none"));
    *none.browser.choice.lock().unwrap() = Some(Choice::Approve);
    none.ok("signin_browser_start");
    none.wait_for_phase("signed_in");
    let mfa = none.ok("mfa_status");
    assert_eq!(mfa["status"]["state"], "not_registered", "{mfa}");
    assert_eq!(mfa["status"]["guided"], Value::Null);

    let forbidden = start_full(&test_provider_settings(), None, Some("forbidden"));
    *forbidden.browser.choice.lock().unwrap() = Some(Choice::Approve);
    forbidden.ok("signin_browser_start");
    forbidden.wait_for_phase("signed_in");
    let mfa = forbidden.ok("mfa_status");
    assert_eq!(mfa["status"]["state"], "unknown", "{mfa}");
    assert_eq!(mfa["status"]["guided"]["code"], "GraphAccessDenied");
}

#[test]
fn without_a_keyring_the_sign_in_says_so_before_sending_anyone_to_the_browser() {
    let app = start_with_stores(&test_provider_settings(), None, None, Box::new(NoKeyring));
    assert_eq!(
        app.fails("signin_browser_start", json!({})),
        "KeyringUnavailable"
    );
    assert_eq!(
        app.fails("signin_code_start", json!({})),
        "KeyringUnavailable"
    );
    assert!(app.browser.opened.lock().unwrap().is_empty());
    assert_eq!(app.ok("signin_status")["phase"], "idle");
}
