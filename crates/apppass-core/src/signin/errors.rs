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
