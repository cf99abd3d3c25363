//! Identity-provider errors, as a [`Failure`] with a code, a message and the next step.
//!
//! Branching follows Microsoft's advice: the OAuth `error` first, the AADSTS numbers in
//! `error_codes` for the hints that matter to a person (MFA, consent, tenant, Conditional Access).
//! `error_description` is only read when a provider sends no code at all (device-code polling,
//! whose standard error type drops `error_codes`, and non-Microsoft providers).

use serde::{Deserialize, Serialize};

use crate::error::{Code, Failure};
use crate::signin::http::NetError;

/// A token-endpoint error body (RFC 6749 §5.2, plus Entra's fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderError {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_codes: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suberror: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)?;
        if let Some(d) = &self.error_description {
            write!(f, ": {}", first_line(d))?;
        }
        Ok(())
    }
}

impl oauth2::ErrorResponse for ProviderError {}

impl ProviderError {
    pub fn new(error: &str, description: Option<&str>) -> ProviderError {
        ProviderError {
            error: error.to_string(),
            error_description: description.map(str::to_string),
            error_codes: Vec::new(),
            suberror: None,
            error_uri: None,
            correlation_id: None,
            trace_id: None,
        }
    }

    /// The AADSTS numbers: `error_codes`, else those quoted in the description ("AADSTS50076: …").
    pub fn codes(&self) -> Vec<u64> {
        if !self.error_codes.is_empty() {
            return self.error_codes.clone();
        }
        let Some(text) = &self.error_description else {
            return Vec::new();
        };
        text.match_indices("AADSTS")
            .filter_map(|(i, _)| {
                let digits: String = text[i + 6..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect();
                digits.parse().ok()
            })
            .collect()
    }

    fn description_has(&self, words: &[&str]) -> bool {
        let d = self
            .error_description
            .as_deref()
            .unwrap_or("")
            .to_lowercase();
        words.iter().all(|w| d.contains(w))
    }

    /// The provider's own words, for the end of a message: first line, bounded, plus the
    /// correlation id IT needs to look the sign-in up.
    fn quoted(&self) -> String {
        let mut out = match &self.error_description {
            Some(d) if !d.trim().is_empty() => format!("\"{}\"", first_line(d)),
            _ => format!("\"{}\"", self.error),
        };
        if let Some(id) = &self.correlation_id {
            out.push_str(&format!(" (correlation id {id})"));
        }
        out
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    let mut short: String = line.chars().take(300).collect();
    if line.chars().count() > 300 {
        short.push('…');
    }
    short
}

/// Where in the sign-in the error came from: the same `invalid_grant` means "code replayed" when
/// redeeming a code and "sign in again" when refreshing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The browser came back with `error=…`.
    Authorize,
    RedeemCode,
    Refresh,
    DeviceAuthorization,
    DevicePoll,
}

/// An error answer from the identity provider, as a failure for a person.
pub fn provider_failure(e: &ProviderError, stage: Stage) -> Failure {
    let said = e.quoted();
    for code in e.codes() {
        let mapped = match code {
            50076 | 50074 | 50078 => Some((
                Code::MfaRequired,
                format!("Your organisation requires multifactor authentication for this sign-in (AADSTS{code}). Sign in again in the browser and complete the second step; the provider said {said}."),
            )),
            50079 | 50072 => Some((
                Code::MfaEnrollmentRequired,
                format!("Your account must register a second sign-in method first (AADSTS{code}). Open https://mysignins.microsoft.com/security-info, add Microsoft Authenticator or a phone number, then sign in again."),
            )),
            65001 | 90094 | 90008 => Some((
                Code::ConsentRequired,
                format!("apppass has not been approved for your organisation yet (AADSTS{code}, consent missing). Ask IT to grant admin consent to apppass's permissions (User.Read, UserAuthenticationMethod.Read, offline_access), then sign in again."),
            )),
            65004 => Some((
                Code::SignInDenied,
                format!("The permissions apppass asks for were declined (AADSTS{code}). Sign in again and accept them, or ask IT to grant admin consent."),
            )),
            700016 => Some((
                Code::AppNotInTenant,
                format!("The client ID configured for apppass is not registered in this tenant (AADSTS{code}). Ask IT to check the client ID and the tenant in the apppass policy, or to register apppass in your tenant."),
            )),
            50020 => Some((
                Code::WrongTenant,
                format!("This account does not belong to the organisation being signed in to (AADSTS{code}). Sign in with your work account of that organisation, or ask IT to set `tenant` to your organisation (guest accounts need the resource tenant's id)."),
            )),
            53003 => Some((
                Code::BlockedByConditionalAccess,
                format!("A Conditional Access policy of your organisation blocked this sign-in (AADSTS{code}): for example the device, the location, or sign-in with a code is not allowed. Try the browser sign-in on a managed device, or ask IT which policy applies; the provider said {said}."),
            )),
            7000218 => Some((
                Code::PublicClientFlowsDisabled,
                format!("Sign-in with a code needs \"Allow public client flows\" in apppass's app registration (AADSTS{code}). Use the browser sign-in, or ask IT to set Authentication → Allow public client flows = Yes."),
            )),
            530035 => Some((
                Code::BlockedBySecurityDefaults,
                format!("Your organisation's security defaults blocked this sign-in (AADSTS{code}). Sign in in the browser and complete multifactor authentication; if it happens again, ask IT."),
            )),
            54005 => Some(replayed()),
            50148 | 501481 => Some(pkce()),
            70008 | 700082 | 50173 | 70043 | 50133 | 700084 | 50089 if stage == Stage::Refresh => {
                let f = sign_in_again(code_note(code));
                Some((f.code, f.message))
            }
            _ => None,
        };
        if let Some((c, message)) = mapped {
            return Failure::new(c, message);
        }
    }
    match (e.error.as_str(), stage) {
        ("access_denied" | "authorization_declined", _) => Failure::new(
            Code::SignInDenied,
            format!("The sign-in was declined ({said}). Sign in again and approve it if that was a mistake."),
        ),
        ("expired_token", _) => Failure::new(
            Code::SignInTimedOut,
            "The sign-in code expired before it was used. Start the sign-in again and enter the new code within its time.",
        ),
        ("invalid_grant", Stage::RedeemCode) => {
            if e.description_has(&["already"])
                && (e.description_has(&["consumed"])
                    || e.description_has(&["redeemed"])
                    || e.description_has(&["used"]))
            {
                let (c, m) = replayed();
                Failure::new(c, m)
            } else if e.description_has(&["pkce"]) || e.description_has(&["code_verifier"]) {
                let (c, m) = pkce();
                Failure::new(c, m)
            } else {
                Failure::new(
                    Code::ProviderRejected,
                    format!("The identity provider refused the sign-in answer ({said}); it may have expired. Sign in again."),
                )
            }
        }
        ("invalid_grant" | "interaction_required" | "login_required", Stage::Refresh) => {
            sign_in_again(format!("the provider said {said}"))
        }
        // RFC 6749 §4.1.2.1 / §5.2 extensions: the provider failed or is overloaded; nothing is
        // wrong with the sign-in itself.
        ("temporarily_unavailable" | "server_error", _) => Failure::new(
            Code::ServiceUnavailable,
            format!("The identity provider could not handle the request right now ({said}). Nothing was changed; try again in a few minutes. If it lasts, check the provider's service status or ask IT."),
        ),
        ("consent_required", _) => Failure::new(
            Code::ConsentRequired,
            format!("apppass has not been approved for your organisation yet ({said}). Ask IT to grant admin consent, then sign in again."),
        ),
        ("invalid_client" | "unauthorized_client", _) => Failure::new(
            Code::ProviderRejected,
            format!("The identity provider does not accept apppass's client ID ({said}). Ask IT to check the client ID and the app registration."),
        ),
        _ => Failure::new(
            Code::ProviderRejected,
            format!("The identity provider refused the request: {said}. Try again; if it keeps happening, give this message to IT."),
        ),
    }
}

fn code_note(code: u64) -> String {
    match code {
        70008 | 700082 => format!("the sign-in expired after a time without use (AADSTS{code})"),
        50173 | 50133 => {
            format!("the sign-in was revoked, for example after a password change (AADSTS{code})")
        }
        70043 => format!("your organisation requires signing in again periodically (AADSTS{code})"),
        _ => format!("the sign-in is no longer valid (AADSTS{code})"),
    }
}

fn sign_in_again(why: String) -> Failure {
    Failure::new(
        Code::SignInRequired,
        format!(
            "You need to sign in again: {why}. Run `apppass login` (or use Sign in in the app)."
        ),
    )
}

fn replayed() -> (Code, String) {
    (
        Code::CodeReplayed,
        "This sign-in answer had already been used once, so it was refused (a replayed authorization code). Nothing was changed; start the sign-in again.".to_string(),
    )
}

fn pkce() -> (Code, String) {
    (
        Code::PkceMismatch,
        "The identity provider refused the proof (PKCE) that this app started the sign-in: the answer may belong to another sign-in. Nothing was changed; start the sign-in again.".to_string(),
    )
}

/// oauth2's error for a token-endpoint request, as a failure.
pub fn token_request_failure(
    e: oauth2::RequestTokenError<NetError, ProviderError>,
    stage: Stage,
) -> Failure {
    match e {
        oauth2::RequestTokenError::ServerResponse(body) => provider_failure(&body, stage),
        oauth2::RequestTokenError::Request(net) => net.to_failure(),
        // The body is not quoted: a malformed success could contain a token.
        oauth2::RequestTokenError::Parse(err, _) => Failure::new(
            Code::ProviderRejected,
            format!("The identity provider's answer could not be read ({}). Try again; if it keeps happening, check the authority setting.", err.path()),
        ),
        oauth2::RequestTokenError::Other(text) => Failure::new(
            Code::ProviderRejected,
            format!("The identity provider gave an unexpected answer ({text}). Try again; if it keeps happening, check the authority setting."),
        ),
    }
}

/// The same for device-code polling, whose error type is oauth2's standard one.
pub fn device_poll_failure(
    e: oauth2::RequestTokenError<NetError, oauth2::DeviceCodeErrorResponse>,
) -> Failure {
    match e {
        oauth2::RequestTokenError::ServerResponse(body) => {
            let error = serde_json::to_value(body.error())
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "error".to_string());
            let mut p = ProviderError::new(&error, body.error_description().map(String::as_str));
            p.error_uri = body.error_uri().cloned();
            provider_failure(&p, Stage::DevicePoll)
        }
        oauth2::RequestTokenError::Request(net) => net.to_failure(),
        oauth2::RequestTokenError::Parse(err, _) => Failure::new(
            Code::ProviderRejected,
            format!(
                "The identity provider's answer could not be read ({}). Try again.",
                err.path()
            ),
        ),
        oauth2::RequestTokenError::Other(text) => Failure::new(
            Code::ProviderRejected,
            format!("The identity provider gave an unexpected answer ({text}). Try again."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::clock::FixedClock;
    use crate::policy::SignInSettings;
    use crate::profile::Profile;
    use crate::secret::Secret;
    use crate::signin::http::{Deps, HttpRequest, HttpResponse, TokioSleep};
    use crate::signin::tokens::{self, Account, SessionState, SignInMethod};
    use crate::signin::{Cancellation, SignIn, SignInConfig};
    use crate::vault::store::MemoryStore;

    /// providers.md §3.4, verbatim (reference-error-codes.md).
    const FIXTURE: &str = r#"{
  "error": "invalid_scope",
  "error_description": "AADSTS70011: The provided value for the input parameter 'scope' isn't valid. The scope https://example.contoso.com/activity.read isn't valid.\r\nTrace ID: 0000aaaa-11bb-cccc-dd33-eeeeee333333\r\nCorrelation ID: aaaa0000-bb11-2222-33cc-444444dddddd\r\nTimestamp: 2016-01-09 02:02:12Z",
  "error_codes": [
    70011
  ],
  "timestamp": "2016-01-09 02:02:12Z",
  "trace_id": "0000aaaa-11bb-cccc-dd33-eeeeee333333",
  "correlation_id": "aaaa0000-bb11-2222-33cc-444444dddddd", 
  "error_uri":"https://login.microsoftonline.com/error?code=70011"
}"#;

    /// The same shape with another `error` and AADSTS number (in `error_codes`, the description
    /// and the URI).
    fn shaped(error: &str, code: u64) -> String {
        FIXTURE
            .replace("\"invalid_scope\"", &format!("\"{error}\""))
            .replace("70011", &code.to_string())
    }

    const AUTHORITY: &str = "https://login.microsoftonline.com/organizations/v2.0";
    const TOKEN: &str = "https://login.microsoftonline.com/organizations/oauth2/v2.0/token";

    fn discovery() -> String {
        serde_json::json!({
            "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
            "authorization_endpoint": "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize",
            "token_endpoint": TOKEN,
            "device_authorization_endpoint": "https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode",
            "jwks_uri": "https://login.microsoftonline.com/organizations/discovery/v2.0/keys",
        })
        .to_string()
    }

    /// An identity platform that answers discovery, and every POST with `status` and `body`.
    fn entra(status: u16, body: String, seen: Arc<Mutex<Vec<String>>>) -> Deps {
        let http = move |request: HttpRequest| -> Result<HttpResponse, NetError> {
            let uri = request.uri().to_string();
            seen.lock()
                .unwrap()
                .push(format!("{} {uri}", request.method()));
            let (status, body) = if uri.ends_with("/.well-known/openid-configuration") {
                (200, discovery())
            } else {
                (status, body.clone())
            };
            Ok(http::Response::builder()
                .status(status)
                .header("content-type", "application/json; charset=utf-8")
                .body(body.into_bytes())
                .unwrap())
        };
        Deps {
            http: Arc::new(http),
            clock: Arc::new(FixedClock::at(1_800_000_000)),
            sleep: Arc::new(TokioSleep),
        }
    }

    fn config() -> SignInConfig {
        let s = SignInSettings {
            authority: Some(AUTHORITY.into()),
            client_id: Some("00001111-aaaa-2222-bbbb-3333cccc4444".into()),
            ..Default::default()
        };
        SignInConfig::from_settings(&s, vec![], None).unwrap()
    }

    /// A signed-in account whose stored refresh token the (fake) provider refuses.
    fn signed_in(dir: &std::path::Path, deps: Deps) -> SignIn {
        let profile = Profile::isolated(dir).unwrap();
        let store = Arc::new(MemoryStore::default());
        let account = Account {
            username: "ann@contoso.example".into(),
            email: None,
            name: None,
            issuer: "https://login.microsoftonline.com/t/v2.0".into(),
            tenant_id: Some("t".into()),
            object_id: None,
            subject: "s".into(),
            authority: AUTHORITY.into(),
            client_id: "00001111-aaaa-2222-bbbb-3333cccc4444".into(),
            scopes: config().scopes,
            amr: vec![],
            mfa_used: false,
            method: SignInMethod::Browser,
            signed_in_at: 0,
            id_token_expires_at: 0,
            state: SessionState::Active,
            account_key: "k".into(),
        };
        tokens::save_account(&profile, &account).unwrap();
        tokens::RefreshTokenSlot {
            store: store.as_ref(),
            namespace: &profile.namespace,
            account_key: "k",
            part_chars: tokens::PART_CHARS,
        }
        .put(&Secret::from("rt"), "l")
        .unwrap();
        SignIn::new(profile, store, deps)
    }

    #[test]
    fn verbatim_fixture_parses_and_is_quoted_with_its_correlation_id() {
        let e: ProviderError = serde_json::from_str(FIXTURE).unwrap();
        assert_eq!(e.codes(), vec![70011]);
        let f = provider_failure(&e, Stage::RedeemCode);
        assert_eq!(f.code, Code::ProviderRejected);
        assert!(f.message.contains("AADSTS70011"));
        assert!(f.message.contains("aaaa0000-bb11-2222-33cc-444444dddddd"));
        // Only the first line of the description: no trace dump in the message.
        assert!(!f.message.contains("Timestamp"));
    }

    #[test]
    fn aadsts_codes_map_to_their_own_codes_with_a_next_step() {
        let table = [
            ("invalid_grant", 50076, Code::MfaRequired),
            ("interaction_required", 50079, Code::MfaEnrollmentRequired),
            ("invalid_grant", 50072, Code::MfaEnrollmentRequired),
            ("invalid_grant", 65001, Code::ConsentRequired),
            ("unauthorized_client", 700016, Code::AppNotInTenant),
            ("invalid_request", 50020, Code::WrongTenant),
            ("invalid_grant", 53003, Code::BlockedByConditionalAccess),
            ("invalid_client", 7000218, Code::PublicClientFlowsDisabled),
            ("invalid_grant", 530035, Code::BlockedBySecurityDefaults),
            ("invalid_grant", 54005, Code::CodeReplayed),
            ("invalid_grant", 50148, Code::PkceMismatch),
        ];
        for (error, number, expected) in table {
            let e: ProviderError = serde_json::from_str(&shaped(error, number)).unwrap();
            let f = provider_failure(&e, Stage::RedeemCode);
            assert_eq!(f.code, expected, "AADSTS{number}: {}", f.message);
            assert!(f.message.ends_with('.'), "{}", f.message);
        }
        // Refresh-token expiry and revocation: sign in again (only when refreshing).
        for number in [70008, 700082, 50173, 70043] {
            let e: ProviderError = serde_json::from_str(&shaped("invalid_grant", number)).unwrap();
            assert_eq!(
                provider_failure(&e, Stage::Refresh).code,
                Code::SignInRequired
            );
        }
    }

    #[test]
    fn observed_mfa_shape_with_suberror_and_codes_only_in_the_description() {
        let observed = r#"{"error":"interaction_required","error_description":"AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.","error_codes":[50076],"suberror":"basic_action"}"#;
        let e: ProviderError = serde_json::from_str(observed).unwrap();
        assert_eq!(e.suberror.as_deref(), Some("basic_action"));
        assert_eq!(provider_failure(&e, Stage::Refresh).code, Code::MfaRequired);
        // Device polling keeps only the description: the number is read from it.
        let e = ProviderError::new(
            "invalid_grant",
            Some("AADSTS53003: Access has been blocked by Conditional Access policies."),
        );
        assert_eq!(
            provider_failure(&e, Stage::DevicePoll).code,
            Code::BlockedByConditionalAccess
        );
    }

    #[test]
    fn plain_oauth_errors_by_stage() {
        let e = ProviderError::new("invalid_grant", Some("grant request is invalid"));
        assert_eq!(
            provider_failure(&e, Stage::Refresh).code,
            Code::SignInRequired
        );
        assert_eq!(
            provider_failure(&e, Stage::RedeemCode).code,
            Code::ProviderRejected
        );
        for (error, code) in [
            ("access_denied", Code::SignInDenied),
            ("authorization_declined", Code::SignInDenied),
            ("expired_token", Code::SignInTimedOut),
            ("consent_required", Code::ConsentRequired),
            ("server_error", Code::ServiceUnavailable),
            ("temporarily_unavailable", Code::ServiceUnavailable),
            ("invalid_request", Code::ProviderRejected),
        ] {
            assert_eq!(
                provider_failure(&ProviderError::new(error, None), Stage::DevicePoll).code,
                code
            );
        }
    }

    #[tokio::test]
    async fn refresh_through_the_injected_transport_maps_mfa_and_keeps_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let signin = signed_in(
            dir.path(),
            entra(400, shaped("interaction_required", 50076), seen.clone()),
        );
        let f = signin.access_token().await.unwrap_err();
        assert_eq!(f.code, Code::MfaRequired, "{}", f.message);
        // Not "sign in again": the refresh token is kept, the account stays active.
        assert!(signin.stored_refresh_token().unwrap().is_some());
        assert_eq!(
            signin.account().unwrap().unwrap().state,
            SessionState::Active
        );
        assert!(seen
            .lock()
            .unwrap()
            .iter()
            .any(|r| r == &format!("POST {TOKEN}")));
    }

    #[tokio::test]
    async fn refresh_refused_as_expired_means_sign_in_again() {
        let dir = tempfile::tempdir().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let signin = signed_in(
            dir.path(),
            entra(400, shaped("invalid_grant", 700082), seen),
        );
        let f = signin.refresh().await.unwrap_err();
        assert_eq!(f.code, Code::SignInRequired, "{}", f.message);
        assert!(f.message.contains("AADSTS700082"));
        assert!(signin.stored_refresh_token().unwrap().is_none());
        assert_eq!(
            signin.account().unwrap().unwrap().state,
            SessionState::SignInRequired
        );
    }

    #[tokio::test]
    async fn device_code_with_public_client_flows_off() {
        let dir = tempfile::tempdir().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let deps = entra(401, shaped("invalid_client", 7000218), seen);
        let signin = SignIn::new(
            Profile::isolated(dir.path()).unwrap(),
            Arc::new(MemoryStore::default()),
            deps,
        );
        let shown = Mutex::new(0);
        let f = signin
            .sign_in_with_code(
                &config(),
                &|_| *shown.lock().unwrap() += 1,
                &Cancellation::new(),
            )
            .await
            .unwrap_err();
        assert_eq!(f.code, Code::PublicClientFlowsDisabled, "{}", f.message);
        assert!(f.message.contains("Allow public client flows"));
        assert_eq!(*shown.lock().unwrap(), 0);
    }

    #[tokio::test]
    async fn network_failures_keep_their_codes() {
        let dir = tempfile::tempdir().unwrap();
        for (err, code) in [
            (
                NetError::Offline {
                    host: "login.microsoftonline.com".into(),
                    detail: "connection refused".into(),
                },
                Code::Offline,
            ),
            (
                NetError::Dns {
                    host: "login.microsoftonline.com".into(),
                    detail: "no such host".into(),
                },
                Code::DnsFailure,
            ),
            (
                NetError::Tls {
                    host: "login.microsoftonline.com".into(),
                    detail: "invalid peer certificate: UnknownIssuer".into(),
                },
                Code::TlsFailure,
            ),
            (
                NetError::Timeout {
                    host: "login.microsoftonline.com".into(),
                },
                Code::NetworkTimeout,
            ),
        ] {
            let answer = err.clone();
            let deps = Deps {
                http: Arc::new(move |_: HttpRequest| -> Result<HttpResponse, NetError> {
                    Err(answer.clone())
                }),
                clock: Arc::new(FixedClock::at(0)),
                sleep: Arc::new(TokioSleep),
            };
            let signin = SignIn::new(
                Profile::isolated(dir.path()).unwrap(),
                Arc::new(MemoryStore::default()),
                deps,
            );
            let f = signin
                .sign_in_with_browser(&config(), &|_| Ok(()), &Cancellation::new())
                .await
                .unwrap_err();
            assert_eq!(f.code, code, "{}", f.message);
            assert!(f.message.contains("login.microsoftonline.com"));
        }
    }
}
