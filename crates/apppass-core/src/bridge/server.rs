//! Running the bridge: the listeners on 127.0.0.1 and their accept loops ([`Bridge::start`]),
//! what every session shares, the local password check, the protocol log hook and the relay.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::book::{BridgeClient, ClientBook, Penalty};
use super::cert::LocalCert;
use super::config::BridgeConfig;
use super::protolog::{Direction, ProtocolLog};
use super::status::{ListenerInfo, Status};
use super::stream::{LocalStream, UpstreamStream};
use super::tokens::TokenSource;
use crate::catalog::Protocol;
use crate::error::{Code, Failure};
use crate::Secret;

/// The only address the bridge listens on.
pub const LISTEN_ADDRESS: &str = "127.0.0.1";

/// How long a client on an implicit-TLS listener has for its TLS handshake.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(30);

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
    /// The opt-in protocol log.
    pub protocol_log: Option<ProtocolLog>,
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

impl Shared {
    /// Writes one line of the client's dialogue to the protocol log (censored there; nothing
    /// happens when the log is off). `from_client`: the client sent it, else the bridge did.
    pub fn log(&self, session: u64, protocol: Protocol, from_client: bool, line: &[u8]) {
        if let Some(log) = &self.protocol_log {
            let direction = if from_client {
                Direction::FromClient
            } else {
                Direction::ToClient
            };
            log.write(session, protocol, direction, line);
        }
    }

    /// Writes one line of the bridge's dialogue with the mail server to the protocol log.
    /// `to_server`: the bridge sent it, else the server did.
    pub fn log_upstream(&self, session: u64, protocol: Protocol, to_server: bool, line: &[u8]) {
        if let Some(log) = &self.protocol_log {
            let direction = if to_server {
                Direction::ToServer
            } else {
                Direction::FromServer
            };
            log.write(session, protocol, direction, line);
        }
    }

    /// Relays the signed-in session (see [`relay`]); with the protocol log on, every line is
    /// logged (censored) on its way.
    ///
    /// When the mail server's connection breaks in the middle (reset, TLS error), the client's
    /// connection is closed (nothing can be put inside a response the server left half-sent) and
    /// the status records why, with the session's client; a client going away is not an error.
    pub async fn relay(
        &self,
        session: u64,
        protocol: Protocol,
        client: LocalStream,
        upstream: UpstreamStream,
    ) -> std::io::Result<(u64, u64)> {
        let broke = Arc::new(std::sync::Mutex::new(None));
        let upstream = Watched {
            inner: upstream,
            broke: broke.clone(),
        };
        let result = match &self.protocol_log {
            None => relay(client, upstream).await,
            Some(log) => relay_logged(log, session, protocol, client, upstream).await,
        };
        let why = broke.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(why) = why {
            let server = match protocol {
                Protocol::Imap => self.config.imap.as_ref(),
                Protocol::Pop => self.config.pop.as_ref(),
                Protocol::Smtp => self.config.smtp.as_ref(),
            };
            let (host, port) = server
                .map(|s| (s.host.trim().to_string(), s.port))
                .unwrap_or_default();
            let client = self.status.session_client(session);
            self.status.upstream_failed(
                protocol,
                client.as_deref(),
                &Failure::new(
                    Code::Offline,
                    format!(
                        "The connection to the mail server {host} port {port} broke during a session ({why}), so the mail client was disconnected; it connects again by itself. If it keeps happening, check the network."
                    ),
                ),
            );
        }
        result
    }
}

/// The mail server's side of a relay, noting the first I/O error on it (so that a broken
/// server connection can be told from a client that went away).
struct Watched<S> {
    inner: S,
    broke: Arc<std::sync::Mutex<Option<String>>>,
}

impl<S> Watched<S> {
    fn note<T>(
        &self,
        r: std::task::Poll<std::io::Result<T>>,
    ) -> std::task::Poll<std::io::Result<T>> {
        if let std::task::Poll::Ready(Err(e)) = &r {
            let mut broke = self.broke.lock().unwrap_or_else(|e| e.into_inner());
            broke.get_or_insert_with(|| e.to_string());
        }
        r
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Watched<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        self.note(r)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note(r)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_flush(cx);
        self.note(r)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        // An error while closing after the client left is no broken session.
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note(r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Relays bytes both ways until either side closes. Returns the bytes (client→server,
/// server→client).
pub(crate) async fn relay<U>(
    mut client: LocalStream,
    mut upstream: U,
) -> std::io::Result<(u64, u64)>
where
    U: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // 64 KiB each way instead of tokio's 8 KiB: a TLS record holds up to 16 KiB, so big FETCHes
    // pass in whole records with fewer writes (bench/bridge.rs: FETCH throughput).
    tokio::io::copy_bidirectional_with_sizes(&mut client, &mut upstream, RELAY_BUFFER, RELAY_BUFFER)
        .await
}

/// The relay's buffer per direction.
const RELAY_BUFFER: usize = 64 * 1024;

/// The relay with every line written to the protocol log. Bytes pass unchanged; lines are
/// assembled per direction for the log only (long lines are cut there).
async fn relay_logged<U>(
    log: &ProtocolLog,
    session: u64,
    protocol: Protocol,
    client: LocalStream,
    upstream: U,
) -> std::io::Result<(u64, u64)>
where
    U: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut up_read, mut up_write) = tokio::io::split(upstream);
    let up = async {
        let mut lines = LineLog::default();
        let mut buf = vec![0u8; 16 * 1024];
        let mut total = 0u64;
        loop {
            let n = client_read.read(&mut buf).await?;
            if n == 0 {
                let _ = up_write.shutdown().await;
                return Ok::<u64, std::io::Error>(total);
            }
            lines.feed(&buf[..n], |line| {
                log.write(session, protocol, Direction::FromClient, line)
            });
            up_write.write_all(&buf[..n]).await?;
            total += n as u64;
        }
    };
    let down = async {
        let mut lines = LineLog::default();
        let mut buf = vec![0u8; 16 * 1024];
        let mut total = 0u64;
        loop {
            let n = up_read.read(&mut buf).await?;
            if n == 0 {
                let _ = client_write.shutdown().await;
                return Ok::<u64, std::io::Error>(total);
            }
            lines.feed(&buf[..n], |line| {
                log.write(session, protocol, Direction::FromServer, line)
            });
            client_write.write_all(&buf[..n]).await?;
            total += n as u64;
        }
    };
    tokio::try_join!(up, down)
}

/// Assembles lines out of chunks for the log, keeping at most 4 KiB of a line.
#[derive(Default)]
struct LineLog {
    line: Vec<u8>,
    cut: bool,
}

impl LineLog {
    fn feed(&mut self, mut chunk: &[u8], mut write: impl FnMut(&[u8])) {
        while !chunk.is_empty() {
            let end = chunk.iter().position(|&b| b == b'\n');
            let part = &chunk[..end.map_or(chunk.len(), |i| i + 1)];
            let room = 4096usize.saturating_sub(self.line.len());
            self.line.extend_from_slice(&part[..part.len().min(room)]);
            self.cut |= part.len() > room;
            chunk = &chunk[part.len()..];
            if end.is_some() {
                if self.cut {
                    self.line.extend_from_slice(" […]".as_bytes());
                }
                write(&self.line);
                self.line.clear();
                self.cut = false;
            }
        }
    }
}

/// Starts bridges.
pub struct Bridge;

/// One listener to bind.
struct ListenerPlan {
    protocol: Protocol,
    implicit_tls: bool,
    port: u16,
    setting: &'static str,
}

impl Bridge {
    /// Binds every configured listener on 127.0.0.1 (a protocol without an upstream server gets
    /// none; port 0 picks a free one), then accepts connections until [`Running::shutdown`].
    /// Each connection is a task of its own. Nothing is bound when any listener fails.
    pub async fn start(
        config: BridgeConfig,
        book: Arc<dyn ClientBook>,
        tokens: Arc<dyn TokenSource>,
        status: Arc<Status>,
        cert: &LocalCert,
    ) -> Result<Running, Failure> {
        config.validate()?;
        let roots = crate::mailcheck::net::extra_roots(config.ca_file.as_deref())?;
        let upstream_tls = super::stream::upstream_tls(&roots)?;
        let acceptor = cert.acceptor()?;
        let protocol_log = config
            .protocol_log
            .as_deref()
            .map(ProtocolLog::open)
            .transpose()?;

        let l = &config.listen;
        let mut plans = Vec::new();
        let mut plan = |on: bool, protocol, implicit_tls, port: Option<u16>, setting| {
            if let (true, Some(port)) = (on, port) {
                plans.push(ListenerPlan {
                    protocol,
                    implicit_tls,
                    port,
                    setting,
                });
            }
        };
        plan(config.imap.is_some(), Protocol::Imap, false, l.imap, "imap");
        plan(
            config.imap.is_some(),
            Protocol::Imap,
            true,
            l.imaps,
            "imaps",
        );
        plan(config.pop.is_some(), Protocol::Pop, false, l.pop, "pop");
        plan(config.pop.is_some(), Protocol::Pop, true, l.pops, "pops");
        plan(config.smtp.is_some(), Protocol::Smtp, false, l.smtp, "smtp");
        plan(
            config.smtp.is_some(),
            Protocol::Smtp,
            true,
            l.smtps,
            "smtps",
        );

        let mut bound = Vec::new();
        for p in plans {
            let listener = TcpListener::bind((LISTEN_ADDRESS, p.port))
                .await
                .map_err(|e| bind_failure(&p, e))?;
            let port = listener
                .local_addr()
                .map_err(|e| bind_failure(&p, e))?
                .port();
            bound.push((
                ListenerInfo {
                    protocol: p.protocol,
                    implicit_tls: p.implicit_tls,
                    address: LISTEN_ADDRESS.to_string(),
                    port,
                },
                listener,
            ));
        }

        let penalty = Penalty::new(config.penalty_base, config.penalty_max);
        let shared = Arc::new(Shared {
            config,
            book,
            tokens,
            status: status.clone(),
            penalty,
            acceptor,
            upstream_tls,
            protocol_log,
        });
        let listeners: Vec<ListenerInfo> = bound.iter().map(|(info, _)| info.clone()).collect();
        status.started(listeners.clone());
        let (stop, stopped) = watch::channel(false);
        let tasks = bound
            .into_iter()
            .map(|(info, listener)| {
                tokio::spawn(accept_loop(shared.clone(), listener, info, stopped.clone()))
            })
            .collect();
        Ok(Running {
            listeners,
            stop,
            tasks,
            status,
        })
    }
}

fn bind_failure(p: &ListenerPlan, e: std::io::Error) -> Failure {
    let what = format!(
        "{}{}",
        p.protocol.label(),
        if p.implicit_tls { " over TLS" } else { "" }
    );
    if e.kind() == std::io::ErrorKind::AddrInUse {
        Failure::new(
            Code::InvalidInput,
            format!(
                "Port {} on {LISTEN_ADDRESS} ({what}) is already in use, perhaps by another bridge. Stop the other program, or choose another port (`[bridge.listen] {} = PORT` in settings.toml, or the matching `apppass bridge run` option; 0 there switches it off).",
                p.port, p.setting
            ),
        )
    } else {
        Failure::new(
            Code::InvalidInput,
            format!(
                "The bridge cannot listen on {LISTEN_ADDRESS} port {} ({what}): {e}. Choose another port (`[bridge.listen] {}` in settings.toml), or check that 127.0.0.1 is available.",
                p.port, p.setting
            ),
        )
    }
}

/// Marks a session closed in the status however its task ends (finished, failed or aborted).
struct SessionGuard {
    status: Arc<Status>,
    id: u64,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.status.closed(self.id);
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    info: ListenerInfo,
    mut stop: watch::Receiver<bool>,
) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((tcp, _peer)) = accepted else {
                    // Out of file descriptors and the like: breathe, then go on.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let shared = shared.clone();
                let (protocol, implicit_tls) = (info.protocol, info.implicit_tls);
                sessions.spawn(async move {
                    let id = shared.status.opened(protocol);
                    let _guard = SessionGuard { status: shared.status.clone(), id };
                    let _ = tcp.set_nodelay(true);
                    let mut stream = LocalStream::Plain(tcp);
                    if implicit_tls {
                        stream = match tokio::time::timeout(
                            HANDSHAKE_LIMIT,
                            stream.into_tls(&shared.acceptor),
                        )
                        .await
                        {
                            Ok(Ok(tls)) => tls,
                            _ => return,
                        };
                    }
                    serve(shared, protocol, stream, id).await;
                });
            }
        }
    }
    drop(listener);
    sessions.shutdown().await;
}

async fn serve(shared: Arc<Shared>, protocol: Protocol, stream: LocalStream, session: u64) {
    match protocol {
        Protocol::Imap => super::imap::serve(shared, stream, session).await,
        Protocol::Pop => super::pop::serve(shared, stream, session).await,
        Protocol::Smtp => super::smtp::serve(shared, stream, session).await,
    }
}

/// A started bridge.
pub struct Running {
    listeners: Vec<ListenerInfo>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    status: Arc<Status>,
}

impl Running {
    /// The bound listeners (with their real ports).
    pub fn listeners(&self) -> Vec<ListenerInfo> {
        self.listeners.clone()
    }

    /// The port of one listener, if it is on.
    pub fn port(&self, protocol: Protocol, implicit_tls: bool) -> Option<u16> {
        self.listeners
            .iter()
            .find(|l| l.protocol == protocol && l.implicit_tls == implicit_tls)
            .map(|l| l.port)
    }

    /// Stops accepting, ends every session, and marks the bridge stopped.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        self.status.stopped();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Dropped without shutdown: the listeners still stop.
        let _ = self.stop.send(true);
        for task in &self.tasks {
            task.abort();
        }
        if !self.tasks.is_empty() {
            self.status.stopped();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_log_assembles_and_cuts() {
        let mut lines = LineLog::default();
        let mut out = Vec::new();
        lines.feed(b"a1 LOG", |l| out.push(l.to_vec()));
        assert!(out.is_empty());
        lines.feed(b"IN x y\r\n* OK", |l| out.push(l.to_vec()));
        assert_eq!(out, vec![b"a1 LOGIN x y\r\n".to_vec()]);
        let long = vec![b'x'; 10_000];
        lines.feed(&long, |l| out.push(l.to_vec()));
        lines.feed(b"\n", |l| out.push(l.to_vec()));
        assert_eq!(out.len(), 2);
        assert!(out[1].len() < 4200 && out[1].ends_with(" […]".as_bytes()));
    }
}
