//! Keras model configs (`.keras` zip `config.json`, HDF5 `model_config`): `Lambda` layers
//! carry marshalled bytecode (CVE-2024-3660) and modules outside `keras.*` are imported when
//! the model is built (CVE-2025-1550).

use super::pickle::globals::{classify, Verdict};
use crate::inspect::Severity;
use serde_json::Value;

/// One problem in a Keras config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KerasIssue {
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    pub key: String,
}

fn keras_module(m: &str) -> bool {
    let root = m.split('.').next().unwrap_or(m);
    matches!(root, "keras" | "tf_keras")
}

/// Whether `v` looks like a Keras config (an object with `class_name` and `config`).
pub fn is_keras_config(v: &Value) -> bool {
    v.get("class_name").is_some_and(Value::is_string) && v.get("config").is_some()
}

/// Walk a Keras config and report Lambda layers and foreign modules.
pub fn check(v: &Value, out: &mut Vec<KerasIssue>) {
    walk(v, 0, out);
}

fn walk(v: &Value, depth: u32, out: &mut Vec<KerasIssue>) {
    if depth > 256 || out.len() > 64 {
        return;
    }
    match v {
        Value::Object(m) => {
            let class = m.get("class_name").and_then(Value::as_str).unwrap_or("");
            if class == "Lambda"
                || class.ends_with(".Lambda")
                || class == "TFOpLambda"
                    && m.get("config")
                        .and_then(|c| c.get("function"))
                        .is_some_and(Value::is_object)
            {
                let name = m
                    .get("config")
                    .and_then(|c| c.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                out.push(KerasIssue {
                    rule: "keras.lambda",
                    severity: Severity::Critical,
                    message: format!("Lambda layer {name:?} carries Python code that runs when the model is loaded"),
                    key: name.to_string(),
                });
            }
            if let Some(module) = m.get("module").and_then(Value::as_str) {
                if !keras_module(module) {
                    let reg = m
                        .get("registered_name")
                        .and_then(Value::as_str)
                        .unwrap_or(class);
                    let sev = match classify(module, if reg.is_empty() { "x" } else { reg }) {
                        Verdict::Denied(Severity::Critical) => Severity::Critical,
                        _ => Severity::High,
                    };
                    out.push(KerasIssue {
                        rule: "keras.module",
                        severity: sev,
                        message: format!("config imports {module}.{reg}, a module outside keras.*"),
                        key: format!("{module}.{reg}"),
                    });
                }
            }
            for x in m.values() {
                walk(x, depth + 1, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                walk(x, depth + 1, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_and_modules() {
        let bad: Value = serde_json::from_str(r#"{"class_name":"Sequential","config":{"layers":[{"class_name":"Lambda","config":{"name":"l","function":"x"}}]}}"#).unwrap();
        let mut out = Vec::new();
        check(&bad, &mut out);
        assert_eq!(out[0].rule, "keras.lambda");
        let foreign: Value = serde_json::from_str(
            r#"{"class_name":"F","config":{},"module":"os","registered_name":"system"}"#,
        )
        .unwrap();
        let mut out = Vec::new();
        check(&foreign, &mut out);
        assert_eq!(out[0].severity, Severity::Critical);
        let ok: Value = serde_json::from_str(
            r#"{"class_name":"Dense","config":{"units":3},"module":"keras.layers"}"#,
        )
        .unwrap();
        let mut out = Vec::new();
        check(&ok, &mut out);
        assert!(out.is_empty());
    }
}
