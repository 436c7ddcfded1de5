//! Text files around a model: Jinja chat templates anywhere (`chat_template.jinja`, YAML,
//! JSON), and JSON configs (`tokenizer_config.json` `chat_template`, Keras `config.json`,
//! Hugging Face `auto_map` custom code).

use super::keras;
use super::template::{check_template, has_opener, BlockScanner, Marker};
use crate::inspect::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
};
use serde_json::Value;

/// JSON documents up to this size are parsed (templates may hide behind JSON escapes).
const MAX_JSON: usize = 16 << 20;

/// Whether the first bytes look like text (UTF-8, no NUL, few control characters).
pub fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    let ctrl = head
        .iter()
        .filter(|&&c| c < 0x20 && !matches!(c, b'\n' | b'\r' | b'\t' | 0x0c))
        .count();
    if ctrl * 100 > head.len() {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut at the end of the sniff window is fine.
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 >= head.len(),
    }
}

/// Findings for the JSON document `v` (config, tokenizer config, Keras config).
pub fn check_json(path: &str, v: &Value, out: &mut Vec<Finding>) {
    let mut markers = Vec::new();
    collect_templates(v, 0, &mut markers);
    push_markers(path, &markers, out);
    if keras::is_keras_config(v) || v.get("model_config").is_some() {
        let mut issues = Vec::new();
        keras::check(v, &mut issues);
        for i in issues {
            out.push(Finding::new(
                path,
                i.rule,
                Category::Code,
                i.severity,
                i.message,
                i.key.as_bytes(),
            ));
        }
    }
    if let Some(map) = v.get("auto_map").and_then(Value::as_object) {
        let refs: Vec<String> = map
            .values()
            .flat_map(|x| match x {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect(),
                _ => vec![],
            })
            .collect();
        if let Some(remote) = refs.iter().find(|r| r.contains("--")) {
            out.push(Finding::new(path, "hf.auto-map-remote", Category::Reachback, Severity::High,
                format!("auto_map entry {remote:?} loads code from another repository when the model is loaded"), remote.as_bytes()));
        } else if !refs.is_empty() {
            out.push(Finding::new(
                path,
                "hf.auto-map",
                Category::Code,
                Severity::Medium,
                format!(
                    "auto_map names custom code ({}) that runs with trust_remote_code",
                    refs.join(", ")
                ),
                refs.join(",").as_bytes(),
            ));
        }
    }
}

/// Parse `text` as JSON and check it like [`check_json`]; false if it is not JSON.
pub fn check_json_text(path: &str, text: &[u8], out: &mut Vec<Finding>) -> bool {
    match serde_json::from_slice::<Value>(strip_bom(text)) {
        Ok(v) => {
            check_json(path, &v, out);
            true
        }
        Err(_) => false,
    }
}

fn collect_templates(v: &Value, depth: u32, out: &mut Vec<Marker>) {
    if depth > 128 {
        return;
    }
    match v {
        Value::String(s) if s.contains("{{") || s.contains("{%") => {
            for m in check_template(s) {
                if !out.iter().any(|x| x.label == m.label) {
                    out.push(m);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_templates(x, depth + 1, out)),
        Value::Object(o) => o
            .values()
            .for_each(|x| collect_templates(x, depth + 1, out)),
        _ => {}
    }
}

/// Turn template markers into findings (one per kind of marker per file).
pub fn push_markers(path: &str, markers: &[Marker], out: &mut Vec<Finding>) {
    for m in markers {
        out.push(
            Finding::new(path, "template.injection", Category::Code, m.severity,
                format!("Jinja template contains {}: rendering it can execute code (server-side template injection)", m.label),
                m.label.as_bytes()),
        );
    }
}

/// Text files: template blocks in the raw text, and JSON configs.
pub struct ConfigInspector;

/// Longest JSON string kept for the template check.
const MAX_STRING: usize = 1 << 20;

/// Pulls string literals out of streamed JSON, decodes their escapes (so `\u005f` cannot hide
/// a dunder) and checks those that hold a template. Templates in JSON are checked one string
/// at a time, so `{{` and `}}` tokens of a tokenizer vocabulary never pair up into a fake
/// block. Also notes whether the document names a key that needs the parsed tree
/// (`auto_map`, a Keras `class_name`/`model_config`): only then is it parsed in full.
#[derive(Default)]
struct JsonStrings {
    in_str: bool,
    esc: Esc,
    /// A high surrogate waiting for its low half.
    high: Option<u16>,
    cur: Vec<u8>,
    /// Whether the string being read has a `{` (only those can hold a template).
    brace: bool,
    /// Whether a string that needs the parsed tree was seen.
    needs_tree: bool,
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
    needs_tree_top: bool,
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
    fn feed(&mut self, mut data: &[u8], markers: &mut Vec<Marker>) {
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
            super::template::long_block(0, markers);
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
fn could_matter(raw: &[u8]) -> bool {
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

enum Mode {
    Text(BlockScanner),
    Json(JsonStrings, Option<Vec<u8>>),
    /// Only whitespace so far (a sniff window of padding must not make a JSON config look
    /// like plain text): decided at the first other byte.
    Pending,
}

struct TextFile {
    path: String,
    size_hint: Option<u64>,
    mode: Mode,
    markers: Vec<Marker>,
}

impl Inspector for ConfigInspector {
    fn name(&self) -> &'static str {
        "model-config"
    }

    fn open(
        &self,
        meta: &FileMeta<'_>,
        head: &[u8],
        _ctx: &ScanContext,
    ) -> Option<Box<dyn FileInspector>> {
        let trimmed = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
        let mut sig = trimmed.iter().filter(|c| !c.is_ascii_whitespace());
        let json = match (sig.next(), sig.next()) {
            (Some(b'{'), Some(b'"' | b'}')) => true,
            (Some(b'['), Some(c)) => matches!(
                c,
                b'{' | b'[' | b'"' | b']' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
            ),
            _ => false,
        };
        // Braces in format strings pair up across code; no loader renders these files.
        // (Decided before the text check, which validates the whole head.)
        if !json && is_source_code(meta.path) {
            return None;
        }
        if !looks_like_text(head) {
            return None;
        }
        let blank = trimmed.iter().all(u8::is_ascii_whitespace);
        let mode = if json {
            // allocated at the first update (a whole file is read where it lies)
            Mode::Json(JsonStrings::default(), Some(Vec::new()))
        } else if blank {
            Mode::Pending
        } else {
            Mode::Text(BlockScanner::default())
        };
        Some(Box::new(TextFile {
            path: meta.path.into(),
            size_hint: meta.size,
            mode,
            markers: Vec::new(),
        }))
    }
}

impl FileInspector for TextFile {
    fn update(&mut self, offset: u64, data: &[u8], _out: &mut Vec<Finding>) -> Flow {
        if let Mode::Pending = self.mode {
            let start = if offset == 0 && data.starts_with(b"\xef\xbb\xbf") {
                3
            } else {
                0
            };
            let Some(i) = data[start..]
                .iter()
                .position(|c| !c.is_ascii_whitespace())
                .map(|i| i + start)
            else {
                return Flow::More;
            };
            self.mode = if matches!(data[i], b'{' | b'[') {
                Mode::Json(JsonStrings::default(), Some(Vec::new()))
            } else {
                Mode::Text(BlockScanner::default())
            };
            return self.update(offset + i as u64, &data[i..], _out);
        }
        match &mut self.mode {
            Mode::Pending => {}
            Mode::Text(blocks) => blocks.feed(data, offset as usize, &mut self.markers),
            Mode::Json(strings, buf) => match buf.as_mut() {
                // Held whole (up to MAX_JSON) so that finish can first ask whether the
                // document could hold anything of interest at all.
                Some(j) if j.len() + data.len() <= MAX_JSON => {
                    if j.capacity() == 0 {
                        let hint = self
                            .size_hint
                            .map_or(0, |n| n.min(MAX_JSON as u64) as usize);
                        j.reserve(hint.max(data.len()));
                    }
                    j.extend_from_slice(data)
                }
                Some(j) => {
                    strings.feed(j, &mut self.markers);
                    strings.feed(data, &mut self.markers);
                    *buf = None;
                }
                None => strings.feed(data, &mut self.markers),
            },
        }
        Flow::More
    }

    fn finish(mut self: Box<Self>, _total: u64, out: &mut Vec<Finding>) {
        let json = match &mut self.mode {
            Mode::Json(_, buf) => buf.take(),
            Mode::Text(_) | Mode::Pending => None,
        };
        self.conclude(json.as_deref(), out);
    }

    fn whole(mut self: Box<Self>, data: &[u8], out: &mut Vec<Finding>) {
        match &mut self.mode {
            Mode::Text(blocks) => {
                blocks.feed(data, 0, &mut self.markers);
                self.conclude(None, out);
            }
            Mode::Json(_, buf)
                if buf.as_ref().is_some_and(|b| b.is_empty()) && data.len() <= MAX_JSON =>
            {
                *buf = None;
                self.conclude(Some(data), out);
            }
            Mode::Json(..) | Mode::Pending => {
                let _ = self.update(0, data, out);
                self.finish(data.len() as u64, out);
            }
        }
    }
}

impl TextFile {
    /// The end of the file; `json` is the whole document when it was held (up to
    /// [`MAX_JSON`]).
    fn conclude(mut self, json: Option<&[u8]>, out: &mut Vec<Finding>) {
        let mut found = Vec::new();
        match &mut self.mode {
            Mode::Pending => {}
            Mode::Text(blocks) => blocks.finish(&mut self.markers),
            Mode::Json(strings, _) => {
                if let Some(j) = json {
                    // Most JSON (vocabularies, service data) holds no template opener, no
                    // escape and no key that needs the tree: one vectorised search says so
                    // and the string decoding is skipped.
                    if could_matter(j) {
                        strings.feed(j, &mut self.markers);
                    }
                    // Without a key that needs the tree, the decoded strings already gave
                    // every template marker: parsing would only repeat them.
                    if strings.needs_tree
                        && !check_json_text(&self.path, j, &mut found)
                        && strings.needs_tree_top
                    {
                        // Python's json takes NaN, 1e400 and deeper nesting than serde_json:
                        // a loader would read what this parser cannot check
                        found.push(Finding::new(
                            &self.path,
                            "config.unparsable",
                            Category::Code,
                            Severity::High,
                            "a config that names auto_map, class_name or model_config at its top \
                             level does not parse as strict JSON (NaN, an out-of-range number or \
                             very deep nesting?): its custom code and layers cannot be checked, \
                             so it is refused",
                            b"",
                        ));
                    }
                } else if strings.needs_tree_top {
                    // streamed past MAX_JSON: its strings were checked, but auto_map or the
                    // Keras layers need the parsed tree, which is not built at this size
                    found.push(Finding::new(
                        &self.path,
                        "config.too-large-to-check",
                        Category::Code,
                        Severity::High,
                        format!(
                            "a config larger than {} MiB names auto_map, class_name or \
                             model_config at its top level: its custom code and layers cannot \
                             be checked, so it is refused",
                            MAX_JSON >> 20
                        ),
                        b"",
                    ));
                }
            }
        }
        // The decoded JSON check and the raw string check report the same markers once.
        let raw: Vec<Marker> = self
            .markers
            .iter()
            .filter(|m| {
                let fp = crate::inspect::fingerprint(
                    "template.injection",
                    &self.path,
                    m.label.as_bytes(),
                );
                !found.iter().any(|f| f.fingerprint == fp)
            })
            .cloned()
            .collect();
        push_markers(&self.path, &raw, out);
        out.append(&mut found);
    }
}

/// Program source, by name: its `{{` / `}}` are format strings, not templates.
fn is_source_code(path: &str) -> bool {
    let name = path.rsplit(['/', '!']).next().unwrap_or(path);
    let ext = name
        .rsplit_once('.')
        .map_or("", |(_, e)| e)
        .to_ascii_lowercase();
    matches!(
        ext.as_str(),
        "py" | "pyi"
            | "pyx"
            | "pxd"
            | "c"
            | "h"
            | "cc"
            | "cpp"
            | "cxx"
            | "hpp"
            | "cu"
            | "cuh"
            | "rs"
            | "go"
            | "java"
            | "kt"
            | "scala"
            | "js"
            | "mjs"
            | "ts"
            | "rb"
            | "pl"
            | "php"
            | "cs"
            | "swift"
            | "m"
            | "mm"
            | "r"
            | "jl"
            | "lua"
            | "sh"
            | "bash"
            | "zsh"
            | "ps1"
    )
}

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_do_not_hide_a_template() {
        let v: Value =
            serde_json::from_str(r#"{"chat_template": "{{ x.\u005f\u005fclass\u005f\u005f }}"}"#)
                .unwrap();
        let mut out = Vec::new();
        check_json("t.json", &v, &mut out);
        assert_eq!(out[0].severity, Severity::Critical);
        let v: Value = serde_json::from_str(r#"{"chat_template": "{{ message['content'] }}", "auto_map": {"AutoModel": "a/b--m.C"}}"#).unwrap();
        let mut out = Vec::new();
        check_json("t.json", &v, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rule, "hf.auto-map-remote");
    }

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

    #[test]
    fn text_sniffing() {
        assert!(looks_like_text(b"{\"a\": 1}"));
        assert!(!looks_like_text(b"\x80\x04\x95"));
        assert!(!looks_like_text(b"ab\0cd"));
    }

    /// The config inspector over `doc` named `name`, fed in 1 MiB pieces and whole.
    fn inspect(name: &str, doc: &[u8]) -> Vec<Finding> {
        let meta = FileMeta {
            path: name,
            size: Some(doc.len() as u64),
            depth: 0,
        };
        let head = &doc[..doc.len().min(crate::inspect::SNIFF_LEN)];
        let ctx = ScanContext::default();
        let mut streamed = Vec::new();
        if let Some(mut f) = ConfigInspector.open(&meta, head, &ctx) {
            for (i, c) in doc.chunks(1 << 20).enumerate() {
                let _ = f.update((i << 20) as u64, c, &mut streamed);
            }
            f.finish(doc.len() as u64, &mut streamed);
        }
        let mut whole = Vec::new();
        if let Some(f) = ConfigInspector.open(&meta, head, &ctx) {
            f.whole(doc, &mut whole);
        }
        let rules = |v: &[Finding]| {
            let mut r: Vec<(String, Severity)> =
                v.iter().map(|x| (x.rule.clone(), x.severity)).collect();
            r.sort();
            r
        };
        assert_eq!(
            rules(&streamed),
            rules(&whole),
            "streamed and whole disagree"
        );
        streamed
    }

    fn high(f: &[Finding], rule: &str) -> bool {
        f.iter()
            .any(|x| x.rule == rule && x.severity >= Severity::High)
    }

    const LAMBDA: &str = r#"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Lambda", "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAA"}}}, "module": "keras.layers"}]}}"#;

    #[test]
    fn padding_does_not_hide_a_template_or_a_keras_lambda() {
        // a chat template string padded past the kept part with a Jinja comment
        let doc = format!(
            r#"{{"chat_template": "{{# {} #}}{{{{ cycler.__init__.__globals__.os.popen('id').read() }}}}"}}"#,
            "b".repeat(MAX_STRING + 16)
        );
        assert!(high(
            &inspect("tokenizer_config.json", doc.as_bytes()),
            "template.injection"
        ));
        // a Keras config padded past the size that is parsed
        let padded = LAMBDA.replacen(
            r#""name": "s""#,
            &format!(r#""name": "{}""#, "x".repeat(MAX_JSON)),
            1,
        );
        let f = inspect("config.json", padded.as_bytes());
        assert!(high(&f, "config.too-large-to-check"), "{f:?}");
        // the near-miss: a large vocabulary that merely holds such words as tokens
        let mut vocab = String::from(r#"{"version": "1.0", "model": {"vocab": {"#);
        let mut i = 0;
        while vocab.len() < MAX_JSON + 1024 {
            vocab.push_str(&format!(r#""tok{i}": {i}, "class_name": {i}, "#));
            i += 1;
        }
        vocab.push_str(r#""end": 0}}}"#);
        let f = inspect("tokenizer.json", vocab.as_bytes());
        assert!(f.is_empty(), "{f:?}");
        // a Keras config behind more whitespace than the sniff window
        let spaced = format!("{}{LAMBDA}", " ".repeat(crate::inspect::SNIFF_LEN + 904));
        let f = inspect("config.json", spaced.as_bytes());
        assert!(f.iter().any(|x| x.rule.starts_with("keras.")), "{f:?}");
        // NaN in a Keras config: Python reads it, serde_json does not
        let nan = LAMBDA.replacen(r#""name": "l""#, r#""name": "l", "rate": NaN"#, 1);
        assert!(high(
            &inspect("config.json", nan.as_bytes()),
            "config.unparsable"
        ));
        // the near-miss: NaN in a config without tree keys is not refused
        assert!(inspect(
            "generation_config.json",
            br#"{"temperature": NaN, "top_p": 1}"#
        )
        .is_empty());
        // the near-miss: a plain text file behind whitespace stays plain text
        let text = format!("{}just words, no template\n", " ".repeat(5000));
        assert!(inspect("notes.txt", text.as_bytes()).is_empty());
    }
}
