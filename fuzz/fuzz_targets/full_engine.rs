//! Fuzz the whole inspection engine of the default policy (keyword strips, anchored and
//! windowed rules, base64, nested layers, JSON strings, model inspectors) with input-chosen
//! chunking, and the text-rule pass on the whole input at once.
#![no_main]
use airgate::inspect::build_engine_parts;
use airgate::policy::Policy;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static PARTS: OnceLock<Option<(airgate::inspect::Engine, std::sync::Arc<airgate::inspect::TextScanner>)>> =
        OnceLock::new();
    let Some((engine, text)) = PARTS.get_or_init(|| build_engine_parts(&Policy::default()).ok()) else {
        return;
    };
    let step = 1 + data.first().map_or(0, |&b| usize::from(b) * 37);
    let name = if data.get(1).is_some_and(|b| b & 1 == 1) { "config.json" } else { "f.bin" };
    let mut s = engine.begin_file(name, Some(data.len() as u64), 0);
    for c in data.chunks(step) {
        s.update(c);
    }
    let _ = s.finish();
    let mut out = Vec::new();
    let from = data.len() / 3;
    // a run left open at the end is decoded whole from where it starts
    if let Some(a) = text.scan_region("f", data, from, data.len(), 0, None, true, &mut out) {
        text.scan_base64_run("f", &data[a..], a as u64, &mut out);
    }
    let _ = text.scan_region("f", data, 0, data.len(), 0, Some(1), false, &mut out);
});
