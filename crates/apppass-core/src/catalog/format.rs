//! App-password formats and the paste normaliser.
//!
//! Normalising trims the value and removes separators only where the provider's format allows it:
//! a value is regrouped only when, without its separators, it matches the format exactly. A format
//! known only from third parties (`confirmed = false`) never causes a refusal; the value is then
//! kept as pasted (trimmed). Messages describe the problem without ever quoting the value.

use serde::Deserialize;

use crate::error::{Code, Failure};
use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PasswordFormat {
    /// Any value; the characters in `strip` (e.g. spaces) are removed.
    Opaque {
        strip: String,
        confirmed: bool,
        source: String,
        checked: String,
    },
    /// A fixed number of characters of an unstated alphabet.
    Length {
        length: usize,
        strip: String,
        confirmed: bool,
        source: String,
        checked: String,
    },
    /// `groups` groups of `group_len` characters from `alphabet`, shown joined by `separator`;
    /// any character in `accept` is taken as a separator when pasted.
    Grouped {
        alphabet: String,
        groups: usize,
        group_len: usize,
        separator: String,
        accept: String,
        #[serde(default)]
        case_sensitive: bool,
        confirmed: bool,
        source: String,
        checked: String,
    },
}

/// Why a pasted value was refused. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatProblem {
    Empty,
    WrongLength { expected: usize, got: usize },
    WrongCharacters { allowed: String },
}

impl FormatProblem {
    pub fn to_failure(&self, provider_name: &str) -> Failure {
        match self {
            FormatProblem::Empty => Failure::new(
                Code::EmptySecret,
                "The password is empty. Copy the app password from the provider's page, then paste it again.",
            ),
            FormatProblem::WrongLength { expected, got } => Failure::new(
                Code::FormatMismatch,
                if got < expected {
                    format!(
                        "This is too short: {provider_name} app passwords have {expected} characters, and this has {got}. Part of it seems to be missing: copy the whole password again."
                    )
                } else {
                    format!(
                        "This is too long: {provider_name} app passwords have {expected} characters, and this has {got}. It may include extra text: copy only the password again."
                    )
                },
            ),
            FormatProblem::WrongCharacters { allowed } => Failure::new(
                Code::FormatMismatch,
                format!(
                    "This contains characters that {provider_name} app passwords never have (they use only {allowed}). Copy the password again from the provider's page."
                ),
            ),
        }
    }
}

impl PasswordFormat {
    pub fn confirmed(&self) -> bool {
        match self {
            PasswordFormat::Opaque { confirmed, .. }
            | PasswordFormat::Length { confirmed, .. }
            | PasswordFormat::Grouped { confirmed, .. } => *confirmed,
        }
    }

    pub fn checked(&self) -> &str {
        match self {
            PasswordFormat::Opaque { checked, .. }
            | PasswordFormat::Length { checked, .. }
            | PasswordFormat::Grouped { checked, .. } => checked,
        }
    }

    /// Whether a normalised value has exactly this format's shape (any value fits an opaque one).
    pub fn fits(&self, value: &str) -> bool {
        match self {
            PasswordFormat::Opaque { .. } => !value.is_empty(),
            PasswordFormat::Length { length, strip, .. } => {
                value.chars().filter(|c| !strip.contains(*c)).count() == *length
            }
            PasswordFormat::Grouped {
                alphabet,
                groups,
                group_len,
                accept,
                case_sensitive,
                ..
            } => {
                let compact: String = value.chars().filter(|c| !accept.contains(*c)).collect();
                let compact = if *case_sensitive {
                    compact
                } else {
                    compact.to_lowercase()
                };
                compact.chars().count() == groups * group_len
                    && compact.chars().all(|c| alphabet.contains(c))
            }
        }
    }

    /// Whether the format has a structure (a length or an alphabet) beyond "any value".
    pub fn is_structured(&self) -> bool {
        !matches!(self, PasswordFormat::Opaque { .. })
    }

    /// Consistency of the data itself (used by the catalog's schema check).
    pub fn check(&self) -> Result<(), String> {
        match self {
            PasswordFormat::Length { length, .. } if *length == 0 => Err("length is 0".into()),
            PasswordFormat::Grouped {
                alphabet,
                groups,
                group_len,
                separator,
                accept,
                ..
            } => {
                if alphabet.is_empty() || *groups == 0 || *group_len == 0 {
                    return Err("grouped format needs an alphabet, groups and group_len".into());
                }
                if alphabet
                    .chars()
                    .any(|c| accept.contains(c) || separator.contains(c))
                {
                    return Err("the alphabet overlaps the separators".into());
                }
                if !separator.is_empty() && !accept.contains(separator.as_str()) {
                    return Err("the separator must be among the accepted ones".into());
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Trims and tidies a pasted value for a provider's format; see the module documentation.
pub fn normalise(format: &PasswordFormat, raw: &Secret) -> Result<Secret, FormatProblem> {
    let trimmed = raw.expose().trim();
    if trimmed.is_empty() {
        return Err(FormatProblem::Empty);
    }
    let without =
        |strip: &str| -> String { trimmed.chars().filter(|c| !strip.contains(*c)).collect() };
    match format {
        PasswordFormat::Opaque { strip, .. } => {
            let value = without(strip);
            if value.is_empty() {
                return Err(FormatProblem::Empty);
            }
            Ok(Secret::new(value))
        }
        PasswordFormat::Length {
            length,
            strip,
            confirmed,
            ..
        } => {
            let value = without(strip);
            let got = value.chars().count();
            if got != *length && *confirmed {
                return Err(FormatProblem::WrongLength {
                    expected: *length,
                    got,
                });
            }
            Ok(Secret::new(value))
        }
        PasswordFormat::Grouped {
            alphabet,
            groups,
            group_len,
            separator,
            accept,
            case_sensitive,
            confirmed,
            ..
        } => {
            let mut compact = without(accept);
            if !case_sensitive {
                compact = compact.to_lowercase();
            }
            let expected = groups * group_len;
            let got = compact.chars().count();
            let alphabet_ok = compact.chars().all(|c| alphabet.contains(c));
            if got == expected && alphabet_ok {
                let chars: Vec<char> = compact.chars().collect();
                let grouped: Vec<String> = chars
                    .chunks(*group_len)
                    .map(|g| g.iter().collect())
                    .collect();
                return Ok(Secret::new(grouped.join(separator)));
            }
            if !confirmed {
                return Ok(Secret::new(trimmed.to_owned()));
            }
            if got != expected {
                Err(FormatProblem::WrongLength { expected, got })
            } else {
                Err(FormatProblem::WrongCharacters {
                    allowed: describe_alphabet(alphabet),
                })
            }
        }
    }
}

fn describe_alphabet(alphabet: &str) -> String {
    let lower = alphabet.chars().any(|c| c.is_ascii_lowercase());
    let upper = alphabet.chars().any(|c| c.is_ascii_uppercase());
    let digits = alphabet.chars().any(|c| c.is_ascii_digit());
    let mut parts = Vec::new();
    if lower && upper {
        parts.push("letters");
    } else if lower {
        parts.push("lowercase letters");
    } else if upper {
        parts.push("capital letters");
    }
    if digits {
        parts.push("digits");
    }
    let mut text = parts.join(" and ");
    let all_letters = ('a'..='z').chain('A'..='Z');
    let missing: Vec<char> = all_letters
        .filter(|c| {
            (c.is_ascii_lowercase() && lower || c.is_ascii_uppercase() && upper)
                && !alphabet.contains(*c)
        })
        .chain(('0'..='9').filter(|c| digits && !alphabet.contains(*c)))
        .collect();
    if !missing.is_empty() && missing.len() <= 16 {
        text.push_str(&format!(
            ", never {}",
            missing
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::provider;

    fn norm(id: &str, raw: &str) -> Result<String, FormatProblem> {
        normalise(&provider(id).unwrap().format, &Secret::from(raw)).map(|s| s.expose().to_string())
    }

    #[test]
    fn table() {
        let ok: &[(&str, &str, &str)] = &[
            ("google", "abcd efgh ijkl mnop", "abcdefghijklmnop"),
            ("google", "  ABCD EFGH IJKL MNOP\n", "abcdefghijklmnop"),
            ("google", "abcdefghijklmnop", "abcdefghijklmnop"),
            // Unconfirmed format: anything else is kept as pasted, trimmed, never refused.
            ("google", " pass word 1 ", "pass word 1"),
            ("icloud", "abcd efgh ijkl mnop", "abcd-efgh-ijkl-mnop"),
            ("icloud", "abcd-efgh-ijkl-mnop", "abcd-efgh-ijkl-mnop"),
            ("icloud", "abcdefghijklmnop", "abcd-efgh-ijkl-mnop"),
            (
                "nextcloud",
                "AbCdE-fGkJk-MnPqR-sTwXy-23456",
                "AbCdE-fGkJk-MnPqR-sTwXy-23456",
            ),
            (
                "nextcloud",
                "AbCdE fGkJk MnPqR sTwXy 23456",
                "AbCdE-fGkJk-MnPqR-sTwXy-23456",
            ),
            (
                "nextcloud",
                "AbCdEfGkJkMnPqRsTwXy23456",
                "AbCdE-fGkJk-MnPqR-sTwXy-23456",
            ),
            ("microsoft365", "abcd efgh ijkl mnop", "abcdefghijklmnop"),
            ("aol", " ab cd ", "abcd"),
            ("zoho", "abc def ghi jkl", "abcdefghijkl"),
            ("fastmail", " a b-c ", "a b-c"),
            ("custom", "\tp a s s\r\n", "p a s s"),
        ];
        for (id, raw, want) in ok {
            assert_eq!(norm(id, raw).as_deref(), Ok(*want), "{id} {raw:?}");
        }
        assert_eq!(norm("custom", "  \n"), Err(FormatProblem::Empty));
        assert_eq!(norm("microsoft365", "   "), Err(FormatProblem::Empty));
        assert_eq!(
            norm("zoho", "abc"),
            Err(FormatProblem::WrongLength {
                expected: 12,
                got: 3
            })
        );
        assert_eq!(
            norm("nextcloud", "AbCdE-fGkJk-MnPqR-sTwXy"),
            Err(FormatProblem::WrongLength {
                expected: 25,
                got: 20
            })
        );
        // '1', 'l', 'O', '0' never appear in Nextcloud's human-readable alphabet.
        assert!(matches!(
            norm("nextcloud", "AbCdE-fGkJk-MnPqR-sTwXy-1l0O5"),
            Err(FormatProblem::WrongCharacters { .. })
        ));
    }

    #[test]
    fn messages_never_quote_the_value() {
        let raw = "AbCdE-fGkJk-MnPqR-sTwXy-1l0O5";
        let problem = norm("nextcloud", raw).unwrap_err();
        let failure = problem.to_failure("Nextcloud");
        assert_eq!(failure.code, Code::FormatMismatch);
        assert!(!failure.message.contains("AbCdE"));
        assert!(failure.message.contains("never"), "{}", failure.message);
    }

    proptest::proptest! {
        #[test]
        fn normalising_is_idempotent(raw in "\\PC{0,40}", id in proptest::sample::select(vec!["google","icloud","nextcloud","microsoft365","zoho","custom","aol"])) {
            if let Ok(once) = norm(id, &raw) {
                proptest::prop_assert_eq!(norm(id, &once), Ok(once.clone()));
                proptest::prop_assert_eq!(once.trim(), once.as_str());
            }
        }
    }
}
