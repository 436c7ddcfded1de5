//! Fuzz safetensors header validation and the streaming scan.
#![no_main]
use airgate::inspect::parts::safetensors::{parse_header, SafetensorsScan};
use airgate::inspect::ScanContext;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_header(data);
    let mut s = SafetensorsScan::new("f.safetensors", ScanContext::default());
    s.feed(data);
    let mut out = Vec::new();
    s.finish(data.len() as u64, &mut out);
});
