//! The test OpenID provider (`tests/harness/oidc`, oidc-provider on Node) for the CLI's tests,
//! started once per test binary on 127.0.0.1, and the scripted browser apppass runs as $BROWSER.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::repo_root;

pub struct Provider {
    pub issuer: String,
    /// `{"url","client_id","client_secret"}` of the introspection endpoint (for Dovecot's
    /// `passdb oauth2`).
    pub introspection: serde_json::Value,
    _child: Mutex<Child>,
    // Kept open: the provider exits when this test binary exits and the pipe closes.
    _stdin: Mutex<ChildStdin>,
}

pub fn harness_dir() -> PathBuf {
    repo_root().join("tests/harness/oidc")
}

/// `$BROWSER` for apppass: the scripted browser that approves the sign-in.
pub fn browser() -> String {
    format!("node {}", harness_dir().join("browser.mjs").display())
}

/// The provider, started on first use (ephemeral ports on 127.0.0.1).
pub fn provider() -> &'static Provider {
    static PROVIDER: OnceLock<Provider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let dir = harness_dir();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the test OpenID provider is not installed: run scripts/setup.sh --test (npm ci in tests/harness/oidc)"
        );
        let log = std::env::temp_dir().join(format!("apppass-cli-oidc-{}.log", std::process::id()));
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("node runs (Node.js 20+ is needed for the sign-in tests)");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = rx.recv_timeout(Duration::from_secs(90)).unwrap_or_default();
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| {
            panic!(
                "the OpenID provider did not start; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        Provider {
            issuer: parsed["issuer"].as_str().unwrap().to_string(),
            introspection: parsed["introspection"].clone(),
            _child: Mutex::new(child),
            _stdin: Mutex::new(stdin),
        }
    })
}
