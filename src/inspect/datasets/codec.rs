//! The codecs of Parquet pages and Arrow IPC buffers, each decoding into a buffer of exactly
//! the length the format declared: a stream that would produce more is refused at that point,
//! so a small page can never expand past the size its header admits to.

use std::io::Read;

/// A compression codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Uncompressed,
    Snappy,
    Gzip,
    /// Parquet LZO: not decoded (no maintained pure-Rust decoder); refused.
    Lzo,
    Brotli,
    /// Parquet's deprecated LZ4: Hadoop framing, else an LZ4 frame, else a raw block.
    Lz4Hadoop,
    Zstd,
    /// An LZ4 block without framing (Parquet LZ4_RAW).
    Lz4Raw,
    /// One LZ4 frame (Arrow IPC LZ4_FRAME).
    Lz4Frame,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::Uncompressed => "uncompressed",
            Codec::Snappy => "snappy",
            Codec::Gzip => "gzip",
            Codec::Lzo => "lzo",
            Codec::Brotli => "brotli",
            Codec::Lz4Hadoop => "lz4",
            Codec::Zstd => "zstd",
            Codec::Lz4Raw => "lz4_raw",
            Codec::Lz4Frame => "lz4_frame",
        }
    }
}

/// Why a page or buffer did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("{0} is not a codec airgate decodes")]
    Unsupported(&'static str),
    #[error("{codec} data does not decode: {why}")]
    Corrupt { codec: &'static str, why: String },
    #[error("{codec} data decodes to {got} bytes where {want} were declared")]
    Size {
        codec: &'static str,
        want: u64,
        got: String,
    },
}

fn corrupt(codec: Codec, why: impl std::fmt::Display) -> CodecError {
    CodecError::Corrupt {
        codec: codec.name(),
        why: why.to_string(),
    }
}

fn size(codec: Codec, want: usize, got: impl std::fmt::Display) -> CodecError {
    CodecError::Size {
        codec: codec.name(),
        want: want as u64,
        got: got.to_string(),
    }
}

thread_local! {
    /// Per worker: a zstd decoding context (reused, as the bundle reader does).
    static ZSTD: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// `out` made exactly `len` bytes long without clearing what it holds (the decoder
/// overwrites all of it, which the callers check), so a reused buffer is not zeroed again.
fn sized(out: &mut Vec<u8>, len: usize) {
    if out.len() < len {
        out.resize(len, 0);
    } else {
        out.truncate(len);
    }
}

/// Decode `input` into `out` (its contents replaced), which must come to exactly `len` bytes.
pub fn decompress(
    codec: Codec,
    input: &[u8],
    len: usize,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    match codec {
        Codec::Uncompressed => {
            out.clear();
            if input.len() != len {
                return Err(size(codec, len, input.len()));
            }
            out.extend_from_slice(input);
            Ok(())
        }
        Codec::Snappy => {
            let n = snap::raw::decompress_len(input).map_err(|e| corrupt(codec, e))?;
            if n != len {
                out.clear();
                return Err(size(codec, len, n));
            }
            sized(out, len);
            let got = snap::raw::Decoder::new()
                .decompress(input, out)
                .map_err(|e| corrupt(codec, e))?;
            exact(codec, out, got, len)
        }
        Codec::Gzip => read_exact_len(codec, flate2::read::MultiGzDecoder::new(input), len, out),
        Codec::Brotli => read_exact_len(
            codec,
            brotli_decompressor::Decompressor::new(input, 4096),
            len,
            out,
        ),
        Codec::Lz4Frame => {
            read_exact_len(codec, lz4_flex::frame::FrameDecoder::new(input), len, out)
        }
        Codec::Zstd => {
            sized(out, len);
            let got = ZSTD.with_borrow_mut(|slot| {
                if slot.is_none() {
                    *slot = Some(zstd::bulk::Decompressor::new().map_err(|e| corrupt(codec, e))?);
                }
                match slot.as_mut() {
                    Some(d) => d
                        .decompress_to_buffer(input, &mut out[..])
                        .map_err(|e| corrupt(codec, e)),
                    None => Err(corrupt(codec, "no decoding context")),
                }
            })?;
            exact(codec, out, got, len)
        }
        Codec::Lz4Raw => lz4_block(input, len, out).map_err(|e| match e {
            Lz4Fail::Corrupt(w) => corrupt(codec, w),
            Lz4Fail::Size(n) => size(codec, len, n),
        }),
        Codec::Lz4Hadoop => {
            if lz4_hadoop(input, len, out) {
                return Ok(());
            }
            if input.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
                return read_exact_len(codec, lz4_flex::frame::FrameDecoder::new(input), len, out);
            }
            lz4_block(input, len, out).map_err(|e| match e {
                Lz4Fail::Corrupt(w) => corrupt(
                    codec,
                    format!("neither Hadoop-framed nor a raw block ({w})"),
                ),
                Lz4Fail::Size(n) => size(codec, len, n),
            })
        }
        Codec::Lzo => Err(CodecError::Unsupported("LZO")),
    }
}

fn exact(codec: Codec, out: &mut Vec<u8>, got: usize, len: usize) -> Result<(), CodecError> {
    if got != len {
        out.clear();
        return Err(size(codec, len, got));
    }
    Ok(())
}

/// Read a decoder to its end, refusing past `len` bytes.
fn read_exact_len(
    codec: Codec,
    r: impl Read,
    len: usize,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    out.clear();
    out.reserve(len);
    let mut r = r.take(len as u64 + 1);
    r.read_to_end(out).map_err(|e| corrupt(codec, e))?;
    if out.len() > len {
        out.clear();
        return Err(size(codec, len, format!("more than {len}")));
    }
    let got = out.len();
    exact(codec, out, got, len)
}

enum Lz4Fail {
    Corrupt(String),
    Size(usize),
}

fn lz4_block(input: &[u8], len: usize, out: &mut Vec<u8>) -> Result<(), Lz4Fail> {
    sized(out, len);
    let got = lz4_flex::block::decompress_into(input, out).map_err(|e| {
        out.clear();
        Lz4Fail::Corrupt(e.to_string())
    })?;
    if got != len {
        out.clear();
        return Err(Lz4Fail::Size(got));
    }
    Ok(())
}

/// Hadoop's LZ4 framing: blocks of (u32 BE decoded size, u32 BE encoded size, raw LZ4 block)
/// that together decode to exactly `len` bytes. False (and `out` cleared) if not.
fn lz4_hadoop(input: &[u8], len: usize, out: &mut Vec<u8>) -> bool {
    sized(out, len);
    let mut rest = input;
    let mut at = 0usize;
    while !rest.is_empty() {
        let (Some(d), Some(c)) = (rest.get(..4), rest.get(4..8)) else {
            break;
        };
        let d = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize;
        let c = u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize;
        let Some(block) = rest.get(8..8usize.saturating_add(c)) else {
            break;
        };
        let Some(dst) = at.checked_add(d).and_then(|end| out.get_mut(at..end)) else {
            break;
        };
        match lz4_flex::block::decompress_into(block, dst) {
            Ok(n) if n == d => {}
            _ => break,
        }
        at += d;
        rest = &rest[8 + c..];
    }
    if rest.is_empty() && at == len && !input.is_empty() {
        return true;
    }
    out.clear();
    len == 0 && input.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn text(n: usize) -> Vec<u8> {
        (0..n).map(|i| b"the quick brown fox "[i % 20]).collect()
    }

    #[test]
    fn every_codec_round_trips_at_the_declared_length() {
        let data = text(100_000);
        let mut out = Vec::new();
        let snappy = snap::raw::Encoder::new()
            .compress_vec(&data)
            .expect("snappy");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let zst = zstd::bulk::compress(&data, 3).expect("zstd");
        let raw = lz4_flex::block::compress(&data);
        let mut hadoop = Vec::new();
        for part in data.chunks(40_000) {
            let b = lz4_flex::block::compress(part);
            hadoop.extend_from_slice(&(part.len() as u32).to_be_bytes());
            hadoop.extend_from_slice(&(b.len() as u32).to_be_bytes());
            hadoop.extend_from_slice(&b);
        }
        let mut fr = lz4_flex::frame::FrameEncoder::new(Vec::new());
        fr.write_all(&data).expect("lz4 frame");
        let fr = fr.finish().expect("lz4 frame");
        for (codec, enc) in [
            (Codec::Uncompressed, &data),
            (Codec::Snappy, &snappy),
            (Codec::Gzip, &gz),
            (Codec::Zstd, &zst),
            (Codec::Lz4Raw, &raw),
            (Codec::Lz4Hadoop, &hadoop),
            (Codec::Lz4Hadoop, &raw), // the legacy raw-block fallback
            (Codec::Lz4Hadoop, &fr),  // and the LZ4 frame fallback
            (Codec::Lz4Frame, &fr),
        ] {
            decompress(codec, enc, data.len(), &mut out)
                .unwrap_or_else(|e| panic!("{}: {e}", codec.name()));
            assert_eq!(out, data, "{}", codec.name());
            // one byte more or less than declared is refused
            assert!(decompress(codec, enc, data.len() - 1, &mut out).is_err());
            assert!(decompress(codec, enc, data.len() + 1, &mut out).is_err());
        }
        assert_eq!(
            decompress(Codec::Lzo, b"x", 1, &mut out),
            Err(CodecError::Unsupported("LZO"))
        );
    }

    #[test]
    fn a_bomb_stops_at_the_declared_length() {
        // 64 MiB of zeros in about 64 KiB of gzip, declared as 1 MiB
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![0u8; 64 << 20]).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let mut out = Vec::new();
        let e = decompress(Codec::Gzip, &gz, 1 << 20, &mut out).expect_err("refused");
        assert!(matches!(e, CodecError::Size { .. }), "{e}");
        assert!(
            out.capacity() < 4 << 20,
            "decoding stopped near the declared size"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut out = Vec::new();
        for codec in [
            Codec::Snappy,
            Codec::Gzip,
            Codec::Brotli,
            Codec::Zstd,
            Codec::Lz4Raw,
            Codec::Lz4Hadoop,
            Codec::Lz4Frame,
        ] {
            assert!(decompress(codec, b"\xff\x00garbage bytes here", 1000, &mut out).is_err());
        }
    }
}
