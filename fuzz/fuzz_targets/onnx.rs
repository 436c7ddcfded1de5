//! Fuzz the bounded protobuf reader through the ONNX and SavedModel schemas.
#![no_main]
use airgate::inspect::parts::onnx::{looks_like_onnx, OnnxScan};
use airgate::inspect::parts::onnx::looks_like_saved_model;
use airgate::inspect::ScanContext;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_onnx(data);
    let _ = looks_like_saved_model(data);
    let mut s = OnnxScan::new("f.onnx", ScanContext::default());
    let cut = data.len() / 2;
    s.feed(&data[..cut]);
    s.feed(&data[cut..]);
    let mut out = Vec::new();
    s.finish(&mut out);
});
