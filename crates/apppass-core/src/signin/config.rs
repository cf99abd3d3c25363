//! The resolved sign-in configuration: which issuer, which client, which scopes, which redirect.

use std::time::Duration;

use serde::Serialize;
use ts_rs::TS;
use url::Url;

use crate::error::{Code, Failure};
use crate::policy::{
    Cloud, RedirectForm, SignInSettings, DEFAULT_MICROSOFT_SCOPES, DEFAULT_TENANT,
};

/// Scopes always asked for: an ID token with the account's name, and a refresh token.
pub const BASE_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// How long the browser sign-in waits for the answer by default.
pub const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

/// Hosts of Microsoft's identity platform (global and national clouds).
const MICROSOFT_LOGIN_HOSTS: [&str; 4] = [
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.partner.microsoftonline.cn",
    "login.chinacloudapi.cn",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SignInConfig {
    /// The OpenID issuer URL discovery starts from (no trailing slash).
    pub authority: String,
    /// `None` until IT configures one; signing in then fails with `ClientIdMissing`.
    pub client_id: Option<String>,
    /// Every scope asked for, base scopes first.
    pub scopes: Vec<String>,
    pub redirect: RedirectForm,
    /// Fields the administrator's policy fixes (the UI shows them read-only).
    pub locked: Vec<String>,
    /// The policy file that was applied, if any.
    pub policy_path: Option<String>,
    /// Seconds the browser sign-in waits for the answer.
    pub browser_timeout_seconds: u64,
}

impl SignInConfig {
    /// Builds the configuration from merged settings (see `policy::resolve_signin`).
    pub fn from_settings(
        s: &SignInSettings,
        locked: Vec<String>,
        policy_path: Option<String>,
    ) -> Result<SignInConfig, Failure> {
        let authority = match &s.authority {
            Some(a) => normalise_authority(a)?,
            None => {
                let tenant = s.tenant.as_deref().unwrap_or(DEFAULT_TENANT).trim();
                if tenant.is_empty()
                    || !tenant
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                {
                    return Err(Failure::new(
                        Code::InvalidInput,
                        format!("The tenant \"{tenant}\" is not a tenant id, a domain, `organizations` or `common`. Fix the `tenant` setting."),
                    ));
                }
                format!(
                    "{}/{tenant}/v2.0",
                    s.cloud.unwrap_or(Cloud::Global).login_host()
                )
            }
        };
        let mut scopes: Vec<String> = BASE_SCOPES.iter().map(|s| s.to_string()).collect();
        let extra: Vec<String> = match &s.scopes {
            Some(list) => list.clone(),
            None if is_microsoft(&authority) => DEFAULT_MICROSOFT_SCOPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            None => Vec::new(),
        };
        for scope in extra {
            let scope = scope.trim().to_string();
            if scope.is_empty() || scope.contains(char::is_whitespace) {
                return Err(Failure::new(
                    Code::InvalidInput,
                    format!(
                        "\"{scope}\" is not a scope (one word each). Fix the `scopes` setting."
                    ),
                ));
            }
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        let client_id = s
            .client_id
            .as_ref()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty());
        let microsoft = is_microsoft(&authority);
        Ok(SignInConfig {
            authority,
            client_id,
            scopes,
            // Entra's portal registers only `http://localhost` (it ignores the port); a
            // `127.0.0.1` redirect needs a manifest edit (providers.md §3.2). So Microsoft
            // authorities default to the localhost form, others to the loopback IP (RFC 8252).
            redirect: s.redirect.unwrap_or(if microsoft {
                RedirectForm::Localhost
            } else {
                RedirectForm::LoopbackIp
            }),
            locked,
            policy_path,
            browser_timeout_seconds: BROWSER_TIMEOUT.as_secs(),
        })
    }

    /// The client ID, or the failure that tells IT what to do.
    pub fn require_client_id(&self) -> Result<&str, Failure> {
        self.client_id.as_deref().ok_or_else(|| {
            Failure::new(
                Code::ClientIdMissing,
                "Work-account sign-in needs a client ID that your IT department registers for apppass: in Microsoft Entra admin center, App registrations → New registration; platform \"Mobile and desktop applications\" with redirect URI http://localhost; Authentication → \"Allow public client flows\" = Yes; API permissions (delegated) User.Read, UserAuthenticationMethod.Read and offline_access, with admin consent. Then IT sets client_id in the policy file (see README), or you pass --client-id. Everything else in apppass works without it.",
            )
        })
    }

    /// Whether the authority is Microsoft's identity platform.
    pub fn is_microsoft(&self) -> bool {
        is_microsoft(&self.authority)
    }

    pub fn browser_timeout(&self) -> Duration {
        Duration::from_secs(self.browser_timeout_seconds)
    }
}

pub(crate) fn is_microsoft(authority: &str) -> bool {
    Url::parse(authority)
        .ok()
        .and_then(|u| u.host_str().map(|h| MICROSOFT_LOGIN_HOSTS.contains(&h)))
        .unwrap_or(false)
}

/// Checks an issuer URL: https, or http on a loopback address (test providers). Returns it without
/// a trailing slash.
pub(crate) fn normalise_authority(raw: &str) -> Result<String, Failure> {
    let url = Url::parse(raw.trim()).map_err(|e| {
        Failure::new(
            Code::InvalidInput,
            format!("The authority \"{raw}\" is not a URL ({e}). Give the issuer's address, e.g. https://login.microsoftonline.com/organizations/v2.0."),
        )
    })?;
    check_secure_endpoint(&url, "authority")?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Failure::new(
            Code::InvalidInput,
            format!("The authority \"{raw}\" must not have a query or fragment. Give the issuer's address only."),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Endpoints that receive credentials must use https, except on loopback (a local test provider).
pub(crate) fn check_secure_endpoint(url: &Url, what: &str) -> Result<(), Failure> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(url) => Ok(()),
        _ => Err(Failure::new(
            Code::InvalidInput,
            format!("The {what} {url} does not use https. apppass only talks to identity providers over https (plain http only on this computer, for tests). Fix the address."),
        )),
    }
}

pub(crate) fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A redirect URI is acceptable only as `http://127.0.0.1:PORT/…` or `http://localhost:PORT/…`:
/// an answer sent anywhere else could be read by someone else (RFC 8252 §7.3, §8.3).
pub fn check_loopback_redirect(redirect: &str) -> Result<Url, Failure> {
    let refused = || {
        Failure::new(
            Code::RedirectNotLoopback,
            format!("The redirect address {redirect} is not a loopback address on this computer, so the sign-in answer could be read by someone else. apppass only uses http://127.0.0.1:PORT or http://localhost:PORT."),
        )
    };
    let url = Url::parse(redirect).map_err(|_| refused())?;
    let host_ok = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        _ => false,
    };
    if url.scheme() != "http" || !host_ok || !url.username().is_empty() || url.password().is_some()
    {
        return Err(refused());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_only() {
        for ok in [
            "http://127.0.0.1:4711/",
            "http://localhost:1234/cb",
            "http://127.0.0.5:80/",
        ] {
            assert!(check_loopback_redirect(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://127.0.0.1:4711/",
            "http://evil.example/cb",
            "http://127.0.0.1.evil.example/",
            "http://user@127.0.0.1:4711/",
            "http://[::1]:4711/",
            "urn:ietf:wg:oauth:2.0:oob",
            "http://10.0.0.1/",
        ] {
            assert_eq!(
                check_loopback_redirect(bad).unwrap_err().code,
                Code::RedirectNotLoopback,
                "{bad}"
            );
        }
    }

    #[test]
    fn authorities_must_be_https_or_loopback() {
        assert_eq!(
            normalise_authority("https://idp.example.com/realm/").unwrap(),
            "https://idp.example.com/realm"
        );
        assert!(normalise_authority("http://127.0.0.1:8080").is_ok());
        assert_eq!(
            normalise_authority("http://idp.example.com")
                .unwrap_err()
                .code,
            Code::InvalidInput
        );
    }

    #[test]
    fn sovereign_clouds_and_tenants() {
        let s = SignInSettings {
            cloud: Some(Cloud::China),
            tenant: Some("00001111-aaaa-2222-bbbb-3333cccc4444".into()),
            ..Default::default()
        };
        let c = SignInConfig::from_settings(&s, vec![], None).unwrap();
        assert_eq!(
            c.authority,
            "https://login.partner.microsoftonline.cn/00001111-aaaa-2222-bbbb-3333cccc4444/v2.0"
        );
        assert!(c.is_microsoft());
        let bad = SignInSettings {
            tenant: Some("a/b".into()),
            ..Default::default()
        };
        assert_eq!(
            SignInConfig::from_settings(&bad, vec![], None)
                .unwrap_err()
                .code,
            Code::InvalidInput
        );
    }
}
