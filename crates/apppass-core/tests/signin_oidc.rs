//! Sign-in against a REAL OpenID provider (oidc-provider, `tests/harness/oidc`) on 127.0.0.1,
//! started by these tests. The browser step submits the provider's real login, consent and device
//! pages over HTTP, then delivers the provider's redirect to apppass's loopback listener.
//!
//! Tokens go to the real OS keyring when the tests run inside `scripts/with-keyring.sh` (the test
//! suite does; with `APPPASS_REQUIRE_KEYRING=1` a missing keyring fails the tests); otherwise to
//! an in-memory store, and the keyring checks are skipped with a note.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apppass_core::clock::{Clock, FixedClock, SystemClock};
use apppass_core::profile::Profile;
use apppass_core::secret::Secret;
use apppass_core::signin::http::BoxFuture;
use apppass_core::signin::tokens::RefreshTokenSlot;
use apppass_core::signin::{
    check_loopback_redirect, Cancellation, Deps, DeviceCode, Expect, ReqwestTransport,
    SessionState, SignIn, SignInConfig, SignInMethod, Sleep, TokioSleep,
};
use apppass_core::vault::store::{KeyringStore, SecretKey, SecretStore, StoreResult};
use apppass_core::{Code, Failure};
use support::keyring::{files_containing, secret_tool_item};
use support::oidc::{self, harness, Browser, Choice};

// ---- stores -------------------------------------------------------------------------------------

/// An in-memory store for the tests that are about the protocol, not the keyring.
#[derive(Default)]
struct Memory(Mutex<HashMap<String, (String, Secret)>>);

impl SecretStore for Memory {
    fn kind(&self) -> apppass_core::settings::StoreKind {
        apppass_core::settings::StoreKind::Keyring
    }
    fn describe(&self) -> String {
        "memory (test)".into()
    }
    fn put(&self, key: &SecretKey, label: &str, secret: &Secret) -> StoreResult<()> {
        self.0
            .lock()
            .unwrap()
            .insert(key.user(), (label.into(), secret.clone()));
        Ok(())
    }
    fn get(&self, key: &SecretKey) -> StoreResult<Option<Secret>> {
        Ok(self.0.lock().unwrap().get(&key.user()).map(|v| v.1.clone()))
    }
    fn delete(&self, key: &SecretKey) -> StoreResult<bool> {
        Ok(self.0.lock().unwrap().remove(&key.user()).is_some())
    }
    fn relabel(&self, _: &SecretKey, _: &str) -> StoreResult<()> {
        Ok(())
    }
    fn ids(&self, namespace: &str) -> StoreResult<Option<Vec<String>>> {
        let prefix = format!("{namespace}/");
        Ok(Some(
            self.0
                .lock()
                .unwrap()
                .keys()
                .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
                .collect(),
        ))
    }
}

/// The real keyring when there is one, else memory (see the module comment).
fn store() -> Arc<dyn SecretStore> {
    if support::keyring::available() {
        Arc::new(KeyringStore::open().expect("Secret Service reachable"))
    } else {
        eprintln!(
            "note: no test keyring; using an in-memory store (run inside scripts/with-keyring.sh)"
        );
        Arc::new(Memory::default())
    }
}

// ---- set-up -------------------------------------------------------------------------------------

fn config(issuer: &str, client: &str) -> SignInConfig {
    let settings = apppass_core::policy::SignInSettings {
        authority: Some(issuer.to_string()),
        client_id: Some(client.to_string()),
        scopes: Some(vec!["mail.read".into()]),
        ..Default::default()
    };
    SignInConfig::from_settings(&settings, vec![], None).unwrap()
}

fn deps_with(clock: Arc<dyn Clock>, sleep: Arc<dyn Sleep>) -> Deps {
    Deps {
        http: Arc::new(ReqwestTransport::new().unwrap()),
        clock,
        sleep,
    }
}

fn deps() -> Deps {
    deps_with(Arc::new(SystemClock), Arc::new(TokioSleep))
}

struct Fixture {
    dir: tempfile::TempDir,
    signin: SignIn,
    store: Arc<dyn SecretStore>,
}

fn fixture(deps: Deps, store: Arc<dyn SecretStore>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let profile = Profile::isolated(dir.path()).unwrap();
    Fixture {
        signin: SignIn::new(profile, store.clone(), deps),
        store,
        dir,
    }
}

/// A full browser sign-in through the loopback listener; returns the page the tab got.
async fn browser_sign_in(
    signin: &SignIn,
    config: &SignInConfig,
) -> (Result<apppass_core::signin::Account, Failure>, String) {
    let pending = signin.begin_browser(config).await.unwrap();
    let url = pending.url().to_string();
    let browser = tokio::spawn(async move {
        let b = Browser::new();
        let callback = b.authorize(&url, Choice::Approve).await;
        b.deliver(&callback).await
    });
    let result = signin.finish_browser(pending, &Cancellation::new()).await;
    let (_, page) = browser.await.unwrap();
    (result, page)
}

fn signin_ids(f: &Fixture) -> Vec<String> {
    let ns = &f.signin.profile().namespace;
    let mut ids: Vec<String> = f
        .store
        .ids(ns)
        .unwrap()
        .unwrap()
        .into_iter()
        .filter(|id| id.starts_with("signin/"))
        .collect();
    ids.sort();
    ids
}

// ---- browser: code + PKCE through the real loopback listener ----------------------------------

#[tokio::test]
async fn browser_sign_in_stores_the_refresh_token_in_the_keyring_and_nothing_on_disk() {
    let h = harness();
    let f = fixture(deps(), store());
    let config = config(&h.issuer, oidc::CLIENT);
    let (account, page) = browser_sign_in(&f.signin, &config).await;
    let account = account.unwrap();
    assert!(page.contains("You can close this tab"), "{page}");
    assert_eq!(account.username, oidc::USER);
    assert_eq!(account.email.as_deref(), Some(oidc::USER));
    assert_eq!(account.name.as_deref(), Some("Ann Example"));
    assert_eq!(account.issuer, h.issuer);
    assert_eq!(account.client_id, oidc::CLIENT);
    assert_eq!(account.amr, vec!["pwd", "mfa"]);
    assert!(account.mfa_used);
    assert_eq!(account.method, SignInMethod::Browser);
    assert_eq!(account.state, SessionState::Active);

    // whoami, from another SignIn over the same profile (another process would do the same).
    let again = SignIn::new(f.signin.profile().clone(), f.store.clone(), deps());
    assert_eq!(again.account().unwrap(), Some(account.clone()));

    let refresh = f
        .signin
        .stored_refresh_token()
        .unwrap()
        .expect("a refresh token is stored");
    let access = f.signin.access_token().await.unwrap();
    assert_eq!(
        signin_ids(&f),
        vec![format!("signin/{}/refresh", account.account_key)]
    );
    if support::keyring::available() {
        let user = format!(
            "{}/signin/{}/refresh",
            f.signin.profile().namespace,
            account.account_key
        );
        let (label, secret) = secret_tool_item(&user).expect("secret-tool finds the sign-in item");
        assert_eq!(label, format!("apppass: sign-in ({})", oidc::USER));
        assert_eq!(secret, refresh.expose());
    }
    for needle in [refresh.expose(), access.token.expose()] {
        assert_eq!(files_containing(f.dir.path(), needle), Vec::<String>::new());
    }
    let meta = std::fs::read_to_string(f.dir.path().join("signin.json")).unwrap();
    assert!(meta.contains(oidc::USER) && !meta.contains("token\""));
    f.signin.sign_out().await.unwrap();
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token_and_the_old_one_is_refused() {
    let h = harness();
    let clock = Arc::new(FixedClock::at(SystemClock.now()));
    let f = fixture(deps_with(clock.clone(), Arc::new(TokioSleep)), store());
    let (account, _) = browser_sign_in(&f.signin, &config(&h.issuer, oidc::CLIENT)).await;
    let account = account.unwrap();
    let first = f.signin.access_token().await.unwrap();
    let old = f.signin.stored_refresh_token().unwrap().unwrap();

    // The access token (10 minutes) is kept while more than 5 minutes are left...
    clock.advance(200);
    assert_eq!(f.signin.access_token().await.unwrap().token, first.token);
    // ...and refreshed ahead of its expiry, which rotates the refresh token.
    clock.advance(150);
    let second = f.signin.access_token().await.unwrap();
    assert_ne!(second.token, first.token);
    let new = f.signin.stored_refresh_token().unwrap().unwrap();
    assert_ne!(new, old);
    assert_eq!(signin_ids(&f).len(), 1);

    // The old refresh token no longer works at the provider.
    assert_eq!(
        oidc::raw_refresh(&h.issuer, oidc::CLIENT, old.expose())
            .await
            .as_deref(),
        Some("invalid_grant")
    );
    // Reusing a rotated token made the provider revoke the whole grant (reuse detection), so
    // apppass's next refresh is refused: "sign in again", the token deleted, the account marked.
    let refused = f.signin.refresh().await.unwrap_err();
    assert_eq!(refused.code, Code::SignInRequired, "{}", refused.message);
    assert!(signin_ids(&f).is_empty());
    let marked = f.signin.account().unwrap().unwrap();
    assert_eq!(marked.state, SessionState::SignInRequired);
    assert_eq!(marked.account_key, account.account_key);
    assert_eq!(
        f.signin.access_token().await.unwrap_err().code,
        Code::SignInRequired
    );
    f.signin.sign_out().await.unwrap();
}

#[tokio::test]
async fn a_stale_refresh_token_is_refused_with_sign_in_required() {
    let h = harness();
    let f = fixture(deps(), store());
    let (account, _) = browser_sign_in(&f.signin, &config(&h.issuer, oidc::CLIENT)).await;
    let account = account.unwrap();
    let old = f.signin.stored_refresh_token().unwrap().unwrap();
    f.signin.refresh().await.unwrap();
    // A stale copy put back (another device, a restored backup): the provider says invalid_grant.
    RefreshTokenSlot {
        store: f.store.as_ref(),
        namespace: &f.signin.profile().namespace,
        account_key: &account.account_key,
        part_chars: 1_100,
    }
    .put(&old, "apppass: sign-in (test)")
    .unwrap();
    // invalid_grant: "sign in again", the refused token deleted, the account marked.
    let refused = f.signin.refresh().await.unwrap_err();
    assert_eq!(refused.code, Code::SignInRequired, "{}", refused.message);
    assert!(refused.message.contains("apppass login"));
    assert!(signin_ids(&f).is_empty());
    let marked = f.signin.account().unwrap().unwrap();
    assert_eq!(marked.state, SessionState::SignInRequired);
    assert_eq!(
        f.signin.access_token().await.unwrap_err().code,
        Code::SignInRequired
    );
    f.signin.sign_out().await.unwrap();
}

#[tokio::test]
async fn sign_out_revokes_and_deletes_everything() {
    let h = harness();
    let f = fixture(deps(), store());
    let (account, _) = browser_sign_in(&f.signin, &config(&h.issuer, oidc::CLIENT)).await;
    let account = account.unwrap();
    let refresh = f.signin.stored_refresh_token().unwrap().unwrap();
    let out = f.signin.sign_out().await.unwrap();
    assert!(out.revoked, "{:?}", out.note);
    assert_eq!(out.account.unwrap().account_key, account.account_key);
    assert!(signin_ids(&f).is_empty());
    assert!(!f.dir.path().join("signin.json").exists());
    assert_eq!(f.signin.account().unwrap(), None);
    assert_eq!(
        f.signin.access_token().await.unwrap_err().code,
        Code::SignInRequired
    );
    // Revoked at the provider too.
    assert_eq!(
        oidc::raw_refresh(&h.issuer, oidc::CLIENT, refresh.expose())
            .await
            .as_deref(),
        Some("invalid_grant")
    );
    // Signing out again is harmless.
    let again = f.signin.sign_out().await.unwrap();
    assert_eq!(again.account, None);
}

#[tokio::test]
async fn long_refresh_tokens_are_split_across_keyring_items() {
    let h = harness();
    // A tiny part size makes the provider's real token span several items.
    let f = fixture(deps(), store());
    let signin =
        SignIn::new(f.signin.profile().clone(), f.store.clone(), deps()).with_part_chars(16);
    let (account, _) = browser_sign_in(&signin, &config(&h.issuer, oidc::CLIENT)).await;
    let account = account.unwrap();
    let ids = signin_ids(&f);
    assert!(ids.len() > 2, "{ids:?}");
    let token = signin.stored_refresh_token().unwrap().unwrap();
    // It is the real token: the provider accepts it and rotates it; the old parts go.
    signin.refresh().await.unwrap();
    let rotated = signin.stored_refresh_token().unwrap().unwrap();
    assert_ne!(rotated, token);
    assert_eq!(signin_ids(&f).len(), ids.len());
    assert!(signin_ids(&f)
        .iter()
        .all(|id| id.starts_with(&format!("signin/{}/", account.account_key))));
    signin.sign_out().await.unwrap();
    assert!(signin_ids(&f).is_empty());
}

#[tokio::test]
async fn cancel_and_timeout_end_the_wait() {
    let h = harness();
    let f = fixture(deps(), Arc::new(Memory::default()));
    let config = config(&h.issuer, oidc::CLIENT);
    let cancel = Cancellation::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        c2.cancel();
    });
    let err = f
        .signin
        .sign_in_with_browser(&config, &|_url| Ok(()), &cancel)
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::SignInCancelled);

    let mut pending = f.signin.begin_browser(&config).await.unwrap();
    pending.set_timeout(Duration::from_millis(100));
    let err = f
        .signin
        .finish_browser(pending, &Cancellation::new())
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::SignInTimedOut);
    assert_eq!(f.signin.account().unwrap(), None);
}

#[tokio::test]
async fn declining_consent_is_sign_in_denied() {
    let h = harness();
    let f = fixture(deps(), Arc::new(Memory::default()));
    let pending = f
        .signin
        .begin_browser(&config(&h.issuer, oidc::CLIENT))
        .await
        .unwrap();
    let url = pending.url().to_string();
    let browser = tokio::spawn(async move {
        let b = Browser::new();
        let callback = b.authorize(&url, Choice::Deny).await;
        b.deliver(&callback).await
    });
    let err = f
        .signin
        .finish_browser(pending, &Cancellation::new())
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::SignInDenied, "{}", err.message);
    let (status, page) = browser.await.unwrap();
    assert_eq!(status, 400);
    assert!(page.contains("You can close this tab"));
}

#[tokio::test]
async fn without_a_client_id_nothing_is_started() {
    let settings = apppass_core::policy::SignInSettings {
        authority: Some("http://127.0.0.1:9".into()),
        ..Default::default()
    };
    let config = SignInConfig::from_settings(&settings, vec![], None).unwrap();
    let f = fixture(deps(), Arc::new(Memory::default()));
    let opened = AtomicUsize::new(0);
    let err = f
        .signin
        .sign_in_with_browser(
            &config,
            &|_| {
                opened.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
            &Cancellation::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::ClientIdMissing);
    assert!(err.message.contains("Allow public client flows"));
    assert_eq!(opened.load(Ordering::SeqCst), 0);
    let err = f
        .signin
        .sign_in_with_code(&config, &|_| {}, &Cancellation::new())
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::ClientIdMissing);
}

// ---- device authorization grant -----------------------------------------------------------------

/// A sleep that records what it was asked to wait, waits `real` instead, and moves the clock.
struct RecordingSleep {
    asked: Mutex<Vec<Duration>>,
    real: Duration,
    clock: Option<Arc<FixedClock>>,
    calls: tokio::sync::Notify,
}

impl RecordingSleep {
    fn new(real: Duration, clock: Option<Arc<FixedClock>>) -> Arc<RecordingSleep> {
        Arc::new(RecordingSleep {
            asked: Mutex::new(Vec::new()),
            real,
            clock,
            calls: tokio::sync::Notify::new(),
        })
    }
    fn asked(&self) -> Vec<u64> {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .map(|d| d.as_secs())
            .collect()
    }
}

impl Sleep for RecordingSleep {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.asked.lock().unwrap().push(duration);
        if let Some(c) = &self.clock {
            c.advance(duration.as_secs() as i64);
        }
        self.calls.notify_waiters();
        Box::pin(tokio::time::sleep(self.real))
    }
}

/// Runs a device sign-in; the "user" acts (approve or deny) once `polls_before` polls have been
/// answered `authorization_pending` (or `slow_down`).
async fn device_sign_in(
    f: &Fixture,
    config: &SignInConfig,
    sleep: &Arc<RecordingSleep>,
    choice: Option<Choice>,
    polls_before: usize,
) -> (
    Result<apppass_core::signin::Account, Failure>,
    Vec<DeviceCode>,
) {
    let shown: Arc<Mutex<Vec<DeviceCode>>> = Arc::default();
    let (tx, rx) = tokio::sync::oneshot::channel::<DeviceCode>();
    let tx = Mutex::new(Some(tx));
    let shown2 = shown.clone();
    let show = move |code: &DeviceCode| {
        shown2.lock().unwrap().push(code.clone());
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(code.clone());
        }
    };
    let user = {
        let sleep = sleep.clone();
        tokio::spawn(async move {
            let code = rx.await.unwrap();
            while sleep.asked.lock().unwrap().len() < polls_before {
                let notified = sleep.calls.notified();
                if sleep.asked.lock().unwrap().len() >= polls_before {
                    break;
                }
                notified.await;
            }
            if let Some(choice) = choice {
                Browser::new()
                    .approve_device(&code.verification_uri, &code.user_code, choice)
                    .await;
            }
        })
    };
    let result = f
        .signin
        .sign_in_with_code(config, &show, &Cancellation::new())
        .await;
    user.await.unwrap();
    let shown = shown.lock().unwrap().clone();
    (result, shown)
}

#[tokio::test]
async fn device_code_pending_then_approved() {
    let h = harness();
    let sleep = RecordingSleep::new(Duration::from_millis(50), None);
    let f = fixture(deps_with(Arc::new(SystemClock), sleep.clone()), store());
    let (account, shown) = device_sign_in(
        &f,
        &config(&h.issuer, oidc::CLIENT),
        &sleep,
        Some(Choice::Approve),
        2,
    )
    .await;
    let account = account.unwrap();
    assert_eq!(account.method, SignInMethod::DeviceCode);
    assert_eq!(account.username, oidc::USER);
    assert_eq!(shown.len(), 1);
    let code = &shown[0];
    assert_eq!(code.verification_uri, format!("{}/device", h.issuer));
    assert!(code
        .verification_uri_complete
        .as_deref()
        .unwrap()
        .contains("user_code="));
    assert!(!code.user_code.is_empty());
    assert_eq!(code.interval_seconds, 5);
    // At least two polls were answered `authorization_pending`, each followed by the interval.
    let asked = sleep.asked();
    assert!(asked.len() >= 2, "{asked:?}");
    assert!(asked.iter().all(|s| *s == 5), "{asked:?}");
    assert!(f.signin.stored_refresh_token().unwrap().is_some());
    f.signin.sign_out().await.unwrap();
}

#[tokio::test]
async fn device_code_slow_down_adds_five_seconds() {
    let h = harness();
    let sleep = RecordingSleep::new(Duration::from_millis(50), None);
    let f = fixture(
        deps_with(Arc::new(SystemClock), sleep.clone()),
        Arc::new(Memory::default()),
    );
    let (account, _) = device_sign_in(
        &f,
        &config(&h.issuer, oidc::SLOW_CLIENT),
        &sleep,
        Some(Choice::Approve),
        3,
    )
    .await;
    account.unwrap();
    let asked = sleep.asked();
    // The harness answers the first two polls `slow_down`: 5 + 5, then + 5 again, then kept.
    assert_eq!(&asked[..3], &[10, 15, 15], "{asked:?}");
}

#[tokio::test]
async fn device_code_denied() {
    let h = harness();
    let sleep = RecordingSleep::new(Duration::from_millis(50), None);
    let f = fixture(
        deps_with(Arc::new(SystemClock), sleep.clone()),
        Arc::new(Memory::default()),
    );
    let (result, _) = device_sign_in(
        &f,
        &config(&h.issuer, oidc::CLIENT),
        &sleep,
        Some(Choice::Deny),
        1,
    )
    .await;
    let err = result.unwrap_err();
    assert_eq!(err.code, Code::SignInDenied, "{}", err.message);
    assert_eq!(f.signin.account().unwrap(), None);
}

#[tokio::test]
async fn device_code_expired() {
    let h = harness();
    // The harness's `apppass-short` device codes live 2 s; nobody enters the code.
    let sleep = RecordingSleep::new(Duration::from_millis(2_300), None);
    let f = fixture(
        deps_with(Arc::new(SystemClock), sleep.clone()),
        Arc::new(Memory::default()),
    );
    let (result, shown) =
        device_sign_in(&f, &config(&h.issuer, oidc::SHORT_CLIENT), &sleep, None, 0).await;
    let err = result.unwrap_err();
    assert_eq!(err.code, Code::SignInTimedOut, "{}", err.message);
    assert!(err.message.contains("expired"));
    assert_eq!(shown[0].expires_in_seconds, 2);
}

// ---- attacks: each refused with its own code ---------------------------------------------------

#[tokio::test]
async fn attack_wrong_state_is_refused() {
    let h = harness();
    let f = fixture(deps(), Arc::new(Memory::default()));
    let pending = f
        .signin
        .begin_browser(&config(&h.issuer, oidc::CLIENT))
        .await
        .unwrap();
    let url = pending.url().to_string();
    let browser = tokio::spawn(async move {
        let b = Browser::new();
        let callback = b.authorize(&url, Choice::Approve).await;
        b.deliver(&oidc::with_param(&callback, "state", "forged-state"))
            .await
    });
    let err = f
        .signin
        .finish_browser(pending, &Cancellation::new())
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::StateMismatch);
    let (status, page) = browser.await.unwrap();
    assert_eq!(status, 400);
    assert!(page.contains("StateMismatch"));
    assert_eq!(f.signin.account().unwrap(), None);
}

#[tokio::test]
async fn attack_replayed_code_is_refused() {
    let h = harness();
    let f = fixture(deps(), Arc::new(Memory::default()));
    let pending = f
        .signin
        .begin_browser(&config(&h.issuer, oidc::CLIENT))
        .await
        .unwrap();
    let (authority, redirect, nonce) = (
        pending.authority().clone(),
        pending.redirect_uri().to_string(),
        pending.nonce().to_string(),
    );
    let verifier_of_the_sign_in = pending.pkce_verifier().clone();
    let url = pending.url().to_string();
    let b = Browser::new();
    let callback = b.authorize(&url, Choice::Approve).await;
    let deliver = tokio::spawn({
        let callback = callback.clone();
        async move { Browser::new().deliver(&callback).await }
    });
    f.signin
        .finish_browser(pending, &Cancellation::new())
        .await
        .unwrap();
    deliver.await.unwrap();
    let code = oidc::param(&callback, "code").unwrap();
    let verifier = verifier_of_the_sign_in;

    // Replayed to the same apppass: refused before the provider is asked.
    let err = f
        .signin
        .redeem_code(&authority, &code, &verifier, &redirect, Some(&nonce))
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::CodeReplayed);
    // Replayed (with the right verifier) to another apppass with no memory of it: the provider
    // refuses it as already consumed.
    let other = fixture(deps(), Arc::new(Memory::default()));
    let err = other
        .signin
        .redeem_code(&authority, &code, &verifier, &redirect, Some(&nonce))
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::CodeReplayed, "{}", err.message);
}

#[tokio::test]
async fn attack_wrong_pkce_verifier_is_refused() {
    let h = harness();
    let f = fixture(deps(), Arc::new(Memory::default()));
    let pending = f
        .signin
        .begin_browser(&config(&h.issuer, oidc::CLIENT))
        .await
        .unwrap();
    // The attacker intercepts the answer and redeems it with its own verifier.
    let callback = Browser::new()
        .authorize(pending.url(), Choice::Approve)
        .await;
    let code = oidc::param(&callback, "code").unwrap();
    let err = f
        .signin
        .redeem_code(
            pending.authority(),
            &code,
            &Secret::from("attacker-verifier-0123456789-abcdefghijklmnopqrstuv"),
            pending.redirect_uri(),
            Some(pending.nonce()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::PkceMismatch, "{}", err.message);
    assert_eq!(f.signin.account().unwrap(), None);
}

/// Signs in at `issuer` with `client` and returns the raw ID token (nothing stored).
async fn id_token_from(issuer: &str, client: &str) -> String {
    let f = fixture(deps(), Arc::new(Memory::default()));
    let pending = f
        .signin
        .begin_browser(&config(issuer, client))
        .await
        .unwrap();
    let url = pending.url().to_string();
    let browser = tokio::spawn(async move {
        let b = Browser::new();
        let callback = b.authorize(&url, Choice::Approve).await;
        b.deliver(&callback).await
    });
    let tokens = f
        .signin
        .receive_tokens(pending, &Cancellation::new())
        .await
        .unwrap();
    browser.await.unwrap();
    tokens.id_token.unwrap().expose().to_string()
}

#[tokio::test]
async fn attack_id_token_from_another_issuer_is_refused() {
    let h = harness();
    let f = fixture(deps(), Arc::new(Memory::default()));
    let main = f
        .signin
        .authority(&config(&h.issuer, oidc::CLIENT))
        .await
        .unwrap();
    let foreign = id_token_from(&h.other_issuer, oidc::CLIENT).await;
    let err = main
        .validate_id_token(
            &foreign,
            &Expect {
                client_id: oidc::CLIENT,
                nonce: None,
                now: SystemClock.now(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::IssuerMismatch, "{}", err.message);

    // Mix-up through the listener: the other issuer's answer, with this sign-in's state.
    let pending = f
        .signin
        .begin_browser(&config(&h.issuer, oidc::CLIENT))
        .await
        .unwrap();
    let state = oidc::param(pending.url(), "state").unwrap();
    let other = fixture(deps(), Arc::new(Memory::default()));
    let other_pending = other
        .signin
        .begin_browser(&config(&h.other_issuer, oidc::CLIENT))
        .await
        .unwrap();
    let other_callback = Browser::new()
        .authorize(other_pending.url(), Choice::Approve)
        .await;
    let forged = oidc::with_param(
        &other_callback.replace(
            &other_pending.redirect_uri().to_string(),
            pending.redirect_uri(),
        ),
        "state",
        &state,
    );
    let deliver = tokio::spawn(async move { Browser::new().deliver(&forged).await });
    let err = f
        .signin
        .finish_browser(pending, &Cancellation::new())
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::IssuerMismatch, "{}", err.message);
    assert_eq!(deliver.await.unwrap().0, 400);
}

#[tokio::test]
async fn attack_id_token_for_another_audience_is_refused() {
    let h = harness();
    let f = fixture(deps(), Arc::new(Memory::default()));
    let main = f
        .signin
        .authority(&config(&h.issuer, oidc::CLIENT))
        .await
        .unwrap();
    let theirs = id_token_from(&h.issuer, oidc::OTHER_CLIENT).await;
    let err = main
        .validate_id_token(
            &theirs,
            &Expect {
                client_id: oidc::CLIENT,
                nonce: None,
                now: SystemClock.now(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::AudienceMismatch, "{}", err.message);
}

#[tokio::test]
async fn attack_expired_id_token_is_refused() {
    let h = harness();
    // apppass's clock is two hours ahead of the provider's: every ID token looks expired.
    let clock = Arc::new(FixedClock::at(SystemClock.now() + 7_200));
    let f = fixture(
        deps_with(clock, Arc::new(TokioSleep)),
        Arc::new(Memory::default()),
    );
    let (result, page) = browser_sign_in(&f.signin, &config(&h.issuer, oidc::CLIENT)).await;
    let err = result.unwrap_err();
    assert_eq!(err.code, Code::IdTokenExpired, "{}", err.message);
    assert!(page.contains("IdTokenExpired"));
    assert_eq!(f.signin.account().unwrap(), None);
    assert!(signin_ids(&f).is_empty());
}

#[tokio::test]
async fn attack_redirect_that_is_not_loopback_is_refused() {
    let h = harness();
    let f = fixture(deps(), Arc::new(Memory::default()));
    let authority = f
        .signin
        .authority(&config(&h.issuer, oidc::CLIENT))
        .await
        .unwrap();
    for evil in [
        "http://evil.example/cb",
        "https://127.0.0.1:8080/",
        "http://192.0.2.1/",
    ] {
        assert_eq!(
            check_loopback_redirect(evil).unwrap_err().code,
            Code::RedirectNotLoopback
        );
        let err = f
            .signin
            .redeem_code(
                &authority,
                "any-code",
                &Secret::from("v".repeat(43).as_str()),
                evil,
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(err.code, Code::RedirectNotLoopback, "{evil}");
    }
}
