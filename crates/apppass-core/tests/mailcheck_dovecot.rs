//! The connection test against a REAL Dovecot (Debian's, started by `tests/harness/dovecot` on
//! 127.0.0.1 with TLS from a CA of its own): IMAP, SMTP submission and POP3, each with TLS from the
//! first byte and with STARTTLS. Needs no keyring. Without Dovecot these tests fail and say to run
//! scripts/setup.sh --test.

mod support;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use apppass_core::catalog::{Endpoint, Protocol};
use apppass_core::mailcheck::{check, CheckOptions, CheckOutcome, CheckResult, Stage, Step};
use apppass_core::secret::Secret;
use apppass_core::vault::Security;
use support::dovecot::{dovecot, Dovecot, ALICE};

/// For tests that never get as far as signing in; still must never show up.
const UNUSED_PASSWORD: &str = "Zq9-unused-wK3p";

fn endpoint(protocol: Protocol, host: &str, port: u16, security: Security) -> Endpoint {
    Endpoint {
        protocol,
        host: host.to_string(),
        port,
        security,
        username: ALICE.to_string(),
    }
}

fn trusting(d: &Dovecot) -> CheckOptions {
    CheckOptions {
        ca_file: Some(d.ca_file.clone()),
        timeout: Duration::from_secs(15),
    }
}

/// Runs one check; returns the outcome and every step reported.
async fn run(e: &Endpoint, password: &str, opts: &CheckOptions) -> (CheckOutcome, Vec<Step>) {
    let steps = Mutex::new(Vec::new());
    let record = |s: Step| steps.lock().unwrap().push(s);
    let outcome = check(e, &Secret::from(password), opts, &record).await;
    let steps = steps.into_inner().unwrap();
    // Never the password, anywhere a person or a log would see it.
    let shown = format!("{outcome:?} {steps:?}");
    assert!(!shown.contains(password), "the password shows up: {shown}");
    (outcome, steps)
}

fn stages(steps: &[Step]) -> Vec<Stage> {
    steps.iter().map(|s| s.stage).collect()
}

/// (protocol, security, port) for every real Dovecot service.
fn services(d: &Dovecot) -> Vec<(Protocol, Security, u16)> {
    vec![
        (Protocol::Imap, Security::Tls, d.imaps),
        (Protocol::Imap, Security::Starttls, d.imap),
        (Protocol::Smtp, Security::Tls, d.submissions),
        (Protocol::Smtp, Security::Starttls, d.submission),
        (Protocol::Pop, Security::Tls, d.pop3s),
        (Protocol::Pop, Security::Starttls, d.pop3),
    ]
}

#[tokio::test]
async fn right_password_signs_in_over_tls_and_starttls() {
    let d = dovecot();
    for (protocol, security, port) in services(d) {
        let e = endpoint(protocol, &d.host, port, security);
        let (outcome, steps) = run(&e, d.password(ALICE), &trusting(d)).await;
        assert_eq!(
            outcome.result,
            CheckResult::Ok,
            "{protocol:?} {security:?}: {outcome:?}\nDovecot's log:\n{}",
            d.log_text()
        );
        assert!(outcome.explanation.is_none());
        let tls_stage = match security {
            Security::Tls => Stage::Tls,
            Security::Starttls => Stage::Starttls,
        };
        assert_eq!(
            stages(&steps),
            vec![
                Stage::Resolving,
                Stage::Connecting,
                tls_stage,
                Stage::Authenticating,
                Stage::Done
            ],
            "{protocol:?} {security:?}: {steps:?}"
        );
        assert!(steps.iter().all(|s| s.protocol == protocol));
    }
    // Dovecot itself says who signed in, and that it was over TLS.
    let log = d.log_text();
    for service in ["imap-login", "submission-login", "pop3-login"] {
        assert!(
            log.lines().any(|l| l.contains(service)
                && l.contains("Login: user=<alice@example.test>")
                && l.contains("TLS")),
            "no TLS login by alice in {service}'s log:\n{log}"
        );
    }
}

#[tokio::test]
async fn a_host_name_is_looked_up_and_matched_against_the_certificate() {
    let d = dovecot();
    let e = endpoint(Protocol::Imap, "localhost", d.imaps, Security::Tls);
    let (outcome, _) = run(&e, d.password(ALICE), &trusting(d)).await;
    assert_eq!(outcome.result, CheckResult::Ok, "{outcome:?}");
}

#[tokio::test]
async fn wrong_password_is_auth_rejected_with_dovecots_words() {
    let d = dovecot();
    for (protocol, security, port) in services(d) {
        let e = endpoint(protocol, &d.host, port, security);
        let (outcome, steps) = run(&e, "not-the-password", &trusting(d)).await;
        assert_eq!(
            outcome.result,
            CheckResult::AuthRejected,
            "{protocol:?} {security:?}: {outcome:?}"
        );
        // Dovecot's own answers: SMTP "535 5.7.8 Authentication failed",
        // IMAP "[AUTHENTICATIONFAILED] Authentication failed.", POP3 "-ERR [AUTH] Authentication failed."
        assert!(
            outcome.detail.contains("Authentication failed"),
            "{protocol:?}: {}",
            outcome.detail
        );
        match protocol {
            Protocol::Smtp => assert!(
                outcome.detail.starts_with("535 5.7.8"),
                "{}",
                outcome.detail
            ),
            Protocol::Imap => assert!(outcome.detail.contains("[AUTHENTICATIONFAILED]")),
            Protocol::Pop => assert!(outcome.detail.contains("[AUTH]")),
        }
        let explanation = outcome.explanation.as_deref().unwrap();
        assert!(explanation.contains("new app password"), "{explanation}");
        assert_eq!(steps.last().unwrap().stage, Stage::Done);
        assert!(stages(&steps).contains(&Stage::Authenticating));
    }
}

#[tokio::test]
async fn a_certificate_from_an_untrusted_ca_is_a_tls_error_before_any_password() {
    let d = dovecot();
    for (protocol, security, port) in services(d) {
        let e = endpoint(protocol, &d.host, port, security);
        // No extra CA: the harness's CA is not among the system's.
        let (outcome, steps) = run(&e, d.password(ALICE), &CheckOptions::default()).await;
        assert_eq!(
            outcome.result,
            CheckResult::TlsError,
            "{protocol:?} {security:?}: {outcome:?}"
        );
        assert!(
            outcome.detail.contains("unknown issuer"),
            "{}",
            outcome.detail
        );
        assert!(outcome.explanation.as_deref().unwrap().contains("ca_file"));
        assert!(
            !stages(&steps).contains(&Stage::Authenticating),
            "{protocol:?} {security:?} went on to sign in: {steps:?}"
        );
    }
}

#[tokio::test]
async fn a_closed_port_is_connection_refused() {
    let d = dovecot();
    for protocol in [Protocol::Imap, Protocol::Smtp, Protocol::Pop] {
        let e = endpoint(protocol, "127.0.0.1", Dovecot::closed_port(), Security::Tls);
        let (outcome, steps) = run(&e, UNUSED_PASSWORD, &trusting(d)).await;
        assert_eq!(
            outcome.result,
            CheckResult::ConnectionRefused,
            "{outcome:?}"
        );
        assert!(outcome.detail.contains("refused"), "{}", outcome.detail);
        assert_eq!(
            stages(&steps),
            vec![Stage::Resolving, Stage::Connecting, Stage::Done]
        );
    }
}

#[tokio::test]
async fn a_server_without_starttls_is_refused_and_never_sees_the_password() {
    let d = dovecot();
    for (protocol, port, log, asked, forbidden) in [
        (
            Protocol::Smtp,
            d.plain_smtp,
            "smtp",
            "EHLO",
            &["AUTH", "MAIL"][..],
        ),
        (
            Protocol::Imap,
            d.plain_imap,
            "imap",
            // The greeting carries the capabilities, so the client only says goodbye.
            "LOGOUT",
            &["LOGIN", "AUTHENTICATE"][..],
        ),
        (
            Protocol::Pop,
            d.plain_pop3,
            "pop3",
            "CAPA",
            &["USER", "PASS", "AUTH", "APOP"][..],
        ),
    ] {
        let before = d.plain_log(log).len();
        let e = endpoint(protocol, "127.0.0.1", port, Security::Starttls);
        let (outcome, steps) = run(&e, d.password(ALICE), &trusting(d)).await;
        assert_eq!(
            outcome.result,
            CheckResult::TlsError,
            "{protocol:?}: {outcome:?}"
        );
        assert!(
            outcome.detail.contains("does not offer STARTTLS")
                || outcome.detail.contains("does not offer STLS"),
            "{}",
            outcome.detail
        );
        assert!(outcome.detail.contains("did not send the password"));
        assert!(
            !stages(&steps).contains(&Stage::Authenticating),
            "{steps:?}"
        );
        // The listener got the client's questions and its goodbye, never a sign-in.
        let received: Vec<String> = d.plain_log(log)[before..].to_vec();
        assert!(
            received.iter().any(|v| v == asked),
            "{protocol:?}: {received:?}"
        );
        for verb in forbidden {
            assert!(
                !received.iter().any(|v| v == verb),
                "{protocol:?} sent {verb}: {received:?}"
            );
        }
    }
}

#[tokio::test]
async fn an_unknown_host_is_a_dns_error() {
    let e = endpoint(Protocol::Imap, "nonexistent.invalid", 993, Security::Tls);
    let (outcome, steps) = run(&e, UNUSED_PASSWORD, &CheckOptions::default()).await;
    assert_eq!(outcome.result, CheckResult::DnsError, "{outcome:?}");
    assert!(outcome.detail.contains("nonexistent.invalid"));
    assert_eq!(stages(&steps), vec![Stage::Resolving, Stage::Done]);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_per_step() {
    let d = dovecot();
    let opts = CheckOptions {
        ca_file: Some(d.ca_file.clone()),
        timeout: Duration::from_millis(700),
    };
    for (protocol, security, stage) in [
        (Protocol::Imap, Security::Starttls, "greeting"),
        (Protocol::Smtp, Security::Starttls, "greeting"),
        (Protocol::Pop, Security::Starttls, "greeting"),
        (Protocol::Imap, Security::Tls, "TLS handshake"),
    ] {
        let e = endpoint(protocol, "127.0.0.1", d.silent, security);
        let started = Instant::now();
        let (outcome, _) = run(&e, UNUSED_PASSWORD, &opts).await;
        assert_eq!(
            outcome.result,
            CheckResult::Timeout,
            "{protocol:?}: {outcome:?}"
        );
        assert!(outcome.detail.contains(stage), "{}", outcome.detail);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[tokio::test]
async fn an_unusable_ca_file_is_reported_as_such() {
    let d = dovecot();
    let dir = tempfile::tempdir().unwrap();
    let junk: PathBuf = dir.path().join("company-ca.pem");
    std::fs::write(&junk, "this is not PEM\n").unwrap();
    let opts = CheckOptions {
        ca_file: Some(junk.clone()),
        ..CheckOptions::default()
    };
    let e = endpoint(Protocol::Imap, &d.host, d.imaps, Security::Tls);
    let (outcome, steps) = run(&e, d.password(ALICE), &opts).await;
    assert_eq!(outcome.result, CheckResult::TlsError);
    assert!(outcome.detail.contains(&junk.display().to_string()));
    // Nothing was even looked up.
    assert_eq!(stages(&steps), vec![Stage::Done]);
}
