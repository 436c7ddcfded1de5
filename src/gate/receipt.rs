//! The receipt written beside every staged tree (`<version>/receipt.json`, payload under
//! `<version>/files/`), signed by the gate's audit key, and `reverify`: re-hash a staged tree
//! against its receipt and list changed, added and missing files.

use super::fsutil::io;
use super::GateError;
use crate::bundle::Statement;
use crate::inspect::Finding;
use crate::trust::keys::{PrivateKey, PublicKey};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Receipt format tag.
pub const FORMAT: &str = "airgate-receipt/v1";
/// File name of the receipt inside a staged version folder.
pub const RECEIPT_FILE: &str = "receipt.json";
/// Folder holding the payload inside a staged version folder.
pub const PAYLOAD_DIR: &str = "files";
/// Largest receipt read.
const MAX_RECEIPT_BYTES: u64 = 512 << 20;
/// Most entries walked in a staged tree.
const MAX_TREE_ENTRIES: usize = 2_000_000;
/// Deepest folder nesting walked.
const MAX_TREE_DEPTH: usize = 64;

/// The receipt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Always `airgate-receipt/v1`.
    pub format: String,
    /// Hex SHA-256 of the bundle file as received.
    pub bundle_sha256: String,
    /// The bundle's file name as it arrived.
    pub bundle_file: String,
    /// `<device>:<inode>:<birth ns>` of the arrived file, so a restart can tell the same file left over
    /// from an interrupted run (finish it) from a second copy (a replay).
    #[serde(default)]
    pub arrival_id: String,
    /// Artifact kind from the signed statement.
    pub kind: String,
    /// Bundle name from the signed statement.
    pub name: String,
    /// Version from the signed statement.
    pub version: String,
    /// The signed statement (lists every payload file, its digest and size).
    pub statement: Statement,
    /// Key ids whose signatures counted.
    pub signers: Vec<String>,
    /// Findings below the blocking severity, and waived ones.
    pub findings: Vec<Finding>,
    /// Findings a policy waiver cleared.
    #[serde(default)]
    pub waived: Vec<Finding>,
    /// Hex SHA-256 of the policy file that decided.
    pub policy_sha256: String,
    /// RFC 3339 time of staging.
    pub staged_at: String,
    /// `airgate <version>`.
    pub tool: String,
    /// Key id of the gate audit key that signed this receipt.
    pub gate_key_id: String,
    /// Base64 Ed25519 signature by the gate key over the receipt with this field empty.
    #[serde(default)]
    pub gate_signature: String,
}

/// Where an accepted bundle came from, as the receipt records it.
pub struct Arrival<'a> {
    /// Hex SHA-256 of the bundle file.
    pub sha256: &'a str,
    /// The file name as it arrived.
    pub file_name: &'a str,
    /// See [`Receipt::arrival_id`].
    pub arrival_id: &'a str,
}

impl Receipt {
    /// A receipt for `acc`, staged as `version` at `staged_at`, with the findings that did
    /// not block it, signed with the gate key.
    pub fn signed(
        acc: &super::admissible::Admissible,
        arrival: &Arrival<'_>,
        version: &str,
        findings: (&[Finding], &[Finding]),
        policy_sha256: String,
        staged_at: &str,
        key: &PrivateKey,
    ) -> Receipt {
        let mut r = Receipt {
            format: FORMAT.into(),
            bundle_sha256: arrival.sha256.to_string(),
            bundle_file: arrival.file_name.to_string(),
            arrival_id: arrival.arrival_id.to_string(),
            kind: acc.kind().to_string(),
            name: acc.name().to_string(),
            version: version.to_string(),
            statement: acc.statement().clone(),
            signers: acc.signers().to_vec(),
            findings: findings.0.to_vec(),
            waived: findings.1.to_vec(),
            policy_sha256,
            staged_at: staged_at.to_string(),
            tool: format!("airgate {}", env!("CARGO_PKG_VERSION")),
            gate_key_id: String::new(),
            gate_signature: String::new(),
        };
        r.sign(key);
        r
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let mut unsigned = self.clone();
        unsigned.gate_signature = String::new();
        serde_json::to_vec(&unsigned).unwrap_or_default()
    }

    /// Sign with the gate key (sets `gate_key_id` and `gate_signature`).
    pub(crate) fn sign(&mut self, key: &PrivateKey) {
        self.gate_key_id = key.public().id().to_string();
        self.gate_signature = String::new();
        let sig = key.sign(&self.signed_bytes());
        self.gate_signature = base64::engine::general_purpose::STANDARD.encode(sig);
    }

    /// Whether the gate signature verifies with `key`.
    pub fn signature_ok(&self, key: &PublicKey) -> bool {
        key.id() == self.gate_key_id
            && base64::engine::general_purpose::STANDARD
                .decode(self.gate_signature.as_bytes())
                .map(|sig| key.verify(&self.signed_bytes(), &sig))
                .unwrap_or(false)
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// Read `<dir>/receipt.json`.
    pub fn load(staged_dir: &Path) -> Result<Receipt, GateError> {
        let path = staged_dir.join(RECEIPT_FILE);
        let bytes = match crate::util::read_file_bounded(&path, MAX_RECEIPT_BYTES) {
            Ok(b) => b,
            Err(e) if crate::util::is_too_large(&e) => {
                return Err(GateError::Damaged {
                    path,
                    message: e.to_string(),
                })
            }
            Err(e) => return Err(io("read receipt", &path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| GateError::Damaged {
            path,
            message: format!("not a receipt: {e}"),
        })
    }
}

/// What `reverify` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Reverify {
    /// The staged version folder checked.
    pub staged_dir: String,
    /// Hex SHA-256 of the bundle, from the receipt.
    pub bundle_sha256: String,
    /// Files whose content or size differs from the statement.
    pub changed: Vec<String>,
    /// Files in the tree the statement does not list.
    pub added: Vec<String>,
    /// Files the statement lists that are not in the tree.
    pub missing: Vec<String>,
    /// Other problems: modes, entry types, receipt signature.
    pub problems: Vec<String>,
    /// `verified`, `bad`, or `not-checked` (no gate key found).
    pub receipt_signature: String,
    /// Payload files hashed.
    pub files_checked: u64,
    /// Payload bytes hashed.
    pub bytes_checked: u64,
}

impl Reverify {
    /// True when nothing differs.
    pub fn clean(&self) -> bool {
        self.changed.is_empty()
            && self.added.is_empty()
            && self.missing.is_empty()
            && self.problems.is_empty()
            && self.receipt_signature != "bad"
    }
}

/// The gate a staged folder lives in (`GATE/staging/<kind>/<name>/<version>`), if any.
pub fn gate_of(staged_dir: &Path) -> Option<PathBuf> {
    let root = staged_dir.parent()?.parent()?.parent()?.parent()?;
    root.join(super::layout::CONFIG_FILE)
        .is_file()
        .then(|| root.to_path_buf())
}

/// Re-hash a staged tree against its receipt. `key` checks the receipt's gate signature.
pub fn reverify(staged_dir: &Path, key: Option<&PublicKey>) -> Result<Reverify, GateError> {
    let receipt = Receipt::load(staged_dir)?;
    let mut out = Reverify {
        staged_dir: staged_dir.display().to_string(),
        bundle_sha256: receipt.bundle_sha256.clone(),
        receipt_signature: match key {
            None => "not-checked".into(),
            Some(k) if receipt.signature_ok(k) => "verified".into(),
            Some(_) => "bad".into(),
        },
        ..Reverify::default()
    };
    if out.receipt_signature == "bad" {
        out.problems
            .push("the receipt's gate signature does not verify: the receipt was changed".into());
    }
    let mut expected: BTreeMap<&str, (&str, Option<u64>)> = BTreeMap::new();
    for s in &receipt.statement.subject {
        let size = receipt.statement.predicate.sizes.get(&s.name).copied();
        expected.insert(s.name.as_str(), (s.sha256().unwrap_or(""), size));
    }
    let root = staged_dir.join(PAYLOAD_DIR);
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    walk(&root, "", 0, &mut found, &mut out.problems)?;
    let mut seen = std::collections::BTreeSet::new();
    for (rel, path) in found {
        let Some((digest, size)) = expected.get(rel.as_str()) else {
            out.added.push(rel);
            continue;
        };
        seen.insert(rel.clone());
        let (got, len) = crate::util::hash_file(&path).map_err(io("read", &path))?;
        out.files_checked += 1;
        out.bytes_checked += len;
        if got != *digest || size.is_some_and(|s| s != len) {
            out.changed.push(rel);
        }
    }
    for name in expected.keys() {
        if !seen.contains(*name) {
            out.missing.push((*name).to_string());
        }
    }
    Ok(out)
}

fn walk(
    dir: &Path,
    prefix: &str,
    depth: usize,
    out: &mut Vec<(String, PathBuf)>,
    problems: &mut Vec<String>,
) -> Result<(), GateError> {
    use std::os::unix::fs::PermissionsExt;
    if depth > MAX_TREE_DEPTH {
        problems.push(format!("{prefix}: nested deeper than {MAX_TREE_DEPTH}"));
        return Ok(());
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && depth == 0 => {
            problems.push(format!("payload folder {} is missing", dir.display()));
            return Ok(());
        }
        Err(e) => return Err(io("read", dir)(e)),
    };
    let mut names = Vec::new();
    for e in entries {
        names.push(e.map_err(io("read", dir))?);
        if out.len() + names.len() > MAX_TREE_ENTRIES {
            problems.push(format!("more than {MAX_TREE_ENTRIES} entries; stopped"));
            return Ok(());
        }
    }
    names.sort_by_key(|e| e.file_name());
    for e in names {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let meta = std::fs::symlink_metadata(&path).map_err(io("stat", &path))?;
        let mode = meta.permissions().mode();
        if mode & 0o6000 != 0 {
            problems.push(format!("{rel}: setuid/setgid bit set"));
        }
        if meta.is_dir() {
            walk(&path, &rel, depth + 1, out, problems)?;
        } else if meta.is_file() {
            if mode & 0o222 != 0 {
                problems.push(format!("{rel}: writable (staged files are read-only)"));
            }
            out.push((rel, path));
        } else {
            problems.push(format!("{rel}: not a regular file or folder"));
        }
    }
    Ok(())
}
