//! Parquet: the file is held for random access (a Parquet file's index is its footer, at the
//! end), the footer read by the `parquet` crate, then every page of every column chunk walked
//! by our own reader: decompressed within the page limit, in parallel, its bytes (or its
//! rebuilt values) scanned by the text rules, and each finding moved to the row it lies in.
//! Every byte no page claims (page headers, page indexes, bloom filters, gaps) and the
//! footer itself are text-scanned as they are.
//!
//! Why not the crate's `SerializedPageReader`: it reserves each page's declared size before
//! reading it and inflates gzip and brotli pages to their end whatever the header says, so a
//! small page can expand without bound; its codecs and page-header parser are not public.

mod encoding;
mod footer;
mod pages;
mod rows;
mod thrift;

use super::cell::rewrite as to_cell;
use super::source::{Source, Spool, SpoolError};
use super::{corrupt, scan_raw, uninspectable, Coverage, RAW_FALLBACK};
use crate::inspect::nested::{Layer, Nest};
use crate::inspect::Finding;
use footer::{Chunk, Layout, RowGroup};
use pages::{Decoded, PageRef};
use rayon::prelude::*;
use rows::{Loc, Pending};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// Largest page (after decompression) decoded; a larger one is refused.
pub const MAX_PAGE: u64 = 128 << 20;

const FORMAT: &str = "parquet";

/// The Parquet layer: holds the streamed file, reads it at the end.
pub struct ParquetLayer {
    nest: Nest,
    spool: Spool,
    found: Vec<Finding>,
    coverage: Coverage,
}

impl ParquetLayer {
    pub fn new(nest: Nest) -> ParquetLayer {
        ParquetLayer {
            nest,
            spool: Spool::default(),
            found: Vec::new(),
            coverage: Coverage::new(FORMAT),
        }
    }
}

impl Layer for ParquetLayer {
    fn format(&self) -> &'static str {
        FORMAT
    }

    fn update(&mut self, data: &[u8], _out: &mut Vec<Finding>) {
        let max = self.nest.limits().max_spool_bytes;
        let why = match self.spool.push(data, max) {
            Ok(()) => return,
            Err(SpoolError::Over(m)) => format!(
                "larger than inspect.limits.max_spool_bytes ({m}), the most held to read its \
                 footer (raise the limit to inspect it; it needs that much temporary disk)"
            ),
            Err(SpoolError::Io(e)) => format!("cannot be held in a temporary file ({e})"),
        };
        let f = uninspectable(&self.nest.path, "Parquet file", why);
        self.coverage.refused(&f);
        self.found.push(f);
    }

    fn finish(mut self: Box<Self>, out: &mut Vec<Finding>) {
        let spool = std::mem::take(&mut self.spool);
        let mut found = Vec::new();
        if let Some(c) = spool.with_source(|src| inspect(&self.nest, src, &mut found)) {
            self.coverage = c;
        }
        self.coverage.record(self.nest.engine.coverage());
        out.append(&mut self.found);
        self.nest.keep(found, out);
    }
}

/// Shared state of one file's reading.
struct Ctx<'a> {
    nest: &'a Nest,
    src: &'a dyn Source,
    decoded: AtomicU64,
    encoded: AtomicU64,
    pages: AtomicU64,
    /// A budget tripped: no more pages are decoded.
    stop: AtomicBool,
    refused: Mutex<Vec<Finding>>,
}

impl Ctx<'_> {
    fn refuse(&self, f: Finding) {
        if let Ok(mut r) = self.refused.lock() {
            r.push(f);
        }
    }
}

/// Inspect the Parquet file in `src` (the file at `nest.path`); findings go to `out`.
pub fn inspect(nest: &Nest, src: &dyn Source, out: &mut Vec<Finding>) -> Coverage {
    let mut cov = Coverage::new(FORMAT);
    let path = nest.path.as_str();
    let layout = match footer::read(src) {
        Ok(l) => l,
        Err(e) => {
            let f = if e.encrypted() {
                uninspectable(
                    path,
                    "encrypted Parquet file",
                    format!("{e}; its pages cannot be read without the keys"),
                )
            } else if matches!(
                e,
                footer::FooterError::NoTail | footer::FooterError::Short(_)
            ) {
                corrupt(path, "not a Parquet file after all", &e)
            } else {
                uninspectable(
                    path,
                    "Parquet file",
                    format!("{e}, so its pages cannot be found"),
                )
            };
            cov.refused(&f);
            out.push(f);
            if !e.encrypted() {
                raw_fallback(nest, src, &mut cov, out);
            }
            return cov;
        }
    };
    let ctx = Ctx {
        nest,
        src,
        decoded: AtomicU64::new(0),
        encoded: AtomicU64::new(0),
        pages: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        refused: Mutex::new(Vec::new()),
    };
    // the footer holds key-value metadata (e.g. Hugging Face dataset info) and statistics
    let _ = scan_raw(
        nest,
        src,
        &format!("{path}!footer"),
        layout.footer_start,
        layout.footer_start + layout.footer_len,
        out,
    );
    let jobs: Vec<(usize, usize)> = layout
        .row_groups
        .iter()
        .enumerate()
        .flat_map(|(r, rg)| (0..rg.chunks.len()).map(move |c| (r, c)))
        .collect();
    let results: Vec<ChunkOut> = jobs
        .par_iter()
        .map(|&(r, c)| chunk(&ctx, &layout, r, &layout.row_groups[r].chunks[c]))
        .collect();
    let mut covered = vec![(0u64, 4u64), (layout.footer_start, src.len())];
    for (f, c) in results {
        nest.keep(f, out);
        covered.extend(c);
    }
    gaps(nest, src, covered, out);
    if let Ok(r) = ctx.refused.lock() {
        for f in r.iter() {
            cov.refused(f);
        }
        out.extend(r.iter().cloned());
    }
    cov.groups = layout.row_groups.len() as u64;
    cov.columns = jobs.len() as u64;
    cov.pages = ctx.pages.load(Ordering::Relaxed);
    cov.bytes_decoded = ctx.decoded.load(Ordering::Relaxed);
    cov
}

/// A file that does not read as Parquet: its bytes are text-scanned, up to [`RAW_FALLBACK`].
fn raw_fallback(nest: &Nest, src: &dyn Source, cov: &mut Coverage, out: &mut Vec<Finding>) {
    let end = src.len().min(RAW_FALLBACK);
    if scan_raw(nest, src, &nest.path, 0, end, out).is_err() || src.len() > end {
        let f = uninspectable(&nest.path, "Parquet file", format!("only its first {RAW_FALLBACK} bytes are text-scanned when it cannot be read as Parquet"));
        cov.refused(&f);
        out.push(f);
    }
}

/// Text-scan every byte range that no page and no footer covers.
fn gaps(nest: &Nest, src: &dyn Source, mut covered: Vec<(u64, u64)>, out: &mut Vec<Finding>) {
    covered.sort_unstable();
    let path = format!("{}!meta", nest.path);
    let mut at = 0u64;
    for (s, e) in covered {
        if s > at {
            let _ = scan_raw(nest, src, &path, at, s.min(src.len()), out);
        }
        at = at.max(e);
    }
}

/// A column chunk's findings and the byte ranges its pages cover.
type ChunkOut = (Vec<Finding>, Vec<(u64, u64)>);

/// What one page yielded.
#[derive(Default)]
struct PageOut {
    pending: Vec<Pending>,
    /// Findings already final (the page header's bytes, a page scanned raw).
    done: Vec<Finding>,
    rows: u64,
}

/// Inspect one column chunk; returns its findings and the byte ranges its pages cover.
fn chunk(ctx: &Ctx<'_>, layout: &Layout, r: usize, c: &Chunk) -> ChunkOut {
    let rg = &layout.row_groups[r];
    let col = format!("{}!rg{r}/col:{}", ctx.nest.path, c.name);
    let mut out = Vec::new();
    if let Some(p) = &c.external {
        ctx.refuse(uninspectable(
            &col,
            "Parquet column chunk",
            format!("its data lies in another file ({p})"),
        ));
        return (out, Vec::new());
    }
    let end = c.start.checked_add(c.len);
    if c.start < 4 || end.is_none_or(|e| e > layout.footer_start) {
        ctx.refuse(uninspectable(
            &col,
            "Parquet column chunk",
            "its byte range lies outside the file's data",
        ));
        return (out, Vec::new());
    }
    if c.codec == super::codec::Codec::Lzo {
        // no page of it can be decoded: refused once, its stored bytes text-scanned
        let why = "its pages are compressed with LZO, which airgate does not decode";
        ctx.refuse(uninspectable(&col, "Parquet column chunk", why));
        let _ = scan_raw(ctx.nest, ctx.src, &col, c.start, c.start + c.len, &mut out);
        return (out, vec![(c.start, c.start + c.len)]);
    }
    let (pages, stop) = pages::walk(ctx.src, c);
    let outs: Vec<PageOut> = pages.par_iter().map(|p| page(ctx, c, &col, p)).collect();
    let mut covered: Vec<(u64, u64)> = pages.iter().map(|p| (p.at, p.end())).collect();
    if let Some(s) = stop {
        out.push(corrupt(
            &col,
            "Parquet column chunk",
            format!("{} at offset {}", s.why, s.at),
        ));
        let _ = scan_raw(ctx.nest, ctx.src, &col, s.at, c.start + c.len, &mut out);
        covered.push((s.at, c.start + c.len));
    }
    // rows before each page, within the chunk
    let mut firsts = Vec::with_capacity(outs.len());
    let mut first = 0u64;
    for o in &outs {
        firsts.push(first);
        first += o.rows;
    }
    let mut dict_hits: BTreeMap<u32, Vec<Pending>> = BTreeMap::new();
    for ((p, o), first) in pages.iter().zip(outs).zip(&firsts) {
        out.extend(o.done);
        for pend in o.pending {
            match pend.loc {
                Loc::Row { local, cell } => {
                    let row = rg.first_row as i64 + *first as i64 + local;
                    if row >= rg.first_row as i64 {
                        out.push(to_cell(pend.f, &col, &format!("row:{row}"), Some(cell)));
                    } else {
                        out.push(to_cell(pend.f, &col, &format!("page:{}", p.index), None));
                    }
                }
                Loc::Dict { entry, .. } => dict_hits.entry(entry).or_default().push(pend),
                Loc::Page => out.push(to_cell(pend.f, &col, &format!("page:{}", p.index), None)),
            }
        }
    }
    if !dict_hits.is_empty() {
        let used = dictionary_rows(ctx, c, rg, &pages, &firsts, &dict_hits);
        for (entry, hits) in dict_hits {
            let (first_row, n) = used.get(&entry).copied().unwrap_or((None, 0));
            for pend in hits {
                let Loc::Dict { cell, .. } = pend.loc else {
                    continue;
                };
                let mut f = match first_row {
                    Some(row) => to_cell(pend.f, &col, &format!("row:{row}"), Some(cell)),
                    None => to_cell(pend.f, &col, &format!("dict:{entry}"), Some(cell)),
                };
                f.message = match first_row {
                    Some(row) => {
                        let rows = if n == 1 {
                            "1 row".to_string()
                        } else {
                            format!("{n} rows")
                        };
                        format!(
                            "{} (a dictionary value held by {rows}; the first is row {row})",
                            f.message
                        )
                    }
                    None => format!(
                        "{} (dictionary entry {entry}, which no row uses)",
                        f.message
                    ),
                };
                out.push(f);
            }
        }
    }
    (out, covered)
}

thread_local! {
    /// Per worker: the buffers of the last page read and decoded.
    static SCRATCH: std::cell::Cell<(Vec<u8>, Vec<u8>)> = const { std::cell::Cell::new((Vec::new(), Vec::new())) };
}

/// Read, decode and scan one page.
fn page(ctx: &Ctx<'_>, c: &Chunk, col: &str, p: &PageRef) -> PageOut {
    let mut o = PageOut::default();
    if ctx.stop.load(Ordering::Relaxed) {
        return o;
    }
    let stored = p.h.compressed as u64;
    let declared = p.h.uncompressed as u64;
    if stored > MAX_PAGE || declared > MAX_PAGE {
        // not held, not decoded: refused, its stored bytes text-scanned where they lie
        let why = format!(
            "page {} at offset {} stores {stored} bytes and declares {declared}, more than the {MAX_PAGE} a page may take",
            p.index, p.at
        );
        ctx.refuse(uninspectable(col, "Parquet page", why));
        let page_path = format!("{col}/page:{}", p.index);
        let start = p.at + p.header_len;
        let _ = scan_raw(ctx.nest, ctx.src, &page_path, start, p.end(), &mut o.done);
        return o;
    }
    // this worker's buffers from the last page (reused: no allocation or zeroing per page)
    let (mut raw, spare) = SCRATCH.take();
    let n = (p.end() - p.at) as usize;
    if raw.len() < n {
        raw.resize(n, 0);
    }
    raw.truncate(n);
    if let Err(e) = ctx.src.read_at(p.at, &mut raw) {
        ctx.refuse(uninspectable(
            col,
            "Parquet page",
            format!("cannot be read back ({e})"),
        ));
        return o;
    }
    let text = &ctx.nest.engine.context().text;
    // page headers may carry statistics (min/max values): text-scanned as they are
    let meta = format!("{}!meta", ctx.nest.path);
    text.scan_text(
        &meta,
        Some(p.at),
        &raw[..p.header_len as usize],
        &mut o.done,
    );
    if p.h.kind == thrift::INDEX_PAGE {
        text.scan_text(
            &meta,
            Some(p.at + p.header_len),
            &raw[p.header_len as usize..],
            &mut o.done,
        );
        return o;
    }
    let d = match pages::decode(c, p, &raw, MAX_PAGE, spare) {
        Ok(d) => d,
        Err(e) => {
            let f = match &e {
                pages::PageError::Codec(super::codec::CodecError::Unsupported(_))
                | pages::PageError::TooLarge(..)
                | pages::PageError::UnknownEncoding(_) => {
                    let f = uninspectable(
                        col,
                        "Parquet page",
                        format!("page {} at offset {}: {e}", p.index, p.at),
                    );
                    ctx.refuse(f.clone());
                    None
                }
                _ => Some(corrupt(
                    col,
                    "Parquet page",
                    format!("page {} at offset {} does not decode: {e}", p.index, p.at),
                )),
            };
            o.done.extend(f);
            // its rows still count, as far as the header tells them
            o.rows = match (p.h.v1, p.h.v2) {
                (_, Some(v2)) => v2.num_rows as u64,
                (Some(v1), None) if c.max_rep == 0 => v1.num_values as u64,
                _ => 0,
            };
            // the stored bytes (literals survive some codecs) get the text rules
            let page_path = format!("{col}/page:{}", p.index);
            text.scan_text(
                &page_path,
                Some(0),
                &raw[p.header_len as usize..],
                &mut o.done,
            );
            return o;
        }
    };
    let n = d.data.len() as u64
        + d.levels.len() as u64
        + d.rebuilt.as_ref().map_or(0, |r| r.bytes.len() as u64);
    let decoded = ctx.decoded.fetch_add(n, Ordering::Relaxed) + n;
    let encoded = ctx
        .encoded
        .fetch_add(p.h.compressed as u64, Ordering::Relaxed)
        + p.h.compressed as u64;
    ctx.pages.fetch_add(1, Ordering::Relaxed);
    if let Err(f) = ctx.nest.count_expanded(n, decoded, encoded) {
        if !ctx.stop.swap(true, Ordering::Relaxed) {
            ctx.refuse(*f);
        }
        return o;
    }
    let mut found = Vec::new();
    // read as text (cells hold text, UTF-8 included); offsets count from the page's start
    text.scan_text(col, None, d.scanned(), &mut found);
    o.pending = rows::locate(c, &d, col, found);
    o.rows = d.rows;
    SCRATCH.set((raw, d.data));
    o
}

/// For dictionary entries with findings: the first row holding each and how many do.
fn dictionary_rows(
    ctx: &Ctx<'_>,
    c: &Chunk,
    rg: &RowGroup,
    pages: &[PageRef],
    firsts: &[u64],
    hits: &BTreeMap<u32, Vec<Pending>>,
) -> BTreeMap<u32, (Option<u64>, u64)> {
    let mut used: BTreeMap<u32, (Option<u64>, u64)> = BTreeMap::new();
    for (p, first) in pages.iter().zip(firsts) {
        if p.h.kind != thrift::DATA_PAGE && p.h.kind != thrift::DATA_PAGE_V2 {
            continue;
        }
        let mut raw = vec![0u8; (p.end() - p.at) as usize];
        if ctx.src.read_at(p.at, &mut raw).is_err() {
            continue;
        }
        let Ok(d) = pages::decode(c, p, &raw, MAX_PAGE, Vec::new()) else {
            continue;
        };
        if d.encoding != encoding::RLE_DICTIONARY && d.encoding != encoding::PLAIN_DICTIONARY {
            continue;
        }
        let _ = index_rows(c, &d, |index, local| {
            let Ok(e) = u32::try_from(index) else { return };
            if hits.contains_key(&e) {
                let row = rg.first_row + first + local.max(0) as u64;
                let slot = used.entry(e).or_insert((None, 0));
                slot.0.get_or_insert(row);
                slot.1 += 1;
            }
        });
    }
    used
}

/// Call `f(index, local row)` for each dictionary index of a data page.
fn index_rows(
    c: &Chunk,
    d: &Decoded,
    mut f: impl FnMut(u64, i64),
) -> Result<(), encoding::EncodingError> {
    if d.num_values > encoding::MAX_VALUES {
        return Err(encoding::EncodingError::TooMany(d.num_values));
    }
    let width = *d
        .data
        .get(d.values_from)
        .ok_or(encoding::EncodingError::Eof)?;
    let mut idx = encoding::Levels::hybrid(&d.data[d.values_from + 1..], width, d.num_values)?;
    let mut def = match &d.def {
        Some(s) => Some(d.level_iter(s, c.max_def)?),
        None => None,
    };
    let mut rep = match &d.rep {
        Some(s) => Some(d.level_iter(s, c.max_rep)?),
        None => None,
    };
    let mut row = -1i64;
    for _ in 0..d.num_values {
        let r = match rep.as_mut() {
            Some(l) => l.next_value()?.unwrap_or(0),
            None => 0,
        };
        let dl = match def.as_mut() {
            Some(l) => l.next_value()?.unwrap_or(0),
            None => u64::from(c.max_def),
        };
        if r == 0 {
            row += 1;
        }
        if dl == u64::from(c.max_def) {
            match idx.next_value()? {
                Some(i) => f(i, row),
                None => break,
            }
        }
    }
    Ok(())
}

/// The file ranges of every page's compressed data (data page v2: without the levels stored
/// in front of it), in file order. For tools: the bench's floor decompresses exactly these
/// bytes with `zstd -d`.
pub fn page_data(src: &dyn Source) -> Result<Vec<(u64, u64)>, String> {
    let layout = footer::read(src).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for rg in &layout.row_groups {
        for c in &rg.chunks {
            let (pages, stop) = pages::walk(src, c);
            if let Some(s) = stop {
                return Err(format!("{} at offset {}", s.why, s.at));
            }
            for p in pages {
                let levels = p.h.v2.map_or(0, |v| (v.rep_len + v.def_len) as u64);
                let start = p.at + p.header_len + levels;
                out.push((start, p.end() - start));
            }
        }
    }
    Ok(out)
}
