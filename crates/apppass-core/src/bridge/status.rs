//! What the bridge is doing, for the app's Bridge screen and `apppass bridge run`: listeners,
//! live sessions, the last errors (each with a code and the next step), counters.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use ts_rs::TS;

use crate::catalog::Protocol;
use crate::error::{Code, Failure};

/// How many errors the status keeps.
pub const KEEP_ERRORS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ListenerInfo {
    pub protocol: Protocol,
    /// TLS from the first byte; otherwise plain with STARTTLS/STLS offered.
    pub implicit_tls: bool,
    pub address: String,
    pub port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SessionPhase {
    /// Connected, not yet signed in.
    Greeting,
    /// Signed in locally; signing in upstream.
    Upstream,
    /// Relaying between the client and the server.
    Relaying,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SessionInfo {
    #[ts(type = "number")]
    pub id: u64,
    pub protocol: Protocol,
    /// The bridge client's entry name, once signed in.
    pub client: Option<String>,
    /// Unix seconds.
    #[ts(type = "number")]
    pub since: i64,
    pub phase: SessionPhase,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct BridgeError {
    #[ts(type = "number")]
    pub time: i64,
    pub protocol: Protocol,
    /// The client's entry name, or the local user name tried.
    pub client: Option<String>,
    pub code: Code,
    /// What happened and what to do (never a password or token).
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, Default)]
#[ts(export)]
pub struct Counters {
    #[ts(type = "number")]
    pub connections: u64,
    #[ts(type = "number")]
    pub signed_in: u64,
    #[ts(type = "number")]
    pub rejected: u64,
    #[ts(type = "number")]
    pub upstream_failures: u64,
}

/// A snapshot of the bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct BridgeStatus {
    pub running: bool,
    pub listeners: Vec<ListenerInfo>,
    pub sessions: Vec<SessionInfo>,
    /// Newest first.
    pub errors: Vec<BridgeError>,
    pub counters: Counters,
    /// The upstream refused the sign-in: the user must sign in again.
    pub signin_required: bool,
}

/// The live status, shared by the listeners and sessions.
#[derive(Default)]
pub struct Status {
    next_id: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    running: bool,
    listeners: Vec<ListenerInfo>,
    sessions: BTreeMap<u64, SessionInfo>,
    errors: VecDeque<BridgeError>,
    counters: Counters,
    signin_required: bool,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Status {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn started(&self, listeners: Vec<ListenerInfo>) {
        let mut i = self.inner();
        i.running = true;
        i.listeners = listeners;
    }

    pub fn stopped(&self) {
        let mut i = self.inner();
        i.running = false;
        i.listeners.clear();
        i.sessions.clear();
    }

    /// A new connection; returns its session id.
    pub fn opened(&self, protocol: Protocol) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut i = self.inner();
        i.counters.connections += 1;
        i.sessions.insert(
            id,
            SessionInfo {
                id,
                protocol,
                client: None,
                since: now(),
                phase: SessionPhase::Greeting,
            },
        );
        id
    }

    /// The client's local password was right.
    pub fn signed_in(&self, id: u64, client: &str) {
        let mut i = self.inner();
        i.counters.signed_in += 1;
        if let Some(s) = i.sessions.get_mut(&id) {
            s.client = Some(client.to_string());
            s.phase = SessionPhase::Upstream;
        }
    }

    /// Upstream accepted the token: relaying.
    pub fn relaying(&self, id: u64) {
        let mut i = self.inner();
        // A working upstream sign-in clears an earlier "sign in again".
        i.signin_required = false;
        if let Some(s) = i.sessions.get_mut(&id) {
            s.phase = SessionPhase::Relaying;
        }
    }

    pub fn closed(&self, id: u64) {
        self.inner().sessions.remove(&id);
    }

    /// A wrong local user name or password.
    pub fn rejected(&self, protocol: Protocol, username: &str) {
        let mut i = self.inner();
        i.counters.rejected += 1;
        push(
            &mut i,
            BridgeError {
                time: now(),
                protocol,
                client: Some(username.to_string()),
                code: Code::AuthRejected,
                message: format!("A client tried the local user name \"{username}\" with a wrong password. If it is yours, copy the password again from the bridge (or rotate it)."),
            },
        );
    }

    /// Signing in upstream (or reaching it) failed.
    /// The bridge client signed in on session `id`, if any.
    pub fn session_client(&self, id: u64) -> Option<String> {
        self.inner()
            .sessions
            .get(&id)
            .and_then(|s| s.client.clone())
    }

    pub fn upstream_failed(&self, protocol: Protocol, client: Option<&str>, failure: &Failure) {
        let mut i = self.inner();
        i.counters.upstream_failures += 1;
        if failure.code == Code::SignInRequired {
            i.signin_required = true;
        }
        push(
            &mut i,
            BridgeError {
                time: now(),
                protocol,
                client: client.map(str::to_string),
                code: failure.code,
                message: failure.message.clone(),
            },
        );
    }

    pub fn snapshot(&self) -> BridgeStatus {
        let i = self.inner();
        BridgeStatus {
            running: i.running,
            listeners: i.listeners.clone(),
            sessions: i.sessions.values().cloned().collect(),
            errors: i.errors.iter().cloned().collect(),
            counters: i.counters.clone(),
            signin_required: i.signin_required,
        }
    }
}

fn push(i: &mut Inner, e: BridgeError) {
    i.errors.push_front(e);
    i.errors.truncate(KEEP_ERRORS);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_errors_and_signin_state() {
        let s = Status::default();
        let a = s.opened(Protocol::Imap);
        let b = s.opened(Protocol::Smtp);
        assert_ne!(a, b);
        s.signed_in(a, "Thunderbird");
        s.relaying(a);
        let snap = s.snapshot();
        assert_eq!(snap.sessions.len(), 2);
        assert_eq!(snap.sessions[0].phase, SessionPhase::Relaying);
        assert_eq!(snap.sessions[0].client.as_deref(), Some("Thunderbird"));
        s.closed(a);
        s.upstream_failed(
            Protocol::Smtp,
            Some("msmtp"),
            &Failure::new(Code::SignInRequired, "Sign in again."),
        );
        for _ in 0..KEEP_ERRORS + 5 {
            s.rejected(Protocol::Imap, "printer");
        }
        let snap = s.snapshot();
        assert!(snap.signin_required);
        assert_eq!(snap.errors.len(), KEEP_ERRORS);
        assert_eq!(snap.counters.rejected, (KEEP_ERRORS + 5) as u64);
        assert_eq!(snap.sessions.len(), 1);
        let c = s.opened(Protocol::Imap);
        s.relaying(c);
        assert!(!s.snapshot().signin_required, "a working sign-in clears it");
    }
}
