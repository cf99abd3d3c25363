//! Results of user-facing actions that are not domain types: what the desktop app's commands
//! return besides entries, settings and failures. They live here, beside the domain types, so that
//! ts-rs generates their TypeScript in the same place and `scripts/check-bindings.sh` checks them.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use ts_rs::TS;

use crate::error::Failure;
use crate::secret::Secret;
use crate::settings::StoreKind;
use crate::vault::Entry;

/// One page of the vault's list or of a search: the first entries, best first, and how many
/// match in all (the UI shows "N of total").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SearchPage {
    pub entries: Vec<Entry>,
    pub total: u32,
}

/// A password was put on the clipboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Copied {
    /// Seconds until the clipboard is cleared (if it still holds the password); 0 = never.
    pub clear_after_seconds: u32,
}

/// A password shown to the user. The only result that carries a secret to a UI.
#[derive(Debug, Clone, PartialEq, Eq, TS)]
#[ts(export)]
pub struct Revealed {
    #[ts(type = "string")]
    pub password: Secret,
    /// Seconds after which the UI hides the password again.
    pub hide_after_seconds: u32,
}

/// Written by hand: [`Secret`] has no `Serialize`, and this is the one place that exposes it.
impl Serialize for Revealed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Revealed", 2)?;
        st.serialize_field("password", self.password.expose())?;
        st.serialize_field("hide_after_seconds", &self.hide_after_seconds)?;
        st.end()
    }
}

/// An entry was removed here; the provider still knows the app password until it is deleted there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Removed {
    pub entry: Entry,
    pub provider_name: String,
    /// The provider's page where the app password is deleted, when it documents one.
    pub manage_url: Option<String>,
}

/// Which secret store the profile uses, and whether it is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct StoreStatus {
    /// The store the settings name.
    pub kind: StoreKind,
    /// What it is, for a person ("Secret Service (…)", the file's path).
    pub description: String,
    /// `None` when the store is open and answering; otherwise why not, and what to do.
    pub problem: Option<Failure>,
    /// Whether an encrypted store file exists in the data directory (then switching to it asks
    /// for its passphrase instead of creating a new one).
    pub file_store_exists: bool,
}

/// What the desktop app's sign-in screen shows before anyone signs in: the resolved configuration
/// (or why it cannot be used), and which fields the administrator's policy fixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SignInSetup {
    /// The issuer signed in to; `None` when the configuration cannot be resolved (see `problem`).
    pub authority: Option<String>,
    /// The client ID in use, `None` until IT registers apppass and it is set.
    pub client_id: Option<String>,
    /// The tenant set in the settings or the policy (`None`: the default, `organizations`).
    pub tenant: Option<String>,
    /// Fields fixed by the administrator's policy ("client_id", "tenant", "authority", …): shown
    /// read-only.
    pub locked: Vec<String>,
    /// The policy file that was applied, if any.
    pub policy_path: Option<String>,
    /// Why signing in cannot start now (`ClientIdMissing` says what IT must do), or `None`.
    pub problem: Option<Failure>,
}

/// Where a sign-in started in the desktop app stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SignInPhase {
    /// Nothing running.
    Idle,
    /// The browser was opened; waiting for its answer on the loopback listener.
    WaitingForBrowser,
    /// The code is shown; polling the provider until the user enters it.
    WaitingForCode,
    /// Signed in (see `account`).
    SignedIn,
    /// The last sign-in failed (see `failure`), or was cancelled.
    Failed,
}

/// The desktop app's sign-in progress. Never carries a token: only what the user must see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SignInProgress {
    pub phase: SignInPhase,
    /// The address opened in the browser (no secret in it), to open by hand if no browser came up.
    pub browser_url: Option<String>,
    /// The code and the address for "Sign in with a code".
    pub device_code: Option<crate::signin::DeviceCode>,
    /// A QR code of the verification address, as an SVG document.
    pub qr_svg: Option<String>,
    pub failure: Option<Failure>,
    /// The signed-in account, if any (also while a new sign-in runs).
    pub account: Option<crate::signin::Account>,
}

/// The desktop app's MFA screen: what is known about the account's multifactor authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct MfaOverview {
    /// The signed-in account; `None` when nobody is signed in (the screen then guides without a
    /// live check).
    pub account: Option<crate::signin::Account>,
    /// The live status from Microsoft Graph (in guided mode when Graph refused: see its `guided`).
    pub status: Option<crate::graph::MfaStatus>,
    /// Why there is no live status (not signed in, sign in again, offline, Graph busy, …), with the
    /// next step.
    pub problem: Option<Failure>,
    /// The Security info page, pinned to the account's tenant when it is known.
    pub security_info_url: String,
}

/// The desktop wizard's Paste: the clipboard held an acceptable app password, which the app now
/// keeps (never sent to the UI). Only its shape is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Pasted {
    /// Characters in the normalised password.
    pub length: u32,
    /// How it is grouped and whether it has the provider's documented form, in plain words
    /// ("4 groups of 4, the form of an Apple iCloud app password"); empty when there is nothing
    /// to say.
    pub hint: String,
}

/// An entry's password was replaced; the provider still accepts the old one until it is deleted
/// there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Rotated {
    pub entry: Entry,
    pub provider_name: String,
    /// The provider's page where the old app password is deleted, when it documents one.
    pub manage_url: Option<String>,
}

/// A configuration the desktop app wrote to a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ExportedFile {
    /// Where it was written (the user's Downloads folder).
    pub path: String,
    /// The file holds the app password in clear (an Apple profile, when asked for): readable by
    /// the owner only; delete it once installed.
    pub contains_password: bool,
    /// Shown beside the path, when set.
    pub warning: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revealed_serialises_the_password_and_nothing_else_does() {
        let r = Revealed {
            password: Secret::from("abcd efgh"),
            hide_after_seconds: 10,
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"password": "abcd efgh", "hide_after_seconds": 10})
        );
        assert!(!format!("{r:?}").contains("abcd"));
    }
}

/// What the desktop app's first screen needs, read by Rust while the window starts and handed to
/// the page before its scripts run (src-tauri/src/preload.rs): the page mounts at once, and the
/// first frame painted already shows the vault, with no IPC round trip before it. Each part is
/// what its command answers (`catalog_providers`, `settings_get`, `vault_search("", limit)`), a
/// failure in its place when that command would fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Preload {
    pub providers: Vec<crate::catalog::Provider>,
    pub settings: Option<crate::settings::Settings>,
    pub settings_failure: Option<Failure>,
    /// The rows asked for: the page is used only by a UI that shows this many.
    pub limit: u32,
    pub page: Option<SearchPage>,
    pub page_failure: Option<Failure>,
}
