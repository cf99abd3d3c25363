//! Helpers shared by the CLI's integration tests: an isolated profile per test (APPPASS_HOME in a
//! temporary folder), the keyring gate, passphrase descriptors, and scans of the data directory.
#![allow(dead_code)] // each test file uses a different part

pub mod bridge;
pub mod oidc;

use std::io::{Seek, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Output;

pub const BIN: &str = env!("CARGO_BIN_EXE_apppass");

/// The repository's root (for scripts/ and docs/).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Whether the real-keyring tests run. They run inside `scripts/with-keyring.sh` (which sets
/// APPPASS_TEST_SECRET_SERVICE=unlocked) and whenever APPPASS_REQUIRE_KEYRING=1, in which case a
/// missing keyring makes them fail instead of skipping. Otherwise they say why they are skipped:
/// on a desktop they would otherwise write into the user's own keyring.
pub fn keyring(test: &str) -> bool {
    let harness = std::env::var("APPPASS_TEST_SECRET_SERVICE").as_deref() == Ok("unlocked");
    let required = std::env::var("APPPASS_REQUIRE_KEYRING").as_deref() == Ok("1");
    if harness || required {
        return true;
    }
    skipped(
        test,
        "needs the throwaway Secret Service of scripts/with-keyring.sh (set APPPASS_REQUIRE_KEYRING=1 to make a missing keyring a failure)",
    );
    false
}

/// Says on the real stderr (not captured by the test harness) that a test was skipped.
pub fn skipped(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// A bus address where nothing listens: the CLI then sees no keyring at all, and a test can
/// never reach a desktop's real keyring.
pub const DEAD_BUS: &str = "unix:path=/nonexistent/apppass-test-no-bus";

/// A fresh, isolated profile.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::Builder::new()
                .prefix("apppass-cli-test-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `apppass ARGS` in this profile, with no passphrase descriptor inherited.
    pub fn std_cmd<I, S>(&self, args: I) -> std::process::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(args)
            .env("APPPASS_HOME", self.path())
            .env_remove("APPPASS_PASSPHRASE_FD");
        cmd
    }

    pub fn cmd<I, S>(&self, args: I) -> assert_cmd::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = assert_cmd::Command::from_std(self.std_cmd(args));
        cmd.timeout(std::time::Duration::from_secs(60));
        cmd
    }

    /// `apppass add NAME --provider P --account A --client C` with `secret` on stdin.
    pub fn add(&self, name: &str, provider: &str, secret: &str) -> assert_cmd::assert::Assert {
        self.cmd([
            "add",
            name,
            "--provider",
            provider,
            "--account",
            "ann@example.com",
            "--client",
            "thunderbird",
        ])
        .write_stdin(secret)
        .assert()
    }

    /// The names `apppass list --json` reports (the command must succeed).
    pub fn names(&self) -> Vec<String> {
        let out = self.cmd(["list", "--json"]).output().unwrap();
        assert!(out.status.success(), "list failed: {}", text(&out.stderr));
        names_of(&out.stdout)
    }

    /// Every file under the profile that contains `needle` (the SQLite WAL and journal included).
    pub fn files_containing(&self, needle: &str) -> Vec<PathBuf> {
        files_containing(self.path(), needle.as_bytes())
    }
}

pub fn names_of(json: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(json).expect("list --json is JSON");
    v.as_array()
        .expect("an array")
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts a failure the way mail clients see it: the given exit status, nothing on stdout, and
/// exactly one line on stderr, `apppass: ...`. Returns that line.
pub fn one_line_failure(out: &Output, status: i32) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(status),
        "exit status; stderr: {stderr}"
    );
    assert!(out.stdout.is_empty(), "stdout: {:?}", text(&out.stdout));
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr:?}");
    assert!(stderr.starts_with("apppass: "), "{stderr:?}");
    assert!(stderr.ends_with('\n'));
    stderr
}

pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    for path in walk(dir) {
        let bytes = std::fs::read(&path).unwrap_or_default();
        if bytes.windows(needle.len()).any(|w| w == needle) {
            hits.push(path);
        }
    }
    hits
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Hands `passphrase` (one line) to the command on descriptor 3 and sets APPPASS_PASSPHRASE_FD=3.
/// Keep the returned file alive until the command has run.
pub fn passphrase_fd(cmd: &mut std::process::Command, passphrase: &str) -> std::fs::File {
    use std::os::fd::AsRawFd;
    let mut file = tempfile::tempfile().unwrap();
    writeln!(file, "{passphrase}").unwrap();
    file.rewind().unwrap();
    let fd = file.as_raw_fd();
    // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                let flags = libc::fcntl(3, libc::F_GETFD);
                if flags == -1 || libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.env("APPPASS_PASSPHRASE_FD", "3");
    file
}

/// Every label secret-tool lists for service=apppass (the test keyring of this session).
pub fn secret_tool_labels() -> Vec<String> {
    let out = std::process::Command::new("secret-tool")
        .args(["search", "--all", "service", "apppass"])
        .output()
        .expect("secret-tool runs");
    (text(&out.stdout) + &text(&out.stderr))
        .lines()
        .filter_map(|l| l.strip_prefix("label = ").map(str::to_string))
        .collect()
}

/// A name no other test (or earlier run) uses, for finding items with secret-tool.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix} {}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A port nothing listens on right now (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// settings.toml for the bridge's tests: the test provider (`issuer`) for the sign-in; the
/// bridge's upstream is the OAuth Dovecot (its IMAPS, submission and POP3S ports), and its local
/// IMAP and SMTP ports (plain with STARTTLS) are free ones; the others are off.
pub fn write_bridge_settings(h: &Home, issuer: &str, imaps: u16, submission: u16, pop3s: u16) {
    std::fs::write(
        h.path().join("settings.toml"),
        format!(
            "[signin]\nauthority = \"{issuer}\"\nclient_id = \"apppass-test\"\n\n\
             [bridge]\npreset = \"custom\"\nscopes = [\"mail\"]\n\
             [bridge.imap]\nhost = \"127.0.0.1\"\nport = {imaps}\nsecurity = \"tls\"\n\
             [bridge.smtp]\nhost = \"127.0.0.1\"\nport = {submission}\nsecurity = \"starttls\"\n\
             [bridge.pop]\nhost = \"127.0.0.1\"\nport = {pop3s}\nsecurity = \"tls\"\n\
             [bridge.listen]\nimap = {imap}\nsmtp = {smtp}\nimaps = 0\nsmtps = 0\npop = 0\npops = 0\n",
            imap = free_port(),
            smtp = free_port(),
        ),
    )
    .unwrap();
}
