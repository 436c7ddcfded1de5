//! Sigstore bundles carried in a native bundle's envelope (`sigstoreBundles`): each is a
//! message signature over the statement bytes, verified offline against the policy's
//! `trusted_root.json` and its `[sigstore]` signers for the kind. Where the kind's trust rule
//! says `sigstore = true`, each distinct verified signer (certificate identity, or managed
//! key) counts once towards the threshold, beside the Ed25519 key ids.

use super::sigstore::{
    parse_bundle, rejected_report, verify, Artifact, Signer, Signers, SigstoreError, SigstoreRoot,
};
use super::store::{StoreError, ThresholdResult};
use crate::policy::{Policy, PolicyError};
use crate::report::{SignatureReport, SignatureStatus};

/// The id a verified Sigstore signer counts under (never equal to an Ed25519 key id, which is
/// bare hex).
pub fn signer_id(s: &Signer) -> String {
    match s {
        Signer::Certificate { san, issuer } => format!("sigstore:{san} ({issuer})"),
        Signer::Key { key_id } => format!("sigstore-key:{key_id}"),
    }
}

/// Evaluate the Sigstore bundles `bundles` over `statement` for `kind`, adding a report line
/// for each to `result` and, when `counts` (the kind's rule has `sigstore = true`), each
/// distinct verified signer to `result.counted`. `Err` only for configuration the policy
/// promised but cannot deliver (an unreadable trusted root or key): a config error.
pub fn evaluate(
    policy: &Policy,
    kind: &str,
    counts: bool,
    statement: &[u8],
    bundles: &[serde_json::Value],
    result: &mut ThresholdResult,
) -> Result<(), StoreError> {
    if bundles.is_empty() {
        return Ok(());
    }
    if !counts {
        for _ in bundles {
            result.signatures.push(report(
                SignatureStatus::Unknown,
                format!(
                    "not counted: the policy does not count Sigstore bundles for kind {kind:?} \
                     (trust.{kind}.sigstore)"
                ),
            ));
        }
        return Ok(());
    }
    let config = |e: SigstoreError| StoreError::Policy(PolicyError::Invalid(e.to_string()));
    let root_path = policy
        .sigstore
        .as_ref()
        .and_then(|s| s.trusted_root.as_ref())
        .ok_or_else(|| {
            StoreError::Policy(PolicyError::Invalid(format!(
                "trust.{kind}.sigstore is set but [sigstore] names no trusted_root"
            )))
        })?;
    let root = SigstoreRoot::load(&policy.resolve(root_path)).map_err(config)?;
    let signers = Signers::from_policy(policy, kind).map_err(config)?;
    for value in bundles {
        let checked = serde_json::to_vec(value)
            .map_err(|e| SigstoreError::BundleParse(e.to_string()))
            .and_then(|bytes| parse_bundle(&bytes))
            .and_then(|b| verify(&root, &b, Artifact::Bytes(statement), &signers));
        let v = match checked {
            Ok(v) => v,
            Err(e) => {
                result.signatures.push(rejected_report("sigstore", &e));
                continue;
            }
        };
        let id = signer_id(&v.signer);
        let mut line = v.report();
        if result.counted.contains(&id) {
            line.status = SignatureStatus::Duplicate;
            line.reason = format!("{id} already counted once");
        } else {
            result.counted.push(id);
        }
        result.signatures.push(line);
    }
    Ok(())
}

fn report(status: SignatureStatus, reason: String) -> SignatureReport {
    SignatureReport {
        format: "sigstore".into(),
        key_id: String::new(),
        identity: None,
        status,
        reason,
    }
}
