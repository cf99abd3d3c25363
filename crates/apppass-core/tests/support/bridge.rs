//! The bridge in the tests (issue 5): a REAL bridge ([`apppass_core::bridge::Bridge`]) on
//! ephemeral ports of 127.0.0.1, in front of the REAL Dovecot that takes XOAUTH2/OAUTHBEARER
//! (`support::dovecot::dovecot_oauth2`), with its tokens from apppass's own sign-in of ann at the
//! REAL test OpenID provider (`support::oidc`, browser flow through its pages, scope `mail`).
//! The client book is a real vault (in a temp profile) with bridge entries made by
//! `bridge::clients::add` (generated passwords).
//!
//! [`start`] takes a process-wide lock held by the returned [`Fixture`]: tests that expire or
//! revoke ann's tokens at the provider, or read Dovecot's log, must not overlap.
//!
//! Also here: [`deliver`] (a message into a mailbox over Dovecot's LMTP socket) and [`Imap`], a
//! few lines of IMAP over TCP or TLS for tests that need exact control of the bytes.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use apppass_core::bridge::{
    self, Bridge, BridgeConfig, BridgeSettings, Listen, LocalCert, Running, SignInTokens, Status,
    VaultBook,
};
use apppass_core::catalog::Protocol;
use apppass_core::secret::Secret;
use apppass_core::signin::SignIn;
use apppass_core::vault::{Security, Server, Vault};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::dovecot::{dovecot_oauth2, Dovecot};
use super::oidc::{self, Harness};

pub use super::memory::Memory;

/// How to start the bridge.
pub struct Options {
    /// Trust the test Dovecot's CA upstream (false: only the system's roots, so its certificate
    /// is untrusted).
    pub trust_dovecot: bool,
    pub penalty_base: Duration,
    /// Write the protocol log (to [`Fixture::protocol_log`]).
    pub protocol_log: bool,
    /// Reach Dovecot's IMAP and submission over STARTTLS (its plain ports) instead of implicit
    /// TLS.
    pub upstream_starttls: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            trust_dovecot: true,
            penalty_base: Duration::from_millis(50),
            protocol_log: true,
            upstream_starttls: false,
        }
    }
}

/// One bridge client in the vault.
pub struct Client {
    pub name: String,
    /// The local user name.
    pub username: String,
    pub password: Secret,
}

pub struct Fixture {
    pub harness: &'static Harness,
    pub dovecot: &'static Dovecot,
    pub running: Option<Running>,
    pub status: Arc<Status>,
    pub signin: Arc<SignIn>,
    /// "Thunderbird on laptop" and "Second client".
    pub clients: Vec<Client>,
    /// The bridge's certificate (exported, for clients that must trust it).
    pub cert_file: PathBuf,
    pub protocol_log: PathBuf,
    /// The vault's audit log.
    pub audit_file: PathBuf,
    pub store: Memory,
    _profile: tempfile::TempDir,
    _signin_dir: tempfile::TempDir,
    _serial: tokio::sync::OwnedMutexGuard<()>,
}

/// One fixture at a time in a test binary (each test has its own runtime; tokio's mutex works
/// across them and is not poisoned by a failed test).
async fn serial() -> tokio::sync::OwnedMutexGuard<()> {
    static LOCK: OnceLock<Arc<tokio::sync::Mutex<()>>> = OnceLock::new();
    LOCK.get_or_init(|| Arc::new(tokio::sync::Mutex::new(())))
        .clone()
        .lock_owned()
        .await
}

/// Starts the provider and the OAuth Dovecot (once per test binary), signs ann in with scope
/// `mail`, makes a vault with two bridge clients, and starts the bridge on ephemeral ports with
/// IMAP, POP3 and submission upstream (implicit TLS at Dovecot, or STARTTLS).
pub async fn start(options: Options) -> Fixture {
    let serial = serial().await;
    let harness = oidc::harness();
    let dovecot = dovecot_oauth2(&harness.introspection.as_json());
    let store = Memory::default();
    let signed = oidc::sign_in(&harness.issuer, &["mail"], Arc::new(store.clone())).await;
    let signin = Arc::new(signed.signin);

    let profile_dir = tempfile::tempdir().unwrap();
    let profile = apppass_core::profile::Profile::isolated(profile_dir.path()).unwrap();
    let data_dir = profile.data_dir.clone();
    let namespace = profile.namespace.clone();
    let audit_file = profile.audit_path();
    let vault = Vault::open(
        profile,
        Box::new(store.clone()),
        Arc::new(apppass_core::clock::SystemClock),
        "cli",
    )
    .unwrap();
    let settings = BridgeSettings::default();
    let mut clients = Vec::new();
    for name in ["Thunderbird on laptop", "Second client"] {
        let (entry, password) =
            bridge::clients::add(&vault, &settings, name, "thunderbird").unwrap();
        clients.push(Client {
            name: entry.name,
            username: entry.account,
            password,
        });
    }
    let cert = LocalCert::load_or_create(&store, &namespace, &data_dir).unwrap();
    let cert_file = LocalCert::path(&data_dir);
    let protocol_log = data_dir.join("bridge-protocol.log");

    let server = |tls: u16, starttls: u16| {
        Some(if options.upstream_starttls {
            Server {
                host: dovecot.host.clone(),
                port: starttls,
                security: Security::Starttls,
            }
        } else {
            Server {
                host: dovecot.host.clone(),
                port: tls,
                security: Security::Tls,
            }
        })
    };
    let scopes = vec!["mail".to_string()];
    let config = BridgeConfig {
        imap: server(dovecot.imaps, dovecot.imap),
        pop: server(dovecot.pop3s, dovecot.pop3),
        smtp: server(dovecot.submissions, dovecot.submission),
        scopes: scopes.clone(),
        listen: Listen::ephemeral(),
        ca_file: options.trust_dovecot.then(|| dovecot.ca_file.clone()),
        penalty_base: options.penalty_base,
        penalty_max: Duration::from_secs(5),
        protocol_log: options.protocol_log.then(|| protocol_log.clone()),
        upstream_timeout: Duration::from_secs(15),
    };
    let status = Arc::new(Status::default());
    let running = Bridge::start(
        config,
        Arc::new(VaultBook::new(vault)),
        Arc::new(SignInTokens::new(signin.clone(), scopes)),
        status.clone(),
        &cert,
    )
    .await
    .unwrap_or_else(|f| panic!("the bridge starts: {}", f.message));
    Fixture {
        harness,
        dovecot,
        running: Some(running),
        status,
        signin,
        clients,
        cert_file,
        protocol_log,
        audit_file,
        store,
        _profile: profile_dir,
        _signin_dir: signed.dir,
        _serial: serial,
    }
}

impl Fixture {
    pub fn port(&self, protocol: Protocol, implicit_tls: bool) -> u16 {
        self.running
            .as_ref()
            .expect("the bridge runs")
            .port(protocol, implicit_tls)
            .expect("the listener is on")
    }

    pub fn client(&self, i: usize) -> &Client {
        &self.clients[i]
    }

    /// The vault's audit records, as text lines.
    pub fn audit(&self) -> String {
        std::fs::read_to_string(&self.audit_file).unwrap_or_default()
    }

    pub fn protocol_log_text(&self) -> String {
        std::fs::read_to_string(&self.protocol_log).unwrap_or_default()
    }

    /// Waits (up to 10 s) until `check` holds for the status.
    pub async fn wait_status(&self, what: &str, check: impl Fn(&bridge::BridgeStatus) -> bool) {
        for _ in 0..200 {
            if check(&self.status.snapshot()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{what}: {:#?}", self.status.snapshot());
    }
}

/// Delivers a message to `to` through Dovecot's LMTP socket.
pub async fn deliver(d: &Dovecot, to: &str, subject: &str, body: &str) {
    let socket = d.dir.join("run/lmtp");
    let stream = tokio::net::UnixStream::connect(&socket)
        .await
        .unwrap_or_else(|e| panic!("LMTP socket {}: {e}", socket.display()));
    let mut io = BufReader::new(stream);
    let greeting = lmtp_reply(&mut io).await;
    assert!(greeting.starts_with("220"), "{greeting}");
    for (command, code) in [
        ("LHLO test.example".to_string(), "250"),
        ("MAIL FROM:<sender@example.test>".to_string(), "250"),
        (format!("RCPT TO:<{to}>"), "250"),
        ("DATA".to_string(), "354"),
    ] {
        io.get_mut()
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .unwrap();
        let line = lmtp_reply(&mut io).await;
        assert!(line.starts_with(code), "{command}: {line}");
    }
    let mut data = format!(
        "From: <sender@example.test>\r\nTo: <{to}>\r\nSubject: {subject}\r\nMessage-ID: <{}@test>\r\n\r\n",
        subject.replace(' ', ".")
    );
    for line in body.lines() {
        if line.starts_with('.') {
            data.push('.');
        }
        data.push_str(line);
        data.push_str("\r\n");
    }
    data.push_str(".\r\n");
    io.get_mut().write_all(data.as_bytes()).await.unwrap();
    let line = lmtp_reply(&mut io).await;
    assert!(line.starts_with("250"), "delivery: {line}");
    io.get_mut().write_all(b"QUIT\r\n").await.unwrap();
}

async fn lmtp_reply(io: &mut BufReader<tokio::net::UnixStream>) -> String {
    loop {
        let mut line = String::new();
        io.read_line(&mut line).await.unwrap();
        assert!(!line.is_empty(), "LMTP closed");
        if line.as_bytes().get(3) != Some(&b'-') {
            return line;
        }
    }
}

/// Trusts exactly the certificates in `pem_file` (the bridge's exported one).
pub fn tls_config_trusting(pem_file: &std::path::Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pem_file).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A few lines of IMAP to the bridge.
pub struct Imap {
    pub io: BufReader<Box<dyn Io>>,
}

impl Imap {
    pub async fn plain(port: u16) -> Imap {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        Imap {
            io: BufReader::new(Box::new(tcp)),
        }
    }

    /// TLS from the first byte, trusting the bridge's certificate (checked for 127.0.0.1).
    pub async fn tls(port: u16, cert_file: &std::path::Path) -> Imap {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(tls_config_trusting(cert_file))
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .expect("TLS with the bridge's certificate");
        Imap {
            io: BufReader::new(Box::new(tls)),
        }
    }

    /// A line without its CR LF; `None` when the bridge closed the connection.
    pub async fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(20), self.io.read_line(&mut line))
            .await
            .expect("the bridge answers within 20 s")
            .ok()?;
        (n > 0).then(|| line.trim_end().to_string())
    }

    pub async fn send(&mut self, line: &str) {
        self.io
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }

    /// Sends a command; returns the tagged status (after the tag) and the untagged lines.
    pub async fn command(&mut self, tag: &str, command: &str) -> (String, Vec<String>) {
        self.send(&format!("{tag} {command}")).await;
        self.until(tag).await
    }

    /// Reads to the status line of `tag`.
    pub async fn until(&mut self, tag: &str) -> (String, Vec<String>) {
        let mut untagged = Vec::new();
        loop {
            let line = self
                .line()
                .await
                .unwrap_or_else(|| panic!("closed before {tag}'s answer; got {untagged:?}"));
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                return (rest.to_string(), untagged);
            }
            untagged.push(line);
        }
    }

    /// Reads the greeting; `LOGIN user password` (quoted); the tagged answer.
    pub async fn login(&mut self, user: &str, password: &Secret) -> String {
        let greeting = self.line().await.expect("a greeting");
        assert!(greeting.starts_with("* OK"), "{greeting}");
        self.command("l1", &format!("LOGIN \"{user}\" \"{}\"", password.expose()))
            .await
            .0
    }
}
