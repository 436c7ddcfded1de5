//! `admit` of a bundle of kind `trust`: a trust-root rotation. The bundle is authenticated
//! by `trust::rotation::apply_rotation` against the gate's ACTIVE trust (thresholds of the
//! current and the new root role, version exactly current + 1); an accepted rotation is
//! staged under `staging/trust/<name>/<version>/` (with `rotation.json` beside its receipt),
//! `state/trust.toml` is replaced atomically, and the change is recorded in the audit log
//! (event `trust`, outcome `rotated`). A refused one is quarantined with the reason.

use super::admissible::Admissible;
use super::admit::{gate_reject, AdmitOptions, AdmitResult, Ctx, Disposition, Undo};
use super::audit::TrustChange;
use super::fsutil::{self, GateLock};
use super::layout::Gate;
use super::publish::{self, FILE_MODE};
use super::quarantine::{self, file_id};
use super::receipt::{self, Receipt, PAYLOAD_DIR, RECEIPT_FILE};
use super::state::State;
use super::trust::{self, ActiveTrust};
use super::GateError;
use crate::bundle::Statement;
use crate::decide::{decide, finalize, Decision};
use crate::policy::Policy;
use crate::report::{BundleInfo, Report};
use crate::trust::keys::PrivateKey;
use crate::trust::rotation::{
    apply_rotation, read_trust_bundle, Rotated, RotationError, TrustBundle,
};
use crate::trust::trust_state::{TrustState, ROOT_KIND};
use crate::verify::rotation::verify_rotation;
use crate::verify::VerifiedBundle;
use crate::ErrorClass;
use std::path::{Path, PathBuf};

/// The record of what a staged rotation changed, beside its receipt.
pub const ROTATION_FILE: &str = "rotation.json";
/// Largest `rotation.json` read back.
const MAX_ROTATION_FILE: u64 = 1 << 20;

/// Admit the trust bundle at `bundle` (see the module docs). Runs under the gate lock from
/// start to end, so no other bundle is decided against a half-applied rotation.
pub(super) fn admit_trust(
    gate: &Gate,
    policy: &Policy,
    bundle: &Path,
    file_name: &str,
    work: &Path,
    key: &PrivateKey,
    opts: &AdmitOptions<'_>,
) -> Result<AdmitResult, GateError> {
    let _lock = GateLock::acquire(&gate.lock_path())?;
    let arrival_id = file_id(bundle)?;
    let sha = receipt::hash_file(bundle)
        .map_err(fsutil::io("read", bundle))?
        .0;
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
    let mut report = Report::new("admit");
    report.policy_sha256 = policy.digest();
    report.bundle = Some(BundleInfo {
        kind: ROOT_KIND.into(),
        sha256: sha.clone(),
        path: file_name.to_string(),
        ..BundleInfo::default()
    });
    // An interrupted run may already have made this very file's outcome durable.
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
    let reject = |report: Report, rule: &str, msg: &str| {
        let report = gate_reject(report, rule, msg, file_name, &sha);
        ctx.quarantine(report, None, work)
    };
    let current = match trust::active(gate, policy, true)? {
        ActiveTrust::State(s) => s,
        ActiveTrust::Policy => {
            return reject(
                report,
                "trust.rotation",
                "this gate has no root role (its policy had no [trust.trust] section when the \
                 gate was made), so it accepts no trust bundles",
            )
        }
    };
    let tb = match read_trust_bundle(bundle, &policy.limits) {
        Ok(tb) => tb,
        Err(RotationError::Io(message)) => {
            return Err(GateError::Verify {
                message,
                class: ErrorClass::Operational,
            })
        }
        Err(e) => return reject(report, "trust.rotation", &e.to_string()),
    };
    // What the bundle claims (authenticated only by apply_rotation below).
    let claimed: Option<Statement> = tb
        .envelope
        .payload_bytes()
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    if let (Some(st), Some(info)) = (&claimed, report.bundle.as_mut()) {
        info.name = st.predicate.name.clone();
        info.version = st.predicate.version.clone();
    }
    report.signatures = current
        .evaluate_role(current.root(), "root", &tb.envelope, opts.now)
        .signatures;
    if let Some(st) = &claimed {
        if let Ok(dest) = publish::destination(
            &gate.staging(),
            ROOT_KIND,
            &st.predicate.name,
            &st.predicate.version,
        ) {
            if dest.join(RECEIPT_FILE).is_file() {
                let r = Receipt::load(&dest)?;
                if r.bundle_sha256 == sha && r.arrival_id == arrival_id {
                    return resume(&ctx, &current, &tb, r, report, dest);
                }
            }
        }
    }
    let state = State::load(&gate.state_dir())?;
    if let Some(prev) = state.staged.get(&sha) {
        let msg = format!(
            "replay: this exact trust bundle was applied before, as version {} at {}",
            prev.version, prev.time
        );
        return reject(report, "gate.replay", &msg);
    }
    // verification authenticates the rotation and writes its trust.toml as the payload
    let files = work.join("stage-trust").join(PAYLOAD_DIR);
    fsutil::create_dirs_durable(&files)?;
    let verified = verify_rotation(&tb, &current, &sha, &files, opts.now)
        .map_err(super::verifier::gate_error)?;
    let (vb, rotated) = match verified {
        Ok(r) => r,
        Err(e) => {
            let rollback = matches!(&e, RotationError::NotNextVersion { current, got, .. }
                if got.parse::<u64>().is_ok_and(|v| v <= *current));
            let rule = if rollback {
                "gate.rollback"
            } else {
                "trust.rotation"
            };
            return reject(report, rule, &e.to_string());
        }
    };
    stage(ctx, current, vb, rotated, state, report, &arrival_id, work)
}

fn change(from: &TrustState, rotated: &Rotated) -> TrustChange {
    TrustChange {
        from_version: from.version(),
        to_version: rotated.state.version(),
        changes: rotated.changes.clone(),
        current_root_signers: rotated.current_root.counted.clone(),
        new_root_signers: rotated.new_root.counted.clone(),
    }
}

/// Stage an accepted rotation: publish the bundle's `trust.toml` with a receipt and
/// `rotation.json`, then replace `state/trust.toml`, then record state and audit.
#[allow(clippy::too_many_arguments)]
fn stage(
    mut ctx: Ctx<'_>,
    current: TrustState,
    vb: VerifiedBundle,
    rotated: Rotated,
    mut state: State,
    mut report: Report,
    arrival_id: &str,
    work: &Path,
) -> Result<AdmitResult, GateError> {
    report.signatures = rotated.current_root.signatures.clone();
    report
        .signatures
        .extend(rotated.new_root.signatures.iter().cloned());
    // the one decision every admission path takes
    let (acc, report) = match decide(finalize(report, Some(vb), ctx.policy), ctx.policy) {
        Decision::Accept(acc) => Admissible::from_accepted(acc),
        Decision::Reject(report) => return ctx.quarantine(report, None, work),
    };
    let tc = change(&current, &rotated);
    let now_s = crate::util::format_time(ctx.opts.now);
    let tree = acc.tree()?;
    let tc_json = serde_json::to_vec_pretty(&tc).map_err(|e| GateError::Verify {
        message: format!("cannot write {ROTATION_FILE}: {e}"),
        class: ErrorClass::Operational,
    })?;
    fsutil::write_new(&tree.join(ROTATION_FILE), &tc_json, FILE_MODE)?;
    let r = Receipt::signed(
        &acc,
        &receipt::Arrival {
            sha256: ctx.sha,
            file_name: ctx.file_name,
            arrival_id,
        },
        acc.version_label(),
        (&[], &[]),
        ctx.policy.digest(),
        &now_s,
        ctx.key,
    );
    publish::seal(tree, &r)?;
    let dest = publish::destination(
        &ctx.gate.staging(),
        acc.kind(),
        acc.name(),
        acc.version_label(),
    )?;
    publish::publish(tree, &dest)?;
    let before = state.clone();
    state.record(acc.kind(), acc.name(), acc.version(), ctx.sha, &now_s);
    let undo = Undo::Rotated {
        dest: dest.clone(),
        tree: tree.to_path_buf(),
        state: before,
        trust: current,
    };
    // The new trust takes effect with this rename; it is durable before it is logged.
    if let Err(e) =
        trust::save_state(ctx.gate, &rotated.state).and_then(|()| state.save(&ctx.gate.state_dir()))
    {
        ctx.undo(undo);
        return Err(e);
    }
    ctx.rotation = Some(tc);
    ctx.finish(Disposition::Staged, report, Some(&acc), dest, false, undo)
}

/// Finish a rotation whose staged tree an interrupted run already published (its `receipt`
/// read from `dest`): make sure `state/trust.toml` and the state hold it, then record it
/// (unless already recorded).
fn resume(
    ctx: &Ctx<'_>,
    current: &TrustState,
    tb: &TrustBundle,
    receipt: Receipt,
    report: Report,
    dest: PathBuf,
) -> Result<AdmitResult, GateError> {
    let damaged = |m: String| GateError::Damaged {
        path: dest.clone(),
        message: m,
    };
    let path = dest.join(ROTATION_FILE);
    let len = std::fs::metadata(&path)
        .map_err(fsutil::io("read", &path))?
        .len();
    if len > MAX_ROTATION_FILE {
        return Err(damaged(format!("{ROTATION_FILE} is too large")));
    }
    let bytes = std::fs::read(&path).map_err(fsutil::io("read", &path))?;
    let tc: TrustChange =
        serde_json::from_slice(&bytes).map_err(|e| damaged(format!("{ROTATION_FILE}: {e}")))?;
    // the gate's own durable record of what it staged, signed with its audit key
    let acc = Admissible::resumed(receipt, &dest, &ctx.key.public())?;
    if current.version() + 1 == tc.to_version {
        // published, but the new trust was not yet in place: apply it (authenticating again)
        let rotated = apply_rotation(current, &tb.envelope, &tb.trust_toml, ctx.opts.now)
            .map_err(|e| damaged(format!("the staged rotation no longer applies: {e}")))?;
        trust::save_state(ctx.gate, &rotated.state)?;
    } else if current.version() == tc.to_version {
        let staged = TrustState::from_bytes(&tb.trust_toml).map_err(|e| damaged(e.to_string()))?;
        if &staged != current {
            return Err(damaged(
                "state/trust.toml is at this rotation's version but holds another configuration"
                    .into(),
            ));
        }
    } else {
        return Err(damaged(format!(
            "the active trust is at version {}, this rotation installs {}",
            current.version(),
            tc.to_version
        )));
    }
    let mut state = State::load(&ctx.gate.state_dir())?;
    if !state.staged.contains_key(ctx.sha) {
        let now_s = crate::util::format_time(ctx.opts.now);
        state.record(ROOT_KIND, acc.name(), acc.version(), ctx.sha, &now_s);
        state.save(&ctx.gate.state_dir())?;
    }
    let ctx = Ctx {
        rotation: Some(tc),
        ..*ctx
    };
    ctx.finish(
        Disposition::Staged,
        report,
        Some(&acc),
        dest,
        true,
        Undo::Nothing,
    )
}
