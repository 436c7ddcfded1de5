//! OpenSSF model signing (`model_signing` 0.2 to 1.x): authenticate `model.sig` by one of
//! the three methods (Sigstore via `sigstore-verify` on the root digest; an ECDSA key; an
//! X.509 certificate chain to operator CAs), turn the signed statement into the expected
//! manifest, recompute every file or shard digest in parallel and require an exact match:
//! a changed, missing or extra (non-ignored) file rejects.

pub(crate) mod choose;
pub(crate) mod ec;
pub(crate) mod hashing;
pub(crate) mod payload;
pub(crate) mod x509;

pub use choose::{choose as choose_trust, ChooseError, Explicit, ModelTrust};
pub use ec::{EcKey, HashAlg};
pub use payload::{manifest, ItemKey, Manifest, Serialization};
pub use x509::Cert;

use crate::trust::sigstore::{self as ss, Signer, Signers, SigstoreError, SigstoreRoot};
use crate::vocab::{SignatureReport, SignatureStatus};
use crate::ErrorClass;
use payload::{SigFile, IN_TOTO};
use std::path::{Path, PathBuf};

/// Largest `model.sig` read.
pub const MAX_SIG_BYTES: u64 = 64 << 20;
/// Paths model_signing ignores by default (git metadata).
pub const GIT_PATHS: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

/// How the signature is to be authenticated.
#[derive(Clone, Copy)]
pub enum Method<'a> {
    /// Keyless or managed-key Sigstore bundle, against a trusted root.
    Sigstore {
        /// The Sigstore trusted root.
        root: &'a SigstoreRoot,
        /// The certificate identities and managed keys allowed.
        signers: &'a Signers,
    },
    /// ECDSA public keys; any one may have signed.
    Key(&'a [EcKey]),
    /// CA certificates the signing chain must reach.
    Certificate(&'a [Cert]),
}

/// Verification settings.
#[derive(Clone)]
pub struct Options<'a> {
    /// How to authenticate the signature.
    pub method: Method<'a>,
    /// Extra paths to ignore, relative to the model root.
    pub ignore: Vec<String>,
    /// Ignore `.git`, `.gitattributes`, `.github`, `.gitignore` (model_signing's default).
    pub ignore_git_paths: bool,
}

impl<'a> Options<'a> {
    /// Defaults: git paths ignored, nothing else.
    pub fn new(method: Method<'a>) -> Options<'a> {
        Options {
            method,
            ignore: Vec::new(),
            ignore_git_paths: true,
        }
    }
}

/// How the model differs from its manifest.
#[derive(Debug, Default)]
pub struct IntegrityDiff {
    /// Files the manifest lists that the model folder lacks.
    pub missing: Vec<String>,
    /// Files in the folder the manifest does not list (ignored paths aside).
    pub extra: Vec<String>,
    /// Files or shards whose digest differs.
    pub changed: Vec<String>,
}

impl std::fmt::Display for IntegrityDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (what, v) in [
            ("missing", &self.missing),
            ("not in the signature", &self.extra),
            ("changed", &self.changed),
        ] {
            if !v.is_empty() {
                let shown: Vec<&str> = v.iter().take(10).map(String::as_str).collect();
                let more = if v.len() > 10 {
                    format!(" and {} more", v.len() - 10)
                } else {
                    String::new()
                };
                parts.push(format!("{what}: {}{more}", shown.join(", ")));
            }
        }
        f.write_str(&parts.join("; "))
    }
}

/// Why a model was not accepted, or could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// `model.sig` could not be read.
    #[error("cannot read signature {path}: {source}")]
    SigRead {
        /// The signature file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// `model.sig` is larger than [`MAX_SIG_BYTES`].
    #[error("signature file is larger than {MAX_SIG_BYTES} bytes")]
    SigTooLarge,
    /// `model.sig` is not a Sigstore-format bundle of a model signature.
    #[error("signature file is not a model signature bundle: {0}")]
    SigParse(String),
    /// The signature does not verify with the chosen key, certificate or root.
    #[error("signature does not verify: {0}")]
    Signature(String),
    /// The signed statement is not a model_signing manifest airgate reads.
    #[error("signed statement is not acceptable: {0}")]
    Statement(String),
    /// Sigstore verification failed (identity, transparency log, certificate).
    #[error(transparent)]
    Sigstore(#[from] SigstoreError),
    /// The model folder cannot be checked as signed (a symlink, a special file).
    #[error("model is not acceptable: {0}")]
    Model(String),
    /// The model is over a hashing limit (files, depth).
    #[error("model exceeds a limit: {0}")]
    Limit(String),
    /// A model file could not be read.
    #[error("cannot read model file {path}: {source}")]
    ModelRead {
        /// The model file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The files differ from the signed manifest.
    #[error("model does not match its signature: {0}")]
    Integrity(IntegrityDiff),
    /// The options are unusable (no trust given, a CA file that does not load); what to fix.
    #[error("{0}")]
    Config(String),
}

impl ModelError {
    /// The exit-code class.
    pub fn class(&self) -> ErrorClass {
        match self {
            ModelError::Sigstore(e) => e.class(),
            ModelError::SigRead { .. } | ModelError::ModelRead { .. } => ErrorClass::Operational,
            ModelError::Config(_) => ErrorClass::Config,
            _ => ErrorClass::Rejected,
        }
    }
}

/// Who signed the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelSigner {
    /// Sigstore: certificate identity or managed key.
    Sigstore(Signer),
    /// An ECDSA key.
    Key {
        /// Hex SHA-256 of the key's DER public key.
        key_id: String,
        /// `P-256`, `P-384` or `P-521`.
        curve: &'static str,
    },
    /// A certificate chain: leaf subject, its key, and the CA reached.
    Certificate {
        /// The leaf certificate's subject DN.
        subject: String,
        /// Hex SHA-256 of the leaf's DER public key.
        key_id: String,
        /// The leaf key's curve.
        curve: &'static str,
        /// Subject DN of the trusted CA reached.
        anchor: String,
    },
}

/// An accepted model.
#[derive(Clone, Debug)]
pub struct ModelVerified {
    /// `sigstore`, `key` or `certificate`.
    pub method: &'static str,
    /// Who signed.
    pub signer: ModelSigner,
    /// Statement format: `v1.0` or `v0.2`.
    pub format: &'static str,
    /// The signature used model_signing v0.2's PAE.
    pub pae_v02: bool,
    /// The model name in the signed statement (informative).
    pub model_name: String,
    /// Hex root digest from the statement (absent in the v0.2 format).
    pub root_digest: Option<String>,
    /// `files` or `shards`.
    pub serialization: String,
    /// `sha256` or `blake2`.
    pub hash_type: String,
    /// Files or shards the manifest lists.
    pub resources: usize,
    /// Model files hashed.
    pub files: u64,
    /// Model bytes hashed.
    pub bytes: u64,
    /// Authenticated signing time (Sigstore), Unix seconds.
    pub integrated_time: Option<i64>,
    /// The files the signed manifest covers (`/`-separated, relative to the model folder).
    /// Others in the folder were ignored (git paths, the signer's ignore paths): a caller
    /// that publishes the folder must leave them out.
    pub covered: std::collections::BTreeSet<String>,
    /// Shard serialization only: empty files in the folder, which the manifest cannot list
    /// (an empty file has no shards), so the signature says nothing about them. Upstream
    /// model-signing passes them silently; callers report them and leave them out.
    pub unrecorded_empty: Vec<String>,
}

impl ModelVerified {
    /// One finding per empty file the signature cannot speak for (see
    /// [`unrecorded_empty`](Self::unrecorded_empty)), named under `at`.
    pub fn unrecorded_findings(&self, at: &str) -> Vec<crate::vocab::Finding> {
        self.unrecorded_empty
            .iter()
            .map(|p| {
                crate::vocab::Finding::new(
                    format!("{at}/{p}"),
                    "model-signing.unsigned-empty-file",
                    crate::vocab::Category::Trust,
                    crate::vocab::Severity::Medium,
                    "empty file that the shard-serialized signature cannot cover (empty files \
                     have no shards): it may have been added after signing; an empty file can \
                     still change behaviour (an `__init__.py` makes a package)",
                    b"",
                )
            })
            .collect()
    }
}

impl ModelVerified {
    /// The report line for this signature.
    pub fn report(&self) -> SignatureReport {
        let (key_id, identity) = match &self.signer {
            ModelSigner::Sigstore(Signer::Certificate { san, issuer }) => {
                (String::new(), Some(format!("{san} ({issuer})")))
            }
            ModelSigner::Sigstore(Signer::Key { key_id }) => (key_id.clone(), None),
            ModelSigner::Key { key_id, .. } => (key_id.clone(), None),
            ModelSigner::Certificate {
                subject,
                key_id,
                anchor,
                ..
            } => (key_id.clone(), Some(format!("{subject} (CA {anchor})"))),
        };
        SignatureReport {
            format: "model-signing".into(),
            key_id,
            identity,
            status: SignatureStatus::Counted,
            reason: format!(
                "valid {} signature ({} statement{}); {} {} resources over {} files ({} bytes) match",
                self.method,
                self.format,
                if self.pae_v02 { ", v0.2 PAE" } else { "" },
                self.resources,
                self.serialization,
                self.files,
                self.bytes
            ),
        }
    }
}

struct Authenticated {
    payload: Vec<u8>,
    manifest: Manifest,
    signer: ModelSigner,
    pae_v02: bool,
    integrated_time: Option<i64>,
}

/// Verify the model at `model` (a directory, or a single file) against `sig`.
pub fn verify_model(
    model: &Path,
    sig: &Path,
    opts: &Options<'_>,
) -> Result<ModelVerified, ModelError> {
    let bytes = read_sig(sig)?;
    let auth = authenticate(&bytes, &opts.method)?;
    let _ = &auth.payload;
    let m = &auth.manifest;
    let mut ignore: Vec<String> = opts.ignore.iter().filter_map(|p| normalize(p)).collect();
    ignore.extend(
        m.serialization
            .ignore_paths
            .iter()
            .filter_map(|p| normalize(p)),
    );
    if opts.ignore_git_paths {
        ignore.extend(GIT_PATHS.iter().map(|s| s.to_string()));
    }
    if let Some(rel) = relative_inside(model, sig) {
        ignore.push(rel);
    }
    let hashed = hashing::hash_model(model, &m.serialization, &ignore)?;
    let mut diff = IntegrityDiff::default();
    for (k, d) in &m.items {
        match hashed.digests.get(k) {
            None => diff.missing.push(k.to_string()),
            Some(a) if a != d => diff.changed.push(k.to_string()),
            Some(_) => {}
        }
    }
    for k in hashed.digests.keys() {
        if !m.items.contains_key(k) {
            diff.extra.push(k.to_string());
        }
    }
    if !(diff.missing.is_empty() && diff.extra.is_empty() && diff.changed.is_empty()) {
        return Err(ModelError::Integrity(diff));
    }
    Ok(ModelVerified {
        method: match opts.method {
            Method::Sigstore { .. } => "sigstore",
            Method::Key(_) => "key",
            Method::Certificate(_) => "certificate",
        },
        signer: auth.signer,
        format: m.format,
        pae_v02: auth.pae_v02,
        model_name: m.model_name.clone(),
        root_digest: m.root_digest.clone(),
        serialization: m.serialization.method.clone(),
        hash_type: m.serialization.hash_type.clone(),
        resources: m.items.len(),
        files: hashed.files,
        bytes: hashed.bytes,
        integrated_time: auth.integrated_time,
        covered: m.items.keys().map(|k| k.path.clone()).collect(),
        unrecorded_empty: hashed.unrecorded_empty,
    })
}

fn read_sig(sig: &Path) -> Result<Vec<u8>, ModelError> {
    let err = |source| ModelError::SigRead {
        path: sig.to_path_buf(),
        source,
    };
    let buf = match crate::util::read_file_bounded(sig, MAX_SIG_BYTES) {
        Ok(b) => b,
        Err(e) if crate::util::is_too_large(&e) => return Err(ModelError::SigTooLarge),
        Err(e) => return Err(err(e)),
    };
    Ok(buf)
}

/// A path relative to the model root, cleaned; `None` for `..`, absolute or empty ones.
fn normalize(p: &str) -> Option<String> {
    let parts: Vec<&str> = p
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if p.starts_with('/') || parts.is_empty() || parts.contains(&"..") {
        return None;
    }
    Some(parts.join("/"))
}

/// `inner` relative to the directory `root`, if it lies inside it.
pub fn relative_inside(root: &Path, inner: &Path) -> Option<String> {
    let root = std::fs::canonicalize(root).ok()?;
    let inner = std::fs::canonicalize(inner).ok()?;
    let rel = inner.strip_prefix(&root).ok()?;
    let s = rel.to_str()?;
    (!s.is_empty()).then(|| s.to_string())
}

fn authenticate(bytes: &[u8], method: &Method<'_>) -> Result<Authenticated, ModelError> {
    match method {
        Method::Sigstore { root, signers } => {
            let bundle = ss::parse_bundle(bytes)?;
            let sigstore_verify::types::SignatureContent::DsseEnvelope(env) = &bundle.content
            else {
                return Err(ModelError::SigParse(
                    "the bundle holds no DSSE envelope".into(),
                ));
            };
            if env.payload_type != IN_TOTO {
                return Err(ModelError::Statement(format!(
                    "payload type {:?} is not {IN_TOTO}",
                    env.payload_type
                )));
            }
            let payload = env.payload.as_bytes().to_vec();
            let manifest = payload::manifest(&payload).map_err(ModelError::Statement)?;
            let root_hex = manifest.root_digest.clone().ok_or_else(|| {
                ModelError::Statement("v0.2 statements cannot be verified with Sigstore".into())
            })?;
            let mut digest = [0u8; 32];
            hex::decode_to_slice(&root_hex, &mut digest)
                .map_err(|_| ModelError::Statement("root digest is not hex".into()))?;
            let v = ss::verify(root, &bundle, ss::Artifact::Sha256(digest), signers)?;
            Ok(Authenticated {
                payload,
                manifest,
                signer: ModelSigner::Sigstore(v.signer),
                pae_v02: false,
                integrated_time: v.integrated_time,
            })
        }
        Method::Key(keys) => {
            if keys.is_empty() {
                return Err(ModelError::Config(
                    "no public key given for the key method".into(),
                ));
            }
            let (sf, env, payload, sigs) = parse_sig_file(bytes)?;
            if sf.verification_material.x509_certificate_chain.is_some() {
                return Err(ModelError::Signature("the signature was made with a certificate chain; verify it with CA certificates".into()));
            }
            if sf.verification_material.certificate.is_some() {
                return Err(ModelError::Signature(
                    "the signature is a keyless Sigstore bundle; verify it with a trusted root and a certificate identity".into(),
                ));
            }
            let hint = sf
                .verification_material
                .public_key
                .as_ref()
                .and_then(|p| p.hint.clone());
            let candidates: Vec<&EcKey> = match &hint {
                Some(h) => keys
                    .iter()
                    .filter(|k| k.pem_hint().eq_ignore_ascii_case(h))
                    .collect(),
                None => keys.iter().collect(),
            };
            if candidates.is_empty() {
                return Err(ModelError::Signature(format!(
                    "key mismatch: the signature names key hint {}, which none of the given keys has",
                    hint.unwrap_or_default()
                )));
            }
            for k in candidates {
                if let Some(v02) = check_dsse(
                    k,
                    &env.payload_type,
                    &payload,
                    &sigs,
                    k.curve_hash(),
                    k.curve_hash(),
                ) {
                    let manifest = payload::manifest(&payload).map_err(ModelError::Statement)?;
                    return Ok(Authenticated {
                        payload,
                        manifest,
                        signer: ModelSigner::Key {
                            key_id: k.key_id(),
                            curve: k.curve(),
                        },
                        pae_v02: v02,
                        integrated_time: None,
                    });
                }
            }
            Err(ModelError::Signature(
                "no given public key verifies the DSSE signature".into(),
            ))
        }
        Method::Certificate(anchors) => {
            if anchors.is_empty() {
                return Err(ModelError::Config(
                    "no CA certificate given for the certificate method".into(),
                ));
            }
            let (sf, env, payload, sigs) = parse_sig_file(bytes)?;
            let vm = &sf.verification_material;
            let raw: Vec<&str> =
                match (&vm.x509_certificate_chain, &vm.certificate) {
                    (Some(c), _) => c
                        .certificates
                        .iter()
                        .map(|r| r.raw_bytes.as_str())
                        .collect(),
                    (None, Some(c)) => vec![c.raw_bytes.as_str()],
                    _ => return Err(ModelError::Signature(
                        "the signature carries no certificate chain (was it signed with a key?)"
                            .into(),
                    )),
                };
            if raw.len() > x509::MAX_CHAIN {
                return Err(ModelError::Signature(format!(
                    "certificate chain longer than {}",
                    x509::MAX_CHAIN
                )));
            }
            let chain = raw
                .iter()
                .map(|r| payload::b64(r).and_then(|d| Cert::from_der(&d)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ModelError::Signature(format!("certificate chain: {e}")))?;
            let path = x509::validate(&chain, anchors)
                .map_err(|e| ModelError::Signature(format!("certificate chain: {e}")))?;
            let k = &path.leaf_key;
            // v0.2 certificate signatures used SHA-256 whatever the curve.
            let v02 = check_dsse(
                k,
                &env.payload_type,
                &payload,
                &sigs,
                k.curve_hash(),
                HashAlg::Sha256,
            );
            let Some(v02) = v02 else {
                return Err(ModelError::Signature(format!(
                    "the DSSE signature does not verify with the key of {}",
                    path.leaf_subject
                )));
            };
            let manifest = payload::manifest(&payload).map_err(ModelError::Statement)?;
            Ok(Authenticated {
                payload,
                manifest,
                signer: ModelSigner::Certificate {
                    subject: path.leaf_subject.clone(),
                    key_id: k.key_id(),
                    curve: k.curve(),
                    anchor: path.anchor_subject.clone(),
                },
                pae_v02: v02,
                integrated_time: None,
            })
        }
    }
}

type Parsed = (SigFile, payload::Envelope, Vec<u8>, Vec<Vec<u8>>);

fn parse_sig_file(bytes: &[u8]) -> Result<Parsed, ModelError> {
    let mut sf: SigFile =
        serde_json::from_slice(bytes).map_err(|e| ModelError::SigParse(e.to_string()))?;
    if !sf
        .media_type
        .starts_with("application/vnd.dev.sigstore.bundle")
    {
        return Err(ModelError::SigParse(format!(
            "media type {:?} is not a Sigstore bundle",
            sf.media_type
        )));
    }
    let env = sf
        .dsse_envelope
        .take()
        .ok_or_else(|| ModelError::SigParse("the bundle holds no DSSE envelope".into()))?;
    if env.payload_type != IN_TOTO {
        return Err(ModelError::Statement(format!(
            "payload type {:?} is not {IN_TOTO}",
            env.payload_type
        )));
    }
    if env.signatures.is_empty() || env.signatures.len() > payload::MAX_SIGNATURES {
        return Err(ModelError::SigParse(format!(
            "envelope has {} signatures; 1 to {} are accepted",
            env.signatures.len(),
            payload::MAX_SIGNATURES
        )));
    }
    let payload =
        payload::b64(&env.payload).map_err(|e| ModelError::SigParse(format!("payload: {e}")))?;
    let sigs = env
        .signatures
        .iter()
        .map(|s| payload::b64(&s.sig))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ModelError::SigParse(format!("signature: {e}")))?;
    Ok((sf, env, payload, sigs))
}

/// `Some(false)` if a signature verifies over the standard PAE (hashed with `hash`),
/// `Some(true)` over the v0.2 PAE (hashed with `v02_hash`), `None` if neither.
fn check_dsse(
    k: &EcKey,
    payload_type: &str,
    payload: &[u8],
    sigs: &[Vec<u8>],
    hash: HashAlg,
    v02_hash: HashAlg,
) -> Option<bool> {
    let std_pae = payload::pae(payload_type, payload);
    if sigs.iter().any(|s| k.verify(&std_pae, s, hash)) {
        return Some(false);
    }
    let v02 = payload::pae_v02(payload_type, payload);
    sigs.iter()
        .any(|s| k.verify(&v02, s, v02_hash))
        .then_some(true)
}

/// Which verification material a `model.sig` carries: used to choose the verification
/// method when the operator names none.
#[derive(Debug, PartialEq, Eq)]
pub enum Material {
    /// A Fulcio certificate, or a public key with transparency-log entries.
    Sigstore,
    /// A bare public key (the elliptic-key method).
    Key,
    /// An X.509 certificate chain (the certificate method).
    Certificate,
    /// Unreadable, or none of the above.
    Unknown,
}

/// Read at most [`MAX_SIG_BYTES`] of `sig` and tell its [`Material`].
pub fn material_of(sig: &Path) -> Material {
    use std::io::Read;
    let mut buf = Vec::new();
    let ok = std::fs::File::open(sig)
        .and_then(|f| f.take(MAX_SIG_BYTES).read_to_end(&mut buf))
        .is_ok();
    let v: serde_json::Value = match ok.then(|| serde_json::from_slice(&buf).ok()).flatten() {
        Some(v) => v,
        None => return Material::Unknown,
    };
    let vm = &v["verificationMaterial"];
    let has_tlog = vm["tlogEntries"].as_array().is_some_and(|a| !a.is_empty());
    if vm.get("x509CertificateChain").is_some() {
        Material::Certificate
    } else if vm.get("certificate").is_some() || (vm.get("publicKey").is_some() && has_tlog) {
        Material::Sigstore
    } else if vm.get("publicKey").is_some() {
        Material::Key
    } else {
        Material::Unknown
    }
}

impl crate::Classified for ModelError {
    fn class(&self) -> crate::ErrorClass {
        ModelError::class(self)
    }
}
