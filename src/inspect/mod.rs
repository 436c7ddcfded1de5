//! Content inspection: every inspector is a small module behind the [`Inspector`] trait,
//! fed the same chunks that `verify` hashes, in one streaming pass.

pub(crate) mod build;
pub(crate) mod coverage;
pub(crate) mod datasets;
pub(crate) mod engine;
pub(crate) mod formats;
pub(crate) mod models;
pub(crate) mod nested;
pub(crate) mod packages;
pub mod parts;
pub(crate) mod pool;
pub(crate) mod scan;
pub(crate) mod supersede;
pub(crate) mod text;

pub use crate::vocab::{fingerprint, redact, Category, Confidence, DataRef, Finding, Severity};
pub use build::{build_engine, build_engine_parts, build_text_scanner, InspectError};
pub use coverage::{Coverage, CoverageReport};
pub use engine::{Engine, FileScan};
pub use models::inspectors as model_inspectors;
pub use scan::{scan_bundle, scan_path, ScanError, ScanOptions, ScanOutput};
pub use text::TextScanner;

use std::sync::Arc;

/// How many leading bytes an inspector sees before deciding whether a file concerns it.
pub const SNIFF_LEN: usize = 4096;

/// Where a file sits and how large it says it is.
#[derive(Clone, Debug)]
pub struct FileMeta<'a> {
    /// Path with nesting joined by `!` (see [`Finding::path`]).
    pub path: &'a str,
    /// Size in bytes, when known in advance.
    pub size: Option<u64>,
    /// 0 for a payload file, +1 for each archive or encoding layer around it.
    pub depth: u32,
}

/// Whether an inspector wants more bytes of the current file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep feeding chunks.
    More,
    /// This inspector has seen enough of this file.
    Done,
    /// Only the file's last `n` bytes still matter to this inspector. A reader that knows
    /// the file's size may skip ahead to them (the next `update` then has a larger offset);
    /// a streaming reader just keeps feeding every chunk.
    Tail(u64),
}

/// Scans text (strings pulled out of a model file, metadata values, config text) with the
/// secret and reachback rules. Model parsers use it so extracted strings are inspected too.
pub trait TextScan: Send + Sync {
    /// Append findings for `text`, located at `path` (and `offset` within the file, if known).
    fn scan_text(&self, path: &str, offset: Option<u64>, text: &[u8], out: &mut Vec<Finding>);
}

/// A [`TextScan`] that finds nothing: for tests of inspectors that do not need it.
#[derive(Debug, Default)]
pub struct NoTextScan;

impl TextScan for NoTextScan {
    fn scan_text(&self, _: &str, _: Option<u64>, _: &[u8], _: &mut Vec<Finding>) {}
}

/// What every inspector can use while it runs.
#[derive(Clone)]
pub struct ScanContext {
    /// The secret/reachback text scanner.
    pub text: Arc<dyn TextScan>,
}

impl Default for ScanContext {
    fn default() -> Self {
        ScanContext {
            text: Arc::new(NoTextScan),
        }
    }
}

/// One kind of content check. Cheap to share between threads; per-file state lives in the
/// [`FileInspector`] it opens.
pub trait Inspector: Send + Sync {
    /// Short stable name, used in logs and reports.
    fn name(&self) -> &'static str;
    /// Look at the file's path and first bytes (at most [`SNIFF_LEN`], fewer if the file is
    /// shorter) and return a per-file scanner if this inspector applies. Decide by content;
    /// the path is only a hint.
    fn open(
        &self,
        meta: &FileMeta<'_>,
        head: &[u8],
        ctx: &ScanContext,
    ) -> Option<Box<dyn FileInspector>>;
}

/// Per-file inspection state. Receives the file's bytes in order, in chunks of any size.
pub trait FileInspector: Send {
    /// `offset` is the position of `data[0]` in the file.
    fn update(&mut self, offset: u64, data: &[u8], out: &mut Vec<Finding>) -> Flow;
    /// End of file: `total` is the whole file's length, also for an inspector that returned
    /// [`Flow::Done`] earlier (it is finished at the end of the file, not when it stopped).
    fn finish(self: Box<Self>, total: u64, out: &mut Vec<Finding>);
    /// The whole file at once, in place of `update` + `finish`: an inspector that would
    /// otherwise copy the chunks into a buffer of its own may work on `data` where it lies.
    /// Must report exactly what `update(0, data)` then `finish(data.len())` reports.
    fn whole(mut self: Box<Self>, data: &[u8], out: &mut Vec<Finding>) {
        // Done, More and Tail all end the same way here: the file ends after `data`.
        let _ = self.update(0, data, out);
        self.finish(data.len() as u64, out);
    }
}
