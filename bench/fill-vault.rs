//! Fills the vault of `APPPASS_HOME` with N app-password entries in one process, for the
//! benchmarks (bench/README.md): 10,000 entries through the CLI would start 10,000 processes.
//! Each entry goes through `Vault::add` like any other (its password to the store the profile's
//! settings name, its metadata to the database). The passwords are made up here (never argv);
//! an encrypted file store's passphrase is read from standard input.
//!
//! Run: `APPPASS_HOME=DIR cargo run --release -p apppass-core --example fill-vault -- N`

use std::io::BufRead;
use std::time::Instant;

use apppass_core::open::open_vault;
use apppass_core::profile::Profile;
use apppass_core::secret::Secret;
use apppass_core::vault::{EntryKind, NewEntry};

fn main() {
    let n: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: APPPASS_HOME=DIR fill-vault N");
            std::process::exit(2);
        }
    };
    let fail = |what: &str, e: apppass_core::error::Failure| -> ! {
        eprintln!("fill-vault: {what}: {} ({:?})", e.message, e.code);
        std::process::exit(1);
    };
    let profile = Profile::from_env().unwrap_or_else(|e| fail("profile", e));
    let mut passphrase = || {
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        Ok(Some(Secret::new(
            line.trim_end_matches(['\r', '\n']).to_string(),
        )))
    };
    let (vault, _) =
        open_vault(&profile, "bench", &mut passphrase).unwrap_or_else(|e| fail("open", e));
    let clients = [
        "thunderbird",
        "outlook",
        "apple-mail",
        "msmtp",
        "printer",
        "k9",
    ];
    let places = ["laptop", "desktop", "office", "home", "phone"];
    let start = Instant::now();
    for i in 0..n {
        let new = NewEntry {
            name: format!("{} on {} {i}", clients[i % 6], places[(i / 6) % 5]),
            provider: "custom".into(),
            account: format!("user{}@corp{}.example", i % 997, i % 13),
            client: clients[i % 6].into(),
            kind: EntryKind::AppPassword,
            notes: String::new(),
            servers: None,
        };
        let password = Secret::new(format!(
            "bench-{i:05}-{:08x}",
            i.wrapping_mul(2_654_435_761)
        ));
        vault.add(new, &password).unwrap_or_else(|e| fail("add", e));
        if (i + 1) % 1000 == 0 || i + 1 == n {
            eprintln!(
                "fill-vault: {} entries, {:.1} s",
                i + 1,
                start.elapsed().as_secs_f64()
            );
        }
    }
}
