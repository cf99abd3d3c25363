//! The first screen's data in the page before its scripts run: Rust reads the providers, the
//! settings and the vault's first page ([`Preload`]) on a thread while GTK and the webview start,
//! and hands them to the main window's page as `window.__APPPASS_PRELOAD__` in an init script. The
//! page then mounts in the same task that loads it, and WebKit's first frame already shows the
//! vault (bench/README.md, start-up): no IPC round trip, and no empty frame painted first.
//!
//! Only metadata crosses, exactly what the commands would answer (the page reads the same types);
//! no password or token is in [`Preload`]. The script is given once, to the first webview; if the
//! answer is not ready within [`WAIT`] (a slow disk or keyring), there is no script and the page
//! asks over IPC as before. The page uses the preload for its first render only and re-reads over
//! IPC after the first frame, so a page reloaded later never shows this old answer for long.

use std::sync::mpsc::Receiver;
use std::sync::Mutex;
use std::time::Duration;

use apppass_core::wire::Preload;
use tauri::plugin::Plugin;
use tauri::Runtime;

use crate::state::AppState;

/// Rows of the vault's first page: what the UI shows (ui/src/lib/startup.ts, `FIRST_ROWS`).
pub const FIRST_ROWS: u32 = 15;

/// How long the window's creation waits for the answer at most.
pub const WAIT: Duration = Duration::from_millis(250);

/// The plugin that gives the main window's page its [`Preload`].
pub struct Preloader {
    answer: Mutex<Option<Receiver<Preload>>>,
    wait: Duration,
}

impl Preloader {
    /// Starts reading the first screen's data now, for [`FIRST_ROWS`] rows.
    pub fn start(state: &AppState) -> Preloader {
        Preloader::with_wait(state, WAIT)
    }

    /// As [`Preloader::start`], waiting at most `wait` for the answer (tests).
    pub fn with_wait(state: &AppState, wait: Duration) -> Preloader {
        Preloader {
            answer: Mutex::new(Some(state.preload(FIRST_ROWS))),
            wait,
        }
    }

    /// The init script, the first time only: `window.__APPPASS_PRELOAD__ = {...};`. `None`
    /// afterwards, or when the answer did not come within the wait.
    pub fn script(&self) -> Option<String> {
        let answer = self.answer.lock().ok()?.take()?;
        let preload = answer.recv_timeout(self.wait).ok()?;
        let json = serde_json::to_string(&preload).ok()?;
        Some(format!("window.__APPPASS_PRELOAD__ = {json};"))
    }
}

impl<R: Runtime> Plugin<R> for Preloader {
    fn name(&self) -> &'static str {
        "preload"
    }

    fn initialization_script(&self) -> Option<String> {
        self.script()
    }
}
