//! Streaming pickle tokenizer: turns bytes into opcodes with decoded arguments, for every
//! opcode of protocols 0 to 5, with bounded buffering (long byte strings are skipped and only
//! a prefix is kept).

use std::sync::Arc;

/// Byte strings longer than this are not buffered: a prefix is kept and the rest skipped.
pub const INLINE_MAX: u64 = 1 << 20;
/// How much of a skipped byte string is kept (nested pickle and text checks look at it).
pub const CAPTURE: usize = 64 * 1024;
/// Longest text line (protocol 0 arguments).
pub const MAX_LINE: usize = 64 * 1024;
/// Longest LONG1/LONG4 integer accepted, in bytes.
const MAX_LONG: u64 = 4096;

/// A decoded opcode argument.
#[derive(Clone, Debug)]
pub enum Arg {
    None,
    Int(i64),
    /// An integer too large for i64: little-endian two's complement (binary forms) or
    /// decimal digits (text forms).
    Big(Arc<[u8]>),
    /// A float (its value is not needed: no float changes what a pickle does).
    Float,
    /// Text (truncated to [`CAPTURE`] bytes when it was longer).
    Text(Arc<str>),
    /// Bytes: a prefix (at most [`CAPTURE`] when longer than [`INLINE_MAX`]).
    Bytes(Arc<[u8]>),
    /// GLOBAL / INST: module and name.
    Pair(Arc<str>, Arc<str>),
    /// Memo index, protocol number, frame length or extension code.
    Index(u64),
}

/// One opcode with its argument and byte offset.
#[derive(Clone, Debug)]
pub struct Op {
    pub code: u8,
    pub arg: Arg,
    pub offset: u64,
}

/// Why a byte sequence is not a valid pickle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpError {
    pub offset: u64,
    pub msg: String,
    /// One of our own limits was hit (Python's unpickler has none of them): the bytes were
    /// consistent pickle ops up to here, so they are never taken for trailing data.
    pub limit: bool,
}

/// What the opcode callback wants next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    Stop,
    /// The next `len` bytes are raw data, not opcodes (joblib writes array bytes inline);
    /// `padded`: a length byte and that many padding bytes come first.
    Raw {
        len: u64,
        padded: bool,
    },
}

struct RawSkip {
    pad: bool,
    remaining: u64,
}

enum Parsed {
    Op(Op, usize),
    Need,
    /// A length-prefixed argument too long to buffer: skip it after `header` bytes.
    Skip {
        code: u8,
        header: usize,
        len: u64,
    },
}

struct SkipState {
    code: u8,
    offset: u64,
    remaining: u64,
    prefix: Vec<u8>,
}

/// Incremental tokenizer. Feed bytes with [`Tokenizer::feed`]; it calls back for each opcode.
pub struct Tokenizer {
    pending: Vec<u8>,
    /// File offset of the next byte not yet turned into an opcode.
    offset: u64,
    skip: Option<SkipState>,
    raw: Option<RawSkip>,
}

impl Tokenizer {
    /// A tokenizer whose first byte is at file offset `offset`.
    pub fn new(offset: u64) -> Tokenizer {
        Tokenizer {
            pending: Vec::new(),
            offset,
            skip: None,
            raw: None,
        }
    }

    /// Apply the callback's answer; true if the feed must return `Stop`.
    fn obey(&mut self, c: Control) -> bool {
        match c {
            Control::Stop => true,
            Control::Continue => false,
            Control::Raw { len, padded } => {
                self.raw = Some(RawSkip {
                    pad: padded,
                    remaining: len,
                });
                false
            }
        }
    }

    /// Whether an opcode is only partly seen.
    pub fn mid_op(&self) -> bool {
        !self.pending.is_empty() || self.skip.is_some() || self.raw.is_some()
    }

    /// File offset of the next byte to tokenize.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Feed `data`; `f` is called for each complete opcode, in order.
    pub fn feed(
        &mut self,
        mut data: &[u8],
        f: &mut dyn FnMut(Op) -> Control,
    ) -> Result<Control, OpError> {
        loop {
            if let Some(r) = self.raw.as_mut() {
                let from_pending = !self.pending.is_empty();
                let src: &[u8] = if from_pending { &self.pending } else { data };
                if src.is_empty() {
                    return Ok(Control::Continue);
                }
                let take = if r.pad {
                    r.pad = false;
                    r.remaining += u64::from(src[0]);
                    1
                } else {
                    let t = r.remaining.min(src.len() as u64) as usize;
                    r.remaining -= t as u64;
                    t
                };
                if !r.pad && r.remaining == 0 {
                    self.raw = None;
                }
                self.offset += take as u64;
                if from_pending {
                    self.pending.drain(..take);
                } else {
                    data = &data[take..];
                }
                continue;
            }
            if let Some(s) = self.skip.as_mut() {
                let from_pending = !self.pending.is_empty();
                let avail = if from_pending {
                    self.pending.len()
                } else {
                    data.len()
                };
                if avail == 0 {
                    return Ok(Control::Continue);
                }
                let take = s.remaining.min(avail as u64) as usize;
                let src = if from_pending {
                    &self.pending[..take]
                } else {
                    &data[..take]
                };
                let room = CAPTURE.saturating_sub(s.prefix.len()).min(take);
                s.prefix.extend_from_slice(&src[..room]);
                s.remaining -= take as u64;
                self.offset += take as u64;
                if from_pending {
                    self.pending.drain(..take);
                } else {
                    data = &data[take..];
                }
                if s.remaining == 0 {
                    if let Some(s) = self.skip.take() {
                        let op = Op {
                            code: s.code,
                            arg: long_arg(s.code, s.prefix),
                            offset: s.offset,
                        };
                        let c = f(op);
                        if self.obey(c) {
                            return Ok(Control::Stop);
                        }
                    }
                }
                continue;
            }
            if !self.pending.is_empty() {
                match parse_one(&self.pending, self.offset)? {
                    Parsed::Need => {
                        if data.is_empty() {
                            return Ok(Control::Continue);
                        }
                        let n = data.len().min(4096);
                        self.pending.extend_from_slice(&data[..n]);
                        data = &data[n..];
                    }
                    Parsed::Op(op, used) => {
                        self.pending.drain(..used);
                        self.offset += used as u64;
                        let c = f(op);
                        if self.obey(c) {
                            return Ok(Control::Stop);
                        }
                    }
                    Parsed::Skip { code, header, len } => {
                        self.pending.drain(..header);
                        self.start_skip(code, header, len);
                    }
                }
                continue;
            }
            if data.is_empty() {
                return Ok(Control::Continue);
            }
            let mut pos = 0usize;
            while pos < data.len() {
                match parse_one(&data[pos..], self.offset)? {
                    Parsed::Op(op, used) => {
                        pos += used;
                        self.offset += used as u64;
                        let c = f(op);
                        if self.obey(c) {
                            return Ok(Control::Stop);
                        }
                        if self.raw.is_some() {
                            break;
                        }
                    }
                    Parsed::Need => {
                        self.pending.extend_from_slice(&data[pos..]);
                        return Ok(Control::Continue);
                    }
                    Parsed::Skip { code, header, len } => {
                        pos += header;
                        self.start_skip(code, header, len);
                        break;
                    }
                }
            }
            data = &data[pos..];
        }
    }

    fn start_skip(&mut self, code: u8, header: usize, len: u64) {
        let at = self.offset;
        self.offset += header as u64;
        self.skip = Some(SkipState {
            code,
            offset: at,
            remaining: len,
            prefix: Vec::new(),
        });
    }
}

fn long_arg(code: u8, prefix: Vec<u8>) -> Arg {
    match code {
        b'X' | 0x8c | 0x8d => Arg::Text(Arc::from(String::from_utf8_lossy(&prefix).as_ref())),
        _ => Arg::Bytes(Arc::from(prefix)),
    }
}

fn err(offset: u64, msg: impl Into<String>) -> OpError {
    OpError {
        offset,
        msg: msg.into(),
        limit: false,
    }
}

fn limit_err(offset: u64, msg: impl Into<String>) -> OpError {
    OpError {
        limit: true,
        ..err(offset, msg)
    }
}

fn le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x))
}

fn parse_one(buf: &[u8], offset: u64) -> Result<Parsed, OpError> {
    let Some(&code) = buf.first() else {
        return Ok(Parsed::Need);
    };
    let b = &buf[1..];
    let fixed = |n: usize| -> Option<&[u8]> { b.get(..n) };
    let op = |arg: Arg, used: usize| Ok(Parsed::Op(Op { code, arg, offset }, used));
    macro_rules! need {
        ($n:expr) => {
            match fixed($n) {
                Some(x) => x,
                None => return Ok(Parsed::Need),
            }
        };
    }
    match code {
        b'('
        | b'.'
        | b'0'
        | b'1'
        | b'2'
        | b'N'
        | b'R'
        | b'a'
        | b'b'
        | b'd'
        | b'e'
        | b'l'
        | b'o'
        | b's'
        | b't'
        | b'u'
        | b'}'
        | b']'
        | b')'
        | b'Q'
        | 0x81
        | 0x85..=0x89
        | 0x8f..=0x94
        | 0x97
        | 0x98 => op(Arg::None, 1),
        0x80 => op(Arg::Index(u64::from(need!(1)[0])), 2),
        0x95 => op(Arg::Index(le(need!(8))), 9),
        b'J' => {
            let x = need!(4);
            op(
                Arg::Int(i64::from(i32::from_le_bytes([x[0], x[1], x[2], x[3]]))),
                5,
            )
        }
        b'K' => op(Arg::Int(i64::from(need!(1)[0])), 2),
        b'M' => op(Arg::Int(le(need!(2)) as i64), 3),
        b'G' => {
            let x = need!(8);
            let mut a = [0u8; 8];
            a.copy_from_slice(x);
            op(Arg::Float, 9)
        }
        b'h' | b'q' | 0x82 => op(Arg::Index(u64::from(need!(1)[0])), 2),
        0x83 => op(Arg::Index(le(need!(2))), 3),
        b'j' | b'r' | 0x84 => op(Arg::Index(le(need!(4))), 5),
        0x8a | 0x8b => {
            let w = if code == 0x8a { 1 } else { 4 };
            let n = le(need!(w));
            if code == 0x8b && n > i32::MAX as u64 {
                return Err(err(offset, "LONG4 with a negative length"));
            }
            if n > MAX_LONG {
                return Err(err(
                    offset,
                    format!("integer of {n} bytes exceeds the {MAX_LONG}-byte limit"),
                ));
            }
            let x = need!(w + n as usize);
            let v = &x[w..];
            if n <= 8 {
                let mut a = [0u8; 8];
                a[..v.len()].copy_from_slice(v);
                if v.last().is_some_and(|&l| l & 0x80 != 0) {
                    for y in a.iter_mut().skip(v.len()) {
                        *y = 0xff;
                    }
                }
                op(Arg::Int(i64::from_le_bytes(a)), 1 + w + n as usize)
            } else {
                op(Arg::Big(Arc::from(v)), 1 + w + n as usize)
            }
        }
        b'T' | b'U' | b'X' | 0x8c | 0x8d | b'B' | b'C' | 0x8e | 0x96 => {
            let w = match code {
                b'U' | b'C' | 0x8c => 1,
                b'T' | b'X' | b'B' => 4,
                _ => 8,
            };
            let n = le(need!(w));
            if code == b'T' && n > i32::MAX as u64 {
                return Err(err(offset, "BINSTRING with a negative length"));
            }
            if n > INLINE_MAX {
                return Ok(Parsed::Skip {
                    code,
                    header: 1 + w,
                    len: n,
                });
            }
            let x = need!(w + n as usize);
            let v = &x[w..];
            let arg = match code {
                b'X' | 0x8c | 0x8d => match std::str::from_utf8(v) {
                    Ok(s) => Arg::Text(Arc::from(s)),
                    Err(_) => return Err(err(offset, "unicode string is not valid UTF-8")),
                },
                b'T' | b'U' => Arg::Text(Arc::from(String::from_utf8_lossy(v).as_ref())),
                _ => Arg::Bytes(Arc::from(v)),
            };
            op(arg, 1 + w + n as usize)
        }
        b'I' | b'L' | b'F' | b'S' | b'V' | b'P' | b'p' | b'g' => {
            let Some(nl) = b.iter().take(MAX_LINE + 1).position(|&c| c == b'\n') else {
                return if b.len() > MAX_LINE {
                    Err(limit_err(offset, "text argument line too long"))
                } else {
                    Ok(Parsed::Need)
                };
            };
            let line = &b[..nl];
            let used = nl + 2;
            let arg = text_arg(code, line).ok_or_else(|| {
                err(
                    offset,
                    format!("bad argument for opcode {:?}", code as char),
                )
            })?;
            op(arg, used)
        }
        b'c' | b'i' => {
            let Some(n1) = b.iter().take(MAX_LINE + 1).position(|&c| c == b'\n') else {
                return if b.len() > MAX_LINE {
                    Err(limit_err(offset, "global name line too long"))
                } else {
                    Ok(Parsed::Need)
                };
            };
            let rest = &b[n1 + 1..];
            let Some(n2) = rest.iter().take(MAX_LINE + 1).position(|&c| c == b'\n') else {
                return if rest.len() > MAX_LINE {
                    Err(limit_err(offset, "global name line too long"))
                } else {
                    Ok(Parsed::Need)
                };
            };
            let m = String::from_utf8_lossy(&b[..n1]);
            let n = String::from_utf8_lossy(&rest[..n2]);
            op(
                Arg::Pair(Arc::from(m.as_ref()), Arc::from(n.as_ref())),
                n1 + n2 + 3,
            )
        }
        other => Err(err(offset, format!("unknown opcode 0x{other:02x}"))),
    }
}

fn text_arg(code: u8, line: &[u8]) -> Option<Arg> {
    let s = std::str::from_utf8(line).ok();
    match code {
        b'I' => {
            let s = s?.trim();
            match s {
                "00" => Some(Arg::Int(0)),
                "01" => Some(Arg::Int(1)),
                _ => int_text(s),
            }
        }
        b'L' => int_text(s?.trim().trim_end_matches('L')),
        b'F' => s?.trim().parse::<f64>().ok().map(|_| Arg::Float),
        b'p' | b'g' => s?.trim().parse::<u64>().ok().map(Arg::Index),
        b'P' => Some(Arg::Text(Arc::from(String::from_utf8_lossy(line).as_ref()))),
        b'S' => py_string(line).map(|v| Arg::Text(Arc::from(String::from_utf8_lossy(&v).as_ref()))),
        b'V' => Some(Arg::Text(Arc::from(raw_unicode_escape(line).as_str()))),
        _ => None,
    }
}

fn int_text(s: &str) -> Option<Arg> {
    if let Ok(v) = s.parse::<i64>() {
        return Some(Arg::Int(v));
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    (!digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()))
        .then(|| Arg::Big(Arc::from(s.as_bytes())))
}

/// Decode a protocol-0 `STRING` argument: a quoted Python literal with escapes.
fn py_string(line: &[u8]) -> Option<Vec<u8>> {
    let q = *line.first()?;
    if !(q == b'\'' || q == b'"') || line.len() < 2 || *line.last()? != q {
        return None;
    }
    let body = &line[1..line.len() - 1];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let e = *body.get(i + 1)?;
        i += 2;
        match e {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'x' => {
                let h = std::str::from_utf8(body.get(i..i + 2)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut k = 0;
                while k < 2 && i < body.len() && (b'0'..=b'7').contains(&body[i]) {
                    v = v * 8 + u32::from(body[i] - b'0');
                    i += 1;
                    k += 1;
                }
                out.push((v & 0xff) as u8);
            }
            other => {
                if !matches!(other, b'\\' | b'\'' | b'"') {
                    out.push(b'\\');
                }
                out.push(other);
            }
        }
    }
    Some(out)
}

/// Decode `raw-unicode-escape` text (protocol-0 `UNICODE`).
fn raw_unicode_escape(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line);
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() && (b[i + 1] == b'u' || b[i + 1] == b'U') {
            let w = if b[i + 1] == b'u' { 4 } else { 8 };
            if let Some(ch) = b
                .get(i + 2..i + 2 + w)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
            {
                out.push(ch);
                i += 2 + w;
                continue;
            }
        }
        // Copy one UTF-8 character.
        let ch_len = s[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&s[i..i + ch_len]);
        i += ch_len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_ops(data: &[u8], chunk: usize) -> Result<Vec<(u8, u64)>, OpError> {
        let mut t = Tokenizer::new(0);
        let mut v = Vec::new();
        for c in data.chunks(chunk.max(1)) {
            t.feed(c, &mut |op| {
                v.push((op.code, op.offset));
                Control::Continue
            })?;
        }
        Ok(v)
    }

    #[test]
    fn same_ops_whatever_the_chunking() {
        let p = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x93(S'ls -l'\ntR.";
        let whole = all_ops(p, p.len()).unwrap();
        for n in 1..8 {
            assert_eq!(all_ops(p, n).unwrap(), whole);
        }
        assert_eq!(whole.last().map(|x| x.0), Some(b'.'));
    }

    #[test]
    fn long_bytes_are_skipped_with_prefix() {
        let mut p = vec![0x8e];
        let n: u64 = INLINE_MAX + 10;
        p.extend_from_slice(&n.to_le_bytes());
        p.extend(std::iter::repeat_n(b'A', n as usize));
        p.push(b'.');
        let mut t = Tokenizer::new(0);
        let mut got = Vec::new();
        for c in p.chunks(100_000) {
            t.feed(c, &mut |op| {
                got.push(op);
                Control::Continue
            })
            .unwrap();
        }
        assert_eq!(got.len(), 2);
        match &got[0].arg {
            Arg::Bytes(b) => assert_eq!(b.len(), CAPTURE),
            other => panic!("{other:?}"),
        }
        assert_eq!(got[1].offset, 9 + n);
    }

    #[test]
    fn escapes_and_errors() {
        assert_eq!(py_string(b"'a\\x41\\n\\''").unwrap(), b"aA\n'");
        assert_eq!(raw_unicode_escape(b"\\u0041b"), "Ab");
        assert!(all_ops(b"\xff", 1).is_err());
        assert!(all_ops(&[0x8b, 0xff, 0xff, 0xff, 0xff], 1).is_err());
    }
}
