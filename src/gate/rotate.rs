//! `admit` of a bundle of kind `trust`: a trust-root rotation. What only the gate can tell
//! is checked here first (a gate without a root role, an unreadable bundle, a replay, a
//! rotation an interrupted run already staged); then `verify` authenticates it against the
//! gate's ACTIVE trust (thresholds of the current and the new root role, version exactly
//! current + 1), `decide` decides, and the one admission tail (`tail.rs`, plan `Rotation`)
//! stages it under `staging/trust/<name>/<version>/` (with `rotation.json` beside its
//! receipt), replaces `state/trust.toml` atomically and records the change in the audit log
//! (event `trust`, outcome `rotated`). A refused one is quarantined with the reason.

use super::admissible::Admissible;
use super::admit::{gate_reject, AdmitOptions, AdmitResult, Ctx, Disposition, Undo};
use super::audit::TrustChange;
use super::fsutil::{self, GateLock};
use super::layout::Gate;
use super::publish::{self, FILE_MODE};
use super::quarantine::{self, file_id};
use super::receipt::{Receipt, PAYLOAD_DIR, RECEIPT_FILE};
use super::state::State;
use super::tail::{admit_decided, verify_and_decide, Plan};
use super::trust::{self, ActiveTrust};
use super::GateError;
use crate::bundle::Statement;
use crate::policy::Policy;
use crate::report::{BundleInfo, Report};
use crate::trust::keys::PrivateKey;
use crate::trust::rotation::{
    apply_rotation, read_trust_bundle, Rotated, RotationError, TrustBundle,
};
use crate::trust::trust_state::{TrustState, ROOT_KIND};
use crate::verify::Input;
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
    let sha = crate::util::hash_file(bundle)
        .map_err(fsutil::io("read", bundle))?
        .0;
    let ctx = Ctx::new(gate, policy, key, bundle, file_name, opts, &sha);
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
        return ctx.resume_quarantined(report, q);
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
    let claimed = Statement::from_envelope(&tb.envelope).ok();
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
    // verification authenticates the rotation and writes its trust.toml as the payload;
    // `decide` decides and the one admission tail stages it, as for every input
    let files = work.join("stage-trust").join(PAYLOAD_DIR);
    fsutil::create_dirs_durable(&files)?;
    let input = Input::Rotation {
        bundle: &tb,
        current: &current,
        sha256: &sha,
        shown_as: file_name,
    };
    // a rotation carries only trust.toml, which no inspector reads
    let none = crate::inspect::Engine::none();
    let (accepted, report) = verify_and_decide(input, policy, &none, &files, opts)?;
    let plan = Plan::Rotation { current };
    admit_decided(&ctx, report, accepted, plan, &arrival_id, work)
}

/// What an accepted rotation changes, for `rotation.json` and the audit log.
pub(super) fn change(from: &TrustState, rotated: &Rotated) -> TrustChange {
    TrustChange {
        from_version: from.version(),
        to_version: rotated.state.version(),
        changes: rotated.changes.clone(),
        current_root_signers: rotated.current_root.counted.clone(),
        new_root_signers: rotated.new_root.counted.clone(),
    }
}

/// Write `rotation.json` into the tree to stage, beside where its receipt will be sealed.
pub(super) fn write_change(tree: &Path, tc: &TrustChange) -> Result<(), GateError> {
    let json = serde_json::to_vec_pretty(tc).map_err(|e| GateError::Verify {
        message: format!("cannot write {ROTATION_FILE}: {e}"),
        class: ErrorClass::Operational,
    })?;
    fsutil::write_new(&tree.join(ROTATION_FILE), &json, FILE_MODE)
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
    let bytes = match crate::util::read_file_bounded(&path, MAX_ROTATION_FILE) {
        Ok(b) => b,
        Err(e) if crate::util::is_too_large(&e) => {
            return Err(damaged(format!("{ROTATION_FILE} is too large")))
        }
        Err(e) => return Err(fsutil::io("read", &path)(e)),
    };
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
