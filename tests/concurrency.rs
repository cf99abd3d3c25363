//! The app and the CLI writing the same profile at the same moment lose nothing: the app's
//! commands (through Tauri's mock runtime, with the real OS keyring) add entries on one thread
//! while `apppass add` processes add others, and `apppass rm` removes some of the app's.
//! Runs inside scripts/with-keyring.sh (as the test suite does).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use apppass_app::{configure, context, AppState, Clipboard, SystemStores};
use apppass_core::profile::Profile;
use apppass_core::{Failure, Secret};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindowBuilder;

const EACH: usize = 20;

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

fn keyring_available() -> bool {
    let ready = std::env::var("APPPASS_TEST_SECRET_SERVICE").as_deref() == Ok("unlocked");
    if !ready && std::env::var("APPPASS_REQUIRE_KEYRING").as_deref() == Ok("1") {
        panic!("APPPASS_REQUIRE_KEYRING=1 but no unlocked test keyring: run inside scripts/with-keyring.sh");
    }
    if !ready {
        eprintln!("skipped: no test keyring (run inside scripts/with-keyring.sh)");
    }
    ready
}

fn cli_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let bin = target.join("debug").join("apppass");
    assert!(
        bin.exists(),
        "{} is missing: build the CLI first (`cargo test --workspace` does)",
        bin.display()
    );
    bin
}

fn cli(home: &std::path::Path, args: &[&str], input: &str) -> std::process::Child {
    let mut child = Command::new(cli_bin())
        .args(args)
        .env("APPPASS_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child
}

fn request(cmd: &str, args: Value) -> InvokeRequest {
    InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    }
}

#[test]
fn app_and_cli_writing_at_once_lose_nothing() {
    if !keyring_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let state = AppState::new(
        Profile::isolated(home.path()),
        Box::new(SystemStores),
        Arc::new(NoClipboard),
    );
    let app = configure(mock_builder(), state).build(context()).unwrap();
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    let call = |cmd: &str, args: Value| -> Value {
        get_ipc_response(&window, request(cmd, args))
            .map(|b| b.deserialize::<Value>().unwrap())
            .unwrap_or_else(|e| panic!("{cmd}: {e}"))
    };
    // The app adds one first, so the CLI can remove it while the app keeps adding.
    call(
        "entry_add",
        json!({"entry": {"name": "app 0", "provider": "custom", "account": "a@x", "client": "app"}, "password": "app-secret-0"}),
    );

    let cli_home = home.path().to_path_buf();
    let cli_side = std::thread::spawn(move || {
        let mut children: Vec<_> = (0..EACH)
            .map(|i| {
                cli(
                    &cli_home,
                    &[
                        "add",
                        &format!("cli {i}"),
                        "--provider",
                        "custom",
                        "--account",
                        "c@x",
                        "--client",
                        "cli",
                    ],
                    &format!("cli-secret-{i}\n"),
                )
            })
            .collect();
        children.push(cli(&cli_home, &["rm", "app 0"], ""));
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    });
    for i in 1..=EACH {
        call(
            "entry_add",
            json!({"entry": {"name": format!("app {i}"), "provider": "custom", "account": "a@x", "client": "app"}, "password": format!("app-secret-{i}")}),
        );
        call("vault_list", json!({}));
    }
    cli_side.join().unwrap();

    let listed: Vec<String> = call("vault_list", json!({}))
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed.len(), 2 * EACH, "{listed:?}");
    assert!(!listed.contains(&"app 0".to_string()));
    for i in 0..EACH {
        let out = cli(home.path(), &["get", &format!("cli {i}")], "")
            .wait_with_output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("cli-secret-{i}\n")
        );
        let out = cli(home.path(), &["get", &format!("app {}", i + 1)], "")
            .wait_with_output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("app-secret-{}\n", i + 1)
        );
    }
    let doctor = cli(home.path(), &["doctor", "--json"], "")
        .wait_with_output()
        .unwrap();
    let report: Value = serde_json::from_slice(&doctor.stdout).unwrap();
    assert_eq!(report["orphans_removed"], 0, "{report}");
    assert_eq!(report["missing_secrets"], json!([]), "{report}");
}
