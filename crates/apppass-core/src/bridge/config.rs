//! The bridge's settings (`[bridge]` in settings.toml) and the configuration a run resolves from
//! them: upstream servers per protocol, OAuth scopes, local listeners.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Code, Failure};
use crate::vault::{Security, Server};

/// Which provider the bridge signs in to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, Default)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Preset {
    /// Exchange Online: outlook.office365.com (IMAP 993, POP 995), smtp.office365.com 587.
    #[default]
    Microsoft365,
    /// Gmail: imap.gmail.com 993, pop.gmail.com 995, smtp.gmail.com 465.
    Google,
    /// Servers and scopes from the settings.
    Custom,
}

impl Preset {
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Microsoft365 => "microsoft365",
            Preset::Google => "google",
            Preset::Custom => "custom",
        }
    }

    pub fn parse(s: &str) -> Result<Preset, Failure> {
        match s.trim().to_ascii_lowercase().as_str() {
            "microsoft365" | "m365" | "office365" | "exchange" => Ok(Preset::Microsoft365),
            "google" | "gmail" => Ok(Preset::Google),
            "custom" => Ok(Preset::Custom),
            other => Err(Failure::new(
                Code::InvalidInput,
                format!("\"{other}\" is not a bridge preset. Use microsoft365, google or custom."),
            )),
        }
    }

    /// The catalog provider id bridge entries of this preset carry.
    pub fn provider_id(self) -> &'static str {
        self.as_str()
    }

    /// The upstream servers: (IMAP, POP3, SMTP submission). Custom has none of its own.
    /// Microsoft: Exchange Online's POP, IMAP and SMTP settings
    /// (https://support.microsoft.com/office/pop-imap-and-smtp-settings-for-outlook-com-d088b986-291d-42b8-9564-9c414e2aa040);
    /// Google: https://developers.google.com/workspace/gmail/imap/imap-smtp (checked 2026-11-26).
    pub fn servers(self) -> (Option<Server>, Option<Server>, Option<Server>) {
        let s = |host: &str, port, security| {
            Some(Server {
                host: host.into(),
                port,
                security,
            })
        };
        match self {
            Preset::Microsoft365 => (
                s("outlook.office365.com", 993, Security::Tls),
                s("outlook.office365.com", 995, Security::Tls),
                s("smtp.office365.com", 587, Security::Starttls),
            ),
            Preset::Google => (
                s("imap.gmail.com", 993, Security::Tls),
                s("pop.gmail.com", 995, Security::Tls),
                s("smtp.gmail.com", 465, Security::Tls),
            ),
            Preset::Custom => (None, None, None),
        }
    }

    /// The OAuth scopes mail access needs (besides `offline_access`, always asked for).
    /// Microsoft: https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth
    /// Google: https://developers.google.com/workspace/gmail/imap/xoauth2-protocol
    pub fn scopes(self) -> Vec<String> {
        let list: &[&str] = match self {
            Preset::Microsoft365 => &[
                "https://outlook.office.com/IMAP.AccessAsUser.All",
                "https://outlook.office.com/POP.AccessAsUser.All",
                "https://outlook.office.com/SMTP.Send",
            ],
            Preset::Google => &["https://mail.google.com/"],
            Preset::Custom => &[],
        };
        list.iter().map(|s| s.to_string()).collect()
    }
}

/// Local ports. In settings.toml a missing port keeps its default and `0` switches the listener
/// off; in a resolved [`BridgeConfig`], `None` is off and `Some(0)` picks a free port (tests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
#[ts(export)]
pub struct Listen {
    /// IMAP, plain with STARTTLS.
    pub imap: Option<u16>,
    /// IMAP over TLS from the first byte.
    pub imaps: Option<u16>,
    /// POP3, plain with STLS.
    pub pop: Option<u16>,
    /// POP3 over TLS.
    pub pops: Option<u16>,
    /// SMTP submission, plain with STARTTLS.
    pub smtp: Option<u16>,
    /// SMTP submission over TLS.
    pub smtps: Option<u16>,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            imap: Some(1143),
            imaps: Some(1993),
            pop: Some(1110),
            pops: Some(1995),
            smtp: Some(1587),
            smtps: Some(1465),
        }
    }
}

impl Listen {
    /// Settings' `0` (off) as `None`.
    pub fn without_zeros(&self) -> Listen {
        let off = |p: Option<u16>| p.filter(|&p| p != 0);
        Listen {
            imap: off(self.imap),
            imaps: off(self.imaps),
            pop: off(self.pop),
            pops: off(self.pops),
            smtp: off(self.smtp),
            smtps: off(self.smtps),
        }
    }

    /// Every listener on a free port (tests, benchmarks).
    pub fn ephemeral() -> Listen {
        Listen {
            imap: Some(0),
            imaps: Some(0),
            pop: Some(0),
            pops: Some(0),
            smtp: Some(0),
            smtps: Some(0),
        }
    }
}

/// `[bridge]` in settings.toml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, Default)]
#[serde(default, deny_unknown_fields)]
#[ts(export)]
pub struct BridgeSettings {
    pub preset: Preset,
    /// Upstream servers; for Microsoft 365 and Google they replace the preset's.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub imap: Option<Server>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub pop: Option<Server>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub smtp: Option<Server>,
    /// Mail scopes for a custom provider (the presets bring their own).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub scopes: Option<Vec<String>>,
    pub listen: Listen,
    /// Start the bridge with the app (and the app at login).
    pub start_at_login: bool,
    /// Write a protocol log (AUTH lines and SASL payloads censored) to `bridge-protocol.log` in
    /// the data directory. Off by default.
    pub protocol_log: bool,
    /// Days after which a client that never signed in through the bridge is shown as unused.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub unused_days: Option<u32>,
}

/// Days after which health shows an unused bridge client, unless set.
pub const DEFAULT_UNUSED_DAYS: u32 = 30;

/// What one run of the bridge uses.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    pub imap: Option<Server>,
    pub pop: Option<Server>,
    pub smtp: Option<Server>,
    /// Scopes of the mail access token.
    pub scopes: Vec<String>,
    pub listen: Listen,
    /// Extra CA certificates (PEM) trusted for upstream TLS besides the system's.
    pub ca_file: Option<PathBuf>,
    /// First delay after a wrong local password; doubles per failure up to `penalty_max`.
    pub penalty_base: Duration,
    pub penalty_max: Duration,
    /// Where the opt-in protocol log goes; `None` = no log.
    pub protocol_log: Option<PathBuf>,
    /// Limit for each upstream step (connect, TLS, greeting, AUTH).
    pub upstream_timeout: Duration,
}

impl BridgeConfig {
    /// Resolves settings: the preset's servers unless overridden, the preset's scopes (custom:
    /// the configured ones; at least one is needed).
    pub fn from_settings(
        s: &BridgeSettings,
        ca_file: Option<PathBuf>,
        protocol_log: Option<PathBuf>,
    ) -> Result<BridgeConfig, Failure> {
        let (imap, pop, smtp) = s.preset.servers();
        let config = BridgeConfig {
            imap: s.imap.clone().or(imap),
            pop: s.pop.clone().or(pop),
            smtp: s.smtp.clone().or(smtp),
            scopes: match (&s.scopes, s.preset) {
                (Some(list), _) if !list.is_empty() => list.clone(),
                (_, Preset::Custom) => {
                    return Err(Failure::new(
                        Code::InvalidInput,
                        "A custom bridge needs the OAuth scopes of mail access. Set them with `apppass bridge run --scope SCOPE` or `[bridge] scopes` in settings.toml.",
                    ))
                }
                (_, preset) => preset.scopes(),
            },
            listen: s.listen.without_zeros(),
            ca_file,
            penalty_base: Duration::from_secs(1),
            penalty_max: Duration::from_secs(30),
            protocol_log: if s.protocol_log { protocol_log } else { None },
            upstream_timeout: Duration::from_secs(30),
        };
        config.validate()?;
        Ok(config)
    }

    /// At least one protocol with both a server and a listener; scopes are single words.
    pub fn validate(&self) -> Result<(), Failure> {
        let l = &self.listen;
        let any = (self.imap.is_some() && (l.imap.is_some() || l.imaps.is_some()))
            || (self.pop.is_some() && (l.pop.is_some() || l.pops.is_some()))
            || (self.smtp.is_some() && (l.smtp.is_some() || l.smtps.is_some()));
        if !any {
            return Err(Failure::new(
                Code::MissingServer,
                "The bridge has nothing to serve: give at least one upstream server (--imap-host, --pop-host or --smtp-host) whose local listener is on.",
            ));
        }
        let ports = [
            ("imap", l.imap),
            ("imaps", l.imaps),
            ("pop", l.pop),
            ("pops", l.pops),
            ("smtp", l.smtp),
            ("smtps", l.smtps),
        ];
        for (i, (a, pa)) in ports.iter().enumerate() {
            if let Some((b, _)) = ports[i + 1..]
                .iter()
                .find(|(_, pb)| matches!((pa, pb), (Some(x), Some(y)) if x == y && *x != 0))
            {
                return Err(Failure::new(
                    Code::InvalidInput,
                    format!(
                        "The {a} and {b} listeners both use port {}. Give each its own port (or 0 to switch one off).",
                        pa.unwrap_or_default()
                    ),
                ));
            }
        }
        for scope in &self.scopes {
            if scope.trim().is_empty() || scope.contains(char::is_whitespace) {
                return Err(Failure::new(
                    Code::InvalidInput,
                    format!("\"{scope}\" is not a scope (one word each). Fix the bridge's scopes."),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_bring_servers_and_scopes() {
        let c = BridgeConfig::from_settings(&BridgeSettings::default(), None, None).unwrap();
        assert_eq!(c.imap.as_ref().unwrap().host, "outlook.office365.com");
        assert_eq!(c.smtp.as_ref().unwrap().port, 587);
        assert!(c
            .scopes
            .iter()
            .any(|s| s.ends_with("IMAP.AccessAsUser.All")));
        let g = BridgeSettings {
            preset: Preset::Google,
            ..Default::default()
        };
        let c = BridgeConfig::from_settings(&g, None, None).unwrap();
        assert_eq!(c.scopes, vec!["https://mail.google.com/".to_string()]);
    }

    #[test]
    fn custom_needs_scopes_and_a_server() {
        let mut s = BridgeSettings {
            preset: Preset::Custom,
            ..Default::default()
        };
        let e = BridgeConfig::from_settings(&s, None, None).unwrap_err();
        assert_eq!(e.code, Code::InvalidInput);
        s.scopes = Some(vec!["mail".into()]);
        let e = BridgeConfig::from_settings(&s, None, None).unwrap_err();
        assert_eq!(e.code, Code::MissingServer);
        s.imap = Some(Server {
            host: "127.0.0.1".into(),
            port: 993,
            security: Security::Tls,
        });
        let c = BridgeConfig::from_settings(&s, None, None).unwrap();
        assert!(c.pop.is_none() && c.smtp.is_none());
    }

    #[test]
    fn settings_read_from_toml() {
        let s: BridgeSettings = toml::from_str(
            "preset = \"custom\"\nscopes = [\"mail\"]\n[imap]\nhost = \"h\"\nport = 993\nsecurity = \"tls\"\n[listen]\nimap = 2143\npops = 0\n",
        )
        .unwrap();
        assert_eq!(s.preset, Preset::Custom);
        assert_eq!(s.listen.imap, Some(2143));
        assert_eq!(s.listen.imaps, Some(1993), "unset ports keep their default");
        let c = BridgeConfig::from_settings(&s, None, None).unwrap();
        assert_eq!(c.listen.pops, None, "0 switches a listener off");
        assert_eq!(c.listen.imap, Some(2143));
        assert!(toml::from_str::<BridgeSettings>("bogus = 1").is_err());
        let twice: BridgeSettings = toml::from_str("[listen]\nimap = 2143\nsmtp = 2143\n").unwrap();
        let e = BridgeConfig::from_settings(&twice, None, None).unwrap_err();
        assert_eq!(e.code, Code::InvalidInput);
        assert!(e.message.contains("imap and smtp"), "{}", e.message);
        // Tests bind every listener on port 0 (a free one each).
        let mut c = BridgeConfig::from_settings(&BridgeSettings::default(), None, None).unwrap();
        c.listen = Listen::ephemeral();
        assert!(c.validate().is_ok());
    }
}
