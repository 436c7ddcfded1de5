//! Text files around a model: Jinja chat templates anywhere (`chat_template.jinja`, YAML,
//! JSON), and JSON configs (`tokenizer_config.json` `chat_template`, Keras `config.json`,
//! Hugging Face `auto_map` custom code).

mod json;
mod strings;

pub use json::{check_json, check_json_text, push_markers};

use super::template::{BlockScanner, Marker};
use crate::inspect::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
};
use strings::{could_matter, JsonStrings};

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

/// Text files: template blocks in the raw text, and JSON configs.
pub struct ConfigInspector;

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
                        *j = crate::inspect::pool::take(hint.max(data.len()));
                    }
                    j.extend_from_slice(data)
                }
                Some(j) => {
                    strings.feed(j, &mut self.markers);
                    strings.feed(data, &mut self.markers);
                    if let Some(j) = buf.take() {
                        crate::inspect::pool::give(j);
                    }
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
        if let Some(j) = json {
            crate::inspect::pool::give(j);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
            "b".repeat(strings::MAX_STRING + 16)
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
