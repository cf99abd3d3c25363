//! The vault: entry metadata in SQLite, secrets in a [`SecretStore`], an audit line per action.
//!
//! ## Write order (crash safety)
//! Every change that touches both the database and the store is done under the profile's lock file
//! (`vault.lock`, an exclusive OS file lock that the OS releases if the process dies):
//! - **add**: insert the row as `pending` (committed) → write the secret → mark the row `active`.
//! - **remove**: mark the row `removing` (committed) → delete the secret → delete the row.
//! - **rotate**: record the new password's fingerprint and the time in `rotations` (committed) →
//!   replace the secret → move both into the row (see `rotation.rs`).
//!
//! An entry counts as committed once `add` has returned. Whoever next takes the lock and finds a
//! `pending` row rolls it back (deletes the secret if written, then the row); a `removing` row is
//! finished; a rotation row is finished when the store holds the new password, else dropped.
//! Because the lock is held for the whole sequence, a row found unfinished under the lock is
//! always one whose writer died. `doctor` also counts store items of this profile that no row
//! knows (orphans) and keeps them; `adopt_orphans` and `remove_orphans` act on them.

pub mod db;
pub mod file_store;
mod health;
mod recover;
mod rotation;
mod search;
pub mod store;

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use ts_rs::TS;

use crate::audit::{Action, AuditLog};
use crate::catalog;
use crate::clock::Clock;
use crate::error::{Code, Failure};
use crate::fsutil::ensure_private_dir;
use crate::profile::Profile;
use crate::secret::Secret;
use crate::wire::SearchPage;

use db::Db;
pub use health::{HealthReport, StaleEntry};
use recover::is_orphan;
pub use recover::{restore_last_good, Restored};
use search::SearchCache;
pub use search::SearchIndex;
use store::{SecretKey, SecretStore};

/// The largest secret accepted: app passwords are 16-72 characters; anything much larger is a
/// mistake (a whole clipboard, a file), refused before it reaches the keyring.
pub const MAX_SECRET_BYTES: usize = 1024;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_FIELD_CHARS: usize = 320;

const VAULT_KEY_ID: &str = "vault-key";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, Default)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum EntryKind {
    /// An app password issued by the provider.
    #[default]
    AppPassword,
    /// A local password apppass generated for its bridge.
    Bridge,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::AppPassword => "app_password",
            EntryKind::Bridge => "bridge",
        }
    }
    pub fn parse(s: &str) -> Option<EntryKind> {
        match s {
            "app_password" => Some(EntryKind::AppPassword),
            "bridge" => Some(EntryKind::Bridge),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Security {
    /// TLS from the first byte (IMAPS 993, SMTPS 465, POP3S 995).
    Tls,
    /// Plain connection upgraded with STARTTLS before any password is sent.
    Starttls,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub security: Security,
}

/// Server settings for a custom provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, Default)]
#[ts(export)]
pub struct ServerSettings {
    pub imap: Option<Server>,
    pub smtp: Option<Server>,
    pub pop: Option<Server>,
}

/// An entry's metadata. Never holds the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Entry {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub account: String,
    pub client: String,
    pub kind: EntryKind,
    /// Unix seconds.
    #[ts(type = "number")]
    pub created: i64,
    #[ts(type = "number | null")]
    pub rotated: Option<i64>,
    #[ts(type = "number | null")]
    pub last_used: Option<i64>,
    pub notes: String,
    pub servers: Option<ServerSettings>,
}

impl Entry {
    /// When the secret was last set: rotation, else creation.
    pub fn secret_set_at(&self) -> i64 {
        self.rotated.unwrap_or(self.created)
    }
}

/// What a new entry is, apart from its secret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[ts(export)]
pub struct NewEntry {
    pub name: String,
    pub provider: String,
    pub account: String,
    pub client: String,
    #[serde(default)]
    pub kind: EntryKind,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub servers: Option<ServerSettings>,
}

/// Why a secret is read; decides the audit action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Printed by `apppass get` or shown by reveal.
    Reveal,
    /// Put on the clipboard.
    Copy,
    /// Used for a connection test. Only a failure to read is audited here: the caller records
    /// the test's outcome with [`Vault::record`].
    Test,
}

/// What `doctor` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct DoctorReport {
    pub store: String,
    /// `None` when the store answered; otherwise the failure.
    pub store_problem: Option<Failure>,
    pub data_dir: String,
    #[ts(type = "number")]
    pub schema_version: i64,
    #[ts(type = "number")]
    pub entries: u64,
    /// Unfinished adds rolled back and removals finished (this run, including at open).
    #[ts(type = "number")]
    pub unfinished_repaired: u64,
    /// Passwords in the store that no entry knows (left by lost or restored data). `doctor` keeps
    /// them: `adopt_orphans` makes entries of them, `remove_orphans` deletes them.
    #[ts(type = "number")]
    pub orphans_kept: u64,
    /// Of those, deleted by `remove_orphans` (this run).
    #[ts(type = "number")]
    pub orphans_removed: u64,
    /// Entries made of them by `adopt_orphans` (this run), by name.
    pub orphans_adopted: Vec<String>,
    /// Entries whose secret is missing from the store.
    pub missing_secrets: Vec<String>,
}

pub struct Vault {
    profile: Profile,
    db: Db,
    store: Box<dyn SecretStore>,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
    repaired_at_open: u64,
    /// The last audit line that could not be written (a full disk), for the caller to mention.
    audit_problem: std::cell::RefCell<Option<Failure>>,
    /// The entries and their search index as of a database version ([`Vault::search_page`]).
    search_cache: std::cell::RefCell<Option<SearchCache>>,
}

/// Holds the profile's lock file; released on drop (or by the OS if the process dies). Before
/// releasing it, if the database changed meanwhile, refreshes the last good copy (best effort: a
/// full disk keeps the previous copy).
struct WriteLock<'v> {
    file: std::fs::File,
    vault: &'v Vault,
    changes: u64,
}

impl Drop for WriteLock<'_> {
    fn drop(&mut self) {
        if self.vault.db.conn().total_changes() != self.changes {
            let _ = self.vault.save_last_good();
        }
        let _ = self.file.unlock();
    }
}

impl Vault {
    /// Opens (creating if needed) the profile's vault, and repairs what an interrupted process
    /// left unfinished.
    pub fn open(
        profile: Profile,
        store: Box<dyn SecretStore>,
        clock: Arc<dyn Clock>,
        via: &'static str,
    ) -> Result<Vault, Failure> {
        ensure_private_dir(&profile.data_dir)?;
        let db = Db::open(&profile.database_path())?;
        let audit = AuditLog::new(profile.audit_path(), via);
        let mut vault = Vault {
            profile,
            db,
            store,
            clock,
            audit,
            repaired_at_open: 0,
            audit_problem: std::cell::RefCell::new(None),
            search_cache: std::cell::RefCell::new(None),
        };
        if vault.db.read_only().is_some() {
            // A full or read-only disk: reading works, repairs wait until it is writable.
            return Ok(vault);
        }
        if !vault.unfinished()?.is_empty() {
            // Best effort: a locked keyring must not stop `list`; the rows wait for next time.
            if let Ok(n) = vault.repair() {
                vault.repaired_at_open = n;
            }
        }
        if !vault.profile.last_good_path().exists() {
            // A vault from before the copy existed (or whose copy was deleted) gets one now.
            let _ = vault.save_last_good();
        }
        Ok(vault)
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn store(&self) -> &dyn SecretStore {
        self.store.as_ref()
    }

    pub fn audit_log(&self) -> &AuditLog {
        &self.audit
    }

    fn key(&self, id: &str) -> SecretKey {
        SecretKey {
            namespace: self.profile.namespace.clone(),
            id: id.to_string(),
        }
    }

    fn sql(&self, e: rusqlite::Error) -> Failure {
        self.db.failure(&self.profile.database_path(), e)
    }

    /// Saves the last good copy of the database (see `recover.rs`).
    fn save_last_good(&self) -> Result<(), Failure> {
        self.db.save_copy(
            &self.profile.database_path(),
            &self.profile.last_good_path(),
        )
    }

    fn lock(&self) -> Result<WriteLock<'_>, Failure> {
        if let Some(problem) = self.db.read_only() {
            // A full or read-only disk: say so, rather than what the lock file's open says.
            return Err(problem.clone());
        }
        Ok(WriteLock {
            file: recover::lock_file(&self.profile)?,
            vault: self,
            changes: self.db.conn().total_changes(),
        })
    }

    /// Rows an interrupted process left: (id, `pending` | `removing` | `rotating`).
    fn unfinished(&self) -> Result<Vec<(String, String)>, Failure> {
        let mut rows = self.db.unfinished().map_err(|e| self.sql(e))?;
        for (id, _) in rotation::unfinished(&self.db).map_err(|e| self.sql(e))? {
            rows.push((id, "rotating".to_string()));
        }
        Ok(rows)
    }

    fn audit(&self, action: Action, entry: &str, id: &str, outcome: Result<(), Code>) {
        // The audit line follows the change; failing to write it must not undo a committed change
        // (nor stop a mail client's `get`): it is kept for the caller to mention
        // ([`Vault::audit_problem`]).
        if let Err(e) = self
            .audit
            .record(self.clock.now(), action, entry, id, outcome)
        {
            *self.audit_problem.borrow_mut() = Some(e);
        }
    }

    /// Why the last audit line could not be written (e.g. a full disk), if one could not.
    pub fn audit_problem(&self) -> Option<Failure> {
        self.audit_problem.borrow().clone()
    }

    /// Rolls back unfinished adds, finishes unfinished removals, and finishes or drops unfinished
    /// rotations by what the store holds. Returns how many rows it fixed.
    pub fn repair(&self) -> Result<u64, Failure> {
        let _lock = self.lock()?;
        let mut fixed = 0;
        // A rotation killed between the store and the database: the store decides.
        for (id, new_fingerprint) in rotation::unfinished(&self.db).map_err(|e| self.sql(e))? {
            let stored = self.store.get(&self.key(&id)).map_err(|e| e.to_failure())?;
            let reached_store = match stored {
                Some(secret) => self.fingerprint(&secret)? == new_fingerprint,
                None => false,
            };
            if reached_store {
                rotation::finish(&self.db, &id).map_err(|e| self.sql(e))?;
            } else {
                rotation::abandon(&self.db, &id).map_err(|e| self.sql(e))?;
            }
            self.audit(Action::Repaired, "", &id, Ok(()));
            fixed += 1;
        }
        for (id, _state) in self.db.unfinished().map_err(|e| self.sql(e))? {
            // Both states end the same way: no secret, no row.
            self.store
                .delete(&self.key(&id))
                .map_err(|e| e.to_failure())?;
            self.db.delete_row(&id).map_err(|e| self.sql(e))?;
            self.audit(Action::Repaired, "", &id, Ok(()));
            fixed += 1;
        }
        Ok(fixed)
    }

    fn vault_key(&self) -> Result<Secret, Failure> {
        let key = self.key(VAULT_KEY_ID);
        if let Some(k) = self.store.get(&key).map_err(|e| e.to_failure())? {
            return Ok(k);
        }
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut())
            .map_err(|e| Failure::new(Code::Internal, format!("No OS randomness: {e}")))?;
        let k = Secret::new(hex::encode(bytes.as_ref()));
        self.store
            .put(&key, "apppass: vault key (duplicate detection)", &k)
            .map_err(|e| e.to_failure())?;
        Ok(k)
    }

    fn fingerprint(&self, secret: &Secret) -> Result<String, Failure> {
        let key = self.vault_key()?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(secret.expose().as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    /// Adds an entry. The secret is trimmed and tidied for the provider's format first.
    pub fn add(&self, new: NewEntry, raw: &Secret) -> Result<Entry, Failure> {
        let name = validate_name(&new.name)?;
        let provider = catalog::provider(new.provider.trim())?;
        let account = validate_field("account", &new.account, false)?;
        let client = validate_field("client", &new.client, false)?;
        let notes = validate_notes(&new.notes)?;
        if let Some(servers) = &new.servers {
            validate_servers(servers)?;
        }
        let secret = match new.kind {
            EntryKind::AppPassword => normalise_for(provider, raw)?,
            EntryKind::Bridge => bridge_secret(raw)?,
        };
        if new.kind == EntryKind::Bridge {
            validate_bridge_username(&account)?;
        }

        let id = new_id()?;
        let label = item_label(&name);
        let entry = Entry {
            id: id.clone(),
            name: name.clone(),
            provider: provider.id.clone(),
            account,
            client,
            kind: new.kind,
            created: self.clock.now(),
            rotated: None,
            last_used: None,
            notes,
            servers: new.servers,
        };

        let _lock = self.lock()?;
        // Reach the store before changing anything, so a locked keyring changes nothing.
        self.store
            .probe(&self.profile.namespace)
            .map_err(|e| e.to_failure())?;
        if self.db.name_in_use(&name).map_err(|e| self.sql(e))? {
            return Err(name_taken(&name));
        }
        let fingerprint = self.fingerprint(&secret)?;
        self.db
            .insert(&entry, Some(&fingerprint), "pending")
            .map_err(|e| match &e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    name_taken(&name)
                }
                _ => self.sql(e),
            })?;
        if let Err(e) = self.store.put(&self.key(&id), &label, &secret) {
            let _ = self.db.delete_row(&id);
            let failure = e.to_failure();
            self.audit(Action::Added, &name, &id, Err(failure.code));
            return Err(failure);
        }
        if let Err(e) = self.db.set_state(&id, "active") {
            let _ = self.store.delete(&self.key(&id));
            let _ = self.db.delete_row(&id);
            return Err(self.sql(e));
        }
        self.audit(Action::Added, &name, &id, Ok(()));
        Ok(entry)
    }

    /// The entry with this name (case-insensitive).
    pub fn entry(&self, name: &str) -> Result<Entry, Failure> {
        self.db
            .by_name(name)
            .map_err(|e| self.sql(e))?
            .ok_or_else(|| not_found(name))
    }

    /// Reads an entry's secret, records the use (last used + audit).
    pub fn secret(&self, name: &str, access: Access) -> Result<(Entry, Secret), Failure> {
        let entry = self.entry(name)?;
        let action = match access {
            Access::Reveal => Action::Revealed,
            Access::Copy => Action::Copied,
            Access::Test => Action::Tested,
        };
        let secret = match self.store.get(&self.key(&entry.id)) {
            Ok(Some(s)) => s,
            Ok(None) => {
                self.audit(action, &entry.name, &entry.id, Err(Code::SecretMissing));
                return Err(Failure::new(
                    Code::SecretMissing,
                    format!(
                        "The password for {:?} is missing from the {}. Add it again with `apppass rotate {:?}`, or run `apppass doctor`.",
                        entry.name,
                        self.store.describe(),
                        entry.name
                    ),
                ));
            }
            Err(e) => {
                let failure = e.to_failure();
                self.audit(action, &entry.name, &entry.id, Err(failure.code));
                return Err(failure);
            }
        };
        // Recording the use is best effort: a read-only disk must not stop a mail client. A
        // bridge client's last use is its last sign-in through the bridge (`verify_bridge`), not
        // the user copying or revealing its password.
        if entry.kind != EntryKind::Bridge {
            let _ = self.db.touch(&entry.id, self.clock.now());
        }
        // A connection test records its outcome itself (`record`) once it knows it.
        if access != Access::Test {
            self.audit(action, &entry.name, &entry.id, Ok(()));
        }
        Ok((entry, secret))
    }

    /// All entries, by name.
    pub fn list(&self) -> Result<Vec<Entry>, Failure> {
        self.db.active().map_err(|e| self.sql(e))
    }

    /// Entries matching `query` (see [`SearchIndex`]), best first: every match of
    /// [`Vault::search_page`].
    pub fn search(&self, query: &str) -> Result<Vec<Entry>, Failure> {
        Ok(self.search_page(query, usize::MAX)?.entries)
    }

    /// The first `limit` entries matching `query` (all entries, by name, when it is blank), best
    /// first, and how many match in all. The entries and their index are kept between calls and
    /// read again only when the database changed (here or in another process), so each keystroke
    /// of a search costs a scan of the index, not a read of every row.
    pub fn search_page(&self, query: &str, limit: usize) -> Result<SearchPage, Failure> {
        let version = self.db.data_generation().map_err(|e| self.sql(e))?;
        let mut cache = self.search_cache.borrow_mut();
        let mut current = match cache.take() {
            Some(c) if c.version == version => c,
            _ => SearchCache::new(version, self.list()?),
        };
        let page = current.page(query, limit);
        *cache = Some(current);
        Ok(page)
    }

    pub fn rename(&self, old: &str, new: &str) -> Result<Entry, Failure> {
        let new_name = validate_name(new)?;
        let _lock = self.lock()?;
        let entry = self.entry(old)?;
        if db::name_key(&new_name) != db::name_key(&entry.name)
            && self.db.name_in_use(&new_name).map_err(|e| self.sql(e))?
        {
            return Err(name_taken(&new_name));
        }
        // The keyring's label follows the name, and goes first: a locked keyring refuses the
        // rename before anything changes. Killed in between, only the label is new.
        let key = self.key(&entry.id);
        self.store
            .probe(&self.profile.namespace)
            .and_then(|()| self.store.relabel(&key, &item_label(&new_name)))
            .map_err(|e| e.to_failure())?;
        if let Err(e) = self.db.rename(&entry.id, &new_name) {
            let _ = self.store.relabel(&key, &item_label(&entry.name));
            return Err(self.sql(e));
        }
        self.audit(Action::Renamed, &new_name, &entry.id, Ok(()));
        Ok(Entry {
            name: new_name,
            ..entry
        })
    }

    /// Removes an entry and its secret. Returns what was removed (to point at the provider's page).
    pub fn remove(&self, name: &str) -> Result<Entry, Failure> {
        let _lock = self.lock()?;
        let entry = self.entry(name)?;
        self.store
            .probe(&self.profile.namespace)
            .map_err(|e| e.to_failure())?;
        self.db
            .set_state(&entry.id, "removing")
            .map_err(|e| self.sql(e))?;
        if let Err(e) = self.store.delete(&self.key(&entry.id)) {
            let _ = self.db.set_state(&entry.id, "active");
            let failure = e.to_failure();
            self.audit(Action::Removed, &entry.name, &entry.id, Err(failure.code));
            return Err(failure);
        }
        self.db.delete_row(&entry.id).map_err(|e| self.sql(e))?;
        self.audit(Action::Removed, &entry.name, &entry.id, Ok(()));
        Ok(entry)
    }

    /// Records a rotation. With `new_secret`, the stored password is replaced (atomically, in the
    /// store) first; without, only the date is recorded (the user rotated elsewhere).
    pub fn rotate(&self, name: &str, new_secret: Option<&Secret>) -> Result<Entry, Failure> {
        let _lock = self.lock()?;
        let entry = self.entry(name)?;
        let now = self.clock.now();
        if let Some(raw) = new_secret {
            let secret = match entry.kind {
                EntryKind::AppPassword => normalise_for(catalog::provider(&entry.provider)?, raw)?,
                EntryKind::Bridge => bridge_secret(raw)?,
            };
            let fingerprint = self.fingerprint(&secret)?;
            // Recorded (committed) before the store changes: a process killed between the store
            // and the database leaves this row, which `repair` finishes or drops by what the
            // store holds (see rotation.rs).
            rotation::begin(&self.db, &entry.id, &fingerprint, now).map_err(|e| self.sql(e))?;
            if let Err(e) = self
                .store
                .put(&self.key(&entry.id), &item_label(&entry.name), &secret)
            {
                let _ = rotation::abandon(&self.db, &entry.id);
                let failure = e.to_failure();
                self.audit(Action::Rotated, &entry.name, &entry.id, Err(failure.code));
                return Err(failure);
            }
            // On failure the row stays, and the next `repair` records the rotation.
            rotation::finish(&self.db, &entry.id).map_err(|e| self.sql(e))?;
        } else {
            self.db
                .mark_rotated(&entry.id, now, None)
                .map_err(|e| self.sql(e))?;
        }
        self.audit(Action::Rotated, &entry.name, &entry.id, Ok(()));
        Ok(Entry {
            rotated: Some(now),
            ..entry
        })
    }

    /// The bridge client with this local user name (case-insensitive), if any.
    pub fn bridge_client(&self, username: &str) -> Result<Option<Entry>, Failure> {
        let wanted = username.trim().to_ascii_lowercase();
        Ok(self
            .list()?
            .into_iter()
            .find(|e| e.kind == EntryKind::Bridge && e.account.eq_ignore_ascii_case(&wanted)))
    }

    /// Checks a bridge client's local user name and password. `Ok(Some)` records the use (last
    /// used); `Ok(None)` (unknown user or wrong password) is audited as `bridge_rejected`. The
    /// comparison takes the same time whichever character differs.
    pub fn verify_bridge(
        &self,
        username: &str,
        presented: &Secret,
    ) -> Result<Option<Entry>, Failure> {
        let Some(entry) = self.bridge_client(username)? else {
            self.audit(
                Action::BridgeRejected,
                username.trim(),
                "",
                Err(Code::AuthRejected),
            );
            return Ok(None);
        };
        let stored = match self.store.get(&self.key(&entry.id)) {
            Ok(Some(s)) => s,
            Ok(None) => {
                self.audit(
                    Action::BridgeRejected,
                    &entry.name,
                    &entry.id,
                    Err(Code::SecretMissing),
                );
                return Err(Failure::new(
                    Code::SecretMissing,
                    format!(
                        "The bridge password of {:?} is missing from the {}. Make a new one with `apppass bridge rotate {:?}`.",
                        entry.name,
                        self.store.describe(),
                        entry.name
                    ),
                ));
            }
            Err(e) => return Err(e.to_failure()),
        };
        if !crate::bridge::password::matches(presented, &stored) {
            self.audit(
                Action::BridgeRejected,
                &entry.name,
                &entry.id,
                Err(Code::AuthRejected),
            );
            return Ok(None);
        }
        // Best effort, as for `secret`: a read-only disk must not stop a mail client.
        let _ = self.db.touch(&entry.id, self.clock.now());
        Ok(Some(entry))
    }

    /// Records an action done outside the vault (a connection test, a clipboard copy by the app).
    pub fn record(&self, action: Action, entry: &Entry, outcome: Result<(), Code>) {
        self.audit(action, &entry.name, &entry.id, outcome);
    }

    /// Rotation due after `rotation_days`; bridge clients unused for `unused_days` or more.
    pub fn health(&self, rotation_days: u32, unused_days: u32) -> Result<HealthReport, Failure> {
        let entries = self.list()?;
        let fingerprints = self.db.fingerprints().map_err(|e| self.sql(e))?;
        Ok(health::report(
            &entries,
            &fingerprints,
            rotation_days,
            unused_days,
            self.clock.now(),
        ))
    }

    /// Checks the store, repairs unfinished rows, counts orphans (never deletes them: a password
    /// no entry knows may be the only copy left after the database was lost or restored), lists
    /// missing secrets.
    pub fn doctor(&self) -> Result<DoctorReport, Failure> {
        let schema_version = self.db.version().map_err(|e| self.sql(e))?;
        let entries = self.list()?;
        let mut report = DoctorReport {
            store: self.store.describe(),
            store_problem: None,
            data_dir: self.profile.data_dir.display().to_string(),
            schema_version,
            entries: entries.len() as u64,
            unfinished_repaired: self.repaired_at_open,
            orphans_kept: 0,
            orphans_removed: 0,
            orphans_adopted: Vec::new(),
            missing_secrets: Vec::new(),
        };
        if let Err(e) = self.store.probe(&self.profile.namespace) {
            report.store_problem = Some(e.to_failure());
            return Ok(report);
        }
        report.unfinished_repaired += self.repair()?;
        let _lock = self.lock()?;
        let known: std::collections::HashSet<String> = self
            .db
            .all_ids()
            .map_err(|e| self.sql(e))?
            .into_iter()
            .collect();
        let stored = match self.store.ids(&self.profile.namespace) {
            Ok(Some(ids)) => Some(ids),
            Ok(None) => None,
            Err(e) => {
                report.store_problem = Some(e.to_failure());
                return Ok(report);
            }
        };
        if let Some(stored) = &stored {
            report.orphans_kept = stored.iter().filter(|id| is_orphan(id, &known)).count() as u64;
        }
        for entry in &entries {
            let present = match &stored {
                Some(ids) => ids.contains(&entry.id),
                None => self
                    .store
                    .get(&self.key(&entry.id))
                    .map_err(|e| e.to_failure())?
                    .is_some(),
            };
            if !present {
                report.missing_secrets.push(entry.name.clone());
            }
        }
        Ok(report)
    }
}

/// A bridge password is apppass's own: only its size is checked.
fn bridge_secret(raw: &Secret) -> Result<Secret, Failure> {
    if raw.is_empty() || raw.len() > MAX_SECRET_BYTES {
        return Err(Failure::new(
            Code::InvalidInput,
            "A bridge password must be 1 to 1024 bytes. Let apppass generate it (`apppass bridge add`).",
        ));
    }
    Ok(raw.clone())
}

/// A bridge client's local user name: what `bridge::local_username` makes (ASCII letters, digits,
/// single dashes), 1-64 characters.
fn validate_bridge_username(username: &str) -> Result<(), Failure> {
    if username.is_empty()
        || username.len() > 64
        || crate::bridge::local_username(username) != username
    {
        return Err(Failure::new(
            Code::InvalidInput,
            format!("\"{username}\" cannot be a bridge user name: use lower-case letters, digits and single dashes (at most 64). Choose another client name."),
        ));
    }
    Ok(())
}

fn normalise_for(provider: &catalog::Provider, raw: &Secret) -> Result<Secret, Failure> {
    if raw.len() > MAX_SECRET_BYTES {
        return Err(Failure::new(
            Code::SecretTooLarge,
            format!(
                "That is {} bytes; app passwords are far shorter (at most {MAX_SECRET_BYTES} bytes accepted). Copy only the password, then try again.",
                raw.len()
            ),
        ));
    }
    catalog::normalise(&provider.format, raw).map_err(|p| p.to_failure(&provider.name))
}

/// An entry as unit tests build it: metadata only, never stored, created at the epoch.
#[cfg(test)]
pub(crate) fn test_entry(
    name: &str,
    provider: &str,
    account: &str,
    servers: Option<ServerSettings>,
) -> Entry {
    Entry {
        id: "0123456789abcdef0123456789abcdef".into(),
        name: name.into(),
        provider: provider.into(),
        account: account.into(),
        client: "thunderbird".into(),
        kind: EntryKind::AppPassword,
        created: 0,
        rotated: None,
        last_used: None,
        notes: String::new(),
        servers,
    }
}

/// The label shown by the OS keyring's UI (e.g. Seahorse, Keychain Access).
pub fn item_label(name: &str) -> String {
    format!("apppass: {name}")
}

fn new_id() -> Result<String, Failure> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Failure::new(Code::Internal, format!("No OS randomness: {e}")))?;
    Ok(hex::encode(bytes))
}

fn not_found(name: &str) -> Failure {
    Failure::new(
        Code::NotFound,
        format!("No entry named {name:?}. See the names with `apppass list` or `apppass search`."),
    )
}

fn name_taken(name: &str) -> Failure {
    Failure::new(
        Code::NameTaken,
        format!("An entry named {name:?} already exists. Choose another name, or rename the existing one."),
    )
}

/// A name: trimmed, 1 to 100 characters, no control characters.
pub fn validate_name(name: &str) -> Result<String, Failure> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(Failure::new(
            Code::InvalidInput,
            "The name is empty. Give the entry a name such as \"Thunderbird on laptop\".",
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Failure::new(
            Code::InvalidInput,
            "The name contains control characters (such as a tab or newline). Use letters, digits, spaces and punctuation only.",
        ));
    }
    if trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(Failure::new(
            Code::InvalidInput,
            format!("The name is longer than {MAX_NAME_CHARS} characters. Choose a shorter one."),
        ));
    }
    Ok(trimmed.to_string())
}

fn validate_field(what: &str, value: &str, allow_empty: bool) -> Result<String, Failure> {
    let trimmed = value.trim();
    if trimmed.is_empty() && !allow_empty {
        return Err(Failure::new(
            Code::InvalidInput,
            format!("The {what} is empty. Give the {what} this password is for."),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Failure::new(
            Code::InvalidInput,
            format!("The {what} contains control characters. Remove them and try again."),
        ));
    }
    if trimmed.chars().count() > MAX_FIELD_CHARS {
        return Err(Failure::new(
            Code::InvalidInput,
            format!("The {what} is longer than {MAX_FIELD_CHARS} characters. Shorten it."),
        ));
    }
    Ok(trimmed.to_string())
}

fn validate_notes(notes: &str) -> Result<String, Failure> {
    if notes
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Failure::new(
            Code::InvalidInput,
            "The notes contain control characters. Remove them and try again.",
        ));
    }
    if notes.chars().count() > 4_000 {
        return Err(Failure::new(
            Code::InvalidInput,
            "The notes are longer than 4,000 characters. Shorten them.",
        ));
    }
    Ok(notes.trim().to_string())
}

fn validate_servers(servers: &ServerSettings) -> Result<(), Failure> {
    for (what, server) in [
        ("IMAP", &servers.imap),
        ("SMTP", &servers.smtp),
        ("POP", &servers.pop),
    ] {
        if let Some(s) = server {
            let host = s.host.trim();
            if host.is_empty()
                || host.len() > 253
                || !host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
            {
                return Err(Failure::new(
                    Code::InvalidInput,
                    format!("The {what} host {host:?} is not a valid host name or address. Use a name such as mail.example.com."),
                ));
            }
            if s.port == 0 {
                return Err(Failure::new(
                    Code::InvalidInput,
                    format!("The {what} port must be between 1 and 65535."),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
