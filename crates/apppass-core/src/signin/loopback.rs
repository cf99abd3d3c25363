//! The loopback listener that receives the browser's answer (RFC 8252 §7.3).
//!
//! It listens on 127.0.0.1 only, on an ephemeral port, and takes ONE request for the callback
//! path: the first such request ends the wait whatever it says (success or error), and the
//! listener is closed. Other requests (a browser's `/favicon.ico`) get a 404 and do not count.
//! The wait also ends on cancel or timeout. The tab gets a short page with no secret in it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::error::{Code, Failure};
use crate::policy::RedirectForm;
use crate::signin::config::check_loopback_redirect;

/// A request head larger than this is not a callback.
pub const MAX_REQUEST: usize = 16 * 1024;
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
                match read_request(&mut stream, &self.path).await {
                    Ok(callback) => return (callback, Reply { stream }),
                    Err(Refusal::NotTheCallback) => {
                        write_response(&mut stream, "404 Not Found", "Not found").await
                    }
                    Err(_) => write_response(&mut stream, "400 Bad Request", "Bad request").await,
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

/// Reads a request head from `stream` (at most [`MAX_REQUEST`] + 1 bytes, within
/// [`READ_TIMEOUT`]) and parses it with [`parse_callback`].
pub(crate) async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    callback_path: &str,
) -> Result<Callback, Refusal> {
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        let mut chunk = [0u8; 2048];
        loop {
            // Never more than one byte past the limit: enough to know the head is too large.
            let room = (MAX_REQUEST + 1 - buf.len()).min(chunk.len());
            let n = stream
                .read(&mut chunk[..room])
                .await
                .map_err(|_| Refusal::Incomplete)?;
            if n == 0 {
                return Err(Refusal::Incomplete);
            }
            // Only the new bytes (and the three before them) can complete the blank line.
            let from = buf.len().saturating_sub(3);
            buf.extend_from_slice(&chunk[..n]);
            match head_end(&buf[from..]) {
                Some(_) => return Ok(()),
                None if buf.len() > MAX_REQUEST => return Err(Refusal::TooLarge),
                None => {}
            }
        }
    };
    tokio::time::timeout(READ_TIMEOUT, read)
        .await
        .map_err(|_| Refusal::Incomplete)??;
    parse_callback(&buf, callback_path)
}

/// Why bytes sent to the loopback listener are not the browser's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No blank line ends the head (the peer closed, or stayed silent, before it did).
    Incomplete,
    /// The head is longer than [`MAX_REQUEST`].
    TooLarge,
    /// The request line is not `METHOD SP /target SP HTTP/1.x` in visible ASCII.
    BadRequestLine,
    /// A well-formed request, but not a GET of the callback path (a browser's `/favicon.ico`):
    /// answered 404, it does not end the wait.
    NotTheCallback,
    /// `code`, `state`, `error` or `iss` appears more than once (RFC 6749 §3.1 forbids it; which
    /// one counts would be a guess).
    DuplicateParameter,
}

/// The parameters of the answer that appear at most once.
const SINGLE_PARAMETERS: [&str; 4] = ["code", "state", "error", "iss"];

/// Where the head ends (the index after its blank line), if it is complete.
pub fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// A well-formed request's method, path and query parameters (percent-decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
}

/// Parses the bytes of a request up to its blank line (anything after it is ignored): the
/// request line must be `METHOD SP origin-form-target SP HTTP/1.0|HTTP/1.1` in visible ASCII;
/// headers are not looked at.
pub fn parse_request(bytes: &[u8]) -> Result<RequestHead, Refusal> {
    let end = match head_end(bytes) {
        Some(end) if end > MAX_REQUEST => return Err(Refusal::TooLarge),
        Some(end) => end,
        None if bytes.len() > MAX_REQUEST => return Err(Refusal::TooLarge),
        None => return Err(Refusal::Incomplete),
    };
    let head = &bytes[..end];
    let line_end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(head.len());
    let line = &head[..line_end];
    if !line.iter().all(|&b| b == b' ' || b.is_ascii_graphic()) {
        return Err(Refusal::BadRequestLine);
    }
    // Visible ASCII only, so it is UTF-8.
    let line = std::str::from_utf8(line).map_err(|_| Refusal::BadRequestLine)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::BadRequestLine);
    };
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    // A fragment never belongs in a request target (RFC 9112 §3.2).
    if !token(method)
        || !target.starts_with('/')
        || target.contains('#')
        || !matches!(version, "HTTP/1.0" | "HTTP/1.1")
    {
        return Err(Refusal::BadRequestLine);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(RequestHead {
        method: method.to_string(),
        path: path.to_string(),
        query: url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
    })
}

/// Parses a request (see [`parse_request`]) and returns the browser's answer when it is a GET of
/// `callback_path` whose `code`, `state`, `error` and `iss` appear at most once each.
pub fn parse_callback(bytes: &[u8], callback_path: &str) -> Result<Callback, Refusal> {
    let head = parse_request(bytes)?;
    if head.method != "GET" || head.path != callback_path {
        return Err(Refusal::NotTheCallback);
    }
    for name in SINGLE_PARAMETERS {
        if head.query.iter().filter(|(k, _)| k == name).count() > 1 {
            return Err(Refusal::DuplicateParameter);
        }
    }
    Ok(Callback { params: head.query })
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

    #[test]
    fn parses_the_callback_and_refuses_precisely() {
        let cb = parse_callback(
            b"GET /?code=c%2B1&state=s1&iss=https%3A%2F%2Fidp HTTP/1.1\r\nHost: x\r\n\r\n",
            "/",
        )
        .unwrap();
        assert_eq!(cb.get("code"), Some("c+1"));
        assert_eq!(cb.get("state"), Some("s1"));
        assert_eq!(cb.get("iss"), Some("https://idp"));
        // An error answer is a callback too; what it means is decided by the sign-in.
        let cb = parse_callback(b"GET /cb?error=access_denied HTTP/1.0\r\n\r\n", "/cb").unwrap();
        assert_eq!(cb.get("error"), Some("access_denied"));
        assert_eq!(cb.get("code"), None);
        // Bytes after the head (a body) are not looked at.
        assert!(parse_callback(b"GET / HTTP/1.1\r\n\r\n\xff\xfe", "/").is_ok());

        let refused = |raw: &[u8]| parse_callback(raw, "/").unwrap_err();
        assert_eq!(
            refused(b"GET / HTTP/1.1\r\nHost: x\r\n"),
            Refusal::Incomplete
        );
        assert_eq!(refused(b""), Refusal::Incomplete);
        assert_eq!(
            refused(b"GET /favicon.ico HTTP/1.1\r\n\r\n"),
            Refusal::NotTheCallback
        );
        assert_eq!(
            refused(b"POST /?code=x HTTP/1.1\r\n\r\n"),
            Refusal::NotTheCallback
        );
        assert_eq!(
            refused(b"get /?code=x HTTP/1.1\r\n\r\n"),
            Refusal::NotTheCallback
        );
        assert_eq!(refused(b"HELLO\r\n\r\n"), Refusal::BadRequestLine);
        assert_eq!(refused(b"GET / HTTP/2\r\n\r\n"), Refusal::BadRequestLine);
        assert_eq!(
            refused(b"GET http://x/ HTTP/1.1\r\n\r\n"),
            Refusal::BadRequestLine
        );
        assert_eq!(refused(b"GET  / HTTP/1.1\r\n\r\n"), Refusal::BadRequestLine);
        assert_eq!(
            refused(b"GET / HTTP/1.1 x\r\n\r\n"),
            Refusal::BadRequestLine
        );
        assert_eq!(
            refused(b"GET /?a=\xc3\xa9 HTTP/1.1\r\n\r\n"),
            Refusal::BadRequestLine
        );
        assert_eq!(
            refused(b"GET /#x HTTP/1.1\r\n\r\n"),
            Refusal::BadRequestLine
        );
        assert_eq!(refused(b"G(T / HTTP/1.1\r\n\r\n"), Refusal::BadRequestLine);
        assert_eq!(
            refused(b"GET /?state=a&code=1&state=b HTTP/1.1\r\n\r\n"),
            Refusal::DuplicateParameter
        );
        assert_eq!(
            refused(b"GET /?iss=a&iss=a HTTP/1.1\r\n\r\n"),
            Refusal::DuplicateParameter
        );
        // Other parameters may repeat.
        assert!(parse_callback(b"GET /?x=1&x=2&code=c HTTP/1.1\r\n\r\n", "/").is_ok());

        let mut big = b"GET /?code=".to_vec();
        big.resize(MAX_REQUEST, b'a');
        big.extend_from_slice(b" HTTP/1.1\r\n\r\n");
        assert_eq!(refused(&big), Refusal::TooLarge);
        assert_eq!(refused(&vec![b'a'; MAX_REQUEST + 1]), Refusal::TooLarge);
    }

    #[tokio::test]
    async fn reads_at_most_the_limit() {
        // The head, and nothing of what follows it beyond the read that found its end.
        let mut input: &[u8] = b"GET /?code=c HTTP/1.1\r\n\r\nrest";
        let cb = read_request(&mut input, "/").await.unwrap();
        assert_eq!(cb.get("code"), Some("c"));

        let huge = vec![b'a'; 10 * MAX_REQUEST];
        let mut input: &[u8] = &huge;
        assert_eq!(
            read_request(&mut input, "/").await.unwrap_err(),
            Refusal::TooLarge
        );
        assert_eq!(
            huge.len() - input.len(),
            MAX_REQUEST + 1,
            "read just past the limit"
        );

        let mut input: &[u8] = b"GET / HTTP/1.1\r\n";
        assert_eq!(
            read_request(&mut input, "/").await.unwrap_err(),
            Refusal::Incomplete
        );
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
