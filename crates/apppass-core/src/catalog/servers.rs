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
pub fn endpoints(entry: &Entry) -> Vec<Endpoint> {
    let Some(s) = &entry.servers else {
        return Vec::new();
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
