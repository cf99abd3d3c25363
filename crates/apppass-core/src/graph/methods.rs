//! Graph's authentication methods (`GET /me/authentication/methods`) as apppass shows them: which
//! kind each is (from `@odata.type`, providers.md §2.2) and whether it is a strong (multifactor)
//! method. Email (self-service password reset only) and the password are not.
//!
//! Graph's examples omit `@odata.type` in the per-kind lists and disagree on field names
//! (`createdDateTime` / `creationDateTime`, §2.2), so an item without a type is recognised by its
//! fields, and both date names are read. Unknown types are kept as `other`, never an error.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

/// The kind of a registered method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum MethodKind {
    MicrosoftAuthenticator,
    Fido2,
    Phone,
    SoftwareOath,
    HardwareOath,
    WindowsHelloForBusiness,
    PlatformCredential,
    TemporaryAccessPass,
    /// An external (third-party) MFA provider.
    External,
    QrCodePin,
    /// Self-service password reset only: not a multifactor method.
    Email,
    Password,
    /// A type apppass does not know (newer than this version).
    Other,
}

impl MethodKind {
    /// From Graph's `@odata.type` (`#microsoft.graph.<type>`).
    pub fn from_odata_type(odata_type: &str) -> MethodKind {
        let name = odata_type
            .trim_start_matches('#')
            .trim_start_matches("microsoft.graph.");
        match name {
            "microsoftAuthenticatorAuthenticationMethod"
            | "passwordlessMicrosoftAuthenticatorAuthenticationMethod" => {
                MethodKind::MicrosoftAuthenticator
            }
            "fido2AuthenticationMethod" => MethodKind::Fido2,
            "phoneAuthenticationMethod" => MethodKind::Phone,
            "softwareOathAuthenticationMethod" => MethodKind::SoftwareOath,
            "hardwareOathAuthenticationMethod" => MethodKind::HardwareOath,
            "windowsHelloForBusinessAuthenticationMethod" => MethodKind::WindowsHelloForBusiness,
            "platformCredentialAuthenticationMethod" => MethodKind::PlatformCredential,
            "temporaryAccessPassAuthenticationMethod" => MethodKind::TemporaryAccessPass,
            "externalAuthenticationMethod" => MethodKind::External,
            "qrCodePinAuthenticationMethod" => MethodKind::QrCodePin,
            "emailAuthenticationMethod" => MethodKind::Email,
            "passwordAuthenticationMethod" => MethodKind::Password,
            _ => MethodKind::Other,
        }
    }

    /// Whether the method is a second factor for multifactor authentication.
    pub fn is_strong(self) -> bool {
        !matches!(
            self,
            MethodKind::Email | MethodKind::Password | MethodKind::QrCodePin | MethodKind::Other
        )
    }

    /// A name for a person.
    pub fn label(self) -> &'static str {
        match self {
            MethodKind::MicrosoftAuthenticator => "Microsoft Authenticator",
            MethodKind::Fido2 => "Security key (FIDO2)",
            MethodKind::Phone => "Phone",
            MethodKind::SoftwareOath => "Authenticator app code (software OATH)",
            MethodKind::HardwareOath => "Hardware token (OATH)",
            MethodKind::WindowsHelloForBusiness => "Windows Hello for Business",
            MethodKind::PlatformCredential => "Platform credential",
            MethodKind::TemporaryAccessPass => "Temporary Access Pass",
            MethodKind::External => "External MFA provider",
            MethodKind::QrCodePin => "QR code with PIN",
            MethodKind::Email => "Email (password reset only)",
            MethodKind::Password => "Password",
            MethodKind::Other => "Other method",
        }
    }
}

/// One registered method, without secrets; a phone number is shown by its last two digits only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Method {
    pub kind: MethodKind,
    /// Counts as a multifactor method.
    pub strong: bool,
    pub id: String,
    /// The device or key name the user gave (`displayName`), when there is one.
    pub display_name: Option<String>,
    /// A detail that tells methods of one kind apart: a key's model, a phone's type and last
    /// digits, an email address.
    pub detail: Option<String>,
    /// When it was registered (as Graph gives it), when known.
    pub created: Option<String>,
    /// Graph's `@odata.type`, when given.
    pub odata_type: Option<String>,
}

fn text(item: &Value, key: &str) -> Option<String> {
    item.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The kind of one item of a methods list.
pub fn kind_of(item: &Value) -> MethodKind {
    if let Some(t) = item.get("@odata.type").and_then(Value::as_str) {
        return MethodKind::from_odata_type(t);
    }
    let has = |k: &str| item.get(k).is_some();
    if has("phoneNumber") {
        MethodKind::Phone
    } else if has("emailAddress") {
        MethodKind::Email
    } else if has("aaGuid") || has("attestationLevel") {
        MethodKind::Fido2
    } else if has("password") {
        MethodKind::Password
    } else if has("phoneAppVersion") {
        MethodKind::MicrosoftAuthenticator
    } else if has("secretKey") {
        MethodKind::SoftwareOath
    } else {
        MethodKind::Other
    }
}

fn last_digits(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(2)..].iter().collect()
}

/// One item of a methods list as a [`Method`].
pub fn method(item: &Value) -> Method {
    let kind = kind_of(item);
    let detail = match kind {
        MethodKind::Phone => {
            let kind = text(item, "phoneType").unwrap_or_else(|| "phone".into());
            Some(match text(item, "phoneNumber") {
                Some(n) => format!("{kind}, ending in {}", last_digits(&n)),
                None => kind,
            })
        }
        MethodKind::Fido2 => text(item, "model"),
        MethodKind::Email => text(item, "emailAddress"),
        MethodKind::MicrosoftAuthenticator => {
            text(item, "phoneAppVersion").map(|v| format!("app version {v}"))
        }
        _ => None,
    };
    Method {
        kind,
        strong: kind.is_strong(),
        id: text(item, "id").unwrap_or_default(),
        display_name: text(item, "displayName"),
        detail,
        created: text(item, "createdDateTime").or_else(|| text(item, "creationDateTime")),
        odata_type: text(item, "@odata.type"),
    }
}

/// A collection answer (`{"value": [...]}`) as methods; `None` when it has no `value` array.
pub fn methods(answer: &Value) -> Option<Vec<Method>> {
    Some(
        answer
            .get("value")?
            .as_array()?
            .iter()
            .map(method)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// providers.md §2.3, verbatim, as the Graph emulator serves them.
    macro_rules! fixture {
        ($name:literal) => {
            serde_json::from_str::<Value>(include_str!(concat!(
                "../../../../tests/harness/graph/fixtures/",
                $name
            )))
            .unwrap()
        };
    }

    fn kinds(answer: &Value) -> Vec<(MethodKind, bool)> {
        methods(answer)
            .unwrap()
            .iter()
            .map(|m| (m.kind, m.strong))
            .collect()
    }

    #[test]
    fn list_methods_fixture() {
        let all = methods(&fixture!("list-methods.json")).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].kind, MethodKind::Fido2);
        assert_eq!(all[0].display_name.as_deref(), Some("Red key"));
        assert_eq!(all[0].detail.as_deref(), Some("NFC key"));
        assert_eq!(all[0].created.as_deref(), Some("2020-08-10T06:44:09Z"));
        assert_eq!(all[1].kind, MethodKind::WindowsHelloForBusiness);
        assert_eq!(
            all[1].display_name.as_deref(),
            Some("Jordan's Surface Book")
        );
        assert_eq!(all[1].created.as_deref(), Some("2020-11-27T23:12:49Z"));
        assert!(all.iter().all(|m| m.strong));
    }

    #[test]
    fn per_kind_fixtures_without_odata_type_are_recognised() {
        let phones = methods(&fixture!("phone-methods.json")).unwrap();
        assert_eq!(phones.len(), 3);
        assert!(phones
            .iter()
            .all(|m| m.kind == MethodKind::Phone && m.strong));
        assert_eq!(phones[0].detail.as_deref(), Some("mobile, ending in 55"));
        assert_eq!(phones[2].detail.as_deref(), Some("office, ending in 57"));
        // No full number anywhere in what apppass shows.
        let json = serde_json::to_string(&phones).unwrap();
        assert!(!json.contains("2065555555"), "{json}");

        assert_eq!(
            kinds(&fixture!("authenticator-methods.json")),
            [(MethodKind::MicrosoftAuthenticator, true)]
        );
        assert_eq!(
            kinds(&fixture!("software-oath-methods.json")),
            [(MethodKind::SoftwareOath, true)]
        );
        assert_eq!(
            kinds(&fixture!("fido2-methods.json")),
            [(MethodKind::Fido2, true), (MethodKind::Fido2, true)]
        );
        assert_eq!(
            kinds(&fixture!("email-methods.json")),
            [(MethodKind::Email, false)]
        );
        assert_eq!(
            kinds(&fixture!("password-methods.json")),
            [(MethodKind::Password, false)]
        );
        let a = methods(&fixture!("authenticator-methods.json")).unwrap();
        assert_eq!(a[0].display_name.as_deref(), Some("Sandeep's iPhone"));
        assert_eq!(a[0].detail.as_deref(), Some("app version 6.5.4"));
    }

    #[test]
    fn every_documented_odata_type_maps() {
        // providers.md §2.2 (v1.0).
        let strong = [
            ("fido2AuthenticationMethod", MethodKind::Fido2),
            (
                "microsoftAuthenticatorAuthenticationMethod",
                MethodKind::MicrosoftAuthenticator,
            ),
            ("phoneAuthenticationMethod", MethodKind::Phone),
            ("softwareOathAuthenticationMethod", MethodKind::SoftwareOath),
            (
                "windowsHelloForBusinessAuthenticationMethod",
                MethodKind::WindowsHelloForBusiness,
            ),
            (
                "platformCredentialAuthenticationMethod",
                MethodKind::PlatformCredential,
            ),
            (
                "temporaryAccessPassAuthenticationMethod",
                MethodKind::TemporaryAccessPass,
            ),
            ("externalAuthenticationMethod", MethodKind::External),
        ];
        for (t, kind) in strong {
            let k = MethodKind::from_odata_type(&format!("#microsoft.graph.{t}"));
            assert_eq!(k, kind, "{t}");
            assert!(k.is_strong(), "{t}");
        }
        for (t, kind) in [
            ("emailAuthenticationMethod", MethodKind::Email),
            ("passwordAuthenticationMethod", MethodKind::Password),
            ("qrCodePinAuthenticationMethod", MethodKind::QrCodePin),
            ("somethingNewAuthenticationMethod", MethodKind::Other),
        ] {
            let k = MethodKind::from_odata_type(&format!("#microsoft.graph.{t}"));
            assert_eq!(k, kind, "{t}");
            assert!(!k.is_strong(), "{t}");
        }
    }

    #[test]
    fn odd_items_do_not_fail() {
        let answer: Value = serde_json::json!({"value": [{}, {"@odata.type": 3}, {"id": 7}]});
        let all = methods(&answer).unwrap();
        assert!(all.iter().all(|m| m.kind == MethodKind::Other && !m.strong));
        assert!(methods(&serde_json::json!({"values": []})).is_none());
        assert!(methods(&serde_json::json!({"value": {}})).is_none());
    }
}
