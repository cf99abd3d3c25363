//! The byte streams of a bridge session: the client's side (plain, or TLS after STARTTLS or from
//! the first byte) and the upstream side (always TLS).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The client's connection to a listener.
pub(crate) enum LocalStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// Scripted bytes instead of a connection: the fuzz targets' way in (see
    /// [`crate::fuzzing`]). Never made by the listeners.
    Memory(MemoryStream),
}

impl LocalStream {
    pub fn is_tls(&self) -> bool {
        match self {
            LocalStream::Plain(_) => false,
            LocalStream::Tls(_) => true,
            LocalStream::Memory(m) => m.tls,
        }
    }

    /// Upgrades a plain connection (STARTTLS / STLS, or a TLS listener's first bytes). The caller
    /// must have flushed its last answer and must drop anything the client pipelined before the
    /// handshake (RFC 3207 §4.2, RFC 2595 §3.1).
    pub async fn into_tls(self, acceptor: &tokio_rustls::TlsAcceptor) -> io::Result<LocalStream> {
        match self {
            LocalStream::Plain(tcp) => Ok(LocalStream::Tls(Box::new(acceptor.accept(tcp).await?))),
            tls @ LocalStream::Tls(_) => Ok(tls),
            LocalStream::Memory(mut m) => {
                m.start_tls();
                Ok(LocalStream::Memory(m))
            }
        }
    }
}

/// A client's side made of scripted bytes, for fuzzing the sessions without a network.
///
/// Reads come from `plain` (at most `chunk` bytes per read, so message boundaries fall
/// anywhere); a read past its end is the client closing. STARTTLS on it stands for a completed
/// handshake: what was not read of `plain` is dropped (as a real handshake would consume it),
/// the stream counts as TLS, and reads go on with `tls_part`. What happens is recorded in a
/// [`MemoryProbe`] the caller keeps.
pub(crate) struct MemoryStream {
    plain: Vec<u8>,
    tls_part: Vec<u8>,
    /// Read position in the current part.
    at: usize,
    tls: bool,
    chunk: usize,
    probe: Arc<Mutex<MemoryProbe>>,
}

/// What a [`MemoryStream`] saw.
#[derive(Debug, Default)]
pub(crate) struct MemoryProbe {
    /// Everything written to the client.
    pub output: Vec<u8>,
    pub tls: bool,
    /// Set once the stream went TLS by STARTTLS (not from the start).
    pub upgraded: bool,
    /// Bytes read in all, and from the TLS part.
    pub read: usize,
    pub tls_read: usize,
    /// The most bytes read at any time since the last line end read.
    pub beyond_line_end: usize,
    since_line_end: usize,
}

impl MemoryStream {
    pub fn new(plain: Vec<u8>, tls_part: Vec<u8>, implicit_tls: bool, chunk: usize) -> Self {
        let (plain, tls_part) = if implicit_tls {
            (Vec::new(), plain)
        } else {
            (plain, tls_part)
        };
        MemoryStream {
            plain,
            tls_part,
            at: 0,
            tls: implicit_tls,
            chunk: chunk.max(1),
            probe: Arc::new(Mutex::new(MemoryProbe {
                tls: implicit_tls,
                ..MemoryProbe::default()
            })),
        }
    }

    pub fn probe(&self) -> Arc<Mutex<MemoryProbe>> {
        self.probe.clone()
    }

    fn probed(&self) -> std::sync::MutexGuard<'_, MemoryProbe> {
        self.probe.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start_tls(&mut self) {
        if !self.tls {
            self.tls = true;
            self.at = 0;
            let mut p = self.probed();
            p.tls = true;
            p.upgraded = true;
            p.since_line_end = 0;
        }
    }
}

impl AsyncRead for MemoryStream {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let source = if me.tls { &me.tls_part } else { &me.plain };
        let rest = &source[me.at..];
        let n = rest.len().min(me.chunk).min(buf.remaining());
        let part = &rest[..n];
        buf.put_slice(part);
        me.at += n;
        let (tls, newline) = (me.tls, part.iter().rposition(|&b| b == b'\n'));
        let mut p = me.probed();
        p.since_line_end = match newline {
            Some(i) => n - i - 1,
            None => p.since_line_end + n,
        };
        p.beyond_line_end = p.beyond_line_end.max(p.since_line_end);
        p.read += n;
        if tls {
            p.tls_read += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MemoryStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().probed().output.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
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
    ($t:ty $(, $extra:ident)?) => {
        impl AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
                    Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
                    $(Self::$extra(s) => Pin::new(s).poll_read(cx, buf),)?
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
                    $(Self::$extra(s) => Pin::new(s).poll_write(cx, buf),)?
                }
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    Self::Plain(s) => Pin::new(s).poll_flush(cx),
                    Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
                    $(Self::$extra(s) => Pin::new(s).poll_flush(cx),)?
                }
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
                    Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
                    $(Self::$extra(s) => Pin::new(s).poll_shutdown(cx),)?
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
                    $(Self::$extra(s) => Pin::new(s).poll_write_vectored(cx, bufs),)?
                }
            }

            fn is_write_vectored(&self) -> bool {
                match self {
                    Self::Plain(s) => s.is_write_vectored(),
                    Self::Tls(s) => s.is_write_vectored(),
                    $(Self::$extra(s) => s.is_write_vectored(),)?
                }
            }
        }
    };
}

delegate_io!(LocalStream, Memory);
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
