//! The authority: an OpenID issuer read by discovery (`/.well-known/openid-configuration`), and the
//! signing keys of its ID tokens.

use std::sync::Mutex;

use serde::Deserialize;
use url::Url;

use crate::error::{Code, Failure};
use crate::signin::config::{check_secure_endpoint, is_microsoft, SignInConfig};
use crate::signin::http::{Deps, HttpResponse};

/// The fields of the provider's metadata that sign-in uses (OpenID Connect Discovery 1.0 §3,
/// RFC 8414, RFC 8628, RFC 7009, RFC 9207).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub device_authorization_endpoint: Option<String>,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// An issuer ready to sign in to.
pub struct Authority {
    pub config: SignInConfig,
    pub metadata: ProviderMetadata,
    pub(crate) deps: Deps,
    jwks: Mutex<Option<Vec<jsonwebtoken::jwk::Jwk>>>,
}

impl Authority {
    /// Reads the issuer's metadata. Every endpoint must be https (or loopback http, for a test
    /// provider), and the metadata's issuer must be the configured one.
    pub async fn discover(config: &SignInConfig, deps: &Deps) -> Result<Authority, Failure> {
        let url = format!("{}/.well-known/openid-configuration", config.authority);
        let response = get(deps, &url).await?;
        if response.status() != 200 {
            return Err(discovery_failed(
                config,
                &format!("HTTP status {} from {url}", response.status().as_u16()),
            ));
        }
        let metadata: ProviderMetadata = serde_json::from_slice(response.body())
            .map_err(|e| discovery_failed(config, &format!("its metadata is not valid: {e}")))?;
        if !issuer_matches_authority(&metadata.issuer, &config.authority) {
            return Err(Failure::new(
                Code::IssuerMismatch,
                format!(
                    "The authority {} describes itself as another issuer ({}), so its answers cannot be trusted. Check the authority setting.",
                    config.authority, metadata.issuer
                ),
            ));
        }
        for (what, endpoint) in [
            (
                "authorization endpoint",
                Some(&metadata.authorization_endpoint),
            ),
            ("token endpoint", Some(&metadata.token_endpoint)),
            ("key set", Some(&metadata.jwks_uri)),
            (
                "device authorization endpoint",
                metadata.device_authorization_endpoint.as_ref(),
            ),
            ("revocation endpoint", metadata.revocation_endpoint.as_ref()),
        ] {
            if let Some(endpoint) = endpoint {
                let parsed = Url::parse(endpoint).map_err(|e| {
                    discovery_failed(config, &format!("its {what} is not a URL ({e})"))
                })?;
                check_secure_endpoint(&parsed, what)?;
            }
        }
        if let Some(methods) = &metadata.code_challenge_methods_supported {
            if !methods.iter().any(|m| m == "S256") {
                return Err(discovery_failed(
                    config,
                    "it does not support PKCE with S256",
                ));
            }
        }
        Ok(Authority {
            config: config.clone(),
            metadata,
            deps: deps.clone(),
            jwks: Mutex::new(None),
        })
    }

    /// The issuer an ID token must name. Entra's multi-tenant metadata says
    /// `https://login.microsoftonline.com/{tenantid}/v2.0`; the token's `tid` fills it in.
    pub fn expected_issuer(&self, tid: Option<&str>) -> Option<String> {
        if self.metadata.issuer.contains("{tenantid}") {
            tid.map(|t| self.metadata.issuer.replace("{tenantid}", t))
        } else {
            Some(self.metadata.issuer.clone())
        }
    }

    /// The issuer's signing keys; fetched once, and again when a token names an unknown key (the
    /// provider rotated its keys).
    pub(crate) async fn keys(&self, refresh: bool) -> Result<Vec<jsonwebtoken::jwk::Jwk>, Failure> {
        if !refresh {
            if let Some(keys) = self.jwks.lock().unwrap().as_ref() {
                return Ok(keys.clone());
            }
        }
        let response = get(&self.deps, &self.metadata.jwks_uri).await?;
        if response.status() != 200 {
            return Err(discovery_failed(
                &self.config,
                &format!("its key set answered HTTP {}", response.status().as_u16()),
            ));
        }
        #[derive(Deserialize)]
        struct KeySet {
            keys: Vec<serde_json::Value>,
        }
        let set: KeySet = serde_json::from_slice(response.body()).map_err(|e| {
            discovery_failed(&self.config, &format!("its key set is not valid: {e}"))
        })?;
        // Keys of kinds this client does not know are skipped, not fatal.
        let keys: Vec<jsonwebtoken::jwk::Jwk> = set
            .keys
            .into_iter()
            .filter_map(|k| serde_json::from_value(k).ok())
            .collect();
        *self.jwks.lock().unwrap() = Some(keys.clone());
        Ok(keys)
    }

    pub fn is_microsoft(&self) -> bool {
        is_microsoft(&self.config.authority)
    }
}

async fn get(deps: &Deps, url: &str) -> Result<HttpResponse, Failure> {
    let request = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| {
            Failure::new(
                Code::InvalidInput,
                format!("{url} is not a usable address ({e}). Check the authority setting."),
            )
        })?;
    let host = request.uri().host().unwrap_or_default().to_string();
    let answer = deps.http.send(request).await.map_err(|e| e.to_failure())?;
    // 5xx / 429: the provider is down or busy, which is no fault of the authority setting.
    if let Some(e) = crate::signin::http::unavailable(&host, &answer, deps.clock.now()) {
        return Err(e.to_failure());
    }
    Ok(answer)
}

fn discovery_failed(config: &SignInConfig, why: &str) -> Failure {
    Failure::new(
        Code::DiscoveryFailed,
        format!(
            "{} is not a usable OpenID provider: {why}. Check the authority setting (for Microsoft Entra: https://login.microsoftonline.com/<tenant>/v2.0).",
            config.authority
        ),
    )
}

/// Discovery §4.3: the metadata's issuer is the authority. Entra names its tenant by id even when
/// asked by domain (`contoso.com` → `<guid>`), and multi-tenant authorities (`organizations`,
/// `common`) give a `{tenantid}` template: on Microsoft's hosts the tenant segment may differ.
pub(crate) fn issuer_matches_authority(issuer: &str, authority: &str) -> bool {
    let issuer = issuer.trim_end_matches('/');
    if issuer == authority {
        return true;
    }
    if !is_microsoft(authority) {
        return false;
    }
    let (Ok(i), Ok(a)) = (Url::parse(issuer), Url::parse(authority)) else {
        return false;
    };
    let segments = |u: &Url| -> Vec<String> {
        u.path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let (is, as_) = (segments(&i), segments(&a));
    i.scheme() == a.scheme()
        && i.host_str() == a.host_str()
        && is.len() == 2
        && as_.len() == 2
        && is[1] == "v2.0"
        && as_[1] == "v2.0"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_rules() {
        assert!(issuer_matches_authority(
            "http://127.0.0.1:4000/",
            "http://127.0.0.1:4000"
        ));
        assert!(!issuer_matches_authority(
            "http://127.0.0.1:4001",
            "http://127.0.0.1:4000"
        ));
        assert!(issuer_matches_authority(
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "https://login.microsoftonline.com/organizations/v2.0"
        ));
        assert!(issuer_matches_authority(
            "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
            "https://login.microsoftonline.com/contoso.com/v2.0"
        ));
        assert!(!issuer_matches_authority(
            "https://login.microsoftonline.us/x/v2.0",
            "https://login.microsoftonline.com/contoso.com/v2.0"
        ));
        assert!(!issuer_matches_authority(
            "https://evil.example/x/v2.0",
            "https://idp.example/x/v2.0"
        ));
    }
}
