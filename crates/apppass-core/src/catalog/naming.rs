//! A unique name for a new entry, such as "Thunderbird on LAPTOP-42", following the vault's name
//! rules ([`crate::vault::validate_name`]: trimmed, 1 to 100 characters, no control characters;
//! names are unique without regard to case).

use crate::vault::MAX_NAME_CHARS;

/// Said when the computer's name cannot be found.
pub const FALLBACK_DEVICE: &str = "this computer";

/// `"{client} on {device}"`, or with ` (2)`, ` (3)`, … when a name in `taken` already has it
/// (compared without regard to case, as the vault does). Always a valid, untaken vault name.
pub fn suggest_name(client_display: &str, device: &str, taken: &[String]) -> String {
    let client = clean(client_display);
    let device = clean(device);
    let client = if client.is_empty() {
        "Mail app".to_string()
    } else {
        client
    };
    let device = if device.is_empty() {
        FALLBACK_DEVICE.to_string()
    } else {
        device
    };
    let base = format!("{client} on {device}");
    let taken: std::collections::HashSet<String> =
        taken.iter().map(|t| t.trim().to_lowercase()).collect();
    for n in 1u32.. {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!(" ({n})")
        };
        let room = MAX_NAME_CHARS - suffix.chars().count();
        let head: String = base.chars().take(room).collect();
        let candidate = format!("{}{suffix}", head.trim_end());
        if !taken.contains(&candidate.to_lowercase()) {
            return candidate;
        }
    }
    unreachable!("a free suffix exists: `taken` is finite")
}

/// No control characters, runs of white space made one space, trimmed.
fn clean(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// This computer's name (its host name, without a domain), or "this computer".
pub fn device_name() -> String {
    let from_os = gethostname::gethostname().to_string_lossy().into_owned();
    let from_env = || {
        ["COMPUTERNAME", "HOSTNAME"]
            .iter()
            .find_map(|k| std::env::var(k).ok())
            .unwrap_or_default()
    };
    let file = || std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    [from_os, from_env(), file()]
        .into_iter()
        .map(|h| short_host(&h))
        .find(|h| !h.is_empty() && h != "localhost")
        .unwrap_or_else(|| FALLBACK_DEVICE.to_string())
}

/// The first label of a host name ("laptop.example.com" → "laptop"), trimmed and cleaned; an IP
/// address is kept whole.
fn short_host(host: &str) -> String {
    let host = clean(host);
    if host.parse::<std::net::IpAddr>().is_ok() {
        return host;
    }
    host.split('.').next().unwrap_or("").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::validate_name;

    fn taken(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn suggests_client_on_device_then_numbers() {
        assert_eq!(
            suggest_name("Thunderbird", "LAPTOP-42", &[]),
            "Thunderbird on LAPTOP-42"
        );
        assert_eq!(
            suggest_name(
                "Thunderbird",
                "LAPTOP-42",
                &taken(&["thunderbird on laptop-42"])
            ),
            "Thunderbird on LAPTOP-42 (2)"
        );
        assert_eq!(
            suggest_name(
                "Thunderbird",
                "LAPTOP-42",
                &taken(&["Thunderbird on LAPTOP-42", " THUNDERBIRD ON LAPTOP-42 (2) "])
            ),
            "Thunderbird on LAPTOP-42 (3)"
        );
        assert_eq!(
            suggest_name(" msmtp\t", "\n", &[]),
            "msmtp on this computer"
        );
        assert_eq!(suggest_name("", "x", &[]), "Mail app on x");
    }

    #[test]
    fn suggestions_always_pass_the_vault_rules() {
        let long = "D".repeat(300);
        let first = suggest_name("Thunderbird", &long, &[]);
        assert_eq!(first.chars().count(), MAX_NAME_CHARS);
        let second = suggest_name("Thunderbird", &long, std::slice::from_ref(&first));
        assert!(second.ends_with(" (2)"));
        assert_eq!(second.chars().count(), MAX_NAME_CHARS);
        for name in [first, second, suggest_name("a\u{7}b", "c\td\u{0}", &[])] {
            assert_eq!(validate_name(&name).unwrap(), name);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_input_gives_a_valid_untaken_name(
            client in "\\PC{0,40}",
            device in "\\PC{0,120}",
            taken in proptest::collection::vec("\\PC{0,30}", 0..5),
        ) {
            let mut taken = taken;
            let first = suggest_name(&client, &device, &taken);
            taken.push(first.clone());
            let second = suggest_name(&client, &device, &taken);
            for name in [&first, &second] {
                proptest::prop_assert_eq!(validate_name(name).unwrap(), name.clone());
                let n = name.to_lowercase();
                proptest::prop_assert!(
                    !taken[..taken.len() - 1].iter().any(|t| t.trim().to_lowercase() == n)
                );
            }
            proptest::prop_assert_ne!(first.to_lowercase(), second.to_lowercase());
        }
    }

    #[test]
    fn device_name_is_a_short_clean_name() {
        let d = device_name();
        assert!(!d.is_empty());
        assert!(!d.contains('.') || d.parse::<std::net::IpAddr>().is_ok() || d == FALLBACK_DEVICE);
        assert_eq!(d.trim(), d);
        assert_eq!(short_host(" laptop-42.example.com\n"), "laptop-42");
        assert_eq!(short_host("10.0.0.7"), "10.0.0.7");
        assert_eq!(short_host(""), "");
    }
}
