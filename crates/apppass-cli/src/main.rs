//! `apppass`: the command line for apppass. A thin layer over apppass-core (no Tauri, no GUI
//! libraries): parse, call the core, print, and map the core's failure code to an exit status.

mod bridge;
mod catalog_cmds;
mod cli;
mod commands;
mod exit;
mod input;
mod mfa;
mod output;
mod signin;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = cli::Cli::parse();
    match commands::run(cli.command) {
        Ok(status) => ExitCode::from(status),
        Err(failure) => {
            // Exactly one line: mail clients show it as is.
            let message = failure.message.replace(['\n', '\r'], " ");
            let _ = writeln!(std::io::stderr(), "apppass: {message}");
            ExitCode::from(exit::status(failure.code))
        }
    }
}

/// Rust ignores SIGPIPE, which turns `apppass list | head -1` into a write error; behave like
/// other command-line tools instead and end quietly when the reader goes away.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to the default before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
