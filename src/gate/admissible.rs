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
//!         rotation: None,
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
//! use airgate::gate::{Candidate, Verifier};
//! struct Yes;
//! impl Verifier for Yes {
//!     fn check(
//!         &self,
//!         _: &std::path::Path,
//!         _: &airgate::policy::Policy,
//!         _: Option<&airgate::trust::TrustStore>,
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
use crate::trust::rotation::Rotated;
use crate::verify::Evidence;
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
    /// For a trust rotation: the trust it installs, as verification authenticated it.
    rotation: Option<Box<Rotated>>,
}

impl Admissible {
    /// The accepted bundle, and its report.
    pub(super) fn from_accepted(acc: crate::decide::Accepted) -> (Admissible, Report) {
        let (vb, report) = acc.into_parts();
        let (statement, version, signers, payload, evidence) = vb.into_parts();
        let adm = Admissible {
            statement,
            version,
            signers,
            payload,
            rotation: match evidence {
                Evidence::TrustRotation { rotated, .. } => Some(rotated),
                _ => None,
            },
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
            rotation: None,
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
            rotation: None,
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
    /// Artifact kind from the signed statement.
    pub fn kind(&self) -> &str {
        &self.statement.predicate.kind
    }
    /// Bundle name from the signed statement.
    pub fn name(&self) -> &str {
        &self.statement.predicate.name
    }
    /// Key ids (or signer identities) whose signatures counted.
    pub fn signers(&self) -> &[String] {
        &self.signers
    }

    /// For an accepted trust rotation: the trust to put in place (`None` otherwise, and for
    /// a resumed one, whose trust the gate reads back from what it staged).
    pub(super) fn rotation(&self) -> Option<&Rotated> {
        self.rotation.as_deref()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::statement::{Predicate, Subject, PREDICATE_TYPE, STATEMENT_TYPE};
    use crate::trust::keys::PrivateKey;
    use std::collections::BTreeMap;

    fn statement(version: &str) -> Statement {
        Statement {
            type_: STATEMENT_TYPE.into(),
            subject: vec![Subject {
                name: "trust.toml".into(),
                digest: BTreeMap::from([("sha256".to_string(), "00".repeat(32))]),
            }],
            predicate_type: PREDICATE_TYPE.into(),
            predicate: Predicate {
                kind: "trust".into(),
                name: "root".into(),
                version: version.into(),
                created: "2026-01-01T00:00:00Z".into(),
                publisher: "t".into(),
                sizes: BTreeMap::from([("trust.toml".to_string(), 1)]),
            },
        }
    }

    fn receipt(key: &PrivateKey) -> Receipt {
        let acc = Admissible::for_test(
            statement("2"),
            Version::parse("2").unwrap(),
            vec!["a".into(), "b".into()],
            None,
        );
        let arrival = super::super::receipt::Arrival {
            sha256: "ab",
            file_name: "t.bundle",
            arrival_id: "1:2:3",
        };
        Receipt::signed(&acc, &arrival, "2", (&[], &[]), String::new(), "t", key)
    }

    #[test]
    fn a_resume_takes_only_the_gates_own_signed_receipt() {
        let gate = PrivateKey::generate();
        let dest = Path::new("/g/staging/trust/root/2");
        let acc = Admissible::resumed(receipt(&gate), dest, &gate.public()).unwrap();
        assert_eq!(
            (acc.kind(), acc.name(), acc.version_label()),
            ("trust", "root", "2")
        );
        assert_eq!(acc.signers(), ["a", "b"]);
        // nothing to stage from a resume: the tree is already published
        assert!(matches!(acc.tree(), Err(GateError::Damaged { .. })));

        // a receipt signed by another key, or edited after signing, is not the gate's own
        let other = PrivateKey::generate();
        let e = Admissible::resumed(receipt(&other), dest, &gate.public()).unwrap_err();
        assert!(e.to_string().contains("not signed by this gate"), "{e}");
        let mut edited = receipt(&gate);
        edited.signers.push("mallory".into());
        assert!(Admissible::resumed(edited, dest, &gate.public()).is_err());
    }

    #[test]
    fn the_tree_to_stage_is_the_folder_verification_extracted_into() {
        let st = || statement("1");
        let v = || Version::parse("1").unwrap();
        let acc = Admissible::for_test(st(), v(), vec![], Some("/w/stage/files".into()));
        assert_eq!(acc.tree().unwrap(), Path::new("/w/stage"));
        // the near miss: a payload folder that is not the tree's `files/`
        let acc = Admissible::for_test(st(), v(), vec![], Some("/w/stage/other".into()));
        assert!(acc.tree().is_err());
        let acc = Admissible::for_test(st(), v(), vec![], None);
        assert!(acc.tree().is_err());
    }
}
