//! `status`: what a gate holds (staged, quarantined, waiting, in flight) and its last decisions.

use super::audit;
use super::claim;
use super::fsutil::io;
use super::layout::Gate;
use super::receipt::RECEIPT_FILE;
use super::GateError;
use serde::Serialize;

/// One recent decision, from the audit log.
#[derive(Clone, Debug, Serialize)]
pub struct Recent {
    /// The audit record's sequence number.
    pub seq: u64,
    /// RFC 3339 time of the record.
    pub time: String,
    /// What happened: `staged`, `quarantined`, ...
    pub outcome: String,
    /// Artifact kind (empty when the bundle could not be read).
    pub kind: String,
    /// Bundle name (empty when unknown).
    pub name: String,
    /// Version (empty when unknown).
    pub version: String,
    /// The file name as it arrived.
    pub file: String,
    /// The first reason, or the error; empty when accepted.
    pub reason: String,
}

/// A gate's status.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// The gate's folder.
    pub gate: String,
    /// Versions under `staging/` that have a receipt.
    pub staged: u64,
    /// Bundles in quarantine.
    pub quarantined: u64,
    /// Complete bundles in intake, waiting.
    pub waiting: Vec<String>,
    /// Files in intake still being written (`*.part`, or waiting for a marker).
    pub incomplete: u64,
    /// Everything in intake that no watcher will take as it is, with the reason.
    pub not_taken: Vec<claim::NotTaken>,
    /// Quarantine folders that no audit record names (a run killed between publishing the
    /// folder and recording it; re-running the same admit records it).
    pub unrecorded_quarantine: Vec<String>,
    /// Bundles claimed by a watcher right now.
    pub in_flight: u64,
    /// Records in the audit log.
    pub audit_records: u64,
    /// Version of the active trust (`state/trust.toml`); `None`: the policy's keys.
    pub trust_version: Option<u64>,
    /// The latest decisions, newest first.
    pub recent: Vec<Recent>,
}

fn count_dirs(p: &std::path::Path) -> Result<Vec<std::path::PathBuf>, GateError> {
    let mut out = Vec::new();
    match std::fs::read_dir(p) {
        Ok(es) => {
            for e in es {
                let e = e.map_err(io("read", p))?;
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    out.push(e.path());
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("read", p)(e)),
    }
    Ok(out)
}

/// Gather the status, with the last `recent` decisions.
pub fn status(gate: &Gate, recent: usize) -> Result<Status, GateError> {
    let mut staged = 0;
    for kind in count_dirs(&gate.staging())? {
        for name in count_dirs(&kind)? {
            for v in count_dirs(&name)? {
                if v.join(RECEIPT_FILE).is_file() {
                    staged += 1;
                }
            }
        }
    }
    let quarantine_dirs = count_dirs(&gate.quarantine())?;
    let quarantined = quarantine_dirs.len() as u64;
    let waiting = claim::ready(gate)?;
    let all = std::fs::read_dir(gate.intake())
        .map_err(io("read", &gate.intake()))?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            !n.starts_with('.') && !n.ends_with(claim::READY_SUFFIX)
        })
        .count() as u64;
    let in_flight = std::fs::read_dir(gate.claims())
        .map_err(io("read", &gate.claims()))?
        .count() as u64;
    let records = audit::read_records(&gate.audit_log())?;
    let audit_records = records.len() as u64;
    let recorded: std::collections::HashSet<&str> = records
        .iter()
        .filter_map(|r| r.destination.as_deref())
        .collect();
    let mut unrecorded_quarantine: Vec<String> = quarantine_dirs
        .iter()
        .filter_map(|q| q.strip_prefix(&gate.root).ok())
        .map(|q| q.display().to_string())
        .filter(|q| !recorded.contains(q.as_str()))
        .collect();
    unrecorded_quarantine.sort();
    let recent = records
        .iter()
        .rev()
        .filter(|r| r.event != "log-repair")
        .take(recent)
        .map(|r| {
            let b = r.bundle.clone().unwrap_or_default();
            Recent {
                seq: r.seq,
                time: r.time.clone(),
                outcome: r.outcome.clone(),
                kind: b.kind,
                name: b.name,
                version: b.version,
                file: b.file,
                reason: r
                    .reasons
                    .first()
                    .cloned()
                    .or_else(|| r.error.clone())
                    .unwrap_or_default(),
            }
        })
        .collect();
    Ok(Status {
        gate: gate.root.display().to_string(),
        staged,
        quarantined,
        incomplete: all.saturating_sub(waiting.len() as u64),
        not_taken: claim::not_taken(gate)?,
        unrecorded_quarantine,
        waiting,
        in_flight,
        audit_records,
        trust_version: super::trust::load_state(gate)?.map(|t| t.version()),
        recent,
    })
}
