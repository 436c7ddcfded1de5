//! The finding: one thing an inspector (or the verifier) saw, in the report schema.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Lowest; rejects only when the policy's `block_at` is `info`.
    Info,
    /// Rejects when `block_at` is `low` or below.
    Low,
    /// Rejects when `block_at` is `medium` or below.
    Medium,
    /// Rejects under the default policy (`block_at = "high"`).
    High,
    /// Highest: at or above every `block_at`, so it rejects unless waived.
    Critical,
}

impl Severity {
    /// Lower-case name as used in policies and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure a finding is that it saw what it names, beside how bad that would be
/// ([`Severity`]). Ordered: `Low < Medium < High`.
///
/// - `high`: the structure proves it: a token's prefix plus its checksum or exact shape, a
///   parsed file (a pickle's imports, a config's `auto_map`), a URL whose host parses and
///   lies outside the enclave.
/// - `medium`: a provider's keyword nearby and a value of the right shape.
/// - `low`: randomness alone (a high-entropy value under a generic name such as `token`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Randomness alone (see the type's notes).
    Low,
    /// A keyword nearby and a value of the right shape.
    Medium,
    /// The default: what a parser finds in a file's structure is a fact.
    #[default]
    High,
}

impl Confidence {
    /// Lower-case name as used in rule files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl std::fmt::Display for Confidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of problem a finding describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// An embedded credential.
    Secret,
    /// Configuration or code that would reach out of the enclave.
    Reachback,
    /// A file that executes code when loaded (pickle imports, Lambda layers, ...).
    Code,
    /// A file that is malformed, truncated or cannot be parsed safely.
    Format,
    /// A hostile or over-limit archive structure.
    Archive,
    /// Hash, size or file-set mismatch against the signed statement.
    Integrity,
    /// Signatures, keys, thresholds.
    Trust,
}

impl Category {
    /// Lower-case name as used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Secret => "secret",
            Category::Reachback => "reachback",
            Category::Code => "code",
            Category::Format => "format",
            Category::Archive => "archive",
            Category::Integrity => "integrity",
            Category::Trust => "trust",
        }
    }
}

/// One finding. Never carries a secret value: `redacted` holds at most a short prefix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Path inside the bundle; nesting is joined with `!`, e.g. `data/a.zip!inner/config.yaml`.
    pub path: String,
    /// Stable rule id, e.g. `secret.aws-access-key` or `pickle.global`.
    pub rule: String,
    /// What kind of problem: secret, reachback, code, integrity, ...
    pub category: Category,
    /// How bad; compared against the policy's `block_at`.
    pub severity: Severity,
    /// How sure the finding is (see [`Confidence`]); `high` unless a rule says otherwise.
    #[serde(default)]
    pub confidence: Confidence,
    /// What an operator should know, in one sentence.
    pub message: String,
    /// 1-based line number, where the input is text.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u64>,
    /// Byte offset in the (innermost decoded) file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub offset: Option<u64>,
    /// A redacted prefix of the matched value (secrets), never the whole value.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub redacted: Option<String>,
    /// Stable identifier for waivers: hex SHA-256 over rule, path and the matched value.
    pub fingerprint: String,
    /// Another file this one needs at load time (ONNX external tensor data), for the checks
    /// that look across a bundle's files.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub refers_to: Option<DataRef>,
    /// Further categories the same fact belongs to, beside `category`: a webhook URL is a
    /// credential and an address outside the enclave, reported once with both.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub also_categories: Vec<Category>,
}

/// Bytes of another file that a model reads when it loads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataRef {
    /// The file, as a path from the bundle's (or scanned folder's) root, `/`-separated.
    pub path: String,
    /// What reads it (e.g. the tensor's name).
    pub by: String,
    /// Where the read starts in that file, in bytes.
    pub offset: u64,
    /// Bytes read from `offset`; `None` for "to the end of the file".
    pub length: Option<u64>,
}

impl Finding {
    /// A finding whose fingerprint is derived from `rule`, `path` and `key`
    /// (the matched value for secrets, or any stable distinguishing text).
    pub fn new(
        path: impl Into<String>,
        rule: impl Into<String>,
        category: Category,
        severity: Severity,
        message: impl Into<String>,
        key: &[u8],
    ) -> Finding {
        let path = path.into();
        let rule = rule.into();
        let fingerprint = fingerprint(&rule, &path, key);
        Finding {
            path,
            rule,
            category,
            severity,
            confidence: Confidence::High,
            message: message.into(),
            line: None,
            offset: None,
            redacted: None,
            fingerprint,
            refers_to: None,
            also_categories: Vec::new(),
        }
    }

    /// Mark the finding as belonging to `category` too (no effect for its own category or
    /// one already listed).
    pub fn also_in(mut self, category: Category) -> Finding {
        if category != self.category && !self.also_categories.contains(&category) {
            self.also_categories.push(category);
        }
        self
    }

    /// Whether the finding belongs to `category` (its own or one of its further ones).
    pub fn in_category(&self, category: Category) -> bool {
        self.category == category || self.also_categories.contains(&category)
    }

    /// Every category of the finding, its own first.
    pub fn categories(&self) -> impl Iterator<Item = Category> + '_ {
        std::iter::once(self.category).chain(self.also_categories.iter().copied())
    }

    /// Set the byte offset.
    pub fn at_offset(mut self, offset: u64) -> Finding {
        self.offset = Some(offset);
        self
    }

    /// Set the confidence.
    pub fn with_confidence(mut self, confidence: Confidence) -> Finding {
        self.confidence = confidence;
        self
    }

    /// Set the 1-based line.
    pub fn at_line(mut self, line: u64) -> Finding {
        self.line = Some(line);
        self
    }

    /// Record the other file this one needs (see [`DataRef`]).
    pub fn referring_to(mut self, r: DataRef) -> Finding {
        self.refers_to = Some(r);
        self
    }

    /// Attach a redacted form of the matched value.
    pub fn with_redacted(mut self, redacted: impl Into<String>) -> Finding {
        self.redacted = Some(redacted.into());
        self
    }
}

/// Hex SHA-256 of `rule \0 path \0 key`, truncated to 32 hex digits.
pub fn fingerprint(rule: &str, path: &str, key: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(rule.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(key);
    let d = h.finalize();
    hex::encode(&d[..16])
}

/// Redact a secret: keep at most the first 4 characters (fewer for short values), then `…`.
pub fn redact(value: &[u8]) -> String {
    let keep = match value.len() {
        0..=7 => 0,
        8..=15 => 2,
        _ => 4,
    };
    let prefix: String = value[..keep]
        .iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect();
    format!("{prefix}…({} bytes)", value.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_orders() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Info < Severity::Low);
    }

    #[test]
    fn confidence_defaults_high_and_reads_old_reports() {
        let f = Finding::new("p", "r", Category::Code, Severity::High, "m", b"k");
        assert_eq!(f.confidence, Confidence::High);
        let low = f.clone().with_confidence(Confidence::Low);
        let v = serde_json::to_value(&low).unwrap();
        assert_eq!(v["confidence"], "low");
        // a report written before the field existed still reads, as high
        let mut old = serde_json::to_value(&f).unwrap();
        old.as_object_mut().unwrap().remove("confidence");
        let back: Finding = serde_json::from_value(old).unwrap();
        assert_eq!(back.confidence, Confidence::High);
        assert!(Confidence::Low < Confidence::Medium && Confidence::Medium < Confidence::High);
    }

    #[test]
    fn redact_never_shows_whole_value() {
        let r = redact(b"AKIA1234567890ABCDEF");
        assert!(r.starts_with("AKIA…"));
        assert!(!r.contains("1234567890"));
        assert_eq!(redact(b"short"), "…(5 bytes)");
    }

    #[test]
    fn a_finding_can_carry_two_categories() {
        let f = Finding::new("p", "r", Category::Secret, Severity::High, "m", b"k")
            .also_in(Category::Reachback)
            .also_in(Category::Reachback)
            .also_in(Category::Secret);
        assert_eq!(f.also_categories, vec![Category::Reachback]);
        assert!(f.in_category(Category::Secret) && f.in_category(Category::Reachback));
        assert!(!f.in_category(Category::Code));
        let json = serde_json::to_string(&f).unwrap();
        assert!(
            json.contains(r#""also_categories":["reachback"]"#),
            "{json}"
        );
        let back: Finding = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
        // the near miss: one category, no extra field in the report
        let plain = Finding::new("p", "r", Category::Secret, Severity::High, "m", b"k");
        assert!(!serde_json::to_string(&plain)
            .unwrap()
            .contains("also_categories"));
    }

    #[test]
    fn fingerprint_depends_on_all_parts() {
        let a = fingerprint("r", "p", b"k");
        assert_ne!(a, fingerprint("r", "p", b"k2"));
        assert_ne!(a, fingerprint("r2", "p", b"k"));
        assert_ne!(a, fingerprint("r", "p2", b"k"));
        assert_eq!(a.len(), 32);
    }
}
