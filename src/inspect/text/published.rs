//! Credentials that are public by publication: keys a vendor ships in its SDK's own test
//! configuration, and JSON Web Tokens signed with the key a documentation debugger fills in
//! by default (anyone can forge those, so they guard nothing).

use base64::Engine as _;
use hmac::{Hmac, Mac};

/// Google API keys published in the Firebase SDKs' test configurations and samples
/// (firebase-android-sdk and its siblings): shipped in public source for years, and listed
/// as known public values by gitleaks's own rule for Google API keys (a fact taken from its
/// configuration, as the AWS documentation's `...EXAMPLE` keys are). Reported at info.
pub const FIREBASE_SDK_KEYS: &[&str] = &[
    "AIzaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs",
    "AIzaSyCkEhVjf3pduRDt6d1yKOMitrUEke8agEM",
    "AIzaSyDMAScliyLx7F0NPDEJi1QmyCgHIAODrlU",
    "AIzaSyD3asb-2pEZVqMkmL6M9N6nHZRR_znhrh0",
    "AIzayDNSXIbFmlXbIE6mCzDLQAqITYefhixbX4A",
    "AIzaSyAdOS2zB6NCsk1pCdZ4-P6GBdi_UUPwX7c",
    "AIzaSyASWm6HmTMdYWpgMnjRBjxcQ9CKctWmLd4",
    "AIzaSyANUvH9H9BsUccjsu2pCmEkOPjjaXeDQgY",
    "AIzaSyA5_iVawFQ8ABuTZNUdcwERLJv_a_p4wtM",
    "AIzaSyA4UrcGxgwQFTfaI3no3t7Lt1sjmdnP5sQ",
    "AIzaSyDSb51JiIcB6OJpwwMicseKRhhrOq1cS7g",
    "AIzaSyBF2RrAIm4a0mO64EShQfqfd2AFnzAvvuU",
    "AIzaSyBcE-OOIbhjyR83gm4r2MFCu4MJmprNXsw",
    "AIzaSyB8qGxt4ec15vitgn44duC5ucxaOi4FmqE",
    "AIzaSyA8vmApnrHNFE0bApF4hoZ11srVL_n0nvY",
];

/// The HMAC keys that the jwt.io debugger fills in for a new token (today's and the
/// earlier per-algorithm ones): a token signed with one is a documentation example.
const JWT_DOC_KEYS: &[&[u8]] = &[
    b"a-string-secret-at-least-256-bits-long",
    b"your-256-bit-secret",
    b"your-384-bit-secret",
    b"your-512-bit-secret",
];

/// Longest JWT checked against the documentation keys, in bytes.
const MAX_JWT: usize = 16 << 10;

/// Whether `value` holds one of the Firebase SDKs' published keys.
pub fn firebase_sdk_key(value: &[u8]) -> bool {
    value.starts_with(b"AIza")
        && FIREBASE_SDK_KEYS
            .iter()
            .any(|k| memchr::memmem::find(value, k.as_bytes()).is_some())
}

/// Whether `value` is a signed JWT (`header.payload.signature`, HS256/384/512) whose
/// signature verifies with one of the documentation debugger's default keys.
pub fn jwt_signed_with_doc_key(value: &[u8]) -> bool {
    if value.len() > MAX_JWT || !value.starts_with(b"eyJ") {
        return false;
    }
    let Some(dot) = memchr::memrchr(b'.', value) else {
        return false;
    };
    let (input, sig) = (&value[..dot], &value[dot + 1..]);
    let head = input.split(|&b| b == b'.').next().unwrap_or(input);
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let (Ok(head), Ok(sig)) = (engine.decode(head), engine.decode(sig)) else {
        return false;
    };
    let alg = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&head)
        .ok()
        .and_then(|m| m.get("alg").and_then(|a| a.as_str()).map(str::to_owned));
    let Some(alg) = alg else { return false };
    JWT_DOC_KEYS
        .iter()
        .any(|key| verifies(&alg, key, input, &sig))
}

/// HMAC of `input` under `key` with the hash `alg` names (`HS256`, `HS384`, `HS512`)
/// equals `sig` (compared in constant time).
fn verifies(alg: &str, key: &[u8], input: &[u8], sig: &[u8]) -> bool {
    macro_rules! check {
        ($d:ty) => {
            match Hmac::<$d>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(input);
                    m.verify_slice(sig).is_ok()
                }
                Err(_) => false,
            }
        };
    }
    match alg {
        "HS256" => check!(sha2::Sha256),
        "HS384" => check!(sha2::Sha384),
        "HS512" => check!(sha2::Sha512),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token of our own (`{"sub":"gate-test-7",…}`), signed by an independent HMAC
    /// implementation with jwt.io's default key, and the same claims under another key.
    const DOC_SIGNED: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJnYXRlLXRlc3QtNyIsIm5hbWUiOiJBZGEgR2F0ZSIsImlhdCI6MTc2NzIyNTYwMH0.4ZgpxRqVQ3puZ-lLoWbVqy1HZ74rscuHwkdlrvFN3do";
    const OWN_KEY: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJnYXRlLXRlc3QtNyIsIm5hbWUiOiJBZGEgR2F0ZSIsImlhdCI6MTc2NzIyNTYwMH0.ON612nurKi6Ze2ehLvEvCkJYppoTjaei8UznDHy38f8";
    const DOC_SIGNED_512: &str = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJnYXRlLXRlc3QtNyIsIm5hbWUiOiJBZGEgR2F0ZSIsImlhdCI6MTc2NzIyNTYwMH0.DOsmLwJhxYl-IUrwrLwnxujanHAwU_6JQLfkyygX8McIis64QG4V1n6MVNjShZjcpwPLKWPiCqnqtGVJcLlRkw";

    #[test]
    fn tokens_signed_with_the_debuggers_default_key() {
        assert!(jwt_signed_with_doc_key(DOC_SIGNED.as_bytes()));
        assert!(jwt_signed_with_doc_key(DOC_SIGNED_512.as_bytes()));
        // the same claims signed with any other key is a real token
        assert!(!jwt_signed_with_doc_key(OWN_KEY.as_bytes()));
        // a changed payload breaks the signature
        let forged = DOC_SIGNED.replace("eyJzdWIiOiJnYXRl", "eyJzdWIiOiJnYXRm");
        assert!(!jwt_signed_with_doc_key(forged.as_bytes()));
        // the header's algorithm decides the hash: HS512's signature under an HS256 header
        let relabelled = DOC_SIGNED_512.replace("eyJhbGciOiJIUzUxMiJ9", "eyJhbGciOiJIUzI1NiJ9");
        assert!(!jwt_signed_with_doc_key(relabelled.as_bytes()));
        assert!(!jwt_signed_with_doc_key(b"eyJhbGciOiJub25lIn0.e30."));
        assert!(!jwt_signed_with_doc_key(b"eyJ"));
    }

    #[test]
    fn firebase_sdk_keys_by_value() {
        assert!(firebase_sdk_key(FIREBASE_SDK_KEYS[0].as_bytes()));
        // another key of the same shape is not published
        assert!(!firebase_sdk_key(
            b"AIzaSyQ7m2Kx9Lp4Vt8Rb3Nc6Wd1Hf5Jg0Ys2Eu"
        ));
        assert!(!firebase_sdk_key(b"AIzaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyI"));
    }
}
