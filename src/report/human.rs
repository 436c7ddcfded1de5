//! The human-readable report: verdict first, then why, then the details.

use super::Report;
use crate::decide::Verdict;
use std::fmt::Write;

/// Render a report for a terminal.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let verdict = match r.verdict {
        Verdict::Accept => "ACCEPTED",
        Verdict::Reject => "REJECTED",
    };
    match &r.bundle {
        Some(b) => {
            let _ = writeln!(
                s,
                "{verdict}: {} {} {} ({})",
                b.kind,
                b.name,
                b.version,
                if b.path.is_empty() {
                    &b.sha256
                } else {
                    &b.path
                }
            );
            let _ = writeln!(s, "  bundle sha256 {}", b.sha256);
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
    if !r.findings.is_empty() {
        let _ = writeln!(s, "findings:");
        for f in &r.findings {
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
            let _ = writeln!(s);
        }
    }
    if !r.waived.is_empty() {
        let _ = writeln!(s, "waived by policy: {} finding(s)", r.waived.len());
    }
    let t = &r.timings;
    let _ = writeln!(
        s,
        "{} files, {} bytes in {} ms ({:.0} MB/s)",
        t.files, t.bytes, t.total_ms, t.mb_per_s
    );
    s
}
