//! Recovery from a damaged vault database.
//!
//! After every change (when the profile's lock is released, see `WriteLock`) and at the first
//! open of a healthy vault without one, the database is copied with SQLite's `VACUUM INTO` to
//! `vault-last-good.sqlite3` (0600, metadata only like the database; written to a temporary file,
//! then renamed, so a full disk keeps the previous copy). The copy is saved only when the
//! database passes `PRAGMA quick_check`, so a damaged database never replaces a good copy.
//!
//! When the database is damaged, opening the vault fails with `DataCorrupt` and nothing writes
//! to the file. [`restore_last_good`] (`apppass doctor --restore`) then renames the damaged file
//! (and its `-wal`/`-shm`) to `*.damaged-<time>` (kept, never deleted) and puts a copy of the
//! last good copy in its place. Entries added after the copy was saved are missing from it; their
//! passwords are still in the store, where [`Vault::orphans`] finds them.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Code, Failure};
use crate::fsutil::{storage_failure, tempfile_in};
use crate::profile::Profile;

use super::db::Db;
use super::{item_label, DoctorReport, Entry, EntryKind, Vault, VAULT_KEY_ID};
use crate::audit::Action;

/// What [`restore_last_good`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restored {
    /// Where the damaged database now is (`None` when there was no database file).
    pub damaged_kept_as: Option<String>,
    /// When the restored copy was saved (Unix seconds).
    pub copy_saved: i64,
    /// Entries in the restored copy.
    pub entries: u64,
}

/// Puts the last good copy of the vault database back, keeping the damaged file under a new name.
/// Refuses when the database is not damaged (`InvalidInput`), or when there is no usable copy
/// (`NotFound`, `DataCorrupt`). Runs under the profile's lock, so no other apppass process writes
/// meanwhile.
pub fn restore_last_good(profile: &Profile, now: i64) -> Result<Restored, Failure> {
    let db_path = profile.database_path();
    let copy = profile.last_good_path();
    let _lock = lock_file(profile)?;
    if db_path.exists() && Db::damage(&db_path)?.is_none() {
        return Err(Failure::new(
            Code::InvalidInput,
            format!(
                "The vault database {} is not damaged, so nothing was restored. Run `apppass doctor` to check the rest.",
                db_path.display()
            ),
        ));
    }
    if !copy.is_file() {
        return Err(Failure::new(
            Code::NotFound,
            format!(
                "There is no last good copy ({}) to restore. Keep the damaged file, and restore the data directory from a backup if you have one.",
                copy.display()
            ),
        ));
    }
    let entries = match Db::open_existing(&copy) {
        Ok((_, n)) => n,
        Err(f) if f.code == Code::DataCorrupt => {
            return Err(Failure::new(
                Code::DataCorrupt,
                format!(
                    "The last good copy {} is damaged too, so nothing was restored. Keep both files, and restore the data directory from a backup if you have one.",
                    copy.display()
                ),
            ))
        }
        Err(f) => return Err(f),
    };
    let copy_saved = std::fs::metadata(&copy)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);

    // The new database first, under a temporary name: until the rename below, a failure leaves
    // everything as it was.
    let dir = &profile.data_dir;
    let (tmp, file) = tempfile_in(dir).map_err(|e| storage_failure(dir, e))?;
    drop(file);
    let io = |e| storage_failure(&db_path, e);
    let staged = (|| {
        let mut from = std::fs::File::open(&copy).map_err(io)?;
        let mut to = std::fs::OpenOptions::new()
            .write(true)
            .open(&tmp)
            .map_err(io)?;
        std::io::copy(&mut from, &mut to).map_err(io)?;
        to.sync_all().map_err(io)
    })();
    if let Err(e) = staged {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }

    let stamp = crate::clock::rfc3339(now).replace([':', '-'], "");
    let mut damaged_kept_as = None;
    for suffix in ["", "-wal", "-shm"] {
        let from = sibling(&db_path, suffix);
        if !from.exists() {
            continue;
        }
        // The `-shm` index never holds data (it is rebuilt from the WAL), and an empty WAL holds
        // none: such files (a read-only check leaves them behind) go; everything else is kept.
        let empty_wal = suffix == "-wal" && std::fs::metadata(&from).is_ok_and(|m| m.len() == 0);
        if suffix == "-shm" || empty_wal {
            let _ = std::fs::remove_file(&from);
            continue;
        }
        let to = free_name(&sibling(&db_path, &format!("{suffix}.damaged-{stamp}")));
        if let Err(e) = std::fs::rename(&from, &to) {
            let _ = std::fs::remove_file(&tmp);
            return Err(storage_failure(&from, e));
        }
        if suffix.is_empty() {
            damaged_kept_as = Some(to.display().to_string());
        }
    }
    std::fs::rename(&tmp, &db_path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        storage_failure(&db_path, e)
    })?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(Restored {
        damaged_kept_as,
        copy_saved,
        entries,
    })
}

/// Opens and takes the profile's lock file (`vault.lock`); the OS releases it when the file is
/// closed or the process dies. Shared by the vault's writes and the restore.
pub(super) fn lock_file(profile: &Profile) -> Result<std::fs::File, Failure> {
    let path = profile.lock_path();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| storage_failure(&path, e))?;
    file.lock().map_err(|e| storage_failure(&path, e))?;
    Ok(file)
}

/// `vault.sqlite3` + `suffix`, in the same folder.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `path`, or `path.1`, `path.2`, … if taken: a kept file is never overwritten.
fn free_name(path: &Path) -> PathBuf {
    let mut candidate = path.to_path_buf();
    let mut n = 1;
    while candidate.exists() {
        candidate = sibling(path, &format!(".{n}"));
        n += 1;
    }
    candidate
}

impl Vault {
    /// Ids of the store items of this profile that no entry knows (what `doctor` counts);
    /// `None` when the store cannot list its items.
    pub fn orphans(&self) -> Result<Option<Vec<String>>, Failure> {
        let known: std::collections::HashSet<String> = self
            .db
            .all_ids()
            .map_err(|e| self.sql(e))?
            .into_iter()
            .collect();
        let Some(stored) = self
            .store
            .ids(&self.profile.namespace)
            .map_err(|e| e.to_failure())?
        else {
            return Ok(None);
        };
        Ok(Some(
            stored
                .into_iter()
                .filter(|id| is_orphan(id, &known))
                .collect(),
        ))
    }

    /// Deletes the passwords no entry knows (`apppass doctor --remove-orphans`): only on the
    /// user's word, since one may be the last copy of a password whose entry was lost.
    pub fn remove_orphans(&self) -> Result<DoctorReport, Failure> {
        let mut report = self.doctor()?;
        if report.store_problem.is_some() {
            return Ok(report);
        }
        let _lock = self.lock()?;
        for id in self.orphans()?.unwrap_or_default() {
            self.store
                .delete(&self.key(&id))
                .map_err(|e| e.to_failure())?;
            self.audit(Action::Removed, "", &id, Ok(()));
            report.orphans_removed += 1;
            report.orphans_kept -= 1;
        }
        Ok(report)
    }

    /// Makes an entry of each password no entry knows (`apppass doctor --adopt-orphans`), named
    /// "Recovered password N", provider "custom", so that `get` finds it again; the user renames
    /// it and fills in the rest. The password stays where it is.
    pub fn adopt_orphans(&self) -> Result<DoctorReport, Failure> {
        let mut report = self.doctor()?;
        if report.store_problem.is_some() {
            return Ok(report);
        }
        let _lock = self.lock()?;
        let mut n = 0;
        for id in self.orphans()?.unwrap_or_default() {
            let Some(secret) = self.store.get(&self.key(&id)).map_err(|e| e.to_failure())? else {
                continue;
            };
            let name = loop {
                n += 1;
                let name = format!("Recovered password {n}");
                if !self.db.name_in_use(&name).map_err(|e| self.sql(e))? {
                    break name;
                }
            };
            let entry = Entry {
                id: id.clone(),
                name: name.clone(),
                provider: "custom".to_string(),
                account: String::new(),
                client: String::new(),
                kind: EntryKind::AppPassword,
                created: self.clock.now(),
                rotated: None,
                last_used: None,
                notes: "Found in the keyring with no entry by `apppass doctor --adopt-orphans`."
                    .to_string(),
                servers: None,
            };
            let fingerprint = self.fingerprint(&secret)?;
            // Active at once: the password is already stored, and a `pending` row left by a kill
            // would make `repair` delete it.
            self.db
                .insert(&entry, Some(&fingerprint), "active")
                .map_err(|e| self.sql(e))?;
            let _ = self.store.relabel(&self.key(&id), &item_label(&name));
            self.audit(Action::Added, &name, &id, Ok(()));
            report.orphans_adopted.push(name);
            report.orphans_kept -= 1;
            report.entries += 1;
        }
        Ok(report)
    }
}

/// A store item of this profile that no entry knows. Sign-in tokens, the vault key and the
/// bridge's TLS key live in the same store but belong to no entry.
pub(super) fn is_orphan(id: &str, known: &std::collections::HashSet<String>) -> bool {
    id != VAULT_KEY_ID
        && !id.starts_with(crate::signin::tokens::STORE_PREFIX)
        && !id.starts_with(crate::bridge::cert::STORE_PREFIX)
        && !known.contains(id)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::FixedClock;
    use crate::secret::Secret;
    use crate::vault::store::MemoryStore;
    use crate::vault::{NewEntry, Vault};

    const T0: i64 = 1_795_626_278;

    fn open(dir: &Path) -> Result<Vault, Failure> {
        Vault::open(
            Profile::isolated(dir).unwrap(),
            Box::new(MemoryStore::default()),
            Arc::new(FixedClock::at(T0)),
            "cli",
        )
    }

    fn new(name: &str) -> NewEntry {
        NewEntry {
            name: name.into(),
            provider: "custom".into(),
            account: "ann@example.org".into(),
            client: "thunderbird".into(),
            kind: Default::default(),
            notes: String::new(),
            servers: None,
        }
    }

    fn names_in(path: &Path) -> Vec<String> {
        let (db, _) = Db::open_existing(path).unwrap();
        db.active().unwrap().into_iter().map(|e| e.name).collect()
    }

    #[test]
    fn the_copy_follows_every_change_is_private_and_holds_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let vault = open(dir.path()).unwrap();
        let copy = vault.profile().last_good_path();
        assert!(copy.exists(), "made at the first open");
        assert_eq!(names_in(&copy), Vec::<String>::new());
        vault
            .add(new("A"), &Secret::from("canary-copy-secret-1"))
            .unwrap();
        assert_eq!(names_in(&copy), vec!["A"]);
        vault.rename("A", "B").unwrap();
        assert_eq!(names_in(&copy), vec!["B"]);
        vault.add(new("C"), &Secret::from("canary-copy-2")).unwrap();
        vault.remove("B").unwrap();
        assert_eq!(names_in(&copy), vec!["C"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let bytes = std::fs::read(&copy).unwrap();
        for secret in ["canary-copy-secret-1", "canary-copy-2"] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
        }
        // No temporary file left behind.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".tmp-"))
            .collect();
        assert_eq!(leftovers, Vec::<String>::new());
    }

    #[test]
    fn a_damaged_database_is_refused_untouched_and_never_replaces_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let vault = open(dir.path()).unwrap();
        vault.add(new("Kept"), &Secret::from("kept-1")).unwrap();
        let profile = vault.profile().clone();
        drop(vault);
        let good = std::fs::read(profile.database_path()).unwrap();
        let mut bytes = good.clone();
        let n = bytes.len();
        bytes[n - 4096..].fill(0x5a);
        std::fs::write(profile.database_path(), &bytes).unwrap();
        let err = open(dir.path()).err().unwrap();
        assert_eq!(err.code, Code::DataCorrupt, "{}", err.message);
        assert!(
            err.message.contains("apppass doctor --restore"),
            "{}",
            err.message
        );
        assert_eq!(std::fs::read(profile.database_path()).unwrap(), bytes);
        assert_eq!(names_in(&profile.last_good_path()), vec!["Kept"]);
        assert!(Db::damage(&profile.database_path()).unwrap().is_some());
    }

    #[test]
    fn an_emptied_database_is_damaged_once_a_vault_existed_and_new_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let vault = open(dir.path()).unwrap();
        vault.add(new("Kept"), &Secret::from("kept-1")).unwrap();
        let profile = vault.profile().clone();
        drop(vault);
        std::fs::write(profile.database_path(), b"").unwrap();
        let err = open(dir.path()).err().unwrap();
        assert_eq!(err.code, Code::DataCorrupt);
        assert!(err.message.contains("0 bytes"), "{}", err.message);
        assert_eq!(std::fs::metadata(profile.database_path()).unwrap().len(), 0);

        // A fresh folder with an empty file (a first run cut short) is simply a new vault.
        let fresh = tempfile::tempdir().unwrap();
        std::fs::write(fresh.path().join(crate::profile::DATABASE_FILE), b"").unwrap();
        assert_eq!(open(fresh.path()).unwrap().list().unwrap(), vec![]);
    }

    #[test]
    fn restore_keeps_the_damaged_file_and_brings_the_list_back() {
        let dir = tempfile::tempdir().unwrap();
        let vault = open(dir.path()).unwrap();
        vault.add(new("One"), &Secret::from("one-1")).unwrap();
        vault.add(new("Two"), &Secret::from("two-2")).unwrap();
        let profile = vault.profile().clone();
        drop(vault);
        // Healthy: nothing to restore.
        let err = restore_last_good(&profile, T0).unwrap_err();
        assert_eq!(err.code, Code::InvalidInput);
        std::fs::write(profile.database_path(), b"not a database at all").unwrap();
        let restored = restore_last_good(&profile, T0).unwrap();
        assert_eq!(restored.entries, 2);
        let kept = PathBuf::from(restored.damaged_kept_as.unwrap());
        assert_eq!(std::fs::read(&kept).unwrap(), b"not a database at all");
        assert!(kept
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("vault.sqlite3.damaged-"));
        let names: Vec<String> = open(dir.path())
            .unwrap()
            .list()
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec!["One", "Two"]);
        // Damaged again in the same second: the first kept file is not overwritten.
        std::fs::write(profile.database_path(), b"second damage").unwrap();
        let again = restore_last_good(&profile, T0).unwrap();
        let kept2 = PathBuf::from(again.damaged_kept_as.unwrap());
        assert_ne!(kept2, kept);
        assert_eq!(std::fs::read(&kept).unwrap(), b"not a database at all");
        assert_eq!(std::fs::read(&kept2).unwrap(), b"second damage");
    }

    #[test]
    fn restore_refuses_without_a_copy_or_with_a_damaged_one() {
        let dir = tempfile::tempdir().unwrap();
        let vault = open(dir.path()).unwrap();
        vault.add(new("One"), &Secret::from("one-1")).unwrap();
        let profile = vault.profile().clone();
        drop(vault);
        std::fs::write(profile.database_path(), b"garbage").unwrap();
        std::fs::write(profile.last_good_path(), b"garbage too").unwrap();
        let err = restore_last_good(&profile, T0).unwrap_err();
        assert_eq!(err.code, Code::DataCorrupt);
        assert!(err.message.contains("damaged too"), "{}", err.message);
        std::fs::remove_file(profile.last_good_path()).unwrap();
        let err = restore_last_good(&profile, T0).unwrap_err();
        assert_eq!(err.code, Code::NotFound);
        assert_eq!(std::fs::read(profile.database_path()).unwrap(), b"garbage");
    }

    #[test]
    fn uri_paths_keep_special_characters_in_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("a ?b#c%d");
        let vault = open(&odd).unwrap();
        vault.add(new("One"), &Secret::from("one-1")).unwrap();
        let path = vault.profile().database_path();
        drop(vault);
        // The immutable read-only open, as on a read-only disk without a WAL.
        let conn = rusqlite::Connection::open_with_flags(
            format!(
                "file:{}?mode=ro&immutable=1",
                super::super::db::uri_path(&path)
            ),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}
