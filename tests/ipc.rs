//! The app's IPC commands through Tauri's mock runtime, with the real context (tauri.conf.json and
//! the capabilities, so the ACL applies), an isolated profile, an in-memory secret store and an
//! in-memory clipboard injected into the app state.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apppass_app::preload::{Preloader, FIRST_ROWS};
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

    /// The entries' names in a command's answer: a list, or a search's page (`entries`).
    fn names(&self, cmd: &str, args: Value) -> Vec<String> {
        let answer = self.ok(cmd, args);
        let entries = answer.get("entries").unwrap_or(&answer);
        entries
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
        app.names("vault_search", json!({"query": "laptop", "limit": 25})),
        ["Thunderbird on laptop"]
    );
    // A page: the first `limit` matches and how many there are.
    let page = app.ok("vault_search", json!({"query": "", "limit": 1}));
    assert_eq!(page["total"], 2);
    assert_eq!(page["entries"].as_array().unwrap().len(), 1);
    assert_eq!(page["entries"][0]["name"], "Phone mail");

    let renamed = app.ok(
        "entry_rename",
        json!({"name": "Thunderbird on laptop", "to": "Thunderbird (work laptop)"}),
    );
    assert_eq!(renamed["name"], "Thunderbird (work laptop)");
    assert_eq!(
        app.names("vault_search", json!({"query": "work laptop", "limit": 25})),
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

/// An app whose profile holds one entry, "a", in an encrypted file store: a new app on the same
/// profile finds the store locked.
fn file_store_profile() -> TestApp {
    let first = start();
    first.add("a", "custom", "pw-a");
    first.ok(
        "store_use_file",
        json!({"passphrase": "correct horse battery staple orbit"}),
    );
    first
}

#[test]
fn a_locked_file_store_asks_for_its_passphrase() {
    let first = file_store_profile();
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
fn a_damaged_vault_database_answers_data_corrupt_with_the_file_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_path_buf();
    let db = home.join("vault.sqlite3");
    {
        let vault = apppass_core::vault::Vault::open(
            Profile::isolated(&home).unwrap(),
            Box::new(MemoryStore::default()),
            Arc::new(apppass_core::clock::SystemClock),
            "app",
        )
        .unwrap();
        vault
            .add(
                serde_json::from_value(new_entry("Kept", "custom")).unwrap(),
                &Secret::from("kept-password-1"),
            )
            .unwrap();
    }
    // The app, started on the profile after its database was damaged (cut in half).
    let clipboard = Arc::new(FakeClipboard::default());
    let state = AppState::new(Profile::isolated(&home), Box::new(TestStores), clipboard);
    let good = std::fs::read(&db).unwrap();
    std::fs::write(&db, &good[..good.len() / 2]).unwrap();
    let (_app, window) = build(state);
    for (cmd, args) in [
        ("vault_list", json!({})),
        ("vault_search", json!({"query": "k", "limit": 25})),
        (
            "entry_add",
            json!({"entry": new_entry("New", "custom"), "password": "new-password-2"}),
        ),
    ] {
        let err = call_in(&window, cmd, args).unwrap_err();
        assert_eq!(err["code"], "DataCorrupt", "{cmd}: {err}");
        let message = err["message"].as_str().unwrap();
        assert!(message.contains(db.to_str().unwrap()), "{message}");
        assert!(message.contains("apppass doctor --restore"), "{message}");
        assert!(!message.contains("kept-password-1"));
    }
    assert_eq!(std::fs::read(&db).unwrap(), &good[..good.len() / 2]);
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

// ---- the app-password wizard ---------------------------------------------------------------------

#[path = "../crates/apppass-core/tests/support/dovecot.rs"]
mod dovecot;

/// Every IPC answer of a test, to check that the pasted password never appears in any.
#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

impl Seen {
    fn note(&self, answer: &Result<Value, Value>) {
        let text = match answer {
            Ok(v) | Err(v) => v.to_string(),
        };
        self.0.lock().unwrap().push(text);
    }
    fn assert_never_contains(&self, secret: &str) {
        for answer in self.0.lock().unwrap().iter() {
            assert!(
                !answer.contains(secret),
                "an IPC answer holds the password: {answer}"
            );
        }
    }
}

impl TestApp {
    fn noted(&self, seen: &Seen, cmd: &str, args: Value) -> Result<Value, Value> {
        let answer = self.call(cmd, args);
        seen.note(&answer);
        answer
    }
}

fn start_with_downloads(downloads: &std::path::Path) -> TestApp {
    let home = tempfile::tempdir().unwrap();
    let clipboard = Arc::new(FakeClipboard::default());
    let state = AppState::new(
        Profile::isolated(home.path()),
        Box::new(TestStores),
        clipboard.clone(),
    )
    .with_downloads(downloads.to_path_buf());
    let (app, window) = build(state);
    TestApp {
        _app: app,
        window,
        clipboard,
        home,
    }
}

fn code_of(answer: Result<Value, Value>) -> String {
    answer.expect_err("a failure")["code"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn wizard_paste_reads_once_clears_the_clipboard_and_never_answers_with_the_password() {
    let app = start();
    let seen = Seen::default();
    let paste = |provider: &str| app.noted(&seen, "wizard_paste", json!({"provider": provider}));

    // Nothing on the clipboard.
    assert_eq!(code_of(paste("google")), "EmptySecret");

    // Too short for Zoho (12 characters, confirmed by Zoho): refused, and the clipboard is
    // cleared all the same.
    app.clipboard.set("qxzv kwpj");
    assert_eq!(code_of(paste("zoho")), "FormatMismatch");
    assert_eq!(app.clipboard.get(), None, "cleared after a refusal too");

    // A password a person chose, where an app password was expected.
    app.clipboard.set("Summer2024!password");
    let refused = paste("google").unwrap_err();
    assert_eq!(refused["code"], "LooksLikeAccountPassword");
    assert!(refused["message"]
        .as_str()
        .unwrap()
        .contains("account password"));
    assert_eq!(app.clipboard.get(), None);

    // Accepted: only the length and the shape come back.
    app.clipboard.set("  abcd efgh ijkl mnop\n");
    let pasted = paste("google").unwrap();
    assert_eq!(pasted["length"], 16);
    assert!(
        pasted["hint"].as_str().unwrap().contains("app password"),
        "{pasted}"
    );
    assert_eq!(pasted.as_object().unwrap().len(), 2, "{pasted}");
    assert_eq!(app.clipboard.get(), None, "cleared after reading");

    // iCloud's groups are kept and described.
    app.clipboard.set("abcd-efgh-ijkl-mnop");
    let pasted = paste("icloud").unwrap();
    assert_eq!(pasted["length"], 19);
    assert!(
        pasted["hint"]
            .as_str()
            .unwrap()
            .starts_with("4 groups of 4"),
        "{pasted}"
    );

    // Saved: the stored password is the normalised last paste.
    let saved = app
        .noted(
            &seen,
            "wizard_save",
            json!({"entry": new_entry("Phone", "icloud")}),
        )
        .unwrap();
    assert_eq!(saved["name"], "Phone");
    assert_eq!(
        app.ok("entry_reveal", json!({"name": "Phone"}))["password"],
        "abcd-efgh-ijkl-mnop"
    );
    for secret in [
        "abcdefghijklmnop",
        "abcd-efgh-ijkl-mnop",
        "Summer2024",
        "qxzv",
    ] {
        seen.assert_never_contains(secret);
    }
}

#[test]
fn wizard_save_uses_the_paste_once_keeps_it_after_a_failure_and_cancel_drops_it() {
    let app = start();
    app.add("Taken", "google", "zyxw vuts rqpo nmlk");
    assert_eq!(
        app.fails("wizard_save", json!({"entry": new_entry("a", "google")})),
        "EmptySecret",
        "nothing pasted yet"
    );
    app.clipboard.set("abcd efgh ijkl mnop");
    app.ok("wizard_paste", json!({"provider": "google"}));

    // Pasted for Google, saved as iCloud: refused.
    assert_eq!(
        app.fails("wizard_save", json!({"entry": new_entry("a", "icloud")})),
        "InvalidInput"
    );
    // A name already taken: refused, and the paste is still there for the corrected name.
    assert_eq!(
        app.fails(
            "wizard_save",
            json!({"entry": new_entry("taken", "google")})
        ),
        "NameTaken"
    );
    let saved = app.ok(
        "wizard_save",
        json!({"entry": new_entry("Thunderbird on laptop", "google")}),
    );
    assert_eq!(saved["provider"], "google");
    assert_eq!(
        app.ok("entry_reveal", json!({"name": "Thunderbird on laptop"}))["password"],
        "abcdefghijklmnop"
    );
    // Used once: a second save has nothing to store.
    assert_eq!(
        app.fails("wizard_save", json!({"entry": new_entry("b", "google")})),
        "EmptySecret"
    );

    // Cancel drops a paste.
    app.clipboard.set("abcd efgh ijkl mnop");
    app.ok("wizard_paste", json!({"provider": "google"}));
    app.ok("wizard_cancel", json!({}));
    assert_eq!(
        app.fails("wizard_save", json!({"entry": new_entry("b", "google")})),
        "EmptySecret"
    );
}

#[test]
fn a_paste_expires_when_not_saved_in_time() {
    let home = tempfile::tempdir().unwrap();
    let clipboard = Arc::new(FakeClipboard::default());
    let state = AppState::new(
        Profile::isolated(home.path()),
        Box::new(TestStores),
        clipboard.clone(),
    )
    .with_paste_lifetime(Duration::from_millis(300));
    let (_app, window) = build(state);
    clipboard.set("abcd efgh ijkl mnop");
    call_in(&window, "wizard_paste", json!({"provider": "google"})).unwrap();
    std::thread::sleep(Duration::from_millis(900));
    let err = call_in(
        &window,
        "wizard_save",
        json!({"entry": new_entry("a", "google")}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "EmptySecret");
    assert!(err["message"].as_str().unwrap().contains("10 minutes"));
}

#[test]
fn wizard_rotate_replaces_the_password_records_it_and_names_the_page_to_delete_the_old_one() {
    let app = start();
    app.add("Work laptop", "google", "abcd efgh ijkl mnop");
    assert_eq!(
        app.fails("wizard_rotate", json!({"name": "Work laptop"})),
        "EmptySecret"
    );
    app.clipboard.set("qrst uvwx yzab cdef");
    app.ok("wizard_paste", json!({"provider": "google"}));
    assert_eq!(
        app.fails("wizard_rotate", json!({"name": "nope"})),
        "NotFound"
    );
    let rotated = app.ok("wizard_rotate", json!({"name": "Work laptop"}));
    assert_eq!(rotated["entry"]["name"], "Work laptop");
    assert!(rotated["entry"]["rotated"].is_i64(), "{rotated}");
    assert_eq!(rotated["provider_name"], "Google (Gmail, Workspace)");
    assert_eq!(
        rotated["manage_url"],
        "https://myaccount.google.com/apppasswords"
    );
    assert!(!rotated.to_string().contains("qrst"));
    assert_eq!(
        app.ok("entry_reveal", json!({"name": "Work laptop"}))["password"],
        "qrstuvwxyzabcdef"
    );
    let audit = std::fs::read_to_string(app.home.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains(r#""action":"rotated""#), "{audit}");
    // Used once.
    assert_eq!(
        app.fails("wizard_rotate", json!({"name": "Work laptop"})),
        "EmptySecret"
    );
}

#[test]
fn wizard_catalog_preflight_and_name() {
    let app = start();
    let clients = app.ok("catalog_clients", json!({}));
    let thunderbird = clients
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "thunderbird")
        .expect("thunderbird in the catalog");
    assert_eq!(thunderbird["incoming"][0], "imap");

    // Exchange Online + Thunderbird over IMAP: no, with the reason and its source.
    let pre = app.ok(
        "wizard_preflight",
        json!({"provider": "microsoft365", "client": "thunderbird"}),
    );
    assert_eq!(pre["verdict"], "no", "{pre}");
    let imap = pre["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["protocol"] == "imap")
        .unwrap();
    assert_eq!(imap["accepts"], "no");
    assert!(imap["source"].as_str().unwrap().starts_with("https://"));
    assert!(!pre["advice"].as_array().unwrap().is_empty());
    assert_eq!(
        app.fails(
            "wizard_preflight",
            json!({"provider": "google", "client": "telnet"})
        ),
        "UnknownClient"
    );

    // A suggested name is unique in the vault.
    let first = app.ok("wizard_suggest_name", json!({"client": "Thunderbird"}));
    let first = first.as_str().unwrap().to_string();
    assert!(first.starts_with("Thunderbird on "), "{first}");
    app.add(&first, "google", "abcd efgh ijkl mnop");
    let second = app.ok("wizard_suggest_name", json!({"client": "Thunderbird"}));
    assert_eq!(second, json!(format!("{first} (2)")));

    // Non-secret text goes to the clipboard from Rust.
    app.ok("text_copy", json!({"text": "imap.gmail.com"}));
    assert_eq!(app.clipboard.get().as_deref(), Some("imap.gmail.com"));
    assert_eq!(app.fails("text_copy", json!({"text": ""})), "InvalidInput");
}

fn custom_entry(name: &str, imap_port: u16, smtp_port: u16) -> Value {
    json!({
        "name": name,
        "provider": "custom",
        "account": dovecot::ALICE,
        "client": "Thunderbird",
        "servers": {
            "imap": {"host": "127.0.0.1", "port": imap_port, "security": "tls"},
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "starttls"},
            "pop": null,
        },
    })
}

#[test]
fn client_setup_and_exports_to_the_downloads_folder() {
    let downloads = tempfile::tempdir().unwrap();
    let app = start_with_downloads(downloads.path());
    app.clipboard.set("s3cret-app-pw");
    app.ok("wizard_paste", json!({"provider": "custom"}));
    app.ok(
        "wizard_save",
        json!({"entry": custom_entry("Mail", 993, 587)}),
    );

    let setup = app.ok(
        "client_setup",
        json!({"name": "Mail", "client": "thunderbird"}),
    );
    assert_eq!(setup["settings"][0]["host"], "127.0.0.1");
    assert_eq!(setup["settings"][0]["port"], 993);
    assert_eq!(setup["settings"][1]["security"], "starttls");
    assert!(!setup["steps"].as_array().unwrap().is_empty());
    assert!(!setup.to_string().contains("s3cret"));

    let file = app.ok(
        "export_file",
        json!({"name": "Mail", "format": "thunderbird", "includePassword": false}),
    );
    let path = std::path::PathBuf::from(file["path"].as_str().unwrap());
    assert_eq!(path.parent().unwrap(), downloads.path());
    let xml = std::fs::read_to_string(&path).unwrap();
    assert!(xml.contains("<clientConfig"), "{xml}");
    assert!(!xml.contains("s3cret"));
    assert_eq!(file["contains_password"], false);
    // A second export does not overwrite the first.
    let again = app.ok(
        "export_file",
        json!({"name": "Mail", "format": "thunderbird", "includePassword": false}),
    );
    assert_ne!(again["path"], file["path"]);
    assert!(again["path"].as_str().unwrap().contains(" (2)"));

    // Only an Apple profile may hold the password, only when asked, owner-readable only.
    assert_eq!(
        app.fails(
            "export_file",
            json!({"name": "Mail", "format": "msmtp", "includePassword": true})
        ),
        "InvalidInput"
    );
    let profile = app.ok(
        "export_file",
        json!({"name": "Mail", "format": "mobileconfig", "includePassword": true}),
    );
    assert_eq!(profile["contains_password"], true);
    assert!(profile["warning"].as_str().unwrap().contains("clear text"));
    let path = std::path::PathBuf::from(profile["path"].as_str().unwrap());
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains("s3cret-app-pw"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let without = app.ok(
        "export_file",
        json!({"name": "Mail", "format": "mobileconfig", "includePassword": false}),
    );
    let text = std::fs::read_to_string(without["path"].as_str().unwrap()).unwrap();
    assert!(!text.contains("s3cret"));
}

/// A Channel argument as the webview sends it (the mock runtime delivers nothing back).
fn channel() -> Value {
    json!("__CHANNEL__:4242")
}

#[test]
fn connection_test_against_dovecot_uses_the_stored_password_and_the_ca_file_setting() {
    let dc = dovecot::dovecot();
    let app = start();
    app.clipboard.set(dc.password(dovecot::ALICE));
    app.ok("wizard_paste", json!({"provider": "custom"}));
    app.ok(
        "wizard_save",
        json!({"entry": custom_entry("Dovecot", dc.imaps, dc.submission)}),
    );
    let test = |client: Value| {
        app.ok(
            "connection_test",
            json!({"name": "Dovecot", "client": client, "onStep": channel()}),
        )
    };
    let results = |outcomes: &Value| -> Vec<(String, String)> {
        outcomes
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["protocol"].as_str().unwrap().to_string(),
                    o["result"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };

    // Without the harness's CA the server is not trusted.
    let untrusted = test(Value::Null);
    assert_eq!(
        results(&untrusted),
        [
            ("imap".into(), "tls_error".into()),
            ("smtp".into(), "tls_error".into())
        ]
    );

    let mut settings = app.ok("settings_get", json!({}));
    settings["ca_file"] = json!(dc.ca_file);
    app.ok("settings_set", json!({"settings": settings}));
    let ok = test(json!("thunderbird"));
    assert_eq!(
        results(&ok),
        [("imap".into(), "ok".into()), ("smtp".into(), "ok".into())],
        "{ok}"
    );
    assert!(!ok.to_string().contains(dc.password(dovecot::ALICE)));
    // msmtp sends only: only SMTP is tested.
    assert_eq!(
        results(&test(json!("msmtp"))),
        [("smtp".into(), "ok".into())]
    );
    // Each protocol's result is in the audit log: 2 refused (TLS), then 3 ok.
    let audit = std::fs::read_to_string(app.home.path().join("audit.jsonl")).unwrap();
    let tested: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains(r#""action":"tested""#))
        .collect();
    assert_eq!(tested.len(), 5, "{audit}");
    assert_eq!(
        tested.iter().filter(|l| l.contains("TlsFailure")).count(),
        2,
        "{audit}"
    );
    assert!(!audit.contains(dc.password(dovecot::ALICE)));
}

/// The preload's script on a new app of `home`: `(its JSON, the app's window)`. The script is
/// taken before the window exists, as the real window's creation does.
fn preload_of(home: &std::path::Path) -> (Value, TestWindow) {
    let clipboard = Arc::new(FakeClipboard::default());
    let state = AppState::new(Profile::isolated(home), Box::new(TestStores), clipboard);
    // A loaded test machine may take longer than the app's wait.
    let preloader = Preloader::with_wait(&state, Duration::from_secs(20));
    let script = preloader
        .script()
        .expect("the preload answers within its wait");
    assert!(preloader.script().is_none(), "the script is given once");
    let json = script
        .strip_prefix("window.__APPPASS_PRELOAD__ = ")
        .and_then(|s| s.strip_suffix(';'))
        .unwrap_or_else(|| panic!("not the preload's assignment: {script}"));
    let value: Value = serde_json::from_str(json).unwrap();
    let (app, window) = build(state);
    (value, (app, window))
}

type TestWindow = (tauri::App<MockRuntime>, WebviewWindow<MockRuntime>);

#[test]
fn the_preload_holds_what_the_first_screens_commands_answer_and_no_password() {
    let first = start();
    for i in 0..20 {
        first.add(
            &format!("entry {i:02}"),
            "custom",
            &format!("pw-canary-{i:02}"),
        );
    }
    let (preload, (_app, window)) = preload_of(first.home.path());
    assert_eq!(preload["limit"], FIRST_ROWS);
    assert_eq!(
        preload["page"],
        call_in(
            &window,
            "vault_search",
            json!({"query": "", "limit": FIRST_ROWS})
        )
        .unwrap()
    );
    assert_eq!(preload["page"]["entries"].as_array().unwrap().len(), 15);
    assert_eq!(preload["page"]["total"], 20);
    assert_eq!(
        preload["settings"],
        call_in(&window, "settings_get", json!({})).unwrap()
    );
    assert_eq!(
        preload["providers"],
        call_in(&window, "catalog_providers", json!({})).unwrap()
    );
    assert_eq!(preload["page_failure"], Value::Null);
    assert_eq!(preload["settings_failure"], Value::Null);
    assert!(!preload.to_string().contains("pw-canary"), "{preload}");
}

#[test]
fn the_preload_carries_a_locked_stores_failure_as_the_command_would() {
    let first = file_store_profile();
    let (preload, (_app, window)) = preload_of(first.home.path());
    assert_eq!(preload["page"], Value::Null);
    assert_eq!(
        preload["page_failure"],
        call_in(&window, "vault_search", json!({"query": "", "limit": 15})).unwrap_err()
    );
    assert_eq!(preload["page_failure"]["code"], "PassphraseRequired");
}

#[test]
fn a_preload_that_does_not_answer_in_time_gives_no_script() {
    /// A store that takes its time to open (a keyring waking up).
    struct SlowStores;
    impl StoreOpener for SlowStores {
        fn open(
            &self,
            profile: &Profile,
            settings: &Settings,
            passphrase: Option<&Secret>,
        ) -> Result<Box<dyn SecretStore>, Failure> {
            std::thread::sleep(Duration::from_millis(600));
            TestStores.open(profile, settings, passphrase)
        }
    }
    let home = tempfile::tempdir().unwrap();
    let clipboard = Arc::new(FakeClipboard::default());
    let state = AppState::new(
        Profile::isolated(home.path()),
        Box::new(SlowStores),
        clipboard,
    );
    let preloader = Preloader::with_wait(&state, Duration::from_millis(50));
    let t0 = std::time::Instant::now();
    assert!(preloader.script().is_none());
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
    // The vault still opens for the page's own read.
    let (_app, window) = build(state);
    assert_eq!(
        call_in(&window, "vault_search", json!({"query": "", "limit": 15})).unwrap()["total"],
        0
    );
}
