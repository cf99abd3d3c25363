//! The OAuth attack suite (issue 6 §2): every attack a sign-in must refuse, over real HTTP on
//! 127.0.0.1. Two kinds of provider:
//!
//! - the REAL OpenID provider of `tests/harness/oidc` (oidc-provider), for the attacks on the
//!   browser's answer (state, `iss`, replayed codes, PKCE);
//! - a small hand-written provider ([`Fake`], a real HTTP server on 127.0.0.1) whose discovery
//!   document and token endpoint answer what a test sets: crafted ID tokens (`alg: none`, a wrong
//!   key), redirects, metadata without S256. It counts every request, so a test can show that a
//!   redirect target was never asked. Its ID tokens are checked against the real provider's key
//!   set where the attack is "a token not signed by the issuer".
//!
//! Each attack test has a control (the same set-up with the honest value succeeds), so a refusal
//! is the protection at work and not a broken set-up. Attacks already covered in
//! `signin_oidc.rs` (wrong state, replayed code, wrong PKCE verifier, ID token from another
//! issuer or for another audience, expired ID token, non-loopback redirect) are not repeated.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use apppass_core::clock::{Clock, SystemClock};
use apppass_core::profile::Profile;
use apppass_core::signin::{
    Account, Cancellation, Deps, ReqwestTransport, SignIn, SignInConfig, TokioSleep,
};
use apppass_core::vault::store::SecretStore;
use apppass_core::{Code, Failure};
use base64::Engine;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use support::memory::Memory;
use support::oidc::{self, harness, Browser, Choice};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

// ---- a provider whose answers the test sets ------------------------------------------------------

/// One canned answer.
#[derive(Clone)]
struct Canned {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Canned {
    fn json(value: serde_json::Value) -> Canned {
        Canned {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    fn redirect(status: u16, location: &str) -> Canned {
        Canned {
            status,
            headers: vec![("Location".into(), location.into())],
            body: Vec::new(),
        }
    }
}

/// A real HTTP/1.1 server on 127.0.0.1 (ephemeral port): answers by path, records every request.
#[derive(Clone)]
struct Fake {
    base: String,
    routes: Arc<Mutex<HashMap<String, Canned>>>,
    /// (method, path, body) of every request, in order.
    hits: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl Fake {
    async fn start() -> Fake {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let fake = Fake {
            base,
            routes: Arc::default(),
            hits: Arc::default(),
        };
        let server = fake.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let server = server.clone();
                tokio::spawn(async move { server.serve(stream).await });
            }
        });
        fake
    }

    async fn serve(&self, mut stream: TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            let Ok(n) = stream.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let Ok(n) = stream.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let mut first = head.lines().next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_string();
        let target = first.next().unwrap_or("").to_string();
        let path = target.split('?').next().unwrap_or("").to_string();
        let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
        self.hits.lock().unwrap().push((method, path.clone(), body));
        let canned = self.routes.lock().unwrap().get(&path).cloned();
        let canned = canned.unwrap_or(Canned {
            status: 404,
            headers: Vec::new(),
            body: b"not found".to_vec(),
        });
        let mut out = format!("HTTP/1.1 {} X\r\n", canned.status);
        for (k, v) in &canned.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            canned.body.len()
        ));
        let _ = stream.write_all(out.as_bytes()).await;
        let _ = stream.write_all(&canned.body).await;
        let _ = stream.shutdown().await;
    }

    fn set(&self, path: &str, canned: Canned) {
        self.routes.lock().unwrap().insert(path.into(), canned);
    }

    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, p, _)| p == path)
            .count()
    }

    fn all_hits(&self) -> usize {
        self.hits.lock().unwrap().len()
    }

    /// Serves OpenID metadata naming itself as the issuer, with its own authorize, token and
    /// revocation endpoints and `jwks_uri` as the key set; `pkce`: the
    /// `code_challenge_methods_supported` field (`None`: left out).
    fn provider(&self, jwks_uri: &str, pkce: Option<&[&str]>) {
        let mut meta = serde_json::json!({
            "issuer": self.base,
            "authorization_endpoint": format!("{}/authorize", self.base),
            "token_endpoint": format!("{}/token", self.base),
            "revocation_endpoint": format!("{}/revoke", self.base),
            "jwks_uri": jwks_uri,
            "response_types_supported": ["code"],
        });
        if let Some(methods) = pkce {
            meta["code_challenge_methods_supported"] = serde_json::json!(methods);
        }
        self.set("/.well-known/openid-configuration", Canned::json(meta));
    }

    /// The token endpoint answers a token response with this ID token.
    fn token_answer(&self, id_token: &str) {
        self.set(
            "/token",
            Canned::json(serde_json::json!({
                "access_token": "fake-access-token",
                "token_type": "Bearer",
                "expires_in": 600,
                "refresh_token": "fake-refresh-token",
                "id_token": id_token,
            })),
        );
    }
}

// ---- keys and tokens -----------------------------------------------------------------------------

/// An RSA key of the test's own (made with the openssl tool in a temp dir; test-only).
struct OwnKey {
    /// PKCS#1 DER, as jsonwebtoken signs with it.
    der: Vec<u8>,
    /// The public key as a JWK.
    jwk: serde_json::Value,
}

fn own_key() -> &'static OwnKey {
    static KEY: OnceLock<OwnKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("key.pem");
        let der = dir.path().join("key.der");
        let run = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .output()
                .expect("the openssl tool runs (scripts/setup.sh --test installs it)");
            assert!(out.status.success(), "openssl {args:?}: {out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        let (pem_s, der_s) = (pem.to_str().unwrap(), der.to_str().unwrap());
        run(&["genrsa", "-traditional", "-out", pem_s, "2048"]);
        run(&[
            "rsa",
            "-in",
            pem_s,
            "-traditional",
            "-outform",
            "DER",
            "-out",
            der_s,
        ]);
        let modulus = run(&["rsa", "-in", pem_s, "-noout", "-modulus"]);
        let n = hex::decode(modulus.trim().trim_start_matches("Modulus=")).unwrap();
        OwnKey {
            der: std::fs::read(&der).unwrap(),
            jwk: serde_json::json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "own-key",
                "n": B64.encode(n), "e": "AQAB",
            }),
        }
    })
}

/// Honest claims for a sign-in at `issuer` with `nonce`.
fn claims(issuer: &str, nonce: &str) -> serde_json::Value {
    let now = SystemClock.now();
    serde_json::json!({
        "iss": issuer,
        "sub": "mallory@example.test",
        "aud": oidc::CLIENT,
        "exp": now + 600,
        "iat": now,
        "nonce": nonce,
        "preferred_username": "mallory@example.test",
    })
}

/// Signs `claims` with RS256 and the test's own key, naming key `kid` (or none).
fn sign_own(claims: &serde_json::Value, kid: Option<&str>) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_rsa_der(&own_key().der),
    )
    .unwrap()
}

/// A JWT with a header and payload of the test's choosing and the given signature part.
fn raw_jwt(header: &serde_json::Value, claims: &serde_json::Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    )
}

/// The real provider's metadata and its signing key's id.
async fn real_jwks(issuer: &str) -> (String, String) {
    oidc::tls_ready();
    let meta: serde_json::Value =
        reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let jwks_uri = meta["jwks_uri"].as_str().unwrap().to_string();
    let set: serde_json::Value = reqwest::get(&jwks_uri).await.unwrap().json().await.unwrap();
    let kid = set["keys"][0]["kid"].as_str().unwrap().to_string();
    (jwks_uri, kid)
}

// ---- set-up --------------------------------------------------------------------------------------

fn config(issuer: &str) -> SignInConfig {
    let settings = apppass_core::policy::SignInSettings {
        authority: Some(issuer.to_string()),
        client_id: Some(oidc::CLIENT.to_string()),
        ..Default::default()
    };
    SignInConfig::from_settings(&settings, vec![], None).unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    signin: SignIn,
    store: Memory,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Memory::default();
    let deps = Deps {
        http: Arc::new(ReqwestTransport::new().unwrap()),
        clock: Arc::new(SystemClock),
        sleep: Arc::new(TokioSleep),
    };
    let profile = Profile::isolated(dir.path()).unwrap();
    let shared: Arc<dyn SecretStore> = Arc::new(store.clone());
    Fixture {
        signin: SignIn::new(profile, shared, deps),
        store,
        _dir: dir,
    }
}

impl Fixture {
    fn stored_items(&self) -> usize {
        self.store
            .ids(&self.signin.profile().namespace)
            .unwrap()
            .unwrap()
            .len()
    }
}

/// A query parameter dropped from a URL.
fn without_param(url: &str, name: &str) -> String {
    let mut u = reqwest::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

/// A GET to the loopback listener; `None` when nothing listens any more.
async fn try_deliver(url: &str) -> Option<(u16, String)> {
    oidc::tls_ready();
    let r = reqwest::get(url).await.ok()?;
    Some((r.status().as_u16(), r.text().await.unwrap()))
}

/// A browser sign-in at the real provider whose answer `tamper` changes before it reaches the
/// listener. Returns the outcome and the page the tab got.
async fn real_sign_in_tampered(
    f: &Fixture,
    issuer: &str,
    tamper: impl FnOnce(String) -> String + Send + 'static,
) -> (Result<Account, Failure>, (u16, String)) {
    let pending = f.signin.begin_browser(&config(issuer)).await.unwrap();
    let url = pending.url().to_string();
    let browser = tokio::spawn(async move {
        let b = Browser::new();
        let callback = b.authorize(&url, Choice::Approve).await;
        b.deliver(&tamper(callback)).await
    });
    let result = f.signin.finish_browser(pending, &Cancellation::new()).await;
    (result, browser.await.unwrap())
}

/// A browser sign-in at the fake provider: the token endpoint answers the ID token that
/// `id_token` makes from the sign-in's nonce; the browser's answer is `?code=…&state=…` (the
/// right state). Returns the outcome, the page, and the callback address.
async fn fake_sign_in(
    f: &Fixture,
    fake: &Fake,
    id_token: impl FnOnce(&str) -> String,
) -> (Result<Account, Failure>, (u16, String), String) {
    let pending = f.signin.begin_browser(&config(&fake.base)).await.unwrap();
    fake.token_answer(&id_token(pending.nonce()));
    let state = oidc::param(pending.url(), "state").unwrap();
    let callback = format!(
        "{}?code=fake-code-{}&state={state}",
        pending.redirect_uri(),
        fake.all_hits()
    );
    let deliver = tokio::spawn({
        let callback = callback.clone();
        async move { try_deliver(&callback).await.expect("the listener answers") }
    });
    let result = f.signin.finish_browser(pending, &Cancellation::new()).await;
    (result, deliver.await.unwrap(), callback)
}

/// A fake provider with the test's own key published, and a profile signed in to it.
async fn signed_in_at_fake() -> (Fake, Fixture) {
    let fake = Fake::start().await;
    fake.set(
        "/jwks",
        Canned::json(serde_json::json!({ "keys": [own_key().jwk] })),
    );
    fake.provider(&format!("{}/jwks", fake.base), Some(&["S256"]));
    let f = fixture();
    let base = fake.base.clone();
    let (result, (status, _), _) = fake_sign_in(&f, &fake, |nonce| {
        sign_own(&claims(&base, nonce), Some("own-key"))
    })
    .await;
    let account = result.unwrap_or_else(|e| panic!("control sign-in failed: {}", e.message));
    assert_eq!(status, 200);
    assert_eq!(account.username, "mallory@example.test");
    assert!(f.signin.stored_refresh_token().unwrap().is_some());
    (fake, f)
}

fn assert_nothing_kept(f: &Fixture) {
    assert_eq!(f.signin.account().unwrap(), None);
    assert_eq!(f.stored_items(), 0, "nothing may be stored");
}

// ---- state --------------------------------------------------------------------------------------

#[tokio::test]
async fn missing_or_empty_state_is_refused() {
    let h = harness();
    for (what, tamper) in [
        (
            "missing",
            Box::new(|c: String| without_param(&c, "state"))
                as Box<dyn FnOnce(String) -> String + Send>,
        ),
        (
            "empty",
            Box::new(|c: String| oidc::with_param(&c, "state", "")),
        ),
    ] {
        let f = fixture();
        let (result, (status, page)) = real_sign_in_tampered(&f, &h.issuer, tamper).await;
        let err = result.unwrap_err();
        assert_eq!(err.code, Code::StateMismatch, "{what}: {}", err.message);
        assert_eq!(status, 400, "{what}");
        assert!(page.contains("StateMismatch"), "{what}");
        assert_nothing_kept(&f);
    }
    // Control: the same answer untouched signs in.
    let f = fixture();
    let (result, (status, _)) = real_sign_in_tampered(&f, &h.issuer, |c| c).await;
    assert_eq!(result.unwrap().username, oidc::USER);
    assert_eq!(status, 200);
}

#[tokio::test]
async fn forged_error_answer_without_state_is_refused_as_forged() {
    // A page on the web that knows the port sends the listener "access denied": it is not the
    // provider's answer (no state), so it is refused as forged, not shown as "you declined".
    let h = harness();
    let f = fixture();
    let pending = f.signin.begin_browser(&config(&h.issuer)).await.unwrap();
    let forged = format!(
        "{}?error=access_denied&iss={}",
        pending.redirect_uri(),
        h.issuer
    );
    let deliver = tokio::spawn(async move { try_deliver(&forged).await });
    let err = f
        .signin
        .finish_browser(pending, &Cancellation::new())
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::StateMismatch, "{}", err.message);
    assert_eq!(deliver.await.unwrap().unwrap().0, 400);
    assert_nothing_kept(&f);
}

// ---- replayed code --------------------------------------------------------------------------------

#[tokio::test]
async fn code_of_a_finished_sign_in_replayed_into_a_new_one_is_refused() {
    let h = harness();
    let f = fixture();
    let pending = f.signin.begin_browser(&config(&h.issuer)).await.unwrap();
    let old_callback = Browser::new()
        .authorize(pending.url(), Choice::Approve)
        .await;
    let deliver = tokio::spawn({
        let callback = old_callback.clone();
        async move { try_deliver(&callback).await }
    });
    f.signin
        .finish_browser(pending, &Cancellation::new())
        .await
        .unwrap();
    assert_eq!(deliver.await.unwrap().unwrap().0, 200);
    // An attacker who saw the first answer replays its code into a new sign-in, with the new
    // sign-in's state (and issuer) so that it passes the listener's checks.
    let pending = f.signin.begin_browser(&config(&h.issuer)).await.unwrap();
    let state = oidc::param(pending.url(), "state").unwrap();
    let replay = oidc::with_param(
        &format!(
            "{}?{}",
            pending.redirect_uri(),
            reqwest::Url::parse(&old_callback).unwrap().query().unwrap()
        ),
        "state",
        &state,
    );
    let deliver = tokio::spawn(async move { try_deliver(&replay).await });
    let err = f
        .signin
        .finish_browser(pending, &Cancellation::new())
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::CodeReplayed, "{}", err.message);
    assert_eq!(deliver.await.unwrap().unwrap().0, 400);
}

// ---- PKCE ----------------------------------------------------------------------------------------

#[tokio::test]
async fn authorize_address_uses_s256_never_plain() {
    let h = harness();
    let f = fixture();
    let pending = f.signin.begin_browser(&config(&h.issuer)).await.unwrap();
    let url = pending.url().to_string();
    assert_eq!(
        oidc::param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(!url.to_lowercase().contains("plain"), "{url}");
    let challenge = oidc::param(&url, "code_challenge").unwrap();
    let verifier = pending.pkce_verifier().expose().to_string();
    assert_eq!(
        challenge,
        B64.encode(sha2::Sha256::digest(verifier.as_bytes())),
        "the challenge is SHA-256 of the verifier"
    );
    assert_ne!(
        challenge, verifier,
        "the verifier never leaves in the address"
    );
    assert!(!url.contains(&verifier));
    // The real provider, which requires PKCE, accepts the address (a login page, no error).
    let callback = Browser::new().authorize(&url, Choice::Approve).await;
    assert!(oidc::param(&callback, "code").is_some(), "{callback}");
}

#[tokio::test]
async fn provider_without_s256_is_refused_never_downgraded() {
    let fake = Fake::start().await;
    fake.provider(&format!("{}/jwks", fake.base), Some(&["plain"]));
    let f = fixture();
    let err = f
        .signin
        .begin_browser(&config(&fake.base))
        .await
        .err()
        .expect("a provider that only offers plain PKCE is refused");
    assert_eq!(err.code, Code::DiscoveryFailed, "{}", err.message);
    assert!(err.message.contains("S256"), "{}", err.message);
    assert_eq!(fake.hits("/authorize") + fake.hits("/token"), 0);

    // A provider that does not say which methods it supports still gets S256 (never plain).
    let quiet = Fake::start().await;
    quiet.provider(&format!("{}/jwks", quiet.base), None);
    let f = fixture();
    let pending = f.signin.begin_browser(&config(&quiet.base)).await.unwrap();
    assert_eq!(
        oidc::param(pending.url(), "code_challenge_method").as_deref(),
        Some("S256")
    );
    // And with both listed, S256 is chosen.
    let both = Fake::start().await;
    both.provider(&format!("{}/jwks", both.base), Some(&["plain", "S256"]));
    let pending = f.signin.begin_browser(&config(&both.base)).await.unwrap();
    assert_eq!(
        oidc::param(pending.url(), "code_challenge_method").as_deref(),
        Some("S256")
    );
}

// ---- mix-up (RFC 9207, issuer checks) --------------------------------------------------------------

#[tokio::test]
async fn answer_naming_another_issuer_or_none_is_refused() {
    let h = harness();
    // The real provider promises `iss` in every answer (RFC 9207); apppass holds it to that.
    oidc::tls_ready();
    let meta: serde_json::Value =
        reqwest::get(format!("{}/.well-known/openid-configuration", h.issuer))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    let other = h.other_issuer.clone();
    let f = fixture();
    let (result, (status, page)) =
        real_sign_in_tampered(&f, &h.issuer, move |c| oidc::with_param(&c, "iss", &other)).await;
    let err = result.unwrap_err();
    assert_eq!(err.code, Code::IssuerMismatch, "{}", err.message);
    assert_eq!(status, 400);
    assert!(page.contains("IssuerMismatch"));
    assert_nothing_kept(&f);

    let f = fixture();
    let (result, _) = real_sign_in_tampered(&f, &h.issuer, |c| without_param(&c, "iss")).await;
    assert_eq!(result.unwrap_err().code, Code::IssuerMismatch);
    assert_nothing_kept(&f);
}

#[tokio::test]
async fn token_endpoint_handing_out_another_issuers_id_token_is_refused() {
    // A genuine, correctly signed ID token from the other (real) issuer, for the same client,
    // handed out by a token endpoint that is not its issuer's.
    let h = harness();
    let donor = fixture();
    let pending = donor
        .signin
        .begin_browser(&config(&h.other_issuer))
        .await
        .unwrap();
    let url = pending.url().to_string();
    let browser = tokio::spawn(async move {
        let b = Browser::new();
        let callback = b.authorize(&url, Choice::Approve).await;
        b.deliver(&callback).await
    });
    let genuine = donor
        .signin
        .receive_tokens(pending, &Cancellation::new())
        .await
        .unwrap();
    browser.await.unwrap();
    let foreign = genuine.id_token.unwrap().expose().to_string();

    let (jwks_uri, _) = real_jwks(&h.other_issuer).await;
    let fake = Fake::start().await;
    fake.provider(&jwks_uri, Some(&["S256"]));
    let f = fixture();
    let (result, (status, _), _) = fake_sign_in(&f, &fake, |_| foreign).await;
    let err = result.unwrap_err();
    assert_eq!(err.code, Code::IssuerMismatch, "{}", err.message);
    assert_eq!(status, 400);
    assert_nothing_kept(&f);
}

// ---- forged ID tokens -------------------------------------------------------------------------------

#[tokio::test]
async fn id_token_with_alg_none_or_hmac_is_refused() {
    let h = harness();
    let (jwks_uri, kid) = real_jwks(&h.issuer).await;
    let fake = Fake::start().await;
    fake.provider(&jwks_uri, Some(&["S256"]));
    let base = fake.base.clone();
    type Forge = Box<dyn FnOnce(&str) -> String>;
    let forgeries: Vec<(&str, Forge)> = vec![
        ("alg none, empty signature", {
            let (base, kid) = (base.clone(), kid.clone());
            Box::new(move |nonce: &str| {
                raw_jwt(
                    &serde_json::json!({"alg": "none", "typ": "JWT", "kid": kid}),
                    &claims(&base, nonce),
                    "",
                )
            })
        }),
        ("alg None, junk signature", {
            let base = base.clone();
            Box::new(move |nonce: &str| {
                raw_jwt(
                    &serde_json::json!({"alg": "None"}),
                    &claims(&base, nonce),
                    "AAAA",
                )
            })
        }),
        ("HS256 keyed with the public key", {
            let (base, kid) = (base.clone(), kid.clone());
            Box::new(move |nonce: &str| {
                let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
                header.kid = Some(kid);
                jsonwebtoken::encode(
                    &header,
                    &claims(&base, nonce),
                    &jsonwebtoken::EncodingKey::from_secret(own_key().jwk.to_string().as_bytes()),
                )
                .unwrap()
            })
        }),
    ];
    for (what, forge) in forgeries {
        let f = fixture();
        let (result, (status, _), _) = fake_sign_in(&f, &fake, forge).await;
        let err = result
            .err()
            .unwrap_or_else(|| panic!("{what}: the forged ID token was accepted"));
        assert_eq!(err.code, Code::IdTokenInvalid, "{what}: {}", err.message);
        assert_eq!(status, 400, "{what}");
        assert_nothing_kept(&f);
    }
}

#[tokio::test]
async fn id_token_signed_with_a_key_the_issuer_does_not_publish_is_refused() {
    // The key set is the REAL provider's; the tokens are signed with the test's own RSA key:
    // naming the real key's id, naming none (the set has one key), naming an unknown one.
    let h = harness();
    let (jwks_uri, kid) = real_jwks(&h.issuer).await;
    let fake = Fake::start().await;
    fake.provider(&jwks_uri, Some(&["S256"]));
    for name in [Some(kid.as_str()), None, Some("own-key")] {
        let f = fixture();
        let base = fake.base.clone();
        let keys_before = fake.hits("/jwks");
        let (result, (status, _), _) =
            fake_sign_in(&f, &fake, |nonce| sign_own(&claims(&base, nonce), name)).await;
        let err = result.err().unwrap_or_else(|| {
            panic!("kid {name:?}: a token signed with a foreign key was accepted")
        });
        assert_eq!(
            err.code,
            Code::IdTokenInvalid,
            "kid {name:?}: {}",
            err.message
        );
        assert_eq!(status, 400);
        assert_eq!(fake.hits("/jwks"), keys_before, "the real key set was used");
        assert_nothing_kept(&f);
    }
}

#[tokio::test]
async fn control_id_token_signed_with_the_published_key_is_accepted() {
    // The fake provider and crafted tokens work: with the key published, the same sign-in passes.
    let (fake, f) = signed_in_at_fake().await;
    assert_eq!(fake.hits("/token"), 1);
    let token = fake
        .hits
        .lock()
        .unwrap()
        .iter()
        .find(|(_, p, _)| p == "/token")
        .unwrap()
        .2
        .clone();
    assert!(token.contains("grant_type=authorization_code"), "{token}");
    assert!(token.contains("code_verifier="), "{token}");
    assert_eq!(
        f.signin.account().unwrap().unwrap().issuer,
        fake.base,
        "the account names the fake issuer"
    );
}

// ---- the loopback listener -----------------------------------------------------------------------

#[tokio::test]
async fn second_request_to_the_listener_is_not_processed() {
    // After a successful sign-in, the same answer again finds nothing listening, and the
    // provider is not asked again.
    let (fake, f) = signed_in_at_fake().await;
    let pending = f.signin.begin_browser(&config(&fake.base)).await.unwrap();
    let state = oidc::param(pending.url(), "state").unwrap();
    let callback = base_sign_in_once(&f, &fake, pending, &state).await;
    let token_requests = fake.hits("/token");
    assert_eq!(try_deliver(&callback).await, None, "the listener is closed");
    assert_eq!(
        fake.hits("/token"),
        token_requests,
        "the provider was not asked again"
    );

    // A forged answer first: the genuine one that follows is not taken any more.
    let h = harness();
    let f = fixture();
    let pending = f.signin.begin_browser(&config(&h.issuer)).await.unwrap();
    let genuine = Browser::new()
        .authorize(pending.url(), Choice::Approve)
        .await;
    let forged = oidc::with_param(&genuine, "state", "attacker-state");
    let forged_delivery = tokio::spawn(async move { try_deliver(&forged).await });
    let err = f
        .signin
        .finish_browser(pending, &Cancellation::new())
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::StateMismatch);
    assert_eq!(forged_delivery.await.unwrap().unwrap().0, 400);
    assert_eq!(try_deliver(&genuine).await, None, "the listener is closed");
    assert_nothing_kept(&f);
}

/// Completes one fake sign-in for `pending` (the test's own key published) and returns the
/// callback address that was delivered.
async fn base_sign_in_once(
    f: &Fixture,
    fake: &Fake,
    pending: apppass_core::signin::BrowserSignIn,
    state: &str,
) -> String {
    fake.token_answer(&sign_own(
        &claims(&fake.base, pending.nonce()),
        Some("own-key"),
    ));
    let callback = format!("{}?code=second-code&state={state}", pending.redirect_uri());
    let deliver = tokio::spawn({
        let callback = callback.clone();
        async move { try_deliver(&callback).await }
    });
    f.signin
        .finish_browser(pending, &Cancellation::new())
        .await
        .unwrap();
    assert_eq!(deliver.await.unwrap().unwrap().0, 200);
    callback
}

// ---- redirects --------------------------------------------------------------------------------------

#[tokio::test]
async fn non_loopback_redirect_addresses_are_refused_before_any_request() {
    let (fake, f) = signed_in_at_fake().await;
    let authority = f.signin.authority(&config(&fake.base)).await.unwrap();
    let before = fake.all_hits();
    for evil in [
        "http://evil.example/cb",
        "http://localhost.evil.example/",
        "http://127.0.0.1.nip.io/",
        "http://127.0.0.1@evil.example/",
        "http://user:pw@127.0.0.1:4711/",
        "https://localhost:4711/",
        "http://0.0.0.0:4711/",
        "http://169.254.1.1/",
        "file:///tmp/cb",
        "javascript:alert(1)",
    ] {
        let err = f
            .signin
            .redeem_code(
                &authority,
                &format!("code-for-{evil}"),
                &apppass_core::secret::Secret::from("v".repeat(43).as_str()),
                evil,
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(err.code, Code::RedirectNotLoopback, "{evil}");
    }
    assert_eq!(fake.all_hits(), before, "no request was made");
}

/// A second server that only counts: a redirect target.
async fn target() -> Fake {
    let t = Fake::start().await;
    t.set(
        "/token",
        Canned::json(serde_json::json!({"access_token": "stolen", "token_type": "Bearer"})),
    );
    t.set("/revoke", Canned::json(serde_json::json!({})));
    t
}

#[tokio::test]
async fn token_endpoint_redirect_is_not_followed() {
    let target = target().await;
    for status in [302, 307, 308] {
        let fake = Fake::start().await;
        fake.provider(&format!("{}/jwks", fake.base), Some(&["S256"]));
        let f = fixture();
        let pending = f.signin.begin_browser(&config(&fake.base)).await.unwrap();
        fake.set(
            "/token",
            Canned::redirect(status, &format!("{}/token", target.base)),
        );
        let state = oidc::param(pending.url(), "state").unwrap();
        let callback = format!("{}?code=c&state={state}", pending.redirect_uri());
        let deliver = tokio::spawn(async move { try_deliver(&callback).await });
        let err = f
            .signin
            .finish_browser(pending, &Cancellation::new())
            .await
            .unwrap_err();
        assert_eq!(
            err.code,
            Code::ProviderRejected,
            "{status}: {}",
            err.message
        );
        assert!(
            err.message.contains("redirect"),
            "{status}: {}",
            err.message
        );
        assert_eq!(deliver.await.unwrap().unwrap().0, 400);
        assert_eq!(fake.hits("/token"), 1, "{status}");
        assert_eq!(target.all_hits(), 0, "{status}: the redirect was followed");
        assert_nothing_kept(&f);
    }
}

#[tokio::test]
async fn refresh_redirect_is_not_followed_and_the_sign_in_is_kept() {
    let target = target().await;
    let (fake, f) = signed_in_at_fake().await;
    let stored = f.signin.stored_refresh_token().unwrap().unwrap();
    for status in [302, 307] {
        fake.set(
            "/token",
            Canned::redirect(status, &format!("{}/token", target.base)),
        );
        let before = fake.hits("/token");
        let err = f.signin.refresh().await.unwrap_err();
        assert_eq!(
            err.code,
            Code::ProviderRejected,
            "{status}: {}",
            err.message
        );
        assert!(err.message.contains("redirect"), "{}", err.message);
        assert_eq!(fake.hits("/token"), before + 1);
        assert_eq!(target.all_hits(), 0, "{status}: the refresh was redirected");
        // Not a reason to sign out: the refresh token stays.
        assert_eq!(
            f.signin.stored_refresh_token().unwrap().unwrap().expose(),
            stored.expose()
        );
    }
}

#[tokio::test]
async fn revocation_redirect_is_not_followed() {
    let target = target().await;
    let (fake, f) = signed_in_at_fake().await;
    fake.set(
        "/revoke",
        Canned::redirect(307, &format!("{}/revoke", target.base)),
    );
    let out = f.signin.sign_out().await.unwrap();
    assert!(!out.revoked);
    assert!(out.note.unwrap().contains("307"));
    assert_eq!(fake.hits("/revoke"), 1);
    assert_eq!(target.all_hits(), 0, "the revocation was redirected");
    // Signed out locally all the same.
    assert_nothing_kept(&f);
    // Control: an honest revocation endpoint confirms.
    let (fake, f) = signed_in_at_fake().await;
    fake.set("/revoke", Canned::json(serde_json::json!({})));
    assert!(f.signin.sign_out().await.unwrap().revoked);
    let body = fake
        .hits
        .lock()
        .unwrap()
        .iter()
        .find(|(_, p, _)| p == "/revoke")
        .unwrap()
        .2
        .clone();
    assert!(body.contains("token_type_hint=refresh_token"), "{body}");
}
