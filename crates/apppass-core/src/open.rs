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

/// Makes the encrypted file store the profile's store, moving every secret into it, and returns
/// the vault opened on it.
///
/// An existing store file is opened with `passphrase` (a wrong one is `WrongPassphrase`); otherwise
/// a new file is created, which refuses a weak passphrase (`WeakPassphrase`, with zxcvbn's advice).
/// `current` is the vault opened with the store in use, or `None` when that store cannot be reached
/// (no keyring): then only a vault without entries may switch, since no secret could be moved.
pub fn use_file_store(
    profile: &Profile,
    current: Option<&Vault>,
    passphrase: &Secret,
    via: &'static str,
) -> Result<(Vault, Settings), Failure> {
    let mut settings = Settings::load(profile)?;
    let in_use = current.map_or(settings.store, |vault| vault.store().kind());
    if in_use == StoreKind::EncryptedFile {
        // Already the file store (perhaps still locked): this only opens it.
        return Ok((reopen_file_store(profile, passphrase, via)?, settings));
    }
    if current.is_none() {
        let stranded = crate::vault::db::Db::open(&profile.database_path())?
            .active()
            .map_err(|e| {
                Failure::new(
                    Code::StorageFailure,
                    format!("Cannot list the entries: {e}."),
                )
            })?
            .len();
        if stranded > 0 {
            return Err(Failure::new(
                Code::KeyringUnavailable,
                format!(
                    "{stranded} saved password(s) are in the OS keyring, which cannot be reached now, so they cannot be moved. Start or unlock the keyring first, then switch."
                ),
            ));
        }
    }
    let path = profile.file_store_path();
    let store = if path.exists() {
        FileStore::open(&path, passphrase)?
    } else {
        crate::fsutil::ensure_private_dir(&profile.data_dir)?;
        FileStore::create(&path, passphrase)?
    };
    match current {
        Some(vault) => {
            switch_store(vault, &mut settings, Box::new(store))?;
            Ok((reopen_file_store(profile, passphrase, via)?, settings))
        }
        None => {
            settings.store = StoreKind::EncryptedFile;
            settings.save(profile)?;
            let vault = Vault::open(profile.clone(), Box::new(store), Arc::new(SystemClock), via)?;
            Ok((vault, settings))
        }
    }
}

fn reopen_file_store(
    profile: &Profile,
    passphrase: &Secret,
    via: &'static str,
) -> Result<Vault, Failure> {
    let store = FileStore::open(&profile.file_store_path(), passphrase)?;
    Vault::open(profile.clone(), Box::new(store), Arc::new(SystemClock), via)
}

/// Makes the OS keyring the profile's store again, moving every secret out of `current`'s store,
/// and returns the vault opened on the keyring.
pub fn use_keyring(current: &Vault, via: &'static str) -> Result<(Vault, Settings), Failure> {
    let profile = current.profile();
    let mut settings = Settings::load(profile)?;
    let open = || KeyringStore::open().map_err(|e| e.to_failure());
    switch_store(current, &mut settings, Box::new(open()?))?;
    let vault = Vault::open(
        profile.clone(),
        Box::new(open()?),
        Arc::new(SystemClock),
        via,
    )?;
    Ok((vault, settings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::store::MemoryStore;
    use crate::vault::NewEntry;

    fn entry(name: &str) -> NewEntry {
        NewEntry {
            name: name.into(),
            provider: "custom".into(),
            account: "me@example.com".into(),
            client: "Thunderbird".into(),
            kind: Default::default(),
            notes: String::new(),
            servers: None,
        }
    }

    const STRONG: &str = "correct horse battery staple orbit";

    #[test]
    fn use_file_store_moves_secrets_and_records_the_choice() {
        let dir = tempfile::tempdir().unwrap();
        let profile = Profile::isolated(dir.path()).unwrap();
        let memory = Vault::open(
            profile.clone(),
            Box::new(MemoryStore::default()),
            Arc::new(SystemClock),
            "test",
        )
        .unwrap();
        memory.add(entry("a"), &Secret::from("pw-a")).unwrap();

        let weak = use_file_store(&profile, Some(&memory), &Secret::from("password1"), "test");
        assert_eq!(weak.err().map(|f| f.code), Some(Code::WeakPassphrase));
        assert!(!profile.file_store_path().exists());

        let (vault, settings) =
            use_file_store(&profile, Some(&memory), &Secret::from(STRONG), "test").unwrap();
        assert_eq!(settings.store, StoreKind::EncryptedFile);
        assert_eq!(
            Settings::load(&profile).unwrap().store,
            StoreKind::EncryptedFile
        );
        assert_eq!(vault.store().kind(), StoreKind::EncryptedFile);
        let (_, secret) = vault.secret("a", crate::vault::Access::Reveal).unwrap();
        assert_eq!(secret.expose(), "pw-a");
    }

    #[test]
    fn use_file_store_without_a_store_only_when_nothing_is_stranded() {
        let dir = tempfile::tempdir().unwrap();
        let profile = Profile::isolated(dir.path()).unwrap();
        let (vault, _) = use_file_store(&profile, None, &Secret::from(STRONG), "test").unwrap();
        assert_eq!(vault.list().unwrap().len(), 0);

        // Entries whose secrets are in a keyring that cannot be reached now are not left behind.
        let dir = tempfile::tempdir().unwrap();
        let profile = Profile::isolated(dir.path()).unwrap();
        let keyring = Vault::open(
            profile.clone(),
            Box::new(MemoryStore::default()),
            Arc::new(SystemClock),
            "test",
        )
        .unwrap();
        keyring.add(entry("a"), &Secret::from("pw-a")).unwrap();
        let stranded = use_file_store(&profile, None, &Secret::from(STRONG), "test");
        assert_eq!(
            stranded.err().map(|f| f.code),
            Some(Code::KeyringUnavailable)
        );
        assert!(!profile.file_store_path().exists());
        assert_eq!(Settings::load(&profile).unwrap().store, StoreKind::Keyring);
    }

    #[test]
    fn use_file_store_on_a_locked_file_store_opens_it() {
        let dir = tempfile::tempdir().unwrap();
        let profile = Profile::isolated(dir.path()).unwrap();
        let (vault, _) = use_file_store(&profile, None, &Secret::from(STRONG), "test").unwrap();
        vault.add(entry("a"), &Secret::from("pw-a")).unwrap();
        drop(vault);
        let wrong = use_file_store(&profile, None, &Secret::from("not the passphrase"), "test");
        assert_eq!(wrong.err().map(|f| f.code), Some(Code::WrongPassphrase));
        let (vault, settings) =
            use_file_store(&profile, None, &Secret::from(STRONG), "test").unwrap();
        assert_eq!(settings.store, StoreKind::EncryptedFile);
        let (_, secret) = vault.secret("a", crate::vault::Access::Reveal).unwrap();
        assert_eq!(secret.expose(), "pw-a");
    }
}
