//! Client setup for an entry: the exact settings (server, port, security, user name) for the
//! protocols the client uses, and the client's steps with those values filled in.

use serde::Serialize;
use ts_rs::TS;

use super::clients::{placeholders, FIELDS};
use super::{client, endpoints, Endpoint, ExportFormat, Protocol};
use crate::error::{Code, Failure};
use crate::vault::{Entry, Security};

/// How to set one client up for one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ClientSetup {
    /// The entry's name (what `apppass get` takes).
    pub entry: String,
    pub client: String,
    pub client_name: String,
    /// The entry's servers this client uses, incoming (preferred first) then outgoing.
    pub settings: Vec<Endpoint>,
    /// Numbered steps, values filled in (steps about servers the entry lacks are left out).
    pub steps: Vec<String>,
    /// Protocols the client would use but the entry has no server for.
    pub missing: Vec<Protocol>,
    /// When something the client needs is missing: what that means, in plain words.
    pub warning: Option<String>,
    /// The `apppass export` formats that suit this client and this entry's servers.
    pub exports: Vec<ExportFormat>,
}

/// "SSL/TLS" or "STARTTLS", as mail clients label them.
pub fn security_label(security: Security) -> &'static str {
    match security {
        Security::Tls => "SSL/TLS",
        Security::Starttls => "STARTTLS",
    }
}

fn field(e: &Endpoint, name: &str) -> String {
    match name {
        "protocol" => e.protocol.label().to_string(),
        "host" => e.host.clone(),
        "port" => e.port.to_string(),
        "security" => security_label(e.security).to_string(),
        "username" => e.username.clone(),
        _ => unreachable!("placeholders are checked by the schema test"),
    }
}

/// The settings and filled-in steps for setting `client_id` up with `entry`.
pub fn setup(entry: &Entry, client_id: &str) -> Result<ClientSetup, Failure> {
    let client = client(client_id)?;
    let all = endpoints(entry);
    let by = |p: Protocol| all.iter().find(|e| e.protocol == p);
    let incoming: Option<&Endpoint> = client.incoming.iter().find_map(|p| by(*p));
    let settings: Vec<Endpoint> = client
        .protocols()
        .into_iter()
        .filter_map(|p| by(p).cloned())
        .collect();
    let mut missing = Vec::new();
    if incoming.is_none() {
        missing.extend(client.incoming.iter().copied());
    }
    missing.extend(client.outgoing.iter().copied().filter(|p| by(*p).is_none()));
    if settings.is_empty() {
        let needs: Vec<&str> = client.protocols().iter().map(|p| p.label()).collect();
        return Err(Failure::new(
            Code::MissingServer,
            format!(
                "{} uses {}, but the entry {:?} has no such server{}. Choose another client for it, or add an entry with the servers this client needs (--provider custom).",
                client.name,
                needs.join(" or "),
                entry.name,
                if all.is_empty() { " (it has no mail servers at all)" } else { "" }
            ),
        ));
    }
    let warning = (!missing.is_empty()).then(|| {
        let what = if incoming.is_none() && !client.incoming.is_empty() {
            "read mail (no IMAP or POP server that takes this password)"
        } else {
            "send mail (no SMTP server that takes this password)"
        };
        format!(
            "With this entry {} can only partly work: it cannot {what}. See the preflight for why and what to use instead.",
            client.name
        )
    });
    let exports: Vec<ExportFormat> = client
        .exports
        .iter()
        .copied()
        .filter(|f| crate::export::render(entry, *f, None).is_ok())
        .collect();
    // A step that runs an export this entry cannot have is left out too.
    let unavailable: Vec<String> = ExportFormat::ALL
        .iter()
        .filter(|f| !exports.contains(f))
        .map(|f| format!("--format {}", f.as_str()))
        .collect();
    let mut steps: Vec<String> = client
        .steps
        .iter()
        .filter(|step| !unavailable.iter().any(|u| step.contains(u.as_str())))
        .filter_map(|step| fill(step, entry, incoming, &by))
        .collect();
    if steps.is_empty() {
        // Every step needs a server the entry lacks: give the settings it has, plainly.
        let list: Vec<String> = settings
            .iter()
            .map(|e| {
                format!(
                    "{} {}:{} ({}), user name {}",
                    e.protocol.label(),
                    e.host,
                    e.port,
                    security_label(e.security),
                    e.username
                )
            })
            .collect();
        steps.push(format!(
            "Enter these settings in {}: {}; the password is the app password from the entry \"{}\".",
            client.name,
            list.join("; "),
            entry.name
        ));
    }
    let steps = steps
        .into_iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {s}", i + 1))
        .collect();
    Ok(ClientSetup {
        entry: entry.name.clone(),
        client: client.id.clone(),
        client_name: client.name.clone(),
        settings,
        steps,
        missing,
        warning,
        exports,
    })
}

/// One step with its placeholders filled; `None` when it names a server the entry lacks.
fn fill<'a>(
    step: &str,
    entry: &Entry,
    incoming: Option<&'a Endpoint>,
    by: &dyn Fn(Protocol) -> Option<&'a Endpoint>,
) -> Option<String> {
    let mut out = step.to_string();
    for p in placeholders(step) {
        let value = match p {
            "name" => entry.name.clone(),
            "account" => entry.account.clone(),
            _ => {
                let (proto, f) = p.split_once('.')?;
                debug_assert!(FIELDS.contains(&f));
                let endpoint = match proto {
                    "in" => incoming,
                    "imap" => by(Protocol::Imap),
                    "smtp" => by(Protocol::Smtp),
                    "pop" => by(Protocol::Pop),
                    _ => None,
                }?;
                field(endpoint, f)
            }
        };
        out = out.replacen(&format!("{{{p}}}"), &value, 1);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::clients;
    use crate::vault::{Server, ServerSettings};

    fn entry(provider: &str, account: &str, servers: Option<ServerSettings>) -> Entry {
        crate::vault::test_entry("Thunderbird on LAPTOP-42", provider, account, servers)
    }

    #[test]
    fn thunderbird_with_icloud_gets_the_exact_settings() {
        let s = setup(&entry("icloud", "ann@icloud.com", None), "thunderbird").unwrap();
        assert_eq!(s.settings.len(), 2);
        assert_eq!(s.settings[0].host, "imap.mail.me.com");
        assert_eq!(s.settings[0].username, "ann");
        assert_eq!(s.settings[1].host, "smtp.mail.me.com");
        assert!(s.missing.is_empty() && s.warning.is_none());
        let all = s.steps.join("\n");
        assert!(
            all.contains("hostname imap.mail.me.com, port 993, connection security SSL/TLS"),
            "{all}"
        );
        assert!(
            all.contains("hostname smtp.mail.me.com, port 587, connection security STARTTLS"),
            "{all}"
        );
        assert!(all.contains("username ann."), "{all}");
        assert!(all.contains("ann@icloud.com"));
        assert!(s.steps[0].starts_with("1. "));
        assert!(!all.contains('{'), "unfilled placeholder: {all}");
        assert_eq!(s.exports, [ExportFormat::Thunderbird]);
    }

    #[test]
    fn every_client_with_every_provider_fills_every_placeholder() {
        let custom = ServerSettings {
            imap: None,
            smtp: Some(Server {
                host: "mail.example.com".into(),
                port: 587,
                security: Security::Starttls,
            }),
            pop: Some(Server {
                host: "pop.example.com".into(),
                port: 995,
                security: Security::Tls,
            }),
        };
        for p in crate::catalog::providers() {
            let servers = (p.id == "custom").then(|| custom.clone());
            let e = entry(&p.id, "ann@example.com", servers);
            for c in clients() {
                match setup(&e, &c.id) {
                    Ok(s) => {
                        assert!(!s.steps.is_empty(), "{} {}", p.id, c.id);
                        for step in &s.steps {
                            assert!(!step.contains('{'), "{} {}: {step}", p.id, c.id);
                        }
                        assert!(s
                            .settings
                            .iter()
                            .all(|e| c.protocols().contains(&e.protocol)));
                    }
                    Err(f) => {
                        assert_eq!(f.code, Code::MissingServer, "{} {}", p.id, c.id);
                        assert!(
                            e.provider == "nextcloud"
                                || !c
                                    .protocols()
                                    .iter()
                                    .any(|pr| endpoints(&e).iter().any(|x| x.protocol == *pr))
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_printer_with_microsoft_365_uses_smtp_only_and_thunderbird_is_warned() {
        let e = entry("microsoft365", "scanner@contoso.com", None);
        let s = setup(&e, "printer").unwrap();
        assert_eq!(s.settings.len(), 1);
        assert_eq!(s.settings[0].host, "smtp.office365.com");
        assert!(s
            .steps
            .iter()
            .any(|x| x.contains("port 587, security STARTTLS")));
        let t = setup(&e, "thunderbird").unwrap();
        assert_eq!(t.missing, [Protocol::Imap, Protocol::Pop]);
        assert!(t.warning.unwrap().contains("cannot read mail"));
        // The incoming-server steps are left out, the SMTP one stays.
        assert!(t.steps.iter().all(|x| !x.contains("Incoming server")));
        assert!(t.steps.iter().any(|x| x.contains("smtp.office365.com")));
        let err = setup(&e, "mbsync").unwrap_err();
        assert_eq!(err.code, Code::MissingServer);
        let err = setup(&entry("nextcloud", "ann", None), "thunderbird").unwrap_err();
        assert!(
            err.message.contains("no mail servers at all"),
            "{}",
            err.message
        );
        assert_eq!(setup(&e, "pine").unwrap_err().code, Code::UnknownClient);
    }
}
