//! MFA status and preflight end to end: a real sign-in at the test OpenID provider
//! (`tests/harness/oidc`), then Graph calls to the Graph emulator (`tests/harness/graph`), which
//! checks each bearer token at that provider and serves the documented JSON (providers.md §2.3,
//! §2.6) per scenario. Both run on 127.0.0.1 and are started by these tests.
//!
//! Waits go to a recording sleep (no real waiting), except in the one test that proves a fractional
//! `Retry-After: 2.128` is really waited for.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apppass_core::catalog::facts::{Accepts, AppPasswords};
use apppass_core::clock::{Clock, FixedClock, SystemClock};
use apppass_core::graph::{
    self, GraphConfig, MethodKind, MfaState, MfaStatus, PerUserMfaState, TokenSource,
};
use apppass_core::profile::Profile;
use apppass_core::secret::Secret;
use apppass_core::signin::http::BoxFuture;
use apppass_core::signin::{
    Cancellation, Deps, ReqwestTransport, SignIn, SignInConfig, Sleep, TokioSleep,
};
use apppass_core::{Code, Failure};
use support::graph::Run;
use support::memory::Memory;
use support::oidc::{harness, Browser, Choice, CLIENT};

// ---- set-up -------------------------------------------------------------------------------------

/// Records each wait instead of waiting.
#[derive(Default)]
struct Waits(Mutex<Vec<Duration>>);

impl Sleep for Waits {
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        self.0.lock().unwrap().push(d);
        Box::pin(async {})
    }
}

impl Waits {
    fn taken(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    signin: SignIn,
    deps: Deps,
    waits: Arc<Waits>,
}

fn deps_with(clock: Arc<dyn Clock>, sleep: Arc<dyn Sleep>) -> Deps {
    Deps {
        http: Arc::new(ReqwestTransport::new().unwrap()),
        clock,
        sleep,
    }
}

fn config() -> SignInConfig {
    let settings = apppass_core::policy::SignInSettings {
        authority: Some(harness().issuer.clone()),
        client_id: Some(CLIENT.to_string()),
        ..Default::default()
    };
    SignInConfig::from_settings(&settings, vec![], None).unwrap()
}

/// Signs `user` in through the real provider's pages and the loopback listener.
async fn signed_in_as(user: &str, password: &str) -> Fixture {
    let waits = Arc::new(Waits::default());
    let deps = deps_with(Arc::new(SystemClock), waits.clone());
    let dir = tempfile::tempdir().unwrap();
    let profile = Profile::isolated(dir.path()).unwrap();
    let signin = SignIn::new(profile, Arc::new(Memory::default()), deps.clone());
    let pending = signin.begin_browser(&config()).await.unwrap();
    let url = pending.url().to_string();
    let (user, password) = (user.to_string(), password.to_string());
    let browser = tokio::spawn(async move {
        let mut b = Browser::new();
        b.user = user;
        b.password = password;
        let callback = b.authorize(&url, Choice::Approve).await;
        b.deliver(&callback).await
    });
    signin
        .finish_browser(pending, &Cancellation::new())
        .await
        .expect("signed in at the test provider");
    browser.await.unwrap();
    Fixture {
        _dir: dir,
        signin,
        deps,
        waits,
    }
}

async fn signed_in() -> Fixture {
    signed_in_as(support::oidc::USER, support::oidc::PASSWORD).await
}

async fn status(f: &Fixture, run: &Run) -> Result<MfaStatus, Failure> {
    graph::mfa_status(
        &f.signin,
        &GraphConfig::with_base_url(run.base_url()),
        &f.deps,
    )
    .await
}

fn kinds(s: &MfaStatus) -> Vec<MethodKind> {
    s.methods.iter().map(|m| m.kind).collect()
}

fn paths(log: &[serde_json::Value]) -> Vec<(String, u64)> {
    log.iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect()
}

const ME: &str = "/v1.0/me";
const METHODS: &str = "/v1.0/me/authentication/methods";

// ---- MFA status ---------------------------------------------------------------------------------

#[tokio::test]
async fn no_methods_is_not_registered() {
    let f = signed_in().await;
    let run = Run::new("none");
    let s = status(&f, &run).await.unwrap();
    assert_eq!(s.state, MfaState::NotRegistered);
    assert!(s.methods.is_empty());
    assert!(s.guided.is_none());
    // /me answered for the signed-in user; ann's sign-in used MFA (amr pwd mfa).
    assert_eq!(s.username, "ann@example.test");
    assert_eq!(s.display_name.as_deref(), Some("Ann Example"));
    assert!(s.mfa_used);
    assert!(s.amr.contains(&"mfa".to_string()));
    assert_eq!(
        paths(&run.log().await),
        [(ME.to_string(), 200), (METHODS.to_string(), 200)]
    );
}

#[tokio::test]
async fn password_and_email_are_not_strong() {
    let f = signed_in().await;
    let s = status(&f, &Run::new("password-email")).await.unwrap();
    assert_eq!(s.state, MfaState::NotRegistered);
    assert_eq!(kinds(&s), [MethodKind::Password, MethodKind::Email]);
    assert!(s.methods.iter().all(|m| !m.strong));
}

#[tokio::test]
async fn authenticator_only() {
    let f = signed_in().await;
    let s = status(&f, &Run::new("authenticator")).await.unwrap();
    assert_eq!(s.state, MfaState::Registered);
    assert_eq!(kinds(&s), [MethodKind::MicrosoftAuthenticator]);
    assert_eq!(
        s.methods[0].display_name.as_deref(),
        Some("Sandeep's iPhone")
    );
    assert_eq!(s.strong_methods().count(), 1);
}

#[tokio::test]
async fn phone_and_fido2() {
    let f = signed_in().await;
    let s = status(&f, &Run::new("phone-fido2")).await.unwrap();
    assert_eq!(s.state, MfaState::Registered);
    assert_eq!(kinds(&s), [MethodKind::Phone, MethodKind::Fido2]);
    assert_eq!(s.methods[0].detail.as_deref(), Some("mobile, ending in 55"));
    assert_eq!(s.methods[1].display_name.as_deref(), Some("Red key"));
}

#[tokio::test]
async fn documented_list_example() {
    let f = signed_in().await;
    let s = status(&f, &Run::new("documented")).await.unwrap();
    assert_eq!(
        kinds(&s),
        [MethodKind::Fido2, MethodKind::WindowsHelloForBusiness]
    );
}

#[tokio::test]
async fn a_sign_in_without_mfa_says_so() {
    let f = signed_in_as("bob@example.test", "bob-test-password").await;
    let s = status(&f, &Run::new("authenticator")).await.unwrap();
    assert_eq!(s.username, "bob@example.test");
    assert!(!s.mfa_used);
    assert_eq!(s.state, MfaState::Registered);
}

#[tokio::test]
async fn forbidden_continues_in_guided_mode() {
    let f = signed_in().await;
    let run = Run::new("forbidden");
    let s = status(&f, &run).await.unwrap();
    assert_eq!(s.state, MfaState::Unknown);
    assert!(s.methods.is_empty());
    let why = s.guided.expect("guided mode says why");
    assert_eq!(why.code, Code::GraphAccessDenied);
    assert!(why.message.contains("accessDenied"), "{}", why.message);
    assert!(why.message.contains("admin consent"), "{}", why.message);
    // The sign-in's own MFA is still known without Graph.
    assert!(s.mfa_used);
    // 403 is not retried.
    assert_eq!(
        paths(&run.log().await),
        [(ME.to_string(), 200), (METHODS.to_string(), 403)]
    );
}

#[tokio::test]
async fn throttled_waits_the_fractional_retry_after() {
    let f = signed_in().await;
    let run = Run::new("throttled");
    let s = status(&f, &run).await.unwrap();
    assert_eq!(s.state, MfaState::Registered);
    assert_eq!(f.waits.taken(), [Duration::from_millis(2128)]);
    assert_eq!(
        paths(&run.log().await),
        [
            (ME.to_string(), 200),
            (METHODS.to_string(), 429),
            (METHODS.to_string(), 200)
        ]
    );
}

/// The one real wait: 2.128 s, measured by the test and by the emulator.
#[tokio::test]
async fn throttled_in_real_time() {
    let mut f = signed_in().await;
    f.deps = deps_with(Arc::new(SystemClock), Arc::new(TokioSleep));
    let run = Run::new("throttled");
    let started = Instant::now();
    let s = status(&f, &run).await.unwrap();
    let took = started.elapsed();
    assert_eq!(s.state, MfaState::Registered);
    assert!(took >= Duration::from_millis(2128), "{took:?}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    let log = run.log().await;
    let gap = log[2]["at_ms"].as_u64().unwrap() - log[1]["at_ms"].as_u64().unwrap();
    assert!(gap >= 2128, "the retry came {gap} ms after the 429");
}

#[tokio::test]
async fn unavailable_without_retry_after_backs_off() {
    let f = signed_in().await;
    let s = status(&f, &Run::new("unavailable-once")).await.unwrap();
    assert_eq!(s.state, MfaState::Registered);
    assert_eq!(f.waits.taken(), [Duration::from_secs(1)]);
}

#[tokio::test]
async fn one_server_error_then_success() {
    let f = signed_in().await;
    let s = status(&f, &Run::new("error500-once")).await.unwrap();
    assert_eq!(s.state, MfaState::Registered);
    assert_eq!(f.waits.taken(), [Duration::from_secs(1)]);
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_the_attempts() {
    let f = signed_in().await;
    let run = Run::new("error500");
    let err = status(&f, &run).await.unwrap_err();
    assert_eq!(err.code, Code::ServiceUnavailable);
    assert!(err.message.contains("generalException"), "{}", err.message);
    let secs: Vec<u64> = f.waits.taken().iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [1, 2, 4, 8]);
    let methods = paths(&run.log().await)
        .into_iter()
        .filter(|(p, _)| p == METHODS)
        .count();
    assert_eq!(methods, GraphConfig::default().max_attempts as usize);
}

#[tokio::test]
async fn malformed_json_is_a_protocol_error() {
    let f = signed_in().await;
    let err = status(&f, &Run::new("malformed")).await.unwrap_err();
    assert_eq!(err.code, Code::ProtocolError);
}

#[tokio::test]
async fn unauthorized_once_refreshes_the_token_at_the_provider() {
    let f = signed_in().await;
    let before = f.signin.stored_refresh_token().unwrap().unwrap();
    let run = Run::new("unauthorized-once");
    let s = status(&f, &run).await.unwrap();
    assert_eq!(s.state, MfaState::Registered);
    let log = run.log().await;
    assert_eq!(
        paths(&log),
        [
            (ME.to_string(), 401),
            (ME.to_string(), 200),
            (METHODS.to_string(), 200)
        ]
    );
    assert_ne!(log[0]["token"], log[1]["token"], "a new access token");
    assert_eq!(log[1]["token"], log[2]["token"]);
    // The provider rotated the refresh token, and the sign-in kept the new one.
    let after = f.signin.stored_refresh_token().unwrap().unwrap();
    assert_ne!(before.expose(), after.expose());
}

/// A token the provider never issued: the emulator refuses it, the one retry with a "fresh" token
/// fails the same way, and the caller is told to sign in again.
#[tokio::test]
async fn tokens_are_checked_at_the_provider() {
    struct Bogus;
    impl TokenSource for Bogus {
        fn token(&self) -> BoxFuture<'_, Result<Secret, Failure>> {
            Box::pin(async { Ok(Secret::new("not-a-token".into())) })
        }
        fn fresh_token(&self) -> BoxFuture<'_, Result<Secret, Failure>> {
            Box::pin(async { Ok(Secret::new("still-not-a-token".into())) })
        }
    }
    let f = signed_in().await;
    let account = f.signin.account().unwrap().unwrap();
    let run = Run::new("authenticator");
    let err = graph::mfa_status_with(
        &Bogus,
        &account,
        &GraphConfig::with_base_url(run.base_url()),
        &f.deps,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, Code::SignInRequired);
    assert_eq!(
        paths(&run.log().await),
        [(ME.to_string(), 401), (ME.to_string(), 401)]
    );
}

#[tokio::test]
async fn not_signed_in_needs_no_network() {
    let dir = tempfile::tempdir().unwrap();
    let deps = deps_with(Arc::new(SystemClock), Arc::new(Waits::default()));
    let signin = SignIn::new(
        Profile::isolated(dir.path()).unwrap(),
        Arc::new(Memory::default()),
        deps.clone(),
    );
    let config = GraphConfig::with_base_url("http://127.0.0.1:9");
    let err = graph::mfa_status(&signin, &config, &deps)
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::SignInRequired);
    // The preflight still gives the protocol facts.
    let p = graph::preflight(&signin, &config, &deps).await.unwrap();
    assert_eq!(p.per_user_mfa, PerUserMfaState::Unknown);
    assert_eq!(p.per_user_mfa_unknown.unwrap().code, Code::SignInRequired);
    assert_eq!(p.protocols.len(), 3);
}

#[tokio::test]
async fn graph_unreachable_is_offline() {
    let f = signed_in().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = GraphConfig::with_base_url(format!("http://127.0.0.1:{port}"));
    let err = graph::mfa_status(&f.signin, &config, &f.deps)
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::Offline);
}

// ---- preflight ----------------------------------------------------------------------------------

async fn preflight(f: &Fixture, scenario: &str) -> graph::Preflight {
    let run = Run::new(scenario);
    graph::preflight(
        &f.signin,
        &GraphConfig::with_base_url(run.base_url()),
        &f.deps,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn preflight_per_user_states() {
    let f = signed_in().await;
    for (scenario, state, verdict) in [
        (
            "mfa-enforced",
            PerUserMfaState::Enforced,
            AppPasswords::Possible,
        ),
        (
            "mfa-enabled",
            PerUserMfaState::Enabled,
            AppPasswords::NotYet,
        ),
        ("mfa-disabled", PerUserMfaState::Disabled, AppPasswords::No),
    ] {
        let p = preflight(&f, scenario).await;
        assert_eq!(p.per_user_mfa, state, "{scenario}");
        assert_eq!(p.app_passwords, verdict, "{scenario}");
        assert!(p.per_user_mfa_unknown.is_none());
    }
}

#[tokio::test]
async fn preflight_without_the_privileged_role_is_unknown_with_why() {
    let f = signed_in().await;
    let p = preflight(&f, "authenticator").await;
    assert_eq!(p.per_user_mfa, PerUserMfaState::Unknown);
    assert_eq!(p.app_passwords, AppPasswords::Unknown);
    let why = p.per_user_mfa_unknown.unwrap();
    assert_eq!(why.code, Code::GraphAccessDenied);
    assert!(why.message.contains("Policy.Read.All"), "{}", why.message);
}

#[tokio::test]
async fn preflight_protocols_follow_the_injected_date() {
    let mut f = signed_in().await;
    // 2026-12-31T12:00:00Z: SMTP AUTH still accepts passwords.
    f.deps = deps_with(
        Arc::new(FixedClock::at(1_798_718_400)),
        Arc::new(Waits::default()),
    );
    let p = preflight(&f, "mfa-enforced").await;
    assert_eq!(p.date, "2026-12-31");
    let by: Vec<(&str, Accepts)> = p
        .protocols
        .iter()
        .map(|s| (s.protocol.as_str(), s.accepts))
        .collect();
    assert_eq!(
        by,
        [
            ("IMAP", Accepts::No),
            ("POP", Accepts::No),
            ("SMTP AUTH", Accepts::Yes)
        ]
    );
    // 2027-01-01T00:00:00Z: off by default since the end of December 2026.
    f.deps = deps_with(
        Arc::new(FixedClock::at(1_798_761_600)),
        Arc::new(Waits::default()),
    );
    let p = preflight(&f, "mfa-enforced").await;
    assert_eq!(p.date, "2027-01-01");
    assert_eq!(p.protocols[2].accepts, Accepts::OffByDefault);
    for s in &p.protocols {
        assert!(s.statement.source.starts_with("https://"), "{s:?}");
        assert_eq!(s.statement.checked, "2026-11-25");
    }
}
