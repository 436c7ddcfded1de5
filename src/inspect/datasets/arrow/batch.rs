//! One record batch (or dictionary batch) of an Arrow IPC message: each buffer read from the
//! held body, decompressed when the body is compressed (an i64 length in front, -1 for a
//! buffer stored as is), scanned by the text rules, and each finding moved to the row (or
//! dictionary entry) its value belongs to.

use super::flatbuf::{i64_at, FlatError, Table};
use super::schema::{buffer_roles, ty, Role, Schema};
use crate::inspect::datasets::cell::{rewrite, scanned_offset, uncovered, Apart};
use crate::inspect::datasets::codec::{self, Codec};
use crate::inspect::datasets::source::Source;
use crate::inspect::datasets::{corrupt, scan_raw, uninspectable};
use crate::inspect::nested::Nest;
use crate::inspect::Finding;

/// Largest buffer decompressed (or read whole when stored as is).
pub const MAX_BUFFER: u64 = 128 << 20;

/// Where a batch's findings go and how its rows are counted.
pub struct Batch<'a> {
    pub nest: &'a Nest,
    /// `train.arrow!batch:3` or `train.arrow!dictionary:0`.
    pub base: String,
    /// Rows of the stream before this batch (record batches) or entries before it
    /// (dictionary deltas).
    pub row_base: u64,
    /// Name elements `entry:N` (dictionary batch) rather than `row:N`.
    pub dictionary: bool,
    pub schema: &'a Schema,
    /// The metadata version is V5 or later (unions without a validity buffer).
    pub v5: bool,
}

/// What a batch yielded.
#[derive(Debug, Default)]
pub struct BatchOut {
    pub findings: Vec<Finding>,
    /// Rows in the batch.
    pub rows: u64,
    pub buffers: u64,
    pub decoded: u64,
    /// A finding that stops the whole file (a budget tripped).
    pub stop: bool,
}

struct Buf {
    offset: u64,
    len: u64,
}

impl Batch<'_> {
    fn col(&self, node: Option<usize>, index: usize) -> String {
        match node.and_then(|n| self.schema.nodes.get(n)) {
            Some(n) => format!("{}/col:{}", self.base, n.path),
            None => format!("{}/buffer:{index}", self.base),
        }
    }

    /// Read buffer `b` from `body`, decompressed (`None` past the limits, with why in `out`).
    fn fetch(
        &self,
        body: &dyn Source,
        b: &Buf,
        codec: Option<Codec>,
        path: &str,
        out: &mut BatchOut,
    ) -> Option<Vec<u8>> {
        if codec.is_none() && b.len > MAX_BUFFER {
            return None;
        }
        let mut raw = vec![0u8; usize::try_from(b.len.min(MAX_BUFFER + 8)).ok()?];
        if let Err(e) = body.read_at(b.offset, &mut raw) {
            out.findings.push(corrupt(
                path,
                "Arrow buffer",
                format!("cannot be read ({e})"),
            ));
            return None;
        }
        let Some(codec) = codec else {
            return Some(raw);
        };
        let (head, rest) = raw.split_at(8.min(raw.len()));
        let ulen = i64_at(head, 0).unwrap_or(-2);
        if ulen == -1 {
            return Some(rest.to_vec());
        }
        let ulen = match u64::try_from(ulen) {
            Ok(n) if n <= MAX_BUFFER => n,
            Ok(n) => {
                out.findings.push(uninspectable(path, "Arrow buffer", format!("it decompresses to {n} bytes, more than the {MAX_BUFFER} decoded per buffer")));
                return None;
            }
            Err(_) => {
                out.findings.push(corrupt(
                    path,
                    "Arrow buffer",
                    "its uncompressed length is not valid",
                ));
                return None;
            }
        };
        if b.len > MAX_BUFFER + 8 {
            out.findings.push(uninspectable(
                path,
                "Arrow buffer",
                "its compressed form is larger than the limit",
            ));
            return None;
        }
        let mut dec = Vec::new();
        match codec::decompress(codec, rest, ulen as usize, &mut dec) {
            Ok(()) => Some(dec),
            Err(e) => {
                out.findings.push(corrupt(path, "Arrow buffer", e));
                None
            }
        }
    }

    /// Inspect the `RecordBatch` table `rb` whose body is `body`.
    pub fn run(&self, rb: &Table<'_>, body: &dyn Source) -> Result<BatchOut, FlatError> {
        let mut out = BatchOut::default();
        let rows = rb.i64(0, 0)?;
        out.rows = u64::try_from(rows).unwrap_or(0);
        let nodes = rb.vector(1, 16)?.map_or(0, |v| v.len);
        let bufs: Vec<Buf> = match rb.vector(2, 16)? {
            Some(v) => (0..v.len)
                .map(|i| {
                    let it = v.item(i, 16);
                    Buf {
                        offset: u64::try_from(i64_at(it, 0).unwrap_or(-1)).unwrap_or(u64::MAX),
                        len: u64::try_from(i64_at(it, 8).unwrap_or(-1)).unwrap_or(u64::MAX),
                    }
                })
                .collect(),
            None => Vec::new(),
        };
        let codec = match rb.table(3)? {
            Some(c) => match c.u8(0, 0)? {
                0 => Some(Codec::Lz4Frame),
                1 => Some(Codec::Zstd),
                other => {
                    out.findings.push(uninspectable(&self.base, "Arrow record batch", format!("its buffers are compressed with codec {other}, which airgate does not know")));
                    return Ok(out);
                }
            },
            None => None,
        };
        let variadic: Vec<i64> = match rb.vector(4, 8)? {
            Some(v) => (0..v.len)
                .map(|i| i64_at(v.item(i, 8), 0).unwrap_or(0))
                .collect(),
            None => Vec::new(),
        };
        let mut roles = buffer_roles(self.schema, &variadic, self.v5, bufs.len());
        if roles.len() != bufs.len() || nodes != self.schema.nodes.len() {
            out.findings.push(corrupt(
                &self.base,
                "Arrow record batch",
                format!(
                    "{} buffers and {nodes} nodes where the schema gives {} and {}: values are not matched to columns",
                    bufs.len(),
                    roles.len(),
                    self.schema.nodes.len()
                ),
            ));
            roles.clear();
        }
        let body_len = body.len();
        for (i, b) in bufs.iter().enumerate() {
            let (node, role) = match roles.get(i) {
                Some(&(n, r)) => (Some(n), r),
                None => (None, Role::Other),
            };
            let path = self.col(node, i);
            if b.offset.checked_add(b.len).is_none_or(|e| e > body_len) {
                let why = format!("buffer {i} lies outside its message body");
                out.findings.push(corrupt(&path, "Arrow buffer", why));
                continue;
            }
            if b.len == 0 || matches!(role, Role::Variadic(_)) {
                // a view field's data buffers are read with its views
                continue;
            }
            out.buffers += 1;
            let Some(data) = self.load(body, &bufs, i, codec, &path, &mut out) else {
                if out.stop {
                    return Ok(out);
                }
                if codec.is_none() {
                    // stored as is but too large to hold: scanned in windows, values unnamed
                    let (s, e) = (b.offset, b.offset + b.len);
                    let _ = scan_raw(self.nest, body, &path, s, e, &mut out.findings);
                }
                continue;
            };
            let values = match (node, role) {
                (Some(n), Role::Data) => self.strings(n, &data, &bufs, &roles, body, codec),
                (Some(n), Role::Views) => {
                    self.views(n, i, &data, &bufs, &roles, body, codec, &mut out)
                }
                (Some(_), Role::Values(w)) if w > 0 => {
                    let ranges: Vec<_> =
                        (0..data.len() / w).map(|j| (j * w, (j + 1) * w)).collect();
                    Some((Apart::gather(&data, &ranges), Vec::new()))
                }
                _ => None,
            };
            let text = &self.nest.engine.context().text;
            let Some((apart, hidden)) = values else {
                // validity bits, offsets, numbers: scanned as the bytes they are
                let mut found = Vec::new();
                text.scan_text(&path, Some(0), &data, &mut found);
                let seg = format!("buffer:{i}");
                out.findings
                    .extend(found.into_iter().map(|f| rewrite(f, &path, &seg, None)));
                continue;
            };
            // bytes of the buffer that no value covers: nothing reads them, but they are there
            for (s, e) in hidden {
                let mut found = Vec::new();
                text.scan_text(&path, Some(s as u64), &data[s..e], &mut found);
                let seg = format!("buffer:{i}");
                out.findings
                    .extend(found.into_iter().map(|f| rewrite(f, &path, &seg, None)));
            }
            let mut found = Vec::new();
            // read as text (cells hold text, UTF-8 included); offsets count from its start
            text.scan_text(&path, None, &apart.bytes, &mut found);
            for f in found {
                let place = scanned_offset(&f, &path).and_then(|o| apart.value_at(o));
                let row = place.and_then(|(j, _)| {
                    node.and_then(|n| self.row_of(n, j as u64, &bufs, &roles, body, codec))
                });
                let f = match (place, row) {
                    (Some((_, cell)), Some(row)) => {
                        let seg = if self.dictionary { "entry" } else { "row" };
                        rewrite(
                            f,
                            &path,
                            &format!("{seg}:{}", self.row_base + row),
                            Some(cell),
                        )
                    }
                    (Some((j, cell)), None) => rewrite(f, &path, &format!("value:{j}"), Some(cell)),
                    _ => rewrite(f, &path, &format!("buffer:{i}"), None),
                };
                out.findings.push(f);
            }
        }
        Ok(out)
    }

    /// Buffer `k`, decompressed and counted against the budget.
    fn load(
        &self,
        body: &dyn Source,
        bufs: &[Buf],
        k: usize,
        codec: Option<Codec>,
        path: &str,
        out: &mut BatchOut,
    ) -> Option<Vec<u8>> {
        let b = bufs.get(k)?;
        let data = self.fetch(body, b, codec, path, out)?;
        out.decoded += data.len() as u64;
        if codec.is_some() {
            if let Err(f) = self
                .nest
                .count_expanded(data.len() as u64, data.len() as u64, b.len)
            {
                out.findings.push(*f);
                out.stop = true;
                return None;
            }
        }
        Some(data)
    }

    /// The strings of a variable-length field, apart, from its offsets; and the bytes of
    /// `data` no string covers.
    fn strings(
        &self,
        n: usize,
        data: &[u8],
        bufs: &[Buf],
        roles: &[(usize, Role)],
        body: &dyn Source,
        codec: Option<Codec>,
    ) -> Option<(Apart, Vec<(usize, usize)>)> {
        let k = roles
            .iter()
            .position(|&(m, r)| m == n && matches!(r, Role::Offsets(_)))?;
        let large = matches!(roles[k].1, Role::Offsets(true));
        let mut scratch = BatchOut::default();
        let offs = self.fetch(body, bufs.get(k)?, codec, "", &mut scratch)?;
        let w = if large { 8 } else { 4 };
        let count = offs.len() / w;
        let mut ranges = Vec::with_capacity(count.saturating_sub(1));
        let mut last = offset_at(&offs, large, 0)?;
        for j in 1..count {
            let next = offset_at(&offs, large, j)?;
            if next < last || next > data.len() {
                return None;
            }
            ranges.push((last, next));
            last = next;
        }
        let hidden = uncovered(data.len(), &ranges);
        Some((Apart::gather(data, &ranges), hidden))
    }

    /// The strings of a view field (inline in the views, or in its data buffers), apart;
    /// the data buffers' bytes no view covers are scanned here too.
    #[allow(clippy::too_many_arguments)]
    fn views(
        &self,
        n: usize,
        i: usize,
        views: &[u8],
        bufs: &[Buf],
        roles: &[(usize, Role)],
        body: &dyn Source,
        codec: Option<Codec>,
        out: &mut BatchOut,
    ) -> Option<(Apart, Vec<(usize, usize)>)> {
        let mut data: Vec<Vec<u8>> = Vec::new();
        for (k, &(m, r)) in roles.iter().enumerate().skip(i + 1) {
            if m != n || !matches!(r, Role::Variadic(_)) {
                break;
            }
            let path = self.col(Some(n), k);
            data.push(
                self.load(body, bufs, k, codec, &path, out)
                    .unwrap_or_default(),
            );
        }
        let mut apart = Apart::default();
        let mut covered: Vec<Vec<(usize, usize)>> = vec![Vec::new(); data.len()];
        for v in views.chunks_exact(16) {
            let len = usize::try_from(i32::from_le_bytes(v[0..4].try_into().ok()?)).unwrap_or(0);
            if len <= 12 {
                apart.push([&v[4..4 + len], &[]]);
                continue;
            }
            let b = usize::try_from(i32::from_le_bytes(v[8..12].try_into().ok()?)).ok();
            let off = usize::try_from(i32::from_le_bytes(v[12..16].try_into().ok()?)).ok();
            if apart.bytes.len() as u64 + len as u64 > MAX_BUFFER {
                let why = format!(
                    "its views address more than the {MAX_BUFFER} bytes gathered per buffer"
                );
                out.findings
                    .push(uninspectable(&self.col(Some(n), i), "Arrow buffer", why));
                break;
            }
            let value = b.zip(off).and_then(|(b, off)| {
                let s = data.get(b)?.get(off..off.checked_add(len)?)?;
                covered[b].push((off, off + len));
                Some(s)
            });
            apart.push([value.unwrap_or(&[]), &[]]);
        }
        let text = &self.nest.engine.context().text;
        for (k, (d, c)) in data.iter().zip(&covered).enumerate() {
            let path = self.col(Some(n), i + 1 + k);
            for (s, e) in uncovered(d.len(), c) {
                let mut found = Vec::new();
                text.scan_text(&path, Some(s as u64), &d[s..e], &mut found);
                let seg = format!("buffer:{}", i + 1 + k);
                out.findings
                    .extend(found.into_iter().map(|f| rewrite(f, &path, &seg, None)));
            }
        }
        Some((apart, Vec::new()))
    }

    /// The top-level row of element `i` of node `n`, through its parents.
    fn row_of(
        &self,
        n: usize,
        i: u64,
        bufs: &[Buf],
        roles: &[(usize, Role)],
        body: &dyn Source,
        codec: Option<Codec>,
    ) -> Option<u64> {
        let mut node = n;
        let mut i = i;
        let mut scratch = BatchOut::default();
        while let Some(p) = self.schema.nodes.get(node)?.parent {
            let pn = self.schema.nodes.get(p)?;
            i = match pn.ty {
                ty::STRUCT => i,
                ty::FIXED_SIZE_LIST => i / (pn.width.max(1) as u64),
                ty::LIST | ty::MAP | ty::LARGE_LIST => {
                    let k = roles
                        .iter()
                        .position(|&(m, r)| m == p && matches!(r, Role::Offsets(_)))?;
                    let large = matches!(roles[k].1, Role::Offsets(true));
                    let offs = self.fetch(body, bufs.get(k)?, codec, "", &mut scratch)?;
                    offset_index(&offs, large, usize::try_from(i).ok()?)? as u64
                }
                ty::UNION if !pn.dense => i,
                _ => return None,
            };
            node = p;
        }
        Some(i)
    }
}

fn offset_at(offs: &[u8], large: bool, i: usize) -> Option<usize> {
    if large {
        let b = offs.get(i * 8..i * 8 + 8)?;
        usize::try_from(i64::from_le_bytes(b.try_into().ok()?)).ok()
    } else {
        let b = offs.get(i * 4..i * 4 + 4)?;
        usize::try_from(i32::from_le_bytes(b.try_into().ok()?)).ok()
    }
}

/// The element `i` whose range `offs[i]..offs[i+1]` holds position `o`.
fn offset_index(offs: &[u8], large: bool, o: usize) -> Option<usize> {
    let w = if large { 8 } else { 4 };
    let n = offs.len() / w;
    if n < 2 {
        return None;
    }
    // offsets never decrease: the last start at or before `o`
    let (mut lo, mut hi) = (0usize, n - 1);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if offset_at(offs, large, mid)? <= o {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let i = lo.min(n - 2);
    (offset_at(offs, large, i)? <= o && o < offset_at(offs, large, i + 1)?).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_element_of_an_offset() {
        let offs: Vec<u8> = [0i32, 5, 5, 12, 20]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(offset_index(&offs, false, 0), Some(0));
        assert_eq!(offset_index(&offs, false, 4), Some(0));
        assert_eq!(offset_index(&offs, false, 5), Some(2), "element 1 is empty");
        assert_eq!(offset_index(&offs, false, 19), Some(3));
        assert_eq!(offset_index(&offs, false, 20), None);
        let large: Vec<u8> = [0i64, 3, 9].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(offset_index(&large, true, 3), Some(1));
    }
}
