//! Health of the vault: passwords due for rotation, the same password under several names (by
//! keyed fingerprint, never a plain hash), and entries never used.

use serde::Serialize;
use ts_rs::TS;

use super::Entry;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct StaleEntry {
    pub name: String,
    pub age_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct HealthReport {
    pub rotation_days: u32,
    /// Entries whose password was set longer ago than the rotation period, oldest first.
    pub stale: Vec<StaleEntry>,
    /// Groups of entry names that hold the same password.
    pub duplicates: Vec<Vec<String>>,
    /// Entries whose password was never read since it was stored.
    pub never_used: Vec<String>,
    pub unused_days: u32,
    /// Bridge clients that have not signed in through the bridge for `unused_days` or more
    /// (counted from their creation when they never did): candidates for `bridge rm`.
    pub unused_bridge: Vec<StaleEntry>,
}

impl HealthReport {
    pub fn is_healthy(&self) -> bool {
        self.stale.is_empty()
            && self.duplicates.is_empty()
            && self.never_used.is_empty()
            && self.unused_bridge.is_empty()
    }
}

pub(super) fn report(
    entries: &[Entry],
    fingerprints: &[(String, String)],
    rotation_days: u32,
    unused_days: u32,
    now: i64,
) -> HealthReport {
    let mut stale: Vec<StaleEntry> = entries
        .iter()
        .filter_map(|e| {
            let age_days = ((now - e.secret_set_at()).max(0) / 86_400) as u32;
            (age_days >= rotation_days).then(|| StaleEntry {
                name: e.name.clone(),
                age_days,
            })
        })
        .collect();
    stale.sort_by(|a, b| {
        b.age_days
            .cmp(&a.age_days)
            .then_with(|| a.name.cmp(&b.name))
    });

    let name_of = |id: &str| entries.iter().find(|e| e.id == id).map(|e| e.name.clone());
    let mut by_fp: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for (id, fp) in fingerprints {
        if let Some(name) = name_of(id) {
            by_fp.entry(fp.as_str()).or_default().push(name);
        }
    }
    let mut duplicates: Vec<Vec<String>> = by_fp
        .into_values()
        .filter(|names| names.len() > 1)
        .map(|mut names| {
            names.sort();
            names
        })
        .collect();
    duplicates.sort();

    let never_used = entries
        .iter()
        .filter(|e| e.last_used.is_none())
        .map(|e| e.name.clone())
        .collect();
    let mut unused_bridge: Vec<StaleEntry> = entries
        .iter()
        .filter(|e| e.kind == super::EntryKind::Bridge)
        .filter_map(|e| {
            let since = e.last_used.unwrap_or(e.created);
            let age_days = ((now - since).max(0) / 86_400) as u32;
            (age_days >= unused_days).then(|| StaleEntry {
                name: e.name.clone(),
                age_days,
            })
        })
        .collect();
    unused_bridge.sort_by(|a, b| {
        b.age_days
            .cmp(&a.age_days)
            .then_with(|| a.name.cmp(&b.name))
    });
    HealthReport {
        rotation_days,
        stale,
        duplicates,
        never_used,
        unused_days,
        unused_bridge,
    }
}
