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
//! Each of these modules is a namespace whose files are private: it re-exports what a caller
//! needs, so paths are one level deep ([`trust::PrivateKey`], [`bundle::pack`],
//! [`verify::verify`], [`decide::decide`], [`gate::admit`], [`report::render_sarif`]).
//! Signature formats whose items share names keep a namespace each ([`trust::minisign`],
//! [`trust::signify`], [`trust::sigstore`], [`trust::model_signing`]). The parsers of
//! untrusted bytes one by one, for fuzz targets and benchmarks, are in [`inspect::parts`];
//! verifying a bundle needs none of them.
//!
//! # Example
//!
//! Pack a folder into a bundle, sign it, then verify and decide on it offline with one
//! trusted key:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use airgate::bundle::{pack, PackOptions};
//! use airgate::decide::{decide, Decision};
//! use airgate::trust::{sign, PrivateKey, TrustStore};
//! use airgate::verify::{verify, Input, VerifyOptions};
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
//! let mut opts = VerifyOptions::new(&policy, &engine);
//! opts.trust = Some(&trust);
//! match decide(verify(Input::Bundle(&bundle), &opts)?, &policy) {
//!     Decision::Accept(accepted) => assert_eq!(accepted.bundle().name(), "demo"),
//!     Decision::Reject(report) => panic!("rejected: {:?}", report.reasons),
//! }
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

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

/// An error that knows its exit-code class. Every error the library hands back to a caller
/// implements it, so the command line maps errors to exit codes without knowing the
/// library's variants.
pub trait Classified {
    /// The class of this error (exit 1, 2 or 3).
    fn class(&self) -> ErrorClass;
}

#[cfg(test)]
mod classified_tests {
    use super::{Classified, ErrorClass};
    use crate::bundle::open::OpenError;
    use crate::bundle::pack::PackError;
    use crate::trust::keys::KeyError;
    use crate::trust::sign::SignError;
    use std::path::PathBuf;

    fn io() -> std::io::Error {
        std::io::Error::other("disk full")
    }

    #[test]
    fn each_error_says_whose_fault_it_is() {
        // the input is refused (1), the configuration is wrong (2), nothing was decided (3)
        let cases: Vec<(Box<dyn Classified>, ErrorClass)> = vec![
            (Box::new(OpenError::NotABundle), ErrorClass::Rejected),
            (
                Box::new(OpenError::Io {
                    path: "b".into(),
                    source: io(),
                }),
                ErrorClass::Operational,
            ),
            (
                Box::new(PackError::Exists(PathBuf::from("out"))),
                ErrorClass::Config,
            ),
            (
                Box::new(PackError::Changed(PathBuf::from("f"))),
                ErrorClass::Operational,
            ),
            (
                Box::new(KeyError::Exists(PathBuf::from("k"))),
                ErrorClass::Config,
            ),
            (
                Box::new(KeyError::Write {
                    path: "k".into(),
                    source: io(),
                }),
                ErrorClass::Operational,
            ),
            (
                Box::new(SignError::Invalid("b".into(), "truncated".into())),
                ErrorClass::Rejected,
            ),
            (
                Box::new(SignError::Io {
                    path: "b".into(),
                    source: io(),
                }),
                ErrorClass::Operational,
            ),
        ];
        for (e, class) in cases {
            assert_eq!(e.class(), class);
        }
    }
}
