//! Test support for the MFA status: the Graph emulator of `tests/harness/graph` (Node, standard
//! library only), started once per test binary against the real test OpenID provider, whose tokens
//! it checks at the provider's userinfo endpoint.

#![allow(dead_code)]

use std::io::BufRead;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::oidc;

pub struct Emulator {
    pub base: String,
    _child: Mutex<Child>,
    // Kept open: the emulator exits when the test binary exits and this pipe closes.
    _stdin: Mutex<ChildStdin>,
}

/// The emulator, started on first use (after the OpenID provider it checks tokens with).
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(start)
}

fn start() -> Emulator {
    let issuer = oidc::harness().issuer.clone();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/harness/graph");
    let log =
        std::env::temp_dir().join(format!("apppass-graph-emulator-{}.log", std::process::id()));
    let mut child = Command::new("node")
        .arg("server.mjs")
        .arg("--issuer")
        .arg(&issuer)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("emulator log file"))
        .spawn()
        .expect("node runs (Node.js 20+ is needed for the Graph tests)");
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    let parsed: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| {
        panic!(
            "the Graph emulator did not start; its log ({}):\n{}",
            log.display(),
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    Emulator {
        base: parsed["base"].as_str().unwrap().to_string(),
        _child: Mutex::new(child),
        _stdin: Mutex::new(stdin),
    }
}

/// One test's view of a scenario: its own run id, so per-run counters start at zero.
pub struct Run {
    pub scenario: String,
    pub run: String,
    emulator: &'static Emulator,
}

impl Run {
    pub fn new(scenario: &str) -> Run {
        static N: AtomicUsize = AtomicUsize::new(0);
        Run {
            scenario: scenario.to_string(),
            run: format!(
                "r{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ),
            emulator: emulator(),
        }
    }

    /// The Graph base URL for this run (what `GraphConfig::base_url` takes).
    pub fn base_url(&self) -> String {
        format!("{}/s/{}/{}", self.emulator.base, self.scenario, self.run)
    }

    /// What the emulator was asked in this run: `{path, status, token (digest), at_ms}`.
    pub async fn log(&self) -> Vec<serde_json::Value> {
        oidc::tls_ready();
        reqwest::get(format!(
            "{}/log/{}/{}",
            self.emulator.base, self.scenario, self.run
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
    }
}
