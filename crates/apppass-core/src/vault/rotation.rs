//! A rotation in flight: the `rotations` table (schema 2) holds, for an entry whose new password
//! is being written to the store, the new password's fingerprint and the rotation's time.
//!
//! `Vault::rotate` records the row (committed) before replacing the secret in the store, and
//! moves it into the entry (`rotated`, `fingerprint`) once the store has the new secret. A process
//! killed in between leaves the row; whoever next takes the profile's lock (`Vault::repair`)
//! reads the stored secret and compares fingerprints: the store has the new password → the
//! rotation is finished (date and fingerprint recorded); the old one → the row is dropped, the
//! entry stays as it was. Either way the entry's metadata matches the password in the store.

use rusqlite::{params, OptionalExtension};

use super::db::Db;

/// Records a rotation about to write its secret (replacing any earlier one for `id`).
pub(super) fn begin(db: &Db, id: &str, fingerprint: &str, when: i64) -> rusqlite::Result<()> {
    db.conn().execute(
        "INSERT OR REPLACE INTO rotations (id, fingerprint, rotated) VALUES (?1, ?2, ?3)",
        params![id, fingerprint, when],
    )?;
    Ok(())
}

/// The store has the new secret: records the rotation in the entry and drops the row, in one
/// transaction.
pub(super) fn finish(db: &Db, id: &str) -> rusqlite::Result<()> {
    let tx = db.conn().unchecked_transaction()?;
    let row: Option<(String, i64)> = tx
        .query_row(
            "SELECT fingerprint, rotated FROM rotations WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((fingerprint, when)) = row {
        tx.execute(
            "UPDATE entries SET rotated = ?2, fingerprint = ?3 WHERE id = ?1",
            params![id, when, fingerprint],
        )?;
        tx.execute("DELETE FROM rotations WHERE id = ?1", params![id])?;
    }
    tx.commit()
}

/// The rotation did not reach the store: the entry stays as it was.
pub(super) fn abandon(db: &Db, id: &str) -> rusqlite::Result<()> {
    db.conn()
        .execute("DELETE FROM rotations WHERE id = ?1", params![id])?;
    Ok(())
}

/// Rotations left by an interrupted process: (entry id, the new password's fingerprint).
pub(super) fn unfinished(db: &Db) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = db
        .conn()
        .prepare_cached("SELECT id, fingerprint FROM rotations")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::clock::FixedClock;
    use crate::profile::Profile;
    use crate::secret::Secret;
    use crate::vault::store::{MemoryStore, SecretKey, SecretStore};
    use crate::vault::{Access, EntryKind, NewEntry, Vault};

    fn open(dir: &std::path::Path, store: &Arc<MemoryStore>, now: i64) -> Vault {
        Vault::open(
            Profile::isolated(dir).unwrap(),
            Box::new(store.clone()),
            Arc::new(FixedClock::at(now)),
            "cli",
        )
        .unwrap()
    }

    fn new(name: &str) -> NewEntry {
        NewEntry {
            name: name.into(),
            provider: "custom".into(),
            account: "a".into(),
            client: "c".into(),
            kind: EntryKind::AppPassword,
            notes: String::new(),
            servers: None,
        }
    }

    /// What `rotate` leaves when its process dies between the store and the database: the row of
    /// `begin`, and the store holding the new secret (`reached`) or still the old one.
    fn killed_rotation(reached: bool) -> (tempfile::TempDir, Arc<MemoryStore>, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryStore::default());
        let vault = open(dir.path(), &store, 1_000);
        let a = vault.add(new("A"), &Secret::from("old-password")).unwrap();
        vault.add(new("B"), &Secret::from("new-password")).unwrap();
        let fingerprint = vault.fingerprint(&Secret::from("new-password")).unwrap();
        super::begin(&vault.db, &a.id, &fingerprint, 2_000).unwrap();
        if reached {
            let key = SecretKey {
                namespace: vault.profile.namespace.clone(),
                id: a.id.clone(),
            };
            store
                .put(&key, "apppass: A", &Secret::from("new-password"))
                .unwrap();
        }
        (dir, store, a.id)
    }

    #[test]
    fn a_rotation_killed_after_the_store_is_finished_at_the_next_open() {
        let (dir, store, id) = killed_rotation(true);
        let vault = open(dir.path(), &store, 3_000);
        let (entry, secret) = vault.secret("A", Access::Reveal).unwrap();
        assert_eq!(secret.expose(), "new-password");
        assert_eq!(entry.rotated, Some(2_000), "the rotation's own time");
        // The new fingerprint is recorded: A now shares B's password.
        let dups = vault.health(90, 90).unwrap().duplicates;
        assert_eq!(dups, vec![vec!["A".to_string(), "B".to_string()]]);
        assert!(super::unfinished(&vault.db).unwrap().is_empty());
        assert_eq!(vault.doctor().unwrap().unfinished_repaired, 1);
        assert_eq!(entry.id, id);
    }

    #[test]
    fn a_rotation_killed_before_the_store_is_dropped_at_the_next_open() {
        let (dir, store, _) = killed_rotation(false);
        let vault = open(dir.path(), &store, 3_000);
        let (entry, secret) = vault.secret("A", Access::Reveal).unwrap();
        assert_eq!(secret.expose(), "old-password");
        assert_eq!(entry.rotated, None);
        assert!(vault.health(90, 90).unwrap().duplicates.is_empty());
        assert!(super::unfinished(&vault.db).unwrap().is_empty());
    }

    #[test]
    fn a_locked_store_at_repair_keeps_the_row_for_next_time() {
        let (dir, store, _) = killed_rotation(true);
        store
            .locked
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let vault = open(dir.path(), &store, 3_000);
        assert_eq!(super::unfinished(&vault.db).unwrap().len(), 1);
        assert_eq!(vault.entry("A").unwrap().rotated, None);
        store
            .locked
            .store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(vault.repair().unwrap(), 1);
        assert_eq!(vault.entry("A").unwrap().rotated, Some(2_000));
    }

    #[test]
    fn removing_an_entry_drops_its_rotation_row() {
        let (dir, store, _) = killed_rotation(false);
        store
            .locked
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let vault = open(dir.path(), &store, 3_000);
        store
            .locked
            .store(false, std::sync::atomic::Ordering::SeqCst);
        vault.remove("A").unwrap();
        assert!(super::unfinished(&vault.db).unwrap().is_empty());
    }
}
