//! Verification of a publisher's own signature format over files that are not an airgate
//! bundle: a Sigstore bundle over one file, an OpenSSF model signature over a model folder,
//! and the inspection of what such a signature covers. Trust comes from the caller's
//! [`ExternalTrust`] (command-line keys, roots and identities) or from the policy's
//! `[sigstore]` section for the artifact kind. The reports come back unjudged: the policy's
//! verdict on their findings is [`decide::judge_external`](crate::decide::judge_external)'s.

use super::VerifyError;
use crate::inspect::scan::{scan_path, ScanOptions};
use crate::policy::Policy;
use crate::trust::model_signing::{self as ms, choose};
use crate::trust::sigstore::{self as ss, IdentityPolicy, ManagedKey, Signers, SigstoreRoot};
use crate::vocab::{CoverageReport, Finding, Report, Timings, Verdict};
use crate::ErrorClass;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Trust given for one verification of a Sigstore bundle or a model signature.
#[derive(Clone, Debug, Default)]
pub struct ExternalTrust {
    /// The policy, when one was given: its `[sigstore]` section adds trusted roots, keys,
    /// CA certificates and identities for the artifact kind.
    pub policy: Option<Policy>,
    /// A Sigstore `trusted_root.json`; overrides the policy's `[sigstore].trusted_root`.
    pub trusted_root: Option<PathBuf>,
    /// Expected certificate identity (exact SAN); needs `certificate_oidc_issuer`.
    pub certificate_identity: Option<String>,
    /// Expected OIDC issuer (exact); needs `certificate_identity`.
    pub certificate_oidc_issuer: Option<String>,
    /// PEM public keys (ECDSA or Ed25519) trusted as signers.
    pub keys: Vec<PathBuf>,
    /// PEM CA certificates for certificate-chain model signatures.
    pub ca_certs: Vec<PathBuf>,
    /// Artifact kind whose `[sigstore]` rules apply: `weights` when unset for models; only
    /// the rules for every kind (`*`) when unset for single files.
    pub kind: Option<String>,
}

/// A configuration error (exit 2).
fn config(message: impl Into<String>) -> VerifyError {
    VerifyError::Config(message.into())
}

/// A verification error with the class its library gave it.
fn classed(e: impl std::fmt::Display, class: ErrorClass) -> VerifyError {
    VerifyError::External {
        message: e.to_string(),
        class,
    }
}

fn new_report(trust: &ExternalTrust) -> Report {
    let mut r = Report::new("verify");
    if let Some(p) = &trust.policy {
        r.policy_sha256 = p.digest();
    }
    r
}

/// The report of a signature that did not verify: rejected, with the reason.
fn refused(mut report: Report, format: &str, why: String) -> Report {
    report.verdict = Verdict::Reject;
    report.signatures.push(ss::rejected_report(format, &why));
    report.reasons.push(why);
    report
}

/// The identity given as a pair, or neither; one without the other is a usage error.
fn identity(trust: &ExternalTrust) -> Result<Option<(String, String)>, VerifyError> {
    match (&trust.certificate_identity, &trust.certificate_oidc_issuer) {
        (Some(id), Some(iss)) => Ok(Some((id.clone(), iss.clone()))),
        (None, None) => Ok(None),
        _ => Err(config(
            "--certificate-identity and --certificate-oidc-issuer must be given together",
        )),
    }
}

/// The trusted root from the caller or the policy, if either names one.
fn trusted_root(trust: &ExternalTrust) -> Result<Option<SigstoreRoot>, VerifyError> {
    let path = match (&trust.trusted_root, &trust.policy) {
        (Some(p), _) => p.clone(),
        (None, Some(pol)) => match pol.sigstore.as_ref().and_then(|s| s.trusted_root.as_ref()) {
            Some(p) => pol.resolve(p),
            None => return Ok(None),
        },
        (None, None) => return Ok(None),
    };
    SigstoreRoot::load(&path)
        .map(Some)
        .map_err(|e| config(e.to_string()))
}

/// Verify the Sigstore bundle at `bundle` over the file `artifact`. A signature that does
/// not verify is a rejecting report; `Err`: nothing could be decided (no trusted root or
/// signer configured, unreadable files).
pub fn sigstore_file(
    artifact: &Path,
    bundle: &Path,
    trust: &ExternalTrust,
) -> Result<Report, VerifyError> {
    let started = Instant::now();
    let report = new_report(trust);
    let Some(root) = trusted_root(trust)? else {
        return Err(config(
            "Sigstore verification needs a trusted root: give --trusted-root FILE or set \
             [sigstore].trusted_root in the policy",
        ));
    };
    let mut signers = match &trust.policy {
        Some(p) => Signers::from_policy(p, trust.kind.as_deref().unwrap_or(""))
            .map_err(|e| config(e.to_string()))?,
        None => Signers::default(),
    };
    if let Some((id, iss)) = identity(trust)? {
        signers.identities.push(IdentityPolicy::exact(&id, &iss));
    }
    for k in &trust.keys {
        signers
            .keys
            .push(ManagedKey::load(k).map_err(|e| config(e.to_string()))?);
    }
    if signers.is_empty() {
        return Err(config(
            "no Sigstore signer is trusted: give --certificate-identity and \
             --certificate-oidc-issuer, --key PUB.pem, or [[sigstore.identities]] in the policy",
        ));
    }
    let size = std::fs::metadata(artifact)
        .map_err(|source| VerifyError::Io {
            path: artifact.to_path_buf(),
            source,
        })?
        .len();
    let result = ss::read_bundle(bundle)
        .and_then(|b| ss::verify(&root, &b, ss::Artifact::File(artifact), &signers));
    let mut report = match result {
        Ok(v) => {
            let mut r = report;
            r.signatures.push(v.report());
            r
        }
        Err(e) if e.class() == ErrorClass::Rejected => refused(report, "sigstore", e.to_string()),
        Err(e) => return Err(classed(&e, e.class())),
    };
    report.timings = Timings::from(started.elapsed(), size, 1);
    Ok(report)
}

/// A verified model signature's report, and the findings to judge beside inspection's.
#[derive(Debug)]
pub struct ModelFolder {
    /// The signature's report: accept when it verified (until findings are judged).
    pub report: Report,
    /// Findings of the signature itself (empty files it cannot cover), for
    /// [`decide::judge_external`](crate::decide::judge_external).
    pub findings: Vec<Finding>,
}

/// Verify the OpenSSF model signature `sig` over the model folder `model_dir`, leaving out
/// `ignore` (paths relative to the folder, as model_signing's `--ignore-paths`). The trust
/// method (key, certificate chain, Sigstore) is chosen from the signature's material and
/// `trust`, as the gate chooses it. A signature that does not verify is a rejecting report.
pub fn model_folder(
    model_dir: &Path,
    sig: &Path,
    ignore: Vec<String>,
    trust: &ExternalTrust,
) -> Result<ModelFolder, VerifyError> {
    let started = Instant::now();
    let report = new_report(trust);
    let kind = trust.kind.clone().unwrap_or_else(|| "weights".into());
    let explicit = choose::Explicit {
        keys: trust.keys.clone(),
        ca_certs: trust.ca_certs.clone(),
        trusted_root: trust.trusted_root.clone(),
        identity: identity(trust)?,
    };
    let chosen = match choose::choose(sig, trust.policy.as_ref(), &kind, &explicit) {
        Ok(t) => t,
        Err(choose::ChooseError::Config(m)) => return Err(config(m)),
        Err(choose::ChooseError::NoTrust(m)) => {
            return Err(config(format!(
                "no trust for this model signature ({m}): give --key PUB.pem, --ca-cert CA.pem, \
                 or --trusted-root with --certificate-identity and --certificate-oidc-issuer \
                 (or configure [sigstore] keys/ca_certs/identities for kind {kind:?})"
            )))
        }
    };
    let mut o = ms::Options::new(chosen.method());
    o.ignore = ignore;
    match ms::verify_model(model_dir, sig, &o) {
        Ok(v) => {
            let mut report = report;
            report.signatures.push(v.report());
            report.timings = Timings::from(started.elapsed(), v.bytes, v.files);
            let findings = v.unrecorded_findings(&model_dir.display().to_string());
            Ok(ModelFolder { report, findings })
        }
        Err(e) if e.class() == ErrorClass::Rejected => {
            let mut report = refused(report, "model-signing", e.to_string());
            report.timings = Timings::from(started.elapsed(), 0, 0);
            Ok(ModelFolder {
                report,
                findings: Vec::new(),
            })
        }
        Err(e) => Err(classed(&e, e.class())),
    }
}

/// Inspect the file or folder `path` that a detached, Sigstore or model signature covers,
/// with the policy's engine, as a native bundle's payload is inspected. Findings in the
/// files named `skip` (the signature files themselves, e.g. a `model.sig` inside the model
/// folder) are left out. Returns the findings and what was read.
pub fn inspect_covered(
    path: &Path,
    policy: &Policy,
    skip: &[String],
) -> Result<(Vec<Finding>, CoverageReport), VerifyError> {
    let (engine, text) =
        crate::inspect::build_engine_parts(policy).map_err(|e| config(e.to_string()))?;
    let engine = engine.counting();
    let opts = ScanOptions {
        bundle_limits: policy.limits.clone(),
        ..ScanOptions::default()
    };
    let out = scan_path(&engine, &text, path, &opts).map_err(|source| VerifyError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(source.to_string()),
    })?;
    let findings = out
        .findings
        .into_iter()
        .filter(|f| {
            !skip
                .iter()
                .any(|n| f.path == *n || f.path.starts_with(&format!("{n}!")))
        })
        .collect();
    Ok((findings, engine.coverage().report()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> PathBuf {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
        assert!(p.is_dir(), "shared test data missing");
        p
    }

    #[test]
    fn sigstore_accepts_and_rejects() {
        let py = shared().join("sigstore-python");
        let mut t = ExternalTrust {
            trusted_root: Some(py.join("trusted_root.production.json")),
            certificate_identity: Some("https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2".into()),
            certificate_oidc_issuer: Some("https://token.actions.githubusercontent.com".into()),
            ..Default::default()
        };
        let art = py.join("bundle_v3_github.whl");
        let b = py.join("bundle_v3_github.whl.sigstore");
        let r = sigstore_file(&art, &b, &t).unwrap();
        assert_eq!(r.verdict, Verdict::Accept);
        assert_eq!(r.command, "verify");
        assert_eq!(r.signatures[0].format, "sigstore");
        t.certificate_identity = Some("someone@else".into());
        let r = sigstore_file(&art, &b, &t).unwrap();
        assert_eq!(r.verdict, Verdict::Reject);
        assert!(r.reasons[0].contains("not allowed"), "{:?}", r.reasons);
        // a missing trusted root is a configuration error (exit 2)
        t.trusted_root = Some(py.join("nope.json"));
        let e = sigstore_file(&art, &b, &t).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Config);
        // identity without issuer is a usage error
        t.trusted_root = Some(py.join("trusted_root.production.json"));
        t.certificate_oidc_issuer = None;
        let e = sigstore_file(&art, &b, &t).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Config);
    }

    #[test]
    fn model_signing_methods_and_policy() {
        let ms_dir = shared().join("model-signing");
        let key = ms_dir.join("keys/certificate/signing-key-pub.pem");
        let ca = ms_dir.join("keys/certificate/ca-cert.pem");
        let d = ms_dir.join("v1.0.1-elliptic-key");
        let t = ExternalTrust {
            keys: vec![key.clone()],
            ..Default::default()
        };
        let r = model_folder(&d, &d.join("model.sig"), vec!["ignore-me".into()], &t).unwrap();
        assert_eq!(r.report.verdict, Verdict::Accept, "{:?}", r.report.reasons);
        // without the ignore path, the unsigned file rejects
        let r = model_folder(&d, &d.join("model.sig"), vec![], &t).unwrap();
        assert_eq!(r.report.verdict, Verdict::Reject);
        assert!(r.report.reasons[0].contains("ignore-me"));
        // policy-configured CA, chosen from the signature's material
        let dir = tempfile::tempdir().unwrap();
        let pol = dir.path().join("policy.toml");
        std::fs::write(
            &pol,
            format!(
                "[[sigstore.ca_certs]]\nkinds = [\"weights\"]\npath = {:?}\n",
                ca.to_str().unwrap()
            ),
        )
        .unwrap();
        let t = ExternalTrust {
            policy: Some(Policy::load(&pol).unwrap()),
            ..Default::default()
        };
        let d = ms_dir.join("v1.1.0-certificate");
        let r = model_folder(&d, &d.join("model.sig"), vec![], &t).unwrap();
        assert_eq!(r.report.verdict, Verdict::Accept, "{:?}", r.report.reasons);
        // no trust at all: configuration error
        let e =
            model_folder(&d, &d.join("model.sig"), vec![], &ExternalTrust::default()).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Config);
        // an unreadable key: configuration error
        let t = ExternalTrust {
            keys: vec![dir.path().join("missing.pem")],
            ..Default::default()
        };
        let e = model_folder(&d, &d.join("model.sig"), vec![], &t).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Config);
    }
}
