//! Local passwords for bridge clients: generated from the OS's CSPRNG, easy to type, compared in
//! constant time.

use crate::error::{Code, Failure};
use crate::Secret;

/// Lower-case letters and digits without the look-alikes 0/o, 1/l/i: 31 characters.
pub const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
pub const GROUPS: usize = 6;
pub const GROUP_LEN: usize = 5;

/// Bits of entropy in a generated password: 30 symbols of 31 → about 148.6.
pub fn entropy_bits() -> f64 {
    (GROUPS * GROUP_LEN) as f64 * (ALPHABET.len() as f64).log2()
}

/// A new local password: six groups of five, `abcde-fghjk-…`. Each symbol is drawn by rejection
/// sampling (no modulo bias) from the operating system's CSPRNG.
pub fn generate() -> Result<Secret, Failure> {
    let mut out = String::with_capacity(GROUPS * (GROUP_LEN + 1));
    let mut pool = zeroize::Zeroizing::new([0u8; 64]);
    let mut used = pool.len();
    let mut symbols = 0;
    // The largest multiple of 31 below 256: bytes at or above it are thrown away.
    let limit = 256 - 256 % ALPHABET.len();
    while symbols < GROUPS * GROUP_LEN {
        if used == pool.len() {
            getrandom::fill(pool.as_mut()).map_err(|e| {
                Failure::new(
                    Code::Internal,
                    format!("The operating system gave no randomness ({e}); no password was made. Try again, and report this if it persists."),
                )
            })?;
            used = 0;
        }
        let byte = pool[used] as usize;
        used += 1;
        if byte >= limit {
            continue;
        }
        if symbols > 0 && symbols % GROUP_LEN == 0 {
            out.push('-');
        }
        out.push(ALPHABET[byte % ALPHABET.len()] as char);
        symbols += 1;
    }
    Ok(Secret::new(out))
}

/// Whether two passwords are equal, in time that depends only on their lengths.
pub fn matches(presented: &Secret, stored: &Secret) -> bool {
    use subtle::ConstantTimeEq;
    let a = presented.expose().as_bytes();
    let b = stored.expose().as_bytes();
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn generated_passwords_have_the_shape_and_enough_entropy() {
        assert!(entropy_bits() >= 128.0, "{}", entropy_bits());
        let mut seen = HashSet::new();
        let mut counts = [0usize; 31];
        for _ in 0..2000 {
            let p = generate().unwrap();
            let s = p.expose();
            assert_eq!(s.len(), GROUPS * GROUP_LEN + GROUPS - 1, "{s}");
            for (i, group) in s.split('-').enumerate() {
                assert!(i < GROUPS);
                assert_eq!(group.len(), GROUP_LEN);
                for b in group.bytes() {
                    let at = ALPHABET.iter().position(|&a| a == b).expect("in alphabet");
                    counts[at] += 1;
                }
            }
            assert!(seen.insert(s.to_string()), "repeated password");
        }
        // 60,000 symbols: each of the 31 expected ~1935 times; a biased or stuck generator fails.
        for (i, n) in counts.iter().enumerate() {
            assert!((1600..2300).contains(n), "symbol {i} drawn {n} times");
        }
    }

    #[test]
    fn matching_is_exact() {
        let a = Secret::from("abcde-fghjk");
        assert!(matches(&a, &Secret::from("abcde-fghjk")));
        assert!(!matches(&a, &Secret::from("abcde-fghjm")));
        assert!(!matches(&a, &Secret::from("abcde-fghj")));
        assert!(!matches(&a, &Secret::from("")));
    }
}
