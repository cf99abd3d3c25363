//! IMAP with async-imap: greeting, CAPABILITY, STARTTLS (required where configured), then
//! AUTHENTICATE PLAIN when offered, else LOGIN unless LOGINDISABLED; LOGOUT.

use async_imap::imap_proto::{Capability, Response, ResponseCode, Status};
use async_imap::types::UnsolicitedResponse;
use async_imap::{Authenticator, Client};
use tokio::io::{AsyncRead, AsyncWrite};
use zeroize::Zeroizing;

use super::{net, Ctx, Stage, Stop};
use crate::vault::Security;

pub(super) async fn check(ctx: &Ctx<'_>) -> Result<String, Stop> {
    let tcp = net::connect(ctx).await?;
    match ctx.endpoint.security {
        Security::Tls => {
            ctx.step(Stage::Tls, format!("TLS handshake with {}", ctx.hostport()));
            let tls = net::tls(ctx, tcp).await?;
            let mut client = Client::new(tls);
            greeting(ctx, &mut client).await?;
            sign_in(ctx, client).await
        }
        Security::Starttls => {
            let mut client = Client::new(tcp);
            let mut caps = greeting(ctx, &mut client).await?;
            if caps.is_empty() {
                caps = capabilities(ctx, &mut client).await?;
            }
            ctx.step(
                Stage::Starttls,
                format!("Asking {} for STARTTLS", ctx.endpoint.host),
            );
            if !caps.iter().any(|c| c == "STARTTLS") {
                let _ = tokio::time::timeout(
                    ctx.timeout,
                    client.run_command_and_check_ok("LOGOUT", None),
                )
                .await;
                return Err(Stop::tls(format!(
                    "{} does not offer STARTTLS, so apppass did not send the password (it never signs in without TLS)",
                    ctx.hostport()
                )));
            }
            ctx.limit("STARTTLS", async {
                client
                    .run_command_and_check_ok("STARTTLS", None)
                    .await
                    .map_err(|e| stop(ctx, e, false))
            })
            .await?;
            // Anything the server sent after its OK is dropped with the plain-text reader.
            let tls = net::tls(ctx, client.into_inner()).await?;
            sign_in(ctx, Client::new(tls)).await
        }
    }
}

/// Reads the greeting; returns the capabilities it carries, if any.
async fn greeting<S>(ctx: &Ctx<'_>, client: &mut Client<S>) -> Result<Vec<String>, Stop>
where
    S: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    ctx.limit("greeting", async {
        let response = client
            .read_response()
            .await
            .map_err(|e| net::io_stop(ctx, &e))?
            .ok_or_else(|| {
                Stop::protocol(format!(
                    "{} closed the connection before its greeting",
                    ctx.hostport()
                ))
            })?;
        match response.parsed() {
            Response::Data {
                status: Status::Ok,
                outcome,
            } => Ok(match &outcome.code {
                Some(ResponseCode::Capabilities(caps)) => caps.iter().map(cap_name).collect(),
                _ => Vec::new(),
            }),
            Response::Data { status, outcome } => Err(Stop::protocol(format!(
                "the server's greeting is {status:?}: {}",
                outcome.information.as_deref().unwrap_or("")
            ))),
            other => Err(Stop::protocol(format!(
                "unexpected greeting from {}: {other:?}",
                ctx.hostport()
            ))),
        }
    })
    .await
}

/// Sends CAPABILITY and collects the answer.
async fn capabilities<S>(ctx: &Ctx<'_>, client: &mut Client<S>) -> Result<Vec<String>, Stop>
where
    S: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let (tx, rx) = async_channel::bounded(64);
    ctx.limit("CAPABILITY", async {
        client
            .run_command_and_check_ok("CAPABILITY", Some(tx))
            .await
            .map_err(|e| stop(ctx, e, false))
    })
    .await?;
    let mut caps = Vec::new();
    while let Ok(unsolicited) = rx.try_recv() {
        if let UnsolicitedResponse::Other(data) = unsolicited {
            if let Response::Capabilities(list) = data.parsed() {
                caps.extend(list.iter().map(cap_name));
            }
        }
    }
    Ok(caps)
}

fn cap_name(c: &Capability<'_>) -> String {
    match c {
        Capability::Imap4rev1 => "IMAP4REV1".to_string(),
        Capability::Auth(m) => format!("AUTH={}", m.to_ascii_uppercase()),
        Capability::Atom(a) => a.to_ascii_uppercase(),
    }
}

/// Over TLS only: asks for capabilities again (RFC 3501: they may change after STARTTLS), signs
/// in, signs out.
async fn sign_in<S>(ctx: &Ctx<'_>, mut client: Client<S>) -> Result<String, Stop>
where
    S: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let caps = capabilities(ctx, &mut client).await?;
    let user = &ctx.endpoint.username;
    let session = if caps.iter().any(|c| c == "AUTH=PLAIN") {
        ctx.step(
            Stage::Authenticating,
            format!("Signing in as {user} (AUTHENTICATE PLAIN)"),
        );
        let plain = Plain {
            user,
            password: ctx.secret.expose(),
        };
        ctx.limit("sign-in", async {
            client
                .authenticate("PLAIN", plain)
                .await
                .map_err(|(e, _)| stop(ctx, e, true))
        })
        .await?
    } else if !caps.iter().any(|c| c == "LOGINDISABLED") {
        ctx.step(
            Stage::Authenticating,
            format!("Signing in as {user} (LOGIN)"),
        );
        ctx.limit("sign-in", async {
            client
                .login(user, ctx.secret.expose())
                .await
                .map_err(|(e, _)| stop(ctx, e, true))
        })
        .await?
    } else {
        return Err(Stop::protocol(format!(
            "{} offers neither AUTHENTICATE PLAIN nor LOGIN, so apppass cannot sign in with a password there",
            ctx.hostport()
        )));
    };
    let mut session = session;
    let _ = tokio::time::timeout(ctx.timeout, session.logout()).await;
    Ok("OK signed in".to_string())
}

/// SASL PLAIN (RFC 4616): authorization identity empty, then user and password.
struct Plain<'a> {
    user: &'a str,
    password: &'a str,
}

impl Authenticator for Plain<'_> {
    type Response = Zeroizing<Vec<u8>>;

    fn process(&mut self, _challenge: &[u8]) -> Self::Response {
        let mut out = Zeroizing::new(Vec::with_capacity(
            self.user.len() + self.password.len() + 2,
        ));
        out.push(0);
        out.extend_from_slice(self.user.as_bytes());
        out.push(0);
        out.extend_from_slice(self.password.as_bytes());
        out
    }
}

/// Sorts an async-imap error. NO to a sign-in is a rejection, with the server's text.
fn stop(ctx: &Ctx<'_>, e: async_imap::error::Error, during_auth: bool) -> Stop {
    use async_imap::error::Error as E;
    match e {
        E::No(text) if during_auth => Stop::auth(server_text(&text)),
        E::No(text) | E::Bad(text) => {
            Stop::protocol(format!("{}: {}", ctx.hostport(), server_text(&text)))
        }
        E::Io(io) => net::io_stop(ctx, &io),
        E::ConnectionLost => Stop::protocol(format!("{} closed the connection", ctx.hostport())),
        E::Validate(v) => Stop::protocol(format!(
            "the user name or password holds a character IMAP cannot send ({v})"
        )),
        other => Stop::protocol(format!("{}: {other}", ctx.hostport())),
    }
}

/// async-imap words a NO or BAD as `code: Some(..), info: Some("text")`; the server's own text is
/// the `info` part. Codes that imap-proto does not know (AUTHENTICATIONFAILED) stay in the text
/// as `[CODE]`.
fn server_text(text: &str) -> String {
    let Some(start) = text.find("info: Some(\"") else {
        return text.to_string();
    };
    let rest = &text[start + "info: Some(\"".len()..];
    let Some(end) = rest.rfind("\")") else {
        return text.to_string();
    };
    let info = rest[..end].replace("\\\"", "\"").replace("\\\\", "\\");
    let code = text
        .strip_prefix("code: Some(")
        .and_then(|c| c.split_once("), info:"))
        .map(|(c, _)| c.to_ascii_uppercase());
    match code {
        Some(code) => format!("[{code}] {info}"),
        None => info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_is_taken_from_async_imaps_wording() {
        // The exact wording async-imap uses (client.rs, check_status_ok).
        let code: Option<&ResponseCode<'_>> = None;
        let info = Some("[AUTHENTICATIONFAILED] Authentication failed.");
        let wording = format!("code: {code:?}, info: {info:?}");
        assert_eq!(
            server_text(&wording),
            "[AUTHENTICATIONFAILED] Authentication failed."
        );
        let code = Some(&ResponseCode::Alert);
        let info = Some("say \"hi\"");
        assert_eq!(
            server_text(&format!("code: {code:?}, info: {info:?}")),
            "[ALERT] say \"hi\""
        );
        assert_eq!(server_text("something else"), "something else");
    }

    #[test]
    fn plain_response_is_nul_separated() {
        let mut p = Plain {
            user: "ann",
            password: "pw",
        };
        assert_eq!(p.process(b"").as_slice(), b"\0ann\0pw");
    }
}
