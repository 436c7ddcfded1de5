//! Fuzz the .npy header parser and scan.
#![no_main]
use airgate::inspect::parts::npy::{parse_header, NpyScan};
use airgate::inspect::ScanContext;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_header(&String::from_utf8_lossy(data));
    let mut s = NpyScan::new("f.npy", ScanContext::default());
    s.feed(data);
    let mut out = Vec::new();
    s.finish(data.len() as u64, &mut out);
});
