//! Seeing through encodings: gzip/zstd/bz2/xz/lzma/lz4 single files, tar, zip, ar (deb),
//! cpio and RPM members, UTF-16 text. The format readers themselves live in
//! `inspect::formats`; `members` puts them behind this module's [`Layer`] trait.
//! Each is a [`Layer`] that decodes a file's bytes as they stream past and feeds the result
//! to a child [`FileScan`] (path `outer!inner`), within the policy's nesting limits.
//! Nothing is ever written to a path taken from a member name.

pub mod members;
pub mod refused;
pub mod stream;
pub mod tar;
pub mod zip;

use super::engine::{Engine, FileScan};
use super::formats;
use super::{Category, Finding, Severity};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use crate::policy::inspect::NestLimits;

/// Decoded bytes below which the ratio limit does not apply.
pub const RATIO_GRACE: u64 = 16 << 20;

/// What one payload file may still expand to; shared by every layer under it.
#[derive(Debug, Default)]
pub struct Budget {
    /// Decoded bytes so far, across every layer of the file.
    pub expanded: AtomicU64,
    /// Archive members opened so far, across every layer (limit `max_members`).
    pub members: AtomicU64,
    /// Findings handed up from nested scans (a finding is counted at each level it passes).
    pub findings: AtomicU64,
    /// The findings limit was passed and reported.
    pub findings_over: std::sync::atomic::AtomicBool,
}

/// A decoder between a file's bytes and a child scan.
pub trait Layer: Send {
    /// The format's short name, as counted in the report's coverage (`gzip`, `tar`, `deb`).
    fn format(&self) -> &'static str {
        "container"
    }
    /// The next encoded bytes.
    fn update(&mut self, data: &[u8], out: &mut Vec<Finding>);
    /// End of the encoded file: finish children and collect their findings.
    fn finish(self: Box<Self>, out: &mut Vec<Finding>);
    /// End of the encoded bytes, before [`finish`](Self::finish): lets a layer find out
    /// whether its stream ended well (see [`failed`](Self::failed)). Idempotent.
    fn end(&mut self) {}
    /// True once the layer gave up decoding: the engine then text-scans the raw bytes, so
    /// what follows a broken header or stream is still inspected.
    fn failed(&self) -> bool {
        false
    }
    /// Whether [`failed`](Self::failed) can ever be true (the engine holds the first raw
    /// bytes only for such layers; zip and tar handle their own broken input).
    fn may_fail(&self) -> bool {
        false
    }
    /// Whether the raw bytes are text-scanned too (UTF-16: a BOM in front of plain ASCII
    /// must not hide it). Containers say no: their members are scanned as children.
    fn raw_is_text(&self) -> bool {
        false
    }
}

/// Everything a layer needs to create children.
#[derive(Clone)]
pub struct Nest {
    /// The engine children are scanned with.
    pub engine: Engine,
    /// This layer's path; members are named `<path>!<member>`.
    pub path: String,
    /// Nesting depth: 0 for a payload file.
    pub depth: u32,
    /// The file's shared budget.
    pub budget: Arc<Budget>,
    /// The layer's format name (set when the layer is opened), named in the findings of a cut
    /// layer.
    pub format: &'static str,
}

impl Nest {
    /// The nested-archive limits from the policy (`[inspect.nested]`).
    pub fn limits(&self) -> &NestLimits {
        self.engine.limits()
    }

    /// A finding about this container.
    pub fn finding(
        &self,
        rule: &str,
        category: Category,
        severity: Severity,
        message: String,
    ) -> Finding {
        Finding::new(
            &self.path,
            rule,
            category,
            severity,
            message,
            rule.as_bytes(),
        )
    }

    /// `archive.uninspectable` (high, never lowered by policy): this layer was cut short by
    /// the budget `limit` (an `inspect.limits` field, or a decoder's own cap).
    pub fn cut(&self, limit: &str, reason: String) -> Finding {
        Finding::new(
            &self.path,
            UNINSPECTABLE,
            Category::Archive,
            Severity::High,
            format!("{} layer cut short by {limit}: {reason}", self.format),
            format!("{}\0{limit}", self.format).as_bytes(),
        )
    }

    /// `archive.uninspectable` for a format or variant airgate does not open (`name` as in
    /// `[inspect.uninspectable]`): high unless the policy sets another severity for it.
    pub fn refuse(&self, name: &str, reason: String) -> Finding {
        refusal(&self.path, name, self.engine.refusal_severity(name), reason)
    }

    /// Start a child scan for `inner` (already sanitised), or explain why not.
    pub fn child(&self, inner: &str, size: Option<u64>) -> Result<FileScan, Box<Finding>> {
        let limits = self.limits();
        if self.depth + 1 > limits.max_depth {
            return Err(Box::new(self.cut(
                "max_depth",
                format!(
                    "nested deeper than {} levels ({inner}): contents not inspected; raise \
                     inspect.limits.max_depth only if this is expected",
                    limits.max_depth
                ),
            )));
        }
        Ok(self.engine.begin_nested(
            &format!("{}!{inner}", self.path),
            size,
            self.depth + 1,
            self.budget.clone(),
        ))
    }

    /// Hand a child's findings `v` up into `out`, within `max_findings`.
    pub fn keep(&self, v: Vec<Finding>, out: &mut Vec<Finding>) {
        let n = v.len() as u64;
        let max = self.limits().max_findings;
        let total = self.budget.findings.fetch_add(n, Ordering::Relaxed) + n;
        if total <= max {
            out.extend(v);
            return;
        }
        if !self.budget.findings_over.swap(true, Ordering::Relaxed) {
            out.push(self.finding(
                "archive.too-many-findings",
                Category::Archive,
                Severity::High,
                format!(
                    "more than {max} findings inside one payload file (inspect.limits.\
                     max_findings): the rest are not listed, so the file is refused"
                ),
            ));
        }
    }

    /// Count one member against the budget.
    pub fn count_member(&self) -> Result<(), Box<Finding>> {
        let n = self.budget.members.fetch_add(1, Ordering::Relaxed) + 1;
        if n > self.limits().max_members {
            return Err(Box::new(self.cut(
                "max_members",
                format!(
                    "more than {} archive members in one payload file: the rest is not inspected",
                    self.limits().max_members
                ),
            )));
        }
        Ok(())
    }

    /// Count `n` decoded bytes; `decoded`/`encoded` are this stream's totals for the ratio.
    pub fn count_expanded(&self, n: u64, decoded: u64, encoded: u64) -> Result<(), Box<Finding>> {
        let limits = self.limits();
        let total = self.budget.expanded.fetch_add(n, Ordering::Relaxed) + n;
        if total > limits.max_expanded_bytes {
            return Err(Box::new(self.cut(
                "max_expanded_bytes",
                format!(
                    "decodes to more than {} bytes: the rest is not inspected (possible \
                     decompression bomb)",
                    limits.max_expanded_bytes
                ),
            )));
        }
        if decoded > RATIO_GRACE && decoded / encoded.max(1) > limits.max_ratio {
            return Err(Box::new(self.cut(
                "max_ratio",
                format!(
                    "decoded/encoded ratio above {}: decompression bomb, the rest is not inspected",
                    limits.max_ratio
                ),
            )));
        }
        Ok(())
    }
}

/// The rule of every finding that says content was not opened or was cut short.
pub const UNINSPECTABLE: &str = "archive.uninspectable";

/// `archive.uninspectable` for the refused format `name` at `path`, at `severity` (the
/// policy's for that format, high by default).
pub fn refusal(path: &str, name: &str, severity: Severity, reason: String) -> Finding {
    Finding::new(
        path,
        UNINSPECTABLE,
        Category::Archive,
        severity,
        format!("{name}: {reason}"),
        name.as_bytes(),
    )
}

/// A member or stream name made safe to print in a path: no control characters, no `!`.
pub fn clean_name(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let s: String = s
        .chars()
        .map(|c| if c.is_control() || c == '!' { '_' } else { c })
        .take(1024)
        .collect();
    let s = s
        .trim_start_matches("./")
        .trim_start_matches('/')
        .to_string();
    if s.is_empty() {
        "_".into()
    } else {
        s
    }
}

/// The container or encoding a file's first bytes announce, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Gzip,
    Zstd,
    Bzip2,
    Xz,
    Lzma,
    Lz4,
    Zip,
    Tar,
    /// An ar archive; `deb`: a Debian package.
    Ar {
        deb: bool,
    },
    Cpio,
    Rpm,
    Utf16 {
        le: bool,
    },
    /// A dataset format (Parquet, Arrow IPC): see [`crate::inspect::datasets`].
    Dataset(crate::inspect::datasets::Kind),
}

/// Recognise a container or encoding by its first bytes (at most `SNIFF_LEN`).
pub fn sniff(head: &[u8]) -> Option<Kind> {
    if let Some(k) = crate::inspect::datasets::sniff(head) {
        return Some(Kind::Dataset(k));
    }
    if head.len() >= 3 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 0x08 {
        return Some(Kind::Gzip);
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Some(Kind::Zstd);
    }
    if head.len() >= 10
        && head.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && head[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
    {
        return Some(Kind::Bzip2);
    }
    if formats::xz::is_xz(head) {
        return Some(Kind::Xz);
    }
    if formats::lz4::sniff(head) {
        return Some(Kind::Lz4);
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Some(Kind::Zip);
    }
    if tar::is_tar(head) {
        return Some(Kind::Tar);
    }
    if let Some(deb) = formats::ar::sniff(head) {
        return Some(Kind::Ar { deb });
    }
    if formats::rpm::sniff(head) {
        return Some(Kind::Rpm);
    }
    if formats::cpio::sniff(head) {
        return Some(Kind::Cpio);
    }
    if formats::xz::lzma_alone(head).is_some() {
        return Some(Kind::Lzma);
    }
    stream::utf16_kind(head).map(|le| Kind::Utf16 { le })
}

/// Choose a layer for a file by its first bytes (at most `SNIFF_LEN`).
pub fn open(mut nest: Nest, head: &[u8]) -> Option<Box<dyn Layer>> {
    use formats::{ar::ArReader, cpio::CpioReader, rpm::RpmReader};
    let kind = sniff(head)?;
    nest.format = match kind {
        Kind::Gzip => "gzip",
        Kind::Zstd => "zstd",
        Kind::Bzip2 => "bzip2",
        Kind::Xz => "xz",
        Kind::Lzma => "lzma",
        Kind::Lz4 => "lz4",
        Kind::Zip => "zip",
        Kind::Tar => "tar",
        Kind::Ar { deb: true } => "deb",
        Kind::Ar { deb: false } => "ar",
        Kind::Cpio => "cpio",
        Kind::Rpm => "rpm",
        Kind::Utf16 { .. } => "utf-16",
        Kind::Dataset(crate::inspect::datasets::Kind::Parquet) => "parquet",
        Kind::Dataset(_) => "arrow",
    };
    Some(match kind {
        Kind::Gzip => stream::Decode::gzip(nest),
        Kind::Zstd => stream::Decode::zstd(nest)?,
        Kind::Bzip2 => stream::Decode::bzip2(nest),
        Kind::Xz => stream::Decode::xz(nest)?,
        Kind::Lzma => stream::Decode::lzma(nest)?,
        Kind::Lz4 => stream::Decode::lz4(nest),
        Kind::Zip => Box::new(zip::ZipLayer::new(nest)),
        Kind::Tar => Box::new(tar::TarLayer::new(nest)),
        Kind::Ar { deb } => Box::new(members::ReaderLayer::new(
            nest,
            Box::new(ArReader::new(deb)),
        )),
        Kind::Cpio => Box::new(members::ReaderLayer::new(nest, Box::new(CpioReader::new()))),
        Kind::Rpm => Box::new(members::ReaderLayer::new(nest, Box::new(RpmReader::new()))),
        Kind::Utf16 { le } => Box::new(stream::Utf16::new(nest, le, head)),
        Kind::Dataset(k) => crate::inspect::datasets::open(nest, k),
    })
}

#[cfg(test)]
mod tests;
