//! The encrypted file store, for machines without an OS keyring (headless Linux, WSL).
//!
//! One file, `secrets.enc`, in the data directory: a JSON envelope holding the Argon2id parameters
//! and salt, a nonce, and the XChaCha20-Poly1305 ciphertext of a JSON map from item to secret.
//! Every write re-encrypts with a fresh nonce and replaces the file atomically; the vault's lock
//! serialises writers. The passphrase must score at least 3 with zxcvbn.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::store::{SecretKey, SecretStore, StoreError, StoreResult};
use crate::error::{Code, Failure};
use crate::fsutil::{storage_failure, write_atomic};
use crate::secret::Secret;
use crate::settings::StoreKind;

const FORMAT: &str = "apppass-secrets";
const AAD: &[u8] = b"apppass-secrets v1";
/// zxcvbn's score (0-4) below which a passphrase is refused.
pub const MIN_PASSPHRASE_SCORE: u8 = 3;

/// Argon2id cost. The default follows RFC 9106's second recommendation with one lane
/// (64 MiB, 3 passes); tests may use a cheaper one, recorded in the file either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl Default for Cost {
    fn default() -> Self {
        Cost {
            m_kib: 64 * 1024,
            t: 3,
            p: 1,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    format: String,
    version: u32,
    kdf: String,
    cost: Cost,
    salt: String,
    nonce: String,
    ciphertext: String,
}

/// The decrypted map; its values are wiped when it is dropped.
#[derive(Default, Serialize, Deserialize)]
#[serde(transparent)]
struct Items(BTreeMap<String, String>);

impl Drop for Items {
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            zeroize::Zeroize::zeroize(value);
        }
    }
}

pub struct FileStore {
    path: PathBuf,
    key: Zeroizing<[u8; 32]>,
    cost: Cost,
    salt: Vec<u8>,
}

/// Scores a passphrase; refuses it below [`MIN_PASSPHRASE_SCORE`] with zxcvbn's advice.
pub fn check_passphrase(passphrase: &Secret) -> Result<(), Failure> {
    let estimate = zxcvbn::zxcvbn(passphrase.expose(), &["apppass"]);
    let score = u8::from(estimate.score());
    if score >= MIN_PASSPHRASE_SCORE {
        return Ok(());
    }
    let mut advice = Vec::new();
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            advice.push(warning.to_string());
        }
        advice.extend(feedback.suggestions().iter().map(|s| s.to_string()));
    }
    if advice.is_empty() {
        advice.push("Add another word or two; uncommon words are better.".to_string());
    }
    Err(Failure::new(
        Code::WeakPassphrase,
        format!(
            "This passphrase is too easy to guess (strength {score} of 4; at least {MIN_PASSPHRASE_SCORE} is needed). {} Choose a longer one.",
            advice.join(" ")
        ),
    ))
}

fn derive(passphrase: &Secret, salt: &[u8], cost: Cost) -> Result<Zeroizing<[u8; 32]>, Failure> {
    let params = Params::new(cost.m_kib, cost.t, cost.p, Some(32)).map_err(|e| {
        Failure::new(
            Code::DataCorrupt,
            format!("Bad key-derivation parameters in the store file: {e}."),
        )
    })?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.expose().as_bytes(), salt, key.as_mut())
        .map_err(|e| Failure::new(Code::Internal, format!("Key derivation failed: {e}.")))?;
    Ok(key)
}

fn random<const N: usize>() -> Result<[u8; N], Failure> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| Failure::new(Code::Internal, format!("No OS randomness: {e}")))?;
    Ok(bytes)
}

impl FileStore {
    /// Creates a new, empty store at `path`. Refuses a weak passphrase and an existing file.
    pub fn create(path: &Path, passphrase: &Secret) -> Result<FileStore, Failure> {
        Self::create_with_cost(path, passphrase, Cost::default())
    }

    pub fn create_with_cost(
        path: &Path,
        passphrase: &Secret,
        cost: Cost,
    ) -> Result<FileStore, Failure> {
        check_passphrase(passphrase)?;
        if path.exists() {
            return Err(Failure::new(
                Code::InvalidInput,
                format!(
                    "An encrypted store already exists at {}. Open it with its passphrase instead.",
                    path.display()
                ),
            ));
        }
        let salt = random::<16>()?.to_vec();
        let key = derive(passphrase, &salt, cost)?;
        let store = FileStore {
            path: path.to_path_buf(),
            key,
            cost,
            salt,
        };
        store.write(&Items::default())?;
        Ok(store)
    }

    /// Opens an existing store; a wrong passphrase is `WrongPassphrase` and changes nothing.
    pub fn open(path: &Path, passphrase: &Secret) -> Result<FileStore, Failure> {
        let envelope = read_envelope(path)?;
        let salt = B64.decode(&envelope.salt).map_err(|_| corrupt(path))?;
        let key = derive(passphrase, &salt, envelope.cost)?;
        let store = FileStore {
            path: path.to_path_buf(),
            key,
            cost: envelope.cost,
            salt,
        };
        store.read().map_err(|e| e.to_failure())?;
        Ok(store)
    }

    fn read(&self) -> StoreResult<Items> {
        let envelope = read_envelope(&self.path).map_err(StoreError::Io)?;
        let nonce = B64
            .decode(&envelope.nonce)
            .map_err(|_| StoreError::Corrupt("bad nonce".into()))?;
        let ciphertext = B64
            .decode(&envelope.ciphertext)
            .map_err(|_| StoreError::Corrupt("bad ciphertext encoding".into()))?;
        if nonce.len() != 24 {
            return Err(StoreError::Corrupt("bad nonce length".into()));
        }
        let cipher = XChaCha20Poly1305::new(self.key.as_ref().into());
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    XNonce::from_slice(&nonce),
                    Payload {
                        msg: &ciphertext,
                        aad: AAD,
                    },
                )
                .map_err(|_| StoreError::WrongPassphrase)?,
        );
        serde_json::from_slice(&plain)
            .map_err(|_| StoreError::Corrupt("decrypted content is not a secret map".into()))
    }

    fn write(&self, items: &Items) -> Result<(), Failure> {
        let plain = Zeroizing::new(serde_json::to_vec(items).expect("items encode"));
        let nonce = random::<24>()?;
        let cipher = XChaCha20Poly1305::new(self.key.as_ref().into());
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: AAD,
                },
            )
            .map_err(|_| Failure::new(Code::Internal, "Encryption failed."))?;
        let envelope = Envelope {
            format: FORMAT.to_string(),
            version: 1,
            kdf: "argon2id".to_string(),
            cost: self.cost,
            salt: B64.encode(&self.salt),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ciphertext),
        };
        let text = serde_json::to_vec_pretty(&envelope).expect("envelope encodes");
        write_atomic(&self.path, &text)
    }
}

fn corrupt(path: &Path) -> Failure {
    Failure::new(
        Code::DataCorrupt,
        format!(
            "The encrypted store {} is damaged or not an apppass store. Restore it from a backup; apppass has not changed it.",
            path.display()
        ),
    )
}

fn read_envelope(path: &Path) -> Result<Envelope, Failure> {
    let bytes = std::fs::read(path).map_err(|e| storage_failure(path, e))?;
    let envelope: Envelope = serde_json::from_slice(&bytes).map_err(|_| corrupt(path))?;
    if envelope.format != FORMAT || envelope.version != 1 || envelope.kdf != "argon2id" {
        return Err(corrupt(path));
    }
    Ok(envelope)
}

impl SecretStore for FileStore {
    fn kind(&self) -> StoreKind {
        StoreKind::EncryptedFile
    }

    fn describe(&self) -> String {
        format!("encrypted file {}", self.path.display())
    }

    fn put(&self, key: &SecretKey, _label: &str, secret: &Secret) -> StoreResult<()> {
        let mut items = self.read()?;
        items.0.insert(key.user(), secret.expose().to_string());
        self.write(&items).map_err(StoreError::Io)
    }

    fn get(&self, key: &SecretKey) -> StoreResult<Option<Secret>> {
        Ok(self
            .read()?
            .0
            .get(&key.user())
            .map(|s| Secret::new(s.clone())))
    }

    fn delete(&self, key: &SecretKey) -> StoreResult<bool> {
        let mut items = self.read()?;
        let existed = items.0.remove(&key.user()).is_some();
        if existed {
            self.write(&items).map_err(StoreError::Io)?;
        }
        Ok(existed)
    }

    fn relabel(&self, _key: &SecretKey, _label: &str) -> StoreResult<()> {
        Ok(())
    }

    fn ids(&self, namespace: &str) -> StoreResult<Option<Vec<String>>> {
        let prefix = format!("{namespace}/");
        Ok(Some(
            self.read()?
                .0
                .keys()
                .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: Cost = Cost {
        m_kib: 1024,
        t: 1,
        p: 1,
    };

    fn key(id: &str) -> SecretKey {
        SecretKey {
            namespace: "ns".into(),
            id: id.into(),
        }
    }

    #[test]
    fn weak_passphrases_are_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            FileStore::create_with_cost(&dir.path().join("s"), &Secret::from("password1"), CHEAP)
                .err()
                .unwrap();
        assert_eq!(err.code, Code::WeakPassphrase);
        assert!(err.message.contains("strength"), "{}", err.message);
        assert!(!err.message.contains("password1"));
        assert!(!dir.path().join("s").exists(), "nothing is written");
    }

    #[test]
    fn round_trip_wrong_passphrase_and_no_clear_text_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.enc");
        let pass = Secret::from("correct horse battery staple orbit");
        let store = FileStore::create_with_cost(&path, &pass, CHEAP).unwrap();
        store
            .put(&key("a"), "l", &Secret::from("canary-app-password-1"))
            .unwrap();
        store.put(&key("b"), "l", &Secret::from("second")).unwrap();
        assert!(store.delete(&key("b")).unwrap());
        assert!(!store.delete(&key("b")).unwrap());

        let reopened = FileStore::open(&path, &pass).unwrap();
        assert_eq!(
            reopened.get(&key("a")).unwrap().unwrap().expose(),
            "canary-app-password-1"
        );
        assert_eq!(reopened.ids("ns").unwrap().unwrap(), vec!["a".to_string()]);

        let wrong = FileStore::open(&path, &Secret::from("correct horse battery staple orbiT"));
        assert_eq!(wrong.err().unwrap().code, Code::WrongPassphrase);

        let bytes = std::fs::read(&path).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("canary-app-password-1"));
    }

    #[test]
    fn damaged_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.enc");
        std::fs::write(&path, b"{not json").unwrap();
        let err = FileStore::open(&path, &Secret::from("x")).err().unwrap();
        assert_eq!(err.code, Code::DataCorrupt);
        assert_eq!(std::fs::read(&path).unwrap(), b"{not json");
    }
}
