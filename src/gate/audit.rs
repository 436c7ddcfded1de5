//! The tamper-evident audit log `audit/log.jsonl`: one JSON record per line, each carrying its
//! sequence number and the SHA-256 of the previous line, appended with fsync under the gate
//! lock. `verify_chain` finds edited, reordered, inserted or deleted records.

use super::fsutil::{self, io};
use super::GateError;
use crate::decide::Verdict;
use crate::inspect::Finding;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Longest record line accepted when reading the log.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Most findings listed in one record (the rest are counted in `findings_omitted`).
pub const MAX_RECORD_FINDINGS: usize = 500;

/// A finding as the audit log keeps it: rule and location, never the value or message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFinding {
    pub rule: String,
    pub category: String,
    pub severity: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub fingerprint: String,
}

impl From<&Finding> for AuditFinding {
    fn from(f: &Finding) -> AuditFinding {
        AuditFinding {
            rule: f.rule.clone(),
            category: f.category.as_str().into(),
            severity: f.severity.as_str().into(),
            path: f.path.clone(),
            line: f.line,
            offset: f.offset,
            fingerprint: f.fingerprint.clone(),
        }
    }
}

/// The bundle a record is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditBundle {
    pub sha256: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
    /// File name as it arrived.
    #[serde(default)]
    pub file: String,
}

/// One audit record (one line).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    /// RFC 3339 UTC.
    pub time: String,
    /// `admit`, `error`, `waiver`, `trust`, `log-repair`.
    pub event: String,
    /// `staged`, `quarantined`, `error`, ...
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<AuditBundle>,
    #[serde(default)]
    pub signers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub findings: Vec<AuditFinding>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub findings_omitted: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waived: Vec<AuditFinding>,
    /// Gate-relative path of the staged tree or quarantine folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For an accepted trust rotation (event `trust`, outcome `rotated`): what changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustChange>,
    /// `airgate <version>`.
    pub tool: String,
    pub policy_sha256: String,
    /// SHA-256 (hex) of the previous record's line, [`GENESIS`] for the first.
    pub prev: String,
}

/// What a trust rotation changed, and who signed it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustChange {
    pub from_version: u64,
    pub to_version: u64,
    /// One line per change (keys added/removed/revoked, roles changed).
    pub changes: Vec<String>,
    /// Key ids that counted for the current root role.
    pub current_root_signers: Vec<String>,
    /// Key ids that counted for the new root role.
    pub new_root_signers: Vec<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Record {
    /// A record for `event`/`outcome` with the rest empty; `seq`, `time` and `prev` are filled
    /// in by [`append`].
    pub fn new(event: &str, outcome: &str, policy_sha256: &str) -> Record {
        Record {
            seq: 0,
            time: String::new(),
            event: event.into(),
            outcome: outcome.into(),
            bundle: None,
            signers: Vec::new(),
            verdict: None,
            reasons: Vec::new(),
            findings: Vec::new(),
            findings_omitted: 0,
            waived: Vec::new(),
            destination: None,
            error: None,
            trust: None,
            tool: format!("airgate {}", env!("CARGO_PKG_VERSION")),
            policy_sha256: policy_sha256.into(),
            prev: String::new(),
        }
    }

    /// Attach findings (bounded by [`MAX_RECORD_FINDINGS`]) and waived findings.
    pub fn with_findings(mut self, findings: &[Finding], waived: &[Finding]) -> Record {
        self.findings = findings
            .iter()
            .take(MAX_RECORD_FINDINGS)
            .map(AuditFinding::from)
            .collect();
        self.findings_omitted = findings.len().saturating_sub(MAX_RECORD_FINDINGS) as u64;
        self.waived = waived
            .iter()
            .take(MAX_RECORD_FINDINGS)
            .map(AuditFinding::from)
            .collect();
        self
    }
}

/// Hex SHA-256 of one record line (without its newline).
pub fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// The end of the log.
struct Tail {
    /// Sequence number of the next record.
    next_seq: u64,
    /// Hash of the last complete line.
    head: String,
    /// Length of the log up to its last newline (shorter than the file: a torn tail).
    complete_len: u64,
    /// The policy hash of the last record.
    policy_sha256: Option<String>,
}

fn empty_tail() -> Tail {
    Tail {
        next_seq: 0,
        head: GENESIS.to_string(),
        complete_len: 0,
        policy_sha256: None,
    }
}

/// The log's next sequence number and the hash of its last complete record (`GENESIS` and
/// 0 for an empty or missing log).
pub fn last(path: &Path) -> Result<(u64, String), GateError> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, GENESIS.into())),
        Err(e) => return Err(io("open audit log", path)(e)),
    };
    let t = tail(&mut file, path)?;
    Ok((t.next_seq, t.head))
}

/// Read the last complete record of the log.
fn tail(file: &mut std::fs::File, path: &Path) -> Result<Tail, GateError> {
    let len = file.metadata().map_err(io("stat", path))?.len();
    if len == 0 {
        return Ok(empty_tail());
    }
    let window = (MAX_RECORD_BYTES as u64 * 2).min(len);
    file.seek(SeekFrom::Start(len - window))
        .map_err(io("seek", path))?;
    let mut buf = Vec::with_capacity(window as usize);
    file.take(window)
        .read_to_end(&mut buf)
        .map_err(io("read", path))?;
    let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
        if window == len {
            // only a torn first record: nothing complete yet
            return Ok(empty_tail());
        }
        return Err(GateError::Damaged {
            path: path.to_path_buf(),
            message: "no complete record in the last 2 MiB".into(),
        });
    };
    let complete_len = len - window + end as u64 + 1;
    let start = buf[..end]
        .iter()
        .rposition(|&b| b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    if start == 0 && window < len {
        return Err(GateError::Damaged {
            path: path.to_path_buf(),
            message: "last record is longer than the record limit".into(),
        });
    }
    let line = &buf[start..end];
    let rec: Record = serde_json::from_slice(line).map_err(|e| GateError::Damaged {
        path: path.to_path_buf(),
        message: format!("last record is not valid: {e}"),
    })?;
    Ok(Tail {
        next_seq: rec.seq + 1,
        head: line_hash(line),
        complete_len,
        policy_sha256: Some(rec.policy_sha256),
    })
}

/// Records computed and ready to append (see [`prepare`] and [`commit`]).
#[derive(Debug)]
pub struct Prepared {
    /// Cut the log to this length first: a torn final line left by a crash.
    truncate_to: Option<u64>,
    /// Every line to write, each ending in a newline.
    bytes: Vec<u8>,
    /// The record asked for, with `seq`, `time` and `prev` filled in.
    pub record: Record,
    /// Its line hash: the log's head once committed.
    pub hash: String,
}

/// Append `rec` to the log at `path` (caller holds the gate lock), fsync, and return it with
/// `seq`, `time`, `prev` filled in plus its line hash. A torn final line left by a crash is cut
/// off and the repair itself recorded first. When the policy hash differs from the last
/// record's, a `trust` record of the change is written first. The gate appends through
/// [`super::checkpoint::append`], which signs the result before it is written.
#[cfg(test)]
pub fn append(path: &Path, rec: Record) -> Result<(Record, String), GateError> {
    let p = prepare(path, rec)?;
    commit(path, &p)?;
    Ok((p.record, p.hash))
}

/// Compute what [`append`] writes, without writing it: the lines, the record as it will be
/// and the log's head after it. The log must not change before [`commit`] (the gate lock).
pub fn prepare(path: &Path, mut rec: Record) -> Result<Prepared, GateError> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io("open audit log", path)(e)),
    };
    let (t, len) = match file.as_mut() {
        Some(f) => {
            let t = tail(f, path)?;
            (t, f.metadata().map_err(io("stat", path))?.len())
        }
        None => (empty_tail(), 0),
    };
    let (mut seq, mut prev) = (t.next_seq, t.head);
    let mut bytes = Vec::new();
    let mut truncate_to = None;
    if t.complete_len < len {
        truncate_to = Some(t.complete_len);
        let mut repair = Record::new("log-repair", "error", &rec.policy_sha256);
        repair.error = Some(format!(
            "removed a torn, incomplete record of {} bytes at offset {} (crash during append)",
            len - t.complete_len,
            t.complete_len
        ));
        prev = encode_record(path, &mut repair, seq, &prev, &mut bytes)?;
        seq += 1;
    }
    if let Some(old) = t.policy_sha256 {
        if !rec.policy_sha256.is_empty() && old != rec.policy_sha256 {
            let mut change = Record::new("trust", "policy-changed", &rec.policy_sha256);
            change.reasons = vec![format!(
                "the gate policy changed (sha256 {old} -> {}): trust, limits or inspection may differ from earlier decisions",
                rec.policy_sha256
            )];
            prev = encode_record(path, &mut change, seq, &prev, &mut bytes)?;
            seq += 1;
        }
    }
    let hash = encode_record(path, &mut rec, seq, &prev, &mut bytes)?;
    Ok(Prepared {
        truncate_to,
        bytes,
        record: rec,
        hash,
    })
}

/// Write prepared records: cut a torn tail, one write, fsync.
pub fn commit(path: &Path, p: &Prepared) -> Result<(), GateError> {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(io("open audit log", path))?;
    if let Some(n) = p.truncate_to {
        file.set_len(n).map_err(io("truncate torn record", path))?;
    }
    fsutil::fault("audit-append")?;
    file.write_all(&p.bytes).map_err(io("append to", path))?;
    fsutil::fault("fsync")?;
    file.sync_all().map_err(io("fsync", path))?;
    Ok(())
}

/// Fill in `rec`'s place in the chain, append its line (with a newline) to `out` and return
/// the line's hash.
fn encode_record(
    path: &Path,
    rec: &mut Record,
    seq: u64,
    prev: &str,
    out: &mut Vec<u8>,
) -> Result<String, GateError> {
    rec.seq = seq;
    rec.prev = prev.to_string();
    if rec.time.is_empty() {
        rec.time = crate::util::format_time(crate::util::now_secs());
    }
    let line = serde_json::to_vec(rec).map_err(|e| GateError::Damaged {
        path: path.to_path_buf(),
        message: format!("cannot encode record: {e}"),
    })?;
    let hash = line_hash(&line);
    out.extend_from_slice(&line);
    out.push(b'\n');
    Ok(hash)
}

/// The result of walking the chain.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ChainCheck {
    /// Complete records read.
    pub records: u64,
    /// Hash of the last record line.
    pub head: String,
    /// `hashes[i]` is the line hash of record `i` (for checkpoint checks).
    #[serde(skip)]
    pub hashes: Vec<String>,
    /// Everything wrong, in order found.
    pub problems: Vec<String>,
}

/// Read the log and check sequence numbers and previous-record hashes.
pub fn verify_chain(path: &Path) -> Result<ChainCheck, GateError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(ChainCheck {
                head: GENESIS.into(),
                ..ChainCheck::default()
            })
        }
        Err(e) => return Err(io("open", path)(e)),
    };
    let mut reader = std::io::BufReader::new(file);
    let mut out = ChainCheck {
        head: GENESIS.into(),
        ..ChainCheck::default()
    };
    let mut line = Vec::new();
    let mut n: u64 = 0;
    loop {
        line.clear();
        let got = (&mut reader)
            .take(MAX_RECORD_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(io("read", path))?;
        if got == 0 {
            break;
        }
        n += 1;
        if line.last() != Some(&b'\n') {
            if line.len() > MAX_RECORD_BYTES {
                out.problems
                    .push(format!("line {n}: longer than {MAX_RECORD_BYTES} bytes"));
                break;
            }
            out.problems.push(format!(
                "line {n}: incomplete final record ({} bytes, no newline): torn write or truncation",
                line.len()
            ));
            break;
        }
        let body = &line[..line.len() - 1];
        let hash = line_hash(body);
        match serde_json::from_slice::<Record>(body) {
            Ok(rec) => {
                if rec.seq != out.records {
                    out.problems.push(format!(
                        "line {n}: sequence number {} where {} was expected (record deleted, inserted or reordered)",
                        rec.seq, out.records
                    ));
                }
                if rec.prev != out.head {
                    out.problems.push(format!(
                        "line {n} (seq {}): previous-record hash does not match line {} (a record before it was edited, removed or moved)",
                        rec.seq,
                        n - 1
                    ));
                }
            }
            Err(e) => out
                .problems
                .push(format!("line {n}: not a valid audit record: {e}")),
        }
        out.records += 1;
        out.head = hash.clone();
        out.hashes.push(hash);
    }
    Ok(out)
}

/// Read every complete record (for status and recovery). Lines that do not parse are skipped;
/// use [`verify_chain`] to judge the log.
pub fn read_records(path: &Path) -> Result<Vec<Record>, GateError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("open", path)(e)),
    };
    let mut reader = std::io::BufReader::new(file);
    let mut out = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let got = (&mut reader)
            .take(MAX_RECORD_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(io("read", path))?;
        if got == 0 || line.last() != Some(&b'\n') {
            break;
        }
        if let Ok(r) = serde_json::from_slice::<Record>(&line[..line.len() - 1]) {
            out.push(r);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("log.jsonl");
        for i in 0..n {
            let mut r = Record::new("admit", "staged", "pol");
            r.bundle = Some(AuditBundle {
                sha256: format!("{i:064x}"),
                ..AuditBundle::default()
            });
            append(&p, r).unwrap();
        }
        (d, p)
    }

    fn lines(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn write_lines(p: &Path, l: &[String]) {
        std::fs::write(p, l.iter().map(|s| format!("{s}\n")).collect::<String>()).unwrap();
    }

    #[test]
    fn intact_chain_verifies() {
        let (_d, p) = log_with(5);
        let c = verify_chain(&p).unwrap();
        assert_eq!(c.records, 5);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(c.head, line_hash(lines(&p)[4].as_bytes()));
    }

    #[test]
    fn edit_delete_swap_insert_detected() {
        let (_d, p) = log_with(4);
        let orig = lines(&p);
        // edit
        let mut l = orig.clone();
        l[1] = l[1].replace("staged", "quarantined");
        write_lines(&p, &l);
        assert!(!verify_chain(&p).unwrap().problems.is_empty());
        // delete
        let mut l = orig.clone();
        l.remove(2);
        write_lines(&p, &l);
        assert!(!verify_chain(&p).unwrap().problems.is_empty());
        // swap
        let mut l = orig.clone();
        l.swap(1, 2);
        write_lines(&p, &l);
        assert!(!verify_chain(&p).unwrap().problems.is_empty());
        // insert a duplicate
        let mut l = orig.clone();
        l.insert(2, orig[1].clone());
        write_lines(&p, &l);
        assert!(!verify_chain(&p).unwrap().problems.is_empty());
        // untouched again: clean
        write_lines(&p, &orig);
        assert!(verify_chain(&p).unwrap().problems.is_empty());
    }

    #[test]
    fn torn_tail_is_repaired_and_recorded() {
        let (_d, p) = log_with(2);
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"seq\":2,\"ti").unwrap();
        drop(f);
        assert!(!verify_chain(&p).unwrap().problems.is_empty());
        let (r, _) = append(&p, Record::new("admit", "staged", "pol")).unwrap();
        assert_eq!(r.seq, 3);
        let c = verify_chain(&p).unwrap();
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let recs = read_records(&p).unwrap();
        assert_eq!(recs[2].event, "log-repair");
    }

    #[test]
    fn policy_change_is_recorded_once() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("log.jsonl");
        append(&p, Record::new("admit", "staged", "pol-a")).unwrap();
        append(&p, Record::new("admit", "staged", "pol-a")).unwrap();
        let (r, _) = append(&p, Record::new("admit", "staged", "pol-b")).unwrap();
        assert_eq!(r.seq, 3);
        append(&p, Record::new("admit", "staged", "pol-b")).unwrap();
        let recs = read_records(&p).unwrap();
        let events: Vec<&str> = recs.iter().map(|r| r.event.as_str()).collect();
        assert_eq!(events, ["admit", "admit", "trust", "admit", "admit"]);
        assert!(recs[2].reasons[0].contains("pol-a -> pol-b"));
        assert!(verify_chain(&p).unwrap().problems.is_empty());
    }

    #[test]
    fn torn_first_record_is_repaired() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("log.jsonl");
        std::fs::write(&p, b"{\"seq\":0,\"ti").unwrap();
        let (r, _) = append(&p, Record::new("admit", "staged", "pol")).unwrap();
        assert_eq!(r.seq, 1);
        let c = verify_chain(&p).unwrap();
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(c.records, 2);
    }

    #[test]
    fn findings_keep_no_message_or_value() {
        use crate::inspect::{Category, Severity};
        let f = Finding::new(
            "a.env",
            "secret.aws",
            Category::Secret,
            Severity::High,
            "AKIAEXAMPLESECRET found",
            b"AKIAEXAMPLESECRET",
        )
        .with_redacted("AKIA…");
        let r = Record::new("admit", "quarantined", "p").with_findings(&[f], &[]);
        let s = serde_json::to_string(&r).unwrap();
        assert!(!s.contains("AKIA"), "{s}");
        assert!(s.contains("secret.aws"));
    }
}
