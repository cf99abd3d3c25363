//! `apppass test` and a real legacy mail client (msmtp with `passwordeval "apppass get NAME"`)
//! against a REAL Dovecot (`tests/harness/dovecot`, started by these tests on 127.0.0.1), with the
//! passwords in a real Secret Service. Run inside `scripts/with-keyring.sh` (scripts/test.sh does);
//! with APPPASS_REQUIRE_KEYRING=1 a missing keyring fails these tests, otherwise they are skipped.

#![cfg(target_os = "linux")]

mod common;
#[path = "../../apppass-core/tests/support/dovecot.rs"]
mod dovecot;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::*;
use dovecot::{dovecot, Dovecot, ALICE, BOB};

const CONNECTION_TEST_FAILED: i32 = 19;
const INVALID_INPUT: i32 = 7;

/// A custom entry for alice at the test Dovecot: IMAP over TLS, SMTP submission with STARTTLS,
/// POP3 with STARTTLS.
fn add_alice(h: &Home, d: &Dovecot, name: &str, password: &str) {
    let (imaps, submission, pop3) = (
        d.imaps.to_string(),
        d.submission.to_string(),
        d.pop3.to_string(),
    );
    h.cmd([
        "add",
        name,
        "--provider",
        "custom",
        "--account",
        ALICE,
        "--client",
        "msmtp",
        "--imap-host",
        &d.host,
        "--imap-port",
        &imaps,
        "--imap-security",
        "tls",
        "--smtp-host",
        &d.host,
        "--smtp-port",
        &submission,
        "--smtp-security",
        "starttls",
        "--pop-host",
        &d.host,
        "--pop-port",
        &pop3,
        "--pop-security",
        "starttls",
    ])
    .write_stdin(password)
    .assert()
    .success();
}

fn test_json(h: &Home, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = h
        .cmd([&["test"][..], args, &["--json"][..]].concat())
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("--json output is JSON ({e}): {}", text(&out.stdout)));
    (out.status.code(), v, text(&out.stderr))
}

fn audit_tested(h: &Home) -> Vec<String> {
    let out = h.cmd(["audit", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "added")
        .map(|r| {
            format!(
                "{} {}",
                r["action"].as_str().unwrap(),
                r["outcome"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn test_signs_in_to_every_server_and_reports_steps_results_and_json() {
    if !keyring("test_signs_in_to_every_server_and_reports_steps_results_and_json") {
        return;
    }
    let d = dovecot();
    let h = Home::new();
    add_alice(&h, d, "work", d.password(ALICE));
    let ca = d.ca_file.to_str().unwrap();

    let out = h.cmd(["test", "work", "--ca-file", ca]).output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for (line, proto) in lines.iter().zip(["imap", "smtp", "pop"]) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&words[..2], &[proto, "ok"], "{line}");
    }
    // The steps, as they ran, on stderr.
    for step in [
        format!("imap: Connecting to 127.0.0.1 port {}", d.imaps),
        format!("imap: TLS handshake with 127.0.0.1 port {}", d.imaps),
        "smtp: Asking 127.0.0.1 for STARTTLS".to_string(),
        format!("smtp: Signing in as {ALICE}"),
        "pop: Asking 127.0.0.1 for STLS".to_string(),
    ] {
        assert!(stderr.contains(&step), "no {step:?} in:\n{stderr}");
    }
    assert!(!stdout.contains(d.password(ALICE)) && !stderr.contains(d.password(ALICE)));

    // --json: one array, one object per protocol, nothing on stderr.
    let (status, v, stderr) = test_json(&h, &["work", "--ca-file", ca]);
    assert_eq!(status, Some(0));
    assert_eq!(stderr, "");
    let all = v.as_array().unwrap();
    assert_eq!(all.len(), 3);
    for (o, proto) in all.iter().zip(["imap", "smtp", "pop"]) {
        assert_eq!(o["protocol"], proto);
        assert_eq!(o["result"], "ok");
        assert!(o["detail"].is_string());
        assert!(o["explanation"].is_null());
        let mut keys: Vec<&str> = o.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["detail", "explanation", "protocol", "result"]);
    }
    // --protocol picks one.
    let (status, v, _) = test_json(&h, &["work", "--ca-file", ca, "--protocol", "smtp"]);
    assert_eq!(status, Some(0));
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["protocol"], "smtp");

    // The ca_file setting is the default extra CA.
    h.cmd(["settings", "set", "ca_file", ca]).assert().success();
    let (status, v, _) = test_json(&h, &["work", "--protocol", "imap"]);
    assert_eq!(
        (status, &v[0]["result"]),
        (Some(0), &serde_json::json!("ok"))
    );

    // Audited: one `tested ok` per protocol tested (3 + 3 + 1 + 1), no `revealed`.
    let tested = audit_tested(&h);
    assert_eq!(tested, vec!["tested ok"; 8], "{tested:?}");
}

#[test]
fn a_wrong_password_is_auth_rejected_and_the_test_fails() {
    if !keyring("a_wrong_password_is_auth_rejected_and_the_test_fails") {
        return;
    }
    let d = dovecot();
    let h = Home::new();
    add_alice(&h, d, "stale", "revoked-app-password");
    let ca = d.ca_file.to_str().unwrap();

    let out = h
        .cmd(["test", "stale", "--ca-file", ca, "--protocol", "smtp"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(CONNECTION_TEST_FAILED), "{stdout}");
    let first = stdout.lines().next().unwrap();
    assert!(
        first.starts_with("smtp") && first.contains("auth_rejected"),
        "{stdout}"
    );
    assert!(first.contains("535 5.7.8"), "Dovecot's answer: {stdout}");
    assert!(stdout.contains("create a new app password"), "{stdout}");
    assert!(text(&out.stderr).contains("failed for smtp"));

    let (status, v, _) = test_json(&h, &["stale", "--ca-file", ca]);
    assert_eq!(status, Some(CONNECTION_TEST_FAILED));
    for o in v.as_array().unwrap() {
        assert_eq!(o["result"], "auth_rejected", "{o}");
        assert!(
            o["detail"]
                .as_str()
                .unwrap()
                .contains("Authentication failed"),
            "{o}"
        );
        assert!(o["explanation"].is_string());
    }
    let tested = audit_tested(&h);
    assert_eq!(tested, vec!["tested AuthRejected"; 4], "{tested:?}");
}

#[test]
fn an_untrusted_certificate_fails_the_test_and_bad_input_is_refused_first() {
    if !keyring("an_untrusted_certificate_fails_the_test_and_bad_input_is_refused_first") {
        return;
    }
    let d = dovecot();
    let h = Home::new();
    add_alice(&h, d, "work", d.password(ALICE));

    // No extra CA: the harness's CA is not trusted.
    let (status, v, _) = test_json(&h, &["work", "--protocol", "imap"]);
    assert_eq!(status, Some(CONNECTION_TEST_FAILED));
    assert_eq!(v[0]["result"], "tls_error", "{v}");

    // A CA file that is not one: refused before the password is read (no audit record).
    let junk = h.path().join("not-a-ca.pem");
    std::fs::write(&junk, "hello\n").unwrap();
    let out = h
        .cmd(["test", "work", "--ca-file", junk.to_str().unwrap()])
        .output()
        .unwrap();
    let line = one_line_failure(&out, INVALID_INPUT);
    assert!(
        line.contains("not-a-ca.pem") && line.contains("no certificate"),
        "{line}"
    );
    assert_eq!(audit_tested(&h), vec!["tested TlsFailure"]);

    // The setting must name an existing file.
    let out = h
        .cmd(["settings", "set", "ca_file", "/nonexistent/ca.pem"])
        .output()
        .unwrap();
    one_line_failure(&out, INVALID_INPUT);

    // An entry without servers.
    h.cmd([
        "add",
        "bare",
        "--provider",
        "custom",
        "--account",
        ALICE,
        "--client",
        "mutt",
    ])
    .write_stdin("whatever-password")
    .assert()
    .success();
    let out = h.cmd(["test", "bare"]).output().unwrap();
    let line = one_line_failure(&out, INVALID_INPUT);
    assert!(
        line.contains("--provider custom") && line.contains("--imap-host"),
        "{line}"
    );
}

/// msmtp, as a person would set it up: `passwordeval "apppass get NAME"` in a 0600 config, the
/// harness's CA as its trust file, STARTTLS on the submission port. The message then has to be
/// in bob's inbox, read over IMAP.
#[test]
fn msmtp_sends_through_dovecot_with_the_password_from_apppass_get() {
    if !keyring("msmtp_sends_through_dovecot_with_the_password_from_apppass_get") {
        return;
    }
    let d = dovecot();
    let h = Home::new();
    add_alice(&h, d, "msmtp alice", d.password(ALICE));
    let subject = unique("apppass msmtp test").replace(' ', "-");

    let config = h.path().join("msmtprc");
    let log = h.path().join("msmtp.log");
    std::fs::write(
        &config,
        format!(
            "defaults\nlogfile {log}\n\naccount apppass\nhost {host}\nport {port}\ntls on\ntls_starttls on\ntls_trust_file {ca}\nauth on\nuser {ALICE}\nfrom {ALICE}\npasswordeval \"'{BIN}' get 'msmtp alice'\"\n\naccount default : apppass\n",
            log = log.display(),
            host = d.host,
            port = d.submission,
            ca = d.ca_file.display(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();

    let mut msmtp = Command::new("msmtp")
        .arg("-C")
        .arg(&config)
        .arg(BOB)
        .env("APPPASS_HOME", h.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("msmtp runs (scripts/setup.sh --test installs it)");
    write!(
        msmtp.stdin.take().unwrap(),
        "From: {ALICE}\r\nTo: {BOB}\r\nSubject: {subject}\r\n\r\nSent by msmtp with its password from apppass.\r\n"
    )
    .unwrap();
    let out = msmtp.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "msmtp failed: {}\nits log:\n{}\nDovecot's log:\n{}",
        text(&out.stderr),
        std::fs::read_to_string(&log).unwrap_or_default(),
        d.log_text()
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("exitcode=EX_OK"), "{logged}");
    // msmtp read the password through `apppass get`: audited as revealed.
    let audit = h.cmd(["audit", "--json"]).output().unwrap();
    assert!(text(&audit.stdout).contains("\"revealed\""));

    // Bob's inbox over IMAP (Python's imaplib; bob's password on its stdin, not in argv).
    let mut imap = Command::new("python3")
        .arg("-c")
        .arg(
            "import imaplib, ssl, sys\n\
             host, port, ca, user, subject = sys.argv[1:]\n\
             password = sys.stdin.readline().rstrip('\\n')\n\
             ctx = ssl.create_default_context(cafile=ca)\n\
             m = imaplib.IMAP4_SSL(host, int(port), ssl_context=ctx)\n\
             m.login(user, password)\n\
             m.select('INBOX', readonly=True)\n\
             typ, data = m.search(None, 'SUBJECT', subject)\n\
             ids = data[0].split()\n\
             print(len(ids))\n\
             if ids:\n\
             \x20   typ, msg = m.fetch(ids[0], '(BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])')\n\
             \x20   sys.stdout.write(msg[0][1].decode())\n\
             m.logout()\n",
        )
        .args([
            d.host.as_str(),
            &d.imaps.to_string(),
            d.ca_file.to_str().unwrap(),
            BOB,
            &subject,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    writeln!(imap.stdin.take().unwrap(), "{}", d.password(BOB)).unwrap();
    let out = imap.wait_with_output().unwrap();
    let found = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        found.starts_with("1\n"),
        "bob's inbox: {found}\nDovecot's log:\n{}",
        d.log_text()
    );
    assert!(found.contains(&format!("Subject: {subject}")), "{found}");
    assert!(found.contains(&format!("From: {ALICE}")), "{found}");
}
