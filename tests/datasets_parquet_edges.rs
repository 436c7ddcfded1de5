//! Parquet beyond the plain dataset: a dictionary value held by several rows, nested lists,
//! encrypted and LZO files refused, bytes no page claims, broken files that must neither
//! panic nor pass silently.

mod datasets_support;

use datasets_support::*;
use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;
use std::sync::Arc;

/// 100 rows: `note` (KEY_ROW in rows 40 and 70, else "ok") and `tags`, a list of strings
/// (row 5 an empty list, row 6 null, row 33's second element KEY_ROW).
fn nested(v2: bool, dictionary: bool) -> Vec<u8> {
    let schema = Arc::new(
        parquet::schema::parser::parse_message_type(
            "message m { required binary note (UTF8);
               optional group tags (LIST) { repeated group list { optional binary element (UTF8); } } }",
        )
        .expect("schema"),
    );
    let props = WriterProperties::builder()
        .set_writer_version(if v2 {
            WriterVersion::PARQUET_2_0
        } else {
            WriterVersion::PARQUET_1_0
        })
        .set_dictionary_enabled(dictionary)
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_data_page_row_count_limit(16)
        .set_write_batch_size(16)
        .build();
    let notes: Vec<ByteArray> = (0..100)
        .map(|i| ByteArray::from(if i == 40 || i == 70 { KEY_ROW } else { "ok" }))
        .collect();
    let (mut vals, mut defs, mut reps) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..100 {
        match i {
            5 => {
                defs.push(1);
                reps.push(0);
            }
            6 => {
                defs.push(0);
                reps.push(0);
            }
            _ => {
                vals.push(ByteArray::from("a"));
                defs.push(3);
                reps.push(0);
                vals.push(ByteArray::from(if i == 33 { KEY_ROW } else { "b" }));
                defs.push(3);
                reps.push(1);
            }
        }
    }
    let mut buf = Vec::new();
    let mut w = SerializedFileWriter::new(&mut buf, schema, Arc::new(props)).expect("writer");
    let mut rg = w.next_row_group().expect("rg");
    let mut col = rg.next_column().expect("col").expect("note");
    col.typed::<ByteArrayType>()
        .write_batch(&notes, None, None)
        .expect("notes");
    col.close().expect("close");
    let mut col = rg.next_column().expect("col").expect("tags");
    col.typed::<ByteArrayType>()
        .write_batch(&vals, Some(&defs), Some(&reps))
        .expect("tags");
    col.close().expect("close");
    rg.close().expect("close");
    w.close().expect("close");
    buf
}

#[test]
fn dictionary_values_and_list_elements_are_placed_in_their_rows() {
    for v2 in [false, true] {
        for dictionary in [false, true] {
            let what = format!("v2={v2} dictionary={dictionary}");
            let f = scan_stream("n.parquet", &nested(v2, dictionary), 1 << 20);
            let at = |p: &str| {
                f.iter()
                    .filter(|x| x.rule == "secret.aws-access-key-id" && x.path == p)
                    .count()
            };
            assert_eq!(
                at("n.parquet!rg0/col:tags.list.element/row:33"),
                1,
                "{what}:\n{}",
                show(&f)
            );
            if dictionary {
                // one dictionary entry, two rows: listed once, at the first row, with the count
                let d = f
                    .iter()
                    .find(|x| {
                        x.rule == "secret.aws-access-key-id"
                            && x.path == "n.parquet!rg0/col:note/row:40"
                    })
                    .unwrap_or_else(|| panic!("{what}:\n{}", show(&f)));
                assert!(d.message.contains("held by 2 rows"), "{}", d.message);
            } else {
                assert_eq!(
                    at("n.parquet!rg0/col:note/row:40"),
                    1,
                    "{what}:\n{}",
                    show(&f)
                );
                assert_eq!(
                    at("n.parquet!rg0/col:note/row:70"),
                    1,
                    "{what}:\n{}",
                    show(&f)
                );
            }
        }
    }
}

fn zstd_dataset(special: &str) -> Vec<u8> {
    parquet_dataset(&Pq::new(Compression::ZSTD(ZstdLevel::default())), special)
}

fn has(f: &[airgate::inspect::Finding], rule: &str, path: &str) -> bool {
    f.iter().any(|x| x.rule == rule && x.path == path)
}

#[test]
fn encrypted_and_lzo_files_are_refused() {
    let mut enc = zstd_dataset(NEAR_MISS_ROW);
    let n = enc.len();
    enc[n - 4..].copy_from_slice(b"PARE");
    let f = scan_stream("e.parquet", &enc, 1 << 20);
    let refusal = f
        .iter()
        .find(|x| x.rule == "archive.uninspectable")
        .unwrap_or_else(|| panic!("{}", show(&f)));
    assert_eq!(refusal.severity, airgate::inspect::Severity::High);
    assert!(refusal.message.contains("encrypted"), "{}", refusal.message);

    // the footer names LZO for the text column (ColumnMetaData.codec 0 -> 3)
    let mut lzo = parquet_dataset(&Pq::new(Compression::UNCOMPRESSED), KEY_ROW);
    let pat = b"\x18\x04text\x15\x00";
    let at = lzo
        .windows(pat.len())
        .position(|w| w == pat)
        .expect("codec field");
    lzo[at + pat.len() - 1] = 0x06;
    let f = scan_stream("l.parquet", &lzo, 1 << 20);
    let refusal = f
        .iter()
        .find(|x| x.rule == "archive.uninspectable" && x.path.starts_with("l.parquet!rg0/col:text"))
        .unwrap_or_else(|| panic!("{}", show(&f)));
    assert!(refusal.message.contains("LZO"), "{}", refusal.message);
    assert_eq!(refusal.severity, airgate::inspect::Severity::High);
    // a codec value no Parquet version defines: the footer itself is refused
    lzo[at + pat.len() - 1] = 0x7e;
    let f = scan_stream("u.parquet", &lzo, 1 << 20);
    assert!(
        has(&f, "archive.uninspectable", "u.parquet"),
        "{}",
        show(&f)
    );
}

#[test]
fn bytes_no_page_claims_are_scanned() {
    let mut data = zstd_dataset(NEAR_MISS_ROW);
    let n = data.len();
    let footer_len =
        u32::from_le_bytes([data[n - 8], data[n - 7], data[n - 6], data[n - 5]]) as usize;
    let footer_start = n - 8 - footer_len;
    let md =
        parquet::file::metadata::ParquetMetaDataReader::decode_metadata(&data[footer_start..n - 8])
            .expect("footer");
    let chunks_end = md
        .row_groups()
        .iter()
        .flat_map(|rg| rg.columns())
        .map(|c| {
            let (s, l) = c.byte_range();
            s + l
        })
        .max()
        .expect("chunks") as usize;
    let planted = b" token AKIA4WXFOGO6MVN6A6WF ";
    assert!(
        footer_start - chunks_end > planted.len(),
        "room between the chunks and the footer"
    );
    data[chunks_end..chunks_end + planted.len()].copy_from_slice(planted);
    let f = scan_stream("g.parquet", &data, 1 << 20);
    assert!(
        has(&f, "secret.aws-access-key-id", "g.parquet!meta"),
        "{}",
        show(&f)
    );
}

#[test]
fn broken_files_never_panic_and_never_pass_silently() {
    let data = zstd_dataset(KEY_ROW);
    // cut anywhere: not Parquet any more (no tail), its bytes text-scanned instead
    for cut in [5, 100, 1000, data.len() / 2, data.len() - 9, data.len() - 1] {
        let f = scan_stream("t.parquet", &data[..cut], 4096);
        assert!(!serious(&f).is_empty(), "cut at {cut}: nothing said");
    }
    // damage inside pages: each damaged page is reported, the others are still read
    let mut seen_corrupt = false;
    for at in (200..data.len() - 2000).step_by(data.len() / 40) {
        let mut d = data.clone();
        for b in &mut d[at..at + 8] {
            *b ^= 0x5a;
        }
        let f = scan_stream("c.parquet", &d, 1 << 16);
        seen_corrupt |= f.iter().any(|x| x.rule == "archive.corrupt");
        assert!(!f.is_empty(), "damage at {at}: nothing said");
    }
    assert!(seen_corrupt, "some damaged page was reported as corrupt");
    // starts like Parquet, is not: text-scanned as it is
    let fake = b"PAR1 notes: aws_access_key_id = AKIA4WXFOGO6MVN6A6WF\n".to_vec();
    let f = scan_stream("fake.bin", &fake, 1 << 20);
    assert!(
        has(&f, "secret.aws-access-key-id", "fake.bin"),
        "{}",
        show(&f)
    );
    assert!(has(&f, "archive.corrupt", "fake.bin"), "{}", show(&f));
}

#[test]
fn a_plaintext_footer_over_encrypted_columns_is_refused() {
    // FileMetaData gains field 8 (encryption_algorithm), written in the long field form
    // (type struct, id 8, an empty struct) just before the footer's final stop byte
    let mut data = zstd_dataset(NEAR_MISS_ROW);
    let n = data.len();
    let flen = u32::from_le_bytes([data[n - 8], data[n - 7], data[n - 6], data[n - 5]]) as usize;
    assert_eq!(data[n - 9], 0, "the footer ends with a stop byte");
    data.splice(n - 9..n - 9, [0x0c, 0x10, 0x00]);
    let n = data.len();
    data[n - 8..n - 4].copy_from_slice(&((flen + 3) as u32).to_le_bytes());
    let f = scan_stream("p.parquet", &data, 1 << 20);
    let r = f
        .iter()
        .find(|x| x.rule == "archive.uninspectable" && x.path == "p.parquet")
        .unwrap_or_else(|| panic!("{}", show(&f)));
    assert!(r.message.contains("encrypted"), "{}", r.message);
}

#[test]
fn a_file_on_disk_is_read_in_place_with_the_same_findings() {
    // what `scan` does for a large Parquet file: no spool, the file itself is the source
    let data = zstd_dataset(KEY_ROW);
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("d.parquet");
    std::fs::write(&p, &data).expect("write");
    let engine =
        airgate::inspect::build_engine(&airgate::policy::Policy::default()).expect("engine");
    let file = std::fs::File::open(&p).expect("open");
    let (found, cov) = airgate::inspect::parts::datasets::scan_file(
        &engine,
        "d.parquet",
        &file,
        data.len() as u64,
    )
    .expect("read")
    .expect("a Parquet file");
    let key = |f: &[airgate::inspect::Finding]| {
        let mut v: Vec<String> = f
            .iter()
            .map(|x| format!("{} {} {:?}", x.rule, x.path, x.offset))
            .collect();
        v.sort();
        v
    };
    assert_eq!(key(&found), key(&scan_stream("d.parquet", &data, 1 << 16)));
    assert!(has(
        &found,
        "secret.aws-access-key-id",
        "d.parquet!rg0/col:text/row:12345"
    ));
    assert_eq!((cov.files, cov.groups, cov.columns), (1, 1, 3));
    assert!(
        cov.pages > 3 && cov.bytes_decoded > data.len() as u64,
        "{cov:?}"
    );
    assert!(cov.not_inspected.is_empty(), "{cov:?}");
    // anything else is left to the engine
    let other = dir.path().join("x.bin");
    std::fs::write(&other, b"PAR0 not parquet at all").expect("write");
    let f = std::fs::File::open(&other).expect("open");
    assert!(
        airgate::inspect::parts::datasets::scan_file(&engine, "x.bin", &f, 23)
            .expect("read")
            .is_none()
    );
}
