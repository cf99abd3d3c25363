//! Reaching the mail server: TCP, TLS (rustls; the system's roots plus an extra CA), and the SASL
//! strings for XOAUTH2 and OAUTHBEARER. The per-protocol dialogue (greeting, STARTTLS, AUTHENTICATE)
//! lives in the protocol modules.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::net::TcpStream;

use super::stream::UpstreamStream;
use crate::error::{Code, Failure};
use crate::vault::Server;
use crate::Secret;

/// Runs one upstream step under the time limit.
pub(crate) async fn limit<T>(
    server: &Server,
    timeout: Duration,
    what: &str,
    future: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(timeout, future).await {
        Ok(r) => r,
        Err(_) => Err(Failure::new(
            Code::NetworkTimeout,
            format!(
                "The mail server {} port {} did not answer within {} s ({what}). Check the network, or try again later.",
                server.host,
                server.port,
                timeout.as_secs()
            ),
        )),
    }
}

/// Opens TCP to the server (the first address that answers).
pub(crate) async fn tcp(server: &Server, timeout: Duration) -> Result<UpstreamStream, Failure> {
    let host = server.host.trim();
    limit(server, timeout, "connect", async {
        let addrs: Vec<_> = tokio::net::lookup_host((host, server.port))
            .await
            .map_err(|e| {
                Failure::new(
                    Code::DnsFailure,
                    format!("The mail server's name {host} could not be looked up ({e}). Check the network and the bridge's server setting."),
                )
            })?
            .collect();
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    return Ok(UpstreamStream::Plain(s));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(Failure::new(
            Code::Offline,
            match last {
                Some(e) => format!("The mail server {host} port {} cannot be reached ({e}). Check the network and the bridge's server setting.", server.port),
                None => format!("The mail server's name {host} has no address. Check the bridge's server setting."),
            },
        ))
    })
    .await
}

/// TLS over `stream` (which must be plain), checking the certificate against the server's name.
pub(crate) async fn tls(
    stream: UpstreamStream,
    server: &Server,
    config: &Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<UpstreamStream, Failure> {
    let tcp = match stream {
        UpstreamStream::Plain(tcp) => tcp,
        tls @ UpstreamStream::Tls(_) => return Ok(tls),
    };
    let name =
        rustls::pki_types::ServerName::try_from(server.host.trim().to_string()).map_err(|_| {
            Failure::new(
                Code::InvalidInput,
                format!(
                    "{:?} is not a valid host name. Fix the bridge's server setting.",
                    server.host
                ),
            )
        })?;
    let connector = tokio_rustls::TlsConnector::from(config.clone());
    limit(server, timeout, "TLS handshake", async {
        connector
            .connect(name, tcp)
            .await
            .map(|s| UpstreamStream::Tls(Box::new(s)))
            .map_err(|e| {
                let why = crate::mailcheck::net::find_tls(&e).unwrap_or_else(|| e.to_string());
                Failure::new(
                    Code::TlsFailure,
                    format!("The secure connection to the mail server {} failed: {why}. The bridge sends nothing without a trusted certificate; if your company uses its own CA, set it with --ca-file.", server.host),
                )
            })
    })
    .await
}

/// SASL XOAUTH2's initial response, base64 (https://developers.google.com/workspace/gmail/imap/xoauth2-protocol).
pub(crate) fn xoauth2(user: &str, token: &Secret) -> Secret {
    let raw = zeroize::Zeroizing::new(format!(
        "user={user}\x01auth=Bearer {}\x01\x01",
        token.expose()
    ));
    Secret::new(base64::engine::general_purpose::STANDARD.encode(raw.as_bytes()))
}

/// SASL OAUTHBEARER's initial response, base64 (RFC 7628 §3.1). `,` and `=` in the user name are
/// escaped as RFC 5801 requires.
pub(crate) fn oauthbearer(user: &str, token: &Secret) -> Secret {
    let user = user.replace('=', "=3D").replace(',', "=2C");
    let raw = zeroize::Zeroizing::new(format!(
        "n,a={user},\x01auth=Bearer {}\x01\x01",
        token.expose()
    ));
    Secret::new(base64::engine::general_purpose::STANDARD.encode(raw.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &Secret) -> String {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(s.expose())
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn sasl_strings() {
        let t = Secret::from("ya29.tok");
        assert_eq!(
            decode(&xoauth2("ann@example.test", &t)),
            "user=ann@example.test\x01auth=Bearer ya29.tok\x01\x01"
        );
        assert_eq!(
            decode(&oauthbearer("a,b=c@x", &t)),
            "n,a=a=2Cb=3Dc@x,\x01auth=Bearer ya29.tok\x01\x01"
        );
    }
}
