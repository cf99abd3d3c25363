//! The test keyring (scripts/with-keyring.sh) and checks on what reached the disk.

// Each test binary uses the part of the support it needs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether an unlocked test keyring is there. With `APPPASS_REQUIRE_KEYRING=1` (the test suite)
/// a missing one is a failure, never a silent skip.
pub fn available() -> bool {
    let ready = std::env::var("APPPASS_TEST_SECRET_SERVICE").as_deref() == Ok("unlocked");
    if !ready && std::env::var("APPPASS_REQUIRE_KEYRING").as_deref() == Ok("1") {
        panic!("APPPASS_REQUIRE_KEYRING=1 but no unlocked test keyring: run inside scripts/with-keyring.sh");
    }
    ready
}

/// `secret-tool search --all service apppass username USER`: the item's label and secret.
pub fn secret_tool_item(user: &str) -> Option<(String, String)> {
    let out = Command::new("secret-tool")
        .args([
            "search", "--all", "--unlock", "service", "apppass", "username", user,
        ])
        .output()
        .expect("secret-tool runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let label = text
        .lines()
        .find_map(|l| l.strip_prefix("label = "))?
        .to_string();
    let secret = text
        .lines()
        .find_map(|l| l.strip_prefix("secret = "))?
        .to_string();
    Some((label, secret))
}

/// Every file below `dir`.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The files below `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    walk(dir)
        .into_iter()
        .filter(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).contains(needle))
        .map(|p| p.display().to_string())
        .collect()
}
