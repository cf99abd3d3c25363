//! Where sign-in state lives: the refresh token in the profile's secret store (the OS keyring) as
//! its own item, `<namespace>/signin/<account-key>/refresh`, labelled "apppass: sign-in
//! (<account>)"; the account's description (never a token) in `signin.json` in the data directory;
//! the access token in memory only.
//!
//! Windows' Credential Manager takes at most 2,560 bytes per item (1,280 UTF-16 characters), and
//! some refresh tokens are longer. A token that does not fit one item is split: the parts go to
//! `signin/<key>/refresh/<generation>/<n>` first, then the main item is replaced (one atomic put)
//! by a header naming the generation, the count and a checksum, followed by the first part. A
//! reader therefore sees either the old token or the new one, never a mix; the old generation's
//! parts are deleted last.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ts_rs::TS;

use crate::error::{Code, Failure};
use crate::profile::Profile;
use crate::secret::Secret;
use crate::vault::store::{SecretKey, SecretStore};

/// Every sign-in item's id starts with this (the vault's orphan sweep leaves them alone).
pub const STORE_PREFIX: &str = "signin/";

/// Characters of token per keyring item: under Windows' limit even when stored as UTF-16.
pub const PART_CHARS: usize = 1_100;

const SPLIT_MARK: &str = "apppass-split:1:";

/// How the account signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SignInMethod {
    Browser,
    DeviceCode,
}

/// Whether the stored sign-in can still get tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SessionState {
    Active,
    /// The provider refused the refresh token (expired, revoked): sign in again.
    SignInRequired,
}

/// The signed-in work account, as `apppass whoami` and the app show it. No token in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Account {
    /// `preferred_username` (Entra: the UPN), else `upn`, `email`, `sub`.
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub issuer: String,
    /// Entra's tenant id (`tid`).
    pub tenant_id: Option<String>,
    /// Entra's object id of the user (`oid`).
    pub object_id: Option<String>,
    pub subject: String,
    pub authority: String,
    pub client_id: String,
    /// Scopes asked for at sign-in (and used again when refreshing).
    pub scopes: Vec<String>,
    /// Authentication methods of the sign-in (`amr`), e.g. `["pwd", "mfa"]`.
    pub amr: Vec<String>,
    /// Whether this sign-in itself used multifactor authentication (`amr` contains `mfa`).
    pub mfa_used: bool,
    pub method: SignInMethod,
    /// Unix seconds.
    pub signed_in_at: i64,
    /// Unix seconds: expiry of the ID token of the sign-in.
    pub id_token_expires_at: i64,
    pub state: SessionState,
    /// Names the keyring items (a hash of issuer and subject: no personal data in the item).
    pub account_key: String,
}

impl Account {
    pub fn label(&self) -> String {
        format!("apppass: sign-in ({})", self.username)
    }
}

/// A hash of issuer and subject, hex, 16 characters.
pub fn account_key(issuer: &str, subject: &str) -> String {
    let digest = Sha256::digest(format!("{issuer}\n{subject}").as_bytes());
    hex::encode(digest)[..16].to_string()
}

fn refresh_key(namespace: &str, account_key: &str) -> SecretKey {
    SecretKey {
        namespace: namespace.to_string(),
        id: format!("{STORE_PREFIX}{account_key}/refresh"),
    }
}

fn part_key(namespace: &str, account_key: &str, generation: &str, n: usize) -> SecretKey {
    SecretKey {
        namespace: namespace.to_string(),
        id: format!("{STORE_PREFIX}{account_key}/refresh/{generation}/{n}"),
    }
}

struct Header {
    generation: String,
    count: usize,
    checksum: String,
}

fn parse_header(value: &str) -> Option<(Header, &str)> {
    let rest = value.strip_prefix(SPLIT_MARK)?;
    let (line, first) = rest.split_once('\n')?;
    let mut fields = line.split(':');
    let generation = fields.next()?.to_string();
    let count = fields.next()?.parse().ok()?;
    let checksum = fields.next()?.to_string();
    Some((
        Header {
            generation,
            count,
            checksum,
        },
        first,
    ))
}

fn checksum(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))[..16].to_string()
}

fn store_failure(e: crate::vault::store::StoreError) -> Failure {
    e.to_failure()
}

/// The refresh token of one account in a secret store.
pub struct RefreshTokenSlot<'a> {
    pub store: &'a dyn SecretStore,
    pub namespace: &'a str,
    pub account_key: &'a str,
    /// Characters per item (tests use a small value).
    pub part_chars: usize,
}

impl RefreshTokenSlot<'_> {
    /// Stores `token`, replacing any previous one atomically (see the module's comment).
    pub fn put(&self, token: &Secret, label: &str) -> Result<(), Failure> {
        let main = refresh_key(self.namespace, self.account_key);
        let old = self.header()?;
        let value = token.expose();
        if value.chars().count() <= self.part_chars && !value.starts_with(SPLIT_MARK) {
            self.store.put(&main, label, token).map_err(store_failure)?;
        } else {
            let chars: Vec<char> = value.chars().collect();
            let parts: Vec<String> = chars
                .chunks(self.part_chars)
                .map(|c| c.iter().collect())
                .collect();
            let mut generation = [0u8; 4];
            getrandom::fill(&mut generation)
                .map_err(|e| Failure::new(Code::Internal, format!("No randomness: {e}.")))?;
            let generation = hex::encode(generation);
            for (n, part) in parts.iter().enumerate().skip(1) {
                let key = part_key(self.namespace, self.account_key, &generation, n);
                let part = Secret::new(part.clone());
                self.store
                    .put(&key, &format!("{label} part {}", n + 1), &part)
                    .map_err(store_failure)?;
            }
            let head = Secret::new(format!(
                "{SPLIT_MARK}{generation}:{}:{}\n{}",
                parts.len(),
                checksum(value),
                parts[0]
            ));
            self.store.put(&main, label, &head).map_err(store_failure)?;
        }
        if let Some(old) = old {
            self.delete_parts(&old)?;
        }
        Ok(())
    }

    /// The stored token, or `None`. A split token whose parts are missing or do not add up is
    /// reported as `SignInRequired`.
    pub fn get(&self) -> Result<Option<Secret>, Failure> {
        let main = refresh_key(self.namespace, self.account_key);
        let Some(value) = self.store.get(&main).map_err(store_failure)? else {
            return Ok(None);
        };
        let Some((header, first)) = parse_header(value.expose()) else {
            return Ok(Some(value));
        };
        let mut token = first.to_string();
        for n in 1..header.count {
            let key = part_key(self.namespace, self.account_key, &header.generation, n);
            match self.store.get(&key).map_err(store_failure)? {
                Some(part) => token.push_str(part.expose()),
                None => return Err(incomplete()),
            }
        }
        if checksum(&token) != header.checksum {
            return Err(incomplete());
        }
        Ok(Some(Secret::new(token)))
    }

    /// Deletes the token and its parts; `Ok(false)` when there was none.
    pub fn delete(&self) -> Result<bool, Failure> {
        if let Some(header) = self.header()? {
            self.delete_parts(&header)?;
        }
        self.store
            .delete(&refresh_key(self.namespace, self.account_key))
            .map_err(store_failure)
    }

    fn header(&self) -> Result<Option<Header>, Failure> {
        let main = refresh_key(self.namespace, self.account_key);
        Ok(self
            .store
            .get(&main)
            .map_err(store_failure)?
            .and_then(|v| parse_header(v.expose()).map(|(h, _)| h)))
    }

    fn delete_parts(&self, header: &Header) -> Result<(), Failure> {
        for n in 1..header.count {
            let key = part_key(self.namespace, self.account_key, &header.generation, n);
            self.store.delete(&key).map_err(store_failure)?;
        }
        Ok(())
    }
}

fn incomplete() -> Failure {
    Failure::new(
        Code::SignInRequired,
        "The saved sign-in in the keyring is incomplete (part of it is missing). Sign in again with `apppass login`.",
    )
}

/// `signin.json` in the data directory: the signed-in account, no token.
pub fn account_path(profile: &Profile) -> std::path::PathBuf {
    profile.data_dir.join("signin.json")
}

pub fn load_account(profile: &Profile) -> Result<Option<Account>, Failure> {
    let path = account_path(profile);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(crate::fsutil::storage_failure(&path, e)),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        Failure::new(
            Code::DataCorrupt,
            format!(
                "{} cannot be read ({e}). Delete it and sign in again.",
                path.display()
            ),
        )
    })
}

pub fn save_account(profile: &Profile, account: &Account) -> Result<(), Failure> {
    crate::fsutil::ensure_private_dir(&profile.data_dir)?;
    let text = serde_json::to_vec_pretty(account)
        .map_err(|e| Failure::new(Code::Internal, format!("Cannot encode the account: {e}")))?;
    crate::fsutil::write_atomic(&account_path(profile), &text)
}

pub fn remove_account(profile: &Profile) -> Result<(), Failure> {
    let path = account_path(profile);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(crate::fsutil::storage_failure(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::store::MemoryStore;

    fn slot<'a>(store: &'a MemoryStore, part_chars: usize) -> RefreshTokenSlot<'a> {
        RefreshTokenSlot {
            store,
            namespace: "ns",
            account_key: "k1",
            part_chars,
        }
    }

    #[test]
    fn short_token_is_one_item_and_replaced_in_place() {
        let store = MemoryStore::default();
        let s = slot(&store, PART_CHARS);
        s.put(&Secret::from("rt-1"), "apppass: sign-in (ann)")
            .unwrap();
        assert_eq!(s.get().unwrap().unwrap().expose(), "rt-1");
        s.put(&Secret::from("rt-2"), "apppass: sign-in (ann)")
            .unwrap();
        assert_eq!(s.get().unwrap().unwrap().expose(), "rt-2");
        assert_eq!(store.ids("ns").unwrap().unwrap(), vec!["signin/k1/refresh"]);
        assert_eq!(
            store.label(&refresh_key("ns", "k1")).as_deref(),
            Some("apppass: sign-in (ann)")
        );
        assert!(s.delete().unwrap());
        assert!(s.get().unwrap().is_none());
        assert!(!s.delete().unwrap());
    }

    #[test]
    fn long_token_is_split_and_rotation_leaves_no_old_parts() {
        let store = MemoryStore::default();
        let s = slot(&store, 10);
        let long = "A".repeat(25) + &"B".repeat(10);
        s.put(&Secret::new(long.clone()), "l").unwrap();
        assert_eq!(store.ids("ns").unwrap().unwrap().len(), 4);
        assert_eq!(s.get().unwrap().unwrap().expose(), long);
        let longer = "C".repeat(41);
        s.put(&Secret::new(longer.clone()), "l").unwrap();
        assert_eq!(s.get().unwrap().unwrap().expose(), longer);
        assert_eq!(store.ids("ns").unwrap().unwrap().len(), 5);
        // Back to a short one: every part goes.
        s.put(&Secret::from("short"), "l").unwrap();
        assert_eq!(store.ids("ns").unwrap().unwrap(), vec!["signin/k1/refresh"]);
        s.put(&Secret::new(longer.clone()), "l").unwrap();
        assert!(s.delete().unwrap());
        assert_eq!(store.ids("ns").unwrap().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_missing_part_means_sign_in_again() {
        let store = MemoryStore::default();
        let s = slot(&store, 10);
        s.put(&Secret::new("X".repeat(30)), "l").unwrap();
        let part = store
            .ids("ns")
            .unwrap()
            .unwrap()
            .into_iter()
            .find(|id| id.ends_with("/2"))
            .unwrap();
        store
            .delete(&SecretKey {
                namespace: "ns".into(),
                id: part,
            })
            .unwrap();
        assert_eq!(s.get().unwrap_err().code, Code::SignInRequired);
    }

    #[test]
    fn real_entra_sized_tokens_fit_windows_items() {
        // Every item written stays under 2,560 bytes even as UTF-16.
        let store = MemoryStore::default();
        let s = slot(&store, PART_CHARS);
        s.put(&Secret::new("r".repeat(4_000)), "l").unwrap();
        for id in store.ids("ns").unwrap().unwrap() {
            let v = store
                .get(&SecretKey {
                    namespace: "ns".into(),
                    id,
                })
                .unwrap()
                .unwrap();
            assert!(v.expose().encode_utf16().count() * 2 <= 2_560);
        }
        assert_eq!(s.get().unwrap().unwrap().expose().len(), 4_000);
    }
}
