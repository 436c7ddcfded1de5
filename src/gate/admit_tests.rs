//! Unit tests of `admit` with a stand-in verifier: what the gate does when the verifier's
//! extraction holds something it never should, or when verification cannot complete.

use super::admissible::Admissible;
use super::admit::{admit, AdmitOptions};
use super::verifier::{sealed::Sealed, Candidate, Verifier};
use super::{init, Gate, GateError};
use crate::bundle::statement::{Predicate, Statement, Subject, PREDICATE_TYPE, STATEMENT_TYPE};
use crate::bundle::Version;
use crate::policy::Policy;
use crate::report::Report;
use crate::ErrorClass;
use std::collections::BTreeMap;
use std::path::Path;

enum Mode {
    /// Accept, writing one good file and a symlink into the extraction folder.
    AcceptWithSymlink,
    /// Accept, writing the listed file.
    Accept,
    /// Accept, writing the listed file, but with no extracted tree in the accepted value.
    AcceptWithoutTree,
    /// Verification could not complete.
    Fail,
}

struct Fake(Mode);

fn statement() -> Statement {
    let digest = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"; // "hello"
    Statement {
        type_: STATEMENT_TYPE.into(),
        subject: vec![Subject {
            name: "a.txt".into(),
            digest: BTreeMap::from([("sha256".to_string(), digest.to_string())]),
        }],
        predicate_type: PREDICATE_TYPE.into(),
        predicate: Predicate {
            kind: "weights".into(),
            name: "m".into(),
            version: "1".into(),
            created: "2026-01-01T00:00:00Z".into(),
            publisher: "t".into(),
            sizes: BTreeMap::from([("a.txt".to_string(), 5)]),
        },
    }
}

impl Sealed for Fake {}

impl Verifier for Fake {
    fn check(
        &self,
        _: &Path,
        _: &Policy,
        _: Option<&crate::trust::store::TrustStore>,
        to: Option<&Path>,
        _: i64,
        _: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<Candidate, GateError> {
        let to = to.unwrap();
        if let Mode::Fail = self.0 {
            std::fs::write(to.join("partial"), b"half").unwrap();
            return Err(GateError::Verify {
                message: "No space left on device".into(),
                class: ErrorClass::Operational,
            });
        }
        std::fs::write(to.join("a.txt"), b"hello").unwrap();
        if let Mode::AcceptWithSymlink = self.0 {
            std::os::unix::fs::symlink("/etc/shadow", to.join("link")).unwrap();
        }
        Ok(Candidate {
            report: Report::new("verify"),
            accepted: Some(Admissible::for_test(
                statement(),
                Version::parse("1").unwrap(),
                vec!["k".into()],
                (!matches!(self.0, Mode::AcceptWithoutTree)).then(|| to.to_path_buf()),
            )),
            bundle_sha256: "ab".repeat(32),
        })
    }
}

fn setup() -> (tempfile::TempDir, Gate, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let pol = d.path().join("p.toml");
    std::fs::write(&pol, "").unwrap();
    let g = init(&d.path().join("g"), &pol).unwrap();
    let b = g.intake().join("b.tar");
    std::fs::write(&b, b"bundle").unwrap();
    (d, g, b)
}

fn run(g: &Gate, b: &Path, mode: Mode) -> Result<super::AdmitResult, GateError> {
    let fake = Fake(mode);
    let opts = AdmitOptions {
        verifier: &fake,
        now: 1_700_000_000,
        consume_input: true,
        file_name: None,
        cancel: None,
    };
    admit(g, &g.load_policy().unwrap(), b, &opts)
}

fn leftovers(g: &Gate) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(g.work())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_symlink_in_the_extraction_is_never_staged() {
    let (_d, g, b) = setup();
    let e = run(&g, &b, Mode::AcceptWithSymlink).unwrap_err();
    assert!(matches!(e, GateError::Damaged { .. }), "{e}");
    assert!(b.is_file(), "input kept");
    assert_eq!(std::fs::read_dir(g.staging()).unwrap().count(), 0);
    assert_eq!(leftovers(&g), ["claims"]);
    let recs = super::audit::read_records(&g.audit_log()).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].event, "error");
}

#[test]
fn a_failed_verification_keeps_the_input_and_cleans_work() {
    let (_d, g, b) = setup();
    let e = run(&g, &b, Mode::Fail).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Operational);
    assert!(b.is_file());
    assert_eq!(leftovers(&g), ["claims"]);
    assert_eq!(std::fs::read_dir(g.staging()).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(g.quarantine()).unwrap().count(), 0);
}

#[test]
fn the_near_miss_stages() {
    let (_d, g, b) = setup();
    let r = run(&g, &b, Mode::Accept).unwrap();
    assert_eq!(r.disposition, super::Disposition::Staged);
    assert!(!b.exists());
    assert!(r.destination.join("files/a.txt").is_file());
    let rv = super::receipt::reverify(&r.destination, Some(&g.load_audit_pub().unwrap())).unwrap();
    assert!(rv.clean(), "{rv:?}");
}

#[test]
fn an_accept_without_the_tree_verification_extracted_stages_nothing() {
    let (_d, g, b) = setup();
    let e = run(&g, &b, Mode::AcceptWithoutTree).unwrap_err();
    assert!(e.to_string().contains("extracted no payload tree"), "{e}");
    assert!(b.is_file(), "input kept");
    assert_eq!(std::fs::read_dir(g.staging()).unwrap().count(), 0);
    assert_eq!(leftovers(&g), ["claims"]);
}
