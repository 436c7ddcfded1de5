//! ECDSA public keys (P-256, P-384, P-521) for model-signing key and certificate methods:
//! parsing SPKI, DER-signature verification with a chosen hash, the model_signing key
//! hint (SHA-256 of the canonical PEM) and our key id (SHA-256 of the SPKI DER).

use base64::Engine as _;
use der::Decode as _;
use ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256, Sha384, Sha512};

const ID_EC_PUBLIC_KEY: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// Hash used before ECDSA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-256 (P-256 keys).
    Sha256,
    /// SHA-384 (P-384 keys).
    Sha384,
    /// SHA-512 (P-521 keys).
    Sha512,
}

impl HashAlg {
    fn digest(self, msg: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => Sha256::digest(msg).to_vec(),
            HashAlg::Sha384 => Sha384::digest(msg).to_vec(),
            HashAlg::Sha512 => Sha512::digest(msg).to_vec(),
        }
    }
}

#[derive(Clone)]
enum Inner {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
}

/// An ECDSA public key.
#[derive(Clone)]
pub struct EcKey {
    inner: Inner,
    der: Vec<u8>,
}

impl std::fmt::Debug for EcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EcKey({} {})", self.curve(), self.key_id())
    }
}

impl EcKey {
    /// Parse SPKI DER; only the three NIST curves are accepted.
    pub fn from_spki_der(der: &[u8]) -> Result<EcKey, String> {
        let spki = spki::SubjectPublicKeyInfoRef::from_der(der).map_err(|e| e.to_string())?;
        if spki.algorithm.oid != ID_EC_PUBLIC_KEY {
            return Err(format!(
                "not an elliptic-curve key (algorithm {})",
                spki.algorithm.oid
            ));
        }
        let curve = spki.algorithm.parameters_oid().map_err(|e| e.to_string())?;
        let point = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| "public key bit string has unused bits".to_string())?;
        let bad = |e: ecdsa::Error| format!("invalid curve point: {e}");
        let inner = match curve {
            SECP256R1 => {
                Inner::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?)
            }
            SECP384R1 => {
                Inner::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?)
            }
            SECP521R1 => {
                Inner::P521(p521::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?)
            }
            other => {
                return Err(format!(
                    "unsupported curve {other}; P-256, P-384 and P-521 are"
                ))
            }
        };
        Ok(EcKey {
            inner,
            der: der.to_vec(),
        })
    }

    /// Parse PEM text (lines around the `PUBLIC KEY` block are ignored).
    pub fn from_pem(text: &str) -> Result<EcKey, String> {
        let der = crate::trust::pem::first(text, "PUBLIC KEY").map_err(|e| e.to_string())?;
        EcKey::from_spki_der(&der)
    }

    /// `P-256`, `P-384` or `P-521`.
    pub fn curve(&self) -> &'static str {
        match self.inner {
            Inner::P256(_) => "P-256",
            Inner::P384(_) => "P-384",
            Inner::P521(_) => "P-521",
        }
    }

    /// The hash model_signing pairs with this curve.
    pub fn curve_hash(&self) -> HashAlg {
        match self.inner {
            Inner::P256(_) => HashAlg::Sha256,
            Inner::P384(_) => HashAlg::Sha384,
            Inner::P521(_) => HashAlg::Sha512,
        }
    }

    /// Hex SHA-256 of the SPKI DER (airgate key id).
    pub fn key_id(&self) -> String {
        hex::encode(Sha256::digest(&self.der))
    }

    /// model_signing's `publicKey.hint`: hex SHA-256 of the key's canonical PEM.
    pub fn pem_hint(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.der);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(chunk));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        hex::encode(Sha256::digest(pem.as_bytes()))
    }

    /// Whether `sig` (ASN.1 DER) is valid over `msg` hashed with `hash`.
    pub fn verify(&self, msg: &[u8], sig: &[u8], hash: HashAlg) -> bool {
        let digest = hash.digest(msg);
        match &self.inner {
            Inner::P256(k) => p256::ecdsa::Signature::from_der(sig)
                .map(|s| k.verify_prehash(&digest, &s).is_ok())
                .unwrap_or(false),
            Inner::P384(k) => p384::ecdsa::Signature::from_der(sig)
                .map(|s| k.verify_prehash(&digest, &s).is_ok())
                .unwrap_or(false),
            Inner::P521(k) => p521::ecdsa::Signature::from_der(sig)
                .map(|s| k.verify_prehash(&digest, &s).is_ok())
                .unwrap_or(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecdsa::signature::hazmat::PrehashSigner;

    fn spki_of_p256(sk: &p256::ecdsa::SigningKey) -> Vec<u8> {
        use p256::pkcs8::EncodePublicKey;
        sk.verifying_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec()
    }

    #[test]
    fn p256_sign_verify_and_reject() {
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let key = EcKey::from_spki_der(&spki_of_p256(&sk)).unwrap();
        assert_eq!(key.curve(), "P-256");
        let digest = Sha256::digest(b"hello");
        let sig: p256::ecdsa::Signature = sk.sign_prehash(&digest).unwrap();
        let der = sig.to_der();
        assert!(key.verify(b"hello", der.as_bytes(), HashAlg::Sha256));
        assert!(!key.verify(b"hellO", der.as_bytes(), HashAlg::Sha256));
        assert!(!key.verify(b"hello", der.as_bytes(), HashAlg::Sha384));
        assert!(!key.verify(b"hello", b"\x30\x00", HashAlg::Sha256));
    }

    #[test]
    fn p521_and_p384_keys_parse() {
        use p384::pkcs8::EncodePublicKey as _;
        let sk = p384::ecdsa::SigningKey::from_slice(&[9u8; 48]).unwrap();
        let der = sk.verifying_key().to_public_key_der().unwrap();
        let k = EcKey::from_spki_der(der.as_bytes()).unwrap();
        assert_eq!(k.curve_hash(), HashAlg::Sha384);
        let mut scalar = [5u8; 66];
        scalar[0] = 0; // below the group order
        let sk = p521::ecdsa::SigningKey::from_slice(&scalar).unwrap();
        let vk = p521::ecdsa::VerifyingKey::from(&sk);
        let point = vk.to_encoded_point(false);
        // Build the SPKI by hand: p521 0.13's wrapper has no SPKI encoder.
        let spki = spki::SubjectPublicKeyInfoOwned {
            algorithm: spki::AlgorithmIdentifierOwned {
                oid: ID_EC_PUBLIC_KEY,
                parameters: Some(der::asn1::Any::from(SECP521R1)),
            },
            subject_public_key: der::asn1::BitString::from_bytes(point.as_bytes()).unwrap(),
        };
        let der = der::Encode::to_der(&spki).unwrap();
        let k = EcKey::from_spki_der(&der).unwrap();
        assert_eq!(k.curve(), "P-521");
        let digest = Sha512::digest(b"m");
        let sig: p521::ecdsa::Signature = sk.sign_prehash(&digest).unwrap();
        assert!(k.verify(b"m", sig.to_der().as_bytes(), HashAlg::Sha512));
        assert!(!k.verify(b"n", sig.to_der().as_bytes(), HashAlg::Sha512));
    }

    #[test]
    fn rejects_non_ec_keys() {
        let ed = ed25519_dalek::SigningKey::from_bytes(&[1u8; 32]);
        use ed25519_dalek::pkcs8::EncodePublicKey;
        let der = ed.verifying_key().to_public_key_der().unwrap();
        assert!(EcKey::from_spki_der(der.as_bytes()).is_err());
        assert!(EcKey::from_spki_der(b"junk").is_err());
    }
}
