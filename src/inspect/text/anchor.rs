//! Which rules may be searched anchored at their keyword hits: those whose every match, by
//! the pattern's syntax tree, begins with one of the rule's keywords. For them a keyword hit
//! that does not start a match costs a few bytes of regex work instead of a window's worth.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Most prefix strings tracked before giving up (alternations of case-folded words grow
/// fast).
const MAX_STRINGS: usize = 2048;
/// Prefixes longer than this are cut (no keyword is longer).
const MAX_LEN: usize = 64;
/// A class with more members than this is "any byte" for this analysis.
const MAX_CLASS: usize = 8;

/// The lowercase strings every match of a sub-pattern starts with.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Prefixes {
    strings: Vec<Vec<u8>>,
    /// The sub-pattern matches exactly these strings (so what follows it extends them).
    complete: bool,
}

impl Prefixes {
    fn empty() -> Prefixes {
        Prefixes {
            strings: vec![Vec::new()],
            complete: true,
        }
    }

    /// Nothing known: every match starts with the empty string.
    fn unknown() -> Prefixes {
        Prefixes {
            strings: vec![Vec::new()],
            complete: false,
        }
    }
}

/// Does every match of `pattern` begin (ASCII case-insensitively) with one of `keywords`?
/// False whenever that cannot be shown, including for patterns that do not parse.
#[cfg(test)]
pub fn starts_with_keyword(pattern: &str, keywords: &[String]) -> bool {
    let parsed = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .nest_limit(64)
        .build()
        .parse(pattern);
    let Ok(hir) = parsed else { return false };
    hir_starts_with_keyword(&hir, keywords)
}

/// [`starts_with_keyword`] on a pattern already parsed (Unicode off, bytes).
pub fn hir_starts_with_keyword(hir: &Hir, keywords: &[String]) -> bool {
    let kws: Vec<Vec<u8>> = keywords
        .iter()
        .map(|k| k.as_bytes().to_ascii_lowercase())
        .collect();
    let p = prefixes(hir, 0);
    p.strings
        .iter()
        .all(|s| kws.iter().any(|k| !k.is_empty() && s.starts_with(k)))
}

/// Literal text every match of `pattern` contains, for a rule that names no keywords of
/// its own (gitleaks runs such rules over every file; airgate keeps its keyword pass): the
/// lower-case strings, each 3 bytes or more, one of which begins at most
/// [`WINDOW_BACK`](super::matcher::WINDOW_BACK) bytes after the start of every match. Of
/// the parts of the pattern's top-level sequence that begin that close to the start, the
/// one whose shortest string is longest. `None` if no part qualifies.
pub fn required_literals(pattern: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .nest_limit(64)
        .build()
        .parse(pattern)
        .ok()?;
    // the top-level sequence, with groups and nested sequences opened up: `(a(b)c)d` is
    // the sequence a, b, c, d (grouping does not change what matches)
    let mut parts: Vec<Hir> = Vec::new();
    flatten(&hir, &mut parts, 0);
    let mut offset = 0usize;
    let mut best: Option<(usize, Vec<Vec<u8>>)> = None;
    for (i, part) in parts.iter().enumerate() {
        if offset > super::matcher::WINDOW_BACK {
            break;
        }
        // what every match of the rest of the sequence, from this part on, starts with
        let p = prefixes(&Hir::concat(parts[i..].to_vec()), 0);
        let shortest = p.strings.iter().map(Vec::len).min().unwrap_or(0);
        if shortest >= 3 && best.as_ref().is_none_or(|(b, _)| shortest > *b) {
            best = Some((shortest, p.strings));
        }
        match part.properties().maximum_len() {
            Some(m) => offset = offset.saturating_add(m),
            None => break,
        }
    }
    let (_, strings) = best?;
    strings
        .into_iter()
        .map(|s| String::from_utf8(s).ok())
        .collect()
}

/// Append the sequence `hir` is, opening groups and nested sequences.
fn flatten(hir: &Hir, out: &mut Vec<Hir>, depth: u32) {
    match hir.kind() {
        HirKind::Capture(c) if depth < 64 => flatten(&c.sub, out, depth + 1),
        HirKind::Concat(parts) if depth < 64 => {
            for p in parts {
                flatten(p, out, depth + 1);
            }
        }
        _ => out.push(hir.clone()),
    }
}

fn prefixes(hir: &Hir, depth: u32) -> Prefixes {
    if depth > 64 {
        return Prefixes::unknown();
    }
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Prefixes::empty(),
        HirKind::Literal(l) => Prefixes {
            strings: vec![l.0.to_ascii_lowercase()],
            complete: true,
        },
        HirKind::Class(c) => match class_bytes(c) {
            Some(bytes) => Prefixes {
                strings: bytes.into_iter().map(|b| vec![b]).collect(),
                complete: true,
            },
            None => Prefixes::unknown(),
        },
        HirKind::Capture(c) => prefixes(&c.sub, depth + 1),
        HirKind::Alternation(alts) => {
            let mut strings = Vec::new();
            let mut complete = true;
            for a in alts {
                let p = prefixes(a, depth + 1);
                complete &= p.complete;
                strings.extend(p.strings);
                if strings.len() > MAX_STRINGS {
                    return Prefixes::unknown();
                }
            }
            strings.sort();
            strings.dedup();
            Prefixes { strings, complete }
        }
        HirKind::Concat(parts) => {
            let mut acc = Prefixes::empty();
            for part in parts {
                if !acc.complete {
                    break;
                }
                let next = prefixes(part, depth + 1);
                if acc.strings.len() * next.strings.len() > MAX_STRINGS {
                    // keep what is known so far: still a prefix of every match
                    acc.complete = false;
                    break;
                }
                let mut strings = Vec::with_capacity(acc.strings.len() * next.strings.len());
                let mut cut = false;
                for a in &acc.strings {
                    for b in &next.strings {
                        let mut s = a.clone();
                        s.extend_from_slice(b);
                        if s.len() > MAX_LEN {
                            s.truncate(MAX_LEN);
                            cut = true;
                        }
                        strings.push(s);
                    }
                }
                strings.sort();
                strings.dedup();
                acc = Prefixes {
                    strings,
                    complete: next.complete && !cut,
                };
            }
            acc
        }
        HirKind::Repetition(r) => {
            let sub = prefixes(&r.sub, depth + 1);
            match (r.min, r.max) {
                (1, Some(1)) => sub,
                (0, Some(1)) => {
                    let mut strings = sub.strings;
                    strings.push(Vec::new());
                    strings.sort();
                    strings.dedup();
                    Prefixes {
                        strings,
                        complete: sub.complete,
                    }
                }
                (0, _) => Prefixes::unknown(),
                // at least one copy: every match starts with one of the sub-pattern's
                _ => Prefixes {
                    strings: sub.strings,
                    complete: false,
                },
            }
        }
    }
}

/// The lowercase bytes a small class matches, or `None` for a large one.
fn class_bytes(c: &Class) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match c {
        Class::Bytes(b) => {
            for r in b.ranges() {
                if usize::from(r.end() - r.start()) >= MAX_CLASS {
                    return None;
                }
                out.extend((r.start()..=r.end()).map(|x| x.to_ascii_lowercase()));
            }
        }
        Class::Unicode(u) => {
            for r in u.ranges() {
                let (a, b) = (u32::from(r.start()), u32::from(r.end()));
                if b - a >= MAX_CLASS as u32 || b > 0x7f {
                    return None;
                }
                out.extend(
                    (a..=b)
                        .filter_map(|x| u8::try_from(x).ok())
                        .map(|x| x.to_ascii_lowercase()),
                );
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    (out.len() <= MAX_CLASS).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn patterns_that_begin_with_a_keyword() {
        assert!(starts_with_keyword(r"ghp_[A-Za-z0-9]{36}", &kw(&["ghp_"])));
        assert!(starts_with_keyword(
            r"(?i)(?:host(?:name)?|server)\s*[:=]\s*(\S+)",
            &kw(&["host", "server"])
        ));
        assert!(starts_with_keyword(
            r"\b(AKIA|ASIA)[A-Z0-9]{16}\b",
            &kw(&["AKIA", "ASIA"])
        ));
        assert!(starts_with_keyword(r"(?i)api_base", &kw(&["API_BASE"])));
        assert!(starts_with_keyword(
            r"(?:sk-ant-api|sk-ant-admin)\d{2}-",
            &kw(&["sk-ant-"])
        ));
    }

    #[test]
    fn patterns_that_may_start_elsewhere_are_not_anchored() {
        // the keyword is inside the match
        assert!(!starts_with_keyword(
            r"https://hooks\.slack\.com/\S+",
            &kw(&["hooks.slack.com"])
        ));
        // an optional part or a class before the keyword
        assert!(!starts_with_keyword(
            r"(?:export\s+)?HF_ENDPOINT=\S+",
            &kw(&["HF_ENDPOINT"])
        ));
        assert!(!starts_with_keyword(r"[a-z]*token=\w+", &kw(&["token"])));
        // a branch without a keyword
        assert!(!starts_with_keyword(r"(?:host|port)=\d+", &kw(&["host"])));
        // a keyword longer than what the pattern guarantees
        assert!(!starts_with_keyword(r"ho\w+", &kw(&["host"])));
        assert!(!starts_with_keyword(r"(", &kw(&["host"])));
    }

    fn req(p: &str) -> Option<Vec<String>> {
        required_literals(p)
    }

    #[test]
    fn literals_every_match_contains() {
        assert_eq!(req(r"ghp_[0-9a-zA-Z]{36}"), Some(kw(&["ghp_"])));
        assert_eq!(req(r"(?:sk|pk)_[a-z0-9]{32}"), Some(kw(&["pk_", "sk_"])));
        assert_eq!(
            req(r"(?:ghu|ghs)_[0-9a-zA-Z]{36}"),
            Some(kw(&["ghs_", "ghu_"]))
        );
        // case-folded: one lower-case string
        assert_eq!(
            req(r"(?i)\b(adafruit)[\w.-]{0,20}=\s*(\w{32})"),
            Some(kw(&["adafruit"]))
        );
        // after a bounded prefix of at most 64 bytes: the longest such part wins
        assert_eq!(
            req(r"(?i)[\w.-]{0,50}?(?:access|auth|token)[ \t\w.-]{0,20}=\s*(\w{10,})"),
            Some(kw(&["access", "auth", "token"]))
        );
        assert_eq!(
            req(r"[a-z0-9]{1,20}\.apps\.googleusercontent\.com"),
            Some(kw(&[".apps.googleusercontent.com"]))
        );
        assert_eq!(req(r#"token = "(.+)""#), Some(kw(&["token = \""])));
        // inside a group, after a bounded prefix
        assert_eq!(
            req(r"(?:^|[\s>=])([a-z0-9]{3}\dQ~x[a-z0-9]{31,34})"),
            Some(kw(&["q~x"]))
        );
    }

    #[test]
    fn no_literal_near_enough_or_long_enough() {
        // a literal that may lie more than 64 bytes into the match
        assert_eq!(req(r"[a-z]{1,100}\.example\.com"), None);
        assert_eq!(req(r"\w+@corp\.lan"), None);
        // only short or optional literals
        assert_eq!(req(r"(?:s|p)k[a-z0-9]{32}"), None);
        assert_eq!(req(r"(?:abc)?[0-9]{8}"), None);
        assert_eq!(req(r"[0-9a-f]{40}"), None);
        assert_eq!(req(r"(?=x)"), None);
    }
}
