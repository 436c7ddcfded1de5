//! Entry points of the format fuzz targets (`fuzz/fuzz_targets/{ar,cpio,rpm}_reader.rs`,
//! `stream_layers.rs`), kept in the library so they build and run with the unit tests.

use super::{ar, cpio, lz4, rpm, xz, Collect, Reader};
use std::io::Write;

/// Which reader [`reader`] drives.
#[derive(Clone, Copy, Debug)]
pub enum Which {
    /// Unix `ar` archives (`.a`, `.deb`).
    Ar,
    /// cpio archives (newc and odc).
    Cpio,
    /// RPM packages (lead, headers, then the payload's members).
    Rpm,
}

/// Push `data` through a fresh reader in 1-byte and 4 KiB chunks; the sink panics if
/// members do not begin and end in order.
pub fn reader(which: Which, data: &[u8]) {
    for step in [1usize, 4096] {
        let mut r: Box<dyn Reader> = match which {
            Which::Ar => Box::new(ar::ArReader::new(false)),
            Which::Cpio => Box::new(cpio::CpioReader::new()),
            Which::Rpm => Box::new(rpm::RpmReader::new()),
        };
        let mut c = Collect::new(1 << 16);
        for chunk in data.chunks(step) {
            r.push(chunk, &mut c);
        }
        r.end(&mut c);
    }
}

/// Counts decoded bytes and stops the decoder past 8 MiB, as the engine's budgets do.
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

/// The first byte picks the decoder (xz, lzma-alone, lz4); the rest is the stream, pushed
/// in 7-byte chunks.
pub fn layers(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let _ = (xz::is_xz(rest), xz::lzma_alone(rest), lz4::sniff(rest));
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuzz_bodies_run_on_seeds() {
        let mut ar = ar::MAGIC.to_vec();
        ar.extend_from_slice(b"a/              0           0     0     644     3         `\nabc\n");
        reader(Which::Ar, &ar);
        reader(Which::Cpio, b"070701000000000000");
        let mut rpm = rpm::MAGIC.to_vec();
        rpm.extend([3u8; 200]);
        reader(Which::Rpm, &rpm);
        let bomb = vec![0u8; 20 << 20];
        let mut lz = vec![2u8];
        lz.extend(lz4_flex::block::compress(&bomb[..1 << 20]));
        for d in [
            &[0u8, 0xfd, b'7', b'z'][..],
            &[1, 0x5d, 0, 0, 1][..],
            &lz[..],
            &[],
        ] {
            layers(d);
        }
    }
}
