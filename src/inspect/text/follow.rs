//! Which bytes may follow a keyword at the start of a match: for a rule searched anchored at
//! its keyword hits, the bytes that can come next in some match that begins with the
//! keyword (any ASCII case of it). A hit followed by another byte cannot start a match, so
//! the regex is not run there. Read from the rule's Thompson NFA: a superset, never fewer.

use regex_automata::nfa::thompson::{self, State, NFA};
use regex_automata::util::primitives::StateID;
use regex_automata::util::syntax;

/// How many bytes after the keyword are tested.
pub const DEPTH: usize = 4;

/// States visited in one closure before the analysis gives up (a rule's NFA has at most a
/// few thousand).
const MAX_STATES: usize = 1 << 16;

/// A set of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSet([u64; 4]);

impl ByteSet {
    const ALL: ByteSet = ByteSet([u64::MAX; 4]);
    const EMPTY: ByteSet = ByteSet([0; 4]);

    fn add_range(&mut self, lo: u8, hi: u8) {
        for b in lo..=hi {
            self.0[usize::from(b >> 6)] |= 1 << (b & 63);
        }
    }

    /// Whether `b` is in the set.
    #[inline]
    pub fn has(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] >> (b & 63) & 1 == 1
    }
}

/// The bytes that may stand at each of the [`DEPTH`] positions after one keyword.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Follow([ByteSet; DEPTH]);

impl Follow {
    /// Whether the bytes after a keyword hit (`after`, as many as the buffer holds) can
    /// continue a match. Missing bytes (the data ends) never reject.
    #[inline]
    pub fn allows(&self, after: &[u8]) -> bool {
        self.0.iter().zip(after).all(|(set, &b)| set.has(b))
    }
}

/// For each of `keywords` (in order), what may follow it at the start of a match of
/// `pattern` (read with `config`), or `None` for a keyword the analysis cannot bound (the
/// NFA too large, a match possibly ending within [`DEPTH`] bytes of the keyword's end).
pub fn follows(pattern: &str, config: syntax::Config, keywords: &[String]) -> Vec<Option<Follow>> {
    let nfa = thompson::Compiler::new()
        .syntax(config)
        .configure(
            thompson::Config::new()
                .which_captures(thompson::WhichCaptures::None)
                .nfa_size_limit(Some(4 << 20)),
        )
        .build(pattern);
    let Ok(nfa) = nfa else {
        return vec![None; keywords.len()];
    };
    keywords
        .iter()
        .map(|k| follow(&nfa, k.as_bytes()))
        .collect()
}

/// The consuming and match states reachable from `set` without reading a byte. Look-around
/// assertions are taken as satisfied (so the result can only grow). `None` past
/// [`MAX_STATES`] or at a match state.
fn closure(nfa: &NFA, set: &[StateID]) -> Option<Vec<StateID>> {
    let mut seen = vec![false; nfa.states().len()];
    let mut stack: Vec<StateID> = set.to_vec();
    let mut out = Vec::new();
    let mut steps = 0usize;
    while let Some(id) = stack.pop() {
        let i = id.as_usize();
        if seen.get(i).copied().unwrap_or(true) {
            continue;
        }
        seen[i] = true;
        steps += 1;
        if steps > MAX_STATES {
            return None;
        }
        match nfa.state(id) {
            State::ByteRange { .. } | State::Sparse(_) | State::Dense(_) => out.push(id),
            State::Look { next, .. } | State::Capture { next, .. } => stack.push(*next),
            State::Union { alternates } => stack.extend(alternates.iter().rev()),
            State::BinaryUnion { alt1, alt2 } => {
                stack.push(*alt2);
                stack.push(*alt1);
            }
            State::Fail => {}
            State::Match { .. } => return None,
        }
    }
    Some(out)
}

/// The bytes the consuming states `set` read.
fn bytes_of(nfa: &NFA, set: &[StateID]) -> ByteSet {
    let mut bytes = ByteSet::EMPTY;
    for &id in set {
        match nfa.state(id) {
            State::ByteRange { trans } => bytes.add_range(trans.start, trans.end),
            State::Sparse(s) => {
                for t in s.transitions.iter() {
                    bytes.add_range(t.start, t.end);
                }
            }
            State::Dense(d) => {
                for b in 0..=255u8 {
                    if d.matches_byte(b).is_some() {
                        bytes.add_range(b, b);
                    }
                }
            }
            _ => {}
        }
    }
    bytes
}

/// The states after reading one byte of `bytes` from `set`, deduplicated.
fn advance(nfa: &NFA, set: &[StateID], bytes: &ByteSet) -> Vec<StateID> {
    let mut next: Vec<StateID> = Vec::new();
    let mut range = |lo: u8, hi: u8, to: StateID| {
        if (lo..=hi).any(|b| bytes.has(b)) {
            next.push(to);
        }
    };
    for &id in set {
        match nfa.state(id) {
            State::ByteRange { trans } => range(trans.start, trans.end, trans.next),
            State::Sparse(s) => {
                for t in s.transitions.iter() {
                    range(t.start, t.end, t.next);
                }
            }
            State::Dense(d) => {
                for b in 0..=255u8 {
                    if let Some(to) = d.matches_byte(b) {
                        range(b, b, to);
                    }
                }
            }
            _ => {}
        }
    }
    next.sort_unstable();
    next.dedup();
    next
}

fn follow(nfa: &NFA, keyword: &[u8]) -> Option<Follow> {
    let mut set = closure(nfa, &[nfa.start_anchored()])?;
    for &k in keyword {
        let mut both = ByteSet::EMPTY;
        both.add_range(k.to_ascii_lowercase(), k.to_ascii_lowercase());
        both.add_range(k.to_ascii_uppercase(), k.to_ascii_uppercase());
        set = closure(nfa, &advance(nfa, &set, &both))?;
    }
    let mut sets = [ByteSet::ALL; DEPTH];
    for slot in sets.iter_mut() {
        let bytes = bytes_of(nfa, &set);
        *slot = bytes;
        // a match may end here: later bytes are not bounded
        match closure(nfa, &advance(nfa, &set, &bytes)) {
            Some(next) => set = next,
            None => break,
        }
    }
    Some(Follow(sets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::meta::Regex;
    use regex_automata::{Anchored, Input};

    fn cfg() -> syntax::Config {
        syntax::Config::new().unicode(false).utf8(false)
    }

    fn one(pattern: &str, keyword: &str) -> Option<Follow> {
        follows(pattern, cfg(), &[keyword.to_string()]).remove(0)
    }

    #[test]
    fn a_setting_needs_its_separator() {
        let f = one(r#"(?i)host(?:name)?["']?\s*[:=]\s*(\w+)"#, "host").expect("bounded");
        for ok in ["name", " =", "=x", ":x", "\"=", "\t:", "N"] {
            assert!(f.allows(ok.as_bytes()), "{ok:?}");
        }
        // (the second byte is checked against what may follow any allowed first byte)
        for no in [")", ".x", "_x", "s ", " )", "\")"] {
            assert!(!f.allows(no.as_bytes()), "{no:?}");
        }
        // the data ending right after the keyword rejects nothing
        assert!(f.allows(b""));
    }

    #[test]
    fn a_keyword_that_may_end_the_match_is_not_bounded() {
        assert_eq!(one(r"(?i)token(?:=x)?", "token"), None);
        // the match may end after `=`: only the first byte is bounded
        let f = one(r"(?i)token=", "token").expect("bounded");
        assert!(f.allows(b"=("));
        assert!(!f.allows(b"x="));
        let f = one(r"(?i)token=\w", "token").expect("bounded");
        assert!(!f.allows(b"=("));
    }

    #[test]
    fn look_around_is_taken_as_satisfied() {
        let f = one(r"(?i)\bmachine\b\s+(\S+)", "machine").expect("bounded");
        assert!(f.allows(b" x"));
        assert!(!f.allows(b"ry"));
    }

    #[test]
    fn a_keyword_past_optional_prefixes() {
        // keyword `_key` read through `[_.\-]?(?:api)?`
        let p = r"(?i)[_.\-]?(?:api[_.\-]?)?(?:token|key)[\w.\-]{0,12}[ \t]*[:=][ \t]*(\w{8,})";
        let f = one(p, "_key").expect("bounded");
        assert!(f.allows(b"=a"));
        assert!(f.allows(b"_n"));
        assert!(!f.allows(b"(a"));
        assert!(!f.allows(b"\n"));
    }

    /// Every anchored match the regex finds after a keyword is allowed by the filter: on
    /// matching examples with random bytes changed and the keyword in random case.
    #[test]
    fn never_rejects_a_match() {
        let pats = [
            (
                r#"(?i)(?:host(?:name)?|server)["']?\s*[:=]\s*["']?([a-z0-9.\-]{3,})"#,
                "host",
                "hostname = 'a.b.c'",
            ),
            (
                r"(?i)\b(?:https?|ftp)://([^\s/?#]{1,30})",
                "http://",
                "http://a.b/c",
            ),
            (
                r"(?i)\bmachine\s+\S{1,9}\s+password\s+(\S{3,})",
                "machine",
                "machine h  password xyz1",
            ),
            (
                r"(?i)(?:token|secret)[\w.\-]{0,4}\s*[:=]\s*(\w{4,})",
                "secret",
                "secret_k = abcd1",
            ),
        ];
        let alphabet = b"aAhHoOsStTnN:=\"' \t\n._-/xX09?#";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for (p, kw, example) in pats {
            let f = one(p, kw).expect("bounded");
            let re = Regex::builder().syntax(cfg()).build(p).expect("regex");
            let (mut matched, mut refused) = (0, 0);
            for _ in 0..20_000 {
                let mut hay = example.as_bytes().to_vec();
                for b in hay.iter_mut().take(kw.len()) {
                    if rnd() & 1 == 1 {
                        *b = b.to_ascii_uppercase();
                    }
                }
                for _ in 0..rnd() % 3 {
                    let at = kw.len() + (rnd() % (hay.len() - kw.len()) as u64) as usize;
                    hay[at] = alphabet[(rnd() % alphabet.len() as u64) as usize];
                }
                let input = Input::new(&hay).anchored(Anchored::Yes);
                if re.search(&input).is_some() {
                    matched += 1;
                    assert!(f.allows(&hay[kw.len()..]), "{p} rejects {:?}", hay);
                } else if !f.allows(&hay[kw.len()..]) {
                    refused += 1;
                }
            }
            // both kinds occur, so the assertion above was tested
            assert!(
                matched > 100 && refused > 100,
                "{p}: {matched} matched, {refused} refused"
            );
        }
    }
}
