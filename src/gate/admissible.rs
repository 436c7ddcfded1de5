//! [`Admissible`]: the one value staging, the receipt and the audit record take. Only an
//! accepted decision ([`decide::Accepted`](crate::decide::Accepted), which only `verify` and
//! `decide` can make) or, when a crash is resumed, the gate's own signed receipt can produce
//! it, so no library caller can stage bytes that were never verified.
//!
//! A library user can neither write one out nor call a constructor:
//!
//! ```compile_fail,E0451
//! use airgate::bundle::{Statement, Version};
//! fn forge(statement: Statement) -> airgate::gate::Admissible {
//!     airgate::gate::Admissible {
//!         statement,
//!         version: Version::Integer(1),
//!         signers: vec![],
//!         payload: None,
//!     }
//! }
//! ```
//!
//! ```compile_fail,E0624
//! fn forge(acc: airgate::decide::Accepted) -> airgate::gate::Admissible {
//!     airgate::gate::Admissible::from_accepted(acc).0
//! }
//! ```
//!
//! and cannot stand in a verifier of its own for `admit` (the trait is sealed):
//!
//! ```compile_fail,E0277
//! use airgate::gate::verifier::{Candidate, Verifier};
//! struct Yes;
//! impl Verifier for Yes {
//!     fn check(
//!         &self,
//!         _: &std::path::Path,
//!         _: &airgate::policy::Policy,
//!         _: Option<&airgate::trust::store::TrustStore>,
//!         _: Option<&std::path::Path>,
//!         _: i64,
//!         _: Option<&std::sync::atomic::AtomicBool>,
//!     ) -> Result<Candidate, airgate::gate::GateError> {
//!         unimplemented!()
//!     }
//! }
//! ```
//!
//! Reading one is open to everyone:
//!
//! ```
//! fn describe(a: &airgate::gate::Admissible) -> String {
//!     format!("{}/{}/{} signed by {:?}", a.kind(), a.name(), a.version_label(), a.signers())
//! }
//! ```

use super::receipt::{Receipt, PAYLOAD_DIR};
use super::GateError;
use crate::bundle::{Statement, Version};
use crate::report::Report;
use crate::trust::keys::PublicKey;
use std::path::{Path, PathBuf};

/// A bundle the gate may stage: verified and accepted, with the payload tree verification
/// extracted and hashed. Not `Clone`, no public fields, no public constructor.
#[derive(Debug)]
pub struct Admissible {
    statement: Statement,
    version: Version,
    /// Key ids (or signer identities) whose signatures counted.
    signers: Vec<String>,
    /// The payload folder as verification wrote it (`<tree>/files`), when it extracted one.
    payload: Option<PathBuf>,
}

impl Admissible {
    /// The accepted bundle, and its report.
    pub(super) fn from_accepted(acc: crate::decide::Accepted) -> (Admissible, Report) {
        let (vb, report) = acc.into_parts();
        let adm = Admissible {
            version: vb.version().clone(),
            signers: vb.signers().to_vec(),
            payload: vb.extracted().map(Path::to_path_buf),
            statement: vb.statement().clone(),
        };
        (adm, report)
    }

    /// The bundle an interrupted run staged, from the receipt it published there, which must
    /// carry this gate's signature. Nothing is staged from it (the tree is already staged).
    pub(super) fn resumed(
        receipt: Receipt,
        dest: &Path,
        gate_key: &PublicKey,
    ) -> Result<Admissible, GateError> {
        let damaged = |message: String| GateError::Damaged {
            path: dest.to_path_buf(),
            message,
        };
        if !receipt.signature_ok(gate_key) {
            return Err(damaged(
                "its receipt is not signed by this gate's audit key".into(),
            ));
        }
        let version = receipt.statement.check().map_err(damaged)?;
        Ok(Admissible {
            statement: receipt.statement,
            version,
            signers: receipt.signers,
            payload: None,
        })
    }

    /// A stand-in for tests of the gate's own steps.
    #[cfg(test)]
    pub(super) fn for_test(
        statement: Statement,
        version: Version,
        signers: Vec<String>,
        payload: Option<PathBuf>,
    ) -> Admissible {
        Admissible {
            statement,
            version,
            signers,
            payload,
        }
    }

    /// The verified statement (every payload file, its digest and size).
    pub fn statement(&self) -> &Statement {
        &self.statement
    }
    /// The ordered version (0 for model-signed trees, which have none).
    pub fn version(&self) -> &Version {
        &self.version
    }
    /// The version as the statement spells it (the staging folder name).
    pub fn version_label(&self) -> &str {
        &self.statement.predicate.version
    }
    pub fn kind(&self) -> &str {
        &self.statement.predicate.kind
    }
    pub fn name(&self) -> &str {
        &self.statement.predicate.name
    }
    /// Key ids (or signer identities) whose signatures counted.
    pub fn signers(&self) -> &[String] {
        &self.signers
    }

    /// The tree to stage: the folder holding the payload verification extracted (as
    /// `files/`). An error when verification extracted nothing.
    pub(super) fn tree(&self) -> Result<&Path, GateError> {
        let not_extracted = || GateError::Damaged {
            path: self.payload.clone().unwrap_or_default(),
            message: "verification extracted no payload tree for this bundle: nothing to stage"
                .into(),
        };
        let payload = self.payload.as_deref().ok_or_else(not_extracted)?;
        if payload.file_name() != Some(std::ffi::OsStr::new(PAYLOAD_DIR)) {
            return Err(not_extracted());
        }
        payload.parent().ok_or_else(not_extracted)
    }
}
