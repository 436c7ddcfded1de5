//! Fuzz the Arrow IPC reader (stream or file form, by the first input byte) fed in
//! input-chosen chunks: message framing, flatbuffers, schema layout, buffer codecs, row
//! mapping, the file footer check. Seeds: fuzz/seeds.
#![no_main]
use airgate::inspect::build_engine;
use airgate::inspect::parts::datasets::{open, Kind};
use airgate::inspect::parts::nested::{Budget, Nest};
use airgate::policy::Policy;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

fuzz_target!(|input: &[u8]| {
    static ENGINE: OnceLock<Option<airgate::inspect::Engine>> = OnceLock::new();
    let Some(engine) = ENGINE.get_or_init(|| build_engine(&Policy::default()).ok()) else {
        return;
    };
    let Some((&mode, data)) = input.split_first() else {
        return;
    };
    let nest = Nest {
        engine: engine.clone(),
        path: "t.arrow".into(),
        depth: 0,
        budget: Arc::new(Budget::default()),
        format: "arrow",
    };
    let kind = if mode & 1 == 1 { Kind::ArrowFile } else { Kind::ArrowStream };
    let mut layer = open(nest, kind);
    let mut out = Vec::new();
    let step = 1 + usize::from(mode >> 1) * 97;
    for c in data.chunks(step) {
        layer.update(c, &mut out);
    }
    layer.end();
    layer.finish(&mut out);
    // and through the whole engine, as a file that may sniff as either form
    let mut s = engine.begin_file("t.arrow", Some(data.len() as u64), 0);
    for c in data.chunks(step) {
        s.update(c);
    }
    let _ = s.finish();
});
