//! The Node servers of `tests/harness` for the CLI's tests: the test OpenID provider
//! (oidc-provider), started once per test binary on 127.0.0.1, any other harness server (the
//! Graph emulator), and the scripted browser apppass runs as $BROWSER.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::repo_root;

/// A Node server of `tests/harness`; its first stdout line (JSON) is `info`. It stops when this
/// test binary exits and the pipe to its stdin closes.
pub struct Server {
    pub info: serde_json::Value,
    _child: Mutex<Child>,
    _stdin: Mutex<ChildStdin>,
}

/// Starts `tests/harness/DIR/server.mjs ARGS` and waits up to `wait` for its JSON line.
pub fn start(dir: &str, args: &[&str], wait: Duration) -> Server {
    let dir = repo_root().join("tests/harness").join(dir);
    let log = std::env::temp_dir().join(format!(
        "apppass-cli-{}-{}.log",
        dir.file_name().unwrap().to_string_lossy(),
        std::process::id()
    ));
    let mut child = Command::new("node")
        .arg("server.mjs")
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("node runs (Node.js 20+ is needed for these tests)");
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
    let line = rx.recv_timeout(wait).unwrap_or_default();
    let info = serde_json::from_str(&line).unwrap_or_else(|_| {
        panic!(
            "{} did not start; its log:\n{}",
            dir.display(),
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    Server {
        info,
        _child: Mutex::new(child),
        _stdin: Mutex::new(stdin),
    }
}

pub struct Provider {
    pub issuer: String,
    /// `{"url","client_id","client_secret"}` of the introspection endpoint (for Dovecot's
    /// `passdb oauth2`).
    pub introspection: serde_json::Value,
    _server: Server,
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
        assert!(
            harness_dir().join("node_modules/oidc-provider").is_dir(),
            "the test OpenID provider is not installed: run scripts/setup.sh --test (npm ci in tests/harness/oidc)"
        );
        let server = start("oidc", &[], Duration::from_secs(90));
        Provider {
            issuer: server.info["issuer"].as_str().unwrap().to_string(),
            introspection: server.info["introspection"].clone(),
            _server: server,
        }
    })
}
