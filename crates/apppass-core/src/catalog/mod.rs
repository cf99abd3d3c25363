//! Providers as data: names, where to create an app password, and the password's format.
//!
//! The facts live in `providers.toml`, each with its source and the date it was checked; this
//! module parses them once and offers look-ups and the paste normaliser ([`normalise`]).

pub mod facts;
mod format;
pub mod servers;

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Code, Failure};

pub use format::{normalise, FormatProblem, PasswordFormat};
pub use servers::{endpoints, Endpoint, Protocol};

/// Where a fact came from and when it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Sourced<T> {
    pub value: T,
    pub source: String,
    pub checked: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimit {
    count: u32,
    source: String,
    checked: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    id: String,
    name: String,
    steps: String,
    #[serde(default)]
    app_password_url: Option<String>,
    #[serde(default)]
    help_url: Option<String>,
    source: String,
    checked: String,
    #[serde(default)]
    limit: Option<RawLimit>,
    format: PasswordFormat,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    provider: Vec<RawProvider>,
}

/// A provider as the UI and CLI see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Provider {
    pub id: String,
    pub name: String,
    /// How to get there, in the provider's own words, with its source.
    pub steps: Sourced<String>,
    /// The page where app passwords are created and deleted, when the provider documents one.
    pub app_password_url: Option<String>,
    /// The provider's help page on app passwords.
    pub help_url: Option<String>,
    /// How many app passwords the provider allows, when documented.
    pub limit: Option<Sourced<u32>>,
    #[serde(skip)]
    #[ts(skip)]
    pub format: PasswordFormat,
}

impl Provider {
    /// The page to send a user to for creating or deleting this provider's app passwords.
    pub fn manage_url(&self) -> Option<&str> {
        self.app_password_url
            .as_deref()
            .or(self.help_url.as_deref())
    }
}

const PROVIDERS_TOML: &str = include_str!("providers.toml");

fn parse(text: &str) -> Result<Vec<Provider>, String> {
    let raw: RawCatalog = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(raw.provider.len());
    for p in raw.provider {
        if !seen.insert(p.id.clone()) {
            return Err(format!("provider id {:?} appears twice", p.id));
        }
        if !is_date(&p.checked) || !is_date(p.format.checked()) {
            return Err(format!("provider {:?}: `checked` must be YYYY-MM-DD", p.id));
        }
        for url in [&p.app_password_url, &p.help_url].into_iter().flatten() {
            if !url.starts_with("https://") {
                return Err(format!("provider {:?}: URL {url:?} is not https", p.id));
            }
        }
        p.format
            .check()
            .map_err(|e| format!("provider {:?}: {e}", p.id))?;
        out.push(Provider {
            steps: Sourced {
                value: p.steps,
                source: p.source,
                checked: p.checked,
            },
            limit: p.limit.map(|l| Sourced {
                value: l.count,
                source: l.source,
                checked: l.checked,
            }),
            id: p.id,
            name: p.name,
            app_password_url: p.app_password_url,
            help_url: p.help_url,
            format: p.format,
        });
    }
    Ok(out)
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// All providers, in catalog order.
pub fn providers() -> &'static [Provider] {
    static CATALOG: OnceLock<Vec<Provider>> = OnceLock::new();
    CATALOG.get_or_init(|| parse(PROVIDERS_TOML).expect("providers.toml is checked by tests"))
}

/// The provider with this id, or an `UnknownProvider` failure listing the known ids.
pub fn provider(id: &str) -> Result<&'static Provider, Failure> {
    providers().iter().find(|p| p.id == id).ok_or_else(|| {
        let known: Vec<&str> = providers().iter().map(|p| p.id.as_str()).collect();
        Failure::new(
            Code::UnknownProvider,
            format!("Unknown provider {id:?}. Use one of: {}.", known.join(", ")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_parses_and_every_fact_is_sourced_and_dated() {
        let all = providers();
        assert!(all.len() >= 12);
        for p in all {
            assert!(!p.steps.source.is_empty(), "{} has no source", p.id);
            assert!(is_date(&p.steps.checked));
            if let Some(l) = &p.limit {
                assert!(l.source.starts_with("https://"));
            }
        }
        for id in ["microsoft365", "google", "icloud", "nextcloud", "custom"] {
            assert!(provider(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn unknown_provider_lists_the_known_ones() {
        let err = provider("hotmale").unwrap_err();
        assert_eq!(err.code, Code::UnknownProvider);
        assert!(err.message.contains("google"));
    }

    #[test]
    fn schema_errors_are_caught() {
        let dup = format!(
            "{PROVIDERS_TOML}\n{}",
            &PROVIDERS_TOML[PROVIDERS_TOML.find("[[provider]]").unwrap()..]
        );
        assert!(parse(&dup).unwrap_err().contains("twice"));
        let bad_date =
            PROVIDERS_TOML.replacen("checked = \"2026-11-25\"", "checked = \"yesterday\"", 1);
        assert!(parse(&bad_date).is_err());
        let http = PROVIDERS_TOML.replacen("https://mysignins", "http://mysignins", 1);
        assert!(parse(&http).unwrap_err().contains("not https"));
        assert!(parse("[[provider]]\nid = \"x\"\nunknown = 1\n").is_err());
    }
}
