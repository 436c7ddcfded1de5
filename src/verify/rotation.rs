//! The [`VerifiedBundle`] of a trust-root rotation: the `trust` bundle is authenticated by
//! [`apply_rotation`] against the gate's active trust (the current and the new root role's
//! thresholds, version exactly current + 1); its `trust.toml` is then written to the
//! extraction folder as the payload to stage.

use super::{Evidence, VerifiedBundle, VerifyError};
use crate::bundle::Statement;
use crate::trust::rotation::{apply_rotation, Rotated, RotationError, TrustBundle, TRUST_FILE};
use crate::trust::trust_state::TrustState;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Authenticate the rotation `tb` (whose file hashes to `sha256`) against `current` and
/// write its `trust.toml` under `extract_to` (an existing, empty folder). `Ok(Err(_))`: the
/// rotation is refused, nothing written; `Err`: nothing could be decided.
pub(crate) fn verify_rotation(
    tb: &TrustBundle,
    current: &TrustState,
    sha256: &str,
    extract_to: &Path,
    now: i64,
) -> Result<Result<(VerifiedBundle, Rotated), RotationError>, VerifyError> {
    let rotated = match apply_rotation(current, &tb.envelope, &tb.trust_toml, now) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let payload = tb
        .envelope
        .payload_bytes()
        .map_err(|e| VerifyError::RotationStatement(e.to_string()))?;
    let statement: Statement = serde_json::from_slice(&payload)
        .map_err(|e| VerifyError::RotationStatement(e.to_string()))?;
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
    let vb = VerifiedBundle {
        statement,
        version,
        signers,
        sha256: sha256.to_string(),
        extracted: Some(extract_to.to_path_buf()),
        evidence: Evidence::TrustRotation {
            from_version: current.version(),
            to_version: rotated.state.version(),
        },
    };
    Ok(Ok((vb, rotated)))
}
