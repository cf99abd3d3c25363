//! ID-token validation (OpenID Connect Core §3.1.3.7): issuer, audience, signature from the
//! issuer's key set, expiry (injected clock), nonce.
//!
//! Issuer and audience are compared before the signature is checked: these checks only ever
//! reject, and doing them first gives a token from another issuer its own code whatever keys it
//! was signed with.

use base64::Engine;
use serde::Deserialize;

use crate::error::{Code, Failure};
use crate::signin::discovery::Authority;

/// Tolerance for clock differences when checking `exp`.
pub const CLOCK_SKEW_SECONDS: i64 = 120;

/// Signature algorithms accepted (asymmetric only: never `none` or HMAC).
const ALGORITHMS: [jsonwebtoken::Algorithm; 8] = [
    jsonwebtoken::Algorithm::RS256,
    jsonwebtoken::Algorithm::RS384,
    jsonwebtoken::Algorithm::RS512,
    jsonwebtoken::Algorithm::PS256,
    jsonwebtoken::Algorithm::PS384,
    jsonwebtoken::Algorithm::PS512,
    jsonwebtoken::Algorithm::ES256,
    jsonwebtoken::Algorithm::ES384,
];

/// The claims apppass reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    pub exp: i64,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub azp: Option<String>,
    /// Entra: tenant id.
    #[serde(default)]
    pub tid: Option<String>,
    /// Entra: object id of the user.
    #[serde(default)]
    pub oid: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub upn: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Authentication methods used for this sign-in (`pwd`, `mfa`, `rsa`, …).
    #[serde(default)]
    pub amr: Vec<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

fn invalid(why: &str) -> Failure {
    Failure::new(
        Code::IdTokenInvalid,
        format!("The identity provider's ID token was refused: {why}. Nothing was saved; sign in again, and tell IT if it keeps happening."),
    )
}

/// What the ID token must match.
pub struct Expect<'a> {
    pub client_id: &'a str,
    /// The nonce sent with this sign-in; `None` for tokens from a refresh.
    pub nonce: Option<&'a str>,
    pub now: i64,
}

impl Authority {
    /// Validates an ID token and returns its claims.
    pub async fn validate_id_token(
        &self,
        token: &str,
        expect: &Expect<'_>,
    ) -> Result<IdTokenClaims, Failure> {
        let claims = unverified_claims(token)?;
        let expected_iss = self
            .expected_issuer(claims.tid.as_deref())
            .ok_or_else(|| invalid("it names no tenant (tid)"))?;
        if claims.iss != expected_iss {
            return Err(Failure::new(
                Code::IssuerMismatch,
                format!(
                    "The ID token was issued by {} but this sign-in is with {expected_iss}; it was refused (a token from another issuer). Nothing was saved; sign in again.",
                    claims.iss
                ),
            ));
        }
        if !claims.aud.iter().any(|a| a == expect.client_id)
            || (claims.aud.len() > 1 && claims.azp.as_deref() != Some(expect.client_id))
        {
            return Err(Failure::new(
                Code::AudienceMismatch,
                "The ID token was issued to another application, not to apppass's client ID; it was refused. Nothing was saved; sign in again.",
            ));
        }
        self.verify_signature(token).await?;
        if expect.now > claims.exp + CLOCK_SKEW_SECONDS {
            return Err(Failure::new(
                Code::IdTokenExpired,
                "The ID token had already expired when it arrived. Check that this computer's date and time are right, then sign in again.",
            ));
        }
        if let Some(nonce) = expect.nonce {
            if claims.nonce.as_deref() != Some(nonce) {
                return Err(invalid("its nonce does not match this sign-in"));
            }
        }
        Ok(claims)
    }

    async fn verify_signature(&self, token: &str) -> Result<(), Failure> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| invalid("its header cannot be read"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(invalid(&format!(
                "it is signed with {:?}, which is not accepted",
                header.alg
            )));
        }
        let mut key = None;
        for refresh in [false, true] {
            let keys = self.keys(refresh).await?;
            key = match &header.kid {
                Some(kid) => keys
                    .iter()
                    .find(|k| k.common.key_id.as_deref() == Some(kid))
                    .cloned(),
                None if keys.len() == 1 => keys.first().cloned(),
                None => None,
            };
            if key.is_some() {
                break;
            }
        }
        let key =
            key.ok_or_else(|| invalid("it is signed with a key the issuer does not publish"))?;
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&key)
            .map_err(|_| invalid("the issuer's signing key cannot be used"))?;
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<serde_json::Value>(token, &decoding, &validation)
            .map_err(|_| invalid("its signature does not verify"))?;
        Ok(())
    }
}

/// The payload, read without checking anything (used to reject early, never to trust).
pub fn unverified_claims(token: &str) -> Result<IdTokenClaims, Failure> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("it is not a signed JWT"));
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| invalid("its payload is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|e| invalid(&format!("its claims cannot be read ({e})")))
}
