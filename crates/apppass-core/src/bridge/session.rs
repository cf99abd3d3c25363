//! What the line-based sessions (SMTP, POP3) share before they relay: the client's lines read
//! with a length limit and an idle limit, SASL PLAIN, the upstream sign-in with one fresh-token
//! retry, and the hand-over to the relay (bytes either side already buffered are passed on).

use std::future::Future;
use std::io;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use zeroize::Zeroizing;

use super::book::BridgeClient;
use super::server::Shared;
use super::stream::{LocalStream, UpstreamStream};
use super::tokens::UpstreamToken;
use crate::catalog::Protocol;
use crate::error::{Code, Failure};
use crate::vault::Server;
use crate::Secret;

/// The longest client line before sign-in. RFC 4954 allows AUTH lines of 12288 octets; a local
/// password is short, so less is plenty.
pub(crate) const MAX_LINE: usize = 8192;

/// How long a client may stay silent before it has signed in.
pub(crate) const IDLE: Duration = Duration::from_secs(300);

/// How many bad commands a client may send before sign-in until the bridge hangs up.
pub(crate) const MAX_ERRORS: u32 = 20;

/// One read from the client.
pub(crate) enum Line {
    /// A line without its CR LF (wiped when dropped: it may hold a password).
    Text(Zeroizing<Vec<u8>>),
    /// Longer than [`MAX_LINE`]: the session ends.
    TooLong,
    /// The client closed the connection (or stayed silent longer than [`IDLE`]).
    Closed,
}

/// A buffered line reader and writer; generic so that the upstream side and tests can use it.
pub(crate) struct Lines<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Lines<S> {
    pub fn new(stream: S) -> Lines<S> {
        Lines {
            io: BufReader::new(stream),
        }
    }

    pub fn get_ref(&self) -> &S {
        self.io.get_ref()
    }

    /// Reads one line of at most `max` bytes (LF or CR LF; a bare LF is accepted as many
    /// servers do).
    pub async fn line(&mut self, max: usize) -> io::Result<Line> {
        let mut buf = Zeroizing::new(Vec::new());
        let n = (&mut self.io)
            .take(max as u64 + 2)
            .read_until(b'\n', &mut buf)
            .await?;
        if n == 0 {
            return Ok(Line::Closed);
        }
        if buf.last() != Some(&b'\n') {
            return Ok(if n >= max + 2 {
                Line::TooLong
            } else {
                // The peer closed in the middle of a line.
                Line::Closed
            });
        }
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        Ok(Line::Text(buf))
    }

    /// Like [`Lines::line`], giving up after `idle` of silence.
    pub async fn line_within(&mut self, max: usize, idle: Duration) -> io::Result<Line> {
        match tokio::time::timeout(idle, self.line(max)).await {
            Ok(r) => r,
            Err(_) => Ok(Line::Closed),
        }
    }

    /// Writes and flushes.
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let io = self.io.get_mut();
        io.write_all(bytes).await?;
        io.flush().await
    }

    /// The stream and the bytes read ahead of the last line.
    pub fn into_parts(self) -> (S, Vec<u8>) {
        let rest = self.io.buffer().to_vec();
        (self.io.into_inner(), rest)
    }
}

impl Lines<LocalStream> {
    /// STARTTLS / STLS on the client's side: the caller has sent its "go ahead"; whatever the
    /// client pipelined after the command is dropped (RFC 3207 §4.2, RFC 2595 §3.1), then the
    /// handshake runs.
    pub async fn starttls(
        self,
        acceptor: &tokio_rustls::TlsAcceptor,
    ) -> io::Result<Lines<LocalStream>> {
        let (stream, _dropped) = self.into_parts();
        Ok(Lines::new(stream.into_tls(acceptor).await?))
    }
}

/// Decodes base64 into bytes that are wiped when dropped. `None` if it is not base64.
pub(crate) fn decode_b64(text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len()));
    base64::engine::general_purpose::STANDARD
        .decode_vec(text.trim_ascii(), &mut out)
        .ok()?;
    Some(out)
}

/// SASL PLAIN's message (RFC 4616), base64 as sent: `authzid NUL authcid NUL passwd`. The bridge
/// accepts no authorisation identity other than the user's own. `None` when it is malformed.
pub(crate) fn sasl_plain(b64: &[u8]) -> Option<(String, Secret)> {
    let raw = decode_b64(b64)?;
    let mut parts = raw.splitn(3, |&b| b == 0);
    let authz = parts.next()?;
    let user = parts.next()?;
    let pass = parts.next()?;
    if user.is_empty() || pass.is_empty() || (!authz.is_empty() && authz != user) {
        return None;
    }
    let user = std::str::from_utf8(user).ok()?.to_string();
    let pass = Secret::from_bytes(pass.to_vec())?;
    Some((user, pass))
}

/// A user name sent by the client: UTF-8, no control characters, not empty.
pub(crate) fn user_name(bytes: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(bytes).ok()?.trim();
    (!s.is_empty() && !s.chars().any(char::is_control)).then(|| s.to_string())
}

/// What the server said to one sign-in attempt.
pub(crate) enum Attempt<T> {
    /// Signed in: the connection, ready to relay.
    In(T),
    /// The server refused the token; its words (no secret in them).
    Refused(String),
}

/// Why the upstream sign-in did not happen. Each is already recorded in the status (with the
/// failure's code and message), so the client gets only the protocol's short answer.
pub(crate) enum Upstream {
    /// The server refused the token, also a freshly refreshed one (SMTP 535, POP3 `-ERR [AUTH]`).
    Refused,
    /// apppass has no usable sign-in (`SignInRequired`: the user must sign in again) — the
    /// client's password is right, so the client is told to try later.
    SignInNeeded,
    /// The server could not be reached, TLS failed, it timed out or said something unexpected.
    Unavailable,
}

/// Signs in upstream: a token (cached if still valid), one attempt; if the server refuses it,
/// a forced refresh and one more attempt on a new connection (`attempt` opens its own).
pub(crate) async fn sign_in_upstream<T, F, Fut>(
    shared: &Shared,
    protocol: Protocol,
    client: &BridgeClient,
    server: &Server,
    mut attempt: F,
) -> Result<T, Upstream>
where
    F: FnMut(UpstreamToken) -> Fut,
    Fut: Future<Output = Result<Attempt<T>, Failure>>,
{
    let fail = |failure: Failure, why: Upstream| {
        shared
            .status
            .upstream_failed(protocol, Some(&client.name), &failure);
        why
    };
    let mut said = String::new();
    for fresh in [false, true] {
        let token = match shared.tokens.token(fresh).await {
            Ok(t) => t,
            Err(f) if f.code == Code::SignInRequired => {
                return Err(fail(f, Upstream::SignInNeeded))
            }
            Err(f) => return Err(fail(f, Upstream::Unavailable)),
        };
        match attempt(token).await {
            Ok(Attempt::In(t)) => return Ok(t),
            Ok(Attempt::Refused(words)) => said = words,
            Err(f) => return Err(fail(f, Upstream::Unavailable)),
        }
    }
    let failure = Failure::new(
        Code::SignInRequired,
        format!(
            "The mail server {} refused apppass's sign-in for {} also with a freshly refreshed token (it said: {}). Sign in again in apppass; if that does not help, check that the mailbox may use {} with OAuth.",
            server.host.trim(),
            protocol_name(protocol),
            if said.is_empty() { "nothing" } else { &said },
            protocol_name(protocol),
        ),
    );
    Err(fail(failure, Upstream::Refused))
}

pub(crate) fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Imap => "IMAP",
        Protocol::Pop => "POP3",
        Protocol::Smtp => "SMTP",
    }
}

/// A server's words for a message: printable ASCII, at most 200 characters.
pub(crate) fn words(bytes: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { ' ' })
        .collect();
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    s.chars().take(200).collect()
}

/// A failure for an answer the bridge did not expect from the server.
pub(crate) fn unexpected(server: &Server, what: &str, said: &[u8]) -> Failure {
    Failure::new(
        Code::ProtocolError,
        format!(
            "The mail server {} port {} answered \"{}\" to {what}. Check the bridge's server setting (host, port and TLS mode).",
            server.host.trim(),
            server.port,
            words(said)
        ),
    )
}

/// A failure for a broken connection to the server.
pub(crate) fn io_failure(server: &Server, what: &str, e: &io::Error) -> Failure {
    Failure::new(
        Code::Offline,
        format!(
            "The connection to the mail server {} port {} broke during {what} ({e}). Check the network, or try again later.",
            server.host.trim(),
            server.port
        ),
    )
}

/// Hands over to the relay: bytes the client sent ahead go to the server, bytes the server sent
/// ahead go to the client, then both ways until either side closes.
pub(crate) async fn relay(
    shared: &Shared,
    session: u64,
    protocol: Protocol,
    client: Lines<LocalStream>,
    upstream: Lines<UpstreamStream>,
) -> io::Result<(u64, u64)> {
    let (mut client, client_ahead) = client.into_parts();
    let (mut upstream, upstream_ahead) = upstream.into_parts();
    if !client_ahead.is_empty() {
        upstream.write_all(&client_ahead).await?;
        upstream.flush().await?;
    }
    if !upstream_ahead.is_empty() {
        client.write_all(&upstream_ahead).await?;
        client.flush().await?;
    }
    shared.relay(session, protocol, client, upstream).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .encode(s)
            .into_bytes()
    }

    #[test]
    fn sasl_plain_messages() {
        let (u, p) = sasl_plain(&b64(b"\0msmtp\0abcde-fghjk")).unwrap();
        assert_eq!(u, "msmtp");
        assert_eq!(p.expose(), "abcde-fghjk");
        let (u, p) = sasl_plain(&b64(b"msmtp\0msmtp\0pw with space")).unwrap();
        assert_eq!((u.as_str(), p.expose()), ("msmtp", "pw with space"));
        // Another authorisation identity, empty parts, missing separators, not base64.
        assert!(sasl_plain(&b64(b"admin\0msmtp\0pw")).is_none());
        assert!(sasl_plain(&b64(b"\0\0pw")).is_none());
        assert!(sasl_plain(&b64(b"\0msmtp\0")).is_none());
        assert!(sasl_plain(&b64(b"msmtp pw")).is_none());
        assert!(sasl_plain(b"not base64!").is_none());
        assert!(
            sasl_plain(&b64(b"\0\xff\0pw")).is_none(),
            "user must be UTF-8"
        );
    }

    #[test]
    fn user_names() {
        assert_eq!(user_name(b" msmtp ").as_deref(), Some("msmtp"));
        assert!(user_name(b"").is_none());
        assert!(user_name(b"a\x07b").is_none());
        assert!(user_name(b"\xff").is_none());
    }

    #[test]
    fn server_words_are_tamed() {
        assert_eq!(
            words(b"5.7.8  Authentication\r\n\tfailed"),
            "5.7.8 Authentication failed"
        );
        assert_eq!(words(&[b'x'; 500]).len(), 200);
    }

    #[tokio::test]
    async fn lines_limits_and_read_ahead() {
        let (a, mut b) = tokio::io::duplex(64 * 1024);
        let mut lines = Lines::new(a);
        b.write_all(b"EHLO x\r\nbare lf\nNOOP\r\nMAIL")
            .await
            .unwrap();
        let Line::Text(l) = lines.line(100).await.unwrap() else {
            panic!("a line")
        };
        assert_eq!(l.as_slice(), b"EHLO x");
        let Line::Text(l) = lines.line(100).await.unwrap() else {
            panic!("a line")
        };
        assert_eq!(l.as_slice(), b"bare lf");
        let Line::Text(l) = lines.line(100).await.unwrap() else {
            panic!("a line")
        };
        assert_eq!(l.as_slice(), b"NOOP");
        let (_, ahead) = lines.into_parts();
        assert_eq!(ahead, b"MAIL", "read ahead, handed over with the stream");

        let (a, mut b) = tokio::io::duplex(64 * 1024);
        let mut lines = Lines::new(a);
        b.write_all(&[b'A'; 300]).await.unwrap();
        b.write_all(b"\r\n").await.unwrap();
        assert!(matches!(lines.line(100).await.unwrap(), Line::TooLong));

        let (a, mut b) = tokio::io::duplex(1024);
        let mut lines = Lines::new(a);
        b.write_all(b"half a li").await.unwrap();
        drop(b);
        assert!(matches!(lines.line(100).await.unwrap(), Line::Closed));

        let (a, _b) = tokio::io::duplex(1024);
        let mut lines = Lines::new(a);
        assert!(matches!(
            lines
                .line_within(100, Duration::from_millis(20))
                .await
                .unwrap(),
            Line::Closed
        ));
    }
}
