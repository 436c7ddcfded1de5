//! Arrow IPC, stream and file forms, read as the bytes stream past: each message (a
//! continuation marker, the metadata length, a flatbuffer `Message`, then its body) is held
//! whole (the body in a spool, as a Parquet file is), then its record batch or dictionary
//! batch goes through [`batch`]. The file form is the stream form between an 8-byte magic and
//! a footer; the footer's list of batches is checked against the messages actually read, so
//! a batch reachable only through the footer cannot go unseen.
//!
//! Our own reader rather than the `arrow-ipc` crate: the crate decodes whole arrays into
//! memory with no bound on message or body sizes, and brings arrow-array, arrow-data,
//! arrow-buffer, arrow-schema and flatbuffers into the build; the inspection needs only each
//! buffer's bytes and the schema's buffer layout, a few hundred lines with every offset
//! checked (see `flatbuf`).

mod batch;
mod flatbuf;
mod schema;

use super::source::{Spool, SpoolError};
use super::{corrupt, scan_raw, uninspectable, Coverage};
use crate::inspect::nested::{Layer, Nest};
use crate::inspect::Finding;
use flatbuf::Table;
use std::collections::{BTreeSet, HashMap};

/// Largest message metadata (flatbuffer) or file footer read.
pub const MAX_META: u64 = 16 << 20;
/// Most batch start offsets remembered to check a file footer against.
const MAX_STARTS: usize = 1 << 20;

const CONT: [u8; 4] = [0xff; 4];
const MAGIC: &[u8; 8] = b"ARROW1\0\0";

/// Message header types (`MessageHeader`).
const SCHEMA: u8 = 1;
const DICTIONARY_BATCH: u8 = 2;
const RECORD_BATCH: u8 = 3;

/// Whether `head` starts like an Arrow IPC stream: a continuation marker, a plausible
/// metadata length, and (as far as the head holds it) a flatbuffer `Message` carrying a
/// schema.
pub fn looks_like_stream(head: &[u8]) -> bool {
    if head.len() < 16 || head[..4] != CONT {
        return false;
    }
    let len = i32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let Ok(len) = usize::try_from(len) else {
        return false;
    };
    if len < 8 || len as u64 > MAX_META {
        return false;
    }
    let meta = &head[8..head.len().min(8 + len)];
    match Table::root(meta).and_then(|t| Ok((t.u8(1, 0)?, t.i16(0, 0)?))) {
        Ok((ty, version)) => ty == SCHEMA && (0..=4).contains(&version),
        // the metadata goes on past the head: judged by its root offset alone
        Err(_) => {
            meta.len() < len
                && (u32::from_le_bytes([meta[0], meta[1], meta[2], meta[3]]) as usize) < len
        }
    }
}

enum State {
    Magic,
    Prefix,
    Meta(usize),
    Body(u64),
    Trailer,
    Failed,
}

/// The Arrow IPC layer.
pub struct ArrowLayer {
    nest: Nest,
    file: bool,
    state: State,
    /// Bytes of the prefix, metadata or trailer being collected.
    buf: Vec<u8>,
    /// The current message's metadata, while its body is collected.
    meta: Vec<u8>,
    body: Spool,
    /// Stream offset of the next byte.
    pos: u64,
    /// Stream offset where the current message starts.
    msg_at: u64,
    schema: Option<schema::Schema>,
    v5: bool,
    batches: u64,
    rows: u64,
    /// Entries so far in each dictionary (for delta batches).
    dict_len: HashMap<i64, u64>,
    starts: BTreeSet<u64>,
    broke: bool,
    found: Vec<Finding>,
    coverage: Coverage,
}

impl ArrowLayer {
    /// A layer for the file form (`file`) or the stream form.
    pub fn new(nest: Nest, file: bool) -> ArrowLayer {
        ArrowLayer {
            nest,
            file,
            state: if file { State::Magic } else { State::Prefix },
            buf: Vec::new(),
            meta: Vec::new(),
            body: Spool::default(),
            pos: 0,
            msg_at: 0,
            schema: None,
            v5: true,
            batches: 0,
            rows: 0,
            dict_len: HashMap::new(),
            starts: BTreeSet::new(),
            broke: false,
            found: Vec::new(),
            coverage: Coverage::new("arrow"),
        }
    }

    fn fail(&mut self, f: Finding) {
        if f.rule == "archive.uninspectable" {
            self.coverage.refused(&f);
        }
        self.found.push(f);
        self.state = State::Failed;
        self.broke = true;
        self.body = Spool::default();
    }

    /// Take up to `want - buf.len()` bytes of `data` into `buf`; true once it holds `want`.
    fn fill(&mut self, data: &mut &[u8], want: usize) -> bool {
        let k = (want - self.buf.len().min(want)).min(data.len());
        self.buf.extend_from_slice(&data[..k]);
        *data = &data[k..];
        self.pos += k as u64;
        self.buf.len() >= want
    }

    fn step(&mut self, data: &mut &[u8]) {
        match self.state {
            State::Magic => {
                if self.fill(data, 8) {
                    if self.buf[..] != MAGIC[..] {
                        let f = corrupt(
                            &self.nest.path,
                            "Arrow IPC file",
                            "its magic bytes are not ARROW1",
                        );
                        return self.fail(f);
                    }
                    self.buf.clear();
                    self.state = State::Prefix;
                }
            }
            State::Prefix => {
                if self.buf.is_empty() {
                    self.msg_at = self.pos;
                }
                if !self.fill(data, 8) {
                    return;
                }
                if self.file && self.coverage.pages == 0 && self.buf == [0; 8] && self.pos <= 4096 {
                    // writers pad the magic to their alignment (arrow-rs: 64 bytes)
                    self.buf.clear();
                    return;
                }
                if self.buf[..4] != CONT {
                    if self.file {
                        // no end-of-stream marker: the footer follows the last message
                        self.state = State::Trailer;
                        return;
                    }
                    let f = corrupt(
                        &self.nest.path,
                        "Arrow IPC stream",
                        format!("no message starts at offset {}", self.msg_at),
                    );
                    return self.fail(f);
                }
                let len = i32::from_le_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]);
                self.buf.clear();
                match u64::try_from(len) {
                    Ok(0) => self.state = State::Trailer,
                    Ok(n) if n <= MAX_META => self.state = State::Meta(n as usize),
                    Ok(n) => {
                        let f = uninspectable(
                            &self.nest.path,
                            "Arrow IPC message",
                            format!("its metadata is {n} bytes, more than the {MAX_META} read"),
                        );
                        self.fail(f)
                    }
                    Err(_) => {
                        let f = corrupt(
                            &self.nest.path,
                            "Arrow IPC stream",
                            format!("negative metadata length at offset {}", self.msg_at),
                        );
                        self.fail(f)
                    }
                }
            }
            State::Meta(len) => {
                if !self.fill(data, len) {
                    return;
                }
                self.meta = std::mem::take(&mut self.buf);
                let body = Table::root(&self.meta).and_then(|t| t.i64(3, 0));
                match body.map(u64::try_from) {
                    Ok(Ok(0)) => self.message(),
                    Ok(Ok(n)) => {
                        self.body = Spool::default();
                        self.state = State::Body(n);
                    }
                    _ => {
                        let f = corrupt(
                            &self.nest.path,
                            "Arrow IPC stream",
                            format!(
                                "the message at offset {} is not a valid flatbuffer Message",
                                self.msg_at
                            ),
                        );
                        self.fail(f)
                    }
                }
            }
            State::Body(left) => {
                let k = (left.min(data.len() as u64)) as usize;
                let max = self.nest.limits().max_spool_bytes;
                if let Err(e) = self.body.push(&data[..k], max) {
                    let why = match e {
                        SpoolError::Over(m) => format!(
                            "its message body is larger than inspect.limits.max_spool_bytes ({m})"
                        ),
                        SpoolError::Io(e) => {
                            format!("its message body cannot be held in a temporary file ({e})")
                        }
                    };
                    let f = uninspectable(&self.nest.path, "Arrow IPC message", why);
                    return self.fail(f);
                }
                *data = &data[k..];
                self.pos += k as u64;
                if left == k as u64 {
                    self.message();
                } else {
                    self.state = State::Body(left - k as u64);
                }
            }
            State::Trailer => {
                let cap = (MAX_META + 16) as usize;
                if self.buf.len() + data.len() > cap {
                    let f = uninspectable(
                        &self.nest.path,
                        "Arrow IPC",
                        format!("more than {cap} bytes follow its last message"),
                    );
                    return self.fail(f);
                }
                self.buf.extend_from_slice(data);
                self.pos += data.len() as u64;
                *data = &[];
            }
            State::Failed => *data = &[],
        }
    }

    /// A whole message (metadata in `meta`, body in `body`) has arrived.
    fn message(&mut self) {
        self.state = State::Prefix;
        self.coverage.pages += 1;
        let meta = std::mem::take(&mut self.meta);
        let body = std::mem::take(&mut self.body);
        let path = self.nest.path.clone();
        // the metadata holds names and custom key-value metadata: text-scanned as it is
        self.nest.engine.context().text.scan_text(
            &format!("{path}!meta"),
            Some(self.msg_at + 8),
            &meta,
            &mut self.found,
        );
        let parsed = Table::root(&meta).and_then(|t| Ok((t.i16(0, 0)?, t.u8(1, 0)?, t.table(2)?)));
        let (version, kind, header) = match parsed {
            Ok(v) => v,
            Err(e) => {
                let f = corrupt(
                    &path,
                    "Arrow IPC stream",
                    format!("message at offset {}: {e}", self.msg_at),
                );
                return self.fail(f);
            }
        };
        let header = match header {
            Some(h) => h,
            None => return self.raw_body(&body),
        };
        match kind {
            SCHEMA => {
                if self.schema.is_some() {
                    self.found.push(corrupt(
                        &path,
                        "Arrow IPC stream",
                        format!("a second schema at offset {}", self.msg_at),
                    ));
                    return;
                }
                self.v5 = version >= 4;
                match schema::parse(&header) {
                    Ok(s) => self.schema = Some(s),
                    Err(e) => {
                        let f = uninspectable(
                            &path,
                            "Arrow IPC schema",
                            format!("{e}, so its batches cannot be read"),
                        );
                        self.fail(f)
                    }
                }
            }
            RECORD_BATCH | DICTIONARY_BATCH => {
                if self.starts.len() < MAX_STARTS {
                    self.starts.insert(self.msg_at);
                }
                self.batch(kind, &header, &body);
            }
            _ => self.raw_body(&body),
        }
    }

    fn raw_body(&mut self, body: &Spool) {
        let path = format!("{}!message:{}", self.nest.path, self.msg_at);
        let nest = self.nest.clone();
        let mut found = Vec::new();
        body.with_source(|src| scan_raw(&nest, src, &path, 0, src.len(), &mut found));
        self.found.append(&mut found);
    }

    fn batch(&mut self, kind: u8, header: &Table<'_>, body: &Spool) {
        let path = self.nest.path.clone();
        let Some(schema) = self.schema.take() else {
            self.found.push(corrupt(
                &path,
                "Arrow IPC stream",
                format!("a batch before the schema at offset {}", self.msg_at),
            ));
            return self.raw_body(body);
        };
        let result = (|| -> Result<(Option<i64>, batch::BatchOut), flatbuf::FlatError> {
            if kind == RECORD_BATCH {
                let b = batch::Batch {
                    nest: &self.nest,
                    base: format!("{path}!batch:{}", self.batches),
                    row_base: self.rows,
                    dictionary: false,
                    schema: &schema,
                    v5: self.v5,
                };
                let out = body
                    .with_source(|src| b.run(header, src))
                    .unwrap_or_else(|| Ok(batch::BatchOut::default()))?;
                return Ok((None, out));
            }
            let id = header.i64(0, 0)?;
            let delta = header.bool(2)?;
            let Some(data) = header.table(1)? else {
                return Ok((Some(id), batch::BatchOut::default()));
            };
            let empty = schema::Schema::default();
            let values = schema
                .dicts
                .iter()
                .find(|(d, _)| *d == id)
                .map_or(&empty, |(_, s)| s);
            let b = batch::Batch {
                nest: &self.nest,
                base: format!("{path}!dictionary:{id}"),
                row_base: if delta {
                    self.dict_len.get(&id).copied().unwrap_or(0)
                } else {
                    0
                },
                dictionary: true,
                schema: values,
                v5: self.v5,
            };
            let out = body
                .with_source(|src| b.run(&data, src))
                .unwrap_or_else(|| Ok(batch::BatchOut::default()))?;
            Ok((Some(id), out))
        })();
        self.schema = Some(schema);
        match result {
            Ok((dict, out)) => {
                match dict {
                    None => self.rows += out.rows,
                    Some(id) => *self.dict_len.entry(id).or_insert(0) += out.rows,
                }
                if dict.is_none() {
                    self.batches += 1;
                }
                self.coverage.groups += 1;
                self.coverage.columns += out.buffers;
                self.coverage.bytes_decoded += out.decoded;
                for f in &out.findings {
                    if f.rule == "archive.uninspectable" {
                        self.coverage.refused(f);
                    }
                }
                self.found.extend(out.findings);
                if out.stop {
                    self.state = State::Failed;
                }
            }
            Err(e) => {
                let f = corrupt(
                    &path,
                    "Arrow IPC batch",
                    format!("at offset {}: {e}", self.msg_at),
                );
                self.found.push(f);
                self.raw_body(body);
            }
        }
    }

    /// The file form's footer: every batch it lists must be a message that was read.
    fn footer(&mut self) {
        let path = self.nest.path.clone();
        let t = std::mem::take(&mut self.buf);
        let n = t.len();
        if n < 10 || &t[n - 6..] != b"ARROW1" {
            self.found.push(corrupt(
                &path,
                "Arrow IPC file",
                "it does not end with its footer and ARROW1",
            ));
            self.broke = true;
            return;
        }
        self.nest.engine.context().text.scan_text(
            &format!("{path}!footer"),
            Some(self.pos - n as u64),
            &t,
            &mut self.found,
        );
        let flen = i32::from_le_bytes([t[n - 10], t[n - 9], t[n - 8], t[n - 7]]);
        let Some(start) = usize::try_from(flen)
            .ok()
            .and_then(|l| (n - 10).checked_sub(l))
        else {
            self.found.push(corrupt(
                &path,
                "Arrow IPC file",
                "its footer length is not valid",
            ));
            return;
        };
        let listed = (|| -> Result<Vec<i64>, flatbuf::FlatError> {
            let f = Table::root(&t[start..n - 10])?;
            let mut v = Vec::new();
            for slot in [2, 3] {
                if let Some(blocks) = f.vector(slot, 24)? {
                    for i in 0..blocks.len {
                        v.push(flatbuf::i64_at(blocks.item(i, 24), 0)?);
                    }
                }
            }
            Ok(v)
        })();
        match listed {
            Ok(offsets) => {
                let full = self.starts.len() < MAX_STARTS;
                for off in offsets {
                    let seen = u64::try_from(off).is_ok_and(|o| self.starts.contains(&o));
                    if !seen && full {
                        let f = uninspectable(&path, "Arrow IPC file", format!("its footer lists a batch at offset {off} that is not in its message sequence"));
                        self.coverage.refused(&f);
                        self.found.push(f);
                    }
                }
            }
            Err(e) => self.found.push(corrupt(
                &path,
                "Arrow IPC file",
                format!("its footer is not a valid flatbuffer ({e})"),
            )),
        }
    }
}

impl Layer for ArrowLayer {
    fn format(&self) -> &'static str {
        "arrow"
    }

    fn update(&mut self, data: &[u8], _out: &mut Vec<Finding>) {
        let mut d = data;
        while !d.is_empty() {
            self.step(&mut d);
        }
    }

    fn end(&mut self) {
        match self.state {
            State::Meta(_) | State::Body(_) => {
                let f = corrupt(
                    &self.nest.path,
                    "Arrow IPC",
                    format!("it ends inside the message at offset {}", self.msg_at),
                );
                self.fail(f);
            }
            State::Prefix if !self.buf.is_empty() => {
                let f = corrupt(
                    &self.nest.path,
                    "Arrow IPC",
                    "it ends inside a message prefix",
                );
                self.fail(f);
            }
            State::Magic => self.fail(corrupt(
                &self.nest.path,
                "Arrow IPC file",
                "it ends inside its magic bytes",
            )),
            State::Trailer if self.file => {
                self.footer();
                self.state = State::Failed;
            }
            State::Trailer if !self.buf.is_empty() => {
                // bytes after the end-of-stream marker: text-scanned as they are
                let t = std::mem::take(&mut self.buf);
                let at = self.pos - t.len() as u64;
                self.nest.engine.context().text.scan_text(
                    &format!("{}!meta", self.nest.path),
                    Some(at),
                    &t,
                    &mut self.found,
                );
            }
            State::Prefix if self.file => {
                self.found.push(corrupt(
                    &self.nest.path,
                    "Arrow IPC file",
                    "it has no footer",
                ));
            }
            _ => {}
        }
    }

    fn failed(&self) -> bool {
        self.broke
    }

    fn may_fail(&self) -> bool {
        true
    }

    fn finish(mut self: Box<Self>, out: &mut Vec<Finding>) {
        self.end();
        self.coverage.record(self.nest.engine.coverage());
        let found = std::mem::take(&mut self.found);
        self.nest.keep(found, out);
    }
}
