//! HTTP and time for sign-in, injected: the real transport is reqwest with redirects disabled;
//! tests pass a closure that answers canned responses, and a sleep that does not wait.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::error::{Code, Failure};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type HttpRequest = http::Request<Vec<u8>>;
pub type HttpResponse = http::Response<Vec<u8>>;

/// Why a request got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    #[error("no connection to {host}: {detail}")]
    Offline { host: String, detail: String },
    #[error("the name {host} could not be resolved: {detail}")]
    Dns { host: String, detail: String },
    #[error("the secure connection to {host} failed: {detail}")]
    Tls { host: String, detail: String },
    #[error("{host} did not answer in time")]
    Timeout { host: String },
    #[error("the request to {host} failed: {detail}")]
    Other { host: String, detail: String },
    /// A token endpoint answered with a redirect, which is not followed.
    #[error("{host} answered with a redirect (HTTP {status})")]
    Redirected { host: String, status: u16 },
    /// The provider answered, but with "unavailable" or "busy" (HTTP 5xx or 429): its body is
    /// not an answer to the request (and never a reason to give up a refresh token).
    #[error("{host} answered HTTP {status}")]
    Unavailable {
        host: String,
        status: u16,
        /// `Retry-After`, in whole seconds (rounded up), when it sent one.
        retry_after: Option<u64>,
        /// The OAuth `error` of a JSON body (`temporarily_unavailable`), when it sent one.
        error: Option<String>,
    },
}

impl NetError {
    pub fn to_failure(&self) -> Failure {
        match self {
            NetError::Offline { host, .. } => Failure::new(
                Code::Offline,
                format!("Cannot reach {host}: this computer seems to be offline, or a firewall blocks it. Check the network connection, then try again."),
            ),
            NetError::Dns { host, .. } => Failure::new(
                Code::DnsFailure,
                format!("The name {host} could not be looked up (DNS). Check the network connection and the authority setting, then try again."),
            ),
            NetError::Tls { host, detail } => Failure::new(
                Code::TlsFailure,
                format!("The secure connection to {host} failed ({detail}). If your network inspects TLS, ask IT to install its root certificate on this computer; otherwise check the date and time, then try again."),
            ),
            NetError::Timeout { host } => Failure::new(
                Code::NetworkTimeout,
                format!("{host} did not answer in time. Check the network connection, then try again."),
            ),
            NetError::Other { host, detail } => Failure::new(
                Code::Offline,
                format!("The request to {host} failed ({detail}). Check the network connection, then try again."),
            ),
            NetError::Unavailable {
                host,
                status,
                retry_after,
                error,
            } => {
                let said = error
                    .as_deref()
                    .map(|e| format!(", {e}"))
                    .unwrap_or_default();
                let what = if *status == 429 {
                    "is busy"
                } else {
                    "is unavailable"
                };
                let when = match retry_after {
                    Some(s) if *s > 0 => format!("it asks to wait {s} s; try again after that"),
                    _ => "try again in a few minutes".to_string(),
                };
                Failure::new(
                    Code::ServiceUnavailable,
                    format!("The identity provider at {host} {what} right now (HTTP {status}{said}). Nothing was changed and nothing was lost: {when}. If it lasts, check the provider's service status or ask IT."),
                )
            }
            NetError::Redirected { host, status } => Failure::new(
                Code::ProviderRejected,
                format!("The identity provider's token endpoint at {host} answered with a redirect (HTTP {status}) to another address. apppass does not follow redirects with sign-in secrets, so nothing was sent there. Check the authority setting, and tell IT if it keeps happening."),
            ),
        }
    }
}

/// `Some` when `answer` is the provider saying it cannot serve now (HTTP 5xx, or 429 "too many
/// requests"): such an answer is not the endpoint's reply, whatever its body says. `now` (Unix
/// seconds) turns a `Retry-After` date into a wait.
pub fn unavailable(host: &str, answer: &HttpResponse, now: i64) -> Option<NetError> {
    let status = answer.status().as_u16();
    if !(status == 429 || (500..=599).contains(&status)) {
        return None;
    }
    let retry_after = answer
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| crate::graph::client::parse_retry_after(v, now))
        .map(|d| d.as_secs_f64().ceil() as u64);
    // Only a short OAuth error code is quoted (`temporarily_unavailable`), never free text.
    let error = serde_json::from_slice::<serde_json::Value>(answer.body())
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .filter(|e| {
            !e.is_empty() && e.len() <= 64 && e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        });
    Some(NetError::Unavailable {
        host: host.to_string(),
        status,
        retry_after,
        error,
    })
}

/// Sends one HTTP request and returns the answer as it is: a transport never follows redirects
/// (a redirected token request could send the code or refresh token to another host).
pub trait Transport: Send + Sync {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, NetError>>;
}

impl<F> Transport for F
where
    F: Fn(HttpRequest) -> Result<HttpResponse, NetError> + Send + Sync,
{
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, NetError>> {
        let answer = self(request);
        Box::pin(async move { answer })
    }
}

/// Waits; injected so that tests of device-code polling do not wait in real time.
pub trait Sleep: Send + Sync {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Tokio's timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleep;

impl Sleep for TokioSleep {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// What sign-in needs from the outside world.
#[derive(Clone)]
pub struct Deps {
    pub http: Arc<dyn Transport>,
    pub clock: Arc<dyn Clock>,
    pub sleep: Arc<dyn Sleep>,
}

impl Deps {
    /// reqwest (rustls, the platform's certificate store, no redirects), the system clock, tokio's
    /// timer.
    pub fn system() -> Result<Deps, Failure> {
        Ok(Deps {
            http: Arc::new(ReqwestTransport::new()?),
            clock: Arc::new(SystemClock),
            sleep: Arc::new(TokioSleep),
        })
    }
}

/// The real transport.
pub struct ReqwestTransport {
    client: reqwest::Client,
}

/// Per-request limit (connecting, sending and the whole answer); the identity platform answers
/// in well under a second. A provider that accepts and never answers costs at most this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Limit for opening the connection (within [`REQUEST_TIMEOUT`]).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Larger answers are refused (metadata, keys and token responses are a few KB).
const MAX_BODY: usize = 1024 * 1024;

impl ReqwestTransport {
    pub fn new() -> Result<ReqwestTransport, Failure> {
        ReqwestTransport::with_timeouts(REQUEST_TIMEOUT, CONNECT_TIMEOUT)
    }

    /// The same with other limits (tests of a provider that never answers).
    pub fn with_timeouts(
        request: Duration,
        connect: Duration,
    ) -> Result<ReqwestTransport, Failure> {
        // rustls needs one process-wide crypto provider; if the host app installed one, keep it.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(request)
            .connect_timeout(connect)
            .user_agent(concat!("apppass/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Failure::new(
                    Code::Internal,
                    format!("Cannot set up the HTTP client: {e}. Report this bug."),
                )
            })?;
        Ok(ReqwestTransport { client })
    }

    async fn send_async(&self, request: HttpRequest) -> Result<HttpResponse, NetError> {
        let host = request.uri().host().map(str::to_string).unwrap_or_default();
        let request = reqwest::Request::try_from(request).map_err(|e| NetError::Other {
            host: host.clone(),
            detail: e.to_string(),
        })?;
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| classify(&host, &e))?;
        let mut builder = http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        if response.content_length().unwrap_or(0) as usize > MAX_BODY {
            return Err(NetError::Other {
                host,
                detail: "the answer is too large".into(),
            });
        }
        let body = response.bytes().await.map_err(|e| classify(&host, &e))?;
        if body.len() > MAX_BODY {
            return Err(NetError::Other {
                host,
                detail: "the answer is too large".into(),
            });
        }
        builder.body(body.to_vec()).map_err(|e| NetError::Other {
            host,
            detail: e.to_string(),
        })
    }
}

impl Transport for ReqwestTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, NetError>> {
        Box::pin(self.send_async(request))
    }
}

/// Sorts a reqwest failure into offline, DNS, TLS or timeout by walking its causes.
fn classify(host: &str, e: &reqwest::Error) -> NetError {
    let host = host.to_string();
    if e.is_timeout() {
        return NetError::Timeout { host };
    }
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        chain.push(s.to_string());
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return NetError::Timeout { host };
            }
        }
        if s.downcast_ref::<rustls::Error>().is_some() {
            return NetError::Tls {
                host,
                detail: s.to_string(),
            };
        }
        source = s.source();
    }
    classify_text(host, &chain, e.is_connect())
}

/// The same, from the causes' messages (kept separate so it is testable without a network).
fn classify_text(host: String, chain: &[String], is_connect: bool) -> NetError {
    let text = chain.join(": ").to_lowercase();
    let detail = chain.last().cloned().unwrap_or_default();
    if text.contains("dns error")
        || text.contains("failed to lookup address")
        || text.contains("name or service not known")
        || text.contains("no such host")
        || text.contains("nodename nor servname")
    {
        NetError::Dns { host, detail }
    } else if text.contains("certificate")
        || text.contains("tls")
        || text.contains("handshake")
        || text.contains("invalid peer")
    {
        NetError::Tls { host, detail }
    } else if is_connect {
        NetError::Offline { host, detail }
    } else {
        NetError::Other { host, detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(url: &str) -> HttpRequest {
        http::Request::get(url).body(Vec::new()).unwrap()
    }

    #[tokio::test]
    async fn refused_connection_is_offline() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let t = ReqwestTransport::new().unwrap();
        let err = t
            .send(get(&format!("http://127.0.0.1:{port}/x")))
            .await
            .unwrap_err();
        assert!(matches!(err, NetError::Offline { .. }), "{err:?}");
        assert_eq!(err.to_failure().code, Code::Offline);
    }

    #[test]
    fn resolver_failures_are_dns() {
        // hyper-util's resolver error as reqwest reports it (no lookup is made in tests: they only
        // talk to 127.0.0.1).
        let chain = vec![
            "error sending request for url (https://login.example/)".to_string(),
            "client error (Connect)".to_string(),
            "dns error".to_string(),
            "failed to lookup address information: Name or service not known".to_string(),
        ];
        let err = classify_text("login.example".into(), &chain, true);
        assert!(matches!(err, NetError::Dns { .. }), "{err:?}");
        assert_eq!(err.to_failure().code, Code::DnsFailure);
        let other = classify_text("x".into(), &["connection reset".to_string()], false);
        assert!(matches!(other, NetError::Other { .. }));
    }

    #[tokio::test]
    async fn silent_server_is_a_timeout_and_tls_to_plain_server_is_tls() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let n = sock.read(&mut buf).await.unwrap_or(0);
                    if buf[..n].starts_with(b"GET /slow") {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    } else {
                        // Not TLS: a TLS client gets garbage back.
                        let _ = sock.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
                    }
                });
            }
        });
        let _ = rustls::crypto::ring::default_provider().install_default();
        let quick = ReqwestTransport {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_millis(300))
                .build()
                .unwrap(),
        };
        let err = quick
            .send(get(&format!("http://127.0.0.1:{port}/slow")))
            .await
            .unwrap_err();
        assert_eq!(err.to_failure().code, Code::NetworkTimeout, "{err:?}");
        let t = ReqwestTransport::new().unwrap();
        let err = t
            .send(get(&format!("https://127.0.0.1:{port}/tls")))
            .await
            .unwrap_err();
        assert_eq!(err.to_failure().code, Code::TlsFailure, "{err:?}");
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
        });
        let t = ReqwestTransport::new().unwrap();
        let answer = t
            .send(get(&format!("http://127.0.0.1:{port}/token")))
            .await
            .unwrap();
        assert_eq!(answer.status(), 302);
    }
}
