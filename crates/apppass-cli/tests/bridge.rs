//! `apppass bridge` end to end, with real parts only: the test OpenID provider
//! (`tests/harness/oidc`) signs ann in through `apppass login` ($BROWSER = the scripted browser),
//! a real Dovecot (`tests/harness/dovecot --oauth2`) accepts only OAuth tokens for ann (XOAUTH2,
//! checked at the provider's introspection endpoint), and the legacy clients are real: msmtp
//! (`passwordeval "apppass get NAME"`) sends through the bridge, Python's imaplib reads through it
//! the way Thunderbird does (STARTTLS on the plain port, LOGIN with the local password).
//! Needs the throwaway keyring of `scripts/with-keyring.sh` (skipped without it, failed with
//! APPPASS_REQUIRE_KEYRING=1).

#![cfg(target_os = "linux")]

mod common;
#[path = "../../apppass-core/tests/support/dovecot.rs"]
mod dovecot;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::bridge::Running;
use common::oidc::{browser, provider};
use common::*;
use dovecot::{dovecot_oauth2, Dovecot, ANN};

fn settings(h: &Home, d: &Dovecot) {
    write_bridge_settings(h, &provider().issuer, d.imaps, d.submission, d.pop3s);
}

fn login(h: &Home) {
    let out = h
        .cmd(["login"])
        .env("BROWSER", browser())
        .timeout(Duration::from_secs(90))
        .output()
        .unwrap();
    assert!(out.status.success(), "login: {}", text(&out.stderr));
}

/// `apppass bridge add NAME --client C --json` → (user name, password).
fn add(h: &Home, name: &str, client: &str) -> (String, String) {
    let out = h
        .cmd(["bridge", "add", name, "--client", client, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "bridge add: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["username"].as_str().unwrap().to_string(),
        v["password"].as_str().unwrap().to_string(),
    )
}

fn run(h: &Home, d: &Dovecot) -> Running {
    Running::start(h, &d.ca_file)
}

/// Python's imaplib as Thunderbird uses the bridge: the plain port, STARTTLS trusting the
/// bridge's certificate, LOGIN with the local password (on stdin). Prints the number of messages
/// with `subject`, or `NO <text>` when the login is refused.
fn imap_search(
    port: u16,
    cert: &std::path::Path,
    user: &str,
    password: &str,
    subject: &str,
) -> String {
    let mut py = Command::new("python3")
        .arg("-c")
        .arg(
            "import imaplib, ssl, sys\n\
             port, ca, user, subject = sys.argv[1:]\n\
             password = sys.stdin.readline().rstrip('\\n')\n\
             m = imaplib.IMAP4('127.0.0.1', int(port))\n\
             m.starttls(ssl_context=ssl.create_default_context(cafile=ca))\n\
             try:\n\
             \x20   m.login(user, password)\n\
             except imaplib.IMAP4.error as e:\n\
             \x20   print('NO', e)\n\
             \x20   sys.exit(0)\n\
             m.select('INBOX', readonly=True)\n\
             typ, data = m.search(None, 'SUBJECT', subject)\n\
             print(len(data[0].split()))\n\
             m.logout()\n",
        )
        .args([&port.to_string(), cert.to_str().unwrap(), user, subject])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(py.stdin.take().unwrap(), "{password}").unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(out.status.success(), "imaplib: {}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

#[test]
fn thunderbird_style_imap_and_msmtp_work_through_the_bridge_with_their_own_passwords() {
    if !keyring("thunderbird_style_imap_and_msmtp_work_through_the_bridge_with_their_own_passwords")
    {
        return;
    }
    let p = provider();
    let d = dovecot_oauth2(&p.introspection);
    let h = Home::new();
    settings(&h, d);
    // Before signing in the bridge refuses to start, saying what to do.
    let out = h.cmd(["bridge", "run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(12), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("apppass login"));

    login(&h);
    let (tb_user, tb_password) = add(&h, "Thunderbird on laptop", "thunderbird");
    let (ms_user, ms_password) = add(&h, "msmtp on laptop", "msmtp");
    assert_eq!(tb_user, "thunderbird-on-laptop");
    assert_ne!(tb_password, ms_password, "one password per client");
    // The generated passwords are only in the keyring, never in the data directory.
    assert!(h.files_containing(&tb_password).is_empty());
    let cert = h.path().join("bridge.pem");
    h.cmd(["bridge", "cert", "--output", cert.to_str().unwrap()])
        .assert()
        .success();

    let bridge = run(&h, d);
    let subject = unique("apppass-bridge").replace(' ', "-");

    // msmtp, set up as for any server: STARTTLS on the bridge's plain SMTP port, the password
    // from `apppass get`. The message goes to ann herself.
    let config = h.path().join("msmtprc");
    let log = h.path().join("msmtp.log");
    std::fs::write(
        &config,
        format!(
            "defaults\nlogfile {log}\n\naccount bridge\nhost 127.0.0.1\nport {port}\ntls on\ntls_starttls on\ntls_trust_file {cert}\nauth plain\nuser {ms_user}\nfrom {ANN}\npasswordeval \"'{BIN}' get 'msmtp on laptop'\"\n\naccount default : bridge\n",
            log = log.display(),
            port = bridge.port("smtp", false),
            cert = cert.display(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut msmtp = Command::new("msmtp")
        .arg("-C")
        .arg(&config)
        .arg(ANN)
        .env("APPPASS_HOME", h.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("msmtp runs (scripts/setup.sh --test installs it)");
    write!(
        msmtp.stdin.take().unwrap(),
        "From: {ANN}\r\nTo: {ANN}\r\nSubject: {subject}\r\n\r\nSent through the apppass bridge.\r\n"
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

    // Thunderbird-style IMAP through the bridge finds it in ann's inbox (delivery is async).
    let imap_port = bridge.port("imap", false);
    let mut found = String::new();
    for _ in 0..20 {
        found = imap_search(imap_port, &cert, &tb_user, &tb_password, &subject);
        if found == "1" {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(
        found, "1",
        "the message sent by msmtp, read through the bridge"
    );

    // Each client has its own password: msmtp's does not open Thunderbird's user.
    let refused = imap_search(imap_port, &cert, &tb_user, &ms_password, &subject);
    assert!(refused.starts_with("NO"), "{refused}");
    // Rotation takes effect at once while the bridge runs.
    let out = h
        .cmd(["bridge", "rotate", "Thunderbird on laptop", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rotated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let new_password = rotated["password"].as_str().unwrap();
    assert!(imap_search(imap_port, &cert, &tb_user, &tb_password, &subject).starts_with("NO"));
    assert_eq!(
        imap_search(imap_port, &cert, &tb_user, new_password, &subject),
        "1"
    );

    // `apppass test` on a bridge client signs in to the bridge here (never to the provider),
    // trusting the bridge's own certificate: IMAP and SMTP, as Thunderbird uses them.
    let out = h
        .cmd(["test", "Thunderbird on laptop", "--json"])
        .output()
        .unwrap();
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{results}\n{}",
        text(&out.stderr)
    );
    let tested: Vec<(&str, &str)> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["protocol"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(tested, vec![("imap", "ok"), ("smtp", "ok")]);
    // Only the bridge knows this user name and password (Dovecot takes only OAuth for ann).

    // The refusals are in the audit log (without any password), and the last sign-ins in the list.
    let audit = text(&h.cmd(["audit", "--json"]).output().unwrap().stdout);
    assert!(audit.matches("\"bridge_rejected\"").count() >= 2, "{audit}");
    for secret in [&tb_password, &ms_password, &new_password.to_string()] {
        assert!(!audit.contains(secret.as_str()));
        assert!(
            !d.log_text().contains(secret.as_str()),
            "a local password reached Dovecot"
        );
    }
    let list: serde_json::Value =
        serde_json::from_slice(&h.cmd(["bridge", "list", "--json"]).output().unwrap().stdout)
            .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["last_used"].is_number()));

    let (code, stderr) = bridge.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("wrong password"),
        "refusals are shown as they happen: {stderr}"
    );
    for secret in [&tb_password, &ms_password] {
        assert!(!stderr.contains(secret.as_str()));
    }
}

#[test]
fn bridge_clients_are_added_listed_and_removed() {
    if !keyring("bridge_clients_are_added_listed_and_removed") {
        return;
    }
    let h = Home::new();
    let out = h
        .cmd(["bridge", "add", "Office printer", "--client", "printer"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("User name:  office-printer"), "{shown}");
    assert!(
        shown.contains("SMTP:       127.0.0.1 port 1587, STARTTLS"),
        "{shown}"
    );
    assert!(!shown.contains("IMAP"), "a printer only sends: {shown}");
    // The same user name again is refused, and nothing changes.
    let out = h
        .cmd(["bridge", "add", "office  PRINTER!", "--client", "printer"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
    // An unknown client: exit 7 with the list to choose from.
    let out = h
        .cmd(["bridge", "add", "x", "--client", "no-such-client"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    // A bridge password is never typed in: `add --kind bridge` points to `bridge add`.
    let out = h
        .cmd([
            "add",
            "typed",
            "--provider",
            "custom",
            "--account",
            "a",
            "--client",
            "msmtp",
            "--kind",
            "bridge",
        ])
        .write_stdin("chosen-by-a-person")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("apppass bridge add"));
    // `rm`/`rotate` refuse app passwords.
    h.add("Plain entry", "custom", "s3cret-value").success();
    let out = h.cmd(["bridge", "rm", "Plain entry"]).output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let list = text(&h.cmd(["bridge", "list"]).output().unwrap().stdout);
    assert!(
        list.contains("office-printer") && !list.contains("Plain entry"),
        "{list}"
    );
    h.cmd(["bridge", "rm", "Office printer"]).assert().success();
    assert_eq!(h.names(), vec!["Plain entry".to_string()]);
}
