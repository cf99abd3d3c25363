//! The bridge's own TLS certificate, for clients that insist on TLS to 127.0.0.1 (STARTTLS on the
//! plain listeners, and the implicit-TLS listeners).
//!
//! Self-signed (rcgen, ECDSA P-256, valid 10 years) for `127.0.0.1` and `localhost`. The private
//! key lives only in the secret store (OS keyring or encrypted file, id [`KEY_ID`]); the
//! certificate is `bridge-cert.pem` in the data directory, for the user to export and trust in a
//! client. When either is missing or they do not belong together, a new pair is made.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Code, Failure};
use crate::vault::store::{SecretKey, SecretStore};
use crate::Secret;

/// Store ids under this prefix belong to the bridge, not to a vault entry.
pub const STORE_PREFIX: &str = "bridge/";
/// The store id of the certificate's private key.
pub const KEY_ID: &str = "bridge/tls-key";
/// The certificate's file in the data directory.
pub const CERT_FILE: &str = "bridge-cert.pem";

/// The local certificate and its key.
pub struct LocalCert {
    /// The certificate (PEM), safe to show and export.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    key: Secret,
}

impl LocalCert {
    /// The certificate's path in a data directory.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(CERT_FILE)
    }

    /// Loads the certificate and its key, or makes and stores a new pair when either is missing
    /// or they do not match.
    pub fn load_or_create(
        store: &dyn SecretStore,
        namespace: &str,
        data_dir: &Path,
    ) -> Result<LocalCert, Failure> {
        let key_id = SecretKey {
            namespace: namespace.to_string(),
            id: KEY_ID.to_string(),
        };
        let path = Self::path(data_dir);
        let stored_key = store.get(&key_id).map_err(|e| e.to_failure())?;
        if let (Some(key), Ok(cert_pem)) = (stored_key, std::fs::read_to_string(&path)) {
            let cert = LocalCert { cert_pem, key };
            if cert.server_config().is_ok() {
                return Ok(cert);
            }
        }
        let cert = LocalCert::generate()?;
        store
            .put(&key_id, "apppass bridge TLS key (127.0.0.1)", &cert.key)
            .map_err(|e| e.to_failure())?;
        crate::fsutil::ensure_private_dir(data_dir)?;
        crate::fsutil::write_atomic(&path, cert.cert_pem.as_bytes())?;
        Ok(cert)
    }

    /// A new self-signed pair (not stored).
    pub fn generate() -> Result<LocalCert, Failure> {
        let failed = |e: rcgen::Error| {
            Failure::new(
                Code::Internal,
                format!("The bridge's certificate could not be made ({e}). Report this bug."),
            )
        };
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .map_err(failed)?;
        let mut name = rcgen::DistinguishedName::new();
        name.push(rcgen::DnType::CommonName, "apppass bridge (127.0.0.1)");
        params.distinguished_name = name;
        let today = chrono::Utc::now().date_naive();
        let ymd = |d: chrono::NaiveDate| {
            use chrono::Datelike;
            rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
        };
        params.not_before = ymd(today - chrono::Days::new(1));
        params.not_after = ymd(today + chrono::Days::new(3652));
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.self_signed(&key).map_err(failed)?;
        Ok(LocalCert {
            cert_pem: cert.pem(),
            key: Secret::new(key.serialize_pem()),
        })
    }

    fn server_config(&self) -> Result<rustls::ServerConfig, Failure> {
        let bad = |what: String| {
            Failure::new(
                Code::TlsFailure,
                format!("The bridge's certificate cannot be used ({what}). Delete {CERT_FILE} in the data folder and start the bridge again to make a new one."),
            )
        };
        let certs = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no certificate in it".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(self.key.expose().as_bytes())
            .map_err(|_| bad("the stored key is not a PEM private key".into()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| bad(e.to_string()))
    }

    /// The TLS acceptor for the listeners (rustls with ring).
    pub fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, Failure> {
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(
            self.server_config()?,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::store::MemoryStore;

    #[test]
    fn made_once_then_loaded_key_only_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::default();
        let first = LocalCert::load_or_create(&store, "t", dir.path()).unwrap();
        assert!(first.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let on_disk = std::fs::read_to_string(dir.path().join(CERT_FILE)).unwrap();
        assert_eq!(on_disk, first.cert_pem);
        // The key is in the store and nowhere in the data folder.
        let key = store
            .get(&SecretKey {
                namespace: "t".into(),
                id: KEY_ID.into(),
            })
            .unwrap()
            .unwrap();
        assert!(key.expose().contains("PRIVATE KEY"));
        for f in std::fs::read_dir(dir.path()).unwrap() {
            let text = std::fs::read_to_string(f.unwrap().path()).unwrap_or_default();
            assert!(!text.contains("PRIVATE KEY"));
        }
        let again = LocalCert::load_or_create(&store, "t", dir.path()).unwrap();
        assert_eq!(again.cert_pem, first.cert_pem, "kept across runs");
        again.acceptor().unwrap();

        // A certificate that does not belong to the stored key: a new pair.
        let other = LocalCert::generate().unwrap();
        std::fs::write(dir.path().join(CERT_FILE), &other.cert_pem).unwrap();
        let renewed = LocalCert::load_or_create(&store, "t", dir.path()).unwrap();
        assert_ne!(renewed.cert_pem, first.cert_pem);
        assert_ne!(renewed.cert_pem, other.cert_pem);
        renewed.acceptor().unwrap();
        // The file gone: a new pair too.
        std::fs::remove_file(dir.path().join(CERT_FILE)).unwrap();
        let fresh = LocalCert::load_or_create(&store, "t", dir.path()).unwrap();
        assert_ne!(fresh.cert_pem, renewed.cert_pem);
    }

    #[test]
    fn a_locked_store_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::default();
        store
            .locked
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let e = LocalCert::load_or_create(&store, "t", dir.path())
            .err()
            .unwrap();
        assert_eq!(e.code, Code::KeyringLocked);
    }
}
