//! A push-mode tar reader for inspection: headers are parsed as bytes stream past and each
//! regular file's data goes to a child scan. GNU long names and PAX `path`/`size` records
//! are understood; links, devices and directories are skipped (never followed).

use super::{clean_name, Layer, Nest};
use crate::inspect::engine::FileScan;
use crate::inspect::models::onnx;
use crate::inspect::{Category, Finding, Severity};
use std::collections::BTreeMap;

/// Largest GNU long-name or PAX header payload accepted.
const MAX_META: u64 = 1 << 20;

/// Does the head hold a ustar/GNU tar header?
pub fn is_tar(head: &[u8]) -> bool {
    head.len() >= 512 && (&head[257..262] == b"ustar") && checksum_ok(&head[..512])
}

fn checksum_ok(h: &[u8]) -> bool {
    let Some(want) = octal(&h[148..156]) else {
        return false;
    };
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum();
    sum == want
}

/// Parse an octal (or GNU base-256) numeric field.
fn octal(f: &[u8]) -> Option<u64> {
    if let Some(&first) = f.first() {
        if first & 0x80 != 0 {
            let mut n: u64 = u64::from(first & 0x7f);
            for &b in &f[1..] {
                n = n.checked_mul(256)?.checked_add(u64::from(b))?;
            }
            return Some(n);
        }
    }
    let s: Vec<u8> = f.iter().copied().filter(|&b| b != 0 && b != b' ').collect();
    if s.is_empty() {
        return Some(0);
    }
    let mut n: u64 = 0;
    for b in s {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        n = n.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

fn cstr(f: &[u8]) -> &[u8] {
    let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    &f[..end]
}

enum State {
    Header,
    /// Member data: bytes left, then padding; the child (for regular files) or collected
    /// metadata (long names, PAX).
    Data {
        left: u64,
        pad: u64,
        sink: Sink,
    },
    Done,
}

enum Sink {
    Skip,
    File(Box<FileScan>),
    Meta(u8, Vec<u8>),
}

/// The tar layer.
pub struct TarLayer {
    nest: Nest,
    state: State,
    hdr: Vec<u8>,
    long_name: Option<Vec<u8>>,
    pax_path: Option<Vec<u8>>,
    pax_size: Option<u64>,
    found: Vec<Finding>,
    /// Regular members seen (cleaned name → size), for the ONNX external-data check.
    members: BTreeMap<String, u64>,
    /// False once the listing was cut short (corrupt, truncated or over a limit).
    listed_all: bool,
    /// Header blocks that were not valid headers, skipped as tar itself does.
    junk_blocks: u64,
}

impl TarLayer {
    pub fn new(nest: Nest) -> TarLayer {
        TarLayer {
            nest,
            state: State::Header,
            hdr: Vec::with_capacity(512),
            long_name: None,
            pax_path: None,
            pax_size: None,
            found: Vec::new(),
            members: BTreeMap::new(),
            listed_all: true,
            junk_blocks: 0,
        }
    }

    /// Give up on the rest of the archive: a member that cannot be followed could hold
    /// anything, so this is refused (high), not merely noted.
    fn stop(&mut self, msg: String) {
        self.listed_all = false;
        self.found.push(self.nest.finding(
            "archive.corrupt",
            Category::Format,
            Severity::High,
            msg,
        ));
        self.state = State::Done;
    }

    /// A block where a header should be is not one: skip it and try the next, as GNU tar
    /// does ("skipping to next header"), so members after junk are still inspected.
    fn junk(&mut self, why: &str) {
        self.listed_all = false;
        if self.junk_blocks == 0 {
            self.found.push(self.nest.finding(
                "archive.corrupt",
                Category::Format,
                Severity::Medium,
                format!("{why}: skipped to the next valid header, as tar does"),
            ));
        }
        self.junk_blocks += 1;
    }

    fn header(&mut self) {
        let h = std::mem::take(&mut self.hdr);
        if h.iter().all(|&b| b == 0) {
            return; // end-of-archive blocks
        }
        if !checksum_ok(&h) {
            self.junk("a tar header checksum does not match");
            return;
        }
        let Some(mut size) = octal(&h[124..136]) else {
            self.junk("a tar header size is not a number");
            return;
        };
        let kind = h[156];
        let sink = match kind {
            b'L' | b'x' => {
                if size > MAX_META {
                    self.stop(format!(
                        "tar metadata entry larger than {MAX_META} bytes: the members after it \
                         cannot be followed and are not inspected"
                    ));
                    return;
                }
                Sink::Meta(kind, Vec::new())
            }
            // links, devices, FIFOs, directories, global and link-name metadata, volume
            // labels: no file data. Everything else, unknown typeflags and GNU sparse files
            // included, is data that tar extracts as a file, so it is inspected as one.
            b'1' | b'2' | b'3' | b'4' | b'5' | b'6' | b'g' | b'K' | b'V' | b'D' | b'N' => {
                self.long_name = None;
                self.pax_path = None;
                self.pax_size = None;
                Sink::Skip
            }
            _ => {
                if let Some(s) = self.pax_size.take() {
                    size = s;
                }
                let name = match (self.pax_path.take(), self.long_name.take()) {
                    (Some(p), _) => p,
                    (None, Some(l)) => l,
                    (None, None) => {
                        let mut n = Vec::new();
                        if &h[257..262] == b"ustar" && h[345] != 0 {
                            n.extend_from_slice(cstr(&h[345..500]));
                            n.push(b'/');
                        }
                        n.extend_from_slice(cstr(&h[..100]));
                        n
                    }
                };
                let name = clean_name(&name);
                self.members.insert(name.clone(), size);
                if let Err(f) = self.nest.count_member() {
                    // past the member limit: the rest of the archive is not read
                    self.found.push(*f);
                    self.listed_all = false;
                    self.state = State::Done;
                    return;
                }
                match self.nest.child(&name, Some(size)) {
                    Ok(c) => Sink::File(Box::new(c)),
                    Err(f) => {
                        self.found.push(*f);
                        Sink::Skip
                    }
                }
            }
        };
        let pad = (512 - size % 512) % 512;
        self.state = State::Data {
            left: size,
            pad,
            sink,
        };
        if size == 0 {
            self.end_member();
        }
    }

    fn end_member(&mut self) {
        let State::Data { sink, pad, .. } = std::mem::replace(&mut self.state, State::Header)
        else {
            return;
        };
        match sink {
            Sink::Skip => {}
            Sink::File(c) => self.nest.keep(c.finish(), &mut self.found),
            Sink::Meta(b'L', v) => self.long_name = Some(cstr(&v).to_vec()),
            Sink::Meta(_, v) => self.pax(&v),
        }
        if pad > 0 {
            self.state = State::Data {
                left: pad,
                pad: 0,
                sink: Sink::Skip,
            };
        }
    }

    /// PAX records: `<len> <key>=<value>\n`.
    fn pax(&mut self, mut v: &[u8]) {
        while !v.is_empty() {
            let Some(sp) = v.iter().position(|&b| b == b' ') else {
                break;
            };
            let Some(len) = std::str::from_utf8(&v[..sp])
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
            else {
                break;
            };
            if len <= sp || len > v.len() {
                break;
            }
            let rec = &v[sp + 1..len];
            let rec = rec.strip_suffix(b"\n").unwrap_or(rec);
            if let Some(eq) = rec.iter().position(|&b| b == b'=') {
                let (k, val) = (&rec[..eq], &rec[eq + 1..]);
                match k {
                    b"path" => self.pax_path = Some(val.to_vec()),
                    b"size" => {
                        self.pax_size = std::str::from_utf8(val).ok().and_then(|s| s.parse().ok())
                    }
                    _ => {}
                }
            }
            v = &v[len..];
        }
    }
}

impl Layer for TarLayer {
    fn format(&self) -> &'static str {
        "tar"
    }

    fn update(&mut self, mut data: &[u8], _out: &mut Vec<Finding>) {
        while !data.is_empty() {
            match &mut self.state {
                State::Done => return,
                State::Header => {
                    let take = (512 - self.hdr.len()).min(data.len());
                    self.hdr.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.hdr.len() == 512 {
                        self.header();
                    }
                }
                State::Data { left, sink, .. } => {
                    let take = (*left).min(data.len() as u64) as usize;
                    match sink {
                        Sink::Skip => {}
                        Sink::File(c) => c.update(&data[..take]),
                        Sink::Meta(_, v) => v.extend_from_slice(&data[..take]),
                    }
                    *left -= take as u64;
                    data = &data[take..];
                    if *left == 0 {
                        self.end_member();
                    }
                }
            }
        }
    }

    fn finish(mut self: Box<Self>, out: &mut Vec<Finding>) {
        if let State::Data {
            sink: Sink::File(c),
            left,
            ..
        } = std::mem::replace(&mut self.state, State::Done)
        {
            self.nest.keep(c.finish(), &mut self.found);
            if left > 0 {
                self.listed_all = false;
                self.found.push(self.nest.finding(
                    "archive.corrupt",
                    Category::Format,
                    Severity::Medium,
                    "tar archive is truncated inside a member".into(),
                ));
            }
        }
        if self.listed_all {
            let members = &self.members;
            onnx::check_members(&mut self.found, 0, &self.nest.path, |n| {
                members.get(n).copied()
            });
        }
        out.append(&mut self.found);
    }
}
