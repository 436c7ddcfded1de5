//! A Sigstore test authority made on the spot, fully offline: a Rekor log key of our own in
//! a `trusted_root.json`, a managed ECDSA P-256 signing key, and v0.1 message-signature
//! bundles whose hashedrekord log entry carries a signed entry timestamp (SET) from that log
//! key. Real Sigstore bundles over our own statements cannot be fetched offline, so tests
//! of bundles that carry them make their own.

#![allow(dead_code)]

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use sha2::{Digest, Sha256};

/// A log key and the trusted root naming it.
pub struct Authority {
    log: SigningKey,
    log_der: Vec<u8>,
    /// The next log index: each entry gets its own, so two bundles over the same bytes by
    /// the same key (ECDSA here is deterministic) still differ.
    next_index: std::cell::Cell<u64>,
}

/// A managed signing key.
pub struct Signer {
    key: SigningKey,
}

impl Signer {
    pub fn new() -> Signer {
        Signer {
            key: SigningKey::random(&mut rand_core::OsRng),
        }
    }
    /// The public key, PEM SubjectPublicKeyInfo (what a policy's `[sigstore] keys` names).
    pub fn public_pem(&self) -> String {
        self.key
            .verifying_key()
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .unwrap()
    }
}

impl Authority {
    pub fn new() -> Authority {
        let log = SigningKey::random(&mut rand_core::OsRng);
        let log_der = log
            .verifying_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec();
        Authority {
            log,
            log_der,
            next_index: std::cell::Cell::new(7),
        }
    }

    /// `trusted_root.json` trusting only this authority's log.
    pub fn trusted_root(&self) -> String {
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": "https://rekor.test.invalid",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": B64.encode(&self.log_der),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": "2020-01-01T00:00:00Z"}
                },
                "logId": {"keyId": B64.encode(Sha256::digest(&self.log_der))}
            }],
            "certificateAuthorities": [],
            "ctlogs": [],
            "timestampAuthorities": []
        })
        .to_string()
    }

    /// A v0.1 bundle: `signer`'s ECDSA signature over `artifact`, logged by this authority.
    pub fn sign(&self, signer: &Signer, artifact: &[u8]) -> String {
        let sig: Signature = signer.key.sign(artifact);
        self.bundle(sig.to_der().as_bytes(), &signer.public_pem(), artifact)
    }

    /// A v0.1 bundle: an Ed25519 signature by `key` (whose public half is `pem`) over
    /// `artifact`, logged by this authority.
    pub fn sign_ed25519(
        &self,
        key: &ed25519_dalek::SigningKey,
        pem: &str,
        artifact: &[u8],
    ) -> String {
        use ed25519_dalek::Signer as _;
        self.bundle(&key.sign(artifact).to_bytes(), pem, artifact)
    }

    /// A v0.1 message-signature bundle for signature `sig` by the key `pem` over `artifact`,
    /// with a hashedrekord entry and its SET from this authority's log.
    fn bundle(&self, sig: &[u8], pem: &str, artifact: &[u8]) -> String {
        let digest = Sha256::digest(artifact);
        let body = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex::encode(digest)}},
                "signature": {
                    "content": B64.encode(sig),
                    "publicKey": {"content": B64.encode(pem)}
                }
            }
        })
        .to_string();
        let body_b64 = B64.encode(&body);
        let log_id = Sha256::digest(&self.log_der);
        let index = self.next_index.get();
        self.next_index.set(index + 1);
        let integrated = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 60;
        // the SET: the log key's signature over the canonical JSON of the entry (keys sorted)
        let set_payload = format!(
            "{{\"body\":\"{body_b64}\",\"integratedTime\":{integrated},\"logID\":\"{}\",\"logIndex\":{index}}}",
            hex::encode(log_id)
        );
        let set: Signature = self.log.sign(set_payload.as_bytes());
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
            "verificationMaterial": {
                "publicKey": {"hint": ""},
                "tlogEntries": [{
                    "logIndex": index.to_string(),
                    "logId": {"keyId": B64.encode(log_id)},
                    "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                    "integratedTime": integrated.to_string(),
                    "inclusionPromise": {"signedEntryTimestamp": B64.encode(set.to_der().as_bytes())},
                    "canonicalizedBody": body_b64
                }]
            },
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": B64.encode(digest)},
                "signature": B64.encode(sig)
            }
        })
        .to_string()
    }
}
