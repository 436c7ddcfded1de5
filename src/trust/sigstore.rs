//! Sigstore bundles (v0.1–v0.3, Rekor v1 and v2, DSSE and message signatures) verified
//! fully offline with `sigstore-verify` against an operator-supplied `trusted_root.json`,
//! with our identity policy (SAN and OIDC issuer, exact or anchored pattern) or managed
//! public keys. No network: the trusted root is only ever read from a file.

use crate::policy::Policy;
use crate::vocab::{SignatureReport, SignatureStatus};
use crate::ErrorClass;
use sha2::{Digest, Sha256};
use sigstore_verify::types::{Bundle, DerPublicKey, Sha256Hash};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy, Verifier};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest bundle file read.
pub const MAX_BUNDLE_BYTES: u64 = 16 << 20;
/// Largest trusted root file read.
pub const MAX_TRUSTED_ROOT_BYTES: u64 = 16 << 20;
/// Largest public key file read.
pub const MAX_KEY_BYTES: u64 = 64 << 10;
/// Artifacts up to this size are read into memory (so every signing scheme, including
/// Ed25519, can verify); larger ones are streamed through the hashers.
pub const MAX_IN_MEMORY_ARTIFACT: u64 = 32 << 20;

/// Why a Sigstore bundle was not accepted, or could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum SigstoreError {
    /// The trusted root file could not be read.
    #[error("cannot read trusted root {path}: {source}")]
    RootRead {
        /// The trusted root file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The trusted root does not parse or lacks an authority.
    #[error("trusted root {path} is not usable: {message}")]
    RootInvalid {
        /// The trusted root file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A managed public key file does not load.
    #[error("public key {path} is not usable: {message}")]
    KeyInvalid {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An identity pattern is not a valid regular expression.
    #[error("identity pattern {pattern:?} is not valid: {message}")]
    BadPattern {
        /// The pattern as written.
        pattern: String,
        /// The regex parser's message.
        message: String,
    },
    /// Neither an identity nor a key is allowed, so nothing could count.
    #[error("no signer policy: give --certificate-identity and --certificate-oidc-issuer, a public key, or [[sigstore.identities]] for this kind")]
    NoSignerPolicy,
    /// A file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    Read {
        /// `bundle`, `artifact`, ...
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The bundle is over [`MAX_BUNDLE_BYTES`].
    #[error("bundle is larger than {MAX_BUNDLE_BYTES} bytes")]
    BundleTooLarge,
    /// The bundle is not Sigstore bundle JSON of a known version; the parser's message.
    #[error("not a valid Sigstore bundle: {0}")]
    BundleParse(String),
    /// A key-signed bundle, and no managed key is trusted.
    #[error("bundle is signed with a managed key, but no public key is configured for it")]
    KeyedBundleWithoutKey,
    /// A certificate-signed bundle, and only managed keys are trusted.
    #[error("bundle carries a signing certificate, but only public keys are trusted here")]
    KeylessBundleWithoutIdentity,
    /// The certificate's identity is not one the policy allows.
    #[error("certificate identity {san} from issuer {issuer} is not allowed (allowed: {allowed})")]
    IdentityNotAllowed {
        /// The certificate's subject alternative name.
        san: String,
        /// The OIDC issuer in the certificate.
        issuer: String,
        /// The identities allowed, for the operator.
        allowed: String,
    },
    /// The signature, certificate chain, transparency-log entry or timestamp does not verify.
    #[error("verification failed: {0}")]
    Verify(String),
}

impl SigstoreError {
    /// The exit-code class: configuration mistakes, I/O failures, or a rejection.
    pub fn class(&self) -> ErrorClass {
        match self {
            SigstoreError::RootRead { .. }
            | SigstoreError::RootInvalid { .. }
            | SigstoreError::KeyInvalid { .. }
            | SigstoreError::BadPattern { .. }
            | SigstoreError::NoSignerPolicy => ErrorClass::Config,
            SigstoreError::Read { .. } => ErrorClass::Operational,
            _ => ErrorClass::Rejected,
        }
    }
}

/// A trusted root, prepared for verification.
pub struct SigstoreRoot {
    verifier: Verifier,
}

impl SigstoreRoot {
    /// Load a `trusted_root.json` file.
    pub fn load(path: &Path) -> Result<SigstoreRoot, SigstoreError> {
        let bytes = read_bounded(path, MAX_TRUSTED_ROOT_BYTES).map_err(|e| match e {
            Bounded::Io(source) => SigstoreError::RootRead {
                path: path.to_path_buf(),
                source,
            },
            Bounded::TooLarge => SigstoreError::RootInvalid {
                path: path.to_path_buf(),
                message: format!("larger than {MAX_TRUSTED_ROOT_BYTES} bytes"),
            },
        })?;
        let text = String::from_utf8(bytes).map_err(|_| SigstoreError::RootInvalid {
            path: path.to_path_buf(),
            message: "not UTF-8".into(),
        })?;
        SigstoreRoot::from_json(&text).map_err(|e| match e {
            SigstoreError::RootInvalid { message, .. } => SigstoreError::RootInvalid {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Parse trusted root JSON.
    pub fn from_json(text: &str) -> Result<SigstoreRoot, SigstoreError> {
        let invalid = |message: String| SigstoreError::RootInvalid {
            path: PathBuf::from("<json>"),
            message,
        };
        let root = sigstore_verify::trust_root::TrustedRoot::from_json(text)
            .map_err(|e| invalid(e.to_string()))?;
        let verifier = Verifier::new(&root).map_err(|e| invalid(e.to_string()))?;
        Ok(SigstoreRoot { verifier })
    }
}

/// How a certificate value (SAN or issuer) must look.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// The whole value must equal this.
    Exact(String),
    /// Anchored: the whole value must match.
    Pattern(regex::Regex),
}

impl Matcher {
    /// An anchored pattern.
    pub fn pattern(p: &str) -> Result<Matcher, SigstoreError> {
        crate::policy::sigstore::anchored(p)
            .map(Matcher::Pattern)
            .map_err(|message| SigstoreError::BadPattern {
                pattern: p.to_string(),
                message,
            })
    }

    /// Whether `value` satisfies this matcher.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(e) => e == value,
            Matcher::Pattern(r) => r.is_match(value),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "{s:?}"),
            Matcher::Pattern(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

/// One accepted certificate identity.
#[derive(Clone, Debug)]
pub struct IdentityPolicy {
    /// The certificate's subject alternative name.
    pub san: Matcher,
    /// The OIDC issuer.
    pub issuer: Matcher,
}

impl IdentityPolicy {
    /// Exact SAN and issuer.
    pub fn exact(san: &str, issuer: &str) -> IdentityPolicy {
        IdentityPolicy {
            san: Matcher::Exact(san.to_string()),
            issuer: Matcher::Exact(issuer.to_string()),
        }
    }

    /// Whether a certificate's SAN and issuer satisfy this rule.
    pub fn matches(&self, san: &str, issuer: &str) -> bool {
        self.san.matches(san) && self.issuer.matches(issuer)
    }
}

/// A managed public key (SPKI DER) and its airgate key id.
#[derive(Clone, Debug)]
pub struct ManagedKey {
    der: Vec<u8>,
    id: String,
}

impl ManagedKey {
    /// Parse a PEM `PUBLIC KEY` (other lines around it are ignored).
    pub fn from_pem(text: &str) -> Result<ManagedKey, String> {
        let der = super::pem::first(text, "PUBLIC KEY").map_err(|e| e.to_string())?;
        ManagedKey::from_der(der)
    }

    /// Wrap SPKI DER.
    pub fn from_der(der: Vec<u8>) -> Result<ManagedKey, String> {
        use der::Decode as _;
        spki::SubjectPublicKeyInfoRef::from_der(&der).map_err(|e| e.to_string())?;
        let id = hex::encode(Sha256::digest(&der));
        Ok(ManagedKey { der, id })
    }

    /// Load a PEM public key file.
    pub fn load(path: &Path) -> Result<ManagedKey, SigstoreError> {
        let invalid = |message: String| SigstoreError::KeyInvalid {
            path: path.to_path_buf(),
            message,
        };
        let bytes = read_bounded(path, MAX_KEY_BYTES).map_err(|e| match e {
            Bounded::Io(e) => invalid(e.to_string()),
            Bounded::TooLarge => invalid(format!("larger than {MAX_KEY_BYTES} bytes")),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| invalid("not UTF-8 PEM".into()))?;
        ManagedKey::from_pem(&text).map_err(invalid)
    }

    /// Hex SHA-256 of the SPKI DER.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// SPKI DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

/// Who may sign: certificate identities and/or managed keys.
#[derive(Clone, Debug, Default)]
pub struct Signers {
    /// Certificate identities allowed (keyless signing).
    pub identities: Vec<IdentityPolicy>,
    /// Managed public keys allowed.
    pub keys: Vec<ManagedKey>,
}

impl Signers {
    /// The identities and keys a policy's `[sigstore]` section allows for `kind`.
    pub fn from_policy(policy: &Policy, kind: &str) -> Result<Signers, SigstoreError> {
        let mut out = Signers::default();
        let Some(s) = &policy.sigstore else {
            return Ok(out);
        };
        for r in s.identities_for(kind) {
            let san = match (&r.san, &r.san_regex) {
                (Some(e), _) => Matcher::Exact(e.clone()),
                (None, Some(p)) => Matcher::pattern(p)?,
                (None, None) => continue,
            };
            let issuer = match (&r.issuer, &r.issuer_regex) {
                (Some(e), _) => Matcher::Exact(e.clone()),
                (None, Some(p)) => Matcher::pattern(p)?,
                (None, None) => continue,
            };
            out.identities.push(IdentityPolicy { san, issuer });
        }
        for p in s.keys_for(kind) {
            out.keys.push(ManagedKey::load(&policy.resolve(p))?);
        }
        Ok(out)
    }

    /// Whether nothing at all is trusted.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty() && self.keys.is_empty()
    }

    /// Each allowed identity as `SAN from ISSUER`.
    pub fn describe(&self) -> Vec<String> {
        self.identities
            .iter()
            .map(|i| format!("{} from {}", i.san, i.issuer))
            .collect()
    }

    fn describe_identities(&self) -> String {
        let v = self.describe();
        if v.is_empty() {
            "none".into()
        } else {
            v.join("; ")
        }
    }
}

/// The artifact a bundle should cover.
#[derive(Clone, Copy, Debug)]
pub enum Artifact<'a> {
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// A file, hashed as it streams.
    File(&'a Path),
    /// A precomputed SHA-256 digest.
    Sha256([u8; 32]),
}

/// Who signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signer {
    /// A Fulcio certificate.
    Certificate {
        /// Its subject alternative name.
        san: String,
        /// Its OIDC issuer.
        issuer: String,
    },
    /// A managed key.
    Key {
        /// Hex SHA-256 of the key's DER public key.
        key_id: String,
    },
}

/// A verified bundle.
#[derive(Clone, Debug)]
pub struct Verified {
    /// Who signed.
    pub signer: Signer,
    /// Authenticated Rekor v1 integrated time (Unix seconds), if any.
    pub integrated_time: Option<i64>,
    /// Every authenticated time used (integrated times, RFC 3161 timestamps).
    pub verified_times: Vec<i64>,
    /// `dsse` or `message-signature`.
    pub content: &'static str,
    /// The bundle's media type.
    pub media_type: String,
}

impl Verified {
    /// The report line for this signature.
    pub fn report(&self) -> SignatureReport {
        let (key_id, identity) = match &self.signer {
            Signer::Certificate { san, issuer } => {
                (String::new(), Some(format!("{san} ({issuer})")))
            }
            Signer::Key { key_id } => (key_id.clone(), None),
        };
        let when = self
            .integrated_time
            .or_else(|| self.verified_times.iter().copied().min())
            .map(|t| format!(", signed at {}", crate::util::format_time(t)))
            .unwrap_or_default();
        SignatureReport {
            format: "sigstore".into(),
            key_id,
            identity,
            status: SignatureStatus::Counted,
            reason: format!(
                "valid {} bundle ({}) against the trusted root{when}",
                self.content, self.media_type
            ),
        }
    }
}

/// The report line for a bundle that did not verify.
pub fn rejected_report(format: &str, err: &impl std::fmt::Display) -> SignatureReport {
    SignatureReport {
        format: format.into(),
        key_id: String::new(),
        identity: None,
        status: SignatureStatus::Invalid,
        reason: err.to_string(),
    }
}

/// Parse bundle JSON (at most [`MAX_BUNDLE_BYTES`]).
pub fn parse_bundle(bytes: &[u8]) -> Result<Bundle, SigstoreError> {
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(SigstoreError::BundleTooLarge);
    }
    let text =
        std::str::from_utf8(bytes).map_err(|_| SigstoreError::BundleParse("not UTF-8".into()))?;
    Bundle::from_json(text).map_err(|e| SigstoreError::BundleParse(e.to_string()))
}

/// Read and parse a bundle file.
pub fn read_bundle(path: &Path) -> Result<Bundle, SigstoreError> {
    let bytes = read_bounded(path, MAX_BUNDLE_BYTES).map_err(|e| match e {
        Bounded::Io(source) => SigstoreError::Read {
            what: "bundle",
            path: path.to_path_buf(),
            source,
        },
        Bounded::TooLarge => SigstoreError::BundleTooLarge,
    })?;
    parse_bundle(&bytes)
}

/// Whether `bundle` is shaped to sign exactly `artifact`: a message signature whose digest
/// is the artifact's SHA-256. (A shape check only; [`verify`] decides.)
pub fn covers(bundle: &Bundle, artifact: &[u8]) -> Result<(), String> {
    use sha2::Digest;
    let sigstore_verify::types::SignatureContent::MessageSignature(ms) = &bundle.content else {
        return Err(
            "it holds a DSSE envelope; attach a message signature over the statement \
                    bytes (e.g. `cosign sign-blob --bundle`)"
                .into(),
        );
    };
    let Some(d) = &ms.message_digest else {
        return Err("its message signature names no digest".into());
    };
    if *d.digest.as_bytes() != sha2::Sha256::digest(artifact)[..] {
        return Err(
            "its message digest is not the SHA-256 of this bundle's statement \
                    (sign the bytes `airgate inspect --statement` prints)"
                .into(),
        );
    }
    Ok(())
}

/// Verify `bundle` over `artifact` against `root`, accepting only `signers`.
pub fn verify(
    root: &SigstoreRoot,
    bundle: &Bundle,
    artifact: Artifact<'_>,
    signers: &Signers,
) -> Result<Verified, SigstoreError> {
    if signers.is_empty() {
        return Err(SigstoreError::NoSignerPolicy);
    }
    let keyless = bundle.signing_certificate().is_some();
    let content = match &bundle.content {
        sigstore_verify::types::SignatureContent::DsseEnvelope(_) => "dsse",
        _ => "message-signature",
    };
    let media_type = bundle.media_type().as_str().to_string();
    if keyless {
        if signers.identities.is_empty() {
            return Err(SigstoreError::KeylessBundleWithoutIdentity);
        }
        let policy = VerificationPolicy::any_identity();
        let r = run(root, bundle, artifact, &policy)?;
        if !r.certificate_verified() {
            return Err(SigstoreError::Verify(
                "certificate chain was not verified".into(),
            ));
        }
        let san = r
            .identity()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        let issuer = r.issuer().unwrap_or_default().to_string();
        if san.is_empty() || !signers.identities.iter().any(|p| p.matches(&san, &issuer)) {
            return Err(SigstoreError::IdentityNotAllowed {
                san: if san.is_empty() { "(none)".into() } else { san },
                issuer,
                allowed: signers.describe_identities(),
            });
        }
        return Ok(Verified {
            signer: Signer::Certificate { san, issuer },
            integrated_time: r.integrated_time().map(|t| t.as_second()),
            verified_times: r
                .verified_timestamps()
                .iter()
                .map(|t| t.as_second())
                .collect(),
            content,
            media_type,
        });
    }
    if signers.keys.is_empty() {
        return Err(SigstoreError::KeyedBundleWithoutKey);
    }
    let mut last = None;
    for key in &signers.keys {
        let policy = PublicKeyVerificationPolicy::new(DerPublicKey::new(key.der.clone()));
        match run(root, bundle, artifact, &policy) {
            Ok(r) => {
                return Ok(Verified {
                    signer: Signer::Key {
                        key_id: key.id.clone(),
                    },
                    integrated_time: r.integrated_time().map(|t| t.as_second()),
                    verified_times: r
                        .verified_timestamps()
                        .iter()
                        .map(|t| t.as_second())
                        .collect(),
                    content,
                    media_type,
                })
            }
            Err(SigstoreError::Verify(m)) => last = Some(m),
            Err(other) => return Err(other),
        }
    }
    Err(SigstoreError::Verify(format!(
        "no configured public key verifies the bundle: {}",
        last.unwrap_or_default()
    )))
}

fn run<P: sigstore_verify::Policy>(
    root: &SigstoreRoot,
    bundle: &Bundle,
    artifact: Artifact<'_>,
    policy: &P,
) -> Result<sigstore_verify::VerificationResult, SigstoreError> {
    let v = &root.verifier;
    let res = match artifact {
        Artifact::Bytes(b) => v.verify(b, bundle, policy),
        Artifact::Sha256(d) => v.verify(Sha256Hash::new(d), bundle, policy),
        Artifact::File(path) => {
            let read_err = |source| SigstoreError::Read {
                what: "artifact",
                path: path.to_path_buf(),
                source,
            };
            let f = std::fs::File::open(path).map_err(read_err)?;
            let len = f.metadata().map_err(read_err)?.len();
            if len <= MAX_IN_MEMORY_ARTIFACT {
                let mut buf = Vec::with_capacity(len as usize);
                f.take(MAX_IN_MEMORY_ARTIFACT + 1)
                    .read_to_end(&mut buf)
                    .map_err(read_err)?;
                v.verify(buf.as_slice(), bundle, policy)
            } else {
                v.verify_reader(
                    std::io::BufReader::with_capacity(1 << 20, f),
                    bundle,
                    policy,
                )
            }
        }
    };
    res.map_err(|e| match e {
        sigstore_verify::Error::ArtifactRead(source) => SigstoreError::Read {
            what: "artifact",
            path: match artifact {
                Artifact::File(p) => p.to_path_buf(),
                _ => PathBuf::from("<artifact>"),
            },
            source,
        },
        other => SigstoreError::Verify(other.to_string()),
    })
}

enum Bounded {
    Io(std::io::Error),
    TooLarge,
}

fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, Bounded> {
    crate::util::read_file_bounded(path, limit).map_err(|e| {
        if crate::util::is_too_large(&e) {
            Bounded::TooLarge
        } else {
            Bounded::Io(e)
        }
    })
}

impl crate::Classified for SigstoreError {
    fn class(&self) -> crate::ErrorClass {
        SigstoreError::class(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers() {
        assert!(Matcher::Exact("a".into()).matches("a"));
        assert!(!Matcher::Exact("a".into()).matches("ab"));
        let p = Matcher::pattern("https://github\\.com/org/.*").unwrap();
        assert!(p.matches("https://github.com/org/repo"));
        assert!(!p.matches("evil https://github.com/org/repo"));
        assert!(Matcher::pattern("(").is_err());
    }

    #[test]
    fn empty_signers_is_a_config_error() {
        let e = SigstoreError::NoSignerPolicy;
        assert_eq!(e.class(), ErrorClass::Config);
        assert_eq!(SigstoreError::BundleTooLarge.class(), ErrorClass::Rejected);
    }

    #[test]
    fn bundle_limits() {
        assert!(matches!(
            parse_bundle(b"{"),
            Err(SigstoreError::BundleParse(_))
        ));
        let big = vec![b' '; MAX_BUNDLE_BYTES as usize + 1];
        assert!(matches!(
            parse_bundle(&big),
            Err(SigstoreError::BundleTooLarge)
        ));
    }

    #[test]
    fn managed_key_parsing() {
        let pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAExRRST79+PsrRBnGAI4cMu6Omz2Jh\nfwlMW+gIutNKVRaMyS4rQKvgngc5p8UbLj55pVHhIoAxi/SRgURZI0J3Xw==\n-----END PUBLIC KEY-----\n";
        let k = ManagedKey::from_pem(pem).unwrap();
        assert_eq!(k.id().len(), 64);
        assert!(ManagedKey::from_pem(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
        )
        .is_err());
    }
}
