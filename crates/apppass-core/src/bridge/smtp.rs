//! The SMTP submission side of the bridge (RFC 5321, 3207, 4954).
//!
//! Before sign-in the bridge answers the client itself: greeting, EHLO/HELO (advertising only
//! what it does: `AUTH PLAIN LOGIN`, `STARTTLS` on a plain connection, `8BITMIME` and
//! `ENHANCEDSTATUSCODES`, which the upstream servers of all presets have), STARTTLS, AUTH
//! PLAIN/LOGIN, NOOP, RSET, QUIT; everything else is `530 5.7.0 Authentication required`.
//! Client commands are parsed with smtp-proto (Stalwart's parser); SASL continuation lines are
//! read raw. No PIPELINING or SIZE is offered: the bridge cannot promise either before it knows
//! the upstream server, and the client must not depend on them before AUTH.
//!
//! Once the local password is right: TCP to the server, TLS (implicit, or the server's STARTTLS
//! with the client's EHLO name), `AUTH XOAUTH2` (or OAUTHBEARER) with the initial response on the
//! command line (RFC 4954 allows AUTH lines of 12288 octets), the server's replies parsed with
//! smtp-proto. On `235` the client gets `235` and from then on its MAIL/RCPT/DATA go straight to
//! the server: the server already had its EHLO, so the session continues where it is.

use std::io;
use std::sync::Arc;

use smtp_proto::response::parser::ResponseReceiver;
use smtp_proto::{
    EhloResponse, Request, AUTH_LOGIN, AUTH_OAUTHBEARER, AUTH_PLAIN, AUTH_XOAUTH2, EXT_START_TLS,
};
use zeroize::Zeroizing;

use super::server::{LocalRefusal, Shared};
use super::session::{
    self, decode_b64, io_failure, sasl_plain, sign_in_upstream, unexpected, user_name, words,
    Attempt, Line, Lines, Upstream, IDLE, MAX_ERRORS, MAX_LINE,
};
use super::stream::{LocalStream, UpstreamStream};
use super::tokens::UpstreamToken;
use super::upstream;
use crate::catalog::Protocol;
use crate::error::{Code, Failure};
use crate::vault::{Security, Server};
use crate::Secret;

const GREETING: &[u8] = b"220 127.0.0.1 apppass bridge ESMTP\r\n";
const NAME: &str = "127.0.0.1 apppass bridge";

/// The longest reply line the bridge reads from the server (RFC 5321 says 512).
const MAX_REPLY_LINE: usize = 4096;
/// The most lines of one reply (EHLO lists a few dozen at most).
const MAX_REPLY_LINES: usize = 100;

/// One client connection to the SMTP listener, from greeting to the end of the relay.
pub(crate) async fn serve(shared: Arc<Shared>, stream: LocalStream, session: u64) {
    let _ = run(&shared, session, stream).await;
}

/// What the client's AUTH gave.
enum Credentials {
    /// A user name and password to check.
    Given(String, Secret),
    /// Already answered (cancelled, malformed, unknown mechanism): wait for the next command.
    Answered,
}

struct Client<'a> {
    shared: &'a Shared,
    session: u64,
    lines: Lines<LocalStream>,
}

impl Client<'_> {
    async fn say(&mut self, reply: &[u8]) -> io::Result<()> {
        self.shared.log(self.session, Protocol::Smtp, false, reply);
        self.lines.send(reply).await
    }

    async fn read(&mut self) -> io::Result<Line> {
        let line = self.lines.line_within(MAX_LINE, IDLE).await?;
        if let Line::Text(l) = &line {
            self.shared.log(self.session, Protocol::Smtp, true, l);
        }
        Ok(line)
    }

    /// Reads a SASL continuation line; `None` when the client cancelled (`*`) or left.
    async fn continuation(&mut self, prompt: &[u8]) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
        self.say(prompt).await?;
        match self.read().await? {
            Line::Text(l) if l.as_slice() == b"*" => {
                self.say(b"501 5.7.0 Authentication cancelled\r\n").await?;
                Ok(None)
            }
            Line::Text(l) => Ok(Some(l)),
            Line::TooLong | Line::Closed => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }

    async fn ehlo(&mut self, extended: bool) -> io::Result<()> {
        if !extended {
            return self.say(format!("250 {NAME}\r\n").as_bytes()).await;
        }
        let mut reply = format!("250-{NAME}\r\n250-AUTH PLAIN LOGIN\r\n");
        if !self.lines.get_ref().is_tls() {
            reply.push_str("250-STARTTLS\r\n");
        }
        reply.push_str("250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
        self.say(reply.as_bytes()).await
    }

    /// AUTH PLAIN (RFC 4616) or LOGIN, with or without an initial response.
    async fn credentials(&mut self, mechanism: u64, initial: &str) -> io::Result<Credentials> {
        const MALFORMED: &[u8] = b"501 5.5.2 Cannot decode the AUTH response\r\n";
        match mechanism {
            AUTH_PLAIN => {
                let message = if initial.is_empty() {
                    match self.continuation(b"334 \r\n").await? {
                        Some(l) => l,
                        None => return Ok(Credentials::Answered),
                    }
                } else {
                    Zeroizing::new(initial.as_bytes().to_vec())
                };
                match sasl_plain(&message) {
                    Some((user, password)) => Ok(Credentials::Given(user, password)),
                    None => {
                        self.say(MALFORMED).await?;
                        Ok(Credentials::Answered)
                    }
                }
            }
            AUTH_LOGIN => {
                let user = if initial.is_empty() || initial == "=" {
                    // "Username:"
                    match self.continuation(b"334 VXNlcm5hbWU6\r\n").await? {
                        Some(l) => l,
                        None => return Ok(Credentials::Answered),
                    }
                } else {
                    Zeroizing::new(initial.as_bytes().to_vec())
                };
                let Some(user) = decode_b64(&user).and_then(|u| user_name(&u)) else {
                    self.say(MALFORMED).await?;
                    return Ok(Credentials::Answered);
                };
                // "Password:"
                let Some(password) = self.continuation(b"334 UGFzc3dvcmQ6\r\n").await? else {
                    return Ok(Credentials::Answered);
                };
                match decode_b64(&password).and_then(|p| Secret::from_bytes(p.to_vec())) {
                    Some(p) if !p.is_empty() => Ok(Credentials::Given(user, p)),
                    _ => {
                        self.say(MALFORMED).await?;
                        Ok(Credentials::Answered)
                    }
                }
            }
            _ => {
                self.say(b"504 5.5.4 Unrecognized authentication type (use PLAIN or LOGIN)\r\n")
                    .await?;
                Ok(Credentials::Answered)
            }
        }
    }
}

async fn run(shared: &Shared, session: u64, stream: LocalStream) -> io::Result<()> {
    let mut client = Client {
        shared,
        session,
        lines: Lines::new(stream),
    };
    client.say(GREETING).await?;
    // The client's EHLO/HELO name: AUTH needs it, and the server gets the same.
    let mut hello: Option<String> = None;
    let mut errors = 0u32;
    loop {
        let line = match client.read().await? {
            Line::Text(l) => l,
            Line::TooLong => {
                return client.say(b"500 5.5.6 Line too long, closing\r\n").await;
            }
            Line::Closed => return Ok(()),
        };
        let mut command = Zeroizing::new(Vec::with_capacity(line.len() + 2));
        command.extend_from_slice(&line);
        command.extend_from_slice(b"\r\n");
        match Request::parse(&mut command.iter()) {
            Ok(Request::Ehlo { host }) => {
                hello = Some(host.into_owned());
                client.ehlo(true).await?;
            }
            Ok(Request::Helo { host }) => {
                hello = Some(host.into_owned());
                client.ehlo(false).await?;
            }
            Ok(Request::StartTls) => {
                if client.lines.get_ref().is_tls() {
                    client.say(b"503 5.5.1 TLS is already active\r\n").await?;
                    errors += 1;
                } else {
                    client.say(b"220 2.0.0 Ready to start TLS\r\n").await?;
                    client.lines = client.lines.starttls(&shared.acceptor).await?;
                    // RFC 3207 §4.2: the client starts over with EHLO.
                    hello = None;
                }
            }
            Ok(Request::Auth {
                mechanism,
                initial_response,
            }) => {
                let Some(host) = hello.clone() else {
                    client.say(b"503 5.5.1 Send EHLO first\r\n").await?;
                    errors += 1;
                    continue;
                };
                let (user, password) =
                    match client.credentials(mechanism, &initial_response).await? {
                        Credentials::Given(u, p) => (u, p),
                        Credentials::Answered => {
                            errors += 1;
                            continue;
                        }
                    };
                match shared
                    .check_local(session, Protocol::Smtp, &user, password)
                    .await
                {
                    Err(LocalRefusal::Wrong) => {
                        client
                            .say(b"535 5.7.8 Authentication credentials invalid\r\n")
                            .await?;
                        errors += 1;
                    }
                    Err(LocalRefusal::Unavailable(_)) => {
                        client
                            .say(b"454 4.7.0 apppass cannot check passwords right now (is the keyring locked?); try again later\r\n")
                            .await?;
                    }
                    Ok(bridge_client) => {
                        let Some(server) = shared.config.smtp.clone() else {
                            client
                                .say(b"454 4.7.0 apppass has no SMTP server configured for the bridge\r\n")
                                .await?;
                            continue;
                        };
                        let signed_in = sign_in_upstream(
                            shared,
                            Protocol::Smtp,
                            &bridge_client,
                            &server,
                            |token| open_and_authenticate(shared, session, &server, &host, token),
                        )
                        .await;
                        match signed_in {
                            Ok(upstream) => {
                                client
                                    .say(b"235 2.7.0 Authentication successful\r\n")
                                    .await?;
                                shared.status.relaying(session);
                                return session::relay(
                                    shared,
                                    session,
                                    Protocol::Smtp,
                                    client.lines,
                                    upstream,
                                )
                                .await
                                .map(|_| ());
                            }
                            Err(Upstream::Refused) => {
                                client
                                    .say(b"535 5.7.8 apppass: the mail server refused the sign-in; open apppass and sign in again\r\n")
                                    .await?;
                            }
                            // The sign-in has ended (revoked, expired): a permanent refusal, as
                            // a server refuses a revoked credential, with what to do.
                            Err(Upstream::SignInNeeded) => {
                                client
                                    .say(b"535 5.7.8 apppass: your work-account sign-in has ended; sign in again in apppass, then try again\r\n")
                                    .await?;
                            }
                            Err(Upstream::Unavailable) => {
                                client
                                    .say(b"454 4.7.0 apppass cannot sign in to the mail server right now (see apppass's bridge status); try again later\r\n")
                                    .await?;
                            }
                        }
                    }
                }
            }
            Ok(Request::Noop { .. }) | Ok(Request::Rset) => client.say(b"250 2.0.0 OK\r\n").await?,
            Ok(Request::Quit) => {
                return client.say(b"221 2.0.0 Bye\r\n").await;
            }
            Ok(Request::Lhlo { .. }) => {
                client
                    .say(b"500 5.5.1 This is SMTP submission, not LMTP\r\n")
                    .await?;
                errors += 1;
            }
            Ok(_) => {
                client.say(b"530 5.7.0 Authentication required\r\n").await?;
                errors += 1;
            }
            Err(smtp_proto::Error::SyntaxError { syntax }) => {
                client
                    .say(format!("501 5.5.4 Syntax: {syntax}\r\n").as_bytes())
                    .await?;
                errors += 1;
            }
            Err(smtp_proto::Error::UnknownCommand) => {
                client.say(b"500 5.5.2 Command not recognized\r\n").await?;
                errors += 1;
            }
            Err(_) => {
                client
                    .say(b"501 5.5.4 Invalid command arguments\r\n")
                    .await?;
                errors += 1;
            }
        }
        if errors >= MAX_ERRORS {
            return client
                .say(b"421 4.7.0 Too many errors, closing the connection\r\n")
                .await;
        }
    }
}

/// A reply of the server: its code, its text and the raw lines (for messages).
struct Reply {
    code: u16,
    raw: Vec<u8>,
    /// The text of the last line (a 334 challenge).
    last: Vec<u8>,
}

/// The bridge as an SMTP client of the mail server.
struct Up<'a> {
    shared: &'a Shared,
    session: u64,
    server: &'a Server,
    lines: Lines<UpstreamStream>,
}

impl<'a> Up<'a> {
    fn timeout(&self) -> std::time::Duration {
        self.shared.config.upstream_timeout
    }

    async fn send(&mut self, what: &str, bytes: &[u8]) -> Result<(), Failure> {
        self.shared
            .log_upstream(self.session, Protocol::Smtp, true, bytes);
        let server = self.server;
        let lines = &mut self.lines;
        upstream::limit(server, self.shared.config.upstream_timeout, what, async {
            lines
                .send(bytes)
                .await
                .map_err(|e| io_failure(server, what, &e))
        })
        .await
    }

    /// One reply, all its lines (`250-…` … `250 …`).
    async fn reply(&mut self, what: &str) -> Result<Reply, Failure> {
        let server = self.server;
        let timeout = self.timeout();
        let (shared, session) = (self.shared, self.session);
        let lines = &mut self.lines;
        upstream::limit(server, timeout, what, async {
            let mut raw = Vec::new();
            for _ in 0..MAX_REPLY_LINES {
                let line = match lines
                    .line(MAX_REPLY_LINE)
                    .await
                    .map_err(|e| io_failure(server, what, &e))?
                {
                    Line::Text(l) => l,
                    Line::TooLong => return Err(unexpected(server, what, b"a line too long")),
                    Line::Closed => {
                        return Err(io_failure(
                            server,
                            what,
                            &io::ErrorKind::UnexpectedEof.into(),
                        ))
                    }
                };
                shared.log_upstream(session, Protocol::Smtp, false, &line);
                raw.extend_from_slice(&line);
                raw.extend_from_slice(b"\r\n");
                match reply_line(&line) {
                    Some((_, false)) => continue,
                    Some((code, true)) => {
                        return Ok(Reply {
                            code,
                            raw,
                            last: line.get(4..).unwrap_or_default().to_vec(),
                        })
                    }
                    None => return Err(unexpected(server, what, &line)),
                }
            }
            Err(unexpected(server, what, b"a reply that does not end"))
        })
        .await
    }

    async fn command(&mut self, what: &str, line: &[u8]) -> Result<Reply, Failure> {
        self.send(what, line).await?;
        self.reply(what).await
    }

    async fn ehlo(&mut self, host: &str) -> Result<EhloResponse<String>, Failure> {
        let reply = self
            .command("EHLO", format!("EHLO {host}\r\n").as_bytes())
            .await?;
        if reply.code != 250 {
            return Err(unexpected(self.server, "EHLO", &reply.raw));
        }
        EhloResponse::parse(&mut reply.raw.iter())
            .map_err(|_| unexpected(self.server, "EHLO", &reply.raw))
    }

    /// QUIT without waiting long; the connection is dropped anyway.
    async fn quit(mut self) {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
            let _ = self.lines.send(b"QUIT\r\n").await;
            let _ = self.lines.line(MAX_REPLY_LINE).await;
        })
        .await;
    }
}

/// `Some((code, is_last))` for a reply line `DDD-text` / `DDD text` / `DDD`; parsed with
/// smtp-proto's reply parser.
fn reply_line(line: &[u8]) -> Option<(u16, bool)> {
    let mut bytes = Vec::with_capacity(line.len() + 2);
    bytes.extend_from_slice(line);
    bytes.extend_from_slice(b"\r\n");
    let last = match line.get(3) {
        None => true,
        Some(b' ') => true,
        Some(b'-') => false,
        Some(_) => return None,
    };
    if !last {
        // The receiver only completes on the last line; a continuation line is checked by
        // pretending it is the last one.
        bytes[3] = b' ';
    }
    let reply = ResponseReceiver::default().parse(&mut bytes.iter()).ok()?;
    (100..600)
        .contains(&reply.code)
        .then_some((reply.code, last))
}

/// Opens a new connection to the server (TLS from the first byte, or STARTTLS) and says EHLO
/// with the client's name.
async fn open<'a>(
    shared: &'a Shared,
    session: u64,
    server: &'a Server,
    host: &str,
) -> Result<(Up<'a>, EhloResponse<String>), Failure> {
    let timeout = shared.config.upstream_timeout;
    let mut stream = upstream::tcp(server, timeout).await?;
    if server.security == Security::Tls {
        stream = upstream::tls(stream, server, &shared.upstream_tls, timeout).await?;
    }
    let mut up = Up {
        shared,
        session,
        server,
        lines: Lines::new(stream),
    };
    let greeting = up.reply("the greeting").await?;
    if greeting.code != 220 {
        return Err(unexpected(server, "the connection", &greeting.raw));
    }
    let ehlo = up.ehlo(host).await?;
    if up.lines.get_ref().is_tls() {
        return Ok((up, ehlo));
    }
    if !ehlo.has_capability(EXT_START_TLS) {
        up.quit().await;
        return Err(Failure::new(
            Code::TlsFailure,
            format!(
                "The mail server {} port {} does not offer STARTTLS, and the bridge never signs in without TLS. Check the bridge's SMTP server setting (port 465 is TLS from the first byte).",
                server.host.trim(),
                server.port
            ),
        ));
    }
    let reply = up.command("STARTTLS", b"STARTTLS\r\n").await?;
    if reply.code != 220 {
        return Err(unexpected(server, "STARTTLS", &reply.raw));
    }
    let (stream, ahead) = up.lines.into_parts();
    if !ahead.is_empty() {
        // Bytes after the 220 and before TLS would be read as if they were protected.
        return Err(unexpected(
            server,
            "STARTTLS",
            b"data before the TLS handshake",
        ));
    }
    let stream = upstream::tls(stream, server, &shared.upstream_tls, timeout).await?;
    let mut up = Up {
        shared,
        session,
        server,
        lines: Lines::new(stream),
    };
    let ehlo = up.ehlo(host).await?;
    Ok((up, ehlo))
}

/// One sign-in attempt on a new connection.
async fn open_and_authenticate<'a>(
    shared: &'a Shared,
    session: u64,
    server: &'a Server,
    host: &str,
    token: UpstreamToken,
) -> Result<Attempt<Lines<UpstreamStream>>, Failure> {
    let (mut up, ehlo) = open(shared, session, server, host).await?;
    match authenticate(&mut up, &ehlo, &token).await? {
        Attempt::In(()) => Ok(Attempt::In(up.lines)),
        Attempt::Refused(said) => {
            up.quit().await;
            Ok(Attempt::Refused(said))
        }
    }
}

/// `AUTH XOAUTH2` (or OAUTHBEARER) with the token. On failure the servers send `334` with a
/// base64 JSON status first and expect an empty (XOAUTH2) or `^A` (OAUTHBEARER, RFC 7628 §3.2.3)
/// answer before the final `535`.
async fn authenticate(
    up: &mut Up<'_>,
    ehlo: &EhloResponse<String>,
    token: &UpstreamToken,
) -> Result<Attempt<()>, Failure> {
    let mechanisms = ehlo.auth();
    let (name, response, dummy): (&str, Secret, &[u8]) = if mechanisms & AUTH_XOAUTH2 != 0 {
        (
            "XOAUTH2",
            upstream::xoauth2(&token.user, &token.token),
            b"\r\n",
        )
    } else if mechanisms & AUTH_OAUTHBEARER != 0 {
        (
            "OAUTHBEARER",
            upstream::oauthbearer(&token.user, &token.token),
            b"AQ==\r\n",
        )
    } else {
        return Err(Failure::new(
            Code::ProtocolError,
            format!(
                "The mail server {} does not offer OAuth sign-in (AUTH XOAUTH2 or OAUTHBEARER) for SMTP. Check the bridge's SMTP server setting.",
                up.server.host.trim()
            ),
        ));
    };
    let mut line = Zeroizing::new(String::with_capacity(response.len() + 32));
    line.push_str("AUTH ");
    line.push_str(name);
    line.push(' ');
    line.push_str(response.expose());
    line.push_str("\r\n");
    let reply = up.command("AUTH", line.as_bytes()).await?;
    match reply.code {
        235 => Ok(Attempt::In(())),
        334 => {
            let status = decode_b64(&reply.last)
                .map(|j| words(&j))
                .unwrap_or_default();
            let last = up.command("AUTH", dummy).await?;
            Ok(Attempt::Refused(
                format!("{} {status}", words(&last.raw)).trim().to_string(),
            ))
        }
        500..=599 => Ok(Attempt::Refused(words(&reply.raw))),
        _ => Err(Failure::new(
            Code::ServiceUnavailable,
            format!(
                "The mail server {} could not check apppass's sign-in right now (it said: {}). Try again later.",
                up.server.host.trim(),
                words(&reply.raw)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_lines() {
        assert_eq!(reply_line(b"250-smtp.example.test"), Some((250, false)));
        assert_eq!(reply_line(b"250 2.0.0 OK"), Some((250, true)));
        assert_eq!(reply_line(b"235"), Some((235, true)));
        assert_eq!(
            reply_line(b"334 eyJzdGF0dXMiOiI0MDEifQ=="),
            Some((334, true))
        );
        assert_eq!(reply_line(b"hello there"), None);
        assert_eq!(reply_line(b"25"), None);
        assert_eq!(reply_line(b"250x"), None);
    }

    #[test]
    fn ehlo_replies_show_oauth_mechanisms() {
        let raw = b"250-mail.example.test\r\n250-PIPELINING\r\n250-AUTH PLAIN XOAUTH2 OAUTHBEARER\r\n250-STARTTLS\r\n250 8BITMIME\r\n";
        let ehlo = EhloResponse::parse(&mut raw.iter()).unwrap();
        assert_ne!(ehlo.auth() & AUTH_XOAUTH2, 0);
        assert_ne!(ehlo.auth() & AUTH_OAUTHBEARER, 0);
        assert!(ehlo.has_capability(EXT_START_TLS));
        let raw = b"250-mail.example.test\r\n250 AUTH LOGIN PLAIN\r\n";
        let ehlo = EhloResponse::parse(&mut raw.iter()).unwrap();
        assert_eq!(ehlo.auth() & (AUTH_XOAUTH2 | AUTH_OAUTHBEARER), 0);
        assert!(!ehlo.has_capability(EXT_START_TLS));
    }

    #[test]
    fn client_commands_parse_with_smtp_proto() {
        let parse = |s: &str| Request::parse(&mut s.as_bytes().iter()).map(|r| r.into_owned());
        assert!(matches!(
            parse("AUTH PLAIN AG1zbXRwAHB3\r\n"),
            Ok(Request::Auth { mechanism: AUTH_PLAIN, ref initial_response }) if initial_response == "AG1zbXRwAHB3"
        ));
        assert!(matches!(
            parse("auth login\r\n"),
            Ok(Request::Auth { mechanism: AUTH_LOGIN, ref initial_response }) if initial_response.is_empty()
        ));
        assert!(matches!(
            parse("AUTH CRAM-MD5\r\n"),
            Ok(Request::Auth { mechanism, .. }) if mechanism != AUTH_PLAIN && mechanism != AUTH_LOGIN
        ));
        assert!(matches!(parse("STARTTLS\r\n"), Ok(Request::StartTls)));
        assert!(matches!(
            parse("MAIL FROM:<a@b.c>\r\n"),
            Ok(Request::Mail { .. })
        ));
        assert!(matches!(
            parse("EHLO\r\n"),
            Err(smtp_proto::Error::SyntaxError { .. })
        ));
        assert!(matches!(
            parse("XYZZY\r\n"),
            Err(smtp_proto::Error::UnknownCommand)
        ));
    }
}
