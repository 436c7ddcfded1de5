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
    Arc::new(TextScanner::new(rules, vec![TEST_INTERNAL.to_string()]).unwrap())
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
