//! CLI tests that need no OS keyring: help and exit-status documentation, usage errors,
//! completions, settings, providers, checks made before any store is opened, and the encrypted
//! file store driven through APPPASS_PASSPHRASE_FD. Every command runs with a D-Bus address where
//! nothing listens, so no test here can touch a real keyring.

mod common;

use common::*;

const STRONG: &str = "violet tractor sings under ninety lamps";

fn home() -> Home {
    Home::new()
}

/// `apppass ARGS` with no keyring reachable.
fn cmd<I, S>(home: &Home, args: I) -> std::process::Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut c = home.std_cmd(args);
    c.env("DBUS_SESSION_BUS_ADDRESS", DEAD_BUS)
        .stdin(std::process::Stdio::null());
    c
}

fn run(home: &Home, args: &[&str]) -> std::process::Output {
    cmd(home, args).output().unwrap()
}

/// `apppass ARGS` with the passphrase on descriptor 3 and `stdin` on standard input.
fn run_fd(home: &Home, pass: &str, args: &[&str], stdin: &str) -> std::process::Output {
    let mut c = cmd(home, args);
    let _keep = passphrase_fd(&mut c, pass);
    let mut a = assert_cmd::Command::from_std(c);
    a.write_stdin(stdin)
        .timeout(std::time::Duration::from_secs(60));
    a.output().unwrap()
}

fn exit_table_of(help: &str) -> String {
    let start = help
        .find("Exit status:")
        .expect("help has an exit-status table");
    let rest = &help[start..];
    let end = rest.find("\n\n").unwrap_or(rest.len());
    rest[..end].to_string()
}

#[test]
fn help_documents_every_exit_status() {
    let out = run(&home(), &["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    let table = exit_table_of(&help);
    for (status, words) in [
        (0, "success"),
        (1, "internal error"),
        (2, "usage error"),
        (3, "not found"),
        (4, "KeyringUnavailable"),
        (5, "KeyringLocked"),
        (6, "DataCorrupt"),
        (7, "invalid input"),
        (8, "NameTaken"),
        (9, "StorageFailure"),
    ] {
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("  {status}  ")))
            .unwrap_or_else(|| panic!("no line for {status} in:\n{table}"));
        assert!(line.contains(words), "{line}");
    }
    for code in [
        "PassphraseRequired",
        "WrongPassphrase",
        "SecretMissing",
        "EmptySecret",
        "SecretTooLarge",
        "UnknownProvider",
        "WeakPassphrase",
        "FormatMismatch",
    ] {
        assert!(table.contains(code), "{code} missing from:\n{table}");
    }
    assert!(help.contains("APPPASS_HOME") && help.contains("APPPASS_PASSPHRASE_FD"));
}

#[test]
fn docs_cli_md_has_the_same_exit_table_and_every_command() {
    let help = text(&run(&home(), &["--help"]).stdout);
    let doc = std::fs::read_to_string(repo_root().join("docs/CLI.md")).unwrap();
    let table = exit_table_of(&help);
    assert!(
        doc.contains(&table),
        "docs/CLI.md must contain the exit-status table of `apppass --help` verbatim:\n{table}"
    );
    for command in [
        "apppass add",
        "apppass get",
        "apppass list",
        "apppass search",
        "apppass info",
        "apppass rename",
        "apppass rm",
        "apppass rotate",
        "apppass health",
        "apppass audit",
        "apppass doctor",
        "apppass settings",
        "apppass store",
        "apppass providers",
        "apppass completions",
        "apppass login",
        "apppass logout",
        "apppass whoami",
        "apppass mfa status",
    ] {
        assert!(
            doc.contains(command),
            "docs/CLI.md does not mention `{command}`"
        );
    }
}

#[test]
fn every_command_has_help() {
    let h = home();
    for args in [
        vec!["add"],
        vec!["get"],
        vec!["list"],
        vec!["search"],
        vec!["info"],
        vec!["rename"],
        vec!["rm"],
        vec!["rotate"],
        vec!["health"],
        vec!["audit"],
        vec!["doctor"],
        vec!["settings"],
        vec!["settings", "show"],
        vec!["settings", "set"],
        vec!["store"],
        vec!["store", "status"],
        vec!["store", "use-file"],
        vec!["store", "use-keyring"],
        vec!["providers"],
        vec!["completions"],
        vec!["mfa"],
        vec!["mfa", "status"],
        vec!["login"],
        vec!["logout"],
        vec!["whoami"],
    ] {
        let mut full = args.clone();
        full.push("--help");
        let out = run(&h, &full);
        assert!(out.status.success(), "{full:?}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.contains("Usage: apppass"), "{full:?}: {stdout}");
    }
    let get = text(&run(&h, &["get", "--help"]).stdout);
    assert!(get.contains("passwordeval") && get.contains("PassCmd"));
    assert!(
        !h.path().join("vault.sqlite3").exists(),
        "help touches no data"
    );
}

#[test]
fn usage_errors_exit_2() {
    let h = home();
    for args in [
        vec![],
        vec!["frobnicate"],
        vec!["get"],
        vec!["get", "a", "b"],
        vec!["add", "x"],
        vec!["add", "x", "--provider", "google", "--account", "a"],
        // There is no way to give a password on the command line.
        vec![
            "add",
            "x",
            "--provider",
            "google",
            "--account",
            "a",
            "--client",
            "c",
            "--password",
            "hunter2",
        ],
        vec![
            "add",
            "x",
            "--provider",
            "custom",
            "--account",
            "a",
            "--client",
            "c",
            "--kind",
            "other",
        ],
        vec![
            "add",
            "x",
            "--provider",
            "custom",
            "--account",
            "a",
            "--client",
            "c",
            "--imap-port",
            "99999",
        ],
        vec!["settings", "set", "colour", "3"],
        vec!["store", "use-cloud"],
        vec!["completions", "tcsh"],
        vec!["list", "--jsn"],
    ] {
        let out = run(&h, &args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
    assert!(!h.path().join("vault.sqlite3").exists());
}

#[test]
fn version_is_printed() {
    let out = run(&home(), &["--version"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("apppass "));
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let h = home();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef apppass"),
        ("fish", "complete -c apppass"),
    ] {
        let out = run(&h, &["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}: {marker}");
        for sub in ["add", "get", "rotate", "use-file"] {
            assert!(script.contains(sub), "{shell} completes {sub}");
        }
    }
}

#[test]
fn settings_show_set_and_refuse_out_of_range() {
    let h = home();
    let out = run(&h, &["settings"]);
    assert!(out.status.success());
    let shown = text(&out.stdout);
    assert!(shown.contains("rotation_days") && shown.contains("180"));
    assert!(shown.contains("store") && shown.contains("keyring"));

    for (key, value) in [
        ("rotation_days", "90"),
        ("clipboard_clear_seconds", "0"),
        ("reveal_hide_seconds", "20"),
    ] {
        let out = run(&h, &["settings", "set", key, value]);
        assert!(out.status.success(), "{key}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(value));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&run(&h, &["settings", "show", "--json"]).stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"clipboard_clear_seconds": 0, "reveal_hide_seconds": 20, "rotation_days": 90, "store": "keyring"})
    );

    let msg = one_line_failure(&run(&h, &["settings", "set", "rotation_days", "1"]), 7);
    assert!(msg.contains("7 and 3650"), "{msg}");
    let msg = one_line_failure(
        &run(&h, &["settings", "set", "reveal_hide_seconds", "ten"]),
        7,
    );
    assert!(msg.contains("whole number"), "{msg}");
    one_line_failure(
        &run(&h, &["settings", "set", "clipboard_clear_seconds", "-1"]),
        7,
    );
    let again: serde_json::Value =
        serde_json::from_slice(&run(&h, &["settings", "--json"]).stdout).unwrap();
    assert_eq!(again, json, "refused values change nothing");
}

#[test]
fn damaged_settings_are_data_corrupt() {
    let h = home();
    std::fs::write(h.path().join("settings.toml"), "rotation_days = \"soon\"").unwrap();
    let msg = one_line_failure(&run(&h, &["settings"]), 6);
    assert!(msg.contains("settings.toml"), "{msg}");
    one_line_failure(&run(&h, &["get", "x"]), 6);
}

#[test]
fn providers_are_listed_with_their_pages() {
    let h = home();
    let out = run(&h, &["providers"]);
    assert!(out.status.success());
    let table = text(&out.stdout);
    assert!(table.starts_with("ID"));
    assert!(
        table.contains("google") && table.contains("https://myaccount.google.com/apppasswords")
    );
    let json: serde_json::Value =
        serde_json::from_slice(&run(&h, &["providers", "--json"]).stdout).unwrap();
    let ids: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"microsoft365") && ids.contains(&"custom"));
}

#[test]
fn add_refuses_bad_input_before_any_store_is_opened() {
    let h = home();
    let base = |name: &str, provider: &str| -> Vec<String> {
        [
            "add",
            name,
            "--provider",
            provider,
            "--account",
            "a@b.c",
            "--client",
            "mutt",
        ]
        .map(String::from)
        .to_vec()
    };
    let msg = one_line_failure(&cmd(&h, base("x", "hotmale")).output().unwrap(), 7);
    assert!(
        msg.contains("Unknown provider") && msg.contains("google"),
        "{msg}"
    );
    for bad in ["tab\there", "new\nline", "esc\u{1b}[31m", "   "] {
        let msg = one_line_failure(&cmd(&h, base(bad, "google")).output().unwrap(), 7);
        assert!(msg.contains("name"), "{bad:?}: {msg}");
    }
    let mut args = base("x", "google");
    args.extend(["--imap-host".into(), "imap.example.com".into()]);
    let msg = one_line_failure(&cmd(&h, &args).output().unwrap(), 7);
    assert!(msg.contains("--provider custom"), "{msg}");
    let mut args = base("x", "custom");
    args.extend(["--smtp-port".into(), "587".into()]);
    let msg = one_line_failure(&cmd(&h, &args).output().unwrap(), 7);
    assert!(msg.contains("--smtp-host"), "{msg}");
    assert!(
        !h.path().join("vault.sqlite3").exists(),
        "nothing was created"
    );
}

#[test]
fn without_any_keyring_commands_exit_4_and_offer_the_file_store() {
    let h = home();
    for args in [
        vec!["list"],
        vec!["get", "x"],
        vec!["doctor"],
        vec!["store", "status"],
    ] {
        let out = run(&h, &args);
        if args == ["store", "status"] {
            assert_eq!(out.status.code(), Some(4));
            assert!(text(&out.stdout).contains("apppass store use-file"));
            continue;
        }
        let msg = one_line_failure(&out, 4);
        assert!(msg.contains("apppass store use-file"), "{msg}");
    }
    let out = cmd(
        &h,
        [
            "add",
            "x",
            "--provider",
            "custom",
            "--account",
            "a",
            "--client",
            "c",
        ],
    )
    .stdin(std::process::Stdio::piped())
    .output()
    .unwrap();
    one_line_failure(&out, 4);
    assert!(
        !h.path().join("vault.sqlite3").exists(),
        "nothing was created"
    );
}

#[test]
fn audit_of_a_fresh_profile_is_empty() {
    let h = home();
    let out = run(&h, &["audit", "--json"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout).trim(), "[]");
    let out = run(&h, &["audit"]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("empty"));
}

// ---- the encrypted file store, through APPPASS_PASSPHRASE_FD ----------------------------------

fn file_store_home() -> Home {
    let h = home();
    let out = run_fd(&h, STRONG, &["store", "use-file"], "");
    assert!(out.status.success(), "use-file: {}", text(&out.stderr));
    h
}

#[test]
fn weak_passphrase_is_refused_with_zxcvbn_advice_and_changes_nothing() {
    let h = home();
    for weak in ["password1", "apppass2024", "qwertyuiop"] {
        let out = run_fd(&h, weak, &["store", "use-file"], "");
        let msg = one_line_failure(&out, 7);
        assert!(msg.contains("too easy to guess"), "{msg}");
        assert!(msg.contains("strength"), "{msg}");
        assert!(!msg.contains(weak), "the passphrase is never echoed: {msg}");
    }
    assert!(!h.path().join("secrets.enc").exists());
    let settings = text(&run(&h, &["settings"]).stdout);
    assert!(settings.contains("keyring"), "{settings}");
}

#[test]
fn file_store_round_trip_without_a_keyring() {
    let h = file_store_home();
    let secret = "file-store-canary-7f3a9";
    let status = text(&run(&h, &["store", "status"]).stdout);
    assert!(status.contains("encrypted_file"), "{status}");

    let out = run_fd(
        &h,
        STRONG,
        &[
            "add",
            "Laptop mutt",
            "--provider",
            "custom",
            "--account",
            "a@b.c",
            "--client",
            "mutt",
        ],
        &format!("{secret}\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("Added \"Laptop mutt\""));

    let out = run_fd(&h, STRONG, &["get", "laptop MUTT"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{secret}\n"));
    assert!(out.stderr.is_empty());

    let out = run_fd(&h, STRONG, &["list", "--json"], "");
    assert_eq!(names_of(&out.stdout), ["Laptop mutt"]);
    let out = run_fd(&h, STRONG, &["rename", "Laptop mutt", "Desk mutt"], "");
    assert!(out.status.success());
    let out = run_fd(&h, STRONG, &["rotate", "Desk mutt"], "rotated-canary-2\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run_fd(&h, STRONG, &["get", "Desk mutt"], "");
    assert_eq!(text(&out.stdout), "rotated-canary-2\n");

    let out = run_fd(&h, STRONG, &["doctor", "--json"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["store"].as_str().unwrap().contains("encrypted file"));
    assert_eq!(report["store_problem"], serde_json::Value::Null);
    assert_eq!(report["entries"], 1);
    assert_eq!(report["orphans_removed"], 0);

    for needle in [secret, "rotated-canary-2", STRONG] {
        assert_eq!(
            h.files_containing(needle),
            Vec::<std::path::PathBuf>::new(),
            "{needle:?} appears in the data directory"
        );
    }

    let out = run_fd(&h, STRONG, &["rm", "Desk mutt"], "");
    assert!(out.status.success());
    let out = run_fd(&h, STRONG, &["list", "--json"], "");
    assert!(names_of(&out.stdout).is_empty());
}

#[test]
fn wrong_or_missing_passphrase_exits_5_and_changes_nothing() {
    let h = file_store_home();
    let out = run_fd(
        &h,
        STRONG,
        &[
            "add",
            "kept",
            "--provider",
            "custom",
            "--account",
            "a",
            "--client",
            "c",
        ],
        "kept-secret",
    );
    assert!(out.status.success());

    let wrong = "violet tractor sings under ninety lamp";
    for args in [vec!["get", "kept"], vec!["list"], vec!["rm", "kept"]] {
        let msg = one_line_failure(&run_fd(&h, wrong, &args, ""), 5);
        assert!(msg.contains("passphrase"), "{msg}");
    }
    let out = run_fd(
        &h,
        wrong,
        &[
            "add",
            "other",
            "--provider",
            "custom",
            "--account",
            "a",
            "--client",
            "c",
        ],
        "x",
    );
    one_line_failure(&out, 5);

    // No descriptor and no terminal: fails at once, never waits for input.
    let started = std::time::Instant::now();
    let msg = one_line_failure(&run(&h, &["get", "kept"]), 5);
    assert!(msg.contains("APPPASS_PASSPHRASE_FD"), "{msg}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let out = cmd(&h, ["get", "kept"])
        .stdin(std::process::Stdio::piped())
        .output()
        .unwrap();
    one_line_failure(&out, 5);

    let out = run_fd(&h, STRONG, &["list", "--json"], "");
    assert_eq!(names_of(&out.stdout), ["kept"]);
    let out = run_fd(&h, STRONG, &["get", "kept"], "");
    assert_eq!(text(&out.stdout), "kept-secret\n");
}

#[test]
fn passphrase_descriptor_may_be_stdin_and_must_be_valid() {
    let h = file_store_home();
    let out = run_fd(
        &h,
        STRONG,
        &[
            "add",
            "e",
            "--provider",
            "custom",
            "--account",
            "a",
            "--client",
            "c",
        ],
        "stdin-fd-secret",
    );
    assert!(out.status.success());
    // APPPASS_PASSPHRASE_FD=0: the passphrase is the first line of stdin.
    let out = assert_cmd::Command::from_std(cmd(&h, ["get", "e"]))
        .env("APPPASS_PASSPHRASE_FD", "0")
        .write_stdin(format!("{STRONG}\n"))
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout),
        "stdin-fd-secret\n",
        "{}",
        text(&out.stderr)
    );

    for bad in ["three", "-1", "47"] {
        let out = cmd(&h, ["get", "e"])
            .env("APPPASS_PASSPHRASE_FD", bad)
            .output()
            .unwrap();
        let msg = one_line_failure(&out, 7);
        assert!(msg.contains("APPPASS_PASSPHRASE_FD"), "{bad}: {msg}");
    }
}

#[test]
fn use_file_needs_a_passphrase_from_somewhere() {
    let h = home();
    let msg = one_line_failure(&run(&h, &["store", "use-file"]), 5);
    assert!(msg.contains("APPPASS_PASSPHRASE_FD"), "{msg}");
    assert!(!h.path().join("secrets.enc").exists());
}

#[test]
fn switching_back_to_an_unreachable_keyring_changes_nothing() {
    let h = file_store_home();
    let out = run_fd(
        &h,
        STRONG,
        &[
            "add",
            "e",
            "--provider",
            "custom",
            "--account",
            "a",
            "--client",
            "c",
        ],
        "stays-in-file",
    );
    assert!(out.status.success());
    one_line_failure(&run_fd(&h, STRONG, &["store", "use-keyring"], ""), 4);
    let out = run_fd(&h, STRONG, &["get", "e"], "");
    assert_eq!(text(&out.stdout), "stays-in-file\n");
    let settings = text(&run(&h, &["settings"]).stdout);
    assert!(settings.contains("encrypted_file"), "{settings}");
    // Already on the file store: nothing to do.
    let out = run_fd(&h, STRONG, &["store", "use-file"], "");
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("Already"));
}

#[test]
fn huge_stdin_fails_fast_with_secret_too_large() {
    let h = file_store_home();
    let big = vec![b'x'; 10 * 1024 * 1024];
    let started = std::time::Instant::now();
    let mut c = cmd(
        &h,
        [
            "add",
            "big",
            "--provider",
            "custom",
            "--account",
            "a",
            "--client",
            "c",
        ],
    );
    let _keep = passphrase_fd(&mut c, STRONG);
    let out = assert_cmd::Command::from_std(c)
        .write_stdin(big)
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    let msg = one_line_failure(&out, 7);
    assert!(msg.contains("64 KiB"), "{msg}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    let out = run_fd(&h, STRONG, &["list", "--json"], "");
    assert!(names_of(&out.stdout).is_empty());
}

#[test]
fn list_output_is_an_aligned_table_with_ages() {
    let h = file_store_home();
    for (name, client) in [("Short", "thunderbird"), ("A much longer name", "mutt")] {
        let out = run_fd(
            &h,
            STRONG,
            &[
                "add",
                name,
                "--provider",
                "fastmail",
                "--account",
                "a@fastmail.com",
                "--client",
                client,
            ],
            "pw",
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = run_fd(&h, STRONG, &["list"], "");
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("NAME") && lines[0].ends_with("AGE"));
    let col = lines[0].find("CLIENT").unwrap();
    for line in &lines[1..] {
        assert!(line.ends_with("today"), "{line}");
        assert_ne!(line.as_bytes()[col - 1], b' ' + 1);
    }
    assert_eq!(lines[1].find("mutt"), Some(col), "{table}");
    assert_eq!(lines[2].find("thunderbird"), Some(col), "{table}");

    let out = run_fd(&h, STRONG, &["search", "thunder"], "");
    assert!(text(&out.stdout).contains("Short"));
    let out = run_fd(&h, STRONG, &["search", "nothing-like-this"], "");
    assert!(out.status.success() && out.stdout.is_empty());
    let out = run_fd(&h, STRONG, &["search", "--json", "LONGER"], "");
    assert_eq!(names_of(&out.stdout), ["A much longer name"]);
}

#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let h = file_store_home();
    // `apppass completions bash | head -c1`: the reader goes away; no panic, no error message.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{BIN}' completions bash | head -c1 >/dev/null; echo done"
        ))
        .env("APPPASS_HOME", h.path())
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "done\n");
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn damaged_data_is_exit_6_and_an_unusable_home_exit_9() {
    let h = file_store_home();
    let out = run_fd(
        &h,
        STRONG,
        &[
            "add",
            "e",
            "--provider",
            "custom",
            "--account",
            "a",
            "--client",
            "c",
        ],
        "pw",
    );
    assert!(out.status.success());

    // The encrypted store file damaged: reported, not replaced.
    let store = h.path().join("secrets.enc");
    let original = std::fs::read(&store).unwrap();
    std::fs::write(&store, b"{ not an apppass store").unwrap();
    let msg = one_line_failure(&run_fd(&h, STRONG, &["get", "e"], ""), 6);
    assert!(msg.contains("damaged"), "{msg}");
    assert_eq!(std::fs::read(&store).unwrap(), b"{ not an apppass store");
    std::fs::write(&store, &original).unwrap();

    // The database damaged.
    for f in ["vault.sqlite3-wal", "vault.sqlite3-shm"] {
        let _ = std::fs::remove_file(h.path().join(f));
    }
    std::fs::write(h.path().join("vault.sqlite3"), vec![0x5a; 8192]).unwrap();
    let msg = one_line_failure(&run_fd(&h, STRONG, &["get", "e"], ""), 6);
    assert!(msg.contains("damaged"), "{msg}");

    // APPPASS_HOME is a file, not a folder.
    let file = tempfile::NamedTempFile::new().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["get", "e"])
        .env("APPPASS_HOME", file.path())
        .env("DBUS_SESSION_BUS_ADDRESS", DEAD_BUS)
        .output()
        .unwrap();
    let msg = one_line_failure(&out, 9);
    assert!(
        msg.contains("APPPASS_HOME") || msg.contains("folder"),
        "{msg}"
    );
}

#[test]
fn the_binary_links_no_gui_library() {
    let out = match std::process::Command::new("ldd").arg(BIN).output() {
        Ok(out) if out.status.success() => out,
        _ => {
            skipped("the_binary_links_no_gui_library", "ldd is not available");
            return;
        }
    };
    let libs = text(&out.stdout).to_lowercase();
    for gui in ["webkit", "gtk", "gdk", "javascriptcore", "soup"] {
        assert!(!libs.contains(gui), "apppass links {gui}:\n{libs}");
    }
}
