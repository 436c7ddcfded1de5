//! The shared vocabulary of the pipeline, depending on nothing else in the crate: findings
//! and their severity and category, the verdict, the report and its signature and coverage
//! sections, and the artifact kinds. Every layer above speaks in these types.

pub(crate) mod coverage;
pub(crate) mod finding;
pub(crate) mod report;

pub use coverage::{CoverageReport, FormatCount, Skipped};
pub use finding::{fingerprint, redact, Category, Confidence, DataRef, Finding, Severity};
pub use report::{BundleInfo, Report, SignatureReport, SignatureStatus, Timings, ToolInfo};
use serde::{Deserialize, Serialize};

/// Artifact kinds a bundle can carry; each has its own trust section in the policy.
pub const KINDS: &[&str] = &["weights", "patch", "dataset", "trust"];

/// The outcome a script sees: exit 0 for accept, 1 for reject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check passed; the bundle may be staged.
    Accept,
    /// Some check failed; `reasons` says which.
    Reject,
}
