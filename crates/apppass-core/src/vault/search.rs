//! Search over entries: case-insensitive, over name, client, provider (id and name) and account.
//!
//! Each whitespace-separated term must match some field. A term ranks 0 where a field starts with
//! it, 1 where a word inside a field starts with it, 2 where it occurs anywhere; an entry's rank is
//! the sum over terms, and results come best rank first, then by name. The index keeps lowered
//! copies of the fields, so a query over 10,000 entries is a linear scan of short strings.

use super::Entry;
use crate::catalog;
use crate::wire::SearchPage;

/// The active entries (by name) and their index, as read at one database version.
pub(super) struct SearchCache {
    pub version: (i64, u64),
    entries: Vec<Entry>,
    index: SearchIndex,
}

impl SearchCache {
    pub fn new(version: (i64, u64), entries: Vec<Entry>) -> SearchCache {
        let index = SearchIndex::new(&entries);
        SearchCache {
            version,
            entries,
            index,
        }
    }

    /// The first `limit` matches and their count; a blank query lists every entry by name (the
    /// database's order, as [`super::Vault::list`]).
    pub fn page(&self, query: &str, limit: usize) -> SearchPage {
        if query.trim().is_empty() {
            return SearchPage {
                entries: self.entries.iter().take(limit).cloned().collect(),
                total: count(self.entries.len()),
            };
        }
        let hits = self.index.query(query);
        SearchPage {
            entries: hits
                .iter()
                .take(limit)
                .map(|&i| self.entries[i].clone())
                .collect(),
            total: count(hits.len()),
        }
    }
}

pub struct SearchIndex {
    /// Per entry: lowered name, client, provider id, provider name, account.
    fields: Vec<[String; 5]>,
    order: Vec<String>,
}

impl SearchIndex {
    pub fn new(entries: &[Entry]) -> SearchIndex {
        let fields = entries
            .iter()
            .map(|e| {
                let provider_name = catalog::provider(&e.provider)
                    .map(|p| p.name.to_lowercase())
                    .unwrap_or_default();
                [
                    e.name.to_lowercase(),
                    e.client.to_lowercase(),
                    e.provider.to_lowercase(),
                    provider_name,
                    e.account.to_lowercase(),
                ]
            })
            .collect();
        let order = entries.iter().map(|e| e.name.to_lowercase()).collect();
        SearchIndex { fields, order }
    }

    /// Indexes into the entries given to [`SearchIndex::new`], best match first. An empty query
    /// matches everything, by name.
    pub fn query(&self, query: &str) -> Vec<usize> {
        let lowered = query.to_lowercase();
        let terms: Vec<&str> = lowered.split_whitespace().collect();
        let mut hits: Vec<(u32, usize)> = self
            .fields
            .iter()
            .enumerate()
            .filter_map(|(i, fields)| {
                let mut total = 0;
                for term in &terms {
                    total += fields.iter().filter_map(|f| rank(f, term)).min()?;
                }
                Some((total, i))
            })
            .collect();
        hits.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| self.order[a.1].cmp(&self.order[b.1]))
        });
        hits.into_iter().map(|(_, i)| i).collect()
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn rank(field: &str, term: &str) -> Option<u32> {
    if field.starts_with(term) {
        return Some(0);
    }
    let mut best = None;
    for (pos, _) in field.match_indices(term) {
        let before = field[..pos].chars().next_back();
        if before.is_some_and(|c| !c.is_alphanumeric()) {
            return Some(1);
        }
        best = Some(2);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::EntryKind;

    fn entry(name: &str, client: &str, provider: &str, account: &str) -> Entry {
        Entry {
            id: name.to_string(),
            name: name.to_string(),
            provider: provider.to_string(),
            account: account.to_string(),
            client: client.to_string(),
            kind: EntryKind::AppPassword,
            created: 0,
            rotated: None,
            last_used: None,
            notes: String::new(),
            servers: None,
        }
    }

    fn names(entries: &[Entry], q: &str) -> Vec<String> {
        SearchIndex::new(entries)
            .query(q)
            .into_iter()
            .map(|i| entries[i].name.clone())
            .collect()
    }

    #[test]
    fn prefix_matches_come_first_and_case_is_ignored() {
        let entries = vec![
            entry(
                "Work printer",
                "printer",
                "microsoft365",
                "scan@corp.example",
            ),
            entry(
                "Thunderbird on laptop",
                "thunderbird",
                "google",
                "ann@gmail.com",
            ),
            entry("My Thunderbird", "thunderbird", "icloud", "ann@icloud.com"),
            entry("Outlook", "outlook", "microsoft365", "ann@corp.example"),
        ];
        // Both start with the term in some field (name or client): equal rank, then by name.
        assert_eq!(
            names(&entries, "THUNDER"),
            vec!["My Thunderbird", "Thunderbird on laptop"]
        );
        // A field that starts with the term beats a word inside a field.
        assert_eq!(
            names(&entries, "ann"),
            vec!["My Thunderbird", "Outlook", "Thunderbird on laptop"]
        );
        assert_eq!(names(&entries, "laptop"), vec!["Thunderbird on laptop"]);
        // The provider's display name is searched too.
        assert_eq!(
            names(&entries, "microsoft"),
            vec!["Outlook", "Work printer"]
        );
        assert_eq!(names(&entries, "corp"), vec!["Outlook", "Work printer"]);
        assert_eq!(names(&entries, "thunder icloud"), vec!["My Thunderbird"]);
        assert_eq!(names(&entries, "nothing-like-this"), Vec::<String>::new());
        assert_eq!(names(&entries, "  ").len(), 4);
        assert_eq!(names(&entries, "")[0], "My Thunderbird");
    }

    #[test]
    fn word_starts_outrank_substrings() {
        let entries = vec![
            entry("Laptop mail", "aerc", "fastmail", "a@x"),
            entry("Old mailer", "aerc", "fastmail", "a@x"),
            entry("Gmail box", "aerc", "fastmail", "a@x"),
            entry("Mailroom", "aerc", "fastmail", "a@x"),
        ];
        assert_eq!(
            names(&entries, "mail"),
            vec!["Mailroom", "Laptop mail", "Old mailer", "Gmail box"]
        );
    }
}
