//! What the gate needs from verification, behind a small sealed trait so the gate's own steps
//! can be tested without real bundles; [`BundleVerifier`] (`verify` + `decide`) is the only
//! implementation outside the crate's tests.

use super::admissible::Admissible;
use super::GateError;
use crate::bundle::{Statement, Version};
use crate::policy::Policy;
use crate::report::Report;
use crate::trust::store::TrustStore;
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// The verifier's answer for one bundle.
#[derive(Debug)]
pub struct Candidate {
    /// The full report (verdict accept or reject).
    pub report: Report,
    /// Present only when the decision is accept; its files are then under `extract_to`.
    pub accepted: Option<Admissible>,
    /// Hex SHA-256 of the bundle file as received ("" when the verifier could not tell).
    pub bundle_sha256: String,
}

/// Verify, inspect and decide one bundle, writing its payload under `extract_to` (an
/// existing, empty folder) in the same pass when given. `trust` is the gate's active trust
/// (`None`: the policy's own keys). Once `cancel` is set the verifier stops reading and
/// returns [`GateError::Abandoned`].
///
/// Sealed: only this crate implements it, so what `admit` stages is always what
/// [`BundleVerifier`] verified and decided.
pub trait Verifier: sealed::Sealed {
    /// Verify `bundle` (extracting into `extract_to` in the same pass), decide under `policy`
    /// and the trust at time `now` (Unix seconds); stop early when `cancel` is set.
    fn check(
        &self,
        bundle: &Path,
        policy: &Policy,
        trust: Option<&TrustStore>,
        extract_to: Option<&Path>,
        now: i64,
        cancel: Option<&AtomicBool>,
    ) -> Result<Candidate, GateError>;

    /// The inspection engine, for inputs the gate unpacks itself (OpenSSF model tars).
    fn engine(&self) -> Option<&crate::inspect::Engine> {
        None
    }
}

/// The gate's error for a verification that could not decide: a cancel request abandons
/// the bundle, unusable trust configuration is the gate's configuration error.
pub(super) fn gate_error(e: crate::verify::VerifyError) -> GateError {
    use crate::verify::VerifyError;
    match e {
        VerifyError::Cancelled => GateError::Abandoned,
        VerifyError::Config(message) => GateError::Config { message },
        e => GateError::Verify {
            message: e.to_string(),
            class: e.class(),
        },
    }
}

pub(super) mod sealed {
    /// Implemented only inside the crate.
    pub trait Sealed {}
}

/// What the bundle *claims* to be, read from its envelope without checking any signature:
/// `(kind, name, version)`. Used only to skip extracting a bundle that could not be staged
/// anyway (a rollback or replay); the verified statement decides. `None` on any problem.
pub fn peek_claim(bundle: &Path, policy: &Policy) -> Option<(String, String, Version)> {
    let opened = crate::bundle::open::open(bundle, &policy.limits).ok()?;
    let st = Statement::from_envelope(&opened.envelope).ok()?;
    drop(opened);
    let version = st.check().ok()?;
    Some((st.predicate.kind, st.predicate.name, version))
}

/// The real verifier: `verify::verify` of an [`Input::Bundle`](crate::verify::Input) with the given inspection engine (the CLI
/// passes the full one), then `decide::decide`.
pub struct BundleVerifier {
    /// The inspection engine built from the gate's policy.
    pub engine: crate::inspect::Engine,
}

impl sealed::Sealed for BundleVerifier {}

impl Verifier for BundleVerifier {
    fn engine(&self) -> Option<&crate::inspect::Engine> {
        Some(&self.engine)
    }

    fn check(
        &self,
        bundle: &Path,
        policy: &Policy,
        trust: Option<&TrustStore>,
        extract_to: Option<&Path>,
        now: i64,
        cancel: Option<&AtomicBool>,
    ) -> Result<Candidate, GateError> {
        use crate::decide::{decide, Decision};
        use crate::verify::{verify, Input, VerifyOptions};
        let mut opts = VerifyOptions::new(policy, &self.engine);
        opts.extract_to = extract_to;
        opts.trust = trust;
        opts.now = now;
        opts.cancel = cancel;
        let outcome = verify(Input::Bundle(bundle), &opts).map_err(gate_error)?;
        let sha_hint = outcome
            .report
            .bundle
            .as_ref()
            .map(|b| b.sha256.clone())
            .unwrap_or_default();
        match decide(outcome, policy) {
            Decision::Accept(acc) => {
                let bundle_sha256 = acc.bundle().bundle_sha256().to_string();
                let (accepted, report) = Admissible::from_accepted(acc);
                Ok(Candidate {
                    report,
                    bundle_sha256,
                    accepted: Some(accepted),
                })
            }
            Decision::Reject(report) => Ok(Candidate {
                report,
                accepted: None,
                bundle_sha256: sha_hint,
            }),
        }
    }
}
