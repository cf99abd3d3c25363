//! Work-account sign-in: OAuth 2.0 for native apps (RFC 8252) with OpenID Connect.
//!
//! - Browser: authorization code + PKCE S256 in the system browser, answered to a loopback listener
//!   on 127.0.0.1 ([`SignIn::sign_in_with_browser`]).
//! - Code: the device authorization grant, RFC 8628 ([`SignIn::sign_in_with_code`]).
//! - Tokens: the refresh token in the profile's secret store, the access token in memory, refreshed
//!   5 minutes ahead of expiry ([`SignIn::access_token`]); [`SignIn::sign_out`] deletes them and
//!   revokes where the provider offers revocation.
//!
//! The configuration (authority, client ID, scopes) comes from [`crate::policy::resolve_signin`].
//! HTTP, clock and sleep are injected ([`Deps`]). Every public function returns a [`Failure`] whose
//! message ends with the next step.
//!
//! The API is async (tokio). A caller without a runtime (the CLI) uses [`block_on`].

pub mod config;
pub mod discovery;
pub mod errors;
pub mod http;
pub mod id_token;
pub mod loopback;
pub mod tokens;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, CsrfToken, DeviceAuthorizationUrl,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, RevocationUrl, Scope, StandardRevocableToken, TokenResponse,
    TokenUrl,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ts_rs::TS;

use crate::error::{Code, Failure};
use crate::profile::Profile;
use crate::secret::Secret;
use crate::vault::store::SecretStore;

pub use config::{check_loopback_redirect, SignInConfig};
pub use discovery::{Authority, ProviderMetadata};
pub use errors::{provider_failure, ProviderError, Stage};
pub use http::{Deps, NetError, ReqwestTransport, Sleep, TokioSleep, Transport};
pub use id_token::{Expect, IdTokenClaims};
pub use loopback::{Callback, Cancellation, LoopbackListener};
pub use tokens::{Account, SessionState, SignInMethod};

/// Access tokens are refreshed this long before they expire.
pub const REFRESH_MARGIN_SECONDS: i64 = 300;

/// Assumed lifetime of an access token whose response gives none.
const DEFAULT_ACCESS_SECONDS: i64 = 600;

/// Extra token-response fields: the ID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl oauth2::ExtraTokenFields for IdTokenField {}

type OidcTokenResponse = oauth2::StandardTokenResponse<IdTokenField, oauth2::basic::BasicTokenType>;

type OidcClient = oauth2::Client<
    ProviderError,
    OidcTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    EndpointSet,
    EndpointMaybeSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointSet,
>;

/// What the user sees to sign in with a code (RFC 8628 §3.2). `verification_uri_complete` is
/// given by some providers (not Entra) and holds the code already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct DeviceCode {
    pub verification_uri: String,
    pub user_code: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in_seconds: u64,
    pub interval_seconds: u64,
    /// The provider's own instruction text, when it sends one (Entra does).
    pub message: Option<String>,
}

/// The outcome of signing out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SignedOut {
    /// The account that was signed in, if any.
    pub account: Option<Account>,
    /// Whether the provider confirmed the revocation of the refresh token.
    pub revoked: bool,
    /// Why it was not revoked (no revocation endpoint, offline, …), for the user.
    pub note: Option<String>,
}

/// An access token, in memory only.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: Secret,
    /// Unix seconds.
    pub expires_at: i64,
}

/// The tokens of one successful exchange, before they are stored.
#[derive(Debug)]
pub struct TokenSet {
    pub access_token: Secret,
    pub expires_at: i64,
    pub refresh_token: Option<Secret>,
    pub id_token: Option<Secret>,
    pub claims: Option<IdTokenClaims>,
}

enum Finished {
    Account(Account),
    Tokens(TokenSet),
}

/// A browser sign-in that has started: the address to open, and the listener waiting for it.
pub struct BrowserSignIn {
    authority: Arc<Authority>,
    listener: LoopbackListener,
    url: String,
    state: String,
    nonce: String,
    verifier: Secret,
    timeout: Duration,
}

impl BrowserSignIn {
    /// The address to open in the system browser (it carries no secret: the PKCE challenge is a
    /// hash, state and nonce are single-use).
    pub fn url(&self) -> &str {
        &self.url
    }
    pub fn redirect_uri(&self) -> &str {
        self.listener.redirect_uri()
    }
    pub fn authority(&self) -> &Arc<Authority> {
        &self.authority
    }
    pub fn nonce(&self) -> &str {
        &self.nonce
    }
    /// The PKCE code verifier (the secret half of PKCE; it only ever goes to the token endpoint).
    pub fn pkce_verifier(&self) -> &Secret {
        &self.verifier
    }
    /// Changes how long [`SignIn::finish_browser`] waits (tests).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }
}

/// Sign-in for one profile, against its secret store.
pub struct SignIn {
    profile: Profile,
    store: Arc<dyn SecretStore>,
    deps: Deps,
    /// Access tokens by the scopes they were asked for (`None`: the sign-in's own scopes), and a
    /// lock so that only one refresh runs at a time (refresh tokens rotate: two refreshes at once
    /// would spend the same one twice).
    access: tokio::sync::Mutex<HashMap<Option<Vec<String>>, AccessToken>>,
    authorities: Mutex<Vec<Arc<Authority>>>,
    /// Hashes of authorization codes this process has redeemed: a second use is refused here.
    redeemed: Mutex<HashSet<[u8; 32]>>,
    part_chars: usize,
}

/// Runs a sign-in future to completion on a new single-threaded runtime (for the CLI).
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                Code::Internal,
                format!("Cannot start the async runtime: {e}. Report this bug."),
            )
        })?;
    Ok(runtime.block_on(future))
}

fn oauth_http(
    deps: &Deps,
) -> impl Fn(oauth2::HttpRequest) -> http::BoxFuture<'static, Result<oauth2::HttpResponse, NetError>>
{
    let transport = deps.http.clone();
    let clock = deps.clock.clone();
    move |request| {
        let transport = transport.clone();
        let clock = clock.clone();
        Box::pin(async move {
            let host = request.uri().host().unwrap_or_default().to_string();
            let answer = transport.send(request).await?;
            // 5xx / 429: the provider could not answer. Its body (oauth2 would read it as an
            // OAuth error, or fail to parse it) is no verdict on the request: a refresh token is
            // never given up because of it.
            if let Some(e) = http::unavailable(&host, &answer, clock.now()) {
                return Err(e);
            }
            // The transport never follows a redirect (the code, verifier or refresh token would go
            // to wherever it points); say so, rather than "unexpected answer".
            if answer.status().is_redirection() {
                return Err(NetError::Redirected {
                    host,
                    status: answer.status().as_u16(),
                });
            }
            Ok(answer)
        })
    }
}

/// The scopes with `offline_access` (once), in a stable order for the cache key.
fn with_offline(scopes: &[String]) -> Vec<String> {
    let mut all: Vec<String> = scopes.iter().map(|s| s.trim().to_string()).collect();
    all.push("offline_access".to_string());
    all.sort();
    all.dedup();
    all
}

fn random_token() -> Result<String, Failure> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Failure::new(Code::Internal, format!("No randomness available: {e}.")))?;
    Ok(base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        bytes,
    ))
}

fn bad_url(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::new(
        Code::DiscoveryFailed,
        format!(
            "The provider's {what} is not a usable address ({e}). Check the authority setting."
        ),
    )
}

impl SignIn {
    pub fn new(profile: Profile, store: Arc<dyn SecretStore>, deps: Deps) -> SignIn {
        SignIn {
            profile,
            store,
            deps,
            access: tokio::sync::Mutex::new(HashMap::new()),
            authorities: Mutex::new(Vec::new()),
            redeemed: Mutex::new(HashSet::new()),
            part_chars: tokens::PART_CHARS,
        }
    }

    /// Splits refresh tokens into items of `chars` characters (tests of the splitting).
    pub fn with_part_chars(mut self, chars: usize) -> SignIn {
        self.part_chars = chars.max(1);
        self
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// `whoami`: the signed-in account from the data directory, without any network or keyring
    /// access. `None` when nobody is signed in.
    pub fn account(&self) -> Result<Option<Account>, Failure> {
        tokens::load_account(&self.profile)
    }

    /// Reads the authority's metadata (cached for this `SignIn`).
    pub async fn authority(&self, config: &SignInConfig) -> Result<Arc<Authority>, Failure> {
        if let Some(found) = self.authorities.lock().unwrap().iter().find(|a| {
            a.config.authority == config.authority && a.config.client_id == config.client_id
        }) {
            return Ok(found.clone());
        }
        let authority = Arc::new(Authority::discover(config, &self.deps).await?);
        self.authorities.lock().unwrap().push(authority.clone());
        Ok(authority)
    }

    fn client(&self, authority: &Authority) -> Result<OidcClient, Failure> {
        let client_id = authority.config.require_client_id()?;
        let m = &authority.metadata;
        let device = m
            .device_authorization_endpoint
            .as_ref()
            .map(|u| DeviceAuthorizationUrl::new(u.clone()))
            .transpose()
            .map_err(|e| bad_url("device authorization endpoint", e))?;
        let revocation = m
            .revocation_endpoint
            .as_ref()
            .map(|u| RevocationUrl::new(u.clone()))
            .transpose()
            .map_err(|e| bad_url("revocation endpoint", e))?;
        Ok(oauth2::Client::new(ClientId::new(client_id.to_string()))
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(
                AuthUrl::new(m.authorization_endpoint.clone())
                    .map_err(|e| bad_url("authorization endpoint", e))?,
            )
            .set_token_uri(
                TokenUrl::new(m.token_endpoint.clone())
                    .map_err(|e| bad_url("token endpoint", e))?,
            )
            .set_device_authorization_url_option(device)
            .set_revocation_url_option(revocation))
    }

    // ---- browser ------------------------------------------------------------------------------

    /// Signs in through the system browser: opens the address with `open_url` (the app passes
    /// tauri-plugin-opener; the CLI `$BROWSER` or the platform opener, and prints the address),
    /// waits for the answer on the loopback listener, and stores the result.
    pub async fn sign_in_with_browser(
        &self,
        config: &SignInConfig,
        open_url: &(dyn Fn(&str) -> Result<(), String> + Send + Sync),
        cancel: &Cancellation,
    ) -> Result<Account, Failure> {
        let pending = self.begin_browser(config).await?;
        // A browser that cannot be opened is not fatal: the address is shown to the user too.
        let _ = open_url(pending.url());
        self.finish_browser(pending, cancel).await
    }

    /// The first half of [`SignIn::sign_in_with_browser`]: discovery, listener, address.
    pub async fn begin_browser(&self, config: &SignInConfig) -> Result<BrowserSignIn, Failure> {
        config.require_client_id()?;
        let authority = self.authority(config).await?;
        let listener = LoopbackListener::bind(config.redirect).await?;
        let client = self.client(&authority)?.set_redirect_uri(
            RedirectUrl::new(listener.redirect_uri().to_string())
                .map_err(|e| Failure::new(Code::Internal, format!("Bad redirect: {e}")))?,
        );
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = random_token()?;
        let nonce = random_token()?;
        let state_for_url = state.clone();
        let mut request = client
            .authorize_url(move || CsrfToken::new(state_for_url))
            .add_scopes(config.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .add_extra_param("nonce", nonce.clone())
            .add_extra_param("response_mode", "query");
        // OpenID Connect Core §11: a refresh token (offline_access) is granted only with
        // prompt=consent. Entra does not need it, and forcing consent there would show the consent
        // screen at every sign-in (or fail where users may not consent), so only others get it.
        if !authority.is_microsoft() {
            request = request.add_extra_param("prompt", "consent");
        }
        let (url, _) = request.url();
        Ok(BrowserSignIn {
            authority,
            listener,
            url: url.to_string(),
            state,
            nonce,
            verifier: Secret::new(verifier.into_secret()),
            timeout: config.browser_timeout(),
        })
    }

    /// The second half: waits for the browser's answer, checks it, redeems the code, validates
    /// the ID token, stores the refresh token and the account. The browser tab is told the outcome.
    pub async fn finish_browser(
        &self,
        pending: BrowserSignIn,
        cancel: &Cancellation,
    ) -> Result<Account, Failure> {
        match self.finish(pending, cancel, true).await? {
            Finished::Account(account) => Ok(account),
            Finished::Tokens(_) => {
                Err(Failure::new(Code::Internal, "No account. Report this bug."))
            }
        }
    }

    /// Like [`SignIn::finish_browser`], but returns the validated tokens instead of storing them
    /// (diagnostics and tests; the refresh token is then not kept anywhere).
    pub async fn receive_tokens(
        &self,
        pending: BrowserSignIn,
        cancel: &Cancellation,
    ) -> Result<TokenSet, Failure> {
        match self.finish(pending, cancel, false).await? {
            Finished::Tokens(tokens) => Ok(tokens),
            Finished::Account(_) => {
                Err(Failure::new(Code::Internal, "No tokens. Report this bug."))
            }
        }
    }

    async fn finish(
        &self,
        pending: BrowserSignIn,
        cancel: &Cancellation,
        store: bool,
    ) -> Result<Finished, Failure> {
        let BrowserSignIn {
            authority,
            listener,
            state,
            nonce,
            verifier,
            timeout,
            ..
        } = pending;
        let redirect_uri = listener.redirect_uri().to_string();
        let (callback, reply) = listener.wait(timeout, cancel).await?;
        let outcome = async {
            let code = check_callback(&authority, &callback, &state)?;
            let tokens = self
                .redeem_code(&authority, &code, &verifier, &redirect_uri, Some(&nonce))
                .await?;
            if store {
                Ok(Finished::Account(
                    self.complete(&authority, tokens, SignInMethod::Browser)
                        .await?,
                ))
            } else {
                Ok(Finished::Tokens(tokens))
            }
        }
        .await;
        reply
            .send(outcome.as_ref().map(|_| ()).map_err(|f: &Failure| f.code))
            .await;
        outcome
    }

    /// Redeems an authorization code (with its PKCE verifier) and validates the ID token. Nothing
    /// is stored. A code this `SignIn` already redeemed is refused without asking the provider;
    /// a redirect address that is not loopback is refused before any request.
    pub async fn redeem_code(
        &self,
        authority: &Authority,
        code: &str,
        verifier: &Secret,
        redirect_uri: &str,
        nonce: Option<&str>,
    ) -> Result<TokenSet, Failure> {
        check_loopback_redirect(redirect_uri)?;
        let digest: [u8; 32] = Sha256::digest(code.as_bytes()).into();
        if !self.redeemed.lock().unwrap().insert(digest) {
            return Err(provider_failure(
                &ProviderError::new("invalid_grant", Some("authorization code already redeemed")),
                Stage::RedeemCode,
            ));
        }
        let client = self.client(authority)?.set_redirect_uri(
            RedirectUrl::new(redirect_uri.to_string())
                .map_err(|e| Failure::new(Code::Internal, format!("Bad redirect: {e}")))?,
        );
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().to_string()))
            .request_async(&oauth_http(&self.deps))
            .await
            .map_err(|e| errors::token_request_failure(e, Stage::RedeemCode))?;
        self.token_set(authority, response, nonce, true).await
    }

    async fn token_set(
        &self,
        authority: &Authority,
        response: OidcTokenResponse,
        nonce: Option<&str>,
        id_token_required: bool,
    ) -> Result<TokenSet, Failure> {
        let now = self.deps.clock.now();
        let client_id = authority.config.require_client_id()?;
        let id_token = response.extra_fields().id_token.clone();
        let claims = match &id_token {
            Some(token) => Some(
                authority
                    .validate_id_token(
                        token,
                        &Expect {
                            client_id,
                            nonce,
                            now,
                        },
                    )
                    .await?,
            ),
            None if id_token_required => {
                return Err(Failure::new(
                    Code::IdTokenInvalid,
                    "The identity provider sent no ID token, so the account cannot be identified. Check that the `openid` scope is allowed for apppass, then sign in again.",
                ))
            }
            None => None,
        };
        let lifetime = response
            .expires_in()
            .map(|d| d.as_secs() as i64)
            .unwrap_or(DEFAULT_ACCESS_SECONDS);
        Ok(TokenSet {
            access_token: Secret::new(response.access_token().secret().clone()),
            expires_at: now + lifetime,
            refresh_token: response
                .refresh_token()
                .map(|r| Secret::new(r.secret().clone())),
            id_token: id_token.map(Secret::new),
            claims,
        })
    }

    // ---- device code ------------------------------------------------------------------------

    /// Signs in with a code (RFC 8628): `show` gets the code and address before polling starts;
    /// polling waits the provider's interval (+5 s on `slow_down`) with the injected sleep.
    pub async fn sign_in_with_code(
        &self,
        config: &SignInConfig,
        show: &(dyn Fn(&DeviceCode) + Send + Sync),
        cancel: &Cancellation,
    ) -> Result<Account, Failure> {
        config.require_client_id()?;
        let authority = self.authority(config).await?;
        let client = self.client(&authority)?;
        let request = client.exchange_device_code().map_err(|_| {
            Failure::new(
                Code::ProviderRejected,
                "This identity provider does not offer sign-in with a code. Use the browser sign-in (`apppass login` without --device-code).",
            )
        })?;
        let http = oauth_http(&self.deps);
        let details: oauth2::StandardDeviceAuthorizationResponse = request
            .add_scopes(config.scopes.iter().cloned().map(Scope::new))
            .request_async(&http)
            .await
            .map_err(|e| errors::token_request_failure(e, Stage::DeviceAuthorization))?;
        show(&DeviceCode {
            verification_uri: details.verification_uri().to_string(),
            user_code: details.user_code().secret().clone(),
            verification_uri_complete: details
                .verification_uri_complete()
                .map(|u| u.secret().clone()),
            expires_in_seconds: details.expires_in().as_secs(),
            interval_seconds: details.interval().as_secs(),
            message: None,
        });
        let clock = self.deps.clock.clone();
        let sleep = self.deps.sleep.clone();
        let poll = client
            .exchange_device_access_token(&details)
            .set_time_fn(move || {
                chrono::DateTime::<chrono::Utc>::from_timestamp(clock.now(), 0).unwrap_or_default()
            })
            .request_async(&http, move |d| sleep.sleep(d), None);
        let response = tokio::select! {
            r = poll => r.map_err(errors::device_poll_failure)?,
            _ = cancel.cancelled() => return Err(loopback::cancelled_failure()),
        };
        let tokens = self.token_set(&authority, response, None, true).await?;
        self.complete(&authority, tokens, SignInMethod::DeviceCode)
            .await
    }

    // ---- storing --------------------------------------------------------------------------------

    async fn complete(
        &self,
        authority: &Authority,
        tokens: TokenSet,
        method: SignInMethod,
    ) -> Result<Account, Failure> {
        let claims = tokens
            .claims
            .as_ref()
            .ok_or_else(|| Failure::new(Code::Internal, "No ID token claims. Report this bug."))?;
        let refresh = tokens.refresh_token.as_ref().ok_or_else(|| {
            Failure::new(
                Code::ProviderRejected,
                "The identity provider gave no refresh token, so apppass could not stay signed in. Ask IT to allow the offline_access permission for apppass, then sign in again.",
            )
        })?;
        let key = tokens::account_key(&claims.iss, &claims.sub);
        let username = claims
            .preferred_username
            .clone()
            .or_else(|| claims.upn.clone())
            .or_else(|| claims.email.clone())
            .unwrap_or_else(|| claims.sub.clone());
        let account = Account {
            username,
            email: claims.email.clone(),
            name: claims.name.clone(),
            issuer: claims.iss.clone(),
            tenant_id: claims.tid.clone(),
            object_id: claims.oid.clone(),
            subject: claims.sub.clone(),
            authority: authority.config.authority.clone(),
            client_id: authority.config.require_client_id()?.to_string(),
            scopes: authority.config.scopes.clone(),
            amr: claims.amr.clone(),
            mfa_used: claims.amr.iter().any(|m| m == "mfa"),
            method,
            signed_in_at: self.deps.clock.now(),
            id_token_expires_at: claims.exp,
            state: SessionState::Active,
            account_key: key.clone(),
        };
        // One account per profile: a previous account's tokens go.
        if let Some(previous) = self.account()? {
            if previous.account_key != key {
                self.slot(&previous.account_key).delete()?;
            }
        }
        self.slot(&key).put(refresh, &account.label())?;
        tokens::save_account(&self.profile, &account)?;
        let mut access = self.access.lock().await;
        // Tokens of a previous sign-in (for any scopes) go.
        access.clear();
        access.insert(
            None,
            AccessToken {
                token: tokens.access_token.clone(),
                expires_at: tokens.expires_at,
            },
        );
        Ok(account)
    }

    fn slot<'a>(&'a self, account_key: &'a str) -> tokens::RefreshTokenSlot<'a> {
        tokens::RefreshTokenSlot {
            store: self.store.as_ref(),
            namespace: &self.profile.namespace,
            account_key,
            part_chars: self.part_chars,
        }
    }

    /// The stored refresh token of the signed-in account (tests and diagnostics; never shown).
    pub fn stored_refresh_token(&self) -> Result<Option<Secret>, Failure> {
        match self.account()? {
            Some(account) => self.slot(&account.account_key).get(),
            None => Ok(None),
        }
    }

    // ---- tokens -----------------------------------------------------------------------------------

    /// An access token for the signed-in account: the one in memory while it has more than
    /// 5 minutes left, else a new one from the refresh token (a rotated refresh token replaces
    /// the stored one). `SignInRequired` when nobody is signed in or the provider refuses the
    /// refresh token (the stored one is then deleted and the account marked).
    pub async fn access_token(&self) -> Result<AccessToken, Failure> {
        self.cached_or_refreshed(None).await
    }

    /// Refreshes now, whatever the cached token's expiry.
    pub async fn refresh(&self) -> Result<AccessToken, Failure> {
        self.refresh_locked(&mut *self.access.lock().await, None)
            .await
    }

    /// An access token for other scopes than the sign-in's (the bridge's mail scopes, another
    /// resource), from the same refresh token; cached like [`SignIn::access_token`].
    /// `offline_access` is added so that a rotated refresh token comes back.
    pub async fn access_token_for(&self, scopes: &[String]) -> Result<AccessToken, Failure> {
        self.cached_or_refreshed(Some(with_offline(scopes))).await
    }

    /// [`SignIn::access_token_for`], refreshing now (the server refused the cached token).
    pub async fn refresh_for(&self, scopes: &[String]) -> Result<AccessToken, Failure> {
        self.refresh_locked(&mut *self.access.lock().await, Some(with_offline(scopes)))
            .await
    }

    async fn cached_or_refreshed(
        &self,
        scopes: Option<Vec<String>>,
    ) -> Result<AccessToken, Failure> {
        let mut cached = self.access.lock().await;
        let now = self.deps.clock.now();
        if let Some(token) = cached.get(&scopes) {
            if now + REFRESH_MARGIN_SECONDS < token.expires_at {
                return Ok(token.clone());
            }
        }
        self.refresh_locked(&mut cached, scopes).await
    }

    async fn refresh_locked(
        &self,
        cached: &mut HashMap<Option<Vec<String>>, AccessToken>,
        scopes: Option<Vec<String>>,
    ) -> Result<AccessToken, Failure> {
        match self.refresh_inner(scopes.as_deref()).await {
            Ok(fresh) => {
                cached.insert(scopes, fresh.clone());
                Ok(fresh)
            }
            Err(f) => {
                if f.code == Code::SignInRequired {
                    cached.clear();
                }
                Err(f)
            }
        }
    }

    async fn refresh_inner(&self, scopes: Option<&[String]>) -> Result<AccessToken, Failure> {
        let not_signed_in = || {
            Failure::new(
                Code::SignInRequired,
                "You are not signed in with a work account. Run `apppass login` (or use Sign in in the app).",
            )
        };
        let mut account = self.account()?.ok_or_else(not_signed_in)?;
        if account.state == SessionState::SignInRequired {
            return Err(not_signed_in());
        }
        let refresh = self
            .slot(&account.account_key)
            .get()?
            .ok_or_else(|| {
                Failure::new(
                    Code::SignInRequired,
                    "The saved sign-in is no longer in the keyring. Sign in again with `apppass login`.",
                )
            })?;
        let config = SignInConfig {
            authority: account.authority.clone(),
            client_id: Some(account.client_id.clone()),
            scopes: account.scopes.clone(),
            redirect: Default::default(),
            locked: Vec::new(),
            policy_path: None,
            browser_timeout_seconds: config::BROWSER_TIMEOUT.as_secs(),
        };
        let authority = self.authority(&config).await?;
        let client = self.client(&authority)?;
        let rt = RefreshToken::new(refresh.expose().to_string());
        let answer = client
            .exchange_refresh_token(&rt)
            .add_scopes(
                scopes
                    .unwrap_or(&account.scopes)
                    .iter()
                    .cloned()
                    .map(Scope::new),
            )
            .request_async(&oauth_http(&self.deps))
            .await
            .map_err(|e| errors::token_request_failure(e, Stage::Refresh));
        let response = match answer {
            Ok(r) => r,
            Err(f) => {
                if f.code == Code::SignInRequired {
                    self.slot(&account.account_key).delete()?;
                    account.state = SessionState::SignInRequired;
                    tokens::save_account(&self.profile, &account)?;
                }
                return Err(f);
            }
        };
        // A rotated refresh token is stored at once, before the ID token is checked: the
        // provider has retired the one just sent, so if checking fails half-way (its key set
        // unreachable, say) the new one is the only one that still works. It came from the
        // account's own token endpoint in answer to the account's own refresh token.
        if let Some(rotated) = response.refresh_token() {
            self.slot(&account.account_key)
                .put(&Secret::new(rotated.secret().clone()), &account.label())?;
        }
        let tokens = self.token_set(&authority, response, None, false).await?;
        if let Some(claims) = &tokens.claims {
            if claims.sub != account.subject {
                return Err(Failure::new(
                    Code::IdTokenInvalid,
                    "The refreshed ID token names another account than the one signed in. Sign in again.",
                ));
            }
        }
        Ok(AccessToken {
            token: tokens.access_token,
            expires_at: tokens.expires_at,
        })
    }

    // ---- sign-out ---------------------------------------------------------------------------

    /// Signs out: revokes the refresh token where the provider has a revocation endpoint (best
    /// effort: a failure is reported in `note`, the local sign-out still happens), then deletes
    /// the tokens from the store and the account file.
    pub async fn sign_out(&self) -> Result<SignedOut, Failure> {
        let Some(account) = self.account()? else {
            return Ok(SignedOut {
                account: None,
                revoked: false,
                note: None,
            });
        };
        let slot = self.slot(&account.account_key);
        let (revoked, note) = match slot.get() {
            Ok(Some(refresh)) => self.revoke(&account, &refresh).await,
            Ok(None) => (false, None),
            Err(f) if f.code == Code::SignInRequired => (false, None),
            Err(f) => return Err(f),
        };
        slot.delete()?;
        tokens::remove_account(&self.profile)?;
        self.access.lock().await.clear();
        Ok(SignedOut {
            account: Some(account),
            revoked,
            note,
        })
    }

    async fn revoke(&self, account: &Account, refresh: &Secret) -> (bool, Option<String>) {
        let config = SignInConfig {
            authority: account.authority.clone(),
            client_id: Some(account.client_id.clone()),
            scopes: account.scopes.clone(),
            redirect: Default::default(),
            locked: Vec::new(),
            policy_path: None,
            browser_timeout_seconds: config::BROWSER_TIMEOUT.as_secs(),
        };
        let authority = match self.authority(&config).await {
            Ok(a) => a,
            Err(f) => {
                return (
                    false,
                    Some(format!(
                        "The provider could not be reached to revoke the sign-in ({}); it was removed from this computer only.",
                        f.message
                    )),
                )
            }
        };
        // RFC 7009, sent directly: oauth2's revocation refuses plain http even on loopback, and
        // discovery already required https (or loopback) for this endpoint.
        let Some(endpoint) = authority.metadata.revocation_endpoint.clone() else {
            return (
                false,
                Some("This provider offers no revocation; the sign-in was removed from this computer. It ends at the provider when it expires, or when IT revokes your sessions.".to_string()),
            );
        };
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", refresh.expose())
            .append_pair("token_type_hint", "refresh_token")
            .append_pair("client_id", &account.client_id)
            .finish();
        let request = match ::http::Request::post(endpoint.as_str())
            .header(::http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(::http::header::ACCEPT, "application/json")
            .body(body.into_bytes())
        {
            Ok(r) => r,
            Err(e) => return (false, Some(format!("The revocation address is unusable ({e}); the sign-in was removed from this computer."))),
        };
        match self.deps.http.send(request).await {
            Ok(answer) if answer.status() == 200 => (true, None),
            Ok(answer) => (
                false,
                Some(format!(
                    "The provider did not confirm the revocation (HTTP {}); the sign-in was removed from this computer.",
                    answer.status().as_u16()
                )),
            ),
            Err(e) => (
                false,
                Some(format!(
                    "{}; the sign-in was removed from this computer only.",
                    e.to_failure().message.trim_end_matches('.')
                )),
            ),
        }
    }
}

/// Checks the browser's answer (state first, so a forged error is refused as forged) and returns
/// the code.
fn check_callback(
    authority: &Authority,
    callback: &Callback,
    expected_state: &str,
) -> Result<String, Failure> {
    let state_ok = callback
        .get("state")
        .map(|s| constant_time_eq(s.as_bytes(), expected_state.as_bytes()))
        .unwrap_or(false);
    if !state_ok {
        return Err(Failure::new(
            Code::StateMismatch,
            "The answer that reached apppass does not belong to the sign-in it started (wrong `state`), so it was refused. Nothing was changed; start the sign-in again, and close other sign-in tabs.",
        ));
    }
    // RFC 9207: a provider that names itself in the answer must name the expected issuer.
    match callback.get("iss") {
        Some(iss) if iss.trim_end_matches('/') != authority.metadata.issuer.trim_end_matches('/') => {
            return Err(Failure::new(
                Code::IssuerMismatch,
                format!("The answer came from another identity provider ({iss}) than the one apppass signed in with, so it was refused (a mix-up). Nothing was changed; start the sign-in again."),
            ))
        }
        None if authority.metadata.authorization_response_iss_parameter_supported => {
            return Err(Failure::new(
                Code::IssuerMismatch,
                "The answer does not name its identity provider although the provider says it always does, so it was refused. Nothing was changed; start the sign-in again.",
            ))
        }
        _ => {}
    }
    if let Some(error) = callback.get("error") {
        let mut e = ProviderError::new(error, callback.get("error_description"));
        e.error_uri = callback.get("error_uri").map(str::to_string);
        return Err(provider_failure(&e, Stage::Authorize));
    }
    callback
        .get("code")
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            Failure::new(
                Code::ProviderRejected,
                "The identity provider's answer has no authorization code. Start the sign-in again.",
            )
        })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
