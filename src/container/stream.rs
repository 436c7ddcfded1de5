//! The bundle byte stream, decoded in parallel: a reader thread splits the file into zstd
//! frames (or raw blocks for a plain tar) and hashes every raw byte; frames are decompressed
//! concurrently on the rayon pool; the consumer reads the decoded bytes back in order.
//! Frame size, total output and expansion ratio are bounded, so memory stays bounded.

use super::zstd::{read_frame_into, BombError, MAGIC, WINDOW_LOG_MAX};
use sha2::{Digest, Sha256};
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Largest decompressed size of one payload frame (the format's rule; `pack` writes 8 MiB).
pub const MAX_FRAME_OUTPUT: usize = 64 << 20;
/// Largest compressed size of one frame.
pub const MAX_FRAME_INPUT: usize = 80 << 20;
/// Raw block size for plain tar input.
const RAW_BLOCK: usize = 1 << 20;
/// Ratio checks start after this much output.
const RATIO_GRACE: u64 = 16 << 20;

type Unit = Receiver<io::Result<Vec<u8>>>;

/// Reusable buffers, so steady-state decoding allocates (and page-faults) nothing new.
#[derive(Clone, Default)]
struct Pool(Arc<Mutex<Vec<Vec<u8>>>>);

impl Pool {
    const KEEP: usize = 8;
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .ok()
            .and_then(|mut v| v.pop())
            .unwrap_or_default()
    }
    fn give(&self, mut b: Vec<u8>) {
        b.clear();
        if let Ok(mut v) = self.0.lock() {
            if v.len() < Self::KEEP {
                v.push(b);
            }
        }
    }
}

thread_local! {
    /// One decompression context per decoding thread, reused for every frame.
    static DCTX: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Limits on the decoded stream.
#[derive(Clone, Copy, Debug)]
pub struct StreamLimits {
    /// Most decoded bytes for the whole stream; beyond it decoding stops with a bomb error.
    pub max_output: u64,
    /// Most decoded bytes per compressed byte, checked once the output passes 16 MiB; beyond
    /// it decoding stops.
    pub max_ratio: u64,
    /// Frames decoded ahead of the consumer.
    pub ahead: usize,
}

/// SHA-256 and length of the raw file, known once it has been read to the end.
pub struct RawDigest {
    handle: Option<JoinHandle<(String, u64, bool)>>,
}

impl RawDigest {
    /// Wait for the reader thread. `Some((sha256 hex, bytes))` only if the whole file was read;
    /// call after dropping the [`Decoded`] reader.
    pub fn finish(mut self) -> Option<(String, u64)> {
        let (sha, n, complete) = self.handle.take()?.join().ok()?;
        complete.then_some((sha, n))
    }
}

/// The decoded byte stream.
pub struct Decoded {
    units: Receiver<Unit>,
    outputs: Pool,
    current: Vec<u8>,
    pos: usize,
    input: Arc<AtomicU64>,
    output: u64,
    limits: StreamLimits,
    failed: bool,
}

/// Start decoding `file`. `zstd` selects frame decoding; otherwise bytes pass through.
pub fn start<R: Read + Send + 'static>(
    file: R,
    zstd: bool,
    limits: StreamLimits,
) -> (Decoded, RawDigest) {
    let (units_tx, units_rx) = mpsc::sync_channel::<Unit>(limits.ahead.max(1));
    let input = Arc::new(AtomicU64::new(0));
    let counter = input.clone();
    let outputs = Pool::default();
    let out_pool = outputs.clone();
    let handle = std::thread::spawn(move || produce(file, zstd, units_tx, counter, out_pool));
    (
        Decoded {
            units: units_rx,
            outputs,
            current: Vec::new(),
            pos: 0,
            input,
            output: 0,
            limits,
            failed: false,
        },
        RawDigest {
            handle: Some(handle),
        },
    )
}

/// The reader thread: split into units, hash raw bytes, dispatch decoding.
fn produce<R: Read>(
    mut file: R,
    zstd: bool,
    units: SyncSender<Unit>,
    input: Arc<AtomicU64>,
    outputs: Pool,
) -> (String, u64, bool) {
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let inputs = Pool::default();
    loop {
        let mut bytes = if zstd { inputs.take() } else { outputs.take() };
        let unit = if zstd {
            read_frame_into(&mut file, MAX_FRAME_INPUT, &mut bytes)
        } else {
            read_raw(&mut file, &mut bytes)
        };
        let (tx, rx) = mpsc::sync_channel(1);
        match unit {
            Ok(false) => return (hex::encode(hasher.finalize()), total, true),
            Ok(true) => {
                hasher.update(&bytes);
                total += bytes.len() as u64;
                input.store(total, Ordering::Relaxed);
                if units.send(rx).is_err() {
                    return (String::new(), total, false);
                }
                if zstd {
                    let (inputs, outputs) = (inputs.clone(), outputs.clone());
                    rayon::spawn(move || {
                        let r = decode_frame(&bytes, outputs.take());
                        inputs.give(bytes);
                        let _ = tx.send(r);
                    });
                } else {
                    let _ = tx.send(Ok(bytes));
                }
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                let _ = units.send(rx);
                return (String::new(), total, false);
            }
        }
    }
}

fn read_raw<R: Read>(r: &mut R, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.resize(RAW_BLOCK, 0);
    let mut got = 0;
    while got < RAW_BLOCK {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(got > 0)
}

/// Decompress exactly one frame into `out` (a reused buffer), refusing more than
/// [`MAX_FRAME_OUTPUT`] bytes of output.
fn decode_frame(frame: &[u8], mut out: Vec<u8>) -> io::Result<Vec<u8>> {
    if frame.len() < 4 || frame[..4] != MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a zstd frame",
        ));
    }
    out.clear();
    // Address space only: pages are touched as the frame is written.
    out.reserve_exact(MAX_FRAME_OUTPUT);
    DCTX.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut d = zstd::bulk::Decompressor::new()?;
            d.set_parameter(zstd::zstd_safe::DParameter::WindowLogMax(WINDOW_LOG_MAX))?;
            *slot = Some(d);
        }
        match slot.as_mut() {
            Some(d) => d.decompress_to_buffer(frame, &mut out).map(|_| ()),
            None => Err(io::Error::other("no decompression context")),
        }
    })
    .map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "a zstd frame is corrupt or decompresses to more than {MAX_FRAME_OUTPUT} bytes ({e})"
            ),
        )
    })?;
    Ok(out)
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other("the stream already failed"));
        }
        while self.pos == self.current.len() {
            let Ok(unit) = self.units.recv() else {
                return Ok(0);
            };
            let next = unit
                .recv()
                .map_err(|_| io::Error::other("a decoding worker stopped"))
                .and_then(|r| r);
            match next {
                Ok(v) => {
                    self.output += v.len() as u64;
                    let old = std::mem::replace(&mut self.current, v);
                    self.outputs.give(old);
                    self.pos = 0;
                    if let Err(e) = self.check_limits() {
                        self.failed = true;
                        return Err(e);
                    }
                }
                Err(e) => {
                    self.failed = true;
                    return Err(e);
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Decoded {
    fn check_limits(&self) -> io::Result<()> {
        if self.output > self.limits.max_output {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                BombError::Output(self.limits.max_output),
            ));
        }
        if self.output > RATIO_GRACE {
            let input = self.input.load(Ordering::Relaxed).max(1);
            if self.output / input > self.limits.max_ratio {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    BombError::Ratio(self.limits.max_ratio),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> StreamLimits {
        StreamLimits {
            max_output: u64::MAX,
            max_ratio: 1000,
            ahead: 4,
        }
    }

    #[test]
    fn decodes_many_frames_in_order_and_hashes_raw_bytes() {
        let mut raw = Vec::new();
        let mut plain = Vec::new();
        for i in 0..20u32 {
            let part: Vec<u8> = (0..100_000u32)
                .map(|j| ((i * 31 + j) % 251) as u8)
                .collect();
            raw.extend(zstd::stream::encode_all(&part[..], 3).unwrap());
            plain.extend(part);
        }
        let (mut d, digest) = start(io::Cursor::new(raw.clone()), true, limits());
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        drop(d);
        assert_eq!(out, plain);
        let (sha, n) = digest.finish().unwrap();
        assert_eq!(n, raw.len() as u64);
        assert_eq!(sha, hex::encode(Sha256::digest(&raw)));
    }

    #[test]
    fn passes_raw_bytes_through() {
        let data: Vec<u8> = (0..3_000_000u32).map(|j| (j % 253) as u8).collect();
        let (mut d, digest) = start(io::Cursor::new(data.clone()), false, limits());
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        drop(d);
        assert_eq!(out, data);
        assert!(digest.finish().is_some());
    }

    #[test]
    fn rejects_garbage_truncation_and_bombs() {
        let (mut d, _) = start(io::Cursor::new(b"not zstd at all".to_vec()), true, limits());
        assert!(d.read_to_end(&mut Vec::new()).is_err());
        let z = zstd::stream::encode_all(&[1u8; 10_000][..], 3).unwrap();
        let (mut d, digest) = start(io::Cursor::new(z[..z.len() - 3].to_vec()), true, limits());
        assert!(d.read_to_end(&mut Vec::new()).is_err());
        drop(d);
        assert!(digest.finish().is_none());
        // 40 MiB of zeros in 8 MiB frames: ratio far over 100
        let mut bomb = Vec::new();
        for _ in 0..5 {
            bomb.extend(zstd::stream::encode_all(&vec![0u8; 8 << 20][..], 3).unwrap());
        }
        let mut l = limits();
        l.max_ratio = 100;
        let (mut d, _) = start(io::Cursor::new(bomb), true, l);
        let e = d.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(super::super::zstd::bomb_reason(&e).is_some());
        // one frame over the per-frame output cap
        let big = zstd::stream::encode_all(&vec![0u8; MAX_FRAME_OUTPUT + 1][..], 1).unwrap();
        let (mut d, _) = start(io::Cursor::new(big), true, limits());
        assert!(d.read_to_end(&mut Vec::new()).is_err());
    }
}
