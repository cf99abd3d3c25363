//! Opening a profile's vault with the store its settings name, and switching stores.
//!
//! The store is always the one the settings name: if the OS keyring fails, the error says so and
//! offers the encrypted file store; apppass never falls back on its own.

use std::sync::Arc;

use crate::clock::SystemClock;
use crate::error::{Code, Failure};
use crate::profile::Profile;
use crate::secret::Secret;
use crate::settings::{Settings, StoreKind};
use crate::vault::file_store::FileStore;
use crate::vault::store::{KeyringStore, SecretKey, SecretStore};
use crate::vault::Vault;

/// Asked for the file store's passphrase only when that store is in use.
pub type PassphraseSource<'a> = &'a mut dyn FnMut() -> Result<Option<Secret>, Failure>;

/// The store the settings name, connected and ready.
pub fn open_store(
    profile: &Profile,
    settings: &Settings,
    passphrase: PassphraseSource<'_>,
) -> Result<Box<dyn SecretStore>, Failure> {
    match settings.store {
        StoreKind::Keyring => Ok(Box::new(KeyringStore::open().map_err(|e| e.to_failure())?)),
        StoreKind::EncryptedFile => {
            let path = profile.file_store_path();
            if !path.exists() {
                return Err(Failure::new(
                    Code::DataCorrupt,
                    format!(
                        "The settings choose the encrypted file store, but {} is missing. Restore it from a backup, or run `apppass store use-file` to start a new one.",
                        path.display()
                    ),
                ));
            }
            let pass = passphrase()?
                .ok_or_else(|| crate::vault::store::StoreError::PassphraseRequired.to_failure())?;
            Ok(Box::new(FileStore::open(&path, &pass)?))
        }
    }
}

/// Opens the profile's vault with its configured store and the system clock.
pub fn open_vault(
    profile: &Profile,
    via: &'static str,
    passphrase: PassphraseSource<'_>,
) -> Result<(Vault, Settings), Failure> {
    let settings = Settings::load(profile)?;
    let store = open_store(profile, &settings, passphrase)?;
    let vault = Vault::open(profile.clone(), store, Arc::new(SystemClock), via)?;
    Ok((vault, settings))
}

/// Moves every secret of the profile from the vault's store into `to`, then records `to` in the
/// settings, then deletes the old copies. A failure before the settings are saved leaves the old
/// store in use and complete.
pub fn switch_store(
    vault: &Vault,
    settings: &mut Settings,
    to: Box<dyn SecretStore>,
) -> Result<u64, Failure> {
    if to.kind() == vault.store().kind() {
        return Ok(0);
    }
    let ns = &vault.profile().namespace;
    let key = |id: &str| SecretKey {
        namespace: ns.clone(),
        id: id.to_string(),
    };
    let entries = vault.list()?;
    let mut ids: Vec<(String, String)> = entries
        .iter()
        .map(|e| (e.id.clone(), crate::vault::item_label(&e.name)))
        .collect();
    ids.push((
        "vault-key".into(),
        "apppass: vault key (duplicate detection)".into(),
    ));
    let mut moved = 0;
    for (id, label) in &ids {
        if let Some(secret) = vault.store().get(&key(id)).map_err(|e| e.to_failure())? {
            to.put(&key(id), label, &secret)
                .map_err(|e| e.to_failure())?;
            moved += 1;
        }
    }
    let previous = settings.store;
    settings.store = to.kind();
    if let Err(e) = settings.save(vault.profile()) {
        settings.store = previous;
        return Err(e);
    }
    for (id, _) in &ids {
        let _ = vault.store().delete(&key(id));
    }
    Ok(moved)
}
