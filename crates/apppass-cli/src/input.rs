//! Reading secrets and passphrases: never from the command line or a plain environment value.
//!
//! - A secret (`add`, `rotate`) comes from standard input: on a terminal, a prompt on stderr and
//!   no echo; from a pipe, a plain read of at most [`MAX_STDIN_BYTES`], so a huge input fails at
//!   once instead of filling memory.
//! - The encrypted file store's passphrase comes from the file descriptor named in
//!   `APPPASS_PASSPHRASE_FD` (one line), else from a prompt when stdin is a terminal, else nowhere
//!   (and the command fails with `PassphraseRequired`; it never waits for input).

use std::io::{IsTerminal, Read};

use apppass_core::{Code, Failure, Secret};
use zeroize::Zeroizing;

/// The most that is read from a pipe. App passwords are tens of bytes; the core refuses anything
/// over 1 KiB with a precise message, and this bound only keeps a runaway input from being read.
pub const MAX_STDIN_BYTES: usize = 64 * 1024;

/// The environment variable naming the passphrase's file descriptor.
pub const PASSPHRASE_FD_VAR: &str = "APPPASS_PASSPHRASE_FD";

fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Reads a secret from stdin: hidden prompt on a terminal, bounded read from a pipe or file.
pub fn read_secret(prompt: &str) -> Result<Secret, Failure> {
    if stdin_is_terminal() {
        prompt_hidden(prompt)
    } else {
        read_bounded(std::io::stdin().lock(), MAX_STDIN_BYTES)
    }
}

/// Reads at most `limit` bytes; more is `SecretTooLarge` (without reading the rest).
pub fn read_bounded(reader: impl Read, limit: usize) -> Result<Secret, Failure> {
    let mut buf = Zeroizing::new(Vec::with_capacity(limit + 1));
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| {
            Failure::new(
                Code::InvalidInput,
                format!("Could not read the password from standard input ({e}). Pipe it in, or run on a terminal to be asked for it."),
            )
        })?;
    if buf.len() > limit {
        return Err(Failure::new(
            Code::SecretTooLarge,
            format!(
                "More than {} KiB arrived on standard input; an app password is a few dozen characters. Pipe in only the password.",
                limit / 1024
            ),
        ));
    }
    Secret::from_bytes(std::mem::take(&mut *buf)).ok_or_else(|| {
        Failure::new(
            Code::InvalidInput,
            "The password read from standard input is not UTF-8 text. Copy the password again from the provider's page.",
        )
    })
}

/// Prompts on stderr and reads one line from the terminal with echo off.
fn prompt_hidden(prompt: &str) -> Result<Secret, Failure> {
    let config = rpassword::ConfigBuilder::new()
        .output_writer(std::io::stderr())
        .build();
    rpassword::prompt_password_with_config(prompt, config)
        .map(Secret::new)
        .map_err(|e| {
            Failure::new(
                Code::InvalidInput,
                format!("Could not read from the terminal ({e}). Pipe the value in on standard input instead."),
            )
        })
}

/// The passphrase of an existing encrypted file store, when one can be had without waiting:
/// `Ok(None)` means none was given (the core then reports `PassphraseRequired`).
pub fn passphrase() -> Result<Option<Secret>, Failure> {
    if let Some(fd) = passphrase_fd()? {
        return read_line_from_fd(fd).map(Some);
    }
    if stdin_is_terminal() {
        return prompt_hidden("Passphrase of the encrypted file store: ").map(Some);
    }
    Ok(None)
}

/// A passphrase for a new encrypted file store: from the descriptor, or typed twice.
pub fn new_passphrase() -> Result<Secret, Failure> {
    if let Some(fd) = passphrase_fd()? {
        return read_line_from_fd(fd);
    }
    if !stdin_is_terminal() {
        return Err(Failure::new(
            Code::PassphraseRequired,
            format!("The new encrypted file store needs a passphrase. Run this on a terminal to be asked for it, or pass it on a file descriptor named in {PASSPHRASE_FD_VAR}."),
        ));
    }
    let first = prompt_hidden("New passphrase for the encrypted file store: ")?;
    let second = prompt_hidden("The same passphrase again: ")?;
    if first != second {
        return Err(Failure::new(
            Code::InvalidInput,
            "The two passphrases differ. Nothing was changed; run the command again.",
        ));
    }
    Ok(first)
}

fn passphrase_fd() -> Result<Option<i32>, Failure> {
    let Some(value) = std::env::var_os(PASSPHRASE_FD_VAR) else {
        return Ok(None);
    };
    let value = value.to_string_lossy();
    match value.trim().parse::<i32>() {
        Ok(fd) if fd >= 0 => Ok(Some(fd)),
        _ => Err(Failure::new(
            Code::InvalidInput,
            format!("{PASSPHRASE_FD_VAR} must be a file descriptor number such as 3. Unset it to be asked on the terminal."),
        )),
    }
}

/// Reads one line (without its line ending) from a descriptor the caller handed us, byte by byte
/// so that nothing after the line is consumed (the descriptor may be stdin, shared with the secret).
#[cfg(unix)]
fn read_line_from_fd(fd: i32) -> Result<Secret, Failure> {
    let bad_fd = || {
        Failure::new(
            Code::InvalidInput,
            format!("{PASSPHRASE_FD_VAR}={fd} is not an open file descriptor. Open it for reading (for example `3< file`) or unset the variable."),
        )
    };
    // SAFETY: fcntl(F_GETFD) only queries the descriptor's flags.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return Err(bad_fd());
    }
    let mut line = Zeroizing::new(Vec::with_capacity(256));
    loop {
        let mut byte = 0u8;
        // SAFETY: reads one byte into a valid, writable one-byte buffer.
        let n = unsafe { libc::read(fd, (&mut byte as *mut u8).cast(), 1) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Failure::new(
                Code::InvalidInput,
                format!("Could not read the passphrase from {PASSPHRASE_FD_VAR}={fd} ({err})."),
            ));
        }
        if n == 0 || byte == b'\n' {
            break;
        }
        if line.len() >= MAX_STDIN_BYTES {
            return Err(Failure::new(
                Code::InvalidInput,
                format!("The passphrase on {PASSPHRASE_FD_VAR}={fd} is longer than {} KiB. Give a single line.", MAX_STDIN_BYTES / 1024),
            ));
        }
        line.push(byte);
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if line.is_empty() {
        return Err(Failure::new(
            Code::PassphraseRequired,
            format!("The passphrase read from {PASSPHRASE_FD_VAR}={fd} is empty. Write the passphrase as one line to that descriptor."),
        ));
    }
    Secret::from_bytes(std::mem::take(&mut *line))
        .ok_or_else(|| Failure::new(Code::InvalidInput, "The passphrase is not UTF-8 text."))
}

#[cfg(not(unix))]
fn read_line_from_fd(_fd: i32) -> Result<Secret, Failure> {
    Err(Failure::new(
        Code::InvalidInput,
        format!(
            "{PASSPHRASE_FD_VAR} is supported on Unix only. Unset it to be asked on the terminal."
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_read_accepts_up_to_the_limit() {
        let s = read_bounded(&b"abcd-efgh\n"[..], 16).unwrap();
        assert_eq!(s.expose(), "abcd-efgh\n");
        assert_eq!(read_bounded(&[b'x'; 16][..], 16).unwrap().len(), 16);
    }

    #[test]
    fn bounded_read_refuses_more_without_reading_it_all() {
        struct Endless(usize);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                buf.fill(b'x');
                self.0 += buf.len();
                Ok(buf.len())
            }
        }
        let mut endless = Endless(0);
        let err = read_bounded(&mut endless, 1024).unwrap_err();
        assert_eq!(err.code, Code::SecretTooLarge);
        assert!(endless.0 < 64 * 1024, "read {} bytes", endless.0);
    }

    #[test]
    fn non_utf8_is_refused() {
        let err = read_bounded(&[0xff, 0xfe][..], 16).unwrap_err();
        assert_eq!(err.code, Code::InvalidInput);
    }
}
