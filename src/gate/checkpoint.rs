//! Signed audit checkpoints: the log's record count and head hash, signed with the gate's own
//! Ed25519 key (after C2SP tlog-checkpoint). The gate keeps the latest in
//! `audit/checkpoint.json`; operators export copies to other media with `audit checkpoint`.

use super::audit::{self, ChainCheck};
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
    pub origin: String,
    /// Key id of the gate audit key that signed.
    pub key_id: String,
    /// Number of records covered.
    pub size: u64,
    /// Line hash of record `size - 1` ([`audit::GENESIS`] when empty).
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
        let meta = std::fs::metadata(path).map_err(fsutil::io("read checkpoint", path))?;
        if meta.len() > MAX_CHECKPOINT_BYTES {
            return Err(GateError::Damaged {
                path: path.to_path_buf(),
                message: format!("larger than {MAX_CHECKPOINT_BYTES} bytes"),
            });
        }
        let bytes = std::fs::read(path).map_err(fsutil::io("read checkpoint", path))?;
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

/// Before anything is appended or signed (the caller holds the gate lock): the log must
/// still extend the gate's latest signed checkpoint. Otherwise signing its present state
/// would launder an edit, a truncation or a recomputed chain into a valid checkpoint, so the
/// gate refuses (`Damaged`) until an operator has looked (`audit verify`).
pub fn guard(audit_dir: &Path, key: &PrivateKey) -> Result<(), GateError> {
    let log = audit_dir.join("log.jsonl");
    let latest = audit_dir.join(LATEST);
    let damaged = |message: String| GateError::Damaged {
        path: log.clone(),
        message: format!(
            "{message}; run `airgate audit verify` (nothing is recorded until it is resolved)"
        ),
    };
    let (next, head) = audit::last(&log)?;
    if !latest.exists() {
        // never stored (a failed write right after the first records): the chain must at
        // least walk clean; exported checkpoints still catch a rewritten log
        if next == 0 {
            return Ok(());
        }
        let chain = audit::verify_chain(&log)?;
        return match chain.problems.first() {
            Some(p) => Err(damaged(format!("the log is damaged: {p}"))),
            None => Ok(()),
        };
    }
    let c = Checkpoint::load(&latest)?;
    let public = key.public();
    if c.key_id != public.id() || !c.signature_ok(&public) {
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
    if next == c.size {
        if head != c.head {
            return Err(damaged(
                "the last record does not hash to the signed checkpoint's head: the log was changed"
                    .into(),
            ));
        }
        return Ok(());
    }
    // records after the checkpoint (a checkpoint that failed to refresh): walk the chain
    let chain = audit::verify_chain(&log)?;
    if let Some(p) = chain.problems.first() {
        return Err(damaged(format!("the log is damaged: {p}")));
    }
    let problems = c.check(&public, &chain);
    if let Some(p) = problems.first() {
        return Err(damaged(p.clone()));
    }
    Ok(())
}

/// Sign the log's current state and store it as the gate's latest checkpoint, after
/// [`guard`].
pub fn refresh(audit_dir: &Path, key: &PrivateKey) -> Result<Checkpoint, GateError> {
    guard(audit_dir, key)?;
    let chain = audit::verify_chain(&audit_dir.join("log.jsonl"))?;
    let c = Checkpoint::sign(key, chain.records, &chain.head);
    fsutil::replace_atomic(&audit_dir.join(LATEST), c.to_json().as_bytes())?;
    Ok(c)
}

/// Sign a checkpoint from a known head (after an append, without re-reading the log).
pub fn store(audit_dir: &Path, key: &PrivateKey, size: u64, head: &str) -> Result<(), GateError> {
    let c = Checkpoint::sign(key, size, head);
    fsutil::replace_atomic(&audit_dir.join(LATEST), c.to_json().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::audit::{append, verify_chain, Record};

    #[test]
    fn checkpoint_detects_truncation_and_tail_edit() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log.jsonl");
        for _ in 0..3 {
            append(&log, Record::new("admit", "staged", "p")).unwrap();
        }
        let key = PrivateKey::generate();
        let c = refresh(d.path(), &key).unwrap();
        let chain = verify_chain(&log).unwrap();
        assert!(c.check(&key.public(), &chain).is_empty());
        // appending more keeps the old checkpoint valid
        append(&log, Record::new("admit", "staged", "p")).unwrap();
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
    }

    #[test]
    fn forged_or_foreign_checkpoint_fails() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log.jsonl");
        append(&log, Record::new("admit", "staged", "p")).unwrap();
        let key = PrivateKey::generate();
        let mut c = refresh(d.path(), &key).unwrap();
        let chain = verify_chain(&log).unwrap();
        let other = PrivateKey::generate();
        assert!(!c.check(&other.public(), &chain).is_empty());
        c.size = 0;
        assert!(!c.check(&key.public(), &chain).is_empty());
    }
}
