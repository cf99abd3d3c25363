//! The bridge's SMTP and POP3 sides end to end (issue 5), all parts real: the bridge on
//! 127.0.0.1 with its own certificate, bridge clients in a real vault, apppass's real sign-in at
//! the test OpenID provider, and the test Dovecot that checks each XOAUTH2 token at the
//! provider's introspection endpoint. Legacy clients: Debian's msmtp (password through
//! `passwordeval` from a 0600 file), Python's smtplib and poplib (password on stdin), curl
//! (`--netrc-file`, 0600). No password or token is ever in argv.
//!
//! Mail goes through the bridge from ann (the OAuth user) to bob, and is then found in bob's
//! INBOX read directly from Dovecot with bob's harness password.

mod support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use apppass_core::bridge::cert::LocalCert;
use apppass_core::bridge::{
    clients, Bridge, BridgeConfig, BridgeSettings, Listen, Running, SignInTokens, Status, VaultBook,
};
use apppass_core::catalog::Protocol;
use apppass_core::secret::Secret;
use apppass_core::vault::store::SecretStore;
use apppass_core::vault::{Security, Server, Vault};

use support::dovecot::{dovecot_oauth2, Dovecot, ANN, BOB};
use support::memory::Memory;
use support::oidc::{self, harness, Harness};

/// The provider's grants and tokens are shared by the tests of this binary (revoking ann's
/// grants would end the others' sign-ins): one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---- the world: provider, Dovecot, sign-in, vault, bridge ----------------------------------------

struct World {
    h: &'static Harness,
    d: &'static Dovecot,
    bridge: Running,
    status: Arc<Status>,
    /// A bridge client: its local user name and password.
    user: String,
    password: Secret,
    /// Files for the clients (the bridge's certificate, 0600 password files).
    dir: tempfile::TempDir,
    cert: PathBuf,
    /// The sign-in's store and profile directory.
    _signin: (Arc<dyn SecretStore>, tempfile::TempDir),
    _vault_dir: tempfile::TempDir,
}

impl World {
    async fn new(smtp: Security, pop: Security) -> World {
        let h = harness();
        let d = dovecot_oauth2(&h.introspection.as_json());
        let ann = oidc::sign_in(&h.issuer, &["mail"], Arc::new(Memory::default())).await;
        let oidc::SignedIn {
            signin,
            store,
            dir: profile_dir,
        } = ann;
        let tokens = Arc::new(SignInTokens::new(
            Arc::new(signin),
            vec!["mail".to_string()],
        ));

        let vault_dir = tempfile::tempdir().unwrap();
        let profile = apppass_core::profile::Profile::isolated(vault_dir.path()).unwrap();
        let vault = Vault::open(
            profile,
            Box::new(Memory::default()),
            Arc::new(apppass_core::clock::SystemClock),
            "test",
        )
        .unwrap();
        let (entry, password) = clients::add(
            &vault,
            &BridgeSettings::default(),
            "msmtp on laptop",
            "msmtp",
        )
        .unwrap();

        let server = |port, security| Server {
            host: "127.0.0.1".into(),
            port,
            security,
        };
        let config = BridgeConfig {
            imap: None,
            smtp: Some(match smtp {
                Security::Tls => server(d.submissions, Security::Tls),
                Security::Starttls => server(d.submission, Security::Starttls),
            }),
            pop: Some(match pop {
                Security::Tls => server(d.pop3s, Security::Tls),
                Security::Starttls => server(d.pop3, Security::Starttls),
            }),
            scopes: vec!["mail".into()],
            listen: Listen::ephemeral(),
            ca_file: Some(d.ca_file.clone()),
            penalty_base: Duration::from_millis(10),
            penalty_max: Duration::from_millis(100),
            protocol_log: None,
            upstream_timeout: Duration::from_secs(10),
        };
        let status = Arc::new(Status::default());
        let cert = LocalCert::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cert_path = dir.path().join("bridge.pem");
        std::fs::write(&cert_path, &cert.cert_pem).unwrap();
        let bridge = Bridge::start(
            config,
            Arc::new(VaultBook::new(vault)),
            tokens,
            status.clone(),
            &cert,
        )
        .await
        .unwrap();
        World {
            h,
            d,
            bridge,
            status,
            user: entry.account,
            password,
            dir,
            cert: cert_path,
            _signin: (store, profile_dir),
            _vault_dir: vault_dir,
        }
    }

    fn port(&self, protocol: Protocol, implicit_tls: bool) -> u16 {
        self.bridge.port(protocol, implicit_tls).unwrap()
    }

    /// A file only the owner can read, holding `text`.
    fn secret_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        let mut f = std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)
            .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        path
    }

    fn fail(&self, what: &str) -> String {
        format!(
            "{what}\nbridge status: {:?}\nDovecot's log (tail):\n{}",
            self.status.snapshot(),
            tail(&self.d.log_text(), 30)
        )
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn subject(what: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "bridge {what} {}-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// Runs a program with `stdin` as its input (never a secret in argv); (status, stdout, stderr).
fn run(program: &str, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e} (run scripts/setup.sh --test)"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn run_async(
    program: &'static str,
    args: Vec<String>,
    stdin: String,
) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(program, &args, &stdin)
    })
    .await
    .unwrap()
}

/// Python with the script as an argument and the secrets on stdin (one per line).
async fn python(script: &str, args: &[String], stdin: &str) -> (bool, String, String) {
    let mut all = vec!["-c".to_string(), script.to_string()];
    all.extend(args.iter().cloned());
    run_async("python3", all, stdin.to_string()).await
}

/// Whether bob's INBOX holds a message with this subject, read directly from Dovecot (IMAPS, the
/// harness's CA, bob's harness password on stdin); waits up to 15 s for the delivery.
async fn in_bobs_inbox(d: &Dovecot, subject: &str) -> bool {
    const SCRIPT: &str = r#"
import imaplib, ssl, sys
host, port, ca, user, subject = sys.argv[1:6]
password = sys.stdin.readline().rstrip("\n")
ctx = ssl.create_default_context(cafile=ca)
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)
m.login(user, password)
m.select("INBOX", readonly=True)
typ, data = m.search(None, "SUBJECT", '"%s"' % subject)
print(len(data[0].split()))
m.logout()
"#;
    for _ in 0..30 {
        let (ok, out, err) = python(
            SCRIPT,
            &[
                d.host.clone(),
                d.imaps.to_string(),
                d.ca_file.display().to_string(),
                BOB.to_string(),
                subject.to_string(),
            ],
            &format!("{}\n", d.password(BOB)),
        )
        .await;
        assert!(ok, "reading bob's INBOX: {err}");
        if out.trim() != "0" {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

fn message(subject: &str) -> String {
    format!(
        "From: <{ANN}>\r\nTo: <{BOB}>\r\nSubject: {subject}\r\nMessage-ID: <{}@bridge.test>\r\n\r\nSent through the apppass bridge.\r\n",
        subject.replace(' ', ".")
    )
}

/// msmtp sends one message through the bridge; (ok, stderr).
async fn msmtp(
    w: &World,
    auth: &str,
    implicit_tls: bool,
    password: &str,
    subject: &str,
) -> (bool, String) {
    let port = w.port(Protocol::Smtp, implicit_tls);
    let pass_file = w.secret_file(
        &format!(
            "msmtp-pass-{auth}-{implicit_tls}-{}",
            subject.len() + port as usize
        ),
        password,
    );
    let conf = w.secret_file(
        &format!("msmtprc-{auth}-{implicit_tls}-{}", subject.len() + port as usize),
        &format!(
            "account bridge\nhost 127.0.0.1\nport {port}\nfrom {ANN}\nauth {auth}\nuser {}\npasswordeval \"cat {}\"\ntls on\ntls_starttls {}\ntls_trust_file {}\nlogfile -\n",
            w.user,
            pass_file.display(),
            if implicit_tls { "off" } else { "on" },
            w.cert.display()
        ),
    );
    let (ok, _out, err) = run_async(
        "msmtp",
        vec![
            "-C".into(),
            conf.display().to_string(),
            "-a".into(),
            "bridge".into(),
            BOB.into(),
        ],
        message(subject),
    )
    .await;
    (ok, err)
}

const SMTPLIB: &str = r#"
import smtplib, ssl, sys, json
host, port, ca, mode, mech, user, sender, rcpt, subject = sys.argv[1:10]
password = sys.stdin.readline().rstrip("\n")
ctx = ssl.create_default_context(cafile=ca)
if mode == "tls":
    s = smtplib.SMTP_SSL(host, int(port), context=ctx, timeout=30)
    s.ehlo("python.example.test")
else:
    s = smtplib.SMTP(host, int(port), timeout=30)
    s.ehlo("python.example.test")
    s.starttls(context=ctx)
    s.ehlo("python.example.test")
s.user, s.password = user, password
result = {"ehlo": s.ehlo_resp.decode()}
try:
    if mech == "LOGIN-IR":
        code, text = s.auth("LOGIN", s.auth_login, initial_response_ok=True)
    elif mech == "LOGIN":
        code, text = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
    else:
        code, text = s.auth("PLAIN", s.auth_plain, initial_response_ok=(mech == "PLAIN-IR"))
    result["auth"] = [code, text.decode()]
except smtplib.SMTPAuthenticationError as e:
    result["auth"] = [e.smtp_code, e.smtp_error.decode()]
    print(json.dumps(result)); s.quit(); sys.exit(0)
msg = "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\nhello from smtplib\r\n" % (sender, rcpt, subject)
s.sendmail(sender, [rcpt], msg)
s.quit()
result["sent"] = True
print(json.dumps(result))
"#;

/// smtplib through the bridge: the EHLO text, the AUTH reply, and whether the mail was sent.
async fn smtplib(
    w: &World,
    implicit_tls: bool,
    mech: &str,
    password: &str,
    subject: &str,
) -> serde_json::Value {
    let (ok, out, err) = python(
        SMTPLIB,
        &[
            "127.0.0.1".into(),
            w.port(Protocol::Smtp, implicit_tls).to_string(),
            w.cert.display().to_string(),
            if implicit_tls { "tls" } else { "starttls" }.into(),
            mech.into(),
            w.user.clone(),
            ANN.into(),
            BOB.into(),
            subject.into(),
        ],
        &format!("{password}\n"),
    )
    .await;
    assert!(ok, "{}", w.fail(&format!("smtplib failed: {err}")));
    serde_json::from_str(out.trim()).unwrap()
}

fn submission_logins(d: &Dovecot) -> usize {
    d.log_text()
        .lines()
        .filter(|l| l.contains("submission-login"))
        .count()
}

fn pop3_logins(d: &Dovecot) -> usize {
    d.log_text()
        .lines()
        .filter(|l| l.contains("pop3-login"))
        .count()
}

// ---- SMTP ---------------------------------------------------------------------------------------

#[tokio::test]
async fn msmtp_and_curl_send_through_the_bridge_with_starttls_and_implicit_tls() {
    let _serial = SERIAL.lock().await;
    let w = World::new(Security::Starttls, Security::Tls).await;
    let password = w.password.expose().to_string();
    for (auth, implicit_tls) in [("plain", false), ("login", true)] {
        let subject = subject(&format!("msmtp {auth}"));
        let (ok, err) = msmtp(&w, auth, implicit_tls, &password, &subject).await;
        assert!(ok, "{}", w.fail(&format!("msmtp auth {auth}: {err}")));
        assert!(
            in_bobs_inbox(w.d, &subject).await,
            "{}",
            w.fail(&format!("{subject} not in bob's INBOX"))
        );
    }

    // curl as the legacy client too: SMTP with user:password (from a 0600 netrc file), STARTTLS
    // required on the bridge's plain port, trusting the bridge's certificate.
    let subject = subject("curl smtp");
    let netrc = w.secret_file(
        "netrc-smtp",
        &format!("machine 127.0.0.1 login {} password {password}\n", w.user),
    );
    let (ok, _, err) = run_async(
        "curl",
        vec![
            "--silent".into(),
            "--show-error".into(),
            "--max-time".into(),
            "30".into(),
            "--ssl-reqd".into(),
            "--netrc-file".into(),
            netrc.display().to_string(),
            "--cacert".into(),
            w.cert.display().to_string(),
            "--mail-from".into(),
            ANN.into(),
            "--mail-rcpt".into(),
            BOB.into(),
            "--upload-file".into(),
            "-".into(),
            format!("smtp://127.0.0.1:{}/", w.port(Protocol::Smtp, false)),
        ],
        message(&subject),
    )
    .await;
    assert!(ok, "{}", w.fail(&format!("curl smtp: {err}")));
    assert!(
        in_bobs_inbox(w.d, &subject).await,
        "{}",
        w.fail(&format!("{subject} (curl) not in bob's INBOX"))
    );

    let snap = w.status.snapshot();
    assert_eq!(snap.counters.signed_in, 3, "{snap:?}");
    assert_eq!(snap.counters.upstream_failures, 0, "{snap:?}");
    assert!(!snap.signin_required);
}

#[tokio::test]
async fn smtplib_plain_and_login_with_and_without_initial_response() {
    let _serial = SERIAL.lock().await;
    // The upstream over implicit TLS this time.
    let w = World::new(Security::Tls, Security::Tls).await;
    let password = w.password.expose().to_string();
    for (implicit_tls, mech) in [
        (false, "PLAIN-IR"),
        (false, "PLAIN"),
        (true, "LOGIN"),
        (true, "LOGIN-IR"),
    ] {
        let subject = subject(&format!("smtplib {mech}"));
        let r = smtplib(&w, implicit_tls, mech, &password, &subject).await;
        assert_eq!(r["auth"][0], 235, "{}", w.fail(&format!("{mech}: {r}")));
        assert_eq!(r["sent"], true, "{r}");
        let ehlo = r["ehlo"].as_str().unwrap();
        assert!(ehlo.contains("AUTH PLAIN LOGIN"), "{ehlo}");
        assert!(ehlo.contains("ENHANCEDSTATUSCODES"), "{ehlo}");
        // Over TLS (STARTTLS done, or implicit) STARTTLS is no longer offered.
        assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
        assert!(!ehlo.contains("PIPELINING"), "not offered: {ehlo}");
        assert!(
            in_bobs_inbox(w.d, &subject).await,
            "{}",
            w.fail(&format!("{subject} not in bob's INBOX"))
        );
    }
}

#[tokio::test]
async fn a_wrong_local_password_gets_535_and_never_reaches_the_server() {
    let _serial = SERIAL.lock().await;
    let w = World::new(Security::Starttls, Security::Starttls).await;
    let before = submission_logins(w.d);
    let pop_before = pop3_logins(w.d);
    let wrong = format!("{}x", w.password.expose());
    let subject = subject("wrong password");
    let r = smtplib(&w, true, "PLAIN-IR", &wrong, &subject).await;
    assert_eq!(r["auth"][0], 535, "{r}");
    assert!(
        r["auth"][1]
            .as_str()
            .unwrap()
            .contains("5.7.8 Authentication credentials invalid"),
        "{r}"
    );
    let r = smtplib(&w, false, "LOGIN", &wrong, &subject).await;
    assert_eq!(r["auth"][0], 535, "{r}");
    // msmtp too, and POP3.
    let (ok, err) = msmtp(&w, "plain", false, &wrong, &subject).await;
    assert!(!ok && err.contains("535"), "{err}");
    let (ok, out, _) = pop(&w, false, "USER", &wrong).await;
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("-ERR [AUTH] Wrong user name or password for the apppass bridge"),
        "{v}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        submission_logins(w.d),
        before,
        "{}",
        w.fail("Dovecot saw a submission connection")
    );
    assert_eq!(
        pop3_logins(w.d),
        pop_before,
        "{}",
        w.fail("Dovecot saw a POP3 connection")
    );
    let snap = w.status.snapshot();
    assert_eq!(snap.counters.rejected, 4, "{snap:?}");
    assert_eq!(snap.counters.signed_in, 0, "{snap:?}");
    assert_eq!(snap.counters.upstream_failures, 0, "{snap:?}");
    assert!(!in_bobs_inbox_now(w.d, &subject).await);

    // The log does show the bridge's upstream sign-ins: the right password adds lines to both.
    let r = smtplib(&w, true, "PLAIN-IR", w.password.expose(), &subject).await;
    assert_eq!(r["auth"][0], 235, "{}", w.fail(&r.to_string()));
    let (_, out, _) = pop(&w, true, "USER", w.password.expose()).await;
    assert!(out.contains("\"stat\""), "{}", w.fail(&out));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        submission_logins(w.d) > before,
        "{}",
        w.fail("no submission line")
    );
    assert!(pop3_logins(w.d) > pop_before, "{}", w.fail("no pop3 line"));
}

async fn in_bobs_inbox_now(d: &Dovecot, subject: &str) -> bool {
    // A single look (the message was never accepted, so there is nothing to wait for).
    const SCRIPT: &str = r#"
import imaplib, ssl, sys
host, port, ca, user, subject = sys.argv[1:6]
password = sys.stdin.readline().rstrip("\n")
m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ssl.create_default_context(cafile=ca))
m.login(user, password)
m.select("INBOX", readonly=True)
typ, data = m.search(None, "SUBJECT", '"%s"' % subject)
print(len(data[0].split()))
"#;
    let (ok, out, err) = python(
        SCRIPT,
        &[
            d.host.clone(),
            d.imaps.to_string(),
            d.ca_file.display().to_string(),
            BOB.to_string(),
            subject.to_string(),
        ],
        &format!("{}\n", d.password(BOB)),
    )
    .await;
    assert!(ok, "{err}");
    out.trim() != "0"
}

// ---- POP3 ---------------------------------------------------------------------------------------

const POPLIB: &str = r#"
import poplib, ssl, sys, json, base64
host, port, ca, mode, mech, user = sys.argv[1:7]
password = sys.stdin.readline().rstrip("\n")
ctx = ssl.create_default_context(cafile=ca)
if mode == "tls":
    p = poplib.POP3_SSL(host, int(port), context=ctx, timeout=30)
else:
    p = poplib.POP3(host, int(port), timeout=30)
result = {"capa": sorted(p.capa().keys())}
if mode != "tls":
    p.stls(context=ctx)
    result["capa_tls"] = sorted(p.capa().keys())
try:
    if mech == "USER":
        p.user(user)
        result["auth"] = p.pass_(password).decode()
    else:
        msg = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
        result["auth"] = p._shortcmd("AUTH PLAIN " + msg).decode()
except poplib.error_proto as e:
    result["error"] = e.args[0].decode()
    print(json.dumps(result)); sys.exit(0)
count, size = p.stat()
result["stat"] = [count, size]
result["uidl"] = len(p.uidl()[1])
p.quit()
print(json.dumps(result))
"#;

async fn pop(w: &World, implicit_tls: bool, mech: &str, password: &str) -> (bool, String, String) {
    python(
        POPLIB,
        &[
            "127.0.0.1".into(),
            w.port(Protocol::Pop, implicit_tls).to_string(),
            w.cert.display().to_string(),
            if implicit_tls { "tls" } else { "stls" }.into(),
            mech.into(),
            w.user.clone(),
        ],
        &format!("{password}\n"),
    )
    .await
}

/// Puts a message into ann's mailbox through the bridge's SMTP, so that her POP3 has something.
async fn mail_to_ann(w: &World) {
    const SCRIPT: &str = r#"
import smtplib, ssl, sys
host, port, ca, user, ann, subject = sys.argv[1:7]
password = sys.stdin.readline().rstrip("\n")
s = smtplib.SMTP_SSL(host, int(port), context=ssl.create_default_context(cafile=ca), timeout=30)
s.login(user, password)
s.sendmail(ann, [ann], "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\nfor POP3\r\n" % (ann, ann, subject))
s.quit()
"#;
    let (ok, _, err) = python(
        SCRIPT,
        &[
            "127.0.0.1".into(),
            w.port(Protocol::Smtp, true).to_string(),
            w.cert.display().to_string(),
            w.user.clone(),
            ANN.into(),
            subject("for pop3"),
        ],
        &format!("{}\n", w.password.expose()),
    )
    .await;
    assert!(ok, "{}", w.fail(&format!("sending to ann: {err}")));
}

#[tokio::test]
async fn poplib_and_curl_list_anns_messages_through_the_bridge() {
    let _serial = SERIAL.lock().await;
    let w = World::new(Security::Tls, Security::Starttls).await;
    mail_to_ann(&w).await;
    let password = w.password.expose().to_string();
    let mut counts = Vec::new();
    for (implicit_tls, mech) in [(false, "USER"), (true, "AUTH-PLAIN"), (true, "USER")] {
        let (ok, out, err) = pop(&w, implicit_tls, mech, &password).await;
        assert!(ok, "{}", w.fail(&format!("poplib {mech}: {err}")));
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert!(
            v.get("error").is_none(),
            "{}",
            w.fail(&format!("{mech}: {v}"))
        );
        assert!(v["auth"].as_str().unwrap().starts_with("+OK"), "{v}");
        let count = v["stat"][0].as_u64().unwrap();
        assert!(count >= 1, "ann's mailbox has the message sent to her: {v}");
        assert_eq!(v["uidl"].as_u64().unwrap(), count, "{v}");
        counts.push(count);
        let capa: Vec<&str> = v["capa"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert!(capa.contains(&"USER") && capa.contains(&"SASL"), "{v}");
        assert_eq!(
            capa.contains(&"STLS"),
            !implicit_tls,
            "STLS only on plain: {v}"
        );
        if !implicit_tls {
            let after: Vec<&str> = v["capa_tls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            assert!(!after.contains(&"STLS"), "{v}");
        }
    }

    // curl lists the same messages over POP3S (the password from a 0600 netrc file).
    let netrc = w.secret_file(
        "netrc",
        &format!("machine 127.0.0.1 login {} password {password}\n", w.user),
    );
    let (ok, out, err) = run_async(
        "curl",
        vec![
            "--silent".into(),
            "--show-error".into(),
            "--max-time".into(),
            "30".into(),
            "--netrc-file".into(),
            netrc.display().to_string(),
            "--cacert".into(),
            w.cert.display().to_string(),
            format!("pop3s://127.0.0.1:{}/", w.port(Protocol::Pop, true)),
        ],
        String::new(),
    )
    .await;
    assert!(ok, "{}", w.fail(&format!("curl: {err}")));
    let listed = out.lines().filter(|l| !l.trim().is_empty()).count() as u64;
    assert_eq!(listed, *counts.last().unwrap(), "curl's LIST: {out}");
    assert_eq!(w.status.snapshot().counters.upstream_failures, 0);
}

// ---- expired and revoked upstream sign-in ----------------------------------------------------------

#[tokio::test]
async fn an_expired_token_is_refreshed_and_a_revoked_grant_asks_to_sign_in_again() {
    let _serial = SERIAL.lock().await;
    let w = World::new(Security::Starttls, Security::Tls).await;
    let password = w.password.expose().to_string();

    // Works, then the provider expires every access token: the bridge's cached one is refused
    // by Dovecot, refreshed, and the retry goes through — the client sees nothing of it.
    let r = smtplib(&w, true, "PLAIN-IR", &password, &subject("before expiry")).await;
    assert_eq!(r["auth"][0], 235, "{}", w.fail(&r.to_string()));
    assert!(w.h.expire_access_tokens().await >= 1);
    let subject_after = subject("after expiry");
    let r = smtplib(&w, true, "PLAIN-IR", &password, &subject_after).await;
    assert_eq!(r["auth"][0], 235, "{}", w.fail(&r.to_string()));
    assert!(
        in_bobs_inbox(w.d, &subject_after).await,
        "{}",
        w.fail("after expiry")
    );
    assert!(w.h.expire_access_tokens().await >= 1);
    let (_, out, _) = pop(&w, true, "USER", &password).await;
    assert!(out.contains("\"stat\""), "{}", w.fail(&out));
    assert_eq!(w.status.snapshot().counters.upstream_failures, 0);
    assert!(!w.status.snapshot().signin_required);

    // The grant is revoked: the token is refused and cannot be refreshed. The SMTP client gets a
    // clean 535 saying to sign in again (POP3 a temporary -ERR), the status says "sign in again".
    assert!(w.h.revoke_grants(ANN).await >= 1);
    let r = smtplib(&w, false, "LOGIN", &password, &subject("revoked")).await;
    assert_eq!(r["auth"][0], 535, "{}", w.fail(&r.to_string()));
    assert!(
        r["auth"][1].as_str().unwrap().contains("sign in again"),
        "{r}"
    );
    let snap = w.status.snapshot();
    assert!(snap.signin_required, "{snap:?}");
    assert_eq!(
        snap.errors[0].code,
        apppass_core::Code::SignInRequired,
        "{snap:?}"
    );
    assert_eq!(snap.errors[0].protocol, Protocol::Smtp, "{snap:?}");
    let (_, out, _) = pop(&w, false, "AUTH-PLAIN", &password).await;
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let error = v["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("-ERR [SYS/TEMP]") && error.contains("sign in again"),
        "{v}"
    );
    let (ok, err) = msmtp(&w, "plain", true, &password, &subject("revoked msmtp")).await;
    assert!(!ok && err.contains("535"), "{err}");
}
