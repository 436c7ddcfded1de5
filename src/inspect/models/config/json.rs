//! Checks of a parsed JSON document (a model config, a tokenizer config, a Keras config):
//! template strings, Keras layers, Hugging Face `auto_map` custom code.

use super::super::keras;
use super::super::template::{check_template, Marker};
use crate::inspect::{Category, Finding, Severity};
use serde_json::Value;

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

/// Parse `text` as JSON and check it as a config, tokenizer config or Keras config document;
/// false if it is not JSON.
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
}
