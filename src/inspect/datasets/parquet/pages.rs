//! The pages of one column chunk: their headers walked in order within the chunk's byte
//! range, each page decompressed within the page-size limit, its levels located, and (for
//! encodings that do not store byte arrays whole) its values rebuilt for the text rules.

use super::encoding::{self as enc, EncodingError, Levels, Rebuilt};
use super::footer::{Chunk, Physical};
use super::thrift::{self, PageHeader, ThriftError};
use crate::inspect::datasets::codec::{self, Codec, CodecError};
use crate::inspect::datasets::source::Source;

/// Largest page header read (statistics can make one long).
pub const MAX_HEADER: u64 = 16 << 20;
/// Most pages walked in one column chunk.
pub const MAX_PAGES: usize = 1 << 20;

/// A page found in a column chunk.
#[derive(Debug, Clone)]
pub struct PageRef {
    /// Position among the chunk's pages (0 is the dictionary page, when there is one).
    pub index: u32,
    /// File offset of the page header.
    pub at: u64,
    pub header_len: u64,
    pub h: PageHeader,
}

impl PageRef {
    /// File offset just past the page's data.
    pub fn end(&self) -> u64 {
        self.at + self.header_len + self.h.compressed as u64
    }
}

/// Why walking a chunk's pages stopped early.
#[derive(Debug)]
pub struct WalkStop {
    /// File offset where the walk stopped.
    pub at: u64,
    pub why: String,
}

/// The pages of `chunk` (whose range lies inside `src`), in order. A header that does not
/// parse, or a page running past the chunk, stops the walk there.
pub fn walk(src: &dyn Source, chunk: &Chunk) -> (Vec<PageRef>, Option<WalkStop>) {
    let end = chunk.start + chunk.len;
    let mut pos = chunk.start;
    let mut pages = Vec::new();
    let mut buf = Vec::new();
    while pos < end {
        if pages.len() >= MAX_PAGES {
            let why = format!("more than {MAX_PAGES} pages in one column chunk");
            return (pages, Some(WalkStop { at: pos, why }));
        }
        let avail = end - pos;
        let mut want = avail.min(256);
        let parsed = loop {
            buf.resize(want as usize, 0);
            if let Err(e) = src.read_at(pos, &mut buf) {
                break Err(format!("cannot read it back ({e})"));
            }
            match thrift::page_header(&buf) {
                Ok(v) => break Ok(v),
                Err(ThriftError::Eof) if want < avail.min(MAX_HEADER) => {
                    want = (want * 8).min(avail).min(MAX_HEADER);
                }
                Err(e) => break Err(format!("page header is not valid ({e})")),
            }
        };
        let (h, n) = match parsed {
            Ok(v) => v,
            Err(why) => return (pages, Some(WalkStop { at: pos, why })),
        };
        let page = PageRef {
            index: pages.len() as u32,
            at: pos,
            header_len: n as u64,
            h,
        };
        if page.end() > end {
            let why = format!(
                "a page of {} bytes runs past the end of its column chunk",
                h.compressed
            );
            return (pages, Some(WalkStop { at: pos, why }));
        }
        pos = page.end();
        pages.push(page);
    }
    (pages, None)
}

/// Where one kind of levels lies in a decoded page.
#[derive(Debug, Clone, Copy)]
pub struct LevelSpan {
    pub start: usize,
    pub end: usize,
    /// The deprecated BIT_PACKED layout rather than the RLE hybrid.
    pub legacy: bool,
    /// In [`Decoded::levels`] (data page v2) rather than [`Decoded::data`].
    pub separate: bool,
}

/// A decompressed page.
#[derive(Debug, Default)]
pub struct Decoded {
    /// The page after decompression (data page v2: its values section only).
    pub data: Vec<u8>,
    /// Data page v2: the levels, stored uncompressed in front of the values.
    pub levels: Vec<u8>,
    pub rep: Option<LevelSpan>,
    pub def: Option<LevelSpan>,
    /// Where the values start in `data`.
    pub values_from: usize,
    /// Level entries (data pages) or values (dictionary page).
    pub num_values: u64,
    pub encoding: i32,
    /// Rows this page starts (0 for a dictionary page).
    pub rows: u64,
    /// Values rebuilt for the text rules (DELTA_BYTE_ARRAY, BYTE_STREAM_SPLIT byte arrays).
    pub rebuilt: Option<Rebuilt>,
    /// A dictionary page (its values are the dictionary's entries).
    pub is_dict: bool,
}

/// Why a page could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{0}")]
    Codec(#[from] CodecError),
    #[error("its values do not decode: {0}")]
    Encoding(#[from] EncodingError),
    #[error("{0}")]
    Layout(String),
    #[error("it declares {0} bytes, more than the {1} a page may decode to")]
    TooLarge(u64, u64),
    #[error("encoding {0} is not one airgate decodes for byte arrays")]
    UnknownEncoding(i32),
}

fn layout(why: impl Into<String>) -> PageError {
    PageError::Layout(why.into())
}

/// A level block of data page v1 at `data[*pos..]`: RLE (length-prefixed) or BIT_PACKED.
fn inline_levels(
    data: &[u8],
    pos: &mut usize,
    encoding: i32,
    width: u8,
    n: u64,
) -> Result<LevelSpan, PageError> {
    let legacy = encoding == enc::BIT_PACKED;
    let len = if legacy {
        Levels::legacy_len(width, n)
    } else {
        let l = data
            .get(*pos..*pos + 4)
            .ok_or_else(|| layout("levels run past the end of the page"))?;
        *pos += 4;
        u64::from(u32::from_le_bytes([l[0], l[1], l[2], l[3]]))
    };
    let end = (*pos as u64)
        .checked_add(len)
        .filter(|&e| e <= data.len() as u64)
        .ok_or_else(|| layout("levels run past the end of the page"))? as usize;
    let span = LevelSpan {
        start: *pos,
        end,
        legacy,
        separate: false,
    };
    *pos = end;
    Ok(span)
}

impl Decoded {
    fn level_bytes(&self, s: &LevelSpan) -> &[u8] {
        let b = if s.separate { &self.levels } else { &self.data };
        &b[s.start..s.end]
    }

    /// An iterator over the page's repetition or definition levels.
    pub fn level_iter(&self, s: &LevelSpan, max: u16) -> Result<Levels<'_>, EncodingError> {
        let width = enc::bit_width(u64::from(max));
        let b = self.level_bytes(s);
        if s.legacy {
            Levels::legacy(b, width, self.num_values)
        } else {
            Levels::hybrid(b, width, self.num_values)
        }
    }

    /// The bytes the text rules read: the rebuilt values, or the page itself.
    pub fn scanned(&self) -> &[u8] {
        match &self.rebuilt {
            Some(r) => &r.bytes,
            None => &self.data,
        }
    }
}

/// Decompress page `p` (its header and data in `raw`) of `chunk` and locate its parts.
/// `data` is a buffer to decode into (reused between pages; see [`Decoded::data`]).
pub fn decode(
    chunk: &Chunk,
    p: &PageRef,
    raw: &[u8],
    max_page: u64,
    data: Vec<u8>,
) -> Result<Decoded, PageError> {
    let h = &p.h;
    let payload = &raw[p.header_len as usize..];
    let unc = h.uncompressed as u64;
    if unc > max_page {
        return Err(PageError::TooLarge(unc, max_page));
    }
    let mut d = Decoded {
        data,
        ..Decoded::default()
    };
    match h.kind {
        thrift::DICTIONARY_PAGE => {
            let dh = h
                .dict
                .ok_or_else(|| layout("dictionary page without its header"))?;
            codec::decompress(chunk.codec, payload, unc as usize, &mut d.data)?;
            d.num_values = dh.num_values as u64;
            d.encoding = dh.encoding;
            d.is_dict = true;
        }
        thrift::DATA_PAGE => {
            let v1 = h.v1.ok_or_else(|| layout("data page without its header"))?;
            codec::decompress(chunk.codec, payload, unc as usize, &mut d.data)?;
            d.num_values = v1.num_values as u64;
            d.encoding = v1.encoding;
            let mut pos = 0usize;
            if chunk.max_rep > 0 {
                let w = enc::bit_width(u64::from(chunk.max_rep));
                d.rep = Some(inline_levels(
                    &d.data,
                    &mut pos,
                    v1.rep_encoding,
                    w,
                    d.num_values,
                )?);
            }
            if chunk.max_def > 0 {
                let w = enc::bit_width(u64::from(chunk.max_def));
                d.def = Some(inline_levels(
                    &d.data,
                    &mut pos,
                    v1.def_encoding,
                    w,
                    d.num_values,
                )?);
            }
            d.values_from = pos;
            d.rows = if chunk.max_rep == 0 {
                d.num_values
            } else {
                match &d.rep {
                    Some(s) => d.level_iter(s, chunk.max_rep)?.count(u64::MAX, 0)?.1,
                    None => 0,
                }
            };
        }
        thrift::DATA_PAGE_V2 => {
            let v2 =
                h.v2.ok_or_else(|| layout("data page v2 without its header"))?;
            let (rl, dl) = (v2.rep_len as usize, v2.def_len as usize);
            let lv = rl
                .checked_add(dl)
                .filter(|&n| n <= payload.len() && n as u64 <= unc)
                .ok_or_else(|| layout("level lengths exceed the page"))?;
            d.levels = payload[..lv].to_vec();
            let rest = &payload[lv..];
            let want = (unc - lv as u64) as usize;
            let c = if v2.is_compressed {
                chunk.codec
            } else {
                Codec::Uncompressed
            };
            if want == 0 && rest.is_empty() {
                d.data.clear();
            } else {
                codec::decompress(c, rest, want, &mut d.data)?;
            }
            d.num_values = v2.num_values as u64;
            d.encoding = v2.encoding;
            d.rows = v2.num_rows as u64;
            if chunk.max_rep > 0 {
                d.rep = Some(LevelSpan {
                    start: 0,
                    end: rl,
                    legacy: false,
                    separate: true,
                });
            }
            if chunk.max_def > 0 {
                d.def = Some(LevelSpan {
                    start: rl,
                    end: lv,
                    legacy: false,
                    separate: true,
                });
            }
        }
        k => return Err(layout(format!("unknown page type {k}"))),
    }
    rebuild(chunk, &mut d, max_page)?;
    Ok(d)
}

/// Rebuild byte-array values that the page does not store whole or apart: front-coded
/// strings, byte-stream-split and fixed-length values, and values stored back to back with
/// their lengths elsewhere (DELTA_LENGTH_BYTE_ARRAY), each followed by a NUL.
fn rebuild(chunk: &Chunk, d: &mut Decoded, max_page: u64) -> Result<(), PageError> {
    let from = d.values_from;
    let encoding = if d.is_dict { enc::PLAIN } else { d.encoding };
    let r = match (encoding, chunk.physical) {
        (enc::PLAIN | enc::PLAIN_DICTIONARY | enc::RLE_DICTIONARY, Physical::ByteArray) => {
            return Ok(())
        }
        (enc::DELTA_LENGTH_BYTE_ARRAY, Physical::ByteArray) => {
            let ranges = enc::delta_length_byte_arrays(&d.data, from, d.num_values)?;
            Rebuilt::gather(&d.data, &ranges)
        }
        (enc::DELTA_BYTE_ARRAY, Physical::ByteArray | Physical::FixedLenByteArray(_)) => {
            // the rebuilt values may be longer than the page, within the page limit again
            enc::delta_byte_arrays(&d.data, from, d.num_values, max_page)?
        }
        (enc::PLAIN, Physical::FixedLenByteArray(w)) if w > 0 => {
            let n = d.data.len().saturating_sub(from) / w;
            let ranges: Vec<_> = (0..n).map(|i| (from + i * w, from + (i + 1) * w)).collect();
            Rebuilt::gather(&d.data, &ranges)
        }
        (enc::BYTE_STREAM_SPLIT, Physical::FixedLenByteArray(w)) => {
            enc::byte_stream_split(&d.data[from..], w)?
        }
        (enc::PLAIN_DICTIONARY | enc::RLE_DICTIONARY, Physical::FixedLenByteArray(_)) => {
            return Ok(())
        }
        (e, Physical::ByteArray | Physical::FixedLenByteArray(_)) => {
            return Err(PageError::UnknownEncoding(e))
        }
        // numbers and booleans are scanned as the bytes they are
        _ => return Ok(()),
    };
    d.rebuilt = Some(r);
    Ok(())
}

/// The values of a decoded page as ranges of [`Decoded::scanned`], when its encoding keeps
/// them apart (`None` for dictionary indices and packed booleans).
pub fn value_ranges(
    chunk: &Chunk,
    d: &Decoded,
) -> Result<Option<Vec<(usize, usize)>>, EncodingError> {
    if let Some(r) = &d.rebuilt {
        return Ok(Some(r.ranges.clone()));
    }
    let from = d.values_from;
    let fixed = |w: usize| {
        let n = (d.data.len().saturating_sub(from)) / w.max(1);
        (0..n)
            .map(|i| (from + i * w, from + (i + 1) * w))
            .collect::<Vec<_>>()
    };
    // a dictionary page holds PLAIN values whatever it says (old writers say
    // PLAIN_DICTIONARY); in a data page, PLAIN_DICTIONARY means dictionary indices
    let encoding = if d.is_dict { enc::PLAIN } else { d.encoding };
    Ok(match (encoding, chunk.physical) {
        (enc::PLAIN, Physical::ByteArray) => {
            Some(enc::plain_byte_arrays(&d.data, from, d.num_values)?)
        }
        (enc::PLAIN, Physical::Fixed(w)) => Some(fixed(w)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use thrift::DataV1;

    fn chunk(codec: Codec) -> Chunk {
        Chunk {
            name: "c".into(),
            codec,
            start: 4,
            len: 100,
            physical: Physical::ByteArray,
            max_def: 1,
            max_rep: 0,
            external: None,
        }
    }

    fn page(kind: i32, unc: i32, comp: i32) -> PageRef {
        PageRef {
            index: 0,
            at: 0,
            header_len: 0,
            h: PageHeader {
                kind,
                uncompressed: unc,
                compressed: comp,
                v1: Some(DataV1 {
                    num_values: 2,
                    encoding: enc::PLAIN,
                    def_encoding: 3,
                    rep_encoding: 3,
                }),
                ..PageHeader::default()
            },
        }
    }

    #[test]
    fn a_page_over_the_limit_is_not_decoded() {
        let raw = vec![0u8; 16];
        let e = decode(
            &chunk(Codec::Zstd),
            &page(thrift::DATA_PAGE, 200 << 20, 16),
            &raw,
            128 << 20,
            Vec::new(),
        );
        assert!(
            matches!(e, Err(PageError::TooLarge(n, _)) if n == 200 << 20),
            "{e:?}"
        );
    }

    #[test]
    fn levels_that_run_past_the_page_are_an_error() {
        // definition levels claim 1000 bytes in a 12-byte page
        let mut raw = 1000u32.to_le_bytes().to_vec();
        raw.extend_from_slice(&[0; 8]);
        let e = decode(
            &chunk(Codec::Uncompressed),
            &page(thrift::DATA_PAGE, 12, 12),
            &raw,
            1 << 20,
            Vec::new(),
        );
        assert!(matches!(e, Err(PageError::Layout(_))), "{e:?}");
        // an unknown page type
        let e = decode(
            &chunk(Codec::Uncompressed),
            &page(9, 12, 12),
            &raw,
            1 << 20,
            Vec::new(),
        );
        assert!(matches!(e, Err(PageError::Layout(_))), "{e:?}");
    }
}
