//! Maps verification results and findings to a verdict, by policy.

use crate::policy::Policy;
use crate::vocab::{Category, Finding, Report, Severity};

pub use crate::vocab::Verdict;

/// Categories no waiver can clear: they describe the bundle's authenticity and structure.
pub fn waivable(category: Category) -> bool {
    !matches!(
        category,
        Category::Trust | Category::Integrity | Category::Archive
    )
}

/// Whether `[inspect] disabled_rules` can switch off `f`: an inspection rule's finding.
/// Findings about authenticity and structure, and those that say content went unread,
/// are never switched off (a refused format is lowered per format with
/// `[inspect.uninspectable]` instead).
pub fn disableable(f: &Finding) -> bool {
    waivable(f.category) && !crate::vocab::coverage::means_unread(&f.rule)
}

/// Findings split by the policy: those of disabled rules dropped (see [`disableable`]),
/// the rest split by the waivers into `(kept, waived)`. Waivers only apply to waivable
/// categories. Every command screens its findings through here, so a disabled rule gives
/// no finding in `scan`, `verify`, `admit` or `reverify` alike.
pub fn apply_waivers(findings: Vec<Finding>, policy: &Policy) -> (Vec<Finding>, Vec<Finding>) {
    let disabled = &policy.inspect.disabled_rules;
    let findings: Vec<Finding> = if disabled.is_empty() {
        findings
    } else {
        findings
            .into_iter()
            .filter(|f| !(disabled.contains(&f.rule) && disableable(f)))
            .collect()
    };
    if policy.inspect.waivers.is_empty() {
        return (findings, Vec::new());
    }
    findings.into_iter().partition(|f| {
        !(waivable(f.category)
            && policy
                .inspect
                .waivers
                .iter()
                .any(|w| w.fingerprint == f.fingerprint))
    })
}

/// The verdict for a set of (unwaived) findings: reject when any reaches `block_at`, or
/// when any trust, integrity or archive finding is at least `High`.
pub fn verdict(findings: &[Finding], policy: &Policy) -> Verdict {
    let blocks = findings.iter().any(|f| {
        f.severity >= policy.decide.block_at
            || (!waivable(f.category) && f.severity >= Severity::High)
    });
    if blocks {
        Verdict::Reject
    } else {
        Verdict::Accept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::inspect::Waiver;

    fn f(cat: Category, sev: Severity) -> Finding {
        Finding::new("p", "r", cat, sev, "m", b"k")
    }

    #[test]
    fn block_at_threshold() {
        let mut p = Policy::default();
        assert_eq!(
            verdict(&[f(Category::Secret, Severity::Medium)], &p),
            Verdict::Accept
        );
        assert_eq!(
            verdict(&[f(Category::Secret, Severity::High)], &p),
            Verdict::Reject
        );
        p.decide.block_at = Severity::Medium;
        assert_eq!(
            verdict(&[f(Category::Secret, Severity::Medium)], &p),
            Verdict::Reject
        );
        p.decide.block_at = Severity::Critical;
        // trust problems block regardless of block_at
        assert_eq!(
            verdict(&[f(Category::Trust, Severity::High)], &p),
            Verdict::Reject
        );
        assert_eq!(verdict(&[], &p), Verdict::Accept);
    }

    #[test]
    fn waivers_do_not_clear_trust() {
        let mut p = Policy::default();
        let s = f(Category::Secret, Severity::High);
        let t = f(Category::Trust, Severity::High);
        for x in [&s, &t] {
            p.inspect.waivers.push(Waiver {
                fingerprint: x.fingerprint.clone(),
                who: "ops".into(),
                why: "test".into(),
            });
        }
        let (kept, waived) = apply_waivers(vec![s, t], &p);
        assert_eq!(waived.len(), 1);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].category, Category::Trust);
    }
}

/// Judge a report's findings by the policy: disabled rules dropped and listed, waived
/// findings moved aside, the rest sorted, and the verdict and reasons set from them. The one
/// place a verdict is reached: `scan` calls it, and `verify`, `admit` and `reverify` through
/// [`finalize`].
pub fn judge(report: &mut crate::vocab::Report, policy: &Policy) {
    let (kept, mut waived) = apply_waivers(std::mem::take(&mut report.findings), policy);
    report.findings = kept;
    report.waived.append(&mut waived);
    report.disabled_rules = policy.inspect.disabled_rules.clone();
    report.sort();
    report.verdict = verdict(&report.findings, policy);
    report.reasons = reasons(&report.findings, policy);
}

/// Add inspection findings to the report of a file checked by a detached, Sigstore or
/// model signature: the findings are screened as everywhere ([`apply_waivers`]); a
/// signature that verified still rejects when a kept finding blocks, with a reason that
/// says so (`why`, given the number of blocking findings and `block_at`). A signature that
/// did not verify keeps its rejection and reasons.
pub fn judge_external(
    report: &mut Report,
    findings: Vec<Finding>,
    policy: &Policy,
    why: impl FnOnce(usize, Severity) -> String,
) {
    let (kept, waived) = apply_waivers(findings, policy);
    report.disabled_rules = policy.inspect.disabled_rules.clone();
    let signature_ok = report.verdict == Verdict::Accept;
    report.findings.extend(kept);
    report.waived.extend(waived);
    report.sort();
    if signature_ok && verdict(&report.findings, policy) == Verdict::Reject {
        report.verdict = Verdict::Reject;
        let blocking = report
            .findings
            .iter()
            .filter(|f| f.severity >= policy.decide.block_at)
            .count();
        report.reasons.push(why(blocking, policy.decide.block_at));
    }
}

/// Set a verification report's verdict and reasons from its findings and the policy, moving
/// waived findings aside. Used by `verify` to finish its [`Outcome`](crate::verify::Outcome).
pub fn finalize(
    mut report: crate::vocab::Report,
    verified: Option<crate::verify::VerifiedBundle>,
    policy: &Policy,
) -> crate::verify::Outcome {
    judge(&mut report, policy);
    if verified.is_none() {
        report.verdict = Verdict::Reject;
    }
    if report.verdict == Verdict::Reject && report.reasons.is_empty() {
        report
            .reasons
            .push("the bundle could not be verified".into());
    }
    crate::verify::Outcome { report, verified }
}

/// One line per blocking finding, most severe first (at most 10, then a count).
fn reasons(findings: &[Finding], policy: &Policy) -> Vec<String> {
    let blocking: Vec<&Finding> = findings
        .iter()
        .filter(|f| {
            f.severity >= policy.decide.block_at
                || (!waivable(f.category) && f.severity >= Severity::High)
        })
        .collect();
    let mut out: Vec<String> = blocking
        .iter()
        .take(10)
        .map(|f| {
            if f.path.is_empty() || f.message.contains(&f.path) {
                format!("{}: {}", f.rule, f.message)
            } else {
                format!("{}: {}: {}", f.rule, f.path, f.message)
            }
        })
        .collect();
    if blocking.len() > 10 {
        out.push(format!(
            "... and {} more blocking findings",
            blocking.len() - 10
        ));
    }
    out
}

/// The decision on a verified outcome.
// Both variants are large and a decision is moved once; boxing would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Decision {
    /// Accepted: the value that alone can be staged.
    Accept(Accepted),
    /// Rejected: the report, with the reasons.
    Reject(crate::vocab::Report),
}

/// An accepted bundle: only [`decide`] constructs it, and staging requires it.
#[derive(Debug)]
pub struct Accepted {
    bundle: crate::verify::VerifiedBundle,
    report: crate::vocab::Report,
}

impl Accepted {
    /// The report of the accepted bundle (verdict `accept`).
    pub fn report(&self) -> &crate::vocab::Report {
        &self.report
    }
    /// What verification established: statement, version, signers, extracted tree.
    pub fn bundle(&self) -> &crate::verify::VerifiedBundle {
        &self.bundle
    }
    /// Both parts, consuming the decision.
    pub fn into_parts(self) -> (crate::verify::VerifiedBundle, crate::vocab::Report) {
        (self.bundle, self.report)
    }
}

/// Turn an outcome into a decision: accept only a verified bundle whose report accepts.
pub fn decide(outcome: crate::verify::Outcome, policy: &Policy) -> Decision {
    // `verify` reports what it found; the policy is applied here, once, for every input
    let crate::verify::Outcome {
        mut report,
        verified,
    } = finalize(outcome.report, outcome.verified, policy);
    // Re-derive the verdict here so an edited report cannot smuggle an accept through.
    let v = verdict(&report.findings, policy);
    match (verified, v) {
        (Some(bundle), Verdict::Accept) => {
            report.verdict = Verdict::Accept;
            Decision::Accept(Accepted { bundle, report })
        }
        _ => {
            report.verdict = Verdict::Reject;
            Decision::Reject(report)
        }
    }
}
