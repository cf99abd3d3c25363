//! SMTP submission with lettre's low-level connection: greeting and EHLO, STARTTLS (required
//! where configured), AUTH PLAIN or LOGIN, QUIT. The TCP connection (and an implicit-TLS
//! handshake) is ours, so each failure is sorted the same way for every protocol.

use std::pin::Pin;
use std::task::{Context, Poll};

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, CertificateStore, TlsParameters,
};
use lettre::transport::smtp::extension::{ClientId, Extension};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::{net, CheckResult, Ctx, Stage, Stop};
use crate::vault::Security;

pub(super) async fn check(ctx: &Ctx<'_>) -> Result<String, Stop> {
    let tcp = net::connect(ctx).await?;
    let hello = ClientId::default();
    let mut conn = match ctx.endpoint.security {
        Security::Tls => {
            ctx.step(Stage::Tls, format!("TLS handshake with {}", ctx.hostport()));
            let tls = net::tls(ctx, tcp).await?;
            greet(ctx, Box::new(TlsConn(tls)), &hello).await?
        }
        Security::Starttls => {
            let mut conn = greet(ctx, Box::new(tcp), &hello).await?;
            ctx.step(
                Stage::Starttls,
                format!("Asking {} for STARTTLS", ctx.endpoint.host),
            );
            if !conn.server_info().supports_feature(Extension::StartTls) {
                let _ = tokio::time::timeout(ctx.timeout, conn.quit()).await;
                return Err(Stop::tls(format!(
                    "{} does not offer STARTTLS, so apppass did not send the password (it never signs in without TLS)",
                    ctx.hostport()
                )));
            }
            let params = tls_parameters(ctx)?;
            ctx.limit("STARTTLS", async {
                conn.starttls(params, &hello)
                    .await
                    .map_err(|e| stop(ctx, &e, false))
            })
            .await?;
            conn
        }
    };
    // From here on the connection is encrypted: TLS from the first byte, or STARTTLS succeeded.
    let user = &ctx.endpoint.username;
    let mechanism = conn
        .server_info()
        .get_auth_mechanism(&[Mechanism::Plain, Mechanism::Login])
        .ok_or_else(|| {
            Stop::protocol(format!(
                "{} offers neither AUTH PLAIN nor AUTH LOGIN over TLS, so apppass cannot sign in with a password there",
                ctx.hostport()
            ))
        })?;
    ctx.step(
        Stage::Authenticating,
        format!("Signing in as {user} (AUTH {})", mechanism_name(mechanism)),
    );
    let credentials = Credentials::new(user.clone(), ctx.secret.expose().to_string());
    let answer = ctx
        .limit("sign-in", async {
            conn.auth(&[mechanism], &credentials)
                .await
                .map_err(|e| stop(ctx, &e, true))
        })
        .await?;
    let _ = tokio::time::timeout(ctx.timeout, conn.quit()).await;
    let text: Vec<&str> = answer.message().collect();
    Ok(format!("{} {}", answer.code(), text.join(" ")))
}

async fn greet(
    ctx: &Ctx<'_>,
    stream: Box<dyn AsyncTokioStream>,
    hello: &ClientId,
) -> Result<AsyncSmtpConnection, Stop> {
    ctx.limit("greeting", async {
        AsyncSmtpConnection::connect_with_transport(stream, hello)
            .await
            .map_err(|e| stop(ctx, &e, false))
    })
    .await
}

/// lettre's TLS settings for STARTTLS: the same verifier as ours (the platform's, plus the extra
/// roots).
fn tls_parameters(ctx: &Ctx<'_>) -> Result<TlsParameters, Stop> {
    // lettre takes the process-wide provider; make sure it is ring, as everywhere in apppass.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = TlsParameters::builder(ctx.endpoint.host.trim().to_string())
        .certificate_store(CertificateStore::Default);
    for der in ctx.roots {
        let cert = Certificate::from_der(der.to_vec())
            .map_err(|e| Stop::tls(format!("the extra CA certificate cannot be used: {e}")))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build_rustls()
        .map_err(|e| Stop::tls(format!("cannot set up TLS: {e}")))
}

fn mechanism_name(m: Mechanism) -> &'static str {
    match m {
        Mechanism::Plain => "PLAIN",
        Mechanism::Login => "LOGIN",
        _ => "other",
    }
}

/// Sorts a lettre error. A negative reply to AUTH is a rejection; elsewhere it is unexpected.
fn stop(ctx: &Ctx<'_>, e: &lettre::transport::smtp::Error, during_auth: bool) -> Stop {
    if let Some(tls) = net::find_tls(e) {
        return Stop::tls(format!(
            "secure connection to {} failed: {tls}",
            ctx.hostport()
        ));
    }
    if let Some(code) = e.status() {
        let text = std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_default();
        let detail = format!("{code} {text}").trim().to_string();
        return if during_auth {
            Stop::auth(detail)
        } else {
            Stop::protocol(detail)
        };
    }
    if e.is_timeout() {
        return Stop::new(
            CheckResult::Timeout,
            format!("{} did not answer in time", ctx.hostport()),
        );
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return net::io_stop(ctx, io);
        }
        source = s.source();
    }
    Stop::protocol(format!("{}: {e}", ctx.hostport()))
}

/// Our implicit-TLS stream, in the shape lettre takes.
#[derive(Debug)]
struct TlsConn(TlsStream<TcpStream>);

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsConn {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}
