//! A trust-root rotation as [`verify`](super::verify) reads it
//! ([`Input::Rotation`](super::Input::Rotation)): the `trust` bundle is authenticated by
//! [`apply_rotation`] against the gate's active trust (the current and the new root role's
//! thresholds, version exactly current + 1); its `trust.toml` is then written to the
//! extraction folder as the payload to stage. A refused rotation is a finding, as a refused
//! signature is for any other input.

use super::{Evidence, Outcome, VerifiedBundle, VerifyError, VerifyOptions};
use crate::bundle::Statement;
use crate::trust::rotation::{apply_rotation, RotationError, TrustBundle, TRUST_FILE};
use crate::trust::trust_state::{TrustState, ROOT_KIND};
use crate::vocab::{BundleInfo, Category, Finding, Report, Severity, Timings, Verdict};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Instant;

/// Authenticate the rotation `tb` (whose file hashes to `sha256`, named `shown_as`) against
/// `current` and write its `trust.toml` under `opts.extract_to` (an existing, empty folder).
/// A refused rotation comes back as a report with its finding and nothing written; `Err`:
/// nothing could be decided.
pub(super) fn verify_rotation(
    tb: &TrustBundle,
    current: &TrustState,
    sha256: &str,
    shown_as: &str,
    opts: &VerifyOptions<'_>,
) -> Result<Outcome, VerifyError> {
    let started = Instant::now();
    let Some(extract_to) = opts.extract_to else {
        return Err(VerifyError::Extract {
            path: shown_as.into(),
            source: std::io::Error::other(
                "a trust rotation is staged from its extracted trust.toml, and no folder was \
                 given to write it to",
            ),
        });
    };
    let mut report = Report::new("verify");
    report.policy_sha256 = opts.policy.digest();
    // what the bundle claims, for the report (authenticated only by apply_rotation below)
    let claimed = Statement::from_envelope(&tb.envelope);
    report.bundle = Some(BundleInfo {
        kind: ROOT_KIND.into(),
        sha256: sha256.to_string(),
        path: shown_as.to_string(),
        name: claimed
            .as_ref()
            .ok()
            .map(|s| s.predicate.name.clone())
            .unwrap_or_default(),
        version: claimed
            .as_ref()
            .ok()
            .map(|s| s.predicate.version.clone())
            .unwrap_or_default(),
    });
    report.verdict = Verdict::Reject;
    let rotated = match apply_rotation(current, &tb.envelope, &tb.trust_toml, opts.now) {
        Ok(r) => r,
        Err(e) => {
            report.signatures = current
                .evaluate_role(current.root(), "root", &tb.envelope, opts.now)
                .signatures;
            report.findings.push(refusal(&e, shown_as, sha256));
            return Ok(Outcome {
                report,
                verified: None,
            });
        }
    };
    // the same payload apply_rotation has just authenticated and checked
    let statement = claimed.map_err(VerifyError::RotationStatement)?;
    let version = statement.check().map_err(VerifyError::RotationStatement)?;
    let mut signers = rotated.current_root.counted.clone();
    for id in &rotated.new_root.counted {
        if !signers.contains(id) {
            signers.push(id.clone());
        }
    }
    let path = extract_to.join(TRUST_FILE);
    let extract = |source| VerifyError::Extract {
        path: path.clone(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(&path)
        .map_err(extract)?;
    f.write_all(&tb.trust_toml).map_err(extract)?;
    f.sync_all().map_err(extract)?;
    report.signatures = rotated.current_root.signatures.clone();
    report
        .signatures
        .extend(rotated.new_root.signatures.iter().cloned());
    report.timings = Timings::from(started.elapsed(), tb.trust_toml.len() as u64, 1);
    let verified = VerifiedBundle {
        statement,
        version,
        signers,
        sha256: sha256.to_string(),
        extracted: Some(extract_to.to_path_buf()),
        evidence: Evidence::TrustRotation {
            from_version: current.version(),
            rotated: Box::new(rotated),
        },
    };
    Ok(Outcome {
        report,
        verified: Some(verified),
    })
}

/// The finding of a refused rotation: a version not newer than the active one is a
/// rollback, anything else a refused rotation.
fn refusal(e: &RotationError, shown_as: &str, sha256: &str) -> Finding {
    let rollback = matches!(e, RotationError::NotNextVersion { current, got, .. }
        if got.parse::<u64>().is_ok_and(|v| v <= *current));
    let rule = if rollback {
        "gate.rollback"
    } else {
        "trust.rotation"
    };
    Finding::new(
        shown_as,
        rule,
        Category::Trust,
        Severity::High,
        e.to_string(),
        sha256.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_not_newer_is_a_rollback_and_others_are_refusals() {
        let old = RotationError::NotNextVersion {
            current: 3,
            got: "2".into(),
            expected: 4,
        };
        assert_eq!(refusal(&old, "t.tar.zst", "aa").rule, "gate.rollback");
        let skip = RotationError::NotNextVersion {
            current: 3,
            got: "9".into(),
            expected: 4,
        };
        assert_eq!(refusal(&skip, "t.tar.zst", "aa").rule, "trust.rotation");
        let f = refusal(&RotationError::Unrevoke("k".into()), "t.tar.zst", "aa");
        assert_eq!(
            (f.rule.as_str(), f.category, f.severity),
            ("trust.rotation", Category::Trust, Severity::High)
        );
        assert_eq!(f.path, "t.tar.zst");
    }
}
