//! `apppass bridge run` for the CLI's tests, and a Thunderbird-style IMAP client for it.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{text, Home};

/// The bridge, run by `apppass bridge run --json` in the background; stopped with SIGTERM, killed
/// by Drop when a test fails half-way.
pub struct Running {
    pub child: Child,
    pub listeners: serde_json::Value,
    /// The listeners line as the bridge printed it on stdout.
    pub stdout_line: String,
}

impl Running {
    /// `apppass bridge run --json --ca-file CA`: waits (30 s) for its listeners line.
    pub fn start(h: &Home, ca_file: &Path) -> Running {
        let child = h
            .std_cmd([
                "bridge",
                "run",
                "--json",
                "--ca-file",
                ca_file.to_str().unwrap(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Running::attach(child)
    }

    /// Takes over a spawned `apppass bridge run --json` (stdout and stderr piped): waits (30 s)
    /// for its listeners line, then keeps draining its stdout.
    pub fn attach(mut child: Child) -> Running {
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut r = BufReader::new(stdout);
            let _ = r.read_line(&mut line);
            let _ = tx.send(line);
            let mut rest = Vec::new();
            let _ = r.read_to_end(&mut rest);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "bridge run printed no listeners ({line:?}): {}",
                text(&out.stderr)
            )
        };
        Running {
            child,
            listeners: v["listeners"].clone(),
            stdout_line: line,
        }
    }

    pub fn port(&self, protocol: &str, tls: bool) -> u16 {
        self.listeners
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["protocol"] == protocol && l["implicit_tls"] == tls)
            .unwrap_or_else(|| panic!("no {protocol} listener (tls {tls}): {}", self.listeners))
            ["port"]
            .as_u64()
            .unwrap() as u16
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM; its exit status and stderr (every byte: invalid UTF-8 is replaced, not dropped).
    pub fn stop(mut self) -> (Option<i32>, String) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let mut stderr = Vec::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_end(&mut stderr);
        }
        let code = self.child.wait().unwrap().code();
        (code, String::from_utf8_lossy(&stderr).into_owned())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Python's imaplib as Thunderbird uses the bridge: the plain port, STARTTLS trusting `cert`,
/// LOGIN with `password` (on stdin, never argv), then SELECT INBOX and SEARCH ALL. Prints "ok" or
/// "NO <reply>".
/// Bounded: imaplib gives up after 30 s.
pub fn imap_login(port: u16, cert: &Path, user: &str, password: &str) -> String {
    let mut py = Command::new("python3")
        .arg("-c")
        .arg(
            "import imaplib, ssl, sys\n\
             port, ca, user = sys.argv[1:]\n\
             password = sys.stdin.readline().rstrip('\\n')\n\
             m = imaplib.IMAP4('127.0.0.1', int(port), timeout=30)\n\
             m.starttls(ssl_context=ssl.create_default_context(cafile=ca))\n\
             try:\n\
             \x20   m.login(user, password)\n\
             except imaplib.IMAP4.error as e:\n\
             \x20   print('NO', e)\n\
             \x20   sys.exit(0)\n\
             m.select('INBOX', readonly=True)\n\
             m.search(None, 'ALL')\n\
             m.logout()\n\
             print('ok')\n",
        )
        .args([&port.to_string(), cert.to_str().unwrap(), user])
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
