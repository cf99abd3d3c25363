//! The CLI against a real Secret Service (gnome-keyring), checked from outside with secret-tool.
//! Run inside `scripts/with-keyring.sh` (scripts/test.sh does); with APPPASS_REQUIRE_KEYRING=1 a
//! missing keyring fails these tests, otherwise they say they are skipped.

#![cfg(target_os = "linux")]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use predicates::prelude::*;

const STRONG: &str = "violet tractor sings under ninety lamps";

/// The keyring item of an entry, as secret-tool sees it: (label, secret).
fn secret_tool_item(home: &Home, name: &str) -> Option<(String, String)> {
    secret_tool_user(&user_of(home, name))
}

/// The `username` attribute of an entry's keyring item: `<profile namespace>/<entry id>`.
fn user_of(home: &Home, name: &str) -> String {
    let info = home.cmd(["info", "--json", name]).output().unwrap();
    assert!(info.status.success(), "{}", text(&info.stderr));
    let id = serde_json::from_slice::<serde_json::Value>(&info.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let namespace = apppass_core::profile::Profile::isolated(home.path())
        .unwrap()
        .namespace;
    format!("{namespace}/{id}")
}

fn secret_tool_user(user: &str) -> Option<(String, String)> {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", "apppass", "username", user])
        .output()
        .expect("secret-tool runs");
    let all = text(&out.stdout) + &text(&out.stderr);
    let label = all.lines().find_map(|l| l.strip_prefix("label = "))?;
    let secret = all.lines().find_map(|l| l.strip_prefix("secret = "))?;
    Some((label.to_string(), secret.to_string()))
}

fn get(home: &Home, name: &str) -> std::process::Output {
    home.cmd(["get", name]).output().unwrap()
}

fn audit_actions(home: &Home) -> Vec<(String, String, String)> {
    let out = home.cmd(["audit", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_string(),
                r["entry"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn add_and_get_through_the_real_keyring_with_no_secret_on_disk() {
    if !keyring("add_and_get_through_the_real_keyring_with_no_secret_on_disk") {
        return;
    }
    let h = Home::new();
    let name = unique("Thunderbird on laptop");
    // Google's 4x4 grouping is tidied: spaces removed.
    let pasted = "qwer tyui opas dfgh";
    let stored = "qwertyuiopasdfgh";
    h.add(&name, "google", &format!("  {pasted}\n"))
        .success()
        .stdout("")
        .stderr(predicate::str::starts_with(format!("Added \"{name}\"")))
        .stderr(predicate::str::contains(stored).not())
        .stderr(predicate::str::contains("qwer").not());

    let (label, secret) = secret_tool_item(&h, &name).expect("secret-tool finds the item");
    assert_eq!(label, format!("apppass: {name}"));
    assert_eq!(secret, stored);
    assert!(secret_tool_labels().contains(&format!("apppass: {name}")));

    // `get`: only the secret and a newline on stdout, nothing on stderr; case does not matter.
    let out = get(&h, &name.to_uppercase());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout, format!("{stored}\n").as_bytes());
    assert!(out.stderr.is_empty());

    // Every file of the profile (database, WAL, shared memory, audit, settings, lock).
    for needle in [stored, pasted, "qwertyuiop"] {
        assert_eq!(
            h.files_containing(needle),
            Vec::<std::path::PathBuf>::new(),
            "{needle:?} is in the data directory"
        );
    }
    let files: Vec<String> = walk(h.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(files.contains(&"vault.sqlite3".to_string()), "{files:?}");
    assert!(files.contains(&"audit.jsonl".to_string()), "{files:?}");
}

#[test]
fn get_with_stdin_closed_piped_or_null_and_output_to_a_pipe() {
    if !keyring("get_with_stdin_closed_piped_or_null_and_output_to_a_pipe") {
        return;
    }
    let h = Home::new();
    h.add("msmtp", "custom", "s3cret-for-msmtp").success();

    // stdin closed (`<&-`), stdout a pipe into another process, as a mail client runs it.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("'{BIN}' get msmtp <&- | od -An -c"))
        .env("APPPASS_HOME", h.path())
        .output()
        .unwrap();
    let od = text(&out.stdout);
    assert!(
        od.contains("s   3   c   r   e   t") && od.contains("\\n"),
        "{od}"
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));

    // stdin a pipe with data on it: ignored, never read as an answer.
    let out = h
        .cmd(["get", "msmtp"])
        .write_stdin("y\nanother line\n")
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "s3cret-for-msmtp\n");

    // stdin /dev/null.
    let out = h
        .std_cmd(["get", "msmtp"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "s3cret-for-msmtp\n");

    // Failures: one line, documented status, quickly, with stdin left open and never read.
    let started = Instant::now();
    let mut child = h
        .std_cmd(["get", "nothing-here"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _stdin_kept_open = child.stdin.take();
    let out = child.wait_with_output().unwrap();
    let msg = one_line_failure(&out, 3);
    assert!(msg.contains("apppass list"), "{msg}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn every_command_on_the_keyring() {
    if !keyring("every_command_on_the_keyring") {
        return;
    }
    let h = Home::new();
    let name = unique("Work IMAP");
    h.cmd([
        "add",
        &name,
        "--provider",
        "custom",
        "--account",
        "ann@example.org",
        "--client",
        "mutt",
        "--notes",
        "desk machine",
        "--imap-host",
        "mail.example.org",
        "--smtp-host",
        "smtp.example.org",
        "--smtp-security",
        "starttls",
        "--pop-host",
        "pop.example.org",
        "--pop-port",
        "1995",
    ])
    .write_stdin("first-secret")
    .assert()
    .success();
    h.add("Phone", "icloud", "abcd-efgh-ijkl-mnop").success();

    // list / search: table with an age column, and JSON from the core's Entry.
    let table = text(&h.cmd(["list"]).output().unwrap().stdout);
    assert!(table.lines().next().unwrap().ends_with("AGE"), "{table}");
    assert!(table.contains(&name) && table.contains("today"), "{table}");
    let listed = h.cmd(["ls", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let work = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name.as_str())
        .unwrap();
    assert_eq!(work["kind"], "app_password");
    assert_eq!(work["servers"]["imap"]["port"], 993);
    assert_eq!(work["servers"]["smtp"]["port"], 587);
    assert_eq!(work["servers"]["smtp"]["security"], "starttls");
    assert_eq!(work["servers"]["pop"]["port"], 1995);
    assert_eq!(work["notes"], "desk machine");
    assert!(
        work.get("secret").is_none() && !listed.stdout.windows(12).any(|w| w == b"first-secret")
    );
    let out = h
        .cmd(["search", "--json", "ann@example.org"])
        .output()
        .unwrap();
    assert_eq!(names_of(&out.stdout), std::slice::from_ref(&name));
    let out = h.cmd(["search", "ph"]).output().unwrap();
    assert!(text(&out.stdout).contains("Phone"));

    // info: metadata and the provider's page, never the secret.
    let info = text(&h.cmd(["info", "phone"]).output().unwrap().stdout);
    assert!(
        info.contains("Apple iCloud") && info.contains("https://account.apple.com"),
        "{info}"
    );
    assert!(!info.contains("abcd-efgh"), "{info}");

    // rename: the keyring label follows.
    let renamed = unique("Laptop IMAP");
    h.cmd(["rename", &name, &renamed]).assert().success();
    assert_eq!(
        secret_tool_item(&h, &renamed).unwrap(),
        (format!("apppass: {renamed}"), "first-secret".to_string())
    );
    h.cmd(["get", &name]).assert().code(3);

    // rotate: new secret from stdin; --mark-only keeps it.
    h.cmd(["rotate", &renamed])
        .write_stdin("second-secret\n")
        .assert()
        .success();
    assert_eq!(text(&get(&h, &renamed).stdout), "second-secret\n");
    h.cmd(["rotate", "--mark-only", &renamed])
        .assert()
        .success();
    assert_eq!(text(&get(&h, &renamed).stdout), "second-secret\n");
    let v: serde_json::Value =
        serde_json::from_slice(&h.cmd(["info", "--json", &renamed]).output().unwrap().stdout)
            .unwrap();
    assert!(v["rotated"].is_i64());

    // health: Phone was never read.
    let out = h.cmd(["health", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["never_used"], serde_json::json!(["Phone"]));
    assert_eq!(report["rotation_days"], 180);
    let human = text(&h.cmd(["health"]).output().unwrap().stdout);
    assert!(
        human.contains("Never used") && human.contains("Phone"),
        "{human}"
    );

    // doctor: store, unlocked, data dir, schema, entries, repairs, orphans, missing.
    let out = h.cmd(["doctor"]).output().unwrap();
    assert!(out.status.success());
    let doctor = text(&out.stdout);
    for field in [
        "store:",
        "unlocked:            yes",
        "data directory:",
        "schema version:",
        "entries:             2",
        "unfinished repaired: 0",
        "orphans removed:     0",
        "missing secrets:     none",
    ] {
        assert!(doctor.contains(field), "{field} in\n{doctor}");
    }

    // rm: says where to delete it at the provider; gone from list and keyring.
    let phone = user_of(&h, "Phone");
    assert!(secret_tool_user(&phone).is_some());
    let out = h.cmd(["rm", "Phone"]).output().unwrap();
    assert!(out.status.success());
    let msg = text(&out.stderr);
    assert!(
        msg.contains("Apple iCloud") && msg.contains("https://account.apple.com"),
        "{msg}"
    );
    assert!(out.stdout.is_empty());
    assert_eq!(h.names(), std::slice::from_ref(&renamed));
    assert!(
        secret_tool_user(&phone).is_none(),
        "the keyring item is deleted"
    );

    // audit: each action, with outcome, never a secret.
    let actions = audit_actions(&h);
    for action in ["added", "renamed", "rotated", "revealed", "removed"] {
        assert!(
            actions.iter().any(|(a, _, _)| a == action),
            "{action}: {actions:?}"
        );
    }
    let log = std::fs::read_to_string(h.path().join("audit.jsonl")).unwrap();
    assert!(!log.contains("secret-") && !log.contains("abcd-efgh"));
    let human = text(&h.cmd(["audit", "--last", "2"]).output().unwrap().stdout);
    assert_eq!(human.lines().count(), 3, "header + 2: {human}");
}

#[test]
fn bad_input_is_refused_clearly_and_changes_nothing() {
    if !keyring("bad_input_is_refused_clearly_and_changes_nothing") {
        return;
    }
    let h = Home::new();
    h.add("Thunderbird", "custom", "original-secret").success();
    let before_audit = audit_actions(&h).len();

    let add = |name: &str, provider: &str, stdin: Vec<u8>| {
        h.cmd([
            "add",
            name,
            "--provider",
            provider,
            "--account",
            "a@example.com",
            "--client",
            "c",
        ])
        .write_stdin(stdin)
        .output()
        .unwrap()
    };
    let cases: Vec<(&str, std::process::Output, i32, &str)> = vec![
        (
            "empty secret",
            add("New", "custom", b"".to_vec()),
            7,
            "empty",
        ),
        (
            "blank secret",
            add("New", "custom", b" \n\t\n".to_vec()),
            7,
            "empty",
        ),
        (
            "unknown provider",
            add("New", "hotmale", b"pw".to_vec()),
            7,
            "Unknown provider",
        ),
        (
            "duplicate name",
            add("Thunderbird", "custom", b"pw".to_vec()),
            8,
            "already exists",
        ),
        (
            "duplicate, other case",
            add("thunderBIRD", "custom", b"pw".to_vec()),
            8,
            "already exists",
        ),
        (
            "tab in name",
            add("a\tb", "custom", b"pw".to_vec()),
            7,
            "control characters",
        ),
        (
            "newline in name",
            add("a\nb", "custom", b"pw".to_vec()),
            7,
            "control characters",
        ),
        (
            "escape in name",
            add("a\u{1b}[2Jb", "custom", b"pw".to_vec()),
            7,
            "control characters",
        ),
        (
            "format mismatch",
            add("New", "zoho", b"short".to_vec()),
            7,
            "12 characters",
        ),
        (
            "over 1 KiB",
            add("New", "custom", vec![b'x'; 2000]),
            7,
            "bytes",
        ),
        (
            "not UTF-8",
            add("New", "custom", vec![0xff, 0xfe, 0x41]),
            7,
            "UTF-8",
        ),
        (
            "rename onto another",
            {
                h.add("Other", "custom", "other-secret").success();
                h.cmd(["rename", "Other", "THUNDERBIRD"]).output().unwrap()
            },
            8,
            "already exists",
        ),
        (
            "rename to control",
            h.cmd(["rename", "Other", "x\u{7}"]).output().unwrap(),
            7,
            "control",
        ),
        (
            "rename missing",
            h.cmd(["rename", "Nope", "Yes"]).output().unwrap(),
            3,
            "No entry",
        ),
        (
            "rm missing",
            h.cmd(["rm", "Nope"]).output().unwrap(),
            3,
            "No entry",
        ),
        (
            "rotate missing",
            h.cmd(["rotate", "Nope"]).write_stdin("x").output().unwrap(),
            3,
            "No entry",
        ),
        (
            "rotate empty",
            h.cmd(["rotate", "Thunderbird"])
                .write_stdin("")
                .output()
                .unwrap(),
            7,
            "empty",
        ),
        (
            "info missing",
            h.cmd(["info", "Nope"]).output().unwrap(),
            3,
            "No entry",
        ),
    ];
    for (what, out, status, words) in &cases {
        let msg = one_line_failure(out, *status);
        assert!(msg.contains(words), "{what}: {msg}");
        assert!(!msg.contains("original-secret"), "{what}");
    }

    // A 10 MB stdin: refused quickly, without reading it all.
    let started = Instant::now();
    let out = h
        .cmd([
            "add",
            "Huge",
            "--provider",
            "custom",
            "--account",
            "a",
            "--client",
            "c",
        ])
        .write_stdin(vec![b'y'; 10 * 1024 * 1024])
        .output()
        .unwrap();
    let msg = one_line_failure(&out, 7);
    assert!(msg.contains("64 KiB"), "{msg}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );

    // Nothing changed: the same two entries, the same secrets, no new entry in the keyring.
    assert_eq!(h.names(), ["Other", "Thunderbird"]);
    assert_eq!(text(&get(&h, "Thunderbird").stdout), "original-secret\n");
    assert_eq!(text(&get(&h, "Other").stdout), "other-secret\n");
    let doctor: serde_json::Value =
        serde_json::from_slice(&h.cmd(["doctor", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(doctor["entries"], 2);
    assert_eq!(doctor["orphans_removed"], 0);
    let added_after: Vec<_> = audit_actions(&h)
        .into_iter()
        .skip(before_audit)
        .filter(|(a, _, outcome)| {
            (a == "added" || a == "removed" || a == "renamed") && outcome == "ok"
        })
        .collect();
    assert_eq!(
        added_after.len(),
        1,
        "only Other was added: {added_after:?}"
    );
}

#[test]
fn duplicate_passwords_show_in_health() {
    if !keyring("duplicate_passwords_show_in_health") {
        return;
    }
    let h = Home::new();
    h.add("Laptop", "custom", "shared-pw").success();
    h.add("Desktop", "custom", "shared-pw").success();
    h.add("Phone", "custom", "own-pw").success();
    let out = h.cmd(["health", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["duplicates"],
        serde_json::json!([["Desktop", "Laptop"]])
    );
    let human = text(&h.cmd(["health"]).output().unwrap().stdout);
    assert!(human.contains("Desktop, Laptop"), "{human}");
}

#[test]
fn missing_secret_and_orphans_are_found_by_doctor() {
    if !keyring("missing_secret_and_orphans_are_found_by_doctor") {
        return;
    }
    let h = Home::new();
    h.add("Keeps", "custom", "kept").success();
    h.add("Loses", "custom", "lost").success();
    let namespace = apppass_core::profile::Profile::isolated(h.path())
        .unwrap()
        .namespace;
    let info = h.cmd(["info", "--json", "Loses"]).output().unwrap();
    let id = serde_json::from_slice::<serde_json::Value>(&info.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Someone deletes the item in Seahorse, and leaves a stray one of this profile.
    let status = Command::new("secret-tool")
        .args([
            "clear",
            "service",
            "apppass",
            "username",
            &format!("{namespace}/{id}"),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let mut store = Command::new("secret-tool")
        .args([
            "store",
            "--label",
            "apppass: stray",
            "service",
            "apppass",
            "username",
            &format!("{namespace}/0123456789abcdef0123456789abcdef"),
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    store.stdin.take().unwrap().write_all(b"stray").unwrap();
    assert!(store.wait().unwrap().success());

    let msg = one_line_failure(&get(&h, "Loses"), 3);
    assert!(
        msg.contains("missing") && msg.contains("apppass rotate"),
        "{msg}"
    );

    let out = h.cmd(["doctor", "--json"]).output().unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["missing_secrets"], serde_json::json!(["Loses"]));
    // The stray password may be the last copy of one whose entry was lost: kept, and the text
    // says how to adopt or remove it.
    assert_eq!(report["orphans_kept"], 1);
    assert_eq!(report["orphans_removed"], 0);
    let stray = format!("{namespace}/0123456789abcdef0123456789abcdef");
    assert!(secret_tool_user(&stray).is_some());
    let table = text(&h.cmd(["doctor"]).output().unwrap().stdout);
    assert!(
        table.contains("orphans kept:        1") && table.contains("--adopt-orphans"),
        "{table}"
    );
    let adopted: serde_json::Value = serde_json::from_slice(
        &h.cmd(["doctor", "--adopt-orphans", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        adopted["orphans_adopted"],
        serde_json::json!(["Recovered password 1"])
    );
    assert_eq!(text(&get(&h, "Recovered password 1").stdout), "stray\n");
    h.cmd(["rm", "Recovered password 1"]).assert().success();
    assert!(secret_tool_user(&stray).is_none());
    // --remove-orphans deletes what no entry knows, and only that.
    let mut store = Command::new("secret-tool")
        .args([
            "store",
            "--label=apppass: lost",
            "service",
            "apppass",
            "username",
            &stray,
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    store.stdin.take().unwrap().write_all(b"stray").unwrap();
    assert!(store.wait().unwrap().success());
    let removed: serde_json::Value = serde_json::from_slice(
        &h.cmd(["doctor", "--remove-orphans", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(removed["orphans_removed"], 1);
    assert_eq!(removed["orphans_kept"], 0);
    assert!(secret_tool_user(&stray).is_none());

    // Storing it again repairs the entry.
    h.cmd(["rotate", "Loses"])
        .write_stdin("found")
        .assert()
        .success();
    assert_eq!(text(&get(&h, "Loses").stdout), "found\n");
    assert_eq!(text(&get(&h, "Keeps").stdout), "kept\n");
}

#[test]
fn profiles_do_not_see_each_other() {
    if !keyring("profiles_do_not_see_each_other") {
        return;
    }
    let a = Home::new();
    let b = Home::new();
    a.add("Same name", "custom", "secret-a").success();
    b.add("Same name", "custom", "secret-b").success();
    assert_eq!(text(&get(&a, "Same name").stdout), "secret-a\n");
    assert_eq!(text(&get(&b, "Same name").stdout), "secret-b\n");
    a.cmd(["rm", "Same name"]).assert().success();
    assert_eq!(text(&get(&b, "Same name").stdout), "secret-b\n");
    one_line_failure(&get(&a, "Same name"), 3);
}

#[test]
fn concurrent_adds_with_interleaved_list_and_get_lose_nothing() {
    if !keyring("concurrent_adds_with_interleaved_list_and_get_lose_nothing") {
        return;
    }
    let h = Home::new();
    h.add("Existing", "custom", "existing-secret").success();
    const WRITERS: usize = 8;
    // All writers start and wait for their password on stdin; then all get it at once.
    let mut children: Vec<_> = (0..WRITERS)
        .map(|i| {
            h.std_cmd([
                "add",
                &format!("Concurrent {i}"),
                "--provider",
                "custom",
                "--account",
                "a",
                "--client",
                "c",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for (i, child) in children.iter_mut().enumerate() {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("secret-{i}").as_bytes()).unwrap();
    }
    // Readers while they write: each list is consistent and each get correct.
    for _ in 0..4 {
        let readers = [
            h.std_cmd(["list", "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
            h.std_cmd(["get", "Existing"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        ];
        for (n, reader) in readers.into_iter().enumerate() {
            let out = reader.wait_with_output().unwrap();
            assert!(out.status.success(), "reader: {}", text(&out.stderr));
            if n == 0 {
                let names = names_of(&out.stdout);
                assert!(names.contains(&"Existing".to_string()));
                assert!(names
                    .iter()
                    .all(|n| n == "Existing" || n.starts_with("Concurrent ")));
            } else {
                assert_eq!(text(&out.stdout), "existing-secret\n");
            }
        }
    }
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "writer: {}", text(&out.stderr));
    }
    let names = h.names();
    assert_eq!(names.len(), WRITERS + 1, "{names:?}");
    for i in 0..WRITERS {
        assert_eq!(
            text(&get(&h, &format!("Concurrent {i}")).stdout),
            format!("secret-{i}\n")
        );
    }
    let doctor: serde_json::Value =
        serde_json::from_slice(&h.cmd(["doctor", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(doctor["orphans_removed"], 0);
    assert_eq!(doctor["unfinished_repaired"], 0);
    assert_eq!(doctor["missing_secrets"], serde_json::json!([]));
}

#[test]
fn switching_to_the_file_store_and_back_moves_the_secrets() {
    if !keyring("switching_to_the_file_store_and_back_moves_the_secrets") {
        return;
    }
    let h = Home::new();
    let name = unique("Moves");
    h.add(&name, "custom", "moving-secret").success();
    h.add("Second", "custom", "second-secret").success();
    let user = user_of(&h, &name);
    assert!(secret_tool_user(&user).is_some());

    let mut c = h.std_cmd(["store", "use-file"]);
    let _keep = passphrase_fd(&mut c, "password");
    let out = c.output().unwrap();
    let msg = one_line_failure(&out, 7);
    assert!(msg.contains("too easy to guess"), "{msg}");
    assert!(
        secret_tool_user(&user).is_some(),
        "a refused switch moves nothing"
    );

    let mut c = h.std_cmd(["store", "use-file"]);
    let _keep = passphrase_fd(&mut c, STRONG);
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("2 moved"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        secret_tool_user(&user).is_none(),
        "moved out of the keyring"
    );
    assert_eq!(
        h.files_containing("moving-secret"),
        Vec::<std::path::PathBuf>::new()
    );

    let mut c = h.std_cmd(["get", &name]);
    let _keep = passphrase_fd(&mut c, STRONG);
    assert_eq!(text(&c.output().unwrap().stdout), "moving-secret\n");
    one_line_failure(&get(&h, &name), 5);

    let mut c = h.std_cmd(["store", "use-keyring"]);
    let _keep = passphrase_fd(&mut c, STRONG);
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        secret_tool_user(&user).unwrap(),
        (format!("apppass: {name}"), "moving-secret".to_string()),
        "back in the keyring"
    );
    assert_eq!(text(&get(&h, "Second").stdout), "second-secret\n");
    let status = text(&h.cmd(["store", "status"]).output().unwrap().stdout);
    assert!(status.contains("keyring"), "{status}");
}

/// Runs `script` (bash) inside a nested scripts/with-keyring.sh, whose keyring the script may lock
/// without disturbing the other tests; returns its stdout.
fn in_own_keyring(home: &Home, locked: bool, script: &str) -> String {
    let mut cmd = Command::new(repo_root().join("scripts/with-keyring.sh"));
    if locked {
        cmd.arg("--locked");
    }
    let out = cmd
        .args(["bash", "-c", script])
        .env("APPPASS_HOME", home.path())
        .env("A", BIN)
        .env_remove("APPPASS_PASSPHRASE_FD")
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn locked_keyring_exits_5_and_changes_nothing() {
    if !keyring("locked_keyring_exits_5_and_changes_nothing") {
        return;
    }
    let h = Home::new();
    let out = in_own_keyring(
        &h,
        false,
        r#"
        printf kept-secret | "$A" add Kept --provider custom --account a --client c 2>/dev/null
        scripts/keyring-lock.sh
        "$A" get Kept >/dev/null 2>get.err; echo "get=$?"
        printf new | "$A" add New --provider custom --account a --client c 2>/dev/null; echo "add=$?"
        "$A" rm Kept 2>/dev/null; echo "rm=$?"
        printf x | "$A" rotate Kept 2>/dev/null; echo "rotate=$?"
        "$A" doctor >/dev/null 2>&1; echo "doctor=$?"
        echo "lines=$(wc -l <get.err)"; echo "message=$(cat get.err)"; rm -f get.err
        "$A" list --json | tr -d ' \n'; echo
        "#,
    );
    for want in ["get=5", "add=5", "rm=5", "rotate=5", "doctor=5", "lines=1"] {
        assert!(out.lines().any(|l| l == want), "{want} in\n{out}");
    }
    assert!(
        out.contains("message=apppass: The OS keyring is locked"),
        "{out}"
    );
    assert!(
        out.contains(r#""name":"Kept""#) && !out.contains(r#""name":"New""#),
        "{out}"
    );

    // A keyring that starts locked (APPPASS_KEYRING_LOCKED=1 in the harness).
    let h = Home::new();
    let out = in_own_keyring(
        &h,
        true,
        r#"
        printf pw | "$A" add First --provider custom --account a --client c 2>/dev/null; echo "add=$?"
        "$A" doctor >/dev/null 2>&1; echo "doctor=$?"
        "$A" list --json | tr -d ' \n'; echo
        "#,
    );
    assert!(out.lines().any(|l| l == "add=5"), "{out}");
    // Locked with no apppass item in it: doctor must still see the lock.
    assert!(out.lines().any(|l| l == "doctor=5"), "{out}");
    assert!(out.lines().any(|l| l == "[]"), "{out}");
}
