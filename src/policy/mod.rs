//! The gate policy (TOML): which keys are trusted for which artifact kind, the limits on
//! hostile input, how inspection runs and which severity blocks. Unknown fields are errors.

pub(crate) mod inspect;
pub(crate) mod rule_def;
pub(crate) mod sigstore;

use crate::vocab::Severity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use inspect::{InspectPolicy, NestLimits, Waiver};
pub use rule_def::{Check, RuleCategory, RuleDef};
pub use sigstore::{IdentityRule, KindPath, SigstorePolicy};

/// Errors loading or checking a policy. All are configuration errors (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy file could not be read (exit class configuration).
    #[error("cannot read policy {path}: {source}")]
    Read {
        /// The policy file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the policy's schema (unknown keys are refused).
    #[error("policy {path} is not valid: {message}")]
    Parse {
        /// The policy file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The policy parses but contradicts itself (a threshold above its key count, an unknown
    /// key name); the reason.
    #[error("policy is inconsistent: {0}")]
    Invalid(String),
}

/// A whole policy file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Limits on bundle structure; defaults are safe.
    #[serde(default)]
    pub limits: Limits,
    /// Public keys the policy may name, by name.
    #[serde(default)]
    pub keys: Vec<KeyEntry>,
    /// Per artifact kind (`weights`, `patch`, `dataset`, `trust`): keys and threshold.
    #[serde(default)]
    pub trust: BTreeMap<String, KindTrust>,
    /// Key ids (hex SHA-256 of the DER public key) that never count, whatever else says.
    #[serde(default)]
    pub revoked: Vec<String>,
    /// How findings map to a verdict.
    #[serde(default)]
    pub decide: DecidePolicy,
    /// Content inspection settings.
    #[serde(default)]
    pub inspect: InspectPolicy,
    /// Sigstore trust roots and identities (see `trust::sigstore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigstore: Option<SigstorePolicy>,
    /// Directory relative paths in this policy resolve against (the policy file's folder).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// Structural limits on a bundle (and on archives nested in it).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Most tar entries (files and directories) in a bundle.
    pub max_entries: u64,
    /// Most payload bytes, after decompression.
    pub max_total_bytes: u64,
    /// Largest single payload file.
    pub max_file_bytes: u64,
    /// Largest ratio of decompressed to compressed bytes.
    pub max_ratio: u64,
    /// Largest signed envelope (JSON) at the front of the bundle.
    pub max_envelope_bytes: u64,
    /// Longest path, in bytes.
    pub max_path_bytes: usize,
    /// Deepest directory nesting in a path.
    pub max_path_depth: usize,
    /// Admit bundles whose names differ only by case or Unicode normalisation (NFC/NFD),
    /// which become one file on macOS and Windows file systems. Refused by default.
    pub allow_name_collisions: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 200_000,
            max_total_bytes: 1 << 40,
            max_file_bytes: 1 << 40,
            max_ratio: 1000,
            max_envelope_bytes: 32 << 20,
            max_path_bytes: 1024,
            max_path_depth: 32,
            allow_name_collisions: false,
        }
    }
}

/// A public key the policy can name.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Name used in `trust.<kind>.keys`.
    pub name: String,
    /// Path to the public key file (relative to the policy file).
    pub path: PathBuf,
    /// Optional expected key id; loading fails if the file's key id differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// RFC 3339 time after which signatures by this key no longer count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// Which keys may sign an artifact kind, and how many must.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindTrust {
    /// Key names (from `[[keys]]`) or key ids.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Distinct trusted signers required.
    pub threshold: usize,
    /// Also count Sigstore bundles carried in a native bundle's envelope: each distinct
    /// signer that `[sigstore]` allows for this kind (certificate identity, or managed key)
    /// counts once towards `threshold`.
    #[serde(default)]
    pub sigstore: bool,
    /// `weights` only: admit an OpenSSF-signed model tar on its one signature even though
    /// `threshold` is above 1. Without it such a policy refuses model tars, since a model
    /// signature has exactly one signer and cannot meet the threshold.
    #[serde(default)]
    pub single_model_signature: bool,
}

/// How findings become a verdict.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecidePolicy {
    /// Findings at or above this severity reject the bundle.
    pub block_at: Severity,
}

impl Default for DecidePolicy {
    fn default() -> Self {
        DecidePolicy {
            block_at: Severity::High,
        }
    }
}

impl Policy {
    /// Load and check a policy file. Relative paths inside it resolve against its folder.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut p = Policy::from_toml(&text).map_err(|e| match e {
            PolicyError::Parse { message, .. } => PolicyError::Parse {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })?;
        p.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(p)
    }

    /// Parse policy text and check it for consistency.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let p: Policy = toml::from_str(text).map_err(|e| PolicyError::Parse {
            path: PathBuf::from("<text>"),
            message: e.to_string(),
        })?;
        p.check()?;
        Ok(p)
    }

    /// Consistency checks that do not need the key files: every entry must mean what it
    /// says (known artifact kinds, full key ids in `revoked`, no key listed twice, thresholds
    /// that the listed keys can meet). The checks that need the key files (two names for one
    /// key, revoked keys a threshold depends on) are made when the trust store is built.
    pub fn check(&self) -> Result<(), PolicyError> {
        for (i, r) in self.revoked.iter().enumerate() {
            if !is_key_id(r) {
                return Err(PolicyError::Invalid(format!(
                    "revoked[{i}] = {r:?} is not a key id: give the full 64-hex-digit id \
                     (`airgate policy check` or `airgate keygen` prints it); a prefix or a \
                     name revokes nothing"
                )));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for k in &self.keys {
            if !names.insert(k.name.as_str()) {
                return Err(PolicyError::Invalid(format!(
                    "key name {:?} appears twice",
                    k.name
                )));
            }
            if let Some(e) = &k.expires {
                crate::util::parse_time(e).map_err(|m| {
                    PolicyError::Invalid(format!("key {:?}: expires {e:?}: {m}", k.name))
                })?;
            }
        }
        if let Some(s) = &self.sigstore {
            s.check().map_err(PolicyError::Invalid)?;
        }
        for r in &self.inspect.disabled_rules {
            if ["archive.", "bundle.", "trust.", "integrity."]
                .iter()
                .any(|p| r.starts_with(p))
            {
                return Err(PolicyError::Invalid(format!(
                    "inspect.disabled_rules names {r:?}: findings about a bundle's \
                     authenticity and structure, and about content that could not be read, \
                     cannot be switched off (lower a refused format's severity under \
                     [inspect.uninspectable] instead)"
                )));
            }
        }
        for (kind, t) in &self.trust {
            if !crate::vocab::KINDS.contains(&kind.as_str()) {
                return Err(PolicyError::Invalid(format!(
                    "[trust.{kind}]: unknown artifact kind {kind:?}; the kinds are {}",
                    crate::vocab::KINDS.join(", ")
                )));
            }
            let mut listed = std::collections::BTreeSet::new();
            for k in &t.keys {
                if !listed.insert(k.to_ascii_lowercase()) {
                    return Err(PolicyError::Invalid(format!(
                        "trust.{kind}.keys lists {k:?} twice: a key counts once towards a \
                         threshold, so a repeated entry only hides a smaller key set"
                    )));
                }
            }
            if t.threshold == 0 {
                return Err(PolicyError::Invalid(format!(
                    "trust.{kind}.threshold is 0: a threshold must be at least 1"
                )));
            }
            if t.single_model_signature && kind != "weights" {
                return Err(PolicyError::Invalid(format!(
                    "trust.{kind}.single_model_signature: only kind \"weights\" admits \
                     OpenSSF-signed model tars"
                )));
            }
            if t.sigstore {
                let signers = self.sigstore.as_ref().map_or(0, |s| {
                    s.identities_for(kind).count() + s.keys_for(kind).count()
                });
                if self
                    .sigstore
                    .as_ref()
                    .is_none_or(|s| s.trusted_root.is_none())
                    || signers == 0
                {
                    return Err(PolicyError::Invalid(format!(
                        "trust.{kind}.sigstore is true, but [sigstore] names no trusted_root \
                         or no identity or key for kind {kind:?}"
                    )));
                }
            } else if t.threshold > t.keys.len() {
                return Err(PolicyError::Invalid(format!(
                    "trust.{kind}.threshold is {} but only {} keys are listed",
                    t.threshold,
                    t.keys.len()
                )));
            }
        }
        Ok(())
    }

    /// Resolve a path written in the policy.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// SHA-256 (hex) of the policy as serialised: recorded in reports and the audit log.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let text = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(&text))
    }
}

/// Whether `s` is a full key id: 64 hex digits (SHA-256 of the DER public key).
pub fn is_key_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl crate::Classified for PolicyError {
    /// A policy that cannot be read or used is a configuration error.
    fn class(&self) -> crate::ErrorClass {
        crate::ErrorClass::Config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_policy_trusts_nothing() {
        let p = Policy::from_toml("").unwrap();
        assert!(p.trust.is_empty());
        assert_eq!(p.decide.block_at, Severity::High);
    }

    #[test]
    fn unknown_field_is_an_error() {
        assert!(Policy::from_toml("[decide]\nblock_at = \"high\"\nfoo = 1\n").is_err());
        assert!(Policy::from_toml("bogus = 1\n").is_err());
    }

    #[test]
    fn single_model_signature_is_for_weights_only() {
        let weights = "[[keys]]\nname = \"a\"\npath = \"a.pub\"\n[[keys]]\nname = \"b\"\npath = \"b.pub\"\n\
                       [trust.weights]\nkeys = [\"a\", \"b\"]\nthreshold = 2\nsingle_model_signature = true\n";
        let p = Policy::from_toml(weights).expect("valid for weights");
        assert!(p.trust["weights"].single_model_signature);
        let patch = weights.replace("trust.weights", "trust.patch");
        let e = Policy::from_toml(&patch).expect_err("patch takes no model tars");
        assert!(e.to_string().contains("single_model_signature"), "{e}");
    }

    #[test]
    fn threshold_checks() {
        let zero = "[trust.weights]\nkeys = [\"a\"]\nthreshold = 0\n";
        assert!(matches!(
            Policy::from_toml(zero),
            Err(PolicyError::Invalid(_))
        ));
        let over = "[trust.weights]\nkeys = [\"a\"]\nthreshold = 2\n";
        assert!(matches!(
            Policy::from_toml(over),
            Err(PolicyError::Invalid(_))
        ));
    }
}
