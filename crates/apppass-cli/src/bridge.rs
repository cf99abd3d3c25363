//! `apppass bridge …`: bridge clients (add, list, rotate, rm), the local certificate, and running
//! the bridge in the foreground. The bridge itself is apppass-core's `bridge`.

use std::sync::Arc;

use apppass_core::bridge::clients::{self, LOCAL_HOST};
use apppass_core::bridge::config::DEFAULT_UNUSED_DAYS;
use apppass_core::bridge::{
    Bridge, BridgeConfig, BridgeSettings, LocalCert, Preset, SignInTokens, Status, VaultBook,
};
use apppass_core::catalog;
use apppass_core::clock::{Clock, SystemClock};
use apppass_core::open::open_store;
use apppass_core::profile::Profile;
use apppass_core::settings::Settings;
use apppass_core::signin::{Deps, SignIn};
use apppass_core::vault::store::SecretStore;
use apppass_core::vault::{Entry, Security, Server, Vault};
use apppass_core::{Code, Failure, Secret};

use crate::cli::{BridgeAction, BridgeRunArgs, ListenPort};
use crate::exit;
use crate::input;
use crate::output::{self, note, out};

pub const BRIDGE_HELP: &str = "\
For mailboxes that take no password any more (Exchange Online IMAP/POP, soon SMTP; Gmail
prefers OAuth): each mail client gets its own local user name and a password apppass makes,
and signs in to apppass's bridge on 127.0.0.1. The bridge checks it and signs in to the real
server with your work account (OAuth 2.0, SASL XOAUTH2), so sign in first: `apppass login`.
The password never leaves this computer; remove or rotate one client without touching others.

Examples:
  apppass bridge add 'Thunderbird on laptop' --client thunderbird
  apppass bridge run                       # Microsoft 365, local ports 1143/1993, 1587/1465, 1110/1995
  apppass bridge run --preset google
  apppass bridge list
  apppass bridge rotate 'Thunderbird on laptop'
  apppass bridge cert --output apppass-bridge.pem";

pub const RUN_HELP: &str = "\
Settings come from `[bridge]` in settings.toml, then these flags. The bridge listens on
127.0.0.1 only. Plain ports offer STARTTLS (STLS for POP3); the TLS ports use apppass's own
certificate (`apppass bridge cert`). Upstream it always uses TLS, trusting the system's CAs
plus --ca-file (or the ca_file setting).

Each sign-in of a client is checked against the vault at that moment, so `bridge rotate` and
`bridge rm` take effect at once, even while the bridge runs. A wrong password is answered
after a growing delay (per user name) and recorded in the audit log; it never reaches the
server. The access token comes from `apppass login` (refreshed when needed); when the
provider refuses it, clients get an error and the bridge says to sign in again.

With --json, one line {\"listeners\":[{\"protocol\":\"imap\",\"implicit_tls\":false,\"port\":1143,...}]}
is printed on stdout once every listener is ready; errors go to stderr as they happen.

A systemd user unit (see README) can keep it running:
  ExecStart=/usr/local/bin/apppass bridge run";

fn open_shared(profile: &Profile) -> Result<(Vault, Arc<dyn SecretStore>, Settings), Failure> {
    let settings = Settings::load(profile)?;
    let store: Arc<dyn SecretStore> =
        Arc::from(open_store(profile, &settings, &mut input::passphrase)?);
    let vault = Vault::open(
        profile.clone(),
        Box::new(store.clone()),
        Arc::new(SystemClock),
        "cli",
    )?;
    Ok((vault, store, settings))
}

pub fn run(profile: &Profile, action: BridgeAction) -> Result<u8, Failure> {
    match action {
        BridgeAction::Add { name, client, json } => add(profile, &name, &client, json),
        BridgeAction::List(f) => list(profile, f.json),
        BridgeAction::Rotate { name, json } => rotate(profile, &name, json),
        BridgeAction::Rm { name } => remove(profile, &name),
        BridgeAction::Run(args) => run_bridge(profile, args),
        BridgeAction::Cert { output } => cert(profile, output),
    }
}

fn security(s: Security) -> &'static str {
    match s {
        Security::Tls => "TLS",
        Security::Starttls => "STARTTLS",
    }
}

/// The settings a client needs, and the password, as text.
fn settings_text(entry: &Entry, password: &Secret) -> String {
    let mut text = format!(
        "  User name:  {}\n  Password:   {}\n",
        entry.account,
        password.expose()
    );
    if let Some(servers) = &entry.servers {
        for (label, server) in [
            ("IMAP", &servers.imap),
            ("SMTP", &servers.smtp),
            ("POP3", &servers.pop),
        ] {
            if let Some(s) = server {
                text.push_str(&format!(
                    "  {label}:       {} port {}, {}\n",
                    s.host,
                    s.port,
                    security(s.security)
                ));
            }
        }
    }
    text
}

fn secret_json(entry: &Entry, password: &Secret) -> Result<(), Failure> {
    let value = serde_json::json!({
        "entry": entry,
        "username": entry.account,
        "password": password.expose(),
    });
    output::json(&value)
}

fn add(profile: &Profile, name: &str, client: &str, json: bool) -> Result<u8, Failure> {
    let (vault, _, settings) = open_shared(profile)?;
    let bridge = settings.bridge.clone().unwrap_or_default();
    let (entry, password) = clients::add(&vault, &bridge, name, client)?;
    if json {
        secret_json(&entry, &password)?;
        return Ok(exit::OK);
    }
    let client_name = catalog::client(&entry.client)
        .map(|c| c.name.clone())
        .unwrap_or(entry.client.clone());
    out(&format!(
        "Added the bridge client {:?}. Enter these in {client_name} (the password is shown this once; `apppass get {:?}` prints it again):\n{}",
        entry.name,
        entry.name,
        settings_text(&entry, &password)
    ))?;
    note(&format!(
        "The client signs in to apppass, which signs in to {} with your work account: keep `apppass bridge run` (or the app's bridge) running, and sign in with `apppass login` if you have not.",
        preset_name(bridge.preset)
    ));
    Ok(exit::OK)
}

fn preset_name(p: Preset) -> &'static str {
    match p {
        Preset::Microsoft365 => "Microsoft 365",
        Preset::Google => "Google",
        Preset::Custom => "your mail server",
    }
}

fn list(profile: &Profile, json: bool) -> Result<u8, Failure> {
    let (vault, _, settings) = open_shared(profile)?;
    let entries = clients::list(&vault)?;
    if json {
        output::json(&entries)?;
        return Ok(exit::OK);
    }
    if entries.is_empty() {
        note("No bridge clients yet. Add one with `apppass bridge add NAME --client CLIENT`.");
        return Ok(exit::OK);
    }
    let now = SystemClock.now();
    let unused_days = settings
        .bridge
        .as_ref()
        .and_then(|b| b.unused_days)
        .unwrap_or(DEFAULT_UNUSED_DAYS) as i64;
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let since = e.last_used.unwrap_or(e.created);
            let unused = (now - since) / 86_400 >= unused_days;
            vec![
                e.name.clone(),
                e.account.clone(),
                e.client.clone(),
                output::when(e.last_used, now) + if unused { " (unused: remove it?)" } else { "" },
            ]
        })
        .collect();
    out(&output::table(
        &["NAME", "USER NAME", "CLIENT", "LAST SIGN-IN"],
        &rows,
    ))?;
    Ok(exit::OK)
}

fn rotate(profile: &Profile, name: &str, json: bool) -> Result<u8, Failure> {
    let (vault, _, _) = open_shared(profile)?;
    let (entry, password) = clients::rotate(&vault, name)?;
    if json {
        secret_json(&entry, &password)?;
        return Ok(exit::OK);
    }
    out(&format!(
        "New password for {:?}; the old one no longer works. Enter it in the client (shown this once):\n{}",
        entry.name,
        settings_text(&entry, &password)
    ))?;
    Ok(exit::OK)
}

fn remove(profile: &Profile, name: &str) -> Result<u8, Failure> {
    let (vault, _, _) = open_shared(profile)?;
    let entry = clients::remove(&vault, name)?;
    note(&format!(
        "Removed the bridge client {:?}; it can no longer sign in.",
        entry.name
    ));
    Ok(exit::OK)
}

fn cert(profile: &Profile, output: Option<std::path::PathBuf>) -> Result<u8, Failure> {
    let (_, store, _) = open_shared(profile)?;
    let cert = LocalCert::load_or_create(store.as_ref(), &profile.namespace, &profile.data_dir)?;
    match output {
        Some(path) => {
            std::fs::write(&path, cert.cert_pem.as_bytes()).map_err(|e| {
                Failure::new(
                    Code::StorageFailure,
                    format!(
                        "Cannot write {} ({e}). Choose another file.",
                        path.display()
                    ),
                )
            })?;
            note(&format!(
                "Wrote the bridge's certificate to {} (it holds no secret). Import it in clients that must trust the bridge's TLS.",
                path.display()
            ));
        }
        None => out(&cert.cert_pem)?,
    }
    Ok(exit::OK)
}

fn port(p: Option<ListenPort>, current: Option<u16>) -> Option<u16> {
    match p {
        None => current,
        Some(ListenPort::Off) => None,
        Some(ListenPort::Port(n)) => Some(n),
    }
}

/// `[bridge]` with this run's flags over it.
fn run_settings(settings: &Settings, args: &BridgeRunArgs) -> Result<BridgeSettings, Failure> {
    let mut s = settings.bridge.clone().unwrap_or_default();
    if let Some(preset) = &args.preset {
        s.preset = Preset::parse(preset)?;
    }
    if let Some(servers) = crate::commands::server_settings("custom", &args.servers)? {
        let keep = |new: Option<Server>, old: Option<Server>| new.or(old);
        s.imap = keep(servers.imap, s.imap.take());
        s.smtp = keep(servers.smtp, s.smtp.take());
        s.pop = keep(servers.pop, s.pop.take());
    }
    if !args.scopes.is_empty() {
        s.scopes = Some(args.scopes.clone());
    }
    // Settings use 0 for "off"; here 0 means any free port, so resolve ports separately.
    if args.protocol_log {
        s.protocol_log = true;
    }
    Ok(s)
}

fn run_bridge(profile: &Profile, args: BridgeRunArgs) -> Result<u8, Failure> {
    let (vault, store, settings) = open_shared(profile)?;
    let bridge_settings = run_settings(&settings, &args)?;
    let mut config = BridgeConfig::from_settings(
        &bridge_settings,
        args.ca_file.clone().or(settings.ca_file.clone()),
        Some(profile.data_dir.join("bridge-protocol.log")),
    )?;
    let l = &mut config.listen;
    l.imap = port(args.listen_imap, l.imap);
    l.imaps = port(args.listen_imaps, l.imaps);
    l.pop = port(args.listen_pop, l.pop);
    l.pops = port(args.listen_pops, l.pops);
    l.smtp = port(args.listen_smtp, l.smtp);
    l.smtps = port(args.listen_smtps, l.smtps);
    config.validate()?;
    if let Some(ca) = &config.ca_file {
        apppass_core::mailcheck::CheckOptions {
            ca_file: Some(ca.clone()),
            ..Default::default()
        }
        .validate()?;
    }

    let signin = Arc::new(SignIn::new(profile.clone(), store.clone(), Deps::system()?));
    let account = signin.account()?.ok_or_else(|| {
        Failure::new(
            Code::SignInRequired,
            "Nobody is signed in, so the bridge could not reach the mailbox. Sign in first with `apppass login`, then run the bridge again.",
        )
    })?;
    let cert = LocalCert::load_or_create(store.as_ref(), &profile.namespace, &profile.data_dir)?;
    let tokens = Arc::new(SignInTokens::new(signin.clone(), config.scopes.clone()));
    let book = Arc::new(VaultBook::new(vault));
    let status = Arc::new(Status::default());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                Code::Internal,
                format!("Cannot start the bridge's runtime ({e}). Report this bug."),
            )
        })?;
    runtime.block_on(async move {
        let running = Bridge::start(config, book, tokens, status.clone(), &cert).await?;
        let listeners = running.listeners();
        for l in &listeners {
            note(&format!(
                "Listening: {} on {LOCAL_HOST} port {} ({})",
                l.protocol.as_str().to_uppercase(),
                l.port,
                if l.implicit_tls {
                    "TLS"
                } else {
                    "STARTTLS offered"
                }
            ));
        }
        note(&format!(
            "Signing in upstream as {}. Ctrl+C stops the bridge.",
            account.email.as_deref().unwrap_or(&account.username)
        ));
        if args.json {
            let line = serde_json::to_string(&serde_json::json!({ "listeners": listeners }))
                .unwrap_or_default();
            out(&format!("{line}\n"))?;
        }
        let errors = status.clone();
        let watcher = tokio::spawn(async move {
            let mut shown = 0u64;
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                let snap = errors.snapshot();
                let total = snap.counters.rejected + snap.counters.upstream_failures;
                if total > shown {
                    for e in snap.errors.iter().take((total - shown) as usize).rev() {
                        note(&format!(
                            "{} {}: {} ({})",
                            e.protocol.as_str().to_uppercase(),
                            e.client.as_deref().unwrap_or("-"),
                            e.message,
                            e.code.as_str()
                        ));
                    }
                    shown = total;
                }
            }
        });
        wait_for_stop().await;
        watcher.abort();
        note("Stopping the bridge.");
        running.shutdown().await;
        Ok::<(), Failure>(())
    })?;
    Ok(exit::OK)
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
