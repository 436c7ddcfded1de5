//! `airgate verify`: the full check with no side effects. Native bundles by default; a file
//! with a detached signature, a Sigstore bundle or an OpenSSF model signature by flag.

use super::common::Classed;
use super::common::{print_report, usage, Format, Input, ResultExt};
use airgate::decide::Verdict;
use airgate::policy::Policy;
use airgate::report::Report;
use airgate::trust::{PublicKey, TrustStore};
use airgate::verify::{verify, Input as VerifyInput, VerifyOptions};
use std::path::{Path, PathBuf};

/// Arguments of `airgate verify`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle (or file, or model folder) to verify; `-` reads a bundle or file from
    /// standard input.
    pub path: PathBuf,
    /// Gate policy: trust (keys and k-of-n per kind), limits, inspection, verdict mapping.
    /// Trust then comes only from the policy (plus any --add-key).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Trusted public key, without a policy (repeatable): the whole trust for this run.
    /// Ed25519 SPKI PEM for bundles, minisign/signify for --signature, PEM (ECDSA) for
    /// --sigstore-bundle and --model-signature.
    #[arg(long = "key", value_name = "PUB")]
    pub keys: Vec<PathBuf>,
    /// With --policy: trust this key as well, counted under the policy's own thresholds
    /// (repeatable; the thresholds do not change).
    #[arg(long = "add-key", value_name = "PUB")]
    pub add_keys: Vec<PathBuf>,
    /// With --key, for bundles: how many distinct keys must sign (default 1).
    #[arg(long)]
    pub threshold: Option<usize>,
    /// Report format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Extra rule file (gitleaks format `[[rules]]`, or airgate's `[[rule]]`), run beside
    /// the built-in rules; repeatable. Adds to the policy's `[inspect] rule_files`.
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Detached minisign or signify signature over PATH (format told from content).
    #[arg(long)]
    pub signature: Option<PathBuf>,
    /// Sigstore bundle over PATH.
    #[arg(long)]
    pub sigstore_bundle: Option<PathBuf>,
    /// OpenSSF model-signing signature (model.sig) over the model folder PATH.
    #[arg(long)]
    pub model_signature: Option<PathBuf>,
    /// Without --policy, for --sigstore-bundle and --model-signature: Sigstore trusted_root.json.
    #[arg(long)]
    pub trusted_root: Option<PathBuf>,
    /// Without --policy, for --sigstore-bundle and --model-signature: expected certificate
    /// identity (SAN).
    #[arg(long)]
    pub certificate_identity: Option<String>,
    /// Without --policy, for --sigstore-bundle and --model-signature: expected OIDC issuer.
    #[arg(long)]
    pub certificate_oidc_issuer: Option<String>,
    /// Without --policy, for --model-signature: CA certificate (PEM) for certificate-chain
    /// model signatures (repeatable).
    #[arg(long = "ca-cert")]
    pub ca_certs: Vec<PathBuf>,
    /// For --model-signature: path inside the model folder to ignore (repeatable), as
    /// model_signing's --ignore-paths.
    #[arg(long = "ignore-path")]
    pub ignore_paths: Vec<PathBuf>,
}

/// What `verify` checks, told by the signature flag given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// A native airgate bundle (no signature flag).
    Bundle,
    /// A file with a detached minisign or signify signature (`--signature`).
    Detached,
    /// A file with a Sigstore bundle (`--sigstore-bundle`).
    Sigstore,
    /// A model folder with an OpenSSF model signature (`--model-signature`).
    Model,
}

impl InputKind {
    fn describe(self) -> &'static str {
        match self {
            InputKind::Bundle => "a native bundle",
            InputKind::Detached => "a detached minisign/signify signature (--signature)",
            InputKind::Sigstore => "a Sigstore bundle (--sigstore-bundle)",
            InputKind::Model => "an OpenSSF model signature (--model-signature)",
        }
    }
}

/// Check that every flag given applies to the input and that no flag weakens the policy;
/// returns the input kind. Each refusal says why (exit 2).
pub fn check_flags(a: &Args) -> anyhow::Result<InputKind> {
    let kind = match (&a.signature, &a.sigstore_bundle, &a.model_signature) {
        (None, None, None) => InputKind::Bundle,
        (Some(_), None, None) => InputKind::Detached,
        (None, Some(_), None) => InputKind::Sigstore,
        (None, None, Some(_)) => InputKind::Model,
        _ => {
            return Err(usage(
                "give at most one of --signature, --sigstore-bundle and --model-signature",
            ))
        }
    };
    let policy = a.policy.is_some();
    let not_for = |flag: &str, why: &str| {
        Err(usage(format!(
            "{flag} does not apply to {}: {why}",
            kind.describe()
        )))
    };
    if policy && !a.keys.is_empty() {
        return Err(usage(
            "--key replaces the trust that --policy configures (its keys and k-of-n \
             thresholds), so the two cannot be combined; use --add-key PUB to trust a key as \
             well, counted under the policy's thresholds",
        ));
    }
    if !policy && !a.add_keys.is_empty() {
        return Err(usage(
            "--add-key adds a key to a policy's trust: give --policy FILE, or use --key for \
             trust from the command line alone",
        ));
    }
    if let Some(t) = a.threshold {
        if kind != InputKind::Bundle {
            return not_for(
                "--threshold",
                "it is one signature, so a threshold cannot be counted",
            );
        }
        if policy {
            return Err(usage(format!(
                "--threshold {t} would replace the thresholds that --policy sets per kind; \
                 change the policy instead"
            )));
        }
        if a.keys.is_empty() {
            return Err(usage("--threshold counts --key signers: give --key"));
        }
    }
    let sigstore_flags = [
        ("--trusted-root", a.trusted_root.is_some()),
        ("--certificate-identity", a.certificate_identity.is_some()),
        (
            "--certificate-oidc-issuer",
            a.certificate_oidc_issuer.is_some(),
        ),
        ("--ca-cert", !a.ca_certs.is_empty()),
    ];
    for (flag, given) in sigstore_flags {
        if !given {
            continue;
        }
        let applies = match flag {
            "--ca-cert" => kind == InputKind::Model,
            _ => matches!(kind, InputKind::Sigstore | InputKind::Model),
        };
        if !applies {
            return not_for(
                flag,
                if flag == "--ca-cert" {
                    "CA certificates only check certificate-chain model signatures"
                } else {
                    "only Sigstore bundles and OpenSSF model signatures carry certificates"
                },
            );
        }
        if policy {
            return Err(usage(format!(
                "{flag} would replace the Sigstore trust that --policy configures in its \
                 [sigstore] section; change the policy instead, or drop --policy"
            )));
        }
    }
    if !a.ignore_paths.is_empty() && kind != InputKind::Model {
        return not_for(
            "--ignore-path",
            "paths are ignored only inside a model folder signed with OpenSSF model signing",
        );
    }
    if kind == InputKind::Model && a.path.as_os_str() == "-" {
        return Err(usage(
            "a model signature covers a folder, which cannot come from standard input",
        ));
    }
    if kind == InputKind::Detached && a.keys.is_empty() && a.add_keys.is_empty() {
        return Err(usage(if policy {
            "--signature needs the signer's minisign or signify public key: the policy holds \
             no such key, so give it with --add-key PUB"
        } else {
            "--signature needs at least one --key (a minisign or signify public key file)"
        }));
    }
    Ok(kind)
}

/// Run `airgate verify`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let kind = check_flags(&a)?;
    let mut policy = match &a.policy {
        Some(p) => super::policy::load_checked(p)?,
        None => Policy::default(),
    };
    super::common::add_rule_files(&mut policy, &a.rules)?;
    if a.policy.is_some() && policy.trust.is_empty() && kind == InputKind::Bundle {
        return Err(usage(
            "no trust configured: the policy has no [trust.<kind>] section (see \
             docs/policy.md), so it would refuse every bundle",
        ));
    }
    let input = Input::open(&a.path)?;
    let mut report = match kind {
        InputKind::Bundle => verify_native(&a, input.path(), &policy)?,
        _ => {
            let mut r = verify_external(&a, kind, input.path(), &policy)?;
            inspect_external(&a, input.path(), &policy, &mut r)?;
            r
        }
    };
    input.rename_in(&mut report);
    report.base_uri = input.base_uri(kind == InputKind::Bundle);
    print_report(&report, a.format)?;
    Ok(match report.verdict {
        Verdict::Accept => 0,
        Verdict::Reject => 1,
    })
}

/// A native bundle: trust from the policy (plus `--add-key`) or from `--key` alone.
fn verify_native(a: &Args, path: &Path, policy: &Policy) -> anyhow::Result<Report> {
    let store = if a.policy.is_some() {
        let mut store = TrustStore::from_policy(policy).classed()?;
        store.add_keys(load_keys(&a.add_keys)?);
        store
    } else {
        ad_hoc_store(&a.keys, a.threshold, policy)?
    };
    let engine = super::common::engine_for(policy).classed()?;
    let bar = super::common::progress_bar(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0));
    let progress = |n: u64| bar.set_position(n);
    let mut opts = VerifyOptions::new(policy, &engine);
    opts.trust = Some(&store);
    opts.progress = Some(&progress);
    let outcome = verify(VerifyInput::Bundle(path), &opts).map_err(|e| {
        let class = e.class();
        anyhow::Error::from(super::common::CliError {
            class,
            error: e.into(),
        })
    })?;
    bar.finish_and_clear();
    Ok(match airgate::decide::decide(outcome, policy) {
        airgate::decide::Decision::Accept(accepted) => accepted.into_parts().1,
        airgate::decide::Decision::Reject(report) => report,
    })
}

/// Detached (minisign/signify), Sigstore or OpenSSF model signatures.
fn verify_external(
    a: &Args,
    kind: InputKind,
    path: &Path,
    policy: &Policy,
) -> anyhow::Result<Report> {
    // with a policy, keys come from --add-key (added to the policy's); without, from --key
    let keys = if a.policy.is_some() {
        a.add_keys.clone()
    } else {
        a.keys.clone()
    };
    let opts = airgate::verify::ExternalTrust {
        policy: a.policy.as_ref().map(|_| policy.clone()),
        trusted_root: a.trusted_root.clone(),
        certificate_identity: a.certificate_identity.clone(),
        certificate_oidc_issuer: a.certificate_oidc_issuer.clone(),
        keys,
        ca_certs: a.ca_certs.clone(),
        kind: None,
    };
    match (kind, &a.signature, &a.sigstore_bundle, &a.model_signature) {
        (InputKind::Detached, Some(sig), _, _) => {
            airgate::trust::verify_detached(path, sig, &opts.keys).map_err(|e| {
                let class = e.class();
                anyhow::Error::from(super::common::CliError {
                    class,
                    error: e.into(),
                })
            })
        }
        (InputKind::Sigstore, _, Some(b), _) => super::verify_ext::sigstore(path, b, &opts),
        (InputKind::Model, _, _, Some(m)) => {
            super::verify_ext::model_signing(path, m, &a.ignore_paths, &opts)
        }
        _ => Err(usage("no signature flag given")),
    }
}

/// Files verified by a detached, Sigstore or model signature go through the same inspection
/// as native bundles: findings are added, waivers applied, and a blocking finding rejects.
/// The signature files themselves (e.g. a `model.sig` inside the model folder) are skipped.
fn inspect_external(
    a: &Args,
    path: &Path,
    policy: &Policy,
    r: &mut airgate::report::Report,
) -> anyhow::Result<()> {
    let sig_names: Vec<String> = [&a.signature, &a.sigstore_bundle, &a.model_signature]
        .into_iter()
        .flatten()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let (findings, covered) =
        airgate::verify::inspect_covered(path, policy, &sig_names).map_err(|e| {
            anyhow::Error::from(super::common::CliError {
                class: e.class(),
                error: e.into(),
            })
        })?;
    match r.coverage.as_mut() {
        Some(c) => c.merge(&covered),
        None => r.coverage = Some(covered),
    }
    airgate::decide::judge_external(r, findings, policy, |n, at| {
        format!(
            "the signature is valid, but inspection found {n} finding(s) at or above {at} severity"
        )
    });
    Ok(())
}

/// Load Ed25519 public keys named on the command line (configuration errors, exit 2).
fn load_keys(paths: &[PathBuf]) -> anyhow::Result<Vec<PublicKey>> {
    paths
        .iter()
        .map(|k| PublicKey::load(k))
        .collect::<Result<_, _>>()
        .config()
}

/// Ad-hoc trust from `--key`/`--threshold`, with no policy.
pub fn ad_hoc_store(
    keys: &[PathBuf],
    threshold: Option<usize>,
    policy: &Policy,
) -> anyhow::Result<TrustStore> {
    if keys.is_empty() {
        return Err(usage(
            "no trust configured: give --policy FILE (with [trust.<kind>] sections) or --key PUB",
        ));
    }
    let loaded = load_keys(keys)?;
    let t = threshold.unwrap_or(1);
    let distinct: std::collections::BTreeSet<&str> = loaded.iter().map(|k| k.id()).collect();
    if t == 0 || t > distinct.len() {
        return Err(usage(format!(
            "--threshold {t} must be between 1 and the number of distinct keys ({})",
            distinct.len()
        )));
    }
    Ok(TrustStore::ad_hoc(loaded, t, &policy.revoked))
}
