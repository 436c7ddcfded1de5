//! Containers the gate cannot look inside (7z, RAR) and zip archives hidden behind other
//! content (a central directory at the end of a file that does not start as a zip).

use crate::inspect::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
};

const SEVEN_Z: &[u8] = b"7z\xbc\xaf\x27\x1c";
const RAR: &[u8] = b"Rar!\x1a\x07";
/// Bytes of the file's end kept to look for a zip end record.
const TAIL: usize = 22 + 65535;

/// Flags archives whose members cannot be inspected, and zips with leading bytes.
pub struct OpaqueInspector;

struct Tail {
    path: String,
    buf: Vec<u8>,
    /// File offset just past `buf`'s last byte.
    next: u64,
}

impl Inspector for OpaqueInspector {
    fn name(&self) -> &'static str {
        "opaque-container"
    }

    fn open(
        &self,
        meta: &FileMeta<'_>,
        head: &[u8],
        _ctx: &ScanContext,
    ) -> Option<Box<dyn FileInspector>> {
        if head.starts_with(SEVEN_Z) || head.starts_with(RAR) {
            let kind = if head.starts_with(RAR) { "RAR" } else { "7z" };
            return Some(Box::new(Flag {
                path: meta.path.into(),
                kind,
            }));
        }
        if head.starts_with(super::zip::LOCAL) || head.starts_with(super::zip::EOCD) {
            return None;
        }
        Some(Box::new(Tail {
            path: meta.path.into(),
            buf: Vec::new(),
            next: 0,
        }))
    }
}

struct Flag {
    path: String,
    kind: &'static str,
}

impl FileInspector for Flag {
    fn update(&mut self, _: u64, _: &[u8], _: &mut Vec<Finding>) -> Flow {
        Flow::Done
    }

    fn finish(self: Box<Self>, _: u64, out: &mut Vec<Finding>) {
        out.push(Finding::new(
            &self.path,
            "archive.uninspectable",
            Category::Archive,
            Severity::High,
            format!(
                "{} archive: its members cannot be inspected, so it cannot be passed",
                self.kind
            ),
            self.kind.as_bytes(),
        ));
    }
}

impl FileInspector for Tail {
    fn update(&mut self, offset: u64, data: &[u8], _: &mut Vec<Finding>) -> Flow {
        if offset != self.next {
            // the reader skipped ahead: what was kept is not next to what comes now
            self.buf.clear();
        }
        self.next = offset + data.len() as u64;
        if data.len() >= TAIL {
            self.buf.clear();
            self.buf.extend_from_slice(&data[data.len() - TAIL..]);
        } else {
            self.buf.extend_from_slice(data);
            if self.buf.len() > 2 * TAIL {
                let cut = self.buf.len() - TAIL;
                self.buf.drain(..cut);
            }
        }
        Flow::Tail(TAIL as u64)
    }

    fn finish(self: Box<Self>, total: u64, out: &mut Vec<Finding>) {
        let b = &self.buf;
        if b.len() < 22 {
            return;
        }
        let lo = b.len().saturating_sub(TAIL);
        // Candidate end records, last first. memchr's forward searcher is vectorised (its
        // reverse one is not), and this runs on every file that is not a zip.
        let window = &b[lo..b.len() - 18];
        let found: Vec<usize> = memchr::memmem::find_iter(window, super::zip::EOCD).collect();
        for rel in found.into_iter().rev() {
            let i = lo + rel;
            if i + 22 > b.len() {
                continue;
            }
            let comment = usize::from(u16::from_le_bytes([b[i + 20], b[i + 21]]));
            let cd_size = u64::from(u32::from_le_bytes([
                b[i + 12],
                b[i + 13],
                b[i + 14],
                b[i + 15],
            ]));
            let at = total - (b.len() - i) as u64;
            if i + 22 + comment == b.len() && cd_size <= at {
                out.push(Finding::new(&self.path, "zip.leading-bytes", Category::Archive, Severity::High,
                    "a zip archive sits at the end of a file that does not start as a zip: loaders that search for the end record read members that were not inspected",
                    b"").at_offset(at));
                return;
            }
        }
    }
}
