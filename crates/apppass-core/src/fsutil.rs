//! Small file-system helpers shared by the modules that write into the data directory.

use std::io::Write;
use std::path::Path;

use crate::error::{Code, Failure};

/// Writes `bytes` to `path` so that a crash leaves either the old or the new content: a temporary
/// file in the same folder, flushed to disk, then renamed over the target.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let io = |e: std::io::Error| storage_failure(path, e);
    let mut tmp = tempfile_in(dir).map_err(io)?;
    tmp.1.write_all(bytes).map_err(io)?;
    tmp.1.sync_all().map_err(io)?;
    drop(tmp.1);
    std::fs::rename(&tmp.0, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp.0);
        storage_failure(path, e)
    })?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

pub(crate) fn tempfile_in(dir: &Path) -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| std::io::Error::other(e.to_string()))?;
    let path = dir.join(format!(".tmp-{}", hex::encode(suffix)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&path)?;
    Ok((path, file))
}

/// The message for a failed read or write in the data directory, with the likely fix.
pub fn storage_failure(path: &Path, e: std::io::Error) -> Failure {
    let hint = match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            "Make the folder writable for your user, or set APPPASS_HOME to one that is."
        }
        std::io::ErrorKind::ReadOnlyFilesystem => {
            "The disk is mounted read-only. Remount it read-write (or set APPPASS_HOME to a writable folder), then try again; reading still works."
        }
        std::io::ErrorKind::StorageFull => {
            "The disk is full. Free some disk space, then try again; reading still works."
        }
        _ => "Check the disk and the folder's permissions, then try again.",
    };
    Failure::new(
        Code::StorageFailure,
        format!("Cannot write {}: {e}. {hint}", path.display()),
    )
}

/// Why nothing can be written into `dir` right now (the disk is full, mounted read-only, or the
/// folder is not writable), found by writing and removing a small probe file; `None` when writing
/// works. Used to explain a database that cannot be opened for writing.
pub fn write_problem(dir: &Path) -> Option<Failure> {
    let (path, mut file) = match tempfile_in(dir) {
        Ok(t) => t,
        Err(e) => return Some(write_failure(dir, e)),
    };
    // One page: a full disk refuses it even when creating the (empty) file still worked.
    let result = file.write_all(&[0u8; 4096]).and_then(|()| file.sync_all());
    drop(file);
    let _ = std::fs::remove_file(&path);
    result.err().map(|e| write_failure(dir, e))
}

fn write_failure(dir: &Path, e: std::io::Error) -> Failure {
    match e.kind() {
        std::io::ErrorKind::StorageFull => disk_full(dir),
        std::io::ErrorKind::ReadOnlyFilesystem => Failure::new(
            Code::StorageFailure,
            format!(
                "The data directory {} is on a read-only disk, so nothing can be changed; reading still works. Remount it read-write (or set APPPASS_HOME to a writable folder), then try again.",
                dir.display()
            ),
        ),
        _ => storage_failure(dir, e),
    }
}

/// The disk holding `path` is full.
pub fn disk_full(path: &Path) -> Failure {
    Failure::new(
        Code::StorageFailure,
        format!(
            "The disk holding {} is full, so nothing was changed; reading still works. Free some disk space, then try again.",
            path.display()
        ),
    )
}

/// Creates the data directory with owner-only permissions.
pub fn ensure_private_dir(dir: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|e| storage_failure(dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}
