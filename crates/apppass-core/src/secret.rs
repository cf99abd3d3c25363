//! The secret type: an app password, token or passphrase in memory.
//!
//! It cannot be printed (`Debug` and `Display` show `<redacted>`), cannot be serialised (no
//! `Serialize`), and its bytes are wiped when it is dropped. The value is reached only through
//! [`Secret::expose`], so every place that handles the clear value is easy to find.

use zeroize::{Zeroize, Zeroizing};

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(Zeroizing::new(value))
    }

    /// The clear value. Call it only where the value must leave the process: the keyring, the
    /// clipboard, stdout of `apppass get`, or a reveal to the user.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Builds a secret from raw bytes read from a pipe or terminal, wiping the input buffer.
    /// Returns `None` when the bytes are not UTF-8.
    pub fn from_bytes(mut bytes: Vec<u8>) -> Option<Self> {
        let result = match std::str::from_utf8(&bytes) {
            Ok(s) => Some(Secret::new(s.to_owned())),
            Err(_) => None,
        };
        bytes.zeroize();
        result
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value.to_owned())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::from("abcd-efgh-ijkl-mnop");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{s}"), "<redacted>");
        assert!(!format!("{s:?}{s}{s:#?}").contains("abcd"));
        assert_eq!(s.expose(), "abcd-efgh-ijkl-mnop");
    }

    #[test]
    fn from_bytes_rejects_non_utf8() {
        assert!(Secret::from_bytes(vec![0xff, 0xfe]).is_none());
        assert_eq!(Secret::from_bytes(b"ok".to_vec()).unwrap().expose(), "ok");
    }
}
