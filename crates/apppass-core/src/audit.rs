//! The audit log: one JSON object per line, appended to `audit.jsonl` in the data directory.
//!
//! A record holds the time, the action, the entry's name and id, where it happened (cli, app) and
//! the outcome: never a secret, by construction (no field can hold one).

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::clock::rfc3339;
use crate::error::{Code, Failure};
use crate::fsutil::storage_failure;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Action {
    Added,
    Copied,
    Revealed,
    Tested,
    Rotated,
    Renamed,
    Removed,
    Repaired,
    /// A client gave the bridge a wrong local user name or password.
    BridgeRejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AuditRecord {
    /// RFC 3339, UTC.
    pub time: String,
    pub action: Action,
    /// The entry's name at the time.
    pub entry: String,
    pub entry_id: String,
    /// `cli` or `app`.
    pub via: String,
    /// `ok`, or the failure code.
    pub outcome: String,
}

#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
    via: &'static str,
}

impl AuditLog {
    pub fn new(path: PathBuf, via: &'static str) -> Self {
        AuditLog { path, via }
    }

    /// Appends one record. Each line is one `write` on a file opened for appending, so lines from
    /// concurrent processes never interleave.
    pub fn record(
        &self,
        now: i64,
        action: Action,
        entry: &str,
        entry_id: &str,
        outcome: Result<(), Code>,
    ) -> Result<(), Failure> {
        let rec = AuditRecord {
            time: rfc3339(now),
            action,
            entry: entry.to_string(),
            entry_id: entry_id.to_string(),
            via: self.via.to_string(),
            outcome: match outcome {
                Ok(()) => "ok".to_string(),
                Err(code) => code.as_str().to_string(),
            },
        };
        let mut line = serde_json::to_vec(&rec).expect("audit record encodes");
        line.push(b'\n');
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true).read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&self.path)
            .map_err(|e| storage_failure(&self.path, e))?;
        // A crash may have left a torn last line; start on a fresh line so this record parses.
        if ends_without_newline(&mut file) {
            line.insert(0, b'\n');
        }
        file.write_all(&line)
            .map_err(|e| storage_failure(&self.path, e))
    }

    /// The records, oldest first. Lines that do not parse (a torn last line after a crash) are
    /// skipped and counted.
    pub fn read(&self) -> Result<(Vec<AuditRecord>, usize), Failure> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => return Err(storage_failure(&self.path, e)),
        };
        let mut bad = 0;
        let records = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| match serde_json::from_str(l) {
                Ok(r) => Some(r),
                Err(_) => {
                    bad += 1;
                    None
                }
            })
            .collect();
        Ok((records, bad))
    }
}

fn ends_without_newline(file: &mut std::fs::File) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(len) = file.seek(SeekFrom::End(0)) else {
        return false;
    };
    if len == 0 || file.seek(SeekFrom::End(-1)).is_err() {
        return false;
    }
    let mut last = [0u8; 1];
    file.read_exact(&mut last).is_ok() && last[0] != b'\n'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.jsonl"), "cli");
        log.record(0, Action::Added, "Thunderbird", "id1", Ok(()))
            .unwrap();
        log.record(
            60,
            Action::Copied,
            "Thunderbird",
            "id1",
            Err(Code::KeyringLocked),
        )
        .unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("audit.jsonl"))
            .unwrap()
            .write_all(b"{\"torn")
            .unwrap();
        log.record(120, Action::Removed, "Thunderbird", "id1", Ok(()))
            .unwrap();
        let (records, bad) = log.read().unwrap();
        assert_eq!(bad, 1);
        assert_eq!(records.len(), 3, "a record after a torn line still parses");
        assert_eq!(records[0].time, "1970-01-01T00:00:00Z");
        assert_eq!(records[1].action, Action::Copied);
        assert_eq!(records[1].outcome, "KeyringLocked");
        assert_eq!(records[1].via, "cli");
    }
}
