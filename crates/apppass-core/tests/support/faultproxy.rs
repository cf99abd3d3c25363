//! A TCP proxy on 127.0.0.1 in front of a REAL server (the test OpenID provider, the Graph
//! emulator, Dovecot), for the network-fault tests (issue 6 §3). The client under test is pointed
//! at [`FaultProxy::addr`]; the proxy passes bytes both ways until a test injects a fault:
//!
//! - [`Fault::Refuse`]: the listening socket is closed, so a new connection is refused by the
//!   kernel (`ECONNREFUSED`, as for a host with nothing listening); it is bound again on the same
//!   port when the fault is lifted.
//! - [`FaultProxy::cut_all`]: every open connection is reset now (both sides get an RST).
//! - [`Fault::CutRequestAfter`] / [`Fault::CutResponseAfter`]: the client's (or the server's)
//!   bytes pass up to N more, counted from the moment the fault is set (also on connections
//!   already open: a pooled HTTP connection is hit too), then both sides are reset.
//! - [`Fault::CutResponseInBody`]: the server's bytes pass up to the end of the next HTTP header
//!   block plus N bytes of body, then both sides are reset (an answer lost half-way).
//! - [`Fault::Hold`]: new connections are accepted and never answered; nothing reaches the server.
//! - [`Fault::StallResponseAfter`]: the server's bytes pass up to N more, then nothing more is
//!   passed on; the connection stays open (a link that went silent).
//!
//! [`FaultProxy::stats`] counts connections and bytes, so a test can say whether a request
//! reached the server at all.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to the bytes (see the module's comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    Refuse,
    Hold,
    CutRequestAfter(usize),
    CutResponseAfter(usize),
    CutResponseInBody(usize),
    StallResponseAfter(usize),
}

/// Counters since the proxy started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted from clients.
    pub accepted: u64,
    /// Connections opened to the server.
    pub upstream: u64,
    /// Bytes passed client → server, and server → client.
    pub up_bytes: u64,
    pub down_bytes: u64,
    /// Connections the proxy reset (cuts).
    pub cut: u64,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    upstream: AtomicU64,
    up_bytes: AtomicU64,
    down_bytes: AtomicU64,
    cut: AtomicU64,
}

/// The proxy; it stops when dropped (the accept loop and every connection end).
pub struct FaultProxy {
    addr: SocketAddr,
    target: SocketAddr,
    /// (generation, fault): a new generation restarts every connection's byte budget.
    mode: watch::Sender<(u64, Fault)>,
    /// Bumped by [`FaultProxy::cut_all`].
    cuts: watch::Sender<u64>,
    counters: Arc<Counters>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl FaultProxy {
    /// Starts a proxy on an ephemeral port of 127.0.0.1 in front of `target`.
    pub async fn start(target: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        FaultProxy::with_listener(listener, target)
    }

    /// A proxy on an address reserved beforehand (so that a server can be told its public
    /// address before the target is known: [`Reserved`]).
    pub fn with_listener(listener: TcpListener, target: SocketAddr) -> FaultProxy {
        let addr = listener.local_addr().unwrap();
        let (mode, mode_rx) = watch::channel((0, Fault::Pass));
        let (cuts, cuts_rx) = watch::channel(0);
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(accept_loop(
            listener,
            addr,
            target,
            mode_rx,
            cuts_rx,
            counters.clone(),
        ));
        FaultProxy {
            addr,
            target,
            mode,
            cuts,
            counters,
            task: Mutex::new(Some(task)),
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Sets the fault (a new budget for every connection, open or new).
    pub fn set(&self, fault: Fault) {
        self.mode.send_modify(|(generation, f)| {
            *generation += 1;
            *f = fault;
        });
    }

    pub fn fault(&self) -> Fault {
        self.mode.borrow().1
    }

    /// Back to passing bytes (a refused listener is bound again before this returns).
    pub async fn pass(&self) {
        self.set(Fault::Pass);
        for _ in 0..200 {
            if TcpStream::connect(self.addr).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the proxy on {} did not listen again", self.addr);
    }

    /// Resets every open connection now.
    pub fn cut_all(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }

    /// The network "goes down": open connections are reset and new ones refused.
    pub async fn down(&self) {
        self.set(Fault::Refuse);
        self.cut_all();
        // The accept loop closes the listener as soon as it sees the fault.
        for _ in 0..200 {
            if TcpStream::connect(self.addr).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the proxy on {} still accepts", self.addr);
    }

    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            accepted: c.accepted.load(Ordering::SeqCst),
            upstream: c.upstream.load(Ordering::SeqCst),
            up_bytes: c.up_bytes.load(Ordering::SeqCst),
            down_bytes: c.down_bytes.load(Ordering::SeqCst),
            cut: c.cut.load(Ordering::SeqCst),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.cut_all();
        if let Some(task) = self.task.lock().unwrap().take() {
            task.abort();
        }
    }
}

/// A port on 127.0.0.1 bound now, for a proxy started later ([`Reserved::proxy`]).
pub struct Reserved {
    listener: TcpListener,
}

impl Reserved {
    pub async fn new() -> Reserved {
        Reserved {
            listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.listener.local_addr().unwrap())
    }

    pub fn proxy(self, target: SocketAddr) -> FaultProxy {
        FaultProxy::with_listener(self.listener, target)
    }
}

/// `127.0.0.1:PORT` of an `http://127.0.0.1:PORT` URL.
pub fn socket_of(url: &str) -> SocketAddr {
    let u = reqwest::Url::parse(url).unwrap();
    format!("{}:{}", u.host_str().unwrap(), u.port().unwrap())
        .parse()
        .unwrap()
}

async fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    target: SocketAddr,
    mut mode: watch::Receiver<(u64, Fault)>,
    cuts: watch::Receiver<u64>,
    counters: Arc<Counters>,
) {
    let mut listener = Some(listener);
    loop {
        let fault = mode.borrow_and_update().1;
        if fault == Fault::Refuse {
            // Closed: connect() is refused by the kernel.
            listener = None;
            if mode.changed().await.is_err() {
                return;
            }
            continue;
        }
        let l = match &listener {
            Some(l) => l,
            None => {
                // Lifted: listen on the same port again (it was ours a moment ago).
                let mut bound = None;
                for _ in 0..100 {
                    match TcpListener::bind(addr).await {
                        Ok(l) => {
                            bound = Some(l);
                            break;
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
                listener = Some(bound.unwrap_or_else(|| panic!("cannot bind {addr} again")));
                listener.as_ref().unwrap()
            }
        };
        tokio::select! {
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            accepted = l.accept() => {
                let Ok((client, _)) = accepted else { continue };
                counters.accepted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(connection(
                    client,
                    target,
                    mode.clone(),
                    cuts.clone(),
                    counters.clone(),
                ));
            }
        }
    }
}

/// Resets a connection (RST instead of FIN), as a broken path does.
// `set_linger` is deprecated because a non-zero linger blocks on drop; zero never blocks.
#[allow(deprecated)]
fn reset(stream: TcpStream) {
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

async fn connection(
    client: TcpStream,
    target: SocketAddr,
    mut mode: watch::Receiver<(u64, Fault)>,
    mut cuts: watch::Receiver<u64>,
    counters: Arc<Counters>,
) {
    cuts.borrow_and_update();
    let mut fault = mode.borrow_and_update().1;
    let _ = client.set_nodelay(true);
    if fault == Fault::Hold {
        // Accepted, never answered: what the client sends is read and dropped.
        let mut client = client;
        let mut buf = [0u8; 4096];
        loop {
            tokio::select! {
                n = client.read(&mut buf) => {
                    if matches!(n, Ok(0) | Err(_)) {
                        return;
                    }
                }
                _ = cuts.changed() => {
                    counters.cut.fetch_add(1, Ordering::SeqCst);
                    reset(client);
                    return;
                }
                changed = mode.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // A held connection stays held: lifting the fault is for new connections.
                    mode.borrow_and_update();
                }
            }
        }
    }
    let Ok(server) = TcpStream::connect(target).await else {
        reset(client);
        return;
    };
    counters.upstream.fetch_add(1, Ordering::SeqCst);
    let _ = server.set_nodelay(true);
    let (mut client_r, mut client_w) = client.into_split();
    let (mut server_r, mut server_w) = server.into_split();
    let mut up = vec![0u8; 16 * 1024];
    let mut down = vec![0u8; 16 * 1024];
    // Bytes passed each way since the fault was set.
    let (mut sent_up, mut sent_down) = (0usize, 0usize);
    // CutResponseInBody: how much of "\r\n\r\n" was seen, and whether the body started.
    let (mut crlf, mut in_body, mut body_seen) = (0usize, false, 0usize);
    let mut stalled = false;
    let mut client_open = true;
    let cut = loop {
        tokio::select! {
            n = client_r.read(&mut up), if client_open => {
                let n = match n {
                    Ok(0) | Err(_) => {
                        client_open = false;
                        let _ = server_w.shutdown().await;
                        continue;
                    }
                    Ok(n) => n,
                };
                let mut pass = n;
                let mut cut_now = false;
                if let Fault::CutRequestAfter(limit) = fault {
                    let room = limit.saturating_sub(sent_up);
                    if n >= room {
                        pass = room;
                        cut_now = true;
                    }
                }
                if pass > 0 && server_w.write_all(&up[..pass]).await.is_err() {
                    break false;
                }
                sent_up += pass;
                counters.up_bytes.fetch_add(pass as u64, Ordering::SeqCst);
                if cut_now {
                    break true;
                }
            }
            n = server_r.read(&mut down), if !stalled => {
                let n = match n {
                    Ok(0) | Err(_) => break false,
                    Ok(n) => n,
                };
                let mut pass = n;
                let mut cut_now = false;
                match fault {
                    Fault::CutResponseAfter(limit) | Fault::StallResponseAfter(limit) => {
                        let room = limit.saturating_sub(sent_down);
                        if n >= room {
                            pass = room;
                            if matches!(fault, Fault::CutResponseAfter(_)) {
                                cut_now = true;
                            } else {
                                stalled = true;
                            }
                        }
                    }
                    Fault::CutResponseInBody(extra) => {
                        let mut i = 0;
                        while i < n && !in_body {
                            crlf = match (crlf, down[i]) {
                                (0 | 2, b'\r') => crlf + 1,
                                (1 | 3, b'\n') => crlf + 1,
                                (_, b'\r') => 1,
                                _ => 0,
                            };
                            i += 1;
                            in_body = crlf == 4;
                        }
                        if in_body {
                            // Bytes i.. of this chunk are body.
                            let room = extra.saturating_sub(body_seen);
                            if n - i >= room {
                                pass = i + room;
                                cut_now = true;
                            } else {
                                body_seen += n - i;
                            }
                        }
                    }
                    _ => {}
                }
                if pass > 0 && client_w.write_all(&down[..pass]).await.is_err() {
                    break false;
                }
                sent_down += pass;
                counters.down_bytes.fetch_add(pass as u64, Ordering::SeqCst);
                if cut_now {
                    break true;
                }
            }
            _ = cuts.changed() => break true,
            changed = mode.changed() => {
                if changed.is_err() {
                    break false;
                }
                fault = mode.borrow_and_update().1;
                sent_up = 0;
                sent_down = 0;
                crlf = 0;
                in_body = false;
                body_seen = 0;
                stalled = false;
            }
        }
    };
    let client = client_r.reunite(client_w).ok();
    let server = server_r.reunite(server_w).ok();
    if cut {
        counters.cut.fetch_add(1, Ordering::SeqCst);
        if let Some(c) = client {
            reset(c);
        }
        if let Some(s) = server {
            reset(s);
        }
    }
}
