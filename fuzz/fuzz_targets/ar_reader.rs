//! Fuzz the ar reader: any bytes, pushed in two chunk sizes; the sink checks that members
//! begin and end in order (see `airgate::inspect::parts::formats`).
#![no_main]
use airgate::inspect::parts::formats::{reader, Which};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| reader(Which::Ar, data));
