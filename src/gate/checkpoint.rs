//! Signed audit checkpoints: the log's record count and head hash, signed with the gate's own
//! Ed25519 key (after C2SP tlog-checkpoint). The gate keeps the latest in
//! `audit/checkpoint.json`; operators export copies to other media with `audit checkpoint`.

use super::audit::{self, ChainCheck, Record};
use super::fsutil;
use super::GateError;
use crate::trust::keys::{PrivateKey, PublicKey};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// First line of the signed text.
pub const ORIGIN: &str = "airgate-audit-checkpoint/v1";
/// Largest checkpoint file read.
const MAX_CHECKPOINT_BYTES: u64 = 64 * 1024;
/// File name of the gate's latest checkpoint in `audit/`.
pub const LATEST: &str = "checkpoint.json";

/// A checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Always `airgate-audit-checkpoint/v1`.
    pub origin: String,
    /// Key id of the gate audit key that signed.
    pub key_id: String,
    /// Number of records covered.
    pub size: u64,
    /// Line hash of record `size - 1` (64 zeros when the log is empty).
    pub head: String,
    /// RFC 3339 time of signing.
    pub time: String,
    /// Base64 Ed25519 signature over [`Checkpoint::signed_text`].
    pub signature: String,
}

impl Checkpoint {
    /// The exact bytes signed: origin, key id, size, head, time, one per line.
    pub fn signed_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}\n",
            self.origin, self.key_id, self.size, self.head, self.time
        )
    }

    /// Sign a checkpoint for `size` records ending in `head`.
    pub fn sign(key: &PrivateKey, size: u64, head: &str) -> Checkpoint {
        let mut c = Checkpoint {
            origin: ORIGIN.into(),
            key_id: key.public().id().into(),
            size,
            head: head.into(),
            time: crate::util::format_time(crate::util::now_secs()),
            signature: String::new(),
        };
        let sig = key.sign(c.signed_text().as_bytes());
        c.signature = base64::engine::general_purpose::STANDARD.encode(sig);
        c
    }

    /// Load a checkpoint file.
    pub fn load(path: &Path) -> Result<Checkpoint, GateError> {
        let bytes = match crate::util::read_file_bounded(path, MAX_CHECKPOINT_BYTES) {
            Ok(b) => b,
            Err(e) if crate::util::is_too_large(&e) => {
                return Err(GateError::Damaged {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })
            }
            Err(e) => return Err(fsutil::io("read checkpoint", path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| GateError::Damaged {
            path: path.to_path_buf(),
            message: format!("not a checkpoint: {e}"),
        })
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Whether the signature verifies with `key` (the key id is checked separately).
    pub fn signature_ok(&self, key: &PublicKey) -> bool {
        base64::engine::general_purpose::STANDARD
            .decode(self.signature.as_bytes())
            .map(|sig| key.verify(self.signed_text().as_bytes(), &sig))
            .unwrap_or(false)
    }

    /// Problems with this checkpoint against `key` and the walked chain (empty when it holds).
    pub fn check(&self, key: &PublicKey, chain: &ChainCheck) -> Vec<String> {
        let mut out = Vec::new();
        if self.origin != ORIGIN {
            out.push(format!(
                "checkpoint origin is {:?}, expected {ORIGIN}",
                self.origin
            ));
        }
        if self.key_id != key.id() {
            out.push(format!(
                "checkpoint was signed by key {}, not the gate audit key {}",
                self.key_id,
                key.id()
            ));
        }
        if !self.signature_ok(key) {
            out.push("checkpoint signature does not verify with the gate audit key".into());
            return out;
        }
        if self.size > chain.records {
            out.push(format!(
                "log holds {} records but a signed checkpoint covers {}: records were removed (truncation)",
                chain.records, self.size
            ));
            return out;
        }
        let at = if self.size == 0 {
            audit::GENESIS.to_string()
        } else {
            chain.hashes[(self.size - 1) as usize].clone()
        };
        if at != self.head {
            out.push(format!(
                "record {} does not hash to the checkpoint's head: the log up to it was changed",
                self.size.saturating_sub(1)
            ));
        }
        out
    }
}

/// File name, in `audit/`, of the checkpoint signed for records about to be appended (the
/// write-ahead half of [`append`]).
pub const PENDING: &str = "checkpoint.next.json";

/// Append `rec` to the gate's audit log (the caller holds the gate lock), write-ahead: after
/// [`guard`], the records are prepared, a checkpoint covering them is signed and stored as
/// [`PENDING`], the records are written (fsync), and the pending checkpoint becomes the
/// latest. Every record in the log is thus covered by a checkpoint the gate signed before
/// writing it, and a record appended by anyone else (a correct chain is easy to compute)
/// is refused by the next [`guard`] instead of being signed into the next checkpoint.
pub fn append(
    audit_dir: &Path,
    key: &PrivateKey,
    rec: Record,
) -> Result<(Record, String), GateError> {
    guard(audit_dir, key)?;
    let log = audit_dir.join("log.jsonl");
    let p = audit::prepare(&log, rec)?;
    let c = Checkpoint::sign(key, p.record.seq + 1, &p.hash);
    fsutil::replace_atomic(&audit_dir.join(PENDING), c.to_json().as_bytes())?;
    audit::commit(&log, &p)?;
    // The records are durable and covered by the pending checkpoint; if this rename fails,
    // the next guard completes it.
    let _ = promote(audit_dir);
    Ok((p.record, p.hash))
}

/// Make the pending checkpoint the latest.
fn promote(audit_dir: &Path) -> Result<(), GateError> {
    let pending = audit_dir.join(PENDING);
    fsutil::fault("checkpoint-promote")?;
    std::fs::rename(&pending, audit_dir.join(LATEST))
        .map_err(fsutil::io("rename checkpoint", &pending))?;
    fsutil::sync_parent(&pending)
}

/// Before anything is appended or signed (the caller holds the gate lock): the log must be
/// exactly what the gate's latest signed checkpoint covers, or what a pending checkpoint
/// covers (a crash between writing records and promoting it: the promotion is completed
/// here; a crash before the records were written: the pending one is dropped). Otherwise
/// signing the log's present state would launder an edit, a truncation, a recomputed chain
/// or records appended outside the gate into a valid checkpoint, so the gate refuses
/// (`Damaged`) until an operator has looked (`audit verify`, then `audit checkpoint
/// --accept-unsigned-records` for records found to be genuine).
pub fn guard(audit_dir: &Path, key: &PrivateKey) -> Result<(), GateError> {
    check_log(audit_dir, key, false)
}

/// [`guard`]; with `allow_tail`, records after the latest checkpoint are allowed when the
/// chain through them walks clean from it.
fn check_log(audit_dir: &Path, key: &PrivateKey, allow_tail: bool) -> Result<(), GateError> {
    let log = audit_dir.join("log.jsonl");
    let latest = audit_dir.join(LATEST);
    let pending_path = audit_dir.join(PENDING);
    let damaged = |message: String| GateError::Damaged {
        path: log.clone(),
        message: format!(
            "{message}; run `airgate audit verify` (nothing is recorded until it is resolved)"
        ),
    };
    let public = key.public();
    let signed = |c: &Checkpoint| c.key_id == public.id() && c.signature_ok(&public);
    let (next, head) = audit::last(&log)?;
    let pending = if pending_path.exists() {
        let p = Checkpoint::load(&pending_path)?;
        if !signed(&p) {
            return Err(damaged(format!(
                "{PENDING} is not signed by the gate audit key"
            )));
        }
        if next == p.size && head == p.head {
            // the records it was signed for were written: finish the promotion
            return promote(audit_dir);
        }
        Some(p)
    } else {
        None
    };
    if !latest.exists() {
        if next > 0 && !allow_tail {
            return Err(damaged(format!(
                "the log holds {next} records but no signed checkpoint covers them ({LATEST} is missing)"
            )));
        }
    } else {
        let c = Checkpoint::load(&latest)?;
        if !signed(&c) {
            return Err(damaged(
                "the latest checkpoint is not signed by the gate audit key".into(),
            ));
        }
        if next < c.size {
            return Err(damaged(format!(
                "the log holds {next} records but the signed checkpoint covers {}: records were removed",
                c.size
            )));
        }
        if next == c.size && head != c.head {
            return Err(damaged(
                "the last record does not hash to the signed checkpoint's head: the log was changed"
                    .into(),
            ));
        }
        if next > c.size {
            if !allow_tail {
                return Err(damaged(format!(
                    "records {}..{} follow the last signed checkpoint, and the gate signs every \
                     record before writing it: they were appended outside the gate",
                    c.size,
                    next - 1
                )));
            }
            let chain = audit::verify_chain(&log)?;
            if let Some(p) = chain.problems.first() {
                return Err(damaged(format!("the log is damaged: {p}")));
            }
            if let Some(p) = c.check(&public, &chain).first() {
                return Err(damaged(p.clone()));
            }
        }
    }
    if pending.is_some() {
        // signed for records that were never written (a crash before the write)
        std::fs::remove_file(&pending_path).map_err(fsutil::io("remove", &pending_path))?;
        fsutil::sync_parent(&pending_path)?;
    }
    Ok(())
}

/// Sign the log's current state and store it as the gate's latest checkpoint, after the
/// checks every append makes (`guard`). With `accept_unsigned`, records appended after the
/// latest checkpoint (which those checks refuse) are signed too, provided the chain walks clean through them: an
/// operator's decision after reviewing them.
pub fn refresh(
    audit_dir: &Path,
    key: &PrivateKey,
    accept_unsigned: bool,
) -> Result<Checkpoint, GateError> {
    check_log(audit_dir, key, accept_unsigned)?;
    let chain = audit::verify_chain(&audit_dir.join("log.jsonl"))?;
    if let Some(p) = chain.problems.first() {
        return Err(GateError::Damaged {
            path: audit_dir.join("log.jsonl"),
            message: format!("the log is damaged: {p}"),
        });
    }
    let c = Checkpoint::sign(key, chain.records, &chain.head);
    fsutil::replace_atomic(&audit_dir.join(LATEST), c.to_json().as_bytes())?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::audit::verify_chain;

    fn rec() -> Record {
        Record::new("admit", "staged", "p")
    }

    fn is_damaged(r: Result<(), GateError>) -> bool {
        matches!(r, Err(GateError::Damaged { .. }))
    }

    #[test]
    fn checkpoint_detects_truncation_and_tail_edit() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log.jsonl");
        let key = PrivateKey::generate();
        for _ in 0..3 {
            append(d.path(), &key, rec()).unwrap();
        }
        let c = Checkpoint::load(&d.path().join(LATEST)).unwrap();
        let chain = verify_chain(&log).unwrap();
        assert_eq!(c.size, 3);
        assert!(c.check(&key.public(), &chain).is_empty());
        // appending more keeps the old checkpoint valid
        audit::append(&log, rec()).unwrap();
        assert!(c
            .check(&key.public(), &verify_chain(&log).unwrap())
            .is_empty());
        // truncate to 2 records: chain alone is fine, checkpoint is not
        let text = std::fs::read_to_string(&log).unwrap();
        let two: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
        std::fs::write(&log, &two).unwrap();
        let ch = verify_chain(&log).unwrap();
        assert!(ch.problems.is_empty());
        assert!(!c.check(&key.public(), &ch).is_empty());
        assert!(is_damaged(guard(d.path(), &key)));
        // edit the last covered record: only the checkpoint sees it
        let three: Vec<String> = text.lines().take(3).map(str::to_string).collect();
        let edited = format!(
            "{}\n{}\n{}\n",
            three[0],
            three[1],
            three[2].replace("staged", "quarantined")
        );
        std::fs::write(&log, edited).unwrap();
        let ch = verify_chain(&log).unwrap();
        assert!(ch.problems.is_empty());
        assert!(!c.check(&key.public(), &ch).is_empty());
        assert!(is_damaged(guard(d.path(), &key)));
    }

    #[test]
    fn forged_or_foreign_checkpoint_fails() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log.jsonl");
        let key = PrivateKey::generate();
        append(d.path(), &key, rec()).unwrap();
        let mut c = refresh(d.path(), &key, false).unwrap();
        let chain = verify_chain(&log).unwrap();
        let other = PrivateKey::generate();
        assert!(!c.check(&other.public(), &chain).is_empty());
        assert!(is_damaged(guard(d.path(), &other)));
        c.size = 0;
        assert!(!c.check(&key.public(), &chain).is_empty());
    }

    #[test]
    fn a_record_appended_outside_the_gate_is_refused_not_signed() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log.jsonl");
        let key = PrivateKey::generate();
        append(d.path(), &key, rec()).unwrap();
        append(d.path(), &key, rec()).unwrap();
        // the near miss: the gate's own records pass
        guard(d.path(), &key).unwrap();
        // someone with write access appends a record with a correct chain
        let mut forged = rec();
        forged.outcome = "quarantined".into();
        audit::append(&log, forged).unwrap();
        assert!(verify_chain(&log).unwrap().problems.is_empty());
        assert!(is_damaged(guard(d.path(), &key)));
        assert!(append(d.path(), &key, rec()).is_err());
        assert!(refresh(d.path(), &key, false).is_err());
        assert_eq!(
            verify_chain(&log).unwrap().records,
            3,
            "nothing was appended"
        );
        // an operator who reviewed it accepts it explicitly
        let c = refresh(d.path(), &key, true).unwrap();
        assert_eq!(c.size, 3);
        guard(d.path(), &key).unwrap();
        append(d.path(), &key, rec()).unwrap();
    }

    #[test]
    fn a_missing_checkpoint_is_refused_for_a_non_empty_log() {
        let d = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate();
        guard(d.path(), &key).unwrap(); // empty log, no checkpoint: a new gate
        append(d.path(), &key, rec()).unwrap();
        std::fs::remove_file(d.path().join(LATEST)).unwrap();
        assert!(is_damaged(guard(d.path(), &key)));
        assert_eq!(refresh(d.path(), &key, true).unwrap().size, 1);
        guard(d.path(), &key).unwrap();
    }

    #[test]
    fn crash_windows_of_the_write_ahead_append_recover() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log.jsonl");
        let key = PrivateKey::generate();
        append(d.path(), &key, rec()).unwrap();
        // 1. crash after the pending checkpoint, before the records: it is dropped
        let p = audit::prepare(&log, rec()).unwrap();
        let pending = Checkpoint::sign(&key, p.record.seq + 1, &p.hash);
        std::fs::write(d.path().join(PENDING), pending.to_json()).unwrap();
        guard(d.path(), &key).unwrap();
        assert!(!d.path().join(PENDING).exists());
        assert_eq!(Checkpoint::load(&d.path().join(LATEST)).unwrap().size, 1);
        // 2. crash after the records, before the promotion: it is completed
        std::fs::write(d.path().join(PENDING), pending.to_json()).unwrap();
        audit::commit(&log, &p).unwrap();
        guard(d.path(), &key).unwrap();
        assert!(!d.path().join(PENDING).exists());
        assert_eq!(Checkpoint::load(&d.path().join(LATEST)).unwrap().size, 2);
        // 3. a pending checkpoint not signed by the gate key is refused
        let other = PrivateKey::generate();
        let p = audit::prepare(&log, rec()).unwrap();
        let forged = Checkpoint::sign(&other, p.record.seq + 1, &p.hash);
        std::fs::write(d.path().join(PENDING), forged.to_json()).unwrap();
        audit::commit(&log, &p).unwrap();
        assert!(is_damaged(guard(d.path(), &key)));
    }
}
