//! Fuzz the xz, lzma-alone and lz4 decode layers: the first byte picks the decoder, output
//! is capped as the engine's budgets cap it (see `airgate::inspect::parts::formats`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| airgate::inspect::parts::formats::layers(data));
