//! GGUF (llama.cpp): header, typed metadata and tensor infos parsed with every length bounded
//! by the bytes left; metadata strings go through the text rules and chat templates through
//! the Jinja injection checks.

use super::config::push_markers;
use super::template::check_template;
use crate::inspect::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
};

/// Metadata + tensor-info region buffered at most.
pub const MAX_HEADER: usize = 64 << 20;
const MAX_KV: u64 = 1 << 20;
const MAX_TENSORS: u64 = 1 << 20;
const MAX_DIMS: u32 = 4;
const MAX_ARRAY_DEPTH: u32 = 4;

/// What the header holds.
#[derive(Clone, Debug, Default)]
pub struct GgufHeader {
    /// GGUF format version (2 or 3).
    pub version: u32,
    /// (key, string value) for every string in the metadata (array elements included).
    pub strings: Vec<(String, String)>,
    /// The tensor table, in file order.
    pub tensors: Vec<TensorInfo>,
    /// Alignment of tensor data in bytes (`general.alignment`, 32 when absent).
    pub alignment: u64,
    /// Offset where tensor data begins.
    pub data_start: u64,
}

/// One tensor info.
#[derive(Clone, Debug)]
pub struct TensorInfo {
    /// Tensor name.
    pub name: String,
    /// Dimensions, innermost first.
    pub dims: Vec<u64>,
    /// GGML element type id.
    pub ggml_type: u32,
    /// Offset of the tensor's data from the start of the data section, in bytes.
    pub offset: u64,
}

/// Why a header did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GgufError {
    /// More bytes are needed (the buffer ended).
    Short,
    /// The header is malformed or over a limit; what is wrong.
    Bad(String),
}

struct R<'a> {
    b: &'a [u8],
    p: usize,
    /// Total file size, when known: lengths must fit in what is left of it.
    total: Option<u64>,
}

impl R<'_> {
    fn take(&mut self, n: u64) -> Result<&[u8], GgufError> {
        if let Some(t) = self.total {
            if (self.p as u64).saturating_add(n) > t {
                return Err(GgufError::Bad(format!(
                    "length {n} at offset {} runs past the end of the file",
                    self.p
                )));
            }
        }
        let n = usize::try_from(n).map_err(|_| GgufError::Bad("length overflows".into()))?;
        let end = self
            .p
            .checked_add(n)
            .ok_or_else(|| GgufError::Bad("length overflows".into()))?;
        if end > self.b.len() {
            return Err(if end > MAX_HEADER {
                GgufError::Bad(format!("metadata exceeds the {MAX_HEADER}-byte limit"))
            } else {
                GgufError::Short
            });
        }
        let s = &self.b[self.p..end];
        self.p = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, GgufError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> Result<u64, GgufError> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }
    fn string(&mut self) -> Result<String, GgufError> {
        let n = self.u64()?;
        let s = self.take(n)?;
        Ok(String::from_utf8_lossy(s).into_owned())
    }
    fn left(&self) -> u64 {
        match self.total {
            Some(t) => t.saturating_sub(self.p as u64),
            None => u64::MAX,
        }
    }
}

fn scalar_size(t: u32) -> Option<u64> {
    Some(match t {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        10..=12 => 8,
        _ => return None,
    })
}

fn value(
    r: &mut R<'_>,
    t: u32,
    key: &str,
    depth: u32,
    h: &mut GgufHeader,
) -> Result<Option<u64>, GgufError> {
    match t {
        8 => {
            let s = r.string()?;
            h.strings.push((key.to_string(), s));
            Ok(None)
        }
        9 => {
            if depth >= MAX_ARRAY_DEPTH {
                return Err(GgufError::Bad(format!(
                    "arrays nested deeper than {MAX_ARRAY_DEPTH} in {key:?}"
                )));
            }
            let et = r.u32()?;
            let n = r.u64()?;
            let min = scalar_size(et).unwrap_or(8);
            // (checked, not saturated: with the file's size unknown, `left` is u64::MAX)
            let bytes = n
                .checked_mul(min)
                .filter(|&b| b <= r.left())
                .ok_or_else(|| {
                    GgufError::Bad(format!(
                        "array {key:?} of {n} elements is larger than the file"
                    ))
                })?;
            if scalar_size(et).is_some() {
                r.take(bytes)?;
            } else if et == 8 || et == 9 {
                for _ in 0..n {
                    value(r, et, key, depth + 1, h)?;
                }
            } else {
                return Err(GgufError::Bad(format!(
                    "array {key:?} has unknown element type {et}"
                )));
            }
            Ok(None)
        }
        _ => {
            let sz = scalar_size(t)
                .ok_or_else(|| GgufError::Bad(format!("key {key:?} has unknown value type {t}")))?;
            let s = r.take(sz)?;
            let mut a = [0u8; 8];
            a[..s.len()].copy_from_slice(s);
            Ok(Some(u64::from_le_bytes(a)))
        }
    }
}

/// Parse the header from `b` (the file's first bytes); `total` bounds every length.
pub fn parse_header(b: &[u8], total: Option<u64>) -> Result<GgufHeader, GgufError> {
    let mut r = R { b, p: 0, total };
    if r.take(4)? != b"GGUF" {
        return Err(GgufError::Bad("bad magic".into()));
    }
    let version = r.u32()?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::Bad(format!(
            "unsupported version {version} (2 and 3 are read)"
        )));
    }
    let (nt, nkv) = (r.u64()?, r.u64()?);
    if nt > MAX_TENSORS || nkv > MAX_KV {
        return Err(GgufError::Bad(format!(
            "{nt} tensors / {nkv} metadata keys exceed the limits"
        )));
    }
    let mut h = GgufHeader {
        version,
        alignment: 32,
        ..Default::default()
    };
    for _ in 0..nkv {
        let key = r.string()?;
        let t = r.u32()?;
        let v = value(&mut r, t, &key, 0, &mut h)?;
        if key == "general.alignment" {
            let a =
                v.ok_or_else(|| GgufError::Bad("general.alignment is not an integer".into()))?;
            if a == 0 || !a.is_power_of_two() {
                return Err(GgufError::Bad(format!(
                    "general.alignment {a} is not a power of two"
                )));
            }
            h.alignment = a;
        }
    }
    for _ in 0..nt {
        let name = r.string()?;
        let nd = r.u32()?;
        if nd == 0 || nd > MAX_DIMS {
            return Err(GgufError::Bad(format!(
                "tensor {name:?} has {nd} dimensions"
            )));
        }
        let mut dims = Vec::new();
        for _ in 0..nd {
            dims.push(r.u64()?);
        }
        let ggml_type = r.u32()?;
        let offset = r.u64()?;
        h.tensors.push(TensorInfo {
            name,
            dims,
            ggml_type,
            offset,
        });
    }
    let p = r.p as u64;
    h.data_start = p.div_ceil(h.alignment).saturating_mul(h.alignment);
    Ok(h)
}

/// (block size in elements, bytes per block) of a ggml tensor type.
fn type_block(t: u32) -> Option<(u64, u64)> {
    Some(match t {
        0 => (1, 4),
        1 | 30 => (1, 2),
        2 => (32, 18),
        3 => (32, 20),
        6 => (32, 22),
        7 => (32, 24),
        8 => (32, 34),
        9 => (32, 36),
        10 => (256, 84),
        11 => (256, 110),
        12 => (256, 144),
        13 => (256, 176),
        14 => (256, 210),
        15 => (256, 292),
        16 => (256, 66),
        17 => (256, 74),
        18 => (256, 98),
        19 => (256, 50),
        20 => (32, 18),
        21 => (256, 110),
        22 => (256, 82),
        23 => (256, 136),
        24 => (1, 1),
        25 => (1, 2),
        26 => (1, 4),
        27 | 28 => (1, 8),
        29 => (256, 56),
        34 => (256, 54),
        35 => (256, 66),
        39 => (32, 17),
        _ => return None,
    })
}

/// Check tensor infos against the data region (`data_len` bytes after `data_start`).
pub fn check_tensors(h: &GgufHeader, data_len: u64) -> Vec<(Severity, String)> {
    let mut out = Vec::new();
    let mut names = std::collections::HashSet::new();
    let mut spans = Vec::new();
    for t in &h.tensors {
        if !names.insert(&t.name) {
            out.push((
                Severity::High,
                format!("tensor name {:?} appears twice", t.name),
            ));
        }
        if t.offset % h.alignment != 0 {
            out.push((
                Severity::High,
                format!(
                    "tensor {:?} offset {} is not aligned to {}",
                    t.name, t.offset, h.alignment
                ),
            ));
        }
        let Some((blk, bytes)) = type_block(t.ggml_type) else {
            out.push((
                Severity::Medium,
                format!(
                    "tensor {:?} has unknown ggml type {}; its size was not checked",
                    t.name, t.ggml_type
                ),
            ));
            continue;
        };
        let n = t.dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
        let size = match n {
            Some(n) if t.dims.first().is_some_and(|d| d % blk == 0) => (n / blk).checked_mul(bytes),
            Some(_) => {
                out.push((
                    Severity::High,
                    format!(
                        "tensor {:?} first dimension is not a multiple of its block size",
                        t.name
                    ),
                ));
                continue;
            }
            None => None,
        };
        match size.and_then(|s| t.offset.checked_add(s).map(|e| (s, e))) {
            Some((_, end)) if end <= data_len => spans.push((t.offset, end, &t.name)),
            Some((s, _)) => out.push((
                Severity::High,
                format!(
                    "tensor {:?} ({} bytes at {}) runs past the end of the file",
                    t.name, s, t.offset
                ),
            )),
            None => out.push((
                Severity::High,
                format!("tensor {:?} size overflows", t.name),
            )),
        }
    }
    spans.sort();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            out.push((
                Severity::High,
                format!("tensors {:?} and {:?} overlap", w[0].2, w[1].2),
            ));
        }
    }
    out
}

/// Streaming GGUF scan: buffers the header region (bounded), then waits for the total size.
pub struct GgufScan {
    path: String,
    ctx: ScanContext,
    size: Option<u64>,
    buf: Vec<u8>,
    next_try: usize,
    header: Option<GgufHeader>,
    failed: bool,
    out: Vec<Finding>,
}

impl GgufScan {
    /// A scan of `path` of `size` bytes (if known).
    pub fn new(path: &str, size: Option<u64>, ctx: ScanContext) -> GgufScan {
        GgufScan {
            path: path.into(),
            ctx,
            size,
            buf: Vec::new(),
            next_try: 4096,
            header: None,
            failed: false,
            out: Vec::new(),
        }
    }

    fn fail(&mut self, msg: String) {
        self.out.push(Finding::new(
            &self.path,
            "gguf.malformed",
            Category::Format,
            Severity::High,
            format!("invalid GGUF file: {msg}"),
            msg.as_bytes(),
        ));
        self.failed = true;
        self.buf = Vec::new();
    }

    fn try_parse(&mut self, at_end: Option<u64>) {
        match parse_header(&self.buf, at_end.or(self.size)) {
            Ok(h) => {
                let mut markers = Vec::new();
                for (k, v) in &h.strings {
                    self.ctx
                        .text
                        .scan_text(&self.path, None, v.as_bytes(), &mut self.out);
                    if k.contains("chat_template") || v.contains("{%") || v.contains("{{") {
                        for m in check_template(v) {
                            if !markers
                                .iter()
                                .any(|x: &super::template::Marker| x.label == m.label)
                            {
                                markers.push(m);
                            }
                        }
                    }
                }
                push_markers(&self.path, &markers, &mut self.out);
                self.header = Some(h);
                self.buf = Vec::new();
            }
            Err(GgufError::Short) if at_end.is_some() => {
                self.fail("file ends inside the header".into())
            }
            Err(GgufError::Short) => self.next_try = self.buf.len().saturating_mul(2),
            Err(GgufError::Bad(m)) => self.fail(m),
        }
    }

    /// Feed bytes.
    pub fn feed(&mut self, data: &[u8]) {
        if self.failed || self.header.is_some() {
            return;
        }
        let room = MAX_HEADER.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&data[..data.len().min(room)]);
        if self.buf.len() >= self.next_try || self.buf.len() >= MAX_HEADER {
            self.try_parse(None);
            if self.header.is_none() && !self.failed && self.buf.len() >= MAX_HEADER {
                self.fail(format!("metadata exceeds the {MAX_HEADER}-byte limit"));
            }
        }
    }

    /// End of file.
    pub fn finish(mut self, total: u64, out: &mut Vec<Finding>) {
        if !self.failed && self.header.is_none() {
            self.try_parse(Some(total));
        }
        if let Some(h) = self.header.take() {
            let data_len = total.saturating_sub(h.data_start);
            if !h.tensors.is_empty() && total < h.data_start {
                self.fail("tensor data region starts past the end of the file".into());
            }
            for (sev, msg) in check_tensors(&h, data_len) {
                out.push(Finding::new(
                    &self.path,
                    "gguf.tensor",
                    Category::Format,
                    sev,
                    format!("GGUF {msg}"),
                    msg.as_bytes(),
                ));
            }
        }
        out.append(&mut self.out);
    }
}

/// GGUF files by magic.
pub struct GgufInspector;

struct GgufFile(GgufScan);

impl Inspector for GgufInspector {
    fn name(&self) -> &'static str {
        "gguf"
    }

    fn open(
        &self,
        meta: &FileMeta<'_>,
        head: &[u8],
        ctx: &ScanContext,
    ) -> Option<Box<dyn FileInspector>> {
        head.starts_with(b"GGUF").then(|| {
            Box::new(GgufFile(GgufScan::new(meta.path, meta.size, ctx.clone())))
                as Box<dyn FileInspector>
        })
    }
}

impl FileInspector for GgufFile {
    fn update(&mut self, _offset: u64, data: &[u8], _out: &mut Vec<Finding>) -> Flow {
        self.0.feed(data);
        Flow::More
    }

    fn finish(self: Box<Self>, total: u64, out: &mut Vec<Finding>) {
        self.0.finish(total, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `gguf` fuzz target: with the file's size unknown, an array of 2^63
    /// 8-byte elements passed the size check (saturated to u64::MAX) and its byte count
    /// overflowed. Now a clear error, with and without a size.
    #[test]
    fn huge_array_with_unknown_size_is_refused() {
        let mut b = b"GGUF".to_vec();
        b.extend_from_slice(&3u32.to_le_bytes()); // version
        b.extend_from_slice(&0u64.to_le_bytes()); // tensors
        b.extend_from_slice(&1u64.to_le_bytes()); // metadata entries
        b.extend_from_slice(&1u64.to_le_bytes()); // key length
        b.push(b'k');
        b.extend_from_slice(&9u32.to_le_bytes()); // array
        b.extend_from_slice(&10u32.to_le_bytes()); // of u64
        b.extend_from_slice(&(1u64 << 62).to_le_bytes()); // 2^62 elements: 2^65 bytes
        b.extend_from_slice(&[0u8; 64]);
        for total in [None, Some(b.len() as u64)] {
            match parse_header(&b, total) {
                Err(GgufError::Bad(e)) => assert!(e.contains("larger than the file"), "{e}"),
                other => panic!("not refused: {other:?}"),
            }
        }
    }
}
