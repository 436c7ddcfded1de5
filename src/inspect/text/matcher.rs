//! The fast matcher: skip binary 8-byte blocks word-at-a-time, run one Aho-Corasick pass
//! over all rules' keywords on the printable spans, then run only the hit rules' regexes in
//! a window around each hit. Never one big RegexSet.

use super::checks::{
    classify_host, entropy, github_checksum_ok, host_of, is_placeholder, setting_on, HostKind,
};
use super::rules::{Check, Rule};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

/// How far before a keyword hit a rule's regex may start.
pub const WINDOW_BACK: usize = 64;
/// How far after a keyword hit a rule's regex may end.
pub const WINDOW_FWD: usize = 640;
/// Longest match a rule may produce (longer ones may be cut at a window edge).
pub const MAX_MATCH: usize = 384;
/// Bytes a chunked caller must keep after a region so every match starting in it is whole.
pub const OVERLAP: usize = WINDOW_BACK + WINDOW_FWD + 64;
/// Shortest printable span worth looking at.
const MIN_SPAN: usize = 12;

/// One accepted match, with positions in the scanned buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawMatch {
    pub rule: usize,
    pub start: usize,
    pub end: usize,
    pub vstart: usize,
    pub vend: usize,
    /// For host checks: the host that was judged external.
    pub host: Option<String>,
}

/// Compiled rules plus the keyword automaton.
pub struct Matcher {
    pub rules: Vec<Rule>,
    ac: Option<AhoCorasick>,
    /// Keyword pattern index → rules using it.
    kw_rules: Vec<Vec<u32>>,
    internal: Vec<String>,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("rules", &self.rules.len())
            .finish()
    }
}

const HI: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;

/// Bytes that can be part of text: printable ASCII, tab, LF, CR.
const fn printable_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0x20;
    while i < 0x7f {
        t[i] = true;
        i += 1;
    }
    t[b'\t' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t
}
pub(crate) const PRINTABLE: [bool; 256] = printable_table();

/// Are all 8 bytes of `w` text bytes? Word-at-a-time fast paths first.
#[inline(always)]
fn block_printable(w: u64) -> bool {
    if w & HI != 0 {
        return false;
    }
    let low = w.wrapping_sub(ONES * 0x20) & !w & HI;
    let x = w ^ (ONES * 0x7f);
    let del = x.wrapping_sub(ONES) & !x & HI;
    if low == 0 && del == 0 {
        return true;
    }
    w.to_le_bytes().iter().all(|&b| PRINTABLE[b as usize])
}

/// Printable spans of `buf[from..]`: runs of whole printable 8-byte blocks, widened to the
/// printable bytes next to them. Spans shorter than `MIN_SPAN` are dropped.
pub fn text_spans(buf: &[u8], from: usize) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = from;
    let n = buf.len();
    let mut run_start: Option<usize> = None;
    let close = |spans: &mut Vec<(usize, usize)>, s: usize, e: usize| {
        let mut a = s;
        while a > 0 && s - a < 8 && PRINTABLE[buf[a - 1] as usize] {
            a -= 1;
        }
        let mut b = e;
        while b < n && b - e < 8 && PRINTABLE[buf[b] as usize] {
            b += 1;
        }
        if b - a >= MIN_SPAN {
            match spans.last_mut() {
                Some(last) if last.1 >= a => last.1 = b,
                _ => spans.push((a, b)),
            }
        }
    };
    let region = &buf[from..];
    let whole = region.len() / 32 * 32;
    let word = |c: &[u8], k: usize| {
        u64::from_le_bytes([
            c[k],
            c[k + 1],
            c[k + 2],
            c[k + 3],
            c[k + 4],
            c[k + 5],
            c[k + 6],
            c[k + 7],
        ])
    };
    for group in region[..whole].chunks_exact(32) {
        let w = [
            word(group, 0),
            word(group, 8),
            word(group, 16),
            word(group, 24),
        ];
        // Fast path for binary data: every word has a byte >= 0x80 and no run is open.
        if run_start.is_none()
            && (w[0] & HI != 0) & (w[1] & HI != 0) & (w[2] & HI != 0) & (w[3] & HI != 0)
        {
            i += 32;
            continue;
        }
        for wk in w {
            if block_printable(wk) {
                if run_start.is_none() {
                    run_start = Some(i);
                }
            } else if let Some(s) = run_start.take() {
                close(&mut spans, s, i);
            }
            i += 8;
        }
    }
    for chunk in region[whole..].chunks_exact(8) {
        if block_printable(word(chunk, 0)) {
            if run_start.is_none() {
                run_start = Some(i);
            }
        } else if let Some(s) = run_start.take() {
            close(&mut spans, s, i);
        }
        i += 8;
    }
    // The tail (< 8 bytes) joins the last run, or stands alone if printable.
    if let Some(s) = run_start.take() {
        close(&mut spans, s, n.min(i));
    } else if i < n {
        let tail_start = (i..n)
            .rev()
            .take_while(|&j| PRINTABLE[buf[j] as usize])
            .last();
        if let Some(t) = tail_start {
            close(&mut spans, t, n);
        }
    }
    spans
}

impl Matcher {
    /// Build the keyword automaton over `rules`; `internal` lists the enclave's domains.
    pub fn new(
        rules: Vec<Rule>,
        internal: Vec<String>,
    ) -> Result<Matcher, aho_corasick::BuildError> {
        let mut kws: Vec<String> = Vec::new();
        let mut kw_rules: Vec<Vec<u32>> = Vec::new();
        for (ri, r) in rules.iter().enumerate() {
            for k in &r.def.keywords {
                let lk = k.to_ascii_lowercase();
                match kws.iter().position(|x| *x == lk) {
                    Some(p) => {
                        if !kw_rules[p].contains(&(ri as u32)) {
                            kw_rules[p].push(ri as u32)
                        }
                    }
                    None => {
                        kws.push(lk);
                        kw_rules.push(vec![ri as u32]);
                    }
                }
            }
        }
        let ac = if kws.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .prefilter(false)
                    .build(&kws)?,
            )
        };
        let internal = internal
            .into_iter()
            .map(|d| d.to_ascii_lowercase())
            .collect();
        Ok(Matcher {
            rules,
            ac,
            kw_rules,
            internal,
        })
    }

    /// The enclave's domains this matcher treats as internal.
    pub fn internal(&self) -> &[String] {
        &self.internal
    }

    /// Find the matches that start in `buf[from..to]`. Bytes before `from` are context only;
    /// the caller keeps [`OVERLAP`] bytes after `to` (unless the data ends there) so that every
    /// match starting before `to` is whole. Matches come back sorted by start.
    ///
    /// A match is found through a keyword hit at most [`WINDOW_BACK`] bytes after its start;
    /// matches are at most [`MAX_MATCH`] bytes long. With `is_text` the input is taken to be
    /// text and the binary-skipping pass is left out.
    pub fn scan(&self, buf: &[u8], from: usize, to: usize, is_text: bool) -> Vec<RawMatch> {
        let mut out = Vec::new();
        let Some(ac) = &self.ac else { return out };
        let n = buf.len();
        let to = to.min(n);
        if from >= to {
            return out;
        }
        let hit_limit = (to + WINDOW_BACK).min(n);
        let mut scanned_upto = vec![0usize; self.rules.len()];
        let mut last_end = vec![0usize; self.rules.len()];
        let spans = if is_text {
            vec![(from, n)]
        } else {
            text_spans(buf, from)
        };
        for (s, e) in spans {
            if s >= hit_limit {
                break;
            }
            let hay = &buf[s..e];
            for m in ac.find_overlapping_iter(hay) {
                let hit = s + m.start();
                if hit < from || hit >= hit_limit {
                    continue;
                }
                let hit_end = s + m.end();
                for &ri in &self.kw_rules[m.pattern().as_usize()] {
                    let ri = ri as usize;
                    if hit < scanned_upto[ri] {
                        continue;
                    }
                    let ws = hit
                        .saturating_sub(WINDOW_BACK)
                        .max(from)
                        .max(scanned_upto[ri]);
                    let we = (hit_end + WINDOW_FWD).min(n);
                    let safe = if we == n { n } else { we - MAX_MATCH };
                    scanned_upto[ri] = safe;
                    self.run_rule(ri, buf, ws, we, safe.min(to), &mut last_end[ri], &mut out);
                }
            }
        }
        out.sort_by_key(|m| (m.start, m.rule));
        out
    }

    /// Run rule `ri` over `buf[ws..we]`, keeping matches that start before `accept_below`.
    #[allow(clippy::too_many_arguments)]
    fn run_rule(
        &self,
        ri: usize,
        buf: &[u8],
        ws: usize,
        we: usize,
        accept_below: usize,
        last_end: &mut usize,
        out: &mut Vec<RawMatch>,
    ) {
        let rule = &self.rules[ri];
        let hay = &buf[..we];
        let mut at = ws;
        while at < accept_below {
            let Some(caps) = rule.regex.captures_at(hay, at) else {
                break;
            };
            let Some(m) = caps.get(0) else { break };
            if m.start() >= accept_below {
                break;
            }
            at = if m.end() > m.start() {
                m.end()
            } else {
                m.start() + 1
            };
            if m.start() < *last_end {
                continue;
            }
            let Some(v) = caps.get(rule.group) else {
                continue;
            };
            if let Some(rm) = self.accept(ri, buf, m.start(), m.end(), v.start(), v.end()) {
                *last_end = m.end();
                out.push(rm);
            }
        }
    }

    /// Apply placeholders, the entropy floor and the rule's check to a candidate.
    fn accept(
        &self,
        ri: usize,
        buf: &[u8],
        start: usize,
        end: usize,
        vs: usize,
        ve: usize,
    ) -> Option<RawMatch> {
        let rule = &self.rules[ri];
        let value = &buf[vs..ve];
        if !rule.def.keep_placeholders && is_placeholder(value) {
            return None;
        }
        if let Some(floor) = rule.def.entropy {
            if entropy(value) < floor {
                return None;
            }
        }
        let mut host = None;
        match rule.def.check {
            None => {}
            Some(Check::GithubCrc32) if !github_checksum_ok(value) => return None,
            Some(Check::GithubCrc32) => {}
            Some(Check::SettingOn) if !setting_on(&buf[start..end]) => return None,
            Some(Check::SettingOn) => {}
            Some(Check::NotOffline) => {
                let t = String::from_utf8_lossy(&buf[start..end]).to_ascii_lowercase();
                if ["offline", "disabled", "dryrun"]
                    .iter()
                    .any(|w| t.contains(w))
                {
                    return None;
                }
            }
            Some(c @ (Check::ExternalHost | Check::ExternalIp)) => {
                let h = host_of(value);
                let line_start = buf[..start]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1);
                let before = &buf[line_start.max(start.saturating_sub(256))..start];
                let kind = classify_host(&h, before, &self.internal);
                let want = if c == Check::ExternalHost {
                    HostKind::External
                } else {
                    HostKind::ExternalIp
                };
                if kind != want {
                    return None;
                }
                host = Some(h);
            }
        }
        Some(RawMatch {
            rule: ri,
            start,
            end,
            vstart: vs,
            vend: ve,
            host,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_skip_binary() {
        let mut buf = vec![0x80u8; 4096];
        buf[1000..1029].copy_from_slice(b"token = ghp_abcdefghijklmnopq");
        let spans = text_spans(&buf, 0);
        assert_eq!(spans, vec![(1000, 1029)]);
        assert!(text_spans(&[0xffu8; 100], 0).is_empty());
        let text = b"hello world, this is text\n".repeat(3);
        assert_eq!(text_spans(&text, 0), vec![(0, text.len())]);
        // printable tail shorter than a block at the very end of the buffer
        let mut b = vec![0u8; 64];
        b.extend_from_slice(b"AKIAABCDEFGHIJKLMNOP");
        let spans = text_spans(&b, 0);
        assert_eq!(spans, vec![(64, 84)]);
    }

    #[test]
    fn block_test_agrees_with_table() {
        for w in [
            0u64,
            u64::MAX,
            0x4141_4141_4141_4141,
            0x0a41_4141_4141_4141,
            0x7f41_4141_4141_4141,
            0x1f41_4141_4141_4141,
        ] {
            let slow = w.to_le_bytes().iter().all(|&b| PRINTABLE[b as usize]);
            assert_eq!(block_printable(w), slow, "{w:x}");
        }
    }
}
