//! Parquet value encodings, decoded with bounds and only as far as the inspection needs:
//! the RLE/bit-packing hybrid (levels and dictionary indices), the deprecated BIT_PACKED
//! levels, DELTA_BINARY_PACKED (the lengths of the delta byte-array encodings), and the
//! byte-array layouts (PLAIN, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY, BYTE_STREAM_SPLIT).
//! Numbers are never turned back into values: only byte arrays carry text.

/// Encodings (`Encoding`) whose pages are read here (RLE = 3 and DELTA_BINARY_PACKED = 5
/// appear only inside them).
pub const PLAIN: i32 = 0;
pub const PLAIN_DICTIONARY: i32 = 2;
pub const BIT_PACKED: i32 = 4;
pub const DELTA_LENGTH_BYTE_ARRAY: i32 = 6;
pub const DELTA_BYTE_ARRAY: i32 = 7;
pub const RLE_DICTIONARY: i32 = 8;
pub const BYTE_STREAM_SPLIT: i32 = 9;

/// Most values of one page listed (lengths, prefixes) or walked to place a finding in its
/// row; a page with more has its findings placed at the page instead.
pub const MAX_VALUES: u64 = 1 << 22;
/// Largest DELTA_BINARY_PACKED block, in values (writers use 128 or 256).
const MAX_BLOCK: u64 = 1 << 16;

/// Why encoded bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodingError {
    #[error("the encoded data ends early")]
    Eof,
    #[error("a variable-length integer is too long")]
    Varint,
    #[error("{0}")]
    Invalid(&'static str),
    #[error("{0} values in one page (at most {MAX_VALUES} are decoded)")]
    TooMany(u64),
    #[error("the values decode to more than {0} bytes")]
    TooLarge(u64),
}

type Result<T> = std::result::Result<T, EncodingError>;

fn uleb(buf: &[u8], pos: &mut usize) -> Result<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let b = *buf.get(*pos).ok_or(EncodingError::Eof)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(EncodingError::Varint)
}

fn zigzag(buf: &[u8], pos: &mut usize) -> Result<i64> {
    let v = uleb(buf, pos)?;
    Ok((v >> 1) as i64 ^ -((v & 1) as i64))
}

/// Bits needed for values up to `max`.
pub fn bit_width(max: u64) -> u8 {
    (64 - max.leading_zeros()) as u8
}

/// Value `i` of values packed `width` bits each, least significant bit first.
fn packed_lsb(bytes: &[u8], width: u8, i: u64) -> u64 {
    let mut v = 0u64;
    let start = i * u64::from(width);
    for b in 0..u64::from(width) {
        let bit = start + b;
        let byte = bytes.get((bit / 8) as usize).copied().unwrap_or(0);
        v |= u64::from((byte >> (bit % 8)) & 1) << b;
    }
    v
}

/// Value `i` of values packed `width` bits each, most significant bit first (BIT_PACKED).
fn packed_msb(bytes: &[u8], width: u8, i: u64) -> u64 {
    let mut v = 0u64;
    let start = i * u64::from(width);
    for b in 0..u64::from(width) {
        let bit = start + b;
        let byte = bytes.get((bit / 8) as usize).copied().unwrap_or(0);
        v = (v << 1) | u64::from((byte >> (7 - bit % 8)) & 1);
    }
    v
}

/// A stream of levels or dictionary indices: `n` values in the RLE/bit-packing hybrid or
/// the deprecated BIT_PACKED layout. Yields at most `n` values whatever the runs declare.
pub struct Levels<'a> {
    buf: &'a [u8],
    pos: usize,
    width: u8,
    legacy: bool,
    /// Values left to yield.
    left: u64,
    run: Run<'a>,
    /// Index of the next value overall (BIT_PACKED).
    at: u64,
}

#[derive(Clone, Copy)]
enum Run<'a> {
    None,
    Repeat {
        value: u64,
        left: u64,
    },
    Packed {
        bytes: &'a [u8],
        next: u64,
        end: u64,
    },
}

impl<'a> Levels<'a> {
    /// `n` values of `width` bits in the hybrid encoding (no length prefix).
    pub fn hybrid(buf: &'a [u8], width: u8, n: u64) -> Result<Levels<'a>> {
        if width > 32 {
            return Err(EncodingError::Invalid("bit width over 32"));
        }
        Ok(Levels {
            buf,
            pos: 0,
            width,
            legacy: false,
            left: n,
            run: Run::None,
            at: 0,
        })
    }

    /// `n` values of `width` bits in the deprecated BIT_PACKED layout.
    pub fn legacy(buf: &'a [u8], width: u8, n: u64) -> Result<Levels<'a>> {
        let need = (n * u64::from(width)).div_ceil(8);
        if need > buf.len() as u64 {
            return Err(EncodingError::Eof);
        }
        Ok(Levels {
            buf,
            pos: 0,
            width,
            legacy: true,
            left: n,
            run: Run::None,
            at: 0,
        })
    }

    /// Bytes of a BIT_PACKED block of `n` values.
    pub fn legacy_len(width: u8, n: u64) -> u64 {
        (n * u64::from(width)).div_ceil(8)
    }

    fn next_run(&mut self) -> Result<()> {
        let header = uleb(self.buf, &mut self.pos)?;
        if header & 1 == 1 {
            let groups = header >> 1;
            let count = groups
                .checked_mul(8)
                .ok_or(EncodingError::Invalid("bit-packed run too long"))?;
            let len = groups
                .checked_mul(u64::from(self.width))
                .ok_or(EncodingError::Invalid("bit-packed run too long"))?;
            // the run's bytes must be there: a run cannot claim values it does not store
            let len = usize::try_from(len).map_err(|_| EncodingError::Eof)?;
            let end = self.pos.checked_add(len).ok_or(EncodingError::Eof)?;
            let bytes = self.buf.get(self.pos..end).ok_or(EncodingError::Eof)?;
            self.pos = end;
            if count == 0 {
                return Err(EncodingError::Invalid("empty bit-packed run"));
            }
            if self.width == 0 {
                // zero-width values are all 0: a run of them is a repeat
                self.run = Run::Repeat {
                    value: 0,
                    left: count,
                };
                return Ok(());
            }
            self.run = Run::Packed {
                bytes,
                next: 0,
                end: count,
            };
        } else {
            let count = header >> 1;
            if count == 0 {
                return Err(EncodingError::Invalid("empty RLE run"));
            }
            let nbytes = usize::from(self.width).div_ceil(8);
            let end = self.pos.checked_add(nbytes).ok_or(EncodingError::Eof)?;
            let bytes = self.buf.get(self.pos..end).ok_or(EncodingError::Eof)?;
            self.pos = end;
            let mut v = 0u64;
            for (i, b) in bytes.iter().enumerate() {
                v |= u64::from(*b) << (8 * i);
            }
            self.run = Run::Repeat {
                value: v,
                left: count,
            };
        }
        Ok(())
    }

    /// The next value, or `None` after `n`.
    pub fn next_value(&mut self) -> Result<Option<u64>> {
        if self.left == 0 {
            return Ok(None);
        }
        if self.legacy {
            let v = packed_msb(self.buf, self.width, self.at);
            self.at += 1;
            self.left -= 1;
            return Ok(Some(v));
        }
        loop {
            match &mut self.run {
                Run::Repeat { value, left } if *left > 0 => {
                    *left -= 1;
                    self.left -= 1;
                    return Ok(Some(*value));
                }
                Run::Packed { bytes, next, end } if *next < *end => {
                    let v = packed_lsb(bytes, self.width, *next);
                    *next += 1;
                    self.left -= 1;
                    return Ok(Some(v));
                }
                _ => self.next_run()?,
            }
        }
    }

    /// Consume up to `n` values, counting those equal to `value`; a long RLE run is
    /// counted without visiting each of its values. Returns (consumed, matching).
    pub fn count(&mut self, n: u64, value: u64) -> Result<(u64, u64)> {
        let mut done = 0u64;
        let mut hits = 0u64;
        while done < n && self.left > 0 {
            if let Run::Repeat { value: v, left } = &mut self.run {
                if *left > 0 {
                    let k = (*left).min(n - done).min(self.left);
                    *left -= k;
                    self.left -= k;
                    done += k;
                    if *v == value {
                        hits += k;
                    }
                    continue;
                }
            }
            match self.next_value()? {
                Some(v) => {
                    done += 1;
                    if v == value {
                        hits += 1;
                    }
                }
                None => break,
            }
        }
        Ok((done, hits))
    }
}

/// A DELTA_BINARY_PACKED block of integers at the start of `buf`, at most `max` of them.
/// Returns the values and the bytes the block takes.
pub fn delta_binary_packed(buf: &[u8], max: u64) -> Result<(Vec<i64>, usize)> {
    let mut pos = 0usize;
    let block = uleb(buf, &mut pos)?;
    let minis = uleb(buf, &mut pos)?;
    let total = uleb(buf, &mut pos)?;
    let first = zigzag(buf, &mut pos)?;
    if block == 0 || block % 128 != 0 || block > MAX_BLOCK {
        return Err(EncodingError::Invalid("DELTA_BINARY_PACKED block size"));
    }
    if minis == 0 || block % minis != 0 || (block / minis) % 32 != 0 {
        return Err(EncodingError::Invalid(
            "DELTA_BINARY_PACKED miniblock count",
        ));
    }
    if total > max.min(MAX_VALUES) {
        return Err(EncodingError::TooMany(total));
    }
    let per_mini = block / minis;
    let mut out = Vec::with_capacity(total as usize);
    if total == 0 {
        return Ok((out, pos));
    }
    out.push(first);
    let mut last = first;
    while (out.len() as u64) < total {
        let min_delta = zigzag(buf, &mut pos)?;
        let widths_end = pos.checked_add(minis as usize).ok_or(EncodingError::Eof)?;
        let widths = buf.get(pos..widths_end).ok_or(EncodingError::Eof)?;
        pos = widths_end;
        for &w in widths {
            if out.len() as u64 >= total {
                break;
            }
            if w > 64 {
                return Err(EncodingError::Invalid(
                    "DELTA_BINARY_PACKED bit width over 64",
                ));
            }
            let len = (per_mini * u64::from(w) / 8) as usize;
            let end = pos.checked_add(len).ok_or(EncodingError::Eof)?;
            let bytes = buf.get(pos..end).ok_or(EncodingError::Eof)?;
            pos = end;
            for i in 0..per_mini {
                if out.len() as u64 >= total {
                    break;
                }
                let d = packed_lsb(bytes, w, i);
                last = last.wrapping_add(min_delta).wrapping_add(d as i64);
                out.push(last);
            }
        }
    }
    Ok((out, pos))
}

/// Byte-array values laid out where they lie: (start, end) in the page buffer.
pub fn plain_byte_arrays(buf: &[u8], from: usize, max: u64) -> Result<Vec<(usize, usize)>> {
    let mut out = Vec::new();
    let mut pos = from;
    while pos < buf.len() {
        if out.len() as u64 >= max.min(MAX_VALUES) {
            break;
        }
        let l = buf.get(pos..pos + 4).ok_or(EncodingError::Eof)?;
        let n = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
        let start = pos + 4;
        let end = start.checked_add(n).ok_or(EncodingError::Eof)?;
        if end > buf.len() {
            return Err(EncodingError::Eof);
        }
        out.push((start, end));
        pos = end;
    }
    Ok(out)
}

fn lengths(v: &[i64]) -> Result<Vec<usize>> {
    v.iter()
        .map(|&n| usize::try_from(n).map_err(|_| EncodingError::Invalid("negative length")))
        .collect()
}

/// DELTA_LENGTH_BYTE_ARRAY values from `buf[from..]`: (start, end) of each in `buf`.
pub fn delta_length_byte_arrays(buf: &[u8], from: usize, max: u64) -> Result<Vec<(usize, usize)>> {
    let rest = buf.get(from..).ok_or(EncodingError::Eof)?;
    let (lens, used) = delta_binary_packed(rest, max)?;
    let mut pos = from + used;
    let mut out = Vec::with_capacity(lens.len());
    for n in lengths(&lens)? {
        let end = pos.checked_add(n).ok_or(EncodingError::Eof)?;
        if end > buf.len() {
            return Err(EncodingError::Eof);
        }
        out.push((pos, end));
        pos = end;
    }
    Ok(out)
}

pub use crate::inspect::datasets::cell::Apart as Rebuilt;

/// DELTA_BYTE_ARRAY values from `buf[from..]` (prefix lengths, suffix lengths, suffixes),
/// rebuilt within `max_bytes` (front coding can make many long values out of few bytes).
pub fn delta_byte_arrays(buf: &[u8], from: usize, max: u64, max_bytes: u64) -> Result<Rebuilt> {
    let rest = buf.get(from..).ok_or(EncodingError::Eof)?;
    let (prefixes, used) = delta_binary_packed(rest, max)?;
    let prefixes = lengths(&prefixes)?;
    let suffixes = delta_length_byte_arrays(buf, from + used, max)?;
    if suffixes.len() != prefixes.len() {
        return Err(EncodingError::Invalid(
            "DELTA_BYTE_ARRAY prefix and suffix counts differ",
        ));
    }
    let total: u64 = prefixes
        .iter()
        .zip(&suffixes)
        .map(|(p, (s, e))| (*p + (e - s) + 1) as u64)
        .sum();
    if total > max_bytes {
        return Err(EncodingError::TooLarge(max_bytes));
    }
    let mut out = Rebuilt {
        bytes: Vec::with_capacity(total as usize),
        ranges: Vec::with_capacity(prefixes.len()),
    };
    let mut prev: (usize, usize) = (0, 0);
    for (p, (s, e)) in prefixes.iter().zip(suffixes) {
        if *p > prev.1 - prev.0 {
            return Err(EncodingError::Invalid(
                "DELTA_BYTE_ARRAY prefix longer than the previous value",
            ));
        }
        let (ps, pe) = (prev.0, prev.0 + p);
        let start = out.bytes.len();
        out.bytes.extend_from_within(ps..pe);
        out.bytes.extend_from_slice(&buf[s..e]);
        out.ranges.push((start, out.bytes.len()));
        out.bytes.push(0);
        prev = (start, out.bytes.len() - 1);
    }
    Ok(out)
}

/// FIXED_LEN_BYTE_ARRAY values of `width` bytes in BYTE_STREAM_SPLIT order, put back
/// together.
pub fn byte_stream_split(data: &[u8], width: usize) -> Result<Rebuilt> {
    if width == 0 || data.len() % width != 0 {
        return Err(EncodingError::Invalid(
            "BYTE_STREAM_SPLIT data is not a whole number of values",
        ));
    }
    let n = data.len() / width;
    let mut out = Rebuilt {
        bytes: Vec::with_capacity(n * (width + 1)),
        ranges: Vec::with_capacity(n),
    };
    let mut value = vec![0u8; width];
    for i in 0..n {
        for (j, b) in value.iter_mut().enumerate() {
            *b = data[j * n + i];
        }
        out.push([&value[..], &[]]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_runs_and_counting() {
        // RLE run of 5 x 1 (width 1), then a bit-packed group of 8: 1,0,1,0,1,0,1,0
        let buf = [5 << 1, 1, (1 << 1) | 1, 0b0101_0101];
        let mut l = Levels::hybrid(&buf, 1, 13).expect("levels");
        let mut all = Vec::new();
        while let Some(v) = l.next_value().expect("value") {
            all.push(v);
        }
        assert_eq!(all, vec![1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 1, 0]);
        let mut l = Levels::hybrid(&buf, 1, 13).expect("levels");
        assert_eq!(l.count(7, 0).expect("count"), (7, 1));
        assert_eq!(l.count(100, 1).expect("count"), (6, 3));
        // a run declaring 2^40 values yields no more than n
        let huge = [0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 3];
        let mut l = Levels::hybrid(&huge, 2, 10).expect("levels");
        assert_eq!(l.count(u64::MAX, 3).expect("count"), (10, 10));
        // a bit-packed run claiming 2^40 values it does not store is an error, not a loop
        let lying = [0x81, 0x80, 0x80, 0x80, 0x80, 0x40, 0xff];
        let mut l = Levels::hybrid(&lying, 1, u64::MAX).expect("levels");
        assert_eq!(l.count(u64::MAX, 0), Err(EncodingError::Eof));
        // the deprecated layout: 0..=7 in 3 bits, most significant bit first
        let legacy = [0b0000_0101, 0b0011_1001, 0b0111_0111];
        let mut l = Levels::legacy(&legacy, 3, 8).expect("legacy");
        let mut all = Vec::new();
        while let Some(v) = l.next_value().expect("value") {
            all.push(v);
        }
        assert_eq!(all, (0..8).collect::<Vec<u64>>());
    }

    #[test]
    fn delta_binary_packed_from_the_spec_examples() {
        // Example 2 of Encodings.md with a block of 128 values, 4 miniblocks of 32: deltas
        // -2,-2,-2,1,1,1,1 -> min -2, relative 0,0,0,3,3,3,3 in 2 bits
        let mut b = vec![0x80, 0x01, 4, 8, 14]; // block 128, 4 minis, 8 values, first 7
        b.push(3); // min delta -2 (zigzag 3)
        b.extend_from_slice(&[2, 0, 0, 0]); // widths
        let mut mini = vec![0u8; 32 * 2 / 8];
        mini[0] = 0b1100_0000; // values 0,0,0,3
        mini[1] = 0b1111_1111; // 3,3,3,3 (the last one padding)
        b.extend_from_slice(&mini);
        let (v, used) = delta_binary_packed(&b, 100).expect("decode");
        assert_eq!(v, vec![7, 5, 3, 1, 2, 3, 4, 5]);
        assert_eq!(used, b.len());
        assert_eq!(
            delta_binary_packed(&b, 7),
            Err(EncodingError::TooMany(8)),
            "more values than the page holds"
        );
        assert!(delta_binary_packed(&b[..b.len() - 1], 100).is_err());
    }

    #[test]
    fn byte_array_layouts() {
        // "axis", "axle", "babble", "babyhood" front-coded
        let prefix = enc(&[0, 2, 0, 3]);
        let suffix = enc(&[4, 2, 6, 5]);
        let mut page = vec![9u8; 3]; // bytes before the values (levels)
        page.extend_from_slice(&prefix);
        page.extend_from_slice(&suffix);
        page.extend_from_slice(b"axislebabbleyhood");
        let r = delta_byte_arrays(&page, 3, 10, 1 << 20).expect("rebuild");
        let vals: Vec<&[u8]> = r.ranges.iter().map(|&(s, e)| &r.bytes[s..e]).collect();
        assert_eq!(vals, vec![&b"axis"[..], b"axle", b"babble", b"babyhood"]);
        assert!(matches!(
            delta_byte_arrays(&page, 3, 10, 20),
            Err(EncodingError::TooLarge(20))
        ));
        let s = byte_stream_split(b"AaBbCc", 3).expect("bss");
        assert_eq!(&s.bytes, b"ABC\0abc\0");
        let mut plain = Vec::new();
        for v in [&b"hi"[..], b"", b"there"] {
            plain.extend_from_slice(&(v.len() as u32).to_le_bytes());
            plain.extend_from_slice(v);
        }
        assert_eq!(
            plain_byte_arrays(&plain, 0, 10).expect("plain"),
            vec![(4, 6), (10, 10), (14, 19)]
        );
        plain.push(1);
        assert!(plain_byte_arrays(&plain, 0, 10).is_err());
    }

    /// DELTA_BINARY_PACKED of small non-negative values: block 128, 1 miniblock, 8 bits.
    fn enc(v: &[i64]) -> Vec<u8> {
        let mut b = vec![0x80, 0x01, 1, v.len() as u8, (v[0] * 2) as u8];
        let deltas: Vec<i64> = v.windows(2).map(|w| w[1] - w[0]).collect();
        let min = deltas.iter().copied().min().unwrap_or(0);
        b.push(((min << 1) ^ (min >> 63)) as u8);
        b.push(8);
        let mut mini = vec![0u8; 128];
        for (i, d) in deltas.iter().enumerate() {
            mini[i] = (d - min) as u8;
        }
        b.extend_from_slice(&mini);
        b
    }
}
