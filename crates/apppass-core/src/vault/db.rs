//! Entry metadata in SQLite: schema, migrations, and row mapping. No secret is ever stored here.
//!
//! The database runs in WAL mode with a busy timeout, so the app and the CLI can use it at the
//! same time. Each entry row has a `state`: `pending` while its secret is being written, `active`
//! once complete, `removing` while its secret is being deleted. Rows not `active` are repaired at
//! start-up (see `Vault::repair`).
//!
//! A damaged file is refused before anything is written to it (`check_file`, then SQLite's
//! `quick_check`), and after each change a last good copy is saved beside it (`save_copy`).

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
    /// Why the database is open read-only (a full or read-only disk): what every write reports.
    read_only: Option<Failure>,
}

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// What to do about a damaged database file: restore the last good copy when there is one.
fn damaged(path: &Path, what: &str) -> Failure {
    let last_good = path.with_file_name(crate::profile::LAST_GOOD_FILE);
    let next = if last_good.is_file() {
        "Run `apppass doctor --restore`: it keeps the damaged file under a new name and puts back the last good copy of the entry list"
    } else {
        "There is no last good copy to restore: keep the file, and restore the data directory from a backup if you have one; otherwise move the file out of the folder and run `apppass doctor --adopt-orphans`, which makes an entry of every password of this profile still in the keyring"
    };
    Failure::new(
        Code::DataCorrupt,
        format!(
            "The vault database {} is damaged ({what}); apppass has not changed it. {next}. Your passwords are still in the keyring.",
            path.display()
        ),
    )
}

fn sql_failure(path: &Path, e: rusqlite::Error) -> Failure {
    use rusqlite::ErrorCode as C;
    if let rusqlite::Error::SqliteFailure(err, _) = &e {
        match err.code {
            C::NotADatabase | C::DatabaseCorrupt => return damaged(path, &e.to_string()),
            C::ReadOnly | C::CannotOpen | C::PermissionDenied | C::SystemIoFailure => {
                let dir = path.parent().unwrap_or(Path::new("."));
                if let Some(problem) = crate::fsutil::write_problem(dir) {
                    return problem;
                }
                return Failure::new(
                    Code::StorageFailure,
                    format!(
                        "Cannot read or write the vault database {}: {e}. Check the disk and that the folder is writable (or set APPPASS_HOME to one that is), then try again.",
                        path.display()
                    ),
                );
            }
            C::DiskFull => return crate::fsutil::disk_full(path),
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

/// Refuses, before SQLite sees it, a file that cannot be a vault: not a SQLite file, cut inside
/// its header, or emptied while the data directory shows that a vault existed (a last good copy,
/// audit lines). SQLite would take an empty file for a new database and start an empty vault.
fn check_file(path: &Path) -> Result<(), Failure> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        // Unreadable: SQLite's own error explains it.
        Err(_) => return Ok(()),
    };
    let mut head = Vec::with_capacity(100);
    if let Err(e) = file.by_ref().take(100).read_to_end(&mut head) {
        return Err(crate::fsutil::storage_failure(path, e));
    }
    if head.is_empty() {
        let nonempty =
            |name: &str| std::fs::metadata(path.with_file_name(name)).is_ok_and(|m| m.len() > 0);
        if nonempty(crate::profile::LAST_GOOD_FILE) || nonempty("audit.jsonl") {
            return Err(damaged(path, "the file is empty (0 bytes)"));
        }
        return Ok(());
    }
    if !head.starts_with(&SQLITE_MAGIC[..head.len().min(16)]) {
        return Err(damaged(path, "it is not a SQLite database"));
    }
    if head.len() < 100 {
        return Err(damaged(
            path,
            &format!(
                "the file ends after {} bytes, inside its header",
                head.len()
            ),
        ));
    }
    Ok(())
}

impl Db {
    /// Opens (creating if needed) the database for reading and writing. On a full or read-only
    /// disk it opens read-only instead, so that `list` and `get` keep working; every write then
    /// fails with the disk's problem. A damaged file is refused before anything is written to it.
    pub fn open(path: &Path) -> Result<Db, Failure> {
        check_file(path)?;
        let rw = Connection::open(path)
            .map_err(|e| sql_failure(path, e))
            .and_then(|conn| {
                let db = Db {
                    conn,
                    read_only: None,
                };
                db.setup(path)?;
                Ok(db)
            });
        match rw {
            Err(f) if f.code == Code::StorageFailure && path.exists() => {
                let dir = path.parent().unwrap_or(Path::new("."));
                match crate::fsutil::write_problem(dir) {
                    Some(problem) => Db::open_read_only(path, problem),
                    None => Err(f),
                }
            }
            other => other,
        }
    }

    /// Read-only, with `problem` as every write's answer. SQLite reads a WAL database without
    /// writing when its `-shm` and `-wal` files exist; when they do not (they are removed when the
    /// last connection closes) and cannot be created, the file is read as immutable, which is
    /// exact when no WAL holds changes.
    fn open_read_only(path: &Path, problem: Failure) -> Result<Db, Failure> {
        use rusqlite::OpenFlags as F;
        let flags = F::SQLITE_OPEN_READ_ONLY | F::SQLITE_OPEN_URI | F::SQLITE_OPEN_NO_MUTEX;
        let plain = Connection::open_with_flags(path, flags).and_then(|c| {
            c.query_row("PRAGMA user_version", [], |_| Ok(()))
                .map(|()| c)
        });
        let conn = match plain {
            Ok(conn) => conn,
            Err(_) => {
                let mut wal = path.as_os_str().to_owned();
                wal.push("-wal");
                if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
                    // Changes wait in the WAL: reading the file alone would miss them.
                    return Err(problem);
                }
                Connection::open_with_flags(
                    format!("file:{}?mode=ro&immutable=1", uri_path(path)),
                    flags,
                )
                .map_err(|_| problem.clone())?
            }
        };
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| sql_failure(path, e))?;
        let db = Db {
            conn,
            read_only: Some(problem.clone()),
        };
        db.check(path)?;
        let version = db.version().map_err(|e| sql_failure(path, e))?;
        if version != SCHEMA_VERSION {
            // New, or from an older apppass: it needs writing before it can be read.
            return Err(problem);
        }
        Ok(db)
    }

    /// Whether the database file at `path` is damaged, found without writing to it: `Some` with
    /// the `DataCorrupt` failure that opening it gives; `None` when it is a readable vault (or
    /// missing). Other failures (an unreadable disk) are errors.
    pub fn damage(path: &Path) -> Result<Option<Failure>, Failure> {
        match Db::open_existing(path) {
            Ok(_) => Ok(None),
            Err(f) if f.code == Code::DataCorrupt => Ok(Some(f)),
            Err(f) => Err(f),
        }
    }

    /// Opens an existing database read-only, checks it, and counts its entries. A file that is
    /// SQLite but holds no vault is damaged too.
    pub fn open_existing(path: &Path) -> Result<(Db, u64), Failure> {
        use rusqlite::OpenFlags as F;
        check_file(path)?;
        if !path.exists() {
            return Err(Failure::new(
                Code::NotFound,
                format!("There is no vault database at {}.", path.display()),
            ));
        }
        let conn =
            Connection::open_with_flags(path, F::SQLITE_OPEN_READ_ONLY | F::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| sql_failure(path, e))?;
        let db = Db {
            conn,
            read_only: Some(Failure::new(
                Code::Internal,
                "A database opened for checking is not written.",
            )),
        };
        db.check(path)?;
        let count = db
            .conn
            .query_row("SELECT count(*) FROM entries", [], |r| r.get::<_, i64>(0))
            .map_err(|e| match sql_failure(path, e) {
                f if f.code == Code::Internal => damaged(path, &f.message),
                f => f,
            })?;
        Ok((db, count.max(0) as u64))
    }

    /// Why the database is read-only, if it is.
    pub fn read_only(&self) -> Option<&Failure> {
        self.read_only.as_ref()
    }

    /// SQLite's own consistency check (b-trees, pages), before anything is written.
    fn check(&self, path: &Path) -> Result<(), Failure> {
        let result: Vec<String> = self
            .conn
            .prepare("PRAGMA quick_check")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| sql_failure(path, e))?;
        if result.len() == 1 && result[0] == "ok" {
            return Ok(());
        }
        let first = result.first().cloned().unwrap_or_default();
        Err(damaged(path, &format!("check failed: {first}")))
    }

    fn setup(&self, path: &Path) -> Result<(), Failure> {
        let err = |e| sql_failure(path, e);
        self.conn
            .busy_timeout(Duration::from_secs(10))
            .map_err(err)?;
        self.check(path)?;
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

    /// Changes when the database does: `PRAGMA data_version` moves when another connection (the
    /// CLI, another app) commits, `total_changes` when this one writes. Equal values mean rows
    /// read earlier are still current.
    pub fn data_generation(&self) -> rusqlite::Result<(i64, u64)> {
        let data_version: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?;
        Ok((data_version, self.conn.total_changes()))
    }

    /// Inserts an entry row: `pending` while its secret is still to be written (an add), or
    /// `active` when the secret is already in the store (an adopted orphan: a `pending` row found
    /// by `repair` would delete that secret).
    pub fn insert(
        &self,
        e: &Entry,
        fingerprint: Option<&str>,
        state: &str,
    ) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO entries (id, name, name_key, provider, account, client, kind, state, created, rotated, last_used, notes, fingerprint, servers)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?14, ?8, ?9, ?10, ?11, ?12, ?13)",
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
                state,
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
        if let (Some(problem), rusqlite::Error::SqliteFailure(f, _)) = (&self.read_only, &e) {
            if f.code == rusqlite::ErrorCode::ReadOnly {
                return problem.clone();
            }
        }
        sql_failure(path, e)
    }

    /// Writes a consistent copy of the database to `dest` (metadata only, as in the database;
    /// 0600), replacing the previous copy atomically, and only if the database passes SQLite's
    /// check: a damaged database never overwrites the last good copy.
    pub fn save_copy(&self, path: &Path, dest: &Path) -> Result<(), Failure> {
        self.check(path)?;
        let dir = dest.parent().unwrap_or(Path::new("."));
        let (tmp, file) =
            crate::fsutil::tempfile_in(dir).map_err(|e| crate::fsutil::storage_failure(dest, e))?;
        drop(file);
        let result = (|| {
            // VACUUM INTO accepts an existing empty file, so the copy keeps the 0600 it was made with.
            self.conn
                .execute("VACUUM INTO ?1", params![tmp.to_string_lossy()])
                .map_err(|e| sql_failure(dest, e))?;
            let io = |e| crate::fsutil::storage_failure(dest, e);
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(io)?;
            std::fs::rename(&tmp, dest).map_err(io)?;
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
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

/// A path as the path part of an SQLite `file:` URI: every byte but letters, digits, `/` and
/// `-._~` percent-encoded (so `?`, `#` and `%` in a folder name stay part of the path).
pub(crate) fn uri_path(path: &Path) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
