//! The `[inspect]` section of a policy: rules, allowed hosts, waivers and nested-archive limits.

use super::rule_def::RuleDef;
use crate::vocab::Severity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Content inspection settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InspectPolicy {
    /// Domains (and their subdomains) that are inside the enclave: URLs to them are not reachback.
    pub internal_domains: Vec<String>,
    /// Folders of `*.toml` rule files (relative to the policy file). Empty: the built-in rules.
    pub rules_dirs: Vec<PathBuf>,
    /// Rule files beside the built-in rules (relative to the policy file): gitleaks
    /// configurations (`[[rules]]`) or airgate rule files (`[[rule]]`). `--rules` adds more.
    /// Their ids must be new: they add rules, never replace one.
    pub rule_files: Vec<PathBuf>,
    /// Rule ids switched off.
    pub disabled_rules: Vec<String>,
    /// Findings waived by fingerprint.
    pub waivers: Vec<Waiver>,
    /// Extra rules written inline (`[[inspect.rules]]`, same fields as a rule file's
    /// `[[rule]]`); an id already defined replaces that rule.
    pub rules: Vec<RuleDef>,
    /// Limits on nested archives and encodings (`[inspect.limits]`); defaults are safe.
    pub limits: NestLimits,
    /// Severity of `archive.uninspectable` per refused format (`[inspect.uninspectable]`,
    /// e.g. `iso9660 = "medium"`); formats not named stay high. Names: those in
    /// `inspect::formats::refuse::names()`. Budget cuts are never lowered.
    pub uninspectable: BTreeMap<String, Severity>,
}

/// A recorded decision to accept one finding.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// The finding's fingerprint.
    pub fingerprint: String,
    /// Who decided.
    pub who: String,
    /// Why.
    pub why: String,
}

/// Limits on nested containers and encodings, per payload file (`[inspect.limits]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NestLimits {
    /// Deepest nesting of archives/encodings inspected (a payload file is depth 0).
    pub max_depth: u32,
    /// Most archive members inspected inside one payload file, all levels together.
    pub max_members: u64,
    /// Most decoded bytes produced from one payload file, all levels together.
    pub max_expanded_bytes: u64,
    /// Largest decoded/encoded ratio of one compressed stream or member (past 16 MiB).
    pub max_ratio: u64,
    /// Largest zip archive held (in memory, then a temporary file) to read its members.
    pub max_spool_bytes: u64,
    /// Findings from nested scans held for one payload file (counted at every level they
    /// pass up through): past it the file is refused and the rest dropped, so memory stays
    /// bounded whatever an archive holds.
    pub max_findings: u64,
}

impl Default for NestLimits {
    fn default() -> Self {
        NestLimits {
            max_depth: 5,
            max_members: 100_000,
            max_expanded_bytes: 64 << 30,
            max_ratio: 200,
            max_spool_bytes: 8 << 30,
            max_findings: 250_000,
        }
    }
}
