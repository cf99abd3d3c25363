//! `apppass mfa status`: the signed-in work account's MFA status from Microsoft Graph, and the
//! preflight (can app passwords work, and which protocols still accept them), each preflight
//! statement with its source and the date it was checked. All of it from apppass-core's `graph`.

use std::sync::Arc;

use apppass_core::catalog::facts::{Accepts, AppPasswords};
use apppass_core::graph::{self, GraphConfig, MfaState, MfaStatus, PerUserMfaState, Preflight};
use apppass_core::open::open_store;
use apppass_core::profile::Profile;
use apppass_core::settings::Settings;
use apppass_core::signin::tokens::load_account;
use apppass_core::signin::{block_on, Deps, SignIn};
use apppass_core::{Code, Failure};
use serde::Serialize;

use crate::exit;
use crate::input;
use crate::output::{self, out};

/// Shown after `apppass mfa status --help`.
pub const STATUS_HELP: &str = "\
Asks Microsoft Graph which sign-in methods your work account has registered (GET
/me/authentication/methods) and whether this sign-in used MFA, then shows the preflight: whether
app passwords can work for you (per-user MFA must be enforced) and, per protocol, whether
Exchange Online still accepts passwords today, each with its source and the date it was checked.

When Graph refuses the check (no admin consent for apppass), the status is `unknown` and says
why (guided mode); the exit status is still 0. Needs `apppass login` first (else exit 12).

Examples:
  apppass mfa status
  apppass mfa status --json | jq .status.state";

/// `--json`: both parts in one object.
#[derive(Serialize)]
struct Report<'a> {
    status: &'a MfaStatus,
    preflight: &'a Preflight,
}

pub fn status(profile: &Profile, json: bool, graph_url: Option<String>) -> Result<u8, Failure> {
    // Nobody signed in: say so without touching the keyring or the network.
    let Some(account) = load_account(profile)? else {
        return Err(Failure::new(
            Code::SignInRequired,
            "Not signed in with a work account, so apppass cannot check your MFA status. Sign in with `apppass login` (or `apppass login --device-code`).",
        ));
    };
    let settings = Settings::load(profile)?;
    let store = open_store(profile, &settings, &mut input::passphrase)?;
    let deps = Deps::system()?;
    let signin = SignIn::new(profile.clone(), Arc::from(store), deps.clone());
    let config = match graph_url {
        Some(url) => GraphConfig::with_base_url(url),
        None => GraphConfig::for_authority(&account.authority),
    };
    let (status, preflight) = block_on(async {
        let status = graph::mfa_status(&signin, &config, &deps).await?;
        let preflight = graph::preflight(&signin, &config, &deps).await?;
        Ok::<_, Failure>((status, preflight))
    })??;
    if json {
        output::json(&Report {
            status: &status,
            preflight: &preflight,
        })?;
    } else {
        out(&text(&status, &preflight, account.tenant_id.as_deref()))?;
    }
    Ok(exit::OK)
}

/// The Security info page (from the catalog), pinned to the tenant when it is known
/// (providers.md §1.1: `security-info/?tenantId=<Tenant ID>`).
fn security_info(tenant_id: Option<&str>) -> Option<String> {
    let page = apppass_core::catalog::provider(graph::preflight::PROVIDER)
        .ok()?
        .app_password_url
        .clone()?;
    Some(match tenant_id {
        Some(t) if !t.is_empty() && t.chars().all(|c| c.is_ascii_hexdigit() || c == '-') => {
            format!("{page}/?tenantId={t}")
        }
        _ => page,
    })
}

/// The human report: the status at a glance first, then the methods, then the preflight.
pub fn text(status: &MfaStatus, preflight: &Preflight, tenant_id: Option<&str>) -> String {
    let mut t = String::new();
    let account = match &status.display_name {
        Some(name) => format!("{} ({name})", status.username),
        None => status.username.clone(),
    };
    let strong = status.strong_methods().count();
    let glance = match status.state {
        MfaState::Registered => format!(
            "registered ({strong} strong method{})",
            if strong == 1 { "" } else { "s" }
        ),
        MfaState::NotRegistered => "NOT registered: no strong method".to_string(),
        MfaState::Unknown => "unknown (guided mode: no live check)".to_string(),
    };
    t.push_str(&format!("Account:         {account}\n"));
    t.push_str(&format!("MFA:             {glance}\n"));
    let amr = if status.amr.is_empty() {
        String::new()
    } else {
        format!(" (amr: {})", status.amr.join(", "))
    };
    t.push_str(&format!(
        "This sign-in:    {} MFA{amr}\n",
        if status.mfa_used {
            "used"
        } else {
            "did not use"
        }
    ));
    if let Some(why) = &status.guided {
        t.push_str(&format!("Why unknown:     {}\n", why.message));
    }
    if !status.methods.is_empty() {
        t.push_str("\nMethods:\n");
        for m in &status.methods {
            let mut line = format!("  {} {}", if m.strong { "+" } else { "-" }, m.kind.label());
            let extra: Vec<&str> = [m.display_name.as_deref(), m.detail.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            if !extra.is_empty() {
                line.push_str(&format!(": {}", extra.join(", ")));
            }
            if !m.strong {
                line.push_str(" (not a second factor)");
            }
            t.push_str(&line);
            t.push('\n');
        }
    }
    if status.state == MfaState::NotRegistered {
        if let Some(url) = security_info(tenant_id) {
            t.push_str(&format!(
                "\nAdd a method (e.g. Microsoft Authenticator) at Security info: {url}\n"
            ));
        }
    }

    t.push_str(&format!("\nPreflight ({}):\n", preflight.date));
    let verdict = match preflight.app_passwords {
        AppPasswords::Possible => "possible",
        AppPasswords::NotYet => "not yet",
        AppPasswords::No => "no",
        AppPasswords::Unknown => "unknown",
    };
    let state = match preflight.per_user_mfa {
        PerUserMfaState::Enforced => "enforced",
        PerUserMfaState::Enabled => "enabled",
        PerUserMfaState::Disabled => "disabled",
        PerUserMfaState::Unknown => "unknown",
    };
    t.push_str(&format!(
        "  App passwords: {verdict} (per-user MFA: {state})\n    {}\n    source: {} (checked {})\n",
        preflight.app_passwords_statement.value,
        preflight.app_passwords_statement.source,
        preflight.app_passwords_statement.checked
    ));
    if let Some(why) = &preflight.per_user_mfa_unknown {
        t.push_str(&format!("    why unknown: {}\n", why.message));
    }
    for p in &preflight.protocols {
        let accepts = match p.accepts {
            Accepts::Yes => "accepts passwords",
            Accepts::No => "does not accept passwords",
            Accepts::OffByDefault => "off by default",
            Accepts::Unknown => "unknown",
        };
        t.push_str(&format!(
            "  {} {}: {accepts}\n    {}\n    source: {} (checked {})\n",
            p.service, p.protocol, p.statement.value, p.statement.source, p.statement.checked
        ));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use apppass_core::graph::preflight::build;
    use apppass_core::graph::{Method, MethodKind};

    fn method(kind: MethodKind, name: Option<&str>) -> Method {
        Method {
            kind,
            strong: kind.is_strong(),
            id: "id".into(),
            display_name: name.map(str::to_string),
            detail: None,
            created: None,
            odata_type: None,
        }
    }

    fn status(state: MfaState, methods: Vec<Method>) -> MfaStatus {
        MfaStatus {
            username: "ann@example.test".into(),
            display_name: Some("Ann Example".into()),
            state,
            methods,
            mfa_used: true,
            amr: vec!["pwd".into(), "mfa".into()],
            guided: None,
            checked_at: 0,
        }
    }

    #[test]
    fn registered_status_with_methods_and_dated_preflight() {
        let s = status(
            MfaState::Registered,
            vec![
                method(MethodKind::MicrosoftAuthenticator, Some("Pixel")),
                method(MethodKind::Password, None),
            ],
        );
        let p = build(PerUserMfaState::Enforced, None, "2026-11-25");
        let t = text(&s, &p, None);
        assert!(
            t.contains("MFA:             registered (1 strong method)"),
            "{t}"
        );
        assert!(
            t.contains("This sign-in:    used MFA (amr: pwd, mfa)"),
            "{t}"
        );
        assert!(t.contains("  + Microsoft Authenticator: Pixel"), "{t}");
        assert!(t.contains("  - Password (not a second factor)"), "{t}");
        assert!(t.contains("Preflight (2026-11-25):"), "{t}");
        assert!(
            t.contains("App passwords: possible (per-user MFA: enforced)"),
            "{t}"
        );
        assert!(
            t.contains("Exchange Online IMAP: does not accept passwords"),
            "{t}"
        );
        assert!(
            t.contains("Exchange Online SMTP AUTH: accepts passwords"),
            "{t}"
        );
        // Every preflight statement comes with its source and date.
        assert_eq!(t.matches("    source: https://").count(), 4, "{t}");
        assert_eq!(t.matches("(checked 2026-11-25)").count(), 4, "{t}");
    }

    #[test]
    fn not_registered_points_to_security_info_for_the_tenant() {
        let s = status(MfaState::NotRegistered, vec![]);
        let p = build(PerUserMfaState::Unknown, None, "2027-01-02");
        let t = text(&s, &p, Some("9188040d-6c67-4c5b-b112-36a304b66dad"));
        assert!(t.contains("NOT registered"), "{t}");
        assert!(
            t.contains("https://mysignins.microsoft.com/security-info/?tenantId=9188040d-6c67-4c5b-b112-36a304b66dad"),
            "{t}"
        );
        assert!(t.contains("SMTP AUTH: off by default"), "{t}");
    }

    #[test]
    fn guided_mode_says_why() {
        let mut s = status(MfaState::Unknown, vec![]);
        s.guided = Some(Failure::new(Code::GraphAccessDenied, "No consent. Ask IT."));
        let p = build(
            PerUserMfaState::Unknown,
            Some(Failure::new(Code::GraphAccessDenied, "Needs a role.")),
            "2026-11-25",
        );
        let t = text(&s, &p, None);
        assert!(t.contains("unknown (guided mode"), "{t}");
        assert!(t.contains("Why unknown:     No consent. Ask IT."), "{t}");
        assert!(t.contains("why unknown: Needs a role."), "{t}");
    }
}
