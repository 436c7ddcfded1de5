//! zstd handling for bundles: format sniffing, a frame walker that finds frame boundaries
//! without decompressing (so `sign` can replace the first frame and copy the rest), and a
//! decoder with bounded memory, bounded output and a bounded expansion ratio.

use std::io::{self, Read};

/// zstd frame magic (little-endian 0xFD2FB528).
pub const MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// Largest window we let a frame ask for (2^27 = 128 MiB; our packer uses far less).
pub const WINDOW_LOG_MAX: u32 = 27;
/// Ratio checks start after this much output, so tiny inputs don't trip them.
const RATIO_GRACE: u64 = 16 << 20;

/// What a bundle file is, by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// zstd frames.
    Zstd,
    /// Not compressed: a plain tar.
    None,
}

/// Tell zstd from a plain tar by content.
pub fn sniff(head: &[u8]) -> Option<Compression> {
    // a skippable frame first is zstd too: the frame reader then refuses it by name
    if head.starts_with(&MAGIC) || is_skippable(head) {
        return Some(Compression::Zstd);
    }
    if head.len() >= 263 && &head[257..262] == b"ustar" {
        return Some(Compression::None);
    }
    None
}

/// Does `head` start with a skippable frame's magic (0x184D2A50 to 0x184D2A5F)?
pub fn is_skippable(head: &[u8]) -> bool {
    head.len() >= 4 && head[1..4] == [0x2A, 0x4D, 0x18] && head[0] & 0xF0 == 0x50
}

/// Errors walking frames.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The first four bytes are not the zstd magic.
    #[error("not a zstd frame (bad magic)")]
    Magic,
    /// The data ends inside the frame.
    #[error("zstd frame is truncated")]
    Truncated,
    /// A block uses the reserved block type: not a valid frame.
    #[error("zstd frame uses a reserved block type")]
    Reserved,
    /// The frame is longer than the limit given; the limit.
    #[error("zstd frame is larger than {0} bytes")]
    TooLarge(usize),
}

/// Length in bytes of the zstd frame at the start of `buf`, found by walking its header and
/// block headers (no decompression). Fails if the frame does not end within `buf` or within
/// `limit` bytes.
pub fn frame_len(buf: &[u8], limit: usize) -> Result<usize, FrameError> {
    if buf.len() < 5 || buf[..4] != MAGIC {
        return Err(if buf.len() < 4 {
            FrameError::Truncated
        } else {
            FrameError::Magic
        });
    }
    let fhd = buf[4];
    let fcs_flag = fhd >> 6;
    let single_segment = fhd & 0x20 != 0;
    let checksum = fhd & 0x04 != 0;
    let did_len = [0usize, 1, 2, 4][(fhd & 3) as usize];
    let fcs_len = match fcs_flag {
        0 => usize::from(single_segment),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let mut pos = 5 + usize::from(!single_segment) + did_len + fcs_len;
    loop {
        if pos > limit {
            return Err(FrameError::TooLarge(limit));
        }
        let h = buf.get(pos..pos + 3).ok_or(FrameError::Truncated)?;
        let v = u32::from(h[0]) | (u32::from(h[1]) << 8) | (u32::from(h[2]) << 16);
        let last = v & 1 != 0;
        let btype = (v >> 1) & 3;
        let bsize = (v >> 3) as usize;
        pos += 3;
        pos += match btype {
            0 | 2 => bsize,
            1 => 1,
            _ => return Err(FrameError::Reserved),
        };
        if last {
            break;
        }
    }
    if checksum {
        pos += 4;
    }
    if pos > buf.len() {
        return Err(FrameError::Truncated);
    }
    if pos > limit {
        return Err(FrameError::TooLarge(limit));
    }
    Ok(pos)
}

/// Read one whole zstd frame from `r` (header, blocks, checksum) without decompressing it.
/// `Ok(None)` at a clean end of input. Skippable frames, reserved block types, truncation and
/// frames over `limit` bytes are errors.
pub fn frame_len_streaming<R: Read>(r: &mut R, limit: usize) -> io::Result<Option<Vec<u8>>> {
    let mut frame = Vec::new();
    Ok(read_frame_into(r, limit, &mut frame)?.then_some(frame))
}

/// [`frame_len_streaming`] into a reused buffer (cleared first); `Ok(false)` at the end.
pub fn read_frame_into<R: Read>(r: &mut R, limit: usize, frame: &mut Vec<u8>) -> io::Result<bool> {
    let bad = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
    frame.clear();
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut magic[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(bad("zstd stream ends inside a frame magic".into())),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if magic != MAGIC {
        return Err(bad(if is_skippable(&magic) {
            "skippable zstd frames are not allowed in a bundle".into()
        } else {
            "data after the last zstd frame is not a zstd frame".into()
        }));
    }
    frame.extend_from_slice(&magic);
    let take = |r: &mut R, frame: &mut Vec<u8>, n: usize| -> io::Result<()> {
        if frame.len() + n > limit {
            return Err(bad(format!("a zstd frame is larger than {limit} bytes")));
        }
        let start = frame.len();
        frame.resize(start + n, 0);
        r.read_exact(&mut frame[start..])
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => bad("zstd frame is truncated".into()),
                _ => e,
            })
    };
    take(r, frame, 1)?;
    let fhd = frame[4];
    let single_segment = fhd & 0x20 != 0;
    let did_len = [0usize, 1, 2, 4][(fhd & 3) as usize];
    let fcs_len = match fhd >> 6 {
        0 => usize::from(single_segment),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    take(r, frame, usize::from(!single_segment) + did_len + fcs_len)?;
    loop {
        take(r, frame, 3)?;
        let n = frame.len();
        let v = u32::from(frame[n - 3])
            | (u32::from(frame[n - 2]) << 8)
            | (u32::from(frame[n - 1]) << 16);
        let body = match (v >> 1) & 3 {
            0 | 2 => (v >> 3) as usize,
            1 => 1,
            _ => return Err(bad("zstd frame uses a reserved block type".into())),
        };
        take(r, frame, body)?;
        if v & 1 != 0 {
            break;
        }
    }
    if fhd & 0x04 != 0 {
        take(r, frame, 4)?;
    }
    Ok(true)
}

/// Counts the bytes read through it.
pub struct Counting<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R> Counting<R> {
    /// Wrap `inner`; the returned counter is shared with the reader.
    pub fn new(inner: R) -> (Self, std::sync::Arc<std::sync::atomic::AtomicU64>) {
        let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        (
            Counting {
                inner,
                count: count.clone(),
            },
            count,
        )
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Raised (inside an `io::Error`) when decompressed output breaks a limit.
#[derive(Debug, thiserror::Error)]
pub enum BombError {
    #[error("decompressed data exceeds {0} bytes")]
    Output(u64),
    #[error("decompression ratio exceeds {0}:1 (a decompression bomb?)")]
    Ratio(u64),
}

/// Enforces total-output and ratio limits on a decompressing reader.
pub struct Limited<R> {
    inner: R,
    input: std::sync::Arc<std::sync::atomic::AtomicU64>,
    output: u64,
    max_output: u64,
    max_ratio: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.output += n as u64;
        if self.output > self.max_output {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                BombError::Output(self.max_output),
            ));
        }
        if self.output > RATIO_GRACE {
            let input = self.input.load(std::sync::atomic::Ordering::Relaxed).max(1);
            if self.output / input > self.max_ratio {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    BombError::Ratio(self.max_ratio),
                ));
            }
        }
        Ok(n)
    }
}

/// A zstd decoder over `input` with a bounded window, total output and ratio.
pub fn decoder<R: Read>(
    input: R,
    max_output: u64,
    max_ratio: u64,
) -> io::Result<Limited<zstd::stream::read::Decoder<'static, io::BufReader<Counting<R>>>>> {
    let (counting, count) = Counting::new(input);
    let mut d =
        zstd::stream::read::Decoder::with_buffer(io::BufReader::with_capacity(1 << 17, counting))?;
    d.window_log_max(WINDOW_LOG_MAX)?;
    Ok(Limited {
        inner: d,
        input: count,
        output: 0,
        max_output,
        max_ratio,
    })
}

/// If `e` (or its source) is a decompression-limit error, describe it.
pub fn bomb_reason(e: &io::Error) -> Option<String> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<BombError>())
        .map(|b| b.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(parts: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in parts {
            out.extend(zstd::stream::encode_all(*p, 3).unwrap());
        }
        out
    }

    #[test]
    fn walks_frame_boundaries() {
        let a = vec![1u8; 5000];
        let b: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let f1 = zstd::stream::encode_all(&a[..], 3).unwrap();
        let all = frames(&[&a, &b]);
        assert_eq!(frame_len(&all, usize::MAX).unwrap(), f1.len());
        assert!(matches!(
            frame_len(&all[..f1.len() - 1], usize::MAX),
            Err(FrameError::Truncated)
        ));
        assert!(matches!(frame_len(&all, 10), Err(FrameError::TooLarge(_))));
        assert!(matches!(
            frame_len(b"ustar-ish data", 100),
            Err(FrameError::Magic)
        ));
        // concatenated frames decode as one stream
        let mut d = decoder(&all[..], u64::MAX, 1000).unwrap();
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), a.len() + b.len());
    }

    #[test]
    fn streaming_walker_agrees_with_slice_walker() {
        let a = vec![3u8; 70_000];
        let b: Vec<u8> = (0..200_000u32).map(|i| (i % 7) as u8).collect();
        let all = frames(&[&a, &b]);
        let mut r = &all[..];
        let f1 = frame_len_streaming(&mut r, usize::MAX).unwrap().unwrap();
        assert_eq!(f1.len(), frame_len(&all, usize::MAX).unwrap());
        let f2 = frame_len_streaming(&mut r, usize::MAX).unwrap().unwrap();
        assert_eq!(f1.len() + f2.len(), all.len());
        assert!(frame_len_streaming(&mut r, usize::MAX).unwrap().is_none());
        assert!(frame_len_streaming(&mut &all[..all.len() - 1], usize::MAX).is_ok());
        let mut short = &all[..f1.len() - 2];
        assert!(frame_len_streaming(&mut short, usize::MAX).is_err());
        assert!(frame_len_streaming(&mut &all[..], 10).is_err());
        let skippable = [0x50u8, 0x2A, 0x4D, 0x18, 0, 0, 0, 0];
        let e = frame_len_streaming(&mut &skippable[..], 100).unwrap_err();
        assert!(e.to_string().contains("skippable"));
    }

    #[test]
    fn stops_bombs() {
        let zeros = vec![0u8; 64 << 20];
        let z = zstd::stream::encode_all(&zeros[..], 3).unwrap();
        let mut d = decoder(&z[..], u64::MAX, 100).unwrap();
        let e = io::copy(&mut d, &mut io::sink()).unwrap_err();
        assert!(bomb_reason(&e).unwrap().contains("ratio"));
        let mut d = decoder(&z[..], 1 << 20, u64::MAX).unwrap();
        let e = io::copy(&mut d, &mut io::sink()).unwrap_err();
        assert!(bomb_reason(&e).unwrap().contains("exceeds"));
    }

    #[test]
    fn sniffs() {
        assert_eq!(sniff(&MAGIC), Some(Compression::Zstd));
        let mut t = vec![0u8; 512];
        t[257..262].copy_from_slice(b"ustar");
        assert_eq!(sniff(&t), Some(Compression::None));
        assert_eq!(sniff(b"PK\x03\x04"), None);
        assert_eq!(
            sniff(&[0x5F, 0x2A, 0x4D, 0x18, 0, 0, 0, 0]),
            Some(Compression::Zstd)
        );
        assert_eq!(sniff(&[0x60, 0x2A, 0x4D, 0x18]), None);
    }
}
