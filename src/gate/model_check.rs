//! OpenSSF-signed model tars as the gate sees them: detection and the verification steps live
//! in [`crate::verify::model`]; this module keeps their gate-side names (errors as
//! [`GateError`]).

use super::GateError;
use crate::inspect::Engine;
use crate::policy::Limits;
use std::path::Path;

pub use crate::verify::model::{
    is_model_tar, threshold_refusal, trust_finding, Extracted, MODEL_KIND, SIG_FILE,
};

/// [`crate::verify::model::extract`], with the gate's errors.
pub fn extract(
    tar_path: &Path,
    dest: &Path,
    limits: &Limits,
    engine: &Engine,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<Result<Extracted, String>, GateError> {
    crate::verify::model::extract(tar_path, dest, limits, engine, cancel)
        .map_err(super::verifier::gate_error)
}
