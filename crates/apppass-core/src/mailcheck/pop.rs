//! POP3, small enough to speak directly: greeting, CAPA (RFC 2449), STLS (RFC 2595, required
//! where configured), then AUTH PLAIN (RFC 5034) when offered, else USER/PASS (RFC 1939); QUIT.

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use zeroize::Zeroizing;

use super::{net, Ctx, Stage, Stop};
use crate::vault::Security;

/// A POP3 answer line longer than this is not a POP3 server (RFC 2449 allows 512 octets).
const MAX_LINE: usize = 4096;

struct Pop<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Pop<S> {
    async fn line(&mut self, ctx: &Ctx<'_>, what: &str) -> Result<String, Stop> {
        ctx.limit(what, async {
            let mut buf = Vec::new();
            let mut limited = (&mut self.io).take(MAX_LINE as u64);
            let n = limited
                .read_until(b'\n', &mut buf)
                .await
                .map_err(|e| net::io_stop(ctx, &e))?;
            if n == 0 {
                return Err(Stop::protocol(format!(
                    "{} closed the connection",
                    ctx.hostport()
                )));
            }
            if !buf.ends_with(b"\n") {
                return Err(Stop::protocol(format!(
                    "{} sent a line longer than {MAX_LINE} bytes",
                    ctx.hostport()
                )));
            }
            Ok(String::from_utf8_lossy(&buf).trim_end().to_string())
        })
        .await
    }

    async fn send(&mut self, ctx: &Ctx<'_>, what: &str, bytes: &[u8]) -> Result<(), Stop> {
        ctx.limit(what, async {
            let io = self.io.get_mut();
            io.write_all(bytes)
                .await
                .map_err(|e| net::io_stop(ctx, &e))?;
            io.flush().await.map_err(|e| net::io_stop(ctx, &e))
        })
        .await
    }

    /// Sends a command and reads its status line: `Ok(text)` for +OK, `Err(text)` for -ERR.
    async fn command(
        &mut self,
        ctx: &Ctx<'_>,
        what: &str,
        line: &[u8],
    ) -> Result<Result<String, String>, Stop> {
        self.send(ctx, what, line).await?;
        status(ctx, &self.line(ctx, what).await?)
    }

    /// CAPA's list (upper-cased), or empty when the server does not know CAPA.
    async fn capa(&mut self, ctx: &Ctx<'_>) -> Result<Vec<String>, Stop> {
        if self.command(ctx, "CAPA", b"CAPA\r\n").await?.is_err() {
            return Ok(Vec::new());
        }
        let mut caps = Vec::new();
        loop {
            let line = self.line(ctx, "CAPA").await?;
            if line == "." {
                return Ok(caps);
            }
            caps.push(line.to_ascii_uppercase());
            if caps.len() > 200 {
                return Err(Stop::protocol("the CAPA list does not end"));
            }
        }
    }
}

fn status(ctx: &Ctx<'_>, line: &str) -> Result<Result<String, String>, Stop> {
    if let Some(rest) = line.strip_prefix("+OK") {
        Ok(Ok(rest.trim().to_string()))
    } else if let Some(rest) = line.strip_prefix("-ERR") {
        Ok(Err(rest.trim().to_string()))
    } else {
        Err(Stop::protocol(format!(
            "{} does not speak POP3 (it said {:?})",
            ctx.hostport(),
            line.chars().take(80).collect::<String>()
        )))
    }
}

pub(super) async fn check(ctx: &Ctx<'_>) -> Result<String, Stop> {
    let tcp = net::connect(ctx).await?;
    match ctx.endpoint.security {
        Security::Tls => {
            ctx.step(Stage::Tls, format!("TLS handshake with {}", ctx.hostport()));
            let tls = net::tls(ctx, tcp).await?;
            let mut pop = Pop {
                io: BufReader::new(tls),
            };
            greeting(ctx, &mut pop).await?;
            sign_in(ctx, pop).await
        }
        Security::Starttls => {
            let mut pop = Pop {
                io: BufReader::new(tcp),
            };
            greeting(ctx, &mut pop).await?;
            let caps = pop.capa(ctx).await?;
            ctx.step(
                Stage::Starttls,
                format!("Asking {} for STLS", ctx.endpoint.host),
            );
            if !caps.iter().any(|c| c == "STLS") {
                let _ = pop.send(ctx, "QUIT", b"QUIT\r\n").await;
                return Err(Stop::tls(format!(
                    "{} does not offer STLS (POP3's STARTTLS), so apppass did not send the password (it never signs in without TLS)",
                    ctx.hostport()
                )));
            }
            if let Err(text) = pop.command(ctx, "STLS", b"STLS\r\n").await? {
                return Err(Stop::tls(format!(
                    "{} refused STLS: {text}",
                    ctx.hostport()
                )));
            }
            // Anything buffered after +OK is dropped with the plain-text reader.
            let tls = net::tls(ctx, pop.io.into_inner()).await?;
            sign_in(
                ctx,
                Pop {
                    io: BufReader::new(tls),
                },
            )
            .await
        }
    }
}

async fn greeting<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: &Ctx<'_>,
    pop: &mut Pop<S>,
) -> Result<(), Stop> {
    let line = pop.line(ctx, "greeting").await?;
    match status(ctx, &line)? {
        Ok(_) => Ok(()),
        Err(text) => Err(Stop::protocol(format!(
            "{} refused the connection: {text}",
            ctx.hostport()
        ))),
    }
}

/// Over TLS only.
async fn sign_in<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: &Ctx<'_>,
    mut pop: Pop<S>,
) -> Result<String, Stop> {
    let caps = pop.capa(ctx).await?;
    let user = &ctx.endpoint.username;
    let sasl_plain = caps.iter().any(|c| {
        c.strip_prefix("SASL ")
            .is_some_and(|m| m.split_whitespace().any(|m| m == "PLAIN"))
    });
    let answer = if sasl_plain {
        ctx.step(
            Stage::Authenticating,
            format!("Signing in as {user} (AUTH PLAIN)"),
        );
        let mut raw = Zeroizing::new(Vec::new());
        raw.push(0);
        raw.extend_from_slice(user.as_bytes());
        raw.push(0);
        raw.extend_from_slice(ctx.secret.expose().as_bytes());
        // Sized up front, so that no copy of the encoded password is left behind by a reallocation.
        let mut line = Zeroizing::new(String::with_capacity(16 + raw.len().div_ceil(3) * 4));
        line.push_str("AUTH PLAIN ");
        base64::engine::general_purpose::STANDARD.encode_string(raw.as_slice(), &mut line);
        line.push_str("\r\n");
        pop.command(ctx, "sign-in", line.as_bytes()).await?
    } else {
        ctx.step(
            Stage::Authenticating,
            format!("Signing in as {user} (USER/PASS)"),
        );
        if user.contains(['\r', '\n']) {
            return Err(Stop::protocol("the user name holds a line break"));
        }
        match pop
            .command(ctx, "sign-in", format!("USER {user}\r\n").as_bytes())
            .await?
        {
            Ok(_) => {
                let mut line = Zeroizing::new(b"PASS ".to_vec());
                line.extend_from_slice(ctx.secret.expose().as_bytes());
                line.extend_from_slice(b"\r\n");
                pop.command(ctx, "sign-in", &line).await?
            }
            Err(text) => Err(text),
        }
    };
    match answer {
        Ok(text) => {
            let _ = pop.command(ctx, "QUIT", b"QUIT\r\n").await;
            Ok(format!("+OK {text}"))
        }
        Err(text) => Err(Stop::auth(format!("-ERR {text}"))),
    }
}
