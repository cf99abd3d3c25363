//! "Start at login": registering apppass with the desktop so that it starts when the user logs in.
//!
//! The app does it through `tauri-plugin-autostart` ([`PluginLoginItem`]: an XDG autostart entry
//! `~/.config/autostart/apppass.desktop` on Linux, a Launch Agent on macOS, a Run key on Windows),
//! started with [`AUTOSTART_ARG`] so that it knows it was started at login. Tests put a recorder in
//! its place ([`crate::AppState::with_login_item`]), so they never touch the machine's own login
//! items.

use tauri::{AppHandle, Runtime};
use tauri_plugin_autostart::ManagerExt;

/// The argument the login item starts apppass with.
pub const AUTOSTART_ARG: &str = "--autostart";

/// Registers apppass to start at login, or removes that registration. Errors are one sentence for
/// people (no secret can be in them: only paths and OS messages).
pub trait LoginItem: Send + Sync + 'static {
    /// `true`: apppass starts when the user logs in; `false`: it no longer does.
    fn set(&self, enabled: bool) -> Result<(), String>;
    /// Whether the registration is really there.
    fn is_enabled(&self) -> Result<bool, String>;
}

/// The real login item, through the autostart plugin registered in [`crate::run`].
pub struct PluginLoginItem<R: Runtime>(pub AppHandle<R>);

impl<R: Runtime> LoginItem for PluginLoginItem<R> {
    fn set(&self, enabled: bool) -> Result<(), String> {
        let manager = self.0.autolaunch();
        if enabled {
            prepare()?;
            manager.enable().map_err(|e| e.to_string())
        } else if manager.is_enabled().map_err(|e| e.to_string())? {
            // Only when there: removing a Run key that is not there is an error on Windows.
            manager.disable().map_err(|e| e.to_string())
        } else {
            Ok(())
        }
    }

    fn is_enabled(&self) -> Result<bool, String> {
        self.0.autolaunch().is_enabled().map_err(|e| e.to_string())
    }
}

/// On Linux the plugin writes `$HOME/.config/autostart/<name>.desktop` but creates only the last
/// folder: a home without `.config` yet (a new account) would fail. Create both first.
#[cfg(target_os = "linux")]
fn prepare() -> Result<(), String> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| "HOME is not set".to_string())?;
    let dir = std::path::Path::new(&home)
        .join(".config")
        .join("autostart");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))
}

#[cfg(not(target_os = "linux"))]
fn prepare() -> Result<(), String> {
    Ok(())
}
