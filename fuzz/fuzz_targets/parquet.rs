//! Fuzz the Parquet reader: footer, page headers, codecs, level and value decoders, row
//! mapping, over the whole input held in memory (as a spooled file is). Seeds: fuzz/seeds.
#![no_main]
use airgate::inspect::build_engine;
use airgate::inspect::parts::nested::{Budget, Nest};
use airgate::policy::Policy;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

fuzz_target!(|data: &[u8]| {
    static ENGINE: OnceLock<Option<airgate::inspect::Engine>> = OnceLock::new();
    let Some(engine) = ENGINE.get_or_init(|| build_engine(&Policy::default()).ok()) else {
        return;
    };
    let nest = Nest {
        engine: engine.clone(),
        path: "f.parquet".into(),
        depth: 0,
        budget: Arc::new(Budget::default()),
        format: "parquet",
    };
    let mut out = Vec::new();
    let _ = airgate::inspect::parts::datasets::inspect_parquet(&nest, &data, &mut out);
});
