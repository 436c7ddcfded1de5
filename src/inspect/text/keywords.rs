//! The keyword pass: one Aho-Corasick DFA over every rule's keywords (ASCII case-insensitive,
//! all overlapping hits). A long span is cut into strips that are walked in lockstep, so the
//! CPU overlaps their table lookups instead of waiting on one lookup per byte.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};

/// Strips walked at once over a long span.
const STRIPS: usize = 4;
/// Spans shorter than this are walked as one strip (the split would cost more than it saves).
const MIN_STRIPPED: usize = 4096;

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
    dfa: DFA,
    start: StateID,
    /// Longest keyword, in bytes: a strip starts this many bytes early less one.
    longest: usize,
}

impl std::fmt::Debug for Keywords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keywords")
            .field("patterns", &self.dfa.patterns_len())
            .finish()
    }
}

impl Keywords {
    /// Compile `keywords` (matched ASCII case-insensitively). `keywords` must not be empty.
    pub fn new<S: AsRef<[u8]>>(keywords: &[S]) -> Result<Keywords, KeywordError> {
        let dfa = DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(keywords)?;
        let start = dfa.start_state(Anchored::No)?;
        let longest = keywords
            .iter()
            .map(|k| k.as_ref().len())
            .max()
            .unwrap_or(1)
            .max(1);
        Ok(Keywords {
            dfa,
            start,
            longest,
        })
    }

    /// Append every keyword occurrence in `hay` (overlapping ones too) to `out`, ordered by
    /// end position.
    pub fn hits(&self, hay: &[u8], out: &mut Vec<Hit>) {
        if hay.len() < MIN_STRIPPED.max(STRIPS * self.longest * 2) {
            self.walk(hay, 0, 0, out);
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
        let d = &self.dfa;
        let mut st = [self.start; STRIPS];
        let (w0, w1, w2, w3) = (
            &hay[from[0]..from[0] + walk_len],
            &hay[from[1]..from[1] + walk_len],
            &hay[from[2]..from[2] + walk_len],
            &hay[from[3]..from[3] + walk_len],
        );
        for (i, (((&a, &b), &c), &e)) in w0.iter().zip(w1).zip(w2).zip(w3).enumerate() {
            st[0] = d.next_state(Anchored::No, st[0], a);
            st[1] = d.next_state(Anchored::No, st[1], b);
            st[2] = d.next_state(Anchored::No, st[2], c);
            st[3] = d.next_state(Anchored::No, st[3], e);
            if d.is_special(st[0]) | d.is_special(st[1]) | d.is_special(st[2]) | d.is_special(st[3])
            {
                for (j, &sid) in st.iter().enumerate() {
                    let end = from[j] + i + 1;
                    if end > j * len && end <= (j + 1) * len {
                        self.report(sid, end, out);
                    }
                }
            }
        }
        out[first..].sort_by_key(|h| h.end);
        let rest = (STRIPS * len).saturating_sub(lead);
        self.walk(&hay[rest..], rest, STRIPS * len, out);
    }

    /// Walk `hay` (which sits at `base` in the caller's buffer) as one strip, reporting hits
    /// that end after `report_after`.
    fn walk(&self, hay: &[u8], base: usize, report_after: usize, out: &mut Vec<Hit>) {
        let d = &self.dfa;
        let mut sid = self.start;
        for (i, &b) in hay.iter().enumerate() {
            sid = d.next_state(Anchored::No, sid, b);
            if d.is_special(sid) && base + i + 1 > report_after {
                self.report(sid, base + i + 1, out);
            }
        }
    }

    fn report(&self, sid: StateID, end: usize, out: &mut Vec<Hit>) {
        let d = &self.dfa;
        if !d.is_match(sid) {
            return;
        }
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

    /// The strip walk finds exactly what the crate's own overlapping search finds.
    fn agree(kws: &[&str], hay: &[u8]) {
        let ours = Keywords::new(kws).expect("build");
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
