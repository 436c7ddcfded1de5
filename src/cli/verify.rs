//! `airgate verify`: the full check with no side effects. Native bundles by default; a file
//! with a detached signature, a Sigstore bundle or an OpenSSF model signature by flag.

use super::common::{print_report, usage, Format, ResultExt};
use airgate::decide::Verdict;
use airgate::policy::Policy;
use airgate::trust::keys::PublicKey;
use airgate::trust::store::TrustStore;
use airgate::verify::{verify_bundle, VerifyOptions};
use std::path::PathBuf;

/// Arguments of `airgate verify`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle (or file, or model folder) to verify.
    pub path: PathBuf,
    /// Gate policy (trust, limits, inspection, verdict mapping).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Trusted public key (repeatable): stands in for the policy's trust section.
    #[arg(long = "key")]
    pub keys: Vec<PathBuf>,
    /// With --key: how many distinct keys must sign.
    #[arg(long)]
    pub threshold: Option<usize>,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Detached minisign or signify signature over PATH (format told from content).
    #[arg(long)]
    pub signature: Option<PathBuf>,
    /// Sigstore bundle over PATH.
    #[arg(long)]
    pub sigstore_bundle: Option<PathBuf>,
    /// OpenSSF model-signing signature (model.sig) over the model folder PATH.
    #[arg(long)]
    pub model_signature: Option<PathBuf>,
    /// Sigstore trusted_root.json.
    #[arg(long)]
    pub trusted_root: Option<PathBuf>,
    /// Expected certificate identity (SAN).
    #[arg(long)]
    pub certificate_identity: Option<String>,
    /// Expected OIDC issuer.
    #[arg(long)]
    pub certificate_oidc_issuer: Option<String>,
    /// CA certificate (PEM) for certificate-chain model signatures (repeatable).
    #[arg(long = "ca-cert")]
    pub ca_certs: Vec<PathBuf>,
    /// Path inside the model folder to ignore (repeatable), as model_signing's --ignore-paths.
    #[arg(long = "ignore-path")]
    pub ignore_paths: Vec<PathBuf>,
}

/// Run `airgate verify`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let external = [
        a.signature.is_some(),
        a.sigstore_bundle.is_some(),
        a.model_signature.is_some(),
    ];
    if external.iter().filter(|&&x| x).count() > 1 {
        return Err(usage(
            "give at most one of --signature, --sigstore-bundle and --model-signature",
        ));
    }
    if let Some(mut r) = verify_external(&a)? {
        inspect_external(&a, &mut r)?;
        print_report(&r, a.format)?;
        return Ok(match r.verdict {
            Verdict::Accept => 0,
            Verdict::Reject => 1,
        });
    }
    let policy = load_policy(a.policy.as_ref())?;
    let store = ad_hoc_store(&a.keys, a.threshold, &policy)?;
    let engine = super::common::engine_for(&policy).config()?;
    let bar = super::common::progress_bar(std::fs::metadata(&a.path).map(|m| m.len()).unwrap_or(0));
    let progress = |n: u64| bar.set_position(n);
    let mut opts = VerifyOptions::new(&policy, &engine);
    opts.trust = store.as_ref();
    opts.progress = Some(&progress);
    let outcome = verify_bundle(&a.path, &opts).map_err(|e| {
        let class = e.class();
        anyhow::Error::from(super::common::CliError {
            class,
            error: e.into(),
        })
    })?;
    bar.finish_and_clear();
    print_report(&outcome.report, a.format)?;
    Ok(match outcome.report.verdict {
        Verdict::Accept => 0,
        Verdict::Reject => 1,
    })
}

/// Detached (minisign/signify), Sigstore or OpenSSF model signatures, when asked for.
fn verify_external(a: &Args) -> anyhow::Result<Option<airgate::report::Report>> {
    if let Some(sig) = &a.signature {
        return super::verify_sig::detached(&a.path, sig, &a.keys).map(Some);
    }
    if a.sigstore_bundle.is_none() && a.model_signature.is_none() {
        return Ok(None);
    }
    let opts = super::verify_ext::ExtOptions {
        policy: match &a.policy {
            Some(p) => Some(Policy::load(p).config()?),
            None => None,
        },
        trusted_root: a.trusted_root.clone(),
        certificate_identity: a.certificate_identity.clone(),
        certificate_oidc_issuer: a.certificate_oidc_issuer.clone(),
        keys: a.keys.clone(),
        ca_certs: a.ca_certs.clone(),
        kind: None,
    };
    match (&a.sigstore_bundle, &a.model_signature) {
        (Some(b), _) => super::verify_ext::sigstore(&a.path, b, &opts).map(Some),
        (None, Some(m)) => {
            super::verify_ext::model_signing(&a.path, m, &a.ignore_paths, &opts).map(Some)
        }
        (None, None) => Ok(None),
    }
}

/// Files verified by a detached, Sigstore or model signature go through the same inspection
/// as native bundles: findings are added, waivers applied, and a blocking finding rejects.
/// The signature files themselves (e.g. a `model.sig` inside the model folder) are skipped.
fn inspect_external(a: &Args, r: &mut airgate::report::Report) -> anyhow::Result<()> {
    use airgate::inspect::scan::{scan_path, ScanOptions};
    let policy = load_policy(a.policy.as_ref())?;
    let (engine, text) = airgate::inspect::build_engine_parts(&policy).config()?;
    let engine = engine.counting();
    let opts = ScanOptions {
        bundle_limits: policy.limits.clone(),
        ..ScanOptions::default()
    };
    let out = scan_path(&engine, &text, &a.path, &opts).operational()?;
    let sig_names: Vec<String> = [&a.signature, &a.sigstore_bundle, &a.model_signature]
        .into_iter()
        .flatten()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let findings: Vec<_> = out
        .findings
        .into_iter()
        .filter(|f| !policy.inspect.disabled_rules.contains(&f.rule))
        .filter(|f| {
            !sig_names
                .iter()
                .any(|n| f.path == *n || f.path.starts_with(&format!("{n}!")))
        })
        .collect();
    let (kept, waived) = airgate::decide::apply_waivers(findings, &policy);
    let covered = engine.coverage().report();
    match r.coverage.as_mut() {
        Some(c) => c.merge(&covered),
        None => r.coverage = Some(covered),
    }
    let signature_ok = r.verdict == Verdict::Accept;
    r.findings.extend(kept);
    r.waived.extend(waived);
    r.sort();
    if signature_ok && airgate::decide::verdict(&r.findings, &policy) == Verdict::Reject {
        r.verdict = Verdict::Reject;
        let blocking = r
            .findings
            .iter()
            .filter(|f| f.severity >= policy.decide.block_at)
            .count();
        r.reasons.push(format!(
            "the signature is valid, but inspection found {blocking} finding(s) at or above {} severity",
            policy.decide.block_at
        ));
    }
    Ok(())
}

/// The policy from `--policy`, or an empty one (trusts nothing) when only `--key` is given.
pub fn load_policy(path: Option<&PathBuf>) -> anyhow::Result<Policy> {
    match path {
        Some(p) => Policy::load(p).config(),
        None => Ok(Policy::default()),
    }
}

/// Ad-hoc trust from `--key`/`--threshold`, or `None` to use the policy's.
pub fn ad_hoc_store(
    keys: &[PathBuf],
    threshold: Option<usize>,
    policy: &Policy,
) -> anyhow::Result<Option<TrustStore>> {
    if keys.is_empty() {
        if threshold.is_some() {
            return Err(usage("--threshold needs --key"));
        }
        if policy.trust.is_empty() {
            return Err(usage(
                "no trust configured: give --policy FILE (with [trust.<kind>] sections) or --key PUB",
            ));
        }
        return Ok(None);
    }
    let loaded: Vec<PublicKey> = keys
        .iter()
        .map(|k| PublicKey::load(k))
        .collect::<Result<_, _>>()
        .config()?;
    let t = threshold.unwrap_or(1);
    let distinct: std::collections::BTreeSet<&str> = loaded.iter().map(|k| k.id()).collect();
    if t == 0 || t > distinct.len() {
        return Err(usage(format!(
            "--threshold {t} must be between 1 and the number of distinct keys ({})",
            distinct.len()
        )));
    }
    Ok(Some(TrustStore::ad_hoc(loaded, t, &policy.revoked)))
}
