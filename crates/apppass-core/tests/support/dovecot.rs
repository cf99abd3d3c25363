//! Starting the real Dovecot of `tests/harness/dovecot` (IMAP, POP3, submission, LMTP, with TLS
//! from a CA the harness makes) once per test binary. Used by the core's connection-test tests
//! and, through `#[path]`, by the CLI's tests.
//!
//! [`dovecot_oauth2`] starts a SECOND instance that also takes SASL XOAUTH2 / OAUTHBEARER, checked
//! against the test OpenID provider's introspection endpoint (`support::oidc`), for the bridge's
//! tests. [`dovecot`] stays as it was.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub const ALICE: &str = "alice@example.test";
pub const BOB: &str = "bob@example.test";
/// The OAuth user (the test OpenID provider's user): a mailbox in every instance, but a login
/// only with a bearer token on a [`dovecot_oauth2`] instance. The SASL user name (XOAUTH2
/// `user=`, OAUTHBEARER `a=`) must be this address (compared lowercased).
pub const ANN: &str = "ann@example.test";

/// What an OAuth instance checks tokens against.
#[derive(Debug, Clone)]
pub struct OAuth2 {
    /// The provider's introspection endpoint (without the client's secret).
    pub introspection_url: String,
    /// The users who sign in with bearer tokens (`[ANN]`).
    pub users: Vec<String>,
}

/// The running harness. It lives as long as the test binary: the script stops Dovecot and its
/// helpers and deletes its directory when its stdin closes, which happens when this process
/// exits, however it exits.
pub struct Dovecot {
    pub host: String,
    /// The harness's own CA (PEM): trusted only when a test passes it as the extra CA.
    pub ca_file: PathBuf,
    /// STARTTLS ports.
    pub imap: u16,
    pub pop3: u16,
    pub submission: u16,
    /// TLS-from-the-first-byte ports.
    pub imaps: u16,
    pub pop3s: u16,
    pub submissions: u16,
    /// Listeners that do not offer STARTTLS; they log the verb of each command received.
    pub plain_smtp: u16,
    pub plain_imap: u16,
    pub plain_pop3: u16,
    /// Accepts connections and never answers.
    pub silent: u16,
    users: HashMap<String, String>,
    pub dir: PathBuf,
    pub log: PathBuf,
    /// `Some` on a [`dovecot_oauth2`] / [`start_oauth2`] instance.
    pub oauth2: Option<OAuth2>,
    _child: Mutex<Child>,
    _stdin: Mutex<ChildStdin>,
}

impl Dovecot {
    /// The test password of `user` (random for each run of the harness).
    pub fn password(&self, user: &str) -> &str {
        &self.users[user]
    }

    /// The command verbs a plain listener received so far (`smtp`, `imap` or `pop3`).
    pub fn plain_log(&self, protocol: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.join(format!("plain-{protocol}.log")))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Dovecot's log, for failure messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A port on 127.0.0.1 where nothing listens (bound, then released).
    pub fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }
}

/// The harness, started on first use.
pub fn dovecot() -> &'static Dovecot {
    static HARNESS: OnceLock<Dovecot> = OnceLock::new();
    HARNESS.get_or_init(|| start_with(None))
}

/// A second harness, separate from [`dovecot`], started on first use, that also takes SASL
/// XOAUTH2 and OAUTHBEARER for [`ANN`]: each login asks `introspection` (the object the test
/// OpenID provider prints, `{"url","client_id","client_secret"}`, i.e.
/// `oidc::Harness::introspection.as_json()`) about the token, every time (no cache). Accepted:
/// active, scope containing `mail`, introspected `username` = the SASL user. Alice and bob keep
/// PLAIN/LOGIN. Panics when called again with another provider.
pub fn dovecot_oauth2(introspection: &serde_json::Value) -> &'static Dovecot {
    static HARNESS: OnceLock<Dovecot> = OnceLock::new();
    let d = HARNESS.get_or_init(|| start_oauth2(introspection));
    let url = introspection["url"].as_str().unwrap_or_default();
    assert_eq!(
        d.oauth2.as_ref().map(|o| o.introspection_url.as_str()),
        Some(url),
        "dovecot_oauth2 is already wired to another provider: use start_oauth2 for a second one"
    );
    d
}

/// Like [`dovecot_oauth2`] but an instance of its own (stops when the test binary exits).
pub fn start_oauth2(introspection: &serde_json::Value) -> Dovecot {
    start_with(Some(introspection))
}

fn harness_dir() -> PathBuf {
    // This file is included from other crates' tests too; find the repository from here.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|p| p.join("tests/harness/dovecot/start.sh").is_file())
        .expect("tests/harness/dovecot/start.sh above the crate")
        .join("tests/harness/dovecot")
}

fn start_with(oauth2: Option<&serde_json::Value>) -> Dovecot {
    let script = harness_dir().join("start.sh");
    let log = std::env::temp_dir().join(format!(
        "apppass-dovecot-harness{}-{}.log",
        if oauth2.is_some() { "-oauth2" } else { "" },
        std::process::id()
    ));
    let mut command = Command::new("bash");
    command.arg(&script);
    if let Some(introspection) = oauth2 {
        // In the environment, not argv: it carries the client secret.
        command.env("APPPASS_DOVECOT_OAUTH2", introspection.to_string());
    } else {
        command.env_remove("APPPASS_DOVECOT_OAUTH2");
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("harness log file"))
        // Its own process group: a Ctrl-C in the terminal reaches the test, which then closes
        // the pipe; the script cleans up after itself.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("bash runs {}: {e}", script.display()));
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        panic!(
            "the test Dovecot did not start (Dovecot, openssl and python3 are needed: run scripts/setup.sh --test). Its log ({}):\n{text}",
            log.display()
        )
    });
    let port = |k: &str| -> u16 {
        ready[k]
            .as_u64()
            .unwrap_or_else(|| panic!("no {k} in {ready}")) as u16
    };
    let path = |k: &str| PathBuf::from(ready[k].as_str().unwrap());
    let users = ready["users"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    Dovecot {
        host: ready["host"].as_str().unwrap().to_string(),
        ca_file: path("ca_file"),
        imap: port("imap"),
        pop3: port("pop3"),
        submission: port("submission"),
        imaps: port("imaps"),
        pop3s: port("pop3s"),
        submissions: port("submissions"),
        plain_smtp: port("plain_smtp"),
        plain_imap: port("plain_imap"),
        plain_pop3: port("plain_pop3"),
        silent: port("silent"),
        users,
        dir: path("dir"),
        log: path("log"),
        oauth2: ready.get("oauth2").map(|o| OAuth2 {
            introspection_url: o["introspection_url"].as_str().unwrap().to_string(),
            users: o["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap().to_string())
                .collect(),
        }),
        _child: Mutex::new(child),
        _stdin: Mutex::new(stdin),
    }
}
