//! The one admission tail. Once `verify` and `decide` have spoken, every input (a native
//! bundle, an OpenSSF model tar, a trust rotation) takes the same steps: finish what an
//! interrupted run made durable, quarantine what was rejected, refuse a replay or rollback by
//! the gate's state, stage the tree verification extracted, record state and audit. Only
//! where it is staged, what counts as a replay and what else staging puts in place (a
//! rotation's new trust) differ, by [`Plan`].

use super::admissible::Admissible;
use super::admit::AdmitOptions;
use super::admit::{gate_reject, staged_versions, AdmitResult, Ctx, Disposition, Undo};
use super::fsutil;
use super::model::STAGING_DIR;
use super::publish;
use super::quarantine;
use super::receipt::{self, Receipt, RECEIPT_FILE};
use super::rotate;
use super::state::{Check, StagedRef, State};
use super::trust;
use super::GateError;
use crate::bundle::Statement;
use crate::decide::{decide, Decision};
use crate::inspect::Engine;
use crate::policy::Policy;
use crate::report::Report;
use crate::trust::trust_state::TrustState;
use crate::verify::{verify, Input, VerifyOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where an accepted input is staged and what refuses it.
pub(super) enum Plan {
    /// A native bundle: `staging/<kind>/<name>/<version>/`, refused as a replay of the same
    /// bundle or a rollback to a version not newer than one staged. `hopeless`: its
    /// unauthenticated claim said it could not be staged, so nothing was extracted.
    Native { hopeless: bool },
    /// A model-signed tree: `staging/model-signing/<name>/<label>/`, refused only as a replay
    /// (the same tar, or the same signed files in another tar): a model signature carries no
    /// version to order.
    Model,
    /// A trust rotation, authenticated against `current` (the gate's active trust) by
    /// verification: staged as a native bundle of kind `trust` with `rotation.json` beside
    /// its receipt, then the new trust replaces `state/trust.toml`. A replay is refused before
    /// verification and a rollback by it (a rotation must be exactly the next version).
    Rotation { current: TrustState },
}

impl Plan {
    fn destination(&self, ctx: &Ctx<'_>, acc: &Admissible) -> Result<PathBuf, GateError> {
        let kind = match self {
            Plan::Native { .. } | Plan::Rotation { .. } => acc.kind(),
            Plan::Model => STAGING_DIR,
        };
        publish::destination(&ctx.gate.staging(), kind, acc.name(), acc.version_label())
    }

    /// Why the gate's state refuses `acc`: `(rule, message)`.
    fn refusal(
        &self,
        ctx: &Ctx<'_>,
        state: &State,
        acc: &Admissible,
    ) -> Result<Option<(&'static str, String)>, GateError> {
        match self {
            Plan::Rotation { .. } => Ok(None),
            Plan::Native { hopeless } => {
                let staged = staged_versions(&ctx.gate.staging(), acc.kind(), acc.name())?;
                match state.check(acc.kind(), acc.name(), acc.version(), ctx.sha, &staged) {
                    // the bundle changed between the peek and verification: decide nothing
                    Check::Fresh if *hopeless => Err(GateError::Damaged {
                        path: ctx.bundle.to_path_buf(),
                        message: "the bundle changed while it was being admitted; admit it again"
                            .into(),
                    }),
                    Check::Fresh => Ok(None),
                    Check::Replay(prev) => Ok(Some((
                        "gate.replay",
                        format!(
                            "replay: this exact bundle was staged before as {}/{}/{} at {}",
                            prev.kind, prev.name, prev.version, prev.time
                        ),
                    ))),
                    Check::Rollback { highest } => Ok(Some((
                        "gate.rollback",
                        format!(
                            "rollback: version {} of {}/{} is not newer than {highest}, already \
                             staged",
                            acc.version_label(),
                            acc.kind(),
                            acc.name()
                        ),
                    ))),
                }
            }
            Plan::Model => {
                let content = content_key(acc.statement());
                let prev = state
                    .staged
                    .get(ctx.sha)
                    .or_else(|| state.staged.get(&content));
                Ok(prev.map(|prev| {
                    (
                        "gate.replay",
                        format!(
                            "replay: this model (the same signed files) was staged before as \
                             {}/{}/{} at {}",
                            prev.kind, prev.name, prev.version, prev.time
                        ),
                    )
                }))
            }
        }
    }

    /// Record `acc` as staged. `fresh`: staged by this run (a model also records its content
    /// key then), not finished from an interrupted one.
    fn record(&self, ctx: &Ctx<'_>, state: &mut State, acc: &Admissible, now_s: &str, fresh: bool) {
        match self {
            Plan::Native { .. } | Plan::Rotation { .. } => {
                state.record(acc.kind(), acc.name(), acc.version(), ctx.sha, now_s)
            }
            Plan::Model => {
                let r = StagedRef {
                    kind: acc.kind().to_string(),
                    name: acc.name().to_string(),
                    version: acc.version_label().to_string(),
                    time: now_s.to_string(),
                };
                if fresh {
                    state.staged.insert(content_key(acc.statement()), r.clone());
                }
                state.staged.insert(ctx.sha.to_string(), r);
            }
        }
    }
}

/// Verify `input` with the gate's settings (extracting under `files`, inspecting with
/// `engine`) and decide on it: the one verification and the one decision every admission
/// path takes. `(Some, report)` when accepted; the report is `admit`'s.
pub(super) fn verify_and_decide(
    input: Input<'_>,
    policy: &Policy,
    engine: &Engine,
    files: &Path,
    opts: &AdmitOptions<'_>,
) -> Result<(Option<Admissible>, Report), GateError> {
    let mut vopts = VerifyOptions::new(policy, engine);
    vopts.extract_to = Some(files);
    vopts.now = opts.now;
    vopts.cancel = opts.cancel;
    let outcome = verify(input, &vopts).map_err(super::verifier::gate_error)?;
    let (accepted, mut report) = match decide(outcome, policy) {
        Decision::Accept(acc) => {
            let (acc, report) = Admissible::from_accepted(acc);
            (Some(acc), report)
        }
        Decision::Reject(report) => (None, report),
    };
    report.command = "admit".into();
    Ok((accepted, report))
}

/// Finish the admission of a decided input (see the module docs). `accepted`: present when
/// `decide` accepted it.
pub(super) fn admit_decided(
    ctx: &Ctx<'_>,
    report: Report,
    accepted: Option<Admissible>,
    plan: Plan,
    arrival_id: &str,
    work: &Path,
) -> Result<AdmitResult, GateError> {
    let gate = ctx.gate;
    // An interrupted run may already have made this very file's outcome durable.
    if let Some(acc) = &accepted {
        let dest = plan.destination(ctx, acc)?;
        if dest.join(RECEIPT_FILE).is_file() {
            let r = Receipt::load(&dest)?;
            if r.bundle_sha256 == ctx.sha && r.arrival_id == arrival_id {
                let mut state = State::load(&gate.state_dir())?;
                if !state.staged.contains_key(ctx.sha) {
                    let now_s = crate::util::format_time(ctx.opts.now);
                    plan.record(ctx, &mut state, acc, &now_s, false);
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
    if let Some(q) = quarantine::find_same_file(&gate.quarantine(), ctx.sha, arrival_id)? {
        return ctx.resume_quarantined(report, q);
    }
    let Some(acc) = accepted else {
        return ctx.quarantine(report, None, work);
    };
    let state = State::load(&gate.state_dir())?;
    if let Some((rule, msg)) = plan.refusal(ctx, &state, &acc)? {
        let report = gate_reject(report, rule, &msg, ctx.file_name, ctx.sha);
        return ctx.quarantine(report, Some(&acc), work);
    }
    stage(ctx, report, acc, state, arrival_id, &plan)
}

/// Stage the tree verification extracted for `acc` (see [`Admissible`]); for a rotation,
/// also put its trust in place.
fn stage(
    ctx: &Ctx<'_>,
    report: Report,
    acc: Admissible,
    mut state: State,
    arrival_id: &str,
    plan: &Plan,
) -> Result<AdmitResult, GateError> {
    let tree = acc.tree()?;
    let now_s = crate::util::format_time(ctx.opts.now);
    // a rotation: what it changes, written beside its receipt, and the trust it installs
    let rotation = match plan {
        Plan::Rotation { current } => {
            let rotated = acc.rotation().ok_or_else(|| GateError::Damaged {
                path: tree.to_path_buf(),
                message: "an accepted trust rotation carries no verified trust".into(),
            })?;
            let tc = rotate::change(current, rotated);
            rotate::write_change(tree, &tc)?;
            Some((tc, &rotated.state, current))
        }
        _ => None,
    };
    let r = Receipt::signed(
        &acc,
        &receipt::Arrival {
            sha256: ctx.sha,
            file_name: ctx.file_name,
            arrival_id,
        },
        acc.version_label(),
        (&report.findings, &report.waived),
        ctx.policy.digest(),
        &now_s,
        ctx.key,
    );
    publish::seal(tree, &r)?;
    let dest = plan.destination(ctx, &acc)?;
    publish::publish(tree, &dest)?;
    fsutil::pause_point("published");
    let before = state.clone();
    plan.record(ctx, &mut state, &acc, &now_s, true);
    let (undo, saved) = match &rotation {
        Some((_, new_trust, current)) => (
            Undo::Rotated {
                dest: dest.clone(),
                tree: tree.to_path_buf(),
                state: before,
                trust: (*current).clone(),
            },
            // the new trust takes effect with this rename; it is durable before it is logged
            trust::save_state(ctx.gate, new_trust).and_then(|()| state.save(&ctx.gate.state_dir())),
        ),
        None => (
            Undo::Staged {
                dest: dest.clone(),
                tree: tree.to_path_buf(),
                state: before,
            },
            state.save(&ctx.gate.state_dir()),
        ),
    };
    if let Err(e) = saved {
        ctx.undo(undo);
        return Err(e);
    }
    fsutil::pause_point("state-saved");
    let ctx = Ctx {
        rotation: rotation.map(|(tc, _, _)| tc),
        ..*ctx
    };
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
