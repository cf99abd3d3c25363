//! Network faults (issue 6 §3) against the REAL test components: the test OpenID provider
//! (oidc-provider, `tests/harness/oidc`), the Graph emulator (`tests/harness/graph`) and a real
//! Dovecot behind the bridge. Faults come from a TCP proxy on 127.0.0.1 in front of each server
//! (`support::faultproxy`: refused connections, connections reset before, during or after the
//! request, answers cut half-way, servers that accept and never answer) and from the servers
//! themselves (the provider's `/_test/fail`: HTTP 500/502/503/429 with or without a JSON body and
//! `Retry-After`, or a request held unanswered; the emulator's 5xx and `hang` scenarios).
//!
//! Each test first commits state (a sign-in with its refresh token in the store: the real
//! keyring inside scripts/with-keyring.sh, else memory, with a note), injects the fault, checks the
//! exact code, a message with the next step and no token in it, and a bounded time, then removes
//! the fault and reads everything back: the refresh token is still there (or, where the provider
//! rotated it and the answer was lost, the outcome is said plainly) and still works.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use apppass_core::clock::SystemClock;
use apppass_core::profile::Profile;
use apppass_core::secret::Secret;
use apppass_core::signin::http::{CONNECT_TIMEOUT, REQUEST_TIMEOUT};
use apppass_core::signin::{Deps, ReqwestTransport, SessionState, SignIn, TokioSleep};
use apppass_core::vault::store::{KeyringStore, SecretStore};
use apppass_core::{Code, Failure};
use support::faultproxy::{socket_of, Fault, FaultProxy, Reserved};
use support::memory::Memory;
use support::oidc::{self, Harness};

// ---- set-up -------------------------------------------------------------------------------------

/// The real keyring when the tests run inside scripts/with-keyring.sh, else memory.
fn store() -> Arc<dyn SecretStore> {
    if support::keyring::available() {
        Arc::new(KeyringStore::open().expect("Secret Service reachable"))
    } else {
        eprintln!("note: no test keyring; the refresh tokens are kept in memory");
        Arc::new(Memory::default())
    }
}

/// The limit the tests give a provider that never answers (the product's is
/// [`REQUEST_TIMEOUT`], tested once in `the_products_own_limit_bounds_a_silent_provider`).
const SHORT: Duration = Duration::from_secs(3);

/// "At once": a refused or reset connection must not wait for any limit. Generous, for a loaded
/// 2-core CI machine; a hang would take [`SHORT`] or [`REQUEST_TIMEOUT`].
const QUICK: Duration = Duration::from_secs(2);

/// Slack over a limit for a loaded machine.
const SLACK: Duration = Duration::from_secs(4);

fn deps(request_timeout: Duration) -> Deps {
    Deps {
        http: Arc::new(
            ReqwestTransport::with_timeouts(request_timeout, request_timeout.min(CONNECT_TIMEOUT))
                .unwrap(),
        ),
        clock: Arc::new(SystemClock),
        sleep: Arc::new(TokioSleep),
    }
}

/// A provider of its own whose public address is a fault proxy in front of it.
struct Proxied {
    harness: Harness,
    proxy: FaultProxy,
}

async fn proxied_provider() -> Proxied {
    let reserved = Reserved::new().await;
    let public = reserved.url();
    // One provider starting at a time: each makes RSA keys, and a dozen at once on a loaded
    // 2-core machine can miss the start-up limit.
    static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let harness = {
        let _one = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        oidc::start_behind(&public)
    };
    assert_eq!(harness.issuer, public);
    let proxy = reserved.proxy(socket_of(&harness.listen));
    Proxied { harness, proxy }
}

/// ann signed in through the proxy (real browser flow), with `scopes` besides the base ones.
struct Signed {
    p: Proxied,
    signin: SignIn,
    store: Arc<dyn SecretStore>,
    dir: tempfile::TempDir,
}

async fn signed_in(scopes: &[&str]) -> Signed {
    let p = proxied_provider().await;
    let store = store();
    let s = oidc::sign_in(&p.harness.issuer, scopes, store.clone()).await;
    let signin = SignIn::new(profile(&s.dir), store.clone(), deps(SHORT));
    // One refresh first, so this `SignIn` has read the provider's metadata and keys: a fault set
    // afterwards hits the token request itself.
    signin.refresh().await.expect("a first refresh");
    Signed {
        p,
        signin,
        store,
        dir: s.dir,
    }
}

fn profile(dir: &tempfile::TempDir) -> Profile {
    Profile::isolated(dir.path()).unwrap()
}

impl Signed {
    /// The same profile and store as a new process would open them (nothing cached).
    fn new_process(&self, request_timeout: Duration) -> SignIn {
        SignIn::new(
            profile(&self.dir),
            self.store.clone(),
            deps(request_timeout),
        )
    }

    fn refresh_token(&self) -> Secret {
        self.signin
            .stored_refresh_token()
            .expect("the store answers")
            .expect("a refresh token is stored")
    }

    fn state(&self) -> SessionState {
        self.signin.account().unwrap().expect("signed in").state
    }
}

/// Runs `f`, returns its failure and how long it took; a success is a test failure.
async fn fails<T: std::fmt::Debug>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, Failure>>,
) -> (Failure, Duration) {
    let start = Instant::now();
    let r = f.await;
    let took = start.elapsed();
    match r {
        Ok(v) => panic!("{what}: expected a failure, got {v:?}"),
        Err(failure) => {
            // The evidence, in the test's output (no token: `clear` checks each message).
            eprintln!(
                "{what}: {:?} after {took:.1?}: {}",
                failure.code, failure.message
            );
            (failure, took)
        }
    }
}

/// The message says what happened and what to do, and holds no token.
fn clear(f: &Failure, tokens: &[&Secret], next_step: &str) {
    assert!(
        f.message.contains(next_step),
        "{:?}: the message should say {next_step:?}: {}",
        f.code,
        f.message
    );
    for t in tokens {
        assert!(
            !f.message.contains(t.expose()),
            "a token in the message: {}",
            f.message
        );
    }
}

// ---- a. the network cut during a token refresh ---------------------------------------------------

#[tokio::test]
async fn refresh_with_the_network_down_keeps_the_sign_in_and_works_once_it_is_back() {
    let s = signed_in(&[]).await;
    let before = s.refresh_token();

    // Down: open connections reset (also the pooled one), new ones refused.
    s.p.proxy.down().await;
    for (what, signin) in [
        ("same process", &s.signin),
        ("new process", &s.new_process(SHORT)),
    ] {
        let (f, took) = fails(what, signin.refresh()).await;
        assert_eq!(f.code, Code::Offline, "{what}: {}", f.message);
        clear(&f, &[&before], "Check the network connection");
        assert!(took < QUICK, "{what}: took {took:?}");
    }
    // Nothing lost: the same refresh token, the account still signed in.
    assert_eq!(s.refresh_token().expose(), before.expose());
    assert_eq!(s.state(), SessionState::Active);

    // Back: the same refresh token works (and is rotated by the provider).
    s.p.proxy.pass().await;
    let token = s
        .new_process(SHORT)
        .refresh()
        .await
        .expect("refresh works again");
    assert!(!token.token.expose().is_empty());
    let rotated = s.refresh_token();
    assert_ne!(rotated.expose(), before.expose(), "the provider rotates");
    s.signin.refresh().await.expect("the rotated one works too");
    s.signin.sign_out().await.unwrap();
}

#[tokio::test]
async fn refresh_cut_before_the_request_is_complete_keeps_a_working_token() {
    let s = signed_in(&[]).await;
    let before = s.refresh_token();
    let up_before = s.p.proxy.stats().up_bytes;
    // 60 bytes of the POST reach the provider (part of its request line and headers), then the
    // connection is reset: the provider never sees the refresh token.
    s.p.proxy.set(Fault::CutRequestAfter(60));
    let (f, took) = fails("cut mid-request", s.signin.refresh()).await;
    assert_eq!(f.code, Code::Offline, "{}", f.message);
    clear(&f, &[&before], "Check the network connection");
    assert!(took < QUICK, "took {took:?}");
    assert_eq!(s.p.proxy.stats().up_bytes - up_before, 60);
    assert_eq!(s.refresh_token().expose(), before.expose());
    assert_eq!(s.state(), SessionState::Active);

    s.p.proxy.pass().await;
    s.signin
        .refresh()
        .await
        .expect("the same refresh token works");
    assert_ne!(s.refresh_token().expose(), before.expose());
    s.signin.sign_out().await.unwrap();
}

/// The provider rotated the refresh token but its answer was lost on the way. oidc-provider (like
/// other providers with reuse detection) then treats the old token as stolen and ends the whole
/// grant: apppass cannot get the session back. What it must do is say so once, clearly
/// (`SignInRequired`, "sign in again"), stop trying (no loop, no request), and sign in again
/// cleanly. (Microsoft Entra keeps the old refresh token valid after a rotation, so there the
/// next refresh simply works.)
#[tokio::test]
async fn refresh_answer_lost_after_rotation_ends_in_one_clear_sign_in_again() {
    let s = signed_in(&[]).await;
    for (n, fault) in [Fault::CutResponseAfter(12), Fault::CutResponseInBody(30)]
        .into_iter()
        .enumerate()
    {
        let before = s.refresh_token();
        s.p.proxy.set(fault);
        let (f, took) = fails("answer cut", s.signin.refresh()).await;
        assert_eq!(f.code, Code::Offline, "{fault:?}: {}", f.message);
        clear(&f, &[&before], "Check the network connection");
        assert!(took < QUICK, "took {took:?}");
        // Kept: apppass cannot know whether the provider saw the request.
        assert_eq!(s.refresh_token().expose(), before.expose());
        assert_eq!(s.state(), SessionState::Active);

        s.p.proxy.pass().await;
        let (f, _) = fails("reuse of the rotated token", s.signin.refresh()).await;
        assert_eq!(f.code, Code::SignInRequired, "{fault:?}: {}", f.message);
        clear(&f, &[&before], "apppass login");
        assert!(
            f.message.contains("already used"),
            "the provider's reason: {}",
            f.message
        );
        assert!(s.signin.stored_refresh_token().unwrap().is_none());
        assert_eq!(s.state(), SessionState::SignInRequired);

        // No loop: the next calls fail at once, without a request.
        let accepted = s.p.proxy.stats().accepted;
        for _ in 0..3 {
            let (f, took) = fails("signed out", s.signin.access_token()).await;
            assert_eq!(f.code, Code::SignInRequired);
            assert!(took < Duration::from_millis(200));
        }
        assert_eq!(s.p.proxy.stats().accepted, accepted, "no request was made");

        // Signing in again works, through the same proxy, into the same profile.
        let pending = s
            .signin
            .begin_browser(&config(&s.p.harness.issuer))
            .await
            .unwrap();
        let url = pending.url().to_string();
        let browser = tokio::spawn(async move {
            let b = oidc::Browser::new();
            let callback = b.authorize(&url, oidc::Choice::Approve).await;
            b.deliver(&callback).await
        });
        s.signin
            .finish_browser(pending, &apppass_core::signin::Cancellation::new())
            .await
            .unwrap_or_else(|f| panic!("round {n}: signing in again: {}", f.message));
        browser.await.unwrap();
        assert_eq!(s.state(), SessionState::Active);
        s.signin.refresh().await.expect("the new sign-in refreshes");
    }
    s.signin.sign_out().await.unwrap();
}

fn config(issuer: &str) -> apppass_core::signin::SignInConfig {
    let settings = apppass_core::policy::SignInSettings {
        authority: Some(issuer.to_string()),
        client_id: Some(oidc::CLIENT.to_string()),
        ..Default::default()
    };
    apppass_core::signin::SignInConfig::from_settings(&settings, vec![], None).unwrap()
}

/// A provider (or path) that accepts the connection and then goes silent: the refresh ends with
/// `NetworkTimeout` at the limit. Held before the request reached the provider, the same token
/// works afterwards; stalled after the provider answered (it rotated the token), the outcome is
/// the lost answer's: one clear `SignInRequired`.
#[tokio::test]
async fn a_provider_that_accepts_and_never_answers_costs_at_most_the_limit() {
    let s = signed_in(&[]).await;
    for fault in [Fault::Hold, Fault::StallResponseAfter(0)] {
        let before = s.refresh_token();
        // No pooled connection (the client notices the reset while it idles): the refresh
        // opens a new one, which the fault holds.
        s.p.proxy.cut_all();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let reached = s.p.proxy.stats().upstream;
        s.p.proxy.set(fault);
        let (f, took) = fails("silent provider", s.signin.refresh()).await;
        assert_eq!(f.code, Code::NetworkTimeout, "{fault:?}: {}", f.message);
        clear(&f, &[&before], "did not answer in time");
        assert!(
            took >= SHORT - Duration::from_millis(100) && took < SHORT + SLACK,
            "{fault:?}: took {took:?}"
        );
        assert_eq!(s.refresh_token().expose(), before.expose());
        assert_eq!(s.state(), SessionState::Active);
        s.p.proxy.pass().await;
        if fault == Fault::Hold {
            assert_eq!(
                s.p.proxy.stats().upstream,
                reached,
                "nothing reached the provider"
            );
            s.signin
                .refresh()
                .await
                .expect("the same token works again");
        } else {
            let (f, _) = fails("answer never came", s.signin.refresh()).await;
            assert_eq!(f.code, Code::SignInRequired, "{}", f.message);
            clear(&f, &[&before], "apppass login");
            assert_eq!(s.state(), SessionState::SignInRequired);
        }
    }
}

/// The product's own limit ([`REQUEST_TIMEOUT`], 30 s): a held token request ends there with
/// `NetworkTimeout`, not later and not never.
#[tokio::test]
async fn the_products_own_limit_bounds_a_silent_provider() {
    assert_eq!(REQUEST_TIMEOUT, Duration::from_secs(30));
    let s = signed_in(&[]).await;
    let before = s.refresh_token();
    let signin = s.new_process(REQUEST_TIMEOUT);
    // Discovery and keys pass; the token request is held by the provider itself.
    s.p.harness.fail("path=/token&hang=1").await;
    let (f, took) = fails("held token request", signin.refresh()).await;
    assert_eq!(f.code, Code::NetworkTimeout, "{}", f.message);
    assert!(
        took >= REQUEST_TIMEOUT - Duration::from_secs(1)
            && took < REQUEST_TIMEOUT + Duration::from_secs(5),
        "took {took:?}"
    );
    assert_eq!(s.p.harness.fail_count().await, 1);
    assert_eq!(s.refresh_token().expose(), before.expose());
    s.p.harness.fail_clear().await;
    signin.refresh().await.expect("works again");
    s.signin.sign_out().await.unwrap();
}

/// A new sign-in that fails at the token endpoint (503) leaves the existing sign-in as it was.
#[tokio::test]
async fn a_failed_new_sign_in_keeps_the_existing_one() {
    let s = signed_in(&[]).await;
    let before = s.refresh_token();
    let account = s.signin.account().unwrap().unwrap();
    let pending = s
        .signin
        .begin_browser(&config(&s.p.harness.issuer))
        .await
        .unwrap();
    let url = pending.url().to_string();
    let browser = tokio::spawn(async move {
        let b = oidc::Browser::new();
        let callback = b.authorize(&url, oidc::Choice::Approve).await;
        b.deliver(&callback).await
    });
    // The provider's pages work; only the code redemption meets the fault.
    s.p.harness
        .fail("path=/token&status=503&body=json&retry_after=30")
        .await;
    let (f, _) = fails(
        "code redemption",
        s.signin
            .finish_browser(pending, &apppass_core::signin::Cancellation::new()),
    )
    .await;
    assert_eq!(f.code, Code::ServiceUnavailable, "{}", f.message);
    clear(&f, &[&before], "wait 30 s");
    let (status, page) = browser.await.unwrap();
    assert_ne!(status, 200, "the browser tab is told it failed: {page}");
    assert_eq!(s.signin.account().unwrap().unwrap(), account);
    assert_eq!(s.refresh_token().expose(), before.expose());
    s.signin
        .refresh()
        .await
        .expect("the existing sign-in works");
    s.signin.sign_out().await.unwrap();
}

/// Signing out with the network down: the revocation cannot be sent, which the answer says; the
/// sign-in is removed from this computer all the same (what the user asked for).
#[tokio::test]
async fn sign_out_with_the_network_down_says_the_revocation_was_not_sent() {
    let s = signed_in(&[]).await;
    s.p.proxy.down().await;
    let out = s
        .new_process(SHORT)
        .sign_out()
        .await
        .expect("sign-out works offline");
    assert!(!out.revoked);
    let note = out.note.expect("a note");
    assert!(
        note.contains("Cannot reach") && note.contains("removed from this computer only"),
        "{note}"
    );
    assert!(s.signin.account().unwrap().is_none());
    assert!(s.signin.stored_refresh_token().unwrap().is_none());
}

// ---- b. the provider answering 5xx / 429, or holding one endpoint ---------------------------------

#[tokio::test]
async fn token_endpoint_5xx_and_429_are_service_unavailable_and_lose_nothing() {
    let s = signed_in(&[]).await;
    let cases = [
        ("status=500&body=json", 500, None),
        ("status=502&body=text", 502, None),
        ("status=503&body=empty&retry_after=7", 503, Some("wait 7 s")),
        (
            "status=503&body=json&retry_after=120",
            503,
            Some("wait 120 s"),
        ),
        ("status=504&body=text", 504, None),
        ("status=429&body=json&retry_after=3", 429, Some("wait 3 s")),
    ];
    for (n, (query, status, wait)) in cases.into_iter().enumerate() {
        let before = s.refresh_token();
        s.p.harness.fail(&format!("path=/token&{query}")).await;
        let (f, took) = fails(query, s.signin.refresh()).await;
        assert_eq!(f.code, Code::ServiceUnavailable, "{query}: {}", f.message);
        assert!(
            f.message.contains(&format!("HTTP {status}")),
            "{query}: {}",
            f.message
        );
        clear(&f, &[&before], wait.unwrap_or("try again in a few minutes"));
        assert!(took < QUICK, "{query}: took {took:?}");
        assert_eq!(s.p.harness.fail_count().await, n as u64 + 1);
        // Not signed out, the same token.
        assert_eq!(s.refresh_token().expose(), before.expose(), "{query}");
        assert_eq!(s.state(), SessionState::Active);
        // The fault answered once; the same token works now.
        s.signin.refresh().await.expect("works after the fault");
        assert_ne!(s.refresh_token().expose(), before.expose());
    }
    s.signin.sign_out().await.unwrap();
}

#[tokio::test]
async fn discovery_and_key_set_failures_are_unavailable_or_timeouts_and_lose_nothing() {
    let s = signed_in(&[]).await;
    // Discovery (a new process discovers first).
    for (query, code, words) in [
        (
            "path=/.well-known/openid-configuration&status=503&body=text&retry_after=5",
            Code::ServiceUnavailable,
            "wait 5 s",
        ),
        (
            "path=/.well-known/openid-configuration&status=500&body=json",
            Code::ServiceUnavailable,
            "HTTP 500, temporarily_unavailable",
        ),
        (
            "path=/.well-known/openid-configuration&hang=1",
            Code::NetworkTimeout,
            "did not answer in time",
        ),
    ] {
        let before = s.refresh_token();
        s.p.harness.fail(query).await;
        let (f, took) = fails(query, s.new_process(SHORT).refresh()).await;
        assert_eq!(f.code, code, "{query}: {}", f.message);
        clear(&f, &[&before], words);
        assert!(took < SHORT + SLACK, "{query}: {took:?}");
        assert_eq!(s.refresh_token().expose(), before.expose());
        assert_eq!(s.state(), SessionState::Active);
        s.p.harness.fail_clear().await;
    }

    // The key set, needed to check the ID token of a refresh in a new process: the provider
    // has already rotated the refresh token when the key set fails. The new one must have been
    // kept (else the next refresh would spend the retired one and end the sign-in).
    for (query, code) in [
        ("path=/jwks&status=503&body=json", Code::ServiceUnavailable),
        ("path=/jwks&status=500&body=text", Code::ServiceUnavailable),
        ("path=/jwks&hang=1", Code::NetworkTimeout),
    ] {
        let before = s.refresh_token();
        s.p.harness.fail(query).await;
        let (f, took) = fails(query, s.new_process(SHORT).refresh()).await;
        assert_eq!(f.code, code, "{query}: {}", f.message);
        assert!(took < SHORT + SLACK, "{query}: {took:?}");
        let kept = s.refresh_token();
        assert_ne!(
            kept.expose(),
            before.expose(),
            "{query}: the rotated refresh token was stored before the ID token was checked"
        );
        assert_eq!(s.state(), SessionState::Active);
        s.p.harness.fail_clear().await;
        s.new_process(SHORT)
            .refresh()
            .await
            .unwrap_or_else(|f| panic!("{query}: the kept token works: {}", f.message));
    }
    s.signin.sign_out().await.unwrap();
}

// ---- c. Microsoft Graph (the emulator) answering 5xx or nothing -----------------------------------

mod graph_faults {
    use super::*;
    use apppass_core::graph::{self, GraphConfig};
    use apppass_core::signin::http::BoxFuture;
    use apppass_core::signin::Sleep;
    use std::sync::Mutex;
    use support::graph::Run;

    /// Records each wait instead of waiting.
    #[derive(Default)]
    struct Waits(Mutex<Vec<Duration>>);

    impl Sleep for Waits {
        fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
            self.0.lock().unwrap().push(d);
            Box::pin(async {})
        }
    }

    #[tokio::test]
    async fn graph_5xx_and_a_silent_graph_end_in_clear_codes_and_keep_the_sign_in() {
        // The emulator checks tokens at the shared provider: sign in there.
        let store = store();
        let s = oidc::sign_in(&oidc::harness().issuer, &[], store.clone()).await;
        let waits = Arc::new(Waits::default());
        let deps = Deps {
            http: Arc::new(ReqwestTransport::with_timeouts(SHORT, SHORT).unwrap()),
            clock: Arc::new(SystemClock),
            sleep: waits.clone(),
        };
        let signin = SignIn::new(profile(&s.dir), store.clone(), deps.clone());
        // An access token in memory (this refresh rotates the refresh token once).
        signin.access_token().await.unwrap();
        let before = signin.stored_refresh_token().unwrap().unwrap();
        let account = signin.account().unwrap().unwrap();

        for (scenario, status) in [
            ("error500", 500),
            ("error502-html", 502),
            ("error503", 503),
            ("error504", 504),
        ] {
            let run = Run::new(scenario);
            let config = GraphConfig::with_base_url(run.base_url());
            let start = waits.0.lock().unwrap().len();
            let (f, _) = fails(scenario, graph::mfa_status(&signin, &config, &deps)).await;
            assert_eq!(
                f.code,
                Code::ServiceUnavailable,
                "{scenario}: {}",
                f.message
            );
            assert!(
                f.message.contains(&format!("HTTP {status}")),
                "{scenario}: {}",
                f.message
            );
            clear(&f, &[&before], "Try again in a few minutes");
            // Retried as configured (5 attempts, 4 waits), then given up.
            let asked = run
                .log()
                .await
                .iter()
                .filter(|l| l["path"] == "/v1.0/me/authentication/methods")
                .count();
            assert_eq!(asked, 5, "{scenario}");
            let waited: Vec<Duration> = waits.0.lock().unwrap()[start..].to_vec();
            if status == 503 {
                assert_eq!(waited, vec![Duration::from_secs(1); 4], "Retry-After: 1");
            } else {
                assert_eq!(waited.len(), 4, "{scenario}: {waited:?}");
            }
        }

        // A Graph that accepts and never answers: the request limit, one attempt, no retry.
        let run = Run::new("hang");
        let config = GraphConfig::with_base_url(run.base_url());
        let (f, took) = fails("hang", graph::mfa_status(&signin, &config, &deps)).await;
        assert_eq!(f.code, Code::NetworkTimeout, "{}", f.message);
        clear(&f, &[&before], "did not answer in time");
        assert!(took < SHORT + SLACK, "took {took:?}");

        // Nothing lost: the same sign-in, its refresh token, and Graph works again.
        assert_eq!(signin.account().unwrap().unwrap(), account);
        let after = signin.stored_refresh_token().unwrap().unwrap();
        assert_eq!(
            after.expose(),
            before.expose(),
            "Graph faults refresh nothing"
        );
        let run = Run::new("authenticator");
        let status = graph::mfa_status(&signin, &GraphConfig::with_base_url(run.base_url()), &deps)
            .await
            .expect("Graph answers again");
        assert_eq!(status.state, graph::MfaState::Registered);
        signin.refresh().await.expect("the refresh token works");
        signin.sign_out().await.unwrap();
    }

    /// The connection to Graph reset in the middle of its answer.
    #[tokio::test]
    async fn graph_answer_cut_half_way_is_offline_and_keeps_the_sign_in() {
        let store = store();
        let s = oidc::sign_in(&oidc::harness().issuer, &[], store.clone()).await;
        let deps = super::deps(SHORT);
        let signin = SignIn::new(profile(&s.dir), store.clone(), deps.clone());
        signin.access_token().await.unwrap();
        let before = signin.stored_refresh_token().unwrap().unwrap();
        let emulator = support::graph::emulator();
        let proxy = FaultProxy::start(socket_of(&emulator.base)).await;
        let run = Run::new("authenticator");
        let base = run.base_url().replace(&emulator.base, &proxy.url());
        let config = GraphConfig::with_base_url(base);
        proxy.set(Fault::CutResponseInBody(20));
        let (f, took) = fails("cut", graph::mfa_status(&signin, &config, &deps)).await;
        assert_eq!(f.code, Code::Offline, "{}", f.message);
        clear(&f, &[&before], "Check the network connection");
        assert!(took < QUICK, "took {took:?}");
        proxy.pass().await;
        graph::mfa_status(&signin, &config, &deps)
            .await
            .expect("works once the connection holds");
        assert_eq!(
            signin.stored_refresh_token().unwrap().unwrap().expose(),
            before.expose()
        );
        signin.sign_out().await.unwrap();
    }
}

// ---- d. the bridge: Dovecot unreachable, silent or cut; the token endpoint down -------------------

mod bridge_faults {
    use super::*;
    use apppass_core::bridge::{
        self, Bridge, BridgeConfig, BridgeSettings, Listen, LocalCert, Running, SignInTokens,
        Status, VaultBook,
    };
    use apppass_core::catalog::Protocol;
    use apppass_core::vault::{Security, Server, Vault};
    use base64::Engine as _;
    use support::bridge::Imap;
    use support::dovecot::{start_oauth2, Dovecot, ANN};
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpStream;

    struct World {
        p: Proxied,
        dovecot: Dovecot,
        imap: FaultProxy,
        pop: FaultProxy,
        smtp: FaultProxy,
        running: Running,
        status: Arc<Status>,
        signin: Arc<SignIn>,
        user: String,
        password: Secret,
        _dirs: (tempfile::TempDir, tempfile::TempDir),
    }

    async fn world() -> World {
        let p = proxied_provider().await;
        // Dovecot asks the provider about tokens directly (its own address): only apppass's
        // side goes through the proxy.
        let dovecot = start_oauth2(&p.harness.introspection.as_json());
        let store = store();
        let s = oidc::sign_in(&p.harness.issuer, &["mail"], store.clone()).await;
        let signin = Arc::new(SignIn::new(profile(&s.dir), store.clone(), deps(SHORT)));

        let vault_dir = tempfile::tempdir().unwrap();
        let vault_profile = Profile::isolated(vault_dir.path()).unwrap();
        let (data_dir, namespace) = (
            vault_profile.data_dir.clone(),
            vault_profile.namespace.clone(),
        );
        let vault_store: Box<dyn SecretStore> = if support::keyring::available() {
            Box::new(KeyringStore::open().unwrap())
        } else {
            Box::new(Memory::default())
        };
        let vault = Vault::open(vault_profile, vault_store, Arc::new(SystemClock), "cli").unwrap();
        let (entry, password) = bridge::clients::add(
            &vault,
            &BridgeSettings::default(),
            "Thunderbird on laptop",
            "thunderbird",
        )
        .unwrap();
        let cert_store = Memory::default();
        let cert = LocalCert::load_or_create(&cert_store, &namespace, &data_dir).unwrap();

        let target = |port: u16| socket_of(&format!("http://127.0.0.1:{port}"));
        let imap = FaultProxy::start(target(dovecot.imaps)).await;
        let pop = FaultProxy::start(target(dovecot.pop3s)).await;
        let smtp = FaultProxy::start(target(dovecot.submissions)).await;
        let server = |proxy: &FaultProxy| {
            Some(Server {
                host: dovecot.host.clone(),
                port: proxy.port(),
                security: Security::Tls,
            })
        };
        let scopes = vec!["mail".to_string()];
        let config = BridgeConfig {
            imap: server(&imap),
            pop: server(&pop),
            smtp: server(&smtp),
            scopes: scopes.clone(),
            listen: Listen::ephemeral(),
            ca_file: Some(dovecot.ca_file.clone()),
            penalty_base: Duration::from_millis(50),
            penalty_max: Duration::from_secs(1),
            protocol_log: None,
            upstream_timeout: SHORT,
        };
        let status = Arc::new(Status::default());
        let running = Bridge::start(
            config,
            Arc::new(VaultBook::new(vault)),
            Arc::new(SignInTokens::new(signin.clone(), scopes)),
            status.clone(),
            &cert,
        )
        .await
        .unwrap_or_else(|f| panic!("the bridge starts: {}", f.message));
        World {
            p,
            dovecot,
            imap,
            pop,
            smtp,
            running,
            status,
            signin,
            user: entry.account,
            password,
            _dirs: (s.dir, vault_dir),
        }
    }

    impl World {
        fn port(&self, protocol: Protocol) -> u16 {
            self.running.port(protocol, false).unwrap()
        }

        /// A new IMAP client's LOGIN: the tagged answer and how long it took.
        async fn imap_login(&self) -> (Imap, String, Duration) {
            let mut c = Imap::plain(self.port(Protocol::Imap)).await;
            let start = Instant::now();
            let answer = c.login(&self.user, &self.password).await;
            eprintln!("IMAP LOGIN after {:.1?}: {answer}", start.elapsed());
            (c, answer, start.elapsed())
        }

        /// The newest error in the bridge's status.
        fn last_error(&self) -> (Code, String) {
            let snap = self.status.snapshot();
            let e = snap.errors.first().expect("an error in the status");
            (e.code, e.message.clone())
        }

        fn refresh_token(&self) -> Secret {
            self.signin.stored_refresh_token().unwrap().expect("kept")
        }

        /// The bridge is still up: every listener accepts.
        async fn listening(&self) {
            let snap = self.status.snapshot();
            assert!(snap.running);
            for l in &snap.listeners {
                TcpStream::connect(("127.0.0.1", l.port))
                    .await
                    .unwrap_or_else(|e| panic!("{l:?} stopped listening: {e}"));
            }
        }
    }

    /// One line from a line-based client (POP3, SMTP), bounded.
    async fn line(io: &mut BufReader<TcpStream>) -> String {
        let mut l = String::new();
        tokio::time::timeout(SHORT * 3, io.read_line(&mut l))
            .await
            .expect("the bridge answers in time")
            .unwrap();
        l.trim_end().to_string()
    }

    async fn say(io: &mut BufReader<TcpStream>, text: &str) {
        io.get_mut()
            .write_all(format!("{text}\r\n").as_bytes())
            .await
            .unwrap();
    }

    /// POP3 USER/PASS through the bridge: the answer to PASS.
    async fn pop_login(w: &World) -> String {
        let tcp = TcpStream::connect(("127.0.0.1", w.port(Protocol::Pop)))
            .await
            .unwrap();
        let mut io = BufReader::new(tcp);
        assert!(line(&mut io).await.starts_with("+OK"));
        say(&mut io, &format!("USER {}", w.user)).await;
        assert!(line(&mut io).await.starts_with("+OK"));
        say(&mut io, &format!("PASS {}", w.password.expose())).await;
        let answer = line(&mut io).await;
        eprintln!("POP3 PASS: {answer}");
        answer
    }

    /// SMTP EHLO + AUTH PLAIN through the bridge: the answer to AUTH.
    async fn smtp_auth(w: &World) -> String {
        let tcp = TcpStream::connect(("127.0.0.1", w.port(Protocol::Smtp)))
            .await
            .unwrap();
        let mut io = BufReader::new(tcp);
        assert!(line(&mut io).await.starts_with("220"));
        say(&mut io, "EHLO client.test").await;
        loop {
            let l = line(&mut io).await;
            assert!(l.starts_with("250"), "{l}");
            if l.as_bytes().get(3) == Some(&b' ') {
                break;
            }
        }
        let plain = base64::engine::general_purpose::STANDARD.encode(format!(
            "\0{}\0{}",
            w.user,
            w.password.expose()
        ));
        say(&mut io, &format!("AUTH PLAIN {plain}")).await;
        let answer = line(&mut io).await;
        eprintln!("SMTP AUTH: {answer}");
        answer
    }

    /// SELECT INBOX and FETCH message 1's body: its size (the literal's length), checked whole.
    async fn fetch_whole(c: &mut Imap) -> usize {
        let (ok, _) = c.command("s1", "SELECT INBOX").await;
        assert!(ok.starts_with("OK"), "{ok}");
        c.send("f1 FETCH 1 BODY[]").await;
        let head = c.line().await.expect("FETCH data");
        let size: usize = head
            .rsplit('{')
            .next()
            .and_then(|s| s.trim_end_matches('}').parse().ok())
            .unwrap_or_else(|| panic!("a literal: {head}"));
        let mut body = vec![0u8; size];
        tokio::time::timeout(SHORT * 3, c.io.read_exact(&mut body))
            .await
            .expect("the whole literal in time")
            .unwrap();
        let (ok, _) = c.until("f1").await;
        assert!(ok.starts_with("OK"), "{ok}");
        size
    }

    #[tokio::test]
    async fn the_bridge_answers_every_upstream_fault_clearly_and_serves_the_next_client() {
        let w = world().await;
        // Committed state: a big message in ann's mailbox, a working bridge session.
        let body: String = (0..6000)
            .map(|i| format!("line {i:05} of a message big enough to be cut half-way\n"))
            .collect();
        support::bridge::deliver(&w.dovecot, ANN, "fault test", &body).await;
        let (mut c, ok, _) = w.imap_login().await;
        assert!(ok.starts_with("OK"), "{ok}");
        let size = fetch_whole(&mut c).await;
        assert!(size > body.len(), "{size}");
        let (ok, _) = c.command("o1", "LOGOUT").await;
        assert!(ok.starts_with("OK"), "{ok}");
        // A second session that the client just drops.
        let (mut c, ok, _) = w.imap_login().await;
        assert!(ok.starts_with("OK"), "{ok}");
        assert_eq!(fetch_whole(&mut c).await, size);
        drop(c);
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Sessions that end normally are no errors.
        assert_eq!(w.status.snapshot().errors, vec![]);
        let rt = w.refresh_token();

        // 1. Dovecot unreachable (connections refused).
        w.imap.down().await;
        let (_c, answer, took) = w.imap_login().await;
        assert!(
            answer.starts_with("NO [UNAVAILABLE] apppass cannot sign in to the mail server")
                && answer.contains("cannot be reached")
                && answer.contains("Check the network"),
            "{answer}"
        );
        assert!(took < QUICK, "took {took:?}");
        assert_eq!(w.last_error().0, Code::Offline, "{:?}", w.last_error());
        w.imap.pass().await;

        // 2. Dovecot accepts and never greets.
        w.imap.set(Fault::Hold);
        let (_c, answer, took) = w.imap_login().await;
        assert!(
            answer.starts_with("NO [UNAVAILABLE]")
                && answer.contains(&format!("did not answer within {} s", SHORT.as_secs())),
            "{answer}"
        );
        assert!(took >= SHORT && took < SHORT + SLACK, "took {took:?}");
        assert_eq!(w.last_error().0, Code::NetworkTimeout);
        w.imap.pass().await;

        // 3. The connection to Dovecot reset in the middle of a FETCH: the client's connection
        // is closed at once (a BYE cannot be put inside a literal), and no tagged OK comes.
        let (mut c, ok, _) = w.imap_login().await;
        assert!(ok.starts_with("OK"), "{ok}");
        let (ok, _) = c.command("s1", "SELECT INBOX").await;
        assert!(ok.starts_with("OK"), "{ok}");
        w.imap.set(Fault::CutResponseAfter(8 * 1024));
        c.send("f1 FETCH 1 BODY[]").await;
        let start = Instant::now();
        let mut got = Vec::new();
        tokio::time::timeout(SHORT * 2, c.io.read_to_end(&mut got))
            .await
            .expect("the bridge closes the client's connection in time")
            .ok();
        assert!(start.elapsed() < QUICK, "{:?}", start.elapsed());
        assert!(got.len() < size, "{} of {size} bytes came", got.len());
        assert!(!String::from_utf8_lossy(&got).contains("f1 OK"));
        // The bridge's status says what happened, for whom.
        let snap = w.status.snapshot();
        let e = snap.errors.first().expect("the broken session is recorded");
        assert_eq!(e.code, Code::Offline, "{}", e.message);
        assert_eq!(e.client.as_deref(), Some("Thunderbird on laptop"));
        assert!(
            e.message.contains("broke during a session") && e.message.contains("check the network"),
            "{}",
            e.message
        );
        eprintln!("status after the cut: {}", e.message);
        w.imap.pass().await;

        // The bridge serves the next client, whole.
        let (mut c, ok, _) = w.imap_login().await;
        assert!(ok.starts_with("OK"), "{ok}");
        assert_eq!(fetch_whole(&mut c).await, size);
        drop(c);
        w.listening().await;

        // 4. The token endpoint unreachable while Dovecot refuses the cached access token (the
        // provider expired it): the bridge needs a refresh and cannot get one.
        for (fault, code, words) in [
            ("down", Code::Offline, "Cannot reach 127.0.0.1"),
            (
                "path=/token&status=503&body=json&retry_after=30",
                Code::ServiceUnavailable,
                "HTTP 503",
            ),
            (
                "path=/token&hang=1",
                Code::NetworkTimeout,
                "did not answer in time",
            ),
        ] {
            // (After a failed refresh the bridge still holds the expired one.)
            w.p.harness.expire_access_tokens().await;
            if fault == "down" {
                w.p.proxy.down().await;
            } else {
                w.p.harness.fail(fault).await;
            }
            let (_c, answer, took) = w.imap_login().await;
            assert!(
                answer.starts_with("NO [UNAVAILABLE] apppass cannot sign in to the mail server")
                    && answer.contains(words),
                "{fault}: {answer}"
            );
            assert!(took < SHORT + SLACK, "{fault}: took {took:?}");
            assert!(!answer.contains(rt.expose()));
            let (c, m) = w.last_error();
            assert_eq!(c, code, "{fault}: {m}");
            // Nothing lost: the same refresh token, still signed in.
            assert_eq!(w.refresh_token().expose(), rt.expose(), "{fault}");
            assert_eq!(
                w.signin.account().unwrap().unwrap().state,
                SessionState::Active
            );
            assert!(!w.status.snapshot().signin_required, "{fault}");
            if fault == "down" {
                w.p.proxy.pass().await;
            } else {
                w.p.harness.fail_clear().await;
            }
        }
        // POP3 and SMTP with the token endpoint down: their "try again later" replies.
        w.p.harness.expire_access_tokens().await;
        w.p.proxy.down().await;
        let answer = pop_login(&w).await;
        assert!(
            answer
                .starts_with("-ERR [SYS/TEMP] apppass cannot sign in to the mail server right now"),
            "{answer}"
        );
        let answer = smtp_auth(&w).await;
        assert!(answer.starts_with("454 4.7.0"), "{answer}");
        w.p.proxy.pass().await;

        // 5. POP3 and SMTP with Dovecot unreachable.
        w.pop.down().await;
        w.smtp.down().await;
        let answer = pop_login(&w).await;
        assert!(answer.starts_with("-ERR [SYS/TEMP]"), "{answer}");
        assert_eq!(w.last_error().0, Code::Offline);
        let answer = smtp_auth(&w).await;
        assert!(answer.starts_with("454 4.7.0"), "{answer}");
        assert_eq!(w.last_error().0, Code::Offline);
        w.pop.pass().await;
        w.smtp.pass().await;

        // Everything back: the same refresh token refreshes, every protocol signs in, the
        // message is whole, the bridge kept running throughout.
        let (mut c, ok, _) = w.imap_login().await;
        assert!(ok.starts_with("OK"), "{ok}");
        assert_eq!(fetch_whole(&mut c).await, size);
        assert_ne!(
            w.refresh_token().expose(),
            rt.expose(),
            "refreshed and rotated"
        );
        assert!(pop_login(&w).await.starts_with("+OK"));
        assert!(smtp_auth(&w).await.starts_with("235"));
        w.listening().await;
        let snap = w.status.snapshot();
        assert!(!snap.signin_required);
        assert!(snap.counters.upstream_failures >= 8, "{:?}", snap.counters);
        assert!(snap.errors.iter().all(|e| !e.message.contains(rt.expose())));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let broken = w
            .status
            .snapshot()
            .errors
            .iter()
            .filter(|e| e.message.contains("broke during a session"))
            .count();
        assert_eq!(broken, 1, "only the cut FETCH: normal ends are no errors");
    }
}
