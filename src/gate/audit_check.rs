//! The audit log's checks as an operator runs them (`airgate audit verify`, `audit
//! checkpoint --accept-unsigned-records`): the hash chain, the gate's stored checkpoint,
//! a crash-time pending checkpoint, and checkpoints exported to other media.

use super::audit::{verify_chain, Record};
use super::checkpoint::{self, Checkpoint};
use super::layout::Gate;
use super::GateError;
use crate::trust::keys::{PrivateKey, PublicKey};
use std::path::PathBuf;

/// The result of checking a gate's audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogCheck {
    /// Complete records in the log.
    pub records: u64,
    /// Hash of the last record line.
    pub head: String,
    /// Checkpoints checked (the stored one and the exported ones given).
    pub checkpoints_checked: u64,
    /// Everything wrong, in the order found (empty: the log holds).
    pub problems: Vec<String>,
}

impl LogCheck {
    /// Whether the log and every checkpoint hold.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Check the gate's audit log against its stored checkpoint (signed by `key`, the gate's
/// audit key unless another is given) and against the exported checkpoints `extra`. A
/// record that no checkpoint signed by the gate covers was appended outside the gate.
pub fn verify_log(gate: &Gate, key: &PublicKey, extra: &[PathBuf]) -> Result<LogCheck, GateError> {
    let chain = verify_chain(&gate.audit_log())?;
    let mut problems = chain.problems.clone();
    let stored = gate.audit_dir().join(checkpoint::LATEST);
    let mut checked = 0u64;
    // a write-ahead checkpoint that covers the whole log (a crash before its promotion)
    let pending = Checkpoint::load(&gate.audit_dir().join(checkpoint::PENDING))
        .ok()
        .filter(|p| p.size == chain.records && p.check(key, &chain).is_empty());
    if stored.exists() {
        let c = Checkpoint::load(&stored)?;
        problems.extend(
            c.check(key, &chain)
                .into_iter()
                .map(|p| format!("stored checkpoint: {p}")),
        );
        if c.size < chain.records && pending.is_none() {
            // the gate signs a checkpoint before it writes a record
            problems.push(format!(
                "records {}..{} follow the stored checkpoint and no checkpoint signed by the \
                 gate covers them: they were appended outside the gate (after review, `audit \
                 checkpoint --accept-unsigned-records` signs them)",
                c.size,
                chain.records - 1
            ));
        }
        checked += 1;
    } else if chain.records > 0 && pending.is_none() {
        problems.push(format!(
            "the gate's stored checkpoint {} is missing",
            stored.display()
        ));
    }
    for p in extra {
        let c = Checkpoint::load(p)?;
        problems.extend(
            c.check(key, &chain)
                .into_iter()
                .map(|m| format!("checkpoint {}: {m}", p.display())),
        );
        checked += 1;
    }
    Ok(LogCheck {
        records: chain.records,
        head: chain.head,
        checkpoints_checked: checked,
        problems,
    })
}

/// Sign a checkpoint over records appended outside the gate, after an operator reviewed
/// them, and record that decision in the log itself (an `unsigned-accepted` record naming
/// the range). The caller holds the gate lock.
pub fn accept_unsigned(gate: &Gate, key: &PrivateKey) -> Result<Checkpoint, GateError> {
    let dir = gate.audit_dir();
    let before = Checkpoint::load(&dir.join(checkpoint::LATEST))
        .map(|c| c.size)
        .unwrap_or(0);
    let c = checkpoint::refresh(&dir, key, true)?;
    if c.size == before {
        return Ok(c);
    }
    let policy = gate.load_policy()?;
    let mut rec = Record::new("audit", "unsigned-accepted", &policy.digest());
    rec.reasons = vec![format!(
        "records {before}..{} followed the last signed checkpoint (not written by the gate, \
         or by a version that signed after writing) and were accepted by an operator",
        c.size - 1
    )];
    checkpoint::append(&dir, key, rec)?;
    Checkpoint::load(&dir.join(checkpoint::LATEST))
}
