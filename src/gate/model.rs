//! `admit` of an OpenSSF-signed model (a plain tar of a model folder with its `model.sig` at
//! the root): extract with the strict reader into `work/`, inspect and hash every file,
//! verify the signature against the policy's `[sigstore]` trust for kind `weights`, decide
//! as for native bundles, then stage as `staging/model-signing/<model name>/<label>/` (the
//! signature has no version: `<label>` is `sha256-<first 16 hex of the tar>`, and only
//! replays, not rollbacks, can be refused; a replay is the same tar or the same signed files
//! in other tar bytes) or quarantine. Only the files the signature covers (and `model.sig`)
//! are staged.

use super::admissible::Admissible;
use super::admit::{gate_reject, AdmitOptions, AdmitResult, Ctx, Disposition, Undo};
use super::fsutil::{self, GateLock};
use super::layout::Gate;
use super::model_check::{self as mc, MODEL_KIND, SIG_FILE};
use super::publish;
use super::quarantine::{self, file_id};
use super::receipt::{self, Receipt, PAYLOAD_DIR, RECEIPT_FILE};
use super::state::{StagedRef, State};
use super::GateError;
use crate::decide::{decide, finalize, Decision};
use crate::policy::Policy;
use crate::report::{BundleInfo, Report};
use crate::trust::keys::PrivateKey;
use std::collections::BTreeMap;
use std::path::Path;

/// The `staging/` folder model-signed trees go under (apart from native `weights`, whose
/// version folders are ordered for rollback protection).
pub const STAGING_DIR: &str = "model-signing";

/// Remove from the extracted model at `dir` (and from `files`) every file the signature
/// does not cover, except the signature itself, and the folders left empty; returns their
/// paths.
fn leave_out_unsigned(
    dir: &Path,
    files: &mut BTreeMap<String, (String, u64)>,
    covered: &std::collections::BTreeSet<String>,
) -> Result<Vec<String>, GateError> {
    let out: Vec<String> = files
        .keys()
        .filter(|p| p.as_str() != SIG_FILE && !covered.contains(*p))
        .cloned()
        .collect();
    for p in &out {
        let full = dir.join(p);
        std::fs::remove_file(&full).map_err(fsutil::io("remove", &full))?;
        files.remove(p);
        // folders it leaves empty (`.git/`) go too
        let mut parent = full.parent();
        while let Some(d) = parent.filter(|d| *d != dir && d.starts_with(dir)) {
            if std::fs::remove_dir(d).is_err() {
                break; // not empty
            }
            parent = d.parent();
        }
    }
    Ok(out)
}

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
    let started = std::time::Instant::now();
    let arrival_id = file_id(bundle)?;
    let sha = receipt::hash_file(bundle)
        .map_err(fsutil::io("read", bundle))?
        .0;
    let label = format!("sha256-{}", &sha[..16.min(sha.len())]);
    let tree = work.join("stage-model");
    let files_dir = tree.join(PAYLOAD_DIR);
    fsutil::create_dirs_durable(&files_dir)?;
    let engine = opts
        .verifier
        .engine()
        .map(crate::inspect::Engine::counting)
        .unwrap_or_else(crate::inspect::Engine::none);
    let mut report = Report::new("admit");
    report.policy_sha256 = policy.digest();
    let mut info = BundleInfo {
        kind: MODEL_KIND.into(),
        version: label.clone(),
        sha256: sha.clone(),
        path: file_name.to_string(),
        ..BundleInfo::default()
    };
    let mut verified = None;
    let mut files = BTreeMap::new();
    match mc::extract(bundle, &files_dir, &policy.limits, &engine, opts.cancel)? {
        Err(why) => report
            .findings
            .push(mc::trust_finding(file_name, "model.archive", &why)),
        Ok(ex) => {
            report.findings.extend(ex.findings);
            report.timings =
                crate::report::Timings::from(started.elapsed(), ex.bytes, ex.files.len() as u64);
            files = ex.files;
            match mc::verify(&files_dir, policy)? {
                Ok(v) => {
                    report.signatures.push(v.report());
                    info.name = v.model_name.clone();
                    // what the signature ignored (git paths, the signer's ignore paths) is
                    // not staged: staging holds exactly the signed files and model.sig
                    for path in leave_out_unsigned(&files_dir, &mut files, &v.covered)? {
                        report.findings.push(crate::inspect::Finding::new(
                            &path,
                            "model.not-staged",
                            crate::inspect::Category::Integrity,
                            crate::inspect::Severity::Info,
                            "not covered by the model signature (an ignored path): left out \
                             of the staged model",
                            path.as_bytes(),
                        ));
                    }
                    verified = Some(v);
                }
                Err(why) => {
                    report
                        .signatures
                        .push(crate::trust::sigstore::rejected_report(
                            "model-signing",
                            &why,
                        ));
                    report.findings.push(mc::trust_finding(
                        SIG_FILE,
                        "model-signing.signature",
                        &why,
                    ))
                }
            }
        }
    }
    if engine.nests() {
        report.coverage = Some(engine.coverage().report());
    }
    report.bundle = Some(info);
    // the one decision every admission path takes
    let verified = verified
        .map(|v| crate::verify::model::verified(&v, &files, &label, &sha, &files_dir, opts.now));
    let (accepted, report) = match decide(finalize(report, verified, policy), policy) {
        Decision::Accept(acc) => {
            let (acc, report) = Admissible::from_accepted(acc);
            (Some(acc), report)
        }
        Decision::Reject(report) => (None, report),
    };

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
    let content = content_key(&files);
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
/// and sizes (the signature file included), whatever tar they came in.
fn content_key(files: &BTreeMap<String, (String, u64)>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
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
