//! The `[sigstore]` section of a policy: trusted roots and accepted signer identities.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Sigstore settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigstorePolicy {
    /// Path to a `trusted_root.json` (relative to the policy file).
    pub trusted_root: Option<PathBuf>,
}
