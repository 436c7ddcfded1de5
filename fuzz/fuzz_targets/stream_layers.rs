//! Fuzz the xz, lzma-alone and lz4 decode layers: the first byte picks the decoder, the rest
//! is the stream, pushed in 7-byte chunks; output past 8 MiB is refused by the sink, as the
//! engine's budgets do.
#![no_main]
use airgate::inspect::formats::{lz4, xz};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

/// Counts decoded bytes and stops the decoder past a budget.
struct Budget(u64);

impl Write for Budget {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        if self.0 > 8 << 20 {
            return Err(std::io::Error::other("budget"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn feed<W: Write>(w: &mut W, data: &[u8]) {
    for c in data.chunks(7) {
        if w.write_all(c).is_err() {
            return;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let _ = xz::is_xz(rest);
    let _ = xz::lzma_alone(rest);
    let _ = lz4::sniff(rest);
    match which % 3 {
        0 => {
            if let Ok(mut d) = xz::xz_decoder(Budget(0)) {
                feed(&mut d, rest);
                let _ = d.try_finish();
            }
        }
        1 => {
            if let Ok(mut d) = xz::lzma_decoder(Budget(0)) {
                feed(&mut d, rest);
                let _ = d.try_finish();
            }
        }
        _ => {
            let mut d = lz4::Lz4Decoder::new(Budget(0));
            feed(&mut d, rest);
            let _ = d.finish();
        }
    }
});
