//! Zip members: the archive is held (in memory up to 64 MiB, then in an anonymous temporary
//! file, never past `max_spool_bytes`) because the central directory is at the end; at the
//! end of the file each member is streamed into a child scan. Nothing is extracted to disk.

use super::{clean_name, Layer, Nest, RATIO_GRACE};
use crate::inspect::models::onnx;
use crate::inspect::{Category, Finding, Severity};
use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};

/// Bytes held in memory before spilling to a temporary file.
const IN_MEMORY: usize = 64 << 20;
/// Most bytes of a broken zip that are text-scanned as plain bytes.
const RAW_FALLBACK: usize = 256 << 20;
/// Read size when streaming a member.
const READ_BUF: usize = 256 << 10;

enum Spool {
    Mem(Vec<u8>),
    File(std::fs::File, u64),
    Over,
    Failed,
}

/// The zip layer.
pub struct ZipLayer {
    nest: Nest,
    spool: Spool,
    found: Vec<Finding>,
}

impl ZipLayer {
    pub fn new(nest: Nest) -> ZipLayer {
        ZipLayer {
            nest,
            spool: Spool::Mem(Vec::new()),
            found: Vec::new(),
        }
    }

    fn members<R: Read + Seek>(&mut self, mut reader: R, out: &mut Vec<Finding>) {
        let mut ar = match zip::ZipArchive::new(&mut reader) {
            Ok(a) => a,
            Err(e) => {
                out.push(self.nest.finding(
                    "archive.corrupt",
                    Category::Format,
                    Severity::Medium,
                    format!("starts like a zip archive but cannot be read as one ({e}): scanned as plain bytes"),
                ));
                self.scan_raw(reader, out);
                return;
            }
        };
        let mut buf = vec![0u8; READ_BUF];
        // Regular members (cleaned name → size), for the ONNX external-data check; it runs
        // only when every member was listed.
        let from = out.len();
        let mut members = BTreeMap::new();
        let mut listed_all = true;
        for i in 0..ar.len() {
            if let Some(f) = self.refused_member(&mut ar, i) {
                listed_all = false;
                out.push(f);
                continue;
            }
            let mut m = match ar.by_index(i) {
                Ok(m) => m,
                Err(e) => {
                    listed_all = false;
                    out.push(self.nest.finding(
                        "archive.member-unreadable",
                        Category::Format,
                        Severity::High,
                        format!(
                            "zip member #{i} cannot be read ({e}): not inspected, so not passed"
                        ),
                    ));
                    continue;
                }
            };
            if m.is_dir() {
                continue;
            }
            let name = clean_name(m.name_raw());
            members.insert(name.clone(), m.size());
            if let Err(f) = self.nest.count_member() {
                out.push(*f);
                return;
            }
            let declared = m.size();
            let compressed = m.compressed_size();
            let mut child = match self.nest.child(&name, Some(declared)) {
                Ok(c) => c,
                Err(f) => {
                    out.push(*f);
                    continue;
                }
            };
            let mut decoded: u64 = 0;
            loop {
                let n = match m.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        out.push(self.nest.finding(
                            "archive.member-unreadable",
                            Category::Format,
                            Severity::High,
                            format!("zip member {name} does not decode ({e}): the rest is not inspected"),
                        ));
                        break;
                    }
                };
                decoded += n as u64;
                let ratio_base = if decoded > RATIO_GRACE {
                    compressed
                } else {
                    u64::MAX
                };
                if let Err(f) = self.nest.count_expanded(n as u64, decoded, ratio_base) {
                    out.push(*f);
                    self.nest.keep(child.finish(), out);
                    return;
                }
                child.update(&buf[..n]);
            }
            self.nest.keep(child.finish(), out);
        }
        if listed_all {
            onnx::check_members(out, from, &self.nest.path, |n| members.get(n).copied());
        }
    }
}

impl ZipLayer {
    /// `archive.uninspectable` for member `i` if it is encrypted or compressed in a method
    /// airgate does not decode (read from its header alone, without decoding it).
    fn refused_member<R: Read + Seek>(
        &self,
        ar: &mut zip::ZipArchive<R>,
        i: usize,
    ) -> Option<Finding> {
        use zip::CompressionMethod as M;
        let m = ar.by_index_raw(i).ok()?;
        if m.is_dir() {
            return None;
        }
        let name = clean_name(m.name_raw());
        let method = m.compression();
        let path = format!("{}!{name}", self.nest.path);
        let refuse = |format: &str, why: String| {
            super::refusal(
                &path,
                format,
                self.nest.engine.refusal_severity(format),
                why,
            )
        };
        // method 99 is WinZip AES: encrypted whatever the flag says
        #[allow(deprecated)] // to_u16 is the only stable way to name method 99 without aes-crypto
        let code = method.to_u16();
        if m.encrypted() || code == 99 {
            return Some(refuse(
                "zip-encrypted",
                "encrypted zip member: its contents cannot be inspected without the \
                 password, so it is not passed"
                    .into(),
            ));
        }
        match method {
            M::Stored | M::Deflated | M::Deflate64 | M::Bzip2 | M::Zstd | M::Lzma => None,
            other => Some(refuse(
                "zip-method",
                format!(
                    "zip member compressed with {other:?}, a method airgate does not decode \
                     (it decodes stored, deflate, deflate64, bzip2, zstd and LZMA): not \
                     inspected, so not passed"
                ),
            )),
        }
    }

    /// Not a zip after all: run the text rules over the held bytes, so a file that merely
    /// starts with `PK` hides nothing.
    fn scan_raw<R: Read + Seek>(&self, mut reader: R, out: &mut Vec<Finding>) {
        let mut all = Vec::new();
        let limit = RAW_FALLBACK as u64;
        if reader.rewind().is_err() || reader.take(limit + 1).read_to_end(&mut all).is_err() {
            out.push(self.nest.finding(
                "archive.spool-failed",
                Category::Format,
                Severity::High,
                "cannot read back the held bytes of a file that is not a readable zip: not inspected, so not passed".into(),
            ));
            return;
        }
        if all.len() as u64 > limit {
            all.truncate(RAW_FALLBACK);
            out.push(self.nest.finding(
                "archive.too-large-to-open",
                Category::Format,
                Severity::High,
                format!(
                    "a file that starts like a zip archive but is not one is text-scanned only \
                     to {} MiB: the rest is not inspected, so it is not passed",
                    RAW_FALLBACK >> 20
                ),
            ));
        }
        self.nest
            .engine
            .context()
            .text
            .scan_text(&self.nest.path, Some(0), &all, out);
    }
}

impl Layer for ZipLayer {
    fn format(&self) -> &'static str {
        "zip"
    }

    fn update(&mut self, data: &[u8], _out: &mut Vec<Finding>) {
        let max = self.nest.limits().max_spool_bytes;
        match &mut self.spool {
            Spool::Mem(v) => {
                if (v.len() + data.len()) as u64 > max {
                    self.spool = Spool::Over;
                } else if v.len() + data.len() > IN_MEMORY {
                    let spilled = tempfile::tempfile().and_then(|mut f| {
                        f.write_all(v)?;
                        f.write_all(data)?;
                        Ok(f)
                    });
                    self.spool = match spilled {
                        Ok(f) => Spool::File(f, (v.len() + data.len()) as u64),
                        Err(e) => {
                            self.found.push(self.nest.finding(
                                "archive.spool-failed",
                                Category::Format,
                                Severity::High,
                                format!("cannot hold the zip archive in a temporary file ({e}): members not inspected, so not passed"),
                            ));
                            Spool::Failed
                        }
                    };
                } else {
                    v.extend_from_slice(data);
                }
            }
            Spool::File(f, n) => {
                if *n + data.len() as u64 > max {
                    self.spool = Spool::Over;
                } else if let Err(e) = f.write_all(data) {
                    self.found.push(self.nest.finding(
                        "archive.spool-failed",
                        Category::Format,
                        Severity::High,
                        format!("cannot write the zip archive to a temporary file ({e}): members not inspected, so not passed"),
                    ));
                    self.spool = Spool::Failed;
                } else {
                    *n += data.len() as u64;
                }
            }
            Spool::Over | Spool::Failed => {}
        }
    }

    fn finish(mut self: Box<Self>, out: &mut Vec<Finding>) {
        let spool = std::mem::replace(&mut self.spool, Spool::Failed);
        let mut found = Vec::new();
        match spool {
            Spool::Mem(v) => self.members(std::io::Cursor::new(v), &mut found),
            Spool::File(mut f, _) => match f.rewind() {
                Ok(()) => self.members(std::io::BufReader::new(f), &mut found),
                Err(e) => found.push(self.nest.finding(
                    "archive.spool-failed",
                    Category::Format,
                    Severity::High,
                    format!("cannot read back the spooled zip archive ({e}): members not inspected, so not passed"),
                )),
            },
            Spool::Over => found.push(self.nest.finding(
                "archive.too-large-to-open",
                Category::Format,
                Severity::High,
                format!(
                    "zip archive larger than inspect.limits.max_spool_bytes ({}): members not inspected, so not passed (raise the limit to inspect it; it needs that much temporary disk)",
                    self.nest.limits().max_spool_bytes
                ),
            )),
            Spool::Failed => {}
        }
        out.append(&mut self.found);
        out.append(&mut found);
    }
}
