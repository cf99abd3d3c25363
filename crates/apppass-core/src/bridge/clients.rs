//! Bridge clients in the vault: adding one (a generated password, a local user name, the local
//! servers it must use), rotating its password, removing it, listing them.

use super::config::{BridgeSettings, Listen};
use super::{local_username, password};
use crate::catalog::{self, Protocol};
use crate::error::{Code, Failure};
use crate::vault::{Entry, EntryKind, NewEntry, Security, Server, ServerSettings, Vault};
use crate::Secret;

/// The address every bridge listener binds.
pub const LOCAL_HOST: &str = "127.0.0.1";

/// The local servers a client uses, for the protocols it speaks: the plain listener with
/// STARTTLS where it is on, else the TLS one. (Clients that insist on TLS trust the exported
/// certificate; see `apppass bridge cert`.)
pub fn local_servers(listen: &Listen, protocols: &[Protocol]) -> ServerSettings {
    let listen = listen.without_zeros();
    let pick = |starttls: Option<u16>, tls: Option<u16>| match (starttls, tls) {
        (Some(port), _) => Some(Server {
            host: LOCAL_HOST.into(),
            port,
            security: Security::Starttls,
        }),
        (None, Some(port)) => Some(Server {
            host: LOCAL_HOST.into(),
            port,
            security: Security::Tls,
        }),
        (None, None) => None,
    };
    let wants = |p: Protocol| protocols.contains(&p);
    ServerSettings {
        imap: wants(Protocol::Imap)
            .then(|| pick(listen.imap, listen.imaps))
            .flatten(),
        smtp: wants(Protocol::Smtp)
            .then(|| pick(listen.smtp, listen.smtps))
            .flatten(),
        pop: wants(Protocol::Pop)
            .then(|| pick(listen.pop, listen.pops))
            .flatten(),
    }
}

/// Adds a bridge client: a new password from the CSPRNG, the user name from the name, the local
/// servers for the client's protocols. Returns the entry and the password (to show once).
pub fn add(
    vault: &Vault,
    settings: &BridgeSettings,
    name: &str,
    client: &str,
) -> Result<(Entry, Secret), Failure> {
    let name = crate::vault::validate_name(name)?;
    let client = catalog::client(client.trim())?;
    let username = local_username(&name);
    if username.is_empty() {
        return Err(Failure::new(
            Code::InvalidInput,
            format!("{name:?} has no letter or digit to make a user name from. Name the client with letters or digits, e.g. \"Thunderbird on laptop\"."),
        ));
    }
    if let Some(other) = vault.bridge_client(&username)? {
        return Err(Failure::new(
            Code::NameTaken,
            format!(
                "The bridge client {:?} already signs in as \"{username}\". Choose a name that differs in more than case or punctuation.",
                other.name
            ),
        ));
    }
    let servers = local_servers(&settings.listen, &client.protocols());
    let secret = password::generate()?;
    let entry = vault.add(
        NewEntry {
            name,
            provider: settings.preset.provider_id().into(),
            account: username,
            client: client.id.clone(),
            kind: EntryKind::Bridge,
            notes: String::new(),
            servers: Some(servers),
        },
        &secret,
    )?;
    Ok((entry, secret))
}

/// The bridge client with this name, or a failure saying it is not one.
pub fn find(vault: &Vault, name: &str) -> Result<Entry, Failure> {
    let entry = vault.entry(name)?;
    if entry.kind != EntryKind::Bridge {
        return Err(Failure::new(
            Code::InvalidInput,
            format!(
                "{:?} is an app password, not a bridge client. Use `apppass rotate` / `apppass rm` for it.",
                entry.name
            ),
        ));
    }
    Ok(entry)
}

/// A new password for a bridge client; the old one stops working at once (the bridge reads the
/// vault at every sign-in).
pub fn rotate(vault: &Vault, name: &str) -> Result<(Entry, Secret), Failure> {
    let entry = find(vault, name)?;
    let secret = password::generate()?;
    let entry = vault.rotate(&entry.name, Some(&secret))?;
    Ok((entry, secret))
}

/// Removes a bridge client; it can no longer sign in.
pub fn remove(vault: &Vault, name: &str) -> Result<Entry, Failure> {
    let entry = find(vault, name)?;
    vault.remove(&entry.name)
}

/// Every bridge client, by name.
pub fn list(vault: &Vault) -> Result<Vec<Entry>, Failure> {
    Ok(vault
        .list()?
        .into_iter()
        .filter(|e| e.kind == EntryKind::Bridge)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_servers_follow_the_listeners_and_the_client() {
        let all = Listen::default();
        let s = local_servers(&all, &[Protocol::Imap, Protocol::Smtp]);
        assert_eq!(s.imap.as_ref().unwrap().port, 1143);
        assert_eq!(s.imap.as_ref().unwrap().security, Security::Starttls);
        assert_eq!(s.smtp.as_ref().unwrap().port, 1587);
        assert!(s.pop.is_none(), "the client does not use POP");
        let tls_only = Listen {
            imap: Some(0),
            ..Listen::default()
        };
        let s = local_servers(&tls_only, &[Protocol::Imap]);
        assert_eq!(s.imap.as_ref().unwrap().port, 1993);
        assert_eq!(s.imap.as_ref().unwrap().security, Security::Tls);
        let printer = local_servers(&all, &[Protocol::Smtp]);
        assert!(printer.imap.is_none() && printer.smtp.is_some());
    }
}
