//! SARIF 2.1.0 output: one run, the rules that fired (stable ids = finding rule ids, sorted),
//! one result per finding with its location (nested paths keep their `!` separators) and
//! the finding fingerprint as a partial fingerprint so baselines survive re-runs.

use super::Report;
use crate::vocab::{Confidence, Finding, Severity};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The `uriBaseId` every result location is relative to (see [`Report::base_uri`]).
pub const BASE_ID: &str = "INPUT";

/// Where to read about the tool: its manual page, which ships with it (an enclave has no
/// web to look things up on).
pub const INFORMATION_URI: &str = "man:airgate(1)";

/// SARIF level for a severity.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// SARIF `rank` (0-100, higher first): the severity's weight scaled by the confidence, so
/// a sure high finding outranks a critical-severity guess from entropy alone.
pub fn rank(s: Severity, c: Confidence) -> f64 {
    let weight = match s {
        Severity::Critical => 100.0,
        Severity::High => 80.0,
        Severity::Medium => 50.0,
        Severity::Low => 20.0,
        Severity::Info => 5.0,
    };
    let scale = match c {
        Confidence::High => 1.0,
        Confidence::Medium => 0.7,
        Confidence::Low => 0.4,
    };
    weight * scale
}

/// Percent-encode the characters a URI reference cannot hold as they are.
fn uri(path: &str) -> String {
    let mut s = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Every category of a finding (its own first), as SARIF property-bag tags.
fn categories(f: &Finding) -> Vec<&'static str> {
    f.categories().map(|c| c.as_str()).collect()
}

fn result(f: &Finding, index: usize) -> Value {
    let mut region = serde_json::Map::new();
    if let Some(l) = f.line {
        region.insert("startLine".into(), json!(l));
    }
    if let Some(o) = f.offset {
        region.insert("byteOffset".into(), json!(o));
    }
    let mut phys = json!({ "artifactLocation": { "uri": uri(&f.path), "uriBaseId": BASE_ID } });
    if !region.is_empty() {
        phys["region"] = Value::Object(region);
    }
    let mut props = json!({
        "severity": f.severity.as_str(),
        "confidence": f.confidence.as_str(),
        "category": f.category.as_str(),
        "tags": categories(f),
    });
    if let Some(r) = &f.redacted {
        props["redacted"] = json!(r);
    }
    json!({
        "ruleId": f.rule,
        "ruleIndex": index,
        "level": level(f.severity),
        "rank": rank(f.severity, f.confidence),
        "message": { "text": f.message },
        "locations": [ { "physicalLocation": phys } ],
        "partialFingerprints": { "airgateFingerprint/v1": f.fingerprint },
        "properties": props,
    })
}

/// The run's properties: verdict, command and, where inspection ran, its coverage.
fn run_properties(r: &Report) -> Value {
    let mut p = json!({ "verdict": r.verdict, "command": r.command });
    if let Some(c) = &r.coverage {
        p["coverage"] = json!(c);
    }
    if !r.disabled_rules.is_empty() {
        p["disabledRules"] = json!(r.disabled_rules);
    }
    p
}

/// Render a report as SARIF 2.1.0 JSON.
pub fn render(r: &Report) -> String {
    let mut rules: BTreeMap<&str, &Finding> = BTreeMap::new();
    for f in &r.findings {
        rules.entry(f.rule.as_str()).or_insert(f);
    }
    let index: BTreeMap<&str, usize> = rules.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let rule_list: Vec<Value> = rules
        .iter()
        .map(|(id, f)| {
            json!({
                "id": id,
                "shortDescription": { "text": f.message.split(':').next().unwrap_or(&f.message) },
                "defaultConfiguration": { "level": level(f.severity) },
                "properties": { "category": f.category.as_str(), "tags": categories(f) },
            })
        })
        .collect();
    let results: Vec<Value> = r
        .findings
        .iter()
        .map(|f| result(f, index.get(f.rule.as_str()).copied().unwrap_or(0)))
        .collect();
    let mut base = json!({ "description": { "text":
        "the file, folder or bundle that was inspected, as named on the command line" } });
    if let Some(u) = &r.base_uri {
        base["uri"] = json!(u);
    }
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [ {
            "tool": { "driver": {
                "name": r.tool.name,
                "version": r.tool.version,
                "informationUri": INFORMATION_URI,
                "rules": rule_list,
            } },
            "originalUriBaseIds": { BASE_ID: base },
            "results": results,
            "properties": run_properties(r),
        } ],
    });
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Category;

    #[test]
    fn sarif_shape() {
        let mut r = Report::new("scan");
        r.findings.push(
            Finding::new(
                "a b/x.zip!c.yaml",
                "secret.github-pat",
                Category::Secret,
                Severity::Critical,
                "GitHub token: rotate",
                b"k",
            )
            .at_line(3)
            .at_offset(40)
            .with_redacted("ghp_…(40 bytes)"),
        );
        r.findings.push(
            Finding::new(
                "y",
                "reachback.url",
                Category::Reachback,
                Severity::Medium,
                "URL",
                b"h",
            )
            .with_confidence(Confidence::Low),
        );
        let v: Value = serde_json::from_str(&render(&r)).unwrap();
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"][0]["id"], "reachback.url");
        assert_eq!(run["tool"]["driver"]["rules"][1]["id"], "secret.github-pat");
        let res = &run["results"][0];
        assert_eq!(res["ruleId"], "secret.github-pat");
        assert_eq!(res["ruleIndex"], 1);
        assert_eq!(res["level"], "error");
        assert_eq!(
            res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "a%20b/x.zip!c.yaml"
        );
        assert_eq!(
            res["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
        assert_eq!(
            res["partialFingerprints"]["airgateFingerprint/v1"],
            r.findings[0].fingerprint
        );
        assert_eq!(run["results"][1]["level"], "warning");
        assert_eq!(res["properties"]["confidence"], "high");
        assert_eq!(res["rank"], 100.0);
        assert_eq!(run["results"][1]["properties"]["confidence"], "low");
        assert_eq!(run["results"][1]["rank"], 20.0);
        assert_eq!(
            res["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"],
            BASE_ID
        );
        assert_eq!(run["tool"]["driver"]["informationUri"], "man:airgate(1)");
        assert!(
            run["originalUriBaseIds"][BASE_ID]["uri"].is_null(),
            "unknown base"
        );
        r.base_uri = Some("file:///srv/in/".into());
        let v: Value = serde_json::from_str(&render(&r)).unwrap();
        assert_eq!(
            v["runs"][0]["originalUriBaseIds"][BASE_ID]["uri"],
            "file:///srv/in/"
        );
        assert_eq!(res["properties"]["tags"], json!(["secret"]));
    }

    #[test]
    fn a_finding_of_two_categories_is_one_result_with_both_tags() {
        let mut r = Report::new("scan");
        r.findings.push(
            Finding::new(
                "n.yaml",
                "secret.slack-webhook",
                Category::Secret,
                Severity::High,
                "Slack webhook",
                b"k",
            )
            .also_in(Category::Reachback),
        );
        let v: Value = serde_json::from_str(&render(&r)).unwrap();
        let run = &v["runs"][0];
        assert_eq!(run["results"].as_array().map(Vec::len), Some(1));
        let res = &run["results"][0];
        assert_eq!(res["properties"]["category"], "secret");
        assert_eq!(res["properties"]["tags"], json!(["secret", "reachback"]));
        assert_eq!(
            run["tool"]["driver"]["rules"][0]["properties"]["tags"],
            json!(["secret", "reachback"])
        );
        let text = crate::report::human::render(&r);
        assert!(
            text.contains("secret.slack-webhook n.yaml (also reachback): "),
            "{text}"
        );
    }
}
