//! Where a profile keeps its data, and which keyring namespace it uses.
//!
//! `APPPASS_HOME=DIR` isolates a whole profile: its data directory is DIR and its keyring items
//! carry a namespace derived from DIR's canonical path, so two profiles never see each other's
//! secrets. Without it, the platform data directory (`~/.local/share/apppass` on Linux,
//! `~/Library/Application Support/apppass` on macOS, `%APPDATA%\apppass` on Windows) and the
//! namespace `default` are used.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Code, Failure};

/// The environment variable that selects an isolated profile.
pub const HOME_VAR: &str = "APPPASS_HOME";

/// The vault database's file name in the data directory.
pub const DATABASE_FILE: &str = "vault.sqlite3";
/// The last good copy of the vault database (metadata only, like the database itself), refreshed
/// after each change; `apppass doctor --restore` puts it back when the database is damaged.
pub const LAST_GOOD_FILE: &str = "vault-last-good.sqlite3";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub data_dir: PathBuf,
    /// Prefix of every keyring item's user field: `<namespace>/<entry id>`.
    pub namespace: String,
}

impl Profile {
    /// The profile selected by the environment (`APPPASS_HOME`), else the platform default.
    pub fn from_env() -> Result<Profile, Failure> {
        match std::env::var_os(HOME_VAR) {
            Some(dir) if !dir.is_empty() => Profile::isolated(Path::new(&dir)),
            _ => {
                let base = dirs::data_dir().ok_or_else(|| {
                    Failure::new(
                        Code::StorageFailure,
                        "Could not find this system's data directory. Set APPPASS_HOME to a folder apppass may use.",
                    )
                })?;
                Ok(Profile {
                    data_dir: base.join("apppass"),
                    namespace: "default".to_string(),
                })
            }
        }
    }

    /// An isolated profile rooted at `dir` (created if missing).
    pub fn isolated(dir: &Path) -> Result<Profile, Failure> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::new(
                Code::StorageFailure,
                format!(
                    "Cannot create the profile folder {}: {e}. Choose a folder you can write to.",
                    dir.display()
                ),
            )
        })?;
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let digest = Sha256::digest(canonical.to_string_lossy().as_bytes());
        Ok(Profile {
            data_dir: canonical,
            namespace: format!("home-{}", &hex::encode(digest)[..16]),
        })
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join(DATABASE_FILE)
    }

    pub fn last_good_path(&self) -> PathBuf {
        self.data_dir.join(LAST_GOOD_FILE)
    }

    pub fn audit_path(&self) -> PathBuf {
        self.data_dir.join("audit.jsonl")
    }

    pub fn settings_path(&self) -> PathBuf {
        self.data_dir.join("settings.toml")
    }

    pub fn file_store_path(&self) -> PathBuf {
        self.data_dir.join("secrets.enc")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.data_dir.join("vault.lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolated_profiles_get_distinct_namespaces() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let pa = Profile::isolated(a.path()).unwrap();
        let pb = Profile::isolated(b.path()).unwrap();
        assert_ne!(pa.namespace, pb.namespace);
        assert_ne!(pa.namespace, "default");
        assert_eq!(pa, Profile::isolated(a.path()).unwrap());
    }
}
