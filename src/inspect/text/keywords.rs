//! The keyword pass: one Aho-Corasick automaton over every rule's keywords (ASCII
//! case-insensitive, all overlapping hits). A long span is cut into strips that are walked
//! in lockstep, so the CPU overlaps their table lookups instead of waiting on one lookup per
//! byte.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{Anchored, MatchKind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Strips walked at once over a long span.
const STRIPS: usize = 4;
/// Spans shorter than this are walked as one strip (the split would cost more than it saves).
const MIN_STRIPPED: usize = 4096;
/// Bytes of short spans walked through the crate's NFA before the table is built for them
/// too (a scan of a few small files never builds it).
const NFA_BYTES: usize = 1 << 20;

/// Entries in a [`Table`]'s transition array. Its length is a constant and every index is
/// masked with `TABLE_LEN - 1`, so no lookup in the walk needs a bounds check (the mask
/// costs one instruction; a check, two and a branch).
const TABLE_LEN: usize = 1 << 20;

/// Why the keyword automaton could not be built.
#[derive(Debug, thiserror::Error)]
pub enum KeywordError {
    /// The automaton could not be built (too many or too long keywords).
    #[error("{0}")]
    Build(#[from] aho_corasick::BuildError),
    /// A search could not run.
    #[error("{0}")]
    Start(#[from] aho_corasick::MatchError),
}

/// One keyword occurrence: `hay[start..end]` is keyword number `pattern`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    /// One past the keyword's last byte.
    pub end: usize,
    /// The keyword's first byte.
    pub start: usize,
    /// Index of the keyword in the list the matcher was built from.
    pub pattern: usize,
}

/// The compiled keyword set.
pub struct Keywords {
    /// The crate's contiguous NFA, stepped through its failure links: a quarter of the
    /// instructions of a tiny scan went to building the crate's DFA instead, and the table
    /// below does the long walks.
    nfa: NFA,
    start: StateID,
    /// The same automaton as a compact table, where it fits in one: built when the first
    /// long span is searched, or after [`NFA_BYTES`] of short ones (a scan of a few small
    /// files starts without it). A keyword set too big for it is walked by the NFA.
    table: OnceLock<Option<Table>>,
    /// Bytes of short spans walked through the NFA so far.
    nfa_walked: AtomicUsize,
    /// The keywords' byte classes, for the table (`None`: no table can be built).
    classes: Option<Classes>,
    /// Longest keyword, in bytes: a strip starts this many bytes early less one.
    longest: usize,
}

impl std::fmt::Debug for Keywords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keywords")
            .field("patterns", &self.nfa.patterns_len())
            .field("table", &self.table.get().is_some_and(Option::is_some))
            .finish()
    }
}

/// One step of an automaton walk: a state, the state after a byte, and whether a state
/// may hold matches.
trait Step {
    type State: Copy;
    fn start(&self) -> Self::State;
    fn next(&self, s: Self::State, b: u8) -> Self::State;
    fn special(&self, s: Self::State) -> bool;
    /// The crate's state that holds `s`'s matches, if it holds any.
    fn matches(&self, s: Self::State) -> Option<StateID>;
}

/// The crate's NFA, stepped through its own API (before the [`Table`] is built, and for
/// keyword sets too big for one).
struct Crate<'a>(&'a NFA, StateID);

impl Step for Crate<'_> {
    type State = StateID;
    #[inline(always)]
    fn start(&self) -> StateID {
        self.1
    }
    #[inline(always)]
    fn next(&self, s: StateID, b: u8) -> StateID {
        self.0.next_state(Anchored::No, s, b)
    }
    #[inline(always)]
    fn special(&self, s: StateID) -> bool {
        self.0.is_special(s)
    }
    fn matches(&self, s: StateID) -> Option<StateID> {
        self.0.is_match(s).then_some(s)
    }
}

/// The keyword automaton copied into a table of its own: one class per byte that some keyword
/// holds (a letter's two cases share one, as matching ignores ASCII case) and one for
/// every other byte; states numbered from 0 with the match states first, each premultiplied
/// by the number of classes. A step is two loads, an add and a mask.
struct Table {
    trans: Box<[u32; TABLE_LEN]>,
    class: [u8; 256],
    classes: u32,
    start: u32,
    /// States below this (premultiplied) hold matches.
    match_below: u32,
    /// For each match state, in order, the crate's state holding its matches.
    holders: Vec<StateID>,
}

/// The byte classes of a keyword set: one per byte some keyword holds, a letter's two
/// cases together (matching ignores ASCII case), and class 0 for every other byte.
struct Classes {
    class: [u8; 256],
    /// One byte of each class, by class number.
    reps: Vec<u8>,
}

impl Classes {
    /// `None` when every byte is in some keyword or there are more than 256 classes.
    fn of<S: AsRef<[u8]>>(keywords: &[S]) -> Option<Classes> {
        let mut class = [0u8; 256];
        let mut reps: Vec<u8> = vec![0];
        for &b in keywords.iter().flat_map(|k| k.as_ref()) {
            let lower = b.to_ascii_lowercase();
            if class[lower as usize] == 0 {
                let c = u8::try_from(reps.len()).ok()?;
                reps.push(lower);
                class[lower as usize] = c;
                class[lower.to_ascii_uppercase() as usize] = c;
            }
        }
        // class 0 stands for a byte no keyword holds (keywords are printable: NUL at least)
        reps[0] = (0..=255u8).find(|&b| class[b as usize] == 0)?;
        Some(Classes { class, reps })
    }
}

impl Table {
    /// The table for `nfa` (built over keywords whose bytes `classes` sorts), or `None`
    /// when the automaton does not fit in [`TABLE_LEN`] entries or is not the plain
    /// unanchored automaton this copy assumes.
    fn build(nfa: &NFA, start: StateID, classes: &Classes) -> Option<Table> {
        let Classes { class, reps } = classes;
        let class = *class;
        let classes = reps.len();
        // every state the walk can reach, breadth first from the start, with its
        // transitions as positions in that order
        const NONE: u32 = u32::MAX;
        let mut seen: Vec<u32> = vec![NONE; start.as_usize() + 1];
        seen[start.as_usize()] = 0;
        let mut order: Vec<StateID> = vec![start];
        let mut next_of: Vec<u32> = Vec::new();
        let mut k = 0;
        while k < order.len() {
            if order.len() * classes > TABLE_LEN {
                return None;
            }
            let sid = order[k];
            for &b in reps {
                let next = nfa.next_state(Anchored::No, sid, b);
                if nfa.is_dead(next) {
                    return None;
                }
                let i = next.as_usize();
                if i >= seen.len() {
                    seen.resize(i + 1, NONE);
                }
                if seen[i] == NONE {
                    seen[i] = order.len() as u32;
                    order.push(next);
                }
                next_of.push(seen[i]);
            }
            k += 1;
        }
        if order.len() * classes > TABLE_LEN || nfa.is_match(start) {
            return None;
        }
        // renumber: match states first
        let mut number = vec![0u32; order.len()];
        let mut holders = Vec::new();
        for (i, &sid) in order.iter().enumerate() {
            if nfa.is_match(sid) {
                number[i] = holders.len() as u32;
                holders.push(sid);
            }
        }
        let mut n = holders.len() as u32;
        for (i, &sid) in order.iter().enumerate() {
            if !nfa.is_match(sid) {
                number[i] = n;
                n += 1;
            }
        }
        let stride = classes as u32;
        let mut trans: Box<[u32; TABLE_LEN]> =
            vec![0u32; TABLE_LEN].into_boxed_slice().try_into().ok()?;
        for (i, row_next) in next_of.chunks_exact(classes).enumerate() {
            let row = (number[i] * stride) as usize;
            for (c, &j) in row_next.iter().enumerate() {
                trans[row + c] = number[j as usize] * stride;
            }
        }
        Some(Table {
            trans,
            class,
            classes: stride,
            start: number[0] * stride,
            match_below: holders.len() as u32 * stride,
            holders,
        })
    }
}

impl Step for Table {
    type State = u32;
    #[inline(always)]
    fn start(&self) -> u32 {
        self.start
    }
    #[inline(always)]
    fn next(&self, s: u32, b: u8) -> u32 {
        self.trans[(s as usize + self.class[b as usize] as usize) & (TABLE_LEN - 1)]
    }
    #[inline(always)]
    fn special(&self, s: u32) -> bool {
        s < self.match_below
    }
    fn matches(&self, s: u32) -> Option<StateID> {
        if s < self.match_below {
            self.holders.get((s / self.classes) as usize).copied()
        } else {
            None
        }
    }
}

impl Keywords {
    /// Compile `keywords` (matched ASCII case-insensitively). `keywords` must not be empty.
    pub fn new<S: AsRef<[u8]>>(keywords: &[S]) -> Result<Keywords, KeywordError> {
        let nfa = NFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(keywords)?;
        let start = nfa.start_state(Anchored::No)?;
        let longest = keywords
            .iter()
            .map(|k| k.as_ref().len())
            .max()
            .unwrap_or(1)
            .max(1);
        Ok(Keywords {
            nfa,
            start,
            table: OnceLock::new(),
            nfa_walked: AtomicUsize::new(0),
            classes: Classes::of(keywords),
            longest,
        })
    }

    /// Append every keyword occurrence in `hay` (overlapping ones too) to `out`, ordered by
    /// end position.
    pub fn hits(&self, hay: &[u8], out: &mut Vec<Hit>) {
        let crate_nfa = Crate(&self.nfa, self.start);
        if hay.len() < MIN_STRIPPED && self.nfa_walked.load(Ordering::Relaxed) < NFA_BYTES {
            // a short span builds no table (until many have been walked), but walks one a
            // longer span has built
            return match self.table.get() {
                Some(Some(t)) => self.hits_with(t, hay, out),
                _ => {
                    self.nfa_walked.fetch_add(hay.len(), Ordering::Relaxed);
                    self.hits_with(&crate_nfa, hay, out)
                }
            };
        }
        match self.table() {
            Some(t) => self.hits_with(t, hay, out),
            None => self.hits_with(&crate_nfa, hay, out),
        }
    }

    /// The compact table, built on first use.
    fn table(&self) -> Option<&Table> {
        self.table
            .get_or_init(|| {
                let classes = self.classes.as_ref()?;
                Table::build(&self.nfa, self.start, classes)
            })
            .as_ref()
    }

    /// Whether searches of long spans walk the compact table (for tests).
    pub fn uses_table(&self) -> bool {
        self.table().is_some()
    }

    fn hits_with<A: Step>(&self, a: &A, hay: &[u8], out: &mut Vec<Hit>) {
        if hay.len() < MIN_STRIPPED.max(STRIPS * self.longest * 2) {
            self.walk(a, hay, 0, 0, out);
            return;
        }
        // Strip j reports the hits that end in (j*len, (j+1)*len]; it starts `longest - 1`
        // bytes early so a keyword that straddles its start is seen whole. Every strip walks
        // the same number of bytes; the remainder after the last strip is walked alone.
        let len = hay.len() / STRIPS;
        let lead = self.longest - 1;
        let walk_len = len + lead;
        let from: [usize; STRIPS] = std::array::from_fn(|j| (j * len).saturating_sub(lead));
        let first = out.len();
        let mut st = [a.start(); STRIPS];
        let (w0, w1, w2, w3) = (
            &hay[from[0]..from[0] + walk_len],
            &hay[from[1]..from[1] + walk_len],
            &hay[from[2]..from[2] + walk_len],
            &hay[from[3]..from[3] + walk_len],
        );
        for (i, (((&b0, &b1), &b2), &b3)) in w0.iter().zip(w1).zip(w2).zip(w3).enumerate() {
            st[0] = a.next(st[0], b0);
            st[1] = a.next(st[1], b1);
            st[2] = a.next(st[2], b2);
            st[3] = a.next(st[3], b3);
            if a.special(st[0]) | a.special(st[1]) | a.special(st[2]) | a.special(st[3]) {
                for (j, &sid) in st.iter().enumerate() {
                    let end = from[j] + i + 1;
                    if end > j * len && end <= (j + 1) * len {
                        self.report(a.matches(sid), end, out);
                    }
                }
            }
        }
        out[first..].sort_by_key(|h| h.end);
        let rest = (STRIPS * len).saturating_sub(lead);
        self.walk(a, &hay[rest..], rest, STRIPS * len, out);
    }

    /// Walk `hay` (which sits at `base` in the caller's buffer) as one strip, reporting hits
    /// that end after `report_after`.
    fn walk<A: Step>(
        &self,
        a: &A,
        hay: &[u8],
        base: usize,
        report_after: usize,
        out: &mut Vec<Hit>,
    ) {
        let mut sid = a.start();
        for (i, &b) in hay.iter().enumerate() {
            sid = a.next(sid, b);
            if a.special(sid) && base + i + 1 > report_after {
                self.report(a.matches(sid), base + i + 1, out);
            }
        }
    }

    fn report(&self, holder: Option<StateID>, end: usize, out: &mut Vec<Hit>) {
        let Some(sid) = holder else { return };
        let d = &self.nfa;
        for k in 0..d.match_len(sid) {
            let pid = d.match_pattern(sid, k);
            let plen = d.pattern_len(pid);
            out.push(Hit {
                end,
                start: end.saturating_sub(plen),
                pattern: pid.as_usize(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::AhoCorasick;

    /// The strip walk finds exactly what the crate's own overlapping search finds, before
    /// the table is built (short spans walk the crate's NFA) and after.
    fn agree(kws: &[&str], hay: &[u8]) {
        let fresh = Keywords::new(kws).expect("build");
        agree_with(&fresh, kws, hay);
        let built = Keywords::new(kws).expect("build");
        let _ = built.uses_table();
        agree_with(&built, kws, hay);
    }

    fn agree_with(ours: &Keywords, kws: &[&str], hay: &[u8]) {
        let mut got = Vec::new();
        ours.hits(hay, &mut got);
        let reference = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(kws)
            .expect("build");
        let mut want: Vec<Hit> = reference
            .find_overlapping_iter(hay)
            .map(|m| Hit {
                end: m.end(),
                start: m.start(),
                pattern: m.pattern().as_usize(),
            })
            .collect();
        let mut sorted = got.clone();
        sorted.sort();
        want.sort();
        assert_eq!(sorted, want, "hay of {} bytes", hay.len());
        assert!(
            got.windows(2).all(|w| w[0].end <= w[1].end),
            "ordered by end"
        );
    }

    #[test]
    fn strips_agree_with_the_reference_search_at_every_boundary() {
        let kws = ["token", "ok", "AKIA", "password=", "https://", "to"];
        // keyword planted across each strip boundary and at both ends, for many lengths
        for n in [0usize, 3, 100, 4095, 4096, 4097, 5000, 9999, 20_000, 20_003] {
            let mut hay: Vec<u8> = (0..n).map(|i| b"abcdefgh xyz\n"[i % 13]).collect();
            let len = n / STRIPS;
            for j in 0..=STRIPS {
                for back in 0..10 {
                    let at = (j * len).saturating_sub(back);
                    let kw = kws[(j + back) % kws.len()].as_bytes();
                    if at + kw.len() <= n {
                        hay[at..at + kw.len()].copy_from_slice(kw);
                    }
                }
            }
            if n >= 9 {
                hay[n - 9..].copy_from_slice(b"PaSsWoRd=");
            }
            agree(&kws, &hay);
        }
    }

    #[test]
    fn the_built_in_keywords_walk_the_table() {
        let rules = crate::inspect::text::rules::load(&[], &[], &[]).expect("rules");
        let kws: Vec<String> = rules
            .iter()
            .flat_map(|r| r.def.keywords.iter().map(|k| k.to_ascii_lowercase()))
            .collect();
        let ours = Keywords::new(&kws).expect("build");
        assert!(ours.uses_table());
        // and find what the crate finds, on text that holds many of them in both cases
        let mut hay = Vec::new();
        for (i, k) in kws.iter().enumerate() {
            let k = if i % 2 == 0 {
                k.to_ascii_uppercase()
            } else {
                k.clone()
            };
            hay.extend_from_slice(format!("x = {k}{i} # ").as_bytes());
        }
        let refs: Vec<&str> = kws.iter().map(String::as_str).collect();
        agree(&refs, &hay);
    }

    /// A keyword set whose automaton does not fit the table is walked through the crate's
    /// NFA, with the same results.
    #[test]
    fn too_many_keywords_for_the_table_still_agree() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789_-.:=/+~!@#$%^&*";
        let kws: Vec<String> = (0..3000)
            .map(|_| {
                (0..12)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        alphabet[(x % alphabet.len() as u64) as usize] as char
                    })
                    .collect()
            })
            .collect();
        let ours = Keywords::new(&kws).expect("build");
        assert!(!ours.uses_table());
        let mut hay: Vec<u8> = Vec::new();
        for (i, k) in kws.iter().enumerate().take(800) {
            hay.extend_from_slice(format!("{i} {k} ").as_bytes());
        }
        let refs: Vec<&str> = kws.iter().map(String::as_str).collect();
        agree(&refs, &hay);
    }

    /// Short spans walk the NFA until [`NFA_BYTES`] of them have been walked; then the
    /// table is built and walked for them too, with the same hits.
    #[test]
    fn many_short_spans_build_the_table() {
        let kws = ["token", "akia", "host"];
        let ours = Keywords::new(&kws).expect("build");
        let hay = b"x = token; AKIA y host z ".repeat(100);
        let mut first = Vec::new();
        ours.hits(&hay, &mut first);
        assert!(ours.table.get().is_none(), "a short span builds nothing");
        let mut walked = hay.len();
        while walked <= NFA_BYTES {
            agree_with(&ours, &kws, &hay);
            walked += hay.len();
        }
        agree_with(&ours, &kws, &hay);
        assert!(
            matches!(ours.table.get(), Some(Some(_))),
            "built after {walked} bytes"
        );
        let mut last = Vec::new();
        ours.hits(&hay, &mut last);
        assert_eq!(first, last);
    }

    #[test]
    fn random_text_agrees() {
        let kws = ["ghp_", "hf_", "sk-", "eyj", "host:", "s3://", "a", "aa"];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for n in [10usize, 5000, 70_000] {
            let hay: Vec<u8> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    b"ghp_hf_sk-eyJhost:s3/aA \n"[(x % 25) as usize]
                })
                .collect();
            agree(&kws, &hay);
        }
    }
}
