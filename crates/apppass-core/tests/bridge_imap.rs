//! The bridge's IMAP side end to end, real parts only: legacy clients (Python's imaplib, curl, and
//! raw IMAP where the exact bytes matter) → the bridge on 127.0.0.1 (`support::bridge`) → the
//! real Dovecot taking XOAUTH2 checked at the real test OpenID provider, with tokens from
//! apppass's own sign-in of ann. Passwords reach the clients on stdin or in a 0600 netrc file,
//! never in argv.

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use apppass_core::bridge::{Bridge, Listen, Status, TokenSource};
use apppass_core::catalog::Protocol;
use apppass_core::secret::Secret;
use apppass_core::Code;

use support::bridge::{deliver, start, Fixture, Imap, Options};
use support::dovecot::ANN;

const PYTHON_IMAP: &str = r#"
import imaplib, json, ssl, sys
host, port, user, mode, subject, cafile = sys.argv[1:7]
password = sys.stdin.readline().rstrip("\n")
out = {}
if mode == "tls":
    M = imaplib.IMAP4_SSL(host, int(port), ssl_context=ssl.create_default_context(cafile=cafile))
else:
    M = imaplib.IMAP4(host, int(port))
    out["plain_caps"] = sorted(M.capabilities)
    if mode == "starttls":
        M.starttls(ssl_context=ssl.create_default_context(cafile=cafile))
out["caps"] = sorted(M.capabilities)
try:
    typ, data = M.login(user, password)
except imaplib.IMAP4.error as e:
    out["login_error"] = str(e)
    print(json.dumps(out))
    sys.exit(0)
out["login"] = typ
typ, boxes = M.list()
out["list"] = [b.decode() for b in boxes]
M.select("INBOX")
typ, data = M.search(None, "SUBJECT", '"%s"' % subject)
ids = data[0].split()
out["found"] = len(ids)
if ids:
    typ, data = M.fetch(ids[-1], "(RFC822)")
    out["message"] = data[0][1].decode()
M.logout()
print(json.dumps(out))
"#;

/// Runs imaplib against the bridge; the password goes on stdin.
async fn python_imap(
    port: u16,
    user: &str,
    password: &Secret,
    mode: &str,
    subject: &str,
    cafile: &std::path::Path,
) -> serde_json::Value {
    let args: Vec<String> = vec![
        "-c".into(),
        PYTHON_IMAP.into(),
        "127.0.0.1".into(),
        port.to_string(),
        user.into(),
        mode.into(),
        subject.into(),
        cafile.display().to_string(),
    ];
    let input = format!("{}\n", password.expose());
    let output = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new("python3")
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "imaplib failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Runs curl with the user and password in a 0600 netrc file (not argv); returns (ok, stdout,
/// stderr).
async fn curl(user: &str, password: &Secret, url: &str, extra: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let netrc = dir.path().join("netrc");
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&netrc)
            .unwrap();
        writeln!(
            f,
            "machine 127.0.0.1\nlogin {user}\npassword {}",
            password.expose()
        )
        .unwrap();
    }
    let mut args: Vec<String> = vec![
        "-sS".into(),
        "--max-time".into(),
        "30".into(),
        "--netrc-file".into(),
        netrc.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(url.into());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(&args)
            .output()
            .expect("curl runs")
    })
    .await
    .unwrap();
    drop(dir);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn unique(what: &str) -> String {
    format!(
        "{what} {} {}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// Dovecot's log from byte `from` on.
fn dovecot_log_since(f: &Fixture, from: usize) -> String {
    let text = f.dovecot.log_text();
    text.get(from..).unwrap_or_default().to_string()
}

/// No secret of the fixture's clients is in Dovecot's log or the protocol log.
fn assert_no_local_password_leaked(f: &Fixture) {
    let dovecot = f.dovecot.log_text();
    let protocol = f.protocol_log_text();
    for c in &f.clients {
        assert!(
            !dovecot.contains(c.password.expose()),
            "a local password in Dovecot's log"
        );
        assert!(
            !protocol.contains(c.password.expose()),
            "a local password in the protocol log"
        );
    }
}

#[tokio::test]
async fn imaplib_and_curl_read_anns_mail_through_the_bridge() {
    let f = start(Options::default()).await;
    let subject = unique("bridge imaplib");
    deliver(
        f.dovecot,
        ANN,
        &subject,
        "Hello through the bridge.\nSecond line.",
    )
    .await;
    let c = f.client(0);
    let port = f.port(Protocol::Imap, false);

    // imaplib: LOGIN on the plain listener, LIST, SELECT, SEARCH, FETCH.
    let out = python_imap(
        port,
        &c.username,
        &c.password,
        "plain",
        &subject,
        &f.cert_file,
    )
    .await;
    assert_eq!(out["login"], "OK", "{out}");
    let caps: Vec<&str> = out["plain_caps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        caps,
        vec!["AUTH=PLAIN", "ID", "IMAP4REV1", "SASL-IR", "STARTTLS"],
        "before sign-in the bridge offers only what it does"
    );
    assert!(
        out["list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().ends_with("INBOX")),
        "{out}"
    );
    assert_eq!(out["found"], 1, "{out}");
    let message = out["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("Subject: {subject}")),
        "{message}"
    );
    assert!(message.contains("Hello through the bridge."), "{message}");

    // curl (AUTHENTICATE PLAIN with SASL-IR): the folder list, then the message by its number.
    let base = format!("imap://127.0.0.1:{port}/");
    let (ok, list, err) = curl(&c.username, &c.password, &base, &[]).await;
    assert!(ok, "curl LIST: {err}");
    assert!(list.contains("INBOX"), "{list}");
    let (ok, found, err) = curl(
        &c.username,
        &c.password,
        &format!("{base}INBOX"),
        &["-X", &format!("SEARCH SUBJECT \"{subject}\"")],
    )
    .await;
    assert!(ok, "curl SEARCH: {err}");
    let number = found
        .trim()
        .strip_prefix("* SEARCH ")
        .unwrap_or_else(|| panic!("{found}"))
        .to_string();
    let (ok, body, err) = curl(
        &c.username,
        &c.password,
        &format!("{base}INBOX;MAILINDEX={number}"),
        &[],
    )
    .await;
    assert!(ok, "curl FETCH: {err}");
    assert!(body.contains("Second line."), "{body}");
    // curl with STARTTLS required, trusting the exported certificate.
    let (ok, body, err) = curl(
        &c.username,
        &c.password,
        &format!("{base}INBOX;MAILINDEX={number}"),
        &["--ssl-reqd", "--cacert", &f.cert_file.display().to_string()],
    )
    .await;
    assert!(ok, "curl with STARTTLS: {err}");
    assert!(body.contains("Second line."), "{body}");

    // What the status saw, and what went to the logs.
    let snap = f.status.snapshot();
    assert!(snap.running);
    assert!(snap.counters.signed_in >= 5, "{snap:?}");
    assert_eq!(snap.counters.upstream_failures, 0, "{snap:?}");
    let log = f.protocol_log_text();
    assert!(log.contains(" LOGIN ***"), "{log}");
    assert!(log.contains("AUTHENTICATE PLAIN ***"), "{log}");
    assert!(log.contains("AUTHENTICATE XOAUTH2 ***"), "{log}");
    assert!(log.contains("Logged in"), "{log}");
    let token = f.signin.access_token_for(&["mail".into()]).await.unwrap();
    assert!(
        !log.contains(token.token.expose()),
        "a token in the protocol log"
    );
    assert!(
        !f.dovecot.log_text().contains(token.token.expose()),
        "a token in Dovecot's log"
    );
    assert_no_local_password_leaked(&f);
    f.running.unwrap().shutdown().await;
    assert!(!f.status.snapshot().running);
}

#[tokio::test]
async fn starttls_and_implicit_tls_with_the_exported_certificate() {
    let f = start(Options::default()).await;
    let subject = unique("bridge tls");
    deliver(f.dovecot, ANN, &subject, "Over TLS.").await;
    let c = f.client(1);

    // imaplib: STARTTLS on the plain listener, the certificate checked against the exported PEM.
    let plain = f.port(Protocol::Imap, false);
    let out = python_imap(
        plain,
        &c.username,
        &c.password,
        "starttls",
        &subject,
        &f.cert_file,
    )
    .await;
    assert_eq!(out["login"], "OK", "{out}");
    assert!(
        !out["caps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "STARTTLS"),
        "no STARTTLS offered once TLS is on: {out}"
    );
    assert_eq!(out["found"], 1, "{out}");

    // imaplib on the implicit-TLS listener.
    let tls = f.port(Protocol::Imap, true);
    let out = python_imap(tls, &c.username, &c.password, "tls", &subject, &f.cert_file).await;
    assert_eq!(out["login"], "OK", "{out}");
    assert!(out["message"].as_str().unwrap().contains("Over TLS."));

    // Raw: a command pipelined after STARTTLS in clear text is dropped, not run after the
    // handshake (RFC 3501 §6.2.1).
    let mut raw = Imap::plain(plain).await;
    raw.line().await.unwrap();
    raw.send("s1 STARTTLS\r\ns2 NOOP").await;
    let (status, _) = raw.until("s1").await;
    assert!(status.starts_with("OK"), "{status}");
    let inner = raw.io.into_inner();
    let stream =
        tokio_rustls::TlsConnector::from(support::bridge::tls_config_trusting(&f.cert_file))
            .connect(
                rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap(),
                inner,
            )
            .await
            .expect("TLS after STARTTLS with the exported certificate");
    let mut raw = Imap {
        io: tokio::io::BufReader::new(Box::new(stream)),
    };
    let (status, untagged) = raw.command("s3", "CAPABILITY").await;
    assert!(status.starts_with("OK"), "{status}");
    assert_eq!(
        untagged,
        vec!["* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN ID".to_string()],
        "s2 was dropped and STARTTLS is no longer offered"
    );
    let (status, _) = raw.command("s4", "STARTTLS").await;
    assert!(status.starts_with("BAD"), "{status}");
    // AUTHENTICATE PLAIN with a continuation instead of SASL-IR.
    raw.send("s5 AUTHENTICATE PLAIN").await;
    let go = raw.line().await.unwrap();
    assert_eq!(go, "+");
    let plain = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!(
            "\0{}\0{}",
            c.username,
            c.password.expose()
        ))
    };
    raw.send(&plain).await;
    let (status, _) = raw.until("s5").await;
    assert!(status.starts_with("OK [CAPABILITY "), "{status}");
    assert!(!status.contains("AUTH="), "{status}");
    let (status, _) = raw.command("s6", "SELECT INBOX").await;
    assert!(status.starts_with("OK"), "relayed to Dovecot: {status}");
    assert_no_local_password_leaked(&f);
}

#[tokio::test]
async fn upstream_starttls_then_xoauth2() {
    let f = start(Options {
        upstream_starttls: true,
        ..Options::default()
    })
    .await;
    let subject = unique("bridge upstream starttls");
    deliver(f.dovecot, ANN, &subject, "Via STARTTLS upstream.").await;
    let c = f.client(0);
    let mut imap = Imap::plain(f.port(Protocol::Imap, false)).await;
    let status = imap.login(&c.username, &c.password).await;
    assert!(status.starts_with("OK [CAPABILITY "), "{status}");
    assert!(!status.contains("STARTTLS"), "{status}");
    imap.command("a2", "SELECT INBOX").await;
    let (_, found) = imap
        .command("a3", &format!("SEARCH SUBJECT \"{subject}\""))
        .await;
    assert_eq!(found.len(), 1, "{found:?}");
    // The bridge asked Dovecot's plain port for STARTTLS before anything else.
    let log = f.protocol_log_text();
    let starttls = log
        .find("imap S< A1 STARTTLS")
        .expect("STARTTLS sent upstream");
    let auth = log
        .find("imap S< A3 AUTHENTICATE XOAUTH2 ***")
        .expect("XOAUTH2 sent");
    assert!(starttls < auth, "{log}");
    assert!(
        f.dovecot
            .log_text()
            .contains(&format!("Login: user=<{ANN}>, method=XOAUTH2")),
        "{}",
        f.dovecot.log_text()
    );
}

#[tokio::test]
async fn a_wrong_local_password_is_refused_delayed_audited_and_never_reaches_dovecot() {
    let f = start(Options {
        penalty_base: Duration::from_millis(400),
        ..Options::default()
    })
    .await;
    let c = f.client(0);
    let wrong = Secret::from("aaaaa-bbbbb-ccccc-ddddd-eeeee-fffff");
    let before = f.dovecot.log_text().len();
    let port = f.port(Protocol::Imap, false);

    let mut imap = Imap::plain(port).await;
    let started = Instant::now();
    let status = imap.login(&c.username, &wrong).await;
    let first = started.elapsed();
    assert_eq!(
        status,
        "NO [AUTHENTICATIONFAILED] Wrong user name or password for the apppass bridge."
    );
    let started = Instant::now();
    let (status, _) = imap
        .command(
            "l2",
            &format!("LOGIN \"{}\" \"{}\"", c.username, wrong.expose()),
        )
        .await;
    let second = started.elapsed();
    assert!(status.starts_with("NO [AUTHENTICATIONFAILED]"), "{status}");
    assert!(
        first < Duration::from_millis(400),
        "the first try is not delayed ({first:?})"
    );
    assert!(
        second >= Duration::from_millis(400),
        "the second wrong try waits the penalty ({second:?})"
    );
    // Cancelling AUTHENTICATE: BAD, and not counted as a wrong password.
    imap.send("l3 AUTHENTICATE PLAIN").await;
    assert_eq!(imap.line().await.unwrap(), "+");
    imap.send("*").await;
    let (status, _) = imap.until("l3").await;
    assert!(status.starts_with("BAD"), "{status}");
    // A command that needs a sign-in: refused by the bridge itself.
    let (status, _) = imap.command("l4", "SELECT INBOX").await;
    assert!(status.starts_with("BAD"), "{status}");

    // Dovecot heard nothing of it: no connection, no login attempt.
    let heard = dovecot_log_since(&f, before);
    assert!(
        !heard.contains("imap-login") && !heard.contains("auth"),
        "Dovecot's log since the wrong passwords:\n{heard}"
    );
    // The vault audited both, the status counted them with the user name tried.
    let audit = f.audit();
    assert_eq!(
        audit.matches("bridge_rejected").count(),
        2,
        "audit log:\n{audit}"
    );
    let snap = f.status.snapshot();
    assert_eq!(snap.counters.rejected, 2, "{snap:?}");
    assert_eq!(snap.errors[0].code, Code::AuthRejected);
    assert_eq!(snap.errors[0].client.as_deref(), Some(c.username.as_str()));

    // The right password still works on the same connection (after the penalty).
    let (status, _) = imap
        .command(
            "l5",
            &format!("LOGIN \"{}\" \"{}\"", c.username, c.password.expose()),
        )
        .await;
    assert!(status.starts_with("OK [CAPABILITY "), "{status}");
    let (status, _) = imap.command("l6", "SELECT INBOX").await;
    assert!(status.starts_with("OK"), "{status}");
    let log = f.dovecot.log_text();
    assert!(!log.contains(wrong.expose()));
    assert!(!f.protocol_log_text().contains(wrong.expose()));
    assert_no_local_password_leaked(&f);
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_transparently() {
    let f = start(Options::default()).await;
    let c = f.client(0);
    let port = f.port(Protocol::Imap, false);
    let mut imap = Imap::plain(port).await;
    let status = imap.login(&c.username, &c.password).await;
    assert!(status.starts_with("OK"), "{status}");
    drop(imap);
    let before = f
        .signin
        .access_token_for(&["mail".into()])
        .await
        .unwrap()
        .token;

    assert!(f.harness.expire_access_tokens().await >= 1);
    let log_before = f.dovecot.log_text().len();
    let mut imap = Imap::plain(port).await;
    let status = imap.login(&c.username, &c.password).await;
    assert!(
        status.starts_with("OK [CAPABILITY "),
        "{status}\n{:?}",
        f.status.snapshot()
    );
    let (status, _) = imap.command("a2", "SELECT INBOX").await;
    assert!(status.starts_with("OK"), "{status}");
    // Dovecot refused the old token once, then took a new one.
    let heard = dovecot_log_since(&f, log_before);
    assert!(
        heard.contains("oauth2 failed") && heard.contains("(auth failed, 1 attempts"),
        "the expired token was tried and refused first:\n{heard}"
    );
    assert_eq!(
        heard
            .matches(&format!("Login: user=<{ANN}>, method=XOAUTH2"))
            .count(),
        1,
        "then one sign-in with the refreshed token:\n{heard}"
    );
    let after = f
        .signin
        .access_token_for(&["mail".into()])
        .await
        .unwrap()
        .token;
    assert_ne!(after, before, "a new access token");
    let snap = f.status.snapshot();
    assert_eq!(snap.counters.upstream_failures, 0, "{snap:?}");
    assert!(!snap.signin_required);
}

#[tokio::test]
async fn a_revoked_grant_gives_the_client_no_and_the_app_sign_in_again() {
    let f = start(Options::default()).await;
    let c = f.client(0);
    let port = f.port(Protocol::Imap, true);
    let mut imap = Imap::tls(port, &f.cert_file).await;
    let status = imap.login(&c.username, &c.password).await;
    assert!(status.starts_with("OK"), "{status}");

    assert!(f.harness.revoke_grants(ANN).await >= 1);
    let mut imap = Imap::tls(port, &f.cert_file).await;
    let status = imap.login(&c.username, &c.password).await;
    assert!(
        status.starts_with("NO [UNAVAILABLE] apppass: the mail server refused the sign-in; open apppass and sign in again"),
        "{status}"
    );
    let snap = f.status.snapshot();
    assert!(snap.signin_required, "{snap:?}");
    assert_eq!(snap.errors[0].code, Code::SignInRequired, "{snap:?}");
    assert_eq!(snap.errors[0].client.as_deref(), Some(c.name.as_str()));
    assert_eq!(snap.counters.upstream_failures, 1);
    let account = f.signin.account().unwrap().unwrap();
    assert_eq!(
        account.state,
        apppass_core::signin::tokens::SessionState::SignInRequired
    );
    // The session stays usable for LOGOUT.
    let (status, untagged) = imap.command("a9", "LOGOUT").await;
    assert!(status.starts_with("OK"), "{status}");
    assert!(untagged[0].starts_with("* BYE"));
}

#[tokio::test]
async fn two_clients_at_once() {
    // With the protocol log off: the plain relay (copy_bidirectional), and no log file at all.
    let f = start(Options {
        protocol_log: false,
        ..Options::default()
    })
    .await;
    let subject = unique("bridge two");
    deliver(f.dovecot, ANN, &subject, "For both.").await;
    let port = f.port(Protocol::Imap, false);
    let session = |i: usize| {
        let c = f.client(i);
        let subject = subject.clone();
        async move {
            let mut imap = Imap::plain(port).await;
            let status = imap.login(&c.username, &c.password).await;
            assert!(status.starts_with("OK"), "{status}");
            let (status, _) = imap.command("a2", "SELECT INBOX").await;
            assert!(status.starts_with("OK"), "{status}");
            let (_, found) = imap
                .command("a3", &format!("SEARCH SUBJECT \"{subject}\""))
                .await;
            assert_eq!(found.len(), 1, "{found:?}");
            imap
        }
    };
    let (a, b) = tokio::join!(session(0), session(1));
    let snap = f.status.snapshot();
    let relaying: Vec<_> = snap
        .sessions
        .iter()
        .filter(|s| s.phase == apppass_core::bridge::status::SessionPhase::Relaying)
        .filter_map(|s| s.client.clone())
        .collect();
    assert_eq!(relaying.len(), 2, "{snap:?}");
    assert!(relaying.contains(&f.client(0).name) && relaying.contains(&f.client(1).name));
    drop((a, b));
    f.wait_status("both sessions closed", |s| s.sessions.is_empty())
        .await;
    assert!(!f.protocol_log.exists(), "no protocol log unless asked for");
}

#[tokio::test]
async fn a_client_that_drops_mid_fetch_does_not_break_the_bridge() {
    let f = start(Options::default()).await;
    let subject = unique("bridge big");
    let line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n";
    deliver(f.dovecot, ANN, &subject, &line.repeat(60_000)).await;
    let port = f.port(Protocol::Imap, false);
    let c = f.client(0);

    let mut imap = Imap::plain(port).await;
    let status = imap.login(&c.username, &c.password).await;
    assert!(status.starts_with("OK"), "{status}");
    imap.command("a2", "SELECT INBOX").await;
    let (_, found) = imap
        .command("a3", &format!("SEARCH SUBJECT \"{subject}\""))
        .await;
    let number = found[0].strip_prefix("* SEARCH ").unwrap().to_string();
    imap.send(&format!("a4 FETCH {number} BODY[]")).await;
    let first = imap.line().await.unwrap();
    assert!(first.contains("FETCH"), "{first}");
    drop(imap);
    f.wait_status("the dropped session ended", |s| s.sessions.is_empty())
        .await;

    let mut imap = Imap::plain(port).await;
    let status = imap.login(&c.username, &c.password).await;
    assert!(status.starts_with("OK"), "{status}");
    imap.command("b2", "SELECT INBOX").await;
    let (status, lines) = imap
        .command("b3", &format!("FETCH {number} (RFC822.SIZE)"))
        .await;
    assert!(status.starts_with("OK"), "{status}");
    assert!(lines[0].contains("RFC822.SIZE"), "{lines:?}");
    let (status, _) = imap.command("b4", "NOOP").await;
    assert!(status.starts_with("OK"), "{status}");
}

#[tokio::test]
async fn an_untrusted_upstream_certificate_is_refused() {
    let f = start(Options {
        trust_dovecot: false,
        ..Options::default()
    })
    .await;
    let c = f.client(0);
    let mut imap = Imap::plain(f.port(Protocol::Imap, false)).await;
    let status = imap.login(&c.username, &c.password).await;
    assert!(
        status.starts_with("NO [UNAVAILABLE] apppass cannot sign in to the mail server"),
        "{status}"
    );
    assert!(status.contains("certificate"), "{status}");
    let snap = f.status.snapshot();
    assert_eq!(snap.errors[0].code, Code::TlsFailure, "{snap:?}");
    assert!(!snap.signin_required);
}

#[tokio::test]
async fn listeners_are_on_loopback_a_taken_port_is_named_and_shutdown_stops_them() {
    let f = start(Options::default()).await;
    let running = f.running.as_ref().unwrap();
    let listeners = running.listeners();
    assert_eq!(listeners.len(), 6, "{listeners:?}");
    assert!(listeners
        .iter()
        .all(|l| l.address == "127.0.0.1" && l.port != 0));
    assert_eq!(f.status.snapshot().listeners, listeners);

    // Another bridge on the same IMAP port: refused, naming the port and the setting.
    let taken = f.port(Protocol::Imap, false);
    let mut config = apppass_core::bridge::BridgeConfig {
        imap: Some(apppass_core::vault::Server {
            host: f.dovecot.host.clone(),
            port: f.dovecot.imaps,
            security: apppass_core::vault::Security::Tls,
        }),
        pop: None,
        smtp: None,
        scopes: vec!["mail".into()],
        listen: Listen::ephemeral(),
        ca_file: None,
        penalty_base: Duration::from_millis(10),
        penalty_max: Duration::from_secs(1),
        protocol_log: None,
        upstream_timeout: Duration::from_secs(5),
    };
    config.listen.imap = Some(taken);
    struct NoTokens;
    impl TokenSource for NoTokens {
        fn token(
            &self,
            _fresh: bool,
        ) -> apppass_core::bridge::tokens::BoxFuture<
            '_,
            Result<apppass_core::bridge::UpstreamToken, apppass_core::Failure>,
        > {
            Box::pin(async { Err(apppass_core::Failure::new(Code::SignInRequired, "test")) })
        }
    }
    struct NoBook;
    impl apppass_core::bridge::ClientBook for NoBook {
        fn verify(
            &self,
            _: &str,
            _: &Secret,
        ) -> Result<Option<apppass_core::bridge::BridgeClient>, apppass_core::Failure> {
            Ok(None)
        }
    }
    let cert = apppass_core::bridge::LocalCert::generate().unwrap();
    let e = Bridge::start(
        config,
        std::sync::Arc::new(NoBook),
        std::sync::Arc::new(NoTokens),
        std::sync::Arc::new(Status::default()),
        &cert,
    )
    .await
    .err()
    .expect("the port is taken");
    assert_eq!(e.code, Code::InvalidInput);
    assert!(
        e.message.contains(&format!("Port {taken}")),
        "{}",
        e.message
    );
    assert!(e.message.contains("[bridge.listen] imap"), "{}", e.message);

    // A session open at shutdown ends; the port no longer answers.
    let c = f.client(0);
    let mut imap = Imap::plain(taken).await;
    let status = imap.login(&c.username, &c.password).await;
    assert!(status.starts_with("OK"), "{status}");
    let mut f = f;
    f.running.take().unwrap().shutdown().await;
    let snap = f.status.snapshot();
    assert!(!snap.running && snap.sessions.is_empty() && snap.listeners.is_empty());
    assert!(imap.line().await.is_none(), "the session was closed");
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", taken))
        .await
        .is_err());
}
