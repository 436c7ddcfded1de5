//! Arrow IPC written by the `arrow-ipc` crate at test time, stream and file forms, with
//! uncompressed, LZ4_FRAME and ZSTD bodies: string, large string, string view, list and
//! dictionary columns, each with a planted key pair in one known row (or dictionary entry);
//! the clean twins stay quiet.

mod datasets_support;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Int32Array, Int64Array, LargeStringArray, RecordBatch, StringArray,
    StringViewArray,
};
use arrow_ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
use arrow_ipc::CompressionType;
use arrow_schema::{DataType, Field, Schema};
use datasets_support::*;
use std::sync::Arc;

const BATCH: usize = 1000;

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, true),
        Field::new("large", DataType::LargeUtf8, false),
        Field::new("view", DataType::Utf8View, false),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        ),
        Field::new(
            "label",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        ),
    ]))
}

/// Rows `start..start+BATCH`: `special` in text row PLANTED, large row 19,999, view row
/// 15,000, the second tag of row 777, and dictionary entry 2 (used by row 5,000 only).
fn batch(start: usize, special: &str) -> RecordBatch {
    let rows = start..start + BATCH;
    let text: StringArray = rows
        .clone()
        .map(|i| (i % 7 != 3 || i == PLANTED).then(|| text_row(i, special)))
        .collect();
    let pick = |i: usize, at: usize| {
        if i == at {
            special.to_string()
        } else {
            text_row(i + 1, "")
        }
    };
    let large: LargeStringArray = rows.clone().map(|i| Some(pick(i, 19_999))).collect();
    let view: Vec<String> = rows.clone().map(|i| pick(i, 15_000)).collect();
    let view = StringViewArray::from(view.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let mut tags = ListBuilder::new(StringBuilder::new());
    for i in rows.clone() {
        tags.values().append_value("a");
        tags.values()
            .append_value(if i == 777 { special } else { "b" });
        tags.append(true);
    }
    let keys = Int32Array::from(
        rows.clone()
            .map(|i| if i == 5_000 { 2 } else { (i % 2) as i32 })
            .collect::<Vec<_>>(),
    );
    let values = StringArray::from(vec!["chat", "code", special]);
    let label = DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).expect("dictionary");
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(rows.map(|i| i as i64).collect::<Vec<_>>())),
        Arc::new(text),
        Arc::new(large),
        Arc::new(view),
        Arc::new(tags.finish()),
        Arc::new(label),
    ];
    RecordBatch::try_new(schema(), cols).expect("batch")
}

fn options(c: Option<CompressionType>) -> IpcWriteOptions {
    IpcWriteOptions::default()
        .try_with_compression(c)
        .expect("compression")
}

fn stream(c: Option<CompressionType>, special: &str) -> Vec<u8> {
    let mut w =
        StreamWriter::try_new_with_options(Vec::new(), &schema(), options(c)).expect("writer");
    for start in (0..ROWS).step_by(BATCH) {
        w.write(&batch(start, special)).expect("write");
    }
    w.finish().expect("finish");
    w.into_inner().expect("bytes")
}

fn file(c: Option<CompressionType>, special: &str) -> Vec<u8> {
    let mut w =
        FileWriter::try_new_with_options(Vec::new(), &schema(), options(c)).expect("writer");
    for start in (0..ROWS).step_by(BATCH) {
        w.write(&batch(start, special)).expect("write");
    }
    w.finish().expect("finish");
    w.into_inner().expect("bytes")
}

const PLACES: [&str; 6] = [
    "!batch:12/col:text/row:12345",
    "!batch:19/col:large/row:19999",
    "!batch:15/col:view/row:15000",
    "!batch:0/col:tags.item/row:777",
    "!dictionary:0/col:label/entry:2",
    "",
];

#[test]
fn every_form_and_compression_finds_the_planted_values_in_their_rows() {
    for c in [
        None,
        Some(CompressionType::LZ4_FRAME),
        Some(CompressionType::ZSTD),
    ] {
        for (form, make) in [("stream", stream as fn(_, _) -> _), ("file", file)] {
            let what = format!("{form} {c:?}");
            let data = make(c, KEY_ROW);
            let f = scan_stream("t.arrow", &data, 1 << 20);
            for p in PLACES.iter().filter(|p| !p.is_empty()) {
                let path = format!("t.arrow{p}");
                for rule in ["secret.aws-access-key-id", "secret.aws-secret-access-key"] {
                    assert!(
                        f.iter().any(|x| x.rule == rule && x.path == path),
                        "{what}: no {rule} at {path}:\n{}",
                        show(&f)
                    );
                }
            }
            let clean = make(c, NEAR_MISS_ROW);
            let f = scan_stream("t.arrow", &clean, 65_521);
            assert!(serious(&f).is_empty(), "{what}: clean twin:\n{}", show(&f));
        }
    }
}

#[test]
fn broken_streams_never_panic_and_never_pass_silently() {
    let data = stream(Some(CompressionType::ZSTD), KEY_ROW);
    for cut in [200, data.len() / 3, data.len() - 9] {
        let f = scan_stream("t.arrow", &data[..cut], 4096);
        assert!(
            !serious(&f).is_empty(),
            "cut at {cut}: nothing said:\n{}",
            show(&f)
        );
    }
    for at in (8..data.len() - 64).step_by(data.len() / 30) {
        let mut d = data.clone();
        for b in &mut d[at..at + 8] {
            *b ^= 0xa5;
        }
        let f = scan_stream("c.arrow", &d, 1 << 16);
        assert!(!f.is_empty(), "damage at {at}: nothing said");
    }
}

#[test]
fn a_file_footer_listing_a_batch_outside_the_stream_is_refused() {
    let mut data = file(None, NEAR_MISS_ROW);
    let n = data.len();
    let flen = i32::from_le_bytes([data[n - 10], data[n - 9], data[n - 8], data[n - 7]]) as usize;
    let footer = n - 10 - flen;
    let parsed = arrow_ipc::root_as_footer(&data[footer..n - 10]).expect("footer");
    let off = parsed.recordBatches().expect("batches").get(3).offset();
    // point the fourth batch's block 16 bytes further, into the middle of its message
    let pat = off.to_le_bytes();
    let at = footer
        + data[footer..n - 10]
            .windows(8)
            .position(|w| w == pat)
            .expect("block offset");
    data[at..at + 8].copy_from_slice(&(off + 16).to_le_bytes());
    let f = scan_stream("f.arrow", &data, 1 << 20);
    let refused: Vec<_> = f
        .iter()
        .filter(|x| x.rule == "archive.uninspectable")
        .collect();
    assert_eq!(refused.len(), 1, "only the moved block:\n{}", show(&f));
    let want = format!("offset {} that is not in its message sequence", off + 16);
    assert!(refused[0].message.contains(&want), "{}", refused[0].message);
    // the untouched file passes
    let f = scan_stream("f.arrow", &file(None, NEAR_MISS_ROW), 1 << 20);
    assert!(serious(&f).is_empty(), "{}", show(&f));
}
