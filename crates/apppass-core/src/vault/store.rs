//! Where secrets live: the OS keyring, or an encrypted file. Only the vault talks to a store.
//!
//! Every item is addressed by a [`SecretKey`]: the profile's namespace and an id, so that
//! `secret-tool search service apppass` lists apppass's items, with the entry's name in the label,
//! and profiles (`APPPASS_HOME`) never collide.

use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};

use crate::error::{Code, Failure};
use crate::secret::Secret;
use crate::settings::StoreKind;

/// The `service` attribute of every keyring item apppass writes.
pub const SERVICE: &str = "apppass";

/// Addresses one secret: `<namespace>/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretKey {
    pub namespace: String,
    pub id: String,
}

impl SecretKey {
    pub fn user(&self) -> String {
        format!("{}/{}", self.namespace, self.id)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no OS keyring is available: {0}")]
    Unavailable(String),
    #[error("the OS keyring is locked or refused access: {0}")]
    Locked(String),
    #[error("the store's data cannot be read: {0}")]
    Corrupt(String),
    #[error("the encrypted file store needs its passphrase")]
    PassphraseRequired,
    #[error("the passphrase does not open the encrypted file store")]
    WrongPassphrase,
    #[error("the secret is too long for this store")]
    TooLong,
    #[error("{0}")]
    Io(Failure),
}

impl StoreError {
    pub fn to_failure(&self) -> Failure {
        match self {
            StoreError::Unavailable(detail) => Failure::new(
                Code::KeyringUnavailable,
                format!(
                    "No OS keyring could be reached ({detail}). Start your desktop's keyring (GNOME Keyring or KWallet), or switch to the encrypted file store: in the app's Settings, under Where passwords are kept; on the command line with `apppass store use-file`."
                ),
            ),
            StoreError::Locked(_) => Failure::new(
                Code::KeyringLocked,
                "The OS keyring is locked. Unlock it (log in to your desktop session or open your keyring app), then try again.",
            ),
            StoreError::Corrupt(detail) => Failure::new(
                Code::DataCorrupt,
                format!("The secret store cannot be read ({detail}). Run `apppass doctor` for details."),
            ),
            StoreError::PassphraseRequired => Failure::new(
                Code::PassphraseRequired,
                "The encrypted file store is locked. Enter its passphrase (the CLI asks on a terminal, or reads it from the file descriptor in APPPASS_PASSPHRASE_FD).",
            ),
            StoreError::WrongPassphrase => Failure::new(
                Code::WrongPassphrase,
                "That passphrase does not open the encrypted file store. Try again; the store is unchanged.",
            ),
            StoreError::TooLong => Failure::new(
                Code::SecretTooLarge,
                "This secret is longer than the OS keyring accepts. App passwords are short: check that you copied only the password.",
            ),
            StoreError::Io(f) => f.clone(),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A place for secrets. Implementations must make `put` replace any existing value atomically.
pub trait SecretStore: Send + Sync {
    fn kind(&self) -> StoreKind;
    /// A short description for `doctor` ("Secret Service (gnome-keyring)", a file path, …).
    fn describe(&self) -> String;
    /// Stores or replaces a secret. `label` is shown by the OS keyring's UI.
    fn put(&self, key: &SecretKey, label: &str, secret: &Secret) -> StoreResult<()>;
    fn get(&self, key: &SecretKey) -> StoreResult<Option<Secret>>;
    /// Deletes a secret; `Ok(false)` when there was none.
    fn delete(&self, key: &SecretKey) -> StoreResult<bool>;
    /// Changes the label shown in the keyring's UI (after a rename). Best effort.
    fn relabel(&self, key: &SecretKey, label: &str) -> StoreResult<()>;
    /// The ids stored for a namespace, when the store can list them (for finding orphans).
    fn ids(&self, namespace: &str) -> StoreResult<Option<Vec<String>>>;
    /// Reaches the store once, so failures show up before any change is made.
    fn probe(&self, namespace: &str) -> StoreResult<()> {
        self.get(&SecretKey {
            namespace: namespace.to_string(),
            id: "probe".to_string(),
        })
        .map(|_| ())
    }
}

/// One store shared by several owners (the vault, the sign-in and the bridge of one process).
impl<T: SecretStore + ?Sized> SecretStore for std::sync::Arc<T> {
    fn kind(&self) -> StoreKind {
        (**self).kind()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn put(&self, key: &SecretKey, label: &str, secret: &Secret) -> StoreResult<()> {
        (**self).put(key, label, secret)
    }
    fn get(&self, key: &SecretKey) -> StoreResult<Option<Secret>> {
        (**self).get(key)
    }
    fn delete(&self, key: &SecretKey) -> StoreResult<bool> {
        (**self).delete(key)
    }
    fn relabel(&self, key: &SecretKey, label: &str) -> StoreResult<()> {
        (**self).relabel(key, label)
    }
    fn ids(&self, namespace: &str) -> StoreResult<Option<Vec<String>>> {
        (**self).ids(namespace)
    }
    fn probe(&self, namespace: &str) -> StoreResult<()> {
        (**self).probe(namespace)
    }
}

/// The regular expression that finds apppass's items among Credential Manager's target names
/// (`<user>.<service>`, windows-native-keyring-store's default store); see `ids`.
#[cfg_attr(not(target_os = "windows"), allow(dead_code))]
const WINDOWS_SEARCH_PATTERN: &str = r"\.apppass$";

/// The OS keyring through `keyring-core`, with the platform's store chosen explicitly.
///
/// The connection is made again when the keyring could not be reached: on Linux the Secret
/// Service session belongs to the daemon that opened it, so after gnome-keyring restarts (a crash,
/// a new login) every call on the old connection fails ("The session does not exist"). A
/// long-running process (the bridge, the app) then reconnects on its next call instead of failing
/// until it is restarted.
pub struct KeyringStore {
    store: std::sync::Mutex<Arc<CredentialStore>>,
}

impl KeyringStore {
    /// Connects to the platform keyring: Secret Service on Linux and the BSDs, Keychain on macOS,
    /// Credential Manager on Windows. Never falls back to an in-memory store.
    pub fn open() -> StoreResult<KeyringStore> {
        Ok(KeyringStore {
            store: std::sync::Mutex::new(KeyringStore::connect()?),
        })
    }

    fn connect() -> StoreResult<Arc<CredentialStore>> {
        #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
        let store: Arc<CredentialStore> =
            dbus_secret_service_keyring_store::Store::new().map_err(map_err)?;
        #[cfg(target_os = "macos")]
        let store: Arc<CredentialStore> =
            apple_native_keyring_store::keychain::Store::new().map_err(map_err)?;
        #[cfg(target_os = "windows")]
        let store: Arc<CredentialStore> =
            windows_native_keyring_store::Store::new().map_err(map_err)?;
        Ok(store)
    }

    fn current(&self) -> Arc<CredentialStore> {
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Runs `op` on the store; when the keyring could not be reached, connects again and runs it
    /// once more (every operation here is idempotent: put replaces, delete of nothing is `false`).
    fn with<T>(&self, op: impl Fn(&Arc<CredentialStore>) -> StoreResult<T>) -> StoreResult<T> {
        let store = self.current();
        match op(&store) {
            Err(StoreError::Unavailable(_)) => {
                let fresh = KeyringStore::connect()?;
                *self
                    .store
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh.clone();
                op(&fresh)
            }
            other => other,
        }
    }

    /// The entry for `key`; with a `label`, where the store keeps one (the Secret Service's item
    /// label). The Keychain and Credential Manager stores accept only their own modifiers
    /// (`keychain`; `target`, `persistence`) and refuse any other key as unknown, so the label is
    /// given to the Secret Service alone: passing it everywhere made every store on macOS and
    /// Windows fail.
    fn entry(
        store: &Arc<CredentialStore>,
        key: &SecretKey,
        label: Option<&str>,
    ) -> StoreResult<Entry> {
        let user = key.user();
        #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
        if let Some(label) = label {
            let mods = HashMap::from([("label", label)]);
            return Entry::new_in_store_with_modifiers(store, SERVICE, &user, &mods)
                .map_err(map_err);
        }
        #[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")))]
        let _ = label;
        Entry::new_in_store(store, SERVICE, &user).map_err(map_err)
    }
}

/// The keyring-core error, as a store error. The platform's detail is kept (it never holds a
/// secret: keyring-core's errors carry names and codes), except for `BadEncoding`, whose bytes are.
fn map_err(e: keyring_core::Error) -> StoreError {
    use keyring_core::Error as E;
    match e {
        E::NoStorageAccess(inner) => StoreError::Locked(inner.to_string()),
        E::PlatformFailure(inner) => {
            let text = inner.to_string();
            // D-Bus without a Secret Service answers "The name org.freedesktop.secrets was not
            // provided by any .service files"; no session bus at all fails to connect.
            StoreError::Unavailable(text)
        }
        E::NoDefaultStore => StoreError::Unavailable("no credential store".into()),
        E::BadEncoding(_) | E::BadDataFormat(_, _) => {
            StoreError::Corrupt("a stored value is not valid text".into())
        }
        E::TooLong(_, _) => StoreError::TooLong,
        other => StoreError::Unavailable(other.to_string()),
    }
}

impl SecretStore for KeyringStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Keyring
    }

    /// A locked Secret Service answers a read of a missing item with "no entry", so reading is no
    /// test of the lock: ask the default collection whether it is locked.
    #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
    fn probe(&self, _namespace: &str) -> StoreResult<()> {
        use dbus_secret_service::{EncryptionType, Error as SsError, SecretService};
        let ss = SecretService::connect(EncryptionType::Plain)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let collection = ss.get_default_collection().map_err(|e| match e {
            SsError::Locked | SsError::Prompt => StoreError::Locked(e.to_string()),
            SsError::NoResult => {
                StoreError::Unavailable("the Secret Service has no default collection".into())
            }
            other => StoreError::Unavailable(other.to_string()),
        })?;
        match collection.is_locked() {
            Ok(false) => Ok(()),
            Ok(true) => Err(StoreError::Locked(
                "the default collection is locked".into(),
            )),
            Err(e) => Err(StoreError::Unavailable(e.to_string())),
        }
    }

    fn describe(&self) -> String {
        #[cfg(target_os = "macos")]
        return "macOS Keychain".to_string();
        #[cfg(target_os = "windows")]
        return "Windows Credential Manager".to_string();
        #[cfg(not(any(target_os = "macos", target_os = "windows")))]
        return "Secret Service (D-Bus org.freedesktop.secrets)".to_string();
    }

    fn put(&self, key: &SecretKey, label: &str, secret: &Secret) -> StoreResult<()> {
        // Windows' CredWrite takes at most 2,560 bytes; refuse early and the same way everywhere.
        if secret.len() > 2_560 {
            return Err(StoreError::TooLong);
        }
        self.with(|store| {
            KeyringStore::entry(store, key, Some(label))?
                .set_password(secret.expose())
                .map_err(map_err)
        })
    }

    fn get(&self, key: &SecretKey) -> StoreResult<Option<Secret>> {
        self.with(
            |store| match KeyringStore::entry(store, key, None)?.get_password() {
                Ok(value) => Ok(Some(Secret::new(value))),
                Err(keyring_core::Error::NoEntry) => Ok(None),
                Err(e) => Err(map_err(e)),
            },
        )
    }

    fn delete(&self, key: &SecretKey) -> StoreResult<bool> {
        self.with(
            |store| match KeyringStore::entry(store, key, None)?.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring_core::Error::NoEntry) => Ok(false),
                Err(e) => Err(map_err(e)),
            },
        )
    }

    fn relabel(&self, key: &SecretKey, label: &str) -> StoreResult<()> {
        #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
        return self.with(|store| {
            let entry = KeyringStore::entry(store, key, None)?;
            if let Some(cred) = entry
                .as_any()
                .downcast_ref::<dbus_secret_service_keyring_store::cred::Specifier>()
            {
                return match cred.set_label(label) {
                    Err(keyring_core::Error::NoEntry) => Ok(()),
                    other => other.map_err(map_err),
                };
            }
            Ok(())
        });
        #[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")))]
        {
            let _ = (key, label);
            Ok(())
        }
    }

    fn ids(&self, namespace: &str) -> StoreResult<Option<Vec<String>>> {
        // Each store takes its own search keys: the Secret Service and the Keychain a `service`,
        // Credential Manager only a regular expression over target names, which
        // windows-native-keyring-store's default store writes as `<user>.<service>` (a `service`
        // key there is refused as unknown, which made every doctor run on Windows fail).
        #[cfg(target_os = "windows")]
        let spec = HashMap::from([("pattern", WINDOWS_SEARCH_PATTERN)]);
        #[cfg(not(target_os = "windows"))]
        let spec = HashMap::from([("service", SERVICE)]);
        let found = match self.with(|store| match Entry::search_in_store(store, &spec) {
            Ok(found) => Ok(Some(found)),
            Err(keyring_core::Error::NotSupportedByStore(_)) => Ok(None),
            Err(e) => Err(map_err(e)),
        })? {
            Some(found) => found,
            None => return Ok(None),
        };
        let prefix = format!("{namespace}/");
        Ok(Some(
            found
                .iter()
                .filter_map(|e| e.get_specifiers())
                .filter(|(service, _)| service == SERVICE)
                .filter_map(|(_, user)| user.strip_prefix(&prefix).map(str::to_string))
                .collect(),
        ))
    }
}

/// An in-memory store for tests. Never selected by any shipped code path.
#[cfg(any(test, feature = "test-store"))]
#[derive(Default)]
pub struct MemoryStore {
    items: std::sync::Mutex<HashMap<String, (String, Secret)>>,
    /// When set, every call fails as if the keyring were locked.
    pub locked: std::sync::atomic::AtomicBool,
}

#[cfg(any(test, feature = "test-store"))]
impl MemoryStore {
    pub fn label(&self, key: &SecretKey) -> Option<String> {
        self.items
            .lock()
            .unwrap()
            .get(&key.user())
            .map(|(l, _)| l.clone())
    }
    fn check(&self) -> StoreResult<()> {
        if self.locked.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Locked("test".into()));
        }
        Ok(())
    }
}

#[cfg(any(test, feature = "test-store"))]
impl SecretStore for MemoryStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Keyring
    }
    fn describe(&self) -> String {
        "memory (tests only)".into()
    }
    fn put(&self, key: &SecretKey, label: &str, secret: &Secret) -> StoreResult<()> {
        self.check()?;
        self.items
            .lock()
            .unwrap()
            .insert(key.user(), (label.to_string(), secret.clone()));
        Ok(())
    }
    fn get(&self, key: &SecretKey) -> StoreResult<Option<Secret>> {
        self.check()?;
        Ok(self
            .items
            .lock()
            .unwrap()
            .get(&key.user())
            .map(|(_, s)| s.clone()))
    }
    fn delete(&self, key: &SecretKey) -> StoreResult<bool> {
        self.check()?;
        Ok(self.items.lock().unwrap().remove(&key.user()).is_some())
    }
    fn relabel(&self, key: &SecretKey, label: &str) -> StoreResult<()> {
        self.check()?;
        if let Some(item) = self.items.lock().unwrap().get_mut(&key.user()) {
            item.0 = label.to_string();
        }
        Ok(())
    }
    fn ids(&self, namespace: &str) -> StoreResult<Option<Vec<String>>> {
        self.check()?;
        let prefix = format!("{namespace}/");
        Ok(Some(
            self.items
                .lock()
                .unwrap()
                .keys()
                .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod platform_tests {
    use super::*;

    /// Credential Manager's target names are `<user>.<service>`: the search must end in the service.
    #[test]
    fn windows_search_pattern_matches_the_service_suffix() {
        assert_eq!(WINDOWS_SEARCH_PATTERN, format!(r"\.{SERVICE}$"));
    }
}

#[cfg(test)]
mod failure_tests {
    use super::*;

    /// The AppImage carries the app but not the CLI: a missing keyring names the app's way to the
    /// encrypted file store as well as the command.
    #[test]
    fn a_missing_keyring_names_the_way_in_the_app_and_on_the_command_line() {
        let failure = StoreError::Unavailable("no Secret Service".into()).to_failure();
        assert_eq!(failure.code, Code::KeyringUnavailable);
        assert!(
            failure.message.contains("(no Secret Service)"),
            "{}",
            failure.message
        );
        assert!(
            failure
                .message
                .contains("in the app's Settings, under Where passwords are kept"),
            "{}",
            failure.message
        );
        assert!(
            failure.message.contains("`apppass store use-file`"),
            "{}",
            failure.message
        );
    }
}
