//! The signed manifest: an in-toto Statement v1 listing every payload file, with an airgate
//! predicate (kind, name, version, created, publisher, sizes).

use super::dsse::Envelope;
use super::version::Version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// in-toto Statement v1 type URI.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The airgate predicate type.
pub const PREDICATE_TYPE: &str = "https://airgate.dev/bundle/v1";
/// DSSE payload type of the statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

pub use crate::vocab::KINDS;

/// One payload file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// Relative path inside the bundle, `/`-separated.
    pub name: String,
    /// `{"sha256": "<hex>"}`.
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    /// The hex SHA-256 digest, if present.
    pub fn sha256(&self) -> Option<&str> {
        self.digest.get("sha256").map(String::as_str)
    }
}

/// What the bundle is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Predicate {
    /// `weights`, `patch`, `dataset` or `trust`.
    pub kind: String,
    /// Bundle name (letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// Semantic version or plain integer (see [`Version`]).
    pub version: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// Free-form publisher name.
    pub publisher: String,
    /// Size in bytes of every subject, by name.
    pub sizes: BTreeMap<String, u64>,
}

/// The in-toto statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`](crate::bundle::STATEMENT_TYPE) (in-toto Statement v1).
    #[serde(rename = "_type")]
    pub type_: String,
    /// Every payload file: path, SHA-256 and size; the tar must hold exactly these.
    pub subject: Vec<Subject>,
    /// Always [`PREDICATE_TYPE`](crate::bundle::PREDICATE_TYPE).
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// Kind, name, version, publisher and creation time of the bundle.
    pub predicate: Predicate,
}

impl Statement {
    /// The statement `env` carries: its payload decoded and parsed as JSON. Neither
    /// authenticated nor checked (see [`Statement::check`]); the error says what failed.
    pub fn from_envelope(env: &Envelope) -> Result<Statement, String> {
        let payload = env.payload_bytes().map_err(|e| e.to_string())?;
        serde_json::from_slice(&payload).map_err(|e| e.to_string())
    }

    /// Structural checks: types, kinds, versions, one size per subject, hex digests.
    pub fn check(&self) -> Result<Version, String> {
        if self.type_ != STATEMENT_TYPE {
            return Err(format!(
                "statement _type is {:?}, expected {STATEMENT_TYPE}",
                self.type_
            ));
        }
        if self.predicate_type != PREDICATE_TYPE {
            return Err(format!(
                "predicateType is {:?}, expected {PREDICATE_TYPE}",
                self.predicate_type
            ));
        }
        let p = &self.predicate;
        if !KINDS.contains(&p.kind.as_str()) {
            return Err(format!("unknown artifact kind {:?}", p.kind));
        }
        if p.name.is_empty()
            || p.name.len() > 128
            || !p
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            || p.name.starts_with('.')
        {
            return Err(format!(
                "bundle name {:?} must be 1-128 characters of letters, digits, '-', '_', '.'",
                p.name
            ));
        }
        let version = Version::parse(&p.version)?;
        if p.sizes.len() != self.subject.len() {
            return Err("predicate sizes do not list exactly the subjects".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.subject {
            if !seen.insert(s.name.as_str()) {
                return Err(format!("subject {:?} is listed twice", s.name));
            }
            let Some(d) = s.sha256() else {
                return Err(format!("subject {:?} has no sha256 digest", s.name));
            };
            if d.len() != 64
                || !d
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            {
                return Err(format!(
                    "subject {:?} has a malformed sha256 digest",
                    s.name
                ));
            }
            if !p.sizes.contains_key(&s.name) {
                return Err(format!("subject {:?} has no size in the predicate", s.name));
            }
        }
        Ok(version)
    }
}
