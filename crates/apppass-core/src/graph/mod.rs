//! MFA status and preflight from Microsoft Graph, for the signed-in work account.
//!
//! - [`mfa_status`]: `GET /v1.0/me` and `GET /v1.0/me/authentication/methods`, mapped to which
//!   strong methods are registered, plus whether this sign-in itself used MFA (`amr` has `mfa`).
//!   When Graph refuses (403: no consent), the status comes back in guided mode: state `unknown`,
//!   and `guided` says why and what to do, so the app and the CLI can carry on without the check.
//! - [`preflight()`]: can Microsoft app passwords work for this account (the per-user MFA state
//!   from Graph beta, where the account may read it), and per protocol whether Exchange Online still
//!   accepts passwords on today's date, each statement with its source and date
//!   (`catalog/preflight.toml`).
//!
//! HTTP, clock and sleep are the sign-in's injected [`Deps`]; tokens come from [`SignIn`] (or any
//! [`TokenSource`]). The error policy is in [`client`].

pub mod client;
pub mod methods;
pub mod preflight;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Code, Failure};
use crate::signin::{Account, Deps, SignIn};

pub use client::{GraphClient, GraphConfig, TokenSource, DEFAULT_BASE_URL};
pub use methods::{Method, MethodKind};
pub use preflight::{preflight, preflight_with, PerUserMfaState, Preflight, ProtocolStatus};

/// The MFA status at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum MfaState {
    /// At least one strong (multifactor) method is registered.
    Registered,
    /// No strong method is registered: the user should add one (Security info).
    NotRegistered,
    /// The live check could not run (see `guided`).
    Unknown,
}

/// The signed-in account's MFA status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct MfaStatus {
    /// The account: Graph's `userPrincipalName`, else the sign-in's username.
    pub username: String,
    pub display_name: Option<String>,
    pub state: MfaState,
    /// The registered methods, strong ones first (empty in guided mode).
    pub methods: Vec<Method>,
    /// Whether this sign-in itself used multifactor authentication (`amr` contains `mfa`).
    pub mfa_used: bool,
    /// The sign-in's authentication methods (`amr`).
    pub amr: Vec<String>,
    /// Set in guided mode: why the live check did not run (`GraphAccessDenied`), and what to do.
    pub guided: Option<Failure>,
    /// Unix seconds.
    pub checked_at: i64,
}

impl MfaStatus {
    pub fn strong_methods(&self) -> impl Iterator<Item = &Method> {
        self.methods.iter().filter(|m| m.strong)
    }
}

/// `GET /me` (default properties; only these are read).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Me {
    #[serde(default)]
    user_principal_name: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
}

pub(crate) fn signed_in_account(signin: &SignIn) -> Result<Account, Failure> {
    signin.account()?.ok_or_else(|| {
        Failure::new(
            Code::SignInRequired,
            "You are not signed in with a work account. Run `apppass login` (or use Sign in in the app).",
        )
    })
}

/// The MFA status of the account signed in with `signin`.
pub async fn mfa_status(
    signin: &SignIn,
    config: &GraphConfig,
    deps: &Deps,
) -> Result<MfaStatus, Failure> {
    let account = signed_in_account(signin)?;
    mfa_status_with(signin, &account, config, deps).await
}

/// [`mfa_status`] with any token source (tests, or a caller that holds its own tokens).
pub async fn mfa_status_with(
    tokens: &dyn TokenSource,
    account: &Account,
    config: &GraphConfig,
    deps: &Deps,
) -> Result<MfaStatus, Failure> {
    let client = GraphClient::new(config, deps, tokens);
    let mut status = MfaStatus {
        username: account.username.clone(),
        display_name: account.name.clone(),
        state: MfaState::Unknown,
        methods: Vec::new(),
        mfa_used: account.amr.iter().any(|m| m == "mfa"),
        amr: account.amr.clone(),
        guided: None,
        checked_at: deps.clock.now(),
    };
    let guided = |mut status: MfaStatus, f: Failure| {
        if f.code == Code::GraphAccessDenied {
            status.guided = Some(f);
            Ok(status)
        } else {
            Err(f)
        }
    };
    match client.get::<Me>("/v1.0/me").await {
        Ok(me) => {
            if let Some(upn) = me.user_principal_name.filter(|s| !s.is_empty()) {
                status.username = upn;
            }
            if me.display_name.is_some() {
                status.display_name = me.display_name;
            }
        }
        Err(f) => return guided(status, f),
    }
    let path = "/v1.0/me/authentication/methods";
    let answer = match client.get::<serde_json::Value>(path).await {
        Ok(a) => a,
        Err(f) => return guided(status, f),
    };
    let mut found = methods::methods(&answer).ok_or_else(|| {
        Failure::new(
            Code::ProtocolError,
            format!("Microsoft Graph answered {path} without a list of methods. Try again later; if it persists, report it."),
        )
    })?;
    found.sort_by_key(|m| !m.strong); // stable: Graph's order within each group
    status.state = if found.iter().any(|m| m.strong) {
        MfaState::Registered
    } else {
        MfaState::NotRegistered
    };
    status.methods = found;
    Ok(status)
}
