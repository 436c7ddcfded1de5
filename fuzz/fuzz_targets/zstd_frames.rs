//! Fuzz the zstd frame walkers and the parallel decoding stream with tight limits.
#![no_main]
use airgate::container::{start_decoding, StreamLimits};
use airgate::container::{frame_len, frame_len_streaming};
use libfuzzer_sys::fuzz_target;
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    let _ = frame_len(data, 1 << 20);
    let mut r = data;
    while let Ok(Some(_)) = frame_len_streaming(&mut r, 1 << 20) {}
    let (mut d, digest) = start_decoding(
        std::io::Cursor::new(data.to_vec()),
        true,
        StreamLimits {
            max_output: 8 << 20,
            max_ratio: 1000,
            ahead: 2,
        },
    );
    let _ = std::io::copy(&mut (&mut d).take(16 << 20), &mut std::io::sink());
    drop(d);
    let _ = digest.finish();
});
