//! What an inspection run read, per format, and what it could not read and why: the
//! report's `coverage` section, so a report tells "nothing found" from "nothing read".

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Entries listed under "not inspected"; past it only the total grows.
pub const MAX_LISTED: usize = 1000;

/// Counts for one format.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatCount {
    /// Payload files (depth 0) of this format.
    pub files: u64,
    /// Members and decoded streams (depth > 0) of this format.
    pub members: u64,
    /// Bytes of this format fed to inspection (a member's decoded bytes).
    pub bytes: u64,
}

/// Something that was not inspected, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// Where (`outer!inner` path).
    pub path: String,
    /// The rule of the finding that says so (e.g. `archive.uninspectable`).
    pub rule: String,
    /// The reason, as the finding gives it.
    pub reason: String,
}

/// What a run read: the report's `coverage` section.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageReport {
    /// Payload files inspected.
    pub files: u64,
    /// Archive members and decoded streams inspected, all levels together.
    pub members: u64,
    /// Bytes produced by decompression and decoding layers.
    pub bytes_decoded: u64,
    /// Per format name.
    pub formats: BTreeMap<String, FormatCount>,
    /// Places whose content was not (fully) inspected; at most 1000 listed (`MAX_LISTED`).
    pub not_inspected: Vec<Skipped>,
    /// How many there were in all (may exceed the list).
    pub not_inspected_total: u64,
}

impl CoverageReport {
    /// Fold another run's coverage into this one.
    pub fn merge(&mut self, other: &CoverageReport) {
        self.files += other.files;
        self.members += other.members;
        self.bytes_decoded += other.bytes_decoded;
        for (k, v) in &other.formats {
            let e = self.formats.entry(k.clone()).or_default();
            e.files += v.files;
            e.members += v.members;
            e.bytes += v.bytes;
        }
        for s in &other.not_inspected {
            if self.not_inspected.len() < MAX_LISTED {
                self.not_inspected.push(s.clone());
            }
        }
        self.not_inspected_total += other.not_inspected_total;
    }
}

/// Rules whose findings mean some content was not read.
const UNREAD_RULES: &[&str] = &[
    "archive.uninspectable",
    "archive.too-large",
    "archive.ratio",
    "archive.too-deep",
    "archive.too-many-members",
    "archive.too-many-findings",
    "archive.too-large-window",
    "archive.too-large-to-open",
    "archive.undecodable",
    "archive.spool-failed",
    "archive.member-unreadable",
    "archive.corrupt",
];

/// Whether a finding with `rule` says that content went unread (see [`Coverage`]).
pub fn means_unread(rule: &str) -> bool {
    UNREAD_RULES.contains(&rule) || rule.ends_with(".too-large-to-check")
}
