//! Fuzz the minisign and signify key and signature parsers and the format sniffer.
#![no_main]
use airgate::trust::{detached, minisign, signify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = detached::detect(data);
    let _ = detached::PublicKey::parse(data);
    let _ = minisign::Signature::parse(data);
    let _ = signify::Signature::parse(data);
});
