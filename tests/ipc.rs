//! The app's IPC commands through Tauri's mock runtime, with the real context (tauri.conf.json and
//! the capabilities, so the ACL applies), an isolated profile, an in-memory secret store and an
//! in-memory clipboard injected into the app state.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apppass_app::{configure, context, AppState, Clipboard, StoreOpener, SystemStores};
use apppass_core::profile::Profile;
use apppass_core::settings::{Settings, StoreKind};
use apppass_core::vault::store::{MemoryStore, SecretStore};
use apppass_core::{Code, Failure, Secret};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{WebviewWindow, WebviewWindowBuilder};

/// The in-memory store for the keyring; the real encrypted file store when the settings say so.
struct TestStores;

impl StoreOpener for TestStores {
    fn open(
        &self,
        profile: &Profile,
        settings: &Settings,
        passphrase: Option<&Secret>,
    ) -> Result<Box<dyn SecretStore>, Failure> {
        match settings.store {
            StoreKind::Keyring => Ok(Box::new(MemoryStore::default())),
            StoreKind::EncryptedFile => SystemStores.open(profile, settings, passphrase),
        }
    }
}

/// A keyring that is there but locked: entries can be listed, not read.
struct LockedKeyring;

impl StoreOpener for LockedKeyring {
    fn open(
        &self,
        _: &Profile,
        _: &Settings,
        _: Option<&Secret>,
    ) -> Result<Box<dyn SecretStore>, Failure> {
        let store = MemoryStore::default();
        store
            .locked
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(Box::new(store))
    }
}

/// A keyring that cannot be reached, as on a machine without a Secret Service.
struct NoKeyring;

impl StoreOpener for NoKeyring {
    fn open(
        &self,
        _: &Profile,
        _: &Settings,
        _: Option<&Secret>,
    ) -> Result<Box<dyn SecretStore>, Failure> {
        Err(Failure::new(
            Code::KeyringUnavailable,
            "No OS keyring could be reached (test).",
        ))
    }
}

#[derive(Default)]
struct FakeClipboard(Mutex<Option<String>>);

impl FakeClipboard {
    fn get(&self) -> Option<String> {
        self.0.lock().unwrap().clone()
    }
    fn set(&self, text: &str) {
        *self.0.lock().unwrap() = Some(text.to_string());
    }
}

impl Clipboard for FakeClipboard {
    fn put_secret(&self, secret: &Secret) -> Result<(), Failure> {
        self.set(secret.expose());
        Ok(())
    }
    fn text(&self) -> Result<Option<Secret>, Failure> {
        Ok(self.get().map(Secret::new))
    }
    fn clear(&self) -> Result<(), Failure> {
        *self.0.lock().unwrap() = None;
        Ok(())
    }
}

struct TestApp {
    _app: tauri::App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    clipboard: Arc<FakeClipboard>,
    home: tempfile::TempDir,
}

/// The app built with the real context, and its "main" window (which the mock runtime does not
/// create from tauri.conf.json by itself).
fn build(state: AppState) -> (tauri::App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let app = configure(mock_builder(), state)
        .build(context())
        .expect("the app builds with the real context");
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, window)
}

fn start_with(stores: Box<dyn StoreOpener>) -> TestApp {
    let home = tempfile::tempdir().unwrap();
    let clipboard = Arc::new(FakeClipboard::default());
    let state = AppState::new(Profile::isolated(home.path()), stores, clipboard.clone());
    let (app, window) = build(state);
    TestApp {
        _app: app,
        window,
        clipboard,
        home,
    }
}

fn start() -> TestApp {
    start_with(Box::new(TestStores))
}

fn request(cmd: &str, args: Value) -> InvokeRequest {
    InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        // On Linux the app's own pages are tauri://localhost; anything else counts as remote.
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    }
}

fn call_in(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(window, request(cmd, args)).map(|b| b.deserialize::<Value>().unwrap())
}

impl TestApp {
    fn call(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        call_in(&self.window, cmd, args)
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.call(cmd, args)
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    /// The failure's code, after checking that the error is exactly `{code, message}`.
    fn fails(&self, cmd: &str, args: Value) -> String {
        let err = self.call(cmd, args).expect_err(cmd);
        let obj = err
            .as_object()
            .unwrap_or_else(|| panic!("{cmd}: not an object: {err}"));
        assert_eq!(obj.len(), 2, "{cmd}: {err}");
        assert!(!obj["message"].as_str().unwrap().is_empty(), "{cmd}: {err}");
        obj["code"].as_str().unwrap().to_string()
    }

    fn add(&self, name: &str, provider: &str, password: &str) -> Value {
        self.ok(
            "entry_add",
            json!({
                "entry": new_entry(name, provider),
                "password": password,
            }),
        )
    }

    fn names(&self, cmd: &str, args: Value) -> Vec<String> {
        self.ok(cmd, args)
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    }
}

fn new_entry(name: &str, provider: &str) -> Value {
    json!({
        "name": name,
        "provider": provider,
        "account": "me@example.com",
        "client": "Thunderbird",
    })
}

#[test]
fn list_add_search_rename_remove_round_trip() {
    let app = start();
    assert_eq!(app.ok("vault_list", json!({})), json!([]));

    let added = app.add("Thunderbird on laptop", "google", " abcd efgh ijkl mnop ");
    assert_eq!(added["name"], "Thunderbird on laptop");
    assert_eq!(added["provider"], "google");
    assert!(
        added.get("password").is_none(),
        "entries never carry the secret"
    );
    app.add("Phone mail", "icloud", "abcd-efgh-ijkl-mnop");

    assert_eq!(
        app.names("vault_list", json!({})),
        ["Phone mail", "Thunderbird on laptop"]
    );
    assert_eq!(
        app.names("vault_search", json!({"query": "laptop"})),
        ["Thunderbird on laptop"]
    );

    let renamed = app.ok(
        "entry_rename",
        json!({"name": "Thunderbird on laptop", "to": "Thunderbird (work laptop)"}),
    );
    assert_eq!(renamed["name"], "Thunderbird (work laptop)");
    assert_eq!(
        app.names("vault_search", json!({"query": "work laptop"})),
        ["Thunderbird (work laptop)"]
    );

    let removed = app.ok("entry_remove", json!({"name": "Thunderbird (work laptop)"}));
    assert_eq!(removed["entry"]["name"], "Thunderbird (work laptop)");
    assert_eq!(removed["provider_name"], "Google (Gmail, Workspace)");
    assert_eq!(
        removed["manage_url"],
        "https://myaccount.google.com/apppasswords"
    );
    assert_eq!(app.names("vault_list", json!({})), ["Phone mail"]);
}

#[test]
fn failures_cross_as_code_and_message() {
    let app = start();
    app.add("a", "custom", "pw");
    assert_eq!(
        app.fails("entry_rename", json!({"name": "nope", "to": "x"})),
        "NotFound"
    );
    assert_eq!(app.fails("entry_copy", json!({"name": "nope"})), "NotFound");
    assert_eq!(
        app.fails("entry_remove", json!({"name": "nope"})),
        "NotFound"
    );
    assert_eq!(
        app.fails(
            "entry_add",
            json!({"entry": new_entry("A", "custom"), "password": "x"})
        ),
        "NameTaken"
    );
    app.add("b", "custom", "pw");
    assert_eq!(
        app.fails("entry_rename", json!({"name": "b", "to": "a"})),
        "NameTaken"
    );
    assert_eq!(
        app.fails(
            "entry_add",
            json!({"entry": new_entry("c", "hotmale"), "password": "x"})
        ),
        "UnknownProvider"
    );
    assert_eq!(
        app.fails(
            "entry_add",
            json!({"entry": new_entry("c", "custom"), "password": "  "})
        ),
        "EmptySecret"
    );
    assert_eq!(
        app.fails(
            "entry_add",
            json!({"entry": new_entry(" ", "custom"), "password": "x"})
        ),
        "InvalidInput"
    );
}

#[test]
fn copy_puts_the_password_on_the_clipboard_and_clears_it_after_the_set_time() {
    let app = start();
    app.add("a", "google", "abcd efgh ijkl mnop");
    let mut settings = app.ok("settings_get", json!({}));
    assert_eq!(settings["clipboard_clear_seconds"], 30);
    settings["clipboard_clear_seconds"] = json!(1);
    app.ok("settings_set", json!({"settings": settings}));

    let copied = app.ok("entry_copy", json!({"name": "a"}));
    assert_eq!(copied, json!({"clear_after_seconds": 1}));
    assert_eq!(app.clipboard.get().as_deref(), Some("abcdefghijklmnop"));
    std::thread::sleep(Duration::from_millis(1600));
    assert_eq!(app.clipboard.get(), None, "cleared after 1 s");

    // Something else copied meanwhile is left alone.
    app.ok("entry_copy", json!({"name": "a"}));
    app.clipboard.set("the user's own text");
    std::thread::sleep(Duration::from_millis(1600));
    assert_eq!(app.clipboard.get().as_deref(), Some("the user's own text"));
}

#[test]
fn reveal_returns_the_password_with_its_hide_time() {
    let app = start();
    app.add("a", "custom", "s3cret pw");
    assert_eq!(
        app.ok("entry_reveal", json!({"name": "a"})),
        json!({"password": "s3cret pw", "hide_after_seconds": 10})
    );
}

#[test]
fn add_from_clipboard_reads_once_and_clears_only_on_success() {
    let app = start();
    assert_eq!(
        app.fails(
            "entry_add_from_clipboard",
            json!({"entry": new_entry("a", "google")})
        ),
        "EmptySecret"
    );

    app.clipboard.set("too short");
    let code = app.fails(
        "entry_add_from_clipboard",
        json!({"entry": new_entry("a", "zoho")}),
    );
    assert_eq!(code, "FormatMismatch");
    assert_eq!(
        app.clipboard.get().as_deref(),
        Some("too short"),
        "kept for a retry"
    );

    app.clipboard.set("  abcd efgh ijkl mnop\n");
    let added = app.ok(
        "entry_add_from_clipboard",
        json!({"entry": new_entry("a", "google")}),
    );
    assert_eq!(added["name"], "a");
    assert_eq!(app.clipboard.get(), None, "cleared after storing");
    assert_eq!(
        app.ok("entry_reveal", json!({"name": "a"}))["password"],
        "abcdefghijklmnop"
    );
}

#[test]
fn settings_are_validated_and_the_store_is_not_changed_by_settings_set() {
    let app = start();
    let mut settings = app.ok("settings_get", json!({}));
    settings["rotation_days"] = json!(90);
    app.ok("settings_set", json!({"settings": settings.clone()}));
    assert_eq!(app.ok("settings_get", json!({}))["rotation_days"], 90);

    settings["rotation_days"] = json!(1);
    assert_eq!(
        app.fails("settings_set", json!({"settings": settings.clone()})),
        "InvalidInput"
    );
    settings["rotation_days"] = json!(90);
    settings["store"] = json!("encrypted_file");
    assert_eq!(
        app.fails("settings_set", json!({"settings": settings})),
        "InvalidInput"
    );
    assert_eq!(app.ok("settings_get", json!({}))["store"], "keyring");
}

#[test]
fn catalog_and_health() {
    let app = start();
    let providers = app.ok("catalog_providers", json!({}));
    let ids: Vec<&str> = providers
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"google") && ids.contains(&"microsoft365"),
        "{ids:?}"
    );

    app.add("a", "custom", "same");
    app.add("b", "custom", "same");
    let health = app.ok("vault_health", json!({}));
    assert_eq!(health["rotation_days"], 180);
    assert_eq!(health["duplicates"], json!([["a", "b"]]));
}

#[test]
fn switching_to_the_encrypted_file_store_refuses_a_weak_passphrase_then_moves_the_passwords() {
    let app = start();
    app.add("a", "custom", "pw-a");
    let status = app.ok("store_status", json!({}));
    assert_eq!(status["kind"], "keyring");
    assert_eq!(status["problem"], Value::Null);
    assert_eq!(status["file_store_exists"], false);

    assert_eq!(
        app.fails("store_use_file", json!({"passphrase": "password1"})),
        "WeakPassphrase"
    );
    let status = app.ok(
        "store_use_file",
        json!({"passphrase": "correct horse battery staple orbit"}),
    );
    assert_eq!(status["kind"], "encrypted_file");
    assert_eq!(status["problem"], Value::Null);
    assert_eq!(status["file_store_exists"], true);
    assert_eq!(
        app.ok("entry_reveal", json!({"name": "a"}))["password"],
        "pw-a"
    );
    assert!(app.home.path().join("secrets.enc").exists());
}

#[test]
fn without_a_keyring_the_app_still_answers_and_says_what_to_do() {
    let app = start_with(Box::new(NoKeyring));
    assert_eq!(app.fails("vault_list", json!({})), "KeyringUnavailable");
    assert_eq!(app.ok("settings_get", json!({}))["store"], "keyring");
    let status = app.ok("store_status", json!({}));
    assert_eq!(status["problem"]["code"], "KeyringUnavailable");

    // An empty vault may move to the encrypted file store even without a keyring.
    let status = app.ok(
        "store_use_file",
        json!({"passphrase": "correct horse battery staple orbit"}),
    );
    assert_eq!(status["problem"], Value::Null);
    assert_eq!(app.ok("vault_list", json!({})), json!([]));
}

#[test]
fn store_status_reports_a_locked_keyring_before_anything_is_saved() {
    let app = start_with(Box::new(LockedKeyring));
    assert_eq!(app.ok("vault_list", json!({})), json!([]));
    let status = app.ok("store_status", json!({}));
    assert_eq!(status["kind"], "keyring");
    assert_eq!(status["problem"]["code"], "KeyringLocked");
    assert_eq!(
        app.fails(
            "entry_add",
            json!({"entry": new_entry("a", "custom"), "password": "pw"})
        ),
        "KeyringLocked"
    );
}

#[test]
fn a_locked_file_store_asks_for_its_passphrase() {
    let first = start();
    first.add("a", "custom", "pw-a");
    first.ok(
        "store_use_file",
        json!({"passphrase": "correct horse battery staple orbit"}),
    );
    // A new app on the same profile: the file store needs its passphrase first.
    let clipboard = Arc::new(FakeClipboard::default());
    let state = AppState::new(
        Profile::isolated(first.home.path()),
        Box::new(TestStores),
        clipboard,
    );
    let (_app, window) = build(state);
    let code = |cmd, args| call_in(&window, cmd, args).unwrap_err()["code"].clone();
    assert_eq!(code("vault_list", json!({})), "PassphraseRequired");
    assert_eq!(
        code("store_unlock", json!({"passphrase": "wrong"})),
        "WrongPassphrase"
    );
    call_in(
        &window,
        "store_unlock",
        json!({"passphrase": "correct horse battery staple orbit"}),
    )
    .unwrap();
    assert_eq!(
        call_in(&window, "vault_list", json!({})).unwrap()[0]["name"],
        "a"
    );
}

#[test]
fn a_profile_that_cannot_be_set_up_is_reported_by_every_command() {
    let clipboard = Arc::new(FakeClipboard::default());
    let broken = Err(Failure::new(
        Code::StorageFailure,
        "No data directory (test).",
    ));
    let state = AppState::new(broken, Box::new(TestStores), clipboard);
    let (_app, window) = build(state);
    for cmd in ["vault_list", "settings_get", "store_status"] {
        assert_eq!(
            call_in(&window, cmd, json!({})).unwrap_err(),
            json!({"code": "StorageFailure", "message": "No data directory (test)."})
        );
    }
}

#[test]
fn the_capability_grants_only_the_apps_commands_to_the_main_window() {
    let app = start();
    // The webview may not open URLs itself: provider pages are opened from Rust.
    let denied = app
        .call(
            "plugin:opener|open_url",
            json!({"url": "https://example.com"}),
        )
        .unwrap_err();
    assert!(denied.as_str().unwrap().contains("not allowed"), "{denied}");
    // Nor use Tauri's own window commands: the capability grants no core permission.
    let denied = app
        .call("plugin:window|close", json!({"label": "main"}))
        .unwrap_err();
    assert!(denied.as_str().unwrap().contains("not allowed"), "{denied}");

    // Another window gets nothing: the capability names only "main".
    let other = WebviewWindowBuilder::new(&app._app, "other", Default::default())
        .build()
        .unwrap();
    let denied = call_in(&other, "vault_list", json!({})).unwrap_err();
    assert!(denied.as_str().unwrap().contains("not allowed"), "{denied}");
    assert!(app.call("vault_list", json!({})).is_ok());
}
