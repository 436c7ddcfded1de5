//! String literals pulled out of streamed JSON: escapes decoded, template strings checked one
//! at a time, top-level keys that need the parsed tree noted (with the nesting tracked).

use super::super::template::{check_template, has_opener, Marker};

/// Longest JSON string kept for the template check.
pub(super) const MAX_STRING: usize = 1 << 20;

/// Pulls string literals out of streamed JSON, decodes their escapes (so `\u005f` cannot hide
/// a dunder) and checks those that hold a template. Templates in JSON are checked one string
/// at a time, so `{{` and `}}` tokens of a tokenizer vocabulary never pair up into a fake
/// block. Also notes whether the document names a key that needs the parsed tree
/// (`auto_map`, a Keras `class_name`/`model_config`): only then is it parsed in full.
#[derive(Default)]
pub(super) struct JsonStrings {
    in_str: bool,
    esc: Esc,
    /// A high surrogate waiting for its low half.
    high: Option<u16>,
    cur: Vec<u8>,
    /// Whether the string being read has a `{` (only those can hold a template).
    brace: bool,
    /// Whether a string that needs the parsed tree was seen.
    pub(super) needs_tree: bool,
    /// The string being read outgrew [`MAX_STRING`].
    cut: bool,
    /// Open objects (`{`) and arrays (`[`) around the current position (capped).
    nest: Vec<u8>,
    /// Deeper than `nest` holds.
    nest_over: u32,
    /// The next string, if any, is an object key.
    expect_key: bool,
    /// The string being read is a key of the top-level object.
    top_key: bool,
    /// A key of the top-level object needs the parsed tree (`auto_map`, Keras
    /// `class_name` / `model_config`): such a document too large to parse is refused.
    pub(super) needs_tree_top: bool,
}

/// Nesting tracked by [`JsonStrings`] (only the top level matters).
const MAX_NEST: usize = 256;

/// Where the decoder is inside an escape sequence.
#[derive(Default, Clone, Copy)]
enum Esc {
    #[default]
    None,
    /// After a backslash.
    Slash,
    /// Inside `\uXXXX`: digits read so far and their value.
    Hex(u8, u16),
}

/// Strings whose presence means the document must be parsed as a tree.
const TREE_KEYS: [&[u8]; 3] = [b"auto_map", b"class_name", b"model_config"];

impl JsonStrings {
    pub(super) fn feed(&mut self, mut data: &[u8], markers: &mut Vec<Marker>) {
        while !data.is_empty() {
            if !self.in_str {
                let q = memchr::memchr(b'"', data);
                self.structure(&data[..q.unwrap_or(data.len())]);
                match q {
                    Some(i) => {
                        self.in_str = true;
                        self.cur.clear();
                        self.brace = false;
                        self.cut = false;
                        self.top_key =
                            self.expect_key && self.nest.len() == 1 && self.nest_over == 0;
                        data = &data[i + 1..];
                    }
                    None => return,
                }
                continue;
            }
            if !matches!(self.esc, Esc::None) {
                if self.escape(data[0]) {
                    data = &data[1..];
                }
                continue;
            }
            let stop = memchr::memchr2(b'"', b'\\', data).unwrap_or(data.len());
            self.push(&data[..stop]);
            let Some(&b) = data.get(stop) else { return };
            data = &data[stop + 1..];
            if b == b'"' {
                self.flush_high();
                self.in_str = false;
                self.check(markers);
            } else {
                self.esc = Esc::Slash;
            }
        }
    }

    /// Track nesting and key position over bytes outside strings.
    fn structure(&mut self, b: &[u8]) {
        for &c in b {
            match c {
                b'{' | b'[' => {
                    if self.nest.len() < MAX_NEST && self.nest_over == 0 {
                        self.nest.push(c);
                    } else {
                        self.nest_over += 1;
                    }
                    self.expect_key = c == b'{';
                }
                b'}' | b']' => {
                    if self.nest_over > 0 {
                        self.nest_over -= 1;
                    } else {
                        self.nest.pop();
                    }
                    self.expect_key = false;
                }
                b',' => self.expect_key = self.nest_over == 0 && self.nest.last() == Some(&b'{'),
                b':' => self.expect_key = false,
                _ => {}
            }
        }
    }

    fn push(&mut self, b: &[u8]) {
        if b.is_empty() {
            return;
        }
        self.flush_high();
        self.brace |= memchr::memchr(b'{', b).is_some();
        let room = MAX_STRING.saturating_sub(self.cur.len());
        self.cut |= b.len() > room;
        self.cur.extend_from_slice(&b[..b.len().min(room)]);
    }

    fn push_char(&mut self, c: char) {
        let mut tmp = [0u8; 4];
        self.push(c.encode_utf8(&mut tmp).as_bytes());
    }

    /// A lone high surrogate decodes to U+FFFD, as serde_json's lossy readers do.
    fn flush_high(&mut self) {
        if self.high.take().is_some() {
            self.push_char(char::REPLACEMENT_CHARACTER);
        }
    }

    /// Decode one byte of an escape; false when `b` is not part of it (a broken `\\u`
    /// escape), so the caller reads it again as string content.
    fn escape(&mut self, b: u8) -> bool {
        match self.esc {
            Esc::None => {}
            Esc::Slash => {
                self.esc = Esc::None;
                let c = match b {
                    b'u' => {
                        self.esc = Esc::Hex(0, 0);
                        return true;
                    }
                    b'n' => '\n',
                    b't' => '\t',
                    b'r' => '\r',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    // `\"`, `\\`, `\/` and (invalid) anything else stand for themselves
                    other => char::from(other),
                };
                self.push_char(c);
            }
            Esc::Hex(n, v) => {
                let Some(d) = char::from(b).to_digit(16) else {
                    // not an escape after all (invalid JSON): mark it, reread `b`
                    self.esc = Esc::None;
                    self.push_char(char::REPLACEMENT_CHARACTER);
                    return false;
                };
                let v = (v << 4) | d as u16;
                if n < 3 {
                    self.esc = Esc::Hex(n + 1, v);
                    return true;
                }
                self.esc = Esc::None;
                match v {
                    0xd800..=0xdbff => {
                        self.flush_high();
                        self.high = Some(v);
                    }
                    0xdc00..=0xdfff => {
                        let c = match self.high.take() {
                            Some(h) => {
                                let cp = 0x10000
                                    + ((u32::from(h) - 0xd800) << 10)
                                    + (u32::from(v) - 0xdc00);
                                char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER)
                            }
                            None => char::REPLACEMENT_CHARACTER,
                        };
                        self.push_char(c);
                    }
                    _ => self.push_char(
                        char::from_u32(u32::from(v)).unwrap_or(char::REPLACEMENT_CHARACTER),
                    ),
                }
            }
        }
        true
    }

    fn check(&mut self, markers: &mut Vec<Marker>) {
        if self.cur.len() <= 12 && TREE_KEYS.contains(&self.cur.as_slice()) {
            self.needs_tree = true;
            self.needs_tree_top |= self.top_key;
        }
        self.expect_key = false;
        if self.cut && self.brace {
            // a template may sit past the part kept: Jinja would render all of it
            super::super::template::long_block(0, markers);
        }
        if self.brace && has_opener(&self.cur) {
            for m in check_template(&String::from_utf8_lossy(&self.cur)) {
                if !markers.iter().any(|x| x.label == m.label) {
                    markers.push(m);
                }
            }
        }
        self.cur.clear();
    }
}

/// Whether raw JSON could hold a template opener or a key that needs the tree once its
/// strings are decoded: a decoded `{{` / `{%` comes from those bytes raw or from a `\u`
/// escape, and a decoded key is spelt out raw or holds an escape.
pub(super) fn could_matter(raw: &[u8]) -> bool {
    enum Finder {
        /// Teddy (SIMD): `{` is everywhere in JSON, and Teddy only stops where a whole
        /// two-byte fingerprint matches.
        Packed(aho_corasick::packed::Searcher),
        Ac(aho_corasick::AhoCorasick),
        /// Neither could be built: decode everything (slower, never blind).
        None,
    }
    static FINDER: std::sync::OnceLock<Finder> = std::sync::OnceLock::new();
    let finder = FINDER.get_or_init(|| {
        let mut pats: Vec<&[u8]> = vec![b"{{", b"{%", b"\\u"];
        pats.extend(TREE_KEYS);
        let mut b = aho_corasick::packed::Config::new().builder();
        b.extend(&pats);
        match b.build() {
            Some(s) => Finder::Packed(s),
            None => aho_corasick::AhoCorasick::new(&pats).map_or(Finder::None, Finder::Ac),
        }
    });
    match finder {
        Finder::Packed(s) => s.find(raw).is_some(),
        Finder::Ac(ac) => ac.is_match(raw),
        Finder::None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::super::ConfigInspector;
    use super::*;
    use crate::inspect::{FileMeta, Inspector, ScanContext, Severity};

    /// Feed `doc` to a fresh decoder in pieces of `step` bytes.
    fn strings_of(doc: &[u8], step: usize) -> (Vec<Marker>, bool) {
        let mut js = JsonStrings::default();
        let mut markers = Vec::new();
        for piece in doc.chunks(step) {
            js.feed(piece, &mut markers);
        }
        (markers, js.needs_tree)
    }

    #[test]
    fn streamed_strings_are_decoded_before_the_template_check() {
        let doc = br#"{"chat_template": "{{ x.\u005f\u005fclass\u005f\u005f }}", "n": "a\"b"}"#;
        for step in 1..doc.len() {
            let (m, tree) = strings_of(doc, step);
            assert_eq!(m.len(), 1, "step {step}");
            assert_eq!(m[0].severity, Severity::Critical, "step {step}");
            assert!(!tree);
        }
        // the near miss: the same escapes outside a block are no template
        let (m, _) = strings_of(br#"{"a": "x.\u005f\u005fclass\u005f\u005f"}"#, 7);
        assert!(m.is_empty());
        // braces from escapes open a block too
        let (m, _) = strings_of(br#"{"t": "\u007b\u007b os.system('id') }}"}"#, 3);
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn surrogates_and_broken_escapes_decode_without_panic() {
        let mut js = JsonStrings::default();
        let mut m = Vec::new();
        js.in_str = true;
        js.feed(br#"\ud83d\ude00\ud800x\uZZ"#, &mut m);
        assert_eq!(
            String::from_utf8_lossy(&js.cur),
            "\u{1f600}\u{fffd}x\u{fffd}ZZ"
        );
    }

    #[test]
    fn only_keys_that_need_the_tree_cause_a_parse() {
        assert!(strings_of(br#"{"auto_map": {}}"#, 4).1);
        assert!(strings_of(br#"{"\u0061uto_map": {}}"#, 1).1);
        assert!(strings_of(br#"{"class_name": "Sequential", "config": {}}"#, 5).1);
        assert!(!strings_of(br#"{"auto_mapping": "auto_map_x", "name": "class"}"#, 5).1);
        // and the inspector reports auto_map through the parse
        let doc = br#"{"auto_map": {"AutoModel": "other/repo--m.C"}}"#;
        let meta = FileMeta {
            path: "config.json",
            size: None,
            depth: 0,
        };
        let fi = ConfigInspector.open(&meta, doc, &ScanContext::default());
        let mut fi = fi.expect("a JSON config is opened");
        let mut out = Vec::new();
        fi.update(0, doc, &mut out);
        fi.finish(doc.len() as u64, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rule, "hf.auto-map-remote");
    }

    #[test]
    fn plain_json_is_not_decoded_but_anything_that_could_matter_is() {
        assert!(!could_matter(br#"{"a": [1, 2, {"b": "c"}], "d": "x}y%z"}"#));
        for doc in [
            &br#"{"t": "{{ x }}"}"#[..],
            br#"{"t": "{% if %}"}"#,
            br#"{"t": "\u007b\u007b"}"#,
            br#"{"auto_map": {}}"#,
            br#"{"class_name": "X"}"#,
            br#"{"model_config": {}}"#,
        ] {
            assert!(could_matter(doc), "{}", String::from_utf8_lossy(doc));
        }
        // and a held document with an escaped template is still found
        let doc = br#"{"chat_template": "\u007b\u007b ''.__class__ }}"}"#;
        let meta = FileMeta {
            path: "t.json",
            size: None,
            depth: 0,
        };
        let mut fi = ConfigInspector
            .open(&meta, doc, &ScanContext::default())
            .expect("opened");
        let mut out = Vec::new();
        fi.update(0, doc, &mut out);
        fi.finish(doc.len() as u64, &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].severity, Severity::Critical);
    }
}
