//! DSSE (Dead Simple Signing Envelope): the envelope JSON, its pre-authentication encoding,
//! and parsing with size limits.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// One signature in an envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Key id of the signer (hex SHA-256 of its DER public key, for airgate keys).
    #[serde(default)]
    pub keyid: String,
    /// Base64 (standard) signature bytes.
    pub sig: String,
}

/// A DSSE envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Base64 (standard) payload.
    pub payload: String,
    /// Media type of the payload (`application/vnd.in-toto+json` for a bundle's statement); it
    /// is part of what each signature covers (see [`pae`]).
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Signatures over [`pae`] of the payload type and the decoded payload; at most
    /// [`MAX_SIGNATURES`].
    pub signatures: Vec<EnvelopeSignature>,
    /// Sigstore bundles (JSON objects) whose message signature covers the decoded payload
    /// (the statement bytes): an airgate extension beside the DSSE fields, counted towards
    /// a kind's threshold when the policy says so (see `trust::attached`).
    #[serde(
        rename = "sigstoreBundles",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sigstore_bundles: Vec<serde_json::Value>,
}

/// Most signatures an envelope may carry.
pub const MAX_SIGNATURES: usize = 64;
/// Most Sigstore bundles an envelope may carry.
pub const MAX_SIGSTORE_BUNDLES: usize = 16;

/// Errors parsing an envelope: all mean the bundle is rejected.
#[derive(Debug, thiserror::Error)]
pub enum DsseError {
    /// The envelope's size in bytes (first) is over the limit (second).
    #[error("envelope is {0} bytes, over the limit of {1}")]
    TooLarge(usize, usize),
    /// The envelope is not JSON of the DSSE shape; the parser's message.
    #[error("envelope is not valid JSON: {0}")]
    Json(String),
    /// The payload is not standard base64.
    #[error("envelope payload is not valid base64")]
    Base64,
    /// More signatures than [`MAX_SIGNATURES`]; the count found.
    #[error("envelope has {0} signatures, more than the limit of {MAX_SIGNATURES}")]
    TooManySignatures(usize),
    /// More attached Sigstore bundles than [`MAX_SIGSTORE_BUNDLES`]; the count found.
    #[error("envelope has {0} Sigstore bundles, more than the limit of {MAX_SIGSTORE_BUNDLES}")]
    TooManySigstoreBundles(usize),
}

impl Envelope {
    /// Parse envelope JSON of at most `limit` bytes.
    pub fn parse(bytes: &[u8], limit: usize) -> Result<Envelope, DsseError> {
        if bytes.len() > limit {
            return Err(DsseError::TooLarge(bytes.len(), limit));
        }
        let e: Envelope =
            serde_json::from_slice(bytes).map_err(|e| DsseError::Json(e.to_string()))?;
        if e.signatures.len() > MAX_SIGNATURES {
            return Err(DsseError::TooManySignatures(e.signatures.len()));
        }
        if e.sigstore_bundles.len() > MAX_SIGSTORE_BUNDLES {
            return Err(DsseError::TooManySigstoreBundles(e.sigstore_bundles.len()));
        }
        Ok(e)
    }

    /// Decoded payload bytes.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, DsseError> {
        base64::engine::general_purpose::STANDARD
            .decode(self.payload.as_bytes())
            .map_err(|_| DsseError::Base64)
    }

    /// The bytes a signature covers: `PAE(payloadType, payload)`.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, DsseError> {
        Ok(pae(&self.payload_type, &self.payload_bytes()?))
    }

    /// A new unsigned envelope over `payload`.
    pub fn new(payload_type: &str, payload: &[u8]) -> Envelope {
        Envelope {
            payload: base64::engine::general_purpose::STANDARD.encode(payload),
            payload_type: payload_type.to_string(),
            signatures: Vec::new(),
            sigstore_bundles: Vec::new(),
        }
    }
}

/// DSSE v1 pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Decode a standard base64 signature.
pub fn decode_sig(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s.as_bytes())
        .ok()
}

/// Encode signature bytes as standard base64.
pub fn encode_sig(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

impl crate::Classified for DsseError {
    /// An envelope that cannot be read is the input's fault.
    fn class(&self) -> crate::ErrorClass {
        crate::ErrorClass::Rejected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_spec_example() {
        // From the DSSE protocol description.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn limits() {
        let e = Envelope::new("t", b"x");
        let j = serde_json::to_vec(&e).unwrap();
        assert!(Envelope::parse(&j, 1000).is_ok());
        assert!(matches!(
            Envelope::parse(&j, 5),
            Err(DsseError::TooLarge(..))
        ));
        assert!(matches!(
            Envelope::parse(b"{", 100),
            Err(DsseError::Json(_))
        ));
        let mut e = Envelope::new("t", b"x");
        e.sigstore_bundles = vec![serde_json::json!({}); MAX_SIGSTORE_BUNDLES];
        let j = serde_json::to_vec(&e).unwrap();
        assert!(Envelope::parse(&j, 10_000).is_ok());
        e.sigstore_bundles.push(serde_json::json!({}));
        let j = serde_json::to_vec(&e).unwrap();
        assert!(matches!(
            Envelope::parse(&j, 10_000),
            Err(DsseError::TooManySigstoreBundles(17))
        ));
    }

    #[test]
    fn an_envelope_without_sigstore_bundles_serialises_as_plain_dsse() {
        let j = serde_json::to_string(&Envelope::new("t", b"x")).unwrap();
        assert!(!j.contains("sigstore"), "{j}");
    }
}
