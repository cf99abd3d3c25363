//! The byte streams of a bridge session: the client's side (plain, or TLS after STARTTLS or from
//! the first byte) and the upstream side (always TLS).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The client's connection to a listener.
pub(crate) enum LocalStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl LocalStream {
    pub fn is_tls(&self) -> bool {
        matches!(self, LocalStream::Tls(_))
    }

    /// Upgrades a plain connection (STARTTLS / STLS, or a TLS listener's first bytes). The caller
    /// must have flushed its last answer and must drop anything the client pipelined before the
    /// handshake (RFC 3207 §4.2, RFC 2595 §3.1).
    pub async fn into_tls(self, acceptor: &tokio_rustls::TlsAcceptor) -> io::Result<LocalStream> {
        match self {
            LocalStream::Plain(tcp) => Ok(LocalStream::Tls(Box::new(acceptor.accept(tcp).await?))),
            tls @ LocalStream::Tls(_) => Ok(tls),
        }
    }
}

/// The bridge's connection to the mail server: TLS (from the first byte, or after STARTTLS), or
/// plain only during the STARTTLS dialogue.
pub(crate) enum UpstreamStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl UpstreamStream {
    pub fn is_tls(&self) -> bool {
        matches!(self, UpstreamStream::Tls(_))
    }
}

macro_rules! delegate_io {
    ($t:ty) => {
        impl AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
                    Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
                }
            }
        }

        impl AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                match self.get_mut() {
                    Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
                    Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
                }
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    Self::Plain(s) => Pin::new(s).poll_flush(cx),
                    Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
                }
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
                    Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
                }
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                match self.get_mut() {
                    Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
                    Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
                }
            }

            fn is_write_vectored(&self) -> bool {
                match self {
                    Self::Plain(s) => s.is_write_vectored(),
                    Self::Tls(s) => s.is_write_vectored(),
                }
            }
        }
    };
}

delegate_io!(LocalStream);
delegate_io!(UpstreamStream);

/// The TLS client configuration for upstream: the platform's verifier plus the extra CA roots.
pub(crate) fn upstream_tls(
    roots: &crate::mailcheck::net::Roots,
) -> Result<Arc<rustls::ClientConfig>, crate::Failure> {
    crate::mailcheck::net::client_config(roots).map_err(|stop| {
        crate::Failure::new(
            crate::Code::TlsFailure,
            format!(
                "The bridge cannot set up secure connections: {}. Report this bug.",
                stop.detail
            ),
        )
    })
}
