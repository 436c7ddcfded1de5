//! Dataset formats: Parquet and Arrow IPC (stream and file forms), recognised by their magic
//! bytes and opened as nested layers whose cell values go through the text rules. Each
//! reader keeps its own bounds (page, buffer and metadata sizes, counts) besides the
//! payload file's nesting budget. JSON Lines, CSV and TSV need no reader: they are text.
//!
//! Findings inside a dataset name the place in the data, not a byte offset of the file:
//! `data.parquet!rg0/col:text/row:12345` (row group, column path, row of the file) and
//! `train.arrow!batch:3/col:text/row:1234` (record batch, column, row of the stream); see
//! docs/formats-datasets.md.

pub mod arrow;
pub mod cell;
pub mod codec;
pub mod parquet;
pub mod source;

use super::engine::Engine;
use super::nested::{Budget, Layer, Nest};
use super::{Category, Finding, Severity};
use source::Source;
use std::os::unix::fs::FileExt;

/// A dataset format found by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `PAR1` (the file must end with `PAR1` too).
    Parquet,
    /// `ARROW1\0\0`: the Arrow IPC file form.
    ArrowFile,
    /// The Arrow IPC stream form: a continuation marker `FF FF FF FF`, then a schema
    /// message (the `datasets` cache's `*.arrow` files).
    ArrowStream,
}

/// Recognise a dataset by its first bytes (at most `SNIFF_LEN`).
pub fn sniff(head: &[u8]) -> Option<Kind> {
    if head.starts_with(b"PAR1") {
        return Some(Kind::Parquet);
    }
    if head.starts_with(b"ARROW1\0\0") {
        return Some(Kind::ArrowFile);
    }
    if arrow::looks_like_stream(head) {
        return Some(Kind::ArrowStream);
    }
    None
}

/// The layer that reads a dataset of `kind`.
pub fn open(nest: Nest, kind: Kind) -> Box<dyn Layer> {
    match kind {
        Kind::Parquet => Box::new(parquet::ParquetLayer::new(nest)),
        Kind::ArrowFile => Box::new(arrow::ArrowLayer::new(nest, true)),
        Kind::ArrowStream => Box::new(arrow::ArrowLayer::new(nest, false)),
    }
}

/// A Parquet file on disk, inspected in place (`scan` of a file: no copy of it is held).
/// `None` for any other file, which goes through the engine as a stream.
pub fn scan_file(
    engine: &Engine,
    shown: &str,
    file: &std::fs::File,
    size: u64,
) -> std::io::Result<Option<(Vec<Finding>, Coverage)>> {
    if !engine.nests() || size < 12 {
        return Ok(None);
    }
    let mut head = [0u8; 4];
    file.read_exact_at(&mut head, 0)?;
    if sniff(&head) != Some(Kind::Parquet) {
        return Ok(None);
    }
    let nest = Nest {
        engine: engine.clone(),
        path: shown.to_string(),
        depth: 0,
        budget: std::sync::Arc::new(Budget::default()),
        format: "parquet",
    };
    let src = source::FileSource { file, len: size };
    let mut out = Vec::new();
    let cov = parquet::inspect(&nest, &src, &mut out);
    // as the engine does for a file's findings: one per value and place
    let mut seen = std::collections::HashSet::new();
    out.retain(|f| seen.insert((f.fingerprint.clone(), f.offset, f.line)));
    // read in place, so the engine did not count it: the file, its pages, what went unread
    let run = engine.coverage();
    run.file("parquet", 0, size);
    cov.record(run);
    run.note_unread(&out);
    Ok(Some((out, cov)))
}

/// What a dataset reader inspected, for the report's coverage figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// `parquet` or `arrow`.
    pub format: &'static str,
    /// Files of this format opened.
    pub files: u64,
    /// Row groups (Parquet) or record and dictionary batches (Arrow).
    pub groups: u64,
    /// Column chunks (Parquet) or buffers (Arrow) read.
    pub columns: u64,
    /// Pages (Parquet) or messages (Arrow) decoded.
    pub pages: u64,
    /// Bytes after decompression (and, for delta-encoded strings, rebuilding).
    pub bytes_decoded: u64,
    /// What was not inspected, and why (one line each).
    pub not_inspected: Vec<String>,
}

impl Coverage {
    /// A coverage record for one file of `format`.
    pub fn new(format: &'static str) -> Coverage {
        Coverage {
            format,
            files: 1,
            ..Coverage::default()
        }
    }

    /// The counts under stable names (`parquet.pages`, ...), for a report's coverage table.
    pub fn counts(&self) -> Vec<(String, u64)> {
        let (g, c, p) = match self.format {
            "parquet" => ("row_groups", "column_chunks", "pages"),
            _ => ("batches", "buffers", "messages"),
        };
        [
            ("files", self.files),
            (g, self.groups),
            (c, self.columns),
            (p, self.pages),
            ("bytes_decoded", self.bytes_decoded),
            ("not_inspected", self.not_inspected.len() as u64),
        ]
        .into_iter()
        .map(|(k, v)| (format!("{}.{k}", self.format), v))
        .collect()
    }

    /// Add this reader's pages (Parquet) or messages (Arrow) and their decoded bytes to the
    /// run's coverage, as members of `parquet-page` / `arrow-message`.
    pub fn record(&self, run: &crate::inspect::coverage::Coverage) {
        let unit = if self.format == "parquet" {
            "parquet-page"
        } else {
            "arrow-message"
        };
        if self.pages > 0 {
            run.add(unit, 0, self.pages, self.bytes_decoded);
        }
        run.decoded(self.bytes_decoded);
    }

    /// Record something that was not inspected, with the finding that says so.
    fn refused(&mut self, f: &Finding) {
        if self.not_inspected.len() < 1000 {
            self.not_inspected
                .push(format!("{}: {}", f.path, f.message));
        }
    }
}

/// Most bytes of a file that fails to open as its format that are text-scanned instead.
pub const RAW_FALLBACK: u64 = 256 << 20;
/// Window of a raw text scan over a range of a source.
const RAW_WINDOW: u64 = 8 << 20;

/// Run the text rules over `src[start..end]` in windows (overlapping by the text rules'
/// reach), as the bytes they are; findings name `path` and carry file offsets.
pub fn scan_raw(
    nest: &Nest,
    src: &dyn Source,
    path: &str,
    start: u64,
    end: u64,
    out: &mut Vec<Finding>,
) -> std::io::Result<()> {
    let text = nest.engine.context().text.clone();
    let overlap = super::text::matcher::OVERLAP as u64;
    let mut buf = Vec::new();
    let mut at = start;
    let from = out.len();
    while at < end {
        let stop = (at + RAW_WINDOW + overlap).min(end);
        buf.resize((stop - at) as usize, 0);
        src.read_at(at, &mut buf)?;
        text.scan_text(path, Some(at), &buf, out);
        if stop == end {
            break;
        }
        at += RAW_WINDOW;
    }
    // a match in an overlap is found by both windows
    let mut seen = std::collections::HashSet::new();
    let mut i = from;
    while i < out.len() {
        if seen.insert((out[i].fingerprint.clone(), out[i].offset)) {
            i += 1;
        } else {
            out.swap_remove(i);
        }
    }
    Ok(())
}

/// A finding that part of a dataset was not inspected (high: a policy cannot pass what was
/// not read).
pub fn uninspectable(path: &str, format: &str, why: impl std::fmt::Display) -> Finding {
    Finding::new(
        path,
        "archive.uninspectable",
        Category::Archive,
        Severity::High,
        format!("{format}: {why}; not inspected, so not passed"),
        format!("{format}: uninspectable").as_bytes(),
    )
}

/// A finding that part of a dataset is damaged; its raw bytes were text-scanned instead.
pub fn corrupt(path: &str, format: &str, why: impl std::fmt::Display) -> Finding {
    Finding::new(
        path,
        "archive.corrupt",
        Category::Format,
        Severity::Medium,
        format!("{format}: {why}; its raw bytes are text-scanned instead"),
        format!("{format}: corrupt").as_bytes(),
    )
}
