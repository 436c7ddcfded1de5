//! Text files around a model: Jinja chat templates anywhere (`chat_template.jinja`, YAML,
//! JSON), and JSON configs (`tokenizer_config.json` `chat_template`, Keras `config.json`,
//! Hugging Face `auto_map` custom code).

use super::keras;
use super::template::{check_template, BlockScanner, Marker};
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

struct TextFile {
    path: String,
    blocks: BlockScanner,
    markers: Vec<Marker>,
    json: Option<Vec<u8>>,
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
        if !looks_like_text(head) {
            return None;
        }
        let trimmed = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
        let first = trimmed.iter().find(|c| !c.is_ascii_whitespace());
        let json = matches!(first, Some(b'{') | Some(b'[')).then(Vec::new);
        Some(Box::new(TextFile {
            path: meta.path.into(),
            blocks: BlockScanner::default(),
            markers: Vec::new(),
            json,
        }))
    }
}

impl FileInspector for TextFile {
    fn update(&mut self, offset: u64, data: &[u8], _out: &mut Vec<Finding>) -> Flow {
        self.blocks.feed(data, offset as usize, &mut self.markers);
        if let Some(j) = self.json.as_mut() {
            if j.len() + data.len() <= MAX_JSON {
                j.extend_from_slice(data);
            } else {
                self.json = None;
            }
        }
        Flow::More
    }

    fn finish(mut self: Box<Self>, _total: u64, out: &mut Vec<Finding>) {
        self.blocks.finish(&mut self.markers);
        let mut found = Vec::new();
        if let Some(j) = self.json.take() {
            check_json_text(&self.path, &j, &mut found);
        }
        let raw: Vec<Marker> = self
            .markers
            .iter()
            .filter(|m| {
                !found.iter().any(|f| {
                    f.rule == "template.injection"
                        && f.fingerprint
                            == crate::inspect::fingerprint(
                                "template.injection",
                                &self.path,
                                m.label.as_bytes(),
                            )
                })
            })
            .cloned()
            .collect();
        push_markers(&self.path, &raw, out);
        out.append(&mut found);
    }
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

    #[test]
    fn text_sniffing() {
        assert!(looks_like_text(b"{\"a\": 1}"));
        assert!(!looks_like_text(b"\x80\x04\x95"));
        assert!(!looks_like_text(b"ab\0cd"));
    }
}
