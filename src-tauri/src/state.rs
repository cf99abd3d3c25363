//! The app's state: the profile, the vault (opened lazily, kept open), the work-account sign-in,
//! and the ports that tests replace: where secret stores come from, the clipboard, the browser and
//! the policy file's location.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use apppass_core::bridge::{BridgeClient, ClientBook};
use apppass_core::catalog;
use apppass_core::open::{open_store, use_file_store, use_keyring};
use apppass_core::policy::Policy;
use apppass_core::profile::Profile;
use apppass_core::settings::{Settings, StoreKind};
use apppass_core::signin::{Deps, SignIn};
use apppass_core::vault::store::{SecretKey, SecretStore, StoreError, StoreResult};
use apppass_core::vault::Vault;
use apppass_core::wire::{Preload, StoreStatus};
use apppass_core::{Code, Failure, Secret};

use crate::bridge::BridgeSlot;
use crate::clipboard::{Clipboard, CopyTimer};
use crate::login::LoginItem;
use crate::signin::{Task, UrlOpener};
use crate::wizard::PendingSlot;

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

/// The profile and its vault, shared with the sign-in's view of the store ([`VaultStore`]).
struct Shared {
    /// A profile that could not be set up is reported by every command; the window still opens.
    profile: Result<Profile, Failure>,
    stores: Box<dyn StoreOpener>,
    vault: Mutex<Option<Vault>>,
}

impl Shared {
    fn profile(&self) -> Result<&Profile, Failure> {
        self.profile.as_ref().map_err(Clone::clone)
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

    /// What `catalog_providers`, `settings_get` and `vault_search("", limit)` answer now; the
    /// vault is opened (and kept open) on the way, as by the first command that needs it.
    fn preload(&self, limit: u32) -> Preload {
        let (settings, settings_failure) = split(self.profile().and_then(Settings::load));
        let (page, page_failure) = split(self.with_vault(|v| v.search_page("", limit as usize)));
        Preload {
            providers: catalog::providers().to_vec(),
            settings,
            settings_failure,
            limit,
            page,
            page_failure,
        }
    }

    fn with_vault<T>(&self, f: impl FnOnce(&Vault) -> Result<T, Failure>) -> Result<T, Failure> {
        let mut slot = self.slot()?;
        if slot.is_none() {
            *slot = Some(self.open(None)?);
        }
        f(slot.as_ref().expect("opened above"))
    }
}

fn split<T>(answer: Result<T, Failure>) -> (Option<T>, Option<Failure>) {
    match answer {
        Ok(value) => (Some(value), None),
        Err(failure) => (None, Some(failure)),
    }
}

/// The vault's own store, as the sign-in sees it: the refresh token goes wherever the passwords
/// go (the OS keyring, or the encrypted file once unlocked), through the one open connection.
struct VaultStore(Arc<Shared>);

impl VaultStore {
    fn with<T>(&self, f: impl FnOnce(&dyn SecretStore) -> StoreResult<T>) -> StoreResult<T> {
        let mut out = None;
        self.0
            .with_vault(|vault| {
                out = Some(f(vault.store()));
                Ok(())
            })
            .map_err(StoreError::Io)?;
        out.expect("set above")
    }
}

impl SecretStore for VaultStore {
    fn kind(&self) -> StoreKind {
        self.with(|s| Ok(s.kind())).unwrap_or_else(|_| {
            self.0
                .profile()
                .and_then(Settings::load)
                .map(|s| s.store)
                .unwrap_or(StoreKind::Keyring)
        })
    }
    fn describe(&self) -> String {
        self.with(|s| Ok(s.describe()))
            .unwrap_or_else(|_| "the vault's store (not open)".to_string())
    }
    fn put(&self, key: &SecretKey, label: &str, secret: &Secret) -> StoreResult<()> {
        self.with(|s| s.put(key, label, secret))
    }
    fn get(&self, key: &SecretKey) -> StoreResult<Option<Secret>> {
        self.with(|s| s.get(key))
    }
    fn delete(&self, key: &SecretKey) -> StoreResult<bool> {
        self.with(|s| s.delete(key))
    }
    fn relabel(&self, key: &SecretKey, label: &str) -> StoreResult<()> {
        self.with(|s| s.relabel(key, label))
    }
    fn ids(&self, namespace: &str) -> StoreResult<Option<Vec<String>>> {
        self.with(|s| s.ids(namespace))
    }
}

/// The app's vault as the bridge's client book: every sign-in is checked against the vault (and
/// store) the app has open at that moment, so adding, rotating or removing a client, or switching
/// the store, takes effect at once.
struct AppBook(Arc<Shared>);

impl ClientBook for AppBook {
    fn verify(&self, username: &str, password: &Secret) -> Result<Option<BridgeClient>, Failure> {
        let entry = self
            .0
            .with_vault(|vault| vault.verify_bridge(username, password))?;
        Ok(entry.map(|entry| BridgeClient {
            entry_id: entry.id,
            name: entry.name,
            client: entry.client,
            username: entry.account,
        }))
    }
}

pub struct AppState {
    shared: Arc<Shared>,
    /// The bridge the app runs (at most one), and its status.
    pub(crate) bridge: BridgeSlot,
    pub(crate) clipboard: Arc<dyn Clipboard>,
    pub(crate) copies: CopyTimer,
    /// Created on first use (it needs the HTTP client), with the HTTP client Graph shares.
    signin: Mutex<Option<(Arc<SignIn>, Deps)>>,
    /// The running (or last) sign-in, polled by the UI.
    pub(crate) task: Arc<Mutex<Task>>,
    /// Opens the sign-in address; `None`: `$BROWSER` when set, else tauri-plugin-opener.
    pub(crate) browser: Option<Arc<dyn UrlOpener>>,
    policy_path: PathBuf,
    /// Microsoft Graph's address when not the one of the sign-in's cloud (tests, emulators).
    graph_url: Option<String>,
    /// The wizard's pasted app password, waiting for Save (never sent to the webview).
    pub(crate) pending: PendingSlot,
    /// Where exports are written instead of the user's Downloads folder (tests).
    downloads: Option<PathBuf>,
    /// Registers apppass to start at login: the autostart plugin in the app (set once it is
    /// built), a recorder in tests; unset, "start at login" cannot be registered.
    login_item: OnceLock<Arc<dyn LoginItem>>,
}

impl AppState {
    pub fn new(
        profile: Result<Profile, Failure>,
        stores: Box<dyn StoreOpener>,
        clipboard: Arc<dyn Clipboard>,
    ) -> AppState {
        AppState {
            shared: Arc::new(Shared {
                profile,
                stores,
                vault: Mutex::new(None),
            }),
            bridge: BridgeSlot::default(),
            copies: CopyTimer::new(clipboard.clone()),
            clipboard,
            signin: Mutex::new(None),
            task: Arc::default(),
            browser: None,
            policy_path: Policy::system_path(),
            graph_url: graph_url_from_env(),
            pending: PendingSlot::default(),
            downloads: None,
            login_item: OnceLock::new(),
        }
    }

    /// Reads what the window's first screen shows ([`Preload`]) on a thread of its own, while the
    /// window and its page start; the answer arrives on the returned channel (which is closed
    /// without one if the thread cannot start).
    pub fn preload(&self, limit: u32) -> Receiver<Preload> {
        let (tx, rx) = mpsc::sync_channel(1);
        let shared = self.shared.clone();
        let _ = std::thread::Builder::new()
            .name("preload".into())
            .spawn(move || {
                let _ = tx.send(shared.preload(limit));
            });
        rx
    }

    /// Registers "start at login" with `item` (tests: a recorder instead of the plugin).
    pub fn with_login_item(self, item: Arc<dyn LoginItem>) -> AppState {
        self.set_login_item(item);
        self
    }

    /// Sets the login item once (the app, after the autostart plugin is set up); later calls
    /// keep the first.
    pub fn set_login_item(&self, item: Arc<dyn LoginItem>) {
        let _ = self.login_item.set(item);
    }

    pub(crate) fn login_item(&self) -> Option<&Arc<dyn LoginItem>> {
        self.login_item.get()
    }

    /// Writes exported files to `dir` instead of the user's Downloads folder (tests).
    pub fn with_downloads(mut self, dir: PathBuf) -> AppState {
        self.downloads = Some(dir);
        self
    }

    /// Keeps a pasted app password for `lifetime` instead of the usual 10 minutes (tests).
    pub fn with_paste_lifetime(mut self, lifetime: std::time::Duration) -> AppState {
        self.pending = PendingSlot::with_lifetime(lifetime);
        self
    }

    /// The folder set by [`AppState::with_downloads`], if any.
    pub(crate) fn downloads_override(&self) -> Option<&std::path::Path> {
        self.downloads.as_deref()
    }

    /// Opens sign-in addresses with `browser` instead of the system browser (tests).
    pub fn with_browser(mut self, browser: Arc<dyn UrlOpener>) -> AppState {
        self.browser = Some(browser);
        self
    }

    /// Reads the administrator's policy from `path` instead of the platform's location (tests).
    pub fn with_policy_path(mut self, path: PathBuf) -> AppState {
        self.policy_path = path;
        self
    }

    /// Talks to Microsoft Graph at `url` (a test emulator) instead of the cloud's Graph.
    pub fn with_graph_url(mut self, url: impl Into<String>) -> AppState {
        self.graph_url = Some(url.into());
        self
    }

    pub(crate) fn graph_url(&self) -> Option<&str> {
        self.graph_url.as_deref()
    }

    pub fn profile(&self) -> Result<&Profile, Failure> {
        self.shared.profile()
    }

    pub fn settings(&self) -> Result<Settings, Failure> {
        Settings::load(self.profile()?)
    }

    /// The administrator's policy, when its file exists.
    pub fn policy(&self) -> Result<Option<Policy>, Failure> {
        Policy::load_from(&self.policy_path)
    }

    /// The work-account sign-in of this profile, storing its tokens in the vault's store.
    pub fn signin(&self) -> Result<Arc<SignIn>, Failure> {
        Ok(self.signin_with_deps()?.0)
    }

    /// The sign-in and its HTTP client, clock and sleep (Graph uses the same).
    pub fn signin_with_deps(&self) -> Result<(Arc<SignIn>, Deps), Failure> {
        let mut slot = self.signin.lock().map_err(|_| {
            Failure::new(
                Code::Internal,
                "An earlier sign-in failed badly. Restart apppass.",
            )
        })?;
        if let Some(found) = slot.as_ref() {
            return Ok(found.clone());
        }
        let deps = Deps::system()?;
        let signin = Arc::new(SignIn::new(
            self.profile()?.clone(),
            Arc::new(VaultStore(self.shared.clone())),
            deps.clone(),
        ));
        *slot = Some((signin.clone(), deps.clone()));
        Ok((signin, deps))
    }

    /// The bridge's client book: the app's own vault, whichever store it has open.
    pub(crate) fn client_book(&self) -> Arc<dyn ClientBook> {
        Arc::new(AppBook(self.shared.clone()))
    }

    /// The vault's store as a shared secret store (the bridge's TLS key goes where the
    /// passwords go).
    pub(crate) fn secret_store(&self) -> Arc<dyn SecretStore> {
        Arc::new(VaultStore(self.shared.clone()))
    }

    fn slot(&self) -> Result<MutexGuard<'_, Option<Vault>>, Failure> {
        self.shared.slot()
    }

    fn open(&self, passphrase: Option<&Secret>) -> Result<Vault, Failure> {
        self.shared.open(passphrase)
    }

    /// Runs `f` on the vault, opening it first if needed. A failure to open (no keyring, a locked
    /// encrypted file) is returned as is and tried again on the next call.
    pub fn with_vault<T>(
        &self,
        f: impl FnOnce(&Vault) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        self.shared.with_vault(f)
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

/// `APPPASS_GRAPH_URL`, for the end-to-end tests' Graph emulator. Honoured only on this computer
/// (http://127.0.0.1 or http://localhost), so that no environment can send the access token
/// elsewhere.
fn graph_url_from_env() -> Option<String> {
    let url = std::env::var("APPPASS_GRAPH_URL").ok()?;
    let local = [
        "http://127.0.0.1:",
        "http://127.0.0.1/",
        "http://localhost:",
        "http://localhost/",
    ];
    local.iter().any(|p| url.starts_with(p)).then_some(url)
}
