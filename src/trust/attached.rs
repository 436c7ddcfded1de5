//! Sigstore bundles carried in a native bundle's envelope (`sigstoreBundles`): each must be a
//! message signature over the statement bytes, verified offline against the policy's
//! `trusted_root.json` and its `[sigstore]` signers for the kind. Where the kind's trust rule
//! says `sigstore = true`, each distinct signer counts once towards the threshold, beside
//! the Ed25519 key ids:
//! - a managed key counts under its key id, the same id an Ed25519 key of the policy has,
//!   so one key never counts twice (once per signature format), and a revoked or expired
//!   key never counts;
//! - a certificate identity counts once per `[sigstore]` identity rule it matches, so a
//!   pattern rule cannot be met several times by one principal signing under several names.

use super::sigstore::{
    covers, parse_bundle, rejected_report, verify, Artifact, Signer, Signers, SigstoreError,
    SigstoreRoot,
};
use super::store::{StoreError, ThresholdResult, TrustStore};
use crate::policy::{Policy, PolicyError};
use crate::vocab::{SignatureReport, SignatureStatus};

/// Evaluate the Sigstore bundles `bundles` over `statement` for `kind` at time `now`, adding
/// a report line for each to `result` and, when `counts` (the kind's rule has
/// `sigstore = true`), each distinct verified signer to `result.counted`. `store` gives
/// revocations and key expiries. `Err` only for configuration the policy promised but
/// cannot deliver (an unreadable trusted root or key): a config error.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    policy: &Policy,
    store: &TrustStore,
    kind: &str,
    counts: bool,
    statement: &[u8],
    bundles: &[serde_json::Value],
    now: i64,
    result: &mut ThresholdResult,
) -> Result<(), StoreError> {
    if bundles.is_empty() {
        return Ok(());
    }
    if !counts {
        for _ in bundles {
            result.signatures.push(report(
                SignatureStatus::Unknown,
                String::new(),
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
            .and_then(|b| {
                // an attestation whose subject is the statement is not an approval of it
                covers(&b, statement).map_err(|why| {
                    SigstoreError::Verify(format!("not counted: the Sigstore bundle {why}"))
                })?;
                verify(&root, &b, Artifact::Bytes(statement), &signers)
            });
        let v = match checked {
            Ok(v) => v,
            Err(e) => {
                result.signatures.push(rejected_report("sigstore", &e));
                continue;
            }
        };
        let mut line = v.report();
        let id = match &v.signer {
            Signer::Key { key_id } => {
                if store.is_revoked(key_id) {
                    line.status = SignatureStatus::Revoked;
                    line.reason = format!("managed key {key_id} is revoked");
                    result.signatures.push(line);
                    continue;
                }
                if let Some(t) = store.key(key_id).and_then(|k| k.expires) {
                    if now > t {
                        line.status = SignatureStatus::Expired;
                        line.reason = format!(
                            "managed key {key_id} expired at {}",
                            crate::util::format_time(t)
                        );
                        result.signatures.push(line);
                        continue;
                    }
                }
                key_id.to_ascii_lowercase()
            }
            Signer::Certificate { san, issuer } => {
                match signers.identities.iter().find(|p| p.matches(san, issuer)) {
                    Some(p) => format!("sigstore:{} from {}", p.san, p.issuer),
                    // verify only returns identities a rule allows; never count one that is not
                    None => {
                        line.status = SignatureStatus::Unknown;
                        line.reason = format!("identity {san} ({issuer}) matches no rule");
                        result.signatures.push(line);
                        continue;
                    }
                }
            }
        };
        if result.counted.contains(&id) {
            line.status = SignatureStatus::Duplicate;
            line.reason = format!("signer {id} already counted once");
        } else {
            result.counted.push(id);
        }
        result.signatures.push(line);
    }
    Ok(())
}

fn report(status: SignatureStatus, key_id: String, reason: String) -> SignatureReport {
    SignatureReport {
        format: "sigstore".into(),
        key_id,
        identity: None,
        status,
        reason,
    }
}
