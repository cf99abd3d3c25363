// The body of the `bridge_imap`, `bridge_pop` and `bridge_smtp` fuzz targets, shared with the
// stable corpus test in crates/apppass-core/tests/bridge_fuzz_corpus.rs (all `include!` this
// file). The input is a scripted client (apppass_core::fuzzing::Script::from_fuzz: a flag byte,
// then the client's bytes, the part after a marker sent after STARTTLS) that the bridge's own
// session code serves in memory; the client book accepts one pair only and upstream tokens are
// never available, so nothing leaves the process.
//
// For any client bytes, the session:
// - ends by itself (never hangs) and never panics;
// - answers in well-formed lines of its protocol (CR LF, no control characters, at most 1000
//   bytes, the protocol's status forms), a bounded number of them per line received;
// - never reads more than 24 KiB beyond the last line end it was given (line limits hold);
// - never says "signed in" (the upstream sign-in cannot succeed here), asks for an upstream token
//   only after the one right local password, and never echoes the password;
// - after STARTTLS/STLS checks only credentials sent after the handshake (nothing pipelined in
//   clear text counts, RFC 3207 §4.2 / RFC 2595 §3.1 / RFC 3501 §6.2.1), and never offers
//   STARTTLS on a TLS connection.

#[allow(dead_code)]
pub fn check_imap(data: &[u8]) {
    use apppass_core::fuzzing::{imap, Script};
    let script = Script::from_fuzz(data);
    let t = imap(&script);
    let lines = common(&script, &t, "IMAP");
    let greeting = lines.first().expect("no greeting");
    let caps = "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN ID";
    assert!(
        greeting == &format!("{caps}] apppass bridge ready")
            || (!script.implicit_tls
                && greeting == &format!("{caps} STARTTLS] apppass bridge ready")),
        "greeting {greeting:?}"
    );
    let mut tls = script.implicit_tls;
    for line in &lines[1..] {
        let ok = if let Some(rest) = line.strip_prefix("* ") {
            !rest.is_empty()
        } else if line.starts_with("+ ") {
            true
        } else {
            let (tag, rest) = line.split_once(' ').expect("a reply without a status");
            // imap-codec's tags have no length limit but the command's (16 KiB); the bridge
            // echoes the client's own tag.
            let tag_ok = !tag.is_empty()
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\+".contains(&b));
            tag_ok
                && (rest.starts_with("OK ") || rest.starts_with("NO ") || rest.starts_with("BAD "))
        };
        assert!(ok, "malformed IMAP reply {line:?}");
        assert!(!line.contains("] Logged in"), "signed in: {line:?}");
        if line.starts_with("* CAPABILITY") && tls {
            assert!(!line.contains("STARTTLS"), "STARTTLS offered on TLS");
        }
        tls |= line.ends_with(" OK Begin TLS negotiation now");
        // The password is never echoed (a tag is the client's own word, echoed by design).
        let after_tag = line.split_once(' ').map_or("", |(_, r)| r);
        assert!(!after_tag.contains(apppass_core::fuzzing::PASSWORD));
    }
}

#[allow(dead_code)]
pub fn check_pop(data: &[u8]) {
    use apppass_core::fuzzing::{pop, Script, PASSWORD};
    let script = Script::from_fuzz(data);
    let t = pop(&script);
    let lines = common(&script, &t, "POP3");
    assert_eq!(
        lines.first().map(String::as_str),
        Some("+OK apppass bridge ready")
    );
    let mut list = false;
    let mut tls = script.implicit_tls;
    for line in &lines[1..] {
        if list {
            if line == "." {
                list = false;
            } else {
                assert!(
                    !line.is_empty()
                        && !line.starts_with('.')
                        && line.bytes().all(|b| b.is_ascii_uppercase()
                            || b.is_ascii_digit()
                            || b"- ".contains(&b)),
                    "malformed POP3 list line {line:?}"
                );
                if tls {
                    assert_ne!(line, "STLS", "STLS offered on TLS");
                }
            }
            continue;
        }
        assert!(
            line.starts_with("+OK") || line.starts_with("-ERR ") || line == "+ ",
            "malformed POP3 reply {line:?}"
        );
        assert_ne!(line, "+OK Logged in", "signed in");
        list = line == "+OK Capability list follows" || line == "+OK";
        tls |= line == "+OK Begin TLS negotiation";
        assert!(!line.contains(PASSWORD));
    }
}

#[allow(dead_code)]
pub fn check_smtp(data: &[u8]) {
    use apppass_core::fuzzing::{smtp, Script, PASSWORD};
    let script = Script::from_fuzz(data);
    let t = smtp(&script);
    let lines = common(&script, &t, "SMTP");
    assert_eq!(
        lines.first().map(String::as_str),
        Some("220 127.0.0.1 apppass bridge ESMTP")
    );
    let mut open: Option<&str> = None;
    let mut tls = script.implicit_tls;
    for line in &lines[1..] {
        let b = line.as_bytes();
        assert!(
            b.len() >= 4
                && (b'2'..=b'5').contains(&b[0])
                && b[1].is_ascii_digit()
                && b[2].is_ascii_digit()
                && (b[3] == b' ' || b[3] == b'-'),
            "malformed SMTP reply {line:?}"
        );
        let code = &line[..3];
        if let Some(c) = open {
            assert_eq!(c, code, "a multi-line reply changed its code: {line:?}");
        }
        open = (b[3] == b'-').then_some(code);
        assert_ne!(code, "235", "signed in: {line:?}");
        assert!(!line.contains(PASSWORD));
        if tls {
            assert_ne!(line, "250-STARTTLS", "STARTTLS offered on TLS");
        }
        tls |= line == "220 2.0.0 Ready to start TLS";
    }
    assert!(open.is_none(), "a multi-line reply never ended");
}

/// The checks every protocol shares; returns the reply lines (without CR LF).
fn common(
    script: &apppass_core::fuzzing::Script,
    t: &apppass_core::fuzzing::Transcript,
    what: &str,
) -> Vec<String> {
    use apppass_core::fuzzing::{base64_words, USER};

    assert!(t.finished, "{what}: the session did not end");
    assert!(t.read <= script.plain.len() + script.tls.len());
    assert!(
        t.beyond_line_end <= 24 * 1024,
        "{what}: read {} bytes beyond a line end",
        t.beyond_line_end
    );
    // Replies: CR LF lines, UTF-8 without control characters, short.
    assert!(
        t.output.is_empty() || t.output.ends_with(b"\r\n"),
        "{what}: unfinished reply"
    );
    let text = std::str::from_utf8(&t.output).expect("replies are UTF-8");
    let lines: Vec<String> = text
        .strip_suffix("\r\n")
        .unwrap_or(text)
        .split("\r\n")
        .filter(|_| !t.output.is_empty())
        .map(str::to_string)
        .collect();
    for line in &lines {
        // Short, but for an IMAP tag echoed at the start (as long as the client made it).
        let own = match what {
            "IMAP" => line.split_once(' ').map_or(line.as_str(), |(_, rest)| rest),
            _ => line,
        };
        assert!(own.len() <= 1000, "{what}: a reply of {} bytes", line.len());
        assert!(
            line.len() <= 17 * 1024,
            "{what}: a reply of {} bytes",
            line.len()
        );
        assert!(
            !line.chars().any(char::is_control),
            "{what}: control character in {line:?}"
        );
    }
    let newlines = script
        .plain
        .iter()
        .chain(&script.tls)
        .filter(|&&b| b == b'\n')
        .count();
    assert!(
        lines.len() <= 8 * (newlines + 2),
        "{what}: {} reply lines to {newlines} lines",
        lines.len()
    );
    // Credentials: only the right pair opens the way upstream, at most two tokens per sign-in.
    let accepted = t.checks.iter().filter(|c| c.accepted).count();
    assert!(
        t.token_requests <= 2 * accepted,
        "{what}: {} token requests after {accepted} right passwords",
        t.token_requests
    );
    for c in &t.checks {
        if c.accepted {
            assert_eq!(c.user, USER);
        }
        if script.implicit_tls {
            assert!(c.tls && !c.upgraded);
        } else if !c.upgraded {
            assert!(!c.tls, "{what}: TLS without STARTTLS");
        } else {
            // After STARTTLS: the user name came in the TLS part, never from clear text.
            assert!(
                c.tls_read > 0,
                "{what}: checked credentials before reading after TLS"
            );
            let user = c.user.as_bytes();
            // An IMAP quoted string as the parser reads it: a backslash escapes the next byte.
            let mut unescaped = Vec::with_capacity(script.tls.len());
            let mut bytes = script.tls.iter();
            while let Some(&b) = bytes.next() {
                match b {
                    b'\\' => unescaped.extend(bytes.next()),
                    _ => unescaped.push(b),
                }
            }
            let found = c.user.contains('\u{fffd}')
                || contains(&script.tls, user)
                || contains(&unescaped, user)
                || base64_words(&script.tls).iter().any(|w| contains(w, user));
            assert!(
                found,
                "{what}: checked the user {:?} after STARTTLS, but it was not sent after it",
                c.user
            );
        }
    }
    lines
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
