//! Tests over every rule: its examples must match and its negative examples must not; and
//! the streaming inspector finds matches across chunk edges.

use super::rules::{self, RuleCategory};
use super::{TextInspector, TextScanner};
use crate::inspect::{Engine, Finding, ScanContext, Severity};
use std::sync::Arc;

/// Rule examples are written assuming this enclave domain.
pub const TEST_INTERNAL: &str = "corp.lan";

pub fn scanner() -> Arc<TextScanner> {
    let rules = rules::load(&[], &[], &[]).unwrap();
    Arc::new(TextScanner::new(rules, &[TEST_INTERNAL]).unwrap())
}

#[test]
fn every_rule_has_examples_that_match_and_negatives_that_do_not() {
    let s = scanner();
    let mut problems = Vec::new();
    for (ri, r) in s.rules().iter().enumerate() {
        if r.def.examples.is_empty() || r.def.negative_examples.is_empty() {
            problems.push(format!(
                "{}: needs examples and negative_examples",
                r.def.id
            ));
        }
        for ex in &r.def.examples {
            let m = s.raw(ex.as_bytes(), 0, ex.len());
            if !m.iter().any(|m| m.rule == ri) {
                problems.push(format!("{}: example does not match: {ex:?}", r.def.id));
            }
        }
        // a negative example may only be listed as a published example (at info)
        for ex in &r.def.negative_examples {
            let m = s.raw(ex.as_bytes(), 0, ex.len());
            if m.iter()
                .any(|m| m.rule == ri && m.severity != Some(Severity::Info))
            {
                problems.push(format!("{}: negative example matches: {ex:?}", r.def.id));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn enough_rules() {
    let s = scanner();
    let secrets = s
        .rules()
        .iter()
        .filter(|r| r.def.category == RuleCategory::Secret)
        .count();
    let reach = s
        .rules()
        .iter()
        .filter(|r| r.def.category == RuleCategory::Reachback)
        .count();
    assert!(secrets >= 60, "{secrets}");
    assert!(reach >= 15, "{reach}");
}

fn stream(text: &[u8], chunk: usize) -> Vec<Finding> {
    let s = scanner();
    let e = Engine::new(
        vec![Box::new(TextInspector::new(s.clone()))],
        ScanContext { text: s },
    );
    let mut f = e.begin_file("f.txt", Some(text.len() as u64), 0);
    for c in text.chunks(chunk) {
        f.update(c);
    }
    f.finish()
}

#[test]
fn secret_across_chunk_edges_is_found_once_with_its_line() {
    let token = b"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";
    let mut text = Vec::new();
    for i in 0..60_000 {
        text.extend_from_slice(format!("line {i} nothing to see here\n").as_bytes());
    }
    let at = text.len();
    text.extend_from_slice(b"GITHUB_TOKEN=");
    text.extend_from_slice(token);
    text.extend_from_slice(b"\nmore text after\n");
    let line = text[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    // chunk sizes that put a chunk edge inside the token, in the keyword, and elsewhere
    for chunk in [7, 4096, at + 15, at + 2, 1 << 20] {
        let f: Vec<_> = stream(&text, chunk)
            .into_iter()
            .filter(|f| f.rule == "secret.github-pat")
            .collect();
        assert_eq!(f.len(), 1, "chunk {chunk}: {f:?}");
        assert_eq!(f[0].offset, Some(at as u64 + 13));
        assert_eq!(f[0].line, Some(line));
        assert!(!f[0].redacted.as_ref().unwrap().contains("u8jzPde0"));
    }
}

#[test]
fn secret_in_last_bytes_of_binary() {
    let mut data: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 | 0x80)
        .collect();
    let token = b"AKIA4WXFOGO6MVN6A6WF";
    let at = data.len();
    data.extend_from_slice(token);
    for chunk in [65536, 1 << 20, 999_999] {
        let f = stream(&data, chunk);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule, "secret.aws-access-key-id");
        assert_eq!(f[0].offset, Some(at as u64));
        assert_eq!(f[0].line, None);
    }
}

#[test]
fn base64_block_is_decoded() {
    use base64::Engine as _;
    let inner = "aws_secret_access_key = pXz9w3QlY7Zkuvqdt7s8Stqcbnr3yBdGBLEPH1qh\n";
    let enc = base64::engine::general_purpose::STANDARD.encode(inner);
    let text = format!("apiVersion: v1\nkind: Secret\ndata:\n  creds: {enc}\n");
    let f = stream(text.as_bytes(), 1 << 20);
    let at = text.find(&enc).unwrap();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule, "secret.aws-secret-access-key");
    assert_eq!(f[0].path, format!("f.txt!base64@{at}"));
    assert_eq!(f[0].offset, Some(0));
    assert_eq!(f[0].line, Some(1));
}

#[test]
fn placeholders_and_near_misses_stay_quiet() {
    let text = "\
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
api_key = \"YOUR_API_KEY\"
token = \"${GITHUB_TOKEN}\"
id = 123e4567-e89b-12d3-a456-426614174000
commit = 9fceb02d0ae598e95dc970b74767f19372d61af8
sha256 = e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
img = data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==
mirror = https://pypi.corp.lan/simple
<svg xmlns=\"http://www.w3.org/2000/svg\"/>
";
    let f = stream(text.as_bytes(), 1 << 20);
    // the AWS documentation's keys are listed, at info, as published examples
    let listed: Vec<(&str, Severity)> = f.iter().map(|f| (f.rule.as_str(), f.severity)).collect();
    assert_eq!(
        listed,
        vec![
            ("secret.aws-access-key-id", Severity::Info),
            ("secret.aws-secret-access-key", Severity::Info)
        ],
        "{f:?}"
    );
}

#[test]
fn most_builtin_rules_run_anchored_at_their_keywords() {
    let s = scanner();
    let anchored: Vec<&str> = s
        .rules()
        .iter()
        .filter(|r| r.anchored)
        .map(|r| r.def.id.as_str())
        .collect();
    let windowed: Vec<&str> = s
        .rules()
        .iter()
        .filter(|r| !r.anchored)
        .map(|r| r.def.id.as_str())
        .collect();
    eprintln!(
        "anchored {}: {anchored:?}\nwindowed {}: {windowed:?}",
        anchored.len(),
        windowed.len()
    );
    assert!(anchored.len() * 2 > s.rules().len(), "{windowed:?}");
    // rules whose keyword sits inside the match stay windowed
    assert!(windowed.contains(&"secret.openai-api-key"), "{windowed:?}");
    assert!(anchored.contains(&"secret.slack-webhook"), "{anchored:?}");
}

#[test]
fn shortest_base64_run_is_decoded_at_every_alignment() {
    use base64::Engine as _;
    let inner = b"key AKIA4WXFOGO6MVN6A6WF"; // 24 bytes: exactly 32 base64 characters
    let enc = base64::engine::general_purpose::STANDARD.encode(inner);
    assert_eq!(enc.len(), 32);
    let s = scanner();
    for shift in 0..60 {
        for binary in [false, true] {
            let pad = if binary { 0xffu8 } else { b' ' };
            let mut buf = vec![pad; shift];
            buf.extend_from_slice(enc.as_bytes());
            buf.push(if binary { 0 } else { b'\n' });
            buf.extend(std::iter::repeat_n(pad, 50));
            let mut out = Vec::new();
            s.scan_region(
                "f",
                &buf,
                0,
                buf.len(),
                0,
                (!binary).then_some(1),
                false,
                &mut out,
            );
            assert!(
                out.iter().any(|f| f.rule == "secret.aws-access-key-id"
                    && f.path == format!("f!base64@{shift}")),
                "shift {shift} binary {binary}: {out:?}"
            );
        }
    }
}

#[test]
fn newline_count_agrees_with_a_byte_loop() {
    let mut x: u64 = 0xdead_beef_1234_5678;
    for len in [
        0usize,
        1,
        7,
        8,
        9,
        255 * 8 - 1,
        255 * 8,
        255 * 8 + 9,
        5000,
        70_000,
    ] {
        for dense in [1u64, 3, 40, 256] {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if x % dense == 0 {
                        b'\n'
                    } else {
                        [0x0b, 0x8a, 0x00, b'a', 0x0a ^ 0x80, 0xff][(x % 6) as usize]
                    }
                })
                .collect();
            let want = buf.iter().filter(|&&c| c == b'\n').count();
            assert_eq!(super::count_newlines(&buf), want, "len {len} dense {dense}");
        }
    }
}

/// Every rule's finding points at the line that holds its match: each example is put on the
/// third line of a text file (after lines of prose, with `\n` or `\r\n` line ends, at the
/// start of its line or indented), and each finding must name line 3, with its offset on
/// that line and inside the match. A rule written `(?:^|\s)curl…` used to report line 2.
#[test]
fn every_finding_points_at_the_line_of_its_match() {
    let s = scanner();
    let mut problems = Vec::new();
    for r in s.rules() {
        for ex in &r.def.examples {
            for (nl, indent) in [("\n", ""), ("\r\n", ""), ("\n", "  "), ("\n", "\t")] {
                let text = format!("first line{nl}second line{nl}{indent}{ex}{nl}last line{nl}");
                let found: Vec<Finding> = stream(text.as_bytes(), 1 << 20)
                    .into_iter()
                    .filter(|f| f.rule == r.def.id && f.path == "f.txt")
                    .collect();
                if found.is_empty() {
                    problems.push(format!("{}: not found in {text:?}", r.def.id));
                }
                for f in found {
                    let (Some(line), Some(off)) = (f.line, f.offset) else {
                        problems.push(format!("{}: no line or offset", r.def.id));
                        continue;
                    };
                    let off = off as usize;
                    let on = text[..off].matches('\n').count() as u64 + 1;
                    let ok_byte = text
                        .as_bytes()
                        .get(off)
                        .is_some_and(|c| !c.is_ascii_whitespace());
                    // a one-line example is on line 3; a longer one starts there
                    let want = ex.contains('\n') || line == 3;
                    if on != line || !ok_byte || !want || line < 3 {
                        problems.push(format!(
                            "{}: line {line}, offset {off} (on line {on}) in {text:?}",
                            r.def.id
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The shell rules that once reported the line before a `curl` that starts its line.
#[test]
fn shell_rules_report_the_curl_line() {
    let text = b"#!/bin/sh\nset -e\ncurl -fsSL https://get.vendor.sh/i | sh\nwget -q http://mirror.remote.org/d.tgz\n";
    let f = stream(text, 1 << 20);
    let line = |id: &str| {
        f.iter()
            .filter(|x| x.rule == id)
            .map(|x| x.line)
            .collect::<Vec<_>>()
    };
    assert_eq!(line("reachback.shell-pipe-exec"), vec![Some(3)], "{f:?}");
    assert_eq!(
        line("reachback.shell-download"),
        vec![Some(3), Some(4)],
        "{f:?}"
    );
}

/// A built-in rule's regex is built only when one of its keywords shows up; every one of
/// them builds (the examples test runs them all, this checks the build itself).
#[test]
fn rules_compile_on_first_use_and_all_compile() {
    let rules = rules::load(&[], &[], &[]).unwrap();
    let s = TextScanner::new(rules, &[TEST_INTERNAL]).unwrap();
    assert!(s.rules().iter().all(|r| !r.is_compiled()));
    let _ = s.raw(b"nothing to see in this text at all", 0, 34);
    assert!(s.rules().iter().all(|r| !r.is_compiled()));
    let text = b"token = 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";
    let _ = s.raw(text, 0, text.len());
    let built: Vec<&str> = s
        .rules()
        .iter()
        .filter(|r| r.is_compiled())
        .map(|r| r.def.id.as_str())
        .collect();
    assert!(built.contains(&"secret.github-pat"), "{built:?}");
    assert!(built.len() < s.rules().len() / 4, "{built:?}");
    for r in s.rules() {
        assert!(r.regex().is_some(), "{} does not build", r.def.id);
    }
}

/// The context checks (a licence header above a URL, a call's first argument after it)
/// give the same answer in a file scanned whole and in chunks, wherever the streaming step
/// edge falls.
#[test]
fn context_checks_agree_across_step_edges() {
    let s = scanner();
    let e = Engine::new(
        vec![Box::new(TextInspector::new(s.clone()))],
        ScanContext { text: s },
    );
    let case = "# Licensed under the Apache License, Version 2.0.\n# You may obtain a copy of the License at\n#\n#     http://www.apache.org/licenses/LICENSE-2.0\nrequests.post(\"http://127.0.0.1:8000/upload\")\nrequests.post(\"http://8.8.8.8:8000/upload\")\n";
    for k in (0..1200).step_by(37) {
        let mut text = "x = 1\n".repeat(((1 << 20) - 600 + k) / 6);
        text.push_str(case);
        text.push_str(&"y = 2\n".repeat(200));
        let b = text.as_bytes();
        let whole = e.begin_file("f.py", Some(b.len() as u64), 0).whole(b);
        let mut rules: Vec<(String, Option<u64>)> =
            whole.iter().map(|f| (f.rule.clone(), f.line)).collect();
        rules.sort();
        assert_eq!(
            rules.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
            vec!["reachback.ip-url", "reachback.python-http"],
            "k {k}: {whole:?}"
        );
        for chunk in [4099, 65536] {
            let mut f = e.begin_file("f.py", Some(b.len() as u64), 0);
            for c in b.chunks(chunk) {
                f.update(c);
            }
            let mut got: Vec<(String, Option<u64>)> = f
                .finish()
                .iter()
                .map(|f| (f.rule.clone(), f.line))
                .collect();
            got.sort();
            assert_eq!(got, rules, "k {k} chunk {chunk}");
        }
    }
}

/// In program source a host is a string literal: `host = self.proxy.host` is an expression,
/// `host = "metrics.vendor.io"` a host; in a config file the bare value is a host.
#[test]
fn bare_setting_values_in_source_are_expressions() {
    let s = scanner();
    let ids = |path: &str, text: &str| -> Vec<String> {
        s.raw_at(path, text.as_bytes())
            .iter()
            .map(|m| s.rules()[m.rule].def.id.clone())
            .collect()
    };
    let host = "reachback.host-setting".to_string();
    assert!(!ids("a.py", "        proxy_host = self.proxy.host\n").contains(&host));
    assert!(!ids("a.pyi", "    endpoint = rule.endpoint\n").contains(&host));
    assert!(ids("a.py", "    proxy_host = \"metrics.vendor.io\"\n").contains(&host));
    assert!(ids("a.yaml", "    proxy_host: metrics.vendor.io\n").contains(&host));
    // URLs in source are found as ever
    assert!(
        ids("a.py", "u = 'https://telemetry.vendor.io/x'\n").contains(&"reachback.url".to_string())
    );
}

/// (rule, severity) of every finding in `text`.
fn listed(text: &str) -> Vec<(String, Severity)> {
    stream(text.as_bytes(), 1 << 20)
        .into_iter()
        .map(|f| (f.rule, f.severity))
        .collect()
}

#[test]
fn a_value_off_its_providers_format_is_listed_at_info() {
    // lokalise keys are 40 lower-case letters and digits: this one has upper-case letters,
    // so the provider rule lists it at info (the generic rule judges it on its own)
    let off = listed("lokalise_api_token = 'q7m2x9k4v8p1z6r3t5w0y2b4n6c8d1f3h5j7lAAA'");
    assert!(
        off.contains(&("secret.provider-credential".to_string(), Severity::Info)),
        "{off:?}"
    );
    // the near miss: in the provider's format, a credential
    let on = listed("lokalise_api_token = 'q7m2x9k4v8p1z6r3t5w0y2b4n6c8d1f3h5j7l9aa'");
    assert!(
        on.contains(&("secret.provider-credential".to_string(), Severity::Medium)),
        "{on:?}"
    );
}

/// A value that counts up beside a secret's name (`abcd1234…`, `1a2b3c…`) is most likely
/// made up, but not surely: it is listed at low with the reason, never dropped, as in a
/// specific rule's format. A random value beside the same name keeps the rule's severity;
/// a masked or templated value stays quiet.
#[test]
fn counting_values_beside_secret_names_are_listed_at_low() {
    for (text, rule) in [
        (
            "adobeKey = 1a2b3c4d5e6f7890abcdef1234567890",
            "secret.provider-credential",
        ),
        (
            "api_key = \"0123456789abcdef0123456789abcdef\"",
            "secret.generic-api-key",
        ),
        // letters or digits alone, counting up
        (
            "asana_token = 1234567890123456",
            "secret.provider-credential",
        ),
        (
            "betterstack_token = abcdefghijklmnopqrstuvwx",
            "secret.provider-credential",
        ),
    ] {
        let found = listed(text);
        assert!(
            found.contains(&(rule.to_string(), Severity::Low)),
            "{text}: {found:?}"
        );
        assert!(
            found.iter().all(|(_, s)| *s <= Severity::Low),
            "{text}: {found:?}"
        );
    }
    let random = listed("adobeKey = 7f3a9c1e5b2d8046a1c9e7b3d5f20864");
    assert!(
        random.contains(&("secret.provider-credential".to_string(), Severity::Medium)),
        "{random:?}"
    );
    for quiet in [
        // digits or letters alone that do not count up: an id or a word, not a credential
        "asana_token = 8195513847023883",
        "adobeKey = ${ADOBE_KEY}",
        "adobeKey = {{ adobe_key }}",
        "api_key = \"****************************\"",
    ] {
        assert!(listed(quiet).is_empty(), "{quiet}: {:?}", listed(quiet));
    }
}

#[test]
fn salesforce_consumer_key_is_an_identifier_but_its_secret_is_not() {
    let text = "\
salesforce_key = \"3MVG9h0Dq8aAulsyuVzNw8JXJmJDQbqETCv.qNxOtlblnZGXperRvr0oYzUXhX3Yr_54FwvG3ASXdYBajOoFN\"
salesforce_secret = \"6CEA274F377F4A0CB37E4603AE0F721DF5729B818292217E38A46A0DC6E1B224\"
";
    assert_eq!(
        listed(text),
        vec![
            ("secret.salesforce-consumer-key".to_string(), Severity::Info),
            ("secret.provider-credential".to_string(), Severity::Medium)
        ]
    );
}

/// The matcher keeps capture buffers per worker thread between scans: two scanners whose
/// rules sit in a different order (so one rule index names regexes with different groups)
/// used in turn on one thread find exactly what each finds on a thread of its own.
#[test]
fn scanners_used_in_turn_on_one_thread_agree_with_fresh_ones() {
    let forward = rules::load(&[], &[], &[]).unwrap();
    let mut backward = rules::load(&[], &[], &[]).unwrap();
    backward.reverse();
    let a = Arc::new(TextScanner::new(forward, &[TEST_INTERNAL]).unwrap());
    let b = Arc::new(TextScanner::new(backward, &[TEST_INTERNAL]).unwrap());
    let text: Vec<u8> = a
        .rules()
        .iter()
        .flat_map(|r| r.def.examples.iter().chain(&r.def.negative_examples))
        .flat_map(|e| e.bytes().chain(std::iter::once(b'\n')))
        .collect();
    let fresh = |s: &Arc<TextScanner>| {
        let (s, t) = (s.clone(), text.clone());
        std::thread::spawn(move || s.raw_at("config.yaml", &t))
            .join()
            .unwrap()
    };
    let (want_a, want_b) = (fresh(&a), fresh(&b));
    assert!(want_a.len() > 100, "{} matches", want_a.len());
    assert_eq!(want_a.len(), want_b.len());
    for _ in 0..2 {
        assert_eq!(a.raw_at("config.yaml", &text), want_a);
        assert_eq!(b.raw_at("config.yaml", &text), want_b);
    }
    // the same rule slot with one group, then with two (the value in the second): a
    // capture buffer made for the first has no room for the second's value
    let one_rule = |pattern: &str, group: usize| {
        let toml = format!(
            "[[rule]]\nid = \"t.slot\"\nname = \"slot\"\ncategory = \"secret\"\n\
             severity = \"high\"\nkeywords = [\"zzkey\"]\nsecret_group = {group}\n\
             pattern = '{pattern}'\n"
        );
        let def = rules::parse_file(&toml, "t").unwrap().remove(0);
        let rule = rules::Rule::compile(def, "t").unwrap();
        TextScanner::new(vec![rule], &[TEST_INTERNAL]).unwrap()
    };
    let one = one_rule(r"zzkey=([A-Za-z0-9]{20})", 1);
    let two = one_rule(r"zzkey=([A-Za-z0-9]{4})([A-Za-z0-9]{16})", 2);
    let line = b"zzkey=Q7vN2kLp9XwR4tYb8MzC";
    for _ in 0..2 {
        let m = one.raw(line, 0, line.len());
        assert_eq!((m.len(), m[0].vstart), (1, 6), "{m:?}");
        let m = two.raw(line, 0, line.len());
        assert_eq!((m.len(), m[0].vstart), (1, 10), "{m:?}");
    }
}

/// The rules that run at every URL are one-pass patterns, so an anchored search at a URL
/// is one pass of the one-pass DFA instead of a lazy-DFA pass and a backtracking pass (the
/// scheme alternation of `reachback.url` is factored for it: `g(?:rpcs?|s)`, not
/// `grpcs?|gs`, whose branches both begin with `g`). 2 % of the instructions of a scan of
/// the bench tree.
#[test]
fn url_rules_are_one_pass() {
    use regex_automata::dfa::onepass;
    use regex_automata::util::syntax;
    let config = syntax::Config::new().unicode(false).utf8(false);
    let rules = rules::load(&[], &[], &[]).unwrap();
    for id in [
        "reachback.url",
        "reachback.ip-url",
        "secret.url-credentials",
    ] {
        let r = rules.iter().find(|r| r.def.id == id).expect(id);
        if let Err(e) = onepass::DFA::builder().syntax(config).build(&r.def.pattern) {
            panic!("{id}: {e}");
        }
    }
    // and the check can fail: the unfactored scheme list is not one-pass
    let unfactored = r"(?i)\b(?:https?|grpcs?|gs)://([^\s/]{1,300})";
    assert!(onepass::DFA::builder()
        .syntax(config)
        .build(unfactored)
        .is_err());
}
