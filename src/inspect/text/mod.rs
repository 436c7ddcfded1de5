//! Secret and reachback text rules: a [`TextScanner`] (the [`TextScan`] model parsers use)
//! and the [`TextInspector`] that streams every file through it, chunk by chunk with an
//! overlap so nothing is missed at chunk edges. Base64 blocks are decoded and rescanned.

pub mod anchor;
pub mod checks;
pub mod keywords;
pub mod matcher;
pub mod rules;

use super::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity, TextScan,
};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use matcher::{le_word, word_at, Matcher, RawMatch, HI, ONES, OVERLAP};
use rules::{Rule, RuleCategory};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// Shortest base64 run that is decoded and rescanned.
const MIN_B64: usize = 32;
/// Most encoded bytes of one base64 run that are decoded.
const MAX_B64: usize = 256 << 10;
/// Most nested base64 layers decoded and scanned; text found one layer deeper is refused
/// (`encoding.too-deep`), not ignored.
const MAX_B64_DEPTH: u32 = 3;
/// Bytes scanned per step by the streaming inspector.
const STEP: usize = 1 << 20;
/// Bytes kept before a step for context (line starts, look-behind).
const KEEP_BACK: usize = 256;
/// Most text-rule findings listed for one file; the rest are counted in one info finding.
/// The first match of every rule is always listed, past the limit too: a flood of one rule's
/// matches (say, 500 URLs) must never hide another rule's (a private key after them).
pub const MAX_FINDINGS_PER_FILE: usize = 500;

/// The compiled text rules and how to report their matches.
#[derive(Debug)]
pub struct TextScanner {
    matcher: Matcher,
}

fn b64_table() -> [bool; 256] {
    let mut t = [false; 256];
    for b in b'A'..=b'Z' {
        t[b as usize] = true;
    }
    for b in b'a'..=b'z' {
        t[b as usize] = true;
    }
    for b in b'0'..=b'9' {
        t[b as usize] = true;
    }
    for b in [b'+', b'/', b'-', b'_'] {
        t[b as usize] = true;
    }
    t
}

impl TextScanner {
    /// A scanner over `rules`; URLs and hosts under `internal_domains` are not reachback.
    pub fn new(
        rules: Vec<Rule>,
        internal_domains: Vec<String>,
    ) -> Result<TextScanner, keywords::KeywordError> {
        Ok(TextScanner {
            matcher: Matcher::new(rules, internal_domains)?,
        })
    }

    /// The rules in force.
    pub fn rules(&self) -> &[Rule] {
        &self.matcher.rules
    }

    /// Raw matches (for tests and tools): matches starting in `buf[from..to]`.
    pub fn raw(&self, buf: &[u8], from: usize, to: usize) -> Vec<RawMatch> {
        self.matcher.scan(buf, from, to, false)
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

    /// Decode and scan one whole base64 run at file offset `at` (one that
    /// [`scan_region`](Self::scan_region) left open).
    pub fn scan_base64_run(&self, path: &str, run: &[u8], at: u64, out: &mut Vec<Finding>) {
        if run.len() >= MIN_B64 && mixed(run) {
            self.decode_run(path, run, at, 0, out);
        }
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
        let matches = self.matcher.scan_spans(buf, from, to, &spans);
        let mut line = line0;
        let mut cursor = 0usize;
        for m in matches {
            if let Some(l) = line.as_mut() {
                *l += count_newlines(&buf[cursor..m.start]) as u64;
                cursor = m.start;
            }
            out.push(self.finding(path, buf, &m, base, line));
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

    fn finding(
        &self,
        path: &str,
        buf: &[u8],
        m: &RawMatch,
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
        let message = match (&m.host, rule.def.category) {
            (Some(h), _) => format!("{what}: {h} is outside the enclave's internal domains"),
            (None, RuleCategory::Secret) => {
                format!("{what}: remove it from the bundle and rotate it")
            }
            (None, RuleCategory::Reachback) => what,
        };
        let mut f = Finding::new(
            path,
            rule.def.id.clone(),
            Category::from(rule.def.category),
            rule.def.severity,
            message,
            value,
        )
        .at_offset(base + m.start as u64);
        if rule.def.category == RuleCategory::Secret {
            f = f.with_redacted(super::redact(value));
        }
        if let Some(l) = line {
            f = f.at_line(l);
        }
        f
    }

    /// Decode base64 runs that start in `buf[from..to]` and rescan what decodes to text.
    #[allow(clippy::too_many_arguments)]
    fn scan_base64(
        &self,
        path: &str,
        buf: &[u8],
        from: usize,
        to: usize,
        base: u64,
        depth: u32,
        open: &mut Option<Option<usize>>,
        out: &mut Vec<Finding>,
    ) {
        static TABLE: std::sync::OnceLock<[bool; 256]> = std::sync::OnceLock::new();
        let t = TABLE.get_or_init(b64_table);
        let n = buf.len();
        let end = to.min(n);
        // Probe every STRIDE-th byte. A run of at least MIN_B64 = STRIDE + REACH base64 bytes
        // holds its first probe p within its first STRIDE bytes, so all of buf[p..=p+REACH]
        // is base64: only where that holds is the run measured. (Prose and code fail the
        // test within a few bytes; a longer stride with a shorter reach costs fewer probes
        // but passes more often, and each pass measures a run.)
        const STRIDE: usize = 24;
        const REACH: usize = MIN_B64 - STRIDE;
        let mut p = from;
        while p < end {
            // the window's last byte alone turns most prose and code away; the rest of it is
            // tested a word at a time
            let whole = p + REACH < n
                && t[buf[p + REACH] as usize]
                && t[buf[p] as usize]
                && word_at(buf, p + 1).is_some_and(|w| b64_bad(w) == 0);
            if !whole {
                p += STRIDE;
                continue;
            }
            // measure the run a word at a time, then byte by byte near its ends
            let mut a = p;
            while a >= 8 {
                let m = word_at(buf, a - 8).map_or(HI, b64_bad);
                if m != 0 {
                    a -= (m.leading_zeros() / 8) as usize;
                    break;
                }
                a -= 8;
            }
            if a < 8 {
                while a > 0 && t[buf[a - 1] as usize] {
                    a -= 1;
                }
            }
            let mut b = p + REACH + 1;
            loop {
                match word_at(buf, b) {
                    Some(w) => {
                        let m = b64_bad(w);
                        if m != 0 {
                            b += (m.trailing_zeros() / 8) as usize;
                            break;
                        }
                        b += 8;
                    }
                    None => {
                        while b < n && t[buf[b] as usize] {
                            b += 1;
                        }
                        break;
                    }
                }
            }
            // a run that began before `from` belongs to the previous region
            if a >= from && b == n {
                if let Some(slot) = open.as_mut() {
                    // the run may go on past `buf`: the caller decodes it whole
                    *slot = Some(a);
                    p = b;
                    continue;
                }
            }
            if a >= from && b - a >= MIN_B64 && mixed(&buf[a..b]) {
                self.decode_run(path, &buf[a..b], base + a as u64, depth, out);
            }
            p = b;
        }
    }

    /// Decode a base64 run and text-scan what it holds, [`MAX_B64`] encoded bytes at a time
    /// with an overlap, so a long run is decoded to its end and a match across two pieces
    /// is whole in the first (each piece reports only matches that start in its own part).
    /// A piece that decodes to binary is skipped, but NUL bytes do not count towards that,
    /// so padding a payload with them does not hide it.
    fn decode_run(&self, path: &str, run: &[u8], at: u64, depth: u32, out: &mut Vec<Finding>) {
        let url = run.iter().any(|&b| b == b'-' || b == b'_');
        let cfg = GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent);
        let alphabet = if url {
            &base64::alphabet::URL_SAFE
        } else {
            &base64::alphabet::STANDARD
        };
        let engine = GeneralPurpose::new(alphabet, cfg);
        let inner = format!("{path}!base64@{at}");
        // encoded bytes of overlap: decodes to more than a match can span
        const B64_OVERLAP: usize = 4 * (matcher::OVERLAP / 3 + 1);
        let mut start = 0usize;
        while start < run.len() {
            let own = (run.len() - start).min(MAX_B64);
            let piece = &run[start..(start + own + B64_OVERLAP).min(run.len())];
            // a lone last character decodes to nothing
            let usable = piece.len() - usize::from(piece.len() % 4 == 1);
            let Ok(decoded) = engine.decode(&piece[..usable]) else {
                return;
            };
            if decoded.len() < 16 {
                return;
            }
            // binary (certificates, images) is not text; NUL bytes do not count either way,
            // so padding a script with them does not make it binary
            let printable = decoded
                .iter()
                .filter(|&&b| matcher::PRINTABLE[b as usize])
                .count();
            let non_nul = decoded.iter().filter(|&&b| b != 0).count();
            if printable * 10 < non_nul * 9 {
                start += own;
                continue;
            }
            if depth >= MAX_B64_DEPTH {
                out.push(
                    Finding::new(
                        path,
                        "encoding.too-deep",
                        Category::Format,
                        Severity::High,
                        format!(
                            "base64 nested more than {MAX_B64_DEPTH} levels deep decodes to \
                             text: it is not inspected, so it is refused"
                        ),
                        b"",
                    )
                    .at_offset(at),
                );
                return;
            }
            let own_decoded = (own / 4 * 3).min(decoded.len());
            self.scan_depth(
                &inner,
                &decoded,
                0,
                own_decoded,
                (start / 4 * 3) as u64,
                // lines are counted in the first piece (later ones would need the count)
                (start == 0).then_some(1),
                depth + 1,
                &mut None,
                out,
            );
            start += own;
        }
    }
}

/// Whether a base64-looking run mixes upper case, lower case and digits (prose and
/// identifiers rarely do).
fn mixed(run: &[u8]) -> bool {
    run.iter().any(u8::is_ascii_uppercase)
        && run.iter().any(u8::is_ascii_lowercase)
        && run.iter().any(u8::is_ascii_digit)
}

/// Bit 7 set in each byte of `w` that is not in the base64 alphabets (`A-Z a-z 0-9 + / - _`,
/// the same bytes as `b64_table`); exact and branch-free: every step works on 7-bit values,
/// so no carry crosses into the next byte.
#[inline(always)]
fn b64_bad(w: u64) -> u64 {
    const LOW7: u64 = ONES * 0x7f;
    let x = w & LOW7;
    // v >= lo and v <= hi, per byte, for 7-bit v
    let ge = |v: u64, lo: u64| (v + ONES * (0x80 - lo)) & HI;
    let le = |v: u64, hi: u64| !(v + ONES * (0x7f - hi)) & HI;
    let eq = |c: u8| {
        let y = x ^ (ONES * c as u64);
        !((y + LOW7) | y) & HI
    };
    // setting bit 5 folds A-Z onto a-z (and moves no other byte into a-z)
    let f = x | (ONES * 0x20);
    let alpha = ge(f, 0x61) & le(f, 0x7a);
    let digit = ge(x, 0x30) & le(x, 0x39);
    let good = (alpha | digit | eq(b'+') | eq(b'/') | eq(b'-') | eq(b'_')) & !(w & HI);
    !good & HI
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

/// Does the head look like text (UTF-8 without NUL bytes)? Text files get line numbers.
pub fn looks_text(head: &[u8]) -> bool {
    !head.contains(&0)
        && match std::str::from_utf8(head) {
            Ok(_) => true,
            Err(e) => e.error_len().is_none(),
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

/// Longest base64 run carried across steps to be decoded whole.
pub const MAX_RUN: usize = 64 << 20;

/// Whether `b` is in the base64 alphabets (standard or URL-safe).
pub fn b64_byte(b: u8) -> bool {
    static TABLE: std::sync::OnceLock<[bool; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(b64_table)[b as usize]
}

/// The finding for a run too long to carry.
pub fn run_too_long(path: &str, at: u64) -> Finding {
    Finding::new(
        path,
        "encoding.too-long",
        Category::Format,
        Severity::High,
        format!(
            "a base64 run longer than {} MiB: it is not decoded whole, so it is refused",
            MAX_RUN >> 20
        ),
        b"",
    )
    .at_offset(at)
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
        let Some(over) = self.over.filter(|o| !o.dropped.is_empty()) else {
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
            self.buf.reserve(hint.max(data.len()));
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

#[cfg(test)]
pub(crate) mod rule_tests;

#[cfg(test)]
mod b64_tests {
    use super::*;

    #[test]
    fn b64_mask_agrees_with_table() {
        let t = b64_table();
        for other in [b'a', b' ', 0x00, 0xff, b'_', 0x80, b'Z'] {
            for b in 0..=255u8 {
                for pos in 0..8 {
                    let mut bytes = [other; 8];
                    bytes[pos] = b;
                    let want = bytes
                        .iter()
                        .enumerate()
                        .filter(|(_, &c)| !t[c as usize])
                        .fold(0u64, |acc, (k, _)| acc | 0x80u64 << (8 * k));
                    assert_eq!(
                        b64_bad(u64::from_le_bytes(bytes)),
                        want,
                        "byte {b:#x} at {pos} among {other:#x}"
                    );
                }
            }
        }
    }
}
