//! The apppass desktop app: one window, its plugins, and thin IPC commands over apppass-core.
//!
//! [`configure`] registers what production and tests share (state, the opener plugin, every
//! command); [`run`] adds the process-level plugins (single instance, window state, autostart)
//! and starts.

pub mod bench;
mod bridge;
mod clipboard;
pub mod commands;
mod login;
pub mod preload;
mod signin;
mod state;
mod wizard;

pub use clipboard::{Clipboard, SystemClipboard};
pub use login::{LoginItem, PluginLoginItem, AUTOSTART_ARG};
pub use signin::{qr_svg, UrlOpener};
pub use state::{AppState, StoreOpener, SystemStores};

use std::sync::Arc;

use apppass_core::profile::Profile;
use tauri::{Builder, Manager, RunEvent, Runtime};

/// Registers the navigation guard, the app's state, the opener plugin and all commands. Used by
/// [`run`] and by the IPC tests, so both see exactly the same handlers.
pub fn configure<R: Runtime>(builder: Builder<R>, state: AppState) -> Builder<R> {
    builder
        .plugin(navigation_guard())
        .plugin(tauri_plugin_opener::init())
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::vault_list,
            commands::vault_search,
            commands::vault_health,
            commands::entry_add,
            commands::entry_add_from_clipboard,
            commands::entry_copy,
            commands::entry_reveal,
            commands::entry_rename,
            commands::entry_remove,
            commands::settings_get,
            commands::settings_set,
            commands::catalog_providers,
            commands::provider_page_open,
            commands::store_status,
            commands::store_use_file,
            commands::store_unlock,
            commands::store_use_keyring,
            commands::signin_config,
            commands::signin_config_set,
            commands::signin_browser_start,
            commands::signin_code_start,
            commands::signin_cancel,
            commands::signin_status,
            commands::account_get,
            commands::signout,
            commands::mfa_status,
            commands::preflight,
            commands::security_info_open,
            commands::catalog_clients,
            commands::wizard_suggest_name,
            commands::wizard_paste,
            commands::wizard_save,
            commands::wizard_rotate,
            commands::wizard_cancel,
            commands::client_setup,
            commands::export_file,
            commands::connection_test,
            commands::wizard_preflight,
            commands::text_copy,
            bridge::bridge_clients,
            bridge::bridge_add,
            bridge::bridge_rotate,
            bridge::bridge_remove,
            bridge::bridge_password_copy,
            bridge::bridge_password_reveal,
            bridge::bridge_status,
            bridge::bridge_start,
            bridge::bridge_stop,
            bridge::bridge_settings_save,
            bridge::bridge_login_item_apply,
            bridge::bridge_cert_export,
            bench::bench_ready,
        ])
}

/// Whether `url` is one of the app's own pages (the bundled UI served by Tauri): `tauri://localhost`
/// on Linux and macOS, `http(s)://tauri.localhost` on Windows. Nothing else may be shown in the
/// webview: provider pages and the sign-in open in the user's browser, from Rust.
pub fn is_app_url(url: &tauri::Url) -> bool {
    let host = url.host_str();
    match url.scheme() {
        "tauri" => host == Some("localhost"),
        "http" | "https" => host == Some("tauri.localhost") && url.port().is_none(),
        _ => false,
    }
}

/// Refuses every navigation of a webview away from the app's own pages (a script setting
/// `window.location`, a link, a form): the CSP does not cover top-level navigation, and a remote
/// page in the app's window would look like apppass. It would have no IPC (the capability is for
/// local pages only), but it could still ask for a password.
fn navigation_guard<R: Runtime>() -> tauri::plugin::TauriPlugin<R> {
    tauri::plugin::Builder::new("navigation-guard")
        .on_navigation(|_, url| is_app_url(url))
        .build()
}

/// The embedded config, UI and capabilities (tauri.conf.json, ui/dist, src-tauri/capabilities).
pub fn context<R: Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// Clears a password this app copied, if the clipboard still holds it, and drops a pasted one the
/// wizard still keeps, before the process ends.
fn on_exit<R: Runtime>(app: &tauri::AppHandle<R>) {
    if let Some(state) = app.try_state::<AppState>() {
        state.copies.finish();
        state.pending.clear();
        state.bridge.stop_blocking();
    }
}

/// Starts the desktop app. `APPPASS_HOME` selects the profile, as for the CLI.
pub fn run() {
    let profile = Profile::from_env();
    // One instance per profile: a second start focuses the first window instead.
    let mut single = tauri_plugin_single_instance::Builder::new().callback(|app, argv, _cwd| {
        // A login item starting apppass while it already runs: nothing to bring forward.
        if argv.iter().any(|a| a == AUTOSTART_ARG) {
            return;
        }
        if let Some(window) = app.get_webview_window("main") {
            let _ = window.unminimize();
            let _ = window.show();
            let _ = window.set_focus();
        }
    });
    if let Ok(p) = &profile {
        if p.namespace != "default" {
            single = single.dbus_id(format!(
                "org.apppass.desktop.{}",
                p.namespace.replace('-', "_")
            ));
        }
    }
    let state = AppState::new(
        profile,
        Box::new(SystemStores),
        Arc::new(SystemClipboard::default()),
    );
    // The first screen's data, read while GTK and the window start (preload.rs).
    let preloader = preload::Preloader::start(&state);
    let mut builder = Builder::default().plugin(single.build()).plugin(preloader);
    if bench::enabled() {
        builder = builder.plugin(bench::init_plugin());
    }
    let builder = builder
        .plugin(
            tauri_plugin_window_state::Builder::new()
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::SIZE
                        | tauri_plugin_window_state::StateFlags::MAXIMIZED,
                )
                .build(),
        )
        // "Start at login" (the Bridge screen's setting): used from Rust only, through
        // PluginLoginItem; its JS commands are granted to no window.
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![AUTOSTART_ARG]),
        ));
    let app = match configure(builder, state).build(context()) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("apppass: the window could not be opened: {e}");
            std::process::exit(1);
        }
    };
    if bench::enabled() {
        if let Err(e) = app.add_capability(bench::capability()) {
            eprintln!(
                "apppass: {}: the benchmark's signal is off: {e}",
                bench::READY_ENV
            );
        }
    }
    app.state::<AppState>()
        .set_login_item(Arc::new(PluginLoginItem(app.handle().clone())));
    // Started by the login item: the window waits minimised instead of taking the screen.
    if std::env::args().skip(1).any(|a| a == AUTOSTART_ARG) {
        if let Some(window) = app.get_webview_window("main") {
            let _ = window.minimize();
        }
    }
    // "Start at login": the bridge starts with the app when someone is signed in.
    let handle = app.handle().clone();
    tauri::async_runtime::spawn(async move {
        let state = handle.state::<AppState>();
        bridge::autostart(&state).await;
    });
    app.run(|app, event| {
        if let RunEvent::Exit = event {
            on_exit(app);
        }
    });
}
