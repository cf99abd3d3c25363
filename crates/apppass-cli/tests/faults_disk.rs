//! Disk faults with real file systems and real files (issue 6 §3): a full disk (a small tmpfs), a
//! read-only data directory (the tmpfs remounted read-only), and a damaged vault database
//! (truncated, overwritten, not SQLite at all, a garbage WAL). Each test commits entries first,
//! injects the fault, checks the exact exit status and message of every command, then removes the
//! fault and reads everything back: names and metadata, exact passwords, `doctor` clean, the audit
//! log parsing.
//!
//! The tmpfs is mounted in a private mount namespace (`unshare --mount`, as root; else in a user
//! namespace with `--user --map-root-user`), held by a `sleep` process; every command runs inside
//! it through `nsenter`, so nothing is mounted on the machine itself. The keyring is the shared
//! one of `scripts/with-keyring.sh`: these tests only add and read their own items.

#![cfg(target_os = "linux")]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A tmpfs in a private mount namespace. Dropping it ends the namespace, which unmounts it.
struct Tmpfs {
    holder: Child,
    /// The mount point (an empty folder outside the namespace).
    dir: tempfile::TempDir,
    nsenter: Vec<String>,
}

impl Tmpfs {
    /// A tmpfs of `size` (e.g. "512k"), or `None` (with a SKIPPED line) where no mount namespace
    /// can be made.
    fn new(test: &str, size: &str) -> Option<Tmpfs> {
        let mut why = Vec::new();
        for user_ns in [false, true] {
            let dir = tempfile::Builder::new()
                .prefix("apppass-fault-tmpfs-")
                .tempdir()
                .unwrap();
            let mut cmd = Command::new("unshare");
            if user_ns {
                cmd.args(["--user", "--map-root-user"]);
            }
            let mut holder = cmd
                .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
                .arg(format!(
                    "mount -t tmpfs -o size={size},mode=0700 apppass-test \"$1\" && echo ready && exec sleep 3600"
                ))
                .arg("sh")
                .arg(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("unshare (util-linux) runs");
            let mut line = String::new();
            let _ = BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line);
            if line.trim() == "ready" {
                let pid = holder.id().to_string();
                let mut nsenter = vec!["nsenter".to_string(), "--target".into(), pid];
                if user_ns {
                    nsenter.extend(["--user".into(), "--preserve-credentials".into()]);
                }
                nsenter.push("--mount".into());
                return Some(Tmpfs {
                    holder,
                    dir,
                    nsenter,
                });
            }
            let _ = holder.kill();
            let out = holder.wait_with_output().unwrap();
            why.push(format!(
                "unshare{}: {}",
                if user_ns { " --user" } else { "" },
                text(&out.stderr).trim()
            ));
        }
        skipped(
            test,
            &format!(
                "cannot mount a tmpfs in a private mount namespace (needs root, as on CI, or user namespaces): {}",
                why.join("; ")
            ),
        );
        None
    }

    fn mount_point(&self) -> &Path {
        self.dir.path()
    }

    /// The profile's data directory on the tmpfs.
    fn home(&self) -> PathBuf {
        self.mount_point().join("home")
    }

    /// The same folder as the namespace sees it, for reading files from this process.
    fn outside(&self, path: &Path) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root", self.holder.id()))
            .join(path.strip_prefix("/").unwrap())
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(&self.nsenter[0]);
        cmd.args(&self.nsenter[1..])
            .arg("--")
            .arg(program)
            .env("APPPASS_HOME", self.home())
            .env_remove("APPPASS_PASSPHRASE_FD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// A shell command inside the namespace (fill, remount); must succeed unless `may_fail`.
    fn sh(&self, script: &str, may_fail: bool) -> Output {
        let out = self
            .command("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(self.mount_point())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            may_fail || out.status.success(),
            "{script}: {}",
            text(&out.stderr)
        );
        out
    }

    /// `apppass ARGS` inside the namespace, `stdin` written to it; bounded in time.
    fn apppass(&self, args: &[&str], stdin: &str) -> Output {
        let started = Instant::now();
        let mut child = self.command(BIN).args(args).spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        let _ = input.write_all(stdin.as_bytes());
        drop(input);
        let out = child.wait_with_output().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "apppass {args:?} took {:?}",
            started.elapsed()
        );
        assert!(
            !text(&out.stderr).contains("panicked"),
            "apppass {args:?} panicked: {}",
            text(&out.stderr)
        );
        out
    }

    fn ok(&self, args: &[&str], stdin: &str) -> Output {
        let out = self.apppass(args, stdin);
        assert!(
            out.status.success(),
            "apppass {args:?}: {}",
            text(&out.stderr)
        );
        out
    }

    fn fill(&self) {
        // dd stops with "No space left on device": that is the point.
        self.sh("dd if=/dev/zero of=\"$1/filler\" bs=4096 2>/dev/null", true);
        let df = self.sh("df -k --output=avail \"$1\" | tail -1", false);
        assert_eq!(text(&df.stdout).trim(), "0", "the tmpfs is full");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Our own holder, by its id: the namespace and its mount go with it.
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// The keyring items of one profile (its namespace): their `username` attributes.
fn keyring_items_of(home: &Path) -> Vec<String> {
    let namespace = apppass_core::profile::Profile::isolated(home)
        .unwrap()
        .namespace;
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", "apppass"])
        .output()
        .expect("secret-tool runs");
    let mut users: Vec<String> = (text(&out.stdout) + &text(&out.stderr))
        .lines()
        .filter_map(|l| l.strip_prefix("attribute.username = "))
        .filter(|u| u.starts_with(&format!("{namespace}/")))
        .map(str::to_string)
        .collect();
    users.sort();
    users
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {} / {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

/// What a user has committed: entries with known passwords, a setting, audit lines.
struct Committed {
    /// (name, password)
    entries: Vec<(String, String)>,
    /// `list --json`, to compare metadata after the fault.
    list: serde_json::Value,
    audit_records: usize,
}

/// Adds two app passwords (one custom with servers, so it exports) and a bridge client, sets a
/// setting, and reads the state back.
fn commit(run: &dyn Fn(&[&str], &str) -> Output, tag: &str) -> Committed {
    let imap = format!("Work IMAP {tag}");
    let google = format!("Phone {tag}");
    let imap_pw = format!("canary-{tag}-imap-7d2f");
    let google_pw = "abcdefghijklmnop".to_string();
    let out = run(
        &[
            "add",
            &imap,
            "--provider",
            "custom",
            "--account",
            "ann@example.org",
            "--client",
            "thunderbird",
            "--imap-host",
            "mail.example.org",
            "--smtp-host",
            "smtp.example.org",
            "--smtp-security",
            "starttls",
        ],
        &imap_pw,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(
        &[
            "add",
            &google,
            "--provider",
            "google",
            "--account",
            "ann@gmail.com",
            "--client",
            "apple-mail",
        ],
        "abcd efgh ijkl mnop",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bridge = format!("Laptop {tag}");
    let out = run(
        &[
            "bridge",
            "add",
            &bridge,
            "--client",
            "thunderbird",
            "--json",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bridge_pw = json(&out)["password"]
        .as_str()
        .expect("bridge add --json prints the password")
        .to_string();
    let out = run(&["settings", "set", "rotation_days", "90"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list = json(&run(&["list", "--json"], ""));
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    let audit = json(&run(&["audit", "--json"], ""));
    Committed {
        entries: vec![(imap, imap_pw), (google, google_pw), (bridge, bridge_pw)],
        list,
        audit_records: audit.as_array().unwrap().len(),
    }
}

/// Reads everything back: the same entries with the same metadata (last use aside: reading
/// records it), each exact password, `doctor` clean, the setting, and an audit log that parses
/// whole and keeps every earlier record.
fn read_back(run: &dyn Fn(&[&str], &str) -> Output, c: &Committed) {
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        for e in v.as_array_mut().unwrap() {
            e.as_object_mut().unwrap().remove("last_used");
        }
        v
    };
    let out = run(&["list", "--json"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(strip(&json(&out)), strip(&c.list));
    for (name, password) in &c.entries {
        let out = run(&["get", name], "");
        assert!(out.status.success(), "get {name}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), format!("{password}\n"), "{name}");
    }
    let out = run(&["doctor", "--json"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = json(&out);
    assert_eq!(report["store_problem"], serde_json::Value::Null, "{report}");
    assert_eq!(report["entries"], c.entries.len(), "{report}");
    assert_eq!(report["orphans_removed"], 0, "{report}");
    assert_eq!(report["missing_secrets"], serde_json::json!([]), "{report}");
    let settings = json(&run(&["settings", "--json"], ""));
    assert_eq!(settings["rotation_days"], 90);
    let out = run(&["audit", "--json"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("could not be read"),
        "torn audit lines: {}",
        text(&out.stderr)
    );
    assert!(json(&out).as_array().unwrap().len() >= c.audit_records);
}

/// A failure as mail clients and scripts see it: `status`, one line naming what happened and
/// what to do, no secret in it.
fn refused(out: &Output, status: i32, says: &[&str], c: &Committed) -> String {
    let line = one_line_failure(out, status);
    for words in says {
        assert!(line.contains(words), "{words:?} not in {line}");
    }
    for (_, password) in &c.entries {
        assert!(!line.contains(password.as_str()), "a password in {line}");
    }
    line
}

#[test]
fn disk_full_refuses_every_change_with_a_clear_message_and_loses_nothing() {
    let test = "disk_full_refuses_every_change_with_a_clear_message_and_loses_nothing";
    if !keyring(test) {
        return;
    }
    let Some(fs) = Tmpfs::new(test, "768k") else {
        return;
    };
    let run = |args: &[&str], stdin: &str| fs.apppass(args, stdin);
    let tag = format!("full{}", std::process::id());
    let c = commit(&run, &tag);
    fs.fill();

    // Reading works on a full disk: the database opens read-only.
    let out = fs.ok(&["list", "--json"], "");
    assert_eq!(json(&out).as_array().unwrap().len(), 3);
    let out = fs.ok(&["get", &c.entries[0].0], "");
    assert_eq!(text(&out.stdout), format!("{}\n", c.entries[0].1));
    fs.ok(&["search", "imap"], "");

    let full = ["is full", "Free some disk space"];
    let new_name = format!("New {tag}");
    let new_pw = format!("canary-{tag}-new-91ab");
    let changes: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "add",
                new_name.as_str(),
                "--provider",
                "custom",
                "--account",
                "a@example.org",
                "--client",
                "msmtp",
            ],
            new_pw.as_str(),
        ),
        (
            vec!["rotate", c.entries[0].0.as_str()],
            "canary-rotated-5c1e",
        ),
        (vec!["rotate", "--mark-only", c.entries[1].0.as_str()], ""),
        (vec!["rename", c.entries[1].0.as_str(), "Renamed"], ""),
        (vec!["rm", c.entries[1].0.as_str()], ""),
        (
            vec!["bridge", "add", "Another client", "--client", "thunderbird"],
            "",
        ),
        (vec!["bridge", "rotate", c.entries[2].0.as_str()], ""),
        (vec!["settings", "set", "rotation_days", "30"], ""),
        (vec!["doctor"], ""),
    ];
    for (args, stdin) in &changes {
        let out = fs.apppass(args, stdin);
        let line = refused(&out, 9, &full, &c);
        eprintln!("disk full: {args:?} -> {line}");
    }
    // No password of a refused add or rotation reached the keyring.
    let labels = secret_tool_labels();
    assert!(
        !labels.contains(&format!("apppass: {new_name}")),
        "{labels:?}"
    );
    assert!(!labels.iter().any(|l| l.contains("Another client")));
    // Nor any file (the rotated one was refused before it was read from stdin or after).
    for secret in [new_pw.as_str(), "canary-rotated-5c1e"] {
        assert_eq!(
            files_containing(&fs.outside(&fs.home()), secret.as_bytes()),
            Vec::<PathBuf>::new()
        );
    }

    fs.sh("rm \"$1/filler\"", false);
    read_back(&run, &c);
    // And writing works again.
    fs.ok(
        &[
            "add",
            &new_name,
            "--provider",
            "custom",
            "--account",
            "a@example.org",
            "--client",
            "msmtp",
        ],
        &new_pw,
    );
    assert_eq!(
        text(&fs.ok(&["get", &new_name], "").stdout),
        format!("{new_pw}\n")
    );
}

#[test]
fn disk_full_while_the_audit_log_cannot_grow_warns_and_still_answers() {
    let test = "disk_full_while_the_audit_log_cannot_grow_warns_and_still_answers";
    if !keyring(test) {
        return;
    }
    let Some(fs) = Tmpfs::new(test, "768k") else {
        return;
    };
    let run = |args: &[&str], stdin: &str| fs.apppass(args, stdin);
    let tag = format!("audit{}", std::process::id());
    let c = commit(&run, &tag);
    // Make the audit log end exactly on a page boundary with whole, valid records, so that on a
    // full tmpfs the next line needs a page that is not there.
    let audit = fs.outside(&fs.home().join("audit.jsonl"));
    let mut log = std::fs::read(&audit).unwrap();
    let template = serde_json::json!({"time": "2026-01-01T00:00:00Z", "action": "tested",
        "entry": "", "entry_id": "", "via": "cli", "outcome": "ok"});
    let base = serde_json::to_vec(&template).unwrap().len() + 1;
    let room = 4096 - log.len() % 4096;
    // One record whose entry field pads it to the boundary (or past the next one, when the room
    // left is smaller than an empty record).
    let pad = if room >= base {
        room - base
    } else {
        room + 4096 - base
    };
    let mut record = template.clone();
    record["entry"] = serde_json::Value::String("x".repeat(pad));
    log.extend_from_slice(&serde_json::to_vec(&record).unwrap());
    log.push(b'\n');
    assert_eq!(log.len() % 4096, 0);
    std::fs::write(&audit, &log).unwrap();
    fs.fill();

    // `get` still prints the password (a mail client must not break on a full disk), and says on
    // stderr that its audit line was not written, and why.
    let out = fs.apppass(&["get", &c.entries[0].0], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{}\n", c.entries[0].1));
    let warning = text(&out.stderr);
    assert!(
        warning.contains("audit log") && warning.contains("Free some disk space"),
        "{warning:?}"
    );
    assert_eq!(warning.lines().count(), 1, "{warning:?}");
    assert!(!warning.contains(&c.entries[0].1));
    assert_eq!(
        std::fs::read(&audit).unwrap(),
        log,
        "the audit log is unchanged"
    );

    fs.sh("rm \"$1/filler\"", false);
    read_back(&run, &c);
}

#[test]
fn read_only_data_directory_reads_work_and_changes_say_what_to_do() {
    let test = "read_only_data_directory_reads_work_and_changes_say_what_to_do";
    if !keyring(test) {
        return;
    }
    let Some(fs) = Tmpfs::new(test, "4m") else {
        return;
    };
    let run = |args: &[&str], stdin: &str| fs.apppass(args, stdin);
    let tag = format!("ro{}", std::process::id());
    let c = commit(&run, &tag);
    fs.sh("mount -o remount,ro \"$1\"", false);
    let probe = fs.sh("touch \"$1/home/x\"", true);
    assert!(
        !probe.status.success(),
        "root cannot write a read-only mount"
    );

    // Reads.
    let out = fs.ok(&["list", "--json"], "");
    assert_eq!(json(&out).as_array().unwrap().len(), 3);
    for (name, password) in &c.entries {
        let out = fs.ok(&["get", name], "");
        assert_eq!(text(&out.stdout), format!("{password}\n"));
    }
    let out = fs.ok(&["search", "work imap", "--json"], "");
    assert_eq!(json(&out)[0]["name"], c.entries[0].0.as_str());
    fs.ok(&["info", &c.entries[1].0], "");
    fs.ok(&["health"], "");
    fs.ok(&["audit"], "");
    let exports = tempfile::tempdir().unwrap();
    let file = exports.path().join("work.xml");
    fs.ok(
        &[
            "export",
            &c.entries[0].0,
            "--format",
            "thunderbird",
            "--output",
            file.to_str().unwrap(),
        ],
        "",
    );
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("mail.example.org"));

    // Changes.
    let ro = ["read-only", "Remount it read-write"];
    let new_name = format!("New {tag}");
    for (args, stdin) in [
        (
            vec![
                "add",
                new_name.as_str(),
                "--provider",
                "custom",
                "--account",
                "a@example.org",
                "--client",
                "msmtp",
            ],
            "canary-ro-add-3e7d",
        ),
        (
            vec!["rotate", c.entries[0].0.as_str()],
            "canary-ro-rot-8f1a",
        ),
        (vec!["rename", c.entries[1].0.as_str(), "Renamed"], ""),
        (vec!["rm", c.entries[1].0.as_str()], ""),
        (
            vec!["bridge", "add", "Another client", "--client", "thunderbird"],
            "",
        ),
        (vec!["doctor"], ""),
    ] {
        let out = fs.apppass(&args, stdin);
        let line = refused(&out, 9, &ro, &c);
        eprintln!("read-only: {args:?} -> {line}");
    }
    let out = fs.apppass(&["settings", "set", "rotation_days", "30"], "");
    refused(&out, 9, &ro, &c);
    assert!(!secret_tool_labels().contains(&format!("apppass: {new_name}")));

    fs.sh("mount -o remount,rw \"$1\"", false);
    read_back(&run, &c);
}

// ---- A damaged database (no tmpfs needed: real files in a temporary profile) ----

fn sha(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

/// The ways a database file gets damaged, applied to a copy of a good one.
fn damage(kind: &str, db: &Path, good: &[u8]) {
    let mut bytes = good.to_vec();
    let page = 4096;
    match kind {
        "empty" => bytes.clear(),
        "cut in the header" => bytes.truncate(60),
        "header only" => bytes.truncate(100),
        "first page only" => bytes.truncate(page),
        "half" => bytes.truncate(good.len() / 2),
        "garbage page 2" => {
            for (i, b) in bytes[page..2 * page].iter_mut().enumerate() {
                *b = (i * 131 % 251) as u8;
            }
        }
        "garbage last page" => {
            let n = bytes.len();
            for (i, b) in bytes[n - page..].iter_mut().enumerate() {
                *b = (i * 197 % 253) as u8;
            }
        }
        "bad page size" => bytes[16..18].copy_from_slice(&[0xff, 0xff]),
        "not sqlite" => bytes = b"# notes\nthis is not the vault\n".to_vec(),
        other => panic!("unknown damage {other}"),
    }
    std::fs::write(db, bytes).unwrap();
}

const DAMAGES: [&str; 9] = [
    "empty",
    "cut in the header",
    "header only",
    "first page only",
    "half",
    "garbage page 2",
    "garbage last page",
    "bad page size",
    "not sqlite",
];

#[test]
fn damaged_database_every_command_refuses_without_touching_it_then_restore() {
    if !keyring("damaged_database_every_command_refuses_without_touching_it_then_restore") {
        return;
    }
    let h = Home::new();
    let run = |args: &[&str], stdin: &str| {
        let out = h.cmd(args).write_stdin(stdin).output().unwrap();
        assert!(
            !text(&out.stderr).contains("panicked"),
            "{}",
            text(&out.stderr)
        );
        out
    };
    let tag = format!("dmg{}", std::process::id());
    let c = commit(&run, &tag);
    let db = h.path().join("vault.sqlite3");
    let good = std::fs::read(&db).unwrap();
    assert!(good.len() >= 3 * 4096, "{} bytes", good.len());
    let items_before = keyring_items_of(h.path());
    assert_eq!(
        items_before.len(),
        4,
        "3 entries and the vault key: {items_before:?}"
    );

    let (one, pw) = (c.entries[0].0.as_str(), &c.entries[0].1);
    let commands: Vec<(Vec<&str>, &str)> = vec![
        (vec!["list"], ""),
        (vec!["get", one], ""),
        (vec!["info", one], ""),
        (vec!["search", "imap"], ""),
        (vec!["health"], ""),
        (vec!["export", one, "--format", "msmtp"], ""),
        (vec!["test", one], ""),
        (
            vec![
                "add",
                "Another",
                "--provider",
                "custom",
                "--account",
                "a",
                "--client",
                "c",
            ],
            "canary-dmg-add-44c0",
        ),
        (vec!["rotate", one], "canary-dmg-rot-0b9e"),
        (vec!["rename", one, "Renamed"], ""),
        (vec!["rm", one], ""),
        (vec!["bridge", "list"], ""),
        (
            vec!["bridge", "add", "Another client", "--client", "thunderbird"],
            "",
        ),
        (vec!["doctor"], ""),
    ];
    for kind in DAMAGES {
        damage(kind, &db, &good);
        let damaged = std::fs::read(&db).unwrap();
        let files_before = walk(h.path());
        for (args, stdin) in &commands {
            let out = run(args, stdin);
            let line = refused(
                &out,
                6,
                &[
                    "is damaged",
                    db.to_str().unwrap(),
                    "apppass doctor --restore",
                ],
                &c,
            );
            if args == &vec!["list"] {
                eprintln!("{kind}: {line}");
            }
        }
        assert_eq!(
            sha(&db).unwrap(),
            damaged,
            "{kind}: the damaged file was changed"
        );
        let mut files_after = walk(h.path());
        files_after.sort();
        let mut files_before = files_before;
        files_before.sort();
        assert_eq!(files_after, files_before, "{kind}: files appeared or went");
        assert_eq!(
            keyring_items_of(h.path()),
            items_before,
            "{kind}: keyring changed"
        );
    }

    // Restore from the last good copy; the damaged file is kept as it was.
    damage("half", &db, &good);
    let damaged = std::fs::read(&db).unwrap();
    let out = run(&["doctor", "--restore"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("Kept the damaged database as"), "{said}");
    assert!(said.contains(": 3 entries"), "{said}");
    let kept: Vec<PathBuf> = walk(h.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("vault.sqlite3.damaged-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read(&kept[0]).unwrap(), damaged);
    read_back(&run, &c);
    assert_eq!(text(&run(&["get", one], "").stdout), format!("{pw}\n"));

    // A healthy database is not replaced.
    let out = run(&["doctor", "--restore"], "");
    refused(&out, 7, &["not damaged"], &c);
    // Nor an empty file taken for a new vault: it is damaged, and restored too.
    damage("empty", &db, &good);
    let out = run(&["doctor", "--restore"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    read_back(&run, &c);
    assert_eq!(
        walk(h.path())
            .iter()
            .filter(|p| p.to_string_lossy().contains(".damaged-"))
            .count(),
        2,
        "both damaged files kept: {:?}",
        walk(h.path())
    );
}

#[test]
fn restore_from_an_older_copy_keeps_the_newer_passwords_in_the_keyring() {
    if !keyring("restore_from_an_older_copy_keeps_the_newer_passwords_in_the_keyring") {
        return;
    }
    let h = Home::new();
    let tag = format!("old{}", std::process::id());
    let first = format!("First {tag}");
    let newer = format!("Newer {tag}");
    h.add(&first, "custom", "first-secret-1").success();
    let copy = h.path().join("vault-last-good.sqlite3");
    let old_copy = std::fs::read(&copy).unwrap();
    h.add(&newer, "custom", "newer-secret-2").success();
    assert_ne!(
        std::fs::read(&copy).unwrap(),
        old_copy,
        "the copy follows each change"
    );

    // The copy is one change behind (as after a failed refresh), and the database is damaged.
    std::fs::write(&copy, &old_copy).unwrap();
    std::fs::write(h.path().join("vault.sqlite3"), b"garbage").unwrap();
    let out = h.cmd(["doctor", "--restore"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("1 password(s)"), "{said}");
    assert!(said.contains("They are kept"), "{said}");
    assert_eq!(h.names(), vec![first.clone()]);
    assert_eq!(
        text(&h.cmd(["get", &first]).output().unwrap().stdout),
        "first-secret-1\n"
    );
    // The newer entry's password is still in the keyring, under its name.
    assert!(secret_tool_labels().contains(&format!("apppass: {newer}")));
}

#[test]
fn damaged_database_without_a_copy_says_so_and_restore_refuses() {
    if !keyring("damaged_database_without_a_copy_says_so_and_restore_refuses") {
        return;
    }
    let h = Home::new();
    h.add("only", "custom", "only-secret").success();
    std::fs::remove_file(h.path().join("vault-last-good.sqlite3")).unwrap();
    let db = h.path().join("vault.sqlite3");
    let len = std::fs::metadata(&db).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let before = std::fs::read(&db).unwrap();
    let out = h.cmd(["list"]).output().unwrap();
    let line = one_line_failure(&out, 6);
    assert!(line.contains("no last good copy"), "{line}");
    assert!(
        line.contains("Your passwords are still in the keyring")
            && line.contains("apppass doctor --adopt-orphans"),
        "{line}"
    );
    let out = h.cmd(["doctor", "--restore"]).output().unwrap();
    let line = one_line_failure(&out, 3);
    assert!(line.contains("no last good copy"), "{line}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert!(!h.path().join("vault-last-good.sqlite3").exists());

    // The message's last step: with the damaged file moved out, doctor --adopt-orphans gets the
    // password back as an entry.
    let aside = tempfile::tempdir().unwrap();
    std::fs::rename(&db, aside.path().join("vault.sqlite3")).unwrap();
    for side in ["vault.sqlite3-wal", "vault.sqlite3-shm"] {
        let _ = std::fs::remove_file(h.path().join(side));
    }
    let out = h
        .cmd(["doctor", "--adopt-orphans", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["orphans_adopted"],
        serde_json::json!(["Recovered password 1"])
    );
    let out = h.cmd(["get", "Recovered password 1"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "only-secret\n");
}

#[test]
fn garbage_wal_holds_nothing_committed_and_everything_reads_back() {
    if !keyring("garbage_wal_holds_nothing_committed_and_everything_reads_back") {
        return;
    }
    let h = Home::new();
    let run = |args: &[&str], stdin: &str| h.cmd(args).write_stdin(stdin).output().unwrap();
    let c = commit(&run, &format!("wal{}", std::process::id()));
    // After a clean exit the WAL is checkpointed and removed; one full of garbage (a bad header
    // and checksums) holds no committed change, and SQLite ignores it.
    let wal = h.path().join("vault.sqlite3-wal");
    assert!(!wal.exists());
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 73 % 255) as u8).collect();
    std::fs::write(&wal, &garbage).unwrap();
    read_back(&run, &c);
}
