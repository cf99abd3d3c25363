//! Work-account sign-in configuration, in layers: built-in defaults < the user's settings file
//! (`[signin]` in `settings.toml`) < an explicit override (`apppass login --client-id …`) < the
//! administrator's managed policy file, which LOCKS every field it sets.
//!
//! The policy file is TOML with the same `[signin]` table as the settings file, at:
//! - Linux and the BSDs: `/etc/apppass/policy.toml`
//! - macOS: `/Library/Application Support/apppass/policy.toml`
//! - Windows: `%ProgramData%\apppass\policy.toml` (normally `C:\ProgramData\apppass\policy.toml`)
//!
//! ```toml
//! [signin]
//! client_id = "00001111-aaaa-2222-bbbb-3333cccc4444"
//! tenant = "contoso.onmicrosoft.com"   # or a tenant id, "organizations", "common"
//! cloud = "global"                      # "us_government", "china"
//! # authority = "https://idp.example.com/realms/staff"   # any OpenID issuer instead
//! # scopes = ["User.Read", "UserAuthenticationMethod.Read"]
//! # redirect = "localhost"              # or "loopback_ip" (http://127.0.0.1:PORT); default: localhost for Microsoft, loopback_ip otherwise
//! ```
//!
//! No client ID is built in: apppass never borrows another application's registration.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Code, Failure};
use crate::settings::Settings;
use crate::signin::SignInConfig;

/// A Microsoft cloud (national clouds have their own sign-in host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, Default)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Cloud {
    /// `https://login.microsoftonline.com` (also GCC moderate).
    #[default]
    Global,
    /// `https://login.microsoftonline.us` (GCC High, DoD).
    UsGovernment,
    /// `https://login.partner.microsoftonline.cn` (operated by 21Vianet).
    China,
}

impl Cloud {
    pub fn login_host(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGovernment => "https://login.microsoftonline.us",
            Cloud::China => "https://login.partner.microsoftonline.cn",
        }
    }
}

/// Which loopback redirect address the browser is sent back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, Default)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum RedirectForm {
    /// `http://127.0.0.1:PORT/` (RFC 8252 §7.3; Entra needs it added through the manifest).
    /// The default for non-Microsoft issuers.
    #[default]
    LoopbackIp,
    /// `http://localhost:PORT/` (Entra's portal form; Entra ignores the port). The listener is still
    /// bound to 127.0.0.1 only. The default for Microsoft authorities.
    Localhost,
}

/// The `[signin]` table of the settings file and of the policy file. Every field is optional; an
/// unset field falls through to the next layer down.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
#[ts(export)]
pub struct SignInSettings {
    /// Any OpenID issuer URL (read by discovery). When set, `cloud` and `tenant` are not used.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub authority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub cloud: Option<Cloud>,
    /// `organizations` (default), `common`, a tenant id or a verified domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub tenant: Option<String>,
    /// The application (client) ID IT registered for apppass.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub client_id: Option<String>,
    /// Scopes asked for besides `openid profile email offline_access`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub redirect: Option<RedirectForm>,
}

impl SignInSettings {
    /// The names of the fields this layer sets.
    pub fn set_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.authority.is_some() {
            out.push("authority");
        }
        if self.cloud.is_some() {
            out.push("cloud");
        }
        if self.tenant.is_some() {
            out.push("tenant");
        }
        if self.client_id.is_some() {
            out.push("client_id");
        }
        if self.scopes.is_some() {
            out.push("scopes");
        }
        if self.redirect.is_some() {
            out.push("redirect");
        }
        out
    }

    /// `self` with every field that `upper` sets replaced by `upper`'s value.
    fn overlaid(&self, upper: &SignInSettings) -> SignInSettings {
        SignInSettings {
            authority: upper.authority.clone().or_else(|| self.authority.clone()),
            cloud: upper.cloud.or(self.cloud),
            tenant: upper.tenant.clone().or_else(|| self.tenant.clone()),
            client_id: upper.client_id.clone().or_else(|| self.client_id.clone()),
            scopes: upper.scopes.clone().or_else(|| self.scopes.clone()),
            redirect: upper.redirect.or(self.redirect),
        }
    }
}

/// The default tenant: work and school accounts of any organisation.
pub const DEFAULT_TENANT: &str = "organizations";

/// Graph permissions asked for by default when the authority is Microsoft's (issue 3 §2 needs them).
pub const DEFAULT_MICROSOFT_SCOPES: [&str; 2] = ["User.Read", "UserAuthenticationMethod.Read"];

/// The administrator's managed policy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    pub signin: SignInSettings,
    /// Where it was read from (not part of the file).
    #[serde(skip)]
    pub path: PathBuf,
    /// Fields that came from the extra policy file of [`EXTRA_POLICY_VAR`] (debug builds only),
    /// and that file's path (not part of the file).
    #[serde(skip)]
    pub extra: Option<(PathBuf, Vec<String>)>,
}

/// Debug builds only (tests): names an extra policy file, applied UNDER the system policy. It can
/// only add locks: a field the system policy sets keeps the system's value, and a release build
/// ignores the variable altogether, so it can never weaken an administrator's policy.
pub const EXTRA_POLICY_VAR: &str = "APPPASS_EXTRA_POLICY";

impl Policy {
    /// The documented location of the policy file on this platform.
    pub fn system_path() -> PathBuf {
        #[cfg(target_os = "windows")]
        {
            let base = std::env::var_os("ProgramData")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"));
            base.join("apppass").join("policy.toml")
        }
        #[cfg(target_os = "macos")]
        {
            PathBuf::from("/Library/Application Support/apppass/policy.toml")
        }
        #[cfg(not(any(target_os = "windows", target_os = "macos")))]
        {
            PathBuf::from("/etc/apppass/policy.toml")
        }
    }

    /// The system policy, or `None` when the file does not exist.
    pub fn load_system() -> Result<Option<Policy>, Failure> {
        Policy::load_from(&Policy::system_path())
    }

    /// The policy in force: the system policy, plus (debug builds only) the extra policy file
    /// named by [`EXTRA_POLICY_VAR`] for the fields the system policy does not set.
    pub fn load_effective() -> Result<Option<Policy>, Failure> {
        let system = Policy::load_system()?;
        let extra_path = std::env::var_os(EXTRA_POLICY_VAR)
            .filter(|p| cfg!(debug_assertions) && !p.is_empty())
            .map(PathBuf::from);
        let Some(extra_path) = extra_path else {
            return Ok(system);
        };
        let Some(extra) = Policy::load_from(&extra_path)? else {
            return Ok(system);
        };
        Ok(Some(Policy::with_extra(system, extra)))
    }

    /// `system` (if any) with `extra`'s fields where `system` sets none.
    fn with_extra(system: Option<Policy>, extra: Policy) -> Policy {
        let base = system.unwrap_or_default();
        let system_fields = base.signin.set_fields();
        let added: Vec<String> = extra
            .signin
            .set_fields()
            .into_iter()
            .filter(|f| !system_fields.contains(f))
            .map(str::to_string)
            .collect();
        let path = if system_fields.is_empty() {
            extra.path.clone()
        } else {
            base.path.clone()
        };
        Policy {
            signin: extra.signin.overlaid(&base.signin),
            path,
            extra: Some((extra.path, added)),
        }
    }

    /// The file that set `field`.
    pub fn path_of(&self, field: &str) -> &Path {
        match &self.extra {
            Some((path, fields)) if fields.iter().any(|f| f == field) => path,
            _ => &self.path,
        }
    }

    /// The policy at `path`, or `None` when it does not exist. A damaged policy is an error, never
    /// silently ignored: an administrator relies on it.
    pub fn load_from(path: &Path) -> Result<Option<Policy>, Failure> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Failure::new(
                    Code::StorageFailure,
                    format!(
                        "Cannot read the administrator's policy file {}: {e}. Ask IT to check its permissions (it must be readable by every user).",
                        path.display()
                    ),
                ))
            }
        };
        let mut policy: Policy = toml::from_str(&text).map_err(|e| {
            Failure::new(
                Code::DataCorrupt,
                format!(
                    "The administrator's policy file {} cannot be read: {}. Ask IT to fix it.",
                    path.display(),
                    e.message()
                ),
            )
        })?;
        policy.path = path.to_path_buf();
        Ok(Some(policy))
    }
}

/// Resolves the sign-in configuration from its layers. `overrides` holds what the user gave for
/// this one command (CLI flags); an override of a field the policy locks to another value is
/// refused with `LockedByPolicy`. A missing client ID is not an error here (the rest of the app
/// works without one): [`SignInConfig::require_client_id`] reports it when signing in.
pub fn resolve_signin(
    settings: &Settings,
    policy: Option<&Policy>,
    overrides: &SignInSettings,
) -> Result<SignInConfig, Failure> {
    let user = settings.signin.clone().unwrap_or_default();
    let mut merged = user.overlaid(overrides);
    let mut locked = Vec::new();
    let mut policy_path = None;
    if let Some(policy) = policy {
        let fixed = &policy.signin;
        for field in fixed.set_fields() {
            // A fixed tenant or cloud also fixes the authority, and the other way round: an
            // override of the other kind would side-step the lock, so it is refused too.
            let sidestep_authority = fixed.authority.is_none() && overrides.authority.is_some();
            let sidestep_tenant = fixed.cloud.is_none()
                && fixed.tenant.is_none()
                && (overrides.cloud.is_some() || overrides.tenant.is_some());
            let conflict = match field {
                "authority" => differs(&overrides.authority, &fixed.authority) || sidestep_tenant,
                "cloud" => differs(&overrides.cloud, &fixed.cloud) || sidestep_authority,
                "tenant" => differs(&overrides.tenant, &fixed.tenant) || sidestep_authority,
                "client_id" => differs(&overrides.client_id, &fixed.client_id),
                "scopes" => differs(&overrides.scopes, &fixed.scopes),
                "redirect" => differs(&overrides.redirect, &fixed.redirect),
                _ => false,
            };
            if conflict {
                return Err(Failure::new(
                    Code::LockedByPolicy,
                    format!(
                        "Your administrator fixed `{field}` in {}, so it cannot be changed here. Leave it out (or ask IT to change the policy).",
                        policy.path_of(field).display()
                    ),
                ));
            }
            locked.push(field.to_string());
        }
        // An authority in the policy wins over a cloud/tenant below it and the other way round,
        // so that a locked tenant cannot be side-stepped with a user-set authority.
        if fixed.cloud.is_some() || fixed.tenant.is_some() {
            if fixed.authority.is_none() {
                merged.authority = None;
            }
        } else if fixed.authority.is_some() {
            merged.cloud = None;
            merged.tenant = None;
        }
        merged = merged.overlaid(fixed);
        policy_path = Some(policy.path.display().to_string());
    }
    let mut config = SignInConfig::from_settings(&merged, locked, policy_path)?;
    // With the bridge set up, the sign-in also asks for the mail scopes, so that the bridge can
    // get mail tokens from the same refresh token (one consent, one sign-in).
    if let Some(bridge) = &settings.bridge {
        let mail = match (&bridge.scopes, bridge.preset) {
            (Some(list), _) => list.clone(),
            (None, preset) => preset.scopes(),
        };
        for scope in mail {
            let scope = scope.trim().to_string();
            if !scope.is_empty() && !config.scopes.contains(&scope) {
                config.scopes.push(scope);
            }
        }
    }
    Ok(config)
}

fn differs<T: PartialEq>(given: &Option<T>, fixed: &Option<T>) -> bool {
    matches!((given, fixed), (Some(g), Some(f)) if g != f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_with(signin: SignInSettings) -> Settings {
        Settings {
            signin: Some(signin),
            ..Settings::default()
        }
    }

    #[test]
    fn a_configured_bridge_adds_its_mail_scopes_to_the_sign_in() {
        let plain = resolve_signin(&Settings::default(), None, &SignInSettings::default()).unwrap();
        assert!(!plain.scopes.iter().any(|s| s.contains("IMAP")));
        let with_bridge = Settings {
            bridge: Some(crate::bridge::BridgeSettings::default()),
            ..Settings::default()
        };
        let config = resolve_signin(&with_bridge, None, &SignInSettings::default()).unwrap();
        assert!(config
            .scopes
            .contains(&"https://outlook.office.com/IMAP.AccessAsUser.All".to_string()));
        assert!(config.scopes.contains(&"offline_access".to_string()));
        let custom = Settings {
            bridge: Some(crate::bridge::BridgeSettings {
                preset: crate::bridge::Preset::Custom,
                scopes: Some(vec!["mail".into()]),
                ..Default::default()
            }),
            ..Settings::default()
        };
        let config = resolve_signin(&custom, None, &SignInSettings::default()).unwrap();
        assert_eq!(config.scopes.iter().filter(|s| *s == "mail").count(), 1);
    }

    #[test]
    fn defaults_are_entra_organizations_without_a_client_id() {
        let config =
            resolve_signin(&Settings::default(), None, &SignInSettings::default()).unwrap();
        assert_eq!(
            config.authority,
            "https://login.microsoftonline.com/organizations/v2.0"
        );
        assert_eq!(config.client_id, None);
        assert!(config.locked.is_empty());
        let missing = config.require_client_id().unwrap_err();
        assert_eq!(missing.code, Code::ClientIdMissing);
        assert!(missing.message.contains("IT"), "{}", missing.message);
        assert!(config.scopes.iter().any(|s| s == "offline_access"));
        assert!(config.scopes.iter().any(|s| s == "User.Read"));
        // Entra's portal can only register http://localhost.
        assert_eq!(config.redirect, RedirectForm::Localhost);
    }

    #[test]
    fn other_issuers_default_to_the_loopback_ip_and_the_setting_wins() {
        let other = SignInSettings {
            authority: Some("https://id.example.org".into()),
            ..Default::default()
        };
        let config = resolve_signin(
            &settings_with(other.clone()),
            None,
            &SignInSettings::default(),
        )
        .unwrap();
        assert_eq!(config.redirect, RedirectForm::LoopbackIp);
        let chosen = SignInSettings {
            redirect: Some(RedirectForm::LoopbackIp),
            ..Default::default()
        };
        let config = resolve_signin(&Settings::default(), None, &chosen).unwrap();
        assert_eq!(config.redirect, RedirectForm::LoopbackIp);
    }

    #[test]
    fn layers_and_locks() {
        let user = SignInSettings {
            client_id: Some("user-client".into()),
            tenant: Some("contoso.example".into()),
            ..Default::default()
        };
        let flag = SignInSettings {
            client_id: Some("flag-client".into()),
            ..Default::default()
        };
        let config = resolve_signin(&settings_with(user.clone()), None, &flag).unwrap();
        assert_eq!(config.client_id.as_deref(), Some("flag-client"));
        assert_eq!(
            config.authority,
            "https://login.microsoftonline.com/contoso.example/v2.0"
        );

        let policy = Policy {
            signin: SignInSettings {
                client_id: Some("it-client".into()),
                cloud: Some(Cloud::UsGovernment),
                ..Default::default()
            },
            path: PathBuf::from("/etc/apppass/policy.toml"),
            extra: None,
        };
        let refused =
            resolve_signin(&settings_with(user.clone()), Some(&policy), &flag).unwrap_err();
        assert_eq!(refused.code, Code::LockedByPolicy);
        assert!(refused.message.contains("client_id"));

        let config =
            resolve_signin(&settings_with(user), Some(&policy), &Default::default()).unwrap();
        assert_eq!(config.client_id.as_deref(), Some("it-client"));
        assert_eq!(config.locked, vec!["cloud", "client_id"]);
        assert_eq!(
            config.authority,
            "https://login.microsoftonline.us/contoso.example/v2.0"
        );
        // The same value as the policy's is not a conflict.
        let same = SignInSettings {
            client_id: Some("it-client".into()),
            ..Default::default()
        };
        assert!(resolve_signin(&Settings::default(), Some(&policy), &same).is_ok());
    }

    #[test]
    fn a_locked_tenant_cannot_be_side_stepped_by_a_user_authority() {
        let user = SignInSettings {
            authority: Some("https://idp.example.com".into()),
            ..Default::default()
        };
        let policy = Policy {
            signin: SignInSettings {
                tenant: Some("contoso.example".into()),
                ..Default::default()
            },
            path: PathBuf::from("p"),
            extra: None,
        };
        let config =
            resolve_signin(&settings_with(user), Some(&policy), &Default::default()).unwrap();
        assert_eq!(
            config.authority,
            "https://login.microsoftonline.com/contoso.example/v2.0"
        );
    }

    #[test]
    fn policy_file_missing_damaged_and_good() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        assert_eq!(Policy::load_from(&path).unwrap(), None);
        std::fs::write(&path, "[signin]\nclient_id = 7\n").unwrap();
        assert_eq!(
            Policy::load_from(&path).unwrap_err().code,
            Code::DataCorrupt
        );
        std::fs::write(
            &path,
            "[signin]\nclient_id = \"abc\"\nauthority = \"https://idp.example.com\"\n",
        )
        .unwrap();
        let policy = Policy::load_from(&path).unwrap().unwrap();
        assert_eq!(policy.signin.client_id.as_deref(), Some("abc"));
        assert_eq!(policy.path, path);
    }

    #[test]
    fn an_override_of_the_other_kind_cannot_side_step_a_lock() {
        let tenant_policy = Policy {
            signin: SignInSettings {
                tenant: Some("contoso.example".into()),
                ..Default::default()
            },
            path: PathBuf::from("p"),
            extra: None,
        };
        let authority = SignInSettings {
            authority: Some("https://idp.example.com".into()),
            ..Default::default()
        };
        let refused =
            resolve_signin(&Settings::default(), Some(&tenant_policy), &authority).unwrap_err();
        assert_eq!(refused.code, Code::LockedByPolicy);
        assert!(refused.message.contains("`tenant`"), "{}", refused.message);

        let authority_policy = Policy {
            signin: authority.clone(),
            path: PathBuf::from("p"),
            extra: None,
        };
        let tenant = SignInSettings {
            tenant: Some("fabrikam.example".into()),
            ..Default::default()
        };
        let refused =
            resolve_signin(&Settings::default(), Some(&authority_policy), &tenant).unwrap_err();
        assert_eq!(refused.code, Code::LockedByPolicy);
        assert!(
            refused.message.contains("`authority`"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn an_extra_policy_only_adds_locks() {
        let system = Policy {
            signin: SignInSettings {
                client_id: Some("it-client".into()),
                ..Default::default()
            },
            path: PathBuf::from("/etc/apppass/policy.toml"),
            extra: None,
        };
        let extra = Policy {
            signin: SignInSettings {
                client_id: Some("other-client".into()),
                tenant: Some("contoso.example".into()),
                ..Default::default()
            },
            path: PathBuf::from("/tmp/extra.toml"),
            extra: None,
        };
        let merged = Policy::with_extra(Some(system), extra.clone());
        // The system's client id stands; the extra file adds the tenant lock.
        assert_eq!(merged.signin.client_id.as_deref(), Some("it-client"));
        assert_eq!(merged.signin.tenant.as_deref(), Some("contoso.example"));
        assert_eq!(
            merged.path_of("client_id"),
            Path::new("/etc/apppass/policy.toml")
        );
        assert_eq!(merged.path_of("tenant"), Path::new("/tmp/extra.toml"));
        let alone = Policy::with_extra(None, extra);
        assert_eq!(alone.path, PathBuf::from("/tmp/extra.toml"));
        assert_eq!(alone.signin.client_id.as_deref(), Some("other-client"));
    }

    #[test]
    fn system_path_is_documented_per_os() {
        let p = Policy::system_path();
        assert!(p.ends_with("apppass/policy.toml") || p.ends_with(r"apppass\policy.toml"));
    }
}
