//! A secret store in memory for the core's integration tests (the keyring has tests of its
//! own): items by the store key's user name; clones share the items, so the vault, the sign-in
//! and the bridge's certificate can use one store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use apppass_core::secret::Secret;
use apppass_core::vault::store::{SecretKey, SecretStore, StoreResult};

/// The store.
#[derive(Default, Clone)]
pub struct Memory(Arc<Mutex<HashMap<String, Secret>>>);

impl SecretStore for Memory {
    fn kind(&self) -> apppass_core::settings::StoreKind {
        apppass_core::settings::StoreKind::Keyring
    }
    fn describe(&self) -> String {
        "memory (test)".into()
    }
    fn put(&self, key: &SecretKey, _label: &str, secret: &Secret) -> StoreResult<()> {
        self.0.lock().unwrap().insert(key.user(), secret.clone());
        Ok(())
    }
    fn get(&self, key: &SecretKey) -> StoreResult<Option<Secret>> {
        Ok(self.0.lock().unwrap().get(&key.user()).cloned())
    }
    fn delete(&self, key: &SecretKey) -> StoreResult<bool> {
        Ok(self.0.lock().unwrap().remove(&key.user()).is_some())
    }
    fn relabel(&self, _: &SecretKey, _: &str) -> StoreResult<()> {
        Ok(())
    }
    fn ids(&self, namespace: &str) -> StoreResult<Option<Vec<String>>> {
        let prefix = format!("{namespace}/");
        Ok(Some(
            self.0
                .lock()
                .unwrap()
                .keys()
                .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
                .collect(),
        ))
    }
}
