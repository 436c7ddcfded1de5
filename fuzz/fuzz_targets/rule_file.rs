//! Fuzz the rule-file reader (gitleaks `[[rules]]` and airgate `[[rule]]` formats) and, when
//! a file loads, a scan with its rules; and the reachback host parser and allow-list.
#![no_main]
use airgate::inspect::parts::text::parse_gitleaks;
use airgate::inspect::parts::text::{classify, parse_authority, AllowList};
use airgate::inspect::TextScanner;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(loaded) = parse_gitleaks(&text, "fuzz.toml") {
        if let Ok(s) = TextScanner::new(loaded.rules, &["corp.lan", "10.0.0.0/8"]) {
            let s = s.with_path_rules(loaded.path_rules);
            let _ = s.raw_at("a/b.txt", data);
            let mut out = Vec::new();
            s.path_findings("a/b.jks", &mut out);
        }
    }
    let allow = AllowList::new(&text.lines().take(8).collect::<Vec<_>>()).unwrap_or_default();
    for piece in data.split(|&b| b == b'\n').take(64) {
        if let Some(h) = parse_authority(piece) {
            let _ = classify(&h, &allow);
        }
    }
});
