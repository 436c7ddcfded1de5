//! Glue for `airgate verify` over publisher formats: a Sigstore bundle over one file, and an
//! OpenSSF model signature over a model folder. Trust comes from the command line
//! (`--trusted-root`, `--certificate-identity`, `--certificate-oidc-issuer`, `--key`,
//! `--ca-cert`) or from the policy's `[sigstore]` section for the artifact kind.

use super::common::{usage, CliError, ResultExt};
use airgate::decide::Verdict;
use airgate::policy::Policy;
use airgate::report::{Report, Timings};
use airgate::trust::model_signing::{self as ms, choose};
use airgate::trust::sigstore::{self as ss, IdentityPolicy, ManagedKey, Signers, SigstoreRoot};
use airgate::ErrorClass;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Trust given for one `verify` run.
#[derive(Clone, Debug, Default)]
pub struct ExtOptions {
    /// The loaded policy, if `--policy` was given.
    pub policy: Option<Policy>,
    /// `--trusted-root`: overrides the policy's `[sigstore].trusted_root`.
    pub trusted_root: Option<PathBuf>,
    /// `--certificate-identity` (exact SAN).
    pub certificate_identity: Option<String>,
    /// `--certificate-oidc-issuer` (exact).
    pub certificate_oidc_issuer: Option<String>,
    /// `--key` (PEM public keys).
    pub keys: Vec<PathBuf>,
    /// `--ca-cert` (PEM CA certificates).
    pub ca_certs: Vec<PathBuf>,
    /// Artifact kind whose `[sigstore]` rules apply (`weights` when unset for models;
    /// only `*` rules when unset for single files).
    pub kind: Option<String>,
}

fn tagged(class: ErrorClass, e: impl Into<anyhow::Error>) -> anyhow::Error {
    CliError {
        class,
        error: e.into(),
    }
    .into()
}

fn finish(mut report: Report, started: Instant, bytes: u64, files: u64) -> Report {
    report.timings = Timings::from(started.elapsed(), bytes, files);
    report
}

fn reject(mut report: Report, format: &str, why: String) -> Report {
    report.verdict = Verdict::Reject;
    report.signatures.push(ss::rejected_report(format, &why));
    report.reasons.push(why);
    report
}

fn new_report(opts: &ExtOptions) -> Report {
    let mut r = Report::new("verify");
    if let Some(p) = &opts.policy {
        r.policy_sha256 = p.digest();
    }
    r
}

/// The trusted root from the flag or the policy, if either names one.
fn trusted_root(opts: &ExtOptions) -> anyhow::Result<Option<SigstoreRoot>> {
    let path = match (&opts.trusted_root, &opts.policy) {
        (Some(p), _) => p.clone(),
        (None, Some(pol)) => match pol.sigstore.as_ref().and_then(|s| s.trusted_root.as_ref()) {
            Some(p) => pol.resolve(p),
            None => return Ok(None),
        },
        (None, None) => return Ok(None),
    };
    SigstoreRoot::load(&path).map(Some).config()
}

/// Sigstore signers from the flags plus the policy's rules for `kind`.
fn signers(opts: &ExtOptions, kind: &str) -> anyhow::Result<Signers> {
    let mut s = match &opts.policy {
        Some(p) => Signers::from_policy(p, kind).config()?,
        None => Signers::default(),
    };
    match (&opts.certificate_identity, &opts.certificate_oidc_issuer) {
        (Some(id), Some(iss)) => s.identities.push(IdentityPolicy::exact(id, iss)),
        (None, None) => {}
        _ => {
            return Err(usage(
                "--certificate-identity and --certificate-oidc-issuer must be given together",
            ))
        }
    }
    Ok(s)
}

/// `airgate verify FILE --sigstore-bundle B`: verify a Sigstore bundle over one file.
pub fn sigstore(artifact: &Path, bundle: &Path, opts: &ExtOptions) -> anyhow::Result<Report> {
    let started = Instant::now();
    let report = new_report(opts);
    let Some(root) = trusted_root(opts)? else {
        return Err(usage(
            "Sigstore verification needs a trusted root: give --trusted-root FILE or set [sigstore].trusted_root in the policy",
        ));
    };
    let mut s = signers(opts, opts.kind.as_deref().unwrap_or(""))?;
    for k in &opts.keys {
        s.keys.push(ManagedKey::load(k).config()?);
    }
    if s.is_empty() {
        return Err(usage(
            "no Sigstore signer is trusted: give --certificate-identity and --certificate-oidc-issuer, --key PUB.pem, or [[sigstore.identities]] in the policy",
        ));
    }
    let size = std::fs::metadata(artifact)
        .map_err(|e| {
            tagged(
                ErrorClass::Operational,
                anyhow::anyhow!("cannot read {}: {e}", artifact.display()),
            )
        })?
        .len();
    let result = ss::read_bundle(bundle)
        .and_then(|b| ss::verify(&root, &b, ss::Artifact::File(artifact), &s));
    let report = match result {
        Ok(v) => {
            let mut r = report;
            r.signatures.push(v.report());
            r
        }
        Err(e) if e.class() == ErrorClass::Rejected => reject(report, "sigstore", e.to_string()),
        Err(e) => return Err(tagged(e.class(), e)),
    };
    Ok(finish(report, started, size, 1))
}

/// Resolve an `--ignore-path` like model_signing: absolute or relative to the current
/// directory, made relative to the model folder (lexically, then through symlinks); a path
/// that does not lie inside it is taken as relative to the model folder.
fn resolve_ignore(model: &Path, p: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let (abs_p, abs_m) = (lexical(&cwd.join(p)), lexical(&cwd.join(model)));
    if let Ok(rel) = abs_p.strip_prefix(&abs_m) {
        if let Some(s) = rel.to_str().filter(|s| !s.is_empty()) {
            return s.to_string();
        }
    }
    if let Some(rel) = ms::relative_inside(model, &abs_p) {
        return rel;
    }
    p.to_string_lossy().trim_start_matches("./").to_string()
}

/// `.` and `..` removed without touching the file system.
fn lexical(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `airgate verify MODEL --model-signature model.sig`: verify an OpenSSF model signature.
pub fn model_signing(
    model_dir: &Path,
    sig: &Path,
    ignore: &[PathBuf],
    opts: &ExtOptions,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let report = new_report(opts);
    let kind = opts.kind.clone().unwrap_or_else(|| "weights".into());
    let identity = match (&opts.certificate_identity, &opts.certificate_oidc_issuer) {
        (Some(id), Some(iss)) => Some((id.clone(), iss.clone())),
        (None, None) => None,
        _ => {
            return Err(usage(
                "--certificate-identity and --certificate-oidc-issuer must be given together",
            ))
        }
    };
    let explicit = choose::Explicit {
        keys: opts.keys.clone(),
        ca_certs: opts.ca_certs.clone(),
        trusted_root: opts.trusted_root.clone(),
        identity,
    };
    let trust = match choose::choose(sig, opts.policy.as_ref(), &kind, &explicit) {
        Ok(t) => t,
        Err(choose::ChooseError::Config(m)) => return Err(usage(m)),
        Err(choose::ChooseError::NoTrust(m)) => {
            return Err(usage(format!(
                "no trust for this model signature ({m}): give --key PUB.pem, --ca-cert CA.pem, \
                 or --trusted-root with --certificate-identity and --certificate-oidc-issuer \
                 (or configure [sigstore] keys/ca_certs/identities for kind {kind:?})"
            )))
        }
    };
    let method = trust.method();
    let mut o = ms::Options::new(method);
    o.ignore = ignore
        .iter()
        .map(|p| resolve_ignore(model_dir, p))
        .collect();
    let report = match ms::verify_model(model_dir, sig, &o) {
        Ok(v) => {
            let mut r = report;
            r.signatures.push(v.report());
            // they block where the policy blocks at medium (without a policy, the default
            // block_at is high: they are listed, the model passes as upstream's verify does)
            let policy = opts.policy.clone().unwrap_or_default();
            let empty = v.unrecorded_empty.len();
            airgate::decide::judge_external(
                &mut r,
                v.unrecorded_findings(&model_dir.display().to_string()),
                &policy,
                |_, _| {
                    format!(
                        "{empty} empty file(s) the signature cannot cover, at or above the \
                         blocking severity"
                    )
                },
            );
            return Ok(finish(r, started, v.bytes, v.files));
        }
        Err(e) if e.class() == ErrorClass::Rejected => {
            reject(report, "model-signing", e.to_string())
        }
        Err(e) => return Err(tagged(e.class(), e)),
    };
    Ok(finish(report, started, 0, 0))
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
    fn ignore_paths_resolve_like_model_signing() {
        let cwd = std::env::current_dir().unwrap();
        let m = Path::new("models/llama");
        assert_eq!(
            resolve_ignore(m, Path::new("models/llama/./ignore-me")),
            "ignore-me"
        );
        assert_eq!(resolve_ignore(m, &cwd.join("models/llama/sub/x")), "sub/x");
        assert_eq!(resolve_ignore(m, Path::new("ignore-me")), "ignore-me");
        assert_eq!(lexical(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    }

    #[test]
    fn sigstore_accepts_and_rejects() {
        let py = shared().join("sigstore-python");
        let mut o = ExtOptions {
            trusted_root: Some(py.join("trusted_root.production.json")),
            certificate_identity: Some("https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2".into()),
            certificate_oidc_issuer: Some("https://token.actions.githubusercontent.com".into()),
            ..Default::default()
        };
        let art = py.join("bundle_v3_github.whl");
        let r = sigstore(&art, &py.join("bundle_v3_github.whl.sigstore"), &o).unwrap();
        assert_eq!(r.verdict, Verdict::Accept);
        assert_eq!(r.command, "verify");
        assert_eq!(r.signatures[0].format, "sigstore");
        o.certificate_identity = Some("someone@else".into());
        let r = sigstore(&art, &py.join("bundle_v3_github.whl.sigstore"), &o).unwrap();
        assert_eq!(r.verdict, Verdict::Reject);
        assert!(r.reasons[0].contains("not allowed"), "{:?}", r.reasons);
        // a missing trusted root is a configuration error (exit 2)
        o.trusted_root = Some(py.join("nope.json"));
        let e = sigstore(&art, &py.join("bundle_v3_github.whl.sigstore"), &o).unwrap_err();
        assert_eq!(super::super::common::class_of(&e), ErrorClass::Config);
        // identity without issuer is a usage error
        o.trusted_root = Some(py.join("trusted_root.production.json"));
        o.certificate_oidc_issuer = None;
        let e = sigstore(&art, &py.join("bundle_v3_github.whl.sigstore"), &o).unwrap_err();
        assert_eq!(super::super::common::class_of(&e), ErrorClass::Config);
    }

    #[test]
    fn model_signing_methods_and_policy() {
        let ms_dir = shared().join("model-signing");
        let key = ms_dir.join("keys/certificate/signing-key-pub.pem");
        let ca = ms_dir.join("keys/certificate/ca-cert.pem");
        let d = ms_dir.join("v1.0.1-elliptic-key");
        let ign = [d.join("ignore-me")];
        let o = ExtOptions {
            keys: vec![key.clone()],
            ..Default::default()
        };
        let r = model_signing(&d, &d.join("model.sig"), &ign, &o).unwrap();
        assert_eq!(r.verdict, Verdict::Accept, "{:?}", r.reasons);
        // without the ignore path, the unsigned file rejects
        let r = model_signing(&d, &d.join("model.sig"), &[], &o).unwrap();
        assert_eq!(r.verdict, Verdict::Reject);
        assert!(r.reasons[0].contains("ignore-me"));
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
        let o = ExtOptions {
            policy: Some(Policy::load(&pol).unwrap()),
            ..Default::default()
        };
        let d = ms_dir.join("v1.1.0-certificate");
        let r = model_signing(&d, &d.join("model.sig"), &[], &o).unwrap();
        assert_eq!(r.verdict, Verdict::Accept, "{:?}", r.reasons);
        // no trust at all: configuration error
        let e = model_signing(&d, &d.join("model.sig"), &[], &ExtOptions::default()).unwrap_err();
        assert_eq!(super::super::common::class_of(&e), ErrorClass::Config);
        // an unreadable key: configuration error
        let o = ExtOptions {
            keys: vec![dir.path().join("missing.pem")],
            ..Default::default()
        };
        let e = model_signing(&d, &d.join("model.sig"), &[], &o).unwrap_err();
        assert_eq!(super::super::common::class_of(&e), ErrorClass::Config);
    }
}
