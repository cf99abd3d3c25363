//! Plain words for known server answers, and the next step. Every server code explained here is
//! from its RFC or from the provider research (../shared/reference/providers.md, anchors.md):
//!
//! - SMTP `535 5.7.8`, `534 5.7.9`, `454 4.7.0`: RFC 4954 §6 (SMTP AUTH).
//! - SMTP `5.7.139` "SmtpClientAuthentication is disabled for the Tenant" (Microsoft 365) and
//!   `5.7.30` "Basic authentication is not supported for Client Submission": providers.md §4.2,
//!   anchors.md A1 item 5.
//! - IMAP `[AUTHENTICATIONFAILED]`, `[EXPIRED]`, `[CONTACTADMIN]`, `[UNAVAILABLE]`,
//!   `[AUTHORIZATIONFAILED]`: RFC 5530 (IMAP response codes).
//! - POP3 `[AUTH]`, `[SYS/TEMP]`, `[IN-USE]`: RFC 3206 (POP3 response codes).

use super::CheckResult;
use crate::catalog::Protocol;

const NEW_PASSWORD: &str = "Check the user name; if it is right, the app password is wrong or was revoked (changing the account's main password revokes them at some providers): create a new app password at the provider and store it in apppass (rotate).";

/// What `detail` means for a person, with the next step; `None` when there is nothing to add.
pub fn explain(protocol: Protocol, result: CheckResult, detail: &str) -> Option<String> {
    let upper = detail.to_ascii_uppercase();
    let has = |s: &str| upper.contains(s);
    let text = match result {
        CheckResult::Ok => return None,
        CheckResult::AuthRejected => match protocol {
            Protocol::Smtp if has("5.7.139") => "Microsoft 365 has SMTP AUTH (sign-in with a password) turned off for this organisation or mailbox. A new app password will not help: an administrator must enable SMTP AUTH for the mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false) or the organisation, and nothing such as security defaults may block legacy authentication.".to_string(),
            Protocol::Smtp if has("5.7.30") => "This server no longer accepts basic authentication (a password or app password) for sending mail. The mail program must use OAuth (modern authentication) instead; an app password cannot work here.".to_string(),
            Protocol::Smtp if upper.starts_with("535") || has("5.7.8") => format!("The server rejected the user name or password (SMTP 535 5.7.8: authentication credentials invalid). {NEW_PASSWORD}"),
            Protocol::Smtp if upper.starts_with("534") || has("5.7.9") => "The server's policy does not accept a password sign-in (AUTH PLAIN or LOGIN) for this account (SMTP 534 5.7.9: authentication mechanism too weak). Check the provider's settings for this account.".to_string(),
            Protocol::Smtp if upper.starts_with("454") || upper.starts_with('4') => "The server could not check the password just now (a temporary failure). Try again in a few minutes.".to_string(),
            Protocol::Imap if has("[AUTHENTICATIONFAILED]") => format!("The server rejected the user name or password (IMAP AUTHENTICATIONFAILED). {NEW_PASSWORD}"),
            Protocol::Imap if has("[EXPIRED]") => "The server says this password has expired (IMAP EXPIRED): create a new app password at the provider and store it in apppass (rotate).".to_string(),
            Protocol::Imap if has("[CONTACTADMIN]") => "The server asks you to contact its administrator or support desk (IMAP CONTACTADMIN).".to_string(),
            Protocol::Imap if has("[UNAVAILABLE]") => "The server could not check the password just now (IMAP UNAVAILABLE: a temporary failure). Try again in a few minutes.".to_string(),
            Protocol::Imap if has("[AUTHORIZATIONFAILED]") => "The password was accepted but this user may not use the mailbox (IMAP AUTHORIZATIONFAILED). Check the user name.".to_string(),
            Protocol::Pop if has("[SYS/TEMP]") => "The server could not check the password just now (POP3 SYS/TEMP: a temporary failure). Try again in a few minutes.".to_string(),
            Protocol::Pop if has("[IN-USE]") => "Another program is using this mailbox over POP3 right now (POP3 IN-USE). Close it, or try again later.".to_string(),
            Protocol::Pop if has("[AUTH]") => format!("The server rejected the user name or password (POP3 AUTH). {NEW_PASSWORD}"),
            _ => format!("The server refused the sign-in. {NEW_PASSWORD}"),
        },
        CheckResult::TlsError if has("STARTTLS") || has("STLS") => "The server did not offer an encrypted connection (STARTTLS) on this port, so apppass did not send the password. Check the port and security: 993 (IMAP), 465 (SMTP) and 995 (POP3) use TLS; 143, 587 and 110 use STARTTLS. A network that strips STARTTLS is unsafe for passwords.".to_string(),
        CheckResult::TlsError if has("UNKNOWN ISSUER") || has("UNKNOWNISSUER") => "The server's certificate is not from a certificate authority this computer trusts. If your organisation uses its own CA (or inspects TLS), give its CA certificate as the extra CA file (the ca_file setting, or --ca-file); otherwise do not use this server.".to_string(),
        CheckResult::TlsError if has("ANOTHER HOST NAME") || has("NOTVALIDFORNAME") => "The server's certificate is for another host name: check the server name in the entry's settings.".to_string(),
        CheckResult::TlsError if has("CA FILE") => "The extra CA file cannot be used: fix the file or the ca_file setting.".to_string(),
        CheckResult::TlsError => "The secure connection failed. Check the port and security setting (TLS or STARTTLS) and the computer's date and time.".to_string(),
        CheckResult::Timeout => "The server did not answer in time. Check the host name and port, and whether a firewall blocks the connection.".to_string(),
        CheckResult::DnsError => "The server's name could not be found. Check the host name in the entry's settings and the network connection.".to_string(),
        CheckResult::ConnectionRefused => "Nothing answered on that port. Check the host name and port in the entry's settings, and whether a firewall blocks it.".to_string(),
        CheckResult::ProtocolError => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_are_explained() {
        let smtp = |d| explain(Protocol::Smtp, CheckResult::AuthRejected, d).unwrap();
        assert!(smtp("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.").contains("administrator must enable SMTP AUTH"));
        assert!(
            smtp("550 5.7.30 Basic authentication is not supported for Client Submission.")
                .contains("OAuth")
        );
        assert!(smtp("535 5.7.8 Authentication credentials invalid").contains("new app password"));
        assert!(smtp("454 4.7.0 Temporary authentication failure").contains("Try again"));
        let imap = explain(
            Protocol::Imap,
            CheckResult::AuthRejected,
            "[AUTHENTICATIONFAILED] Authentication failed.",
        )
        .unwrap();
        assert!(imap.contains("AUTHENTICATIONFAILED") && imap.contains("new app password"));
        assert!(explain(
            Protocol::Pop,
            CheckResult::AuthRejected,
            "-ERR [AUTH] Authentication failed."
        )
        .unwrap()
        .contains("POP3 AUTH"));
        assert!(explain(Protocol::Imap, CheckResult::Ok, "OK").is_none());
        assert!(explain(
            Protocol::Smtp,
            CheckResult::TlsError,
            "x does not offer STARTTLS, so apppass did not send the password"
        )
        .unwrap()
        .contains("did not send the password"));
    }
}
