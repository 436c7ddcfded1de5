//! Trust-root rotation: the pure transition from the current [`TrustState`] to the one a
//! `trust` bundle carries, by TUF's rules (signed by thresholds of both the current and
//! the new root role, version exactly current + 1, revocations never undone). Persisting
//! the result atomically and logging it is the gate's job. See `docs/trust-rotation.md`.

use super::dsse::Envelope;
use super::store::ThresholdResult;
use super::trust_state::{StateError, TrustState, MAX_TRUST_FILE, ROOT_KIND};
use crate::bundle::open::{open, OpenError};
use crate::bundle::statement::{Statement, PAYLOAD_TYPE};
use crate::bundle::Version;
use crate::container::tar::{EntryKind, TarError};
use crate::policy::Limits;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The one payload file of a `trust` bundle.
pub const TRUST_FILE: &str = "trust.toml";

/// Why a rotation was refused. `Io` means nothing was decided (operational); every other
/// variant rejects the bundle and leaves the current state in force.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// The current root role's threshold of signatures is not met; the signature summary.
    #[error("trust bundle is not signed by the current root role: {0}")]
    CurrentRoot(String),
    /// The new root role's threshold is not met by the same envelope; the signature summary.
    #[error("trust bundle is not signed by the new root role it installs: {0}")]
    NewRoot(String),
    /// The statement does not parse or is not of a trust bundle.
    #[error("trust bundle statement: {0}")]
    Statement(String),
    /// The bundle is of another kind; the kind found.
    #[error("bundle kind is {0:?}; only a bundle of kind \"trust\" can rotate trust")]
    NotTrustKind(String),
    /// The new trust's version is not the current one plus one (a replay or a skip).
    #[error(
        "trust version must be exactly {expected} (current {current} + 1), the bundle says {got}"
    )]
    NotNextVersion {
        /// The active trust's version.
        current: u64,
        /// The only version accepted.
        expected: u64,
        /// The version the bundle states.
        got: String,
    },
    /// The payload is not exactly one file, `trust.toml`; what it holds instead.
    #[error("trust bundle must carry exactly one file, {TRUST_FILE}: {0}")]
    Payload(String),
    /// The carried `trust.toml` is not a valid trust file.
    #[error("{TRUST_FILE} in the bundle: {0}")]
    NewState(#[from] StateError),
    /// The file's version and the statement's differ.
    #[error("{TRUST_FILE} says version {file}, but the signed statement says {statement}")]
    VersionMismatch {
        /// Version in the signed statement.
        statement: u64,
        /// Version in `trust.toml`.
        file: u64,
    },
    /// The new trust would make a revoked key id count again; the key id.
    #[error("rotation would un-revoke key {0}: revoked keys stay revoked")]
    Unrevoke(String),
    /// The bundle file could not be read; the error.
    #[error("cannot read trust bundle: {0}")]
    Io(String),
    /// The bundle is malformed (tar, envelope, hashes); the reason.
    #[error("trust bundle: {0}")]
    Bundle(String),
}

/// An accepted rotation.
#[derive(Clone, Debug)]
pub struct Rotated {
    /// The state to persist (atomically) and use from now on.
    pub state: TrustState,
    /// The signatures as counted against the current root role.
    pub current_root: ThresholdResult,
    /// The signatures as counted against the new root role.
    pub new_root: ThresholdResult,
    /// One line per change, for the audit log.
    pub changes: Vec<String>,
}

/// The parts of a `trust` bundle a rotation needs.
#[derive(Clone, Debug)]
pub struct TrustBundle {
    /// The bundle's envelope, whose signatures the root roles check.
    pub envelope: Envelope,
    /// The bytes of `trust.toml`, not yet checked against the statement.
    pub trust_toml: Vec<u8>,
}

fn describe(r: &ThresholdResult) -> String {
    let why: Vec<String> = r
        .signatures
        .iter()
        .filter(|s| s.status != crate::vocab::SignatureStatus::Counted)
        .map(|s| format!("{}: {}", short(&s.key_id), s.reason))
        .collect();
    let mut m = format!(
        "{} of {} required signatures counted",
        r.counted.len(),
        r.threshold
    );
    if !why.is_empty() {
        m.push_str(&format!(" ({})", why.join("; ")));
    }
    m
}

fn short(id: &str) -> &str {
    id.get(..16).unwrap_or(id)
}

/// Apply a trust rotation at Unix time `now`. `envelope` is the bundle's signed envelope;
/// `trust_toml` the bytes of its one payload file. Checks, in this order: signatures by the
/// current root role (before anything else in the bundle is parsed); the statement (kind
/// `trust`, integer version exactly current + 1, one subject `trust.toml` whose size and
/// SHA-256 match); the new configuration; signatures by the new root role; that every
/// revoked key stays revoked.
pub fn apply_rotation(
    current: &TrustState,
    envelope: &Envelope,
    trust_toml: &[u8],
    now: i64,
) -> Result<Rotated, RotationError> {
    let current_root = current.evaluate_role(current.root(), "root", envelope, now);
    if !current_root.met() {
        return Err(RotationError::CurrentRoot(describe(&current_root)));
    }

    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(RotationError::Statement(format!(
            "payload type is {:?}, expected {PAYLOAD_TYPE}",
            envelope.payload_type
        )));
    }
    let statement = Statement::from_envelope(envelope).map_err(RotationError::Statement)?;
    let version = statement.check().map_err(RotationError::Statement)?;
    if statement.predicate.kind != ROOT_KIND {
        return Err(RotationError::NotTrustKind(
            statement.predicate.kind.clone(),
        ));
    }
    let expected = current.version().checked_add(1).ok_or_else(|| {
        RotationError::Statement("the current trust version cannot be incremented".into())
    })?;
    let next = match version {
        Version::Integer(n) if n == expected => n,
        _ => {
            return Err(RotationError::NotNextVersion {
                current: current.version(),
                expected,
                got: statement.predicate.version.clone(),
            })
        }
    };

    let [subject] = statement.subject.as_slice() else {
        let names: Vec<&str> = statement.subject.iter().map(|s| s.name.as_str()).collect();
        return Err(RotationError::Payload(format!("it lists {names:?}")));
    };
    if subject.name != TRUST_FILE {
        return Err(RotationError::Payload(format!(
            "it lists {:?}",
            subject.name
        )));
    }
    let size = statement.predicate.sizes.get(TRUST_FILE).copied();
    if size != Some(trust_toml.len() as u64) {
        return Err(RotationError::Payload(format!(
            "{TRUST_FILE} is {} bytes, the statement says {size:?}",
            trust_toml.len()
        )));
    }
    let digest = hex::encode(Sha256::digest(trust_toml));
    if subject.sha256() != Some(digest.as_str()) {
        return Err(RotationError::Payload(format!(
            "{TRUST_FILE} has SHA-256 {digest}, the statement says {:?}",
            subject.sha256().unwrap_or("")
        )));
    }

    let state = TrustState::from_bytes(trust_toml)?;
    if state.version() != next {
        return Err(RotationError::VersionMismatch {
            statement: next,
            file: state.version(),
        });
    }
    let new_root = state.evaluate_role(state.root(), "new root", envelope, now);
    if !new_root.met() {
        return Err(RotationError::NewRoot(describe(&new_root)));
    }
    if let Some(id) = current.revoked().difference(state.revoked()).next() {
        return Err(RotationError::Unrevoke(id.clone()));
    }
    let changes = current.changes(&state);
    Ok(Rotated {
        state,
        current_root,
        new_root,
        changes,
    })
}

/// Read a `trust` bundle: its envelope and its one payload file `trust.toml` (at most
/// [`MAX_TRUST_FILE`](crate::trust::MAX_TRUST_FILE) bytes). Nothing here is trusted yet: pass the result to
/// [`apply_rotation`], which authenticates it.
pub fn read_trust_bundle(path: &Path, limits: &Limits) -> Result<TrustBundle, RotationError> {
    let bundle_err = |e: TarError| RotationError::Bundle(e.to_string());
    let mut opened = open(path, limits).map_err(|e| match e {
        OpenError::Io { .. } => RotationError::Io(e.to_string()),
        other => RotationError::Bundle(other.to_string()),
    })?;
    let mut trust_toml: Option<Vec<u8>> = None;
    while let Some(entry) = opened.tar.next_entry().map_err(bundle_err)? {
        if entry.kind == EntryKind::Dir {
            opened.tar.skip_data().map_err(bundle_err)?;
            continue;
        }
        if entry.path != TRUST_FILE || entry.kind != EntryKind::File || trust_toml.is_some() {
            return Err(RotationError::Payload(format!(
                "the bundle holds {:?}",
                entry.path
            )));
        }
        if entry.size > MAX_TRUST_FILE as u64 {
            return Err(RotationError::NewState(StateError::TooLarge(
                usize::try_from(entry.size).unwrap_or(usize::MAX),
            )));
        }
        let mut buf = vec![0u8; entry.size as usize];
        let mut got = 0;
        while got < buf.len() {
            let n = opened.tar.read_data(&mut buf[got..]).map_err(bundle_err)?;
            if n == 0 {
                return Err(RotationError::Bundle(format!("{TRUST_FILE} is cut short")));
            }
            got += n;
        }
        opened.tar.skip_data().map_err(bundle_err)?;
        trust_toml = Some(buf);
    }
    let trust_toml =
        trust_toml.ok_or_else(|| RotationError::Payload("the bundle holds no files".into()))?;
    Ok(TrustBundle {
        envelope: opened.envelope,
        trust_toml,
    })
}

impl crate::Classified for RotationError {
    /// The trust bundle could not be read: operational; a rotation that is refused: rejected.
    fn class(&self) -> crate::ErrorClass {
        match self {
            RotationError::Io(_) => crate::ErrorClass::Operational,
            _ => crate::ErrorClass::Rejected,
        }
    }
}
