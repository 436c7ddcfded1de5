//! Secret and reachback text rules: a [`TextScanner`] (the [`TextScan`] model parsers use)
//! and the [`TextInspector`] that streams every file through it, chunk by chunk with an
//! overlap so nothing is missed at chunk edges. Base64 blocks are decoded and rescanned.

mod accept;
pub mod anchor;
mod b64;
pub mod checks;
pub mod context;
mod file;
pub mod follow;
pub mod gitleaks;
pub mod host;
pub mod keywords;
pub mod matcher;
pub mod names;
pub mod published;
pub mod rules;
pub mod shape;

pub use b64::{b64_byte, run_too_long, MAX_RUN};
pub use file::{TextInspector, TEXT_INSPECTOR};

use super::{Category, Confidence, Finding, TextScan};
use b64::MAX_B64_DEPTH;
use matcher::{le_word, Matcher, RawMatch};
use rules::{Rule, RuleCategory};

/// The compiled text rules and how to report their matches.
#[derive(Debug)]
pub struct TextScanner {
    matcher: Matcher,
    /// Rules that match a file's name alone (gitleaks rules with a `path` and no `regex`).
    path_rules: Vec<gitleaks::PathRule>,
}

/// Why a text scanner could not be built: a configuration error.
#[derive(Debug, thiserror::Error)]
pub enum ScannerError {
    /// The keyword prefilter could not be built.
    #[error(transparent)]
    Keywords(#[from] keywords::KeywordError),
    /// An `allowed_hosts` entry is not a host name or address.
    #[error(transparent)]
    AllowHost(#[from] host::AllowError),
}

impl TextScanner {
    /// A scanner over `rules`; URLs and hosts under `internal_domains` (domains, IP
    /// addresses, CIDR blocks) are not reachback.
    pub fn new<S: AsRef<str>>(
        rules: Vec<Rule>,
        internal_domains: &[S],
    ) -> Result<TextScanner, ScannerError> {
        let allow = host::AllowList::new(internal_domains)?;
        Ok(TextScanner {
            matcher: Matcher::new(rules, allow)?,
            path_rules: Vec::new(),
        })
    }

    /// The same scanner, also reporting files whose names `path_rules` match.
    pub fn with_path_rules(mut self, path_rules: Vec<gitleaks::PathRule>) -> TextScanner {
        self.path_rules = path_rules;
        self
    }

    /// The rules in force.
    pub fn rules(&self) -> &[Rule] {
        &self.matcher.rules
    }

    /// Findings for the file at `path` from the rules that look at names only.
    pub fn path_findings(&self, path: &str, out: &mut Vec<Finding>) {
        out.extend(self.path_rules.iter().filter_map(|r| r.finding(path)));
    }

    /// Raw matches (for tests and tools): matches starting in `buf[from..to]`.
    pub fn raw(&self, buf: &[u8], from: usize, to: usize) -> Vec<RawMatch> {
        self.matcher.scan("", buf, from, to, false)
    }

    /// [`raw`](Self::raw) for a file at `path`.
    pub fn raw_at(&self, path: &str, buf: &[u8]) -> Vec<RawMatch> {
        self.matcher.scan(path, buf, 0, buf.len(), false)
    }

    /// Report the matches that start in `buf[from..to]`. `base` is the file offset of
    /// `buf[0]`; `line0` the 1-based line of `buf[0]` when the file is text.
    #[allow(clippy::too_many_arguments)]
    ///
    /// `more`: the file goes on after `buf`. A base64 run that starts in the region and
    /// reaches the end of `buf` is then not decoded here: its start (an index in `buf`) is
    /// returned, and the caller decodes it whole once it has the rest
    /// ([`scan_base64_run`](Self::scan_base64_run)).
    #[allow(clippy::too_many_arguments)]
    pub fn scan_region(
        &self,
        path: &str,
        buf: &[u8],
        from: usize,
        to: usize,
        base: u64,
        line0: Option<u64>,
        more: bool,
        out: &mut Vec<Finding>,
    ) -> Option<usize> {
        let mut open = more.then_some(None);
        self.scan_depth(path, buf, from, to, base, line0, 0, &mut open, out);
        open.flatten()
    }

    #[allow(clippy::too_many_arguments)]
    fn scan_depth(
        &self,
        path: &str,
        buf: &[u8],
        from: usize,
        to: usize,
        base: u64,
        line0: Option<u64>,
        depth: u32,
        // `Some(_)`: more of the file follows `buf`; set to a run reaching its end
        open: &mut Option<Option<usize>>,
        out: &mut Vec<Finding>,
    ) {
        let spans = matcher::spans(buf, from, line0.is_some());
        let mut matches = self.matcher.scan_spans(path, buf, from, to, &spans);
        self.one_fact_one_finding(&mut matches);
        let mut line = line0;
        let mut cursor = 0usize;
        for m in matches {
            // A match may begin with the line break or blanks before its text (a rule
            // written `(?:^|\s)curl…`): its line and offset are those of its first other
            // byte.
            let at = first_text_byte(buf, m.start, m.end);
            if let Some(l) = line.as_mut() {
                *l += count_newlines(&buf[cursor..at]) as u64;
                cursor = at;
            }
            out.push(self.finding(path, buf, &m, at, base, line));
        }
        if depth <= MAX_B64_DEPTH {
            // A base64 run is printable, so it lies inside a span: binary data between spans
            // is not probed.
            for &(s, e) in &spans {
                let (s, e) = (s.max(from), e.min(to));
                if s < e {
                    self.scan_base64(path, buf, s, e, base, depth, open, out);
                }
            }
        }
    }

    /// One fact, one finding. A match that carries the reachback category itself (a
    /// webhook URL reported as a secret and as reachback) stands for the reachback matches
    /// inside it; a specific secret rule's match stands for a catch-all (`fallback`) rule's
    /// match of the same value. The matches they stand for are dropped.
    fn one_fact_one_finding(&self, matches: &mut Vec<RawMatch>) {
        let rules = &self.matcher.rules;
        let def = |m: &RawMatch| &rules[m.rule].def;
        let urls = Spans::new(
            matches
                .iter()
                .filter(|m| def(m).also_categories.contains(&RuleCategory::Reachback))
                .map(|m| (m.start, m.end)),
        );
        let values = Spans::new(
            matches
                .iter()
                .filter(|m| def(m).category == RuleCategory::Secret && !def(m).fallback)
                .map(|m| (m.vstart, m.vend)),
        );
        if urls.is_empty() && values.is_empty() {
            return;
        }
        matches.retain(|m| {
            let d = def(m);
            let inside_url = d.category == RuleCategory::Reachback && urls.overlaps(m.start, m.end);
            let covered = d.fallback
                && d.category == RuleCategory::Secret
                && values.overlaps(m.vstart, m.vend);
            !(inside_url || covered)
        });
    }

    fn finding(
        &self,
        path: &str,
        buf: &[u8],
        m: &RawMatch,
        at: usize,
        base: u64,
        line: Option<u64>,
    ) -> Finding {
        let rule = &self.matcher.rules[m.rule];
        let value = &buf[m.vstart..m.vend];
        let what = rule
            .def
            .message
            .clone()
            .unwrap_or_else(|| rule.def.name.clone());
        let message = match (&m.host, rule.def.category, m.lowered) {
            (Some(h), _, _) => format!("{what}: {h} is outside the enclave's internal domains"),
            (None, RuleCategory::Secret, Some(note)) => format!("{what}: {note}"),
            (None, RuleCategory::Secret, None) => {
                format!("{what}: remove it from the bundle and rotate it")
            }
            (None, RuleCategory::Reachback, _) => what,
        };
        // a call whose target host is named, and found outside, is sure
        let confidence = match m.host {
            Some(_) => Confidence::High,
            None => rule.confidence,
        };
        let mut f = Finding::new(
            path,
            rule.def.id.clone(),
            Category::from(rule.def.category),
            m.severity.unwrap_or(rule.def.severity),
            message,
            value,
        )
        .with_confidence(confidence)
        .at_offset(base + at as u64);
        for &c in &rule.def.also_categories {
            f = f.also_in(Category::from(c));
        }
        if rule.def.category == RuleCategory::Secret {
            f = f.with_redacted(super::redact(value));
        }
        if let Some(l) = line {
            f = f.at_line(l);
        }
        f
    }
}

/// The first byte of `buf[start..end]` that is not a blank or a line break (`start` if
/// there is none).
pub(crate) fn first_text_byte(buf: &[u8], start: usize, end: usize) -> usize {
    buf[start..end]
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c))
        .map_or(start, |k| start + k)
}

/// Byte ranges, sorted by start, with the running maximum of their ends: whether any of
/// them overlaps a given range is one binary search (a window holding thousands of
/// matches must not cost a quadratic pass).
struct Spans {
    /// `(start, max end of this and every earlier range)`, by start.
    by_start: Vec<(usize, usize)>,
}

impl Spans {
    fn new(ranges: impl Iterator<Item = (usize, usize)>) -> Spans {
        let mut by_start: Vec<(usize, usize)> = ranges.collect();
        by_start.sort_unstable();
        let mut reach = 0;
        for r in &mut by_start {
            reach = reach.max(r.1);
            r.1 = reach;
        }
        Spans { by_start }
    }

    fn is_empty(&self) -> bool {
        self.by_start.is_empty()
    }

    /// Whether some range shares a byte with `[c, d)`.
    fn overlaps(&self, c: usize, d: usize) -> bool {
        // the ranges starting before `d`; one of them reaches past `c` iff the farthest does
        let n = self.by_start.partition_point(|&(s, _)| s < d);
        n > 0 && self.by_start[n - 1].1 > c
    }
}

/// Number of `\n` bytes in `b`, eight bytes at a time: an exact zero-byte test on
/// `word ^ 0x0a…` marks each newline with its lane's high bit, and per-lane counters are
/// summed every 255 words (before a lane could overflow).
pub fn count_newlines(b: &[u8]) -> usize {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const NL: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    const EVEN: u64 = 0x00ff_00ff_00ff_00ff;
    let mut total = 0usize;
    let mut words = b.chunks_exact(8);
    loop {
        let mut lanes = 0u64;
        let mut n = 0;
        for c in words.by_ref().take(255) {
            let x = le_word(c) ^ NL;
            lanes += (!(((x & LO7) + LO7) | x) & !LO7) >> 7;
            n += 1;
        }
        // 8 lanes of at most 255 -> 4 lanes of at most 510 -> one sum
        let pairs = (lanes & EVEN) + ((lanes >> 8) & EVEN);
        total += (pairs.wrapping_mul(0x0001_0001_0001_0001) >> 48) as usize;
        if n < 255 {
            break;
        }
    }
    total + words.remainder().iter().filter(|&&c| c == b'\n').count()
}

impl TextScan for TextScanner {
    fn scan_text(&self, path: &str, offset: Option<u64>, text: &[u8], out: &mut Vec<Finding>) {
        let line0 = if offset.is_none() { Some(1) } else { None };
        self.scan_region(
            path,
            text,
            0,
            text.len(),
            offset.unwrap_or(0),
            line0,
            false,
            out,
        );
    }
}

/// Does the head look like text (UTF-8 without NUL bytes)? Text files get line numbers.
pub fn looks_text(head: &[u8]) -> bool {
    !head.contains(&0)
        && match std::str::from_utf8(head) {
            Ok(_) => true,
            Err(e) => e.error_len().is_none(),
        }
}

#[cfg(test)]
pub(crate) mod rule_tests;

#[cfg(test)]
mod spans_tests {
    use super::Spans;

    #[test]
    fn overlap_queries_agree_with_a_pairwise_check() {
        // ranges that nest, touch and stand apart; queries on every small range
        let ranges = [(5, 9), (0, 2), (3, 4), (6, 7), (20, 40), (21, 22)];
        let spans = Spans::new(ranges.iter().copied());
        for c in 0..45 {
            for d in c + 1..46 {
                let want = ranges.iter().any(|&(a, b)| a < d && c < b);
                assert_eq!(spans.overlaps(c, d), want, "[{c}, {d})");
            }
        }
        // touching is not sharing a byte
        assert!(!spans.overlaps(2, 3));
        assert!(!spans.overlaps(9, 20));
        assert!(!Spans::new(std::iter::empty()).overlaps(0, 100));
    }
}
