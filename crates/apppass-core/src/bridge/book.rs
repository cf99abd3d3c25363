//! The bridge's clients: checking a local user name and password against the vault, and the
//! growing delay after wrong passwords.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::error::Failure;
use crate::vault::Vault;
use crate::Secret;

/// A client the bridge let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeClient {
    pub entry_id: String,
    /// The entry's name ("Thunderbird on LAPTOP-42").
    pub name: String,
    /// The catalog client id (`thunderbird`).
    pub client: String,
    /// The local user name it signed in with.
    pub username: String,
}

pub trait ClientBook: Send + Sync + 'static {
    /// Blocking. `Ok(Some)`: the user name and password belong to a bridge client (its last use is
    /// recorded). `Ok(None)`: they do not (audited as `bridge_rejected`). `Err`: the vault or its
    /// store failed (keyring locked …).
    fn verify(&self, username: &str, password: &Secret) -> Result<Option<BridgeClient>, Failure>;
}

/// The vault as the bridge's client book.
pub struct VaultBook {
    vault: Mutex<Vault>,
}

impl VaultBook {
    pub fn new(vault: Vault) -> VaultBook {
        VaultBook {
            vault: Mutex::new(vault),
        }
    }
}

impl ClientBook for VaultBook {
    fn verify(&self, username: &str, password: &Secret) -> Result<Option<BridgeClient>, Failure> {
        let vault = self.vault.lock().unwrap_or_else(|p| p.into_inner());
        Ok(vault
            .verify_bridge(username, password)?
            .map(|entry| BridgeClient {
                entry_id: entry.id,
                name: entry.name,
                client: entry.client,
                username: entry.account,
            }))
    }
}

/// Per local user: after each wrong password the next attempt waits `base * 2^(n-1)`, at most
/// `max`; a right password resets it. Keyed by user name, so one misconfigured client (a printer
/// with an old password) does not slow the others down.
pub struct Penalty {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<String, u32>>,
}

impl Penalty {
    pub fn new(base: Duration, max: Duration) -> Penalty {
        Penalty {
            base,
            max,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn key(username: &str) -> String {
        username.trim().to_lowercase()
    }

    /// How long to wait before answering this user's next attempt.
    pub fn delay(&self, username: &str) -> Duration {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match failures.get(&Self::key(username)) {
            None | Some(0) => Duration::ZERO,
            Some(&n) => self
                .base
                .saturating_mul(1u32 << (n - 1).min(16))
                .min(self.max),
        }
    }

    pub fn failed(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded memory against a client inventing user names: forget everyone past 10,000.
        if failures.len() >= 10_000 {
            failures.clear();
        }
        *failures.entry(Self::key(username)).or_insert(0) += 1;
    }

    pub fn succeeded(&self, username: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&Self::key(username));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_per_user_and_reset() {
        let p = Penalty::new(Duration::from_millis(100), Duration::from_millis(350));
        assert_eq!(p.delay("printer"), Duration::ZERO);
        p.failed("printer");
        assert_eq!(p.delay("printer"), Duration::from_millis(100));
        p.failed("Printer");
        assert_eq!(p.delay("printer"), Duration::from_millis(200));
        p.failed("printer");
        assert_eq!(p.delay("printer"), Duration::from_millis(350), "capped");
        assert_eq!(p.delay("thunderbird"), Duration::ZERO, "others unaffected");
        p.succeeded("printer");
        assert_eq!(p.delay("printer"), Duration::ZERO);
    }
}
