//! The one closed set of failure codes that the UI and the CLI branch on.
//!
//! Each module keeps its own error enum; at the boundary (Tauri command, CLI) every error becomes a
//! [`Failure`]: a [`Code`] plus a message for a person that ends with what to do next. The message
//! never contains a secret: errors are built from names, ids and counts only.

use serde::Serialize;
use ts_rs::TS;

/// What went wrong, as the UI and the CLI see it. Add a variant only when a consumer branches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, TS)]
#[ts(export)]
pub enum Code {
    /// A name, option or value the user gave is not acceptable (the message says which and why).
    InvalidInput,
    /// The secret given was empty after trimming.
    EmptySecret,
    /// The secret given was larger than any app password can be.
    SecretTooLarge,
    /// The secret does not match the provider's documented format.
    FormatMismatch,
    /// The provider id is not in the catalog.
    UnknownProvider,
    /// The mail client id is not in the catalog.
    UnknownClient,
    /// The pasted value fails the provider's app-password format and looks chosen by a person: it
    /// is probably the account password, not an app password.
    LooksLikeAccountPassword,
    /// The entry has no server for a protocol that the client or export format needs.
    MissingServer,
    /// No entry has that name.
    NotFound,
    /// Another entry already has that name.
    NameTaken,
    /// No OS keyring (Secret Service, Keychain, Credential Manager) could be reached.
    KeyringUnavailable,
    /// The OS keyring is there but locked, or access was refused.
    KeyringLocked,
    /// The entry exists but its secret is missing from the store.
    SecretMissing,
    /// The encrypted file store needs its passphrase, and none was given.
    PassphraseRequired,
    /// The passphrase given does not open the encrypted file store.
    WrongPassphrase,
    /// The passphrase chosen for a new encrypted file store is too easy to guess.
    WeakPassphrase,
    /// The data directory holds something apppass cannot read (corrupt database or store file).
    DataCorrupt,
    /// Reading or writing the data directory failed (permissions, disk full, read-only).
    StorageFailure,
    /// The clipboard could not be read or written.
    ClipboardUnavailable,
    /// The app could not register (or unregister) itself to start when the user logs in (XDG
    /// autostart entry, Launch Agent, Run key); the settings were saved all the same.
    LoginItemFailed,
    /// No client ID is configured for work-account sign-in: IT must register apppass and set it.
    ClientIdMissing,
    /// A setting was given that the administrator's policy file fixes to another value.
    LockedByPolicy,
    /// Not signed in, or the sign-in ended (refresh token expired, revoked or rejected): sign in again.
    SignInRequired,
    /// The sign-in was cancelled in apppass.
    SignInCancelled,
    /// The user or the provider declined the sign-in (access denied, consent declined).
    SignInDenied,
    /// The sign-in was not finished in time (browser wait or device code expired).
    SignInTimedOut,
    /// The browser's answer carried a `state` that this sign-in did not send (a forged or stale answer).
    StateMismatch,
    /// The authorization code had already been redeemed (a replayed answer).
    CodeReplayed,
    /// The provider refused the PKCE code verifier for this authorization code.
    PkceMismatch,
    /// The ID token (or the browser's answer) comes from another issuer than the configured one.
    IssuerMismatch,
    /// The ID token was issued to another client (audience) than apppass's client ID.
    AudienceMismatch,
    /// The ID token has expired (or the computer's clock is far off).
    IdTokenExpired,
    /// The ID token is malformed, its signature does not verify, or its nonce is wrong.
    IdTokenInvalid,
    /// A redirect address that is not loopback (127.0.0.1 / localhost over http) was refused.
    RedirectNotLoopback,
    /// The account must complete multifactor authentication (AADSTS50076 and relatives).
    MfaRequired,
    /// The account must register a multifactor method first (AADSTS50079, 50072).
    MfaEnrollmentRequired,
    /// The app lacks consent in the tenant (AADSTS65001, 90094): an administrator must grant it.
    ConsentRequired,
    /// The client ID is not registered in this tenant (AADSTS700016).
    AppNotInTenant,
    /// The account does not belong to the tenant signed in to (AADSTS50020).
    WrongTenant,
    /// A Conditional Access policy blocked the sign-in (AADSTS53003).
    BlockedByConditionalAccess,
    /// The app registration does not allow public client flows (AADSTS7000218).
    PublicClientFlowsDisabled,
    /// Security defaults blocked the sign-in (AADSTS530035).
    BlockedBySecurityDefaults,
    /// The identity provider refused the request for another reason (the message has its words).
    ProviderRejected,
    /// The authority's OpenID configuration could not be read or is unusable.
    DiscoveryFailed,
    /// No network connection to the identity provider (connection refused or unreachable).
    Offline,
    /// The identity provider's name could not be resolved (DNS).
    DnsFailure,
    /// The secure connection to the identity provider failed (certificate or TLS).
    TlsFailure,
    /// The identity provider did not answer in time.
    NetworkTimeout,
    /// Microsoft Graph refused the MFA check (403: no consent or permission for apppass): the app
    /// continues in guided mode, without the live check.
    GraphAccessDenied,
    /// The service kept answering "busy" or failing (429, 503, 5xx) after apppass waited and
    /// retried: try again later.
    ServiceUnavailable,
    /// A service answered something apppass cannot read (malformed JSON, unexpected status).
    ProtocolError,
    /// A mail server refused the entry's user name or password during a connection test.
    AuthRejected,
    /// A connection test did not sign in (the outcome of each protocol says why).
    ConnectionTestFailed,
    /// A bug: something that should not happen did.
    Internal,
}

impl Code {
    /// The stable spelling used on the wire and in `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidInput => "InvalidInput",
            Code::EmptySecret => "EmptySecret",
            Code::SecretTooLarge => "SecretTooLarge",
            Code::FormatMismatch => "FormatMismatch",
            Code::UnknownProvider => "UnknownProvider",
            Code::UnknownClient => "UnknownClient",
            Code::LooksLikeAccountPassword => "LooksLikeAccountPassword",
            Code::MissingServer => "MissingServer",
            Code::NotFound => "NotFound",
            Code::NameTaken => "NameTaken",
            Code::KeyringUnavailable => "KeyringUnavailable",
            Code::KeyringLocked => "KeyringLocked",
            Code::SecretMissing => "SecretMissing",
            Code::PassphraseRequired => "PassphraseRequired",
            Code::WrongPassphrase => "WrongPassphrase",
            Code::WeakPassphrase => "WeakPassphrase",
            Code::DataCorrupt => "DataCorrupt",
            Code::StorageFailure => "StorageFailure",
            Code::ClipboardUnavailable => "ClipboardUnavailable",
            Code::LoginItemFailed => "LoginItemFailed",
            Code::ClientIdMissing => "ClientIdMissing",
            Code::LockedByPolicy => "LockedByPolicy",
            Code::SignInRequired => "SignInRequired",
            Code::SignInCancelled => "SignInCancelled",
            Code::SignInDenied => "SignInDenied",
            Code::SignInTimedOut => "SignInTimedOut",
            Code::StateMismatch => "StateMismatch",
            Code::CodeReplayed => "CodeReplayed",
            Code::PkceMismatch => "PkceMismatch",
            Code::IssuerMismatch => "IssuerMismatch",
            Code::AudienceMismatch => "AudienceMismatch",
            Code::IdTokenExpired => "IdTokenExpired",
            Code::IdTokenInvalid => "IdTokenInvalid",
            Code::RedirectNotLoopback => "RedirectNotLoopback",
            Code::MfaRequired => "MfaRequired",
            Code::MfaEnrollmentRequired => "MfaEnrollmentRequired",
            Code::ConsentRequired => "ConsentRequired",
            Code::AppNotInTenant => "AppNotInTenant",
            Code::WrongTenant => "WrongTenant",
            Code::BlockedByConditionalAccess => "BlockedByConditionalAccess",
            Code::PublicClientFlowsDisabled => "PublicClientFlowsDisabled",
            Code::BlockedBySecurityDefaults => "BlockedBySecurityDefaults",
            Code::ProviderRejected => "ProviderRejected",
            Code::DiscoveryFailed => "DiscoveryFailed",
            Code::Offline => "Offline",
            Code::DnsFailure => "DnsFailure",
            Code::TlsFailure => "TlsFailure",
            Code::NetworkTimeout => "NetworkTimeout",
            Code::GraphAccessDenied => "GraphAccessDenied",
            Code::ServiceUnavailable => "ServiceUnavailable",
            Code::ProtocolError => "ProtocolError",
            Code::AuthRejected => "AuthRejected",
            Code::ConnectionTestFailed => "ConnectionTestFailed",
            Code::Internal => "Internal",
        }
    }

    /// Every code, for exhaustive tests and documentation.
    pub const ALL: [Code; 54] = [
        Code::InvalidInput,
        Code::EmptySecret,
        Code::SecretTooLarge,
        Code::FormatMismatch,
        Code::UnknownProvider,
        Code::UnknownClient,
        Code::LooksLikeAccountPassword,
        Code::MissingServer,
        Code::NotFound,
        Code::NameTaken,
        Code::KeyringUnavailable,
        Code::KeyringLocked,
        Code::SecretMissing,
        Code::PassphraseRequired,
        Code::WrongPassphrase,
        Code::WeakPassphrase,
        Code::DataCorrupt,
        Code::StorageFailure,
        Code::ClipboardUnavailable,
        Code::LoginItemFailed,
        Code::ClientIdMissing,
        Code::LockedByPolicy,
        Code::SignInRequired,
        Code::SignInCancelled,
        Code::SignInDenied,
        Code::SignInTimedOut,
        Code::StateMismatch,
        Code::CodeReplayed,
        Code::PkceMismatch,
        Code::IssuerMismatch,
        Code::AudienceMismatch,
        Code::IdTokenExpired,
        Code::IdTokenInvalid,
        Code::RedirectNotLoopback,
        Code::MfaRequired,
        Code::MfaEnrollmentRequired,
        Code::ConsentRequired,
        Code::AppNotInTenant,
        Code::WrongTenant,
        Code::BlockedByConditionalAccess,
        Code::PublicClientFlowsDisabled,
        Code::BlockedBySecurityDefaults,
        Code::ProviderRejected,
        Code::DiscoveryFailed,
        Code::Offline,
        Code::DnsFailure,
        Code::TlsFailure,
        Code::NetworkTimeout,
        Code::GraphAccessDenied,
        Code::ServiceUnavailable,
        Code::ProtocolError,
        Code::AuthRejected,
        Code::ConnectionTestFailed,
        Code::Internal,
    ];
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user-facing failure: `{code, message}` on the wire. The message says what happened and what to
/// do next, in one or two sentences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, thiserror::Error)]
#[ts(export)]
#[error("{message}")]
pub struct Failure {
    pub code: Code,
    pub message: String,
}

impl Failure {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// Anything that can be shown to a person as a [`Failure`].
pub trait ToFailure {
    fn to_failure(&self) -> Failure;
}

impl ToFailure for Failure {
    fn to_failure(&self) -> Failure {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_serialises_as_code_and_message() {
        let f = Failure::new(Code::NotFound, "No entry named \"x\". Run `apppass list`.");
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "NotFound", "message": "No entry named \"x\". Run `apppass list`."})
        );
    }

    #[test]
    fn code_wire_spelling_matches_serde() {
        for code in Code::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, serde_json::Value::String(code.as_str().to_string()));
        }
    }
}
