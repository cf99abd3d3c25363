//! Each command: a thin call into apppass-core, then printing. Domain rules live in the core.

use std::sync::Arc;

use apppass_core::audit::AuditLog;
use apppass_core::catalog;
use apppass_core::clock::{Clock, SystemClock};
use apppass_core::open::{open_vault, use_file_store};
use apppass_core::profile::Profile;
use apppass_core::settings::{Settings, StoreKind};
use apppass_core::vault::file_store::check_passphrase;
use apppass_core::vault::store::{KeyringStore, SecretStore};
use apppass_core::vault::{
    Access, DoctorReport, Entry, EntryKind, NewEntry, Security, Server, ServerSettings, Vault,
};
use apppass_core::wire::StoreStatus;
use apppass_core::{Code, Failure};
use serde::Serialize;

use crate::cli::{
    AddArgs, Command, DoctorArgs, KindArg, ProtocolArg, SecurityArg, ServerArgs, SettingKey,
    SettingsAction, StoreAction, TestArgs,
};
use crate::exit;
use crate::input;
use crate::output::{self, note, out};

/// Where the vault's audit lines say a change came from.
const VIA: &str = "cli";

/// Runs a command. `Ok(status)` is the exit status of a command that ran (a report may end
/// non-zero, e.g. `doctor` when the store cannot be reached).
pub fn run(command: Command) -> Result<u8, Failure> {
    if let Command::Completions { shell } = command {
        return completions(shell);
    }
    let profile = Profile::from_env()?;
    match command {
        Command::Add(args) => add(&profile, args),
        Command::Get { name } => get(&profile, &name),
        Command::List(f) => list(&profile, None, f.json),
        Command::Search { query, json } => list(&profile, Some(&query), json.json),
        Command::Info { name, json } => info(&profile, &name, json.json),
        Command::Rename { old, new } => rename(&profile, &old, &new),
        Command::Rm { name } => remove(&profile, &name),
        Command::Rotate { name, mark_only } => rotate(&profile, &name, mark_only),
        Command::Health(f) => health(&profile, f.json),
        Command::Audit { last, json } => audit(&profile, last, json.json),
        Command::Doctor(f) if f.restore => restore(&profile, f.json),
        Command::Doctor(f) => doctor(&profile, &f),
        Command::Test(args) => test(&profile, args),
        Command::Settings { action, json } => match action {
            None => show_settings(&profile, json.json),
            Some(SettingsAction::Show(f)) => show_settings(&profile, f.json),
            Some(SettingsAction::Set { key, value }) => set_setting(&profile, key, &value),
        },
        Command::Store { action } => match action {
            StoreAction::Status(f) => store_status(&profile, f.json),
            StoreAction::UseFile => use_file(&profile),
            StoreAction::UseKeyring => use_keyring(&profile),
        },
        Command::Providers(f) => providers(f.json),
        Command::Clients(f) => crate::catalog_cmds::clients(f.json),
        Command::Preflight(args) => crate::catalog_cmds::preflight(args),
        Command::Export(args) => crate::catalog_cmds::export(&profile, args),
        Command::Login(args) => crate::signin::login(&profile, args),
        Command::Logout => crate::signin::logout(&profile),
        Command::Whoami(f) => crate::signin::whoami(&profile, f.json),
        Command::Mfa {
            action: crate::cli::MfaAction::Status { json, graph_url },
        } => crate::mfa::status(&profile, json.json, graph_url),
        Command::Bridge { action } => crate::bridge::run(&profile, action),
        Command::Completions { .. } => unreachable!("handled above"),
    }
}

/// The profile's vault with its configured store; the passphrase (file store only) comes from
/// APPPASS_PASSPHRASE_FD or a terminal prompt, never by waiting on a pipe.
fn open(profile: &Profile) -> Result<(Vault, Settings), Failure> {
    open_vault(profile, VIA, &mut input::passphrase)
}

fn now() -> i64 {
    SystemClock.now()
}

fn completions(shell: clap_complete::Shell) -> Result<u8, Failure> {
    use clap::CommandFactory;
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::Cli::command(), "apppass", &mut buf);
    out(&String::from_utf8_lossy(&buf))?;
    Ok(exit::OK)
}

fn add(profile: &Profile, args: AddArgs) -> Result<u8, Failure> {
    // Checks that need no store come first, so a mistake never costs a password prompt.
    if matches!(args.kind, KindArg::Bridge) {
        return Err(Failure::new(
            Code::InvalidInput,
            "A bridge client's password is made by apppass, not typed in: use `apppass bridge add NAME --client CLIENT` (it prints the user name and password to enter in the client).",
        ));
    }
    let provider = catalog::provider(args.provider.trim())?;
    let servers = server_settings(&provider.id, &args.servers)?;
    let name = apppass_core::vault::validate_name(&args.name)?;
    let (vault, _) = open(profile)?;
    if vault.entry(&name).is_ok() {
        // The core checks again under its lock; this only spares a needless prompt.
        return Err(Failure::new(
            Code::NameTaken,
            format!("An entry named {name:?} already exists. Choose another name, or rename the existing one."),
        ));
    }
    let secret = input::read_secret(&format!("App password for {name:?} (input hidden): "))?;
    let entry = vault.add(
        NewEntry {
            name,
            provider: provider.id.clone(),
            account: args.account,
            client: args.client,
            kind: EntryKind::AppPassword,
            notes: args.notes,
            servers,
        },
        &secret,
    )?;
    note(&format!(
        "Added {:?} ({}, {}, used by {}).",
        entry.name, provider.name, entry.account, entry.client
    ));
    Ok(exit::OK)
}

/// The `--imap-*`/`--smtp-*`/`--pop-*` options as core server settings; `None` when none given.
pub(crate) fn server_settings(
    provider: &str,
    args: &ServerArgs,
) -> Result<Option<ServerSettings>, Failure> {
    let protocols = [
        (
            "imap",
            &args.imap_host,
            args.imap_port,
            args.imap_security,
            (993, 143),
        ),
        (
            "smtp",
            &args.smtp_host,
            args.smtp_port,
            args.smtp_security,
            (465, 587),
        ),
        (
            "pop",
            &args.pop_host,
            args.pop_port,
            args.pop_security,
            (995, 110),
        ),
    ];
    let any = protocols
        .iter()
        .any(|(_, h, p, s, _)| h.is_some() || p.is_some() || s.is_some());
    if !any {
        return Ok(None);
    }
    if provider != "custom" {
        return Err(Failure::new(
            Code::InvalidInput,
            format!("Server settings (--imap-*, --smtp-*, --pop-*) are only for --provider custom; {provider} has fixed servers. Remove them, or use --provider custom."),
        ));
    }
    let mut settings = ServerSettings::default();
    for (proto, host, port, security, (tls_port, starttls_port)) in protocols {
        let server = match host {
            None if port.is_some() || security.is_some() => {
                return Err(Failure::new(
                    Code::InvalidInput,
                    format!("--{proto}-port and --{proto}-security need --{proto}-host. Add the server's host name."),
                ))
            }
            None => None,
            Some(host) => {
                let security = security.unwrap_or(SecurityArg::Tls);
                Some(Server {
                    host: host.clone(),
                    port: port.unwrap_or(match security {
                        SecurityArg::Tls => tls_port,
                        SecurityArg::Starttls => starttls_port,
                    }),
                    security: match security {
                        SecurityArg::Tls => Security::Tls,
                        SecurityArg::Starttls => Security::Starttls,
                    },
                })
            }
        };
        match proto {
            "imap" => settings.imap = server,
            "smtp" => settings.smtp = server,
            _ => settings.pop = server,
        }
    }
    Ok(Some(settings))
}

fn get(profile: &Profile, name: &str) -> Result<u8, Failure> {
    let (vault, _) = open(profile)?;
    let (_, secret) = vault.secret(name, Access::Reveal)?;
    let mut line = zeroize::Zeroizing::new(String::with_capacity(secret.len() + 1));
    line.push_str(secret.expose());
    line.push('\n');
    out(&line)?;
    if let Some(problem) = vault.audit_problem() {
        // The password is printed all the same: a full disk must not break a mail client.
        note(&format!(
            "apppass: warning: this use was not recorded in the audit log. {}",
            problem.message
        ));
    }
    Ok(exit::OK)
}

/// `apppass test NAME`: signs in to each of the entry's servers with its password.
fn test(profile: &Profile, args: TestArgs) -> Result<u8, Failure> {
    use apppass_core::audit::Action;
    use apppass_core::catalog::Protocol;
    use apppass_core::mailcheck::{self, CheckOptions, Stage, Step};

    let (vault, settings) = open(profile)?;
    let entry = vault.entry(&args.name)?;
    let mut endpoints = catalog::endpoints(&entry);
    if endpoints.is_empty() {
        return Err(Failure::new(
            Code::MissingServer,
            format!(
                "{:?} has no mail servers to test: its provider ({}) names none and the entry has none of its own. For your own servers, add an entry with them: `apppass add NAME --provider custom --account {} --client {} --imap-host HOST --smtp-host HOST --smtp-security starttls` (see `apppass add --help`).",
                entry.name, entry.provider, entry.account, entry.client
            ),
        ));
    }
    if let Some(wanted) = args.protocol {
        let wanted = match wanted {
            ProtocolArg::Imap => Protocol::Imap,
            ProtocolArg::Smtp => Protocol::Smtp,
            ProtocolArg::Pop => Protocol::Pop,
        };
        let has: Vec<&str> = endpoints.iter().map(|e| e.protocol.as_str()).collect();
        endpoints.retain(|e| e.protocol == wanted);
        if endpoints.is_empty() {
            return Err(Failure::new(
                Code::MissingServer,
                format!(
                    "{:?} has no {} server; it has: {}. Test one of those, or leave out --protocol.",
                    entry.name,
                    wanted.label(),
                    has.join(", ")
                ),
            ));
        }
    }
    let opts = CheckOptions {
        // A bridge client is tested against the bridge on this computer, whose certificate is
        // apppass's own.
        ca_file: args.ca_file.or(if entry.kind == EntryKind::Bridge {
            Some(apppass_core::bridge::LocalCert::path(&profile.data_dir))
        } else {
            settings.ca_file
        }),
        ..CheckOptions::default()
    };
    // A bad CA file is the user's to fix, before any password is read.
    opts.validate()?;
    let (entry, secret) = vault.secret(&entry.name, Access::Test)?;
    let json = args.json;
    let show = move |step: Step| {
        if !json && step.stage != Stage::Done {
            note(&format!("{}: {}", step.protocol.as_str(), step.text));
        }
    };
    let mut outcomes = Vec::new();
    for endpoint in &endpoints {
        let outcome =
            apppass_core::signin::block_on(mailcheck::check(endpoint, &secret, &opts, &show))?;
        vault.record(Action::Tested, &entry, outcome.audit());
        if !json {
            let mut line = format!(
                "{:<5} {:<18} {}\n",
                outcome.protocol.as_str(),
                outcome.result.as_str(),
                outcome.detail.replace(['\n', '\r'], " ")
            );
            if let Some(why) = &outcome.explanation {
                line.push_str(&format!("{:<24} {why}\n", ""));
            }
            out(&line)?;
        }
        outcomes.push(outcome);
    }
    if json {
        output::json(&outcomes)?;
    }
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.is_ok())
        .map(|o| o.protocol.as_str())
        .collect();
    if failed.is_empty() {
        if !json {
            note(&format!(
                "The password of {:?} works ({}).",
                entry.name,
                endpoints
                    .iter()
                    .map(|e| e.protocol.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(exit::OK)
    } else {
        if !json {
            note(&format!(
                "The connection test of {:?} failed for {}; see above.",
                entry.name,
                failed.join(", ")
            ));
        }
        Ok(exit::status(Code::ConnectionTestFailed))
    }
}

fn list(profile: &Profile, query: Option<&str>, json: bool) -> Result<u8, Failure> {
    let (vault, settings) = open(profile)?;
    let entries = match query {
        Some(q) => vault.search(q)?,
        None => vault.list()?,
    };
    if json {
        output::json(&entries)?;
    } else if entries.is_empty() {
        note(match query {
            Some(_) => "No entry matches. See every entry with `apppass list`.",
            None => "No entries yet. Add one with `apppass add NAME --provider ID --account ACCOUNT --client CLIENT` (the password is read from stdin).",
        });
    } else {
        out(&output::entry_table(
            &entries,
            now(),
            settings.rotation_days,
        ))?;
    }
    Ok(exit::OK)
}

fn info(profile: &Profile, name: &str, json: bool) -> Result<u8, Failure> {
    let (vault, settings) = open(profile)?;
    let entry = vault.entry(name)?;
    if json {
        output::json(&entry)?;
        return Ok(exit::OK);
    }
    out(&entry_details(&entry, now(), settings.rotation_days))?;
    Ok(exit::OK)
}

fn entry_details(e: &Entry, now: i64, rotation_days: u32) -> String {
    let provider = catalog::provider(&e.provider).ok();
    let mut rows: Vec<(&str, String)> = vec![
        ("name", e.name.clone()),
        (
            "provider",
            match provider {
                Some(p) => format!("{} ({})", p.name, p.id),
                None => e.provider.clone(),
            },
        ),
        ("account", e.account.clone()),
        ("client", e.client.clone()),
        (
            "kind",
            match e.kind {
                EntryKind::AppPassword => "app password".into(),
                EntryKind::Bridge => "bridge password".into(),
            },
        ),
        ("created", output::when(Some(e.created), now)),
        ("rotated", output::when(e.rotated, now)),
        ("last used", output::when(e.last_used, now)),
    ];
    let due_in = i64::from(rotation_days) - (now - e.secret_set_at()).max(0) / 86_400;
    rows.push((
        "rotation",
        if due_in <= 0 {
            format!("due (period {rotation_days} days)")
        } else {
            format!("in {due_in} days (period {rotation_days} days)")
        },
    ));
    if let Some(servers) = &e.servers {
        for (proto, server) in [
            ("imap", &servers.imap),
            ("smtp", &servers.smtp),
            ("pop", &servers.pop),
        ] {
            if let Some(s) = server {
                let security = match s.security {
                    Security::Tls => "tls",
                    Security::Starttls => "starttls",
                };
                rows.push((proto, format!("{}:{} ({security})", s.host, s.port)));
            }
        }
    }
    if !e.notes.is_empty() {
        rows.push(("notes", e.notes.replace('\n', "\n           ")));
    }
    if let Some(url) = provider.and_then(|p| p.manage_url()) {
        rows.push(("manage at", url.to_string()));
    }
    rows.push(("id", e.id.clone()));
    rows.iter()
        .map(|(k, v)| format!("{:<11}{v}\n", format!("{k}:")))
        .collect()
}

fn rename(profile: &Profile, old: &str, new: &str) -> Result<u8, Failure> {
    let (vault, _) = open(profile)?;
    let before = vault.entry(old)?;
    let after = vault.rename(old, new)?;
    note(&format!("Renamed {:?} to {:?}.", before.name, after.name));
    Ok(exit::OK)
}

fn remove(profile: &Profile, name: &str) -> Result<u8, Failure> {
    let (vault, _) = open(profile)?;
    let entry = vault.remove(name)?;
    let provider = catalog::provider(&entry.provider).ok();
    let name = provider.map_or("the provider", |p| p.name.as_str());
    let next = match provider.and_then(|p| p.manage_url()) {
        Some(url) => format!("Delete it at {name} too; until then it still works: {url}"),
        None => {
            format!("Delete it at {name} too (where it was created); until then it still works.")
        }
    };
    note(&format!("Removed {:?} from apppass. {next}", entry.name));
    Ok(exit::OK)
}

fn rotate(profile: &Profile, name: &str, mark_only: bool) -> Result<u8, Failure> {
    let (vault, _) = open(profile)?;
    let entry = vault.entry(name)?;
    if mark_only {
        vault.rotate(&entry.name, None)?;
        note(&format!(
            "Recorded a rotation of {:?}; the stored password is unchanged.",
            entry.name
        ));
    } else {
        let secret = input::read_secret(&format!(
            "New app password for {:?} (input hidden): ",
            entry.name
        ))?;
        vault.rotate(&entry.name, Some(&secret))?;
        note(&format!(
            "Stored the new password for {:?}. Delete the old one at the provider if you have not yet.",
            entry.name
        ));
    }
    Ok(exit::OK)
}

fn health(profile: &Profile, json: bool) -> Result<u8, Failure> {
    let (vault, settings) = open(profile)?;
    let report = vault.health(settings.rotation_days, settings.bridge_unused_days())?;
    if json {
        output::json(&report)?;
        return Ok(exit::OK);
    }
    let mut text = String::new();
    if report.is_healthy() {
        text.push_str(&format!(
            "All good: no password older than {} days, none shared between entries, all used.\n",
            report.rotation_days
        ));
    }
    if !report.stale.is_empty() {
        text.push_str(&format!(
            "Due for rotation (older than {} days):\n",
            report.rotation_days
        ));
        let rows: Vec<Vec<String>> = report
            .stale
            .iter()
            .map(|s| vec![format!("  {}", s.name), format!("{} days", s.age_days)])
            .collect();
        let table = output::table(&["", ""], &rows);
        text.extend(table.lines().skip(1).map(|l| format!("{l}\n")));
    }
    if !report.duplicates.is_empty() {
        text.push_str("The same password under several names (give each application its own):\n");
        for group in &report.duplicates {
            text.push_str(&format!("  {}\n", group.join(", ")));
        }
    }
    if !report.never_used.is_empty() {
        text.push_str("Never used since stored:\n");
        for name in &report.never_used {
            text.push_str(&format!("  {name}\n"));
        }
    }
    if !report.unused_bridge.is_empty() {
        text.push_str(&format!(
            "Bridge clients without a sign-in for {} days or more (remove them with `apppass bridge rm NAME` if they are gone):\n",
            report.unused_days
        ));
        for s in &report.unused_bridge {
            text.push_str(&format!("  {}  ({} days)\n", s.name, s.age_days));
        }
    }
    out(&text)?;
    Ok(exit::OK)
}

fn audit(profile: &Profile, last: Option<usize>, json: bool) -> Result<u8, Failure> {
    // The log is a plain file of the profile: reading it needs no keyring and no passphrase.
    let log = AuditLog::new(profile.audit_path(), VIA);
    let (mut records, unreadable) = log.read()?;
    if let Some(n) = last {
        let skip = records.len().saturating_sub(n);
        records.drain(..skip);
    }
    if json {
        output::json(&records)?;
    } else if records.is_empty() {
        note("The audit log is empty.");
    } else {
        let rows: Vec<Vec<String>> = records
            .iter()
            .map(|r| {
                vec![
                    r.time.clone(),
                    serde_json::to_value(r.action)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    r.via.clone(),
                    r.outcome.clone(),
                    r.entry.clone(),
                ]
            })
            .collect();
        out(&output::table(
            &["TIME", "ACTION", "VIA", "OUTCOME", "ENTRY"],
            &rows,
        ))?;
    }
    if unreadable > 0 {
        note(&format!(
            "{unreadable} line(s) of {} could not be read (an interrupted write) and were skipped.",
            profile.audit_path().display()
        ));
    }
    Ok(exit::OK)
}

fn doctor(profile: &Profile, args: &DoctorArgs) -> Result<u8, Failure> {
    let (vault, _) = open(profile)?;
    let report = if args.adopt_orphans {
        vault.adopt_orphans()?
    } else if args.remove_orphans {
        vault.remove_orphans()?
    } else {
        vault.doctor()?
    };
    if args.json {
        output::json(&report)?;
    } else {
        out(&doctor_text(&report))?;
    }
    Ok(match &report.store_problem {
        Some(problem) => exit::status(problem.code),
        None => exit::OK,
    })
}

/// `apppass doctor --restore`: the last good copy of a damaged database, then what the store
/// holds that the copy lacks (listed, never deleted here).
fn restore(profile: &Profile, json: bool) -> Result<u8, Failure> {
    let restored = apppass_core::vault::restore_last_good(profile, now())?;
    let (vault, _) = open(profile)?;
    let entries = vault.list()?;
    let orphans = vault.orphans()?;
    let stored = vault
        .store()
        .ids(&profile.namespace)
        .map_err(|e| e.to_failure())?;
    let missing: Vec<String> = match &stored {
        Some(ids) => entries
            .iter()
            .filter(|e| !ids.contains(&e.id))
            .map(|e| e.name.clone())
            .collect(),
        None => Vec::new(),
    };
    let orphans = orphans.unwrap_or_default();
    if json {
        #[derive(Serialize)]
        struct Answer<'a> {
            #[serde(flatten)]
            restored: &'a apppass_core::vault::Restored,
            unlisted_passwords: usize,
            missing_secrets: &'a [String],
        }
        output::json(&Answer {
            restored: &restored,
            unlisted_passwords: orphans.len(),
            missing_secrets: &missing,
        })?;
        return Ok(exit::OK);
    }
    let mut text = String::new();
    if let Some(kept) = &restored.damaged_kept_as {
        text.push_str(&format!("Kept the damaged database as {kept}.\n"));
    }
    text.push_str(&format!(
        "Restored the last good copy of the entry list, saved {}: {} entries.\n",
        apppass_core::clock::rfc3339(restored.copy_saved),
        restored.entries
    ));
    if !orphans.is_empty() {
        text.push_str(&format!(
            "{} password(s) in the {} belong to no entry of the copy (added after it was saved). They are kept: make entries of them with `apppass doctor --adopt-orphans` (then rename each), or find them as \"apppass: NAME\" in your keyring app.\n",
            orphans.len(),
            vault.store().describe()
        ));
    }
    if !missing.is_empty() {
        text.push_str(&format!(
            "Entries of the copy whose password is gone (removed after the copy was saved): {}. Remove them with `apppass rm NAME`, or store the password again with `apppass rotate NAME`.\n",
            missing.join(", ")
        ));
    }
    out(&text)?;
    Ok(exit::OK)
}

fn doctor_text(r: &DoctorReport) -> String {
    let unlocked = match &r.store_problem {
        None => "yes".to_string(),
        Some(p) => format!("no: {}", p.message),
    };
    let missing = if r.missing_secrets.is_empty() {
        "none".to_string()
    } else {
        r.missing_secrets.join(", ")
    };
    let adopted = if r.orphans_adopted.is_empty() {
        "none".to_string()
    } else {
        r.orphans_adopted.join(", ")
    };
    let rows = [
        ("store", r.store.clone()),
        ("unlocked", unlocked),
        ("data directory", r.data_dir.clone()),
        ("schema version", r.schema_version.to_string()),
        ("entries", r.entries.to_string()),
        ("unfinished repaired", r.unfinished_repaired.to_string()),
        ("orphans kept", r.orphans_kept.to_string()),
        ("orphans removed", r.orphans_removed.to_string()),
        ("orphans adopted", adopted),
        ("missing secrets", missing),
    ];
    let mut text: String = rows
        .iter()
        .map(|(k, v)| format!("{:<21}{v}\n", format!("{k}:")))
        .collect();
    if !r.missing_secrets.is_empty() {
        text.push_str(
            "Store the password again for each missing one with `apppass rotate NAME`.\n",
        );
    }
    if r.orphans_kept > 0 {
        text.push_str(&format!(
            "{} password(s) in the keyring belong to no entry (the entry list was lost or restored). They are kept: `apppass doctor --adopt-orphans` makes an entry of each, `apppass doctor --remove-orphans` deletes them.\n",
            r.orphans_kept
        ));
    }
    text
}

fn show_settings(profile: &Profile, json: bool) -> Result<u8, Failure> {
    let settings = Settings::load(profile)?;
    if json {
        output::json(&settings)?;
        return Ok(exit::OK);
    }
    let rows = [
        (
            "clipboard_clear_seconds",
            settings.clipboard_clear_seconds.to_string(),
        ),
        (
            "reveal_hide_seconds",
            settings.reveal_hide_seconds.to_string(),
        ),
        ("rotation_days", settings.rotation_days.to_string()),
        ("store", settings.store.as_str().to_string()),
        (
            "ca_file",
            match &settings.ca_file {
                Some(path) => path.display().to_string(),
                None => "none (the system's CAs only)".to_string(),
            },
        ),
    ];
    let signin = crate::signin::settings_rows(&settings);
    out(&rows
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .chain(signin)
        .map(|(k, v)| format!("{k:<25}{v}\n"))
        .collect::<String>())?;
    Ok(exit::OK)
}

fn set_setting(profile: &Profile, key: SettingKey, value: &str) -> Result<u8, Failure> {
    let mut settings = Settings::load(profile)?;
    if let SettingKey::CaFile = key {
        let path = value.trim();
        settings.ca_file = (!path.is_empty()).then(|| std::path::PathBuf::from(path));
        settings.save(profile)?;
        note(&match &settings.ca_file {
            Some(p) => format!("Set ca_file to {}.", p.display()),
            None => "Unset ca_file: the connection test trusts the system's CAs only.".to_string(),
        });
        return Ok(exit::OK);
    }
    let number: u32 = value.trim().parse().map_err(|_| {
        Failure::new(
            Code::InvalidInput,
            format!("{value:?} is not a whole number. Give a number such as 30."),
        )
    })?;
    let name = match key {
        SettingKey::ClipboardClearSeconds => {
            settings.clipboard_clear_seconds = number;
            "clipboard_clear_seconds"
        }
        SettingKey::RevealHideSeconds => {
            settings.reveal_hide_seconds = number;
            "reveal_hide_seconds"
        }
        SettingKey::RotationDays => {
            settings.rotation_days = number;
            "rotation_days"
        }
        SettingKey::CaFile => unreachable!("handled above"),
    };
    settings.save(profile)?;
    note(&format!("Set {name} to {number}."));
    Ok(exit::OK)
}

fn store_status(profile: &Profile, json: bool) -> Result<u8, Failure> {
    let settings = Settings::load(profile)?;
    let path = profile.file_store_path();
    let (description, problem) = match settings.store {
        StoreKind::Keyring => match KeyringStore::open() {
            Ok(store) => (
                store.describe(),
                store
                    .probe(&profile.namespace)
                    .err()
                    .map(|e| e.to_failure()),
            ),
            Err(e) => ("OS keyring".to_string(), Some(e.to_failure())),
        },
        // Opening the file needs its passphrase; the status only says whether it is there.
        StoreKind::EncryptedFile => (
            format!("encrypted file {}", path.display()),
            (!path.exists()).then(|| {
                Failure::new(
                    Code::DataCorrupt,
                    format!("{} is missing. Restore it from a backup, or run `apppass store use-file` to start a new one.", path.display()),
                )
            }),
        ),
    };
    let status = StoreStatus {
        kind: settings.store,
        description,
        problem,
        file_store_exists: path.exists(),
    };
    if json {
        output::json(&status)?;
    } else {
        let state = match &status.problem {
            None if status.kind == StoreKind::Keyring => "reachable".to_string(),
            None => "present (its passphrase is asked when a command needs it)".to_string(),
            Some(p) => format!("problem: {}", p.message),
        };
        out(&format!(
            "store:   {} ({})\nstatus:  {state}\n",
            status.kind.as_str(),
            status.description
        ))?;
    }
    Ok(status
        .problem
        .map(|p| exit::status(p.code))
        .unwrap_or(exit::OK))
}

fn use_file(profile: &Profile) -> Result<u8, Failure> {
    let settings = Settings::load(profile)?;
    let path = profile.file_store_path();
    if settings.store == StoreKind::EncryptedFile {
        note(&format!(
            "Already using the encrypted file store at {}.",
            path.display()
        ));
        return Ok(exit::OK);
    }
    let pass = input::new_passphrase()?;
    let leftover = path.exists();
    if !leftover {
        // Before touching the keyring, so a weak passphrase costs nothing.
        check_passphrase(&pass)?;
    }
    let current = match KeyringStore::open() {
        Ok(keyring) => {
            // A keyring that cannot be read fails here, before a file is created.
            keyring
                .probe(&profile.namespace)
                .map_err(|e| e.to_failure())?;
            Some(Vault::open(
                profile.clone(),
                Box::new(keyring),
                Arc::new(SystemClock),
                VIA,
            )?)
        }
        // No keyring on this machine: the core allows the switch while no entry is stranded.
        Err(e) if e.to_failure().code == Code::KeyringUnavailable => None,
        Err(e) => return Err(e.to_failure()),
    };
    let moving = match &current {
        Some(vault) => vault.list()?.len(),
        None => 0,
    };
    use_file_store(profile, current.as_ref(), &pass, VIA).map_err(|e| match e.code {
        Code::WrongPassphrase if leftover => Failure::new(
            Code::WrongPassphrase,
            format!("An encrypted store from earlier is at {} and this passphrase does not open it. Give that store's passphrase, or move the file aside to start a new one; nothing was changed.", path.display()),
        ),
        _ => e,
    })?;
    note(&format!(
        "Now keeping passwords in the encrypted file {} ({moving} moved out of the OS keyring). Commands that read passwords ask for its passphrase, or read it from the file descriptor named in {}.",
        path.display(),
        input::PASSPHRASE_FD_VAR
    ));
    Ok(exit::OK)
}

fn use_keyring(profile: &Profile) -> Result<u8, Failure> {
    let (vault, settings) = open(profile)?;
    if settings.store == StoreKind::Keyring {
        note("Already using the OS keyring.");
        return Ok(exit::OK);
    }
    let moving = vault.list()?.len();
    apppass_core::open::use_keyring(&vault, VIA)?;
    note(&format!(
        "Now keeping passwords in the OS keyring ({moving} moved out of the encrypted file)."
    ));
    Ok(exit::OK)
}

#[derive(Serialize)]
struct ProviderRow<'a> {
    #[serde(flatten)]
    provider: &'a catalog::Provider,
    manage_url: Option<&'a str>,
}

fn providers(json: bool) -> Result<u8, Failure> {
    let all = catalog::providers();
    if json {
        let rows: Vec<ProviderRow> = all
            .iter()
            .map(|p| ProviderRow {
                provider: p,
                manage_url: p.manage_url(),
            })
            .collect();
        output::json(&rows)?;
        return Ok(exit::OK);
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|p| {
            vec![
                p.id.clone(),
                p.name.clone(),
                p.manage_url().unwrap_or("").to_string(),
            ]
        })
        .collect();
    out(&output::table(&["ID", "NAME", "APP PASSWORDS AT"], &rows))?;
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_options_need_the_custom_provider() {
        let args = ServerArgs {
            imap_host: Some("mail.example.com".into()),
            ..Default::default()
        };
        let err = server_settings("google", &args).unwrap_err();
        assert_eq!(err.code, Code::InvalidInput);
        assert!(err.message.contains("--provider custom"));
        let s = server_settings("custom", &args).unwrap().unwrap();
        assert_eq!(s.imap.unwrap().port, 993);
        assert!(s.smtp.is_none());
        assert!(server_settings("google", &ServerArgs::default())
            .unwrap()
            .is_none());
    }

    #[test]
    fn starttls_gets_its_default_port_and_port_needs_a_host() {
        let args = ServerArgs {
            smtp_host: Some("smtp.example.com".into()),
            smtp_security: Some(SecurityArg::Starttls),
            ..Default::default()
        };
        let s = server_settings("custom", &args).unwrap().unwrap();
        assert_eq!(s.smtp.as_ref().unwrap().port, 587);
        assert_eq!(s.smtp.unwrap().security, Security::Starttls);
        let args = ServerArgs {
            pop_port: Some(995),
            ..Default::default()
        };
        assert_eq!(
            server_settings("custom", &args).unwrap_err().code,
            Code::InvalidInput
        );
    }
}
