//! The connection test: signs in to an entry's mail server with its stored password and says,
//! in one of a few words, how it went.
//!
//! IMAP (async-imap), SMTP submission (lettre) and POP3 (a few lines of RFC 1939/2595/5034), each
//! with TLS from the first byte or STARTTLS. TLS is rustls with the platform's verifier plus an
//! optional extra CA (a company or test CA). The password is sent only once TLS is up: a
//! STARTTLS server that does not offer STARTTLS is refused, never downgraded.
//!
//! Every network step has its own time limit ([`CheckOptions::timeout`]) and is announced through
//! the `progress` callback as a [`Step`], so a UI can show what is happening while it happens.

mod explain;
mod imap;
pub(crate) mod net;
mod pop;
mod smtp;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use ts_rs::TS;

use crate::catalog::{Endpoint, Protocol};
use crate::error::{Code, Failure};
use crate::secret::Secret;

pub use explain::explain;

/// How long each network step (name lookup, connect, TLS handshake, each command) may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Options of a connection test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOptions {
    /// A PEM file of extra CA certificates to trust besides the system's (a company CA).
    pub ca_file: Option<PathBuf>,
    /// The limit for each network step.
    pub timeout: Duration,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            ca_file: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl CheckOptions {
    /// Reads the extra CA file, if any: an `InvalidInput` failure naming the file and what to do
    /// when it cannot be read or holds no certificate. Callers may call it before [`check`] to
    /// refuse a bad file up front; [`check`] reports the same problem as a `tls_error`.
    pub fn validate(&self) -> Result<(), Failure> {
        net::extra_roots(self.ca_file.as_deref()).map(|_| ())
    }
}

/// Where a test is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Stage {
    /// Looking up the server's name (DNS).
    Resolving,
    /// Opening the TCP connection.
    Connecting,
    /// The TLS handshake of a TLS-from-the-first-byte port.
    Tls,
    /// Asking for STARTTLS and doing its TLS handshake.
    Starttls,
    /// Signing in with the password (only ever over TLS).
    Authenticating,
    /// Finished; the text says how.
    Done,
}

/// A progress event: sent as each step starts, and once at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Step {
    pub protocol: Protocol,
    pub stage: Stage,
    /// What happens now, for a person ("Connecting to imap.example.com port 993").
    pub text: String,
}

/// How a connection test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum CheckResult {
    /// Signed in.
    Ok,
    /// The server refused the user name or password (or the sign-in method).
    AuthRejected,
    /// The secure connection failed: untrusted or wrong certificate, handshake failure, no
    /// STARTTLS where it is required.
    TlsError,
    /// A step took longer than the time limit.
    Timeout,
    /// The server's name could not be looked up.
    DnsError,
    /// Nothing listens on that port, or the host cannot be reached.
    ConnectionRefused,
    /// The server answered something unexpected.
    ProtocolError,
}

impl CheckResult {
    /// The stable spelling (`ok`, `auth_rejected`, …), as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckResult::Ok => "ok",
            CheckResult::AuthRejected => "auth_rejected",
            CheckResult::TlsError => "tls_error",
            CheckResult::Timeout => "timeout",
            CheckResult::DnsError => "dns_error",
            CheckResult::ConnectionRefused => "connection_refused",
            CheckResult::ProtocolError => "protocol_error",
        }
    }

    /// The failure code for the audit log (`None` for `ok`).
    pub fn audit_code(self) -> Option<Code> {
        match self {
            CheckResult::Ok => None,
            CheckResult::AuthRejected => Some(Code::AuthRejected),
            CheckResult::TlsError => Some(Code::TlsFailure),
            CheckResult::Timeout => Some(Code::NetworkTimeout),
            CheckResult::DnsError => Some(Code::DnsFailure),
            CheckResult::ConnectionRefused => Some(Code::Offline),
            CheckResult::ProtocolError => Some(Code::ProtocolError),
        }
    }
}

/// The outcome of testing one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct CheckOutcome {
    pub protocol: Protocol,
    pub result: CheckResult,
    /// The server's words or the error's text (never the password).
    pub detail: String,
    /// What a known answer means, in plain words, and what to do next.
    pub explanation: Option<String>,
}

impl CheckOutcome {
    pub fn is_ok(&self) -> bool {
        self.result == CheckResult::Ok
    }

    /// The outcome as the audit log takes it: record each test with
    /// `vault.record(Action::Tested, &entry, outcome.audit())` (reading the secret with
    /// `Access::Test` does not record a success itself).
    pub fn audit(&self) -> Result<(), Code> {
        match self.result.audit_code() {
            None => Ok(()),
            Some(code) => Err(code),
        }
    }
}

/// Why a test stopped, before it becomes a [`CheckOutcome`].
#[derive(Debug)]
pub(crate) struct Stop {
    pub result: CheckResult,
    pub detail: String,
}

impl Stop {
    pub fn new(result: CheckResult, detail: impl Into<String>) -> Stop {
        Stop {
            result,
            detail: detail.into(),
        }
    }
    pub fn protocol(detail: impl Into<String>) -> Stop {
        Stop::new(CheckResult::ProtocolError, detail)
    }
    pub fn auth(detail: impl Into<String>) -> Stop {
        Stop::new(CheckResult::AuthRejected, detail)
    }
    pub fn tls(detail: impl Into<String>) -> Stop {
        Stop::new(CheckResult::TlsError, detail)
    }
}

/// What each protocol's test needs.
pub(crate) struct Ctx<'a> {
    pub endpoint: &'a Endpoint,
    pub secret: &'a Secret,
    pub timeout: Duration,
    pub roots: &'a net::Roots,
    progress: &'a (dyn Fn(Step) + Send + Sync),
}

impl Ctx<'_> {
    pub fn step(&self, stage: Stage, text: String) {
        (self.progress)(Step {
            protocol: self.endpoint.protocol,
            stage,
            text,
        });
    }

    /// Runs one network step under the time limit; `what` names it in the timeout's detail.
    pub async fn limit<T>(
        &self,
        what: &str,
        future: impl std::future::Future<Output = Result<T, Stop>>,
    ) -> Result<T, Stop> {
        match tokio::time::timeout(self.timeout, future).await {
            Ok(r) => r,
            Err(_) => Err(Stop::new(
                CheckResult::Timeout,
                format!(
                    "{}:{} did not answer within {} s ({what})",
                    self.endpoint.host,
                    self.endpoint.port,
                    self.timeout.as_secs_f32()
                ),
            )),
        }
    }

    pub fn hostport(&self) -> String {
        format!("{} port {}", self.endpoint.host, self.endpoint.port)
    }
}

/// Tests one endpoint: connects, sets up TLS, signs in with `secret`, signs out. Never fails:
/// every problem is an outcome. Needs a tokio runtime with time and I/O enabled.
pub async fn check(
    endpoint: &Endpoint,
    secret: &Secret,
    opts: &CheckOptions,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> CheckOutcome {
    let finish = |stop: Result<String, Stop>| {
        let (result, detail) = match stop {
            Ok(detail) => (CheckResult::Ok, detail),
            Err(stop) => (stop.result, stop.detail),
        };
        let explanation = explain(endpoint.protocol, result, &detail);
        let outcome = CheckOutcome {
            protocol: endpoint.protocol,
            result,
            detail,
            explanation,
        };
        progress(Step {
            protocol: endpoint.protocol,
            stage: Stage::Done,
            text: match result {
                CheckResult::Ok => format!("Signed in to {}: the password works.", endpoint.host),
                _ => format!("{}: {}", result.as_str(), outcome.detail),
            },
        });
        outcome
    };
    let roots = match net::extra_roots(opts.ca_file.as_deref()) {
        Ok(r) => r,
        Err(f) => return finish(Err(Stop::tls(f.message))),
    };
    let ctx = Ctx {
        endpoint,
        secret,
        timeout: opts.timeout,
        roots: &roots,
        progress,
    };
    let outcome = match endpoint.protocol {
        Protocol::Imap => imap::check(&ctx).await,
        Protocol::Smtp => smtp::check(&ctx).await,
        Protocol::Pop => pop::check(&ctx).await,
    };
    finish(outcome)
}

/// The path in messages.
fn shown(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_serialise_snake_case() {
        for (r, s) in [
            (CheckResult::Ok, "ok"),
            (CheckResult::AuthRejected, "auth_rejected"),
            (CheckResult::TlsError, "tls_error"),
            (CheckResult::Timeout, "timeout"),
            (CheckResult::DnsError, "dns_error"),
            (CheckResult::ConnectionRefused, "connection_refused"),
            (CheckResult::ProtocolError, "protocol_error"),
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), serde_json::json!(s));
            assert_eq!(r.as_str(), s);
            assert_eq!(r.audit_code().is_none(), r == CheckResult::Ok);
        }
        let step = Step {
            protocol: Protocol::Smtp,
            stage: Stage::Starttls,
            text: "x".into(),
        };
        assert_eq!(
            serde_json::to_value(step).unwrap(),
            serde_json::json!({"protocol": "smtp", "stage": "starttls", "text": "x"})
        );
    }

    #[test]
    fn missing_or_bad_ca_file_is_invalid_input_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let opts = CheckOptions {
            ca_file: Some(missing.clone()),
            ..CheckOptions::default()
        };
        let err = opts.validate().unwrap_err();
        assert_eq!(err.code, Code::InvalidInput);
        assert!(err.message.contains(&shown(&missing)), "{}", err.message);
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let err = CheckOptions {
            ca_file: Some(junk.clone()),
            ..CheckOptions::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.code, Code::InvalidInput);
        assert!(err.message.contains("no certificate"), "{}", err.message);
        assert!(CheckOptions::default().validate().is_ok());
    }
}
