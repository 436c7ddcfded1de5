//! `admit` of an OpenSSF-signed model (a plain tar of a model folder with its `model.sig` at
//! the root): `verify::model::verify_model` extracts it into `work/`, inspects and hashes
//! every file and verifies the signature against the policy's `[sigstore]` trust for kind
//! `weights`; `decide` decides as for native bundles; then the gate stages as `staging/model-signing/<model name>/<label>/` (the
//! signature has no version: `<label>` is `sha256-<first 16 hex of the tar>`, and only
//! replays, not rollbacks, can be refused; a replay is the same tar or the same signed files
//! in other tar bytes) or quarantine. Only the files the signature covers (and `model.sig`)
//! are staged.

use super::admissible::Admissible;
use super::admit::{gate_reject, AdmitOptions, AdmitResult, Ctx, Disposition, Undo};
use super::fsutil::{self, GateLock};
use super::layout::Gate;
use super::publish;
use super::quarantine::{self, file_id};
use super::receipt::{self, Receipt, PAYLOAD_DIR, RECEIPT_FILE};
use super::state::{StagedRef, State};
use super::verifier::gate_error;
use super::GateError;
use crate::bundle::Statement;
use crate::decide::{decide, Decision};
use crate::policy::Policy;
use crate::trust::keys::PrivateKey;
use crate::verify::model::verify_model;
use crate::verify::VerifyOptions;
use std::collections::BTreeMap;
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
    let mut vopts = VerifyOptions::new(policy, opts.verifier.engine().unwrap_or(&none));
    vopts.extract_to = Some(&files_dir);
    vopts.now = opts.now;
    vopts.cancel = opts.cancel;
    let outcome = verify_model(bundle, file_name, &vopts).map_err(gate_error)?;
    let sha = match outcome.report.bundle.as_ref().map(|b| b.sha256.clone()) {
        Some(sha) if !sha.is_empty() => sha,
        _ => {
            receipt::hash_file(bundle)
                .map_err(fsutil::io("read", bundle))?
                .0
        }
    };
    let label = format!("sha256-{}", &sha[..16.min(sha.len())]);
    // the one decision every admission path takes
    let (accepted, mut report) = match decide(outcome, policy) {
        Decision::Accept(acc) => {
            let (acc, report) = Admissible::from_accepted(acc);
            (Some(acc), report)
        }
        Decision::Reject(report) => (None, report),
    };
    report.command = "admit".into();

    let ctx = Ctx {
        gate,
        policy,
        key,
        bundle,
        file_name,
        opts,
        sha: &sha,
        rotation: None,
    };
    let _lock = GateLock::acquire(&gate.lock_path())?;
    // An interrupted run may already have made this very file's outcome durable.
    if let Some(acc) = &accepted {
        let dest = publish::destination(&gate.staging(), STAGING_DIR, acc.name(), &label)?;
        if dest.join(RECEIPT_FILE).is_file() {
            let r = Receipt::load(&dest)?;
            if r.bundle_sha256 == sha && r.arrival_id == arrival_id {
                let mut state = State::load(&gate.state_dir())?;
                if !state.staged.contains_key(&sha) {
                    record(&mut state, acc, &sha, opts.now);
                    state.save(&gate.state_dir())?;
                }
                return ctx.finish(
                    Disposition::Staged,
                    report,
                    Some(acc),
                    dest,
                    true,
                    Undo::Nothing,
                );
            }
        }
    }
    if let Some(q) = quarantine::find_same_file(&gate.quarantine(), &sha, &arrival_id)? {
        return ctx.finish(
            Disposition::Quarantined,
            report,
            None,
            q,
            true,
            Undo::Nothing,
        );
    }
    let Some(acc) = accepted else {
        return ctx.quarantine(report, None, work);
    };
    let mut state = State::load(&gate.state_dir())?;
    // the same signed files in another tar (re-packed, padded) are a replay too
    let content = content_key(acc.statement());
    if let Some(prev) = state
        .staged
        .get(&sha)
        .or_else(|| state.staged.get(&content))
    {
        let msg = format!(
            "replay: this model (the same signed files) was staged before as {}/{}/{} at {}",
            prev.kind, prev.name, prev.version, prev.time
        );
        let report = gate_reject(report, "gate.replay", &msg, file_name, &sha);
        return ctx.quarantine(report, Some(&acc), work);
    }
    let now_s = crate::util::format_time(opts.now);
    let r = Receipt::signed(
        &acc,
        &receipt::Arrival {
            sha256: &sha,
            file_name,
            arrival_id: &arrival_id,
        },
        &label,
        (&report.findings, &report.waived),
        policy.digest(),
        &now_s,
        key,
    );
    // the tree verification extracted and hashed (what the signature covers, and model.sig)
    let tree = acc.tree()?;
    publish::seal(tree, &r)?;
    let dest = publish::destination(&gate.staging(), STAGING_DIR, acc.name(), &label)?;
    publish::publish(tree, &dest)?;
    let before = state.clone();
    record(&mut state, &acc, &sha, opts.now);
    record(&mut state, &acc, &content, opts.now);
    let undo = Undo::Staged {
        dest: dest.clone(),
        tree: tree.to_path_buf(),
        state: before,
    };
    if let Err(e) = state.save(&gate.state_dir()) {
        ctx.undo(undo);
        return Err(e);
    }
    ctx.finish(Disposition::Staged, report, Some(&acc), dest, false, undo)
}

/// The replay key of a model's staged content: the SHA-256 over its files' paths, digests
/// and sizes (the signature file included, as the verified statement lists them), whatever
/// tar they came in.
fn content_key(st: &Statement) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let files: BTreeMap<&str, (&str, u64)> = st
        .subject
        .iter()
        .map(|s| {
            let sha = s.digest.get("sha256").map(String::as_str).unwrap_or("");
            let size = st.predicate.sizes.get(&s.name).copied().unwrap_or(0);
            (s.name.as_str(), (sha, size))
        })
        .collect();
    for (path, (sha, size)) in files {
        h.update(path.as_bytes());
        h.update([0]);
        h.update(sha.as_bytes());
        h.update([0]);
        h.update(size.to_le_bytes());
        h.update([b'\n']);
    }
    format!("model-content:{}", hex::encode(h.finalize()))
}

/// Replay state only: a model signature carries no version to order.
fn record(state: &mut State, acc: &Admissible, sha: &str, now: i64) {
    state.staged.insert(
        sha.to_string(),
        StagedRef {
            kind: acc.kind().to_string(),
            name: acc.name().to_string(),
            version: acc.version_label().to_string(),
            time: crate::util::format_time(now),
        },
    );
}
