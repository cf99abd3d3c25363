//! The app-password wizard's Rust half: the pasted app password waits here (a pending slot) from
//! the moment the clipboard is read until it is saved, and never crosses to the webview. The UI
//! only learns that a paste was accepted (its length and how the provider groups it) or why not.
//!
//! The slot holds one value, for one provider, for [`PENDING_SECONDS`] at most: a timer drops it
//! then, and save, cancel and the wizard's first step drop it too.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apppass_core::audit::Action;
use apppass_core::catalog::{self, Provider};
use apppass_core::export::Exported;
use apppass_core::mailcheck::{self, CheckOptions, CheckOutcome, Step};
use apppass_core::vault::Access;
use apppass_core::wire::{ExportedFile, Pasted};
use apppass_core::{Code, Failure, Secret};

use crate::clipboard::Clipboard;
use crate::state::AppState;

/// How long a pasted app password waits for Save before it is dropped.
pub const PENDING_SECONDS: u64 = 10 * 60;

/// A validated, normalised app password waiting for Save.
struct Pending {
    provider: String,
    secret: Secret,
    generation: u64,
}

/// The pending slot. Cloning shares it (the expiry timer holds a clone).
#[derive(Clone, Default)]
pub struct PendingSlot {
    inner: Arc<Mutex<(u64, Option<Pending>)>>,
    /// Overrides [`PENDING_SECONDS`] (tests).
    lifetime: Option<Duration>,
}

fn nothing_pasted() -> Failure {
    Failure::new(
        Code::EmptySecret,
        "No pasted app password is waiting: it was saved or cancelled, or more than 10 minutes went by. Copy the app password on the provider's page again and press Paste.",
    )
}

impl PendingSlot {
    /// A slot whose values expire after `lifetime` instead of [`PENDING_SECONDS`].
    pub fn with_lifetime(lifetime: Duration) -> PendingSlot {
        PendingSlot {
            lifetime: Some(lifetime),
            ..PendingSlot::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, Option<Pending>)> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `secret` for `provider`, replacing any earlier paste, and starts its expiry timer.
    pub fn put(&self, provider: &str, secret: Secret) {
        let generation = {
            let mut slot = self.lock();
            slot.0 += 1;
            let generation = slot.0;
            slot.1 = Some(Pending {
                provider: provider.to_string(),
                secret,
                generation,
            });
            generation
        };
        let me = self.clone();
        let lifetime = self
            .lifetime
            .unwrap_or(Duration::from_secs(PENDING_SECONDS));
        // If the thread cannot start, the value still goes with save or cancel.
        let _ = std::thread::Builder::new()
            .name("paste-expiry".into())
            .spawn(move || {
                std::thread::sleep(lifetime);
                let mut slot = me.lock();
                if matches!(&slot.1, Some(p) if p.generation == generation) {
                    slot.1 = None;
                }
            });
    }

    /// Runs `f` with the waiting value if it was pasted for `provider`; the value is dropped only
    /// when `f` succeeds (a name already taken can be corrected and saved again).
    pub fn use_for<T>(
        &self,
        provider: &str,
        f: impl FnOnce(&Secret) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let mut slot = self.lock();
        let pending = slot.1.as_ref().ok_or_else(nothing_pasted)?;
        if pending.provider != provider {
            return Err(Failure::new(
                Code::InvalidInput,
                "The pasted app password was checked for another provider. Paste it again for this one.",
            ));
        }
        let out = f(&pending.secret)?;
        slot.1 = None;
        Ok(out)
    }

    /// Drops the waiting value, if any.
    pub fn clear(&self) {
        self.lock().1 = None;
    }

    /// Whether a value waits.
    #[cfg(test)]
    pub fn is_waiting(&self) -> bool {
        self.lock().1.is_some()
    }
}

/// Reads the clipboard once, and clears it if it still holds what was read. Used by Paste: the
/// clipboard is cleared whether or not the value is accepted, since a refused value may be the
/// account's own password.
pub fn take_clipboard(clipboard: &dyn Clipboard) -> Result<Secret, Failure> {
    let read = clipboard.text()?.ok_or_else(|| {
        Failure::new(
            Code::EmptySecret,
            "The clipboard holds no text. Copy the app password on the provider's page, then press Paste again.",
        )
    })?;
    if let Ok(Some(now)) = clipboard.text() {
        if now == read {
            clipboard.clear()?;
        }
    }
    Ok(read)
}

/// Paste: reads the clipboard once, clears it, checks the value with core's `validate_paste` and
/// keeps the normalised password in `slot`. Only its shape goes back.
pub fn paste(
    clipboard: &dyn Clipboard,
    slot: &PendingSlot,
    provider_id: &str,
) -> Result<Pasted, Failure> {
    let provider = catalog::provider(provider_id)?;
    let raw = take_clipboard(clipboard)?;
    let secret = catalog::validate_paste(provider_id, &raw)?;
    let pasted = Pasted {
        length: secret.expose().chars().count() as u32,
        hint: shape_hint(provider, &secret),
    };
    slot.put(provider_id, secret);
    Ok(pasted)
}

/// "4 groups of 4, the form of a Google app password": how the value is grouped (never a
/// character of it) and whether it has the provider's documented form.
fn shape_hint(provider: &Provider, secret: &Secret) -> String {
    let groups: Vec<usize> = secret
        .expose()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|g| !g.is_empty())
        .map(|g| g.chars().count())
        .collect();
    let mut parts = Vec::new();
    if groups.len() > 1 && groups.iter().all(|n| *n == groups[0]) {
        parts.push(format!("{} groups of {}", groups.len(), groups[0]));
    }
    if provider.format.is_structured() && provider.format.fits(secret.expose()) {
        parts.push(if provider.format.confirmed() {
            format!("the form of a {} app password", provider.name)
        } else {
            format!(
                "the form apppass expects of a {} app password",
                provider.name
            )
        });
    }
    parts.join(", ")
}

/// Tests the entry's servers (only those `client` uses, when given) one after the other with the
/// stored password, and records each protocol's result in the audit log.
pub async fn test_connection(
    state: &AppState,
    name: &str,
    client: Option<&str>,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> Result<Vec<CheckOutcome>, Failure> {
    let settings = state.settings()?;
    let (entry, secret) = state.with_vault(|v| v.secret(name, Access::Test))?;
    let endpoints = match client {
        Some(client) => catalog::setup(&entry, client)?.settings,
        None => catalog::endpoints(&entry),
    };
    let opts = CheckOptions {
        ca_file: settings.ca_file.clone(),
        ..CheckOptions::default()
    };
    let mut outcomes = Vec::with_capacity(endpoints.len());
    for endpoint in &endpoints {
        let outcome = mailcheck::check(endpoint, &secret, &opts, progress).await;
        state.with_vault(|v| {
            v.record(Action::Tested, &entry, outcome.audit());
            Ok(())
        })?;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// The folder exports go to: the override (tests), else the user's Downloads folder, else
/// `~/Downloads`.
pub fn downloads_dir(
    override_dir: Option<&Path>,
    system: Option<PathBuf>,
) -> Result<PathBuf, Failure> {
    let dir = override_dir
        .map(Path::to_path_buf)
        .or(system)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join("Downloads")))
        .ok_or_else(|| {
            Failure::new(
                Code::StorageFailure,
                "apppass cannot find your Downloads folder. Use `apppass export` in a terminal instead.",
            )
        })?;
    std::fs::create_dir_all(&dir).map_err(|e| write_failure(&dir, e))?;
    Ok(dir)
}

fn write_failure(path: &Path, e: std::io::Error) -> Failure {
    Failure::new(
        Code::StorageFailure,
        format!(
            "Cannot write {}: {e}. Free some space or check the folder's permissions, then export again.",
            path.display()
        ),
    )
}

/// Writes an export into `dir` under its suggested name, never over an existing file
/// ("name (2).xml"). A file that holds the password is created readable by the owner only.
pub fn write_export(dir: &Path, exported: &Exported) -> Result<ExportedFile, Failure> {
    let name = Path::new(&exported.file_name);
    let stem = name
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "apppass".into());
    let ext = name
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    for n in 1..1000 {
        let candidate = if n == 1 {
            dir.join(format!("{stem}{ext}"))
        } else {
            dir.join(format!("{stem} ({n}){ext}"))
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if exported.contains_password {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = match options.open(&candidate) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(write_failure(&candidate, e)),
        };
        file.write_all(exported.text.as_bytes())
            .and_then(|_| file.sync_all())
            .map_err(|e| write_failure(&candidate, e))?;
        return Ok(ExportedFile {
            path: candidate.display().to_string(),
            contains_password: exported.contains_password,
            warning: exported.warning.clone(),
        });
    }
    Err(Failure::new(
        Code::StorageFailure,
        format!(
            "{} already holds too many files named {}. Delete some, then export again.",
            dir.display(),
            exported.file_name
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paste_waits_for_its_provider_and_is_dropped_on_success_only() {
        let slot = PendingSlot::default();
        let fails = |slot: &PendingSlot, provider| slot.use_for(provider, |_| Ok(())).unwrap_err();
        assert_eq!(fails(&slot, "google").code, Code::EmptySecret);
        slot.put("google", Secret::new("abcdefghijklmnop".into()));
        assert_eq!(fails(&slot, "icloud").code, Code::InvalidInput);
        let refused: Result<(), Failure> =
            slot.use_for("google", |_| Err(Failure::new(Code::NameTaken, "taken")));
        assert_eq!(refused.unwrap_err().code, Code::NameTaken);
        assert!(slot.is_waiting(), "kept after a failed save");
        let got = slot
            .use_for("google", |s| Ok(s.expose().to_string()))
            .unwrap();
        assert_eq!(got, "abcdefghijklmnop");
        assert!(!slot.is_waiting());
    }

    /// A clipboard whose content changes after the first read (the user copied again).
    struct Changing(Mutex<Vec<&'static str>>, Mutex<bool>);

    impl Clipboard for Changing {
        fn put_secret(&self, _: &Secret) -> Result<(), Failure> {
            Ok(())
        }
        fn text(&self) -> Result<Option<Secret>, Failure> {
            let mut reads = self.0.lock().unwrap();
            let next = if reads.len() > 1 {
                reads.remove(0)
            } else {
                reads[0]
            };
            Ok(Some(Secret::new(next.into())))
        }
        fn clear(&self) -> Result<(), Failure> {
            *self.1.lock().unwrap() = true;
            Ok(())
        }
    }

    #[test]
    fn the_clipboard_is_cleared_only_if_it_still_holds_what_was_read() {
        let same = Changing(Mutex::new(vec!["pw"]), Mutex::new(false));
        assert_eq!(take_clipboard(&same).unwrap().expose(), "pw");
        assert!(*same.1.lock().unwrap());
        let changed = Changing(Mutex::new(vec!["pw", "other"]), Mutex::new(false));
        assert_eq!(take_clipboard(&changed).unwrap().expose(), "pw");
        assert!(
            !*changed.1.lock().unwrap(),
            "the user's newer copy is left alone"
        );
    }

    #[test]
    fn a_paste_expires() {
        let slot = PendingSlot::with_lifetime(Duration::from_millis(500));
        slot.put("google", Secret::new("x".into()));
        std::thread::sleep(Duration::from_millis(900));
        assert!(!slot.is_waiting());
        // A newer paste is not dropped by an older paste's timer.
        slot.put("google", Secret::new("x".into()));
        std::thread::sleep(Duration::from_millis(300));
        slot.put("google", Secret::new("y".into()));
        std::thread::sleep(Duration::from_millis(300));
        assert!(slot.is_waiting());
    }
}
