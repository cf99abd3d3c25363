//! The loopback listener that receives the browser's answer (RFC 8252 §7.3).
//!
//! It listens on 127.0.0.1 only, on an ephemeral port, and takes ONE request for the callback
//! path: the first such request ends the wait whatever it says (success or error), and the
//! listener is closed. Other requests (a browser's `/favicon.ico`) get a 404 and do not count.
//! The wait also ends on cancel or timeout. The tab gets a short page with no secret in it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::error::{Code, Failure};
use crate::policy::RedirectForm;
use crate::signin::config::check_loopback_redirect;

/// A request larger than this is not a callback.
const MAX_REQUEST: usize = 16 * 1024;
/// How long one connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Lets the app or the CLI stop a sign-in that is waiting (for the browser or for the code).
#[derive(Clone, Default)]
pub struct Cancellation(Arc<(AtomicBool, tokio::sync::Notify)>);

impl Cancellation {
    pub fn new() -> Cancellation {
        Cancellation::default()
    }

    pub fn cancel(&self) {
        self.0 .0.store(true, Ordering::SeqCst);
        self.0 .1.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0 .0.load(Ordering::SeqCst)
    }

    /// Resolves once [`Cancellation::cancel`] has been called.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0 .1.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

pub(crate) fn cancelled_failure() -> Failure {
    Failure::new(
        Code::SignInCancelled,
        "The sign-in was cancelled. Nothing was changed; sign in again when you are ready.",
    )
}

/// The query parameters of the browser's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub params: Vec<(String, String)>,
}

impl Callback {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The browser's connection, kept open until the outcome is known so that the tab shows it.
pub struct Reply {
    stream: TcpStream,
}

impl Reply {
    /// Sends the closing page: "signed in" or "did not complete" with a fixed text per code.
    pub async fn send(mut self, outcome: Result<(), Code>) {
        let (status, title, text) = match outcome {
            Ok(()) => (
                "200 OK",
                "Signed in to apppass",
                "You are signed in. You can close this tab and return to apppass.".to_string(),
            ),
            Err(code) => (
                "400 Bad Request",
                "Sign-in did not complete",
                format!(
                    "{} You can close this tab and return to apppass, which says what to do next (code {}).",
                    page_reason(code),
                    code.as_str()
                ),
            ),
        };
        let body = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head><body style=\"font-family:sans-serif;margin:3em\"><h1>{title}</h1><p>{text}</p></body></html>"
        );
        write_response(&mut self.stream, status, &body).await;
    }
}

fn page_reason(code: Code) -> &'static str {
    match code {
        Code::StateMismatch => "This answer does not belong to the sign-in apppass started.",
        Code::SignInDenied => "The sign-in was declined.",
        Code::IssuerMismatch => "The answer came from another identity provider.",
        _ => "apppass could not finish the sign-in.",
    }
}

async fn write_response(stream: &mut TcpStream, status: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nContent-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Listens for the callback.
pub struct LoopbackListener {
    listener: TcpListener,
    redirect_uri: String,
    path: String,
}

impl LoopbackListener {
    /// Binds 127.0.0.1 on an ephemeral port (both redirect forms listen on 127.0.0.1 only).
    pub async fn bind(form: RedirectForm) -> Result<LoopbackListener, Failure> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
            Failure::new(
                Code::Internal,
                format!("Cannot listen on 127.0.0.1 for the sign-in answer ({e}). Use sign-in with a code instead (`apppass login --device-code`)."),
            )
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| Failure::new(Code::Internal, format!("No local address: {e}")))?
            .port();
        let host = match form {
            RedirectForm::LoopbackIp => "127.0.0.1",
            RedirectForm::Localhost => "localhost",
        };
        let redirect_uri = format!("http://{host}:{port}/");
        let url = check_loopback_redirect(&redirect_uri)?;
        Ok(LoopbackListener {
            listener,
            path: url.path().to_string(),
            redirect_uri,
        })
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Waits for the one callback request. The listener is closed when this returns.
    pub async fn wait(
        self,
        timeout: Duration,
        cancel: &Cancellation,
    ) -> Result<(Callback, Reply), Failure> {
        let accept = async {
            loop {
                let Ok((mut stream, _)) = self.listener.accept().await else {
                    continue;
                };
                match read_request(&mut stream).await {
                    Some((method, target)) => {
                        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                        if method == "GET" && path == self.path {
                            let params = url::form_urlencoded::parse(query.as_bytes())
                                .into_owned()
                                .collect();
                            return (Callback { params }, Reply { stream });
                        }
                        write_response(&mut stream, "404 Not Found", "Not found").await;
                    }
                    None => write_response(&mut stream, "400 Bad Request", "Bad request").await,
                }
            }
        };
        tokio::select! {
            got = accept => Ok(got),
            _ = tokio::time::sleep(timeout) => Err(Failure::new(
                Code::SignInTimedOut,
                format!("No answer came back from the browser within {} minutes. Start the sign-in again; if the browser did not open, copy the printed address into it, or use `apppass login --device-code`.", timeout.as_secs().div_ceil(60)),
            )),
            _ = cancel.cancelled() => Err(cancelled_failure()),
        }
    }
}

/// Reads the request head; returns the method and target, or `None` for anything malformed.
async fn read_request(stream: &mut TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        let mut chunk = [0u8; 2048];
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                return Some(());
            }
            if buf.len() > MAX_REQUEST {
                return None;
            }
        }
    };
    tokio::time::timeout(READ_TIMEOUT, read).await.ok()??;
    let head = std::str::from_utf8(&buf).ok()?;
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return None;
    }
    Some((method.to_string(), target.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn request(port: u16, raw: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(raw.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn takes_one_callback_ignores_others_and_closes() {
        let l = LoopbackListener::bind(RedirectForm::LoopbackIp)
            .await
            .unwrap();
        let port = l.port();
        assert_eq!(l.redirect_uri(), format!("http://127.0.0.1:{port}/"));
        let cancel = Cancellation::new();
        let waiter = tokio::spawn(async move { l.wait(Duration::from_secs(10), &cancel).await });
        let favicon = request(port, "GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(favicon.starts_with("HTTP/1.1 404"));
        let junk = request(port, "HELLO\r\n\r\n").await;
        assert!(junk.starts_with("HTTP/1.1 400"));
        let browser = tokio::spawn(request(
            port,
            "GET /?code=c%2B1&state=s1 HTTP/1.1\r\nHost: x\r\n\r\n",
        ));
        let (callback, reply) = waiter.await.unwrap().unwrap();
        assert_eq!(callback.get("code"), Some("c+1"));
        assert_eq!(callback.get("state"), Some("s1"));
        reply.send(Ok(())).await;
        let page = browser.await.unwrap();
        assert!(page.contains("You can close this tab"));
        assert!(!page.contains("c+1") && !page.contains("c%2B1"));
        // Closed: nothing listens any more.
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    }

    #[tokio::test]
    async fn times_out_and_cancels() {
        let l = LoopbackListener::bind(RedirectForm::Localhost)
            .await
            .unwrap();
        assert!(l.redirect_uri().starts_with("http://localhost:"));
        let err = l
            .wait(Duration::from_millis(50), &Cancellation::new())
            .await
            .err()
            .unwrap();
        assert_eq!(err.code, Code::SignInTimedOut);

        let l = LoopbackListener::bind(RedirectForm::LoopbackIp)
            .await
            .unwrap();
        let cancel = Cancellation::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            c2.cancel();
        });
        let err = l
            .wait(Duration::from_secs(10), &cancel)
            .await
            .err()
            .unwrap();
        assert_eq!(err.code, Code::SignInCancelled);
    }

    #[tokio::test]
    async fn error_page_names_the_code_only() {
        let l = LoopbackListener::bind(RedirectForm::LoopbackIp)
            .await
            .unwrap();
        let port = l.port();
        let browser = tokio::spawn(request(
            port,
            "GET /?code=secret-code&state=wrong HTTP/1.1\r\n\r\n",
        ));
        let (_, reply) = l
            .wait(Duration::from_secs(5), &Cancellation::new())
            .await
            .unwrap();
        reply.send(Err(Code::StateMismatch)).await;
        let page = browser.await.unwrap();
        assert!(page.starts_with("HTTP/1.1 400"));
        assert!(page.contains("StateMismatch"));
        assert!(!page.contains("secret-code"));
    }
}
