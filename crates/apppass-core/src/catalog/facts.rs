//! Preflight facts as data (`preflight.toml`): what the per-user MFA state means for app
//! passwords, and, per protocol, whether a service still accepts passwords on a given date. Every
//! statement carries its source and the date it was checked; the code selects statements by
//! provider, state and date, and never words a fact itself.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::Protocol;

/// Can app passwords work, as far as one fact says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AppPasswords {
    /// The account meets this requirement (others, such as the admin setting, may still apply).
    Possible,
    /// Not yet: the account reaches the requirement once it registers a method.
    NotYet,
    No,
    Unknown,
}

/// Whether a protocol accepts passwords (and so app passwords) on the day asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Accepts {
    Yes,
    No,
    /// Off unless an administrator turns it on.
    OffByDefault,
    /// No statement covers that day.
    Unknown,
}

/// A per-user MFA state's meaning for app passwords.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerUserMfaFact {
    pub provider: String,
    /// `enforced`, `enabled`, `disabled` (Graph's `perUserMfaState`) or `unknown`.
    pub state: String,
    pub app_passwords: AppPasswords,
    pub text: String,
    pub source: String,
    pub checked: String,
}

/// One period of a protocol's password acceptance, from `from` until the next phase.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub from: String,
    pub accepts: Accepts,
    pub text: String,
    pub source: String,
    pub checked: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolFacts {
    pub provider: String,
    pub service: String,
    /// How the statement names the protocol ("IMAP", "SMTP AUTH").
    pub protocol: String,
    /// The protocol a mail client speaks for it.
    pub uses: Protocol,
    pub phase: Vec<Phase>,
}

/// A condition shown with a provider (and, if `uses` is set, only with that protocol).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub provider: String,
    #[serde(default)]
    pub uses: Option<Protocol>,
    pub text: String,
    pub source: String,
    pub checked: String,
}

impl ProtocolFacts {
    /// The phase in force on `date` (YYYY-MM-DD): the last one that started on or before it.
    pub fn on(&self, date: &str) -> Option<&Phase> {
        self.phase.iter().rev().find(|p| p.from.as_str() <= date)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    pub per_user_mfa: Vec<PerUserMfaFact>,
    pub protocol: Vec<ProtocolFacts>,
    #[serde(default)]
    pub note: Vec<Note>,
}

impl Facts {
    pub fn per_user_mfa(&self, provider: &str, state: &str) -> Option<&PerUserMfaFact> {
        self.per_user_mfa
            .iter()
            .find(|f| f.provider == provider && f.state == state)
    }

    pub fn protocols(&self, provider: &str) -> impl Iterator<Item = &ProtocolFacts> {
        let provider = provider.to_string();
        self.protocol.iter().filter(move |p| p.provider == provider)
    }

    /// The statements about `protocol` at `provider` (none: unknown).
    pub fn protocol(&self, provider: &str, protocol: Protocol) -> Option<&ProtocolFacts> {
        self.protocol
            .iter()
            .find(|p| p.provider == provider && p.uses == protocol)
    }

    /// The conditions for `protocol` at `provider`, and those for the provider as a whole.
    pub fn notes(&self, provider: &str, protocol: Option<Protocol>) -> Vec<&Note> {
        self.note
            .iter()
            .filter(|n| n.provider == provider && n.uses == protocol)
            .collect()
    }
}

const PREFLIGHT_TOML: &str = include_str!("preflight.toml");

pub(crate) fn parse(text: &str) -> Result<Facts, String> {
    let facts: Facts = toml::from_str(text).map_err(|e| e.to_string())?;
    let known = |id: &str| super::providers().iter().any(|p| p.id == id);
    let sourced = |what: &str, source: &str, checked: &str| -> Result<(), String> {
        if !source.starts_with("https://") {
            return Err(format!("{what}: source {source:?} is not an https URL"));
        }
        if !super::is_date(checked) {
            return Err(format!("{what}: `checked` must be YYYY-MM-DD"));
        }
        Ok(())
    };
    let mut seen = std::collections::HashSet::new();
    for f in &facts.per_user_mfa {
        let what = format!("per_user_mfa {}/{}", f.provider, f.state);
        if !known(&f.provider) {
            return Err(format!("{what}: unknown provider"));
        }
        if !["enforced", "enabled", "disabled", "unknown"].contains(&f.state.as_str()) {
            return Err(format!("{what}: unknown state"));
        }
        if !seen.insert((f.provider.clone(), f.state.clone())) {
            return Err(format!("{what}: appears twice"));
        }
        sourced(&what, &f.source, &f.checked)?;
    }
    let mut seen_uses = std::collections::HashSet::new();
    for p in &facts.protocol {
        let what = format!("protocol {}/{}", p.provider, p.protocol);
        if !known(&p.provider) {
            return Err(format!("{what}: unknown provider"));
        }
        if !seen_uses.insert((p.provider.clone(), p.uses)) {
            return Err(format!(
                "{what}: a second statement for {}",
                p.uses.as_str()
            ));
        }
        if p.phase.is_empty() {
            return Err(format!("{what}: no phase"));
        }
        for (i, phase) in p.phase.iter().enumerate() {
            if !super::is_date(&phase.from) {
                return Err(format!("{what}: phase `from` must be YYYY-MM-DD"));
            }
            if i > 0 && p.phase[i - 1].from >= phase.from {
                return Err(format!("{what}: phases must be in date order"));
            }
            if phase.accepts == Accepts::Unknown {
                return Err(format!("{what}: a phase states what is accepted"));
            }
            sourced(&what, &phase.source, &phase.checked)?;
        }
    }
    for n in &facts.note {
        let what = format!("note {}", n.provider);
        if !known(&n.provider) {
            return Err(format!("{what}: unknown provider"));
        }
        if n.text.trim().is_empty() {
            return Err(format!("{what}: no text"));
        }
        sourced(&what, &n.source, &n.checked)?;
    }
    Ok(facts)
}

/// The preflight facts.
pub fn facts() -> &'static Facts {
    static FACTS: OnceLock<Facts> = OnceLock::new();
    FACTS.get_or_init(|| parse(PREFLIGHT_TOML).expect("preflight.toml is checked by tests"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflight_toml_follows_the_schema() {
        let facts = parse(PREFLIGHT_TOML).unwrap();
        for state in ["enforced", "enabled", "disabled", "unknown"] {
            assert!(
                facts.per_user_mfa("microsoft365", state).is_some(),
                "no fact for per-user MFA state {state}"
            );
        }
        let protocols: Vec<&str> = facts
            .protocols("microsoft365")
            .map(|p| p.protocol.as_str())
            .collect();
        assert_eq!(protocols, ["IMAP", "POP", "SMTP AUTH"]);
        // Every provider with mail servers has a statement for each of its protocols, and no
        // statement exists for a protocol the provider has no server for.
        for p in super::super::providers() {
            for proto in Protocol::ALL {
                let server = p.servers.get(proto).is_some();
                let stated = facts.protocol(&p.id, proto).is_some();
                if p.id == "mailbox_org" && proto == Protocol::Pop {
                    // mailbox.org's page names IMAP and SMTP for app passwords, not POP.
                    assert!(server && !stated);
                    continue;
                }
                if p.id == "microsoft365" {
                    assert!(stated, "{}", proto.as_str());
                    continue;
                }
                assert_eq!(server, stated, "{} {}", p.id, proto.as_str());
            }
        }
    }

    #[test]
    fn a_second_statement_for_one_protocol_is_refused() {
        let twice = format!(
            "{PREFLIGHT_TOML}\n[[protocol]]\nprovider = \"google\"\nservice = \"S\"\nprotocol = \"IMAP\"\nuses = \"imap\"\n[[protocol.phase]]\nfrom = \"2026-01-01\"\naccepts = \"yes\"\ntext = \"t\"\nsource = \"https://example.test/\"\nchecked = \"2026-11-25\"\n"
        );
        assert!(parse(&twice).unwrap_err().contains("second statement"));
        let bad_note = format!(
            "{PREFLIGHT_TOML}\n[[note]]\nprovider = \"google\"\ntext = \"t\"\nsource = \"http://example.test/\"\nchecked = \"2026-11-25\"\n"
        );
        assert!(parse(&bad_note).is_err());
    }

    #[test]
    fn schema_refuses_unsourced_undated_or_unordered_facts() {
        let ok = r#"
[[per_user_mfa]]
provider = "microsoft365"
state = "enforced"
app_passwords = "possible"
text = "t"
source = "https://example.test/a"
checked = "2026-11-25"

[[protocol]]
provider = "microsoft365"
service = "S"
protocol = "P"
uses = "imap"
[[protocol.phase]]
from = "2022-10-01"
accepts = "no"
text = "t"
source = "https://example.test/b"
checked = "2026-11-25"
"#;
        parse(ok).unwrap();
        for (from, to) in [
            ("source = \"https://example.test/a\"", ""),
            (
                "source = \"https://example.test/b\"",
                "source = \"http://example.test/b\"",
            ),
            (
                "checked = \"2026-11-25\"\n\n",
                "checked = \"25.11.2026\"\n\n",
            ),
            ("state = \"enforced\"", "state = \"maybe\""),
            (
                "provider = \"microsoft365\"\nservice",
                "provider = \"nobody\"\nservice",
            ),
            ("accepts = \"no\"", "accepts = \"unknown\""),
            ("accepts = \"no\"", "accepts = \"no\"\nextra = 1"),
            ("uses = \"imap\"", "uses = \"jmap\""),
            ("uses = \"imap\"\n", ""),
        ] {
            let bad = ok.replacen(from, to, 1);
            assert_ne!(bad, ok, "{from}");
            assert!(parse(&bad).is_err(), "accepted: {from} -> {to}");
        }
        let unordered = format!("{ok}[[protocol.phase]]\nfrom = \"2020-01-01\"\naccepts = \"yes\"\ntext = \"t\"\nsource = \"https://example.test/c\"\nchecked = \"2026-11-25\"\n");
        assert!(parse(&unordered).unwrap_err().contains("date order"));
    }

    #[test]
    fn phase_in_force_follows_the_date() {
        let smtp = facts()
            .protocols("microsoft365")
            .find(|p| p.protocol == "SMTP AUTH")
            .unwrap();
        assert_eq!(smtp.on("2026-11-25").unwrap().accepts, Accepts::Yes);
        assert_eq!(smtp.on("2026-12-31").unwrap().accepts, Accepts::Yes);
        assert_eq!(
            smtp.on("2027-01-01").unwrap().accepts,
            Accepts::OffByDefault
        );
        assert!(smtp.on("2019-01-01").is_none());
    }
}
