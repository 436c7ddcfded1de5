//! Parquet datasets written by the `parquet` crate at test time, in every codec it writes,
//! data page v1 and v2, dictionary and plain encodings: the planted AWS key pair is found at
//! its row, the clean twin (the documentation's example pair in that row) stays quiet.

mod datasets_support;

use datasets_support::*;
use parquet::basic::{BrotliLevel, Compression, Encoding, GzipLevel, ZstdLevel};

fn codecs() -> Vec<Compression> {
    vec![
        Compression::UNCOMPRESSED,
        Compression::SNAPPY,
        Compression::GZIP(GzipLevel::default()),
        Compression::BROTLI(BrotliLevel::default()),
        Compression::ZSTD(ZstdLevel::default()),
        Compression::LZ4,
        Compression::LZ4_RAW,
    ]
}

/// The key pair's two findings at `path`, with offsets inside the cell.
fn assert_key_pair_at(f: &[airgate::inspect::Finding], path: &str, what: &str) {
    let id_at = KEY_ROW.find("AKIA").unwrap() as u64;
    let id = f
        .iter()
        .find(|x| x.rule == "secret.aws-access-key-id" && x.path == path)
        .unwrap_or_else(|| panic!("{what}: no access key id at {path}:\n{}", show(f)));
    assert_eq!(id.offset, Some(id_at), "{what}: offset inside the cell");
    assert!(
        f.iter()
            .any(|x| x.rule == "secret.aws-secret-access-key" && x.path == path),
        "{what}: no secret key at {path}:\n{}",
        show(f)
    );
}

#[test]
fn every_codec_page_version_and_encoding_finds_the_planted_row() {
    for c in codecs() {
        for v2 in [false, true] {
            for dictionary in [false, true] {
                let opts = Pq {
                    v2,
                    dictionary,
                    ..Pq::new(c)
                };
                let what = format!("{c:?} v2={v2} dictionary={dictionary}");
                let data = parquet_dataset(&opts, KEY_ROW);
                let f = scan_stream("d.parquet", &data, 1 << 20);
                assert_key_pair_at(&f, "d.parquet!rg0/col:text/row:12345", &what);
                let clean = parquet_dataset(&opts, NEAR_MISS_ROW);
                let f = scan_stream("d.parquet", &clean, 1 << 20);
                assert!(serious(&f).is_empty(), "{what}: clean twin:\n{}", show(&f));
            }
        }
    }
}

#[test]
fn delta_encodings_are_rebuilt_and_rows_counted_across_row_groups() {
    for (v2, encoding) in [
        (true, None), // the v2 writer's own fallback for strings: DELTA_BYTE_ARRAY
        (false, Some(Encoding::DELTA_BYTE_ARRAY)),
        (false, Some(Encoding::DELTA_LENGTH_BYTE_ARRAY)),
        (true, Some(Encoding::DELTA_LENGTH_BYTE_ARRAY)),
    ] {
        let opts = Pq {
            v2,
            encoding,
            rows_per_group: 5_000,
            ..Pq::new(Compression::ZSTD(ZstdLevel::default()))
        };
        let what = format!("v2={v2} {encoding:?}");
        let data = parquet_dataset(&opts, KEY_ROW);
        // 12,345 lies in the third row group of 5,000 rows; rows count from the file's start
        let f = scan_stream("d.parquet", &data, 4099);
        assert_key_pair_at(&f, "d.parquet!rg2/col:text/row:12345", &what);
        let f = scan_stream("d.parquet", &parquet_dataset(&opts, NEAR_MISS_ROW), 4099);
        assert!(serious(&f).is_empty(), "{what}: clean twin:\n{}", show(&f));
    }
}

#[test]
fn a_secret_split_by_front_coding_is_found() {
    // DELTA_BYTE_ARRAY stores each value as the length of a prefix shared with the value
    // before plus a suffix: here the second value's suffix is `MVN6A6WF`, stored after the
    // first value's `…GO6xyz`, so no stored byte run holds the key id
    use parquet::data_type::{ByteArray, ByteArrayType};
    use std::sync::Arc;
    let schema = Arc::new(
        parquet::schema::parser::parse_message_type("message m { required binary t (UTF8); }")
            .expect("schema"),
    );
    let props = parquet::file::properties::WriterProperties::builder()
        .set_dictionary_enabled(false)
        .set_encoding(Encoding::DELTA_BYTE_ARRAY)
        .set_compression(Compression::UNCOMPRESSED)
        .set_statistics_enabled(parquet::file::properties::EnabledStatistics::None)
        .build();
    let vals: Vec<ByteArray> = [
        "aws_access_key_id = AKIA4WXFOGO6xyz",
        "aws_access_key_id = AKIA4WXFOGO6MVN6A6WF",
    ]
    .iter()
    .map(|s| ByteArray::from(*s))
    .collect();
    let mut buf = Vec::new();
    let mut w = parquet::file::writer::SerializedFileWriter::new(&mut buf, schema, Arc::new(props))
        .expect("writer");
    let mut rg = w.next_row_group().expect("rg");
    let mut col = rg.next_column().expect("col").expect("one column");
    col.typed::<ByteArrayType>()
        .write_batch(&vals, None, None)
        .expect("write");
    col.close().expect("close");
    rg.close().expect("close");
    w.close().expect("close");
    let raw = String::from_utf8_lossy(&buf);
    assert!(
        !raw.contains("AKIA4WXFOGO6MVN6A6WF"),
        "the file never stores the key id whole"
    );
    let f = scan_stream("s.parquet", &buf, 1 << 20);
    assert!(
        f.iter()
            .any(|x| x.rule == "secret.aws-access-key-id" && x.path == "s.parquet!rg0/col:t/row:1"),
        "{}",
        show(&f)
    );
}
