//! Fuzz the Jinja block scanner and JSON config checks.
#![no_main]
use airgate::inspect::parts::config::check_json_text;
use airgate::inspect::parts::config::check_template;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = check_template(&String::from_utf8_lossy(data));
    let mut out = Vec::new();
    let _ = check_json_text("f.json", data, &mut out);
});
