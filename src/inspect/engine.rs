//! The inspection engine: sniffs each file, opens the inspectors that apply and feeds them
//! the file's chunks as they stream past. Containers and encodings (gzip, zstd, bzip2, tar,
//! zip, UTF-16) are opened as nested layers whose decoded members are scanned by the same
//! engine, one level deeper, within [`NestLimits`].

use super::coverage::Coverage;
use super::nested::{self, Budget, Layer, Nest, NestLimits};
use super::text::TEXT_INSPECTOR;
use super::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity, SNIFF_LEN,
};

/// Inspectors that open nearly every file: a file is not counted under their name.
const GENERIC: &[&str] = &[
    TEXT_INSPECTOR,
    "opaque-container",
    "refused",
    "model-config",
];

/// Raw bytes of a layered file held for the text rules in case its layer breaks.
const RAW_HOLD: usize = 1 << 20;
use std::sync::Arc;

/// A set of inspectors plus the context they share. Cheap to clone.
#[derive(Clone, Default)]
pub struct Engine {
    inspectors: Arc<Vec<Box<dyn Inspector>>>,
    ctx: ScanContext,
    limits: Arc<NestLimits>,
    /// Whether containers and encodings are opened.
    nested: bool,
    /// What this run read (see [`Engine::counting`]).
    coverage: Arc<Coverage>,
    /// Severity of `archive.uninspectable` per refused format, where the policy sets one.
    refusals: Arc<std::collections::BTreeMap<String, Severity>>,
}

impl Engine {
    /// An engine running `inspectors` with `ctx`.
    pub fn new(inspectors: Vec<Box<dyn Inspector>>, ctx: ScanContext) -> Engine {
        Engine {
            inspectors: Arc::new(inspectors),
            ctx,
            limits: Arc::new(NestLimits::default()),
            nested: false,
            coverage: Arc::default(),
            refusals: Arc::default(),
        }
    }

    /// The same engine, with the policy's severities for refused formats
    /// (`[inspect.uninspectable]`).
    pub fn with_refusals(mut self, levels: std::collections::BTreeMap<String, Severity>) -> Engine {
        self.refusals = Arc::new(levels);
        self
    }

    /// The severity of `archive.uninspectable` for the refused format `name`.
    pub fn refusal_severity(&self, name: &str) -> Severity {
        self.refusals.get(name).copied().unwrap_or(Severity::High)
    }

    /// The same engine with a fresh coverage counter: call once per run (a `scan`, a
    /// `verify`), then read [`coverage`](Self::coverage) for the report.
    pub fn counting(&self) -> Engine {
        Engine {
            coverage: Arc::default(),
            ..self.clone()
        }
    }

    /// What this engine's runs have read so far.
    pub fn coverage(&self) -> &Arc<Coverage> {
        &self.coverage
    }

    /// The same engine, also opening containers and encodings within `limits`.
    pub fn with_nesting(mut self, limits: NestLimits) -> Engine {
        self.limits = Arc::new(limits);
        self.nested = true;
        self
    }

    /// Whether containers and encodings are opened.
    pub fn nests(&self) -> bool {
        self.nested
    }

    /// The nesting limits in force.
    pub fn limits(&self) -> &NestLimits {
        &self.limits
    }

    /// The shared context (text scanner) inspectors use.
    pub fn context(&self) -> &ScanContext {
        &self.ctx
    }

    /// An engine that inspects nothing.
    pub fn none() -> Engine {
        Engine::default()
    }

    /// Names of the inspectors this engine runs.
    pub fn names(&self) -> Vec<&'static str> {
        self.inspectors.iter().map(|i| i.name()).collect()
    }

    /// Start inspecting one file; feed it with [`FileScan::update`], end with [`FileScan::finish`].
    pub fn begin_file(&self, path: &str, size: Option<u64>, depth: u32) -> FileScan {
        let mut scan = self.begin_nested(path, size, depth, Arc::new(Budget::default()));
        scan.root = true;
        scan
    }

    /// Start inspecting a file nested in another, sharing the outer file's `budget`.
    pub fn begin_nested(
        &self,
        path: &str,
        size: Option<u64>,
        depth: u32,
        budget: Arc<Budget>,
    ) -> FileScan {
        FileScan {
            engine: self.clone(),
            path: path.to_string(),
            size,
            depth,
            head: Vec::new(),
            open: None,
            tails: Vec::new(),
            done: Vec::new(),
            layer: None,
            budget,
            skip: Vec::new(),
            raw: Vec::new(),
            raw_all: true,
            raw_text_on: false,
            seen: 0,
            findings: Vec::new(),
            root: false,
            format: "",
        }
    }
}

/// Inspection state of one file in flight.
pub struct FileScan {
    engine: Engine,
    path: String,
    size: Option<u64>,
    depth: u32,
    /// Bytes held back until [`SNIFF_LEN`] are known (or the file ends).
    head: Vec<u8>,
    /// The inspectors that chose this file, once sniffing is done.
    open: Option<Vec<Option<Box<dyn FileInspector>>>>,
    /// Per open inspector: `Some(n)` once it said only the last `n` bytes still matter.
    tails: Vec<Option<u64>>,
    /// Inspectors that said [`Flow::Done`]: finished at the end of the file, so they too
    /// learn the file's true length.
    done: Vec<Box<dyn FileInspector>>,
    /// The container/encoding layer, if the file is one.
    layer: Option<Box<dyn Layer>>,
    budget: Arc<Budget>,
    /// Inspectors not to run on this file (by name).
    skip: Vec<&'static str>,
    /// A layered file's first raw bytes (up to [`RAW_HOLD`]), for the text rules should the
    /// layer break; `raw_all`: every byte so far is held.
    raw: Vec<u8>,
    raw_all: bool,
    /// The text rules were opened on the raw bytes after the layer broke.
    raw_text_on: bool,
    seen: u64,
    findings: Vec<Finding>,
    /// Started by [`Engine::begin_file`]: owns its budget, so it reports the decoded bytes
    /// and what went unread to the coverage counter.
    root: bool,
    /// The format the file sniffed as, for the coverage counter.
    format: &'static str,
}

impl FileScan {
    /// Do not run the inspector called `name` on this file (call before the first update).
    /// Used when another pass (e.g. chunk-parallel text rules) covers it.
    pub fn skip_inspector(&mut self, name: &'static str) {
        self.skip.push(name);
    }

    /// Whether any inspector or layer still wants bytes. False once every one is done (a
    /// caller that only inspects may then stop reading).
    pub fn wants_more(&self) -> bool {
        self.next_wanted().is_some()
    }

    /// The file offset of the next byte anything still wants: the current position, or
    /// further on when every open inspector only wants the file's tail (and its size is
    /// known). `None` when nothing wants more. A reader that can seek may
    /// [`skip_to`](Self::skip_to) this offset.
    pub fn next_wanted(&self) -> Option<u64> {
        let open = match &self.open {
            None => return Some(self.seen),
            Some(_) if self.layer.is_some() => return Some(self.seen),
            Some(open) => open,
        };
        let mut want: Option<u64> = None;
        for (slot, tail) in open.iter().zip(&self.tails) {
            if slot.is_none() {
                continue;
            }
            let from = match (tail, self.size) {
                (Some(n), Some(size)) => size.saturating_sub(*n).max(self.seen),
                _ => self.seen,
            };
            want = Some(want.map_or(from, |w| w.min(from)));
        }
        want
    }

    /// Skip ahead to file offset `to` without feeding the bytes before it. Only allowed up
    /// to [`next_wanted`](Self::next_wanted) (anything else is ignored), so no inspector
    /// misses a byte it asked for.
    pub fn skip_to(&mut self, to: u64) {
        if self.open.is_some() && self.next_wanted().is_some_and(|w| to <= w) && to > self.seen {
            self.seen = to;
        }
    }

    /// Feed the next chunk of the file.
    pub fn update(&mut self, data: &[u8]) {
        if self.open.is_none() {
            let want = SNIFF_LEN - self.head.len();
            if data.len() < want {
                self.head.extend_from_slice(data);
                return;
            }
            if self.head.is_empty() {
                // the first chunk holds the whole head: sniff it there, feed it in one piece
                self.sniff(&data[..SNIFF_LEN]);
                self.feed(data);
                return;
            }
            self.head.extend_from_slice(&data[..want]);
            let head = std::mem::take(&mut self.head);
            self.sniff(&head);
            self.feed(&head);
            self.feed(&data[want..]);
            return;
        }
        self.feed(data);
    }

    /// The whole file in one buffer, in place of [`update`](Self::update) +
    /// [`finish`](Self::finish) on a fresh scan: inspectors may work on `data` in place.
    pub fn whole(mut self, data: &[u8]) -> Vec<Finding> {
        if self.open.is_some() || !self.head.is_empty() {
            self.update(data);
            return self.finish();
        }
        self.sniff(&data[..data.len().min(SNIFF_LEN)]);
        self.seen = data.len() as u64;
        if let Some(layer) = self.layer.as_mut() {
            if !data.is_empty() {
                layer.update(data, &mut self.findings);
                layer.end();
                if layer.failed() {
                    // the inspectors below get the whole file, text rules included
                    self.raw_text_fallback(data, None);
                }
            }
        }
        if let Some(open) = self.open.take() {
            for fi in open.into_iter().flatten() {
                fi.whole(data, &mut self.findings);
            }
        }
        self.collect()
    }

    /// End of the file: collect every inspector's findings.
    pub fn finish(mut self) -> Vec<Finding> {
        if self.open.is_none() {
            let head = std::mem::take(&mut self.head);
            self.sniff(&head);
            self.feed(&head);
        }
        self.collect()
    }

    /// Finish every inspector and the layer, and gather their findings.
    fn collect(mut self) -> Vec<Finding> {
        self.raw_text_at_end();
        let total = self.seen;
        let done = std::mem::take(&mut self.done);
        if let Some(open) = self.open.take() {
            for fi in done.into_iter().chain(open.into_iter().flatten()) {
                fi.finish(total, &mut self.findings);
            }
        }
        if let Some(layer) = self.layer.take() {
            layer.finish(&mut self.findings);
        }
        let coverage = &self.engine.coverage;
        coverage.file(self.format, self.depth, total);
        if self.root {
            coverage.decoded(
                self.budget
                    .expanded
                    .load(std::sync::atomic::Ordering::Relaxed),
            );
            coverage.note_unread(&self.findings);
        }
        // A container model inspector and the engine's own recursion into the same member
        // report the same finding: keep one.
        // (Keyed by location too, so one secret repeated in a file is listed at each place.)
        if self.findings.len() > 1 {
            // (the keys borrow the findings: no copy of a fingerprint per finding)
            let keep: Vec<bool> = {
                let mut seen = std::collections::HashSet::with_capacity(self.findings.len());
                self.findings
                    .iter()
                    .map(|f| seen.insert((f.fingerprint.as_str(), f.offset, f.line)))
                    .collect()
            };
            let mut keep = keep.into_iter();
            // `retain` visits every finding once, in order
            self.findings.retain(|_| keep.next().unwrap_or(true));
            super::supersede::one_fact_one_finding(&mut self.findings);
        }
        self.findings
    }

    /// The layer stopped decoding: the raw bytes go through the text rules, so what
    /// follows a broken header or stream is not left uninspected. `data` is the chunk it
    /// failed in (fed next by the caller); `before`, when held, every byte before it (else
    /// the text rules start at `data`). A no-op once done, or when the engine has no text
    /// rules.
    fn raw_text_fallback(&mut self, data: &[u8], before: Option<&[u8]>) {
        if self.raw_text_on {
            return;
        }
        self.raw_text_on = true;
        let Some(open) = self.open.as_mut() else {
            return;
        };
        let Some(i) = self
            .engine
            .inspectors
            .iter()
            .position(|x| x.name() == TEXT_INSPECTOR)
        else {
            return;
        };
        if open[i].is_some() {
            return; // the raw bytes are text-scanned already
        }
        self.skip.retain(|s| *s != TEXT_INSPECTOR);
        let meta = FileMeta {
            path: &self.path,
            size: self.size,
            depth: self.depth,
        };
        let first = before.filter(|b| !b.is_empty()).unwrap_or(data);
        let head = &first[..first.len().min(SNIFF_LEN)];
        open[i] = self.engine.inspectors[i].open(&meta, head, &self.engine.ctx);
        if let (Some(fi), Some(b)) = (open[i].as_mut(), before.filter(|b| !b.is_empty())) {
            let _ = fi.update(0, b, &mut self.findings);
        }
    }

    /// At the end of a layered file: a stream that broke only at its end (a fake header
    /// swallows bytes without an error until then) is text-scanned from the held raw
    /// bytes, or, past [`RAW_HOLD`], refused as not inspectable.
    fn raw_text_at_end(&mut self) {
        let Some(layer) = self.layer.as_mut() else {
            return;
        };
        layer.end();
        if !layer.failed() || self.raw_text_on {
            return;
        }
        if self.raw_all {
            let raw = std::mem::take(&mut self.raw);
            self.raw_text_fallback(&[], Some(&raw));
        } else {
            self.raw_text_on = true;
            self.findings.push(Finding::new(
                &self.path,
                "archive.undecodable",
                Category::Format,
                Severity::High,
                format!(
                    "the file starts like a compressed stream but does not decode, and is \
                     larger than the {RAW_HOLD} bytes that are then text-scanned instead: its \
                     bytes are not inspected"
                ),
                b"",
            ));
        }
    }

    /// Open the layer and the inspectors that apply, from the file's first bytes.
    fn sniff(&mut self, head: &[u8]) {
        let meta = FileMeta {
            path: &self.path,
            size: self.size,
            depth: self.depth,
        };
        if self.engine.nested {
            let nest = Nest {
                engine: self.engine.clone(),
                path: self.path.clone(),
                depth: self.depth,
                budget: self.budget.clone(),
                format: "",
            };
            self.layer = nested::open(nest, head);
            match &self.layer {
                // UTF-16: the raw bytes are text-scanned too, whoever asked to skip that
                // (no range pass covers a file that sniffs as a container)
                Some(l) if l.raw_is_text() => self.skip.retain(|s| *s != TEXT_INSPECTOR),
                // The decoded members are text-scanned as children; scanning the encoded
                // container bytes too would only repeat (or garble) those findings.
                Some(_) => self.skip.push(TEXT_INSPECTOR),
                None => {}
            }
        }
        let open = self
            .engine
            .inspectors
            .iter()
            .map(|i| {
                if self.skip.contains(&i.name()) {
                    None
                } else {
                    i.open(&meta, head, &self.engine.ctx)
                }
            })
            .collect::<Vec<_>>();
        self.tails = vec![None; open.len()];
        self.format = match &self.layer {
            Some(l) => l.format(),
            None => self
                .engine
                .inspectors
                .iter()
                .zip(&open)
                .find(|(i, o)| o.is_some() && !GENERIC.contains(&i.name()))
                .map(|(i, _)| i.name())
                .unwrap_or(if super::text::looks_text(head) {
                    "text"
                } else {
                    "binary"
                }),
        };
        self.open = Some(open);
    }

    fn feed(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let offset = self.seen;
        self.seen += data.len() as u64;
        if let Some(layer) = self.layer.as_mut() {
            if self.raw_all && !self.raw_text_on && layer.may_fail() {
                if self.raw.len() + data.len() <= RAW_HOLD {
                    self.raw.extend_from_slice(data);
                } else {
                    self.raw_all = false;
                    self.raw = Vec::new();
                }
            }
            layer.update(data, &mut self.findings);
            if layer.failed() && !self.raw_text_on {
                // the held bytes before this chunk first; the loop below feeds this chunk
                let before = self.raw_all.then(|| std::mem::take(&mut self.raw));
                let before = before.as_deref().map(|r| &r[..r.len() - data.len()]);
                self.raw_text_fallback(data, before);
            }
        }
        if let Some(open) = self.open.as_mut() {
            for (slot, tail) in open.iter_mut().zip(self.tails.iter_mut()) {
                if let Some(fi) = slot.as_mut() {
                    match fi.update(offset, data, &mut self.findings) {
                        Flow::Done => self.done.extend(slot.take()),
                        Flow::Tail(n) => *tail = Some(n),
                        Flow::More => *tail = None,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
