//! Paste validation: the normaliser ([`super::normalise`]) plus one more judgement, "this looks
//! like your account password, not an app password".
//!
//! That judgement is made only for providers whose app passwords have a structure (a length, an
//! alphabet): a value that does not have it *and* that zxcvbn finds mostly made of words, names,
//! dates, keyboard patterns or sequences was almost certainly chosen by a person. For opaque
//! formats apppass knows nothing to compare with, so it never claims it. A format known only from
//! third parties (`confirmed = false`) still never refuses a value for its shape alone.

use crate::error::{Code, Failure};
use crate::secret::Secret;
use crate::vault::MAX_SECRET_BYTES;

use super::format::{FormatProblem, PasswordFormat};
use super::{normalise, provider};

/// Trims, tidies and checks a pasted app password for `provider_id`'s format. Messages explain a
/// mismatch in plain words and never quote the value.
pub fn validate_paste(provider_id: &str, raw: &Secret) -> Result<Secret, Failure> {
    let provider = provider(provider_id)?;
    if raw.len() > MAX_SECRET_BYTES {
        return Err(Failure::new(
            Code::SecretTooLarge,
            format!(
                "That is {} bytes; app passwords are far shorter (at most {MAX_SECRET_BYTES} bytes accepted). Copy only the password, then try again.",
                raw.len()
            ),
        ));
    }
    let format = &provider.format;
    match normalise(format, raw) {
        Ok(value) => {
            if format.is_structured() && !format.fits(value.expose()) && human_chosen(&value) {
                return Err(looks_like_account_password(&provider.name, format));
            }
            Ok(value)
        }
        Err(FormatProblem::Empty) => Err(FormatProblem::Empty.to_failure(&provider.name)),
        Err(problem) => {
            let trimmed = Secret::new(raw.expose().trim().to_string());
            if human_chosen(&trimmed) {
                Err(looks_like_account_password(&provider.name, format))
            } else {
                Err(problem.to_failure(&provider.name))
            }
        }
    }
}

fn looks_like_account_password(provider_name: &str, format: &PasswordFormat) -> Failure {
    let shape = if format.confirmed() {
        format!("It does not have the form of a {provider_name} app password")
    } else {
        format!("It does not have the form apppass expects of a {provider_name} app password")
    };
    Failure::new(
        Code::LooksLikeAccountPassword,
        format!(
            "This looks like your account password, not an app password. {shape}, and it is made of words, names, dates or keyboard patterns, as passwords people choose are. Create an app password on {provider_name}'s page and paste that instead; nothing was saved."
        ),
    )
}

/// Whether zxcvbn finds the value far easier to guess than random characters of its length
/// (made of dictionary words, names, l33t, dates, years, keyboard runs, sequences, repeats), as
/// pasted or with spaces and separators removed (zxcvbn does not see the words of "correct
/// horse battery staple").
///
/// The measure is zxcvbn's estimate of guesses per character (log10): random strings of
/// app-password alphabets score about 0.83 or more, passwords people choose mostly well below
/// [`HUMAN_GUESSES_PER_CHAR`]. It uses the minimum number of guesses, which is deterministic
/// (the match sequence zxcvbn reports is not: it may pick either of two equally cheap ones).
pub(crate) fn human_chosen(value: &Secret) -> bool {
    let text = value.expose();
    let joined: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_' | '.'))
        .collect();
    let joined = zeroize::Zeroizing::new(joined);
    guessable(text) || (joined.as_str() != text && guessable(&joined))
}

/// Below this many log10 guesses per character, a value counts as chosen by a person.
pub(crate) const HUMAN_GUESSES_PER_CHAR: f64 = 0.76;

fn guessable(text: &str) -> bool {
    let total = text.chars().count();
    if !(6..=128).contains(&total) {
        return false;
    }
    let log10 = zxcvbn::zxcvbn(text, &[]).guesses_log10();
    // zxcvbn counts guesses in a u64: it saturates near 10^19.27, which long random strings
    // reach; only a count well below that can say "guessable".
    log10 < SATURATED_LOG10 && log10 / (total as f64) < HUMAN_GUESSES_PER_CHAR
}

/// Comfortably below zxcvbn's ceiling (log10 of u64::MAX, about 19.27).
const SATURATED_LOG10: f64 = 18.0;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::providers;

    fn check(id: &str, raw: &str) -> Result<String, Code> {
        validate_paste(id, &Secret::from(raw))
            .map(|s| s.expose().to_string())
            .map_err(|f| {
                assert!(
                    raw.trim().chars().count() < 4 || !f.message.contains(raw.trim()),
                    "message quotes the value: {}",
                    f.message
                );
                f.code
            })
    }

    /// One table for every provider's format: (provider, pasted, expected).
    #[test]
    fn table_for_every_provider_format() {
        use Code::*;
        let cases: &[(&str, &str, Result<&str, Code>)] = &[
            // Microsoft 365: opaque, spaces removed; never "looks like an account password".
            (
                "microsoft365",
                " abcd efgh ijkl mnop ",
                Ok("abcdefghijklmnop"),
            ),
            ("microsoft365", "Summer2024!", Ok("Summer2024!")),
            ("microsoft365", "   ", Err(EmptySecret)),
            // Google: 16 letters in four groups (third-party shape): tidied when it fits.
            ("google", "abcd efgh ijkl mnop", Ok("abcdefghijklmnop")),
            ("google", "ABCD EFGH IJKL MNOP", Ok("abcdefghijklmnop")),
            ("google", "\tqwxz kvbn mrtp lsjd\n", Ok("qwxzkvbnmrtplsjd")),
            // Not the shape, but random: kept as pasted (the shape is not confirmed).
            ("google", "x7Kq9ZpL2vN4", Ok("x7Kq9ZpL2vN4")),
            // Not the shape, and chosen by a person.
            ("google", "Summer2024!", Err(LooksLikeAccountPassword)),
            ("google", "ilovemydog1985", Err(LooksLikeAccountPassword)),
            // iCloud: xxxx-xxxx-xxxx-xxxx (third-party shape).
            ("icloud", "abcd efgh ijkl mnop", Ok("abcd-efgh-ijkl-mnop")),
            ("icloud", "ABCD-EFGH-IJKL-MNOP", Ok("abcd-efgh-ijkl-mnop")),
            ("icloud", "abcdefghijklmnop", Ok("abcd-efgh-ijkl-mnop")),
            ("icloud", "password123", Err(LooksLikeAccountPassword)),
            // Opaque providers: trimmed (and spaces removed where the provider says so).
            ("yahoo", " wxyz abcd ", Ok("wxyzabcd")),
            ("yahoo", "Password1", Ok("Password1")),
            ("aol", " ab cd ", Ok("abcd")),
            ("fastmail", " 3x4mpl3-v4lu3 ", Ok("3x4mpl3-v4lu3")),
            ("gmx", "qwertz123", Ok("qwertz123")),
            ("mailbox_org", "\tabc def\n", Ok("abc def")),
            ("proton_bridge", " Xy-12_zz ", Ok("Xy-12_zz")),
            ("custom", "\r\np a s s\r\n", Ok("p a s s")),
            // Zoho: 12 characters (confirmed length).
            ("zoho", "abc def ghi jkl", Ok("abcdefghijkl")),
            ("zoho", "x7kq9zpl", Err(FormatMismatch)),
            ("zoho", "x7kq9zpl2vn4m8", Err(FormatMismatch)),
            ("zoho", "MyPassword2024", Err(LooksLikeAccountPassword)),
            ("zoho", "", Err(EmptySecret)),
            // Nextcloud: 5 groups of 5 (confirmed, case-sensitive).
            (
                "nextcloud",
                "AbCdE-fGkJk-MnPqR-sTwXy-23456",
                Ok("AbCdE-fGkJk-MnPqR-sTwXy-23456"),
            ),
            (
                "nextcloud",
                "AbCdE fGkJk MnPqR sTwXy 23456",
                Ok("AbCdE-fGkJk-MnPqR-sTwXy-23456"),
            ),
            ("nextcloud", "AbCdE-fGkJk-MnPqR", Err(FormatMismatch)),
            (
                "nextcloud",
                "Xq7mK-pR4tB-nW9sD-fG3jE-1l0O5",
                Err(FormatMismatch),
            ),
            (
                "nextcloud",
                "correct horse battery staple",
                Err(LooksLikeAccountPassword),
            ),
        ];
        for (id, raw, want) in cases {
            let got = check(id, raw);
            assert_eq!(
                got.as_deref().map_err(|c| *c),
                want.as_ref().map(|s| *s).map_err(|c| *c),
                "{id} {raw:?}"
            );
        }
        // Every provider appears in the table.
        for p in providers() {
            assert!(
                cases.iter().any(|(id, _, _)| *id == p.id),
                "{} has no case",
                p.id
            );
        }
    }

    #[test]
    fn mismatches_are_explained_in_plain_words() {
        let short = validate_paste("zoho", &Secret::from("x7kq9zpl")).unwrap_err();
        assert!(
            short.message.starts_with("This is too short"),
            "{}",
            short.message
        );
        let long = validate_paste("zoho", &Secret::from("x7kq9zpl2vn4m8")).unwrap_err();
        assert!(
            long.message.starts_with("This is too long"),
            "{}",
            long.message
        );
        let chars = validate_paste("nextcloud", &Secret::from("Xq7mK-pR4tB-nW9sD-fG3jE-1l0O5"))
            .unwrap_err();
        assert!(chars.message.contains("never"), "{}", chars.message);
        let human = validate_paste("icloud", &Secret::from("Password123")).unwrap_err();
        assert!(human
            .message
            .starts_with("This looks like your account password"));
        // The shape of an unconfirmed format is never stated as a fact.
        assert!(
            human.message.contains("apppass expects"),
            "{}",
            human.message
        );
        let big = "a".repeat(MAX_SECRET_BYTES + 1);
        assert_eq!(
            validate_paste("custom", &Secret::new(big))
                .unwrap_err()
                .code,
            Code::SecretTooLarge
        );
        assert_eq!(
            validate_paste("hotmale", &Secret::from("x"))
                .unwrap_err()
                .code,
            Code::UnknownProvider
        );
    }

    #[test]
    fn random_values_are_not_judged_human_chosen() {
        // 2000 random lowercase strings of app-password-like lengths: a truncated or padded
        // copy of a real app password must get the plain "too short/long" message.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut flagged = 0;
        for i in 0..2000 {
            let len = 6 + (i % 40);
            let alphabet: &[u8] = if i % 2 == 0 {
                b"abcdefghijklmnopqrstuvwxyz"
            } else {
                b"abcdefgijkmnopqrstwxyzABCDEFGHJKLMNPQRSTWXYZ23456789"
            };
            let s: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char)
                .collect();
            if human_chosen(&Secret::new(s)) {
                flagged += 1;
            }
        }
        assert!(
            flagged <= 2,
            "{flagged} of 2000 random strings judged human-chosen"
        );
    }

    #[test]
    fn typical_account_passwords_are_judged_human_chosen() {
        for p in [
            "Summer2024!",
            "password123",
            "ilovemydog1985",
            "Qwerty!2345",
            "monkey12345",
            "Welcome2026",
            "correct horse battery staple",
            "P@ssw0rd!",
            "letmein2020",
        ] {
            assert!(human_chosen(&Secret::from(p)), "{p}");
        }
    }

    fn all_ids() -> Vec<&'static str> {
        providers().iter().map(|p| p.id.as_str()).collect()
    }

    /// A valid value for a grouped format: the compact characters, with separators from
    /// `accept` sprinkled anywhere, letters in random case where case does not matter, and white
    /// space around it.
    fn grouped_case() -> impl proptest::strategy::Strategy<Value = (&'static str, String, String)> {
        use proptest::prelude::*;
        proptest::sample::select(vec!["google", "icloud", "nextcloud"]).prop_flat_map(|id| {
            let PasswordFormat::Grouped {
                alphabet,
                groups,
                group_len,
                separator,
                accept,
                case_sensitive,
                ..
            } = provider(id).unwrap().format.clone()
            else {
                unreachable!()
            };
            let chars: Vec<char> = alphabet.chars().collect();
            let accept: Vec<char> = accept.chars().collect();
            let n = groups * group_len;
            (
                proptest::collection::vec(proptest::sample::select(chars), n),
                proptest::collection::vec((proptest::sample::select(accept), 0usize..3), n + 1),
                proptest::collection::vec(any::<bool>(), n),
                "[ \t\r\n]{0,3}",
                "[ \t\r\n]{0,3}",
            )
                .prop_map(move |(body, seps, upper, lead, trail)| {
                    let canonical: Vec<String> =
                        body.chunks(group_len).map(|g| g.iter().collect()).collect();
                    let canonical = canonical.join(&separator);
                    let mut pasted = lead.clone();
                    for (i, c) in body.iter().enumerate() {
                        let (sep, count) = seps[i];
                        if i > 0 {
                            pasted.extend(std::iter::repeat_n(sep, count));
                        }
                        if !case_sensitive && upper[i] {
                            pasted.extend(c.to_uppercase());
                        } else {
                            pasted.push(*c);
                        }
                    }
                    pasted.push_str(&trail);
                    (id, pasted, canonical)
                })
        })
    }

    proptest::proptest! {
        #[test]
        fn valid_grouped_values_normalise_to_the_canonical_form((id, pasted, canonical) in grouped_case()) {
            let got = validate_paste(id, &Secret::new(pasted)).unwrap();
            proptest::prop_assert_eq!(got.expose(), canonical.as_str());
        }

        #[test]
        fn validation_is_idempotent_and_never_panics(raw in "(?s).{0,80}", pick in 0usize..64) {
            let ids = all_ids();
            let id = ids[pick % ids.len()];
            match validate_paste(id, &Secret::new(raw.clone())) {
                Ok(once) => {
                    let twice = validate_paste(id, &once).unwrap();
                    proptest::prop_assert_eq!(twice.expose(), once.expose());
                    proptest::prop_assert_eq!(once.expose().trim(), once.expose());
                    proptest::prop_assert!(!once.is_empty());
                }
                Err(f) => {
                    let t = raw.trim();
                    if t.chars().count() >= 6 {
                        proptest::prop_assert!(!f.message.contains(t));
                    }
                }
            }
        }
    }
}
