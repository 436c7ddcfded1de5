//! Fuzz the Sigstore bundle parser and the OpenSSF model-signing manifest parser.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = airgate::trust::sigstore::parse_bundle(data);
    let _ = airgate::trust::model_signing::manifest(data);
});
