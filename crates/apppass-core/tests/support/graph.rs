//! Test support for the MFA status: the Graph emulator of `tests/harness/graph` (Node, standard
//! library only), started once per test binary against the real test OpenID provider, whose tokens
//! it checks at the provider's userinfo endpoint.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use super::{node, oidc};

pub struct Emulator {
    pub base: String,
    _process: node::NodeProcess,
}

/// The emulator, started on first use (after the OpenID provider it checks tokens with).
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(start)
}

fn start() -> Emulator {
    let issuer = oidc::harness().issuer.clone();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/harness/graph");
    let process = node::start(
        &dir,
        &["--issuer", &issuer],
        "the Graph emulator",
        "apppass-graph-emulator",
    );
    Emulator {
        base: process.ready["base"].as_str().unwrap().to_string(),
        _process: process,
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
