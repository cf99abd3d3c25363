//! Microsoft Graph over the injected transport ([`Deps`]), with one error policy:
//!
//! - 401: ask the token source for a fresh token once and retry; a second 401 is `SignInRequired`.
//! - 403: `GraphAccessDenied` (no consent or permission; callers continue in guided mode).
//! - 429 and 503: wait `Retry-After` (seconds, fractional allowed, or an HTTP date), else back off
//!   exponentially; other 5xx: back off. After `max_attempts`, `ServiceUnavailable`.
//! - A body that is not the expected JSON: `ProtocolError`.
//! - No answer at all: the transport's network codes (`Offline`, `DnsFailure`, `TlsFailure`,
//!   `NetworkTimeout`).
//!
//! Graph's error body (`{"error": {"code", "message", "innerError"}}`) is read for its `code` only:
//! Graph's messages are not meant for users (providers.md §2.6).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{Code, Failure};
use crate::secret::Secret;
use crate::signin::http::{BoxFuture, HttpResponse};
use crate::signin::{Deps, SignIn};

/// Microsoft Graph in the global cloud.
pub const DEFAULT_BASE_URL: &str = "https://graph.microsoft.com";

/// Where Graph is and how patiently to retry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphConfig {
    /// `https://graph.microsoft.com` (a national cloud's Graph, or a test emulator on loopback).
    pub base_url: String,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The first back-off without `Retry-After`; doubled each time up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for: the call fails with
    /// `ServiceUnavailable`, naming the wait.
    pub max_retry_after: Duration,
    /// All waits of one request together stay under this: a person is waiting.
    pub max_total_wait: Duration,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            max_attempts: 5,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            max_total_wait: Duration::from_secs(90),
        }
    }
}

/// Sign-in host → Graph root, per national cloud (providers.md §3.1, from Graph's
/// `concepts/deployments.md`; tokens are not interchangeable between clouds). US Government L5
/// (DoD, `https://dod-graph.microsoft.us`) shares its sign-in host with L4 and needs the Graph
/// address set explicitly.
const GRAPH_ROOTS: [(&str, &str); 3] = [
    ("login.microsoftonline.us", "https://graph.microsoft.us"),
    (
        "login.partner.microsoftonline.cn",
        "https://microsoftgraph.chinacloudapi.cn",
    ),
    (
        "login.chinacloudapi.cn",
        "https://microsoftgraph.chinacloudapi.cn",
    ),
];

impl GraphConfig {
    pub fn with_base_url(base_url: impl Into<String>) -> Self {
        GraphConfig {
            base_url: base_url.into(),
            ..GraphConfig::default()
        }
    }

    /// The Graph of the cloud the account signed in to (its authority's host); global Graph for
    /// any other authority.
    pub fn for_authority(authority: &str) -> Self {
        let host = url::Url::parse(authority)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
        let root = GRAPH_ROOTS
            .iter()
            .find(|(login, _)| host.as_deref() == Some(*login))
            .map(|(_, graph)| *graph)
            .unwrap_or(DEFAULT_BASE_URL);
        GraphConfig::with_base_url(root)
    }

    /// The back-off before attempt `attempt + 1` (attempt counts from 1) without `Retry-After`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Where access tokens for Graph come from: the sign-in, or a test's fixed token.
pub trait TokenSource: Send + Sync {
    /// A token that is valid as far as the source knows (refreshed ahead of expiry).
    fn token(&self) -> BoxFuture<'_, Result<Secret, Failure>>;
    /// A new token, even if the current one looks valid (after Graph answered 401).
    fn fresh_token(&self) -> BoxFuture<'_, Result<Secret, Failure>>;
}

impl TokenSource for SignIn {
    fn token(&self) -> BoxFuture<'_, Result<Secret, Failure>> {
        Box::pin(async move { self.access_token().await.map(|t| t.token) })
    }
    fn fresh_token(&self) -> BoxFuture<'_, Result<Secret, Failure>> {
        Box::pin(async move { self.refresh().await.map(|t| t.token) })
    }
}

/// Graph's error body (providers.md §2.6). Only `code` is used.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
}

fn graph_error_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error.code)
        .filter(|c| !c.is_empty())
}

/// A client for one token source.
pub struct GraphClient<'a> {
    config: &'a GraphConfig,
    deps: &'a Deps,
    tokens: &'a dyn TokenSource,
}

impl<'a> GraphClient<'a> {
    pub fn new(config: &'a GraphConfig, deps: &'a Deps, tokens: &'a dyn TokenSource) -> Self {
        GraphClient {
            config,
            deps,
            tokens,
        }
    }

    fn url(&self, path: &str) -> Result<String, Failure> {
        let base = self.config.base_url.trim_end_matches('/');
        let parsed = url::Url::parse(base).map_err(|e| {
            Failure::new(
                Code::InvalidInput,
                format!("The Microsoft Graph address {base:?} is not a URL ({e}). Fix the Graph address setting."),
            )
        })?;
        // The request carries an access token: never over plain http except to this computer.
        crate::signin::config::check_secure_endpoint(&parsed, "Microsoft Graph address")?;
        Ok(format!("{base}{path}"))
    }

    /// GET `path` (e.g. `/v1.0/me`) and parse the JSON answer as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        let answer = self.get_raw(path).await?;
        serde_json::from_slice(answer.body()).map_err(|e| {
            Failure::new(
                Code::ProtocolError,
                format!("Microsoft Graph answered {path} with something apppass cannot read ({e}). Try again later; if it persists, report it with `apppass mfa status --json`."),
            )
        })
    }

    /// GET `path` under the error policy above; the 200 answer as it came.
    pub async fn get_raw(&self, path: &str) -> Result<HttpResponse, Failure> {
        let url = self.url(path)?;
        let mut token = self.tokens.token().await?;
        let mut refreshed = false;
        let mut attempt: u32 = 0;
        let mut waited = Duration::ZERO;
        loop {
            attempt += 1;
            let request = http::Request::get(&url)
                .header(
                    http::header::AUTHORIZATION,
                    format!("Bearer {}", token.expose()),
                )
                .header(http::header::ACCEPT, "application/json")
                .body(Vec::new())
                .map_err(|e| {
                    Failure::new(
                        Code::Internal,
                        format!("Cannot build the Graph request ({e}). Report this bug."),
                    )
                })?;
            let answer = self
                .deps
                .http
                .send(request)
                .await
                .map_err(|e| e.to_failure())?;
            let status = answer.status().as_u16();
            match status {
                200..=299 => return Ok(answer),
                401 if !refreshed => {
                    refreshed = true;
                    attempt -= 1; // a refresh is not a retry of a failing service
                    token = self.tokens.fresh_token().await?;
                    continue;
                }
                401 => {
                    return Err(Failure::new(
                        Code::SignInRequired,
                        "Microsoft Graph did not accept your sign-in, even after it was renewed. Sign in again with `apppass login`.",
                    ))
                }
                403 => return Err(access_denied(path, graph_error_code(answer.body()))),
                429 | 500..=599 => {
                    let code = graph_error_code(answer.body());
                    let wait = if status == 429 || status == 503 {
                        retry_after(&answer, self.deps.clock.now())
                    } else {
                        None
                    };
                    if let Some(wait) = wait {
                        if wait > self.config.max_retry_after {
                            return Err(unavailable(status, code, Some(wait)));
                        }
                    }
                    if attempt >= self.config.max_attempts {
                        return Err(unavailable(status, code, None));
                    }
                    let wait = wait.unwrap_or_else(|| self.config.backoff(attempt));
                    if waited + wait > self.config.max_total_wait {
                        return Err(unavailable(status, code, None));
                    }
                    waited += wait;
                    self.deps.sleep.sleep(wait).await;
                }
                _ => {
                    let code = graph_error_code(answer.body());
                    return Err(Failure::new(
                        Code::ProtocolError,
                        format!(
                            "Microsoft Graph answered {path} with HTTP {status}{}. Check the Graph address setting; if it persists, report it.",
                            code.map(|c| format!(" ({c})")).unwrap_or_default()
                        ),
                    ));
                }
            }
        }
    }
}

fn access_denied(path: &str, code: Option<String>) -> Failure {
    Failure::new(
        Code::GraphAccessDenied,
        format!(
            "Microsoft Graph refused to show {} (HTTP 403{}): apppass has not been given the permission it needs (UserAuthenticationMethod.Read, with an administrator's consent). apppass continues without the live check; ask IT to grant admin consent for apppass to see your status here.",
            if path.contains("/authentication/methods") {
                "your sign-in methods"
            } else {
                "your account"
            },
            code.map(|c| format!(", {c}")).unwrap_or_default()
        ),
    )
}

fn unavailable(status: u16, code: Option<String>, asked_wait: Option<Duration>) -> Failure {
    let what = code.map(|c| format!(", {c}")).unwrap_or_default();
    let message = match asked_wait {
        Some(wait) => format!(
            "Microsoft Graph is busy (HTTP {status}{what}) and asks to wait {} seconds. Try again later.",
            wait.as_secs_f64().ceil()
        ),
        None => format!(
            "Microsoft Graph kept answering HTTP {status}{what} after apppass waited and retried. Try again in a few minutes."
        ),
    };
    Failure::new(Code::ServiceUnavailable, message)
}

/// `Retry-After` as a wait: delay-seconds (fractional allowed: Graph sends e.g. `2.128`), or an
/// HTTP date (the wait until then, from `now`). `None` when absent or unreadable.
pub fn retry_after(answer: &HttpResponse, now: i64) -> Option<Duration> {
    let value = answer
        .headers()
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    parse_retry_after(value, now)
}

pub fn parse_retry_after(value: &str, now: i64) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let seconds: f64 = value.parse().ok()?;
        return Duration::try_from_secs_f64(seconds).ok();
    }
    // HTTP-date (IMF-fixdate, RFC 9110 §5.6.7), which is RFC 2822 with "GMT".
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let seconds = when.timestamp().saturating_sub(now).max(0);
    Some(Duration::from_secs(seconds as u64))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use crate::clock::FixedClock;
    use crate::signin::http::{HttpRequest, NetError};
    use crate::signin::Sleep;

    /// Records each wait instead of waiting.
    #[derive(Default)]
    pub(crate) struct Waits(pub Mutex<Vec<Duration>>);
    impl Sleep for Waits {
        fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
            self.0.lock().unwrap().push(d);
            Box::pin(async {})
        }
    }

    /// Hands out `token-1`, then `token-2` … on each refresh.
    #[derive(Default)]
    pub(crate) struct Tokens(pub AtomicUsize);
    impl TokenSource for Tokens {
        fn token(&self) -> BoxFuture<'_, Result<Secret, Failure>> {
            let n = self.0.load(Ordering::SeqCst) + 1;
            Box::pin(async move { Ok(Secret::new(format!("token-{n}"))) })
        }
        fn fresh_token(&self) -> BoxFuture<'_, Result<Secret, Failure>> {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 2;
            Box::pin(async move { Ok(Secret::new(format!("token-{n}"))) })
        }
    }

    pub(crate) fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        let mut b = http::Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(body.as_bytes().to_vec()).unwrap()
    }

    /// A transport answering from a script, one answer per request; records what was asked.
    pub(crate) fn scripted(
        answers: Vec<Result<HttpResponse, NetError>>,
    ) -> (
        Arc<dyn crate::signin::Transport>,
        Arc<Mutex<Vec<HttpRequest>>>,
    ) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let queue = Mutex::new(answers.into_iter());
        let log = seen.clone();
        let t = move |r: HttpRequest| {
            log.lock().unwrap().push(r);
            queue
                .lock()
                .unwrap()
                .next()
                .expect("more requests than scripted answers")
        };
        (Arc::new(t), seen)
    }

    pub(crate) fn deps(http: Arc<dyn crate::signin::Transport>, now: i64) -> (Deps, Arc<Waits>) {
        let waits = Arc::new(Waits::default());
        (
            Deps {
                http,
                clock: Arc::new(FixedClock::at(now)),
                sleep: waits.clone(),
            },
            waits,
        )
    }

    const THROTTLED: &str = r#"{
    "error": {
      "code": "TooManyRequests",
      "innerError": {
        "code": "429",
        "date": "2020-08-18T12:51:51",
        "message": "Please retry after",
        "request-id": "94fb3b52-452a-4535-a601-69e0a90e3aa2",
        "status": "429"
      },
      "message": "Please retry again later."
    }
  }"#;

    async fn run(
        answers: Vec<Result<HttpResponse, NetError>>,
    ) -> (
        Result<serde_json::Value, Failure>,
        Vec<Duration>,
        Vec<HttpRequest>,
    ) {
        let (http, seen) = scripted(answers);
        let (deps, waits) = deps(http, 1_795_626_278);
        let config = GraphConfig::with_base_url("https://graph.example.test/");
        let tokens = Tokens::default();
        let client = GraphClient::new(&config, &deps, &tokens);
        let result = client.get::<serde_json::Value>("/v1.0/me").await;
        let waits = waits.0.lock().unwrap().clone();
        let seen = std::mem::take(&mut *seen.lock().unwrap());
        (result, waits, seen)
    }

    #[test]
    fn retry_after_forms() {
        let now = 1_445_412_480; // 2015-10-21T07:28:00Z
        assert_eq!(
            parse_retry_after("2.128", now),
            Some(Duration::from_millis(2128))
        );
        assert_eq!(parse_retry_after("10", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // A date in the past: retry at once.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in ["", "-1", "soon", "1.2.3", "1e3", "NaN"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn graph_follows_the_accounts_cloud() {
        for (authority, graph) in [
            (
                "https://login.microsoftonline.com/organizations/v2.0",
                "https://graph.microsoft.com",
            ),
            (
                "https://login.microsoftonline.us/contoso.onmicrosoft.us/v2.0",
                "https://graph.microsoft.us",
            ),
            (
                "https://login.partner.microsoftonline.cn/organizations/v2.0",
                "https://microsoftgraph.chinacloudapi.cn",
            ),
            ("http://127.0.0.1:4000", "https://graph.microsoft.com"),
            ("not a url", "https://graph.microsoft.com"),
        ] {
            assert_eq!(GraphConfig::for_authority(authority).base_url, graph);
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let c = GraphConfig::default();
        let got: Vec<u64> = (1..=7).map(|a| c.backoff(a).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(c.backoff(100), Duration::from_secs(30));
    }

    #[tokio::test]
    async fn sends_the_bearer_token_and_parses_json() {
        let (r, waits, seen) = run(vec![Ok(answer(200, &[], r#"{"id":"x"}"#))]).await;
        assert_eq!(r.unwrap()["id"], "x");
        assert!(waits.is_empty());
        assert_eq!(seen[0].uri(), "https://graph.example.test/v1.0/me");
        assert_eq!(seen[0].headers()["authorization"], "Bearer token-1");
    }

    #[tokio::test]
    async fn unauthorized_refreshes_once_then_asks_to_sign_in() {
        let (r, _, seen) = run(vec![Ok(answer(401, &[], "")), Ok(answer(200, &[], "{}"))]).await;
        r.unwrap();
        assert_eq!(seen[1].headers()["authorization"], "Bearer token-2");
        let (r, _, seen) = run(vec![Ok(answer(401, &[], "")), Ok(answer(401, &[], ""))]).await;
        assert_eq!(r.unwrap_err().code, Code::SignInRequired);
        assert_eq!(seen.len(), 2);
    }

    #[tokio::test]
    async fn forbidden_is_access_denied_with_graphs_code() {
        let body = r#"{"error":{"code":"accessDenied","message":"m","innerError":{"request-id":"r","date":"d"}}}"#;
        let (r, _, _) = run(vec![Ok(answer(403, &[], body))]).await;
        let f = r.unwrap_err();
        assert_eq!(f.code, Code::GraphAccessDenied);
        assert!(f.message.contains("accessDenied"), "{}", f.message);
        assert!(f.message.contains("admin consent"), "{}", f.message);
    }

    #[tokio::test]
    async fn throttling_waits_retry_after_then_backs_off() {
        let (r, waits, _) = run(vec![
            Ok(answer(429, &[("retry-after", "2.128")], THROTTLED)),
            Ok(answer(503, &[], "")),
            Ok(answer(
                503,
                &[("retry-after", "Wed, 25 Nov 2026 17:04:43 GMT")],
                "",
            )),
            Ok(answer(200, &[], "{}")),
        ])
        .await;
        r.unwrap();
        // 2.128 s as sent; no header: the back-off after attempt 2; an HTTP date: until then.
        assert_eq!(
            waits,
            [
                Duration::from_millis(2128),
                Duration::from_secs(2),
                Duration::from_secs(5)
            ]
        );
    }

    #[tokio::test]
    async fn a_long_retry_after_is_not_waited_for() {
        let (r, waits, _) = run(vec![Ok(answer(429, &[("retry-after", "3600")], THROTTLED))]).await;
        let f = r.unwrap_err();
        assert_eq!(f.code, Code::ServiceUnavailable);
        assert!(f.message.contains("3600 seconds"), "{}", f.message);
        assert!(waits.is_empty());
    }

    #[tokio::test]
    async fn waits_stay_within_the_total_budget() {
        let busy = || Ok(answer(429, &[("retry-after", "50")], THROTTLED));
        let (r, waits, seen) = run(vec![busy(), busy(), busy()]).await;
        assert_eq!(r.unwrap_err().code, Code::ServiceUnavailable);
        // 50 s once; another 50 s would pass the 90 s budget.
        assert_eq!(waits, [Duration::from_secs(50)]);
        assert_eq!(seen.len(), 2);
    }

    #[tokio::test]
    async fn server_errors_back_off_until_the_attempts_run_out() {
        let e500 = || {
            Ok(answer(
                500,
                &[],
                r#"{"error":{"code":"generalException","message":"m"}}"#,
            ))
        };
        let (r, waits, seen) = run(vec![e500(), e500(), e500(), e500(), e500()]).await;
        let f = r.unwrap_err();
        assert_eq!(f.code, Code::ServiceUnavailable);
        assert!(f.message.contains("500, generalException"), "{}", f.message);
        assert_eq!(seen.len(), 5);
        let secs: Vec<u64> = waits.iter().map(|d| d.as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8]);
        let (r, waits, _) = run(vec![e500(), Ok(answer(200, &[], "{}"))]).await;
        r.unwrap();
        assert_eq!(waits, [Duration::from_secs(1)]);
    }

    #[tokio::test]
    async fn malformed_json_and_odd_statuses_are_protocol_errors() {
        let (r, _, _) = run(vec![Ok(answer(200, &[], r#"{"value": [ {"id": "#))]).await;
        assert_eq!(r.unwrap_err().code, Code::ProtocolError);
        let (r, _, _) = run(vec![Ok(answer(
            404,
            &[],
            r#"{"error":{"code":"itemNotFound","message":"m"}}"#,
        ))])
        .await;
        let f = r.unwrap_err();
        assert_eq!(f.code, Code::ProtocolError);
        assert!(f.message.contains("404 (itemNotFound)"), "{}", f.message);
    }

    #[tokio::test]
    async fn no_answer_keeps_the_network_codes() {
        let (r, _, _) = run(vec![Err(NetError::Offline {
            host: "graph.example.test".into(),
            detail: "refused".into(),
        })])
        .await;
        assert_eq!(r.unwrap_err().code, Code::Offline);
        let (r, _, _) = run(vec![Err(NetError::Timeout {
            host: "graph.example.test".into(),
        })])
        .await;
        assert_eq!(r.unwrap_err().code, Code::NetworkTimeout);
        let (r, _, _) = run(vec![Err(NetError::Dns {
            host: "graph.example.test".into(),
            detail: "x".into(),
        })])
        .await;
        assert_eq!(r.unwrap_err().code, Code::DnsFailure);
        let (r, _, _) = run(vec![Err(NetError::Tls {
            host: "graph.example.test".into(),
            detail: "x".into(),
        })])
        .await;
        assert_eq!(r.unwrap_err().code, Code::TlsFailure);
    }

    #[tokio::test]
    async fn refuses_plain_http_to_another_host() {
        let (http, seen) = scripted(vec![]);
        let (deps, _) = deps(http, 0);
        let config = GraphConfig::with_base_url("http://graph.example.test");
        let tokens = Tokens::default();
        let f = GraphClient::new(&config, &deps, &tokens)
            .get::<serde_json::Value>("/v1.0/me")
            .await
            .unwrap_err();
        assert_eq!(f.code, Code::InvalidInput);
        assert!(seen.lock().unwrap().is_empty());
    }
}
