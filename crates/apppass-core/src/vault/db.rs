//! Entry metadata in SQLite: schema, migrations, and row mapping. No secret is ever stored here.
//!
//! The database runs in WAL mode with a busy timeout, so the app and the CLI can use it at the
//! same time. Each entry row has a `state`: `pending` while its secret is being written, `active`
//! once complete, `removing` while its secret is being deleted. Rows not `active` are repaired at
//! start-up (see `Vault::repair`).

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::{Code, Failure};

use super::{Entry, EntryKind, ServerSettings};

/// The schema this build writes. Each step in [`MIGRATIONS`] moves the database up by one.
pub const SCHEMA_VERSION: i64 = 2;

const MIGRATIONS: &[&str] = &[
    // 0 → 1
    "CREATE TABLE entries (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        name_key    TEXT NOT NULL UNIQUE,
        provider    TEXT NOT NULL,
        account     TEXT NOT NULL,
        client      TEXT NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('app_password', 'bridge')),
        state       TEXT NOT NULL CHECK (state IN ('pending', 'active', 'removing')),
        created     INTEGER NOT NULL,
        rotated     INTEGER,
        last_used   INTEGER,
        notes       TEXT NOT NULL DEFAULT '',
        fingerprint TEXT,
        servers     TEXT
    );
    CREATE INDEX entries_state ON entries(state) WHERE state <> 'active';",
    // 1 → 2: a rotation in flight (see vault/rotation.rs).
    "CREATE TABLE rotations (
        id          TEXT PRIMARY KEY REFERENCES entries(id) ON DELETE CASCADE,
        fingerprint TEXT NOT NULL,
        rotated     INTEGER NOT NULL
    );",
];

pub struct Db {
    conn: Connection,
}

fn sql_failure(path: &Path, e: rusqlite::Error) -> Failure {
    use rusqlite::ErrorCode as C;
    if let rusqlite::Error::SqliteFailure(err, _) = &e {
        match err.code {
            C::NotADatabase | C::DatabaseCorrupt => {
                return Failure::new(
                    Code::DataCorrupt,
                    format!(
                        "The vault database {} is damaged. Your passwords are still in the keyring; move the file aside and run `apppass doctor`.",
                        path.display()
                    ),
                )
            }
            C::ReadOnly | C::CannotOpen | C::PermissionDenied => {
                return Failure::new(
                    Code::StorageFailure,
                    format!(
                        "Cannot write the vault database {}: {e}. Make the folder writable, or set APPPASS_HOME to one that is.",
                        path.display()
                    ),
                )
            }
            C::DiskFull => {
                return Failure::new(
                    Code::StorageFailure,
                    format!("The disk holding {} is full. Free some space, then try again.", path.display()),
                )
            }
            C::DatabaseBusy | C::DatabaseLocked => {
                return Failure::new(
                    Code::StorageFailure,
                    "The vault is busy in another apppass process. Try again in a moment.",
                )
            }
            _ => {}
        }
    }
    Failure::new(
        Code::Internal,
        format!(
            "Vault database error ({}): {e}. Run `apppass doctor`.",
            path.display()
        ),
    )
}

impl Db {
    pub fn open(path: &Path) -> Result<Db, Failure> {
        let conn = Connection::open(path).map_err(|e| sql_failure(path, e))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| sql_failure(path, e))?;
        let db = Db { conn };
        db.setup(path)?;
        Ok(db)
    }

    fn setup(&self, path: &Path) -> Result<(), Failure> {
        let err = |e| sql_failure(path, e);
        // journal_mode returns a row; WAL persists in the file once set.
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Failure::new(
                Code::StorageFailure,
                format!("The vault database {} cannot use write-ahead logging (got {mode}). Put the data directory on a local disk.", path.display()),
            ));
        }
        self.conn
            .execute_batch(
                "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
            )
            .map_err(err)?;
        let version = self.version().map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(Failure::new(
                Code::DataCorrupt,
                format!(
                    "The vault was written by a newer apppass (schema {version}; this one knows {SCHEMA_VERSION}). Update apppass; nothing was changed."
                ),
            ));
        }
        if version < SCHEMA_VERSION {
            self.migrate(version).map_err(err)?;
        }
        Ok(())
    }

    pub fn version(&self) -> rusqlite::Result<i64> {
        self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))
    }

    fn migrate(&self, from: i64) -> rusqlite::Result<()> {
        // BEGIN IMMEDIATE: two processes starting at once migrate one after the other; the second
        // sees the new version and does nothing.
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = (|| {
            let current = self.version()?;
            for (step, sql) in MIGRATIONS
                .iter()
                .enumerate()
                .skip(current.max(from) as usize)
            {
                self.conn.execute_batch(sql)?;
                self.conn
                    .execute_batch(&format!("PRAGMA user_version = {}", step + 1))?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => self.conn.execute_batch("COMMIT"),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn insert_pending(&self, e: &Entry, fingerprint: Option<&str>) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO entries (id, name, name_key, provider, account, client, kind, state, created, rotated, last_used, notes, fingerprint, servers)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                e.id,
                e.name,
                name_key(&e.name),
                e.provider,
                e.account,
                e.client,
                e.kind.as_str(),
                e.created,
                e.rotated,
                e.last_used,
                e.notes,
                fingerprint,
                e.servers.as_ref().map(|s| serde_json::to_string(s).expect("server settings encode")),
            ],
        )?;
        Ok(())
    }

    pub fn set_state(&self, id: &str, state: &str) -> rusqlite::Result<usize> {
        self.conn.execute(
            "UPDATE entries SET state = ?2 WHERE id = ?1",
            params![id, state],
        )
    }

    pub fn delete_row(&self, id: &str) -> rusqlite::Result<usize> {
        self.conn
            .execute("DELETE FROM entries WHERE id = ?1", params![id])
    }

    pub fn by_name(&self, name: &str) -> rusqlite::Result<Option<Entry>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM entries WHERE name_key = ?1 AND state = 'active'"),
                params![name_key(name)],
                row_to_entry,
            )
            .optional()
    }

    /// Whether any row (in any state) holds this name.
    pub fn name_in_use(&self, name: &str) -> rusqlite::Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM entries WHERE name_key = ?1",
                params![name_key(name)],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
    }

    pub fn active(&self) -> rusqlite::Result<Vec<Entry>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM entries WHERE state = 'active' ORDER BY name_key"
        ))?;
        let rows = stmt.query_map([], row_to_entry)?;
        rows.collect()
    }

    /// Rows left `pending` or `removing` by an interrupted process: (id, state).
    pub fn unfinished(&self) -> rusqlite::Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, state FROM entries WHERE state <> 'active'")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    pub fn all_ids(&self) -> rusqlite::Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached("SELECT id FROM entries")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect()
    }

    pub fn fingerprints(&self) -> rusqlite::Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, fingerprint FROM entries WHERE state = 'active' AND fingerprint IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    pub fn rename(&self, id: &str, name: &str) -> rusqlite::Result<usize> {
        self.conn.execute(
            "UPDATE entries SET name = ?2, name_key = ?3 WHERE id = ?1",
            params![id, name, name_key(name)],
        )
    }

    pub fn touch(&self, id: &str, when: i64) -> rusqlite::Result<usize> {
        self.conn.execute(
            "UPDATE entries SET last_used = ?2 WHERE id = ?1",
            params![id, when],
        )
    }

    pub fn mark_rotated(
        &self,
        id: &str,
        when: i64,
        fingerprint: Option<&str>,
    ) -> rusqlite::Result<usize> {
        self.conn.execute(
            "UPDATE entries SET rotated = ?2, fingerprint = COALESCE(?3, fingerprint) WHERE id = ?1",
            params![id, when, fingerprint],
        )
    }

    pub fn failure(&self, path: &Path, e: rusqlite::Error) -> Failure {
        sql_failure(path, e)
    }
}

/// Names are unique without regard to case: "Thunderbird" and "thunderbird" are the same entry.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

const COLUMNS: &str =
    "id, name, provider, account, client, kind, created, rotated, last_used, notes, servers";

fn row_to_entry(r: &Row<'_>) -> rusqlite::Result<Entry> {
    let kind: String = r.get(5)?;
    let servers: Option<String> = r.get(10)?;
    Ok(Entry {
        id: r.get(0)?,
        name: r.get(1)?,
        provider: r.get(2)?,
        account: r.get(3)?,
        client: r.get(4)?,
        kind: EntryKind::parse(&kind).unwrap_or(EntryKind::AppPassword),
        created: r.get(6)?,
        rotated: r.get(7)?,
        last_used: r.get(8)?,
        notes: r.get(9)?,
        servers: servers.and_then(|s| serde_json::from_str::<ServerSettings>(&s).ok()),
    })
}
