//! Where an entry's mail servers are: the protocols apppass knows, and the resolved endpoint
//! (host, port, security, user name) for each protocol an entry can use.
//!
//! A custom entry carries its own servers; a catalog provider's servers come from the catalog.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::vault::{Entry, Security, Server};

/// A mail protocol a client uses with a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Protocol {
    Imap,
    Smtp,
    Pop,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Imap, Protocol::Smtp, Protocol::Pop];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Imap => "imap",
            Protocol::Smtp => "smtp",
            Protocol::Pop => "pop",
        }
    }

    /// How people write it: "IMAP", "SMTP", "POP".
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Imap => "IMAP",
            Protocol::Smtp => "SMTP",
            Protocol::Pop => "POP",
        }
    }
}

/// One server an entry's password is used with, resolved for that entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Endpoint {
    pub protocol: Protocol,
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// The user name to sign in with.
    pub username: String,
}

impl Endpoint {
    fn from_server(protocol: Protocol, server: &Server, username: &str) -> Endpoint {
        Endpoint {
            protocol,
            host: server.host.clone(),
            port: server.port,
            security: server.security,
            username: username.to_owned(),
        }
    }
}

/// The servers an entry's password works with, in protocol order (IMAP, SMTP, POP). Empty when
/// neither the entry nor its provider names any.
///
/// An entry's own servers (a custom provider's) win; otherwise the catalog provider's servers,
/// with the user name derived from the entry's account in the form the server expects (iCloud
/// IMAP: the part before the `@`).
pub fn endpoints(entry: &Entry) -> Vec<Endpoint> {
    // A bridge client's password is apppass's own: it is only ever used with the bridge on
    // this computer, never with the provider's servers.
    if entry.kind == crate::vault::EntryKind::Bridge {
        return local_endpoints(entry);
    }
    let Some(s) = &entry.servers else {
        let Ok(provider) = super::provider(&entry.provider) else {
            return Vec::new();
        };
        return Protocol::ALL
            .into_iter()
            .filter_map(|p| {
                provider.servers.get(p).map(|c| Endpoint {
                    protocol: p,
                    host: c.host.clone(),
                    port: c.port,
                    security: c.security,
                    username: c.username.apply(&entry.account),
                })
            })
            .collect();
    };
    [
        (Protocol::Imap, &s.imap),
        (Protocol::Smtp, &s.smtp),
        (Protocol::Pop, &s.pop),
    ]
    .into_iter()
    .filter_map(|(p, server)| {
        server
            .as_ref()
            .map(|server| Endpoint::from_server(p, server, &entry.account))
    })
    .collect()
}

/// A bridge client's own servers, loopback only.
fn local_endpoints(entry: &Entry) -> Vec<Endpoint> {
    let Some(s) = &entry.servers else {
        return Vec::new();
    };
    [
        (Protocol::Imap, &s.imap),
        (Protocol::Smtp, &s.smtp),
        (Protocol::Pop, &s.pop),
    ]
    .into_iter()
    .filter_map(|(p, server)| server.as_ref().map(|server| (p, server)))
    .filter(|(_, server)| {
        let host = server
            .host
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
    .map(|(p, server)| Endpoint::from_server(p, server, &entry.account))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::ServerSettings;

    #[test]
    fn a_bridge_client_only_ever_has_loopback_servers() {
        use crate::vault::{EntryKind, Security, Server};
        let server = |host: &str| {
            Some(Server {
                host: host.into(),
                port: 1143,
                security: Security::Starttls,
            })
        };
        let mut e = entry("microsoft365", "thunderbird-on-laptop", None);
        e.kind = EntryKind::Bridge;
        assert!(
            endpoints(&e).is_empty(),
            "never the provider's servers for a bridge password"
        );
        e.servers = Some(ServerSettings {
            imap: server("127.0.0.1"),
            smtp: server("smtp.office365.com"),
            pop: server("localhost"),
        });
        let got: Vec<(Protocol, String)> = endpoints(&e)
            .into_iter()
            .map(|p| (p.protocol, p.host))
            .collect();
        assert_eq!(
            got,
            vec![
                (Protocol::Imap, "127.0.0.1".to_string()),
                (Protocol::Pop, "localhost".to_string())
            ]
        );
    }

    fn entry(provider: &str, account: &str, servers: Option<ServerSettings>) -> Entry {
        crate::vault::test_entry("Thunderbird on LAPTOP-42", provider, account, servers)
    }

    fn summary(e: &Entry) -> Vec<(Protocol, String, u16, Security, String)> {
        endpoints(e)
            .into_iter()
            .map(|p| (p.protocol, p.host, p.port, p.security, p.username))
            .collect()
    }

    #[test]
    fn catalog_providers_resolve_to_catalog_servers() {
        let e = entry("google", "ann@gmail.com", None);
        assert_eq!(
            summary(&e),
            [
                (
                    Protocol::Imap,
                    "imap.gmail.com".into(),
                    993,
                    Security::Tls,
                    "ann@gmail.com".into()
                ),
                (
                    Protocol::Smtp,
                    "smtp.gmail.com".into(),
                    465,
                    Security::Tls,
                    "ann@gmail.com".into()
                ),
                (
                    Protocol::Pop,
                    "pop.gmail.com".into(),
                    995,
                    Security::Tls,
                    "ann@gmail.com".into()
                ),
            ]
        );
        // iCloud IMAP signs in with the local part, SMTP with the address; there is no POP.
        let e = entry("icloud", "ann@icloud.com", None);
        assert_eq!(
            summary(&e),
            [
                (
                    Protocol::Imap,
                    "imap.mail.me.com".into(),
                    993,
                    Security::Tls,
                    "ann".into()
                ),
                (
                    Protocol::Smtp,
                    "smtp.mail.me.com".into(),
                    587,
                    Security::Starttls,
                    "ann@icloud.com".into()
                ),
            ]
        );
        // Microsoft 365: only SMTP AUTH still takes a password.
        let e = entry("microsoft365", "ann@contoso.com", None);
        assert_eq!(
            summary(&e),
            [(
                Protocol::Smtp,
                "smtp.office365.com".into(),
                587,
                Security::Starttls,
                "ann@contoso.com".into()
            )]
        );
        let e = entry("proton_bridge", "ann@proton.me", None);
        assert_eq!(
            summary(&e),
            [
                (
                    Protocol::Imap,
                    "127.0.0.1".into(),
                    1143,
                    Security::Starttls,
                    "ann@proton.me".into()
                ),
                (
                    Protocol::Smtp,
                    "127.0.0.1".into(),
                    1025,
                    Security::Starttls,
                    "ann@proton.me".into()
                ),
            ]
        );
        assert!(endpoints(&entry("nextcloud", "ann", None)).is_empty());
        assert!(endpoints(&entry("custom", "ann", None)).is_empty());
        assert!(endpoints(&entry("no-such-provider", "ann", None)).is_empty());
    }

    #[test]
    fn custom_entries_keep_their_own_servers() {
        let servers = ServerSettings {
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
        let e = entry("custom", "ann", Some(servers));
        assert_eq!(
            summary(&e),
            [
                (
                    Protocol::Smtp,
                    "mail.example.com".into(),
                    587,
                    Security::Starttls,
                    "ann".into()
                ),
                (
                    Protocol::Pop,
                    "pop.example.com".into(),
                    995,
                    Security::Tls,
                    "ann".into()
                ),
            ]
        );
    }

    #[test]
    fn local_part_of_an_account_without_at_is_the_account() {
        use crate::catalog::UsernameForm;
        assert_eq!(UsernameForm::LocalPart.apply("ann"), "ann");
        assert_eq!(UsernameForm::LocalPart.apply("@x"), "@x");
        assert_eq!(UsernameForm::LocalPart.apply("a@b@c"), "a@b");
        assert_eq!(UsernameForm::Address.apply("a@b"), "a@b");
    }
}
