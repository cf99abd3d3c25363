//! The app's work-account sign-in: core's browser and device-code sign-ins run in background tasks
//! here, and their progress is kept for the UI to poll (`signin_status`). No token ever reaches the
//! webview: the UI sees the account, the code to type, addresses and failures only.

use std::process::{Command, Stdio};
use std::sync::Mutex;

use apppass_core::graph::{self, GraphConfig, Preflight};
use apppass_core::policy::{resolve_signin, SignInSettings};
use apppass_core::signin::{Account, Cancellation, DeviceCode, SignInConfig};
use apppass_core::wire::{MfaOverview, SignInPhase, SignInProgress, SignInSetup};
use apppass_core::{Code, Failure};

use crate::state::AppState;

/// Opens an address in a browser. Production: `$BROWSER` when set, else tauri-plugin-opener
/// (see `commands::open_in_browser`); tests inject one that drives the provider's pages.
pub trait UrlOpener: Send + Sync + 'static {
    fn open(&self, url: &str) -> Result<(), String>;
}

/// The running or last sign-in.
#[derive(Default)]
pub struct Task {
    /// Bumped by every start and cancel: a task's late result for an older generation is dropped.
    generation: u64,
    phase: Option<SignInPhase>,
    browser_url: Option<String>,
    device_code: Option<DeviceCode>,
    qr_svg: Option<String>,
    failure: Option<Failure>,
    cancel: Option<Cancellation>,
}

fn lock(task: &Mutex<Task>) -> std::sync::MutexGuard<'_, Task> {
    task.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The sign-in configuration from the settings and the administrator's policy.
pub fn config(state: &AppState) -> Result<SignInConfig, Failure> {
    let settings = state.settings()?;
    let policy = state.policy()?;
    resolve_signin(&settings, policy.as_ref(), &SignInSettings::default())
}

/// What the sign-in screen shows before a sign-in starts.
pub fn setup(state: &AppState) -> Result<SignInSetup, Failure> {
    let settings = state.settings()?;
    let policy = match state.policy() {
        Ok(p) => p,
        Err(problem) => {
            return Ok(SignInSetup {
                authority: None,
                client_id: None,
                tenant: None,
                locked: Vec::new(),
                policy_path: None,
                problem: Some(problem),
            })
        }
    };
    let user = settings.signin.clone().unwrap_or_default();
    let tenant = policy
        .as_ref()
        .and_then(|p| p.signin.tenant.clone())
        .or(user.tenant.clone());
    Ok(
        match resolve_signin(&settings, policy.as_ref(), &SignInSettings::default()) {
            Ok(config) => SignInSetup {
                problem: config.require_client_id().err(),
                authority: Some(config.authority),
                client_id: config.client_id,
                tenant,
                locked: config.locked,
                policy_path: config.policy_path,
            },
            Err(problem) => SignInSetup {
                authority: None,
                client_id: user.client_id,
                tenant,
                locked: policy
                    .as_ref()
                    .map(|p| {
                        p.signin
                            .set_fields()
                            .iter()
                            .map(|f| f.to_string())
                            .collect()
                    })
                    .unwrap_or_default(),
                policy_path: policy.map(|p| p.path.display().to_string()),
                problem: Some(problem),
            },
        },
    )
}

/// Saves the user's client ID and tenant (`[signin]` in settings.toml). An empty value clears the
/// field. A field the policy locks is refused with `LockedByPolicy`; a value the sign-in could not
/// use (a malformed tenant) is refused before anything is saved.
pub fn save_setup(
    state: &AppState,
    client_id: Option<String>,
    tenant: Option<String>,
) -> Result<SignInSetup, Failure> {
    let clean = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let (client_id, tenant) = (clean(client_id), clean(tenant));
    let profile = state.profile()?;
    let mut settings = state.settings()?;
    let policy = state.policy()?;
    let mut signin = settings.signin.clone().unwrap_or_default();
    if let Some(policy) = &policy {
        let fixed = &policy.signin;
        let changes = [
            (
                "client_id",
                fixed.client_id.is_some() && client_id != signin.client_id,
            ),
            ("tenant", fixed.tenant.is_some() && tenant != signin.tenant),
        ];
        if let Some((field, _)) = changes.iter().find(|(_, refused)| *refused) {
            return Err(Failure::new(
                Code::LockedByPolicy,
                format!(
                    "Your organisation set `{field}` in {}, so it cannot be changed here. Ask IT if it is wrong.",
                    policy.path.display()
                ),
            ));
        }
    }
    signin.client_id = client_id;
    signin.tenant = tenant;
    settings.signin = if signin == SignInSettings::default() {
        None
    } else {
        Some(signin)
    };
    // Refuse what the sign-in could not use, before saving it.
    resolve_signin(&settings, policy.as_ref(), &SignInSettings::default())?;
    settings.save(profile)?;
    setup(state)
}

/// The signed-in account, if any (from the data directory: no network, no keyring).
pub fn account(state: &AppState) -> Result<Option<Account>, Failure> {
    apppass_core::signin::tokens::load_account(state.profile()?)
}

/// Where the sign-in stands, for the UI.
pub fn progress(state: &AppState) -> Result<SignInProgress, Failure> {
    let account = account(state)?;
    let task = lock(&state.task);
    Ok(SignInProgress {
        phase: task.phase.unwrap_or(if account.is_some() {
            SignInPhase::SignedIn
        } else {
            SignInPhase::Idle
        }),
        browser_url: task.browser_url.clone(),
        device_code: task.device_code.clone(),
        qr_svg: task.qr_svg.clone(),
        failure: task.failure.clone(),
        account,
    })
}

/// The store the sign-in keeps its refresh token in must answer before the user is sent to sign
/// in: a missing or locked keyring (or a locked encrypted file) is reported now, not after.
fn check_store(state: &AppState) -> Result<(), Failure> {
    state.with_vault(|vault| {
        vault
            .store()
            .probe(&vault.profile().namespace)
            .map_err(|e| e.to_failure())
    })
}

/// Starts a new task (cancelling one that runs): its generation and cancellation.
fn begin(state: &AppState, phase: SignInPhase) -> (u64, Cancellation) {
    let mut task = lock(&state.task);
    if let Some(old) = task.cancel.take() {
        old.cancel();
    }
    let cancel = Cancellation::new();
    *task = Task {
        generation: task.generation + 1,
        phase: Some(phase),
        cancel: Some(cancel.clone()),
        ..Task::default()
    };
    (task.generation, cancel)
}

/// Records a task's outcome, unless a newer start or a cancel replaced it.
fn finish(task: &Mutex<Task>, generation: u64, outcome: Result<Account, Failure>) {
    let mut task = lock(task);
    if task.generation != generation {
        return;
    }
    task.cancel = None;
    task.device_code = None;
    task.qr_svg = None;
    match outcome {
        Ok(_) => {
            task.phase = Some(SignInPhase::SignedIn);
            task.browser_url = None;
            task.failure = None;
        }
        Err(failure) => {
            task.phase = Some(SignInPhase::Failed);
            task.failure = Some(failure);
        }
    }
}

/// Cancels the running sign-in, if any; the screen goes back to its start.
pub fn cancel(state: &AppState) {
    let mut task = lock(&state.task);
    if let Some(cancel) = task.cancel.take() {
        cancel.cancel();
    }
    *task = Task {
        generation: task.generation + 1,
        ..Task::default()
    };
}

/// Browser sign-in: discovery and the loopback listener here (their failures are this command's
/// answer), then the address goes to the browser and the answer is awaited in the background.
pub async fn start_browser(
    state: &AppState,
    open: impl FnOnce(&str) -> Result<(), String>,
) -> Result<SignInProgress, Failure> {
    let config = config(state)?;
    config.require_client_id()?;
    check_store(state)?;
    let signin = state.signin()?;
    let (generation, cancel) = begin(state, SignInPhase::WaitingForBrowser);
    let pending = match signin.begin_browser(&config).await {
        Ok(p) => p,
        Err(failure) => {
            finish(&state.task, generation, Err(failure.clone()));
            return Err(failure);
        }
    };
    let url = pending.url().to_string();
    {
        let mut task = lock(&state.task);
        if task.generation == generation {
            task.browser_url = Some(url.clone());
        }
    }
    // A browser that does not open is not fatal: the screen shows the address to open by hand.
    let _ = open(&url);
    let task = state.task.clone();
    tauri::async_runtime::spawn(async move {
        let outcome = signin.finish_browser(pending, &cancel).await;
        finish(&task, generation, outcome);
    });
    progress(state)
}

/// Sign-in with a code: answers once the provider gave the code (or failed to); polling goes on
/// in the background until the user enters it, it expires, or the sign-in is cancelled.
pub async fn start_code(state: &AppState) -> Result<SignInProgress, Failure> {
    let config = config(state)?;
    config.require_client_id()?;
    check_store(state)?;
    let signin = state.signin()?;
    let (generation, cancel) = begin(state, SignInPhase::WaitingForCode);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = Mutex::new(Some(tx));
    let task = state.task.clone();
    tauri::async_runtime::spawn(async move {
        let shown = task.clone();
        let show = move |code: &DeviceCode| {
            {
                let mut t = lock(&shown);
                if t.generation == generation {
                    let target = code
                        .verification_uri_complete
                        .as_deref()
                        .unwrap_or(&code.verification_uri);
                    t.qr_svg = qr_svg(target);
                    t.device_code = Some(code.clone());
                }
            }
            if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                let _ = tx.send(());
            }
        };
        let outcome = signin.sign_in_with_code(&config, &show, &cancel).await;
        finish(&task, generation, outcome);
    });
    // The sender is dropped without sending when the sign-in failed before showing a code.
    let shown = rx.await.is_ok();
    let now = progress(state)?;
    match (shown, &now.failure) {
        (false, Some(failure)) if now.phase == SignInPhase::Failed => Err(failure.clone()),
        _ => Ok(now),
    }
}

/// A QR code of `text` as an SVG document (black on white: scanners need the contrast in both
/// themes).
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(180, 180)
            .dark_color(qrcode::render::svg::Color("#000000"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .quiet_zone(true)
            .build(),
    )
}

/// Opens `url` with the command in `$BROWSER` (the first of a colon-separated list; `%s` stands
/// for the address, else it is appended), as the CLI does. The child is reaped in the background.
pub fn open_with_browser_var(browser: &str, url: &str) -> Result<(), String> {
    let command = browser
        .split(':')
        .map(str::trim)
        .find(|c| !c.is_empty())
        .ok_or("BROWSER is empty")?;
    let mut words = command.split_whitespace();
    let program = words.next().ok_or("BROWSER is empty")?;
    let mut args: Vec<String> = words.map(|w| w.replace("%s", url)).collect();
    if !command.contains("%s") {
        args.push(url.to_string());
    }
    let mut child = Command::new(program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

/// Opens the sign-in address: the injected opener (tests), else `$BROWSER`, else `fallback` (the
/// opener plugin).
pub fn open_url(
    state: &AppState,
    url: &str,
    fallback: impl FnOnce(&str) -> Result<(), String>,
) -> Result<(), String> {
    if let Some(browser) = &state.browser {
        return browser.open(url);
    }
    match std::env::var("BROWSER") {
        Ok(b) if !b.trim().is_empty() => open_with_browser_var(&b, url),
        _ => fallback(url),
    }
}

/// Microsoft's Security info page, where a user registers MFA methods (providers.md §1.1).
pub const SECURITY_INFO: &str = "https://mysignins.microsoft.com/security-info";

/// The Security info page, pinned to the tenant when it is known (providers.md §1.1: `?tenantId=`
/// for a tenant id, `?tenant=` for a tenant name), so that a person with several work accounts
/// lands in the right organisation.
pub fn security_info_url(account: Option<&Account>, configured_tenant: Option<&str>) -> String {
    if let Some(id) = account.and_then(|a| a.tenant_id.as_deref()) {
        return format!("{SECURITY_INFO}/?tenantId={}", url_encode(id));
    }
    match configured_tenant.map(str::trim) {
        Some(t) if !t.is_empty() && t != "organizations" && t != "common" && t != "consumers" => {
            let is_id = t.len() == 36 && t.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
            if is_id {
                format!("{SECURITY_INFO}/?tenantId={}", url_encode(t))
            } else {
                format!("{SECURITY_INFO}?tenant={}", url_encode(t))
            }
        }
        _ => SECURITY_INFO.to_string(),
    }
}

/// Percent-encodes a query value (tenant ids and domains are plain; this guards the rest).
fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The configured tenant (policy, else settings), for pinning the Security info page.
fn configured_tenant(state: &AppState) -> Option<String> {
    let policy = state.policy().ok().flatten();
    policy
        .and_then(|p| p.signin.tenant)
        .or_else(|| state.settings().ok()?.signin?.tenant)
}

/// The Security info address for this profile.
pub fn security_info(state: &AppState) -> Result<String, Failure> {
    let account = account(state)?;
    Ok(security_info_url(
        account.as_ref(),
        configured_tenant(state).as_deref(),
    ))
}

/// Microsoft Graph for the sign-in's cloud (or the test emulator the state names).
pub fn graph_config(state: &AppState) -> GraphConfig {
    if let Some(url) = state.graph_url() {
        return GraphConfig::with_base_url(url);
    }
    let authority = account(state)
        .ok()
        .flatten()
        .map(|a| a.authority)
        .or_else(|| config(state).ok().map(|c| c.authority))
        .unwrap_or_default();
    GraphConfig::for_authority(&authority)
}

/// What the MFA screen shows: the live status from Graph when signed in (guided mode when Graph
/// refuses), else why not.
pub async fn mfa_overview(state: &AppState) -> Result<MfaOverview, Failure> {
    let account = account(state)?;
    let url = security_info_url(account.as_ref(), configured_tenant(state).as_deref());
    let (status, problem) = match &account {
        None => (
            None,
            Some(Failure::new(
                Code::SignInRequired,
                "Sign in with your work account (Work account tab) so that apppass can check which methods you have registered. You can set up MFA without it.",
            )),
        ),
        Some(_) => {
            let (signin, deps) = state.signin_with_deps()?;
            match graph::mfa_status(&signin, &graph_config(state), &deps).await {
                Ok(status) => (Some(status), None),
                Err(failure) => (None, Some(failure)),
            }
        }
    };
    // A refused refresh marks the account: show it as it is now.
    let account = self::account(state)?;
    Ok(MfaOverview {
        account,
        status,
        problem,
        security_info_url: url,
    })
}

/// Can app passwords work for this account, and which protocols still take them (never fails for
/// want of Graph: the unknown parts say why).
pub async fn preflight(state: &AppState) -> Result<Preflight, Failure> {
    let (signin, deps) = state.signin_with_deps()?;
    graph::preflight(&signin, &graph_config(state), &deps).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_info_is_pinned_to_the_tenant_when_known() {
        assert_eq!(security_info_url(None, None), SECURITY_INFO);
        assert_eq!(
            security_info_url(None, Some("organizations")),
            SECURITY_INFO
        );
        assert_eq!(
            security_info_url(None, Some("contoso.onmicrosoft.com")),
            "https://mysignins.microsoft.com/security-info?tenant=contoso.onmicrosoft.com"
        );
        assert_eq!(
            security_info_url(None, Some("00001111-aaaa-2222-bbbb-3333cccc4444")),
            "https://mysignins.microsoft.com/security-info/?tenantId=00001111-aaaa-2222-bbbb-3333cccc4444"
        );
    }

    #[test]
    fn qr_is_an_svg_document() {
        let svg = qr_svg("https://microsoft.com/devicelogin").unwrap();
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("</svg>"));
    }

    #[test]
    fn browser_var_with_and_without_placeholder() {
        assert!(open_with_browser_var("true", "http://127.0.0.1/").is_ok());
        assert!(open_with_browser_var("true %s --x", "http://127.0.0.1/").is_ok());
        assert!(open_with_browser_var(" : ", "http://127.0.0.1/").is_err());
        assert!(open_with_browser_var("/nonexistent/browser", "http://x/").is_err());
    }
}
