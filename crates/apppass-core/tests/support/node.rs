//! Starting a Node test harness (the OpenID provider, the Graph emulator) from the tests.

#![allow(dead_code)]

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// A running harness. It lives as long as the test binary: it exits when its stdin closes.
pub struct NodeProcess {
    /// The JSON object the harness prints on its first line (its addresses).
    pub ready: serde_json::Value,
    _child: Mutex<Child>,
    // Kept open: the harness exits when the test binary exits and this pipe closes.
    _stdin: Mutex<ChildStdin>,
}

/// Runs `node server.mjs ARGS` in `dir` and waits up to 60 s for its first line, a JSON object
/// (a loaded 2-core machine starting several harnesses at once needs more than 30 s).
/// `what` names the harness in failures, whose message includes the harness's log.
pub fn start(dir: &Path, args: &[&str], what: &str, log_name: &str) -> NodeProcess {
    let log = std::env::temp_dir().join(format!("{log_name}-{}.log", std::process::id()));
    let mut child = Command::new("node")
        .arg("server.mjs")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("harness log file"))
        .spawn()
        .unwrap_or_else(|e| panic!("node runs (Node.js 20+ is needed for {what}): {e}"));
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        // Keep draining, so the harness never writes into a closed pipe.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| {
        panic!(
            "{what} did not start; its log ({}):\n{}",
            log.display(),
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    NodeProcess {
        ready,
        _child: Mutex::new(child),
        _stdin: Mutex::new(stdin),
    }
}
