//! Providers and mail clients as data: names, where to create an app password, the password's
//! format, the 2-step requirement, the mail servers, and how each client is set up.
//!
//! The facts live in `providers.toml`, `preflight.toml` and `clients.toml`, each with its source
//! and the date it was checked; this module parses them once and offers look-ups, the paste
//! normaliser ([`normalise`]) and validator ([`validate_paste`]), the provider + client
//! [`preflight`], client [`setup`] and name suggestions ([`suggest_name`]).

mod clients;
pub mod facts;
mod format;
mod naming;
mod paste;
pub mod preflight;
pub mod servers;
mod setup;

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Code, Failure};

pub use clients::{client, clients, Client, ExportFormat, OauthStatement};
pub use format::{normalise, FormatProblem, PasswordFormat};
pub use naming::{device_name, suggest_name};
pub use paste::validate_paste;
pub use servers::{endpoints, Endpoint, Protocol};
pub use setup::{setup, ClientSetup};

use crate::vault::Security;

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

/// What a provider says about 2-step verification (MFA) before app passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum MfaRequirement {
    /// App passwords exist only once 2-step verification is on.
    Required,
    /// App passwords can be created without it.
    NotRequired,
    /// The provider's pages read do not say: apppass cannot confirm either way.
    Unknown,
}

/// The provider's statement on 2-step verification, with its page where documented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct Mfa {
    pub requirement: MfaRequirement,
    /// The provider's statement, in plain words.
    pub text: String,
    /// The page where 2-step verification is set up (or its help page), when documented.
    #[serde(default)]
    pub url: Option<String>,
    pub source: String,
    pub checked: String,
}

/// Which user name a server expects, derived from the entry's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, Default)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum UsernameForm {
    /// The account as entered (the email address).
    #[default]
    Address,
    /// The part of the address before the `@` (iCloud IMAP).
    LocalPart,
}

impl UsernameForm {
    /// The user name for `account` in this form.
    pub fn apply(self, account: &str) -> String {
        match self {
            UsernameForm::Address => account.to_string(),
            UsernameForm::LocalPart => match account.rsplit_once('@') {
                Some((local, _)) if !local.is_empty() => local.to_string(),
                _ => account.to_string(),
            },
        }
    }
}

/// A provider's mail server for one protocol, with its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct CatalogServer {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// Absent in the data when the source does not say: the account as entered.
    #[serde(default)]
    pub username: UsernameForm,
    pub source: String,
    pub checked: String,
}

/// A provider's mail servers; `None` where it has none that takes a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, Default)]
#[ts(export)]
pub struct ProviderServers {
    pub imap: Option<CatalogServer>,
    pub smtp: Option<CatalogServer>,
    pub pop: Option<CatalogServer>,
}

impl ProviderServers {
    pub fn get(&self, protocol: Protocol) -> Option<&CatalogServer> {
        match protocol {
            Protocol::Imap => self.imap.as_ref(),
            Protocol::Smtp => self.smtp.as_ref(),
            Protocol::Pop => self.pop.as_ref(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.imap.is_none() && self.smtp.is_none() && self.pop.is_none()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNote {
    value: String,
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
    #[serde(default)]
    mfa: Option<Mfa>,
    #[serde(default)]
    imap: Option<CatalogServer>,
    #[serde(default)]
    smtp: Option<CatalogServer>,
    #[serde(default)]
    pop: Option<CatalogServer>,
    #[serde(default)]
    servers_note: Option<RawNote>,
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
    /// 2-step verification before app passwords; `None` where apppass has no statement.
    pub mfa: Option<Mfa>,
    /// The provider's mail servers (none for Nextcloud and custom).
    pub servers: ProviderServers,
    /// Where the servers differ (regions, other domains), with its source.
    pub servers_note: Option<Sourced<String>>,
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
        let https = |what: &str, url: &str| -> Result<(), String> {
            if url.starts_with("https://") {
                Ok(())
            } else {
                Err(format!("provider {:?}: {what} {url:?} is not https", p.id))
            }
        };
        if let Some(m) = &p.mfa {
            https("mfa source", &m.source)?;
            if let Some(url) = &m.url {
                https("mfa url", url)?;
            }
            if !is_date(&m.checked) || m.text.trim().is_empty() {
                return Err(format!(
                    "provider {:?}: mfa needs text and a YYYY-MM-DD `checked`",
                    p.id
                ));
            }
        }
        for (proto, server) in [("imap", &p.imap), ("smtp", &p.smtp), ("pop", &p.pop)] {
            if let Some(s) = server {
                https(&format!("{proto} source"), &s.source)?;
                if s.host.trim().is_empty() || s.port == 0 || !is_date(&s.checked) {
                    return Err(format!(
                        "provider {:?}: {proto} needs a host, a port and a YYYY-MM-DD `checked`",
                        p.id
                    ));
                }
            }
        }
        if let Some(n) = &p.servers_note {
            https("servers_note source", &n.source)?;
        }
        if p.id == "custom" && (p.imap.is_some() || p.smtp.is_some() || p.pop.is_some()) {
            return Err("provider \"custom\": its entries carry their own servers".into());
        }
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
            mfa: p.mfa,
            servers: ProviderServers {
                imap: p.imap,
                smtp: p.smtp,
                pop: p.pop,
            },
            servers_note: p.servers_note.map(|n| Sourced {
                value: n.value,
                source: n.source,
                checked: n.checked,
            }),
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
