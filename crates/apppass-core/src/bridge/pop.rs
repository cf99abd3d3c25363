//! The POP3 side of the bridge (RFC 1939, 2449, 2595, 5034).
//!
//! Before sign-in the bridge answers the client itself: greeting, CAPA (`USER`, `SASL PLAIN`,
//! `STLS` on a plain connection, `RESP-CODES`, `AUTH-RESP-CODE`), STLS, USER/PASS, AUTH PLAIN
//! (with an initial response or after `+ `), QUIT; anything else is refused until the client has
//! signed in. Once the local password is right: TCP to the server, TLS (POP3S, or the server's
//! STLS), `AUTH XOAUTH2` (or OAUTHBEARER) with the token sent after the server's `+` — RFC 5034
//! §4 forbids initial responses that make the command line longer than 255 octets, and access
//! tokens are longer; this is also the form Microsoft documents for POP. On `+OK` the client
//! gets `+OK Logged in` and the rest of the session is relayed.
//!
//! The commands are parsed by hand: no maintained POP3 server-side crate exists (pop3-codec has
//! had no release since 2022 and parses commands of the transaction state we never read;
//! sawp-pop3 is a passive traffic analyser). Before sign-in POP3 is six commands of one keyword
//! and at most two arguments, so the parser is a few lines ([`parse`], unit-tested below).

use std::io;
use std::sync::Arc;

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

const GREETING: &[u8] = b"+OK apppass bridge ready\r\n";
const WRONG: &[u8] = b"-ERR [AUTH] Wrong user name or password for the apppass bridge\r\n";

/// The longest line the bridge reads from the server before relaying (RFC 2449: 512).
const MAX_REPLY_LINE: usize = 4096;

/// One client connection to the POP3 listener, from greeting to the end of the relay.
pub(crate) async fn serve(shared: Arc<Shared>, stream: LocalStream, session: u64) {
    let _ = run(&shared, session, stream).await;
}

/// A client command before sign-in.
#[derive(Debug, PartialEq, Eq)]
enum Command<'a> {
    Capa,
    Stls,
    /// The rest of the line.
    User(&'a [u8]),
    /// The rest of the line (a password may hold spaces).
    Pass(&'a [u8]),
    /// `AUTH` alone lists the mechanisms; else the mechanism and the initial response.
    Auth(Option<&'a [u8]>, Option<&'a [u8]>),
    Quit,
    /// A POP3 command of the transaction state (needs sign-in first).
    Later,
    Unknown,
}

/// Parses one line (without CR LF): a keyword, case-insensitive, and its arguments.
fn parse(line: &[u8]) -> Command<'_> {
    let (keyword, rest) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], Some(&line[i + 1..])),
        None => (line, None),
    };
    let keyword = keyword.to_ascii_uppercase();
    let no_args = rest.is_none_or(|r| r.trim_ascii().is_empty());
    match (keyword.as_slice(), rest) {
        (b"CAPA", _) if no_args => Command::Capa,
        (b"STLS", _) if no_args => Command::Stls,
        (b"QUIT", _) if no_args => Command::Quit,
        (b"USER", Some(name)) if !name.trim_ascii().is_empty() => Command::User(name),
        (b"PASS", Some(pass)) if !pass.is_empty() => Command::Pass(pass),
        (b"AUTH", None) => Command::Auth(None, None),
        (b"AUTH", Some(args)) => {
            let mut words = args.split(|&b| b == b' ').filter(|w| !w.is_empty());
            match (words.next(), words.next(), words.next()) {
                (None, _, _) => Command::Auth(None, None),
                (Some(mech), ir, None) => Command::Auth(Some(mech), ir),
                _ => Command::Unknown,
            }
        }
        (
            b"STAT" | b"LIST" | b"RETR" | b"DELE" | b"NOOP" | b"RSET" | b"TOP" | b"UIDL" | b"APOP"
            | b"UTF8" | b"LANG",
            _,
        ) => Command::Later,
        _ => Command::Unknown,
    }
}

struct Client<'a> {
    shared: &'a Shared,
    session: u64,
    lines: Lines<LocalStream>,
}

impl Client<'_> {
    async fn say(&mut self, reply: &[u8]) -> io::Result<()> {
        self.shared.log(self.session, Protocol::Pop, false, reply);
        self.lines.send(reply).await
    }

    async fn read(&mut self) -> io::Result<Line> {
        let line = self.lines.line_within(MAX_LINE, IDLE).await?;
        if let Line::Text(l) = &line {
            self.shared.log(self.session, Protocol::Pop, true, l);
        }
        Ok(line)
    }

    async fn capa(&mut self) -> io::Result<()> {
        let mut reply = String::from("+OK Capability list follows\r\nUSER\r\nSASL PLAIN\r\n");
        if !self.lines.get_ref().is_tls() {
            reply.push_str("STLS\r\n");
        }
        reply.push_str("RESP-CODES\r\nAUTH-RESP-CODE\r\n.\r\n");
        self.say(reply.as_bytes()).await
    }

    /// AUTH PLAIN's message: the initial response, or the line after `+ `. `None` when the
    /// client cancelled (already answered).
    async fn plain(&mut self, initial: Option<&[u8]>) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
        match initial {
            Some(b"=") => Ok(Some(Zeroizing::new(Vec::new()))),
            Some(ir) => Ok(Some(Zeroizing::new(ir.to_vec()))),
            None => {
                self.say(b"+ \r\n").await?;
                match self.read().await? {
                    Line::Text(l) if l.as_slice() == b"*" => {
                        self.say(b"-ERR Authentication cancelled\r\n").await?;
                        Ok(None)
                    }
                    Line::Text(l) => Ok(Some(l)),
                    Line::TooLong | Line::Closed => Err(io::ErrorKind::UnexpectedEof.into()),
                }
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
    let mut user: Option<String> = None;
    let mut errors = 0u32;
    loop {
        let line = match client.read().await? {
            Line::Text(l) => l,
            Line::TooLong => return client.say(b"-ERR Line too long, closing\r\n").await,
            Line::Closed => return Ok(()),
        };
        // The user name and password the command gives, if it is a sign-in.
        let given: Option<(String, Secret)> = match parse(&line) {
            Command::Capa => {
                client.capa().await?;
                None
            }
            Command::Stls => {
                if client.lines.get_ref().is_tls() {
                    client.say(b"-ERR TLS is already active\r\n").await?;
                    errors += 1;
                } else {
                    client.say(b"+OK Begin TLS negotiation\r\n").await?;
                    client.lines = client.lines.starttls(&shared.acceptor).await?;
                    user = None;
                }
                None
            }
            Command::User(name) => {
                match user_name(name) {
                    Some(name) => {
                        user = Some(name);
                        client.say(b"+OK Send PASS\r\n").await?;
                    }
                    None => {
                        client.say(b"-ERR Invalid user name\r\n").await?;
                        errors += 1;
                    }
                }
                None
            }
            Command::Pass(pass) => match (user.take(), Secret::from_bytes(pass.to_vec())) {
                (Some(name), Some(pass)) => Some((name, pass)),
                (None, _) => {
                    client.say(b"-ERR Send USER first\r\n").await?;
                    errors += 1;
                    None
                }
                (Some(_), None) => {
                    client.say(WRONG).await?;
                    errors += 1;
                    None
                }
            },
            Command::Auth(None, _) => {
                client.say(b"+OK\r\nPLAIN\r\n.\r\n").await?;
                None
            }
            Command::Auth(Some(mech), initial) if mech.eq_ignore_ascii_case(b"PLAIN") => {
                match client.plain(initial).await? {
                    None => {
                        errors += 1;
                        None
                    }
                    Some(message) => match sasl_plain(&message) {
                        Some(given) => Some(given),
                        None => {
                            client
                                .say(b"-ERR Cannot decode the AUTH PLAIN response\r\n")
                                .await?;
                            errors += 1;
                            None
                        }
                    },
                }
            }
            Command::Auth(Some(_), _) => {
                client
                    .say(b"-ERR Unsupported SASL mechanism (use PLAIN)\r\n")
                    .await?;
                errors += 1;
                None
            }
            Command::Quit => return client.say(b"+OK apppass bridge signing off\r\n").await,
            Command::Later => {
                client
                    .say(b"-ERR Sign in first (USER and PASS, or AUTH PLAIN)\r\n")
                    .await?;
                errors += 1;
                None
            }
            Command::Unknown => {
                client.say(b"-ERR Unknown command\r\n").await?;
                errors += 1;
                None
            }
        };
        if let Some((name, password)) = given {
            match shared
                .check_local(session, Protocol::Pop, &name, password)
                .await
            {
                Err(LocalRefusal::Wrong) => {
                    client.say(WRONG).await?;
                    errors += 1;
                }
                Err(LocalRefusal::Unavailable(_)) => {
                    client
                        .say(b"-ERR [SYS/TEMP] apppass cannot check passwords right now (is the keyring locked?); try again later\r\n")
                        .await?;
                }
                Ok(bridge_client) => {
                    let Some(server) = shared.config.pop.clone() else {
                        client
                            .say(b"-ERR [SYS/PERM] apppass has no POP3 server configured for the bridge\r\n")
                            .await?;
                        continue;
                    };
                    let signed_in =
                        sign_in_upstream(shared, Protocol::Pop, &bridge_client, &server, |token| {
                            open_and_authenticate(shared, session, &server, token)
                        })
                        .await;
                    match signed_in {
                        Ok(upstream) => {
                            client.say(b"+OK Logged in\r\n").await?;
                            shared.status.relaying(session);
                            return session::relay(
                                shared,
                                session,
                                Protocol::Pop,
                                client.lines,
                                upstream,
                            )
                            .await
                            .map(|_| ());
                        }
                        Err(Upstream::Refused) => {
                            client
                                .say(b"-ERR [AUTH] apppass: the mail server refused the sign-in; open apppass and sign in again\r\n")
                                .await?;
                        }
                        Err(Upstream::SignInNeeded) => {
                            client
                                .say(b"-ERR [SYS/TEMP] apppass: sign in again in apppass, then try again\r\n")
                                .await?;
                        }
                        Err(Upstream::Unavailable) => {
                            client
                                .say(b"-ERR [SYS/TEMP] apppass cannot sign in to the mail server right now (see apppass's bridge status); try again later\r\n")
                                .await?;
                        }
                    }
                }
            }
        }
        if errors >= MAX_ERRORS {
            return client
                .say(b"-ERR Too many errors, closing the connection\r\n")
                .await;
        }
    }
}

/// A status line of the server.
#[derive(Debug, PartialEq, Eq)]
enum Status {
    Ok,
    Err,
    /// `+ ` and a SASL challenge (base64).
    More(Vec<u8>),
}

fn status(line: &[u8]) -> Option<Status> {
    if line.starts_with(b"+OK") {
        Some(Status::Ok)
    } else if line.starts_with(b"-ERR") {
        Some(Status::Err)
    } else if line == b"+" {
        Some(Status::More(Vec::new()))
    } else {
        line.strip_prefix(b"+ ")
            .map(|c| Status::More(c.trim_ascii().to_vec()))
    }
}

/// The bridge as a POP3 client of the mail server.
struct Up<'a> {
    shared: &'a Shared,
    session: u64,
    server: &'a Server,
    lines: Lines<UpstreamStream>,
}

impl Up<'_> {
    async fn send(&mut self, what: &str, bytes: &[u8]) -> Result<(), Failure> {
        self.shared
            .log_upstream(self.session, Protocol::Pop, true, bytes);
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

    async fn line(&mut self, what: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
        let server = self.server;
        let lines = &mut self.lines;
        let line = upstream::limit(server, self.shared.config.upstream_timeout, what, async {
            match lines
                .line(MAX_REPLY_LINE)
                .await
                .map_err(|e| io_failure(server, what, &e))?
            {
                Line::Text(l) => Ok(l),
                Line::TooLong => Err(unexpected(server, what, b"a line too long")),
                Line::Closed => Err(io_failure(
                    server,
                    what,
                    &io::ErrorKind::UnexpectedEof.into(),
                )),
            }
        })
        .await?;
        self.shared
            .log_upstream(self.session, Protocol::Pop, false, &line);
        Ok(line)
    }

    /// A status line; anything else is a protocol error.
    async fn status(&mut self, what: &str) -> Result<(Status, Zeroizing<Vec<u8>>), Failure> {
        let line = self.line(what).await?;
        match status(&line) {
            Some(s) => Ok((s, line)),
            None => Err(unexpected(self.server, what, &line)),
        }
    }

    /// CAPA's list (upper case), or empty when the server does not know CAPA.
    async fn capa(&mut self) -> Result<Vec<String>, Failure> {
        self.send("CAPA", b"CAPA\r\n").await?;
        if self.status("CAPA").await?.0 != Status::Ok {
            return Ok(Vec::new());
        }
        let mut caps = Vec::new();
        for _ in 0..200 {
            let line = self.line("CAPA").await?;
            if line.as_slice() == b"." {
                return Ok(caps);
            }
            caps.push(String::from_utf8_lossy(&line).to_ascii_uppercase());
        }
        Err(unexpected(self.server, "CAPA", b"a list that does not end"))
    }

    async fn quit(mut self) {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
            let _ = self.lines.send(b"QUIT\r\n").await;
            let _ = self.lines.line(MAX_REPLY_LINE).await;
        })
        .await;
    }
}

/// Opens a new connection to the server (TLS from the first byte, or STLS) and reads CAPA over
/// TLS.
async fn open<'a>(
    shared: &'a Shared,
    session: u64,
    server: &'a Server,
) -> Result<(Up<'a>, Vec<String>), Failure> {
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
    let (greeting, line) = up.status("the greeting").await?;
    if greeting != Status::Ok {
        return Err(unexpected(server, "the connection", &line));
    }
    if !up.lines.get_ref().is_tls() {
        let caps = up.capa().await?;
        if !caps.iter().any(|c| c == "STLS") {
            up.quit().await;
            return Err(Failure::new(
                Code::TlsFailure,
                format!(
                    "The mail server {} port {} does not offer STLS, and the bridge never signs in without TLS. Check the bridge's POP3 server setting (port 995 is TLS from the first byte).",
                    server.host.trim(),
                    server.port
                ),
            ));
        }
        up.send("STLS", b"STLS\r\n").await?;
        let (answer, line) = up.status("STLS").await?;
        if answer != Status::Ok {
            return Err(unexpected(server, "STLS", &line));
        }
        let (stream, ahead) = up.lines.into_parts();
        if !ahead.is_empty() {
            return Err(unexpected(server, "STLS", b"data before the TLS handshake"));
        }
        let stream = upstream::tls(stream, server, &shared.upstream_tls, timeout).await?;
        up = Up {
            shared,
            session,
            server,
            lines: Lines::new(stream),
        };
    }
    let caps = up.capa().await?;
    Ok((up, caps))
}

/// XOAUTH2 unless the server lists SASL mechanisms with OAUTHBEARER and without XOAUTH2.
fn mechanism(caps: &[String]) -> &'static str {
    let sasl: Option<Vec<&str>> = caps
        .iter()
        .find_map(|c| c.strip_prefix("SASL "))
        .map(|m| m.split_whitespace().collect());
    match sasl {
        Some(m) if !m.contains(&"XOAUTH2") && m.contains(&"OAUTHBEARER") => "OAUTHBEARER",
        _ => "XOAUTH2",
    }
}

/// One sign-in attempt on a new connection.
async fn open_and_authenticate<'a>(
    shared: &'a Shared,
    session: u64,
    server: &'a Server,
    token: UpstreamToken,
) -> Result<Attempt<Lines<UpstreamStream>>, Failure> {
    let (mut up, caps) = open(shared, session, server).await?;
    match authenticate(&mut up, &caps, &token).await? {
        Attempt::In(()) => Ok(Attempt::In(up.lines)),
        Attempt::Refused(said) => {
            up.quit().await;
            Ok(Attempt::Refused(said))
        }
    }
}

/// `AUTH XOAUTH2`, `+`, the token's SASL message. A refusal comes as `+ <base64 JSON>`, to
/// which the bridge answers empty (XOAUTH2) or `^A` (OAUTHBEARER), then `-ERR`.
async fn authenticate(
    up: &mut Up<'_>,
    caps: &[String],
    token: &UpstreamToken,
) -> Result<Attempt<()>, Failure> {
    let name = mechanism(caps);
    let (response, dummy): (Secret, &[u8]) = if name == "XOAUTH2" {
        (upstream::xoauth2(&token.user, &token.token), b"\r\n")
    } else {
        (
            upstream::oauthbearer(&token.user, &token.token),
            b"AQ==\r\n",
        )
    };
    up.send("AUTH", format!("AUTH {name}\r\n").as_bytes())
        .await?;
    match up.status("AUTH").await? {
        (Status::More(_), _) => {}
        (_, line) => {
            return Err(Failure::new(
                Code::ProtocolError,
                format!(
                    "The mail server {} does not take OAuth sign-in (AUTH {name}) for POP3 (it said: {}). Check the bridge's POP3 server setting.",
                    up.server.host.trim(),
                    words(&line)
                ),
            ))
        }
    }
    let mut line = Zeroizing::new(String::with_capacity(response.len() + 2));
    line.push_str(response.expose());
    line.push_str("\r\n");
    up.send("AUTH", line.as_bytes()).await?;
    let (answer, line) = match up.status("AUTH").await? {
        (Status::More(challenge), _) => {
            let said = decode_b64(&challenge)
                .map(|j| words(&j))
                .unwrap_or_default();
            up.send("AUTH", dummy).await?;
            let (answer, line) = up.status("AUTH").await?;
            let mut text = words(&line);
            if !said.is_empty() {
                text = format!("{text} {said}");
            }
            (answer, Zeroizing::new(text.into_bytes()))
        }
        other => other,
    };
    match answer {
        Status::Ok => Ok(Attempt::In(())),
        Status::Err if is_temporary(&line) => Err(Failure::new(
            Code::ServiceUnavailable,
            format!(
                "The mail server {} could not sign apppass in right now (it said: {}). Try again later.",
                up.server.host.trim(),
                words(&line)
            ),
        )),
        _ => Ok(Attempt::Refused(words(&line))),
    }
}

/// `-ERR [SYS/TEMP] …` or `[IN-USE]` (RFC 2449, 3206): not a verdict on the token.
fn is_temporary(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line).to_ascii_uppercase();
    text.contains("[SYS/TEMP]") || text.contains("[IN-USE]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(parse(b"CAPA"), Command::Capa);
        assert_eq!(parse(b"capa "), Command::Capa);
        assert_eq!(parse(b"STLS"), Command::Stls);
        assert_eq!(parse(b"quit"), Command::Quit);
        assert_eq!(parse(b"USER thunderbird"), Command::User(b"thunderbird"));
        assert_eq!(parse(b"USER"), Command::Unknown);
        assert_eq!(parse(b"PASS two words"), Command::Pass(b"two words"));
        assert_eq!(parse(b"PASS"), Command::Unknown);
        assert_eq!(parse(b"AUTH"), Command::Auth(None, None));
        assert_eq!(parse(b"auth plain"), Command::Auth(Some(b"plain"), None));
        assert_eq!(
            parse(b"AUTH PLAIN AHUAcA=="),
            Command::Auth(Some(b"PLAIN"), Some(b"AHUAcA=="))
        );
        assert_eq!(parse(b"AUTH PLAIN a b"), Command::Unknown);
        assert_eq!(parse(b"STAT"), Command::Later);
        assert_eq!(parse(b"retr 1"), Command::Later);
        assert_eq!(parse(b"STLS now"), Command::Unknown);
        assert_eq!(parse(b""), Command::Unknown);
        assert_eq!(parse(b"XYZZY"), Command::Unknown);
    }

    #[test]
    fn server_status_lines() {
        assert_eq!(status(b"+OK Dovecot ready."), Some(Status::Ok));
        assert_eq!(
            status(b"-ERR [AUTH] Authentication failed."),
            Some(Status::Err)
        );
        assert_eq!(status(b"+"), Some(Status::More(Vec::new())));
        assert_eq!(
            status(b"+ eyJzdGF0dXMiOiI0MDEifQ=="),
            Some(Status::More(b"eyJzdGF0dXMiOiI0MDEifQ==".to_vec()))
        );
        assert_eq!(status(b"* OK IMAP"), None);
        assert!(is_temporary(b"-ERR [SYS/TEMP] Try again"));
        assert!(is_temporary(b"-ERR [IN-USE] Mailbox locked"));
        assert!(!is_temporary(b"-ERR [AUTH] Authentication failed."));
    }

    #[test]
    fn mechanism_choice() {
        let caps = |s: &[&str]| s.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        assert_eq!(
            mechanism(&caps(&["USER", "SASL PLAIN XOAUTH2 OAUTHBEARER"])),
            "XOAUTH2"
        );
        assert_eq!(mechanism(&caps(&["SASL PLAIN OAUTHBEARER"])), "OAUTHBEARER");
        assert_eq!(
            mechanism(&caps(&["USER"])),
            "XOAUTH2",
            "no SASL line: try XOAUTH2"
        );
    }
}
