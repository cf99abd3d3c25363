//! The IPC commands: each parses its arguments, calls apppass-core and returns core's
//! [`Failure`] (`{code, message}`) on error. No logic lives here, and nothing is logged: arguments
//! can carry a password or a passphrase.
//!
//! All run off the main thread (`async`), so a slow keyring or key derivation never freezes the
//! window. Every command must also be listed in `src-tauri/build.rs` and granted in
//! `src-tauri/capabilities/main-window.json`.

use apppass_core::catalog::preflight::ClientPreflight;
use apppass_core::catalog::{self, Client, ClientSetup, Provider};
use apppass_core::clock::{Clock, SystemClock};
use apppass_core::export::{self, ExportFormat};
use apppass_core::graph::Preflight;
use apppass_core::mailcheck::{CheckOutcome, Step};
use apppass_core::settings::Settings;
use apppass_core::signin::{Account, SignedOut};
use apppass_core::vault::{Access, Entry, HealthReport, NewEntry};
use apppass_core::wire::{
    Copied, ExportedFile, MfaOverview, Pasted, Removed, Revealed, Rotated, SearchPage,
    SignInProgress, SignInSetup, StoreStatus,
};
use apppass_core::{Code, Failure, Secret};
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, Runtime, State};
use tauri_plugin_opener::OpenerExt;

use crate::signin;
use crate::state::AppState;
use crate::wizard;

type Answer<T> = Result<T, Failure>;

#[tauri::command(async)]
pub fn vault_list(state: State<'_, AppState>) -> Answer<Vec<Entry>> {
    state.with_vault(|v| v.list())
}

/// The first `limit` entries matching `query` (every entry when it is blank) and how many match:
/// the vault screen shows one page, whatever the size of the vault.
#[tauri::command(async)]
pub fn vault_search(state: State<'_, AppState>, query: String, limit: u32) -> Answer<SearchPage> {
    state.with_vault(|v| v.search_page(&query, limit as usize))
}

#[tauri::command(async)]
pub fn vault_health(state: State<'_, AppState>) -> Answer<HealthReport> {
    let settings = state.settings()?;
    let rotation_days = settings.rotation_days;
    let unused_days = settings.bridge_unused_days();
    state.with_vault(|v| v.health(rotation_days, unused_days))
}

/// Adds an entry with a password typed into the form (the fallback to pasting).
#[tauri::command(async)]
pub fn entry_add(state: State<'_, AppState>, entry: NewEntry, password: String) -> Answer<Entry> {
    let password = Secret::new(password);
    state.with_vault(|v| v.add(entry, &password))
}

/// Adds an entry with the password on the clipboard, read here once, then clears the clipboard.
/// On failure the clipboard is left as it was, so the user can correct the form and try again.
#[tauri::command(async)]
pub fn entry_add_from_clipboard(state: State<'_, AppState>, entry: NewEntry) -> Answer<Entry> {
    let pasted = state.clipboard.text()?.ok_or_else(|| {
        Failure::new(
            Code::EmptySecret,
            "The clipboard holds no text. Copy the app password on the provider's page, then try again.",
        )
    })?;
    let added = state.with_vault(|v| v.add(entry, &pasted))?;
    state.clipboard.clear()?;
    Ok(added)
}

#[tauri::command(async)]
pub fn entry_copy(state: State<'_, AppState>, name: String) -> Answer<Copied> {
    let clear_after_seconds = state.settings()?.clipboard_clear_seconds;
    let (_, secret) = state.with_vault(|v| v.secret(&name, Access::Copy))?;
    state.copies.copy(secret, clear_after_seconds)?;
    Ok(Copied {
        clear_after_seconds,
    })
}

/// The only command that sends a password to the webview.
#[tauri::command(async)]
pub fn entry_reveal(state: State<'_, AppState>, name: String) -> Answer<Revealed> {
    let hide_after_seconds = state.settings()?.reveal_hide_seconds;
    let (_, password) = state.with_vault(|v| v.secret(&name, Access::Reveal))?;
    Ok(Revealed {
        password,
        hide_after_seconds,
    })
}

#[tauri::command(async)]
pub fn entry_rename(state: State<'_, AppState>, name: String, to: String) -> Answer<Entry> {
    state.with_vault(|v| v.rename(&name, &to))
}

/// Removes the entry here; the answer names the provider's page where it must be deleted too.
#[tauri::command(async)]
pub fn entry_remove(state: State<'_, AppState>, name: String) -> Answer<Removed> {
    let entry = state.with_vault(|v| v.remove(&name))?;
    let provider = catalog::provider(&entry.provider)?;
    Ok(Removed {
        provider_name: provider.name.clone(),
        manage_url: provider.manage_url().map(str::to_string),
        entry,
    })
}

#[tauri::command(async)]
pub fn settings_get(state: State<'_, AppState>) -> Answer<Settings> {
    state.settings()
}

/// Saves the settings. The store is changed only by the store commands (secrets must move).
#[tauri::command(async)]
pub fn settings_set(state: State<'_, AppState>, settings: Settings) -> Answer<Settings> {
    if settings.store != state.settings()?.store {
        return Err(Failure::new(
            Code::InvalidInput,
            "The storage backend is changed with its own button in Settings, which moves the passwords.",
        ));
    }
    settings.save(state.profile()?)?;
    Ok(settings)
}

#[tauri::command(async)]
pub fn catalog_providers() -> Vec<Provider> {
    catalog::providers().to_vec()
}

/// Opens one of the provider's pages in the system browser: its app-password page (the default)
/// or, with `page = "mfa"`, its 2-step verification page. The URL comes from the catalog (https
/// only), never from the webview.
#[tauri::command(async)]
pub fn provider_page_open<R: Runtime>(
    app: AppHandle<R>,
    provider: String,
    page: Option<String>,
) -> Answer<()> {
    let provider = catalog::provider(&provider)?;
    let url = match page.as_deref() {
        None | Some("app_passwords") => provider.manage_url(),
        Some("mfa") => provider.mfa.as_ref().and_then(|m| m.url.as_deref()),
        Some(other) => {
            return Err(Failure::new(
                Code::InvalidInput,
                format!("Unknown page {other:?}: use app_passwords or mfa."),
            ))
        }
    }
    .ok_or_else(|| {
        Failure::new(
            Code::NotFound,
            format!("The catalog has no such web page for {}.", provider.name),
        )
    })?;
    app.opener().open_url(url, None::<&str>).map_err(|e| {
        Failure::new(
            Code::Internal,
            format!("Cannot open the browser: {e}. Open {url} yourself."),
        )
    })
}

#[tauri::command(async)]
pub fn store_status(state: State<'_, AppState>) -> Answer<StoreStatus> {
    state.store_status()
}

/// Switches to the encrypted file store (created with this passphrase, or opened if it exists),
/// moving every password into it.
#[tauri::command(async)]
pub fn store_use_file(state: State<'_, AppState>, passphrase: String) -> Answer<StoreStatus> {
    state.use_file_store(&Secret::new(passphrase))?;
    state.store_status()
}

/// Opens the encrypted file store in use with its passphrase.
#[tauri::command(async)]
pub fn store_unlock(state: State<'_, AppState>, passphrase: String) -> Answer<StoreStatus> {
    state.unlock(&Secret::new(passphrase))?;
    state.store_status()
}

/// Switches back to the OS keyring, moving every password into it.
#[tauri::command(async)]
pub fn store_use_keyring(state: State<'_, AppState>) -> Answer<StoreStatus> {
    state.use_keyring()?;
    state.store_status()
}

// ---- work-account sign-in ---------------------------------------------------------------------
// No command here returns a token: the webview sees the account, the code to type and addresses.

/// The sign-in configuration: client ID present or not (and what IT must do), fields the
/// administrator's policy fixes, the authority.
#[tauri::command(async)]
pub fn signin_config(state: State<'_, AppState>) -> Answer<SignInSetup> {
    signin::setup(&state)
}

/// Saves the client ID and tenant in settings.toml's `[signin]` (refused for fields the policy
/// fixes). An empty value clears the field.
#[tauri::command(async)]
pub fn signin_config_set(
    state: State<'_, AppState>,
    client_id: Option<String>,
    tenant: Option<String>,
) -> Answer<SignInSetup> {
    signin::save_setup(&state, client_id, tenant)
}

/// Starts the browser sign-in: Rust opens the address (`$BROWSER` when set, else the system
/// browser through the opener plugin) and awaits the answer on the loopback listener in the
/// background. Poll `signin_status` for the outcome.
#[tauri::command]
pub async fn signin_browser_start<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Answer<SignInProgress> {
    signin::start_browser(&state, |url| {
        signin::open_url(&state, url, |url| {
            app.opener()
                .open_url(url, None::<&str>)
                .map_err(|e| e.to_string())
        })
    })
    .await
}

/// Starts "Sign in with a code": answers with the code, the address and its QR code; polling the
/// provider goes on in Rust. Poll `signin_status` for the outcome.
#[tauri::command]
pub async fn signin_code_start(state: State<'_, AppState>) -> Answer<SignInProgress> {
    signin::start_code(&state).await
}

#[tauri::command(async)]
pub fn signin_cancel(state: State<'_, AppState>) -> Answer<SignInProgress> {
    signin::cancel(&state);
    signin::progress(&state)
}

#[tauri::command(async)]
pub fn signin_status(state: State<'_, AppState>) -> Answer<SignInProgress> {
    signin::progress(&state)
}

/// The signed-in work account, or `null`.
#[tauri::command(async)]
pub fn account_get(state: State<'_, AppState>) -> Answer<Option<Account>> {
    signin::account(&state)
}

/// Signs out: revokes the refresh token where the provider can, deletes the tokens.
#[tauri::command]
pub async fn signout(state: State<'_, AppState>) -> Answer<SignedOut> {
    signin::cancel(&state);
    let signin = state.signin()?;
    signin.sign_out().await
}

// ---- MFA ----------------------------------------------------------------------------------------

/// The account's MFA: the registered methods from Microsoft Graph (guided mode when Graph
/// refuses), and whether the sign-in itself used MFA.
#[tauri::command]
pub async fn mfa_status(state: State<'_, AppState>) -> Answer<MfaOverview> {
    signin::mfa_overview(&state).await
}

/// Can app passwords work for this account (per-user MFA state), and which protocols still
/// accept them today, each with its source and date.
#[tauri::command]
pub async fn preflight(state: State<'_, AppState>) -> Answer<Preflight> {
    signin::preflight(&state).await
}

/// Opens Microsoft's Security info page (tenant-pinned when the tenant is known) in the browser.
/// The address is built here, never taken from the webview.
#[tauri::command(async)]
pub fn security_info_open<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Answer<String> {
    let url = signin::security_info(&state)?;
    signin::open_url(&state, &url, |url| {
        app.opener()
            .open_url(url, None::<&str>)
            .map_err(|e| e.to_string())
    })
    .map_err(|e| {
        Failure::new(
            Code::Internal,
            format!("Cannot open the browser: {e}. Open {url} yourself."),
        )
    })?;
    Ok(url)
}

// ---- the app-password wizard --------------------------------------------------------------------
// The pasted app password stays in Rust (`AppState::pending`) from Paste to Save: no command here
// receives or returns it.

/// The mail clients of the catalog: protocols, setup steps, export formats.
#[tauri::command(async)]
pub fn catalog_clients() -> Vec<Client> {
    catalog::clients().to_vec()
}

/// Can `client` work with an app password from `provider` today? Per protocol the statement in
/// force, with its source and date, a verdict and advice.
#[tauri::command(async)]
pub fn wizard_preflight(provider: String, client: String) -> Answer<ClientPreflight> {
    let today = apppass_core::graph::preflight::today(SystemClock.now());
    catalog::preflight::check(&provider, &client, &today)
}

/// A name for a new entry, unique in the vault: "Thunderbird on LAPTOP-42".
#[tauri::command(async)]
pub fn wizard_suggest_name(state: State<'_, AppState>, client: String) -> Answer<String> {
    let taken: Vec<String> = state
        .with_vault(|v| v.list())?
        .into_iter()
        .map(|e| e.name)
        .collect();
    Ok(catalog::suggest_name(
        &client,
        &catalog::device_name(),
        &taken,
    ))
}

/// Paste: reads the clipboard once and clears it (if it still holds what was read), checks the
/// value against the provider's format, and keeps the normalised password here. The answer is
/// its length and shape only, or why it was refused.
#[tauri::command(async)]
pub fn wizard_paste(state: State<'_, AppState>, provider: String) -> Answer<Pasted> {
    wizard::paste(state.clipboard.as_ref(), &state.pending, &provider)
}

/// Saves a new entry with the pasted password; the password is dropped once stored (kept after
/// a failure such as a name already taken, so that the user can correct it).
#[tauri::command(async)]
pub fn wizard_save(state: State<'_, AppState>, entry: NewEntry) -> Answer<Entry> {
    let provider = entry.provider.clone();
    state.pending.use_for(&provider, |secret| {
        state.with_vault(|v| v.add(entry, secret))
    })
}

/// Replaces an entry's password with the pasted one (recorded as a rotation); the answer names
/// the provider's page where the old one must be deleted.
#[tauri::command(async)]
pub fn wizard_rotate(state: State<'_, AppState>, name: String) -> Answer<Rotated> {
    let entry = state.with_vault(|v| v.entry(&name))?;
    let entry = state.pending.use_for(&entry.provider, |secret| {
        state.with_vault(|v| v.rotate(&name, Some(secret)))
    })?;
    let provider = catalog::provider(&entry.provider)?;
    Ok(Rotated {
        provider_name: provider.name.clone(),
        manage_url: provider.manage_url().map(str::to_string),
        entry,
    })
}

/// The settings (server, port, security, user name) and filled-in steps for setting `client` up
/// with the entry.
#[tauri::command(async)]
pub fn client_setup(
    state: State<'_, AppState>,
    name: String,
    client: String,
) -> Answer<ClientSetup> {
    let entry = state.with_vault(|v| v.entry(&name))?;
    catalog::setup(&entry, &client)
}

/// Writes the entry's configuration in `format` to the Downloads folder and answers with the
/// path. Only an Apple profile can hold the password, and only with `include_password`.
#[tauri::command(async)]
pub fn export_file<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    name: String,
    format: ExportFormat,
    include_password: bool,
) -> Answer<ExportedFile> {
    let (entry, secret) = if include_password {
        let (entry, secret) = state.with_vault(|v| v.secret(&name, Access::Reveal))?;
        (entry, Some(secret))
    } else {
        (state.with_vault(|v| v.entry(&name))?, None)
    };
    let exported = export::render(&entry, format, secret.as_ref())?;
    let dir = wizard::downloads_dir(state.downloads_override(), app.path().download_dir().ok())?;
    wizard::write_export(&dir, &exported)
}

/// Signs in to the entry's servers with its stored password (those `client` uses, when given),
/// streaming each step through `on_step`; the answer is one outcome per server. Trusts the
/// extra CA file of the settings (`ca_file`) besides the system's roots.
#[tauri::command]
pub async fn connection_test(
    state: State<'_, AppState>,
    name: String,
    client: Option<String>,
    on_step: Channel<Step>,
) -> Answer<Vec<CheckOutcome>> {
    let progress = move |step: Step| {
        // A window closed meanwhile: nobody left to show the step to.
        let _ = on_step.send(step);
    };
    wizard::test_connection(&state, &name, client.as_deref(), &progress).await
}

/// Drops the pasted app password the wizard keeps (Cancel, or back at the first step).
#[tauri::command(async)]
pub fn wizard_cancel(state: State<'_, AppState>) {
    state.pending.clear();
}

/// Copies non-secret text (a name, a server, a user name) to the clipboard: the webview has no
/// clipboard permission. Never cleared by a timer; passwords go through `entry_copy`.
#[tauri::command(async)]
pub fn text_copy(state: State<'_, AppState>, text: String) -> Answer<()> {
    if text.is_empty() || text.len() > 2048 {
        return Err(Failure::new(
            Code::InvalidInput,
            "Only a name, a server or a user name can be copied here (1 to 2048 bytes).",
        ));
    }
    state.clipboard.put_secret(&Secret::new(text))
}
