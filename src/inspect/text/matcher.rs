//! The fast matcher: skip binary 8-byte blocks word-at-a-time, run one Aho-Corasick pass
//! over all rules' keywords on the printable spans, then run only the hit rules' regexes in
//! a window around each hit. Never one big RegexSet.

use super::accept::{accept, value_span, Candidate, HostMemo};
use super::follow;
use super::host::AllowList;
use super::keywords::{Hit, KeywordError, Keywords};
use super::rules::{Rule, MAX_LONG_MATCH};
use crate::inspect::Severity;
use regex_automata::meta::Cache;
use regex_automata::util::captures::Captures;
use regex_automata::{Anchored, Input};

/// How far before a keyword hit a rule's regex may start.
pub const WINDOW_BACK: usize = 64;
/// Longest match a rule may produce (longer ones may be cut at a window edge).
pub const MAX_MATCH: usize = 384;
/// How far after a keyword hit's end a rule's regex is run. Matches that start up to 64
/// bytes after the hit's end are accepted from this window (they end inside it); a later
/// hit of the same rule beyond that opens a new window.
pub const WINDOW_FWD: usize = MAX_MATCH + 64;
/// Bytes a chunked caller must keep after a region so every match starting in it is whole
/// (long matches, up to [`MAX_LONG_MATCH`], only come from rules anchored at their keyword).
pub const OVERLAP: usize = WINDOW_BACK + MAX_LONG_MATCH + 128;
/// Shortest printable span worth looking at: every printable run at least this long is
/// scanned whole (shorter ones may be skipped).
const MIN_SPAN: usize = 16;
/// One accepted match, with positions in the scanned buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawMatch {
    /// Index of the rule that matched.
    pub rule: usize,
    /// First byte of the whole match.
    pub start: usize,
    /// One past the last byte of the whole match.
    pub end: usize,
    /// First byte of the secret value within it.
    pub vstart: usize,
    /// One past the last byte of the secret value.
    pub vend: usize,
    /// For host checks: the host that was judged external.
    pub host: Option<String>,
    /// The severity when it is not the rule's: a published example value (info), or a
    /// rule's `lower_near` context.
    pub severity: Option<Severity>,
    /// Why the severity was lowered, for the message.
    pub lowered: Option<&'static str>,
}

/// Where an unanchored rule's regex runs: `buf[ws..we]`, keeping matches that start before
/// `accept_below`.
#[derive(Clone, Copy)]
struct Window {
    ws: usize,
    we: usize,
    accept_below: usize,
}

/// Compiled rules plus the keyword automaton.
pub struct Matcher {
    pub rules: Vec<Rule>,
    ac: Option<Keywords>,
    /// For each keyword, the rules that name it: (rule, the keyword's index in the rule's
    /// `keywords`).
    kw_rules: Vec<Vec<(u32, u32)>>,
    allow: AllowList,
    /// The specific secret rules' format markers (keywords such as `xoxb-`, `NRII-`,
    /// `pat.`): a catch-all (`fallback`) rule leaves a value holding one to the rule that
    /// knows that format, which did not accept it.
    markers: Option<aho_corasick::AhoCorasick>,
    /// Tells this matcher's per-worker [`Scratch`] from another matcher's.
    id: u64,
}

/// One rule's search state in a region: where its last match ended, its capture buffer
/// and its regex cache.
struct RuleState<'a> {
    last_end: &'a mut usize,
    caps: &'a mut Captures,
    cache: &'a mut Cache,
}

/// Per worker: what a scan of one region works with, kept between regions so that a file
/// costs no allocation for it (the per-rule positions, capture buffers and regex caches).
#[derive(Default)]
struct Scratch {
    /// The [`Matcher::id`] the capture buffers were made for.
    owner: u64,
    scanned_upto: Vec<usize>,
    last_end: Vec<usize>,
    /// Per rule: its capture buffer and its own regex cache (searched with the cache in
    /// hand, not through the regex's shared pool, which locks on all but one thread).
    caps: Vec<Option<(Captures, Cache)>>,
    /// (start, rule, keyword end) for rules searched anchored at their keyword hits.
    starts: Vec<(usize, usize, usize)>,
}

thread_local! {
    /// See [`Scratch`]; taken out while in use (a nested scan on the same worker gets a
    /// fresh one).
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

/// Source of [`Matcher::id`]s.
static MATCHER_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("rules", &self.rules.len())
            .finish()
    }
}

/// The high bit of every byte lane, and a one in every lane: the word-at-a-time masks here
/// and in the base64 probe are built from these.
pub(super) const HI: u64 = 0x8080_8080_8080_8080;
pub(super) const ONES: u64 = 0x0101_0101_0101_0101;

/// Eight bytes as a little-endian word (`c` is exactly 8 bytes long).
#[inline(always)]
pub(super) fn le_word(c: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(c);
    u64::from_le_bytes(b)
}

/// The 8 bytes at `buf[i..i + 8]` as a little-endian word, if they are all there.
#[inline(always)]
pub(super) fn word_at(buf: &[u8], i: usize) -> Option<u64> {
    buf.get(i..i.checked_add(8)?).map(le_word)
}

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

/// Bit 7 set in each byte of `w` that is not a text byte; exact and branch-free (every step
/// works on 7-bit values, so no carry crosses into the next byte).
#[inline(always)]
fn nontext_mask(w: u64) -> u64 {
    const LOW7: u64 = ONES * 0x7f;
    let x = w & LOW7;
    let is = |c: u64| {
        let y = x ^ (ONES * c);
        !((y + LOW7) | y) & HI
    };
    let below_space = !(x + ONES * (0x80 - 0x20)) & HI;
    let allowed_ctrl = is(b'\t' as u64) | is(b'\n' as u64) | is(b'\r' as u64);
    (w & HI) | (below_space & !allowed_ctrl) | is(0x7f)
}

/// Printable spans of `buf[from..]`, in order and not overlapping. Every run of printable
/// bytes (see [`PRINTABLE`]) of at least [`MIN_SPAN`] bytes lies inside one span; a span may
/// reach a few bytes past its run into binary data (those bytes only cost scanning time).
///
/// Word-at-a-time: a 32-byte group whose four words each hold a byte >= 0x80 (typical of
/// weights and compressed data) costs a few instructions; otherwise each word's exact
/// non-text mask gives where a run ends (its first non-text byte) and where the next one can
/// begin (after its last).
pub fn text_spans(buf: &[u8], from: usize) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let n = buf.len();
    if from >= n {
        return spans;
    }
    let push = |spans: &mut Vec<(usize, usize)>, s: usize, e: usize| {
        if e >= s + MIN_SPAN {
            match spans.last_mut() {
                Some(last) if last.1 >= s => last.1 = e,
                _ => spans.push((s, e)),
            }
        }
    };
    // Start of the printable run in progress (it may be empty).
    let mut run = from;
    let mut i = from;
    let region = &buf[from..];
    let whole = region.len() / 32 * 32;
    for group in region[..whole].chunks_exact(32) {
        let w = [
            le_word(&group[..8]),
            le_word(&group[8..16]),
            le_word(&group[16..24]),
            le_word(&group[24..]),
        ];
        let h = [w[0] & HI, w[1] & HI, w[2] & HI, w[3] & HI];
        if (h[0] != 0) & (h[1] != 0) & (h[2] != 0) & (h[3] != 0) {
            // Runs inside the group are shorter than 16 bytes; only one that entered it or
            // one that leaves it matters. (Byte >= 0x80 bounds: a control byte nearer is
            // not looked for, so the span may run a little long.)
            push(&mut spans, run, i + (h[0].trailing_zeros() / 8) as usize);
            run = i + 32 - (h[3].leading_zeros() / 8) as usize;
            i += 32;
            continue;
        }
        let m = [
            nontext_mask(w[0]),
            nontext_mask(w[1]),
            nontext_mask(w[2]),
            nontext_mask(w[3]),
        ];
        if (m[0] != 0) & (m[1] != 0) & (m[2] != 0) & (m[3] != 0) {
            // Every word holds a non-text byte (bytecode, packed integers): a run inside
            // the group misses a whole word, so is at most 14 bytes long. Again only the
            // runs that enter or leave the group matter.
            push(&mut spans, run, i + (m[0].trailing_zeros() / 8) as usize);
            run = i + 32 - (m[3].leading_zeros() / 8) as usize;
            i += 32;
            continue;
        }
        for mk in m {
            if mk != 0 {
                push(&mut spans, run, i + (mk.trailing_zeros() / 8) as usize);
                run = i + 8 - (mk.leading_zeros() / 8) as usize;
            }
            i += 8;
        }
    }
    for (k, &b) in region[whole..].iter().enumerate() {
        if !PRINTABLE[b as usize] {
            push(&mut spans, run, i + k);
            run = i + k + 1;
        }
    }
    push(&mut spans, run, n);
    spans
}

/// Where to search `buf[from..]`: all of it for text, else its printable runs (`text_spans`).
pub fn spans(buf: &[u8], from: usize, is_text: bool) -> Vec<(usize, usize)> {
    if is_text {
        vec![(from, buf.len())]
    } else {
        text_spans(buf, from)
    }
}

/// Keyword hits of each span, walked one by one: how a single span (text) is searched, and
/// the reference [`hits_packed`] must agree with.
fn hits_per_span(ac: &Keywords, buf: &[u8], spans: &[(usize, usize)]) -> Vec<Hit> {
    let mut hits = Vec::new();
    for &(s, e) in spans {
        let first = hits.len();
        ac.hits(&buf[s..e], &mut hits);
        for h in &mut hits[first..] {
            h.start += s;
            h.end += s;
        }
    }
    hits
}

thread_local! {
    /// Per worker: the spans of one region packed end to end (reused, so a region costs no
    /// allocation and no fresh pages).
    static PACKED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Keyword hits inside several spans, with positions in `buf`, ordered by end.
///
/// The spans are copied end to end, each followed by a NUL, and the copy is walked as one
/// haystack: the strip walk keeps four lookups in flight where short spans walked one by
/// one would each wait on the last, and the binary bytes between spans are not walked at
/// all. No keyword holds a NUL (rules are printable text), so after the separator the
/// automaton is back at its start state; a hit that would still begin before its span (in
/// the separator or an earlier span) is dropped all the same. The result equals walking
/// each span alone.
fn hits_packed(ac: &Keywords, buf: &[u8], spans: &[(usize, usize)]) -> Vec<Hit> {
    let mut hits = Vec::new();
    PACKED.with_borrow_mut(|packed| {
        packed.clear();
        // (packed offset, buffer offset) of each span's first byte
        let mut at: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
        for &(s, e) in spans {
            at.push((packed.len(), s));
            packed.extend_from_slice(&buf[s..e]);
            packed.push(0);
        }
        ac.hits(packed, &mut hits);
        // ordered by end, so the span holding each hit only moves forward
        let mut k = 0;
        hits.retain_mut(|h| {
            while k + 1 < at.len() && at[k + 1].0 < h.end {
                k += 1;
            }
            let (p, s) = at[k];
            if h.start < p {
                return false;
            }
            h.start = h.start - p + s;
            h.end = h.end - p + s;
            true
        });
    });
    hits
}

impl Matcher {
    /// Build the keyword automaton over `rules`; `allow` holds the enclave's hosts.
    pub fn new(rules: Vec<Rule>, allow: AllowList) -> Result<Matcher, KeywordError> {
        let mut kws: Vec<String> = Vec::new();
        let mut kw_rules: Vec<Vec<(u32, u32)>> = Vec::new();
        for (ri, r) in rules.iter().enumerate() {
            for (ki, k) in r.def.keywords.iter().enumerate() {
                let lk = k.to_ascii_lowercase();
                let (ri, ki) = (ri as u32, ki as u32);
                match kws.iter().position(|x| *x == lk) {
                    Some(p) => {
                        if !kw_rules[p].iter().any(|&(r, _)| r == ri) {
                            kw_rules[p].push((ri, ki))
                        }
                    }
                    None => {
                        kws.push(lk);
                        kw_rules.push(vec![(ri, ki)]);
                    }
                }
            }
        }
        let ac = if kws.is_empty() {
            None
        } else {
            Some(Keywords::new(&kws)?)
        };
        let markers = format_markers(&rules);
        Ok(Matcher {
            rules,
            ac,
            kw_rules,
            allow,
            markers,
            id: MATCHER_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// Find the matches that start in `buf[from..to]`. Bytes before `from` are context only;
    /// the caller keeps [`OVERLAP`] bytes after `to` (unless the data ends there) so that every
    /// match starting before `to` is whole. Matches come back sorted by start.
    ///
    /// A match is found through a keyword hit at most [`WINDOW_BACK`] bytes after its start;
    /// matches are at most [`MAX_MATCH`] bytes long. With `is_text` the input is taken to be
    /// text and the binary-skipping pass is left out.
    /// `path` names the file (rules may depend on it).
    pub fn scan(
        &self,
        path: &str,
        buf: &[u8],
        from: usize,
        to: usize,
        is_text: bool,
    ) -> Vec<RawMatch> {
        self.scan_spans(path, buf, from, to, &spans(buf, from, is_text))
    }

    /// [`scan`](Self::scan) with the spans of `buf[from..]` to search already known.
    pub fn scan_spans(
        &self,
        path: &str,
        buf: &[u8],
        from: usize,
        to: usize,
        spans: &[(usize, usize)],
    ) -> Vec<RawMatch> {
        let mut out = Vec::new();
        let Some(ac) = &self.ac else { return out };
        let n = buf.len();
        let to = to.min(n);
        if from >= to {
            return out;
        }
        let hit_limit = (to + WINDOW_BACK).min(n);
        let hits = Self::keyword_hits(ac, buf, spans, hit_limit);
        if hits.is_empty() {
            return out;
        }
        let mut scratch = SCRATCH.take();
        if scratch.owner != self.id {
            scratch.caps.clear();
            scratch.owner = self.id;
        }
        let nr = self.rules.len();
        scratch.caps.resize_with(nr, || None);
        scratch.scanned_upto.clear();
        scratch.scanned_upto.resize(nr, 0);
        scratch.last_end.clear();
        scratch.last_end.resize(nr, 0);
        scratch.starts.clear();
        self.run_hits(path, buf, from, to, &hits, &mut scratch, &mut out);
        SCRATCH.set(scratch);
        out.sort_by_key(|m| (m.start, m.rule));
        out
    }

    /// Run the rules of the keyword `hits` (see [`scan_spans`](Self::scan_spans)).
    #[allow(clippy::too_many_arguments)]
    fn run_hits(
        &self,
        path: &str,
        buf: &[u8],
        from: usize,
        to: usize,
        hits: &[Hit],
        scratch: &mut Scratch,
        out: &mut Vec<RawMatch>,
    ) {
        let n = buf.len();
        let hit_limit = (to + WINDOW_BACK).min(n);
        let Scratch {
            scanned_upto,
            last_end,
            caps,
            starts,
            ..
        } = scratch;
        // a host read by one rule's check, for the next rule that checks the same value
        let mut memo = HostMemo::default();
        for m in hits {
            let (hit, hit_end) = (m.start, m.end);
            if hit < from || hit >= hit_limit {
                continue;
            }
            for &(ri, ki) in &self.kw_rules[m.pattern] {
                let ri = ri as usize;
                let rule = &self.rules[ri];
                if rule.anchored {
                    // bytes after the keyword that no match can hold: no search
                    let after = &buf[hit_end.min(n)..(hit_end + follow::DEPTH).min(n)];
                    if hit < to && rule.follow(ki as usize).is_none_or(|f| f.allows(after)) {
                        starts.push((hit, ri, hit_end));
                    }
                    continue;
                }
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
                let Some(re) = self.rules[ri].regex() else {
                    continue;
                };
                let (c, cache) =
                    caps[ri].get_or_insert_with(|| (re.create_captures(), re.create_cache()));
                let window = Window {
                    ws,
                    we,
                    accept_below: safe.min(to),
                };
                let state = RuleState {
                    last_end: &mut last_end[ri],
                    caps: c,
                    cache,
                };
                self.run_rule(ri, path, buf, window, state, &mut memo, out);
            }
        }
        // Anchored rules: in start order, once per (start, rule).
        starts.sort_unstable();
        starts.dedup_by_key(|&mut (st, ri, _)| (st, ri));
        for &(st, ri, kw_end) in starts.iter() {
            if st < last_end[ri] {
                continue;
            }
            let rule = &self.rules[ri];
            let we = (kw_end + rule.reach).min(n);
            let Some(re) = rule.regex() else { continue };
            let (c, cache) =
                caps[ri].get_or_insert_with(|| (re.create_captures(), re.create_cache()));
            let input = Input::new(&buf[..we]).range(st..we).anchored(Anchored::Yes);
            re.search_captures_with(cache, &input, c);
            let (Some(m), Some((vs, ve))) = (c.get_match(), value_span(rule, c)) else {
                continue;
            };
            let cand = Candidate {
                path,
                buf,
                start: m.start(),
                end: m.end(),
                vs,
                ve,
            };
            let markers = self.markers.as_ref();
            if let Some(rm) = accept(rule, ri, &cand, &self.allow, markers, &mut memo) {
                last_end[ri] = m.end();
                out.push(rm);
            }
        }
    }

    /// Keyword hits inside `spans` (those starting before `limit`), with positions in `buf`,
    /// ordered by end. One span (text) is walked in place; several are packed first (see
    /// [`hits_packed`]).
    fn keyword_hits(ac: &Keywords, buf: &[u8], spans: &[(usize, usize)], limit: usize) -> Vec<Hit> {
        let spans = &spans[..spans.partition_point(|&(s, _)| s < limit)];
        if spans.len() > 1 {
            hits_packed(ac, buf, spans)
        } else {
            hits_per_span(ac, buf, spans)
        }
    }

    /// Run rule `ri` over `buf[ws..we]`, keeping matches that start before `accept_below`.
    #[allow(clippy::too_many_arguments)]
    fn run_rule(
        &self,
        ri: usize,
        path: &str,
        buf: &[u8],
        window: Window,
        state: RuleState<'_>,
        memo: &mut HostMemo,
        out: &mut Vec<RawMatch>,
    ) {
        let Window {
            ws,
            we,
            accept_below,
        } = window;
        let RuleState {
            last_end,
            caps,
            cache,
        } = state;
        let rule = &self.rules[ri];
        let Some(re) = rule.regex() else { return };
        let hay = &buf[..we];
        let mut at = ws;
        while at < accept_below {
            re.search_captures_with(cache, &Input::new(hay).range(at..we), caps);
            let Some(m) = caps.get_match() else {
                break;
            };
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
            let Some((vs, ve)) = value_span(rule, caps) else {
                continue;
            };
            let cand = Candidate {
                path,
                buf,
                start: m.start(),
                end: m.end(),
                vs,
                ve,
            };
            let markers = self.markers.as_ref();
            if let Some(rm) = accept(rule, ri, &cand, &self.allow, markers, memo) {
                *last_end = m.end();
                out.push(rm);
            }
        }
    }
}

/// The keywords of specific secret rules that are marks of a token's own format rather
/// than names: those holding a character other than a letter (`ghp_`, `NRII-`, `sk.eyJ`,
/// `:AA`) or an upper-case letter among at least four (`AKIA`, `ATBB`).
fn format_markers(rules: &[Rule]) -> Option<aho_corasick::AhoCorasick> {
    let mut marks: Vec<&str> = Vec::new();
    for r in rules {
        if r.def.fallback || r.def.category != super::rules::RuleCategory::Secret {
            continue;
        }
        for k in &r.def.keywords {
            let odd = k.bytes().any(|b| !b.is_ascii_alphabetic());
            let upper = k.len() >= 4 && k.bytes().any(|b| b.is_ascii_uppercase());
            if (odd || upper) && !k.bytes().any(|b| b.is_ascii_whitespace()) {
                marks.push(k);
            }
        }
    }
    if marks.is_empty() {
        return None;
    }
    // as written: vendors' prefixes are case-sensitive (`A3-` is not `a3-` in a hex string)
    aho_corasick::AhoCorasick::new(&marks).ok()
}

#[cfg(test)]
#[path = "matcher_tests.rs"]
mod tests;
