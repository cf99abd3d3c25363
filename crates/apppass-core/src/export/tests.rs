use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use super::*;
use crate::vault::{Server, ServerSettings};

use crate::vault::test_entry as entry;

fn server(host: &str, port: u16, security: Security) -> Option<Server> {
    Some(Server {
        host: host.into(),
        port,
        security,
    })
}

/// A custom server on loopback with all three protocols.
fn custom(name: &str, account: &str) -> Entry {
    entry(
        name,
        "custom",
        account,
        Some(ServerSettings {
            imap: server("127.0.0.1", 1143, Security::Starttls),
            smtp: server("127.0.0.1", 1587, Security::Starttls),
            pop: server("127.0.0.1", 1995, Security::Tls),
        }),
    )
}

/// Names that need care in every format's quoting.
const TRICKY: &str = "It's \"Ann's\" \\ $HOME `id` #1; (2)";

// ---------- Thunderbird autoconfig ----------

/// A parsed element: name, attributes, text, children.
#[derive(Debug, Default)]
struct El {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<El>,
}

impl El {
    fn child(&self, name: &str) -> &El {
        self.children
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("<{}> has no <{name}>", self.name))
    }
    fn all(&self, name: &str) -> Vec<&El> {
        self.children.iter().filter(|c| c.name == name).collect()
    }
    fn attr(&self, name: &str) -> &str {
        &self.attrs.iter().find(|(k, _)| k == name).unwrap().1
    }
    fn text_of(&self, name: &str) -> &str {
        self.child(name).text.trim()
    }
}

fn parse_xml(text: &str) -> El {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack = vec![El::default()];
    let open = |e: &quick_xml::events::BytesStart| El {
        name: e.name().as_ref().to_string(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    a.key.as_ref().to_string(),
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .unwrap()
                        .into_owned(),
                )
            })
            .collect(),
        ..Default::default()
    };
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => stack.push(open(&e)),
            Event::Empty(e) => {
                let el = open(&e);
                stack.last_mut().unwrap().children.push(el);
            }
            Event::End(_) => {
                let el = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(el);
            }
            Event::Text(t) => {
                let t = t.xml10_content();
                stack.last_mut().unwrap().text.push_str(&t);
            }
            Event::GeneralRef(r) => {
                let name = r.xml10_content();
                let c = match name.as_ref() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("unexpected entity {other}"),
                };
                stack.last_mut().unwrap().text.push_str(c);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements");
    let mut root = stack.pop().unwrap();
    assert_eq!(root.children.len(), 1, "one root element");
    root.children.pop().unwrap()
}

#[test]
fn thunderbird_autoconfig_has_the_client_config_structure() {
    let e = entry("Thunderbird on LAPTOP-42", "icloud", "ann@icloud.com", None);
    let out = render(&e, ExportFormat::Thunderbird, None).unwrap();
    assert_eq!(out.media_type, "text/xml");
    assert_eq!(out.file_name, "icloud.com.xml");
    assert!(!out.contains_password);
    let root = parse_xml(&out.text);
    assert_eq!(root.name, "clientConfig");
    assert_eq!(root.attr("version"), "1.1");
    let p = root.child("emailProvider");
    assert_eq!(p.attr("id"), "icloud.com");
    assert_eq!(p.text_of("domain"), "icloud.com");
    assert_eq!(p.text_of("displayName"), "Apple iCloud");
    let incoming = p.all("incomingServer");
    assert_eq!(incoming.len(), 1, "iCloud has no POP");
    let imap = incoming[0];
    assert_eq!(imap.attr("type"), "imap");
    assert_eq!(imap.text_of("hostname"), "imap.mail.me.com");
    assert_eq!(imap.text_of("port"), "993");
    assert_eq!(imap.text_of("socketType"), "SSL");
    // The actual user name: iCloud IMAP takes the local part.
    assert_eq!(imap.text_of("username"), "ann");
    assert_eq!(imap.text_of("authentication"), "password-cleartext");
    let smtp = p.child("outgoingServer");
    assert_eq!(smtp.attr("type"), "smtp");
    assert_eq!(smtp.text_of("hostname"), "smtp.mail.me.com");
    assert_eq!(smtp.text_of("port"), "587");
    assert_eq!(smtp.text_of("socketType"), "STARTTLS");
    assert_eq!(smtp.text_of("username"), "ann@icloud.com");
    assert_eq!(smtp.text_of("authentication"), "password-cleartext");
}

#[test]
fn thunderbird_autoconfig_escapes_values_and_lists_pop() {
    let account = "a&b<c>\"d'@example.com";
    let e = custom("Tb <&> -- x", account);
    let out = render(&e, ExportFormat::Thunderbird, None).unwrap();
    let root = parse_xml(&out.text);
    let p = root.child("emailProvider");
    let kinds: Vec<&str> = p
        .all("incomingServer")
        .iter()
        .map(|s| s.attr("type"))
        .collect();
    assert_eq!(kinds, ["imap", "pop3"]);
    for s in p.all("incomingServer") {
        assert_eq!(s.text_of("username"), account);
    }
    assert_eq!(p.all("incomingServer")[1].text_of("socketType"), "SSL");
    assert_eq!(p.child("outgoingServer").text_of("username"), account);
    assert_eq!(p.text_of("displayShortName"), "Tb <&> -- x");
    assert!(!out.file_name.contains('/'));
}

// ---------- Apple configuration profile ----------

fn dict(v: &plist::Value) -> &plist::Dictionary {
    v.as_dictionary().expect("a dictionary")
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit() && !c.is_ascii_lowercase()
            }
        })
        && &s[14..15] == "4"
}

#[test]
fn mobileconfig_parses_as_a_plist_with_the_required_keys_and_no_password() {
    let e = entry("Mail on iPhone", "google", "ann@gmail.com", None);
    let out = render(&e, ExportFormat::Mobileconfig, None).unwrap();
    assert_eq!(out.media_type, "application/x-apple-aspen-config");
    assert_eq!(out.file_name, "mail-on-iphone.mobileconfig");
    assert!(!out.contains_password && out.warning.is_none());
    let top = plist::Value::from_reader_xml(out.text.as_bytes()).unwrap();
    let top = dict(&top);
    for key in [
        "PayloadContent",
        "PayloadIdentifier",
        "PayloadType",
        "PayloadUUID",
        "PayloadVersion",
    ] {
        assert!(top.contains_key(key), "{key}");
    }
    assert_eq!(top["PayloadType"].as_string(), Some("Configuration"));
    assert_eq!(top["PayloadVersion"].as_unsigned_integer(), Some(1));
    let payloads = top["PayloadContent"].as_array().unwrap();
    assert_eq!(payloads.len(), 1);
    let mail = dict(&payloads[0]);
    for key in [
        "PayloadType",
        "PayloadVersion",
        "PayloadIdentifier",
        "PayloadUUID",
        "EmailAccountType",
        "IncomingMailServerAuthentication",
        "IncomingMailServerHostName",
        "OutgoingMailServerAuthentication",
        "OutgoingMailServerHostName",
    ] {
        assert!(mail.contains_key(key), "{key}");
    }
    assert_eq!(
        mail["PayloadType"].as_string(),
        Some("com.apple.mail.managed")
    );
    assert_eq!(mail["EmailAccountType"].as_string(), Some("EmailTypeIMAP"));
    assert_eq!(mail["EmailAddress"].as_string(), Some("ann@gmail.com"));
    assert_eq!(
        mail["IncomingMailServerHostName"].as_string(),
        Some("imap.gmail.com")
    );
    assert_eq!(
        mail["IncomingMailServerPortNumber"].as_unsigned_integer(),
        Some(993)
    );
    assert_eq!(mail["IncomingMailServerUseSSL"].as_boolean(), Some(true));
    assert_eq!(
        mail["IncomingMailServerUsername"].as_string(),
        Some("ann@gmail.com")
    );
    assert_eq!(
        mail["OutgoingMailServerHostName"].as_string(),
        Some("smtp.gmail.com")
    );
    assert_eq!(
        mail["OutgoingMailServerPortNumber"].as_unsigned_integer(),
        Some(465)
    );
    assert_eq!(
        mail["OutgoingMailServerAuthentication"].as_string(),
        Some("EmailAuthPassword")
    );
    assert!(!mail.contains_key("IncomingPassword"));
    assert!(!mail.contains_key("OutgoingPassword"));
    let top_uuid = top["PayloadUUID"].as_string().unwrap();
    let mail_uuid = mail["PayloadUUID"].as_string().unwrap();
    assert!(
        is_uuid(top_uuid) && is_uuid(mail_uuid),
        "{top_uuid} {mail_uuid}"
    );
    assert_ne!(top_uuid, mail_uuid);
    assert_ne!(mail["PayloadIdentifier"], top["PayloadIdentifier"]);
    // Random per export.
    let again = render(&e, ExportFormat::Mobileconfig, None).unwrap();
    assert_ne!(*again.text, *out.text);
    // Serialisable for the webview (no password in it).
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["contains_password"], false);
}

#[test]
fn mobileconfig_with_the_password_warns_and_never_serialises() {
    let e = entry("Mail on iPhone", "icloud", "ann@icloud.com", None);
    let password = Secret::from("abcd-efgh-ijkl-mnop");
    let out = render(&e, ExportFormat::Mobileconfig, Some(&password)).unwrap();
    assert!(out.contains_password);
    assert_eq!(out.warning.as_deref(), Some(PASSWORD_WARNING));
    let top = plist::Value::from_reader_xml(out.text.as_bytes()).unwrap();
    let mail = dict(&dict(&top)["PayloadContent"].as_array().unwrap()[0]).clone();
    assert_eq!(
        mail["IncomingPassword"].as_string(),
        Some("abcd-efgh-ijkl-mnop")
    );
    assert_eq!(
        mail["OutgoingPassword"].as_string(),
        Some("abcd-efgh-ijkl-mnop")
    );
    assert_eq!(mail["IncomingMailServerUsername"].as_string(), Some("ann"));
    assert!(serde_json::to_string(&out).is_err());
    assert!(!format!("{out:?}").contains("abcd-efgh"));
}

// ---------- msmtp (the real msmtp accepts the snippet) ----------

fn tool(name: &str) -> String {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{name} is not installed: run `bash scripts/setup.sh --test`"
    );
    String::from_utf8(found.stdout).unwrap().trim().to_string()
}

/// A fake `apppass` on PATH that records its arguments (one per line) and prints a password.
fn fake_apppass(dir: &std::path::Path) -> std::path::PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("apppass");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\necho test-password\n",
            dir.join("argv").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn write_private(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn account_line(text: &str, keyword: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{keyword} ")))
        .unwrap_or_else(|| panic!("no {keyword} line in:\n{text}"))
        .to_string()
}

#[test]
fn msmtp_accepts_its_snippet_and_runs_apppass_get_with_the_exact_name() {
    let msmtp = tool("msmtp");
    for (e, host, port, starttls) in [
        (
            entry("Printer 3F", "google", "scan@gmail.com", None),
            "smtp.gmail.com",
            "465",
            "off",
        ),
        (
            entry("Scanner", "microsoft365", "scan@contoso.com", None),
            "smtp.office365.com",
            "587",
            "on",
        ),
        (custom(TRICKY, "ann@example.com"), "127.0.0.1", "1587", "on"),
    ] {
        let out = render(&e, ExportFormat::Msmtp, None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let bin = fake_apppass(dir.path());
        let rc = dir.path().join("msmtprc");
        write_private(&rc, &out.text);
        let account = account_line(&out.text, "account");
        let run = Command::new(&msmtp)
            .args(["--pretend", "-C"])
            .arg(&rc)
            .args(["-a", &account])
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("HOME", dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            run.status.success(),
            "msmtp refused:\n{}\n{stdout}\n{stderr}",
            *out.text
        );
        assert!(stdout.contains(&format!("host = {host}")), "{stdout}");
        assert!(stdout.contains(&format!("port = {port}")), "{stdout}");
        assert!(stdout.contains("tls = on"), "{stdout}");
        assert!(
            stdout.contains(&format!("tls_starttls = {starttls}")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("user = {}", e.account)),
            "{stdout}"
        );
        // msmtp ran the password command: the shell gave apppass exactly `get NAME`.
        let argv = std::fs::read_to_string(dir.path().join("argv")).unwrap();
        assert_eq!(argv, format!("get\n{}\n", e.name));
    }
}

#[test]
fn snippets_are_refused_without_the_servers_they_need() {
    let ms = entry("Scanner", "microsoft365", "scan@contoso.com", None);
    for f in [
        ExportFormat::Thunderbird,
        ExportFormat::Mobileconfig,
        ExportFormat::Mbsync,
        ExportFormat::Neomutt,
        ExportFormat::Aerc,
    ] {
        let err = render(&ms, f, None).unwrap_err();
        assert_eq!(err.code, Code::MissingServer, "{f:?}");
        assert!(err.message.contains("only SMTP"), "{}", err.message);
    }
    let nc = entry("Files", "nextcloud", "ann", None);
    for f in ExportFormat::ALL {
        let err = render(&nc, f, None).unwrap_err();
        assert_eq!(err.code, Code::MissingServer);
        assert!(err.message.contains("no mail server"), "{}", err.message);
    }
    let pw = Secret::from("x");
    let err = render(&custom("x", "a@b"), ExportFormat::Msmtp, Some(&pw)).unwrap_err();
    assert_eq!(err.code, Code::InvalidInput);
}

// ---------- mbsync (parse check by the real mbsync) ----------

#[test]
fn mbsync_loads_its_snippet_without_configuration_errors() {
    let mbsync = tool("mbsync");
    for e in [
        entry("Laptop mbsync", "fastmail", "ann@fastmail.com", None),
        custom(TRICKY, "ann \"x\"@example.com"),
    ] {
        let out = render(&e, ExportFormat::Mbsync, None).unwrap();
        // PassCmd: a double-quoted argument with \" and \\ escaped, as mbsync(1) asks.
        let pass = account_line(&out.text, "PassCmd");
        let inner = pass.strip_prefix('"').unwrap().strip_suffix('"').unwrap();
        let unescaped = inner.replace("\\\"", "\"").replace("\\\\", "\\");
        assert_eq!(unescaped, get_command(&e.name));
        let dir = tempfile::tempdir().unwrap();
        let rc = dir.path().join("mbsyncrc");
        write_private(&rc, &out.text);
        let channel = account_line(&out.text, "Channel");
        // No network here: mbsync reads the file, then fails at the mail store or the server.
        let run = Command::new(&mbsync)
            .arg("-c")
            .arg(&rc)
            .args(["-l", &channel])
            .env("HOME", dir.path())
            .env("PATH", "/nonexistent")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        let rc_name = rc.display().to_string();
        assert!(
            !stderr.contains(&format!("{rc_name}:")) && !stderr.contains("not recognized"),
            "mbsync found configuration errors:\n{}\n{stderr}",
            *out.text
        );
        // And the same check does catch an error.
        write_private(&rc, &format!("{}\nBogusKeyword 1\n", *out.text));
        let bad = Command::new(&mbsync)
            .arg("-c")
            .arg(&rc)
            .args(["-l", &channel])
            .env("HOME", dir.path())
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&bad.stderr).contains(&format!("{rc_name}:")));
    }
}

// ---------- NeoMutt and aerc (parse-level checks) ----------

#[test]
fn neomutt_snippet_sets_quoted_values_and_runs_apppass_get() {
    let e = entry("NeoMutt on laptop", "icloud", "ann@icloud.com", None);
    let out = render(&e, ExportFormat::Neomutt, None).unwrap();
    let mut vars = std::collections::HashMap::new();
    for line in out.text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let rest = line
            .strip_prefix("set ")
            .unwrap_or_else(|| panic!("not a set line: {line}"));
        let (var, value) = rest.split_once(" = ").unwrap();
        assert!(
            var.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{var}"
        );
        vars.insert(var.to_string(), value.to_string());
    }
    let quoted = |v: &str| -> String {
        let value = &vars[v];
        assert!(
            value == "yes" || (value.starts_with('"') && value.ends_with('"')),
            "{v} = {value}"
        );
        value.trim_matches('"').to_string()
    };
    assert_eq!(quoted("ssl_force_tls"), "yes");
    assert_eq!(quoted("imap_user"), "ann");
    assert_eq!(quoted("folder"), "imaps://imap.mail.me.com:993/");
    assert_eq!(
        quoted("smtp_url"),
        "smtp://ann%40icloud.com@smtp.mail.me.com:587"
    );
    assert_eq!(quoted("ssl_starttls"), "yes");
    let cmd = format!("`{}`", get_command(&e.name));
    assert_eq!(quoted("imap_pass"), cmd);
    assert_eq!(quoted("smtp_pass"), cmd);
    // Names that NeoMutt's quoting cannot hold are refused, with what to do.
    let err = render(&custom(TRICKY, "a@b"), ExportFormat::Neomutt, None).unwrap_err();
    assert_eq!(err.code, Code::InvalidInput);
    assert!(err.message.contains("apppass rename"), "{}", err.message);
    let err = render(&custom("ok", "a`id`@b"), ExportFormat::Neomutt, None).unwrap_err();
    assert!(err.message.contains("account"), "{}", err.message);
}

#[test]
fn aerc_snippet_is_an_ini_section_with_urls_and_cred_commands() {
    let e = custom("aerc on desk (it's mine)", "ann+x@example.com");
    let out = render(&e, ExportFormat::Aerc, None).unwrap();
    let mut lines = out
        .text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty());
    assert_eq!(lines.next(), Some("[aerc-on-desk-it-s-mine]"));
    let kv: std::collections::HashMap<&str, &str> = lines
        .map(|l| {
            l.split_once(" = ")
                .unwrap_or_else(|| panic!("not key = value: {l}"))
        })
        .collect();
    let source = url::Url::parse(kv["source"]).unwrap();
    assert_eq!(source.scheme(), "imap", "STARTTLS is aerc's plain imap://");
    assert_eq!(source.host_str(), Some("127.0.0.1"));
    assert_eq!(source.port(), Some(1143));
    let user = percent_decode(source.username());
    assert_eq!(user, "ann+x@example.com");
    let outgoing = url::Url::parse(kv["outgoing"]).unwrap();
    assert_eq!((outgoing.scheme(), outgoing.port()), ("smtp", Some(1587)));
    assert_eq!(kv["source-cred-cmd"], get_command(&e.name));
    assert_eq!(kv["outgoing-cred-cmd"], get_command(&e.name));
    assert_eq!(kv["from"], "ann+x@example.com");
    // The shell hands apppass the exact name.
    let argv = Command::new("sh")
        .arg("-c")
        .arg(kv["source-cred-cmd"].replacen("apppass", "printf '%s\\n'", 1))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(argv.stdout).unwrap(),
        format!("get\n{}\n", e.name)
    );
    let tls = render(
        &entry("x", "google", "a@gmail.com", None),
        ExportFormat::Aerc,
        None,
    )
    .unwrap();
    assert!(tls
        .text
        .contains("source = imaps://a%40gmail.com@imap.gmail.com:993\n"));
    assert!(tls
        .text
        .contains("outgoing = smtps://a%40gmail.com@smtp.gmail.com:465\n"));
    let err = render(&custom("Printer #3", "a@b"), ExportFormat::Aerc, None).unwrap_err();
    assert_eq!(err.code, Code::InvalidInput);
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn get_command_quotes_any_name_for_the_shell() {
    for name in [TRICKY, "plain", "'", "''", "a'b'c", "$(id)", "x\\'y"] {
        let run = Command::new("sh")
            .arg("-c")
            .arg(get_command(name).replacen("apppass", "printf '%s\\n'", 1))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(run.stdout).unwrap(),
            format!("get\n{name}\n")
        );
    }
    assert_eq!(
        slug(" Thunderbird on LAPTOP-42 (2) "),
        "thunderbird-on-laptop-42-2"
    );
    assert_eq!(slug("ÄÖÜ"), "apppass");
}
