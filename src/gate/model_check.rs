//! OpenSSF-signed model tars as the gate sees them: detection and the verification steps live
//! in `verify` (input `ModelTar`); this module keeps their gate-side names (errors as
//! [`GateError`]).

use super::GateError;
use crate::inspect::Engine;
use crate::policy::Limits;
use std::path::Path;

pub use crate::verify::model::{is_model_tar, Extracted};

/// Extract the model tar at `tar_path` under `dest` (an existing, empty folder) with the
/// strict tar reader, hashing and inspecting every file with `engine` in the same pass, as
/// `admit` does before it checks `model.sig`. `Ok(Err(why))`: the tar is refused; `Err`: the
/// gate's error (I/O, a cancel request).
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
