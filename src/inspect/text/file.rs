//! The text rules as an [`Inspector`]: a file streamed in steps with an overlap, its
//! findings listed within per-file limits, base64 runs carried across steps.

use super::b64::{b64_byte, run_too_long, MAX_RUN};
use super::matcher::OVERLAP;
use super::{count_newlines, looks_text, TextScanner};
use crate::inspect::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// Bytes scanned per step by the streaming inspector.
const STEP: usize = 1 << 20;
/// Bytes kept before a step for context (line starts, look-behind).
const KEEP_BACK: usize = 256;
/// Most text-rule findings listed for one file; the rest are counted in one info finding.
/// The first match of every rule is always listed, past the limit too: a flood of one rule's
/// matches (say, 500 URLs) must never hide another rule's (a private key after them).
pub const MAX_FINDINGS_PER_FILE: usize = 500;

/// The [`Inspector`] running the text rules over every file.
#[derive(Clone, Debug)]
pub struct TextInspector {
    scanner: Arc<TextScanner>,
}

/// The name of the text inspector (see [`crate::inspect::Engine`]'s skip list).
pub const TEXT_INSPECTOR: &str = "text-rules";

impl TextInspector {
    /// An inspector sharing `scanner`.
    pub fn new(scanner: Arc<TextScanner>) -> TextInspector {
        TextInspector { scanner }
    }
}

impl Inspector for TextInspector {
    fn name(&self) -> &'static str {
        TEXT_INSPECTOR
    }

    fn open(
        &self,
        meta: &FileMeta<'_>,
        head: &[u8],
        _: &ScanContext,
    ) -> Option<Box<dyn FileInspector>> {
        Some(Box::new(TextFile {
            scanner: self.scanner.clone(),
            path: meta.path.to_string(),
            // allocated at the first update (a whole file is scanned where it lies)
            buf: Vec::new(),
            size_hint: meta.size,
            buf_base: 0,
            from: 0,
            lines_before: if looks_text(head) { Some(0) } else { None },
            found: Vec::new(),
            over: None,
            run: None,
        }))
    }
}

/// Streaming state for one file.
struct TextFile {
    scanner: Arc<TextScanner>,
    path: String,
    buf: Vec<u8>,
    size_hint: Option<u64>,
    /// File offset of `buf[0]`.
    buf_base: u64,
    /// Matches starting before `buf[from]` were reported.
    from: usize,
    /// Newlines in the file before `buf[0]` (None for binary files).
    lines_before: Option<u64>,
    found: Vec<Finding>,
    /// Bookkeeping once [`MAX_FINDINGS_PER_FILE`] is reached.
    over: Option<Overflow>,
    /// A base64 run that reached the end of the buffer at a step: (file offset, its bytes
    /// so far), completed from the next chunks and then decoded whole.
    run: Option<(u64, Vec<u8>)>,
}

/// Past the listing limit, what is still listed and what is only counted. Still listed: the
/// first match of each rule, and (up to [`MAX_EXTRA_SEVERE`]) each high or critical match
/// with a value not listed yet, so a waived first match cannot cover a second secret.
/// Beyond that, a severe match not listed makes the summary finding severe, so the file is
/// refused rather than passed with it unseen.
#[derive(Default)]
struct Overflow {
    fingerprints: HashSet<String>,
    rules: HashSet<String>,
    extra: usize,
    hidden_severe: Option<Severity>,
    /// Matches not listed, per rule.
    dropped: BTreeMap<String, u64>,
}

/// Severe matches listed past the limit, per file.
const MAX_EXTRA_SEVERE: usize = 500;

impl TextFile {
    /// Scan up to `to`; `more`: the file goes on after the buffer.
    fn step(&mut self, to: usize, more: bool) {
        let buf = std::mem::take(&mut self.buf);
        if let Some(a) = self.scan(&buf, to, more) {
            self.run = Some((self.buf_base + a as u64, buf[a..].to_vec()));
        }
        self.buf = buf;
    }

    /// Carry a pending base64 run on through `data` (the next bytes of the file); decode
    /// it once it ends (`data` holds a non-base64 byte) or at the end of the file (`None`).
    fn continue_run(&mut self, data: Option<&[u8]>) {
        let Some((at, mut run)) = self.run.take() else {
            return;
        };
        let ended = match data {
            None => true,
            Some(d) => {
                let k = d.iter().position(|&b| !b64_byte(b)).unwrap_or(d.len());
                run.extend_from_slice(&d[..k]);
                k < d.len()
            }
        };
        if run.len() > MAX_RUN {
            self.admit(vec![run_too_long(&self.path, at)]);
        } else if ended {
            let mut v = Vec::new();
            self.scanner.scan_base64_run(&self.path, &run, at, &mut v);
            self.admit(v);
        } else {
            self.run = Some((at, run));
        }
    }

    /// Scan `buf[self.from..to]` (`buf` starts at `self.buf_base` in the file); the start of
    /// a base64 run left open at the end of `buf` when `more`.
    fn scan(&mut self, buf: &[u8], to: usize, more: bool) -> Option<usize> {
        let line0 = self.lines_before.map(|n| n + 1);
        let mut v = Vec::new();
        let open = self.scanner.scan_region(
            &self.path,
            buf,
            self.from,
            to,
            self.buf_base,
            line0,
            more,
            &mut v,
        );
        self.admit(v);
        self.from = to;
        open
    }

    /// List new findings, within the per-file limits.
    fn admit(&mut self, v: Vec<Finding>) {
        for f in v {
            if self.found.len() < MAX_FINDINGS_PER_FILE {
                self.found.push(f);
                continue;
            }
            let found = &self.found;
            let over = self.over.get_or_insert_with(|| Overflow {
                fingerprints: found.iter().map(|k| k.fingerprint.clone()).collect(),
                rules: found.iter().map(|k| k.rule.clone()).collect(),
                ..Overflow::default()
            });
            let severe = f.severity >= Severity::High;
            let keep = if over.fingerprints.contains(&f.fingerprint) {
                false // the same value again: already listed once
            } else if !over.rules.contains(&f.rule) {
                true // this rule's first match
            } else if severe && over.extra < MAX_EXTRA_SEVERE {
                over.extra += 1;
                true
            } else {
                if severe {
                    over.hidden_severe = over.hidden_severe.max(Some(f.severity));
                }
                false
            };
            if keep {
                over.fingerprints.insert(f.fingerprint.clone());
                over.rules.insert(f.rule.clone());
                self.found.push(f);
            } else {
                *over.dropped.entry(f.rule).or_insert(0) += 1;
            }
        }
    }

    fn close(mut self, out: &mut Vec<Finding>) {
        out.append(&mut self.found);
        self.scanner.path_findings(&self.path, out);
        let Some(over) = self.over.take().filter(|o| !o.dropped.is_empty()) else {
            return;
        };
        let total: u64 = over.dropped.values().sum();
        let per_rule: Vec<String> = over
            .dropped
            .iter()
            .map(|(rule, n)| format!("{rule}: {n}"))
            .collect();
        let (severity, tail) = match over.hidden_severe {
            Some(s) => (
                s,
                " Among them are high or critical matches with values not listed, so the file \
                 is refused.",
            ),
            None => (Severity::Info, ""),
        };
        out.push(Finding::new(
            &self.path,
            "scan.too-many-findings",
            Category::Format,
            severity,
            format!(
                "{total} more text-rule matches in this file are not listed (limit \
                 {MAX_FINDINGS_PER_FILE}; each rule's first match and each distinct severe value \
                 are listed): {}.{tail}",
                per_rule.join(", ")
            ),
            b"",
        ));
    }
}

impl Drop for TextFile {
    fn drop(&mut self) {
        crate::inspect::pool::give(std::mem::take(&mut self.buf));
    }
}

impl FileInspector for TextFile {
    fn update(&mut self, offset: u64, data: &[u8], _out: &mut Vec<Finding>) -> Flow {
        if offset > 0 && self.buf_base == 0 && self.buf.is_empty() && self.from == 0 {
            // opened mid-file (the raw-text fallback after a container layer broke):
            // offsets count from here; line numbers are unknown
            self.buf_base = offset;
            self.lines_before = None;
        }
        if self.buf.capacity() == 0 {
            let hint = self
                .size_hint
                .map_or(0, |n| (n as usize).min(STEP + OVERLAP) + 1);
            self.buf = crate::inspect::pool::take(hint.max(data.len()));
        }
        self.continue_run(Some(data));
        self.buf.extend_from_slice(data);
        if self.buf.len() >= self.from + STEP + OVERLAP {
            let to = self.buf.len() - OVERLAP;
            self.step(to, true);
            let cut = to - KEEP_BACK;
            if let Some(n) = self.lines_before.as_mut() {
                *n += count_newlines(&self.buf[..cut]) as u64;
            }
            self.buf.drain(..cut);
            self.buf_base += cut as u64;
            self.from -= cut;
        }
        Flow::More
    }

    fn finish(mut self: Box<Self>, _total: u64, out: &mut Vec<Finding>) {
        self.continue_run(None);
        let to = self.buf.len();
        self.step(to, false);
        self.close(out);
    }

    fn whole(mut self: Box<Self>, data: &[u8], out: &mut Vec<Finding>) {
        if data.len() >= STEP + OVERLAP || !self.buf.is_empty() {
            // what the streaming steps would do, so a large buffer is scanned the same way
            let _ = self.update(0, data, out);
            return self.finish(data.len() as u64, out);
        }
        self.scan(data, data.len(), false);
        self.close(out);
    }
}
