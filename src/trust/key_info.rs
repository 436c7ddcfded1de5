//! What a key file holds (for `airgate key show`): an Ed25519 private key (PKCS#8 version 1
//! or 2) or public key (SPKI), its key id and its public key. Never any private key bytes.

use super::keys::{read_small, KeyError, PublicKey};
use super::pem;
use ed25519_dalek::pkcs8::{spki, DecodePrivateKey, DecodePublicKey, PrivateKeyInfo};
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::path::Path;

/// The Ed25519 algorithm identifier (RFC 8410).
const ED25519_OID: &str = "1.3.101.112";

/// Which half of a key pair a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// A PKCS#8 private key of this version (1: RFC 8410 section 7; 2: RFC 5958).
    Private {
        /// 1 or 2.
        pkcs8_version: u8,
    },
    /// An SPKI public key.
    Public,
}

/// The description of a key file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// Private or public key file.
    pub kind: KeyKind,
    /// Always `Ed25519` for now: the only algorithm of native bundle signatures.
    pub algorithm: &'static str,
    /// The public key (derived from the private key when the file holds one).
    pub public: PublicKey,
}

/// Read a private or public Ed25519 key file.
pub fn describe(path: &Path) -> Result<KeyInfo, KeyError> {
    let text = read_small(path)?;
    let fail = |what, message: String| KeyError::Parse {
        path: path.to_path_buf(),
        what,
        message,
    };
    if let Ok(der) = pem::first(&text, "PRIVATE KEY") {
        let info = PrivateKeyInfo::try_from(der.as_slice())
            .map_err(|e| fail("private", format!("not PKCS#8: {e}")))?;
        if info.algorithm.oid.to_string() != ED25519_OID {
            return Err(fail(
                "private",
                format!("algorithm {} is not Ed25519", info.algorithm.oid),
            ));
        }
        let version = if info.public_key.is_some() { 2 } else { 1 };
        let key = SigningKey::from_pkcs8_der(&der).map_err(|e| fail("private", e.to_string()))?;
        return Ok(KeyInfo {
            kind: KeyKind::Private {
                pkcs8_version: version,
            },
            algorithm: "Ed25519",
            public: PublicKey::from_verifying(key.verifying_key()),
        });
    }
    if let Ok(der) = pem::first(&text, "PUBLIC KEY") {
        let key = VerifyingKey::from_public_key_der(&der).map_err(|e| {
            let oid = spki::SubjectPublicKeyInfoRef::try_from(der.as_slice())
                .map(|s| s.algorithm.oid.to_string());
            match oid {
                Ok(oid) if oid != ED25519_OID => {
                    fail("public", format!("algorithm {oid} is not Ed25519"))
                }
                _ => fail("public", e.to_string()),
            }
        })?;
        return Ok(KeyInfo {
            kind: KeyKind::Public,
            algorithm: "Ed25519",
            public: PublicKey::from_verifying(key),
        });
    }
    let message = if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        "an encrypted PKCS#8 key: decrypt it first (openssl pkey -in FILE -out PLAIN)".to_string()
    } else {
        "no \"PRIVATE KEY\" or \"PUBLIC KEY\" PEM block".to_string()
    };
    Err(fail("private or public", message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_public_files_describe_the_same_key() {
        let d = tempfile::tempdir().unwrap();
        let (pk, sk_path, pk_path) = super::super::keys::write_keypair(d.path(), "a").unwrap();
        let private = describe(&sk_path).unwrap();
        let public = describe(&pk_path).unwrap();
        assert_eq!(private.kind, KeyKind::Private { pkcs8_version: 1 });
        assert_eq!(public.kind, KeyKind::Public);
        assert_eq!(private.public, pk);
        assert_eq!(public.public, pk);
    }

    #[test]
    fn version_2_keys_are_read_and_other_files_refused() {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let d = tempfile::tempdir().unwrap();
        let sk = SigningKey::from_bytes(&[7u8; 32]);
        // the pkcs8 crate writes version 2 (RFC 5958) when given the public key
        let v2 = sk.to_pkcs8_pem(Default::default()).unwrap();
        let p = d.path().join("v2.key");
        std::fs::write(&p, v2.as_bytes()).unwrap();
        let info = describe(&p).unwrap();
        assert_eq!(info.kind, KeyKind::Private { pkcs8_version: 2 });
        assert_eq!(info.public.verifying(), &sk.verifying_key());
        std::fs::write(
            &p,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        assert!(describe(&p).unwrap_err().to_string().contains("encrypted"));
        std::fs::write(&p, "hello").unwrap();
        assert!(matches!(describe(&p), Err(KeyError::Parse { .. })));
    }
}
