//! A Parquet file's footer: the `PAR1` tail, its length within bounds, a structural walk of
//! its Thrift bytes, then the `parquet` crate's parse into the column chunks to inspect.

use super::thrift;
use crate::inspect::datasets::codec::Codec;
use crate::inspect::datasets::source::Source;

/// Largest footer (serialized `FileMetaData`) read.
pub const MAX_FOOTER: u64 = 32 << 20;

/// A column chunk's physical type, as far as the inspection cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Physical {
    Boolean,
    /// Fixed-width numbers of this many bytes (INT32, INT64, INT96, FLOAT, DOUBLE).
    Fixed(usize),
    ByteArray,
    FixedLenByteArray(usize),
}

/// One column chunk to inspect.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// The column's dotted path in the schema, made safe for a finding path.
    pub name: String,
    /// The codec (LZO is listed, and refused when a page needs it).
    pub codec: Codec,
    pub start: u64,
    pub len: u64,
    pub physical: Physical,
    pub max_def: u16,
    pub max_rep: u16,
    /// Set when the chunk's data lies in another file (`ColumnChunk.file_path`).
    pub external: Option<String>,
}

/// One row group.
#[derive(Debug, Clone)]
pub struct RowGroup {
    /// Rows in the file before this row group.
    pub first_row: u64,
    pub chunks: Vec<Chunk>,
}

/// What the footer says about the file.
#[derive(Debug, Clone)]
pub struct Layout {
    pub row_groups: Vec<RowGroup>,
    /// Where the serialized footer lies.
    pub footer_start: u64,
    pub footer_len: u64,
}

/// Why the footer could not be used; each is reported as the file not being inspectable.
#[derive(Debug, thiserror::Error)]
pub enum FooterError {
    #[error("{0} bytes long: too short for a Parquet file")]
    Short(u64),
    #[error("the footer is encrypted (the file ends in PARE)")]
    EncryptedFooter,
    #[error("the columns are encrypted (the footer names an encryption algorithm)")]
    EncryptedColumns,
    #[error("it starts with PAR1 but does not end with it")]
    NoTail,
    #[error("the footer claims {0} bytes, more than the file holds")]
    FooterPastStart(u64),
    #[error("the footer is {0} bytes, more than the {MAX_FOOTER} read")]
    FooterTooLarge(u64),
    #[error("the footer is not valid Thrift ({0})")]
    Thrift(#[from] thrift::ThriftError),
    #[error("the footer does not parse ({0})")]
    Parse(String),
    #[error("cannot read the file back ({0})")]
    Io(#[from] std::io::Error),
}

impl FooterError {
    /// Whether this is the encryption case (reported as such).
    pub fn encrypted(&self) -> bool {
        matches!(
            self,
            FooterError::EncryptedFooter | FooterError::EncryptedColumns
        )
    }
}

/// A column path made safe for a finding path: no `!`, `/` or control characters.
fn clean_column(raw: &str) -> String {
    let s: String = raw
        .chars()
        .map(|c| {
            if c.is_control() || c == '!' || c == '/' {
                '_'
            } else {
                c
            }
        })
        .take(256)
        .collect();
    if s.is_empty() {
        "_".into()
    } else {
        s
    }
}

fn codec(c: parquet::basic::Compression) -> Codec {
    use parquet::basic::Compression as C;
    match c {
        C::UNCOMPRESSED => Codec::Uncompressed,
        C::SNAPPY => Codec::Snappy,
        C::GZIP(_) => Codec::Gzip,
        C::LZO => Codec::Lzo,
        C::BROTLI(_) => Codec::Brotli,
        C::LZ4 => Codec::Lz4Hadoop,
        C::ZSTD(_) => Codec::Zstd,
        C::LZ4_RAW => Codec::Lz4Raw,
    }
}

fn physical(t: parquet::basic::Type, len: i32) -> Physical {
    use parquet::basic::Type as T;
    match t {
        T::BOOLEAN => Physical::Boolean,
        T::INT32 | T::FLOAT => Physical::Fixed(4),
        T::INT64 | T::DOUBLE => Physical::Fixed(8),
        T::INT96 => Physical::Fixed(12),
        T::BYTE_ARRAY => Physical::ByteArray,
        T::FIXED_LEN_BYTE_ARRAY => Physical::FixedLenByteArray(usize::try_from(len).unwrap_or(0)),
    }
}

/// Read and parse the footer of the Parquet file in `src`.
pub fn read(src: &dyn Source) -> Result<Layout, FooterError> {
    let size = src.len();
    if size < 12 {
        return Err(FooterError::Short(size));
    }
    let mut tail = [0u8; 8];
    src.read_at(size - 8, &mut tail)?;
    match &tail[4..] {
        b"PAR1" => {}
        b"PARE" => return Err(FooterError::EncryptedFooter),
        _ => return Err(FooterError::NoTail),
    }
    let footer_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer_len > MAX_FOOTER {
        return Err(FooterError::FooterTooLarge(footer_len));
    }
    if footer_len + 12 > size {
        return Err(FooterError::FooterPastStart(footer_len));
    }
    let footer_start = size - 8 - footer_len;
    let mut buf = vec![0u8; footer_len as usize];
    src.read_at(footer_start, &mut buf)?;
    let facts = thrift::walk_footer(&buf)?;
    if facts.encrypted {
        return Err(FooterError::EncryptedColumns);
    }
    let md = parquet::file::metadata::ParquetMetaDataReader::decode_metadata(&buf)
        .map_err(|e| FooterError::Parse(e.to_string()))?;
    let mut row_groups = Vec::with_capacity(md.num_row_groups());
    let mut first_row = 0u64;
    for rg in md.row_groups() {
        let num_rows = u64::try_from(rg.num_rows()).unwrap_or(0);
        let mut chunks = Vec::with_capacity(rg.num_columns());
        for c in rg.columns() {
            let d = c.column_descr();
            let data = c.data_page_offset();
            let start = match c.dictionary_page_offset() {
                Some(dict) if dict > 0 && dict < data => dict,
                _ => data,
            };
            chunks.push(Chunk {
                name: clean_column(&d.path().string()),
                codec: codec(c.compression()),
                start: u64::try_from(start).unwrap_or(u64::MAX),
                len: u64::try_from(c.compressed_size()).unwrap_or(u64::MAX),
                physical: physical(d.physical_type(), d.type_length()),
                max_def: u16::try_from(d.max_def_level()).unwrap_or(0),
                max_rep: u16::try_from(d.max_rep_level()).unwrap_or(0),
                external: c.file_path().map(|p| p.chars().take(256).collect()),
            });
        }
        row_groups.push(RowGroup { first_row, chunks });
        first_row = first_row.saturating_add(num_rows);
    }
    Ok(Layout {
        row_groups,
        footer_start,
        footer_len,
    })
}
