//! Fuzz the GGUF header parser with and without a known total size.
#![no_main]
use airgate::inspect::parts::gguf::{check_tensors, parse_header, GgufScan};
use airgate::inspect::ScanContext;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = parse_header(data, Some(data.len() as u64)) {
        let _ = check_tensors(&h, data.len() as u64);
    }
    let _ = parse_header(data, None);
    let mut s = GgufScan::new("f.gguf", None, ScanContext::default());
    s.feed(data);
    let mut out = Vec::new();
    s.finish(data.len() as u64, &mut out);
});
