//! The app's state: the profile, the vault (opened lazily, kept open), and the two ports that tests
//! replace: where secret stores come from, and the clipboard.

use std::sync::{Arc, Mutex, MutexGuard};

use apppass_core::open::{open_store, use_file_store, use_keyring};
use apppass_core::profile::Profile;
use apppass_core::settings::{Settings, StoreKind};
use apppass_core::vault::store::SecretStore;
use apppass_core::vault::Vault;
use apppass_core::wire::StoreStatus;
use apppass_core::{Code, Failure, Secret};

use crate::clipboard::{Clipboard, CopyTimer};

/// Written in the audit log as where an action happened.
const VIA: &str = "app";

/// Connects the store the settings name. Production uses [`SystemStores`]; tests inject another.
pub trait StoreOpener: Send + Sync + 'static {
    fn open(
        &self,
        profile: &Profile,
        settings: &Settings,
        passphrase: Option<&Secret>,
    ) -> Result<Box<dyn SecretStore>, Failure>;
}

/// The real stores: the OS keyring, or the encrypted file (which needs its passphrase).
pub struct SystemStores;

impl StoreOpener for SystemStores {
    fn open(
        &self,
        profile: &Profile,
        settings: &Settings,
        passphrase: Option<&Secret>,
    ) -> Result<Box<dyn SecretStore>, Failure> {
        open_store(profile, settings, &mut || Ok(passphrase.cloned()))
    }
}

pub struct AppState {
    /// A profile that could not be set up is reported by every command; the window still opens.
    profile: Result<Profile, Failure>,
    stores: Box<dyn StoreOpener>,
    vault: Mutex<Option<Vault>>,
    pub(crate) clipboard: Arc<dyn Clipboard>,
    pub(crate) copies: CopyTimer,
}

impl AppState {
    pub fn new(
        profile: Result<Profile, Failure>,
        stores: Box<dyn StoreOpener>,
        clipboard: Arc<dyn Clipboard>,
    ) -> AppState {
        AppState {
            profile,
            stores,
            vault: Mutex::new(None),
            copies: CopyTimer::new(clipboard.clone()),
            clipboard,
        }
    }

    pub fn profile(&self) -> Result<&Profile, Failure> {
        self.profile.as_ref().map_err(Clone::clone)
    }

    pub fn settings(&self) -> Result<Settings, Failure> {
        Settings::load(self.profile()?)
    }

    fn slot(&self) -> Result<MutexGuard<'_, Option<Vault>>, Failure> {
        self.vault.lock().map_err(|_| {
            Failure::new(
                Code::Internal,
                "An earlier action failed badly. Restart apppass.",
            )
        })
    }

    fn open(&self, passphrase: Option<&Secret>) -> Result<Vault, Failure> {
        let profile = self.profile()?;
        let settings = Settings::load(profile)?;
        let store = self.stores.open(profile, &settings, passphrase)?;
        Vault::open(
            profile.clone(),
            store,
            Arc::new(apppass_core::clock::SystemClock),
            VIA,
        )
    }

    /// Runs `f` on the vault, opening it first if needed. A failure to open (no keyring, a locked
    /// encrypted file) is returned as is and tried again on the next call.
    pub fn with_vault<T>(
        &self,
        f: impl FnOnce(&Vault) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let mut slot = self.slot()?;
        if slot.is_none() {
            *slot = Some(self.open(None)?);
        }
        f(slot.as_ref().expect("opened above"))
    }

    /// Opens the encrypted file store with its passphrase.
    pub fn unlock(&self, passphrase: &Secret) -> Result<(), Failure> {
        let vault = self.open(Some(passphrase))?;
        *self.slot()? = Some(vault);
        Ok(())
    }

    /// Moves every secret into the encrypted file store (creating it, or opening an existing one).
    pub fn use_file_store(&self, passphrase: &Secret) -> Result<(), Failure> {
        let profile = self.profile()?;
        let mut slot = self.slot()?;
        if slot.is_none() {
            // Not open yet: try the configured store once, so its secrets can be moved.
            *slot = self.open(None).ok();
        }
        let (vault, _) = use_file_store(profile, slot.as_ref(), passphrase, VIA)?;
        *slot = Some(vault);
        Ok(())
    }

    /// Moves every secret back into the OS keyring.
    pub fn use_keyring(&self) -> Result<(), Failure> {
        let mut slot = self.slot()?;
        let current = match slot.take() {
            Some(vault) => vault,
            None => self.open(None)?,
        };
        match use_keyring(&current, VIA) {
            Ok((vault, _)) => {
                *slot = Some(vault);
                Ok(())
            }
            Err(failure) => {
                *slot = Some(current);
                Err(failure)
            }
        }
    }

    /// The configured store, and whether it opens and answers (a keyring that is missing or
    /// locked shows up here, before the user tries to save anything).
    pub fn store_status(&self) -> Result<StoreStatus, Failure> {
        let profile = self.profile()?;
        let settings = Settings::load(profile)?;
        let opened = self.with_vault(|vault| {
            vault
                .store()
                .probe(&vault.profile().namespace)
                .map_err(|e| e.to_failure())?;
            Ok(vault.store().describe())
        });
        let description = match &opened {
            Ok(described) => described.clone(),
            Err(_) => match settings.store {
                StoreKind::Keyring => "the OS keyring".to_string(),
                StoreKind::EncryptedFile => profile.file_store_path().display().to_string(),
            },
        };
        Ok(StoreStatus {
            kind: settings.store,
            description,
            problem: opened.err(),
            file_store_exists: profile.file_store_path().exists(),
        })
    }
}
