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
