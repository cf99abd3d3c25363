//! The bridge's upstream in the tests (issue 5): a REAL Dovecot (`tests/harness/dovecot`,
//! `support::dovecot::dovecot_oauth2`) that takes SASL XOAUTH2 / OAUTHBEARER and checks each
//! bearer token at the REAL test OpenID provider's introspection endpoint (`tests/harness/oidc`).
//! The token comes from apppass's own sign-in (browser flow through the provider's real pages).
//! These tests prove the harnesses do what the bridge's tests rely on: a good token opens ann's
//! mailbox over IMAPS and submission, a bad, expired, revoked or mail-less one is refused, the
//! SASL user must be the token's account, and password logins still work.

mod support;

use std::sync::Arc;

use apppass_core::Code;
use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use support::dovecot::{dovecot_oauth2, Dovecot, ALICE, ANN, BOB};
use support::memory::Memory;
use support::oidc::{self, harness};

// ---- a few lines of IMAP and SMTP over TLS --------------------------------------------------------

fn xoauth2(user: &str, token: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"))
}

fn oauthbearer(user: &str, token: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(format!("n,a={user},\x01auth=Bearer {token}\x01\x01"))
}

fn plain(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
}

/// A TLS connection (implicit TLS, the harness's CA) read line by line.
struct Conn {
    io: BufReader<TlsStream<TcpStream>>,
}

impl Conn {
    async fn open(d: &Dovecot, port: u16) -> Conn {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&d.ca_file).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = TcpStream::connect((d.host.as_str(), port)).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .expect("TLS with the harness's CA");
        Conn {
            io: BufReader::new(tls),
        }
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        let n = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            self.io.read_line(&mut line),
        )
        .await
        .expect("the server answers within 10 s")
        .unwrap();
        assert!(n > 0, "the server closed the connection");
        line.trim_end().to_string()
    }

    async fn send(&mut self, line: &str) {
        self.io
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }

    /// Sends an IMAP command; returns the tagged status line and the untagged lines before it.
    /// A SASL challenge (`+ …`, Dovecot's JSON error for XOAUTH2) is answered with an empty line.
    async fn imap(&mut self, tag: &str, command: &str) -> (String, Vec<String>) {
        self.send(&format!("{tag} {command}")).await;
        let mut untagged = Vec::new();
        loop {
            let line = self.line().await;
            if line.starts_with('+') {
                self.send("").await;
            } else if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                return (rest.to_string(), untagged);
            } else {
                untagged.push(line);
            }
        }
    }

    /// Reads an SMTP reply (all its lines); returns the last one.
    async fn smtp_reply(&mut self) -> String {
        loop {
            let line = self.line().await;
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return line;
            }
        }
    }

    /// Sends an SMTP command; a 334 challenge (Dovecot's JSON error) is answered with an empty
    /// line. Returns the final reply line.
    async fn smtp(&mut self, command: &str) -> String {
        self.send(command).await;
        let mut reply = self.smtp_reply().await;
        if reply.starts_with("334") {
            self.send("").await;
            reply = self.smtp_reply().await;
        }
        reply
    }
}

/// `AUTHENTICATE mechanism initial-response` on a new IMAPS connection: the tagged answer, and
/// the connection (usable when the answer is OK).
async fn imap_login(d: &Dovecot, mechanism: &str, response: &str) -> (String, Conn) {
    let mut c = Conn::open(d, d.imaps).await;
    let greeting = c.line().await;
    assert!(greeting.starts_with("* OK"), "{greeting}");
    let (status, _) = c
        .imap("a1", &format!("AUTHENTICATE {mechanism} {response}"))
        .await;
    (status, c)
}

async fn imap_xoauth2(d: &Dovecot, user: &str, token: &str) -> String {
    imap_login(d, "XOAUTH2", &xoauth2(user, token)).await.0
}

/// `AUTH XOAUTH2` on a new submissions connection: the reply, and the connection.
async fn smtp_xoauth2(d: &Dovecot, user: &str, token: &str) -> (String, Conn) {
    let mut c = Conn::open(d, d.submissions).await;
    let greeting = c.smtp_reply().await;
    assert!(greeting.starts_with("220"), "{greeting}");
    let ehlo = c.smtp("EHLO client.example.test").await;
    assert!(ehlo.starts_with("250"), "{ehlo}");
    let reply = c
        .smtp(&format!("AUTH XOAUTH2 {}", xoauth2(user, token)))
        .await;
    (reply, c)
}

fn ok(status: &str) -> bool {
    status.starts_with("OK")
}

fn refused(status: &str) -> bool {
    status.starts_with("NO")
}

// ---- the test ---------------------------------------------------------------------------------------

#[tokio::test]
async fn dovecot_takes_xoauth2_tokens_checked_by_the_providers_introspection() {
    let h = harness();
    let d = dovecot_oauth2(&h.introspection.as_json());
    let fail = |what: &str| format!("{what}; Dovecot's log:\n{}", d.log_text());
    assert_eq!(
        d.oauth2.as_ref().unwrap().introspection_url,
        h.introspection.url
    );
    assert_eq!(d.oauth2.as_ref().unwrap().users, vec![ANN.to_string()]);

    let ann = oidc::sign_in(&h.issuer, &["mail"], Arc::new(Memory::default())).await;
    let first = ann.signin.access_token().await.unwrap().token;

    // What Dovecot asks the provider, and what it hears.
    let about = h.introspection.introspect(first.expose()).await;
    assert_eq!(about["active"], true, "{about}");
    assert_eq!(about["username"], ANN, "{about}");
    assert_eq!(about["sub"], ANN, "{about}");
    let scopes: Vec<&str> = about["scope"].as_str().unwrap().split(' ').collect();
    assert!(scopes.contains(&"mail"), "{about}");

    // IMAPS: XOAUTH2 with the token opens ann's mailbox.
    let (status, mut imap) = imap_login(d, "XOAUTH2", &xoauth2(ANN, first.expose())).await;
    assert!(ok(&status), "{}", fail(&status));
    let (status, _) = imap.imap("a2", "SELECT INBOX").await;
    assert!(ok(&status), "{status}");

    // Submission: AUTH XOAUTH2 → 235, and a message to ann lands in her mailbox.
    let (reply, mut smtp) = smtp_xoauth2(d, ANN, first.expose()).await;
    assert!(reply.starts_with("235"), "{}", fail(&reply));
    let subject = format!("oauth2 harness {}", std::process::id());
    for (command, code) in [
        (format!("MAIL FROM:<{ANN}>"), "250"),
        (format!("RCPT TO:<{ANN}>"), "250"),
        ("DATA".to_string(), "354"),
    ] {
        let reply = smtp.smtp(&command).await;
        assert!(reply.starts_with(code), "{command}: {}", fail(&reply));
    }
    smtp.send(&format!(
        "From: <{ANN}>\r\nTo: <{ANN}>\r\nSubject: {subject}\r\n\r\nhello\r\n."
    ))
    .await;
    let reply = smtp.smtp_reply().await;
    assert!(reply.starts_with("250"), "{}", fail(&reply));
    let _ = smtp.smtp("QUIT").await;
    // The open session learns of the new message on its next command (NOOP), then finds it.
    let (status, _) = imap.imap("a3", "NOOP").await;
    assert!(ok(&status), "{status}");
    let (_, found) = imap
        .imap("a4", &format!("SEARCH SUBJECT \"{subject}\""))
        .await;
    assert!(
        found
            .iter()
            .any(|l| l.starts_with("* SEARCH ") && l.len() > 9),
        "the message is in ann's INBOX: {found:?}"
    );

    // OAUTHBEARER too.
    let (status, _) = imap_login(d, "OAUTHBEARER", &oauthbearer(ANN, first.expose())).await;
    assert!(ok(&status), "{}", fail(&status));

    // A garbage token, or ann's token for another user: refused.
    assert!(refused(&imap_xoauth2(d, ANN, "not-a-token").await));
    assert!(refused(&imap_xoauth2(d, BOB, first.expose()).await));
    assert!(
        d.log_text()
            .contains(&format!("Username '{BOB}' did not match '{ANN}'")),
        "{}",
        fail("refused for the user name")
    );
    let (reply, _) = smtp_xoauth2(d, ANN, "not-a-token").await;
    assert!(reply.starts_with("535"), "{reply}");

    // Passwords still work for the password users, and never for ann.
    let (status, _) = imap_login(d, "PLAIN", &plain(ALICE, d.password(ALICE))).await;
    assert!(ok(&status), "{}", fail(&status));
    let (status, _) = imap_login(d, "PLAIN", &plain(ANN, first.expose())).await;
    assert!(refused(&status), "{status}");

    // Expired at the provider: the same token is refused at once (no cache); a refresh helps.
    assert!(h.expire_access_tokens().await >= 1);
    assert_eq!(
        h.introspection.introspect(first.expose()).await["active"],
        false
    );
    assert!(refused(&imap_xoauth2(d, ANN, first.expose()).await));
    let second = ann.signin.refresh().await.unwrap().token;
    assert_ne!(second, first);
    assert!(ok(&imap_xoauth2(d, ANN, second.expose()).await));

    // Revoked: the current token is refused and so is the refresh (sign in again).
    assert!(h.revoke_grants(ANN).await >= 1);
    assert!(refused(&imap_xoauth2(d, ANN, second.expose()).await));
    let (reply, _) = smtp_xoauth2(d, ANN, second.expose()).await;
    assert!(reply.starts_with("535"), "{reply}");
    let again = ann.signin.refresh().await.unwrap_err();
    assert_eq!(again.code, Code::SignInRequired, "{}", again.message);

    // Dovecot logged why, never a token.
    let log = d.log_text();
    for token in [&first, &second] {
        assert!(!log.contains(token.expose()), "a token in Dovecot's log");
    }
}

#[tokio::test]
async fn a_token_without_the_mail_scope_is_refused() {
    let h = harness();
    let d = dovecot_oauth2(&h.introspection.as_json());
    let ann = oidc::sign_in(&h.issuer, &["mail.read"], Arc::new(Memory::default())).await;
    let token = ann.signin.access_token().await.unwrap().token;
    let about = h.introspection.introspect(token.expose()).await;
    // Valid at the provider, for ann, but not for mail.
    assert_eq!(about["active"], true, "{about}");
    assert_eq!(about["username"], ANN, "{about}");
    assert!(!about["scope"]
        .as_str()
        .unwrap()
        .split(' ')
        .any(|s| s == "mail"));
    let status = imap_xoauth2(d, ANN, token.expose()).await;
    assert!(refused(&status), "{status}");
    assert!(
        d.log_text().contains("Token is not valid for scope 'mail'"),
        "refused for the scope: {}",
        d.log_text()
    );
}

#[tokio::test]
async fn a_short_lived_token_expires_by_itself() {
    let h = oidc::short_ttl_harness();
    assert_eq!(h.access_ttl, oidc::SHORT_ACCESS_TTL);
    let ann = oidc::sign_in(&h.issuer, &["mail"], Arc::new(Memory::default())).await;
    let token = ann.signin.access_token().await.unwrap().token;
    assert_eq!(
        h.introspection.introspect(token.expose()).await["active"],
        true
    );
    tokio::time::sleep(std::time::Duration::from_secs(oidc::SHORT_ACCESS_TTL + 1)).await;
    assert_eq!(
        h.introspection.introspect(token.expose()).await["active"],
        false
    );
}
