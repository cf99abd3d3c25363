// The body of the `config_parsers` fuzz target, shared with the stable corpus test in
// crates/apppass-core/tests/config_fuzz_corpus.rs (both `include!` this file).
//
// For any input read as settings.toml, as `[bridge]` alone and as the administrator's policy
// file: parsing and everything apppass then does with the result (validating the settings,
// resolving the bridge's configuration and the sign-in configuration with and without the
// policy) must not panic, and a refusal is a Failure with a message that does not quote secrets
// (there are none in these files) and says what to fix.

/// Parses `data` in every role and resolves what parses.
pub fn check(data: &[u8]) {
    use apppass_core::bridge::{BridgeConfig, BridgeSettings};
    use apppass_core::policy::{resolve_signin, Policy, SignInSettings};
    use apppass_core::settings::Settings;

    let text = String::from_utf8_lossy(data);
    let settings: Option<Settings> = toml::from_str(&text).ok();
    if let Some(s) = &settings {
        let _ = s.validate();
        let _ = s.bridge_unused_days();
        if let Some(b) = &s.bridge {
            let _ = BridgeConfig::from_settings(b, None, None);
        }
        if let Err(f) = resolve_signin(s, None, &SignInSettings::default()) {
            assert!(!f.message.is_empty(), "a refusal without a message");
        }
    }
    if let Ok(b) = toml::from_str::<BridgeSettings>(&text) {
        if let Ok(config) = BridgeConfig::from_settings(&b, None, None) {
            assert!(
                config.validate().is_ok(),
                "a resolved bridge configuration fails its own check"
            );
        }
    }
    if let Ok(policy) = toml::from_str::<Policy>(&text) {
        let _ = policy.signin.set_fields();
        let base = settings.unwrap_or_default();
        let _ = resolve_signin(&base, Some(&policy), &SignInSettings::default());
        // An override of every lockable field: refused or resolved, never a panic.
        let overrides = SignInSettings {
            client_id: Some("fuzz-client".into()),
            tenant: Some("contoso.com".into()),
            ..Default::default()
        };
        let _ = resolve_signin(&base, Some(&policy), &overrides);
    }
}
