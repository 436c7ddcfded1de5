//! Coverage: what one inspection run read, per format, and what it could not read and why,
//! so a report tells "nothing found" from "nothing read".
//!
//! The engine counts every file and member it opens under the format it sniffed (a layer's
//! [`format`](super::nested::Layer::format), a model inspector's name, or `text`/`binary`),
//! with the bytes it saw; a payload file's decoded bytes are added once it ends; findings
//! that say content went unread (`archive.uninspectable`, budgets, corrupt layers) are
//! listed as not inspected. Format readers may add their own counts with
//! [`Coverage::add`] (e.g. pages or rows) under a format name of their choosing.

use std::sync::Mutex;

pub use crate::vocab::coverage::{means_unread, CoverageReport, Skipped, MAX_LISTED};

/// The shared counter of one run. Cheap to lock: one short critical section per file.
#[derive(Debug, Default)]
pub struct Coverage {
    tally: Mutex<CoverageReport>,
}

impl Coverage {
    fn with<T>(&self, f: impl FnOnce(&mut CoverageReport) -> T) -> T {
        // a poisoned lock only means another worker panicked mid-count: keep counting
        let mut g = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// Count `files` payload files, `members` nested members and `bytes` bytes of `format`.
    pub fn add(&self, format: &str, files: u64, members: u64, bytes: u64) {
        self.with(|t| {
            t.files += files;
            t.members += members;
            let e = match t.formats.get_mut(format) {
                Some(e) => e,
                None => t.formats.entry(format.to_string()).or_default(),
            };
            e.files += files;
            e.members += members;
            e.bytes += bytes;
        });
    }

    /// One file (depth 0) or member (deeper) of `format`, `bytes` long.
    pub fn file(&self, format: &str, depth: u32, bytes: u64) {
        if depth == 0 {
            self.add(format, 1, 0, bytes);
        } else {
            self.add(format, 0, 1, bytes);
        }
    }

    /// Bytes produced by decoding layers.
    pub fn decoded(&self, bytes: u64) {
        if bytes > 0 {
            self.with(|t| t.bytes_decoded += bytes);
        }
    }

    /// Something at `path` was not inspected (`rule` names why, `reason` explains).
    pub fn not_inspected(&self, path: &str, rule: &str, reason: &str) {
        self.with(|t| {
            t.not_inspected_total += 1;
            if t.not_inspected.len() < MAX_LISTED {
                t.not_inspected.push(Skipped {
                    path: path.to_string(),
                    rule: rule.to_string(),
                    reason: reason.to_string(),
                });
            }
        });
    }

    /// Record every finding in `findings` that says content went unread.
    pub fn note_unread(&self, findings: &[super::Finding]) {
        for f in findings.iter().filter(|f| means_unread(&f.rule)) {
            self.not_inspected(&f.path, &f.rule, &f.message);
        }
    }

    /// What was counted so far (the not-inspected list sorted by path).
    pub fn report(&self) -> CoverageReport {
        let mut r = self.with(|t| t.clone());
        r.not_inspected
            .sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.rule.cmp(&b.rule)));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::FormatCount;

    #[test]
    fn counts_per_format_and_lists_what_was_not_read() {
        let c = Coverage::default();
        c.file("deb", 0, 100);
        c.file("xz", 1, 400);
        c.file("tar", 2, 400);
        c.file("text", 3, 10);
        c.file("text", 3, 20);
        c.decoded(400);
        c.not_inspected("a.7z", "archive.uninspectable", "7z is not opened");
        let r = c.report();
        assert_eq!((r.files, r.members, r.bytes_decoded), (1, 4, 400));
        assert_eq!(
            r.formats["text"],
            FormatCount {
                files: 0,
                members: 2,
                bytes: 30
            }
        );
        assert_eq!(r.formats["deb"].files, 1);
        assert_eq!(r.not_inspected_total, 1);
        assert_eq!(r.not_inspected[0].path, "a.7z");
        let mut twice = r.clone();
        twice.merge(&r);
        assert_eq!(twice.formats["text"].bytes, 60);
        assert_eq!(twice.not_inspected_total, 2);
    }

    #[test]
    fn the_list_is_bounded_but_the_total_is_not() {
        let c = Coverage::default();
        for i in 0..MAX_LISTED + 5 {
            c.not_inspected(&format!("f{i}"), "archive.too-deep", "deep");
        }
        let r = c.report();
        assert_eq!(r.not_inspected.len(), MAX_LISTED);
        assert_eq!(r.not_inspected_total, (MAX_LISTED + 5) as u64);
    }

    #[test]
    fn only_unread_rules_are_listed() {
        use crate::inspect::{Category, Finding, Severity};
        let c = Coverage::default();
        let f = |rule: &str| Finding::new("p", rule, Category::Archive, Severity::High, "m", b"");
        c.note_unread(&[
            f("secret.aws-access-key"),
            f("archive.uninspectable"),
            f("pickle.too-large-to-check"),
        ]);
        assert_eq!(c.report().not_inspected_total, 2);
    }
}
