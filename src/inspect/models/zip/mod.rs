//! Zip-based model containers (PyTorch checkpoints, `.npz`, `.keras`): a streaming walk of the
//! local headers that feeds every member through the model inspectors (the relaxed reading a
//! loader like PyTorch's does), then a strict parse of the central directory at the end;
//! disagreements between the two are findings.
//!
//! Double-reporting rule: member findings carry the path `outer!member`, exactly as the engine
//! names recursed members, so a finding produced both here and by engine recursion has the same
//! fingerprint; [`super::dedup`] drops such duplicates.

mod central;
mod fields;

pub(crate) use fields::{u16le, u32le, u64le, zip64_extra};

use super::member::MemberScan;
use crate::inspect::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
};
use flate2::{Crc, Decompress, FlushDecompress, Status};

/// Zips nested deeper than this are not opened again.
pub const MAX_DEPTH: u32 = 4;
/// Members recorded per archive.
const MAX_MEMBERS: usize = 1 << 16;
/// Central directory + end record bytes kept.
const TAIL_CAP: usize = 32 << 20;
/// Decompressed bytes per member fed to inspectors, and the largest expansion ratio.
const MAX_MEMBER_OUT: u64 = 64 << 30;
const MAX_RATIO: u64 = 1000;

pub(crate) const LOCAL: &[u8; 4] = b"PK\x03\x04";
pub(crate) const CENTRAL: &[u8; 4] = b"PK\x01\x02";
pub(crate) const EOCD: &[u8; 4] = b"PK\x05\x06";
const DESCRIPTOR: &[u8; 4] = b"PK\x07\x08";

/// What the local-header walk saw for one member.
#[derive(Clone, Debug)]
pub struct LocalEntry {
    pub offset: u64,
    pub name: String,
    pub flags: u16,
    pub method: u16,
    pub crc: u32,
    pub csize: u64,
    pub usize: u64,
    /// CRC computed over the decompressed data (None: not computed).
    pub crc_seen: Option<u32>,
    pub compressed_seen: u64,
}

enum State {
    /// Expecting a signature.
    Sig,
    /// Inside a member's data.
    Data(Box<Current>),
    /// After a member whose sizes come in a data descriptor.
    Descriptor,
    /// Central directory and beyond: buffered.
    Tail,
}

struct Current {
    entry: LocalEntry,
    remaining: Option<u64>,
    inflate: Option<Decompress>,
    crc: Crc,
    out: u64,
    scan: Option<MemberScan>,
    stopped: bool,
    /// Stored member whose end is marked only by a data descriptor: held-back bytes.
    carry: Vec<u8>,
}

/// Streaming zip scan.
pub struct ZipScan {
    path: String,
    ctx: ScanContext,
    depth: u32,
    pos: u64,
    hdr: Vec<u8>,
    state: State,
    pub(crate) locals: Vec<LocalEntry>,
    tail: Vec<u8>,
    tail_start: u64,
    tail_dropped: bool,
    findings: Vec<Finding>,
    /// Inflate output buffer, kept between calls (a fresh zeroed one per call cost more
    /// than the inflating on archives of many small members).
    out: Vec<u8>,
}

impl ZipScan {
    /// A scan of the zip `path` at nesting `depth`.
    pub fn new(path: &str, ctx: ScanContext, depth: u32) -> ZipScan {
        ZipScan {
            path: path.to_string(),
            ctx,
            depth,
            pos: 0,
            hdr: Vec::new(),
            state: State::Sig,
            locals: Vec::new(),
            tail: Vec::new(),
            tail_start: 0,
            tail_dropped: false,
            out: Vec::new(),
            findings: Vec::new(),
        }
    }

    fn finding(
        &mut self,
        rule: &str,
        cat: Category,
        sev: Severity,
        msg: String,
        key: &[u8],
        at: u64,
    ) {
        self.findings
            .push(Finding::new(&self.path, rule, cat, sev, msg, key).at_offset(at));
    }

    /// Move bytes from `data` into `hdr` until it holds `n`; false if `data` ran out.
    fn need(&mut self, data: &mut &[u8], n: usize) -> bool {
        if self.hdr.len() < n {
            let take = (n - self.hdr.len()).min(data.len());
            self.hdr.extend_from_slice(&data[..take]);
            *data = &data[take..];
            self.pos += take as u64;
        }
        self.hdr.len() >= n
    }

    fn enter_tail(&mut self) {
        self.tail_start = self.pos - self.hdr.len() as u64;
        self.tail = std::mem::take(&mut self.hdr);
        self.state = State::Tail;
    }

    /// Feed the next bytes of the archive.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match &mut self.state {
                State::Tail => {
                    self.tail.extend_from_slice(data);
                    self.pos += data.len() as u64;
                    if self.tail.len() > TAIL_CAP {
                        let drop = self.tail.len() - (1 << 17);
                        self.tail.drain(..drop);
                        self.tail_start += drop as u64;
                        self.tail_dropped = true;
                    }
                    return;
                }
                State::Sig => {
                    if !self.need(&mut data, 4) {
                        return;
                    }
                    let start = self.pos - self.hdr.len() as u64;
                    if self.hdr[..4] == LOCAL[..] {
                        if !self.need(&mut data, 30) {
                            return;
                        }
                        let n = 30
                            + usize::from(u16le(&self.hdr, 26))
                            + usize::from(u16le(&self.hdr, 28));
                        if !self.need(&mut data, n) {
                            return;
                        }
                        self.start_member(start);
                        if let State::Data(c) = &self.state {
                            if c.remaining == Some(0) {
                                self.end_member();
                            }
                        }
                    } else if self.hdr[..4] == CENTRAL[..] || self.hdr[..4] == EOCD[..] {
                        self.enter_tail();
                    } else {
                        let msg = if start == 0 {
                            "bytes before the first zip member: a relaxed reader and a strict one see different archives".to_string()
                        } else {
                            format!("unexpected bytes at offset {start} between zip members: members may be hidden from one reader")
                        };
                        self.finding(
                            "zip.unexpected-bytes",
                            Category::Archive,
                            Severity::High,
                            msg,
                            b"",
                            start,
                        );
                        self.enter_tail();
                    }
                }
                State::Descriptor => {
                    // Optional signature, CRC, then 4- or 8-byte sizes.
                    if !self.need(&mut data, 4) {
                        return;
                    }
                    let has_sig = self.hdr[..4] == DESCRIPTOR[..];
                    let base = if has_sig { 4 } else { 0 };
                    if !self.need(&mut data, base + 12) {
                        return;
                    }
                    let Some(seen) = self.locals.last().map(|l| l.compressed_seen) else {
                        self.state = State::Sig;
                        continue;
                    };
                    // 4-byte sizes, unless the 8-byte (zip64) reading is the one followed by
                    // the next signature.
                    let is_sig = |b: &[u8]| {
                        b.len() >= 4
                            && b[..2] == *b"PK"
                            && matches!((b[2], b[3]), (3, 4) | (1, 2) | (5, 6) | (6, 6))
                    };
                    if !self.need(&mut data, base + 16) {
                        return;
                    }
                    let short_ok = u64::from(u32le(&self.hdr, base + 4)) == seen
                        && is_sig(&self.hdr[base + 12..]);
                    let wide = if short_ok {
                        false
                    } else {
                        if !self.need(&mut data, base + 24) {
                            return;
                        }
                        u64le(&self.hdr, base + 4) == seen && is_sig(&self.hdr[base + 20..])
                    };
                    let crc = u32le(&self.hdr, base);
                    let (used, csize, usize_) = if wide {
                        (
                            base + 20,
                            u64le(&self.hdr, base + 4),
                            u64le(&self.hdr, base + 12),
                        )
                    } else {
                        (
                            base + 12,
                            u64::from(u32le(&self.hdr, base + 4)),
                            u64::from(u32le(&self.hdr, base + 8)),
                        )
                    };
                    let Some(last) = self.locals.last_mut() else {
                        return;
                    };
                    last.crc = crc;
                    last.csize = csize;
                    last.usize = usize_;
                    // Give back any bytes read past the descriptor.
                    let extra: Vec<u8> = self.hdr.split_off(used);
                    self.hdr.clear();
                    self.pos -= extra.len() as u64;
                    self.state = State::Sig;
                    self.check_crc_last();
                    if !extra.is_empty() {
                        self.feed(&extra);
                    }
                }
                State::Data(_) => {
                    let used = self.member_data(data);
                    data = &data[used..];
                    self.pos += used as u64;
                }
            }
        }
    }

    fn start_member(&mut self, start: u64) {
        let h = std::mem::take(&mut self.hdr);
        let flags = u16le(&h, 6);
        let method = u16le(&h, 8);
        let crc = u32le(&h, 14);
        let mut csize = u64::from(u32le(&h, 18));
        let mut usize_ = u64::from(u32le(&h, 22));
        let nlen = usize::from(u16le(&h, 26));
        let name_bytes = h.get(30..30 + nlen).unwrap_or(&[]);
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        let extra = h.get(30 + nlen..).unwrap_or(&[]);
        zip64_extra(extra, &mut [&mut usize_, &mut csize]);
        let entry = LocalEntry {
            offset: start,
            name: name.clone(),
            flags,
            method,
            crc,
            csize,
            usize: usize_,
            crc_seen: None,
            compressed_seen: 0,
        };
        self.check_name(&name, name_bytes, start);
        if flags & 0x61 != 0 {
            let what = if flags & 0x40 != 0 {
                "strong encryption"
            } else if flags & 0x20 != 0 {
                "patched data"
            } else {
                "encryption"
            };
            self.finding("zip.flags", Category::Archive, Severity::High,
                format!("member {name} is marked with {what} (flags 0x{flags:04x}): strict readers refuse it while PyTorch ignores the flag"),
                name.as_bytes(), start);
        }
        let descriptor = flags & 0x08 != 0;
        let remaining = if descriptor && (method == 8 || csize == 0) {
            None
        } else {
            Some(csize)
        };
        if !matches!(method, 0 | 8) {
            self.finding(
                "zip.method",
                Category::Archive,
                Severity::High,
                format!(
                    "member {name} uses compression method {method}, which cannot be inspected"
                ),
                name.as_bytes(),
                start,
            );
        }
        let inspectable = matches!(method, 0 | 8) && self.depth < MAX_DEPTH;
        let scan = inspectable.then(|| {
            MemberScan::new(
                &format!("{}!{}", self.path, name),
                // Sizes in a local header written with a data descriptor are zero.
                (flags & 0x08 == 0).then_some(usize_),
                self.depth + 1,
                self.ctx.clone(),
            )
        });
        let inflate = (method == 8).then(|| Decompress::new(false));
        if self.locals.len() >= MAX_MEMBERS {
            self.finding(
                "zip.too-many-members",
                Category::Archive,
                Severity::High,
                format!("more than {MAX_MEMBERS} members"),
                b"",
                start,
            );
            self.state = State::Tail;
            self.tail_start = self.pos;
            return;
        }
        self.state = State::Data(Box::new(Current {
            entry,
            remaining,
            inflate,
            crc: Crc::new(),
            out: 0,
            scan,
            stopped: !inspectable,
            carry: Vec::new(),
        }));
    }

    fn check_name(&mut self, name: &str, raw: &[u8], at: u64) {
        let bad = name.starts_with('/')
            || name.contains('\\')
            || raw.contains(&0)
            || name.split('/').any(|c| c == "..")
            || name.as_bytes().get(1) == Some(&b':');
        if bad {
            self.finding(
                "zip.path",
                Category::Archive,
                Severity::High,
                format!("member name {name:?} is absolute or escapes the archive"),
                raw,
                at,
            );
        }
    }

    /// Consume member data from `data`; returns bytes used.
    fn member_data(&mut self, data: &[u8]) -> usize {
        let State::Data(cur) = &mut self.state else {
            return 0;
        };
        if cur.remaining.is_none() && cur.inflate.is_none() {
            return self.descriptor_search(data);
        }
        let avail = match cur.remaining {
            Some(r) => (r.min(data.len() as u64)) as usize,
            None => data.len(),
        };
        let input = &data[..avail];
        let mut used = avail;
        let mut ended = cur.remaining.is_some_and(|r| r == avail as u64);
        let mut notes: Vec<(String, &'static str)> = Vec::new();
        if let Some(mut inf) = cur.inflate.take() {
            let mut keep = true;
            let mut buf = std::mem::take(&mut self.out);
            buf.resize(64 * 1024, 0);
            let mut off = 0usize;
            loop {
                let in_before = inf.total_in();
                let out_before = inf.total_out();
                let st = inf.decompress(&input[off..], &mut buf, FlushDecompress::None);
                let consumed = (inf.total_in() - in_before) as usize;
                let produced = (inf.total_out() - out_before) as usize;
                off += consumed;
                if produced > 0 {
                    feed_out(cur, &buf[..produced]);
                }
                match st {
                    Ok(Status::StreamEnd) => {
                        if cur.remaining.is_none() {
                            used = off;
                            ended = true;
                        } else if off < input.len() || cur.remaining != Some(avail as u64) {
                            notes.push((
                                "compressed data ends before the member's declared size".into(),
                                "zip.size-mismatch",
                            ));
                        }
                        keep = false;
                        break;
                    }
                    Ok(_) if consumed == 0 && produced == 0 => break,
                    Ok(_) => {}
                    Err(_) => {
                        notes.push(("deflate data is corrupt".into(), "zip.corrupt"));
                        keep = false;
                        cur.stopped = true;
                        break;
                    }
                }
                if off >= input.len() && produced < buf.len() {
                    break;
                }
            }
            if keep {
                cur.inflate = Some(inf);
            }
            self.out = buf;
        } else {
            feed_out(cur, input);
        }
        cur.entry.compressed_seen += used as u64;
        if let Some(r) = cur.remaining.as_mut() {
            *r -= used as u64;
        }
        if cur.out > MAX_MEMBER_OUT
            || (cur.out > (100 << 20) && cur.out / cur.entry.compressed_seen.max(1) > MAX_RATIO)
        {
            if !cur.stopped {
                notes.push((
                    format!("member expands beyond the limit ({} bytes)", cur.out),
                    "zip.bomb",
                ));
            }
            cur.stopped = true;
            cur.inflate = None;
        }
        let name = cur.entry.name.clone();
        let at = cur.entry.offset;
        for (msg, rule) in notes {
            self.finding(
                rule,
                Category::Archive,
                Severity::High,
                format!("member {name}: {msg}"),
                name.as_bytes(),
                at,
            );
        }
        if ended {
            self.end_member();
        }
        used
    }

    /// A stored member with sizes only in its trailing data descriptor (how PyTorch writes
    /// checkpoints): the member ends at a descriptor signature whose size field equals the
    /// number of bytes since the data began.
    fn descriptor_search(&mut self, data: &[u8]) -> usize {
        const SIG: &[u8] = b"PK\x07\x08";
        let State::Data(cur) = &mut self.state else {
            return 0;
        };
        let matches_at = |seen: u64, buf: &[u8], i: usize| -> bool {
            buf.len() >= i + 16
                && buf[i..i + 4] == *SIG
                && (u64::from(u32le(buf, i + 8)) == (seen + i as u64) & 0xffff_ffff
                    || (buf.len() >= i + 24 && u64le(buf, i + 8) == seen + i as u64))
        };
        if !cur.carry.is_empty() {
            let mut joined = std::mem::take(&mut cur.carry);
            let keep = joined.len();
            joined.extend_from_slice(&data[..data.len().min(24)]);
            if let Some(i) = (0..keep).find(|&i| matches_at(cur.entry.compressed_seen, &joined, i))
            {
                feed_out(cur, &joined[..i]);
                cur.entry.compressed_seen += i as u64;
                self.hdr = joined[i..keep].to_vec();
                self.end_member();
                // The descriptor state reads the saved bytes first, then `data`.
                return 0;
            }
            let undecided = (0..keep).any(|i| {
                let w = &joined[i..joined.len().min(i + 4)];
                SIG.starts_with(w) && joined.len() < i + 24
            });
            if undecided && data.len() < 24 {
                // Not enough bytes yet to decide: keep waiting.
                cur.carry = joined;
                return data.len();
            }
            feed_out(cur, &joined[..keep]);
            cur.entry.compressed_seen += keep as u64;
        }
        let mut from = 0;
        while let Some(p) = find_sig(&data[from..]).map(|p| p + from) {
            if data.len() < p + 24 {
                feed_out(cur, &data[..p]);
                cur.entry.compressed_seen += p as u64;
                cur.carry = data[p..].to_vec();
                return data.len();
            }
            if matches_at(cur.entry.compressed_seen, data, p) {
                feed_out(cur, &data[..p]);
                cur.entry.compressed_seen += p as u64;
                self.end_member();
                return p;
            }
            from = p + 1;
        }
        let keep = data.len().min(3);
        let cut = data.len() - keep;
        feed_out(cur, &data[..cut]);
        cur.entry.compressed_seen += cut as u64;
        cur.carry = data[cut..].to_vec();
        data.len()
    }

    fn end_member(&mut self) {
        let st = std::mem::replace(&mut self.state, State::Sig);
        let State::Data(cur) = st else { return };
        let mut cur = *cur;
        if cur.inflate.is_some() && !cur.stopped {
            self.finding(
                "zip.truncated-member",
                Category::Format,
                Severity::High,
                format!(
                    "member {}: deflate stream does not end within its compressed size",
                    cur.entry.name
                ),
                cur.entry.name.as_bytes(),
                cur.entry.offset,
            );
        }
        if let Some(scan) = cur.scan.take() {
            scan.finish(&mut self.findings);
        }
        let descriptor = cur.entry.flags & 0x08 != 0;
        if !cur.stopped && matches!(cur.entry.method, 0 | 8) {
            cur.entry.crc_seen = Some(cur.crc.sum());
        }
        self.locals.push(cur.entry);
        if descriptor {
            self.state = State::Descriptor;
        } else {
            self.check_crc_last();
        }
    }

    fn check_crc_last(&mut self) {
        let Some(e) = self.locals.last() else { return };
        if let Some(seen) = e.crc_seen {
            if seen != e.crc && e.flags & 0x01 == 0 {
                let (n, at) = (e.name.clone(), e.offset);
                self.finding("zip.crc", Category::Archive, Severity::High,
                    format!("member {n}: CRC-32 does not match its data (PyTorch ignores CRCs, strict readers reject the file)"),
                    n.as_bytes(), at);
            }
        }
    }

    /// End of the archive: parse the central directory and compare.
    pub fn finish(mut self, total: u64, out: &mut Vec<Finding>) {
        if let State::Data(_) = self.state {
            let name = self.current_name();
            self.finding(
                "zip.truncated",
                Category::Format,
                Severity::High,
                format!("archive ends inside member {name}"),
                name.as_bytes(),
                total,
            );
            self.end_member();
        }
        if !matches!(self.state, State::Tail) {
            self.tail_start = self.pos - self.hdr.len() as u64;
            self.tail = std::mem::take(&mut self.hdr);
        }
        central::compare(&mut self, total);
        out.append(&mut self.findings);
    }

    fn current_name(&self) -> String {
        match &self.state {
            State::Data(c) => c.entry.name.clone(),
            _ => String::new(),
        }
    }
}

/// Position of the next data-descriptor signature (SIMD search through aho-corasick).
fn find_sig(hay: &[u8]) -> Option<usize> {
    static F: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>> = std::sync::OnceLock::new();
    match F.get_or_init(|| aho_corasick::AhoCorasick::new([DESCRIPTOR]).ok()) {
        Some(ac) => ac.find(hay).map(|m| m.start()),
        None => hay.windows(4).position(|w| w == DESCRIPTOR),
    }
}

fn feed_out(cur: &mut Current, bytes: &[u8]) {
    cur.out += bytes.len() as u64;
    if cur.stopped {
        return;
    }
    cur.crc.update(bytes);
    if let Some(s) = cur.scan.as_mut() {
        s.update(bytes);
    }
}

/// Zip archives by content (local header or empty-archive end record at byte 0).
pub struct ZipInspector;

struct ZipFile(ZipScan);

impl Inspector for ZipInspector {
    fn name(&self) -> &'static str {
        "model-zip"
    }

    fn open(
        &self,
        meta: &FileMeta<'_>,
        head: &[u8],
        ctx: &ScanContext,
    ) -> Option<Box<dyn FileInspector>> {
        let is_zip = head.starts_with(LOCAL) || head.starts_with(EOCD);
        (is_zip && meta.depth <= MAX_DEPTH).then(|| {
            Box::new(ZipFile(ZipScan::new(meta.path, ctx.clone(), meta.depth)))
                as Box<dyn FileInspector>
        })
    }
}

impl FileInspector for ZipFile {
    fn update(&mut self, _offset: u64, data: &[u8], _out: &mut Vec<Finding>) -> Flow {
        self.0.feed(data);
        Flow::More
    }

    fn finish(self: Box<Self>, total: u64, out: &mut Vec<Finding>) {
        self.0.finish(total, out);
    }
}
