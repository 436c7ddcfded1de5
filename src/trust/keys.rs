//! Public and private keys: Ed25519 in standard PEM (PKCS#8 / SPKI), key ids, key files.
//! Private keys are written as PKCS#8 version 1 (RFC 8410 section 7: the private key only),
//! which OpenSSL 1.1.1 and later read; version 1 and version 2 (RFC 5958, with the public
//! key) are both read.

use ed25519_dalek::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, KeypairBytes,
};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Largest key file we read.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// Errors about key material. Missing or malformed key files are configuration errors.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Read {
        /// The key file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is larger than any key file (a wrong file was given).
    #[error("key file {path} is larger than {MAX_KEY_FILE} bytes")]
    TooLarge {
        /// The key file.
        path: PathBuf,
    },
    /// The file is not an Ed25519 key of the expected kind in PEM form.
    #[error("key file {path} is not an Ed25519 {what} key in PEM form: {message}")]
    Parse {
        /// The key file.
        path: PathBuf,
        /// What was expected: `private`, `public`, or `public or private`.
        what: &'static str,
        /// What is wrong, naming the key material found when it is another kind.
        message: String,
    },
    /// Key generation refuses to overwrite this existing file.
    #[error("refusing to overwrite existing key file {0}")]
    Exists(PathBuf),
    /// Writing a new key file failed.
    #[error("cannot write key file {path}: {source}")]
    Write {
        /// The key file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The key loaded, but its id is not the one the policy gives for it.
    #[error("key file {path} has key id {actual}, but the policy expects {expected}")]
    IdMismatch {
        /// The key file.
        path: PathBuf,
        /// The id the policy gives.
        expected: String,
        /// The id of the key in the file.
        actual: String,
    },
}

/// A trusted Ed25519 public key and its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    id: String,
}

impl PublicKey {
    /// Wrap a verifying key.
    pub fn from_verifying(key: VerifyingKey) -> PublicKey {
        let id = key_id(&key);
        PublicKey { key, id }
    }

    /// Parse an SPKI PEM public key.
    pub fn from_pem(pem: &str) -> Result<PublicKey, String> {
        VerifyingKey::from_public_key_pem(pem.trim())
            .map(PublicKey::from_verifying)
            .map_err(|e| e.to_string())
    }

    /// Load an SPKI PEM public key file.
    pub fn load(path: &Path) -> Result<PublicKey, KeyError> {
        let text = read_small(path)?;
        PublicKey::from_pem(&text).map_err(|message| KeyError::Parse {
            path: path.to_path_buf(),
            what: "public",
            message: super::key_format::describe(&text, false).unwrap_or(message),
        })
    }

    /// Hex SHA-256 of the DER (SPKI) encoding.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The verifying key.
    pub fn verifying(&self) -> &VerifyingKey {
        &self.key
    }

    /// SPKI PEM text.
    pub fn to_pem(&self) -> String {
        self.key
            .to_public_key_pem(Default::default())
            .unwrap_or_default()
    }

    /// Strict Ed25519 verification of `sig` (64 bytes) over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(msg, &sig).is_ok()
    }
}

/// A private signing key.
pub struct PrivateKey {
    key: SigningKey,
}

impl PrivateKey {
    /// A fresh random key from the operating system's generator.
    pub fn generate() -> PrivateKey {
        PrivateKey {
            key: SigningKey::generate(&mut rand_core::OsRng),
        }
    }

    /// Load a PKCS#8 PEM private key file.
    pub fn load(path: &Path) -> Result<PrivateKey, KeyError> {
        let text = read_small(path)?;
        SigningKey::from_pkcs8_pem(text.trim())
            .map(|key| PrivateKey { key })
            .map_err(|e| KeyError::Parse {
                path: path.to_path_buf(),
                what: "private",
                message: super::key_format::describe(&text, true).unwrap_or_else(|| e.to_string()),
            })
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey::from_verifying(self.key.verifying_key())
    }

    /// Sign `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }

    /// PKCS#8 version 1 PEM text (RFC 8410 section 7: no public key inside).
    pub fn to_pem(&self) -> Result<String, String> {
        KeypairBytes {
            secret_key: self.key.to_bytes(),
            public_key: None,
        }
        .to_pkcs8_pem(Default::default())
        .map(|z| z.to_string())
        .map_err(|e| e.to_string())
    }
}

/// Key id: hex SHA-256 of the DER SubjectPublicKeyInfo.
pub fn key_id(key: &VerifyingKey) -> String {
    match key.to_public_key_der() {
        Ok(der) => hex::encode(Sha256::digest(der.as_bytes())),
        Err(_) => String::new(),
    }
}

/// Write a new key pair as `DIR/NAME.key` (0600) and `DIR/NAME.pub`; never overwrites.
/// Returns the public key.
pub fn write_keypair(dir: &Path, name: &str) -> Result<(PublicKey, PathBuf, PathBuf), KeyError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let sk = PrivateKey::generate();
    let pk = sk.public();
    let priv_path = dir.join(format!("{name}.key"));
    let pub_path = dir.join(format!("{name}.pub"));
    for p in [&priv_path, &pub_path] {
        if p.exists() {
            return Err(KeyError::Exists(p.clone()));
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| KeyError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let pem = sk.to_pem().map_err(|m| KeyError::Write {
        path: priv_path.clone(),
        source: std::io::Error::other(m),
    })?;
    let write = |path: &Path, mode: u32, text: &str| -> Result<(), KeyError> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::AlreadyExists => KeyError::Exists(path.to_path_buf()),
                _ => KeyError::Write {
                    path: path.to_path_buf(),
                    source,
                },
            })?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|source| KeyError::Write {
                path: path.to_path_buf(),
                source,
            })
    };
    write(&priv_path, 0o600, &pem)?;
    write(&pub_path, 0o644, &pk.to_pem())?;
    Ok((pk, priv_path, pub_path))
}

pub(crate) fn read_small(path: &Path) -> Result<String, KeyError> {
    let bytes = match crate::util::read_file_bounded(path, MAX_KEY_FILE) {
        Ok(b) => b,
        Err(e) if crate::util::is_too_large(&e) => {
            return Err(KeyError::TooLarge {
                path: path.to_path_buf(),
            })
        }
        Err(source) => {
            return Err(KeyError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    String::from_utf8(bytes).map_err(|_| KeyError::Parse {
        path: path.to_path_buf(),
        what: "public or private",
        message: "it is binary data (DER?); airgate reads PEM text".into(),
    })
}

impl crate::Classified for KeyError {
    /// A key that cannot be written: operational; one that cannot be read or used, or a
    /// file in the way: configuration.
    fn class(&self) -> crate::ErrorClass {
        match self {
            KeyError::Write { .. } => crate::ErrorClass::Operational,
            _ => crate::ErrorClass::Config,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let sk = PrivateKey::generate();
        let pk = sk.public();
        let sig = sk.sign(b"hello");
        assert!(pk.verify(b"hello", &sig));
        assert!(!pk.verify(b"hellp", &sig));
        assert!(!pk.verify(b"hello", &sig[..63]));
        assert_eq!(pk.id().len(), 64);
    }

    #[test]
    fn pem_round_trip_and_no_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let (pk, sk_path, pk_path) = write_keypair(dir.path(), "a").unwrap();
        let pk2 = PublicKey::load(&pk_path).unwrap();
        assert_eq!(pk, pk2);
        let sk = PrivateKey::load(&sk_path).unwrap();
        assert_eq!(sk.public(), pk);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&sk_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(
            write_keypair(dir.path(), "a"),
            Err(KeyError::Exists(_))
        ));
    }

    #[test]
    fn writes_pkcs8_version_1_and_reads_version_2() {
        let sk = PrivateKey::generate();
        let pem = sk.to_pem().unwrap();
        // RFC 8410 section 7: version 0 (v1), the algorithm, the key; 48 bytes, no public key
        let der = crate::trust::pem::first(&pem, "PRIVATE KEY").unwrap();
        assert_eq!(der.len(), 48);
        assert_eq!(&der[..5], &[0x30, 0x2e, 0x02, 0x01, 0x00]);
        // an older airgate wrote version 2 (RFC 5958, public key inside): still read
        let v2 = sk.key.to_pkcs8_pem(Default::default()).unwrap();
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("v2.key");
        std::fs::write(&p, v2.as_bytes()).unwrap();
        let loaded = PrivateKey::load(&p).unwrap();
        assert_eq!(loaded.public(), sk.public());
        assert_eq!(loaded.sign(b"m"), sk.sign(b"m"));
    }

    #[test]
    fn garbage_key_is_a_parse_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.pub");
        std::fs::write(&p, "not a key").unwrap();
        assert!(matches!(PublicKey::load(&p), Err(KeyError::Parse { .. })));
    }
}
