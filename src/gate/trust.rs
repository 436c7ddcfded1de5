//! The gate's active trust configuration, `state/trust.toml`: created from the policy at
//! `init` (version 1), replaced atomically by each accepted rotation, and the trust every
//! ordinary bundle is verified against. See `docs/trust-rotation.md`.

use super::audit;
use super::fsutil::{self, GateLock};
use super::layout::Gate;
use super::GateError;
use crate::policy::Policy;
use crate::trust::store::TrustStore;
use crate::trust::trust_state::{TrustState, MAX_TRUST_FILE, ROOT_KIND};
use std::path::PathBuf;

/// File name inside `state/`.
pub const TRUST_STATE_FILE: &str = "trust.toml";
/// Audit `event`/`outcome` of an accepted rotation.
pub const ROTATED: &str = "rotated";

/// The trust that ordinary bundles are verified against.
#[derive(Clone, Debug)]
pub enum ActiveTrust {
    /// `state/trust.toml`: rotatable by `trust` bundles.
    State(TrustState),
    /// The policy's own keys: the policy has no `[trust.trust]` root role, so the gate has
    /// no rotatable state and refuses trust bundles.
    Policy,
}

impl ActiveTrust {
    /// The evaluator to verify with (`None`: the policy's keys).
    pub fn store(&self) -> Option<TrustStore> {
        match self {
            ActiveTrust::State(s) => Some(TrustStore::from_state(s)),
            ActiveTrust::Policy => None,
        }
    }

    /// The state's version (`None` for policy trust).
    pub fn version(&self) -> Option<u64> {
        match self {
            ActiveTrust::State(s) => Some(s.version()),
            ActiveTrust::Policy => None,
        }
    }
}

/// `GATE/state/trust.toml`.
pub fn state_path(gate: &Gate) -> PathBuf {
    gate.state_dir().join(TRUST_STATE_FILE)
}

/// Read `state/trust.toml` (`None` when it does not exist).
pub fn load_state(gate: &Gate) -> Result<Option<TrustState>, GateError> {
    let path = state_path(gate);
    let bytes = match crate::util::read_file_bounded(&path, MAX_TRUST_FILE as u64) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if crate::util::is_too_large(&e) => {
            return Err(GateError::Damaged {
                path,
                message: e.to_string(),
            })
        }
        Err(e) => return Err(fsutil::io("read", &path)(e)),
    };
    TrustState::from_bytes(&bytes)
        .map(Some)
        .map_err(|e| GateError::Damaged {
            path,
            message: e.to_string(),
        })
}

/// Replace `state/trust.toml` durably (temp file, fsync, rename, fsync `state/`).
pub fn save_state(gate: &Gate, state: &TrustState) -> Result<(), GateError> {
    let path = state_path(gate);
    let text = state.to_toml().map_err(|e| GateError::Damaged {
        path: path.clone(),
        message: format!("cannot serialise the trust state: {e}"),
    })?;
    let header = "# airgate active trust configuration: written by `airgate init` and by each \
                  accepted trust rotation; do not edit\n";
    fsutil::fault("trust-state")?;
    fsutil::replace_atomic(&path, format!("{header}{text}").as_bytes())
}

/// The initial state (version 1) for `policy`, or `None` when it has no `[trust.trust]`
/// root role (the gate then verifies with the policy's keys and refuses trust bundles).
pub fn initial(policy: &Policy) -> Result<Option<TrustState>, GateError> {
    if !policy.trust.contains_key(ROOT_KIND) {
        return Ok(None);
    }
    TrustState::from_policy(policy, 1)
        .map(Some)
        .map_err(|e| GateError::Config {
            message: format!("cannot build the gate's trust state from the policy: {e}"),
        })
}

/// The active trust. A gate whose policy has a root role but no `state/trust.toml` yet (made
/// before rotation existed) gets version 1 from the policy, unless its audit log records a
/// rotation (then the file was removed: refused as damaged, never silently rolled back).
/// `lock_held`: the caller holds the gate lock (else it is taken to create the file).
pub fn active(gate: &Gate, policy: &Policy, lock_held: bool) -> Result<ActiveTrust, GateError> {
    if let Some(s) = load_state(gate)? {
        return Ok(ActiveTrust::State(s));
    }
    let Some(first) = initial(policy)? else {
        return Ok(ActiveTrust::Policy);
    };
    let _lock = if lock_held {
        None
    } else {
        Some(GateLock::acquire(&gate.lock_path())?)
    };
    if let Some(s) = load_state(gate)? {
        return Ok(ActiveTrust::State(s));
    }
    let rotated = audit::read_records(&gate.audit_log())?
        .into_iter()
        .find(|r| r.event == ROOT_KIND && r.outcome == ROTATED);
    if let Some(r) = rotated {
        return Err(GateError::Damaged {
            path: state_path(gate),
            message: format!(
                "the file is missing, but audit record {} shows a trust rotation: restore it \
                 from a backup (it is never recreated from the policy)",
                r.seq
            ),
        });
    }
    save_state(gate, &first)?;
    Ok(ActiveTrust::State(first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::keys::write_keypair;

    fn gate_with(policy_extra: &str) -> (tempfile::TempDir, Gate, Policy) {
        let d = tempfile::tempdir().unwrap();
        let pol = d.path().join("pol");
        std::fs::create_dir_all(&pol).unwrap();
        write_keypair(&pol, "p").unwrap();
        write_keypair(&pol, "r").unwrap();
        std::fs::write(
            pol.join("policy.toml"),
            format!(
                "[[keys]]\nname = \"p\"\npath = \"p.pub\"\n[[keys]]\nname = \"r\"\npath = \"r.pub\"\n\
                 [trust.weights]\nkeys = [\"p\"]\nthreshold = 1\n{policy_extra}"
            ),
        )
        .unwrap();
        let g = super::super::layout::init(&d.path().join("g"), &pol.join("policy.toml")).unwrap();
        let p = g.load_policy().unwrap();
        (d, g, p)
    }

    #[test]
    fn init_writes_version_1_with_root_role() {
        let (_d, g, p) = gate_with("[trust.trust]\nkeys = [\"r\"]\nthreshold = 1\n");
        let s = load_state(&g).unwrap().unwrap();
        assert_eq!(s.version(), 1);
        assert_eq!(s.root().threshold, 1);
        assert!(matches!(
            active(&g, &p, false).unwrap(),
            ActiveTrust::State(_)
        ));
    }

    #[test]
    fn no_root_role_means_policy_trust() {
        let (_d, g, p) = gate_with("");
        assert!(load_state(&g).unwrap().is_none());
        assert!(matches!(
            active(&g, &p, false).unwrap(),
            ActiveTrust::Policy
        ));
    }

    #[test]
    fn missing_file_recreated_only_without_a_recorded_rotation() {
        let (_d, g, p) = gate_with("[trust.trust]\nkeys = [\"r\"]\nthreshold = 1\n");
        std::fs::remove_file(state_path(&g)).unwrap();
        assert_eq!(active(&g, &p, false).unwrap().version(), Some(1));
        assert!(state_path(&g).is_file());
        std::fs::remove_file(state_path(&g)).unwrap();
        audit::append(
            &g.audit_log(),
            audit::Record::new(ROOT_KIND, ROTATED, &p.digest()),
        )
        .unwrap();
        assert!(matches!(
            active(&g, &p, false),
            Err(GateError::Damaged { .. })
        ));
    }

    #[test]
    fn damaged_state_is_refused() {
        let (_d, g, p) = gate_with("[trust.trust]\nkeys = [\"r\"]\nthreshold = 1\n");
        std::fs::write(state_path(&g), "version = \"x\"\n").unwrap();
        assert!(matches!(
            active(&g, &p, false),
            Err(GateError::Damaged { .. })
        ));
    }
}
