//! The bridge's IMAP side.
//!
//! Before sign-in the bridge answers the client itself (greeting, CAPABILITY, NOOP, ID, LOGOUT,
//! STARTTLS on the plain listener, LOGIN and AUTHENTICATE PLAIN), parsing each command with
//! imap-codec. A right local password opens the upstream session: TLS (implicit or STARTTLS),
//! AUTHENTICATE XOAUTH2 (or OAUTHBEARER) with the sign-in's access token, one forced refresh and
//! a new connection if the server refuses it. The client's tagged OK then carries the server's
//! capabilities, and from there on bytes are relayed unchanged.
//!
//! Every upstream problem answers `NO [UNAVAILABLE]` (RFC 5530), never `AUTHENTICATIONFAILED`:
//! the client's local password was right, and a client must not throw it away or ask the user
//! for it because the OAuth sign-in needs renewing. The status says what to do.

use std::sync::Arc;

use imap_codec::decode::Decoder;
use imap_codec::imap_types::auth::{AuthMechanism, AuthenticateData};
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::response::{
    Capability, Code as ImapCode, Data, GreetingKind, Response, Status as ImapStatus, StatusKind,
};
use imap_codec::{AuthenticateDataCodec, CommandCodec, GreetingCodec, ResponseCodec};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

use super::server::{LocalRefusal, Shared};
use super::stream::{LocalStream, UpstreamStream};
use super::tokens::UpstreamToken;
use super::upstream;
use crate::catalog::Protocol;
use crate::error::{Code, Failure};
use crate::vault::{Security, Server};
use crate::Secret;

/// The longest command a client may send before it signed in (with its literals).
const MAX_CLIENT_MESSAGE: usize = 16 * 1024;
/// The longest response line (with literals) read from the server before the relay.
const MAX_SERVER_MESSAGE: usize = 256 * 1024;
/// A client that says nothing this long before signing in is dropped.
const PREAUTH_IDLE: std::time::Duration = std::time::Duration::from_secs(180);
/// Invalid commands tolerated before the bridge hangs up.
const MAX_BAD: u32 = 20;

const REFUSED: &str =
    "apppass: the mail server refused the sign-in; open apppass and sign in again.";

// ---------------------------------------------------------------------------------------------
// Framing: IMAP messages are lines, possibly with literals ({n} CRLF + n bytes) inside.

/// What the framer found in the bytes read so far.
#[derive(Debug, PartialEq, Eq)]
enum Framed {
    /// A complete message (lines and literals), ending with its line end.
    Message(Zeroizing<Vec<u8>>),
    /// The message announced a synchronizing literal: the sender waits for `+`.
    NeedContinuation,
    /// The message announced a literal longer than allowed; the bytes up to the announcement
    /// are dropped. `sync`: the sender waits (and can be told BAD).
    LiteralTooLong {
        first_line: Zeroizing<Vec<u8>>,
        sync: bool,
    },
    /// A line longer than allowed.
    LineTooLong,
    /// More bytes are needed.
    More,
}

/// Splits an IMAP byte stream into messages, keeping what follows for the relay.
struct Framer {
    buf: Vec<u8>,
    /// Where scanning for the current message's next line end starts.
    scan: usize,
    /// No line end lies between `scan` and this index: bytes already searched are not searched
    /// again when more arrive (a long line sent a byte at a time stays linear).
    searched: usize,
    /// The end of a literal being waited for, and whether `+` was already asked for.
    literal: Option<usize>,
    max: usize,
}

impl Framer {
    fn new(max: usize) -> Framer {
        Framer {
            buf: Vec::new(),
            scan: 0,
            searched: 0,
            literal: None,
            max,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn next(&mut self) -> Framed {
        loop {
            if let Some(end) = self.literal {
                if self.buf.len() < end {
                    return Framed::More;
                }
                self.literal = None;
                self.scan = end;
            }
            let from = self.searched.max(self.scan);
            let Some(nl) = self.buf[from..].iter().position(|&b| b == b'\n') else {
                self.searched = self.buf.len();
                if self.buf.len() > self.max {
                    return Framed::LineTooLong;
                }
                return Framed::More;
            };
            let line_end = from + nl + 1;
            match literal_announced(&self.buf[self.scan..line_end]) {
                Some((length, sync)) => {
                    let end = line_end + length;
                    if end > self.max {
                        let first_line = Zeroizing::new(self.buf.drain(..line_end).collect());
                        self.scan = 0;
                        self.searched = 0;
                        return Framed::LiteralTooLong { first_line, sync };
                    }
                    self.scan = line_end;
                    self.literal = Some(end);
                    if self.buf.len() < end && sync {
                        return Framed::NeedContinuation;
                    }
                }
                None => {
                    let message = Zeroizing::new(self.buf.drain(..line_end).collect());
                    self.scan = 0;
                    self.searched = 0;
                    return Framed::Message(message);
                }
            }
        }
    }

    /// Drops everything buffered (after STARTTLS: nothing sent in clear text counts).
    fn clear(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.buf);
        self.buf.clear();
        self.scan = 0;
        self.searched = 0;
        self.literal = None;
    }

    /// What was read beyond the messages taken (pipelined commands, data after the OK).
    fn take_rest(&mut self) -> Vec<u8> {
        self.scan = 0;
        self.searched = 0;
        self.literal = None;
        std::mem::take(&mut self.buf)
    }
}

/// `{n}` or `{n+}` at the end of a line: the literal's length and whether it is synchronizing.
fn literal_announced(line: &[u8]) -> Option<(usize, bool)> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let mut digits = &inner[open + 1..];
    let mut sync = true;
    if let Some(d) = digits
        .strip_suffix(b"+")
        .or_else(|| digits.strip_suffix(b"-"))
    {
        digits = d;
        sync = false;
    }
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits)
        .ok()?
        .parse()
        .ok()
        .map(|n| (n, sync))
}

// ---------------------------------------------------------------------------------------------
// The client's side.

struct Client {
    /// `None` only while STARTTLS swaps it, and after the relay took it.
    stream: Option<LocalStream>,
    framer: Framer,
    shared: Arc<Shared>,
    session: u64,
}

fn gone() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "the client's stream is gone",
    )
}

impl Client {
    fn io(&mut self) -> std::io::Result<&mut LocalStream> {
        self.stream.as_mut().ok_or_else(gone)
    }

    fn is_tls(&self) -> bool {
        self.stream.as_ref().is_some_and(LocalStream::is_tls)
    }

    async fn send(&mut self, text: &str) -> std::io::Result<()> {
        self.shared
            .log(self.session, Protocol::Imap, false, text.as_bytes());
        let io = self.io()?;
        io.write_all(text.as_bytes()).await?;
        io.flush().await
    }

    /// The next message from the client; `None` when it closed (or idled too long). Answers
    /// `+` to synchronizing literals.
    async fn next(&mut self) -> std::io::Result<Option<Framed>> {
        let mut buf = [0u8; 4096];
        loop {
            match self.framer.next() {
                Framed::More => {}
                Framed::NeedContinuation => {
                    self.send("+ Ready for literal data\r\n").await?;
                    continue;
                }
                Framed::Message(m) => {
                    self.shared.log(self.session, Protocol::Imap, true, &m);
                    return Ok(Some(Framed::Message(m)));
                }
                other => return Ok(Some(other)),
            }
            let n = match tokio::time::timeout(PREAUTH_IDLE, self.io()?.read(&mut buf)).await {
                Ok(n) => n?,
                Err(_) => {
                    let _ = self.send("* BYE Autologout; idle for too long\r\n").await;
                    return Ok(None);
                }
            };
            if n == 0 {
                return Ok(None);
            }
            self.framer.push(&buf[..n]);
            zeroize::Zeroize::zeroize(&mut buf[..n]);
        }
    }

    fn capabilities(&self) -> &'static str {
        if self.is_tls() {
            "IMAP4rev1 SASL-IR AUTH=PLAIN ID"
        } else {
            "IMAP4rev1 SASL-IR AUTH=PLAIN ID STARTTLS"
        }
    }
}

/// One IMAP client connection, from the greeting to the end of the relay.
pub(crate) async fn serve(shared: Arc<Shared>, stream: LocalStream, session: u64) {
    let mut client = Client {
        stream: Some(stream),
        framer: Framer::new(MAX_CLIENT_MESSAGE),
        shared,
        session,
    };
    let _ = run(&mut client).await;
    if let Some(mut stream) = client.stream.take() {
        let _ = stream.shutdown().await;
    }
}

enum Next {
    Continue,
    Close,
    /// Signed in upstream: relay.
    Relay(Box<Upstream>),
}

async fn run(client: &mut Client) -> std::io::Result<()> {
    let greeting = format!(
        "* OK [CAPABILITY {}] apppass bridge ready\r\n",
        client.capabilities()
    );
    client.send(&greeting).await?;
    let mut bad = 0;
    loop {
        let message = match client.next().await? {
            None => return Ok(()),
            Some(Framed::Message(m)) => m,
            Some(Framed::LiteralTooLong { first_line, sync }) => {
                let tag = tag_of(&first_line);
                if sync && tag.is_some() {
                    client
                        .send(&format!(
                            "{} BAD Command too long before sign-in\r\n",
                            tag.unwrap_or_default()
                        ))
                        .await?;
                    bad += 1;
                    if bad < MAX_BAD {
                        continue;
                    }
                }
                client.send("* BYE Command too long\r\n").await?;
                return Ok(());
            }
            Some(_) => {
                client.send("* BYE Command line too long\r\n").await?;
                return Ok(());
            }
        };
        let next = match CommandCodec::default().decode(&message) {
            Ok(([], command)) => handle(client, command).await?,
            _ => {
                bad += 1;
                match tag_of(&message) {
                    Some(tag) => {
                        client
                            .send(&format!("{tag} BAD Invalid command\r\n"))
                            .await?
                    }
                    None => client.send("* BAD Invalid command\r\n").await?,
                }
                Next::Continue
            }
        };
        match next {
            Next::Continue => {}
            Next::Close => return Ok(()),
            Next::Relay(up) => return relay(client, *up).await,
        }
        if bad >= MAX_BAD {
            client.send("* BYE Too many invalid commands\r\n").await?;
            return Ok(());
        }
    }
}

/// A message's tag, when its first word is one.
fn tag_of(message: &[u8]) -> Option<String> {
    let word = message.split(|&b| b == b' ').next()?;
    let ok = !word.is_empty()
        && word.len() <= 64
        && word
            .iter()
            .all(|&b| b.is_ascii_graphic() && !b"(){%*\"\\+".contains(&b));
    ok.then(|| String::from_utf8_lossy(word).into_owned())
}

async fn handle(client: &mut Client, command: Command<'_>) -> std::io::Result<Next> {
    let tag = command.tag.as_ref().to_string();
    match command.body {
        CommandBody::Capability => {
            let caps = format!("* CAPABILITY {}\r\n", client.capabilities());
            client.send(&caps).await?;
            client
                .send(&format!("{tag} OK CAPABILITY completed\r\n"))
                .await?;
        }
        CommandBody::Noop => {
            client.send(&format!("{tag} OK NOOP completed\r\n")).await?;
        }
        CommandBody::Id { .. } => {
            client
                .send(&format!(
                    "* ID (\"name\" \"apppass bridge\")\r\n{tag} OK ID completed\r\n"
                ))
                .await?;
        }
        CommandBody::Logout => {
            client
                .send(&format!(
                    "* BYE apppass bridge logging out\r\n{tag} OK LOGOUT completed\r\n"
                ))
                .await?;
            return Ok(Next::Close);
        }
        CommandBody::StartTLS => {
            if client.is_tls() {
                client
                    .send(&format!("{tag} BAD TLS is already active\r\n"))
                    .await?;
            } else {
                client
                    .send(&format!("{tag} OK Begin TLS negotiation now\r\n"))
                    .await?;
                // Whatever the client pipelined in clear text is dropped (RFC 3501 §6.2.1).
                client.framer.clear();
                let plain = client.stream.take().ok_or_else(gone)?;
                client.stream = match tokio::time::timeout(
                    PREAUTH_IDLE,
                    plain.into_tls(&client.shared.acceptor),
                )
                .await
                {
                    Ok(Ok(tls)) => Some(tls),
                    _ => return Ok(Next::Close),
                };
            }
        }
        CommandBody::Login { username, password } => {
            let user = String::from_utf8_lossy(username.as_ref()).into_owned();
            let password = match std::str::from_utf8(password.declassify().as_ref()) {
                Ok(p) => Secret::from(p),
                Err(_) => {
                    // Not UTF-8: cannot be a bridge password; still goes through the check so
                    // that it is delayed and audited like any wrong password.
                    Secret::from("\u{fffd}")
                }
            };
            return sign_in(client, &tag, &user, password).await;
        }
        CommandBody::Authenticate {
            mechanism,
            initial_response,
        } => {
            if mechanism != AuthMechanism::Plain {
                client
                    .send(&format!(
                        "{tag} NO [CANNOT] Only AUTHENTICATE PLAIN is supported by the apppass bridge\r\n"
                    ))
                    .await?;
                return Ok(Next::Continue);
            }
            let response: Zeroizing<Vec<u8>> = match initial_response {
                Some(ir) => Zeroizing::new(ir.declassify().to_vec()),
                None => {
                    client.send("+ \r\n").await?;
                    let line = match client.next().await? {
                        Some(Framed::Message(m)) => m,
                        Some(_) | None => return Ok(Next::Close),
                    };
                    match AuthenticateDataCodec::default().decode(&line) {
                        Ok((_, AuthenticateData::Continue(data))) => {
                            Zeroizing::new(data.declassify().to_vec())
                        }
                        Ok((_, AuthenticateData::Cancel)) => {
                            client
                                .send(&format!("{tag} BAD AUTHENTICATE cancelled\r\n"))
                                .await?;
                            return Ok(Next::Continue);
                        }
                        Err(_) => {
                            client
                                .send(&format!("{tag} BAD Invalid base64 in AUTHENTICATE\r\n"))
                                .await?;
                            return Ok(Next::Continue);
                        }
                    }
                }
            };
            match plain_credentials(&response) {
                Some((user, password)) => return sign_in(client, &tag, &user, password).await,
                None => {
                    client
                        .send(&format!(
                            "{tag} BAD Invalid AUTHENTICATE PLAIN response\r\n"
                        ))
                        .await?;
                }
            }
        }
        _ => {
            client
                .send(&format!(
                    "{tag} BAD Sign in first (LOGIN or AUTHENTICATE PLAIN)\r\n"
                ))
                .await?;
        }
    }
    Ok(Next::Continue)
}

/// SASL PLAIN (RFC 4616): `authzid NUL authcid NUL passwd`; an authzid must be empty or the
/// same user.
fn plain_credentials(response: &[u8]) -> Option<(String, Secret)> {
    let mut parts = response.split(|&b| b == 0);
    let authz = parts.next()?;
    let authc = std::str::from_utf8(parts.next()?).ok()?;
    let password = std::str::from_utf8(parts.next()?).ok()?;
    if parts.next().is_some() || authc.is_empty() {
        return None;
    }
    if !authz.is_empty() && authz != authc.as_bytes() {
        return None;
    }
    Some((authc.to_string(), Secret::from(password)))
}

/// Checks the local password, then signs in upstream.
async fn sign_in(
    client: &mut Client,
    tag: &str,
    user: &str,
    password: Secret,
) -> std::io::Result<Next> {
    let shared = client.shared.clone();
    let local = match shared
        .check_local(client.session, Protocol::Imap, user, password)
        .await
    {
        Ok(local) => local,
        Err(LocalRefusal::Wrong) => {
            client
                .send(&format!(
                    "{tag} NO [AUTHENTICATIONFAILED] Wrong user name or password for the apppass bridge.\r\n"
                ))
                .await?;
            return Ok(Next::Continue);
        }
        Err(LocalRefusal::Unavailable(failure)) => {
            client
                .send(&format!(
                    "{tag} NO [UNAVAILABLE] apppass cannot check the password now: {}\r\n",
                    one_line(&failure.message)
                ))
                .await?;
            return Ok(Next::Continue);
        }
    };
    match sign_in_upstream(&shared, client.session).await {
        Ok(up) => {
            let caps = shown_capabilities(&up.capabilities);
            client
                .send(&format!("{tag} OK [CAPABILITY {caps}] Logged in\r\n"))
                .await?;
            shared.status.relaying(client.session);
            Ok(Next::Relay(Box::new(up)))
        }
        Err(failure) => {
            shared
                .status
                .upstream_failed(Protocol::Imap, Some(&local.name), &failure);
            let text = match failure.code {
                Code::SignInRequired | Code::AuthRejected => REFUSED.to_string(),
                _ => format!(
                    "apppass cannot sign in to the mail server: {}",
                    one_line(&failure.message)
                ),
            };
            client
                .send(&format!("{tag} NO [UNAVAILABLE] {text}\r\n"))
                .await?;
            Ok(Next::Continue)
        }
    }
}

/// The server's capabilities as the client sees them after sign-in: without what belongs to
/// the (finished) sign-in and TLS negotiation with the server.
fn shown_capabilities(caps: &[String]) -> String {
    let hidden = |c: &str| {
        let c = c.to_ascii_uppercase();
        c == "STARTTLS"
            || c == "LOGINDISABLED"
            || c == "SASL-IR"
            || c == "UNAUTHENTICATE"
            || c.starts_with("AUTH=")
    };
    let shown: Vec<&str> = caps
        .iter()
        .map(String::as_str)
        .filter(|c| !hidden(c))
        .collect();
    if shown.is_empty() {
        "IMAP4rev1".into()
    } else {
        shown.join(" ")
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(400)
        .collect()
}

async fn relay(client: &mut Client, mut up: Upstream) -> std::io::Result<()> {
    // Bytes already read on either side go first: data the server sent after its OK, and
    // commands the client pipelined after its LOGIN.
    let from_server = up.framer.take_rest();
    if !from_server.is_empty() {
        let io = client.io()?;
        io.write_all(&from_server).await?;
        io.flush().await?;
    }
    let from_client = client.framer.take_rest();
    if !from_client.is_empty() {
        up.stream.write_all(&from_client).await?;
        up.stream.flush().await?;
    }
    let stream = client.stream.take().ok_or_else(gone)?;
    let shared = client.shared.clone();
    shared
        .relay(client.session, Protocol::Imap, stream, up.stream)
        .await
        .map(|_| ())
}

// ---------------------------------------------------------------------------------------------
// The server's side.

/// A signed-in upstream session.
struct Upstream {
    stream: UpstreamStream,
    framer: Framer,
    /// After sign-in.
    capabilities: Vec<String>,
}

/// Why one upstream attempt did not sign in.
enum Attempt {
    /// The server refused the token (its words).
    Refused(String),
    Failed(Failure),
}

impl From<Failure> for Attempt {
    fn from(f: Failure) -> Self {
        Attempt::Failed(f)
    }
}

/// Signs in upstream with the current token; if refused, once more on a new connection with
/// a refreshed one.
async fn sign_in_upstream(shared: &Shared, session: u64) -> Result<Upstream, Failure> {
    let server = shared.config.imap.as_ref().ok_or_else(|| {
        Failure::new(
            Code::MissingServer,
            "The bridge has no IMAP server configured. Set one (--imap-host) and start the bridge again.",
        )
    })?;
    let token = shared.tokens.token(false).await?;
    let first = match attempt(shared, session, server, &token).await {
        Ok(up) => return Ok(up),
        Err(Attempt::Failed(f)) => return Err(f),
        Err(Attempt::Refused(why)) => why,
    };
    drop(token);
    let token = shared.tokens.token(true).await?;
    match attempt(shared, session, server, &token).await {
        Ok(up) => Ok(up),
        Err(Attempt::Failed(f)) => Err(f),
        Err(Attempt::Refused(why)) => Err(Failure::new(
            Code::AuthRejected,
            format!(
                "The mail server {} refused the sign-in even with a fresh access token ({}; first try: {}). Sign in again in apppass; if it keeps happening, check that the account may use IMAP and that the bridge's scopes are right.",
                server.host,
                one_line(&why),
                one_line(&first)
            ),
        )),
    }
}

struct Conn<'a> {
    stream: UpstreamStream,
    framer: Framer,
    shared: &'a Shared,
    session: u64,
    server: &'a Server,
}

impl Conn<'_> {
    async fn send(&mut self, line: &[u8]) -> Result<(), Failure> {
        self.shared
            .log_upstream(self.session, Protocol::Imap, true, line);
        let (server, timeout) = (self.server, self.shared.config.upstream_timeout);
        let stream = &mut self.stream;
        upstream::limit(server, timeout, "sending", async {
            stream.write_all(line).await.map_err(|e| lost(server, e))?;
            stream.flush().await.map_err(|e| lost(server, e))
        })
        .await
    }

    /// The server's next message (a line with its literals).
    async fn next(&mut self, what: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
        let (server, timeout) = (self.server, self.shared.config.upstream_timeout);
        let (stream, framer) = (&mut self.stream, &mut self.framer);
        let message =
            upstream::limit(server, timeout, what, read_message(stream, framer, server)).await?;
        self.shared
            .log_upstream(self.session, Protocol::Imap, false, &message);
        Ok(message)
    }

    /// Sends a command and reads to its tagged answer; untagged CAPABILITY data is collected.
    async fn command(
        &mut self,
        tag: &str,
        command: &str,
        caps: &mut Vec<String>,
    ) -> Result<(StatusKind, Option<Vec<String>>, String), Failure> {
        self.send(format!("{tag} {command}\r\n").as_bytes()).await?;
        loop {
            let message = self.next(command).await?;
            match parse_response(&message) {
                Reply::Capabilities(list) => *caps = list,
                Reply::Tagged {
                    tag: t,
                    kind,
                    caps,
                    text,
                } if t == tag => return Ok((kind, caps, text)),
                Reply::Bye(text) => return Err(bye(self.server, &text)),
                _ => {}
            }
        }
    }
}

async fn read_message<S: AsyncRead + Unpin>(
    stream: &mut S,
    framer: &mut Framer,
    server: &Server,
) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut buf = [0u8; 8192];
    loop {
        match framer.next() {
            Framed::Message(m) => return Ok(m),
            Framed::More | Framed::NeedContinuation => {}
            Framed::LineTooLong | Framed::LiteralTooLong { .. } => {
                return Err(Failure::new(
                    Code::ProtocolError,
                    format!(
                        "The mail server {} sent an answer too long for a sign-in. Check the bridge's server setting.",
                        server.host
                    ),
                ))
            }
        }
        let n = stream.read(&mut buf).await.map_err(|e| lost(server, e))?;
        if n == 0 {
            return Err(Failure::new(
                Code::ProtocolError,
                format!(
                    "The mail server {} closed the connection during sign-in. Try again later; if it keeps happening, check the bridge's server setting.",
                    server.host
                ),
            ));
        }
        framer.push(&buf[..n]);
    }
}

fn lost(server: &Server, e: std::io::Error) -> Failure {
    Failure::new(
        Code::Offline,
        format!(
            "The connection to the mail server {} broke during sign-in ({e}). Check the network, or try again later.",
            server.host
        ),
    )
}

fn bye(server: &Server, text: &str) -> Failure {
    Failure::new(
        Code::ServiceUnavailable,
        format!(
            "The mail server {} closed the session: \"{}\". Try again later.",
            server.host,
            one_line(text)
        ),
    )
}

/// A server message, as far as the sign-in cares.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    Tagged {
        tag: String,
        kind: StatusKind,
        caps: Option<Vec<String>>,
        text: String,
    },
    Capabilities(Vec<String>),
    Continuation,
    Bye(String),
    Other,
}

fn cap_list(list: &[Capability<'_>]) -> Vec<String> {
    list.iter().map(|c| c.to_string()).collect()
}

fn parse_response(message: &[u8]) -> Reply {
    match ResponseCodec::default().decode(message) {
        Ok((_, Response::Status(ImapStatus::Tagged(t)))) => Reply::Tagged {
            tag: t.tag.as_ref().to_string(),
            kind: t.body.kind,
            caps: match &t.body.code {
                Some(ImapCode::Capability(list)) => Some(cap_list(list.as_ref())),
                _ => None,
            },
            text: t.body.text.as_ref().to_string(),
        },
        Ok((_, Response::Status(ImapStatus::Bye(b)))) => Reply::Bye(b.text.as_ref().to_string()),
        Ok((_, Response::Data(Data::Capability(list)))) => {
            Reply::Capabilities(cap_list(list.as_ref()))
        }
        Ok((_, Response::CommandContinuationRequest(_))) => Reply::Continuation,
        Ok(_) => Reply::Other,
        Err(_) => {
            // Unparsable (a server's quirk): still recognise a continuation or a tagged status.
            if message.starts_with(b"+") {
                return Reply::Continuation;
            }
            let text = String::from_utf8_lossy(message);
            let mut words = text.trim_end().splitn(3, ' ');
            let (tag, kind, rest) = (words.next(), words.next(), words.next());
            let kind = match kind.map(str::to_ascii_uppercase).as_deref() {
                Some("OK") => StatusKind::Ok,
                Some("NO") => StatusKind::No,
                Some("BAD") => StatusKind::Bad,
                _ => return Reply::Other,
            };
            match tag {
                Some("*") | None => Reply::Other,
                Some(tag) => Reply::Tagged {
                    tag: tag.to_string(),
                    kind,
                    caps: None,
                    text: rest.unwrap_or("").to_string(),
                },
            }
        }
    }
}

/// One upstream connection and sign-in.
async fn attempt(
    shared: &Shared,
    session: u64,
    server: &Server,
    token: &UpstreamToken,
) -> Result<Upstream, Attempt> {
    let timeout = shared.config.upstream_timeout;
    let mut conn = Conn {
        stream: upstream::tcp(server, timeout).await?,
        framer: Framer::new(MAX_SERVER_MESSAGE),
        shared,
        session,
        server,
    };
    let mut caps = Vec::new();
    match server.security {
        Security::Tls => {
            conn.stream = upstream::tls(conn.stream, server, &shared.upstream_tls, timeout).await?;
            caps = greeting(&mut conn).await?;
        }
        Security::Starttls => {
            let offered = greeting(&mut conn).await?;
            let mut plain_caps = offered;
            if plain_caps.is_empty() {
                conn.command("A0", "CAPABILITY", &mut plain_caps).await?;
            }
            if !plain_caps
                .iter()
                .any(|c| c.eq_ignore_ascii_case("STARTTLS"))
            {
                return Err(Attempt::Failed(Failure::new(
                    Code::TlsFailure,
                    format!(
                        "The mail server {} port {} does not offer STARTTLS, and the bridge never signs in without TLS. Use its TLS port (usually 993) in the bridge's server setting.",
                        server.host, server.port
                    ),
                )));
            }
            let mut ignored = Vec::new();
            let (kind, _, text) = conn.command("A1", "STARTTLS", &mut ignored).await?;
            if kind != StatusKind::Ok {
                return Err(Attempt::Failed(Failure::new(
                    Code::TlsFailure,
                    format!(
                        "The mail server {} refused STARTTLS (\"{}\"). Use its TLS port in the bridge's server setting.",
                        server.host,
                        one_line(&text)
                    ),
                )));
            }
            // Anything the server sent in clear text after its OK is dropped.
            conn.framer.clear();
            conn.stream = upstream::tls(conn.stream, server, &shared.upstream_tls, timeout).await?;
        }
    }
    if caps.is_empty() {
        conn.command("A2", "CAPABILITY", &mut caps).await?;
    }
    let has = |name: &str| caps.iter().any(|c| c.eq_ignore_ascii_case(name));
    let (mechanism, response, abort) = if has("AUTH=XOAUTH2") {
        ("XOAUTH2", upstream::xoauth2(&token.user, &token.token), "")
    } else if has("AUTH=OAUTHBEARER") {
        // RFC 7628 §3.2.3: after an error challenge the client sends %x01.
        (
            "OAUTHBEARER",
            upstream::oauthbearer(&token.user, &token.token),
            "AQ==",
        )
    } else {
        return Err(Attempt::Failed(Failure::new(
            Code::ProtocolError,
            format!(
                "The mail server {} does not offer OAuth sign-in over IMAP (AUTH=XOAUTH2 or AUTH=OAUTHBEARER), so the bridge cannot sign in there. Check the bridge's server setting.",
                server.host
            ),
        )));
    };
    let tag = "A3";
    let ir = has("SASL-IR");
    let first = if ir {
        Zeroizing::new(
            format!("{tag} AUTHENTICATE {mechanism} {}\r\n", response.expose()).into_bytes(),
        )
    } else {
        Zeroizing::new(format!("{tag} AUTHENTICATE {mechanism}\r\n").into_bytes())
    };
    conn.send(&first).await?;
    let mut sent = ir;
    let mut post_caps: Option<Vec<String>> = None;
    loop {
        let message = conn.next("AUTHENTICATE").await?;
        match parse_response(&message) {
            Reply::Continuation if !sent => {
                let line = Zeroizing::new(format!("{}\r\n", response.expose()).into_bytes());
                conn.send(&line).await?;
                sent = true;
            }
            // An error challenge (JSON with the reason): answer it, the tagged NO follows.
            Reply::Continuation => conn.send(format!("{abort}\r\n").as_bytes()).await?,
            Reply::Capabilities(list) => post_caps = Some(list),
            Reply::Bye(text) => return Err(Attempt::Failed(bye(server, &text))),
            Reply::Tagged {
                tag: t,
                kind,
                caps,
                text,
            } if t == tag => {
                if kind != StatusKind::Ok {
                    return Err(Attempt::Refused(text));
                }
                if caps.is_some() {
                    post_caps = caps;
                }
                break;
            }
            _ => {}
        }
    }
    let capabilities = match post_caps {
        Some(list) => list,
        None => {
            let mut list = Vec::new();
            let (kind, code_caps, _) = conn.command("A4", "CAPABILITY", &mut list).await?;
            if let (StatusKind::Ok, Some(code)) = (kind, code_caps) {
                if list.is_empty() {
                    list = code;
                }
            }
            list
        }
    };
    Ok(Upstream {
        stream: conn.stream,
        framer: conn.framer,
        capabilities,
    })
}

/// Reads the server's greeting; returns the capabilities it carries (after TLS only: the
/// caller ignores them before STARTTLS).
async fn greeting(conn: &mut Conn<'_>) -> Result<Vec<String>, Failure> {
    let message = conn.next("greeting").await?;
    match GreetingCodec::default().decode(&message) {
        Ok((_, g)) => match g.kind {
            GreetingKind::Ok => Ok(match &g.code {
                Some(ImapCode::Capability(list)) => cap_list(list.as_ref()),
                _ => Vec::new(),
            }),
            GreetingKind::Bye => Err(bye(conn.server, g.text.as_ref())),
            GreetingKind::PreAuth => Err(Failure::new(
                Code::ProtocolError,
                format!(
                    "The mail server {} signed the session in before any sign-in (PREAUTH); the bridge does not relay such sessions. Check the bridge's server setting.",
                    conn.server.host
                ),
            )),
        },
        Err(_) => Err(Failure::new(
            Code::ProtocolError,
            format!(
                "The mail server {} port {} did not greet like an IMAP server. Check the bridge's server setting (host, port, TLS or STARTTLS).",
                conn.server.host, conn.server.port
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(framer: &mut Framer) -> Vec<Framed> {
        let mut out = Vec::new();
        loop {
            match framer.next() {
                Framed::More => return out,
                f => out.push(f),
            }
        }
    }

    fn msg(s: &[u8]) -> Framed {
        Framed::Message(Zeroizing::new(s.to_vec()))
    }

    #[test]
    fn framer_splits_lines_and_literals_and_keeps_the_rest() {
        let mut f = Framer::new(1024);
        f.push(b"a1 NOOP\r\na2 LOGIN {3}\r\n");
        assert_eq!(
            frames(&mut f),
            vec![msg(b"a1 NOOP\r\n"), Framed::NeedContinuation]
        );
        f.push(b"ann {5}\r\n");
        assert_eq!(frames(&mut f), vec![Framed::NeedContinuation]);
        f.push(b"s3cr");
        assert_eq!(frames(&mut f), vec![]);
        f.push(b"t\r\na3 SELECT INBOX\r\na4 NO");
        assert_eq!(
            frames(&mut f),
            vec![
                msg(b"a2 LOGIN {3}\r\nann {5}\r\ns3crt\r\n"),
                msg(b"a3 SELECT INBOX\r\n")
            ]
        );
        assert_eq!(f.take_rest(), b"a4 NO".to_vec());
        // A literal's data already there, or LITERAL+: no continuation asked for.
        f.push(b"a5 LOGIN {3+}\r\nann pw\r\n");
        assert_eq!(frames(&mut f), vec![msg(b"a5 LOGIN {3+}\r\nann pw\r\n")]);
        // Bytes that look like a line end inside a literal belong to it.
        f.push(b"* 1 FETCH (BODY[] {4}\r\n\r\n\r\n)\r\n");
        assert_eq!(
            frames(&mut f),
            vec![msg(b"* 1 FETCH (BODY[] {4}\r\n\r\n\r\n)\r\n")]
        );
    }

    #[test]
    fn framer_does_not_search_bytes_twice() {
        let mut f = Framer::new(1024);
        for &b in b"a1 LOGIN {2}" {
            f.push(&[b]);
            assert_eq!(f.next(), Framed::More);
            assert_eq!(f.searched, f.buf.len(), "each byte searched once");
        }
        f.push(b"\r\n");
        assert_eq!(f.next(), Framed::NeedContinuation);
        // A line end inside the literal is data; the search goes on after it.
        f.push(b"\n\n x");
        assert_eq!(f.next(), Framed::More);
        f.push(b"\r\na2 NOOP\r\n");
        assert_eq!(
            frames(&mut f),
            vec![msg(b"a1 LOGIN {2}\r\n\n\n x\r\n"), msg(b"a2 NOOP\r\n")]
        );
        assert_eq!((f.scan, f.searched), (0, 0));
    }

    #[test]
    fn framer_limits() {
        let mut f = Framer::new(64);
        f.push(b"a1 LOGIN {1000}\r\n");
        match f.next() {
            Framed::LiteralTooLong { first_line, sync } => {
                assert!(sync);
                assert_eq!(&first_line[..], b"a1 LOGIN {1000}\r\n");
            }
            other => panic!("{other:?}"),
        }
        f.push(&[b'x'; 100]);
        assert_eq!(f.next(), Framed::LineTooLong);
        f.clear();
        assert_eq!(f.next(), Framed::More);
    }

    #[test]
    fn literal_announcements() {
        assert_eq!(literal_announced(b"a LOGIN {12}\r\n"), Some((12, true)));
        assert_eq!(literal_announced(b"a LOGIN {12+}\r\n"), Some((12, false)));
        assert_eq!(literal_announced(b"a LOGIN {12}\n"), Some((12, true)));
        assert_eq!(literal_announced(b"a LOGIN {}\r\n"), None);
        assert_eq!(literal_announced(b"a LOGIN {1x}\r\n"), None);
        assert_eq!(literal_announced(b"a NOOP\r\n"), None);
    }

    #[test]
    fn plain_responses() {
        let (u, p) = plain_credentials(b"\0thunderbird\0pw one").unwrap();
        assert_eq!((u.as_str(), p.expose()), ("thunderbird", "pw one"));
        assert!(plain_credentials(b"thunderbird\0thunderbird\0pw").is_some());
        assert!(
            plain_credentials(b"admin\0thunderbird\0pw").is_none(),
            "no proxy authorisation"
        );
        assert!(plain_credentials(b"\0\0pw").is_none());
        assert!(plain_credentials(b"\0a").is_none());
    }

    #[test]
    fn server_replies_are_parsed() {
        assert_eq!(
            parse_response(b"A3 OK [CAPABILITY IMAP4rev1 SASL-IR IDLE AUTH=PLAIN] Logged in\r\n"),
            Reply::Tagged {
                tag: "A3".into(),
                kind: StatusKind::Ok,
                caps: Some(vec![
                    "IMAP4REV1".into(),
                    "SASL-IR".into(),
                    "IDLE".into(),
                    "AUTH=PLAIN".into()
                ]),
                text: "Logged in".into()
            }
        );
        assert_eq!(
            parse_response(b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\n"),
            Reply::Continuation
        );
        assert!(matches!(
            parse_response(b"A3 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
            Reply::Tagged {
                kind: StatusKind::No,
                ..
            }
        ));
        assert!(matches!(
            parse_response(b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=XOAUTH2\r\n"),
            Reply::Capabilities(c) if c.contains(&"AUTH=XOAUTH2".to_string())
        ));
        assert_eq!(
            parse_response(b"* BYE shutting down\r\n"),
            Reply::Bye("shutting down".into())
        );
    }

    #[test]
    fn capabilities_after_sign_in_hide_the_sign_in_ones() {
        let caps: Vec<String> =
            "IMAP4REV1 SASL-IR STARTTLS AUTH=PLAIN AUTH=XOAUTH2 IDLE MOVE LOGINDISABLED"
                .split(' ')
                .map(String::from)
                .collect();
        assert_eq!(shown_capabilities(&caps), "IMAP4REV1 IDLE MOVE");
        assert_eq!(shown_capabilities(&[]), "IMAP4rev1");
    }

    #[test]
    fn client_commands_parse_with_imap_codec() {
        let (_, c) = CommandCodec::default()
            .decode(b"a1 LOGIN {11}\r\nthunderbird \"pw \\\"x\"\r\n")
            .unwrap();
        match c.body {
            CommandBody::Login { username, password } => {
                assert_eq!(username.as_ref(), b"thunderbird");
                assert_eq!(password.declassify().as_ref(), b"pw \"x");
            }
            other => panic!("{other:?}"),
        }
        let (_, c) = CommandCodec::default()
            .decode(b"a2 AUTHENTICATE PLAIN AHRodW5kZXJiaXJkAHB3\r\n")
            .unwrap();
        assert!(matches!(
            c.body,
            CommandBody::Authenticate {
                mechanism: AuthMechanism::Plain,
                initial_response: Some(_)
            }
        ));
        assert!(tag_of(b"a3 FOO\r\n").is_some());
        assert!(tag_of(b"{3}\r\n").is_none());
    }
}
