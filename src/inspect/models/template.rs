//! Jinja chat templates: markers of server-side template injection (CVE-2024-34359) inside
//! `{{ … }}` and `{% … %}` blocks, wherever a template appears (GGUF metadata,
//! `tokenizer_config.json`, `chat_template.jinja`, any text file).

use crate::inspect::Severity;
use regex::Regex;
use std::sync::OnceLock;

/// Longest block: an opener with no closer within this many bytes is not a block.
pub const MAX_BLOCK: usize = 1 << 20;

/// One injection marker found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// What the marker is (the finding's message names it).
    pub label: &'static str,
    /// Severity of the finding it gives.
    pub severity: Severity,
    /// Offset of the block in the scanned text.
    pub offset: usize,
}

fn rules() -> &'static [(Regex, &'static str, Severity)] {
    static R: OnceLock<Vec<(Regex, &'static str, Severity)>> = OnceLock::new();
    R.get_or_init(|| {
        let mk = |p: &str| Regex::new(p).ok();
        [
            (r"__[A-Za-z0-9_]+__", "dunder attribute access (__class__, __globals__, __builtins__ …)", Severity::Critical),
            (r"\\+(x5[fF]|u005[fF]|137)", "escaped underscore (obfuscated dunder access)", Severity::Critical),
            (r"\|\s*attr\b", "|attr filter (attribute access by name)", Severity::Critical),
            (r"\b(import|__import__|import_module)\b", "import", Severity::High),
            (r"\b(popen|system|eval|exec|getattr|setattr|compile|open|subprocess|b64decode|chr|globals|locals)\s*\(", "call of a Python built-in or OS function", Severity::High),
            (r"\b(os|sys|subprocess|socket|urllib|requests|builtins)\s*\.", "access to a Python module", Severity::High),
            (r"\b(mro|subclasses|func_globals|f_globals|gi_frame|cr_frame)\b", "introspection attribute", Severity::High),
        ]
        .into_iter()
        .filter_map(|(p, l, s)| mk(p).map(|r| (r, l, s)))
        .collect()
    })
}

/// The marker for a block too long to check whole: Jinja renders it, so it is refused.
const LONG_BLOCK: &str = "a block longer than 1 MiB (too long to check whole)";

/// Report [`LONG_BLOCK`] (once).
pub(crate) fn long_block(offset: usize, out: &mut Vec<Marker>) {
    if !out.iter().any(|m| m.label == LONG_BLOCK) {
        out.push(Marker {
            label: LONG_BLOCK,
            severity: Severity::High,
            offset,
        });
    }
}

/// Check one block's inner text; push markers found (at `offset`).
pub fn check_block(block: &str, offset: usize, out: &mut Vec<Marker>) {
    if block.len() > MAX_BLOCK {
        long_block(offset, out);
    }
    let block = &block[..floor_char(block, MAX_BLOCK)];
    for (re, label, severity) in rules() {
        if re.is_match(block) && !out.iter().any(|m| m.label == *label) {
            out.push(Marker {
                label,
                severity: *severity,
                offset,
            });
        }
    }
}

fn floor_char(s: &str, max: usize) -> usize {
    let mut i = s.len().min(max);
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Check every `{{ … }}` / `{% … %}` block of a whole template.
pub fn check_template(text: &str) -> Vec<Marker> {
    let mut out = Vec::new();
    let mut s = BlockScanner::default();
    s.feed(text.as_bytes(), 0, &mut out);
    s.finish(&mut out);
    out
}

/// Finds Jinja blocks in streamed text, carrying an unfinished block between chunks.
#[derive(Default)]
pub struct BlockScanner {
    /// An open block (from its opener), or a lone trailing `{`.
    carry: Vec<u8>,
    carry_at: usize,
    /// Bytes of `carry` already searched for the closer.
    searched: usize,
    /// A block that outgrew [`MAX_BLOCK`] without its closer: (closer, opener offset, last
    /// byte seen). Its text is rescanned as ordinary text, but should the closer still
    /// come, Jinja would render the whole block, so it is reported then.
    long_open: Option<(&'static [u8], usize, u8)>,
}

/// What scanning a buffer ended with.
enum Scan {
    Done,
    /// An open block starts at this index.
    Open(usize),
}

fn closer(open: u8) -> &'static [u8] {
    if open == b'{' {
        b"}}"
    } else {
        b"%}"
    }
}

fn find_block_end(body: &[u8], close: &[u8]) -> Option<usize> {
    memchr::memmem::find(body, close)
}

/// Index of the first `{{` or `{%` in `b` (memchr jumps between `{` bytes).
fn find_opener(b: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b'{', b).find(|&i| matches!(b.get(i + 1), Some(b'{' | b'%')))
}

/// Longest block body whose string literals are told apart from its code.
const QUOTED_SCAN: usize = 4096;

/// Whether a would-be block body holds an opener of its own, which means the first opener
/// was not a block (`{{` and `}}` tokens far apart in a vocabulary). In a body of up to
/// [`QUOTED_SCAN`] bytes an opener inside a Jinja string literal does not count: `{{ '{%' ~
/// ''.__class__ }}` is one block that Jinja renders.
fn has_bare_opener(body: &[u8]) -> bool {
    if body.len() > QUOTED_SCAN {
        return has_opener(body);
    }
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        match quote {
            Some(_) if c == b'\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'\'' || c == b'"' => quote = Some(c),
            None if c == b'{' && matches!(body.get(i + 1), Some(b'{' | b'%')) => return true,
            None => {}
        }
        i += 1;
    }
    false
}

/// Whether `b` holds a block opener (`{{` or `{%`).
pub(crate) fn has_opener(b: &[u8]) -> bool {
    find_opener(b).is_some()
}

/// Scan `buf` (file offset `base`) for complete blocks.
fn scan(buf: &[u8], base: usize, out: &mut Vec<Marker>) -> Scan {
    let mut i = 0;
    while i + 1 < buf.len() {
        match find_opener(&buf[i..]) {
            Some(k) => i += k,
            None => break,
        }
        let body = &buf[i + 2..];
        match find_block_end(body, closer(buf[i + 1])) {
            // Another opener before the closer: the first one was not a block (for example
            // `{{` and `}}` tokens on separate lines of a vocabulary).
            Some(end) if has_bare_opener(&body[..end]) => i += 2,
            Some(end) => {
                check_block(&String::from_utf8_lossy(&body[..end]), base + i, out);
                i += 2 + end + 2;
            }
            None if body.len() >= MAX_BLOCK => i += 2,
            None => return Scan::Open(i),
        }
    }
    if buf.last() == Some(&b'{') {
        return Scan::Open(buf.len() - 1);
    }
    Scan::Done
}

impl BlockScanner {
    /// Feed text starting at byte `offset` of the file.
    pub fn feed(&mut self, data: &[u8], offset: usize, out: &mut Vec<Marker>) {
        self.watch_long(data, out);
        if self.carry.is_empty() {
            self.rest(data, offset, out);
            return;
        }
        self.carry.extend_from_slice(data);
        if self.carry.len() < 2 {
            return;
        }
        if self.carry[1] != b'{' && self.carry[1] != b'%' {
            // A lone `{` that did not open a block.
            let c = std::mem::take(&mut self.carry);
            self.rest(&c[1..], self.carry_at + 1, out);
            return;
        }
        // Look for the closer only in bytes not searched yet.
        let from = self.searched.saturating_sub(1).max(2);
        let close = closer(self.carry[1]);
        let found = find_block_end(&self.carry[from..], close).map(|p| p + from);
        match found {
            Some(end) => {
                let c = std::mem::take(&mut self.carry);
                let at = self.carry_at;
                let body = &c[2..end];
                let next = if has_bare_opener(body) {
                    2
                } else {
                    check_block(&String::from_utf8_lossy(body), at, out);
                    end + 2
                };
                self.searched = 0;
                self.rest(&c[next..], at + next, out);
            }
            None if self.carry.len() >= MAX_BLOCK + 2 => {
                let c = std::mem::take(&mut self.carry);
                self.searched = 0;
                if self.long_open.is_none() {
                    self.long_open = Some((close, self.carry_at, c[c.len() - 1]));
                }
                self.rest(&c[2..], self.carry_at + 2, out);
            }
            None => self.searched = self.carry.len(),
        }
    }

    /// Look for the closer of an overlong open block in the next bytes.
    fn watch_long(&mut self, data: &[u8], out: &mut Vec<Marker>) {
        let Some((close, at, last)) = self.long_open else {
            return;
        };
        let straddles = data.first() == Some(&close[1]) && last == close[0];
        if straddles || memchr::memmem::find(data, close).is_some() {
            long_block(at, out);
            self.long_open = None;
        } else if let Some(&b) = data.last() {
            self.long_open = Some((close, at, b));
        }
    }

    fn rest(&mut self, data: &[u8], offset: usize, out: &mut Vec<Marker>) {
        if let Scan::Open(i) = scan(data, offset, out) {
            self.carry = data[i..].to_vec();
            self.carry_at = offset + i;
            self.searched = 0;
        }
    }

    /// End of text: an unterminated block is checked as it is.
    pub fn finish(&mut self, out: &mut Vec<Marker>) {
        if self.carry.len() > 2 {
            check_block(
                &String::from_utf8_lossy(&self.carry[2..]),
                self.carry_at,
                out,
            );
        }
        self.carry.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injection_found_benign_quiet() {
        let bad = "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}";
        assert_eq!(
            check_template(bad).first().map(|m| m.severity),
            Some(Severity::Critical)
        );
        let hex = r"{{ request['application']['\x5f\x5fglobals\x5f\x5f'] }}";
        assert!(check_template(hex)
            .iter()
            .any(|m| m.label.starts_with("escaped")));
        assert!(!check_template("{{ ''|attr('x') }}").is_empty());
        let benign = "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'].title() }}{% endif %}{% endfor %}";
        assert!(check_template(benign).is_empty());
        // Outside blocks, prose is not a template.
        assert!(check_template("def __init__(self): import os").is_empty());
        assert!(check_template("{% if 'important' in x %}{% endif %}").is_empty());
    }

    #[test]
    fn blocks_split_across_chunks() {
        let t = b"hello {{ x.__globals__ }} bye";
        for cut in 0..t.len() {
            let mut s = BlockScanner::default();
            let mut out = Vec::new();
            s.feed(&t[..cut], 0, &mut out);
            s.feed(&t[cut..], cut, &mut out);
            s.finish(&mut out);
            assert_eq!(out.len(), 1, "cut {cut}");
            assert_eq!(out[0].offset, 6);
        }
    }

    fn streamed(text: &[u8], chunk: usize) -> Vec<Marker> {
        let mut s = BlockScanner::default();
        let mut out = Vec::new();
        for (i, c) in text.chunks(chunk).enumerate() {
            s.feed(c, i * chunk, &mut out);
        }
        s.finish(&mut out);
        out
    }

    /// A block padded past 1 MiB renders all the same in Jinja: it is refused, whole or
    /// streamed. The near-miss: an opener that is never closed is not a block.
    #[test]
    fn a_block_longer_than_the_limit_is_refused() {
        let pad = "a".repeat(MAX_BLOCK + 16);
        let long = format!("intro {{{{ '{pad}' ~ ''.__class__ }}}} outro\n");
        let whole = check_template(&long);
        assert!(whole.iter().any(|m| m.label == LONG_BLOCK), "{whole:?}");
        for chunk in [1 << 16, 7777, 1 << 20] {
            let s = streamed(long.as_bytes(), chunk);
            assert!(
                s.iter()
                    .any(|m| m.label == LONG_BLOCK && m.severity == Severity::High),
                "chunk {chunk}: {s:?}"
            );
        }
        let unclosed = format!("intro {{{{ {pad} and no closer at all\n");
        // an opener inside a string literal does not end the block
        let quoted = "{{ '{%' ~ ''.__class__.__mro__[1].__subclasses__() }}{% if 1 %}{% endif %}";
        assert!(
            check_template(quoted)
                .iter()
                .any(|m| m.severity == Severity::Critical),
            "{:?}",
            check_template(quoted)
        );
        // the near-miss: an opener outside quotes still means the first was no block
        let split = "{{ x.__class__ {{ y }}";
        assert!(
            check_template(split).is_empty(),
            "{:?}",
            check_template(split)
        );
        assert!(check_template(&unclosed).is_empty());
        assert!(streamed(unclosed.as_bytes(), 1 << 16).is_empty());
    }
}
