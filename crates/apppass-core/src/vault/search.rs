//! Search over entries: case-insensitive, over name, client, provider (id and name) and account.
//!
//! Each whitespace-separated term must match some field. A term ranks 0 where a field starts with
//! it, 1 where a word inside a field starts with it, 2 where it occurs anywhere; an entry's rank is
//! the sum over terms, and results come best rank first, then by name. The index keeps lowered
//! copies of the fields, so a query over 10,000 entries is a linear scan of short strings.

use super::Entry;
use crate::catalog;
use crate::wire::SearchPage;

/// Queries whose hits [`SearchCache`] keeps: about two words typed and taken back.
const RECENT: usize = 12;

/// The active entries (by name) and their index, as read at one database version, and the hits
/// of the last few queries.
pub(super) struct SearchCache {
    pub version: (i64, u64),
    entries: Vec<Entry>,
    index: SearchIndex,
    /// `(key, hits)` of recent queries, oldest first (`key`: see [`query_key`]). Typing goes back
    /// over queries it just made (Backspace), and a query that extends a recent one matches only
    /// among that one's hits: each term of the longer query contains the shorter one's term.
    recent: Vec<(String, Vec<usize>)>,
}

impl SearchCache {
    pub fn new(version: (i64, u64), entries: Vec<Entry>) -> SearchCache {
        let index = SearchIndex::new(&entries);
        SearchCache {
            version,
            entries,
            index,
            recent: Vec::new(),
        }
    }

    /// The first `limit` matches and their count; a blank query lists every entry by name (the
    /// database's order, as [`super::Vault::list`]). The same as [`SearchIndex::query`].
    pub fn page(&mut self, query: &str, limit: usize) -> SearchPage {
        let key = query_key(query);
        if key.is_empty() {
            return SearchPage {
                entries: self.entries.iter().take(limit).cloned().collect(),
                total: count(self.entries.len()),
            };
        }
        let hits = match self.recent.iter().position(|(k, _)| *k == key) {
            Some(at) => self.recent.remove(at).1,
            None => {
                // The longest recent query this one extends, if any: its hits hold all of ours.
                let within = self
                    .recent
                    .iter()
                    .filter(|(k, _)| key.starts_with(k.as_str()))
                    .max_by_key(|(k, _)| k.len())
                    .map(|(_, hits)| hits.as_slice());
                self.index.query_key(&key, within)
            }
        };
        if self.recent.len() == RECENT {
            self.recent.remove(0);
        }
        self.recent.push((key, hits));
        let hits = &self.recent.last().expect("pushed above").1;
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
        self.query_key(&query_key(query), None)
    }

    /// [`SearchIndex::query`] of a [`query_key`], looking only at the entries `within` (indexes,
    /// in any order) when given.
    fn query_key(&self, key: &str, within: Option<&[usize]>) -> Vec<usize> {
        let terms: Vec<&str> = key.split(' ').filter(|t| !t.is_empty()).collect();
        let score = |i: usize| {
            let fields = &self.fields[i];
            let mut total = 0;
            for term in &terms {
                total += fields.iter().filter_map(|f| rank(f, term)).min()?;
            }
            Some((total, i))
        };
        let mut hits: Vec<(u32, usize)> = match within {
            Some(candidates) => candidates.iter().filter_map(|&i| score(i)).collect(),
            None => (0..self.fields.len()).filter_map(score).collect(),
        };
        hits.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| self.order[a.1].cmp(&self.order[b.1]))
        });
        hits.into_iter().map(|(_, i)| i).collect()
    }
}

/// A query as the search sees it: lowered, its terms joined by one space ("" when blank). If one
/// key starts with another, every term of the longer contains the matching term of the shorter
/// (or is an extra term), so its matches are among the shorter one's.
fn query_key(query: &str) -> String {
    query
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
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
    fn kept_hits_give_the_same_pages_as_a_fresh_search() {
        // 600 entries whose numbers share digits, so typing narrows step by step.
        let entries: Vec<Entry> = (0..600)
            .map(|i| {
                entry(
                    &format!("Entry {i:04}"),
                    if i % 3 == 0 { "thunderbird" } else { "msmtp" },
                    if i % 2 == 0 { "google" } else { "fastmail" },
                    &format!("user{}@example.com", i % 97),
                )
            })
            .collect();
        let mut cache = SearchCache::new((0, 0), entries.clone());
        let fresh = SearchIndex::new(&entries);
        let mut queries = Vec::new();
        // Typing and taking back, with spaces, case and a second term; more queries than are kept.
        for word in [
            "0421",
            "Entry 03",
            "THUNDER 1",
            "user4",
            "goo  mail",
            "9",
            "msmtp 05",
        ] {
            for n in 1..=word.len() {
                queries.push(word[..n].to_string());
            }
            for n in (0..word.len()).rev() {
                queries.push(word[..n].to_string());
            }
        }
        queries.extend(["12", "1", "12", "123", "1 2", "1 2 3", " 1 ", "E", "e"].map(String::from));
        for q in &queries {
            let page = cache.page(q, 15);
            let expected: Vec<&str> = fresh
                .query(q)
                .iter()
                .map(|&i| entries[i].name.as_str())
                .collect();
            let got: Vec<&str> = page.entries.iter().map(|e| e.name.as_str()).collect();
            assert_eq!(got, expected[..expected.len().min(15)], "query {q:?}");
            assert_eq!(page.total as usize, expected.len(), "query {q:?}");
        }
        assert!(cache.recent.len() <= RECENT);
    }

    #[test]
    fn a_query_that_extends_a_kept_one_is_matched_among_its_hits() {
        let entries = vec![
            entry("alpha", "aerc", "google", "a@x"),
            entry("alpine", "aerc", "google", "a@x"),
            entry("beta", "aerc", "google", "a@x"),
        ];
        let mut cache = SearchCache::new((0, 0), entries);
        assert_eq!(cache.page("al", 10).total, 2);
        // Plant different hits under "al": a query extending it is matched among them only,
        // which shows where it looked (the real hits of "al" always hold those of "alp").
        cache.recent = vec![("al".to_string(), vec![2, 1])];
        let page = cache.page("alp", 10);
        assert_eq!(
            page.entries
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>(),
            ["alpine"]
        );
        // A query that does not extend it scans everything.
        assert_eq!(cache.page("a", 10).total, 3);
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
