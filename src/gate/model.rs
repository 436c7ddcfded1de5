//! `admit` of an OpenSSF-signed model (a plain tar of a model folder with its `model.sig` at
//! the root): `verify` (input `ModelTar`) extracts it into `work/`, inspects and hashes
//! every file and verifies the signature against the policy's `[sigstore]` trust for kind
//! `weights`; `decide` decides as for native bundles; then the gate stages as `staging/model-signing/<model name>/<label>/` (the
//! signature has no version: `<label>` is `sha256-<first 16 hex of the tar>`, and only
//! replays, not rollbacks, can be refused; a replay is the same tar or the same signed files
//! in other tar bytes) or quarantine. Only the files the signature covers (and `model.sig`)
//! are staged.

use super::admit::{AdmitOptions, AdmitResult, Ctx};
use super::fsutil::{self, GateLock};
use super::layout::Gate;
use super::quarantine::file_id;
use super::receipt::PAYLOAD_DIR;
use super::tail::verify_and_decide;
use super::GateError;
use crate::policy::Policy;
use crate::trust::keys::PrivateKey;
use crate::verify::Input;
use std::path::Path;

/// The `staging/` folder model-signed trees go under (apart from native `weights`, whose
/// version folders are ordered for rollback protection).
pub const STAGING_DIR: &str = "model-signing";

/// Admit the model tar at `bundle` (see the module docs).
pub(super) fn admit_model(
    gate: &Gate,
    policy: &Policy,
    bundle: &Path,
    file_name: &str,
    work: &Path,
    key: &PrivateKey,
    opts: &AdmitOptions<'_>,
) -> Result<AdmitResult, GateError> {
    let arrival_id = file_id(bundle)?;
    let files_dir = work.join("stage-model").join(PAYLOAD_DIR);
    fsutil::create_dirs_durable(&files_dir)?;
    let none = crate::inspect::Engine::none();
    let engine = opts.verifier.engine().unwrap_or(&none);
    let input = Input::ModelTar {
        path: bundle,
        shown_as: file_name,
    };
    let (accepted, report) = verify_and_decide(input, policy, engine, &files_dir, opts)?;
    let sha = match report.bundle.as_ref().map(|b| b.sha256.clone()) {
        Some(sha) if !sha.is_empty() => sha,
        _ => {
            crate::util::hash_file(bundle)
                .map_err(fsutil::io("read", bundle))?
                .0
        }
    };
    let ctx = Ctx::new(gate, policy, key, bundle, file_name, opts, &sha);
    let _lock = GateLock::acquire(&gate.lock_path())?;
    super::tail::admit_decided(
        &ctx,
        report,
        accepted,
        super::tail::Plan::Model,
        &arrival_id,
        work,
    )
}
