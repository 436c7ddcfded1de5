//! The `[inspect]` section of a policy: rules, allowed hosts, waivers and nested-archive limits.

use crate::inspect::nested::NestLimits;
use crate::inspect::text::rules::RuleDef;
use crate::inspect::Severity;
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
