//! The app's bridge commands through Tauri's mock runtime (real context, so the ACL applies), with
//! an isolated profile, one in-memory secret store the test can look into, and an in-memory
//! clipboard: bridge clients are added, listed, rotated and removed, their passwords reach the
//! webview only through the explicit reveal (and the clipboard only through copy), and the
//! status, start, settings and certificate commands answer as the Bridge screen expects.

use std::sync::{Arc, Mutex};

use apppass_app::{configure, context, AppState, Clipboard, LoginItem, StoreOpener};
use apppass_core::bridge::{BridgeSettings, Listen, Preset};
use apppass_core::profile::Profile;
use apppass_core::settings::Settings;
use apppass_core::vault::store::{MemoryStore, SecretKey, SecretStore, StoreResult};
use apppass_core::vault::{Security, Server};
use apppass_core::{Failure, Secret};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{WebviewWindow, WebviewWindowBuilder};

/// One in-memory store for the whole test, so that the test can read what the app stored.
#[derive(Clone, Default)]
struct Shared(Arc<MemoryStore>);

impl SecretStore for Shared {
    fn kind(&self) -> apppass_core::settings::StoreKind {
        self.0.kind()
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn put(&self, key: &SecretKey, label: &str, secret: &Secret) -> StoreResult<()> {
        self.0.put(key, label, secret)
    }
    fn get(&self, key: &SecretKey) -> StoreResult<Option<Secret>> {
        self.0.get(key)
    }
    fn delete(&self, key: &SecretKey) -> StoreResult<bool> {
        self.0.delete(key)
    }
    fn relabel(&self, key: &SecretKey, label: &str) -> StoreResult<()> {
        self.0.relabel(key, label)
    }
    fn ids(&self, namespace: &str) -> StoreResult<Option<Vec<String>>> {
        self.0.ids(namespace)
    }
}

impl StoreOpener for Shared {
    fn open(
        &self,
        _: &Profile,
        _: &Settings,
        _: Option<&Secret>,
    ) -> Result<Box<dyn SecretStore>, Failure> {
        Ok(Box::new(self.clone()))
    }
}

#[derive(Default)]
struct FakeClipboard(Mutex<Option<String>>);

impl Clipboard for FakeClipboard {
    fn put_secret(&self, secret: &Secret) -> Result<(), Failure> {
        *self.0.lock().unwrap() = Some(secret.expose().to_string());
        Ok(())
    }
    fn text(&self) -> Result<Option<Secret>, Failure> {
        Ok(self.0.lock().unwrap().clone().map(Secret::new))
    }
    fn clear(&self) -> Result<(), Failure> {
        *self.0.lock().unwrap() = None;
        Ok(())
    }
}

/// The login item in place of the autostart plugin: records what the app asked for, and fails
/// when told to. The machine's own login items (~/.config/autostart) are never touched.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<bool>>,
    registered: Mutex<bool>,
    broken: Mutex<Option<String>>,
}

impl LoginItem for Recorder {
    fn set(&self, enabled: bool) -> Result<(), String> {
        self.calls.lock().unwrap().push(enabled);
        if let Some(why) = self.broken.lock().unwrap().clone() {
            return Err(why);
        }
        *self.registered.lock().unwrap() = enabled;
        Ok(())
    }
    fn is_enabled(&self) -> Result<bool, String> {
        Ok(*self.registered.lock().unwrap())
    }
}

impl Recorder {
    fn calls(&self) -> Vec<bool> {
        self.calls.lock().unwrap().clone()
    }
}

struct TestApp {
    _app: tauri::App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    store: Shared,
    clipboard: Arc<FakeClipboard>,
    profile: Profile,
    downloads: tempfile::TempDir,
    login: Arc<Recorder>,
    /// Every answer but the explicit reveals, to check that none holds a password.
    seen: Mutex<Vec<String>>,
    _home: tempfile::TempDir,
}

fn start() -> TestApp {
    let home = tempfile::tempdir().unwrap();
    let downloads = tempfile::tempdir().unwrap();
    let store = Shared::default();
    let clipboard = Arc::new(FakeClipboard::default());
    let profile = Profile::isolated(home.path()).unwrap();
    let login = Arc::new(Recorder::default());
    let state = AppState::new(
        Ok(profile.clone()),
        Box::new(store.clone()),
        clipboard.clone(),
    )
    .with_downloads(downloads.path().to_path_buf())
    .with_login_item(login.clone());
    let app = configure(mock_builder(), state)
        .build(context())
        .expect("the app builds with the real context");
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    TestApp {
        _app: app,
        window,
        store,
        clipboard,
        profile,
        downloads,
        login,
        seen: Mutex::default(),
        _home: home,
    }
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
        let answer =
            get_ipc_response(&self.window, request).map(|b| b.deserialize::<Value>().unwrap());
        if cmd != "bridge_password_reveal" {
            let text = match &answer {
                Ok(v) | Err(v) => v.to_string(),
            };
            self.seen.lock().unwrap().push(text);
        }
        answer
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.call(cmd, args)
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    /// The failure's code, after checking that the error is exactly `{code, message}`.
    fn fails(&self, cmd: &str, args: Value) -> String {
        let err = self.call(cmd, args).expect_err(cmd);
        let obj = err.as_object().unwrap_or_else(|| panic!("{cmd}: {err}"));
        assert_eq!(obj.len(), 2, "{cmd}: {err}");
        assert!(!obj["message"].as_str().unwrap().is_empty(), "{cmd}: {err}");
        obj["code"].as_str().unwrap().to_string()
    }

    /// What the store holds for an entry.
    fn stored(&self, entry_id: &str) -> Option<String> {
        let key = SecretKey {
            namespace: self.profile.namespace.clone(),
            id: entry_id.to_string(),
        };
        self.store
            .get(&key)
            .unwrap()
            .map(|s| s.expose().to_string())
    }

    fn assert_no_answer_holds(&self, secret: &str) {
        for answer in self.seen.lock().unwrap().iter() {
            assert!(
                !answer.contains(secret),
                "an IPC answer holds the password: {answer}"
            );
        }
    }
}

/// Six groups of five from the bridge's alphabet.
fn looks_generated(password: &str) -> bool {
    let groups: Vec<&str> = password.split('-').collect();
    groups.len() == 6
        && groups
            .iter()
            .all(|g| g.len() == 5 && g.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[test]
fn bridge_clients_are_added_listed_rotated_and_removed_and_no_answer_holds_a_password() {
    let app = start();
    assert_eq!(app.ok("bridge_clients", json!({})), json!([]));

    let entry = app.ok(
        "bridge_add",
        json!({"name": "Thunderbird on laptop", "client": "thunderbird"}),
    );
    assert_eq!(entry["kind"], "bridge");
    assert_eq!(entry["account"], "thunderbird-on-laptop");
    assert_eq!(entry["provider"], "microsoft365");
    assert_eq!(entry["client"], "thunderbird");
    assert_eq!(
        entry["servers"]["imap"],
        json!({"host": "127.0.0.1", "port": 1143, "security": "starttls"})
    );
    assert_eq!(entry["servers"]["smtp"]["port"], 1587);
    let id = entry["id"].as_str().unwrap().to_string();
    let first = app.stored(&id).expect("the password is in the store");
    assert!(looks_generated(&first), "{first}");
    // The add wrote [bridge], so that the next sign-in asks for the mail scopes.
    let settings = app.ok("settings_get", json!({}));
    assert_eq!(settings["bridge"]["preset"], "microsoft365");
    assert_eq!(settings["bridge"]["start_at_login"], false);

    let list = app.ok("bridge_clients", json!({}));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "Thunderbird on laptop");

    // Same user name, unknown client, no letters: refused with the core's codes.
    assert_eq!(
        app.fails(
            "bridge_add",
            json!({"name": "thunderbird ON laptop!", "client": "thunderbird"})
        ),
        "NameTaken"
    );
    assert_eq!(
        app.fails("bridge_add", json!({"name": "Pine", "client": "pine"})),
        "UnknownClient"
    );
    assert_eq!(
        app.fails("bridge_add", json!({"name": "--", "client": "msmtp"})),
        "InvalidInput"
    );

    // Copy: to the clipboard from Rust, with the settings' clearing time.
    let copied = app.ok(
        "bridge_password_copy",
        json!({"name": "Thunderbird on laptop"}),
    );
    assert_eq!(copied, json!({"clear_after_seconds": 30}));
    assert_eq!(
        app.clipboard.0.lock().unwrap().as_deref(),
        Some(first.as_str())
    );
    // Reveal: the one answer that carries it.
    let revealed = app.ok(
        "bridge_password_reveal",
        json!({"name": "Thunderbird on laptop"}),
    );
    assert_eq!(revealed["password"], first);
    assert_eq!(revealed["hide_after_seconds"], 10);
    // Neither is a sign-in through the bridge.
    assert_eq!(
        app.ok("bridge_clients", json!({}))[0]["last_used"],
        Value::Null
    );

    // Rotate: a new stored password; the old one is gone.
    let rotated = app.ok("bridge_rotate", json!({"name": "Thunderbird on laptop"}));
    assert_eq!(rotated["id"], id.as_str());
    assert!(rotated["rotated"].is_number());
    let second = app.stored(&id).unwrap();
    assert!(looks_generated(&second), "{second}");
    assert_ne!(second, first);

    // An app password is not a bridge client: the bridge commands leave it alone.
    app.ok(
        "entry_add",
        json!({
            "entry": {"name": "Gmail", "provider": "google", "account": "me@gmail.com", "client": "Thunderbird"},
            "password": "abcdefghijklmnop",
        }),
    );
    for cmd in [
        "bridge_rotate",
        "bridge_remove",
        "bridge_password_copy",
        "bridge_password_reveal",
    ] {
        assert_eq!(
            app.fails(cmd, json!({"name": "Gmail"})),
            "InvalidInput",
            "{cmd}"
        );
    }
    assert_eq!(
        app.ok("bridge_clients", json!({}))
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Remove: the entry and its password go.
    let removed = app.ok("bridge_remove", json!({"name": "Thunderbird on laptop"}));
    assert_eq!(removed["name"], "Thunderbird on laptop");
    assert_eq!(app.stored(&id), None);
    assert_eq!(app.ok("bridge_clients", json!({})), json!([]));
    assert_eq!(
        app.fails(
            "bridge_password_reveal",
            json!({"name": "Thunderbird on laptop"})
        ),
        "NotFound"
    );

    app.assert_no_answer_holds(&first);
    app.assert_no_answer_holds(&second);
}

#[test]
fn status_start_settings_and_certificate() {
    let app = start();
    let status = app.ok("bridge_status", json!({}));
    assert_eq!(status["running"], false);
    assert_eq!(status["listeners"], json!([]));
    assert_eq!(status["sessions"], json!([]));
    assert_eq!(status["errors"], json!([]));
    assert_eq!(status["signin_required"], false);
    assert_eq!(status["start_failure"], Value::Null);
    assert_eq!(status["counters"]["connections"], 0);

    // Nobody signed in: the start is refused, and the status says why until a start works.
    assert_eq!(app.fails("bridge_start", json!({})), "SignInRequired");
    let status = app.ok("bridge_status", json!({}));
    assert_eq!(status["running"], false);
    assert_eq!(status["start_failure"]["code"], "SignInRequired");
    assert!(status["start_failure"]["message"]
        .as_str()
        .unwrap()
        .contains("Sign in"));
    // Stopping a bridge that does not run is no failure.
    assert_eq!(app.ok("bridge_stop", json!({}))["running"], false);

    // Settings: checked by the core before anything is saved.
    let listen = json!({"imap": 2143, "imaps": 0, "pop": 0, "pops": 0, "smtp": 2143, "smtps": 0});
    assert_eq!(
        app.fails(
            "bridge_settings_save",
            json!({"preset": "google", "listen": listen, "startAtLogin": true}),
        ),
        "InvalidInput"
    );
    assert!(app.ok("settings_get", json!({})).get("bridge").is_none());
    // Not a preset: refused by the argument's type before the command runs.
    let refused = app
        .call(
            "bridge_settings_save",
            json!({"preset": "yahoo", "listen": listen, "startAtLogin": true}),
        )
        .unwrap_err();
    assert!(refused.as_str().unwrap().contains("yahoo"), "{refused}");
    let listen = json!({"imap": 2143, "imaps": 0, "pop": 0, "pops": 0, "smtp": 2587, "smtps": 0});
    let saved = app.ok(
        "bridge_settings_save",
        json!({"preset": "google", "listen": listen, "startAtLogin": true}),
    );
    assert_eq!(saved["bridge"]["preset"], "google");
    assert_eq!(saved["bridge"]["start_at_login"], true);
    let on_disk = Settings::load(&app.profile).unwrap().bridge.unwrap();
    assert!(on_disk.start_at_login);
    assert_eq!(on_disk.listen.imap, Some(2143));
    assert_eq!(on_disk.listen.pops, Some(0));
    // A client added now gets the new ports (0 = off: the plain SMTP port, no TLS one).
    let entry = app.ok("bridge_add", json!({"name": "msmtp", "client": "msmtp"}));
    assert_eq!(entry["provider"], "google");
    assert_eq!(entry["servers"]["smtp"]["port"], 2587);
    assert_eq!(entry["servers"]["imap"], Value::Null);

    // The certificate: a PEM in Downloads, the key only in the store.
    let exported = app.ok("bridge_cert_export", json!({}));
    assert_eq!(exported["contains_password"], false);
    let path = std::path::PathBuf::from(exported["path"].as_str().unwrap());
    assert_eq!(path.parent().unwrap(), app.downloads.path());
    let pem = std::fs::read_to_string(&path).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert!(!pem.contains("PRIVATE KEY"));
    let key = app
        .stored("bridge/tls-key")
        .expect("the key is in the store");
    assert!(key.contains("PRIVATE KEY"));
    // A second export keeps the first file and the same certificate.
    let again = app.ok("bridge_cert_export", json!({}));
    assert_ne!(again["path"], exported["path"]);
    assert_eq!(
        std::fs::read_to_string(again["path"].as_str().unwrap()).unwrap(),
        pem
    );
}

/// The machine's own autostart entry for apppass: whether it is there and when it changed.
fn machine_login_item() -> Option<std::time::SystemTime> {
    let home = std::env::var_os("HOME")?;
    let file = std::path::Path::new(&home).join(".config/autostart/apppass.desktop");
    std::fs::metadata(file).and_then(|m| m.modified()).ok()
}

#[test]
fn start_at_login_registers_the_login_item_and_a_failed_registration_keeps_the_settings() {
    let machine = machine_login_item();
    let app = start();
    let listen = json!({"imap": 2143, "imaps": 0, "pop": 0, "pops": 0, "smtp": 2587, "smtps": 0});
    assert_eq!(app.ok("bridge_status", json!({}))["login_item"], false);

    // On: apppass is registered, and the status says so.
    let saved = app.ok(
        "bridge_settings_save",
        json!({"preset": "google", "listen": listen, "startAtLogin": true}),
    );
    assert_eq!(saved["bridge"]["start_at_login"], true);
    assert_eq!(app.login.calls(), [true]);
    assert_eq!(app.ok("bridge_status", json!({}))["login_item"], true);

    // Off: the registration is removed.
    app.ok(
        "bridge_settings_save",
        json!({"preset": "google", "listen": listen, "startAtLogin": false}),
    );
    assert_eq!(app.login.calls(), [true, false]);
    assert_eq!(app.ok("bridge_status", json!({}))["login_item"], false);
    assert!(
        !Settings::load(&app.profile)
            .unwrap()
            .bridge
            .unwrap()
            .start_at_login
    );

    // The desktop refuses: the answer says so with its code, the settings are saved all the same.
    *app.login.broken.lock().unwrap() = Some("~/.config/autostart is read-only".into());
    let listen = json!({"imap": 2144, "imaps": 0, "pop": 0, "pops": 0, "smtp": 2587, "smtps": 0});
    let err = app
        .call(
            "bridge_settings_save",
            json!({"preset": "microsoft365", "listen": listen, "startAtLogin": true}),
        )
        .unwrap_err();
    assert_eq!(err["code"], "LoginItemFailed", "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("could not register"), "{message}");
    assert!(message.contains("read-only"), "{message}");
    assert!(message.contains("startup applications"), "{message}");
    assert_eq!(app.login.calls(), [true, false, true]);
    let on_disk = Settings::load(&app.profile).unwrap().bridge.unwrap();
    assert!(on_disk.start_at_login);
    assert_eq!(on_disk.preset, Preset::Microsoft365);
    assert_eq!(on_disk.listen.imap, Some(2144));
    // The setting is on, the login item is missing: the screen warns from this.
    assert_eq!(app.ok("bridge_status", json!({}))["login_item"], false);

    // "Register again" while it still fails: the same coded failure; then it works.
    assert_eq!(
        app.fails("bridge_login_item_apply", json!({})),
        "LoginItemFailed"
    );
    *app.login.broken.lock().unwrap() = None;
    let view = app.ok("bridge_login_item_apply", json!({}));
    assert_eq!(view["login_item"], true);
    assert_eq!(view["running"], false);
    assert_eq!(app.login.calls(), [true, false, true, true, true]);

    // A failed removal says what to do by hand, and the setting is off all the same.
    *app.login.broken.lock().unwrap() = Some("permission denied".into());
    let err = app
        .call(
            "bridge_settings_save",
            json!({"preset": "microsoft365", "listen": listen, "startAtLogin": false}),
        )
        .unwrap_err();
    assert_eq!(err["code"], "LoginItemFailed", "{err}");
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains("Remove apppass from your desktop's startup applications"));
    assert!(
        !Settings::load(&app.profile)
            .unwrap()
            .bridge
            .unwrap()
            .start_at_login
    );

    // None of this touched the machine's own login items.
    assert_eq!(machine_login_item(), machine);
}

#[test]
fn without_a_login_item_start_at_login_is_refused_with_its_code_and_saved() {
    let home = tempfile::tempdir().unwrap();
    let profile = Profile::isolated(home.path()).unwrap();
    let state = AppState::new(
        Ok(profile.clone()),
        Box::new(Shared::default()),
        Arc::new(FakeClipboard::default()),
    );
    let built = configure(mock_builder(), state).build(context()).unwrap();
    let window = WebviewWindowBuilder::new(&built, "main", Default::default())
        .build()
        .unwrap();
    let call = |cmd: &str, args: Value| {
        get_ipc_response(
            &window,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|b| b.deserialize::<Value>().unwrap())
    };
    assert_eq!(
        call("bridge_status", json!({})).unwrap()["login_item"],
        Value::Null
    );
    let listen = json!({"imap": 2143, "imaps": 0, "pop": 0, "pops": 0, "smtp": 2587, "smtps": 0});
    let err = call(
        "bridge_settings_save",
        json!({"preset": "google", "listen": listen, "startAtLogin": true}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "LoginItemFailed", "{err}");
    assert!(
        Settings::load(&profile)
            .unwrap()
            .bridge
            .unwrap()
            .start_at_login
    );
    // Off needs nothing registered: no failure.
    call(
        "bridge_settings_save",
        json!({"preset": "google", "listen": listen, "startAtLogin": false}),
    )
    .unwrap();
}

// ---- the bridge itself, run by the app ---------------------------------------------------------

#[path = "../crates/apppass-core/tests/support/dovecot.rs"]
mod dovecot;
#[path = "../crates/apppass-core/tests/support/node.rs"]
mod node;
#[path = "../crates/apppass-core/tests/support/oidc.rs"]
mod oidc;

/// A port that was free a moment ago (settings cannot say "any free port": 0 is "off" there).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A few lines of IMAP over plain TCP: the greeting, then one command and its tagged answer.
struct Imap(std::io::BufReader<std::net::TcpStream>);

impl Imap {
    fn connect(port: u16) -> std::io::Result<Imap> {
        let stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
        let mut imap = Imap(std::io::BufReader::new(stream));
        let greeting = imap.line();
        assert!(greeting.starts_with("* OK"), "{greeting}");
        Ok(imap)
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut self.0, &mut line).unwrap();
        line
    }

    /// Sends `tag command` and answers with the tagged line.
    fn run(&mut self, tag: &str, command: &str) -> String {
        use std::io::Write;
        write!(self.0.get_mut(), "{tag} {command}\r\n").unwrap();
        loop {
            let line = self.line();
            assert!(!line.is_empty(), "the bridge closed the connection");
            if line.starts_with(&format!("{tag} ")) {
                return line;
            }
        }
    }
}

#[test]
fn the_app_runs_the_bridge_with_its_sign_in_and_vault_against_the_real_provider_and_dovecot() {
    let harness = oidc::harness();
    let dovecot = dovecot::dovecot_oauth2(&harness.introspection.as_json());
    // ann signs in (apppass's own browser sign-in at the real provider, scope mail); the tokens
    // go to the store the app then opens, in the profile the app then uses.
    let store = Shared::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let signed = rt.block_on(oidc::sign_in(
        &harness.issuer,
        &["mail"],
        Arc::new(store.clone()),
    ));
    let profile = Profile::isolated(signed.dir.path()).unwrap();
    let imap_port = free_port();
    let mut settings = Settings::load(&profile).unwrap();
    settings.ca_file = Some(dovecot.ca_file.clone());
    settings.bridge = Some(BridgeSettings {
        preset: Preset::Custom,
        scopes: Some(vec!["mail".into()]),
        imap: Some(Server {
            host: dovecot.host.clone(),
            port: dovecot.imaps,
            security: Security::Tls,
        }),
        listen: Listen {
            imap: Some(imap_port),
            imaps: Some(0),
            pop: Some(0),
            pops: Some(0),
            smtp: Some(0),
            smtps: Some(0),
        },
        ..BridgeSettings::default()
    });
    settings.save(&profile).unwrap();

    let clipboard = Arc::new(FakeClipboard::default());
    let state = AppState::new(
        Ok(profile.clone()),
        Box::new(store.clone()),
        clipboard.clone(),
    );
    let built = configure(mock_builder(), state).build(context()).unwrap();
    let window = WebviewWindowBuilder::new(&built, "main", Default::default())
        .build()
        .unwrap();
    let app = TestApp {
        _app: built,
        window,
        store,
        clipboard,
        profile,
        downloads: tempfile::tempdir().unwrap(),
        login: Arc::default(),
        seen: Mutex::default(),
        _home: tempfile::tempdir().unwrap(),
    };

    let entry = app.ok(
        "bridge_add",
        json!({"name": "Thunderbird on laptop", "client": "thunderbird"}),
    );
    assert_eq!(entry["servers"]["imap"]["port"], imap_port);
    let user = entry["account"].as_str().unwrap().to_string();
    let password = app.ok(
        "bridge_password_reveal",
        json!({"name": "Thunderbird on laptop"}),
    )["password"]
        .as_str()
        .unwrap()
        .to_string();

    let started = app.ok("bridge_start", json!({}));
    assert_eq!(started["running"], true);
    assert_eq!(
        started["listeners"],
        json!([{"protocol": "imap", "implicit_tls": false, "address": "127.0.0.1", "port": imap_port}])
    );
    assert_eq!(started["start_failure"], Value::Null);

    // A client signs in with its local password; the bridge signs in to Dovecot with ann's token.
    let mut imap = Imap::connect(imap_port).unwrap();
    let ok = imap.run("a", &format!("LOGIN {user} {password}"));
    assert!(ok.starts_with("a OK"), "{ok}");
    let selected = imap.run("b", "SELECT INBOX");
    assert!(selected.starts_with("b OK"), "{selected}");
    let status = app.ok("bridge_status", json!({}));
    let sessions = status["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{status}");
    assert_eq!(sessions[0]["client"], "Thunderbird on laptop");
    assert_eq!(sessions[0]["phase"], "relaying");
    assert!(app.ok("bridge_clients", json!({}))[0]["last_used"].is_number());
    imap.run("c", "LOGOUT");

    // A rotation in the app takes effect at once in the running bridge.
    app.ok("bridge_rotate", json!({"name": "Thunderbird on laptop"}));
    let mut imap = Imap::connect(imap_port).unwrap();
    let refused = imap.run("a", &format!("LOGIN {user} {password}"));
    assert!(refused.starts_with("a NO"), "{refused}");
    let status = app.ok("bridge_status", json!({}));
    assert_eq!(status["errors"][0]["code"], "AuthRejected", "{status}");
    assert_eq!(status["counters"]["rejected"], 1);
    let new_password = app.ok(
        "bridge_password_reveal",
        json!({"name": "Thunderbird on laptop"}),
    )["password"]
        .as_str()
        .unwrap()
        .to_string();
    let mut imap = Imap::connect(imap_port).unwrap();
    let ok = imap.run("a", &format!("LOGIN {user} {new_password}"));
    assert!(ok.starts_with("a OK"), "{ok}");
    imap.run("b", "LOGOUT");

    // Stop: the port closes and the status says so.
    let stopped = app.ok("bridge_stop", json!({}));
    assert_eq!(stopped["running"], false);
    assert_eq!(stopped["listeners"], json!([]));
    assert!(
        Imap::connect(imap_port).is_err(),
        "nothing listens any more"
    );
    // The errors stay for the screen after the stop.
    assert_eq!(stopped["errors"][0]["code"], "AuthRejected");

    app.assert_no_answer_holds(&password);
    app.assert_no_answer_holds(&new_password);
}
