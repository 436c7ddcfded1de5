//! Seeing through encodings: gzip/zstd/bz2 single files, tar and zip members, UTF-16 text.
//! Each is a [`Layer`] that decodes a file's bytes as they stream past and feeds the result
//! to a child [`FileScan`] (path `outer!inner`), within the policy's nesting limits.
//! Nothing is ever written to a path taken from a member name.

pub mod stream;
pub mod tar;
pub mod zip;

use super::engine::{Engine, FileScan};
use super::{Category, Finding, Severity};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Limits on nested containers and encodings, per payload file (`[inspect.limits]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NestLimits {
    /// Deepest nesting of archives/encodings inspected (a payload file is depth 0).
    pub max_depth: u32,
    /// Most archive members inspected inside one payload file, all levels together.
    pub max_members: u64,
    /// Most decoded bytes produced from one payload file, all levels together.
    pub max_expanded_bytes: u64,
    /// Largest decoded/encoded ratio of one compressed stream or member (past 16 MiB).
    pub max_ratio: u64,
    /// Largest zip archive held (in memory, then a temporary file) to read its members.
    pub max_spool_bytes: u64,
    /// Findings from nested scans held for one payload file (counted at every level they
    /// pass up through): past it the file is refused and the rest dropped, so memory stays
    /// bounded whatever an archive holds.
    pub max_findings: u64,
}

impl Default for NestLimits {
    fn default() -> Self {
        NestLimits {
            max_depth: 5,
            max_members: 100_000,
            max_expanded_bytes: 64 << 30,
            max_ratio: 200,
            max_spool_bytes: 8 << 30,
            max_findings: 250_000,
        }
    }
}

/// Decoded bytes below which the ratio limit does not apply.
pub const RATIO_GRACE: u64 = 16 << 20;

/// What one payload file may still expand to; shared by every layer under it.
#[derive(Debug, Default)]
pub struct Budget {
    pub expanded: AtomicU64,
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
    pub engine: Engine,
    pub path: String,
    pub depth: u32,
    pub budget: Arc<Budget>,
}

impl Nest {
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

    /// Start a child scan for `inner` (already sanitised), or explain why not.
    pub fn child(&self, inner: &str, size: Option<u64>) -> Result<FileScan, Box<Finding>> {
        let limits = self.limits();
        if self.depth + 1 > limits.max_depth {
            return Err(Box::new(self.finding(
                "archive.too-deep",
                Category::Archive,
                Severity::High,
                format!(
                    "nested deeper than {} levels ({inner}): contents not inspected; raise inspect.limits.max_depth only if this is expected",
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
            return Err(Box::new(self.finding(
                "archive.too-many-members",
                Category::Archive,
                Severity::High,
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
            return Err(Box::new(self.finding(
                "archive.too-large",
                Category::Archive,
                Severity::High,
                format!(
                    "decodes to more than {} bytes: the rest is not inspected (possible decompression bomb)",
                    limits.max_expanded_bytes
                ),
            )));
        }
        if decoded > RATIO_GRACE && decoded / encoded.max(1) > limits.max_ratio {
            return Err(Box::new(self.finding(
                "archive.ratio",
                Category::Archive,
                Severity::High,
                format!(
                    "decoded/encoded ratio above {}: decompression bomb, the rest is not inspected",
                    limits.max_ratio
                ),
            )));
        }
        Ok(())
    }
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
    Zip,
    Tar,
    Utf16 { le: bool },
}

/// Recognise a container or encoding by its first bytes (at most `SNIFF_LEN`).
pub fn sniff(head: &[u8]) -> Option<Kind> {
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
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Some(Kind::Zip);
    }
    if tar::is_tar(head) {
        return Some(Kind::Tar);
    }
    stream::utf16_kind(head).map(|le| Kind::Utf16 { le })
}

/// Choose a layer for a file by its first bytes (at most `SNIFF_LEN`).
pub fn open(nest: Nest, head: &[u8]) -> Option<Box<dyn Layer>> {
    Some(match sniff(head)? {
        Kind::Gzip => stream::Decode::gzip(nest),
        Kind::Zstd => stream::Decode::zstd(nest)?,
        Kind::Bzip2 => stream::Decode::bzip2(nest),
        Kind::Zip => Box::new(zip::ZipLayer::new(nest)),
        Kind::Tar => Box::new(tar::TarLayer::new(nest)),
        Kind::Utf16 { le } => Box::new(stream::Utf16::new(nest, le, head)),
    })
}

#[cfg(test)]
mod tests;
