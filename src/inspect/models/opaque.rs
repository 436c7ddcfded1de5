//! Zip archives hidden behind other content (a central directory at the end of a file that
//! does not start as a zip). Formats airgate does not open at all (7z, RAR, ...) are
//! refused by `inspect::nested::refused`.

use crate::inspect::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
};

/// Bytes of the file's end kept to look for a zip end record.
const TAIL: usize = 22 + 65535;

/// Flags archives whose members cannot be inspected, and zips with leading bytes.
pub struct OpaqueInspector;

/// Looks for a zip end record near the end of the file without holding the file: only
/// from the first `PK\x05\x06` on (the candidates) are bytes kept, and a candidate farther
/// than [`TAIL`] from the end is dropped.
struct Tail {
    path: String,
    /// Bytes from the first live candidate to the end so far (empty: no candidate).
    buf: Vec<u8>,
    /// The last bytes before `next`, for a signature split between chunks.
    carry: Vec<u8>,
    /// File offset just past the last byte seen.
    next: u64,
}

impl Tail {
    /// Keep only what a valid end record could still need: from the first candidate within
    /// the last `TAIL` bytes.
    fn trim(&mut self) {
        if self.buf.len() <= 2 * TAIL {
            return;
        }
        let cut = self.buf.len() - TAIL;
        match memchr::memmem::find(&self.buf[cut..], super::zip::EOCD) {
            Some(p) => {
                self.buf.drain(..cut + p);
            }
            None => self.buf.clear(),
        }
    }
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
        if head.starts_with(super::zip::LOCAL) || head.starts_with(super::zip::EOCD) {
            return None;
        }
        Some(Box::new(Tail {
            path: meta.path.into(),
            buf: Vec::new(),
            carry: Vec::new(),
            next: 0,
        }))
    }
}

impl FileInspector for Tail {
    fn update(&mut self, offset: u64, data: &[u8], _: &mut Vec<Finding>) -> Flow {
        if offset != self.next {
            // the reader skipped ahead: what was kept is not next to what comes now
            self.buf.clear();
            self.carry.clear();
        }
        self.next = offset + data.len() as u64;
        if !self.buf.is_empty() {
            self.buf.extend_from_slice(data);
            self.trim();
        } else {
            // a signature that starts in the carried bytes and ends in this chunk
            let mut joint = [0u8; 6];
            let head = &data[..data.len().min(3)];
            let n = self.carry.len() + head.len();
            joint[..self.carry.len()].copy_from_slice(&self.carry);
            joint[self.carry.len()..n].copy_from_slice(head);
            let split = memchr::memmem::find(&joint[..n], super::zip::EOCD)
                .filter(|&p| p < self.carry.len());
            if let Some(p) = split {
                self.buf.extend_from_slice(&self.carry[p..]);
                self.buf.extend_from_slice(data);
            } else if let Some(p) = memchr::memmem::find(data, super::zip::EOCD) {
                self.buf.extend_from_slice(&data[p..]);
            }
            self.trim();
        }
        let keep = data.len().min(3);
        if keep == 3 {
            self.carry.clear();
        } else {
            let over = (self.carry.len() + keep).saturating_sub(3);
            self.carry.drain(..over);
        }
        self.carry.extend_from_slice(&data[data.len() - keep..]);
        Flow::Tail(TAIL as u64)
    }

    fn whole(mut self: Box<Self>, data: &[u8], out: &mut Vec<Finding>) {
        // only an end record in the last TAIL bytes is ever reported: the bytes before them
        // are not searched (as a reader that honours `Flow::Tail` would skip them)
        let lo = data.len().saturating_sub(TAIL);
        let _ = self.update(lo as u64, &data[lo..], out);
        self.finish(data.len() as u64, out);
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
            let at = total.saturating_sub((b.len() - i) as u64);
            if i + 22 + comment == b.len() && cd_size <= at {
                out.push(Finding::new(&self.path, "zip.leading-bytes", Category::Archive, Severity::High,
                    "a zip archive sits at the end of a file that does not start as a zip: loaders that search for the end record read members that were not inspected",
                    b"").at_offset(at));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(data: &[u8], chunk: usize) -> Vec<Finding> {
        let meta = FileMeta {
            path: "f.bin",
            size: Some(data.len() as u64),
            depth: 0,
        };
        let mut out = Vec::new();
        let Some(mut t) = OpaqueInspector.open(
            &meta,
            &data[..data.len().min(4096)],
            &ScanContext::default(),
        ) else {
            return out;
        };
        let mut off = 0u64;
        for c in data.chunks(chunk.max(1)) {
            t.update(off, c, &mut out);
            off += c.len() as u64;
        }
        t.finish(off, &mut out);
        out
    }

    /// The same file handed over whole (`FileInspector::whole`).
    fn run_whole(data: &[u8]) -> Vec<Finding> {
        let meta = FileMeta {
            path: "f.bin",
            size: Some(data.len() as u64),
            depth: 0,
        };
        let mut out = Vec::new();
        let head = &data[..data.len().min(4096)];
        if let Some(t) = OpaqueInspector.open(&meta, head, &ScanContext::default()) {
            t.whole(data, &mut out);
        }
        out
    }

    #[test]
    fn whole_reports_what_the_chunks_report() {
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for (lead, gap, comment) in [
            (10usize, 0usize, &b"hi"[..]),
            (200_000, 0, b""),
            (10, TAIL - 22, b""),
            (10, TAIL - 21, b""),
            (100_000, 5, b"x"),
        ] {
            let mut d = vec![1u8; lead];
            d.extend_from_slice(&end_record(comment));
            d.extend(std::iter::repeat_n(9u8, gap));
            cases.push(d);
        }
        let mut found = 0;
        for d in &cases {
            let chunked = run(d, 4096);
            let whole = run_whole(d);
            assert_eq!(
                chunked.iter().map(|f| f.offset).collect::<Vec<_>>(),
                whole.iter().map(|f| f.offset).collect::<Vec<_>>(),
                "file of {} bytes",
                d.len()
            );
            found += whole.len();
        }
        // the records that end their file are found (the others' comments do not reach it)
        assert_eq!(found, 2);
    }

    /// A minimal empty zip: just its end record, with a comment.
    fn end_record(comment: &[u8]) -> Vec<u8> {
        let mut r = super::super::zip::EOCD.to_vec();
        r.extend_from_slice(&[0u8; 16]);
        r.extend_from_slice(&(comment.len() as u16).to_le_bytes());
        r.extend_from_slice(comment);
        r
    }

    #[test]
    fn a_zip_at_the_end_is_found_whatever_the_chunking() {
        let mut data: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8 | 1)
            .collect();
        // a stray signature early on is not an end record
        data[1000..1004].copy_from_slice(super::super::zip::EOCD);
        let at = data.len() as u64;
        data.extend_from_slice(&end_record(b"hi"));
        for chunk in [1usize, 2, 3, 5, 21, 22, 4096, 65_536, 1 << 20] {
            let f = run(&data, chunk);
            assert_eq!(f.len(), 1, "chunk {chunk}");
            assert_eq!(f[0].rule, "zip.leading-bytes");
            assert_eq!(f[0].offset, Some(at), "chunk {chunk}");
        }
    }

    #[test]
    fn a_record_whose_comment_does_not_reach_the_end_is_not_a_zip() {
        let mut data = vec![7u8; 100_000];
        data.extend_from_slice(&end_record(b"hi"));
        data.extend_from_slice(b"more bytes after the comment");
        for chunk in [3usize, 4096, 1 << 20] {
            assert!(run(&data, chunk).is_empty(), "chunk {chunk}");
        }
        // and a record too far from the end (beyond any comment length) is dropped
        let mut far = vec![1u8; 10];
        far.extend_from_slice(&end_record(b""));
        far.extend(std::iter::repeat_n(9u8, TAIL + 10));
        assert!(run(&far, 4096).is_empty());
        // (the same record right at the end is found: the inspector did run)
        let mut near = vec![1u8; 10];
        near.extend_from_slice(&end_record(b""));
        assert_eq!(run(&near, 4096).len(), 1);
    }
}
