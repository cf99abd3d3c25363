//! User settings, kept in `settings.toml` in the profile's data directory.
//!
//! Every field has a default and a documented range; a value out of range is refused with a
//! message naming the range, and a damaged file is reported rather than silently replaced.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Code, Failure};
use crate::profile::Profile;

/// Where secrets are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, Default)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum StoreKind {
    /// The OS keyring: Secret Service (Linux), Keychain (macOS), Credential Manager (Windows).
    #[default]
    Keyring,
    /// A file in the data directory encrypted with a passphrase (Argon2id + XChaCha20-Poly1305),
    /// for machines without an OS keyring. Chosen explicitly, never as a silent fallback.
    EncryptedFile,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Keyring => "keyring",
            StoreKind::EncryptedFile => "encrypted_file",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
#[ts(export)]
pub struct Settings {
    /// Seconds after a copy before the clipboard is cleared (if it still holds our value); 0 = never.
    pub clipboard_clear_seconds: u32,
    /// Seconds a revealed password stays visible.
    pub reveal_hide_seconds: u32,
    /// Days after which an app password is due for rotation.
    pub rotation_days: u32,
    pub store: StoreKind,
    /// Work-account sign-in (`[signin]`); see `policy.rs` for the fields and the layering.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub signin: Option<crate::policy::SignInSettings>,
    /// A PEM file of extra CA certificates the connection test trusts besides the system's (a
    /// company CA). `apppass test --ca-file` overrides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "string")]
    pub ca_file: Option<PathBuf>,
    /// The modern-auth bridge (`[bridge]`): preset, upstream servers, local ports.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub bridge: Option<crate::bridge::BridgeSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            clipboard_clear_seconds: 30,
            reveal_hide_seconds: 10,
            rotation_days: 180,
            store: StoreKind::Keyring,
            signin: None,
            ca_file: None,
            bridge: None,
        }
    }
}

pub const CLIPBOARD_SECONDS_MAX: u32 = 600;
pub const REVEAL_SECONDS_RANGE: (u32, u32) = (3, 120);
pub const ROTATION_DAYS_RANGE: (u32, u32) = (7, 3650);

impl Settings {
    /// Days after which health lists a bridge client as unused.
    pub fn bridge_unused_days(&self) -> u32 {
        self.bridge
            .as_ref()
            .and_then(|b| b.unused_days)
            .unwrap_or(crate::bridge::config::DEFAULT_UNUSED_DAYS)
    }

    /// Checks every field's range; the message names the field and the allowed range.
    pub fn validate(&self) -> Result<(), Failure> {
        if self.clipboard_clear_seconds > CLIPBOARD_SECONDS_MAX {
            return Err(invalid(format!(
                "Clipboard clearing must be between 0 (never) and {CLIPBOARD_SECONDS_MAX} seconds; got {}.",
                self.clipboard_clear_seconds
            )));
        }
        let (lo, hi) = REVEAL_SECONDS_RANGE;
        if !(lo..=hi).contains(&self.reveal_hide_seconds) {
            return Err(invalid(format!(
                "A revealed password hides again after {lo} to {hi} seconds; got {}.",
                self.reveal_hide_seconds
            )));
        }
        let (lo, hi) = ROTATION_DAYS_RANGE;
        if !(lo..=hi).contains(&self.rotation_days) {
            return Err(invalid(format!(
                "The rotation period must be between {lo} and {hi} days; got {}.",
                self.rotation_days
            )));
        }
        Ok(())
    }

    /// Checks that `ca_file`, when set, names an existing file. Only checked when the setting is
    /// saved: a CA file removed later must not stop `apppass get`; the connection test reports it.
    pub fn validate_ca_file(&self) -> Result<(), Failure> {
        let Some(path) = &self.ca_file else {
            return Ok(());
        };
        if path.as_os_str().is_empty() {
            return Err(invalid(
                "The CA file setting is empty. Give the path of a PEM file, or unset it.".into(),
            ));
        }
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => Ok(()),
            Ok(_) => Err(invalid(format!(
                "The CA file {} is not a file. Give the path of a PEM file with the CA certificate.",
                path.display()
            ))),
            Err(e) => Err(invalid(format!(
                "The CA file {} cannot be read ({e}). Give the path of a PEM file with the CA certificate.",
                path.display()
            ))),
        }
    }

    /// Reads the profile's settings; a missing file gives the defaults.
    pub fn load(profile: &Profile) -> Result<Settings, Failure> {
        let path = profile.settings_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => {
                return Err(Failure::new(
                    Code::StorageFailure,
                    format!(
                        "Cannot read {}: {e}. Check the file's permissions.",
                        path.display()
                    ),
                ))
            }
        };
        let settings: Settings = toml::from_str(&text).map_err(|e| {
            Failure::new(
                Code::DataCorrupt,
                format!(
                    "The settings file {} cannot be read: {}. Fix or delete the file; deleting it restores the defaults.",
                    path.display(),
                    e.message()
                ),
            )
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Validates, then writes atomically (temporary file, then rename).
    pub fn save(&self, profile: &Profile) -> Result<(), Failure> {
        self.validate()?;
        self.validate_ca_file()?;
        let text = toml::to_string_pretty(self)
            .map_err(|e| Failure::new(Code::Internal, format!("Cannot encode settings: {e}")))?;
        crate::fsutil::write_atomic(&profile.settings_path(), text.as_bytes())
    }
}

fn invalid(message: String) -> Failure {
    Failure::new(Code::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let profile = Profile::isolated(dir.path()).unwrap();
        assert_eq!(Settings::load(&profile).unwrap(), Settings::default());
        let s = Settings {
            clipboard_clear_seconds: 45,
            rotation_days: 90,
            ..Settings::default()
        };
        s.save(&profile).unwrap();
        assert_eq!(Settings::load(&profile).unwrap(), s);
    }

    #[test]
    fn out_of_range_is_refused_and_file_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let profile = Profile::isolated(dir.path()).unwrap();
        Settings::default().save(&profile).unwrap();
        let bad = Settings {
            rotation_days: 1,
            ..Settings::default()
        };
        let err = bad.save(&profile).unwrap_err();
        assert_eq!(err.code, Code::InvalidInput);
        assert!(err.message.contains("7 and 3650"));
        assert_eq!(Settings::load(&profile).unwrap(), Settings::default());
    }

    #[test]
    fn ca_file_must_be_an_existing_file_when_saved_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let profile = Profile::isolated(dir.path()).unwrap();
        let missing = dir.path().join("missing.pem");
        let s = Settings {
            ca_file: Some(missing.clone()),
            ..Settings::default()
        };
        let err = s.save(&profile).unwrap_err();
        assert_eq!(err.code, Code::InvalidInput);
        assert!(err.message.contains(&missing.display().to_string()));
        let err = Settings {
            ca_file: Some(dir.path().to_path_buf()),
            ..Settings::default()
        }
        .save(&profile)
        .unwrap_err();
        assert!(err.message.contains("not a file"), "{}", err.message);
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let s = Settings {
            ca_file: Some(ca.clone()),
            ..Settings::default()
        };
        s.save(&profile).unwrap();
        assert!(std::fs::read_to_string(profile.settings_path())
            .unwrap()
            .contains("ca_file = "));
        assert_eq!(Settings::load(&profile).unwrap(), s);
        // A file removed later does not make the settings unreadable.
        std::fs::remove_file(&ca).unwrap();
        assert_eq!(Settings::load(&profile).unwrap().ca_file, Some(ca));
    }

    #[test]
    fn damaged_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let profile = Profile::isolated(dir.path()).unwrap();
        std::fs::write(profile.settings_path(), "rotation_days = \"x\"").unwrap();
        let err = Settings::load(&profile).unwrap_err();
        assert_eq!(err.code, Code::DataCorrupt);
        assert!(std::fs::read_to_string(profile.settings_path())
            .unwrap()
            .contains("\"x\""));
    }
}
