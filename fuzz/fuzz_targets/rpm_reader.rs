//! Fuzz the rpm reader: any bytes, pushed in two chunk sizes; the sink checks that members
//! begin and end in order (see `airgate::inspect::formats::fuzz`).
#![no_main]
use airgate::inspect::formats::fuzz::{reader, Which};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| reader(Which::Rpm, data));
