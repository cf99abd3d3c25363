//! Mail clients as data (`clients.toml`): the protocols each one speaks, its setup steps with
//! placeholders for the entry's servers, the export formats it reads, and sourced statements on
//! whether it can sign in with OAuth instead of an app password.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{is_date, Protocol};
use crate::error::{Code, Failure};
pub use crate::export::ExportFormat;

/// A source's statement that a client signs in to a provider with OAuth (modern authentication).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct OauthStatement {
    pub provider: String,
    pub text: String,
    pub source: String,
    pub checked: String,
}

/// A mail client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct Client {
    pub id: String,
    pub name: String,
    /// Protocols it reads mail with, preferred first (one is enough); empty for send-only clients.
    pub incoming: Vec<Protocol>,
    /// Protocols it sends with; empty for clients that only read.
    pub outgoing: Vec<Protocol>,
    /// The `apppass export` formats it reads.
    pub exports: Vec<ExportFormat>,
    /// Setup steps with placeholders (see `clients.toml`); [`super::setup`] fills them in.
    pub steps: Vec<String>,
    /// Sourced statements that it can sign in with OAuth; none where no source says so.
    #[serde(default)]
    pub oauth: Vec<OauthStatement>,
}

impl Client {
    /// Every protocol it can use: incoming first, then outgoing.
    pub fn protocols(&self) -> Vec<Protocol> {
        let mut all = self.incoming.clone();
        all.extend(self.outgoing.iter().copied());
        all
    }

    /// The statement that it signs in to `provider` with OAuth, when a source says so.
    pub fn oauth_for(&self, provider: &str) -> Option<&OauthStatement> {
        self.oauth.iter().find(|o| o.provider == provider)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClients {
    client: Vec<Client>,
}

const CLIENTS_TOML: &str = include_str!("clients.toml");

/// The placeholder fields a step may use after `in.`, `imap.`, `smtp.` or `pop.`.
pub(crate) const FIELDS: [&str; 5] = ["protocol", "host", "port", "security", "username"];

/// The placeholders in a step, without braces (`in.host`, `name`).
pub(crate) fn placeholders(step: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = step;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

fn known_placeholder(p: &str) -> bool {
    if p == "name" || p == "account" {
        return true;
    }
    match p.split_once('.') {
        Some((proto, field)) => {
            ["in", "imap", "smtp", "pop"].contains(&proto) && FIELDS.contains(&field)
        }
        None => false,
    }
}

fn parse(text: &str) -> Result<Vec<Client>, String> {
    let raw: RawClients = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut seen = std::collections::HashSet::new();
    for c in &raw.client {
        let what = format!("client {:?}", c.id);
        if !seen.insert(c.id.clone()) {
            return Err(format!("{what} appears twice"));
        }
        if c.id.is_empty()
            || !c
                .id
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
        {
            return Err(format!("{what}: ids are lowercase letters, digits and _"));
        }
        if c.incoming.is_empty() && c.outgoing.is_empty() {
            return Err(format!("{what} uses no protocol"));
        }
        if c.incoming.contains(&Protocol::Smtp) || c.outgoing.iter().any(|p| *p != Protocol::Smtp) {
            return Err(format!("{what}: SMTP sends, IMAP and POP read"));
        }
        if c.steps.is_empty() {
            return Err(format!("{what} has no steps"));
        }
        for step in &c.steps {
            if step.matches('{').count() != step.matches('}').count() {
                return Err(format!("{what}: unbalanced braces in {step:?}"));
            }
            for p in placeholders(step) {
                if !known_placeholder(p) {
                    return Err(format!("{what}: unknown placeholder {{{p}}}"));
                }
                if let Some(("in", _)) = p.split_once('.') {
                    if c.incoming.is_empty() {
                        return Err(format!("{what}: {{{p}}} but no incoming protocol"));
                    }
                }
            }
        }
        for o in &c.oauth {
            if super::providers().iter().all(|p| p.id != o.provider) {
                return Err(format!(
                    "{what}: oauth for unknown provider {:?}",
                    o.provider
                ));
            }
            if !o.source.starts_with("https://") || !is_date(&o.checked) || o.text.is_empty() {
                return Err(format!(
                    "{what}: an oauth statement needs text, an https source and a date"
                ));
            }
        }
    }
    Ok(raw.client)
}

/// All clients, in catalog order.
pub fn clients() -> &'static [Client] {
    static CLIENTS: OnceLock<Vec<Client>> = OnceLock::new();
    CLIENTS.get_or_init(|| parse(CLIENTS_TOML).expect("clients.toml is checked by tests"))
}

/// The client with this id, or an `UnknownClient` failure listing the known ids.
pub fn client(id: &str) -> Result<&'static Client, Failure> {
    clients().iter().find(|c| c.id == id).ok_or_else(|| {
        let known: Vec<&str> = clients().iter().map(|c| c.id.as_str()).collect();
        Failure::new(
            Code::UnknownClient,
            format!(
                "Unknown mail client {id:?}. Use one of: {}.",
                known.join(", ")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_toml_follows_the_schema_and_lists_the_issue_clients() {
        let all = parse(CLIENTS_TOML).unwrap();
        let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "outlook_classic",
                "apple_mail",
                "ios_mail",
                "thunderbird",
                "thunderbird_android",
                "em_client",
                "windows_mail",
                "neomutt",
                "msmtp",
                "mbsync",
                "aerc",
                "printer",
                "other"
            ]
        );
        let printer = client("printer").unwrap();
        assert_eq!(printer.protocols(), [Protocol::Smtp]);
        assert_eq!(client("mbsync").unwrap().protocols(), [Protocol::Imap]);
        assert_eq!(
            client("thunderbird").unwrap().exports,
            [ExportFormat::Thunderbird]
        );
        // Every export format suits at least one named client.
        for f in ExportFormat::ALL {
            assert!(
                all.iter()
                    .any(|c| c.id != "other" && c.exports.contains(&f)),
                "{f:?}"
            );
        }
        // OAuth statements exist only where sourced (none for printers or msmtp).
        assert!(printer.oauth.is_empty());
        assert!(client("thunderbird")
            .unwrap()
            .oauth_for("microsoft365")
            .is_some());
        assert!(client("windows_mail")
            .unwrap()
            .oauth_for("google")
            .is_none());
    }

    #[test]
    fn unknown_client_lists_the_known_ones() {
        let err = client("outlook-2007").unwrap_err();
        assert_eq!(err.code, Code::UnknownClient);
        assert!(err.message.contains("thunderbird"), "{}", err.message);
        assert!(err.message.contains("printer"));
    }

    #[test]
    fn schema_errors_are_caught() {
        let one = "[[client]]\nid = \"x\"\nname = \"X\"\nincoming = [\"imap\"]\noutgoing = [\"smtp\"]\nexports = []\nsteps = [\"{in.host}\"]\n";
        parse(one).unwrap();
        for (from, to) in [
            ("{in.host}", "{in.hostname}"),
            ("{in.host}", "{password}"),
            ("{in.host}", "{in.host"),
            ("incoming = [\"imap\"]", "incoming = []"),
            ("incoming = [\"imap\"]", "incoming = [\"smtp\"]"),
            ("outgoing = [\"smtp\"]", "outgoing = [\"imap\"]"),
            ("id = \"x\"", "id = \"X y\""),
            ("exports = []", "exports = [\"pdf\"]"),
            ("steps = [\"{in.host}\"]", "steps = []"),
            ("exports = []", "exports = []\nextra = 1"),
        ] {
            let bad = one.replacen(from, to, 1);
            assert_ne!(bad, one);
            assert!(parse(&bad).is_err(), "accepted {from} -> {to}");
        }
        assert!(parse(&format!("{one}{one}")).unwrap_err().contains("twice"));
        let oauth = format!("{one}[[client.oauth]]\nprovider = \"google\"\ntext = \"t\"\nsource = \"http://x\"\nchecked = \"2026-11-25\"\n");
        assert!(parse(&oauth).is_err());
    }
}
