//! On a terminal, apppass asks for secrets and passphrases on stderr with echo off. The terminal
//! is a pseudo-terminal made by util-linux `script`; the store is the encrypted file (no keyring
//! is reachable), so these tests need no Secret Service.

#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const STRONG: &str = "violet tractor sings under ninety lamps";

/// A command running on a pseudo-terminal, with everything it shows collected.
struct Terminal {
    child: Child,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Terminal {
    fn start(home: &Home, args: &str) -> Option<Terminal> {
        let spawned = Command::new("script")
            .args(["-q", "-e", "-c", &format!("'{BIN}' {args}"), "/dev/null"])
            .env("APPPASS_HOME", home.path())
            .env("DBUS_SESSION_BUS_ADDRESS", DEAD_BUS)
            .env("SHELL", "/bin/sh")
            .env_remove("APPPASS_PASSPHRASE_FD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                skipped("tty", &format!("util-linux `script` cannot run: {e}"));
                return None;
            }
        };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut stdout = child.stdout.take().unwrap();
        let sink = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Some(Terminal { child, seen })
    }

    fn screen(&self) -> String {
        text(&self.seen.lock().unwrap())
    }

    /// Waits until `prompt` has been shown `times` times in all, then types `line` and Enter.
    fn answer(&mut self, prompt: &str, times: usize, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.screen().matches(prompt).count() < times {
            assert!(
                Instant::now() < deadline,
                "no {prompt:?}; screen: {:?}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Let the prompt's reader switch echo off before typing.
        std::thread::sleep(Duration::from_millis(300));
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(format!("{line}\r").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    fn finish(mut self) -> (i32, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "still running; screen: {:?}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(100));
        (status.code().unwrap_or(-1), self.screen())
    }
}

#[test]
fn secrets_and_passphrases_are_asked_on_the_terminal_without_echo() {
    let h = Home::new();
    let Some(mut term) = Terminal::start(&h, "store use-file") else {
        return;
    };
    term.answer("New passphrase for the encrypted file store: ", 1, STRONG);
    term.answer("The same passphrase again: ", 1, STRONG);
    let (status, screen) = term.finish();
    assert_eq!(status, 0, "{screen}");
    assert!(
        !screen.contains("violet"),
        "the passphrase was echoed: {screen:?}"
    );
    assert!(
        screen.contains("Now keeping passwords in the encrypted file"),
        "{screen}"
    );

    let secret = "typed-on-a-terminal-42";
    let Some(mut term) = Terminal::start(
        &h,
        "add 'On a TTY' --provider custom --account a@b.c --client mutt",
    ) else {
        return;
    };
    term.answer("Passphrase of the encrypted file store: ", 1, STRONG);
    term.answer("App password for \"On a TTY\" (input hidden): ", 1, secret);
    let (status, screen) = term.finish();
    assert_eq!(status, 0, "{screen}");
    assert!(
        !screen.contains("typed-on"),
        "the secret was echoed: {screen:?}"
    );
    assert!(
        !screen.contains("violet"),
        "the passphrase was echoed: {screen:?}"
    );
    assert!(screen.contains("Added \"On a TTY\""), "{screen}");

    let mut get = h.std_cmd(["get", "On a TTY"]);
    get.env("DBUS_SESSION_BUS_ADDRESS", DEAD_BUS);
    let _keep = passphrase_fd(&mut get, STRONG);
    assert_eq!(text(&get.output().unwrap().stdout), format!("{secret}\n"));
}

#[test]
fn mistyped_new_passphrase_changes_nothing() {
    let h = Home::new();
    let Some(mut term) = Terminal::start(&h, "store use-file") else {
        return;
    };
    term.answer("New passphrase for the encrypted file store: ", 1, STRONG);
    term.answer(
        "The same passphrase again: ",
        1,
        "violet tractor sings under ninety lamp",
    );
    let (status, screen) = term.finish();
    assert_eq!(status, 7, "{screen}");
    assert!(screen.contains("The two passphrases differ"), "{screen}");
    assert!(!h.path().join("secrets.enc").exists());
}
