//! The app's bridge: its clients (add, rotate, remove, list), their passwords (copied or revealed
//! only on request), its settings, the local certificate, and the bridge itself, which the app
//! runs in the background (at most one) while the window is open.
//!
//! No answer here holds a bridge password: `bridge_add` and `bridge_rotate` store the new one and
//! answer with the entry; the webview gets the password only through `bridge_password_reveal`
//! (or puts it on the clipboard with `bridge_password_copy`), like an app password.

use std::sync::{Arc, Mutex};

use apppass_core::bridge::{
    clients, Bridge, BridgeConfig, BridgeSettings, BridgeStatus, Listen, LocalCert, Preset,
    Running, SignInTokens, Status,
};
use apppass_core::export::Exported;
use apppass_core::mailcheck::CheckOptions;
use apppass_core::settings::Settings;
use apppass_core::vault::{Access, Entry};
use apppass_core::wire::{Copied, ExportedFile, Revealed};
use apppass_core::{Code, Failure};
use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime, State};

use crate::state::AppState;
use crate::wizard;

type Answer<T> = Result<T, Failure>;

/// The bridge the app runs, and what the Bridge screen shows about it.
#[derive(Default)]
pub struct BridgeSlot {
    /// Kept across runs, so the last errors stay visible after a stop.
    status: Arc<Status>,
    running: tokio::sync::Mutex<Option<Running>>,
    /// Why the last start failed (no sign-in, a port in use …); cleared by a successful start.
    start_failure: Mutex<Option<Failure>>,
}

impl BridgeSlot {
    fn set_start_failure(&self, failure: Option<Failure>) {
        *self.start_failure.lock().unwrap_or_else(|p| p.into_inner()) = failure;
    }

    /// Stops the bridge if it runs (the app is quitting).
    pub fn stop_blocking(&self) {
        let running = self.running.blocking_lock().take();
        if let Some(running) = running {
            tauri::async_runtime::block_on(running.shutdown());
        }
    }
}

/// The Bridge screen's view: the core's status, why the last start failed, and whether apppass
/// is really registered to start at login.
#[derive(Debug, Clone, Serialize)]
pub struct BridgeView {
    #[serde(flatten)]
    pub status: BridgeStatus,
    pub start_failure: Option<Failure>,
    /// `true`: the login item is there (apppass starts when the user logs in); `false`: it is
    /// not; `null`: it could not be checked.
    pub login_item: Option<bool>,
}

fn view(state: &AppState) -> BridgeView {
    let slot = &state.bridge;
    BridgeView {
        status: slot.status.snapshot(),
        start_failure: slot
            .start_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
        login_item: state.login_item().and_then(|item| item.is_enabled().ok()),
    }
}

/// Registers apppass to start at login (`enabled`) or removes that registration.
fn apply_login_item(state: &AppState, enabled: bool) -> Answer<()> {
    let done = match state.login_item() {
        Some(item) => item.set(enabled),
        None if enabled => Err("this build of apppass has no way to do it".to_string()),
        None => Ok(()),
    };
    done.map_err(|why| {
        let message = if enabled {
            format!(
                "Saved, but apppass could not register itself to start when you log in ({why}). Try Register again on the Bridge screen, or add apppass to your desktop's startup applications by hand."
            )
        } else {
            format!(
                "Saved, but apppass could not remove itself from the programs that start when you log in ({why}). Remove apppass from your desktop's startup applications by hand."
            )
        };
        Failure::new(Code::LoginItemFailed, message)
    })
}

fn bridge_settings(settings: &Settings) -> BridgeSettings {
    settings.bridge.clone().unwrap_or_default()
}

/// Starts the bridge with the `[bridge]` settings, the app's sign-in and vault, and the
/// `ca_file` setting. Answers with the status; a bridge that already runs is left as it is.
pub async fn start(state: &AppState) -> Answer<BridgeView> {
    let mut slot = state.bridge.running.lock().await;
    if slot.is_none() {
        match start_new(state).await {
            Ok(running) => {
                *slot = Some(running);
                state.bridge.set_start_failure(None);
            }
            Err(failure) => {
                state.bridge.set_start_failure(Some(failure.clone()));
                return Err(failure);
            }
        }
    }
    Ok(view(state))
}

async fn start_new(state: &AppState) -> Answer<Running> {
    let profile = state.profile()?;
    let settings = state.settings()?;
    let config = BridgeConfig::from_settings(
        &bridge_settings(&settings),
        settings.ca_file.clone(),
        Some(profile.data_dir.join("bridge-protocol.log")),
    )?;
    if let Some(ca) = &config.ca_file {
        CheckOptions {
            ca_file: Some(ca.clone()),
            ..CheckOptions::default()
        }
        .validate()?;
    }
    let (signin, _) = state.signin_with_deps()?;
    if signin.account()?.is_none() {
        return Err(Failure::new(
            Code::SignInRequired,
            "Nobody is signed in, so the bridge could not reach the mailbox. Sign in with your work account (Work account), then start the bridge again.",
        ));
    }
    let store = state.secret_store();
    let cert = LocalCert::load_or_create(store.as_ref(), &profile.namespace, &profile.data_dir)?;
    let tokens = Arc::new(SignInTokens::new(signin, config.scopes.clone()));
    Bridge::start(
        config,
        state.client_book(),
        tokens,
        state.bridge.status.clone(),
        &cert,
    )
    .await
}

/// Stops the bridge (if it runs); connected clients are disconnected.
pub async fn stop(state: &AppState) -> BridgeView {
    let running = state.bridge.running.lock().await.take();
    if let Some(running) = running {
        running.shutdown().await;
    }
    view(state)
}

/// At app start: starts the bridge when `[bridge] start_at_login` is on and someone is signed
/// in. A failure is kept for the Bridge screen (`start_failure`).
pub async fn autostart(state: &AppState) {
    let wanted = state
        .settings()
        .ok()
        .and_then(|s| s.bridge)
        .is_some_and(|b| b.start_at_login);
    let signed_in = crate::signin::account(state).ok().flatten().is_some();
    if wanted && signed_in {
        let _ = start(state).await;
    }
}

/// Writes the default `[bridge]` section when there is none yet, so that the next sign-in also
/// asks for the mail scopes the bridge needs.
fn ensure_bridge_settings(state: &AppState) -> Answer<BridgeSettings> {
    let mut settings = state.settings()?;
    if let Some(bridge) = &settings.bridge {
        return Ok(bridge.clone());
    }
    let bridge = BridgeSettings::default();
    settings.bridge = Some(bridge.clone());
    settings.save(state.profile()?)?;
    Ok(bridge)
}

// ---- commands -----------------------------------------------------------------------------------

/// Every bridge client, by name.
#[tauri::command(async)]
pub fn bridge_clients(state: State<'_, AppState>) -> Answer<Vec<Entry>> {
    state.with_vault(clients::list)
}

/// Adds a bridge client for the catalog `client` with a new generated password. The answer is
/// the entry only: the password is copied or revealed on request.
#[tauri::command(async)]
pub fn bridge_add(state: State<'_, AppState>, name: String, client: String) -> Answer<Entry> {
    let settings = ensure_bridge_settings(&state)?;
    let (entry, _password) = state.with_vault(|v| clients::add(v, &settings, &name, &client))?;
    Ok(entry)
}

/// A new password for the client; the old one stops working at once.
#[tauri::command(async)]
pub fn bridge_rotate(state: State<'_, AppState>, name: String) -> Answer<Entry> {
    let (entry, _password) = state.with_vault(|v| clients::rotate(v, &name))?;
    Ok(entry)
}

/// Removes the client: it can no longer sign in.
#[tauri::command(async)]
pub fn bridge_remove(state: State<'_, AppState>, name: String) -> Answer<Entry> {
    state.with_vault(|v| clients::remove(v, &name))
}

/// Puts the client's password on the clipboard (cleared after the set time).
#[tauri::command(async)]
pub fn bridge_password_copy(state: State<'_, AppState>, name: String) -> Answer<Copied> {
    let clear_after_seconds = state.settings()?.clipboard_clear_seconds;
    let (_, secret) = state.with_vault(|v| {
        let entry = clients::find(v, &name)?;
        v.secret(&entry.name, Access::Copy)
    })?;
    state.copies.copy(secret, clear_after_seconds)?;
    Ok(Copied {
        clear_after_seconds,
    })
}

/// Shows the client's password (the only bridge command that sends one to the webview).
#[tauri::command(async)]
pub fn bridge_password_reveal(state: State<'_, AppState>, name: String) -> Answer<Revealed> {
    let hide_after_seconds = state.settings()?.reveal_hide_seconds;
    let (_, password) = state.with_vault(|v| {
        let entry = clients::find(v, &name)?;
        v.secret(&entry.name, Access::Reveal)
    })?;
    Ok(Revealed {
        password,
        hide_after_seconds,
    })
}

/// Whether the bridge runs, its listeners, connected clients, the last errors.
#[tauri::command(async)]
pub fn bridge_status(state: State<'_, AppState>) -> BridgeView {
    view(&state)
}

#[tauri::command]
pub async fn bridge_start(state: State<'_, AppState>) -> Answer<BridgeView> {
    start(&state).await
}

#[tauri::command]
pub async fn bridge_stop(state: State<'_, AppState>) -> Answer<BridgeView> {
    Ok(stop(&state).await)
}

/// Saves the preset, the local ports (0 = off) and "start at login" in `[bridge]`, after the core
/// checked them, and registers apppass to start at login (or removes that) as the setting says. A
/// running bridge is restarted with them. A registration that fails keeps the saved settings and
/// answers `LoginItemFailed`.
#[tauri::command]
pub async fn bridge_settings_save(
    state: State<'_, AppState>,
    preset: Preset,
    listen: Listen,
    start_at_login: bool,
) -> Answer<Settings> {
    let mut settings = state.settings()?;
    let mut bridge = bridge_settings(&settings);
    bridge.preset = preset;
    bridge.listen = listen;
    bridge.start_at_login = start_at_login;
    BridgeConfig::from_settings(&bridge, None, None)?;
    settings.bridge = Some(bridge);
    settings.save(state.profile()?)?;
    let registered = apply_login_item(&state, start_at_login);
    let running = state.bridge.running.lock().await.is_some();
    if running {
        stop(&state).await;
        start(&state).await?;
    }
    registered?;
    Ok(settings)
}

/// Makes the login item follow the saved "start at login" setting again ("Register again" on the
/// Bridge screen, when the registration went missing or could not be made).
#[tauri::command(async)]
pub fn bridge_login_item_apply(state: State<'_, AppState>) -> Answer<BridgeView> {
    let wanted = bridge_settings(&state.settings()?).start_at_login;
    apply_login_item(&state, wanted)?;
    Ok(view(&state))
}

/// Writes the bridge's certificate (no secret in it) to the Downloads folder, for clients that
/// must trust the bridge's TLS; answers with the path.
#[tauri::command(async)]
pub fn bridge_cert_export<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Answer<ExportedFile> {
    let profile = state.profile()?;
    let store = state.secret_store();
    let cert = LocalCert::load_or_create(store.as_ref(), &profile.namespace, &profile.data_dir)?;
    let exported = Exported {
        file_name: "apppass-bridge.pem".into(),
        media_type: "application/x-pem-file".into(),
        text: cert.cert_pem.into(),
        contains_password: false,
        warning: None,
    };
    let dir = wizard::downloads_dir(state.downloads_override(), app.path().download_dir().ok())?;
    wizard::write_export(&dir, &exported)
}
