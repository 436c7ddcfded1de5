//! Single-stream decoders (gzip, zstd, bzip2, xz, lzma, lz4) and UTF-16 text, as push layers: encoded
//! bytes go in, decoded bytes go into a child scan. A decoded stream is held until it passes
//! [`HOLD`] bytes, so a small one (most are) is scanned whole where it lies; a larger one is
//! streamed from then on.

use super::{clean_name, Layer, Nest};
use crate::inspect::engine::FileScan;
use crate::inspect::formats;
use crate::inspect::{Category, Finding, Severity};
use std::io::Write;

/// Decoded bytes held before a stream is handed to its child scan in chunks.
pub const HOLD: usize = 1 << 20;

thread_local! {
    /// Per worker: a spare hold buffer, so each stream does not fault in fresh pages.
    static SPARE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Where decoded bytes go: the child scan, with the nesting limits applied.
pub struct Sink {
    nest: Nest,
    child: Option<FileScan>,
    /// The decoded stream so far, while it is at most [`HOLD`] bytes (`None` once streaming).
    held: Option<Vec<u8>>,
    /// Encoded bytes handed to the decoder so far (set by the layer).
    encoded: u64,
    decoded: u64,
    /// Why the sink stopped, if a limit tripped.
    tripped: Option<Finding>,
}

impl Sink {
    fn new(nest: Nest, child: Option<FileScan>) -> Sink {
        let held = child
            .is_some()
            .then(|| SPARE.with_borrow_mut(std::mem::take));
        Sink {
            nest,
            child,
            held,
            encoded: 0,
            decoded: 0,
            tripped: None,
        }
    }

    /// Finish the child; return its findings plus any limit finding.
    fn close(mut self, out: &mut Vec<Finding>) {
        let held = self.held.take();
        if let Some(c) = self.child.take() {
            let found = match &held {
                Some(h) => c.whole(h),
                None => c.finish(),
            };
            self.nest.keep(found, out);
        }
        out.extend(self.tripped.take());
        give_back(held);
    }

    /// From now on every decoded chunk goes straight to the child.
    fn stream(&mut self) {
        if let (Some(h), Some(c)) = (self.held.take(), self.child.as_mut()) {
            c.update(&h);
            give_back(Some(h));
        }
    }
}

/// Return a hold buffer to this worker's spare (keeping the larger one).
fn give_back(held: Option<Vec<u8>>) {
    if let Some(mut h) = held {
        h.clear();
        SPARE.with_borrow_mut(|spare| {
            if h.capacity() > spare.capacity() {
                *spare = h;
            }
        });
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.tripped.is_some() {
            return Err(std::io::Error::other("inspection limit reached"));
        }
        self.decoded += buf.len() as u64;
        if let Err(f) = self
            .nest
            .count_expanded(buf.len() as u64, self.decoded, self.encoded)
        {
            self.tripped = Some(*f);
            return Err(std::io::Error::other("inspection limit reached"));
        }
        if let Some(h) = &mut self.held {
            if h.len() + buf.len() <= HOLD {
                h.extend_from_slice(buf);
                return Ok(buf.len());
            }
            self.stream();
        }
        if let Some(c) = self.child.as_mut() {
            c.update(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Dec {
    Gz(Box<flate2::write::MultiGzDecoder<Sink>>),
    Zst(Box<zstd::stream::write::Decoder<'static, Sink>>),
    Bz(Box<bzip2::write::BzDecoder<Sink>>),
    /// xz and lzma-alone (liblzma).
    Xz(Box<liblzma::write::XzDecoder<Sink>>),
    Lz4(Box<formats::lz4::Lz4Decoder<Sink>>),
}

impl Dec {
    fn sink(&mut self) -> &mut Sink {
        match self {
            Dec::Gz(d) => d.get_mut(),
            Dec::Zst(d) => d.get_mut(),
            Dec::Bz(d) => d.get_mut(),
            Dec::Xz(d) => d.get_mut(),
            Dec::Lz4(d) => d.get_mut(),
        }
    }
    fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Dec::Gz(d) => d.write_all(data),
            Dec::Zst(d) => d.write_all(data),
            Dec::Bz(d) => d.write_all(data),
            Dec::Xz(d) => d.write_all(data),
            Dec::Lz4(d) => d.write_all(data),
        }
    }
    /// Flush the decoder: whether the stream ended cleanly. The sink stays in place either
    /// way, so what was decoded before a bad end is still inspected.
    fn end(&mut self) -> std::io::Result<()> {
        match self {
            Dec::Gz(d) => d.try_finish(),
            // (flush alone does not say whether the last frame was whole)
            Dec::Zst(d) => d.do_finish(),
            Dec::Bz(d) => d.try_finish(),
            Dec::Xz(d) => d.try_finish(),
            Dec::Lz4(d) => d.finish(),
        }
    }
}

/// Largest zstd window decoded (2^27 bytes, what `zstd` itself decodes without `--long`).
const ZSTD_WINDOW_LOG: u32 = 27;

/// The window a zstd frame header declares (RFC 8878, 3.1.1.1), if `h` starts with a whole
/// zstd frame header: the window descriptor's size, or for a single-segment frame its
/// content size.
pub fn zstd_window(h: &[u8]) -> Option<u64> {
    if h.get(..4)? != [0x28, 0xb5, 0x2f, 0xfd] {
        return None;
    }
    let fhd = *h.get(4)?;
    if fhd & 0x20 == 0 {
        let wd = *h.get(5)?;
        let base = 1u64 << (10 + u32::from(wd >> 3));
        return Some(base + (base / 8) * u64::from(wd & 7));
    }
    let dict = [0usize, 1, 2, 4][usize::from(fhd & 3)];
    let fcs_len = [1usize, 2, 4, 8][usize::from(fhd >> 6)];
    let at = 5 + dict;
    let bytes = h.get(at..at + fcs_len)?;
    let mut v = [0u8; 8];
    v[..fcs_len].copy_from_slice(bytes);
    let fcs = u64::from_le_bytes(v);
    Some(if fcs_len == 2 { fcs + 256 } else { fcs })
}

/// Whether a zstd decode error is our window cap: the library's message says so, or (should
/// that message ever change) the stream's first frame header declares a larger window.
pub(super) fn refused_for_window(error: &str, head: &[u8]) -> bool {
    error.contains("too much memory")
        || zstd_window(head).is_some_and(|w| w > 1u64 << ZSTD_WINDOW_LOG)
}

/// Longest zstd frame header (magic, descriptor, window, dictionary id, content size).
const ZSTD_HEADER_MAX: usize = 18;

/// A gzip, zstd or bzip2 stream layer.
pub struct Decode {
    format: &'static str,
    nest: Nest,
    dec: Option<Dec>,
    /// zstd only: the stream's first bytes (its first frame header).
    head: Vec<u8>,
    encoded: u64,
    failed: Vec<Finding>,
    /// Decoding failed (see [`Layer::failed`]).
    broke: bool,
}

/// The decoded name for `path`: last component without the compression suffix.
fn inner_name(path: &str, suffixes: &[(&str, &str)]) -> String {
    let last = path.rsplit(['/', '!']).next().unwrap_or(path);
    for (suf, repl) in suffixes {
        if last.len() > suf.len() && last.to_ascii_lowercase().ends_with(suf) {
            return clean_name(format!("{}{repl}", &last[..last.len() - suf.len()]).as_bytes());
        }
    }
    "data".into()
}

impl Decode {
    fn make(
        format: &'static str,
        nest: Nest,
        suffixes: &[(&str, &str)],
        build: impl FnOnce(Sink) -> Option<Dec>,
    ) -> Box<Decode> {
        let name = inner_name(&nest.path, suffixes);
        let mut failed = Vec::new();
        let child = match nest.child(&name, None) {
            Ok(c) => Some(c),
            Err(f) => {
                failed.push(*f);
                None
            }
        };
        let dec = if child.is_some() {
            build(Sink::new(nest.clone(), child))
        } else {
            None
        };
        Box::new(Decode {
            format,
            nest,
            dec,
            head: Vec::new(),
            encoded: 0,
            failed,
            broke: false,
        })
    }

    /// A gzip layer (several members in a row are one stream).
    pub fn gzip(nest: Nest) -> Box<dyn Layer> {
        Decode::make(
            "gzip",
            nest,
            &[(".tgz", ".tar"), (".gz", ""), (".gzip", "")],
            |s| Some(Dec::Gz(Box::new(flate2::write::MultiGzDecoder::new(s)))),
        )
    }

    /// A zstd layer; the window is capped at 2^[`ZSTD_WINDOW_LOG`] bytes of memory.
    pub fn zstd(nest: Nest) -> Option<Box<dyn Layer>> {
        Some(Decode::make(
            "zstd",
            nest,
            &[(".tzst", ".tar"), (".zst", ""), (".zstd", "")],
            |s| {
                let mut d = zstd::stream::write::Decoder::new(s).ok()?;
                d.window_log_max(ZSTD_WINDOW_LOG).ok()?;
                Some(Dec::Zst(Box::new(d)))
            },
        ))
    }

    /// An xz layer (concatenated streams); the dictionary is capped by liblzma's memory
    /// limit ([`formats::xz::MEMLIMIT`]).
    pub fn xz(nest: Nest) -> Option<Box<dyn Layer>> {
        Some(Decode::make(
            "xz",
            nest,
            &[(".txz", ".tar"), (".xz", "")],
            |s| Some(Dec::Xz(Box::new(formats::xz::xz_decoder(s).ok()?))),
        ))
    }

    /// An lzma-alone layer, dictionary capped as for xz.
    pub fn lzma(nest: Nest) -> Option<Box<dyn Layer>> {
        Some(Decode::make(
            "lzma",
            nest,
            &[(".tlz", ".tar"), (".lzma", "")],
            |s| Some(Dec::Xz(Box::new(formats::xz::lzma_decoder(s).ok()?))),
        ))
    }

    /// An lz4 layer (frames, legacy format).
    pub fn lz4(nest: Nest) -> Box<dyn Layer> {
        Decode::make("lz4", nest, &[(".tlz4", ".tar"), (".lz4", "")], |s| {
            Some(Dec::Lz4(Box::new(formats::lz4::Lz4Decoder::new(s))))
        })
    }

    /// A bzip2 layer.
    pub fn bzip2(nest: Nest) -> Box<dyn Layer> {
        Decode::make(
            "bzip2",
            nest,
            &[(".tbz2", ".tar"), (".tbz", ".tar"), (".bz2", "")],
            |s| Some(Dec::Bz(Box::new(bzip2::write::BzDecoder::new(s)))),
        )
    }

    fn fail(&mut self, e: std::io::Error) {
        self.broke = true;
        if let Some(dec) = self.dec.take() {
            let mut dec = dec;
            let sink = std::mem::replace(dec.sink(), Sink::new(self.nest.clone(), None));
            let tripped = sink.tripped.is_some();
            let from = self.failed.len();
            sink.close(&mut self.failed);
            crate::inspect::models::onnx::rebase_to_sibling(
                &mut self.failed[from..],
                &self.nest.path,
            );
            let window = self.format == "zstd" && refused_for_window(&e.to_string(), &self.head);
            if window {
                // `zstd -d --long=31` decodes it: a valid stream, refused only by our cap
                self.failed.push(self.nest.cut(
                    "the zstd window cap",
                    format!(
                        "zstd frame needs a window over {} MiB ({e}): not decoded, so not \
                         inspected; recompress it with a smaller window",
                        (1u64 << ZSTD_WINDOW_LOG) >> 20
                    ),
                ));
            } else if formats::xz::is_memlimit(&e) {
                self.failed.push(self.nest.cut(
                    "the xz/lzma dictionary cap",
                    format!(
                        "{} stream needs a dictionary over {} MiB: not decoded, so not \
                         inspected; recompress it with a smaller dictionary",
                        self.format,
                        formats::xz::MAX_DICT >> 20
                    ),
                ));
            } else if !tripped {
                self.failed.push(self.nest.finding(
                    "archive.corrupt",
                    Category::Format,
                    Severity::Medium,
                    format!(
                        "{} stream does not decode ({e}): its raw bytes are text-scanned instead",
                        self.format
                    ),
                ));
            }
        }
    }
}

impl Layer for Decode {
    fn format(&self) -> &'static str {
        self.format
    }

    fn failed(&self) -> bool {
        self.broke
    }

    fn may_fail(&self) -> bool {
        true
    }

    fn update(&mut self, data: &[u8], _out: &mut Vec<Finding>) {
        let Some(dec) = self.dec.as_mut() else { return };
        if self.format == "zstd" && self.head.len() < ZSTD_HEADER_MAX {
            let k = (ZSTD_HEADER_MAX - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..k]);
        }
        self.encoded += data.len() as u64;
        dec.sink().encoded = self.encoded;
        if let Err(e) = dec.write_all(data) {
            self.fail(e);
        }
    }

    fn end(&mut self) {
        if let Some(mut dec) = self.dec.take() {
            let r = dec.end();
            let sink = std::mem::replace(dec.sink(), Sink::new(self.nest.clone(), None));
            let from = self.failed.len();
            sink.close(&mut self.failed);
            // a decompressed model sits beside the compressed file
            crate::inspect::models::onnx::rebase_to_sibling(
                &mut self.failed[from..],
                &self.nest.path,
            );
            if let Err(e) = r {
                self.broke = true;
                self.failed.push(self.nest.finding(
                    "archive.corrupt",
                    Category::Format,
                    Severity::Medium,
                    format!("{} stream is truncated or corrupt ({e})", self.format),
                ));
            }
        }
    }

    fn finish(mut self: Box<Self>, out: &mut Vec<Finding>) {
        self.end();
        out.append(&mut self.failed);
    }
}

/// Is the head UTF-16 text? `Some(true)` little-endian, `Some(false)` big-endian.
pub fn utf16_kind(head: &[u8]) -> Option<bool> {
    if head.starts_with(&[0xff, 0xfe]) && !head.starts_with(&[0xff, 0xfe, 0, 0]) {
        return Some(true);
    }
    if head.starts_with(&[0xfe, 0xff]) {
        return Some(false);
    }
    if head.len() < 64 {
        return None;
    }
    // quick reject: UTF-16 text of ASCII has a zero in every other one of the first bytes
    if !(head[..16].iter().step_by(2).all(|&b| b == 0)
        || head[1..16].iter().step_by(2).all(|&b| b == 0))
    {
        return None;
    }
    let n = head.len() / 2;
    let (mut le, mut be) = (0usize, 0usize);
    for p in head.chunks_exact(2) {
        let ok =
            |b: u8| b.is_ascii_graphic() || b == b' ' || b == b'\n' || b == b'\r' || b == b'\t';
        if p[1] == 0 && ok(p[0]) {
            le += 1;
        }
        if p[0] == 0 && ok(p[1]) {
            be += 1;
        }
    }
    if le * 10 >= n * 9 {
        Some(true)
    } else if be * 10 >= n * 9 {
        Some(false)
    } else {
        None
    }
}

/// UTF-16 text decoded to one byte per code unit (ASCII kept, anything else `?`), so the
/// decoded offset of a match is its code-unit index.
pub struct Utf16 {
    le: bool,
    child: Option<FileScan>,
    carry: Option<u8>,
    bom: bool,
    seen: u64,
    failed: Option<Finding>,
    out: Vec<u8>,
}

impl Utf16 {
    pub fn new(nest: Nest, le: bool, head: &[u8]) -> Utf16 {
        let bom = head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]);
        let (child, failed) = match nest.child("utf-16", None) {
            Ok(c) => (Some(c), None),
            Err(f) => (None, Some(*f)),
        };
        Utf16 {
            le,
            child,
            carry: None,
            bom,
            seen: 0,
            failed,
            out: Vec::new(),
        }
    }

    fn unit(&mut self, a: u8, b: u8) {
        let u = if self.le {
            u16::from_le_bytes([a, b])
        } else {
            u16::from_be_bytes([a, b])
        };
        if self.bom && self.seen == 0 {
            self.seen += 1;
            return;
        }
        self.seen += 1;
        self.out.push(if u < 0x80 { u as u8 } else { b'?' });
    }
}

impl Layer for Utf16 {
    fn format(&self) -> &'static str {
        "utf-16"
    }

    fn raw_is_text(&self) -> bool {
        true
    }

    fn update(&mut self, data: &[u8], _out: &mut Vec<Finding>) {
        if self.child.is_none() {
            return;
        }
        let mut d = data;
        if let Some(a) = self.carry.take() {
            if let Some((&b, rest)) = d.split_first() {
                self.unit(a, b);
                d = rest;
            } else {
                self.carry = Some(a);
                return;
            }
        }
        let mut it = d.chunks_exact(2);
        for p in &mut it {
            self.unit(p[0], p[1]);
        }
        if let [a] = it.remainder() {
            self.carry = Some(*a);
        }
        if let Some(c) = self.child.as_mut() {
            c.update(&self.out);
        }
        self.out.clear();
    }

    fn finish(self: Box<Self>, out: &mut Vec<Finding>) {
        if let Some(c) = self.child {
            out.extend(c.finish());
        }
        out.extend(self.failed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(inner_name("a/b/c.txt.gz", &[(".gz", "")]), "c.txt");
        assert_eq!(
            inner_name("a/x.tgz", &[(".tgz", ".tar"), (".gz", "")]),
            "x.tar"
        );
        assert_eq!(inner_name("a.zip!in/blob", &[(".gz", "")]), "data");
    }

    #[test]
    fn utf16_detect() {
        let t: Vec<u8> = "hello world, this is some text in utf-16 little endian!!"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(utf16_kind(&t), Some(true));
        let be: Vec<u8> = "hello world, this is some text in utf-16 big endian!!!!!"
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        assert_eq!(utf16_kind(&be), Some(false));
        assert_eq!(
            utf16_kind(b"plain ascii text that is long enough to be judged as such, ok"),
            None
        );
        assert_eq!(utf16_kind(&[0u8; 128]), None);
    }
}
