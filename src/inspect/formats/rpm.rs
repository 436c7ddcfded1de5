//! RPM packages (v3 and v4): the 96-byte lead, the signature header (padded to 8 bytes) and
//! the main header, each `8E AD E8 01`, 4 reserved bytes, a big-endian index count and data
//! size, 16-byte index entries (tag, type, offset, count) and the data store; then the
//! payload, a compressed cpio archive. The scriptlets (`%pre`, `%post`, `%preun`, `%postun`,
//! `%pretrans`, `%posttrans`, `%preuntrans`, `%postuntrans`, `%verifyscript`, triggers and
//! file triggers) are yielded as members named after them, each led by a `#!` line naming
//! its interpreter, so they are inspected as the code they are; the payload is yielded as
//! the member `payload.cpio.<compressor>`.

use super::{Gather, Members, Problem, Reader};

/// Lead magic.
pub const MAGIC: &[u8; 4] = &[0xed, 0xab, 0xee, 0xdb];
/// Header magic.
pub const HEADER_MAGIC: &[u8; 4] = &[0x8e, 0xad, 0xe8, 0x01];
/// Most index entries in one header (rpm's own bound).
pub const MAX_INDEX: u32 = 0xffff;
/// Largest header data store held.
pub const MAX_STORE: u32 = 64 << 20;

const LEAD: usize = 96;
const INTRO: usize = 16;

/// Whether `head` starts an RPM package (lead magic, major version 3 or 4).
pub fn sniff(head: &[u8]) -> bool {
    head.len() >= LEAD && head.starts_with(MAGIC) && matches!(head[4], 3 | 4)
}

/// Scriptlet tags: (script tag, interpreter tag, member name). Triggers are arrays.
const SCRIPTS: &[(u32, u32, &str)] = &[
    (1023, 1085, "%pre"),
    (1024, 1086, "%post"),
    (1025, 1087, "%preun"),
    (1026, 1088, "%postun"),
    (1151, 1153, "%pretrans"),
    (1152, 1154, "%posttrans"),
    (5092, 5094, "%preuntrans"),
    (5093, 5095, "%postuntrans"),
    (1079, 1091, "%verifyscript"),
];
/// Array-valued scriptlets: (scripts tag, interpreters tag, name prefix).
const TRIGGERS: &[(u32, u32, &str)] = &[
    (1065, 1092, "%trigger"),
    (5066, 5067, "%filetrigger"),
    (5076, 5077, "%transfiletrigger"),
];
const PAYLOAD_COMPRESSOR: u32 = 1125;
const PAYLOAD_FORMAT: u32 = 1124;

#[derive(Clone, Copy)]
enum State {
    Lead,
    Intro {
        sig: bool,
    },
    Body {
        sig: bool,
        nindex: usize,
        len: usize,
        pad: usize,
    },
    Payload,
    Done,
}

/// A header's values that the reader uses.
#[derive(Default, Debug)]
pub struct Header {
    entries: Vec<(u32, u32, u32, u32)>,
    store: Vec<u8>,
}

impl Header {
    /// Parse index entries and the store (`body` = entries then store).
    pub fn parse(nindex: usize, body: Vec<u8>) -> Header {
        let entries = body[..nindex * 16]
            .chunks_exact(16)
            .map(|e| {
                let w = |i: usize| u32::from_be_bytes([e[i], e[i + 1], e[i + 2], e[i + 3]]);
                (w(0), w(4), w(8), w(12))
            })
            .collect();
        let store = body[nindex * 16..].to_vec();
        Header { entries, store }
    }

    /// The strings of `tag` (STRING, I18NSTRING: one; STRING_ARRAY: `count`), each
    /// NUL-terminated inside the store; `None` if absent or out of bounds.
    pub fn strings(&self, tag: u32) -> Option<Vec<&[u8]>> {
        let &(_, ty, off, count) = self.entries.iter().find(|e| e.0 == tag)?;
        let n = match ty {
            6 | 9 => 1,
            8 => count as usize,
            _ => return None,
        };
        let mut at = off as usize;
        let mut v = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let rest = self.store.get(at..)?;
            let end = rest.iter().position(|&b| b == 0)?;
            v.push(&rest[..end]);
            at += end + 1;
        }
        Some(v)
    }
}

/// The RPM reader.
pub struct RpmReader {
    state: State,
    gather: Gather,
    /// Bytes of payload passed on.
    payload: u64,
    open: bool,
}

impl Default for RpmReader {
    fn default() -> Self {
        RpmReader::new()
    }
}

impl RpmReader {
    pub fn new() -> RpmReader {
        RpmReader {
            state: State::Lead,
            gather: Gather::default(),
            payload: 0,
            open: false,
        }
    }

    fn stop(&mut self, out: &mut dyn Members, p: Problem) {
        if self.open {
            self.open = false;
            out.end();
        }
        out.problem(p);
        self.state = State::Done;
    }

    fn intro(&mut self, h: &[u8], sig: bool, out: &mut dyn Members) {
        let which = if sig { "signature" } else { "main" };
        if &h[..4] != HEADER_MAGIC {
            return self.stop(
                out,
                Problem::Corrupt(format!(
                    "RPM {which} header has no header magic: the package cannot be read"
                )),
            );
        }
        let nindex = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
        let hsize = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
        if nindex > MAX_INDEX || hsize > MAX_STORE {
            return self.stop(
                out,
                Problem::Limit(format!(
                    "RPM {which} header declares {nindex} entries and {hsize} data bytes \
                     (limits {MAX_INDEX} and {MAX_STORE}): the package cannot be read"
                )),
            );
        }
        let len = nindex as usize * 16 + hsize as usize;
        let pad = if sig { (8 - (INTRO + len) % 8) % 8 } else { 0 };
        self.state = State::Body {
            sig,
            nindex: nindex as usize,
            len,
            pad,
        };
    }

    fn body(&mut self, nindex: usize, body: Vec<u8>, sig: bool, out: &mut dyn Members) {
        if sig {
            self.state = State::Intro { sig: false };
            return;
        }
        let h = Header::parse(nindex, body);
        self.scripts(&h, out);
        let comp = h
            .strings(PAYLOAD_COMPRESSOR)
            .and_then(|v| v.first().map(|s| String::from_utf8_lossy(s).into_owned()))
            .unwrap_or_else(|| "gzip".into());
        let format = h
            .strings(PAYLOAD_FORMAT)
            .and_then(|v| v.first().map(|s| String::from_utf8_lossy(s).into_owned()))
            .unwrap_or_else(|| "cpio".into());
        let suffix = match comp.as_str() {
            "gzip" => "gz",
            "bzip2" => "bz2",
            "zstd" => "zst",
            "xz" => "xz",
            "lzma" => "lzma",
            _ => "bin",
        };
        let name = format!(
            "payload.{}.{suffix}",
            if format == "drpm" { "drpm" } else { "cpio" }
        );
        self.open = out.begin(name.as_bytes(), None);
        self.state = State::Payload;
    }

    fn scripts(&self, h: &Header, out: &mut dyn Members) {
        let emit = |out: &mut dyn Members, name: &str, prog: Option<Vec<u8>>, body: &[u8]| {
            if out.begin(name.as_bytes(), None) {
                let prog = prog.unwrap_or_else(|| b"/bin/sh".to_vec());
                let mut text = b"#!".to_vec();
                text.extend_from_slice(&prog);
                text.push(b'\n');
                out.data(&text);
                out.data(body);
                out.end();
            }
        };
        let join = |v: Vec<&[u8]>| v.join(&b' ');
        for &(tag, prog, name) in SCRIPTS {
            let Some(body) = h.strings(tag).and_then(|v| v.first().map(|b| b.to_vec())) else {
                continue;
            };
            emit(out, name, h.strings(prog).map(join), &body);
        }
        for &(tag, prog, name) in TRIGGERS {
            let Some(bodies) = h.strings(tag) else {
                continue;
            };
            let progs = h.strings(prog).unwrap_or_default();
            for (i, body) in bodies.iter().enumerate() {
                let p = progs.get(i).map(|p| p.to_vec());
                emit(out, &format!("{name}-{}", i + 1), p, body);
            }
        }
    }
}

impl Reader for RpmReader {
    fn format(&self) -> &'static str {
        "rpm"
    }

    fn push(&mut self, mut data: &[u8], out: &mut dyn Members) {
        while !data.is_empty() {
            match self.state {
                State::Done => return,
                State::Lead => {
                    if let Some(lead) = self.gather.fill(&mut data, LEAD) {
                        if !sniff(&lead) {
                            return self.stop(out, Problem::Corrupt("not an RPM package".into()));
                        }
                        let sigtype = u16::from_be_bytes([lead[78], lead[79]]);
                        if sigtype != 5 {
                            return self.stop(
                                out,
                                Problem::Unsupported(format!(
                                    "RPM lead signature type {sigtype} (only header-style \
                                     signatures, type 5, are read): the package is not read"
                                )),
                            );
                        }
                        self.state = State::Intro { sig: true };
                    }
                }
                State::Intro { sig } => {
                    if let Some(h) = self.gather.fill(&mut data, INTRO) {
                        self.intro(&h, sig, out);
                    }
                }
                State::Body {
                    sig,
                    nindex,
                    len,
                    pad,
                } => {
                    if let Some(body) = self.gather.fill(&mut data, len + pad) {
                        self.body(nindex, body, sig, out);
                    }
                }
                State::Payload => {
                    self.payload += data.len() as u64;
                    if self.open {
                        out.data(data);
                    }
                    return;
                }
            }
        }
    }

    fn end(&mut self, out: &mut dyn Members) {
        match self.state {
            State::Payload => {
                if self.open {
                    self.open = false;
                    out.end();
                }
                if self.payload == 0 {
                    out.problem(Problem::Truncated("RPM package has no payload".into()));
                }
            }
            State::Done => {}
            _ => out.problem(Problem::Truncated(
                "RPM package ends inside its lead or headers: nothing after that is read".into(),
            )),
        }
        self.state = State::Done;
    }
}
