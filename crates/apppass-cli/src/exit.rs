//! Exit statuses: the one place where a core [`Code`] becomes a process exit status.
//!
//! The table is part of the CLI's interface (mail clients and scripts branch on it): it is printed
//! by `apppass --help` and documented in `docs/CLI.md`; a test keeps the three in step.

use apppass_core::Code;

/// Success.
pub const OK: u8 = 0;
/// A bug, or something apppass did not expect.
pub const INTERNAL: u8 = 1;
/// A usage error, reported by clap itself (unknown command or option, missing argument).
#[allow(dead_code)] // clap exits with it; named here for the table and the tests.
pub const USAGE: u8 = 2;
pub const NOT_FOUND: u8 = 3;
pub const KEYRING_UNAVAILABLE: u8 = 4;
pub const LOCKED: u8 = 5;
pub const DATA_CORRUPT: u8 = 6;
pub const INVALID_INPUT: u8 = 7;
pub const NAME_TAKEN: u8 = 8;
pub const STORAGE_FAILURE: u8 = 9;
pub const CLIENT_ID_MISSING: u8 = 10;
pub const LOCKED_BY_POLICY: u8 = 11;
pub const SIGN_IN_REQUIRED: u8 = 12;
pub const SIGN_IN_NOT_FINISHED: u8 = 13;
pub const SIGN_IN_UNSAFE: u8 = 14;
pub const MFA_NEEDED: u8 = 15;
pub const ORGANISATION_MUST_ACT: u8 = 16;
pub const PROVIDER_REFUSED: u8 = 17;
pub const NETWORK: u8 = 18;
pub const CONNECTION_TEST_FAILED: u8 = 19;

/// The exit status for a failure with this code. Codes of features the CLI does not offer (the
/// app's clipboard) and any code added later fall under 1 until they get a status here.
pub fn status(code: Code) -> u8 {
    match code {
        Code::NotFound | Code::SecretMissing => NOT_FOUND,
        Code::KeyringUnavailable => KEYRING_UNAVAILABLE,
        Code::KeyringLocked | Code::PassphraseRequired | Code::WrongPassphrase => LOCKED,
        Code::DataCorrupt => DATA_CORRUPT,
        Code::InvalidInput
        | Code::EmptySecret
        | Code::SecretTooLarge
        | Code::FormatMismatch
        | Code::UnknownProvider
        | Code::UnknownClient
        | Code::LooksLikeAccountPassword
        | Code::WeakPassphrase
        | Code::MissingServer => INVALID_INPUT,
        Code::NameTaken => NAME_TAKEN,
        Code::StorageFailure => STORAGE_FAILURE,
        Code::ClientIdMissing => CLIENT_ID_MISSING,
        Code::LockedByPolicy => LOCKED_BY_POLICY,
        Code::SignInRequired => SIGN_IN_REQUIRED,
        Code::SignInCancelled | Code::SignInDenied | Code::SignInTimedOut => SIGN_IN_NOT_FINISHED,
        Code::StateMismatch
        | Code::CodeReplayed
        | Code::PkceMismatch
        | Code::IssuerMismatch
        | Code::AudienceMismatch
        | Code::IdTokenExpired
        | Code::IdTokenInvalid
        | Code::RedirectNotLoopback => SIGN_IN_UNSAFE,
        Code::MfaRequired | Code::MfaEnrollmentRequired => MFA_NEEDED,
        Code::ConsentRequired
        | Code::AppNotInTenant
        | Code::PublicClientFlowsDisabled
        | Code::BlockedByConditionalAccess
        | Code::BlockedBySecurityDefaults
        | Code::WrongTenant
        | Code::GraphAccessDenied => ORGANISATION_MUST_ACT,
        Code::ProviderRejected | Code::DiscoveryFailed | Code::ProtocolError => PROVIDER_REFUSED,
        Code::Offline
        | Code::DnsFailure
        | Code::TlsFailure
        | Code::NetworkTimeout
        | Code::ServiceUnavailable => NETWORK,
        Code::ConnectionTestFailed | Code::AuthRejected => CONNECTION_TEST_FAILED,
        _ => INTERNAL,
    }
}

/// Shown after `apppass --help`, and copied verbatim into docs/CLI.md.
pub const HELP: &str = "\
Exit status:
  0  success
  1  internal error, a bug (Internal), or a failure of a feature the CLI does not offer
  2  usage error: unknown command or option, missing argument
  3  not found: no entry by that name (NotFound), or its password is missing (SecretMissing)
  4  no OS keyring could be reached (KeyringUnavailable)
  5  locked: the keyring is locked or refused access (KeyringLocked), or the encrypted file
     store's passphrase is needed (PassphraseRequired) or wrong (WrongPassphrase)
  6  data corrupt: the database, settings or store file cannot be read (DataCorrupt)
  7  invalid input (InvalidInput, EmptySecret, SecretTooLarge, FormatMismatch,
     LooksLikeAccountPassword, UnknownProvider, UnknownClient, WeakPassphrase), or the entry has
     no server for what was asked (MissingServer)
  8  name taken: another entry already has that name (NameTaken)
  9  storage failure: the data directory cannot be read or written (StorageFailure)
  10  sign-in is not set up: no client ID; IT must register apppass (ClientIdMissing)
  11  refused: the administrator's policy file fixes that setting (LockedByPolicy)
  12  not signed in, or the sign-in ended: run `apppass login` (SignInRequired)
  13  sign-in not finished: cancelled, e.g. Ctrl+C (SignInCancelled), declined (SignInDenied),
      or not completed in time (SignInTimedOut)
  14  the sign-in answer was refused as unsafe (StateMismatch, CodeReplayed, PkceMismatch,
      IssuerMismatch, AudienceMismatch, IdTokenExpired, IdTokenInvalid, RedirectNotLoopback)
  15  multifactor authentication is needed first (MfaRequired, MfaEnrollmentRequired)
  16  your organisation must act: consent or app registration (ConsentRequired, AppNotInTenant,
      PublicClientFlowsDisabled), or its policy blocked the sign-in (BlockedByConditionalAccess,
      BlockedBySecurityDefaults, WrongTenant), or Microsoft Graph lacks its consent for the MFA
      check (GraphAccessDenied)
  17  the identity provider refused (ProviderRejected) or its configuration is unusable
      (DiscoveryFailed), or a service's answer cannot be read (ProtocolError)
  18  network: no connection (Offline), name lookup (DnsFailure), secure connection
      (TlsFailure), no answer in time (NetworkTimeout), or the service stayed busy after
      retries (ServiceUnavailable)
  19  `apppass test`: a tested protocol did not sign in (ConnectionTestFailed; the result of
      each protocol says why, e.g. a rejected password, AuthRejected)

On failure apppass prints one line on stderr: `apppass: <what happened and what to do>`.

Environment:
  APPPASS_HOME=DIR         isolate a profile: its data directory and its keyring items
  APPPASS_PASSPHRASE_FD=N  read the encrypted file store's passphrase from descriptor N (one line)
  BROWSER=CMD[:CMD...]     the browser `apppass login` opens (%s stands for the address)";

#[cfg(test)]
mod tests {
    use super::*;

    /// The table row for `status`, with its continuation lines.
    fn help_line(status: u8) -> String {
        let mut lines = HELP
            .lines()
            .skip_while(|l| !l.starts_with(&format!("  {status}  ")));
        let first = lines
            .next()
            .unwrap_or_else(|| panic!("no help line for exit status {status}"));
        let mut row = first.to_string();
        for more in lines.take_while(|l| l.starts_with("     ")) {
            row.push(' ');
            row.push_str(more.trim());
        }
        row
    }

    #[test]
    fn every_code_has_a_documented_status() {
        for code in Code::ALL {
            if status(code) == INTERNAL {
                continue; // the catch-all line
            }
            let line = help_line(status(code));
            assert!(
                line.contains(&format!("({}", code.as_str()))
                    || line.contains(&format!(" {},", code.as_str()))
                    || line.contains(&format!(" {})", code.as_str())),
                "exit status {} line does not name {code}: {line}",
                status(code)
            );
        }
    }

    #[test]
    fn help_fits_clap_default_width() {
        for line in HELP.lines() {
            assert!(line.chars().count() < 100, "clap would wrap: {line}");
        }
    }

    #[test]
    fn statuses_are_distinct_per_family() {
        use std::collections::HashSet;
        let families: HashSet<u8> = Code::ALL.iter().map(|c| status(*c)).collect();
        assert_eq!(
            families.len(),
            18,
            "1 and 3-19; 0 and 2 are not failures of core"
        );
        assert_eq!(status(Code::Internal), INTERNAL);
        assert!(!families.contains(&OK) && !families.contains(&USAGE));
        for s in 0u8..=CONNECTION_TEST_FAILED {
            help_line(s);
        }
    }
}
