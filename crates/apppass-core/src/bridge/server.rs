//! Running the bridge: what every session shares, the local password check, and the relay.
//! (The listeners and the accept loop: `Bridge::start`.)

use std::sync::Arc;

use super::book::{BridgeClient, ClientBook, Penalty};
use super::config::BridgeConfig;
use super::status::Status;
use super::stream::{LocalStream, UpstreamStream};
use super::tokens::TokenSource;
use crate::catalog::Protocol;
use crate::error::Failure;
use crate::Secret;

/// What every session of one bridge run shares.
pub(crate) struct Shared {
    pub config: BridgeConfig,
    pub book: Arc<dyn ClientBook>,
    pub tokens: Arc<dyn TokenSource>,
    pub status: Arc<Status>,
    pub penalty: Penalty,
    /// TLS for the client's side (the local certificate).
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// TLS for the server's side (system roots + the extra CA).
    pub upstream_tls: Arc<rustls::ClientConfig>,
}

/// Why a local sign-in did not let the client in.
pub(crate) enum LocalRefusal {
    /// Wrong user name or password (already delayed, audited and counted).
    Wrong,
    /// The vault or keyring failed; the client should try again later.
    Unavailable(Failure),
}

impl Shared {
    /// Checks the client's local user name and password: waits the user's penalty first, then
    /// asks the client book (blocking, so off the async threads). Counts and records the result
    /// in the status. Nothing here talks to the mail server.
    pub async fn check_local(
        &self,
        session: u64,
        protocol: Protocol,
        username: &str,
        password: Secret,
    ) -> Result<BridgeClient, LocalRefusal> {
        let wait = self.penalty.delay(username);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let book = self.book.clone();
        let user = username.to_string();
        let answer = tokio::task::spawn_blocking(move || book.verify(&user, &password))
            .await
            .unwrap_or_else(|e| {
                Err(Failure::new(
                    crate::Code::Internal,
                    format!("The password check stopped unexpectedly ({e}). Report this bug."),
                ))
            });
        match answer {
            Ok(Some(client)) => {
                self.penalty.succeeded(username);
                self.status.signed_in(session, &client.name);
                Ok(client)
            }
            Ok(None) => {
                self.penalty.failed(username);
                self.status.rejected(protocol, username);
                Err(LocalRefusal::Wrong)
            }
            Err(failure) => {
                self.status
                    .upstream_failed(protocol, Some(username), &failure);
                Err(LocalRefusal::Unavailable(failure))
            }
        }
    }
}

/// Relays bytes both ways until either side closes. Returns the bytes (client→server,
/// server→client).
pub(crate) async fn relay(
    mut client: LocalStream,
    mut upstream: UpstreamStream,
) -> std::io::Result<(u64, u64)> {
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await
}
