//! A small streaming protobuf reader with explicit limits: it descends only into the message
//! fields a schema asks for, captures short strings and skips everything else (tensor data)
//! without buffering it.

/// Deepest message nesting followed.
pub const MAX_DEPTH: usize = 64;
/// Longest length-delimited field captured whole; longer ones give only a prefix.
pub const MAX_CAPTURE: usize = 1 << 20;

/// What to do with a length-delimited field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// Parse it as a message of this kind.
    Descend(u8),
    /// Hand its bytes to [`Schema::bytes`].
    Capture,
    Skip,
}

/// The messages a reader understands and what it does with their fields.
pub trait Schema {
    /// Action for field `field` (wire type 2) of a message of kind `kind`.
    fn want(&mut self, kind: u8, field: u32) -> Want;
    /// A varint field.
    fn varint(&mut self, _kind: u8, _field: u32, _v: u64) {}
    /// A captured field: `data` is the whole value, or a prefix when `full_len` is larger.
    fn bytes(&mut self, _kind: u8, _field: u32, _data: &[u8], _full_len: u64, _offset: u64) {}
    /// A message of `kind` begins.
    fn enter(&mut self, _kind: u8) {}
    /// A message of `kind` ends.
    fn exit(&mut self, _kind: u8) {}
}

struct Capture {
    kind: u8,
    field: u32,
    offset: u64,
    full: u64,
    remaining: u64,
    buf: Vec<u8>,
}

/// Streaming reader driving a [`Schema`].
pub struct ProtoStream<S: Schema> {
    pub schema: S,
    pending: Vec<u8>,
    pos: u64,
    stack: Vec<(u8, u64)>,
    skip: u64,
    capture: Option<Capture>,
    error: Option<(u64, String)>,
}

fn varint(b: &[u8]) -> Result<Option<(u64, usize)>, ()> {
    let mut v = 0u64;
    for (i, &x) in b.iter().enumerate().take(10) {
        v |= u64::from(x & 0x7f) << (7 * i);
        if x & 0x80 == 0 {
            return Ok(Some((v, i + 1)));
        }
    }
    if b.len() >= 10 {
        Err(())
    } else {
        Ok(None)
    }
}

impl<S: Schema> ProtoStream<S> {
    /// A reader whose top-level message has kind `root`.
    pub fn new(schema: S, root: u8) -> ProtoStream<S> {
        ProtoStream {
            schema,
            pending: Vec::new(),
            pos: 0,
            stack: vec![(root, u64::MAX)],
            skip: 0,
            capture: None,
            error: None,
        }
    }

    /// The first error (offset, message), if any.
    pub fn error(&self) -> Option<&(u64, String)> {
        self.error.as_ref()
    }

    /// Top-level fields seen so far are well formed and nothing failed.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    fn fail(&mut self, msg: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some((self.pos, msg.into()));
        }
    }

    /// Feed the next bytes.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !self.pending.is_empty() && !data.is_empty() && self.error.is_none() {
            let n = data.len().min(32);
            self.pending.extend_from_slice(&data[..n]);
            data = &data[n..];
            let p = std::mem::take(&mut self.pending);
            let used = self.step(&p);
            self.pending = p[used..].to_vec();
        }
        if self.pending.is_empty() && self.error.is_none() {
            let used = self.step(data);
            self.pending = data[used..].to_vec();
        }
    }

    /// End of input: every message must be complete.
    pub fn finish(&mut self) {
        self.close_frames();
        if self.error.is_none()
            && (!self.pending.is_empty()
                || self.skip > 0
                || self.capture.is_some()
                || self.stack.len() > 1)
        {
            self.fail("truncated: the input ends inside a field");
        }
    }

    fn close_frames(&mut self) {
        while let Some(&(k, end)) = self.stack.last() {
            if self.pos == end {
                self.stack.pop();
                self.schema.exit(k);
            } else {
                if self.pos > end {
                    self.fail("a field runs past the end of its enclosing message");
                }
                break;
            }
        }
    }

    fn step(&mut self, buf: &[u8]) -> usize {
        let mut i = 0;
        loop {
            if self.error.is_some() {
                return buf.len();
            }
            self.close_frames();
            if i == buf.len() {
                return i;
            }
            if self.skip > 0 {
                let take = self.skip.min((buf.len() - i) as u64);
                i += take as usize;
                self.pos += take;
                self.skip -= take;
                continue;
            }
            if let Some(c) = self.capture.as_mut() {
                let take = c.remaining.min((buf.len() - i) as u64) as usize;
                let room = MAX_CAPTURE.saturating_sub(c.buf.len()).min(take);
                c.buf.extend_from_slice(&buf[i..i + room]);
                i += take;
                self.pos += take as u64;
                c.remaining -= take as u64;
                if c.remaining == 0 {
                    if let Some(c) = self.capture.take() {
                        self.schema.bytes(c.kind, c.field, &c.buf, c.full, c.offset);
                    }
                }
                continue;
            }
            let start = i;
            let tag = match varint(&buf[i..]) {
                Ok(Some((t, n))) => {
                    i += n;
                    t
                }
                Ok(None) => return start,
                Err(()) => {
                    self.fail("malformed varint");
                    return buf.len();
                }
            };
            let field = (tag >> 3) as u32;
            let wire = (tag & 7) as u8;
            let kind = self.stack.last().map_or(0, |f| f.0);
            if field == 0 || tag >> 3 > u64::from(u32::MAX >> 3) {
                self.fail(format!("invalid field number {}", tag >> 3));
                return buf.len();
            }
            match wire {
                0 => match varint(&buf[i..]) {
                    Ok(Some((v, n))) => {
                        i += n;
                        self.pos += (i - start) as u64;
                        self.schema.varint(kind, field, v);
                    }
                    Ok(None) => return start,
                    Err(()) => {
                        self.fail("malformed varint");
                        return buf.len();
                    }
                },
                1 | 5 => {
                    self.pos += (i - start) as u64;
                    self.skip = if wire == 1 { 8 } else { 4 };
                }
                2 => {
                    let (len, n) = match varint(&buf[i..]) {
                        Ok(Some(x)) => x,
                        Ok(None) => return start,
                        Err(()) => {
                            self.fail("malformed length");
                            return buf.len();
                        }
                    };
                    i += n;
                    self.pos += (i - start) as u64;
                    let end = self.pos.checked_add(len);
                    let parent_end = self.stack.last().map_or(u64::MAX, |f| f.1);
                    let Some(end) = end.filter(|&e| e <= parent_end) else {
                        self.fail(format!(
                            "field {field} of length {len} runs past its enclosing message"
                        ));
                        return buf.len();
                    };
                    match self.schema.want(kind, field) {
                        Want::Descend(k) => {
                            if self.stack.len() >= MAX_DEPTH {
                                self.fail(format!("messages nested deeper than {MAX_DEPTH}"));
                                return buf.len();
                            }
                            self.stack.push((k, end));
                            self.schema.enter(k);
                        }
                        Want::Capture => {
                            if len == 0 {
                                self.schema.bytes(kind, field, &[], 0, self.pos);
                            } else {
                                self.capture = Some(Capture {
                                    kind,
                                    field,
                                    offset: self.pos,
                                    full: len,
                                    remaining: len,
                                    buf: Vec::new(),
                                });
                            }
                        }
                        Want::Skip => self.skip = len,
                    }
                }
                other => {
                    self.fail(format!("unsupported wire type {other}"));
                    return buf.len();
                }
            }
        }
    }
}

/// Tests: append protobuf field `tag` holding `body` (length-delimited) to `out`.
#[cfg(test)]
pub(crate) fn test_field(out: &mut Vec<u8>, tag: u32, body: &[u8]) {
    let mut key = u64::from(tag << 3 | 2);
    let mut len = body.len() as u64;
    for v in [&mut key, &mut len] {
        while *v >= 0x80 {
            out.push((*v as u8) | 0x80);
            *v >>= 7;
        }
        out.push(*v as u8);
    }
    out.extend_from_slice(body);
}
