//! The Thrift compact protocol, read with bounds: Parquet page headers, and a structural walk
//! of the footer (list sizes, nesting depth, the encryption field) before the `parquet`
//! crate parses it.

/// Deepest nesting of structs, lists and maps walked.
const MAX_DEPTH: u32 = 32;
/// Most elements one list, set or map may declare (the crate reserves memory for them).
pub const MAX_LIST: u64 = 1 << 20;

const STOP: u8 = 0;
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;
const UUID: u8 = 13;

/// Why Thrift bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThriftError {
    #[error("ends in the middle of a value")]
    Eof,
    #[error("a variable-length integer is too long")]
    Varint,
    #[error("nested deeper than {MAX_DEPTH} levels")]
    Depth,
    #[error("a list declares {0} elements (at most {MAX_LIST} are read)")]
    List(u64),
    #[error("unknown Thrift type {0}")]
    Type(u8),
    #[error("required field {0} is missing")]
    Missing(&'static str),
    #[error("field {0} is out of range")]
    Range(&'static str),
}

type Result<T> = std::result::Result<T, ThriftError>;

/// A cursor over compact-protocol bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// Bytes read so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self.buf.get(self.pos).ok_or(ThriftError::Eof)?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        let n = usize::try_from(n).map_err(|_| ThriftError::Eof)?;
        let end = self.pos.checked_add(n).ok_or(ThriftError::Eof)?;
        let s = self.buf.get(self.pos..end).ok_or(ThriftError::Eof)?;
        self.pos = end;
        Ok(s)
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(ThriftError::Varint)
    }

    fn zigzag(&mut self) -> Result<i64> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn i32(&mut self, what: &'static str) -> Result<i32> {
        i32::try_from(self.zigzag()?).map_err(|_| ThriftError::Range(what))
    }

    /// The next field header of a struct: `None` at its end. `last` is the previous field id.
    fn field(&mut self, last: &mut i16) -> Result<Option<(i16, u8)>> {
        let b = self.byte()?;
        if b == STOP {
            return Ok(None);
        }
        let ty = b & 0x0f;
        let delta = b >> 4;
        let id = if delta == 0 {
            i16::try_from(self.zigzag()?).map_err(|_| ThriftError::Range("field id"))?
        } else {
            last.wrapping_add(i16::from(delta))
        };
        *last = id;
        Ok(Some((id, ty)))
    }

    fn list_header(&mut self) -> Result<(u64, u8)> {
        let b = self.byte()?;
        let n = if b >> 4 == 15 {
            self.varint()?
        } else {
            u64::from(b >> 4)
        };
        if n > MAX_LIST {
            return Err(ThriftError::List(n));
        }
        Ok((n, b & 0x0f))
    }

    /// Skip one value of type `ty`.
    pub fn skip(&mut self, ty: u8, depth: u32) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(ThriftError::Depth);
        }
        match ty {
            TRUE | FALSE => Ok(()),
            BYTE => self.byte().map(|_| ()),
            I16 | I32 | I64 => self.varint().map(|_| ()),
            DOUBLE => self.take(8).map(|_| ()),
            UUID => self.take(16).map(|_| ()),
            BINARY => {
                let n = self.varint()?;
                self.take(n).map(|_| ())
            }
            LIST | SET => {
                let (n, et) = self.list_header()?;
                for _ in 0..n {
                    self.element(et, depth + 1)?;
                }
                Ok(())
            }
            MAP => {
                let n = self.varint()?;
                if n > MAX_LIST {
                    return Err(ThriftError::List(n));
                }
                if n == 0 {
                    return Ok(());
                }
                let kv = self.byte()?;
                for _ in 0..n {
                    self.element(kv >> 4, depth + 1)?;
                    self.element(kv & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            STRUCT => {
                let mut last = 0;
                while let Some((_, t)) = self.field(&mut last)? {
                    self.skip(t, depth + 1)?;
                }
                Ok(())
            }
            t => Err(ThriftError::Type(t)),
        }
    }

    /// A list element: booleans take one byte each there.
    fn element(&mut self, ty: u8, depth: u32) -> Result<()> {
        if ty == TRUE || ty == FALSE {
            return self.byte().map(|_| ());
        }
        self.skip(ty, depth)
    }

    fn bool_field(&mut self, ty: u8) -> Result<bool> {
        match ty {
            TRUE => Ok(true),
            FALSE => Ok(false),
            t => Err(ThriftError::Type(t)),
        }
    }
}

/// Page types (`PageType`).
pub const DATA_PAGE: i32 = 0;
pub const INDEX_PAGE: i32 = 1;
pub const DICTIONARY_PAGE: i32 = 2;
pub const DATA_PAGE_V2: i32 = 3;

/// `DataPageHeader`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataV1 {
    pub num_values: i32,
    pub encoding: i32,
    pub def_encoding: i32,
    pub rep_encoding: i32,
}

/// `DictionaryPageHeader`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dict {
    pub num_values: i32,
    pub encoding: i32,
}

/// `DataPageHeaderV2`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataV2 {
    pub num_values: i32,
    pub num_nulls: i32,
    pub num_rows: i32,
    pub encoding: i32,
    pub def_len: i32,
    pub rep_len: i32,
    pub is_compressed: bool,
}

/// `PageHeader`, the fields a reader needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageHeader {
    pub kind: i32,
    pub uncompressed: i32,
    pub compressed: i32,
    pub v1: Option<DataV1>,
    pub dict: Option<Dict>,
    pub v2: Option<DataV2>,
}

/// Read a `PageHeader` from the start of `buf`; returns it and its length in bytes.
pub fn page_header(buf: &[u8]) -> Result<(PageHeader, usize)> {
    let mut r = Reader::new(buf);
    let mut h = PageHeader::default();
    let (mut kind, mut unc, mut comp) = (None, None, None);
    let mut last = 0;
    while let Some((id, ty)) = r.field(&mut last)? {
        match (id, ty) {
            (1, I32) => kind = Some(r.i32("page type")?),
            (2, I32) => unc = Some(r.i32("uncompressed_page_size")?),
            (3, I32) => comp = Some(r.i32("compressed_page_size")?),
            (5, STRUCT) => h.v1 = Some(data_v1(&mut r)?),
            (7, STRUCT) => h.dict = Some(dict(&mut r)?),
            (8, STRUCT) => h.v2 = Some(data_v2(&mut r)?),
            (_, t) => r.skip(t, 1)?,
        }
    }
    h.kind = kind.ok_or(ThriftError::Missing("PageHeader.type"))?;
    h.uncompressed = unc.ok_or(ThriftError::Missing("PageHeader.uncompressed_page_size"))?;
    h.compressed = comp.ok_or(ThriftError::Missing("PageHeader.compressed_page_size"))?;
    if h.uncompressed < 0 {
        return Err(ThriftError::Range("uncompressed_page_size"));
    }
    if h.compressed < 0 {
        return Err(ThriftError::Range("compressed_page_size"));
    }
    Ok((h, r.pos()))
}

fn data_v1(r: &mut Reader<'_>) -> Result<DataV1> {
    let mut d = DataV1::default();
    let mut last = 0;
    while let Some((id, ty)) = r.field(&mut last)? {
        match (id, ty) {
            (1, I32) => d.num_values = r.i32("num_values")?,
            (2, I32) => d.encoding = r.i32("encoding")?,
            (3, I32) => d.def_encoding = r.i32("definition_level_encoding")?,
            (4, I32) => d.rep_encoding = r.i32("repetition_level_encoding")?,
            (_, t) => r.skip(t, 2)?,
        }
    }
    if d.num_values < 0 {
        return Err(ThriftError::Range("num_values"));
    }
    Ok(d)
}

fn dict(r: &mut Reader<'_>) -> Result<Dict> {
    let mut d = Dict::default();
    let mut last = 0;
    while let Some((id, ty)) = r.field(&mut last)? {
        match (id, ty) {
            (1, I32) => d.num_values = r.i32("num_values")?,
            (2, I32) => d.encoding = r.i32("encoding")?,
            (_, t) => r.skip(t, 2)?,
        }
    }
    if d.num_values < 0 {
        return Err(ThriftError::Range("num_values"));
    }
    Ok(d)
}

fn data_v2(r: &mut Reader<'_>) -> Result<DataV2> {
    let mut d = DataV2 {
        is_compressed: true,
        ..DataV2::default()
    };
    let mut last = 0;
    while let Some((id, ty)) = r.field(&mut last)? {
        match (id, ty) {
            (1, I32) => d.num_values = r.i32("num_values")?,
            (2, I32) => d.num_nulls = r.i32("num_nulls")?,
            (3, I32) => d.num_rows = r.i32("num_rows")?,
            (4, I32) => d.encoding = r.i32("encoding")?,
            (5, I32) => d.def_len = r.i32("definition_levels_byte_length")?,
            (6, I32) => d.rep_len = r.i32("repetition_levels_byte_length")?,
            (7, TRUE | FALSE) => d.is_compressed = r.bool_field(ty)?,
            (_, t) => r.skip(t, 2)?,
        }
    }
    if d.num_values < 0 || d.num_rows < 0 || d.num_nulls < 0 || d.def_len < 0 || d.rep_len < 0 {
        return Err(ThriftError::Range("data page v2 header"));
    }
    Ok(d)
}

/// What the structural walk of a footer (`FileMetaData`) learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FooterFacts {
    /// `encryption_algorithm` (field 8) is set: a plaintext footer over encrypted columns.
    pub encrypted: bool,
    /// Bytes the `FileMetaData` struct takes.
    pub len: usize,
}

/// Walk a serialized `FileMetaData` without building it: every list within [`MAX_LIST`],
/// nesting within the depth limit, and whether its columns are encrypted.
pub fn walk_footer(buf: &[u8]) -> Result<FooterFacts> {
    let mut r = Reader::new(buf);
    let mut encrypted = false;
    let mut last = 0;
    while let Some((id, ty)) = r.field(&mut last)? {
        if id == 8 {
            encrypted = true;
        }
        r.skip(ty, 1)?;
    }
    Ok(FooterFacts {
        encrypted,
        len: r.pos(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compact-protocol writer for the tests (field headers with short deltas only).
    struct W(Vec<u8>, i16);
    impl W {
        fn field(&mut self, id: i16, ty: u8) {
            let d = id - self.1;
            assert!((1..=15).contains(&d));
            self.0.push(((d as u8) << 4) | ty);
            self.1 = id;
        }
        fn varint(&mut self, mut v: u64) {
            while v >= 0x80 {
                self.0.push((v as u8) | 0x80);
                v >>= 7;
            }
            self.0.push(v as u8);
        }
        fn i32(&mut self, id: i16, v: i32) {
            self.field(id, I32);
            self.varint(((v << 1) ^ (v >> 31)) as u32 as u64);
        }
    }

    #[test]
    fn reads_a_v2_page_header_and_skips_unknown_fields() {
        let mut w = W(Vec::new(), 0);
        w.i32(1, DATA_PAGE_V2);
        w.i32(2, 1000);
        w.i32(3, 400);
        w.i32(4, -5); // crc, skipped
        w.field(8, STRUCT);
        let outer = w.1;
        w.1 = 0;
        w.i32(1, 10);
        w.i32(2, 1);
        w.i32(3, 10);
        w.i32(4, 8);
        w.i32(5, 3);
        w.i32(6, 0);
        w.field(7, FALSE);
        w.0.push(0);
        w.1 = outer;
        w.0.push(0);
        w.0.extend_from_slice(b"page bytes");
        let (h, n) = page_header(&w.0).expect("header");
        assert_eq!(n, w.0.len() - 10);
        assert_eq!(
            (h.kind, h.uncompressed, h.compressed),
            (DATA_PAGE_V2, 1000, 400)
        );
        let v2 = h.v2.expect("v2");
        assert_eq!((v2.num_rows, v2.encoding, v2.def_len), (10, 8, 3));
        assert!(!v2.is_compressed);
    }

    #[test]
    fn refuses_truncated_negative_and_oversized_input() {
        let mut w = W(Vec::new(), 0);
        w.i32(1, DATA_PAGE);
        w.i32(2, -1);
        w.i32(3, 4);
        w.0.push(0);
        assert_eq!(
            page_header(&w.0),
            Err(ThriftError::Range("uncompressed_page_size"))
        );
        assert_eq!(page_header(&w.0[..3]), Err(ThriftError::Eof));
        // a list declaring 2^40 elements is refused before anything is reserved for it
        let mut w = W(Vec::new(), 0);
        w.field(2, LIST);
        w.0.push(0xf0 | STRUCT);
        w.varint(1 << 40);
        assert_eq!(walk_footer(&w.0), Err(ThriftError::List(1 << 40)));
        // structs nested past the depth limit
        let mut deep = vec![(1 << 4) | STRUCT; 100];
        deep.extend(vec![0; 100]);
        assert_eq!(walk_footer(&deep), Err(ThriftError::Depth));
        // a varint that never ends
        assert_eq!(
            page_header(&[0x15, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            Err(ThriftError::Varint)
        );
    }

    #[test]
    fn footer_walk_sees_the_encryption_field() {
        let mut w = W(Vec::new(), 0);
        w.i32(1, 2);
        w.field(8, STRUCT);
        w.0.push(0);
        w.0.push(0);
        let f = walk_footer(&w.0).expect("walk");
        assert!(f.encrypted);
        assert_eq!(f.len, w.0.len());
        let mut w = W(Vec::new(), 0);
        w.i32(1, 2);
        w.i32(3, 7);
        w.0.push(0);
        assert!(!walk_footer(&w.0).expect("walk").encrypted);
    }
}
