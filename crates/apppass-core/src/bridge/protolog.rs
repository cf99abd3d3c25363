//! The opt-in protocol log: what clients, the bridge and the mail servers said, one line each,
//! for troubleshooting a client. Off unless `[bridge] protocol_log = true`.
//!
//! Censoring happens here, on every line, whoever calls: the arguments of IMAP LOGIN and
//! AUTHENTICATE, POP3 USER/PASS/APOP/AUTH, SMTP AUTH, and every line that could be a SASL
//! continuation (a single word that is not a known command: base64 of PLAIN, LOGIN, XOAUTH2…)
//! are replaced by `***`. So neither the local password nor an access token reaches the file.
//! The file is created 0600 and only appended to.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use crate::catalog::Protocol;
use crate::error::Failure;

/// Who said a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// The mail client to the bridge.
    FromClient,
    /// The bridge to the mail client.
    ToClient,
    /// The bridge to the mail server.
    ToServer,
    /// The mail server to the bridge.
    FromServer,
}

impl Direction {
    fn mark(self) -> &'static str {
        match self {
            Direction::FromClient => "C>",
            Direction::ToClient => "C<",
            Direction::ToServer => "S<",
            Direction::FromServer => "S>",
        }
    }

    /// Lines a client (or the bridge as a client) sends carry credentials.
    fn is_client_side(self) -> bool {
        matches!(self, Direction::FromClient | Direction::ToServer)
    }
}

/// The longest part of one line written to the log.
const MAX_LINE: usize = 2000;

pub(crate) struct ProtocolLog {
    file: Mutex<std::fs::File>,
}

impl ProtocolLog {
    /// Opens (creates 0600) the log for appending.
    pub fn open(path: &Path) -> Result<ProtocolLog, Failure> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| crate::fsutil::storage_failure(dir, e))?;
            }
        }
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options
            .open(path)
            .map_err(|e| crate::fsutil::storage_failure(path, e))?;
        #[cfg(unix)]
        {
            // An existing file made by something else keeps no wider permissions.
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        Ok(ProtocolLog {
            file: Mutex::new(file),
        })
    }

    /// Appends one line (or one message: only its first line is kept when it must be censored),
    /// censored. Write errors are ignored: the log must never break a session.
    pub fn write(&self, session: u64, protocol: Protocol, direction: Direction, line: &[u8]) {
        let text = censor(protocol, direction, line);
        let time = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
        let entry = format!(
            "{time} #{session} {} {} {text}\n",
            protocol.as_str(),
            direction.mark()
        );
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let _ = file.write_all(entry.as_bytes());
    }
}

/// One line as it may be written: credentials replaced by `***`, control characters escaped,
/// at most [`MAX_LINE`] bytes.
pub(crate) fn censor(protocol: Protocol, direction: Direction, line: &[u8]) -> String {
    if direction.is_client_side() {
        // A message with literals (`a LOGIN {3}` CRLF `ann {8}` …) is judged by its first line,
        // and censored whole.
        let first = line.split(|&b| b == b'\n').next().unwrap_or_default();
        let first = first.strip_suffix(b"\r").unwrap_or(first);
        if let Some(censored) = censor_client(protocol, first) {
            return censored;
        }
    }
    printable(line)
}

/// `Some(censored)` when the client line carries a credential.
fn censor_client(protocol: Protocol, first: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(first);
    let words: Vec<&str> = text.split(' ').collect();
    // A single word: a SASL continuation (base64) or `*` (cancel), unless it is a command that
    // takes no argument.
    if words.len() == 1 {
        let word = words[0].trim();
        let bare: &[&str] = match protocol {
            Protocol::Imap => &[],
            Protocol::Pop => &[
                "STAT", "LIST", "UIDL", "QUIT", "NOOP", "RSET", "CAPA", "STLS",
            ],
            Protocol::Smtp => &["DATA", "QUIT", "RSET", "NOOP", "STARTTLS", "HELP", "."],
        };
        if word.is_empty() || bare.iter().any(|c| c.eq_ignore_ascii_case(word)) {
            return None;
        }
        return Some("***".into());
    }
    let upper = |i: usize| words.get(i).map(|w| w.to_ascii_uppercase());
    match protocol {
        Protocol::Imap => {
            // tag SP command [SP args]; UID-less: LOGIN and AUTHENTICATE are never UID commands.
            let command = upper(1)?;
            match command.as_str() {
                "LOGIN" => Some(format!("{} LOGIN ***", printable_str(words[0]))),
                "AUTHENTICATE" => Some(match words.get(2) {
                    Some(mech) if words.len() > 3 => format!(
                        "{} AUTHENTICATE {} ***",
                        printable_str(words[0]),
                        printable_str(mech)
                    ),
                    Some(mech) => format!(
                        "{} AUTHENTICATE {}",
                        printable_str(words[0]),
                        printable_str(mech)
                    ),
                    None => format!("{} AUTHENTICATE", printable_str(words[0])),
                }),
                _ => None,
            }
        }
        Protocol::Pop => match upper(0)?.as_str() {
            c @ ("USER" | "PASS" | "APOP") => Some(format!("{c} ***")),
            "AUTH" => Some(auth_line(&words)),
            _ => None,
        },
        Protocol::Smtp => match upper(0)?.as_str() {
            "AUTH" => Some(auth_line(&words)),
            _ => None,
        },
    }
}

/// `AUTH MECH ***` (the mechanism name is kept, the initial response is not).
fn auth_line(words: &[&str]) -> String {
    match words.get(1) {
        Some(mech) if words.len() > 2 => format!("AUTH {} ***", printable_str(mech)),
        Some(mech) => format!("AUTH {}", printable_str(mech)),
        None => "AUTH".into(),
    }
}

fn printable_str(s: &str) -> String {
    printable(s.as_bytes())
}

/// Escapes control bytes (CR and LF as `\r`, `\n`), keeps at most [`MAX_LINE`] bytes.
fn printable(bytes: &[u8]) -> String {
    let bytes = bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(bytes);
    let cut = bytes.len() > MAX_LINE;
    let bytes = &bytes[..bytes.len().min(MAX_LINE)];
    let mut out = String::with_capacity(bytes.len());
    for c in String::from_utf8_lossy(bytes).chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    if cut {
        out.push_str(" […]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn credentials_never_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/bridge-protocol.log");
        let log = ProtocolLog::open(&path).unwrap();
        let password = "kq7rz-mxv3t-9wpa2-hhf4c-bn6ud-e8jsy";
        let token = "ya29.very-secret-access-token";
        let xoauth2 = b64(&format!(
            "user=ann@example.test\x01auth=Bearer {token}\x01\x01"
        ));
        let plain = b64(&format!("\0thunderbird\0{password}"));
        let lines: Vec<(Protocol, Direction, String)> = vec![
            (
                Protocol::Imap,
                Direction::FromClient,
                format!("a1 LOGIN thunderbird {password}\r\n"),
            ),
            (
                Protocol::Imap,
                Direction::FromClient,
                format!("a1 login \"thunderbird\" \"{password}\"\r\n"),
            ),
            (
                Protocol::Imap,
                Direction::FromClient,
                format!("a2 LOGIN {{11}}\r\nthunderbird {{35}}\r\n{password}\r\n"),
            ),
            (
                Protocol::Imap,
                Direction::FromClient,
                format!("a3 AUTHENTICATE PLAIN {plain}\r\n"),
            ),
            (
                Protocol::Imap,
                Direction::FromClient,
                "a4 AUTHENTICATE PLAIN\r\n".into(),
            ),
            (
                Protocol::Imap,
                Direction::FromClient,
                format!("{plain}\r\n"),
            ),
            (
                Protocol::Imap,
                Direction::ToServer,
                format!("A1 AUTHENTICATE XOAUTH2 {xoauth2}\r\n"),
            ),
            (
                Protocol::Imap,
                Direction::ToServer,
                format!("{xoauth2}\r\n"),
            ),
            (
                Protocol::Pop,
                Direction::FromClient,
                "USER thunderbird\r\n".into(),
            ),
            (
                Protocol::Pop,
                Direction::FromClient,
                format!("PASS {password}\r\n"),
            ),
            (
                Protocol::Pop,
                Direction::FromClient,
                format!("AUTH PLAIN {plain}\r\n"),
            ),
            (
                Protocol::Pop,
                Direction::ToServer,
                format!("AUTH XOAUTH2 {xoauth2}\r\n"),
            ),
            (
                Protocol::Smtp,
                Direction::FromClient,
                format!("AUTH PLAIN {plain}\r\n"),
            ),
            (
                Protocol::Smtp,
                Direction::FromClient,
                "AUTH LOGIN\r\n".into(),
            ),
            (
                Protocol::Smtp,
                Direction::FromClient,
                format!("{}\r\n", b64("thunderbird")),
            ),
            (
                Protocol::Smtp,
                Direction::FromClient,
                format!("{}\r\n", b64(password)),
            ),
            (
                Protocol::Smtp,
                Direction::ToServer,
                format!("auth xoauth2 {xoauth2}\r\n"),
            ),
        ];
        for (protocol, direction, line) in &lines {
            log.write(7, *protocol, *direction, line.as_bytes());
        }
        // What the rest of the dialogue looks like stays readable.
        log.write(
            7,
            Protocol::Imap,
            Direction::FromClient,
            b"a5 SELECT INBOX\r\n",
        );
        log.write(
            7,
            Protocol::Imap,
            Direction::ToClient,
            b"a5 OK [READ-WRITE] Select completed\r\n",
        );
        log.write(7, Protocol::Pop, Direction::FromClient, b"STAT\r\n");
        log.write(
            7,
            Protocol::Smtp,
            Direction::FromClient,
            b"MAIL FROM:<ann@example.test>\r\n",
        );
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in [password, token, &xoauth2, &plain, &b64(password)] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
        assert!(
            !text.contains("thunderbird"),
            "user names are censored too:\n{text}"
        );
        assert_eq!(text.lines().count(), lines.len() + 4);
        assert!(text.contains("#7 imap C> a1 LOGIN ***"), "{text}");
        assert!(
            text.contains("imap S< A1 AUTHENTICATE XOAUTH2 ***"),
            "{text}"
        );
        assert!(text.contains("imap C> a4 AUTHENTICATE PLAIN\n"), "{text}");
        assert!(text.contains("pop C> PASS ***"), "{text}");
        assert!(text.contains("smtp C> AUTH LOGIN\n"), "{text}");
        assert!(text.contains("imap C> a5 SELECT INBOX"), "{text}");
        assert!(
            text.contains("imap C< a5 OK [READ-WRITE] Select completed"),
            "{text}"
        );
        assert!(text.contains("pop C> STAT"), "{text}");
        assert!(
            text.contains("smtp C> MAIL FROM:<ann@example.test>"),
            "{text}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn long_lines_are_cut_and_controls_escaped() {
        let long = vec![b'x'; MAX_LINE + 10];
        let shown = censor(Protocol::Imap, Direction::FromServer, &long);
        assert!(shown.ends_with(" […]"));
        assert_eq!(
            censor(Protocol::Imap, Direction::FromServer, b"* OK a\x1bb\r\n"),
            "* OK a\\x1bb"
        );
    }
}
