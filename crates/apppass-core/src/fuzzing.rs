//! Entry points for the fuzz targets in fuzz/ and their stable corpus tests
//! (crates/apppass-core/tests/*_fuzz_corpus.rs). Not part of apppass's API.
//!
//! - The loopback listener's request parsing: [`parse_callback`], [`parse_request`] and
//!   [`loopback_read`] (the listener's reader, over bytes instead of a socket).
//! - The bridge's sessions before sign-in: [`imap`], [`pop`] and [`smtp`] run the server's own
//!   session code (`bridge::{imap,pop,smtp}::serve`) over a scripted in-memory client
//!   ([`Script`]) instead of a TCP connection. The client book is a test double that accepts one
//!   pair only ([`USER`], [`PASSWORD`]) and records every check; the token source always says
//!   "sign in again", so nothing ever leaves the process and no keyring is involved.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::bridge::book::{BridgeClient, ClientBook, Penalty};
use crate::bridge::config::{BridgeConfig, Listen};
use crate::bridge::server::Shared;
use crate::bridge::status::Status;
use crate::bridge::stream::{LocalStream, MemoryProbe, MemoryStream};
use crate::bridge::tokens::{BoxFuture, TokenSource, UpstreamToken};
use crate::error::{Code, Failure};
use crate::vault::{Security, Server};
use crate::Secret;

pub use crate::signin::loopback::{
    head_end, parse_callback, parse_request, Callback, Refusal, RequestHead, MAX_REQUEST,
};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime for fuzzing")
    })
}

/// Runs the loopback listener's reader over `data` delivered `chunk` bytes per read. Returns
/// how many bytes it read and what it made of them.
pub fn loopback_read(
    data: &[u8],
    chunk: usize,
    callback_path: &str,
) -> (usize, Result<Callback, Refusal>) {
    let mut reader = Chunked {
        data,
        at: 0,
        chunk: chunk.max(1),
    };
    let result = runtime().block_on(crate::signin::loopback::read_request(
        &mut reader,
        callback_path,
    ));
    (reader.at, result)
}

struct Chunked<'a> {
    data: &'a [u8],
    at: usize,
    chunk: usize,
}

impl tokio::io::AsyncRead for Chunked<'_> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let me = self.get_mut();
        let n = (me.data.len() - me.at).min(me.chunk).min(buf.remaining());
        buf.put_slice(&me.data[me.at..me.at + n]);
        me.at += n;
        std::task::Poll::Ready(Ok(()))
    }
}

/// The one local user name the test client book accepts.
pub const USER: &str = "fuzz-client";
/// The one password it accepts (with [`USER`]).
pub const PASSWORD: &str = "Fz7-canary-pw-q4Rt";

/// Marks where the scripted client's bytes after a STARTTLS/STLS begin in a fuzz input.
pub const TLS_MARK: &[u8] = b"\xffTLS\xff";

/// Read sizes a fuzz input can choose (message boundaries fall anywhere).
const CHUNKS: [usize; 8] = [1, 2, 3, 7, 64, 512, 4096, 1 << 20];

/// Bytes of one line with no line end, appended when a fuzz input asks for it.
pub const LONG_LINE: usize = 40 * 1024;

/// What the scripted client sends.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Before STARTTLS (all of it, when `implicit_tls`).
    pub plain: Vec<u8>,
    /// After STARTTLS; what was not read of `plain` by then is dropped.
    pub tls: Vec<u8>,
    /// The session starts on TLS (the implicit-TLS listeners).
    pub implicit_tls: bool,
    /// The most bytes one read returns.
    pub chunk: usize,
}

impl Script {
    /// A fuzz input as a script: the first byte holds flags (bit 0: implicit TLS; bits 1-3: the
    /// read size, one of 1, 2, 3, 7, 64, 512, 4096 or 1 MiB; bit 4: end the clear-text part with
    /// a 40 KiB line with no line end); the rest is the client's bytes, the part after
    /// [`TLS_MARK`] sent after STARTTLS.
    pub fn from_fuzz(data: &[u8]) -> Script {
        let (flags, rest) = data.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
        let (mut plain, tls) = match rest.windows(TLS_MARK.len()).position(|w| w == TLS_MARK) {
            Some(i) => (rest[..i].to_vec(), rest[i + TLS_MARK.len()..].to_vec()),
            None => (rest.to_vec(), Vec::new()),
        };
        if flags & 0x10 != 0 {
            plain.resize(plain.len() + LONG_LINE, b'A');
        }
        Script {
            plain,
            tls,
            implicit_tls: flags & 1 != 0,
            chunk: CHUNKS[usize::from((flags >> 1) & 7)],
        }
    }
}

/// One check of a local user name and password, as the client book saw it.
#[derive(Debug, Clone)]
pub struct Check {
    pub user: String,
    /// The one accepted pair.
    pub accepted: bool,
    /// The client's side was TLS when the check ran.
    pub tls: bool,
    /// It had become TLS by STARTTLS/STLS.
    pub upgraded: bool,
    /// Bytes of the TLS part read by then.
    pub tls_read: usize,
}

/// What happened in one session.
#[derive(Debug, Clone)]
pub struct Transcript {
    /// Everything the bridge sent to the client.
    pub output: Vec<u8>,
    pub checks: Vec<Check>,
    /// How often the bridge asked for an upstream access token.
    pub token_requests: usize,
    /// The session ended by itself (it did not hang).
    pub finished: bool,
    /// Bytes read from the client in all.
    pub read: usize,
    /// The most bytes the session had read at any time beyond the last line end it was given.
    pub beyond_line_end: usize,
    /// The session went TLS by STARTTLS/STLS.
    pub upgraded: bool,
}

struct Book {
    probe: Arc<Mutex<MemoryProbe>>,
    checks: Mutex<Vec<Check>>,
}

impl ClientBook for Book {
    fn verify(&self, username: &str, password: &Secret) -> Result<Option<BridgeClient>, Failure> {
        let accepted = username == USER && password.expose() == PASSWORD;
        let p = self.probe.lock().unwrap_or_else(|e| e.into_inner());
        self.checks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Check {
                user: username.to_string(),
                accepted,
                tls: p.tls,
                upgraded: p.upgraded,
                tls_read: p.tls_read,
            });
        Ok(accepted.then(|| BridgeClient {
            entry_id: "fuzz".into(),
            name: "Fuzz client".into(),
            client: "other".into(),
            username: USER.into(),
        }))
    }
}

#[derive(Default)]
struct NoTokens(Mutex<usize>);

impl TokenSource for NoTokens {
    fn token(&self, _fresh: bool) -> BoxFuture<'_, Result<UpstreamToken, Failure>> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Box::pin(async {
            Err(Failure::new(
                Code::SignInRequired,
                "Nobody is signed in (fuzzing). Sign in with `apppass login`.",
            ))
        })
    }
}

fn tls() -> &'static (tokio_rustls::TlsAcceptor, Arc<rustls::ClientConfig>) {
    static TLS: OnceLock<(tokio_rustls::TlsAcceptor, Arc<rustls::ClientConfig>)> = OnceLock::new();
    TLS.get_or_init(|| {
        let cert = crate::bridge::LocalCert::generate().expect("a certificate");
        let roots = crate::mailcheck::net::extra_roots(None).expect("no extra roots");
        (
            cert.acceptor().expect("an acceptor"),
            crate::bridge::stream::upstream_tls(&roots).expect("a TLS client configuration"),
        )
    })
}

#[derive(Clone, Copy)]
enum Which {
    Imap,
    Pop,
    Smtp,
}

fn run(which: Which, script: &Script) -> Transcript {
    let (acceptor, upstream_tls) = tls().clone();
    let server = Server {
        host: "127.0.0.1".into(),
        port: 9,
        security: Security::Tls,
    };
    let stream = MemoryStream::new(
        script.plain.clone(),
        script.tls.clone(),
        script.implicit_tls,
        script.chunk,
    );
    let probe = stream.probe();
    let book = Arc::new(Book {
        probe: probe.clone(),
        checks: Mutex::new(Vec::new()),
    });
    let tokens = Arc::new(NoTokens::default());
    let shared = Arc::new(Shared {
        config: BridgeConfig {
            imap: Some(server.clone()),
            pop: Some(server.clone()),
            smtp: Some(server),
            scopes: vec!["fuzz".into()],
            listen: Listen::default(),
            ca_file: None,
            penalty_base: Duration::ZERO,
            penalty_max: Duration::ZERO,
            protocol_log: None,
            upstream_timeout: Duration::from_secs(1),
        },
        book: book.clone(),
        tokens: tokens.clone(),
        status: Arc::new(Status::default()),
        penalty: Penalty::new(Duration::ZERO, Duration::ZERO),
        acceptor,
        upstream_tls,
        protocol_log: None,
    });
    let stream = LocalStream::Memory(stream);
    let session = async move {
        match which {
            Which::Imap => crate::bridge::imap::serve(shared, stream, 1).await,
            Which::Pop => crate::bridge::pop::serve(shared, stream, 1).await,
            Which::Smtp => crate::bridge::smtp::serve(shared, stream, 1).await,
        }
    };
    let finished = runtime()
        .block_on(async { tokio::time::timeout(Duration::from_secs(20), session).await })
        .is_ok();
    let p = probe.lock().unwrap_or_else(|e| e.into_inner());
    let checks = book
        .checks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let token_requests = *tokens.0.lock().unwrap_or_else(|e| e.into_inner());
    Transcript {
        output: p.output.clone(),
        checks,
        token_requests,
        finished,
        read: p.read,
        beyond_line_end: p.beyond_line_end,
        upgraded: p.upgraded,
    }
}

/// Runs the bridge's IMAP session over `script`.
pub fn imap(script: &Script) -> Transcript {
    run(Which::Imap, script)
}

/// Runs the bridge's POP3 session over `script`.
pub fn pop(script: &Script) -> Transcript {
    run(Which::Pop, script)
}

/// Runs the bridge's SMTP session over `script`.
pub fn smtp(script: &Script) -> Transcript {
    run(Which::Smtp, script)
}

/// What a SASL client may have encoded in `bytes`: for every line, each word and the whole
/// line after its first word, reduced to the base64 alphabet (parsers skip stray bytes such as a
/// CR inside a line) and decoded where that works. Used to find where a user name came from.
pub fn base64_words(bytes: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let alphabet = |w: &[u8]| -> Vec<u8> {
        w.iter()
            .copied()
            .filter(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
            .collect()
    };
    let mut out = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        let mut candidates: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if let Some(i) = line.iter().position(|&b| b == b' ') {
            candidates.push(&line[i + 1..]);
        }
        for w in candidates {
            let w = alphabet(w);
            let trimmed: Vec<u8> = w.iter().copied().filter(|&b| b != b'=').collect();
            for engine in [
                base64::engine::general_purpose::STANDARD,
                base64::engine::general_purpose::STANDARD_NO_PAD,
            ] {
                if let Ok(d) = engine.decode(&w) {
                    out.push(d);
                }
                if let Ok(d) = engine.decode(&trimmed) {
                    out.push(d);
                }
            }
        }
    }
    out
}
