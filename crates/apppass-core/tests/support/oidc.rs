//! Test support for sign-in: the real OpenID provider of `tests/harness/oidc` (oidc-provider on
//! Node), started once per test binary, and a "browser" that submits its real login, consent and
//! device pages over HTTP with a cookie jar.
//!
//! For the bridge's tests (issue 5) the provider also offers: RFC 7662 introspection for the
//! confidential client `dovecot` ([`Harness::introspection`], handed to
//! `support::dovecot::dovecot_oauth2`), test-only admin endpoints
//! ([`Harness::expire_access_tokens`], [`Harness::revoke_grants`]), a provider whose access
//! tokens live only a few seconds ([`short_ttl_harness`], [`start_with_access_ttl`]), and a whole
//! browser sign-in through apppass's own code ([`sign_in`]).

#![allow(dead_code)]

use super::node;

use std::sync::OnceLock;

pub const USER: &str = "ann@example.test";
pub const PASSWORD: &str = "ann-test-password";
pub const CLIENT: &str = "apppass-test";
pub const OTHER_CLIENT: &str = "apppass-other";
pub const SHORT_CLIENT: &str = "apppass-short";
pub const SLOW_CLIENT: &str = "apppass-slow";

/// The confidential client that may introspect the apppass-* clients' access tokens.
pub const INTROSPECTOR: &str = "dovecot";
/// The access-token lifetime of [`short_ttl_harness`], in seconds.
pub const SHORT_ACCESS_TTL: u64 = 4;

pub struct Harness {
    /// The main issuer, as clients reach it (its own address, or the proxy's: [`start_behind`]).
    pub issuer: String,
    /// Where the main issuer really listens (the admin endpoints are called there).
    pub listen: String,
    pub other_issuer: String,
    /// Lifetime of the access tokens it issues, in seconds (600 unless started otherwise).
    pub access_ttl: u64,
    /// Where and as whom to introspect tokens (the main issuer's endpoint).
    pub introspection: Introspection,
    _process: node::NodeProcess,
}

/// The introspection endpoint and the `dovecot` client's credentials (secret random per run).
/// No `Debug`: the secret is not to be printed.
#[derive(Clone)]
pub struct Introspection {
    /// `http://127.0.0.1:PORT/token/introspection`
    pub url: String,
    /// `dovecot`
    pub client_id: String,
    pub client_secret: String,
}

impl Introspection {
    /// The object the harness printed (`{"url","client_id","client_secret"}`), the form
    /// `support::dovecot::dovecot_oauth2` takes.
    pub fn as_json(&self) -> serde_json::Value {
        serde_json::json!({
            "url": self.url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        })
    }

    /// Asks the endpoint about a token as the `dovecot` client would: the RFC 7662 answer.
    pub async fn introspect(&self, token: &str) -> serde_json::Value {
        tls_ready();
        reqwest::Client::new()
            .post(&self.url)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("token", token)])
            .send()
            .await
            .expect("the provider answers")
            .json()
            .await
            .expect("introspection answers JSON")
    }
}

/// The provider, started on first use (ephemeral ports on 127.0.0.1).
pub fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| launch(None))
}

/// A second provider, separate from [`harness`], whose access tokens live
/// [`SHORT_ACCESS_TTL`] seconds; started on first use.
pub fn short_ttl_harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| launch(Some(SHORT_ACCESS_TTL)))
}

/// A provider of its own whose access tokens live `seconds`; it stops when the value is dropped
/// with the test binary (its stdin closes).
pub fn start_with_access_ttl(seconds: u64) -> Harness {
    launch(Some(seconds))
}

/// A provider of its own whose public address (its issuer, and the endpoints its discovery
/// document names) is `public_issuer`, e.g. a fault proxy in front of it
/// (`support::faultproxy`); it still listens on an address of its own ([`Harness::listen`]),
/// where the admin endpoints and the introspection URL point.
pub fn start_behind(public_issuer: &str) -> Harness {
    // One log per provider (tests of one binary start several at once).
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    launch_with(
        &["--issuer", public_issuer],
        &format!("apppass-oidc-harness-proxied{n}"),
    )
}

fn launch(access_ttl: Option<u64>) -> Harness {
    let ttl = access_ttl.map(|s| s.to_string());
    let (args, log_name) = match &ttl {
        Some(ttl) => (
            vec!["--access-ttl", ttl.as_str()],
            format!("apppass-oidc-harness-ttl{ttl}"),
        ),
        None => (vec![], "apppass-oidc-harness".to_string()),
    };
    launch_with(&args, &log_name)
}

fn launch_with(args: &[&str], log_name: &str) -> Harness {
    // This file is included from the app's tests too; find the repository from the crate.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|p| p.join("tests/harness/oidc/server.mjs").is_file())
        .expect("tests/harness/oidc/server.mjs above the crate")
        .join("tests/harness/oidc");
    assert!(
        dir.join("node_modules/oidc-provider").is_dir(),
        "the test OpenID provider is not installed: run scripts/setup.sh --test (npm ci in tests/harness/oidc)"
    );
    let process = node::start(&dir, args, "the OpenID provider", log_name);
    let ready = &process.ready;
    let text = |v: &serde_json::Value| {
        v.as_str()
            .unwrap_or_else(|| panic!("the harness printed {ready}"))
            .to_string()
    };
    let issuer = text(&ready["issuer"]);
    Harness {
        listen: ready["listen"].as_str().unwrap_or(&issuer).to_string(),
        issuer,
        other_issuer: text(&ready["other_issuer"]),
        access_ttl: ready["access_ttl"].as_u64().unwrap_or(600),
        introspection: Introspection {
            url: text(&ready["introspection"]["url"]),
            client_id: text(&ready["introspection"]["client_id"]),
            client_secret: text(&ready["introspection"]["client_secret"]),
        },
        _process: process,
    }
}

impl Harness {
    /// Destroys every access token this provider issued so far (refresh tokens stay): a mail
    /// server then refuses them, and a refresh gets new ones. Returns how many were destroyed.
    pub async fn expire_access_tokens(&self) -> u64 {
        self.admin_path("/_test/expire-access-tokens", "expired")
            .await
    }

    /// Destroys `account`'s grants with all their refresh and access tokens: a refresh then fails
    /// with `invalid_grant` (apppass: SignInRequired). Returns how many grants were revoked.
    pub async fn revoke_grants(&self, account: &str) -> u64 {
        let mut url = reqwest::Url::parse(&format!("{}/_test/revoke-grants", self.listen)).unwrap();
        url.query_pairs_mut().append_pair("account", account);
        self.admin(url, "revoked").await
    }

    async fn admin_path(&self, path: &str, field: &str) -> u64 {
        let url = reqwest::Url::parse(&format!("{}{path}", self.listen)).unwrap();
        self.admin(url, field).await
    }

    /// Arms a fault at the provider itself (`POST /_test/fail?…`, see tests/harness/oidc/
    /// server.mjs): `query` is e.g. `path=/token&status=503&body=json&retry_after=7`.
    pub async fn fail(&self, query: &str) -> u64 {
        let url = reqwest::Url::parse(&format!("{}/_test/fail?{query}", self.listen)).unwrap();
        self.admin(url, "armed").await
    }

    /// Disarms every fault and drops the connections a `hang` fault held.
    pub async fn fail_clear(&self) -> u64 {
        self.admin_path("/_test/fail-clear", "cleared").await
    }

    /// How many requests the armed faults answered (or held) so far.
    pub async fn fail_count(&self) -> u64 {
        self.admin_path("/_test/fail-count", "failed").await
    }

    async fn admin(&self, url: reqwest::Url, field: &str) -> u64 {
        tls_ready();
        let path = url.path().to_string();
        let r = reqwest::Client::new()
            .post(url)
            .send()
            .await
            .expect("the provider answers");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        let body: serde_json::Value = r.json().await.unwrap();
        body[field]
            .as_u64()
            .unwrap_or_else(|| panic!("{path} answered {body}"))
    }
}

/// A profile signed in through apppass's own browser sign-in (the real loopback listener, the
/// provider's real login and consent pages, as [`USER`]).
pub struct SignedIn {
    pub signin: apppass_core::signin::SignIn,
    pub store: std::sync::Arc<dyn apppass_core::vault::store::SecretStore>,
    /// The profile's directory (kept as long as this value).
    pub dir: tempfile::TempDir,
}

/// Signs [`USER`] in to `issuer` as [`CLIENT`] with `scopes` (besides apppass's base scopes
/// openid, offline_access, …), with the refresh token in `store`. The access tokens it then gives
/// (`signin.access_token()`) are opaque tokens that [`Introspection`] knows.
pub async fn sign_in(
    issuer: &str,
    scopes: &[&str],
    store: std::sync::Arc<dyn apppass_core::vault::store::SecretStore>,
) -> SignedIn {
    use apppass_core::signin::{Cancellation, Deps, SignIn, SignInConfig};
    let settings = apppass_core::policy::SignInSettings {
        authority: Some(issuer.to_string()),
        client_id: Some(CLIENT.to_string()),
        scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    };
    let config = SignInConfig::from_settings(&settings, vec![], None).unwrap();
    let deps = Deps {
        http: std::sync::Arc::new(apppass_core::signin::ReqwestTransport::new().unwrap()),
        clock: std::sync::Arc::new(apppass_core::clock::SystemClock),
        sleep: std::sync::Arc::new(apppass_core::signin::TokioSleep),
    };
    let dir = tempfile::tempdir().unwrap();
    let profile = apppass_core::profile::Profile::isolated(dir.path()).unwrap();
    let signin = SignIn::new(profile, store.clone(), deps);
    let pending = signin.begin_browser(&config).await.unwrap();
    let url = pending.url().to_string();
    let browser = tokio::spawn(async move {
        let b = Browser::new();
        let callback = b.authorize(&url, Choice::Approve).await;
        b.deliver(&callback).await
    });
    let account = signin
        .finish_browser(pending, &Cancellation::new())
        .await
        .unwrap_or_else(|f| panic!("sign-in failed: {}", f.message));
    browser.await.unwrap();
    assert_eq!(account.username, USER);
    SignedIn { signin, store, dir }
}

/// One HTML form: where it posts and its fields.
#[derive(Debug, Clone)]
pub struct Form {
    pub id: Option<String>,
    pub action: String,
    pub fields: Vec<(String, String)>,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].replace("&amp;", "&").replace("&#x2F;", "/"))
}

/// The forms of a page (the provider's pages are simple, well-formed HTML).
pub fn forms(html: &str) -> Vec<Form> {
    let mut out = Vec::new();
    for chunk in html.split("<form").skip(1) {
        let tag_end = chunk.find('>').unwrap_or(chunk.len());
        let tag = &chunk[..tag_end];
        let body = &chunk[..chunk.find("</form>").unwrap_or(chunk.len())];
        let mut fields = Vec::new();
        for input in body.split("<input").skip(1) {
            let input = &input[..input.find('>').unwrap_or(input.len())];
            if let Some(name) = attr(input, "name") {
                fields.push((name, attr(input, "value").unwrap_or_default()));
            }
        }
        out.push(Form {
            id: attr(tag, "id"),
            action: attr(tag, "action").unwrap_or_default(),
            fields,
        });
    }
    out
}

/// What the user does on the consent or device-confirmation page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Approve,
    Deny,
}

/// A browser: a cookie jar, no automatic redirects (so that the answer to apppass's loopback
/// listener can be inspected, tampered with, or delivered).
pub struct Browser {
    client: reqwest::Client,
    pub user: String,
    pub password: String,
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

/// reqwest needs the process's TLS crypto provider, which apppass's transport installs.
pub fn tls_ready() {
    let _ = apppass_core::signin::ReqwestTransport::new();
}

impl Browser {
    pub fn new() -> Browser {
        tls_ready();
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            user: USER.into(),
            password: PASSWORD.into(),
        }
    }

    /// Opens the authorization address, signs in and consents on the provider's pages, and
    /// returns the address the provider redirects to on the loopback listener (not requested).
    pub async fn authorize(&self, url: &str, choice: Choice) -> String {
        let redirect = param(url, "redirect_uri").expect("the address names its redirect_uri");
        self.walk(url, choice, Some(&redirect), None).await
    }

    /// Signs in with a device code on the provider's pages; returns the final page.
    pub async fn approve_device(
        &self,
        verification_uri: &str,
        user_code: &str,
        choice: Choice,
    ) -> String {
        self.walk(verification_uri, choice, None, Some(user_code))
            .await
    }

    async fn walk(
        &self,
        start: &str,
        choice: Choice,
        stop_at: Option<&str>,
        user_code: Option<&str>,
    ) -> String {
        let mut url = reqwest::Url::parse(start).unwrap();
        let mut post: Option<Vec<(String, String)>> = None;
        let mut denied = false;
        for _ in 0..30 {
            if let Some(prefix) = stop_at {
                if url.as_str().starts_with(prefix) {
                    return url.to_string();
                }
            }
            let response = match post.take() {
                Some(fields) => self.client.post(url.clone()).form(&fields).send().await,
                None => self.client.get(url.clone()).send().await,
            }
            .expect("the provider answers");
            let status = response.status();
            if status.is_redirection() {
                let location = response.headers()["location"].to_str().unwrap().to_string();
                url = url.join(&location).unwrap();
                continue;
            }
            let html = response.text().await.unwrap();
            if denied {
                // The provider's answer to "deny": its result page, nothing more to submit.
                return html;
            }
            let page_forms = forms(&html);
            let form = if let Some(f) = page_forms
                .iter()
                .find(|f| f.fields.iter().any(|(n, _)| n == "password"))
            {
                let mut f = f.clone();
                set(&mut f.fields, "login", &self.user);
                set(&mut f.fields, "password", &self.password);
                f
            } else if let Some(f) = page_forms
                .iter()
                .find(|f| f.id.as_deref() == Some("op.deviceInputForm"))
            {
                let mut f = f.clone();
                set(&mut f.fields, "user_code", user_code.expect("a user code"));
                f
            } else if let Some(f) = page_forms
                .iter()
                .find(|f| f.id.as_deref() == Some("op.deviceConfirmForm"))
            {
                let mut f = f.clone();
                if choice == Choice::Deny {
                    f.fields.push(("abort".into(), "yes".into()));
                    denied = true;
                }
                f
            } else if let Some(f) = page_forms.iter().find(|f| {
                f.action.ends_with(if choice == Choice::Approve {
                    "/confirm"
                } else {
                    "/abort"
                })
            }) {
                f.clone()
            } else {
                assert!(
                    stop_at.is_none(),
                    "unexpected page {url} ({status}): {html}"
                );
                return html;
            };
            url = url.join(&form.action).unwrap();
            post = Some(form.fields);
        }
        panic!("too many steps at {url}");
    }

    /// Delivers an answer to the loopback listener, as the browser would; returns the page.
    pub async fn deliver(&self, callback: &str) -> (u16, String) {
        tls_ready();
        let r = reqwest::get(callback)
            .await
            .expect("the loopback listener answers");
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

fn set(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    match fields.iter_mut().find(|(n, _)| n == name) {
        Some(f) => f.1 = value.to_string(),
        None => fields.push((name.to_string(), value.to_string())),
    }
}

/// A query parameter of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `url` with one query parameter replaced.
pub fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut u = reqwest::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

/// Posts a refresh token straight to the provider's token endpoint: the OAuth error, or `None`
/// when it was accepted.
pub async fn raw_refresh(issuer: &str, client_id: &str, refresh_token: &str) -> Option<String> {
    tls_ready();
    let r = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap();
    if r.status().is_success() {
        return None;
    }
    let body: serde_json::Value = r.json().await.unwrap();
    Some(body["error"].as_str().unwrap_or("").to_string())
}
