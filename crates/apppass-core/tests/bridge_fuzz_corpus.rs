//! Runs the `bridge_imap`, `bridge_pop` and `bridge_smtp` fuzz targets' body (fuzz/src/) on
//! stable Rust over their seed corpora in fuzz/corpus/bridge_*/ and over truncations, other
//! read sizes and byte changes of each file, so CI exercises the targets without a fuzzing run.
//! The second half reads what the seeds' sessions answered, to show the body sees real sessions.

include!("../../../fuzz/src/bridge_body.rs");

use apppass_core::fuzzing::{self, Script, PASSWORD, TLS_MARK, USER};

#[path = "support/fuzz_corpus.rs"]
mod fuzz_corpus;
use fuzz_corpus::{holds_on, seeds};

fn holds(target: &str, check: fn(&[u8])) {
    let files = seeds(target);
    assert!(files.len() >= 10, "the seed corpus of {target} is missing");
    let mut runs = 0;
    for (name, data) in &files {
        let mut inputs = vec![data.clone()];
        // Every read size, and the same bytes as implicit TLS.
        for flags in [0x00, 0x04, 0x08, 0x0e, 0x01] {
            let mut d = data.clone();
            d[0] = flags | (data[0] & 0x10);
            inputs.push(d);
        }
        for cut in (1..data.len()).step_by(3) {
            inputs.push(data[..cut].to_vec());
        }
        for at in (1..data.len()).step_by(5) {
            for byte in [b' ', b'\r', b'\n', b'{', b'}', b'"', b'*', 0xff, 0] {
                let mut d = data.clone();
                d[at] = byte;
                inputs.push(d);
            }
        }
        runs += holds_on(&format!("{target}/{name}"), &inputs, check);
    }
    assert!(runs > 500, "only {runs} inputs");
}

#[test]
fn imap_fuzz_body_holds_on_the_corpus_and_its_mutations() {
    holds("bridge_imap", check_imap);
}

#[test]
fn pop_fuzz_body_holds_on_the_corpus_and_its_mutations() {
    holds("bridge_pop", check_pop);
}

#[test]
fn smtp_fuzz_body_holds_on_the_corpus_and_its_mutations() {
    holds("bridge_smtp", check_smtp);
}

fn seed(target: &str, name: &str) -> Script {
    let data = seeds(target)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no seed {target}/{name}"))
        .1;
    Script::from_fuzz(&data)
}

fn text(t: &fuzzing::Transcript) -> String {
    String::from_utf8(t.output.clone()).unwrap()
}

#[test]
fn the_right_password_reaches_the_token_source_and_nothing_else_does() {
    for (target, run) in [
        (
            "bridge_imap",
            fuzzing::imap as fn(&Script) -> fuzzing::Transcript,
        ),
        ("bridge_pop", fuzzing::pop),
        ("bridge_smtp", fuzzing::smtp),
    ] {
        for (name, _) in seeds(target) {
            let t = run(&seed(target, &name));
            let right = t.checks.iter().filter(|c| c.accepted).count();
            assert_eq!(t.token_requests > 0, right > 0, "{target}/{name}");
            assert!(t.finished, "{target}/{name}");
        }
    }
    let t = fuzzing::imap(&seed("bridge_imap", "login-right"));
    assert_eq!(t.checks.len(), 1);
    assert!(t.checks[0].accepted && !t.checks[0].tls);
    assert!(text(&t).contains("a1 NO [UNAVAILABLE] apppass: the mail server refused"));
    let t = fuzzing::imap(&seed("bridge_imap", "login-literals"));
    assert!(t.checks[0].accepted, "literals, one byte per read");
    assert_eq!(text(&t).matches("+ Ready for literal data").count(), 2);
    let t = fuzzing::pop(&seed("bridge_pop", "user-pass-right"));
    assert!(t.checks[0].accepted);
    assert!(text(&t).contains("-ERR [SYS/TEMP] apppass: sign in again"));
    let t = fuzzing::smtp(&seed("bridge_smtp", "auth-login"));
    assert_eq!(t.checks.len(), 2);
    assert!(t.checks[0].accepted && !t.checks[1].accepted);
    assert!(text(&t).contains("535 5.7.8 apppass: your work-account sign-in has ended"));
    assert!(text(&t).contains("535 5.7.8 Authentication credentials invalid"));
}

#[test]
fn clear_text_pipelined_after_starttls_is_dropped() {
    // The right credentials sent in the same packet as STARTTLS/STLS are never checked.
    for (target, run, name) in [
        (
            "bridge_imap",
            fuzzing::imap as fn(&Script) -> fuzzing::Transcript,
            "starttls-pipelined",
        ),
        ("bridge_pop", fuzzing::pop, "stls-pipelined"),
        ("bridge_smtp", fuzzing::smtp, "starttls-pipelined"),
    ] {
        let script = seed(target, name);
        assert!(
            script
                .plain
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes())
                || fuzzing::base64_words(&script.plain)
                    .iter()
                    .any(|w| w.ends_with(PASSWORD.as_bytes()))
        );
        let t = run(&script);
        assert!(t.upgraded, "{target}: STARTTLS happened");
        assert!(t.checks.is_empty(), "{target}: checked {:?}", t.checks);
        assert_eq!(t.token_requests, 0);
    }
    // POP3: a USER given before STLS does not count after it.
    let t = fuzzing::pop(&seed("bridge_pop", "stls-then-pass"));
    assert_eq!(t.checks.len(), 1, "only the USER/PASS after STLS");
    assert!(t.checks[0].upgraded && t.checks[0].accepted && t.checks[0].user == USER);
    assert!(text(&t).contains("-ERR Send USER first"));
    // After STARTTLS, STARTTLS is neither offered nor accepted again.
    let t = fuzzing::smtp(&seed("bridge_smtp", "starttls-then-auth"));
    let after = text(&t)
        .split_once("220 2.0.0 Ready to start TLS")
        .unwrap()
        .1
        .to_string();
    assert!(
        after.contains("503 5.5.1 Send EHLO first"),
        "EHLO again after TLS: {after}"
    );
    assert!(after.contains("503 5.5.1 TLS is already active"));
    assert!(!after.contains("STARTTLS"));
    let t = fuzzing::imap(&seed("bridge_imap", "implicit-tls"));
    assert!(text(&t).contains("a2 BAD TLS is already active"));
    assert!(!text(&t).contains("STARTTLS"));
    assert!(!TLS_MARK.is_empty());
}

#[test]
fn line_limits_end_the_session_without_reading_on() {
    for (target, run, bye) in [
        (
            "bridge_imap",
            fuzzing::imap as fn(&Script) -> fuzzing::Transcript,
            "* BYE Command line too long",
        ),
        ("bridge_pop", fuzzing::pop, "-ERR Line too long, closing"),
        (
            "bridge_smtp",
            fuzzing::smtp,
            "500 5.5.6 Line too long, closing",
        ),
    ] {
        let script = seed(target, "line-too-long");
        assert!(script.plain.len() > fuzzing::LONG_LINE);
        let t = run(&script);
        assert!(text(&t).trim_end().ends_with(bye), "{target}: {}", text(&t));
        assert!(t.read < 24 * 1024, "{target} read {} bytes", t.read);
    }
    let t = fuzzing::imap(&seed("bridge_imap", "literal-too-long"));
    assert!(text(&t).contains("a1 BAD Command too long before sign-in"));
    assert!(
        text(&t).trim_end().ends_with("* BYE Command too long"),
        "a non-synchronizing literal ends it"
    );
    // Too many bad commands end the session.
    let t = fuzzing::smtp(&seed("bridge_smtp", "syntax-errors"));
    assert!(text(&t)
        .trim_end()
        .ends_with("421 4.7.0 Too many errors, closing the connection"));
}
