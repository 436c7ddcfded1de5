//! `admit`: verify and inspect a bundle (extracting into `work/` in the same pass), decide,
//! check rollback/replay, then stage or quarantine it durably, record the outcome in state
//! and the audit log, and only then remove the input. A rerun after a crash finishes the
//! interrupted work instead of duplicating it.

use super::admissible::Admissible;
use super::audit::{self, AuditBundle, Record};
use super::checkpoint;
use super::fsutil::{self, GateLock};
use super::layout::Gate;
use super::publish;
use super::quarantine::{self, file_id};
use super::receipt::{self, RECEIPT_FILE};
use super::state::{Check, State};
use super::verifier::{peek_claim, Candidate, Verifier};
use super::GateError;
use crate::decide::Verdict;
use crate::inspect::{Category, Finding, Severity};
use crate::policy::Policy;
use crate::report::{BundleInfo, Report, SignatureStatus};
use crate::trust::keys::PrivateKey;
use std::path::{Path, PathBuf};

/// How to admit one bundle.
pub struct AdmitOptions<'a> {
    /// Verifies and decides on each bundle; only
    /// [`BundleVerifier`](crate::gate::BundleVerifier) implements it.
    pub verifier: &'a dyn Verifier,
    /// Unix seconds (key expiry, timestamps).
    pub now: i64,
    /// Remove the input once its outcome is durable (true for `intake/` files and claims).
    pub consume_input: bool,
    /// File name to record (defaults to the input's own name).
    pub file_name: Option<String>,
    /// A stop request (SIGTERM): once set, the bundle in flight is abandoned at the next
    /// cancel point before any decision ([`GateError::Abandoned`]); after the decision is
    /// made, the bundle is finished instead.
    pub cancel: Option<&'a std::sync::atomic::AtomicBool>,
}

/// Where the bundle went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Accepted and published under `staging/` with a signed receipt.
    Staged,
    /// Rejected, or could not be read: the original kept under `quarantine/` with its report.
    Quarantined,
}

impl Disposition {
    /// The exit code: 0 staged, 1 quarantined.
    pub fn exit_code(self) -> i32 {
        match self {
            Disposition::Staged => 0,
            Disposition::Quarantined => 1,
        }
    }
    /// `staged` or `quarantined`, as the audit log and reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Staged => "staged",
            Disposition::Quarantined => "quarantined",
        }
    }
}

/// The outcome of one admit.
#[derive(Clone, Debug)]
pub struct AdmitResult {
    /// Where the bundle went.
    pub disposition: Disposition,
    /// The decision's report (reasons, signatures, findings).
    pub report: Report,
    /// The staged version folder or the quarantine folder.
    pub destination: PathBuf,
    /// Bundle sha256.
    pub sha256: String,
    /// True when this run finished work an interrupted run had already made durable.
    pub resumed: bool,
    /// When this very file was already decided by an earlier run (its audit record exists):
    /// the time of that decision. Nothing was done again.
    pub decided_before: Option<String>,
}

/// Admit `bundle` into `gate`.
pub fn admit(
    gate: &Gate,
    policy: &Policy,
    bundle: &Path,
    opts: &AdmitOptions<'_>,
) -> Result<AdmitResult, GateError> {
    let key = gate.load_audit_key()?;
    super::claim::clean_dead_work(gate)?;
    let work = gate
        .work()
        .join(format!("{}-{}", std::process::id(), fsutil::nonce()));
    fsutil::create_dirs_durable(&work)?;
    let file_name = opts.file_name.clone().unwrap_or_else(|| {
        bundle
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let res = admit_in(gate, policy, bundle, &file_name, &work, &key, opts);
    let _ = fsutil::remove_tree(&work);
    if let Err(e) = &res {
        record_error(gate, policy, &key, &file_name, e);
    }
    res
}

/// Admit `intake/<name>`: claim it first (so a watcher on the same gate cannot take it too),
/// admit the claim, and put it back in `intake/` when nothing durable was decided.
/// `Ok(None)`: another process claimed it first.
pub fn admit_intake(
    gate: &Gate,
    policy: &Policy,
    name: &str,
    opts: &AdmitOptions<'_>,
) -> Result<Option<AdmitResult>, GateError> {
    let Some(claimed) = super::claim::claim(gate, name)? else {
        return Ok(None);
    };
    let opts = AdmitOptions {
        verifier: opts.verifier,
        now: opts.now,
        consume_input: true,
        file_name: Some(name.to_string()),
        cancel: opts.cancel,
    };
    let res = admit(gate, policy, &claimed, &opts);
    if res.is_err() && claimed.exists() {
        super::claim::release(gate, &claimed)?;
    }
    res.map(Some)
}

/// Best effort: an audit record for an admit that failed (the failure may be the disk) or
/// was abandoned on request (event `abandoned`).
fn record_error(gate: &Gate, policy: &Policy, key: &PrivateKey, file: &str, e: &GateError) {
    let Ok(_lock) = GateLock::acquire(&gate.lock_path()) else {
        return;
    };
    let event = match e {
        GateError::Abandoned => "abandoned",
        _ => "error",
    };
    let mut rec = Record::new(event, event, &policy.digest());
    rec.bundle = Some(AuditBundle {
        file: file.to_string(),
        ..AuditBundle::default()
    });
    rec.error = Some(e.to_string());
    // a damaged log is not written to (admit reports the damage)
    let _ = checkpoint::append(&gate.audit_dir(), key, rec);
}

fn admit_in(
    gate: &Gate,
    policy: &Policy,
    bundle: &Path,
    file_name: &str,
    work: &Path,
    key: &PrivateKey,
    opts: &AdmitOptions<'_>,
) -> Result<AdmitResult, GateError> {
    let arrival_id = file_id(bundle)?;
    let tree = work.join("stage");
    let files = tree.join(receipt::PAYLOAD_DIR);
    fsutil::create_dirs_durable(&files)?;
    // A bundle that claims a version that could not be staged (rollback or replay) is
    // verified without extracting anything: nothing of it is written before the state says
    // it could be staged. The claim is unauthenticated; the verified statement decides below.
    if super::model_check::is_model_tar(bundle, &policy.limits) {
        // an OpenSSF-signed model (tar of a model folder with model.sig): see model.rs
        return super::model::admit_model(gate, policy, bundle, file_name, work, key, opts);
    }
    let claim = peek_claim(bundle, policy);
    if claim
        .as_ref()
        .is_some_and(|(kind, _, _)| kind == crate::trust::trust_state::ROOT_KIND)
    {
        // a trust rotation: authenticated against the active root role, not verified as
        // an ordinary bundle (see rotate.rs)
        return super::rotate::admit_trust(gate, policy, bundle, file_name, work, key, opts);
    }
    let active = super::trust::active(gate, policy, false)?;
    let store = active.store();
    let state_now = State::load(&gate.state_dir())?;
    let hopeless = claim.is_some_and(|(kind, name, version)| {
        let staged = staged_versions(&gate.staging(), &kind, &name).unwrap_or_default();
        !matches!(
            state_now.check(&kind, &name, &version, "", &staged),
            Check::Fresh
        )
    });
    let mut cand = opts.verifier.check(
        bundle,
        policy,
        store.as_ref(),
        (!hopeless).then_some(files.as_path()),
        opts.now,
        opts.cancel,
    )?;
    fsutil::pause_point("verified");
    if cand.bundle_sha256.is_empty() {
        cand.bundle_sha256 = crate::util::hash_file(bundle)
            .map_err(fsutil::io("read", bundle))?
            .0;
    }
    cand.report.command = "admit".into();
    let sha = cand.bundle_sha256.clone();
    let ctx = Ctx::new(gate, policy, key, bundle, file_name, opts, &sha);

    let _lock = GateLock::acquire(&gate.lock_path())?;
    // A rotation that finished while this bundle was verified changes what may count.
    if super::trust::load_state(gate)?.map(|s| s.version()) != active.version() {
        return Err(GateError::Verify {
            message: "the gate's trust configuration was rotated while this bundle was being \
                      verified; admit it again"
                .into(),
            class: crate::ErrorClass::Operational,
        });
    }
    if cand
        .accepted
        .as_ref()
        .is_some_and(|a| a.kind() == crate::trust::trust_state::ROOT_KIND)
    {
        // the envelope read before verification said otherwise: the file changed
        return Err(GateError::Damaged {
            path: bundle.to_path_buf(),
            message: "the bundle changed while it was being admitted; admit it again".into(),
        });
    }
    let Candidate {
        report, accepted, ..
    } = cand;
    let plan = super::tail::Plan::Native { hopeless };
    super::tail::admit_decided(&ctx, report, accepted, plan, &arrival_id, work)
}

/// Versions with a receipt under `staging/<kind>/<name>/`.
pub(super) fn staged_versions(
    staging: &Path,
    kind: &str,
    name: &str,
) -> Result<Vec<String>, GateError> {
    let dir = staging.join(kind).join(name);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(fsutil::io("read", &dir)(e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(fsutil::io("read", &dir))?;
        if e.path().join(RECEIPT_FILE).is_file() {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(out)
}

/// Turn an accepting report into a rejection by the gate itself.
pub(super) fn gate_reject(
    mut report: Report,
    rule: &str,
    msg: &str,
    file: &str,
    sha: &str,
) -> Report {
    report.verdict = Verdict::Reject;
    report.reasons.insert(0, msg.to_string());
    report.findings.insert(
        0,
        Finding::new(
            file,
            rule,
            Category::Trust,
            Severity::High,
            msg,
            sha.as_bytes(),
        ),
    );
    report
}

/// How to take back a published outcome whose audit record could not be written.
pub(super) enum Undo {
    Nothing,
    Staged {
        dest: PathBuf,
        tree: PathBuf,
        state: State,
    },
    Quarantined {
        dest: PathBuf,
        tmp: PathBuf,
    },
    /// A staged trust rotation: also put the previous trust state back.
    Rotated {
        dest: PathBuf,
        tree: PathBuf,
        state: State,
        trust: crate::trust::trust_state::TrustState,
    },
}

pub(super) struct Ctx<'a> {
    pub(super) gate: &'a Gate,
    pub(super) policy: &'a Policy,
    pub(super) key: &'a PrivateKey,
    pub(super) bundle: &'a Path,
    pub(super) file_name: &'a str,
    pub(super) opts: &'a AdmitOptions<'a>,
    pub(super) sha: &'a str,
    /// Set for an accepted trust rotation: recorded as event `trust`, outcome `rotated`.
    pub(super) rotation: Option<audit::TrustChange>,
}

impl<'a> Ctx<'a> {
    /// The context of one admission of `bundle` (named `file_name` in intake), whose file
    /// hashes to `sha`.
    pub(super) fn new(
        gate: &'a Gate,
        policy: &'a Policy,
        key: &'a PrivateKey,
        bundle: &'a Path,
        file_name: &'a str,
        opts: &'a AdmitOptions<'a>,
        sha: &'a str,
    ) -> Ctx<'a> {
        Ctx {
            gate,
            policy,
            key,
            bundle,
            file_name,
            opts,
            sha,
            rotation: None,
        }
    }

    fn rel(&self, p: &Path) -> String {
        p.strip_prefix(&self.gate.root)
            .unwrap_or(p)
            .display()
            .to_string()
    }

    /// Take back an outcome that could not be recorded, so it never counts (best effort).
    pub(super) fn undo(&self, undo: Undo) {
        match undo {
            Undo::Nothing => {}
            Undo::Staged { dest, tree, state } => {
                let _ = publish::unpublish(&dest, &tree);
                let _ = state.save(&self.gate.state_dir());
            }
            Undo::Rotated {
                dest,
                tree,
                state,
                trust,
            } => {
                let _ = publish::unpublish(&dest, &tree);
                let _ = super::trust::save_state(self.gate, &trust);
                let _ = state.save(&self.gate.state_dir());
            }
            Undo::Quarantined { dest, tmp } => {
                if fsutil::rename_noreplace(&dest, &tmp).is_ok() {
                    let _ = fsutil::sync_path(&self.gate.quarantine());
                }
            }
        }
    }

    pub(super) fn quarantine(
        &self,
        mut report: Report,
        acc: Option<&Admissible>,
        work: &Path,
    ) -> Result<AdmitResult, GateError> {
        report.verdict = Verdict::Reject;
        if report.bundle.is_none() {
            report.bundle = Some(BundleInfo {
                sha256: self.sha.to_string(),
                path: self.file_name.to_string(),
                ..BundleInfo::default()
            });
        }
        if report.policy_sha256.is_empty() {
            report.policy_sha256 = self.policy.digest();
        }
        // A copy of this very input with this content, quarantined by an earlier run (killed
        // before it recorded it, or re-run): finish that one instead of making a second.
        let source_id = quarantine::file_id(self.bundle)?;
        if let Some(q) = quarantine::find_copy(&self.gate.quarantine(), self.sha, &source_id)? {
            return self.finish(
                Disposition::Quarantined,
                report,
                acc,
                q,
                true,
                Undo::Nothing,
            );
        }
        let tmp = work.join("quarantine");
        let dest = quarantine::quarantine(
            &self.gate.quarantine(),
            &tmp,
            self.bundle,
            self.file_name,
            report.to_json().as_bytes(),
            self.sha,
            self.opts.now,
            self.opts.consume_input,
        )?;
        fsutil::pause_point("published");
        let undo = Undo::Quarantined {
            dest: dest.clone(),
            tmp,
        };
        self.finish(Disposition::Quarantined, report, acc, dest, false, undo)
    }

    /// Finish the quarantine at `q` that an interrupted run made durable for this very
    /// file: record it if it was not recorded, remove the input.
    pub(super) fn resume_quarantined(
        &self,
        report: Report,
        q: PathBuf,
    ) -> Result<AdmitResult, GateError> {
        self.finish(
            Disposition::Quarantined,
            report,
            None,
            q,
            true,
            Undo::Nothing,
        )
    }

    /// Record the outcome in the audit log (unless an interrupted run already did), then
    /// remove the input. If the record cannot be written, `undo` takes the outcome back.
    pub(super) fn finish(
        &self,
        disposition: Disposition,
        report: Report,
        acc: Option<&Admissible>,
        dest: PathBuf,
        resumed: bool,
        undo: Undo,
    ) -> Result<AdmitResult, GateError> {
        let dest_rel = self.rel(&dest);
        let previous = if resumed {
            audit::read_records(&self.gate.audit_log())?
                .into_iter()
                .find(|r| {
                    (r.event == "admit" || r.event == crate::trust::trust_state::ROOT_KIND)
                        && r.destination.as_deref() == Some(dest_rel.as_str())
                        && r.bundle.as_ref().is_some_and(|b| b.sha256 == self.sha)
                })
        } else {
            None
        };
        if previous.is_none() {
            let rec = self.record(disposition, &report, acc, &dest_rel);
            // signed before it is written (see checkpoint::append); a damaged log refuses
            if let Err(e) = checkpoint::append(&self.gate.audit_dir(), self.key, rec) {
                self.undo(undo);
                return Err(e);
            }
        }
        fsutil::pause_point("recorded");
        if self.opts.consume_input {
            fsutil::fault("remove-input")?;
            std::fs::remove_file(self.bundle).map_err(fsutil::io("remove", self.bundle))?;
            fsutil::sync_parent(self.bundle)?;
            fsutil::pause_point("input-removed");
        }
        Ok(AdmitResult {
            disposition,
            report,
            destination: dest,
            sha256: self.sha.to_string(),
            // an earlier run's decision stands; this run finished it only if something was
            // left to do (its record, or removing the input from intake)
            resumed: resumed && (previous.is_none() || self.opts.consume_input),
            decided_before: previous.map(|r| r.time),
        })
    }

    fn record(
        &self,
        disposition: Disposition,
        report: &Report,
        acc: Option<&Admissible>,
        dest_rel: &str,
    ) -> Record {
        let (event, outcome) = match (&self.rotation, disposition) {
            (Some(_), Disposition::Staged) => {
                (crate::trust::trust_state::ROOT_KIND, super::trust::ROTATED)
            }
            _ => ("admit", disposition.as_str()),
        };
        let mut rec = Record::new(event, outcome, &self.policy.digest())
            .with_findings(&report.findings, &report.waived);
        if disposition == Disposition::Staged {
            rec.trust = self.rotation.clone();
        }
        let info = report.bundle.clone().unwrap_or_default();
        rec.bundle = Some(AuditBundle {
            sha256: self.sha.to_string(),
            kind: acc.map(|a| a.kind().to_string()).unwrap_or(info.kind),
            name: acc.map(|a| a.name().to_string()).unwrap_or(info.name),
            version: acc
                .map(|a| a.version_label().to_string())
                .unwrap_or(info.version),
            file: self.file_name.to_string(),
        });
        rec.signers = match acc {
            Some(a) => a.signers().to_vec(),
            None => report
                .signatures
                .iter()
                .filter(|s| s.status == SignatureStatus::Counted)
                .map(|s| s.key_id.clone())
                .collect(),
        };
        rec.verdict = Some(report.verdict);
        rec.reasons = report.reasons.clone();
        rec.destination = Some(dest_rel.to_string());
        rec
    }
}
