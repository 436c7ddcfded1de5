//! airgate: a transfer-gate import verifier. Bytes flow one way through the modules, each
//! using only those before it (a test, `tests/module_graph.rs`, keeps it so):
//!
//! `util` → `vocab` (findings, verdict, report) → `policy` → `container` (tar, zstd,
//! folders, read safely) → `bundle` (statement, DSSE envelope) → `trust` (keys,
//! signatures, thresholds) → `inspect` (secrets, reachback, model and package formats) →
//! `verify` (hashes and sizes against the signed statement, inspection, in one pass) →
//! `decide` (the policy's verdict; the only maker of [`decide::Accepted`]) → `report`
//! (human, JSON, SARIF) → `gate` (stage, quarantine, audit, watch).
//!
//! # Example
//!
//! Pack a folder into a bundle, sign it, then verify and decide on it offline with one
//! trusted key:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use airgate::bundle::pack::{pack, PackOptions};
//! use airgate::decide::{decide, Decision};
//! use airgate::trust::{keys::PrivateKey, sign::sign, store::TrustStore};
//! use airgate::verify::{verify_bundle, VerifyOptions};
//! use airgate::{inspect, policy::Policy};
//!
//! let dir = tempfile::tempdir()?;
//! let model = dir.path().join("model");
//! std::fs::create_dir(&model)?;
//! std::fs::write(model.join("config.json"), br#"{"model_type": "llama"}"#)?;
//! let bundle = dir.path().join("model.tar.zst");
//! let opts = PackOptions {
//!     kind: "weights".into(),
//!     name: "demo".into(),
//!     version: "1.0.0".into(),
//!     publisher: "docs".into(),
//!     created: Some(0),
//!     zstd_level: Some(3),
//! };
//! pack(&model, &bundle, &opts)?;
//! let key = PrivateKey::generate();
//! sign(&bundle, &key)?;
//!
//! let policy = Policy::default();
//! let engine = inspect::build_engine(&policy)?;
//! let trust = TrustStore::ad_hoc(vec![key.public()], 1, &[]);
//! let mut verify = VerifyOptions::new(&policy, &engine);
//! verify.trust = Some(&trust);
//! match decide(verify_bundle(&bundle, &verify)?, &policy) {
//!     Decision::Accept(accepted) => assert_eq!(accepted.bundle().name(), "demo"),
//!     Decision::Reject(report) => panic!("rejected: {:?}", report.reasons),
//! }
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod bundle;
pub mod container;
pub mod decide;
pub mod gate;
pub mod inspect;
pub mod policy;
pub mod report;
pub mod trust;
pub mod util;
pub mod verify;
pub mod vocab;

/// How an error should be reported to a script: the process exit code contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The input was examined and refused (exit 1).
    Rejected,
    /// Usage or configuration is wrong: missing key file, bad policy (exit 2).
    Config,
    /// Operational failure where nothing was decided: I/O, disk full (exit 3).
    Operational,
}

impl ErrorClass {
    /// The process exit code for this class of error.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorClass::Rejected => 1,
            ErrorClass::Config => 2,
            ErrorClass::Operational => 3,
        }
    }
}
