//! Tests of gitleaks-format rule files, on a configuration written for these tests.

use super::*;
use crate::inspect::text::TextScanner;

/// A site configuration in gitleaks' format, written for these tests: every field airgate
/// reads, old and new allowlist forms, a rule without keywords, a path-only rule.
const SITE: &str = r#"
title = "site rules"
minVersion = "v8.25.0"

[extend]
useDefault = true

[[allowlists]]
description = "global"
paths = ['''(?:^|/)fixtures/''']
regexes = ['''_DUMMY''']

[[rules]]
id = "acme-deploy-key"
description = "ACME deploy key"
regex = '''\b(acmd_[A-Za-z0-9]{24})\b'''
keywords = ["acmd_"]
tags = ["deploy"]

[[rules]]
id = "acme-session"
description = "ACME session secret"
regex = '''(?i)acme[_-]?session\s*[:=]\s*["']?([A-Za-z0-9]{20,40})'''
secretGroup = 1
entropy = 3.5
keywords = ["acme"]
[rules.allowlist]
stopwords = ["notreal"]

[[rules]]
id = "widget-token"
description = "Widget token (no keywords: derived from the regex)"
regex = '''(?:wdg|wdx)_live_([a-f0-9]{32})'''

[[rules]]
id = "ops-password"
description = "Ops password in YAML files only"
regex = '''ops_password:\s*(\S{8,})'''
keywords = ["ops_password"]
path = '''(?i)\.ya?ml$'''
[[rules.allowlists]]
regexTarget = "line"
regexes = ['''#\s*rotated''']
[[rules.allowlists]]
condition = "AND"
paths = ['''(?:^|/)examples/''']
stopwords = ["sample"]

[[rules]]
id = "bank-iban-match"
description = "Bank key with a match-targeted allowlist"
regex = '''bankkey=([A-Z0-9]{16})'''
keywords = ["bankkey="]
[[rules.allowlists]]
regexTarget = "match"
regexes = ['''^bankkey=TEST''']

[[rules]]
id = "keystore-file"
description = "Java keystore"
path = '''(?i)\.(?:jks|keystore)$'''

[[allowlists]]
targetRules = ["acme-deploy-key"]
regexes = ['''acmd_0{24}''']
"#;

fn scanner(text: &str) -> TextScanner {
    let loaded = parse(text, "site.toml").expect("loads");
    TextScanner::new(loaded.rules, &["corp.lan"])
        .expect("scanner")
        .with_path_rules(loaded.path_rules)
}

fn ids(s: &TextScanner, path: &str, text: &str) -> Vec<String> {
    s.raw_at(path, text.as_bytes())
        .iter()
        .map(|m| s.rules()[m.rule].def.id.clone())
        .collect()
}

#[test]
fn site_rules_catch_and_stay_quiet_on_near_misses() {
    let s = scanner(SITE);
    let hit = |path: &str, text: &str, id: &str| {
        assert!(
            ids(&s, path, text).contains(&id.to_string()),
            "{id} in {path}: {text:?}"
        );
    };
    let miss = |path: &str, text: &str, id: &str| {
        assert!(
            !ids(&s, path, text).contains(&id.to_string()),
            "{id} in {path}: {text:?}"
        );
    };
    hit(
        "a.py",
        "KEY = 'acmd_Q8zr2Lp0Xw7Nk3Vb9Tm4Yc6U'",
        "acme-deploy-key",
    );
    miss(
        "a.py",
        "KEY = 'acmd_Q8zr2Lp0Xw7Nk3Vb9Tm4Yc'",
        "acme-deploy-key",
    ); // short
       // targetRules allowlist, and the global one (a path, a regex on the secret)
    miss(
        "a.py",
        "KEY = 'acmd_000000000000000000000000'",
        "acme-deploy-key",
    );
    miss(
        "fixtures/a.py",
        "KEY = 'acmd_Q8zr2Lp0Xw7Nk3Vb9Tm4Yc6U'",
        "acme-deploy-key",
    );
    miss(
        "a.py",
        "KEY = 'acmd_DUMMY2Lp0Xw7Nk3Vb9Tm4Yc6'",
        "acme-deploy-key",
    );
    // secretGroup + entropy (strictly above the floor) + stopwords
    hit(
        "c.env",
        "ACME_SESSION=Jx8pQ2vL0mZr7Nk3Wb9Tc4Yd",
        "acme-session",
    );
    miss(
        "c.env",
        "ACME_SESSION=aaaaaaaaaaaaaaaaaaaaaaaa",
        "acme-session",
    );
    miss(
        "c.env",
        "ACME_SESSION=notrealJx8pQ2vL0mZr7Nk3",
        "acme-session",
    );
    // no keywords: derived from the regex
    hit(
        "w.js",
        "t = 'wdx_live_0123456789abcdef0123456789abcdef'",
        "widget-token",
    );
    miss(
        "w.js",
        "t = 'wdy_live_0123456789abcdef0123456789abcdef'",
        "widget-token",
    );
    // path filter, a line-targeted allowlist, an AND allowlist (path and stopword)
    hit("deploy.yaml", "ops_password: Zq8wLx2pN7", "ops-password");
    miss("deploy.json", "ops_password: Zq8wLx2pN7", "ops-password");
    miss(
        "deploy.yaml",
        "ops_password: Zq8wLx2pN7  # rotated 2024",
        "ops-password",
    );
    miss(
        "examples/d.yaml",
        "ops_password: sample-Zq8wLx2pN7",
        "ops-password",
    );
    hit(
        "examples/d.yaml",
        "ops_password: Zq8wLx2pN7xx",
        "ops-password",
    );
    hit(
        "prod/d.yaml",
        "ops_password: sample-Zq8wLx2pN7",
        "ops-password",
    );
    // regexTarget = "match"
    hit("b.txt", "bankkey=AB12CD34EF56GH78", "bank-iban-match");
    miss("b.txt", "bankkey=TEST1234EF56GH78", "bank-iban-match");
    // gitleaks' inline `gitleaks:allow` is not honoured: the bundle's author writes it
    hit(
        "a.py",
        "KEY = 'acmd_Q8zr2Lp0Xw7Nk3Vb9Tm4Yc6U' # gitleaks:allow",
        "acme-deploy-key",
    );
}

#[test]
fn old_global_allowlist_form() {
    let s = scanner(
        r#"
[allowlist]
paths = ['''(?:^|/)vendor/''']
stopwords = ["fixture"]

[[rules]]
id = "acme-deploy-key"
regex = '''\b(acmd_[A-Za-z0-9]{24})\b'''
"#,
    );
    let key = "KEY = 'acmd_Q8zr2Lp0Xw7Nk3Vb9Tm4Yc6U'";
    assert_eq!(
        ids(&s, "src/a.py", key),
        vec!["acme-deploy-key".to_string()]
    );
    assert!(ids(&s, "vendor/a.py", key).is_empty());
    assert!(ids(&s, "src/a.py", "KEY = 'acmd_fixtureXw7Nk3Vb9Tm4Yc6UU'").is_empty());
    // both global forms at once are refused, as gitleaks refuses them
    let e = err("[allowlist]\nregexes = ['a']\n[[allowlists]]\nregexes = ['b']\n");
    assert!(e.contains("old form"), "{e}");
}

#[test]
fn path_only_rules_name_files() {
    let s = scanner(SITE);
    let mut out = Vec::new();
    s.path_findings("release/app.JKS", &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].rule, "keystore-file");
    assert_eq!(out[0].confidence, Confidence::Medium);
    out.clear();
    s.path_findings("release/app.jks.md", &mut out);
    s.path_findings("fixtures/test.jks", &mut out);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn derived_confidence_and_severity() {
    let loaded = parse(
        r#"
[[rules]]
id = "generic-secret"
regex = '''(?i)(?:secret|token|password)\s*=\s*"([^"]{16,})"'''
keywords = ["secret", "token", "password"]
entropy = 3.0
[[rules]]
id = "prefixed"
regex = '''zzk_[a-z0-9]{20}'''
"#,
        "t.toml",
    )
    .expect("loads");
    let g = &loaded.rules[0];
    assert_eq!(g.confidence, Confidence::Low);
    assert_eq!(g.def.severity, Severity::Low);
    let p = &loaded.rules[1];
    assert_eq!(p.confidence, Confidence::High);
    assert_eq!(p.def.severity, Severity::High);
    assert!(p.anchored);
}

#[test]
fn first_group_that_took_part_is_the_secret() {
    let loaded = parse(
        r#"
[[rules]]
id = "alt"
regex = '''(?:kA=([a-z]{10})|kB=([0-9]{10}))'''
keywords = ["ka=", "kb="]
"#,
        "t.toml",
    )
    .expect("loads");
    let s = TextScanner::new(loaded.rules, &[] as &[&str]).expect("scanner");
    let text = b"x kB=0123456789 y";
    let m = s.raw_at("f", text);
    assert_eq!(m.len(), 1);
    assert_eq!(&text[m[0].vstart..m[0].vend], b"0123456789");
}

fn err(text: &str) -> String {
    match parse(text, "bad.toml") {
        Ok(_) => panic!("should not load: {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn clear_errors_name_the_rule() {
    let e =
        err("[[rules]]\nid = \"look\"\nregex = '''(?<=key=)[a-z]{10}'''\nkeywords = [\"key=\"]\n");
    assert!(e.contains("look") && e.contains("look-around"), "{e}");
    let e =
        err("[[rules]]\nid = \"ahead\"\nregex = '''tok_(?=[a-z])\\w+'''\nkeywords = [\"tok_\"]\n");
    assert!(e.contains("ahead") && e.contains("does not compile"), "{e}");
    let e = err("[[rules]]\nid = \"backref\"\nregex = '''(a+)x\\1'''\nkeywords = [\"aax\"]\n");
    assert!(e.contains("backref"), "{e}");
    let e = err("[[rules]]\nid = \"nokw\"\nregex = '''[0-9a-f]{40}'''\n");
    assert!(e.contains("nokw") && e.contains("keywords"), "{e}");
    let e = err("[[rules]]\nid = \"shortkw\"\nregex = '''[0-9a-f]{40}'''\nkeywords = [\"a\"]\n");
    assert!(e.contains("shortkw"), "{e}");
    let e = err("[[rules]]\nid = \"grp\"\nregex = '''abc(d)'''\nsecretGroup = 2\n");
    assert!(e.contains("grp") && e.contains("secret_group"), "{e}");
    let e = err("[[rules]]\nid = \"empty\"\ndescription = \"nothing\"\n");
    assert!(e.contains("empty") && e.contains("no effect"), "{e}");
    let e = err("[[rules]]\nid = \"comp\"\nregex = '''abcd'''\n[[rules.required]]\nid = \"x\"\n");
    assert!(e.contains("comp") && e.contains("composite"), "{e}");
    let e = err("[extend]\npath = \"base.toml\"\n");
    assert!(e.contains("extend.path"), "{e}");
    let e = err("[[rules]]\nid = \"both\"\nregex = '''abcd'''\n[rules.allowlist]\nregexes = ['x']\n[[rules.allowlists]]\nregexes = ['y']\n");
    assert!(e.contains("both") && e.contains("old form"), "{e}");
    let e = err("[[rules]]\nid = \"cond\"\nregex = '''abcd'''\n[[rules.allowlists]]\ncondition = \"XOR\"\nregexes = ['y']\n");
    assert!(e.contains("cond") && e.contains("XOR"), "{e}");
    let e = err("[[allowlists]]\nregexTarget = \"mtach\"\nregexes = ['''456''']\n");
    assert!(e.contains("mtach"), "{e}");
    let e = err("[[rules]]\nid = \"emptyal\"\nregex = '''abcd'''\n[[rules.allowlists]]\ndescription = \"x\"\n");
    assert!(e.contains("emptyal") && e.contains("at least one"), "{e}");
    let e = err("[[rules]]\nid = \"a-rule\"\nregex = '''abcd'''\n[[allowlists]]\ntargetRules = [\"other\"]\nregexes = ['x']\n");
    assert!(e.contains("other") && e.contains("targetRules"), "{e}");
    let e = err("[[rules]]\nid = \"typo\"\nregexp = '''abcd'''\n");
    assert!(e.contains("regexp"), "{e}");
    let e = err("[[rules]]\nid = \"dup\"\nregex = '''abcd'''\n[[rules]]\nid = \"dup\"\nregex = '''abce'''\n");
    assert!(e.contains("dup") && e.contains("duplicate"), "{e}");
    let e = err("[[rules]]\nid = \"badpath\"\nregex = '''abcd'''\npath = '''(?!x)'''\n");
    assert!(e.contains("badpath"), "{e}");
}

#[test]
fn airgate_format_files_load_too() {
    let loaded = parse(
        r#"
[[rule]]
id = "site.token"
name = "Site token"
category = "secret"
severity = "high"
keywords = ["stk_"]
pattern = '''\b(stk_[a-z0-9]{20})\b'''
"#,
        "site.toml",
    )
    .expect("loads");
    assert_eq!(loaded.rules.len(), 1);
    assert!(loaded.rules[0].is_compiled());
}

#[test]
fn oversized_files_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("big.toml");
    std::fs::write(&p, vec![b'#'; MAX_FILE as usize + 10]).expect("write");
    let e = load_file(&p).expect_err("refused").to_string();
    assert!(e.contains("larger than"), "{e}");
}

#[test]
fn go_braces_that_repeat_nothing_are_literal() {
    assert_eq!(go_compat(r"^\$(?:\d+|{\d+})$"), r"^\$(?:\d+|\{\d+})$");
    assert_eq!(go_compat(r"a{2}b{2,}c{2,5}"), r"a{2}b{2,}c{2,5}");
    assert_eq!(go_compat(r"\{x{"), r"\{x\{");
    assert_eq!(go_compat(r"[{}]{3}"), r"[{}]{3}");
    assert_eq!(go_compat(r"[]{]x{,3}"), r"[]{]x\{,3}");
    assert_eq!(go_compat("é{"), "é\\{");
    // and the rule loads and matches as Go reads it
    let loaded = parse(
        "[[rules]]\nid = \"tpl\"\nregex = '''tplkey=\\$\\{([a-z]{8})}'''\n",
        "t.toml",
    )
    .expect("loads");
    let s = TextScanner::new(loaded.rules, &[] as &[&str]).expect("scanner");
    assert_eq!(s.raw_at("f", b"x tplkey=${abcdefgh} y").len(), 1);
}
