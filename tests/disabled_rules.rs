//! `[inspect] disabled_rules` means the same in every command: a disabled rule, a model rule
//! (`pickle.global`) or a text rule (`secret.aws-access-key-id`), gives no finding in `scan`,
//! `verify` or `admit`, and every report lists the rules the policy switched off. The
//! near-miss: the same files under the same policy without the entry are rejected
//! everywhere. Rules about authenticity, structure and unread content cannot be disabled.

mod gate_util;

use gate_util::*;
use std::path::Path;

/// A pickle whose only global is `os.system`: `pickle.global`, critical.
const EVIL_PICKLE: &[u8] = b"cos\nsystem\n(S'id'\ntR.";
/// A config holding an AWS key id (random-looking, so reported at high).
const KEY_CONFIG: &[u8] = b"aws_access_key_id = AKIAZ7Q4K2M6XW3HN5PD\n";

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

fn rules_of(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["rule"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Run the three commands on one planted file under a gate whose policy disables `rule`
/// (or not): (scan, verify, admit) exit codes and JSON reports.
fn three_commands(file: (&str, &[u8]), disable: Option<&str>) -> Vec<(i32, serde_json::Value)> {
    let extra = match disable {
        Some(r) => format!("[inspect]\ndisabled_rules = [\"{r}\"]\n"),
        None => String::new(),
    };
    let env = Env::new(&extra);
    let policy = env.path().join("policy.toml");
    let src = env.path().join("plain");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join(file.0), file.1).unwrap();
    let bundle = env.bundle("m", "1.0.0", &[(file.0, file.1.to_vec())], true);

    let scan = run(&["scan", s(&src), "--policy", s(&policy), "--format", "json"]);
    let verify = run(&[
        "verify",
        s(&bundle),
        "--policy",
        s(&policy),
        "--format",
        "json",
    ]);
    let admit = run(&[
        "admit",
        s(&bundle),
        "--gate",
        env.gate_s(),
        "--format",
        "json",
    ]);
    let admit_report = json(&admit)["report"].clone();
    vec![
        (code(&scan), json(&scan)),
        (code(&verify), json(&verify)),
        (code(&admit), admit_report),
    ]
}

fn check(file: (&str, &[u8]), rule: &str) {
    // the near-miss first: without the entry, every command finds the rule and rejects
    for (i, (c, v)) in three_commands(file, None).into_iter().enumerate() {
        assert_eq!(c, 1, "command {i} without disabled_rules: {v:#}");
        assert!(rules_of(&v).iter().any(|r| r == rule), "command {i}: {v:#}");
        assert!(v.get("disabled_rules").is_none(), "command {i}: {v:#}");
    }
    for (i, (c, v)) in three_commands(file, Some(rule)).into_iter().enumerate() {
        assert_eq!(c, 0, "command {i} with {rule} disabled: {v:#}");
        assert!(
            !rules_of(&v).iter().any(|r| r == rule),
            "command {i}: {v:#}"
        );
        assert_eq!(
            v["disabled_rules"],
            serde_json::json!([rule]),
            "command {i}"
        );
    }
}

#[test]
fn a_disabled_model_rule_gives_no_finding_in_scan_verify_or_admit() {
    check(("model.pkl", EVIL_PICKLE), "pickle.global");
}

#[test]
fn a_disabled_text_rule_gives_no_finding_in_scan_verify_or_admit() {
    check(("app.ini", KEY_CONFIG), "secret.aws-access-key-id");
}

#[test]
fn reports_in_every_format_list_the_disabled_rules() {
    let t = tempfile::tempdir().unwrap();
    let pol = t.path().join("p.toml");
    std::fs::write(&pol, "[inspect]\ndisabled_rules = [\"pickle.global\"]\n").unwrap();
    let f = t.path().join("m.pkl");
    std::fs::write(&f, EVIL_PICKLE).unwrap();
    let o = run(&["scan", s(&f), "--policy", s(&pol)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        text(&o).contains("disabled by policy (not checked): pickle.global"),
        "{}",
        text(&o)
    );
    let o = run(&["scan", s(&f), "--policy", s(&pol), "--format", "sarif"]);
    let v = json(&o);
    assert_eq!(
        v["runs"][0]["properties"]["disabledRules"],
        serde_json::json!(["pickle.global"])
    );
}

#[test]
fn rules_about_trust_structure_or_unread_content_cannot_be_disabled() {
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("x.txt");
    std::fs::write(&f, b"hello\n").unwrap();
    for rule in [
        "archive.uninspectable",
        "bundle.structure",
        "trust.threshold",
    ] {
        let pol = t.path().join("p.toml");
        std::fs::write(&pol, format!("[inspect]\ndisabled_rules = [\"{rule}\"]\n")).unwrap();
        let o = run(&["scan", s(&f), "--policy", s(&pol)]);
        assert_eq!(code(&o), 2, "{rule}: {}", text(&o));
        assert!(text(&o).contains("cannot be switched off"), "{}", text(&o));
    }
    // the near-miss: an inspection rule can be
    let pol = t.path().join("p.toml");
    std::fs::write(&pol, "[inspect]\ndisabled_rules = [\"reachback.url\"]\n").unwrap();
    assert_eq!(code(&run(&["scan", s(&f), "--policy", s(&pol)])), 0);
}
