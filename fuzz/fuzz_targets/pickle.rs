//! Fuzz the symbolic pickle machine (whole input, then split in two chunks).
#![no_main]
use airgate::inspect::parts::pickle::{looks_like_pickle, scan_pickle_bytes, PickleScan};
use airgate::inspect::ScanContext;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_pickle(data);
    let mut out = Vec::new();
    scan_pickle_bytes("f.pkl", data, ScanContext::default(), 0, &mut out);
    let cut = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let mut s = PickleScan::new("f.pkl", 0, ScanContext::default(), 0);
    s.feed(&data[..cut]);
    s.feed(&data[cut..]);
    s.finish(&mut out);
});
