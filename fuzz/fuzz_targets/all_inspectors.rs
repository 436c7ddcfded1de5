//! Fuzz every model inspector through the engine, with input-chosen chunking.
#![no_main]
use airgate::inspect::{model_inspectors, Engine, ScanContext};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let engine = Engine::new(model_inspectors(), ScanContext::default());
    let step = 1 + data.first().map_or(0, |&b| usize::from(b));
    let mut s = engine.begin_file("f.bin", Some(data.len() as u64), 0);
    for c in data.chunks(step) {
        s.update(c);
    }
    let _ = s.finish();
});
