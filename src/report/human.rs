//! The human-readable report: verdict first, then why, then the details.

use super::Report;
use crate::vocab::Verdict;
use std::fmt::Write;

/// Render a report for a terminal.
pub fn render(r: &Report) -> String {
    render_with(r, false)
}

/// Render a report for a terminal with the details `-v` asks for: the policy in force and
/// every waived finding.
pub fn render_verbose(r: &Report) -> String {
    render_with(r, true)
}

fn render_with(r: &Report, verbose: bool) -> String {
    let mut s = String::new();
    let verdict = match r.verdict {
        Verdict::Accept => "ACCEPTED",
        Verdict::Reject => "REJECTED",
    };
    match &r.bundle {
        Some(b) => {
            let what: Vec<&str> = [&b.kind, &b.name, &b.version]
                .into_iter()
                .filter(|x| !x.is_empty())
                .map(String::as_str)
                .collect();
            let place = if b.path.is_empty() {
                &b.sha256
            } else {
                &b.path
            };
            if what.is_empty() {
                let _ = writeln!(s, "{verdict}: {place}");
            } else {
                let _ = writeln!(s, "{verdict}: {} ({place})", what.join(" "));
            }
            if !b.sha256.is_empty() {
                let _ = writeln!(s, "  bundle sha256 {}", b.sha256);
            }
        }
        None => {
            let _ = writeln!(s, "{verdict}");
        }
    }
    for reason in &r.reasons {
        let _ = writeln!(s, "  reason: {reason}");
    }
    if !r.signatures.is_empty() {
        let _ = writeln!(s, "signatures:");
        for sig in &r.signatures {
            let who = sig.identity.as_deref().unwrap_or(&sig.key_id);
            let _ = writeln!(
                s,
                "  {:<10} {:<9} {} ({})",
                sig.format,
                format!("{:?}", sig.status).to_lowercase(),
                who,
                sig.reason
            );
        }
    }
    if verbose && !r.policy_sha256.is_empty() {
        let _ = writeln!(s, "  policy sha256 {}", r.policy_sha256);
    }
    let mut listed: Vec<(&str, &crate::vocab::Finding)> =
        r.findings.iter().map(|f| ("findings:", f)).collect();
    if verbose {
        listed.extend(r.waived.iter().map(|f| ("waived by policy:", f)));
    }
    let mut heading = "";
    for (h, f) in listed {
        if h != heading {
            let _ = writeln!(s, "{h}");
            heading = h;
        }
        let mut loc = f.path.clone();
        if let Some(l) = f.line {
            let _ = write!(loc, ":{l}");
        } else if let Some(o) = f.offset {
            let _ = write!(loc, "@{o}");
        }
        let also: Vec<&str> = f.also_categories.iter().map(|c| c.as_str()).collect();
        let also = if also.is_empty() {
            String::new()
        } else {
            format!(" (also {})", also.join(", "))
        };
        if loc.is_empty() {
            let _ = write!(s, "  [{}] {}{also}: {}", f.severity, f.rule, f.message);
        } else {
            let _ = write!(
                s,
                "  [{}] {} {}{also}: {}",
                f.severity, f.rule, loc, f.message
            );
        }
        if let Some(red) = &f.redacted {
            let _ = write!(s, " ({red})");
        }
        if f.confidence != crate::vocab::Confidence::High {
            let _ = write!(s, " [{} confidence]", f.confidence);
        }
        let _ = writeln!(s);
    }
    if !verbose && !r.waived.is_empty() {
        let _ = writeln!(
            s,
            "waived by policy: {} (-v lists them)",
            plural(r.waived.len() as u64, "finding", "findings")
        );
    }
    if !r.disabled_rules.is_empty() {
        let _ = writeln!(
            s,
            "disabled by policy (not checked): {}",
            r.disabled_rules.join(", ")
        );
    }
    if let Some(c) = &r.coverage {
        coverage(&mut s, c);
    }
    let t = &r.timings;
    let _ = writeln!(
        s,
        "{}, {} in {} ms ({:.0} MB/s)",
        plural(t.files, "file", "files"),
        plural(t.bytes, "byte", "bytes"),
        t.total_ms,
        t.mb_per_s
    );
    s
}

/// `N thing` / `N things`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The coverage section: what was read per format, and what was not.
fn coverage(s: &mut String, c: &crate::vocab::CoverageReport) {
    let _ = writeln!(
        s,
        "inspected: {}, {}, {} decoded",
        plural(c.files, "file", "files"),
        plural(c.members, "member", "members"),
        plural(c.bytes_decoded, "byte", "bytes")
    );
    for (name, n) in &c.formats {
        let _ = writeln!(
            s,
            "  {name:<16} {:>8} file(s) {:>9} member(s) {:>14} bytes",
            n.files, n.members, n.bytes
        );
    }
    if c.not_inspected_total == 0 {
        let _ = writeln!(s, "not inspected: nothing");
        return;
    }
    let _ = writeln!(
        s,
        "not inspected: {}",
        plural(c.not_inspected_total, "place", "places")
    );
    for x in &c.not_inspected {
        let _ = writeln!(s, "  {} ({}): {}", x.path, x.rule, x.reason);
    }
    let listed = c.not_inspected.len() as u64;
    if c.not_inspected_total > listed {
        let _ = writeln!(s, "  ... and {} more", c.not_inspected_total - listed);
    }
}
