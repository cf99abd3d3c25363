//! Preflight for a provider and a mail client: can this client work with an app password from
//! this provider, on a given day? Per protocol the client uses, the statement in force that day
//! (from `preflight.toml`, with its source), a verdict, and advice in plain words.
//!
//! Where apppass has no sourced statement the line is `unknown` and says that apppass cannot
//! confirm it; nothing is guessed. When an app password cannot work, it says so, names OAuth
//! (modern authentication) as the way for clients a source says can use it, and, for providers
//! apppass's bridge signs in to (Microsoft 365, Google), offers the bridge: the client signs in to
//! apppass on this computer with a password apppass makes, and apppass signs in with OAuth.

use serde::Serialize;
use ts_rs::TS;

use super::facts::{self, Accepts};
use super::{client, is_date, provider, Client, Mfa, OauthStatement, Protocol, Provider, Sourced};
use crate::error::{Code, Failure};

/// Can the client work with an app password?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Verdict {
    /// Everything the client needs accepts app passwords.
    Works,
    /// Only part works (e.g. reading but not sending), or it needs an administrator to turn
    /// password sign-in back on.
    Partly,
    /// What the client is for (reading mail, or sending for send-only clients) cannot work.
    No,
    /// apppass has no sourced statement for what the client needs.
    Unknown,
}

/// One protocol the client uses, at this provider, on the day asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct PreflightLine {
    pub protocol: Protocol,
    /// How the statement names it ("IMAP", "SMTP AUTH"), with the service ("Exchange Online").
    pub label: String,
    pub accepts: Accepts,
    /// The day the statement in force took effect (YYYY-MM-DD).
    pub since: Option<String>,
    pub text: String,
    /// Where the statement comes from; `None` when apppass has no source (then `accepts` is
    /// `unknown`, or the provider has no such server).
    pub source: Option<String>,
    pub checked: Option<String>,
    /// What must also be true for it to work, each with its source.
    pub conditions: Vec<Sourced<String>>,
}

/// The preflight for a provider and a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ClientPreflight {
    pub provider: String,
    pub provider_name: String,
    pub client: String,
    pub client_name: String,
    /// The day the statements are for (YYYY-MM-DD).
    pub date: String,
    pub verdict: Verdict,
    pub lines: Vec<PreflightLine>,
    /// What to do, in plain words (first the verdict, then the way forward).
    pub advice: Vec<String>,
    /// A source's statement that the client can sign in to this provider with OAuth instead.
    pub oauth: Option<OauthStatement>,
    /// The provider's 2-step verification requirement (for the MFA step).
    pub mfa: Option<Mfa>,
    /// Conditions about the provider as a whole (e.g. who may create app passwords).
    pub notes: Vec<Sourced<String>>,
    /// An app password cannot do all the client needs, and apppass's bridge can sign in to this
    /// provider for it instead (the wizard offers "Use the apppass bridge instead").
    pub bridge: bool,
}

/// Whether apppass's bridge has a preset for the provider (see `bridge::Preset`).
fn bridge_serves(provider_id: &str) -> bool {
    use crate::bridge::Preset;
    [Preset::Microsoft365, Preset::Google]
        .iter()
        .any(|p| p.provider_id() == provider_id)
}

fn rank(a: Accepts) -> u8 {
    match a {
        Accepts::Yes => 3,
        Accepts::OffByDefault => 2,
        Accepts::Unknown => 1,
        Accepts::No => 0,
    }
}

fn sourced(text: &str, source: &str, checked: &str) -> Sourced<String> {
    Sourced {
        value: text.to_string(),
        source: source.to_string(),
        checked: checked.to_string(),
    }
}

fn line(p: &Provider, protocol: Protocol, date: &str) -> Option<PreflightLine> {
    let all = facts::facts();
    let conditions = all
        .notes(&p.id, Some(protocol))
        .into_iter()
        .map(|n| sourced(&n.text, &n.source, &n.checked))
        .collect();
    if let Some(f) = all.protocol(&p.id, protocol) {
        let label = format!("{} {}", f.service, f.protocol);
        return Some(match f.on(date) {
            Some(phase) => PreflightLine {
                protocol,
                label,
                accepts: phase.accepts,
                since: Some(phase.from.clone()),
                text: phase.text.clone(),
                source: Some(phase.source.clone()),
                checked: Some(phase.checked.clone()),
                conditions,
            },
            None => PreflightLine {
                protocol,
                label,
                accepts: Accepts::Unknown,
                since: None,
                text: format!(
                    "apppass has no statement about {} for {date}, so it cannot confirm whether it accepts app passwords then.",
                    f.protocol
                ),
                source: None,
                checked: None,
                conditions,
            },
        });
    }
    if p.id == "custom" {
        return Some(PreflightLine {
            protocol,
            label: protocol.label().to_string(),
            accepts: Accepts::Unknown,
            since: None,
            text: format!(
                "apppass knows nothing about your own {} server; the connection test after saving shows whether it accepts the password.",
                protocol.label()
            ),
            source: None,
            checked: None,
            conditions,
        });
    }
    if p.servers.get(protocol).is_some() {
        return Some(PreflightLine {
            protocol,
            label: protocol.label().to_string(),
            accepts: Accepts::Unknown,
            since: None,
            text: format!(
                "apppass has no source saying whether {} accepts app passwords over {}, so it cannot confirm it. The connection test after saving will tell.",
                p.name,
                protocol.label()
            ),
            source: None,
            checked: None,
            conditions,
        });
    }
    None
}

fn no_server_line(p: &Provider, protocol: Protocol) -> PreflightLine {
    PreflightLine {
        protocol,
        label: protocol.label().to_string(),
        accepts: Accepts::No,
        since: None,
        text: if p.servers.is_empty() {
            format!("{} has no mail servers in apppass's catalog: its app passwords are not for mail apps.", p.name)
        } else {
            format!(
                "{} has no {} server in apppass's catalog.",
                p.name,
                protocol.label()
            )
        },
        source: None,
        checked: None,
        conditions: Vec::new(),
    }
}

/// The preflight for `provider_id` and `client_id` on `today` (YYYY-MM-DD).
pub fn check(provider_id: &str, client_id: &str, today: &str) -> Result<ClientPreflight, Failure> {
    let p = provider(provider_id)?;
    let c = client(client_id)?;
    if !is_date(today) {
        return Err(Failure::new(
            Code::InvalidInput,
            format!("{today:?} is not a date; give it as YYYY-MM-DD."),
        ));
    }
    // Lines for the client's protocols, incoming then outgoing; a role with no line at all gets
    // one saying the provider has no such server.
    let mut lines = Vec::new();
    let role = |protocols: &[Protocol], lines: &mut Vec<PreflightLine>| -> Option<Accepts> {
        if protocols.is_empty() {
            return None;
        }
        let start = lines.len();
        lines.extend(protocols.iter().filter_map(|pr| line(p, *pr, today)));
        if lines.len() == start {
            lines.push(no_server_line(p, protocols[0]));
        }
        lines[start..]
            .iter()
            .map(|l| l.accepts)
            .max_by_key(|a| rank(*a))
    };
    let incoming = role(&c.incoming, &mut lines);
    let outgoing = role(&c.outgoing, &mut lines);
    let (primary, secondary) = match incoming {
        Some(i) => (i, outgoing),
        None => (outgoing.expect("a client uses a protocol (schema)"), None),
    };
    let states: Vec<Accepts> = [Some(primary), secondary].into_iter().flatten().collect();
    let verdict = if states.iter().all(|a| *a == Accepts::Yes) {
        Verdict::Works
    } else if primary == Accepts::No {
        Verdict::No
    } else if states
        .iter()
        .any(|a| matches!(a, Accepts::No | Accepts::OffByDefault))
    {
        Verdict::Partly
    } else {
        Verdict::Unknown
    };
    let oauth = c.oauth_for(&p.id).cloned();
    let refused = lines.iter().any(|l| l.accepts == Accepts::No);
    let bridge =
        bridge_serves(&p.id) && refused && matches!(verdict, Verdict::No | Verdict::Partly);
    let mut advice = advise(p, c, verdict, &lines, oauth.as_ref());
    if bridge {
        advice.push(format!(
            "Or use apppass's bridge: {} signs in to apppass on this computer with a password apppass makes for it, and apppass signs in to {} with your work account (OAuth). It works while apppass runs the bridge and you are signed in.",
            c.name, p.name
        ));
    }
    let all = facts::facts();
    let mut notes: Vec<Sourced<String>> = all
        .notes(&p.id, None)
        .into_iter()
        .map(|n| sourced(&n.text, &n.source, &n.checked))
        .collect();
    if let Some(f) = all.per_user_mfa(&p.id, "unknown") {
        notes.push(sourced(&f.text, &f.source, &f.checked));
    }
    Ok(ClientPreflight {
        provider: p.id.clone(),
        provider_name: p.name.clone(),
        client: c.id.clone(),
        client_name: c.name.clone(),
        date: today.to_string(),
        verdict,
        lines,
        advice,
        oauth,
        mfa: p.mfa.clone(),
        notes,
        bridge,
    })
}

fn labels(lines: &[&PreflightLine]) -> String {
    let mut l: Vec<&str> = lines.iter().map(|l| l.protocol.label()).collect();
    l.dedup();
    l.join(" and ")
}

fn advise(
    p: &Provider,
    c: &Client,
    verdict: Verdict,
    lines: &[PreflightLine],
    oauth: Option<&OauthStatement>,
) -> Vec<String> {
    let is_in = |l: &&PreflightLine| c.incoming.contains(&l.protocol);
    let good: Vec<&PreflightLine> = lines.iter().filter(|l| l.accepts == Accepts::Yes).collect();
    let refused: Vec<&PreflightLine> = lines.iter().filter(|l| l.accepts == Accepts::No).collect();
    let admin: Vec<&PreflightLine> = lines
        .iter()
        .filter(|l| l.accepts == Accepts::OffByDefault)
        .collect();
    let unknown: Vec<&PreflightLine> = lines
        .iter()
        .filter(|l| l.accepts == Accepts::Unknown)
        .collect();
    let mut advice = Vec::new();
    let oauth_advice = || {
        match oauth {
        Some(o) => format!("Instead: {}", o.text),
        None => format!(
            "If {} can sign in to {} with OAuth (modern authentication), use that instead; apppass has no source saying whether it can.",
            c.name, p.name
        ),
    }
    };
    match verdict {
        Verdict::Works => {
            advice.push(format!(
                "{} can use a {} app password for {}.",
                c.name,
                p.name,
                labels(&good)
            ));
            if lines.iter().any(|l| !l.conditions.is_empty()) {
                advice.push("Check the conditions listed with each protocol.".into());
            }
        }
        Verdict::No => {
            let what = if c.incoming.is_empty() {
                "send mail"
            } else {
                "read mail"
            };
            let why: Vec<&PreflightLine> = refused
                .iter()
                .copied()
                .filter(|l| c.incoming.is_empty() || is_in(l))
                .collect();
            advice.push(format!(
                "{} cannot {what} with a {} app password: {}",
                c.name,
                p.name,
                why.first().map(|l| l.text.as_str()).unwrap_or("")
            ));
            let rest: Vec<&PreflightLine> = good.iter().copied().filter(|l| !is_in(l)).collect();
            if !rest.is_empty() && !c.incoming.is_empty() {
                advice.push(format!(
                    "Sending ({}) would still work with an app password, but a mail app that cannot read mail is of little use.",
                    labels(&rest)
                ));
            }
            if !p.servers.is_empty() {
                advice.push(oauth_advice());
            }
        }
        Verdict::Partly => {
            for l in &refused {
                advice.push(format!(
                    "{} cannot use a {} app password for {}: {}",
                    c.name,
                    p.name,
                    l.protocol.label(),
                    l.text
                ));
            }
            for l in &admin {
                advice.push(format!(
                    "{}: {} This works only if an administrator turns it on.",
                    l.protocol.label(),
                    l.text
                ));
            }
            if !good.is_empty() {
                advice.push(format!("{} works with an app password.", labels(&good)));
            }
            if !refused.is_empty() {
                advice.push(oauth_advice());
            }
        }
        Verdict::Unknown => {
            advice.push(format!(
                "apppass cannot confirm whether {} accepts app passwords for {}. Try it: the connection test after saving shows whether it works.",
                p.name,
                labels(&unknown)
            ));
        }
    }
    advice
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(p: &ClientPreflight) -> Vec<(Protocol, Accepts)> {
        p.lines.iter().map(|l| (l.protocol, l.accepts)).collect()
    }

    #[test]
    fn exchange_online_and_thunderbird_cannot_work_and_oauth_is_named() {
        for date in ["2026-11-25", "2027-03-01"] {
            let p = check("microsoft365", "thunderbird", date).unwrap();
            assert_eq!(p.verdict, Verdict::No, "{date}");
            assert_eq!(p.lines[0].protocol, Protocol::Imap);
            assert_eq!(p.lines[0].accepts, Accepts::No);
            assert!(p.lines[0]
                .source
                .as_deref()
                .unwrap()
                .starts_with("https://learn.microsoft.com/exchange/"));
            let all = p.advice.join("\n");
            assert!(all.contains("Thunderbird cannot read mail"), "{all}");
            assert!(all.contains("Basic authentication"), "{all}");
            assert!(all.contains("OAuth"), "{all}");
            // The bridge is offered, after the sourced facts and the OAuth advice.
            assert!(p.bridge, "{date}");
            assert!(
                p.advice
                    .last()
                    .unwrap()
                    .starts_with("Or use apppass's bridge: Thunderbird signs in to apppass"),
                "{all}"
            );
            assert!(p
                .oauth
                .as_ref()
                .unwrap()
                .source
                .contains("office365.com.xml"));
        }
    }

    #[test]
    fn printer_with_microsoft_365_works_until_2027_then_needs_an_admin() {
        let before = check("microsoft365", "printer", "2026-12-31").unwrap();
        assert_eq!(before.verdict, Verdict::Works);
        assert_eq!(accepts(&before), [(Protocol::Smtp, Accepts::Yes)]);
        assert!(before.lines[0]
            .text
            .contains("until the end of December 2026"));
        assert!(before.lines[0].conditions[0]
            .value
            .contains("SMTP AUTH must be enabled"));
        let after = check("microsoft365", "printer", "2027-01-01").unwrap();
        assert_eq!(after.verdict, Verdict::Partly);
        // An administrator can turn it on: nothing is refused, so no bridge is pushed.
        assert!(!after.bridge);
        assert_eq!(accepts(&after), [(Protocol::Smtp, Accepts::OffByDefault)]);
        assert_eq!(after.lines[0].since.as_deref(), Some("2027-01-01"));
        assert!(after
            .advice
            .join(" ")
            .contains("only if an administrator turns it on"));
        // The per-user MFA condition comes with every Microsoft 365 preflight.
        assert!(after.notes.iter().any(|n| n.value.contains("per-user MFA")));
        assert_eq!(
            after.mfa.as_ref().unwrap().url.as_deref(),
            Some("https://mysignins.microsoft.com/security-info")
        );
    }

    #[test]
    fn msmtp_with_microsoft_365_follows_the_date_too() {
        assert_eq!(
            check("microsoft365", "msmtp", "2026-06-01")
                .unwrap()
                .verdict,
            Verdict::Works
        );
        assert_eq!(
            check("microsoft365", "msmtp", "2027-06-01")
                .unwrap()
                .verdict,
            Verdict::Partly
        );
        // mbsync only reads: no.
        let p = check("microsoft365", "mbsync", "2026-06-01").unwrap();
        assert_eq!(p.verdict, Verdict::No);
        assert!(p.advice[0].starts_with("mbsync (isync) cannot read mail"));
        assert!(p
            .advice
            .iter()
            .any(|a| a.contains("apppass has no source saying whether")));
    }

    #[test]
    fn sourced_providers_work_and_missing_sources_are_unknown() {
        let p = check("icloud", "thunderbird", "2026-11-25").unwrap();
        assert_eq!(p.verdict, Verdict::Works);
        assert!(!p.bridge, "no bridge where an app password works");
        assert!(!p.advice.join(" ").contains("bridge"));
        // iCloud has no POP: no line for it.
        assert_eq!(
            accepts(&p),
            [
                (Protocol::Imap, Accepts::Yes),
                (Protocol::Smtp, Accepts::Yes)
            ]
        );
        assert!(p
            .lines
            .iter()
            .all(|l| l.source.as_deref().unwrap().starts_with("https://")));
        for (provider, client) in [
            ("google", "aerc"),
            ("fastmail", "neomutt"),
            ("gmx", "printer"),
            ("proton_bridge", "thunderbird"),
        ] {
            assert_eq!(
                check(provider, client, "2026-11-25").unwrap().verdict,
                Verdict::Works,
                "{provider} {client}"
            );
        }
        // mailbox.org names IMAP and SMTP for app passwords, not POP.
        let p = check("mailbox_org", "thunderbird", "2026-11-25").unwrap();
        let pop = p
            .lines
            .iter()
            .find(|l| l.protocol == Protocol::Pop)
            .unwrap();
        assert_eq!(pop.accepts, Accepts::Unknown);
        assert!(pop.text.contains("cannot confirm"));
        assert!(pop.source.is_none());
        assert_eq!(p.verdict, Verdict::Works, "IMAP is enough for reading");
        // A custom server: nothing known.
        let p = check("custom", "thunderbird", "2026-11-25").unwrap();
        assert_eq!(p.verdict, Verdict::Unknown);
        assert!(p.advice[0].contains("cannot confirm"));
        // Before the day a statement was first read, apppass has none.
        let p = check("google", "msmtp", "2020-01-01").unwrap();
        assert_eq!(p.verdict, Verdict::Unknown);
    }

    #[test]
    fn nextcloud_has_no_mail() {
        let p = check("nextcloud", "thunderbird", "2026-11-25").unwrap();
        assert_eq!(p.verdict, Verdict::No);
        assert!(!p.bridge, "the bridge has no preset for Nextcloud");
        assert!(p.advice[0].contains("no mail servers"), "{:?}", p.advice);
    }

    #[test]
    fn every_provider_and_client_has_a_preflight() {
        for p in crate::catalog::providers() {
            for c in crate::catalog::clients() {
                for date in ["2026-11-25", "2027-01-01"] {
                    let r = check(&p.id, &c.id, date).unwrap();
                    assert!(
                        !r.lines.is_empty() && !r.advice.is_empty(),
                        "{} {}",
                        p.id,
                        c.id
                    );
                    for l in &r.lines {
                        assert_eq!(l.source.is_some(), l.checked.is_some());
                        if l.accepts == Accepts::Unknown {
                            assert!(l.source.is_none() || l.text.contains("cannot confirm"));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn bad_input_is_refused() {
        assert_eq!(
            check("google", "thunderbird", "25.11.2026")
                .unwrap_err()
                .code,
            Code::InvalidInput
        );
        assert_eq!(
            check("google", "pine", "2026-11-25").unwrap_err().code,
            Code::UnknownClient
        );
        assert_eq!(
            check("hotmale", "thunderbird", "2026-11-25")
                .unwrap_err()
                .code,
            Code::UnknownProvider
        );
    }
}
