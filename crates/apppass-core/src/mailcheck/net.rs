//! Name lookup, TCP and TLS for the connection test, with each failure sorted into a result.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::{shown, CheckResult, Ctx, Stage, Stop};
use crate::error::{Code, Failure};

/// The extra CA certificates (DER), besides the platform's.
pub(crate) type Roots = Vec<CertificateDer<'static>>;

/// Reads the extra CA file: every certificate in it (PEM). Unreadable or without a certificate:
/// `InvalidInput` naming the file.
pub(crate) fn extra_roots(path: Option<&Path>) -> Result<Roots, Failure> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let bad = |what: String| {
        Failure::new(
            Code::InvalidInput,
            format!(
                "The CA file {} {what}. Give a PEM file with the CA certificate (-----BEGIN CERTIFICATE-----), or leave the CA file out to trust only the system's certificates.",
                shown(path)
            ),
        )
    };
    let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot be read ({e})")))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("is not valid PEM ({e})")))?;
    if certs.is_empty() {
        return Err(bad("holds no certificate".into()));
    }
    Ok(certs)
}

/// rustls with ring, the platform's verifier (system roots, and on macOS/Windows the OS's own
/// trust decisions) plus the extra roots.
pub(crate) fn client_config(roots: &Roots) -> Result<Arc<rustls::ClientConfig>, Stop> {
    // rustls needs one process-wide provider for lettre; keep one a host app installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
        roots.iter().cloned(),
        provider.clone(),
    )
    .map_err(|e| Stop::tls(format!("cannot set up certificate checks: {e}")))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Stop::tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Looks the host up and opens a TCP connection to the first address that answers.
pub(crate) async fn connect(ctx: &Ctx<'_>) -> Result<TcpStream, Stop> {
    let host = ctx.endpoint.host.trim();
    let port = ctx.endpoint.port;
    ctx.step(Stage::Resolving, format!("Looking up {host}"));
    let addrs: Vec<SocketAddr> = ctx
        .limit("name lookup", async {
            tokio::net::lookup_host((host, port))
                .await
                .map(|a| a.collect())
                .map_err(|e| {
                    Stop::new(
                        CheckResult::DnsError,
                        format!("the name {host} could not be looked up: {e}"),
                    )
                })
        })
        .await?;
    if addrs.is_empty() {
        return Err(Stop::new(
            CheckResult::DnsError,
            format!("the name {host} has no address"),
        ));
    }
    ctx.step(
        Stage::Connecting,
        format!("Connecting to {}", ctx.hostport()),
    );
    let mut last = None;
    for addr in addrs {
        match ctx
            .limit("connect", async {
                TcpStream::connect(addr).await.map_err(|e| io_stop(ctx, &e))
            })
            .await
        {
            Ok(stream) => return Ok(stream),
            Err(stop) => last = Some(stop),
        }
    }
    Err(last.expect("at least one address was tried"))
}

/// A TLS handshake over `tcp`, checking the certificate against the endpoint's host name.
pub(crate) async fn tls<S>(ctx: &Ctx<'_>, tcp: S) -> Result<TlsStream<S>, Stop>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let config = client_config(ctx.roots)?;
    let name = server_name(&ctx.endpoint.host)?;
    let connector = tokio_rustls::TlsConnector::from(config);
    ctx.limit("TLS handshake", async {
        connector.connect(name, tcp).await.map_err(|e| {
            let stop = io_stop(ctx, &e);
            match stop.result {
                // A server that closes during the handshake did not speak TLS as expected.
                CheckResult::ProtocolError => {
                    Stop::tls(format!("TLS handshake failed: {}", stop.detail))
                }
                _ => stop,
            }
        })
    })
    .await
}

pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, Stop> {
    ServerName::try_from(host.trim().to_string())
        .map_err(|_| Stop::protocol(format!("{host:?} is not a valid host name")))
}

/// Sorts an I/O error (from a socket or from TLS) into a result.
pub(crate) fn io_stop(ctx: &Ctx<'_>, e: &std::io::Error) -> Stop {
    use std::io::ErrorKind as K;
    let at = ctx.hostport();
    if let Some(tls) = find_tls(e) {
        return Stop::tls(format!("secure connection to {at} failed: {tls}"));
    }
    match e.kind() {
        K::ConnectionRefused => Stop::new(
            CheckResult::ConnectionRefused,
            format!("{at} refused the connection (nothing listens there): {e}"),
        ),
        K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => Stop::new(
            CheckResult::ConnectionRefused,
            format!("{at} cannot be reached: {e}"),
        ),
        K::TimedOut => Stop::new(CheckResult::Timeout, format!("{at} did not answer: {e}")),
        K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe => {
            Stop::protocol(format!("{at} closed the connection: {e}"))
        }
        _ => Stop::protocol(format!("{at}: {e}")),
    }
}

/// The rustls error somewhere in an error's chain, if any.
pub(crate) fn find_tls(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(tls) = s.downcast_ref::<rustls::Error>() {
            return Some(describe_tls(tls));
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                    return Some(describe_tls(tls));
                }
            }
        }
        source = s.source();
    }
    None
}

fn describe_tls(e: &rustls::Error) -> String {
    use rustls::{CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(C::UnknownIssuer) => {
            "the server's certificate is not signed by a CA this computer trusts (unknown issuer)"
                .into()
        }
        E::InvalidCertificate(C::NotValidForName)
        | E::InvalidCertificate(C::NotValidForNameContext { .. }) => {
            "the server's certificate is for another host name".into()
        }
        E::InvalidCertificate(C::Expired) | E::InvalidCertificate(C::ExpiredContext { .. }) => {
            "the server's certificate has expired".into()
        }
        other => other.to_string(),
    }
}
