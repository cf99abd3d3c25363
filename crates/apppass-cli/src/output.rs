//! Printing: aligned tables for people, JSON (from the core's `Serialize` types) for programs.

use std::io::Write;

use apppass_core::vault::Entry;
use apppass_core::{Code, Failure};
use serde::Serialize;

fn write_failure(e: std::io::Error) -> Failure {
    Failure::new(
        Code::Internal,
        format!("Cannot write to standard output ({e})."),
    )
}

/// Writes `text` to stdout in one go.
pub fn out(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(write_failure)
}

/// Pretty JSON and a newline on stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), Failure> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::new(Code::Internal, format!("Cannot encode JSON: {e}")))?;
    text.push('\n');
    out(&text)
}

/// A message for the person at the terminal (confirmations, hints): stderr, never stdout.
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Columns padded to their widest cell; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let width = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(width(cell));
        }
    }
    let mut text = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len() - 1;
        for (i, cell) in row.iter().enumerate() {
            text.push_str(cell);
            if i < last {
                text.extend(std::iter::repeat_n(' ', widths[i] - width(cell) + 2));
            }
        }
        text.push('\n');
    }
    text
}

/// How long ago, briefly: `today`, `5d`, `3w`, `4mo`, `2y`.
pub fn age(seconds: i64) -> String {
    let days = seconds.max(0) / 86_400;
    match days {
        0 => "today".to_string(),
        1..=13 => format!("{days}d"),
        14..=59 => format!("{}w", days / 7),
        60..=729 => format!("{}mo", days / 30),
        _ => format!("{}y", days / 365),
    }
}

/// The list/search table: name, client, provider, account, age (marked `due` past the rotation
/// period).
pub fn entry_table(entries: &[Entry], now: i64, rotation_days: u32) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let secs = now - e.secret_set_at();
            let mut age = age(secs);
            if secs.max(0) / 86_400 >= i64::from(rotation_days) {
                age.push_str(" (due)");
            }
            vec![
                e.name.clone(),
                e.client.clone(),
                e.provider.clone(),
                e.account.clone(),
                age,
            ]
        })
        .collect();
    table(&["NAME", "CLIENT", "PROVIDER", "ACCOUNT", "AGE"], &rows)
}

/// A person-readable date for a Unix time, with its age: `2026-11-25 (today)`.
pub fn when(unix: Option<i64>, now: i64) -> String {
    match unix {
        None => "never".to_string(),
        Some(t) => {
            let date = apppass_core::clock::rfc3339(t);
            format!("{} ({})", &date[..10], ago(now - t))
        }
    }
}

fn ago(seconds: i64) -> String {
    match age(seconds).as_str() {
        "today" => "today".to_string(),
        a => format!("{a} ago"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_short() {
        assert_eq!(age(0), "today");
        assert_eq!(age(-5), "today");
        assert_eq!(age(86_400 * 3), "3d");
        assert_eq!(age(86_400 * 20), "2w");
        assert_eq!(age(86_400 * 200), "6mo");
        assert_eq!(age(86_400 * 800), "2y");
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["A", "B", "C"],
            &[
                vec!["long-name".into(), "x".into(), "1".into()],
                vec!["é".into(), "yy".into(), "2".into()],
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "A          B   C");
        assert_eq!(lines[1], "long-name  x   1");
        assert_eq!(lines[2], "é          yy  2");
    }
}
