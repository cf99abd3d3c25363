//! `apppass login`, `logout` and `whoami`: work-account sign-in through apppass-core's `signin`.
//!
//! The configuration is resolved by the core (`policy::resolve_signin`): built-in defaults <
//! `[signin]` in settings.toml < this command's flags < the administrator's policy file, whose
//! fields are locked (a flag that would change one is refused with `LockedByPolicy`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use apppass_core::clock::{Clock, SystemClock};
use apppass_core::open::open_store;
use apppass_core::policy::{resolve_signin, Policy, RedirectForm, SignInSettings};
use apppass_core::profile::Profile;
use apppass_core::settings::Settings;
use apppass_core::signin::tokens::load_account;
use apppass_core::signin::{
    block_on, Account, Cancellation, Deps, DeviceCode, SessionState, SignIn, SignInConfig,
    SignInMethod,
};
use apppass_core::{Code, Failure};
use serde::Serialize;

use crate::cli::{LoginArgs, RedirectArg};
use crate::exit;
use crate::input;
use crate::output::{self, note, out};

/// Shown after `apppass login --help`.
pub const LOGIN_HELP: &str = "\
By default the sign-in page opens in the browser named by $BROWSER (a list of commands
separated by ':', where %s stands for the address), else in the system's browser (xdg-open,
open, start); the address is printed on stderr too. apppass waits for the answer on
http://127.0.0.1:PORT for up to 5 minutes. Ctrl+C cancels; nothing is changed then.

--device-code prints a code and an address instead: open the address on any device (a phone
will do), enter the code and sign in. With --json the first line on stdout is a JSON object
with `verification_uri` and `user_code`, and the last line is the signed-in account.

The authority, tenant, client ID and scopes come from `[signin]` in settings.toml, from these
options, or from the administrator's policy file, which fixes what it sets (see README).

Examples:
  apppass login
  apppass login --client-id 00001111-aaaa-2222-bbbb-3333cccc4444 --tenant contoso.com
  apppass login --device-code --json";

/// The configuration for this command: settings.toml, the flags, the administrator's policy.
fn config(profile: &Profile, args: &LoginArgs) -> Result<(SignInConfig, Settings), Failure> {
    let settings = Settings::load(profile)?;
    let policy = Policy::load_effective()?;
    let overrides = SignInSettings {
        authority: args.authority.clone(),
        tenant: args.tenant.clone(),
        client_id: args.client_id.clone(),
        scopes: (!args.scopes.is_empty()).then(|| args.scopes.clone()),
        redirect: args.redirect.map(|r| match r {
            RedirectArg::LoopbackIp => RedirectForm::LoopbackIp,
            RedirectArg::Localhost => RedirectForm::Localhost,
        }),
        ..Default::default()
    };
    let config = resolve_signin(&settings, policy.as_ref(), &overrides)?;
    Ok((config, settings))
}

/// The sign-in settings in force (settings.toml under the administrator's policy), as rows for
/// `apppass settings`; a field the policy fixes names its file.
pub fn settings_rows(settings: &Settings) -> Vec<(String, String)> {
    let resolved = Policy::load_effective().and_then(|policy| {
        let config = resolve_signin(settings, policy.as_ref(), &SignInSettings::default())?;
        Ok((config, policy))
    });
    let (config, policy) = match resolved {
        Ok(found) => found,
        Err(f) => return vec![("signin".to_string(), format!("unusable: {}", f.message))],
    };
    let fixed = |fields: &[&str]| -> String {
        match (
            &policy,
            fields
                .iter()
                .find(|f| config.locked.iter().any(|l| l == *f)),
        ) {
            (Some(p), Some(field)) => format!(" (fixed by {})", p.path_of(field).display()),
            _ => String::new(),
        }
    };
    vec![
        (
            "signin.authority".to_string(),
            config.authority.clone() + &fixed(&["authority", "tenant", "cloud"]),
        ),
        (
            "signin.client_id".to_string(),
            match &config.client_id {
                Some(id) => id.clone() + &fixed(&["client_id"]),
                None => "none: IT must register apppass (see README)".to_string(),
            },
        ),
        (
            "signin.scopes".to_string(),
            config.scopes.join(" ") + &fixed(&["scopes"]),
        ),
        (
            "signin.redirect".to_string(),
            match config.redirect {
                RedirectForm::LoopbackIp => "loopback_ip (http://127.0.0.1:PORT/)",
                RedirectForm::Localhost => "localhost (http://localhost:PORT/)",
            }
            .to_string()
                + &fixed(&["redirect"]),
        ),
    ]
}

/// The profile's secret store, for the refresh token (the file store asks for its passphrase).
fn signin_for(profile: &Profile, settings: &Settings) -> Result<SignIn, Failure> {
    let store = open_store(profile, settings, &mut input::passphrase)?;
    Ok(SignIn::new(
        profile.clone(),
        Arc::from(store),
        Deps::system()?,
    ))
}

pub fn login(profile: &Profile, args: LoginArgs) -> Result<u8, Failure> {
    let (config, settings) = config(profile, &args)?;
    // Before the keyring or the network: without a client ID nothing else can work.
    config.require_client_id()?;
    let store = open_store(profile, &settings, &mut input::passphrase)?;
    // A locked or unreachable keyring fails now, not after the person has signed in.
    store
        .probe(&profile.namespace)
        .map_err(|e| e.to_failure())?;
    let signin = SignIn::new(profile.clone(), Arc::from(store), Deps::system()?);
    let cancel = Cancellation::new();
    let _ctrl_c = CtrlC::watch(&cancel);
    let json = args.json;
    let account = if args.device_code {
        let show = move |code: &DeviceCode| show_code(code, json);
        block_on(signin.sign_in_with_code(&config, &show, &cancel))??
    } else {
        if config.is_microsoft() && config.redirect == RedirectForm::LoopbackIp {
            // The portal registers http://localhost; http://127.0.0.1 only through the manifest.
            note("If the browser shows AADSTS50011 (redirect URI mismatch), your organisation registered http://localhost: press Ctrl+C and run `apppass login --redirect localhost`, or ask IT to set redirect = \"localhost\" in the apppass policy.");
        }
        block_on(signin.sign_in_with_browser(&config, &open_browser, &cancel))??
    };
    if json {
        json_line(&account)?;
    }
    note(&format!(
        "Signed in as {}{}.{}",
        account.username,
        account
            .name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default(),
        if account.mfa_used {
            " Multifactor authentication was used."
        } else {
            ""
        }
    ));
    Ok(exit::OK)
}

/// One compact JSON value and a newline on stdout, flushed at once (a program reads it line by
/// line while apppass keeps running).
fn json_line<T: Serialize + ?Sized>(value: &T) -> Result<(), Failure> {
    let mut text = serde_json::to_string(value)
        .map_err(|e| Failure::new(Code::Internal, format!("Cannot encode JSON: {e}")))?;
    text.push('\n');
    out(&text)
}

fn show_code(code: &DeviceCode, json: bool) {
    if json {
        // If stdout is gone the sign-in cannot be completed by its reader; the failure to write
        // is reported by the final line anyway.
        let _ = json_line(code);
    }
    let minutes = code.expires_in_seconds.div_ceil(60);
    let mut text = format!(
        "To sign in, open {} in a browser on any device and enter the code {}",
        code.verification_uri, code.user_code
    );
    if let Some(complete) = &code.verification_uri_complete {
        text.push_str(&format!(" (or open {complete}, which holds the code)"));
    }
    text.push_str(&format!(
        ". The code expires in {minutes} minute{}.\nWaiting for the sign-in (Ctrl+C cancels)...",
        if minutes == 1 { "" } else { "s" }
    ));
    note(&text);
}

/// Opens the sign-in page; the address is always printed on stderr first, so that a browser that
/// does not open (or opens on another display) never leaves the user stuck.
fn open_browser(url: &str) -> Result<(), String> {
    note(&format!(
        "Opening the sign-in page in your browser. If it does not open, go to:\n\n  {url}\n\nWaiting for the sign-in (Ctrl+C cancels)..."
    ));
    let result = match std::env::var("BROWSER") {
        Ok(list) if !list.trim().is_empty() => open_with_browser_var(&list, url),
        _ => open_with_platform(url),
    };
    if let Err(why) = &result {
        note(&format!(
            "Could not start a browser ({why}); open the address above yourself."
        ));
    }
    result
}

/// `$BROWSER`: commands separated by ':' (';' on Windows), tried in order until one starts. `%s`
/// in a command stands for the address; without it the address is added as the last argument.
/// Words are split on whitespace and run without a shell (the address is never interpreted).
fn open_with_browser_var(list: &str, url: &str) -> Result<(), String> {
    let separator = if cfg!(windows) { ';' } else { ':' };
    let mut errors = Vec::new();
    for entry in list.split(separator).filter(|e| !e.trim().is_empty()) {
        let argv = browser_argv(entry, url);
        match spawn_detached(&argv) {
            Ok(()) => return Ok(()),
            Err(e) => errors.push(format!("{}: {e}", argv[0])),
        }
    }
    Err(errors.join("; "))
}

fn browser_argv(entry: &str, url: &str) -> Vec<String> {
    let mut words: Vec<String> = entry.split_whitespace().map(str::to_string).collect();
    if words.iter().any(|w| w.contains("%s")) {
        for w in &mut words {
            *w = w.replace("%s", url);
        }
    } else {
        words.push(url.to_string());
    }
    words
}

fn open_with_platform(url: &str) -> Result<(), String> {
    #[cfg(target_os = "windows")]
    {
        // `start` is built into cmd; the quoted address keeps cmd from reading its `&`s.
        use std::os::windows::process::CommandExt;
        let mut cmd = Command::new("cmd");
        cmd.raw_arg(format!("/C start \"\" \"{url}\""));
        spawn(cmd).map_err(|e| format!("start: {e}"))
    }
    #[cfg(target_os = "macos")]
    {
        let mut cmd = Command::new("open");
        cmd.arg(url);
        spawn(cmd).map_err(|e| format!("open: {e}"))
    }
    #[cfg(not(any(target_os = "windows", target_os = "macos")))]
    {
        let mut cmd = Command::new("xdg-open");
        cmd.arg(url);
        spawn(cmd).map_err(|e| format!("xdg-open: {e}"))
    }
}

fn spawn_detached(argv: &[String]) -> Result<(), String> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    spawn(cmd)
}

/// Starts the browser without waiting for it. Its stdout goes to apppass's stderr, so that
/// `--json` output stays clean; a thread reaps it.
fn spawn(mut cmd: Command) -> Result<(), String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()));
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

/// Ctrl+C during a sign-in cancels it (the core then closes the listener or stops polling and
/// changes nothing); a second Ctrl+C ends apppass at once.
struct CtrlC {
    stop: Arc<AtomicBool>,
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    // SAFETY: signal() is async-signal-safe; the next Ctrl+C gets the default action.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}

impl CtrlC {
    fn watch(cancel: &Cancellation) -> CtrlC {
        #[cfg(unix)]
        // SAFETY: the handler only stores to an atomic and resets the disposition.
        unsafe {
            let previous = libc::signal(
                libc::SIGINT,
                on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
            // Started with Ctrl+C ignored (nohup, a background job): leave it ignored.
            if previous == libc::SIG_IGN {
                libc::signal(libc::SIGINT, libc::SIG_IGN);
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (cancel, done) = (cancel.clone(), stop.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                if INTERRUPTED.load(Ordering::SeqCst) {
                    let _ = writeln!(std::io::stderr());
                    cancel.cancel();
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        CtrlC { stop }
    }
}

impl Drop for CtrlC {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

pub fn logout(profile: &Profile) -> Result<u8, Failure> {
    // Nobody signed in: nothing to delete, and no keyring needed to say so.
    let Some(account) = load_account(profile)? else {
        note("Not signed in; nothing to sign out of.");
        return Ok(exit::OK);
    };
    let settings = Settings::load(profile)?;
    let signin = signin_for(profile, &settings)?;
    let out = block_on(signin.sign_out())??;
    let mut text = format!(
        "Signed out {}: the sign-in was deleted from this computer",
        account.username
    );
    if out.revoked {
        text.push_str(" and revoked at the identity provider.");
    } else {
        text.push('.');
    }
    note(&text);
    if let Some(why) = out.note {
        note(&why);
    }
    Ok(exit::OK)
}

pub fn whoami(profile: &Profile, json: bool) -> Result<u8, Failure> {
    let Some(account) = load_account(profile)? else {
        return Err(Failure::new(
            Code::SignInRequired,
            "Not signed in with a work account. Sign in with `apppass login` (or `apppass login --device-code`).",
        ));
    };
    if json {
        output::json(&account)?;
    } else {
        out(&account_text(&account, SystemClock.now()))?;
    }
    if account.state == SessionState::SignInRequired {
        note("This sign-in has ended (expired or revoked). Sign in again with `apppass login`.");
        return Ok(exit::status(Code::SignInRequired));
    }
    Ok(exit::OK)
}

fn account_text(a: &Account, now: i64) -> String {
    let mut rows: Vec<(&str, String)> = vec![("username", a.username.clone())];
    if let Some(name) = &a.name {
        rows.push(("name", name.clone()));
    }
    if let Some(email) = &a.email {
        rows.push(("email", email.clone()));
    }
    if let Some(tenant) = &a.tenant_id {
        rows.push(("tenant", tenant.clone()));
    }
    rows.push(("issuer", a.issuer.clone()));
    rows.push((
        "signed in",
        format!(
            "{} {}",
            output::when(Some(a.signed_in_at), now),
            match a.method {
                SignInMethod::Browser => "in the browser",
                SignInMethod::DeviceCode => "with a code",
            }
        ),
    ));
    rows.push((
        "mfa",
        if a.mfa_used {
            format!("used at this sign-in (amr: {})", a.amr.join(", "))
        } else if a.amr.is_empty() {
            "not reported by the provider".to_string()
        } else {
            format!("not used at this sign-in (amr: {})", a.amr.join(", "))
        },
    ));
    rows.push((
        "state",
        match a.state {
            SessionState::Active => "active".to_string(),
            SessionState::SignInRequired => "ended: sign in again".to_string(),
        },
    ));
    rows.iter()
        .map(|(k, v)| format!("{:<11}{v}\n", format!("{k}:")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_var_substitutes_or_appends_the_address() {
        let url = "http://127.0.0.1:1/authorize?a=1&b=2";
        assert_eq!(
            browser_argv("firefox --new-window", url),
            vec!["firefox", "--new-window", url]
        );
        assert_eq!(
            browser_argv("w3m -o x=1 %s", url),
            vec!["w3m", "-o", "x=1", url]
        );
    }

    #[test]
    fn a_browser_that_does_not_exist_is_reported_and_the_next_is_tried() {
        let err = open_with_browser_var("/nonexistent/apppass-browser", "http://x/").unwrap_err();
        assert!(err.contains("/nonexistent/apppass-browser"), "{err}");
        #[cfg(unix)]
        assert!(open_with_browser_var("/nonexistent/b:true", "http://x/").is_ok());
    }
}
