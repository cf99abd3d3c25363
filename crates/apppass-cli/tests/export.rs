//! `apppass clients`, `apppass preflight` and `apppass export`. The export tests store an entry in
//! the real keyring (run inside scripts/with-keyring.sh, as scripts/test.sh does).

mod common;

use common::*;

#[test]
fn clients_and_preflight_need_no_store() {
    let home = Home::new();
    let out = home.cmd(["clients", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"thunderbird") && ids.contains(&"printer"),
        "{ids:?}"
    );

    // The verdict follows the date: SMTP AUTH until the end of December 2026, then off by default.
    for (date, verdict, accepts) in [
        ("2026-12-31", "works", "yes"),
        ("2027-01-01", "partly", "off_by_default"),
    ] {
        let out = home
            .cmd([
                "preflight",
                "--provider",
                "microsoft365",
                "--client",
                "printer",
                "--date",
                date,
                "--json",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["verdict"], verdict, "{date}");
        assert_eq!(v["lines"][0]["protocol"], "smtp");
        assert_eq!(v["lines"][0]["accepts"], accepts);
        assert!(v["lines"][0]["source"]
            .as_str()
            .unwrap()
            .starts_with("https://"));
    }
    let out = home
        .cmd([
            "preflight",
            "--provider",
            "microsoft365",
            "--client",
            "thunderbird",
            "--date",
            "2026-11-25",
        ])
        .output()
        .unwrap();
    let t = text(&out.stdout);
    assert!(t.contains(": no\n") && t.contains("OAuth"), "{t}");
    // Unknown ids: exit 7 with the known ones listed.
    let out = home
        .cmd(["preflight", "--provider", "google", "--client", "pine"])
        .output()
        .unwrap();
    let line = one_line_failure(&out, 7);
    assert!(line.contains("thunderbird"), "{line}");
}

#[test]
fn export_writes_configurations_and_the_password_only_when_asked() {
    if !keyring("export_writes_configurations_and_the_password_only_when_asked") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    let secret = "abcd efgh ijkl mnop";
    home.cmd([
        "add",
        "Phone",
        "--provider",
        "icloud",
        "--account",
        "ann@icloud.com",
        "--client",
        "ios_mail",
    ])
    .write_stdin(secret)
    .assert()
    .success();
    // Thunderbird XML on stdout, never with the password.
    let out = home
        .cmd(["export", "phone", "--format", "thunderbird"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let xml = text(&out.stdout);
    assert!(
        xml.contains("<clientConfig version=\"1.1\">") && xml.contains("imap.mail.me.com"),
        "{xml}"
    );
    assert!(!xml.contains("abcd-efgh"));
    // msmtp snippet runs apppass get.
    let out = home
        .cmd(["export", "Phone", "--format", "msmtp"])
        .output()
        .unwrap();
    assert!(text(&out.stdout).contains("passwordeval \"apppass get 'Phone'\""));
    // mbsync works (IMAP); a profile without --output holds no password.
    let out = home
        .cmd(["export", "Phone", "--format", "mobileconfig"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!text(&out.stdout).contains("<key>IncomingPassword</key>"));
    // --include-password: mobileconfig only, needs --output, writes 0600 and warns.
    let out = home
        .cmd(["export", "Phone", "--format", "msmtp", "--include-password"])
        .output()
        .unwrap();
    one_line_failure(&out, 7);
    let out = home
        .cmd([
            "export",
            "Phone",
            "--format",
            "mobileconfig",
            "--include-password",
        ])
        .output()
        .unwrap();
    one_line_failure(&out, 7);
    let file = home.path().join("phone.mobileconfig");
    std::fs::write(&file, "old").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = home
        .cmd([
            "export",
            "Phone",
            "--format",
            "mobileconfig",
            "--include-password",
            "--output",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("holds the app password in clear text"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let profile = std::fs::read_to_string(&file).unwrap();
    assert!(
        profile.contains("<key>IncomingPassword</key>") && profile.contains("abcd-efgh-ijkl-mnop")
    );
    std::fs::remove_file(&file).unwrap();

    // A Microsoft 365 entry has only SMTP: formats that read mail are refused (exit 7).
    home.cmd([
        "add",
        "Scanner",
        "--provider",
        "microsoft365",
        "--account",
        "scan@contoso.com",
        "--client",
        "printer",
    ])
    .write_stdin("opaquepassword16")
    .assert()
    .success();
    let out = home
        .cmd(["export", "Scanner", "--format", "mbsync"])
        .output()
        .unwrap();
    let line = one_line_failure(&out, 7);
    assert!(line.contains("only SMTP"), "{line}");
    let out = home
        .cmd(["export", "Scanner", "--format", "msmtp"])
        .output()
        .unwrap();
    assert!(text(&out.stdout).contains("host smtp.office365.com\nport 587\n"));
}
