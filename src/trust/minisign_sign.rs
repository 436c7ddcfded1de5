//! Writing minisign files with an airgate Ed25519 key: the public key in minisign's layout
//! and prehashed (`ED`) signatures, so the real `minisign -V` checks what airgate signs
//! (and `airgate verify --signature` checks both tools' signatures).
//!
//! minisign key ids are 8 random bytes chosen at key generation; an airgate key has none,
//! so its minisign key id is derived: the first 8 bytes of SHA-256 over the 32-byte public
//! key. The same key always gets the same id, and the id is shown as minisign shows ids.

use super::detached::{KeyId, SigError, MAX_TRUSTED_COMMENT, TRUSTED_PREFIX, UNTRUSTED_PREFIX};
use super::keys::{PrivateKey, PublicKey};
use base64::Engine as _;
use blake2::{Blake2b512, Digest};
use sha2::Sha256;
use std::io::Read;

/// The minisign key id of an airgate key.
pub fn key_id(key: &PublicKey) -> KeyId {
    let d = Sha256::digest(key.verifying().as_bytes());
    let mut id = [0u8; 8];
    id.copy_from_slice(&d[..8]);
    KeyId(id)
}

/// The public key file minisign reads (`minisign -V -p FILE`): an untrusted comment, then
/// base64 of `"Ed"` ‖ key id ‖ key.
pub fn public_key_file(key: &PublicKey) -> String {
    let id = key_id(key);
    let mut raw = Vec::with_capacity(42);
    raw.extend_from_slice(b"Ed");
    raw.extend_from_slice(&id.0);
    raw.extend_from_slice(key.verifying().as_bytes());
    format!(
        "{UNTRUSTED_PREFIX}minisign public key {id}\n{}\n",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// The trusted comment minisign writes by default, with the time given:
/// `timestamp:<secs>\tfile:<name>\thashed`.
pub fn default_trusted_comment(timestamp: i64, file_name: &str) -> String {
    format!("timestamp:{timestamp}\tfile:{file_name}\thashed")
}

/// Sign everything `reader` yields (prehashed: Ed25519 over its BLAKE2b-512 digest) and
/// return the four-line `.minisig` text. The trusted comment is covered by the global
/// signature; it must be one line of at most 8192 bytes.
pub fn sign_reader(
    key: &PrivateKey,
    mut reader: impl Read,
    trusted_comment: &str,
) -> Result<String, SigError> {
    if trusted_comment.len() > MAX_TRUSTED_COMMENT || trusted_comment.contains(['\n', '\r']) {
        return Err(SigError::Malformed {
            what: "trusted comment",
            message: format!("it must be one line of at most {MAX_TRUSTED_COMMENT} bytes"),
        });
    }
    let mut h = Blake2b512::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(SigError::Io(e)),
        }
    }
    let sig = key.sign(&h.finalize());
    let id = key_id(&key.public());
    let mut line = Vec::with_capacity(74);
    line.extend_from_slice(b"ED");
    line.extend_from_slice(&id.0);
    line.extend_from_slice(&sig);
    let mut global_msg = Vec::with_capacity(64 + trusted_comment.len());
    global_msg.extend_from_slice(&sig);
    global_msg.extend_from_slice(trusted_comment.as_bytes());
    let global = key.sign(&global_msg);
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(format!(
        "{UNTRUSTED_PREFIX}signature from airgate secret key {id}\n{}\n{TRUSTED_PREFIX}{trusted_comment}\n{}\n",
        b64.encode(line),
        b64.encode(global)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::detached::PublicKey as MiniKey;
    use crate::trust::minisign::{verify_reader, Algorithm, Options, Signature};

    #[test]
    fn signatures_verify_with_the_exported_key_and_catch_changes() {
        let sk = PrivateKey::generate();
        let pk = MiniKey::parse(public_key_file(&sk.public()).as_bytes()).unwrap();
        assert_eq!(pk.id(), key_id(&sk.public()));
        let text = sign_reader(&sk, &b"release bytes"[..], "timestamp:1\tfile:x\thashed").unwrap();
        let sig = Signature::parse(text.as_bytes()).unwrap();
        assert_eq!(sig.algorithm(), Algorithm::Prehashed);
        let v = verify_reader(&sig, &pk, &b"release bytes"[..], &Options::default()).unwrap();
        assert_eq!(v.trusted_comment, "timestamp:1\tfile:x\thashed");
        assert!(matches!(
            verify_reader(&sig, &pk, &b"release bytez"[..], &Options::default()),
            Err(SigError::BadSignature)
        ));
        let other =
            MiniKey::parse(public_key_file(&PrivateKey::generate().public()).as_bytes()).unwrap();
        assert!(verify_reader(&sig, &other, &b"release bytes"[..], &Options::default()).is_err());
    }

    #[test]
    fn same_key_same_id_and_bytes() {
        let sk = PrivateKey::generate();
        assert_eq!(public_key_file(&sk.public()), public_key_file(&sk.public()));
        let a = sign_reader(&sk, &b"x"[..], "c").unwrap();
        assert_eq!(a, sign_reader(&sk, &b"x"[..], "c").unwrap());
    }

    #[test]
    fn multi_line_or_long_comments_are_refused() {
        let sk = PrivateKey::generate();
        assert!(sign_reader(&sk, &b"x"[..], "a\nb").is_err());
        let long = "c".repeat(MAX_TRUSTED_COMMENT + 1);
        assert!(sign_reader(&sk, &b"x"[..], &long).is_err());
        assert!(sign_reader(&sk, &b"x"[..], &"c".repeat(MAX_TRUSTED_COMMENT)).is_ok());
    }
}
