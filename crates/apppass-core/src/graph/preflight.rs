//! Preflight, shown before the user creates anything: can Microsoft app passwords work for this
//! account, and which protocols still accept them today.
//!
//! - Per-user MFA must be *enforced* for app passwords (providers.md §1.2). The state comes from
//!   Graph beta `GET /beta/me/authentication/requirements` (§2.4), which needs Policy.Read.All and,
//!   per Microsoft, a Global Reader or Authentication Policy Administrator role: an ordinary
//!   employee usually gets 403, and the state is then `unknown`, with why.
//! - Per protocol (Exchange Online IMAP, POP, SMTP AUTH), the statement in force on the injected
//!   clock's date, from `catalog/preflight.toml` (§4), with its source and checked date.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::client::{GraphClient, GraphConfig, TokenSource};
use crate::catalog::facts::{self, Accepts, AppPasswords};
use crate::catalog::Sourced;
use crate::error::{Code, Failure};
use crate::signin::{Deps, SignIn};

/// The catalog provider whose facts apply to Graph accounts.
pub const PROVIDER: &str = "microsoft365";

/// The per-user MFA state (Graph beta `perUserMfaState`), or unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum PerUserMfaState {
    Enforced,
    Enabled,
    Disabled,
    Unknown,
}

impl PerUserMfaState {
    fn key(self) -> &'static str {
        match self {
            PerUserMfaState::Enforced => "enforced",
            PerUserMfaState::Enabled => "enabled",
            PerUserMfaState::Disabled => "disabled",
            PerUserMfaState::Unknown => "unknown",
        }
    }
}

/// Whether one protocol accepts passwords on the preflight's date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ProtocolStatus {
    pub service: String,
    pub protocol: String,
    pub accepts: Accepts,
    /// The day the statement in force took effect (YYYY-MM-DD), when one applies.
    pub since: Option<String>,
    /// The statement, with its source and the date it was checked.
    pub statement: Sourced<String>,
}

/// Can app passwords work for this account, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Preflight {
    /// The catalog provider the facts are about.
    pub provider: String,
    /// The day the statements are for (YYYY-MM-DD, from the clock).
    pub date: String,
    pub per_user_mfa: PerUserMfaState,
    /// Why the per-user MFA state is unknown (e.g. `GraphAccessDenied`: a privileged role is
    /// needed to read it), and what to do.
    pub per_user_mfa_unknown: Option<Failure>,
    /// Whether app passwords can be created, as far as the per-user MFA state tells.
    pub app_passwords: AppPasswords,
    /// Why, with its source and date.
    pub app_passwords_statement: Sourced<String>,
    pub protocols: Vec<ProtocolStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Requirements {
    per_user_mfa_state: String,
}

/// The preflight for the account signed in with `signin`. Never fails because Graph could not be
/// read: the per-user state is then `unknown`, with the failure as the reason.
pub async fn preflight(
    signin: &SignIn,
    config: &GraphConfig,
    deps: &Deps,
) -> Result<Preflight, Failure> {
    match super::signed_in_account(signin) {
        Ok(_) => preflight_with(signin, config, deps).await,
        Err(f) => Ok(build(
            PerUserMfaState::Unknown,
            Some(f),
            &today(deps.clock.now()),
        )),
    }
}

/// [`preflight()`] with any token source.
pub async fn preflight_with(
    tokens: &dyn TokenSource,
    config: &GraphConfig,
    deps: &Deps,
) -> Result<Preflight, Failure> {
    let date = today(deps.clock.now());
    let client = GraphClient::new(config, deps, tokens);
    let path = "/beta/me/authentication/requirements";
    let (state, why) = match client.get::<Requirements>(path).await {
        Ok(r) => match r.per_user_mfa_state.as_str() {
            "enforced" => (PerUserMfaState::Enforced, None),
            "enabled" => (PerUserMfaState::Enabled, None),
            "disabled" => (PerUserMfaState::Disabled, None),
            other => (
                PerUserMfaState::Unknown,
                Some(Failure::new(
                    Code::ProtocolError,
                    format!("Microsoft Graph reported a per-user MFA state apppass does not know ({other:?}). Ask IT whether per-user MFA is enforced for you."),
                )),
            ),
        },
        Err(f) if f.code == Code::GraphAccessDenied => (
            PerUserMfaState::Unknown,
            Some(Failure::new(
                Code::GraphAccessDenied,
                "Your account may not read its per-user MFA state: Microsoft requires the Policy.Read.All permission and a Global Reader or Authentication Policy Administrator role for it. Ask IT whether per-user MFA is enforced for you.",
            )),
        ),
        Err(f) if matches!(f.code, Code::InvalidInput | Code::Internal) => return Err(f),
        Err(f) => (PerUserMfaState::Unknown, Some(f)),
    };
    Ok(build(state, why, &date))
}

/// YYYY-MM-DD (UTC) of a Unix time.
pub fn today(now: i64) -> String {
    crate::clock::rfc3339(now)[..10].to_string()
}

/// The preflight for a known per-user state on `date` (YYYY-MM-DD): the statements from the
/// catalog's facts.
pub fn build(state: PerUserMfaState, unknown_because: Option<Failure>, date: &str) -> Preflight {
    let facts = facts::facts();
    let fact = facts
        .per_user_mfa(PROVIDER, state.key())
        .or_else(|| facts.per_user_mfa(PROVIDER, "unknown"))
        .expect("preflight.toml has every per-user MFA state (tested)");
    let protocols = facts
        .protocols(PROVIDER)
        .map(|p| match p.on(date) {
            Some(phase) => ProtocolStatus {
                service: p.service.clone(),
                protocol: p.protocol.clone(),
                accepts: phase.accepts,
                since: Some(phase.from.clone()),
                statement: Sourced {
                    value: phase.text.clone(),
                    source: phase.source.clone(),
                    checked: phase.checked.clone(),
                },
            },
            None => {
                let first = &p.phase[0];
                ProtocolStatus {
                    service: p.service.clone(),
                    protocol: p.protocol.clone(),
                    accepts: Accepts::Unknown,
                    since: None,
                    statement: Sourced {
                        value: format!("apppass has no statement for {} on {date}.", p.protocol),
                        source: first.source.clone(),
                        checked: first.checked.clone(),
                    },
                }
            }
        })
        .collect();
    Preflight {
        provider: PROVIDER.to_string(),
        date: date.to_string(),
        per_user_mfa: state,
        per_user_mfa_unknown: unknown_because,
        app_passwords: fact.app_passwords,
        app_passwords_statement: Sourced {
            value: fact.text.clone(),
            source: fact.source.clone(),
            checked: fact.checked.clone(),
        },
        protocols,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::client::tests::{answer, deps, scripted, Tokens};

    fn accepts(p: &Preflight) -> Vec<(&str, Accepts)> {
        p.protocols
            .iter()
            .map(|s| (s.protocol.as_str(), s.accepts))
            .collect()
    }

    #[test]
    fn before_the_end_of_2026_smtp_auth_still_accepts_passwords() {
        for date in ["2026-11-25", "2026-12-31"] {
            let p = build(PerUserMfaState::Enforced, None, date);
            assert_eq!(
                accepts(&p),
                [
                    ("IMAP", Accepts::No),
                    ("POP", Accepts::No),
                    ("SMTP AUTH", Accepts::Yes)
                ],
                "{date}"
            );
            let smtp = &p.protocols[2];
            assert!(smtp
                .statement
                .value
                .contains("until the end of December 2026"));
            assert!(smtp
                .statement
                .source
                .starts_with("https://techcommunity.microsoft.com/"));
            assert_eq!(smtp.statement.checked, "2026-11-25");
            assert!(p.protocols[0].statement.value.contains("2022"));
        }
    }

    #[test]
    fn from_2027_smtp_auth_is_off_by_default() {
        let p = build(PerUserMfaState::Enforced, None, "2027-01-01");
        assert_eq!(p.protocols[2].accepts, Accepts::OffByDefault);
        assert_eq!(p.protocols[2].since.as_deref(), Some("2027-01-01"));
        assert!(p.protocols[2]
            .statement
            .value
            .starts_with("Since the end of December 2026"));
        assert_eq!(p.protocols[0].accepts, Accepts::No);
    }

    #[test]
    fn the_date_comes_from_the_clock() {
        // 2026-12-31T23:59:59Z and one second later.
        assert_eq!(today(1_798_761_599), "2026-12-31");
        assert_eq!(today(1_798_761_600), "2027-01-01");
    }

    #[test]
    fn per_user_state_decides_app_passwords() {
        let cases = [
            (PerUserMfaState::Enforced, AppPasswords::Possible),
            (PerUserMfaState::Enabled, AppPasswords::NotYet),
            (PerUserMfaState::Disabled, AppPasswords::No),
            (PerUserMfaState::Unknown, AppPasswords::Unknown),
        ];
        for (state, expected) in cases {
            let p = build(state, None, "2026-11-25");
            assert_eq!(p.app_passwords, expected, "{state:?}");
            assert!(p
                .app_passwords_statement
                .source
                .starts_with("https://learn.microsoft.com/"));
        }
    }

    async fn run(
        answers: Vec<Result<crate::signin::http::HttpResponse, crate::signin::NetError>>,
    ) -> Preflight {
        let (http, seen) = scripted(answers);
        let (deps, _) = deps(http, 1_795_626_278);
        let config = GraphConfig::with_base_url("https://graph.example.test");
        let p = preflight_with(&Tokens::default(), &config, &deps)
            .await
            .unwrap();
        assert_eq!(
            seen.lock().unwrap()[0].uri(),
            "https://graph.example.test/beta/me/authentication/requirements"
        );
        p
    }

    #[tokio::test]
    async fn reads_the_documented_requirements_answer() {
        let p = run(vec![Ok(answer(
            200,
            &[],
            include_str!("../../../../tests/harness/graph/fixtures/requirements-enforced.json"),
        ))])
        .await;
        assert_eq!(p.per_user_mfa, PerUserMfaState::Enforced);
        assert_eq!(p.date, "2026-11-25");
        assert!(p.per_user_mfa_unknown.is_none());
    }

    #[tokio::test]
    async fn forbidden_or_offline_is_unknown_with_why() {
        let p = run(vec![Ok(answer(
            403,
            &[],
            r#"{"error":{"code":"accessDenied","message":"m"}}"#,
        ))])
        .await;
        assert_eq!(p.per_user_mfa, PerUserMfaState::Unknown);
        let why = p.per_user_mfa_unknown.unwrap();
        assert_eq!(why.code, Code::GraphAccessDenied);
        assert!(why.message.contains("Global Reader"), "{}", why.message);
        assert_eq!(p.protocols.len(), 3);

        let p = run(vec![Err(crate::signin::NetError::Offline {
            host: "graph.example.test".into(),
            detail: "refused".into(),
        })])
        .await;
        assert_eq!(p.per_user_mfa_unknown.unwrap().code, Code::Offline);

        let p = run(vec![Ok(answer(
            200,
            &[],
            r#"{"perUserMfaState": "unknownFutureValue"}"#,
        ))])
        .await;
        assert_eq!(p.per_user_mfa, PerUserMfaState::Unknown);
        assert_eq!(p.per_user_mfa_unknown.unwrap().code, Code::ProtocolError);
    }
}
