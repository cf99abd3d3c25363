//! The system clipboard, driven from Rust only: the webview has no clipboard permission, so a
//! pasted or copied password never passes through it.
//!
//! A copied password is marked as excluded from clipboard history where the platform has a way
//! to say so, and [`CopyTimer`] clears it after the configured time, but only if the clipboard
//! still holds it (the user may have copied something else since).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apppass_core::{Code, Failure, Secret};

/// What the app needs from a clipboard. Tests use an in-memory one.
pub trait Clipboard: Send + Sync + 'static {
    /// Puts a password on the clipboard, excluded from clipboard history where supported.
    fn put_secret(&self, secret: &Secret) -> Result<(), Failure>;
    /// The clipboard's text; `None` when it holds no text.
    fn text(&self) -> Result<Option<Secret>, Failure>;
    fn clear(&self) -> Result<(), Failure>;
}

/// The OS clipboard through arboard. One arboard handle lives as long as the app: on X11 the
/// process that owns the clipboard serves its content, and dropping the last handle would hand a
/// copied password to the clipboard manager.
#[derive(Default)]
pub struct SystemClipboard(Mutex<Option<arboard::Clipboard>>);

fn unavailable(e: impl std::fmt::Display) -> Failure {
    Failure::new(
        Code::ClipboardUnavailable,
        format!("The clipboard cannot be used ({e}). Try again; if it keeps failing, restart your desktop session."),
    )
}

impl SystemClipboard {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut arboard::Clipboard) -> Result<T, arboard::Error>,
    ) -> Result<T, Failure> {
        let mut slot = self.0.lock().map_err(unavailable)?;
        if slot.is_none() {
            *slot = Some(arboard::Clipboard::new().map_err(unavailable)?);
        }
        f(slot.as_mut().expect("set above")).map_err(unavailable)
    }
}

impl Clipboard for SystemClipboard {
    fn put_secret(&self, secret: &Secret) -> Result<(), Failure> {
        self.with(|cb| {
            let set = cb.set();
            #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
            let set = arboard::SetExtLinux::exclude_from_history(set);
            #[cfg(target_os = "macos")]
            let set = arboard::SetExtApple::exclude_from_history(set);
            #[cfg(target_os = "windows")]
            let set = {
                use arboard::SetExtWindows;
                set.exclude_from_history()
                    .exclude_from_cloud()
                    .exclude_from_monitoring()
            };
            set.text(secret.expose())
        })
    }

    fn text(&self) -> Result<Option<Secret>, Failure> {
        self.with(|cb| match cb.get_text() {
            Ok(text) => Ok(Some(Secret::new(text))),
            Err(arboard::Error::ContentNotAvailable) => Ok(None),
            Err(e) => Err(e),
        })
    }

    fn clear(&self) -> Result<(), Failure> {
        self.with(|cb| cb.clear())
    }
}

/// The latest copy that still waits for its timer; `generation` counts copies.
#[derive(Default)]
struct Timers {
    generation: u64,
    pending: Option<(u64, Secret)>,
}

/// Copies passwords and clears them again. Only the latest copy's timer may clear, and only if
/// the clipboard still holds that copy.
pub struct CopyTimer {
    clipboard: Arc<dyn Clipboard>,
    timers: Arc<Mutex<Timers>>,
}

impl CopyTimer {
    pub fn new(clipboard: Arc<dyn Clipboard>) -> CopyTimer {
        CopyTimer {
            clipboard,
            timers: Arc::default(),
        }
    }

    /// Puts `secret` on the clipboard; unless `clear_after_seconds` is 0, a timer clears it then.
    pub fn copy(&self, secret: Secret, clear_after_seconds: u32) -> Result<(), Failure> {
        self.clipboard.put_secret(&secret)?;
        let mut timers = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        timers.generation += 1;
        let generation = timers.generation;
        if clear_after_seconds == 0 {
            timers.pending = None;
            return Ok(());
        }
        timers.pending = Some((generation, secret));
        drop(timers);
        let (clipboard, timers) = (self.clipboard.clone(), self.timers.clone());
        std::thread::Builder::new()
            .name("clipboard-clear".into())
            .spawn(move || {
                std::thread::sleep(Duration::from_secs(clear_after_seconds.into()));
                let mut timers = timers.lock().unwrap_or_else(|e| e.into_inner());
                if matches!(&timers.pending, Some((g, _)) if *g == generation) {
                    if let Some((_, secret)) = timers.pending.take() {
                        clear_if_holds(clipboard.as_ref(), &secret);
                    }
                }
            })
            .map_err(|e| Failure::new(Code::Internal, format!("Cannot start a timer: {e}")))?;
        Ok(())
    }

    /// Clears a copied password now if its timer has not yet (when the app quits).
    pub fn finish(&self) {
        let mut timers = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, secret)) = timers.pending.take() {
            clear_if_holds(self.clipboard.as_ref(), &secret);
        }
    }
}

fn clear_if_holds(clipboard: &dyn Clipboard, secret: &Secret) {
    // Best effort: there is no one to tell if the clipboard has gone away meanwhile.
    if let Ok(Some(text)) = clipboard.text() {
        if &text == secret {
            let _ = clipboard.clear();
        }
    }
}
