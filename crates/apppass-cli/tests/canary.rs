//! Canary leak scan (issue 6, section 1), for the CLI and the core flows, with real parts only.
//!
//! One test drives every CLI flow with secrets that are unique to this run (the canaries): an app
//! password added from stdin, read back, renamed, tested against the real Dovecot and rotated; the
//! real Dovecot password it is rotated to; the refresh tokens of a browser sign-in at the real
//! OpenID provider (read from the keyring with secret-tool, before and after they rotate); the
//! access tokens the provider issued to apppass (from its test-only `/_test/access-tokens`); the
//! bridge passwords `apppass bridge add/rotate --json` generated, used by Python's imaplib through
//! `apppass bridge run` (so that a bridge session, an upstream XOAUTH2 login and token refreshes
//! happen). Then it looks for every canary — plain, base64 (standard and URL-safe, at each of the
//! three byte alignments, so also inside a longer encoded blob such as SASL PLAIN), hex and
//! UTF-16LE — in:
//!
//! - every file of the data directory (APPPASS_HOME: the SQLite file, its -wal and -shm, read as
//!   raw bytes so free pages count too; `audit.jsonl`; the bridge's protocol log), taken after
//!   EVERY command, since the WAL comes and goes;
//! - the private TMPDIR given to every apppass process, after every command, and every entry that
//!   appeared in the system temp directory during the test (except the test harness's own: the
//!   OpenID provider's log and the Dovecot harness's folder, which legitimately see tokens and
//!   passwords);
//! - the exported client configurations (every format, as files and on stdout);
//! - everything every apppass command printed (except the two places that must print a secret:
//!   `get`'s stdout, checked to be exactly the password, and the `password` of `bridge add/rotate
//!   --json`, removed before the rest is scanned);
//! - `/proc/PID/cmdline` and `/proc/PID/environ` of `apppass login` (sampled while it waits for the
//!   browser and after the code exchange) and of `apppass bridge run` (after it starts, after each
//!   session and after a refresh).
//!
//! Expected: zero hits (the secrets are only in the keyring). The scanner is first shown to find
//! a canary planted in a file of the scanned area (each encoding) and in a process environment.
//! Needs the throwaway keyring of `scripts/with-keyring.sh` (skipped without it, failed with
//! APPPASS_REQUIRE_KEYRING=1).
//!
//! Not covered here: the desktop app's processes and its webview profile (WebKit's storage and
//! caches under ~/.local/share/org.apppass.desktop): the last test of tests/e2e/bridge.test.mjs
//! scans those the same way after the app signed in and ran a bridge session. Nor `apppass mfa
//! status` (needs the Graph emulator) or msmtp's `passwordeval` child. The test harness's own logs
//! (the OpenID provider's, Dovecot's) are not scanned: they are not apppass's and legitimately see
//! the tokens and passwords sent to them.

#![cfg(target_os = "linux")]

mod common;
#[path = "../../apppass-core/tests/support/dovecot.rs"]
mod dovecot;

use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::bridge::{imap_login, Running};
use common::oidc::{browser, provider};
use common::*;
use dovecot::{dovecot_oauth2, Dovecot, ALICE};

// ---- the scanner -----------------------------------------------------------------------------------

/// A secret to look for, with the kind shown in the table.
#[derive(Clone)]
struct Canary {
    kind: &'static str,
    value: String,
}

/// The byte patterns that betray `secret`: plain, hex, UTF-16LE, and base64 (standard and
/// URL-safe) at each of the three alignments inside a longer encoded blob (only the part of the
/// encoding that depends on the secret's bytes alone is kept).
fn patterns(secret: &str) -> Vec<(&'static str, Vec<u8>)> {
    let raw = secret.as_bytes();
    let mut out = vec![
        ("plain", raw.to_vec()),
        (
            "hex",
            raw.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into_bytes(),
        ),
        (
            "utf-16le",
            secret
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes())
                .collect(),
        ),
    ];
    for (name, engine) in [
        ("base64", &base64::engine::general_purpose::STANDARD_NO_PAD),
        (
            "base64url",
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ),
    ] {
        for k in 0..3usize {
            let mut bytes = vec![0u8; k];
            bytes.extend_from_slice(raw);
            let full_groups = bytes.len() / 3;
            let encoded = engine.encode(&bytes[..full_groups * 3]);
            // The first group mixes in the k prefix bytes: drop it when there are any.
            let start = if k == 0 { 0 } else { 4 };
            if let Some(stable) = encoded.as_bytes().get(start..).filter(|s| s.len() >= 8) {
                out.push((name, stable.to_vec()));
            }
        }
    }
    out
}

/// Everything captured during the test: (category, place, bytes), deduplicated by content.
#[derive(Default)]
struct Evidence {
    items: Vec<(&'static str, String, Vec<u8>)>,
    seen: HashSet<(String, u64)>,
    snapshots: usize,
}

impl Evidence {
    fn add(&mut self, category: &'static str, place: impl Into<String>, bytes: Vec<u8>) {
        let place = place.into();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        if self.seen.insert((place.clone(), h.finish())) {
            self.items.push((category, place, bytes));
        }
    }

    /// Every file under `dir` (recursively), as it is now.
    fn files(&mut self, category: &'static str, dir: &Path) {
        self.snapshots += 1;
        for path in walk_readable(dir) {
            if let Ok(bytes) = std::fs::read(&path) {
                self.add(category, path.display().to_string(), bytes);
            }
        }
    }

    /// argv and environment of a running process.
    fn process(&mut self, what: &str, pid: u32) {
        for part in ["cmdline", "environ"] {
            if let Ok(bytes) = std::fs::read(format!("/proc/{pid}/{part}")) {
                self.add(
                    "process argv+env",
                    format!("{what} /proc/{pid}/{part}"),
                    bytes,
                );
            }
        }
    }

    /// (category, place, canary kind, encoding) of every hit.
    fn hits(&self, canaries: &[Canary]) -> Vec<(&'static str, String, &'static str, &'static str)> {
        let mut hits = Vec::new();
        for c in canaries {
            let pats = patterns(&c.value);
            for (category, place, bytes) in &self.items {
                for (encoding, pat) in &pats {
                    if contains(bytes, pat) {
                        hits.push((*category, place.clone(), c.kind, *encoding));
                    }
                }
            }
        }
        hits
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Files under `dir`, skipping what cannot be read (other users' files in the system temp dir)
/// and anything larger than 64 MiB.
fn walk_readable(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            out.extend(walk_readable(&path));
        } else if meta.is_file() && meta.len() <= 64 << 20 {
            out.push(path);
        }
    }
    out
}

// ---- helpers ---------------------------------------------------------------------------------------

/// 16 random bytes from the OS, as hex.
fn random_hex() -> String {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut b)
        .unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A POST to the test provider's admin endpoint (plain HTTP/1.0 on 127.0.0.1).
fn provider_admin(path: &str) -> serde_json::Value {
    let issuer = &provider().issuer;
    let hostport = issuer.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(hostport).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: {hostport}\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|_| panic!("{path}: {answer}"))
}

/// The access tokens the provider issued (and has not expired) so far.
fn access_tokens() -> Vec<String> {
    provider_admin("/_test/access-tokens")["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

/// The sign-in's refresh token as secret-tool sees it in the keyring.
fn refresh_token(h: &Home, account_key: &str) -> Option<String> {
    let ns = apppass_core::profile::Profile::isolated(h.path())
        .unwrap()
        .namespace;
    let out = Command::new("secret-tool")
        .args([
            "search",
            "--all",
            "service",
            "apppass",
            "username",
            &format!("{ns}/signin/{account_key}/refresh"),
        ])
        .output()
        .expect("secret-tool runs");
    let all = text(&out.stdout) + &text(&out.stderr);
    all.lines()
        .find_map(|l| l.strip_prefix("secret = "))
        .map(str::to_string)
}

/// The flows' driver: every apppass command runs in the profile with a private TMPDIR, and the
/// profile and that TMPDIR are captured after each one, with what the command printed.
struct Driver<'a> {
    h: &'a Home,
    tmp: tempfile::TempDir,
    ev: Evidence,
    /// The outputs that must hold a secret (`get`, `bridge add/rotate --json`): the positive
    /// control, where the scanner must find the canaries.
    controls: Evidence,
    commands: usize,
}

impl Driver<'_> {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.h.std_cmd(args);
        c.env("TMPDIR", self.tmp.path())
            .env_remove("BROWSER")
            .env_remove("APPPASS_EXTRA_POLICY");
        c
    }

    fn capture(&mut self) {
        self.ev.files("data directory", self.h.path());
        self.ev.files("apppass TMPDIR", self.tmp.path());
    }

    /// Runs `apppass ARGS` with `stdin`, captures its output (unless `secret_stdout`: the caller
    /// checks that itself) and the files; returns the output.
    fn run(&mut self, args: &[&str], stdin: &str, secret_stdout: bool) -> Output {
        let mut c = assert_cmd::Command::from_std(self.cmd(args));
        c.timeout(Duration::from_secs(90)).write_stdin(stdin);
        let out = c.output().unwrap();
        self.record(args, &out, secret_stdout);
        out
    }

    fn record(&mut self, args: &[&str], out: &Output, secret_stdout: bool) {
        self.commands += 1;
        let label = format!("apppass {}", args.join(" "));
        if secret_stdout {
            self.controls
                .add("control", format!("{label} (stdout)"), out.stdout.clone());
        } else {
            self.ev.add(
                "command output",
                format!("{label} (stdout)"),
                out.stdout.clone(),
            );
        }
        self.ev.add(
            "command output",
            format!("{label} (stderr)"),
            out.stderr.clone(),
        );
        self.capture();
    }

    fn ok(&mut self, args: &[&str], stdin: &str) -> Output {
        let out = self.run(args, stdin, false);
        assert!(
            out.status.success(),
            "apppass {args:?}: {}",
            text(&out.stderr)
        );
        out
    }

    /// `bridge add/rotate --json`: the generated password, and the rest of the answer captured.
    fn bridge_password(&mut self, args: &[&str]) -> (String, String) {
        let out = self.run(args, "", true);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let password = v["password"].as_str().unwrap().to_string();
        v["password"] = serde_json::Value::Null;
        self.ev.add(
            "command output",
            format!("apppass {} (stdout without the password)", args.join(" ")),
            v.to_string().into_bytes(),
        );
        let user = v["username"].as_str().unwrap_or_default().to_string();
        (user, password)
    }
}

// ---- the test --------------------------------------------------------------------------------------

#[test]
fn the_scanner_finds_a_planted_canary_in_a_file_and_in_a_process_environment() {
    let dir = tempfile::tempdir().unwrap();
    let secret = format!("CANARY-SELF-{}", random_hex());
    let c = [Canary {
        kind: "planted",
        value: secret.clone(),
    }];
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("\0user\0{secret}"));
    let b64url = base64::engine::general_purpose::URL_SAFE.encode(format!("xx{secret}?"));
    let utf16: Vec<u8> = format!("pw={secret};")
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("plain", format!("junk {secret} junk").into_bytes()),
        ("base64", format!("AUTH PLAIN {b64}\r\n").into_bytes()),
        ("base64url", b64url.into_bytes()),
        ("utf-16le", utf16),
    ];
    for (encoding, bytes) in cases {
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        let file = dir.path().join("sub/planted.bin");
        std::fs::write(&file, &bytes).unwrap();
        let mut ev = Evidence::default();
        ev.files("planted", dir.path());
        let hits = ev.hits(&c);
        assert!(
            hits.iter().any(|h| h.3 == encoding),
            "{encoding} not found: {hits:?}"
        );
        std::fs::remove_file(&file).unwrap();
        let mut ev = Evidence::default();
        ev.files("planted", dir.path());
        assert!(ev.hits(&c).is_empty(), "found after removal");
    }
    // A process holding it in its environment.
    let mut child = Command::new("sleep")
        .arg("30")
        .env("PLANTED", &secret)
        .spawn()
        .unwrap();
    // Wait for the exec (before it, /proc shows the test's own environment).
    let t0 = Instant::now();
    while !std::fs::read(format!("/proc/{}/cmdline", child.id()))
        .unwrap_or_default()
        .starts_with(b"sleep\0")
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "sleep did not start"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut ev = Evidence::default();
    ev.process("sleep", child.id());
    let _ = child.kill();
    let _ = child.wait();
    assert!(ev.hits(&c).iter().any(|h| h.1.ends_with("/environ")));
}

#[test]
fn no_canary_leaks_outside_the_keyring_from_any_cli_flow() {
    if !keyring("no_canary_leaks_outside_the_keyring_from_any_cli_flow") {
        return;
    }
    let p = provider();
    let d: &Dovecot = dovecot_oauth2(&p.introspection);
    let system_tmp = std::env::temp_dir();
    let tmp_before: HashSet<PathBuf> = std::fs::read_dir(&system_tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    let h = Home::new();
    let mut dr = Driver {
        h: &h,
        tmp: tempfile::Builder::new()
            .prefix("apppass-canary-tmpdir-")
            .tempdir()
            .unwrap(),
        ev: Evidence::default(),
        controls: Evidence::default(),
        commands: 0,
    };
    let exports = tempfile::Builder::new()
        .prefix("apppass-canary-exports-")
        .tempdir()
        .unwrap();
    let mut canaries: Vec<Canary> = Vec::new();
    let ca = d.ca_file.to_str().unwrap().to_string();
    write_bridge_settings(&h, &p.issuer, d.imaps, d.submission, d.pop3s);

    // ---- app password: add (stdin), get, list/search/info, test, rename, rotate, test ----
    let ap = format!("CANARY-AP-{}", random_hex());
    canaries.push(Canary {
        kind: "app password",
        value: ap.clone(),
    });
    let (imaps, submission, pop3) = (
        d.imaps.to_string(),
        d.submission.to_string(),
        d.pop3.to_string(),
    );
    dr.ok(
        &[
            "add",
            "Canary mail",
            "--provider",
            "custom",
            "--account",
            ALICE,
            "--client",
            "msmtp",
            "--notes",
            "leak scan",
            "--imap-host",
            "127.0.0.1",
            "--imap-port",
            &imaps,
            "--imap-security",
            "tls",
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            &submission,
            "--smtp-security",
            "starttls",
            "--pop-host",
            "127.0.0.1",
            "--pop-port",
            &pop3,
            "--pop-security",
            "starttls",
        ],
        &format!("{ap}\n"),
    );
    let out = dr.run(&["get", "Canary mail"], "", true);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("{ap}\n"),
        "get prints the password"
    );
    for args in [
        &["list", "--json"][..],
        &["list"],
        &["search", "canary", "--json"],
        &["info", "Canary mail", "--json"],
        &["info", "Canary mail"],
    ] {
        dr.ok(args, "");
    }
    // The canary is not alice's password: every server refuses it (exit 19).
    let out = dr.run(
        &["test", "Canary mail", "--ca-file", &ca, "--json"],
        "",
        false,
    );
    assert_eq!(out.status.code(), Some(19), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("auth_rejected"));
    dr.ok(&["rename", "Canary mail", "Canary mail renamed"], "");
    // Rotated to the real (random, per-run) Dovecot password: a canary too.
    let real = d.password(ALICE).to_string();
    canaries.push(Canary {
        kind: "app password (rotated)",
        value: real.clone(),
    });
    dr.ok(&["rotate", "Canary mail renamed"], &format!("{real}\n"));
    let out = dr.ok(&["test", "Canary mail renamed", "--ca-file", &ca], "");
    assert_eq!(
        text(&out.stdout).lines().count(),
        3,
        "{}",
        text(&out.stdout)
    );
    // A second entry with the same password, so that health has a duplicate to report.
    dr.ok(
        &[
            "add",
            "Canary twin",
            "--provider",
            "custom",
            "--account",
            ALICE,
            "--client",
            "thunderbird",
            "--imap-host",
            "127.0.0.1",
            "--imap-port",
            &imaps,
        ],
        &real,
    );

    // ---- exports, every format, to a file and to stdout (no --include-password) ----
    for format in [
        "thunderbird",
        "mobileconfig",
        "msmtp",
        "mbsync",
        "neomutt",
        "aerc",
    ] {
        let file = exports.path().join(format!("canary.{format}"));
        dr.ok(
            &[
                "export",
                "Canary mail renamed",
                "--format",
                format,
                "--output",
                file.to_str().unwrap(),
            ],
            "",
        );
        assert!(file.is_file(), "{format} export written");
        dr.ok(&["export", "Canary mail renamed", "--format", format], "");
    }
    dr.ev.files("exported files", exports.path());

    for args in [
        &["health", "--json"][..],
        &["health"],
        &["audit", "--json"],
        &["audit"],
        &["doctor", "--json"],
        &["doctor"],
    ] {
        dr.ok(args, "");
    }

    // ---- sign-in in the browser; argv and environment sampled while it runs ----
    let t0 = Instant::now();
    let mut login = dr
        .cmd(&["login", "--json"])
        .env("BROWSER", browser())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = login.id();
    let (mut so, mut se) = (login.stdout.take().unwrap(), login.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let t = std::thread::spawn(move || {
            let _ = se.read_to_end(&mut b);
            b
        });
        let _ = so.read_to_end(&mut a);
        (a, t.join().unwrap())
    });
    let mut samples = 0;
    while login.try_wait().unwrap().is_none() {
        dr.ev.process("apppass login", pid);
        samples += 1;
        assert!(t0.elapsed() < Duration::from_secs(90), "login hangs");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = login.wait().unwrap();
    let (stdout, stderr) = reader.join().unwrap();
    assert!(status.success(), "login: {}", text(&stderr));
    assert!(samples > 0);
    dr.record(
        &["login", "--json"],
        &Output {
            status,
            stdout: stdout.clone(),
            stderr,
        },
        false,
    );
    let account: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    let key = account["account_key"].as_str().unwrap().to_string();
    let rt1 = refresh_token(&h, &key).expect("the refresh token is in the keyring");
    canaries.push(Canary {
        kind: "refresh token",
        value: rt1.clone(),
    });
    dr.ok(&["whoami", "--json"], "");

    // ---- bridge: add, list, cert, run, sessions, refresh, rotate, test ----
    let (user, bp1) = dr.bridge_password(&[
        "bridge",
        "add",
        "Canary client",
        "--client",
        "thunderbird",
        "--json",
    ]);
    canaries.push(Canary {
        kind: "bridge password",
        value: bp1.clone(),
    });
    dr.ok(&["bridge", "list", "--json"], "");
    dr.ok(&["bridge", "list"], "");
    let cert = exports.path().join("bridge.pem");
    dr.ok(&["bridge", "cert", "--output", cert.to_str().unwrap()], "");

    let run_args = [
        "bridge",
        "run",
        "--json",
        "--protocol-log",
        "--ca-file",
        &ca,
    ];
    let bridge = Running::attach(
        dr.cmd(&run_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    dr.ev.add(
        "command output",
        "apppass bridge run (stdout)",
        bridge.stdout_line.clone().into_bytes(),
    );
    let bpid = bridge.child.id();
    dr.ev.process("apppass bridge run", bpid);
    let port = bridge.port("imap", false);

    // A session: the bridge refreshes the sign-in (rotating the refresh token) and logs in
    // upstream with an access token.
    assert_eq!(imap_login(port, &cert, &user, &bp1), "ok");
    dr.ev.process("apppass bridge run", bpid);
    dr.capture();
    let mut ats: Vec<String> = access_tokens();
    assert!(!ats.is_empty(), "the provider issued access tokens");
    // Expired access tokens: the next session's upstream login is refused, refreshed, retried.
    provider_admin("/_test/expire-access-tokens");
    assert_eq!(imap_login(port, &cert, &user, &bp1), "ok");
    dr.ev.process("apppass bridge run", bpid);
    dr.capture();
    ats.extend(access_tokens());
    let rt2 = refresh_token(&h, &key).expect("still signed in");
    assert_ne!(
        rt1, rt2,
        "the bridge refreshed the sign-in (rotated refresh token)"
    );
    canaries.push(Canary {
        kind: "refresh token (rotated)",
        value: rt2.clone(),
    });
    // Rotation: the old password is refused (bridge_rejected), the new one works.
    let (_, bp2) = dr.bridge_password(&["bridge", "rotate", "Canary client", "--json"]);
    canaries.push(Canary {
        kind: "bridge password (rotated)",
        value: bp2.clone(),
    });
    assert!(imap_login(port, &cert, &user, &bp1).starts_with("NO"));
    assert_eq!(imap_login(port, &cert, &user, &bp2), "ok");
    // `apppass test` of the bridge client signs in to the bridge.
    let out = dr.run(&["test", "Canary client", "--json"], "", false);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    dr.ev.process("apppass bridge run", bpid);
    ats.extend(access_tokens());
    let (code, stderr) = bridge.stop();
    assert_eq!(code, Some(0), "{}", stderr);
    dr.ev.add(
        "command output",
        "apppass bridge run (stderr)",
        stderr.into_bytes(),
    );
    dr.capture();
    assert!(
        h.path().join("bridge-protocol.log").is_file(),
        "the protocol log was written (and so scanned)"
    );
    ats.sort();
    ats.dedup();
    for at in &ats {
        canaries.push(Canary {
            kind: "access token",
            value: at.clone(),
        });
    }
    let rt3 = refresh_token(&h, &key).expect("still signed in");
    if rt3 != rt2 {
        canaries.push(Canary {
            kind: "refresh token (rotated)",
            value: rt3,
        });
    }

    // ---- the end: audit again, doctor, rm, logout ----
    for args in [
        &["audit", "--json"][..],
        &["bridge", "list", "--json"],
        &["health", "--json"],
        &["doctor", "--json"],
        &["rm", "Canary twin"],
        &["bridge", "rm", "Canary client"],
        &["logout"],
        &["audit"],
    ] {
        dr.ok(args, "");
    }
    assert_eq!(refresh_token(&h, &key), None, "logout deleted the token");

    // The exports again, with the bridge's certificate.
    dr.ev.files("exported files", exports.path());
    let _ = writeln!(
        std::io::stderr(),
        "data directory files seen: {:?}",
        dr.ev
            .items
            .iter()
            .filter(|i| i.0 == "data directory")
            .map(|i| i.1.rsplit('/').next().unwrap_or_default())
            .collect::<std::collections::BTreeSet<_>>()
    );

    // ---- new entries in the system temp directory (minus the harnesses' own) ----
    let harness: Vec<PathBuf> = vec![
        d.dir.clone(),
        d.log.clone(),
        system_tmp.join(format!("apppass-cli-oidc-{}.log", std::process::id())),
        system_tmp.join(format!(
            "apppass-dovecot-harness-oauth2-{}.log",
            std::process::id()
        )),
    ];
    let mut new_tmp = 0;
    for entry in std::fs::read_dir(&system_tmp).unwrap().flatten() {
        let path = entry.path();
        if tmp_before.contains(&path)
            || harness
                .iter()
                .any(|x| path.starts_with(x) || x.starts_with(&path))
            || [h.path(), dr.tmp.path(), exports.path()].contains(&path.as_path())
        {
            continue;
        }
        new_tmp += 1;
        let _ = writeln!(
            std::io::stderr(),
            "new in {}: {}",
            system_tmp.display(),
            path.display()
        );
        if path.is_dir() {
            dr.ev.files("new in system temp dir", &path);
        } else if let Ok(bytes) = std::fs::read(&path) {
            dr.ev
                .add("new in system temp dir", path.display().to_string(), bytes);
        }
    }

    // ---- the figures ----
    for c in &canaries {
        assert!(c.value.len() >= 16, "a {} too short to be a canary", c.kind);
    }
    // Positive control: the scanner finds the passwords in the outputs that must print them.
    let control: HashSet<&str> = dr.controls.hits(&canaries).iter().map(|x| x.2).collect();
    for kind in [
        "app password",
        "bridge password",
        "bridge password (rotated)",
    ] {
        assert!(
            control.contains(kind),
            "{kind} not found where it is printed: {control:?}"
        );
    }
    let hits = dr.ev.hits(&canaries);
    let kinds: Vec<&str> = {
        let mut k: Vec<&str> = canaries.iter().map(|c| c.kind).collect();
        k.dedup();
        k
    };
    let mut places: BTreeMap<&str, (HashSet<&str>, usize)> = BTreeMap::new();
    // Shown even when apppass left nothing there.
    places.entry("apppass TMPDIR").or_default();
    places.entry("new in system temp dir").or_default();
    for (category, place, bytes) in &dr.ev.items {
        let e = places.entry(category).or_default();
        e.0.insert(place.as_str());
        e.1 += bytes.len();
    }
    let mut table = format!(
        "canary leak scan: {} apppass commands, {} snapshots of the data directory and TMPDIR, {} new system temp entries, {} canaries ({} access tokens), {} encodings each\n",
        dr.commands,
        dr.ev.snapshots,
        new_tmp,
        canaries.len(),
        ats.len(),
        patterns(&canaries[0].value).len()
    );
    table += &format!(
        "{:<22} {:>6} {:>9} {:>10}",
        "place", "items", "versions", "bytes"
    );
    for k in &kinds {
        table += &format!(" | {k}");
    }
    table += "\n";
    let mut total_places = 0;
    let mut total_versions = 0;
    for (category, (set, bytes)) in &places {
        let versions = dr.ev.items.iter().filter(|i| i.0 == *category).count();
        total_places += set.len();
        total_versions += versions;
        table += &format!("{category:<22} {:>6} {versions:>9} {bytes:>10}", set.len());
        for k in &kinds {
            let n = hits
                .iter()
                .filter(|x| x.0 == *category && x.2 == *k)
                .count();
            table += &format!(" | {n:>w$}", w = k.len());
        }
        table += "\n";
    }
    table += &format!(
        "total: {total_places} places, {total_versions} distinct contents scanned, {} hits\n",
        hits.len()
    );
    let _ = writeln!(std::io::stderr(), "{table}");
    assert!(
        hits.is_empty(),
        "secrets found outside the keyring:\n{}\n{table}",
        hits.iter()
            .map(|(c, p, k, e)| format!("  {k} ({e}) in {c}: {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
