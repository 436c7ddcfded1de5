//! Maps verification results and findings to a verdict, by policy.

use crate::inspect::{Category, Finding, Severity};
use crate::policy::Policy;
use serde::{Deserialize, Serialize};

/// The outcome a script sees: exit 0 for accept, 1 for reject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Accept,
    Reject,
}

/// Categories no waiver can clear: they describe the bundle's authenticity and structure.
pub fn waivable(category: Category) -> bool {
    !matches!(
        category,
        Category::Trust | Category::Integrity | Category::Archive
    )
}

/// Findings split by the policy's waivers: `(kept, waived)`. Waivers only apply to
/// waivable categories.
pub fn apply_waivers(findings: Vec<Finding>, policy: &Policy) -> (Vec<Finding>, Vec<Finding>) {
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
        f.severity >= policy.decide.block_at || (!waivable(f.category) && f.severity >= Severity::High)
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
        assert_eq!(verdict(&[f(Category::Secret, Severity::Medium)], &p), Verdict::Accept);
        assert_eq!(verdict(&[f(Category::Secret, Severity::High)], &p), Verdict::Reject);
        p.decide.block_at = Severity::Medium;
        assert_eq!(verdict(&[f(Category::Secret, Severity::Medium)], &p), Verdict::Reject);
        p.decide.block_at = Severity::Critical;
        // trust problems block regardless of block_at
        assert_eq!(verdict(&[f(Category::Trust, Severity::High)], &p), Verdict::Reject);
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
