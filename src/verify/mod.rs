//! The single streaming pass: authenticate the envelope, then hash, size-check, inspect and
//! (optionally) extract every payload file. Every input the gate admits (a native bundle, an
//! OpenSSF model-signing tar, a trust-root rotation) enters through one function,
//! [`verify`], chosen by its [`Input`]. Only this module can construct a [`VerifiedBundle`],
//! the value that carries payload trust onward to `decide` and `gate`.

pub(crate) mod external;
pub(crate) mod model;
mod pipeline;
mod rotation;

use crate::bundle::open::{open, OpenError};
use crate::bundle::statement::PAYLOAD_TYPE;
use crate::bundle::{Statement, Version};
pub use external::{inspect_covered, model_folder, sigstore_file, ExternalTrust, ModelFolder};

use crate::inspect::Engine;
use crate::policy::Policy;
use crate::trust::rotation::{Rotated, TrustBundle};
use crate::trust::store::{StoreError, TrustStore};
use crate::trust::trust_state::TrustState;
use crate::vocab::{BundleInfo, Report, Timings};
use crate::vocab::{Category, Finding, Severity};
use crate::ErrorClass;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Settings for one verification.
pub struct VerifyOptions<'a> {
    /// The policy: limits, trust per kind, inspection rules.
    pub policy: &'a Policy,
    /// Trust to use instead of the policy's (ad-hoc `--key`); `None`: built from the policy.
    pub trust: Option<&'a TrustStore>,
    /// The inspection engine, built from the same policy
    /// ([`build_engine`](crate::inspect::build_engine)).
    pub engine: &'a Engine,
    /// When set: every payload file is written under this existing, empty folder in the same
    /// pass, and files and folders are fsynced before `verify_bundle` returns. Nothing there
    /// is trusted until the verdict says accept.
    pub extract_to: Option<&'a Path>,
    /// Unix seconds, for key expiry.
    pub now: i64,
    /// Called with the number of payload bytes read so far (for progress bars).
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// Looked at between payload chunks: once set, the pass stops reading and
    /// `verify_bundle` returns [`VerifyError::Cancelled`] (a daemon's SIGTERM).
    pub cancel: Option<&'a AtomicBool>,
}

impl<'a> VerifyOptions<'a> {
    /// Options with the policy's own trust, no extraction, the current time.
    pub fn new(policy: &'a Policy, engine: &'a Engine) -> Self {
        VerifyOptions {
            policy,
            trust: None,
            engine,
            extract_to: None,
            now: crate::util::now_secs(),
            progress: None,
            cancel: None,
        }
    }
}

/// Errors where nothing was decided.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The bundle could not be read.
    #[error("cannot read bundle {path}: {source}")]
    Io {
        /// The bundle file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A payload file could not be written to the extraction folder.
    #[error("cannot write extracted file {path}: {source}")]
    Extract {
        /// The file being written.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The policy's trust could not be loaded (exit class configuration).
    #[error("trust configuration: {0}")]
    Trust(#[from] StoreError),
    /// The caller asked the pass to stop (see [`VerifyOptions::cancel`]); nothing was decided.
    #[error("verification was cancelled before it finished")]
    Cancelled,
    /// The policy's trust for this input cannot be used (exit 2).
    #[error("{0}")]
    Config(String),
    /// The model-signing library could not decide (by its class).
    #[error("{message}")]
    Model {
        /// Why it could not decide.
        message: String,
        /// Configuration or operational, for the exit code.
        class: ErrorClass,
    },
    /// A publisher-format verification (Sigstore, model signing) could not decide, by the
    /// class its library gave the error.
    #[error("{message}")]
    External {
        /// Why it could not decide.
        message: String,
        /// Configuration or operational, for the exit code.
        class: ErrorClass,
    },
    /// An authenticated trust bundle's statement could not be read back.
    #[error("trust bundle statement: {0}")]
    RotationStatement(String),
}

impl VerifyError {
    /// Exit-code class.
    pub fn class(&self) -> ErrorClass {
        match self {
            VerifyError::Trust(_) | VerifyError::Config(_) => ErrorClass::Config,
            VerifyError::Model { class, .. } | VerifyError::External { class, .. } => *class,
            _ => ErrorClass::Operational,
        }
    }
}

/// What verification reads. Each kind is authenticated its own way; all of them are then
/// hashed, sized and inspected, and come back as the same [`Outcome`] for
/// [`decide::decide`](crate::decide::decide).
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// A native airgate bundle (`.tar.zst`: DSSE envelope, then the payload files),
    /// authenticated by its signatures against the kind's threshold.
    Bundle(&'a Path),
    /// An OpenSSF model-signing tar (a model folder with `model.sig` at its root), named
    /// `shown_as` in the report. Needs [`VerifyOptions::extract_to`]: the signature is
    /// checked over the extracted folder.
    ModelTar {
        /// The tar file.
        path: &'a Path,
        /// How the report names it (the intake file name).
        shown_as: &'a str,
    },
    /// A trust-root rotation (a bundle of kind `trust`), authenticated against the gate's
    /// active trust `current`: the current and the new root role's thresholds, version
    /// exactly current + 1. Needs [`VerifyOptions::extract_to`], where its `trust.toml` is
    /// written as the payload to stage.
    Rotation {
        /// The rotation's envelope and `trust.toml`, as read from the bundle file.
        bundle: &'a TrustBundle,
        /// The trust the gate holds now.
        current: &'a TrustState,
        /// Hex SHA-256 of the bundle file as received.
        sha256: &'a str,
        /// How the report names it (the intake file name).
        shown_as: &'a str,
    },
}

/// Verify `input`: authenticate it, then hash, size-check and inspect every file (extracting
/// under [`VerifyOptions::extract_to`] in the same pass). The report's verdict says reject
/// until [`decide::decide`](crate::decide::decide) applies the policy. `Err` only when
/// nothing could be decided (I/O on the input itself, extraction writes, unusable trust
/// configuration, a cancel request).
pub fn verify(input: Input<'_>, opts: &VerifyOptions<'_>) -> Result<Outcome, VerifyError> {
    match input {
        Input::Bundle(path) => verify_bundle(path, opts),
        Input::ModelTar { path, shown_as } => model::verify_model(path, shown_as, opts),
        Input::Rotation {
            bundle,
            current,
            sha256,
            shown_as,
        } => rotation::verify_rotation(bundle, current, sha256, shown_as, opts),
    }
}

/// What authenticated a [`VerifiedBundle`].
#[derive(Clone, Debug)]
pub enum Evidence {
    /// Native bundle: DSSE signatures (and carried Sigstore bundles) met the kind's threshold.
    Dsse,
    /// OpenSSF model-signing `model.sig` over the extracted model folder.
    ModelSignature {
        /// `sigstore`, `key` or `certificate`.
        method: String,
        /// Who signed (key id, or certificate identity).
        signer: String,
    },
    /// A trust-root rotation authenticated by the active and the new root role.
    TrustRotation {
        /// The version of the trust it replaces.
        from_version: u64,
        /// The trust it installs, with the signatures counted by both root roles and the
        /// changes, for the gate to put in place and record.
        rotated: Box<Rotated>,
    },
}

/// A bundle whose signatures met the threshold and whose every file matched the statement.
/// Inspection findings may still make `decide` reject it.
#[derive(Debug)]
pub struct VerifiedBundle {
    statement: Statement,
    version: Version,
    signers: Vec<String>,
    sha256: String,
    extracted: Option<PathBuf>,
    evidence: Evidence,
}

impl VerifiedBundle {
    /// The signed statement: every payload file with its digest and size.
    pub fn statement(&self) -> &Statement {
        &self.statement
    }
    /// The bundle's version, parsed.
    pub fn version(&self) -> &Version {
        &self.version
    }
    /// Artifact kind from the statement.
    pub fn kind(&self) -> &str {
        &self.statement.predicate.kind
    }
    /// Bundle name from the statement.
    pub fn name(&self) -> &str {
        &self.statement.predicate.name
    }
    /// Key ids that counted towards the threshold.
    pub fn signers(&self) -> &[String] {
        &self.signers
    }
    /// Hex SHA-256 of the bundle file as received.
    pub fn bundle_sha256(&self) -> &str {
        &self.sha256
    }
    /// Where the payload was extracted, if it was.
    pub fn extracted(&self) -> Option<&Path> {
        self.extracted.as_deref()
    }
    /// What authenticated it.
    pub fn evidence(&self) -> &Evidence {
        &self.evidence
    }

    /// Its parts, moved out for the gate's own value (no copy of the statement):
    /// `(statement, version, signers, extracted, evidence)`.
    pub(crate) fn into_parts(self) -> (Statement, Version, Vec<String>, Option<PathBuf>, Evidence) {
        (
            self.statement,
            self.version,
            self.signers,
            self.extracted,
            self.evidence,
        )
    }
}

/// The result of a verification: always a report of what was found (its verdict says
/// reject until [`decide::decide`](crate::decide::decide) applies the policy); a
/// [`VerifiedBundle`] when authenticity and integrity held.
#[derive(Debug)]
pub struct Outcome {
    /// What was found; its verdict stays reject until `decide` applies the policy.
    pub report: Report,
    /// Present when the signatures met the threshold and every file matched the statement.
    pub verified: Option<VerifiedBundle>,
}

fn reject(rule: &str, category: Category, message: String) -> Finding {
    Finding::new(
        "",
        rule,
        category,
        Severity::Critical,
        message.clone(),
        message.as_bytes(),
    )
}

/// Verify the native bundle at `path` (see [`verify`]).
fn verify_bundle(path: &Path, opts: &VerifyOptions<'_>) -> Result<Outcome, VerifyError> {
    let start = Instant::now();
    // this run's own coverage count, whoever else shares the engine
    let engine = opts.engine.counting();
    let opts = &VerifyOptions {
        engine: &engine,
        ..*opts
    };
    let owned_store;
    let store = match opts.trust {
        Some(s) => s,
        None => {
            owned_store = TrustStore::from_policy(opts.policy)?;
            &owned_store
        }
    };
    let mut report = Report::new("verify");
    report.policy_sha256 = opts.policy.digest();
    std::fs::metadata(path).map_err(|source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    })?;

    let mut verified_parts = None;
    let mut bytes = 0u64;
    let mut files = 0u64;
    let mut raw_digest = None;
    match open(path, &opts.policy.limits) {
        Err(OpenError::Io { source, .. }) => {
            return Err(VerifyError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
        Err(e) => {
            report
                .findings
                .push(reject("bundle.structure", Category::Archive, e.to_string()))
        }
        Ok(mut opened) => {
            match authenticate(&opened.envelope, store, opts, &mut report)? {
                None => {}
                Some((statement, version, signers)) => {
                    let pass = pipeline::run(&mut opened.tar, &statement, opts)?;
                    bytes = pass.bytes;
                    files = pass.files;
                    let clean = pass.structural_ok;
                    report.findings.extend(pass.findings);
                    if clean {
                        verified_parts = Some((statement, version, signers));
                    }
                }
            }
            // The raw digest is complete only if the stream was read to its end.
            let crate::bundle::open::Opened { tar, digest, .. } = opened;
            drop(tar);
            raw_digest = digest.finish();
        }
    }
    let sha = match raw_digest {
        Some((sha, _)) => sha,
        // The pass stopped early (a rejection): hash the whole file for the record.
        None => crate::util::hash_file(path)
            .map(|(h, _)| h)
            .map_err(|source| VerifyError::Io {
                path: path.to_path_buf(),
                source,
            })?,
    };
    if let Some(b) = report.bundle.as_mut() {
        b.sha256 = sha.clone();
        b.path = path.display().to_string();
    } else {
        report.bundle = Some(BundleInfo {
            sha256: sha.clone(),
            path: path.display().to_string(),
            ..BundleInfo::default()
        });
    }
    report.timings = Timings::from(start.elapsed(), bytes, files);
    if engine.nests() {
        report.coverage = Some(engine.coverage().report());
    }
    let verified = verified_parts.map(|(statement, version, signers)| VerifiedBundle {
        statement,
        version,
        signers,
        sha256: sha,
        extracted: opts.extract_to.map(Path::to_path_buf),
        evidence: Evidence::Dsse,
    });
    // the policy's verdict is `decide`'s: until then the report fails closed
    report.verdict = crate::vocab::Verdict::Reject;
    Ok(Outcome { report, verified })
}

/// Check a bundle's structure without trusting any signature: the envelope and its
/// statement parse, every zstd frame decodes, the archive is clean and every file matches
/// the statement (file set, sizes, hashes), to the last byte. Returns the problems found
/// (none: the structure is sound). `sign` runs it before it writes, so a truncated or
/// corrupt bundle is refused at the signer's desk rather than at the gate.
pub fn check_structure(
    path: &Path,
    limits: &crate::policy::Limits,
) -> Result<Vec<Finding>, VerifyError> {
    let policy = Policy {
        limits: limits.clone(),
        ..Policy::default()
    };
    let engine = Engine::none();
    let opts = VerifyOptions::new(&policy, &engine);
    let mut opened = match open(path, limits) {
        Err(OpenError::Io { source, .. }) => {
            return Err(VerifyError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
        Err(e) => {
            return Ok(vec![reject(
                "bundle.structure",
                Category::Archive,
                e.to_string(),
            )])
        }
        Ok(o) => o,
    };
    let statement = Statement::from_envelope(&opened.envelope).and_then(|s| s.check().map(|_| s));
    let statement = match statement {
        Ok(s) => s,
        Err(e) => {
            return Ok(vec![reject(
                "bundle.statement",
                Category::Trust,
                format!("the statement is not valid: {e}"),
            )])
        }
    };
    let pass = pipeline::run(&mut opened.tar, &statement, &opts)?;
    let mut findings: Vec<Finding> = pass
        .findings
        .into_iter()
        .filter(|f| f.severity >= Severity::High)
        .collect();
    let crate::bundle::open::Opened { tar, digest, .. } = opened;
    drop(tar);
    if digest.finish().is_none() && findings.is_empty() {
        findings.push(reject(
            "bundle.structure",
            Category::Archive,
            "the bundle was not read to its end: it is truncated or carries data after the \
             archive"
                .into(),
        ));
    }
    if !pass.structural_ok && findings.is_empty() {
        findings.push(reject(
            "bundle.structure",
            Category::Archive,
            "the payload does not match the statement".into(),
        ));
    }
    Ok(findings)
}

/// Check the envelope: payload type, statement, signatures (Ed25519, and carried Sigstore
/// bundles where the kind's rule counts them) and threshold. Records what it finds in
/// `report`; returns the authenticated statement when the threshold is met. `Err` only for
/// trust configuration that cannot be loaded.
fn authenticate(
    env: &crate::trust::dsse::Envelope,
    store: &TrustStore,
    opts: &VerifyOptions<'_>,
    report: &mut Report,
) -> Result<Option<(Statement, Version, Vec<String>)>, VerifyError> {
    if env.payload_type != PAYLOAD_TYPE {
        report.findings.push(reject(
            "bundle.envelope",
            Category::Trust,
            format!(
                "envelope payloadType is {:?}, expected {PAYLOAD_TYPE}",
                env.payload_type
            ),
        ));
        return Ok(None);
    }
    let parsed = env
        .payload_bytes()
        .map_err(|e| e.to_string())
        .and_then(|b| {
            serde_json::from_slice::<Statement>(&b)
                .map(|s| (s, b))
                .map_err(|e| e.to_string())
        });
    let (statement, statement_bytes) = match parsed {
        Ok(s) => s,
        Err(e) => {
            report.findings.push(reject(
                "bundle.statement",
                Category::Trust,
                format!("the signed statement cannot be parsed: {e}"),
            ));
            return Ok(None);
        }
    };
    let p = &statement.predicate;
    report.bundle = Some(BundleInfo {
        name: p.name.clone(),
        kind: p.kind.clone(),
        version: p.version.clone(),
        ..BundleInfo::default()
    });
    let version = match statement.check() {
        Ok(v) => v,
        Err(e) => {
            report.findings.push(reject(
                "bundle.statement",
                Category::Trust,
                format!("the signed statement is not valid: {e}"),
            ));
            return Ok(None);
        }
    };
    let mut result = store.evaluate(&p.kind, env, opts.now);
    let counts_sigstore = store.rule(&p.kind).is_some_and(|r| r.sigstore);
    crate::trust::attached::evaluate(
        opts.policy,
        store,
        &p.kind,
        counts_sigstore,
        &statement_bytes,
        &env.sigstore_bundles,
        opts.now,
        &mut result,
    )?;
    report.signatures = result.signatures.clone();
    if !result.met() {
        let why = result.unconfigured.clone().unwrap_or_else(|| {
            format!(
                "signature threshold not met: {} of {} required trusted signatures",
                result.counted.len(),
                result.threshold
            )
        });
        report
            .findings
            .push(reject("trust.threshold", Category::Trust, why));
        return Ok(None);
    }
    Ok(Some((statement, version, result.counted)))
}

impl crate::Classified for VerifyError {
    fn class(&self) -> crate::ErrorClass {
        VerifyError::class(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::pack::{pack, PackOptions};
    use crate::trust::keys::PrivateKey;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A signed bundle of three 3 MiB files.
    fn signed_bundle(dir: &Path, key: &PrivateKey) -> PathBuf {
        let src = dir.join("src");
        std::fs::create_dir_all(&src).unwrap();
        for i in 0..3u8 {
            std::fs::write(src.join(format!("f{i}")), vec![i; 3 << 20]).unwrap();
        }
        let out = dir.join("b.tar.zst");
        let opts = PackOptions {
            kind: "weights".into(),
            name: "m".into(),
            version: "1".into(),
            publisher: "tests".into(),
            created: Some(0),
            zstd_level: Some(1),
        };
        pack(&src, &out, &opts).unwrap();
        crate::trust::sign::sign(&out, key).unwrap();
        out
    }

    #[test]
    fn a_cancel_stops_the_pass_within_a_chunk_and_decides_nothing() {
        let d = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate();
        let bundle = signed_bundle(d.path(), &key);
        let store = TrustStore::ad_hoc(vec![key.public()], 1, &[]);
        let policy = Policy::from_toml("").unwrap();
        let engine = Engine::none();
        let mut opts = VerifyOptions::new(&policy, &engine);
        opts.trust = Some(&store);

        // the control: without a cancel request the bundle verifies
        let never = AtomicBool::new(false);
        opts.cancel = Some(&never);
        let out = verify_bundle(&bundle, &opts).unwrap();
        let verified = out.verified.as_ref();
        assert!(verified.is_some(), "{:?}", out.report.findings);
        assert!(matches!(
            verified.map(VerifiedBundle::evidence),
            Some(Evidence::Dsse)
        ));

        // a request made once the first chunk is read stops the reading at the next one
        let cancel = AtomicBool::new(false);
        let read = AtomicU64::new(0);
        let progress = |n: u64| {
            read.store(n, Ordering::SeqCst);
            cancel.store(true, Ordering::SeqCst);
        };
        opts.cancel = Some(&cancel);
        opts.progress = Some(&progress);
        assert!(matches!(
            verify_bundle(&bundle, &opts),
            Err(VerifyError::Cancelled)
        ));
        assert_eq!(read.load(Ordering::SeqCst), 1 << 20, "read past the cancel");

        // a request made before the pass reads nothing of the payload
        let early = AtomicBool::new(true);
        read.store(0, Ordering::SeqCst);
        opts.cancel = Some(&early);
        assert!(matches!(
            verify_bundle(&bundle, &opts),
            Err(VerifyError::Cancelled)
        ));
        assert_eq!(read.load(Ordering::SeqCst), 0);
    }
}
