//! Starting the real Dovecot of `tests/harness/dovecot` (IMAP, POP3, submission, LMTP, with TLS
//! from a CA the harness makes) once per test binary. Used by the core's connection-test tests
//! and, through `#[path]`, by the CLI's tests.

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
    HARNESS.get_or_init(start)
}

fn harness_dir() -> PathBuf {
    // This file is included from other crates' tests too; find the repository from here.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|p| p.join("tests/harness/dovecot/start.sh").is_file())
        .expect("tests/harness/dovecot/start.sh above the crate")
        .join("tests/harness/dovecot")
}

fn start() -> Dovecot {
    let script = harness_dir().join("start.sh");
    let log = std::env::temp_dir().join(format!(
        "apppass-dovecot-harness-{}.log",
        std::process::id()
    ));
    let mut child = Command::new("bash")
        .arg(&script)
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
        _child: Mutex::new(child),
        _stdin: Mutex::new(stdin),
    }
}
