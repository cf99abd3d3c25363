//! The modern-auth bridge: a local IMAP/POP3/SMTP proxy on 127.0.0.1 for legacy mail clients.
//!
//! Each client (Thunderbird, Outlook 2016, msmtp, a printer…) gets its own local user name and a
//! password apppass generates (a vault entry of kind `bridge`). The client signs in to the bridge
//! with it; the bridge checks it ([`book`]), signs in upstream with SASL XOAUTH2 (or OAUTHBEARER)
//! using the profile's OAuth sign-in ([`tokens`]), then relays the session. The local password
//! never leaves the machine; a wrong one never reaches the provider.
//!
//! Data flow: client → listener on 127.0.0.1 ([`server`]) → local password checked ([`book`]) →
//! access token ([`tokens`]) → TLS + XOAUTH2 upstream ([`upstream`]) → bytes relayed both ways.

pub mod book;
pub mod cert;
pub mod clients;
pub mod config;
pub mod password;
pub mod status;
pub mod tokens;

pub(crate) mod imap;
pub(crate) mod pop;
pub(crate) mod protolog;
pub mod server;
pub(crate) mod session;
pub(crate) mod smtp;
pub(crate) mod stream;
pub(crate) mod upstream;

pub use book::{BridgeClient, ClientBook, Penalty, VaultBook};
pub use cert::LocalCert;
pub use config::{BridgeConfig, BridgeSettings, Listen, Preset};
pub use server::{Bridge, Running};
pub use status::{BridgeStatus, Status};
pub use tokens::{SignInTokens, TokenSource, UpstreamToken};

/// The local user name of a bridge client, from its entry's name: lower case, ASCII letters and
/// digits kept (clients differ in what else they send), every other run of characters one `-` ("Thunderbird on LAPTOP-42" →
/// "thunderbird-on-laptop-42"). Empty when the name has no letter or digit.
pub fn local_username(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else {
            dash = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_usernames_are_slugs() {
        assert_eq!(
            local_username("Thunderbird on LAPTOP-42"),
            "thunderbird-on-laptop-42"
        );
        assert_eq!(local_username("  msmtp (work) "), "msmtp-work");
        assert_eq!(local_username("Drucker Büro 2"), "drucker-b-ro-2");
        assert_eq!(local_username("--"), "");
    }
}
