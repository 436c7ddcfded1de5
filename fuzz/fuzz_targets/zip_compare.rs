//! Fuzz the streaming zip walk and its comparison with the central directory.
#![no_main]
use airgate::inspect::parts::zip::ZipScan;
use airgate::inspect::ScanContext;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut z = ZipScan::new("f.zip", ScanContext::default(), 0);
    for c in data.chunks(37) {
        z.feed(c);
    }
    let mut out = Vec::new();
    z.finish(data.len() as u64, &mut out);
});
