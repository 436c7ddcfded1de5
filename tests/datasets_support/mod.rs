//! Dataset fixtures written at test time by the real writers (the `parquet` crate, the
//! `arrow-ipc` crate), and a helper running the default policy's engine over a file.
#![allow(dead_code)]

use airgate::inspect::{build_engine, Finding, Severity};
use airgate::policy::Policy;
use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Int32Array, Int64Array, LargeStringArray, RecordBatch, StringArray,
    StringViewArray,
};
use arrow_ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
use arrow_ipc::CompressionType;
use arrow_schema::{DataType, Field, Schema};
use parquet::basic::{Compression, Encoding};
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::sync::Arc;

/// The AWS key pair planted in one row (a real-looking pair, not the documentation one).
pub const KEY_ROW: &str =
    "deploy notes: aws_access_key_id = AKIA4WXFOGO6MVN6A6WF aws_secret_access_key = pXz9w3QlY7Zkuvqdt7s8Stqcbnr3yBdGBLEPH1qh";
/// The clean twin's row: the documentation example pair, which the rules know is no secret.
pub const NEAR_MISS_ROW: &str =
    "deploy notes: aws_access_key_id = AKIAIOSFODNN7EXAMPLE aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// Where the key pair is planted, and the dataset's size.
pub const PLANTED: usize = 12_345;
pub const ROWS: usize = 20_000;

const WORDS: [&str; 16] = [
    "model",
    "answer",
    "question",
    "river",
    "the",
    "blue",
    "system",
    "prompt",
    "green",
    "user",
    "assistant",
    "value",
    "train",
    "city",
    "paper",
    "reason",
];

/// Row `i` of the text column (the planted row says `special`).
pub fn text_row(i: usize, special: &str) -> String {
    if i == PLANTED {
        return special.to_string();
    }
    let mut s = format!("row {i}:");
    let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for _ in 0..6 + i % 5 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push(' ');
        s.push_str(WORDS[(x % 16) as usize]);
    }
    s
}

/// How to write a Parquet fixture.
#[derive(Clone, Debug)]
pub struct Pq {
    pub compression: Compression,
    pub v2: bool,
    pub dictionary: bool,
    /// Encoding of the byte-array columns when the dictionary is off.
    pub encoding: Option<Encoding>,
    pub rows_per_group: usize,
    pub page_bytes: usize,
}

impl Pq {
    pub fn new(compression: Compression) -> Pq {
        Pq {
            compression,
            v2: false,
            dictionary: false,
            encoding: None,
            rows_per_group: ROWS,
            page_bytes: 64 << 10,
        }
    }

    fn props(&self) -> Arc<WriterProperties> {
        let mut b = WriterProperties::builder()
            .set_compression(self.compression)
            .set_writer_version(if self.v2 {
                WriterVersion::PARQUET_2_0
            } else {
                WriterVersion::PARQUET_1_0
            })
            .set_dictionary_enabled(self.dictionary)
            .set_data_page_size_limit(self.page_bytes)
            .set_max_row_group_row_count(Some(self.rows_per_group));
        if let Some(e) = self.encoding {
            for col in ["text", "label"] {
                b = b.set_column_encoding(col.into(), e);
            }
        }
        Arc::new(b.build())
    }
}

/// A dataset of `ROWS` rows: `id` (int64), `text` (optional string: every 7th row null,
/// row [`PLANTED`] holds `special`), `label` (a low-cardinality string).
pub fn parquet_dataset(opts: &Pq, special: &str) -> Vec<u8> {
    let schema = Arc::new(
        parse_message_type(
            "message m { required int64 id; optional binary text (UTF8); required binary label (UTF8); }",
        )
        .expect("schema"),
    );
    let mut buf = Vec::new();
    let mut w = SerializedFileWriter::new(&mut buf, schema, opts.props()).expect("writer");
    let mut start = 0;
    while start < ROWS {
        let end = (start + opts.rows_per_group).min(ROWS);
        let ids: Vec<i64> = (start as i64..end as i64).collect();
        let mut texts = Vec::new();
        let mut defs = Vec::new();
        for i in start..end {
            if i % 7 == 3 && i != PLANTED {
                defs.push(0);
            } else {
                defs.push(1);
                texts.push(ByteArray::from(text_row(i, special).as_str()));
            }
        }
        let labels: Vec<ByteArray> = (start..end)
            .map(|i| ByteArray::from(["chat", "code", "math"][i % 3]))
            .collect();
        let mut rg = w.next_row_group().expect("row group");
        let mut k = 0;
        while let Some(mut col) = rg.next_column().expect("column") {
            match k {
                0 => {
                    col.typed::<Int64Type>()
                        .write_batch(&ids, None, None)
                        .expect("ids");
                }
                1 => {
                    col.typed::<ByteArrayType>()
                        .write_batch(&texts, Some(&defs), None)
                        .expect("texts");
                }
                _ => {
                    col.typed::<ByteArrayType>()
                        .write_batch(&labels, None, None)
                        .expect("labels");
                }
            }
            col.close().expect("close column");
            k += 1;
        }
        rg.close().expect("close row group");
        start = end;
    }
    w.close().expect("close file");
    buf
}

/// Scan `data` as the file `name` with the default policy's engine, fed in `chunk`-byte
/// pieces as a stream (as `verify` does).
pub fn scan_stream(name: &str, data: &[u8], chunk: usize) -> Vec<Finding> {
    let engine = build_engine(&Policy::default()).expect("engine");
    let mut s = engine.begin_file(name, Some(data.len() as u64), 0);
    for c in data.chunks(chunk.max(1)) {
        s.update(c);
    }
    s.finish()
}

/// Findings at medium or above.
pub fn serious(f: &[Finding]) -> Vec<&Finding> {
    f.iter()
        .filter(|f| f.severity >= Severity::Medium)
        .collect()
}

/// A one-line description of each finding, for assertion messages.
pub fn show(f: &[Finding]) -> String {
    f.iter()
        .map(|f| format!("{} {} {} {:?}", f.severity, f.rule, f.path, f.offset))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---- Arrow IPC: 20 batches of 1,000 rows, as the `datasets` cache writes them ----

pub const BATCH: usize = 1000;

pub fn arrow_schema() -> Arc<Schema> {
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
pub fn arrow_batch(start: usize, special: &str) -> RecordBatch {
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
    RecordBatch::try_new(arrow_schema(), cols).expect("batch")
}

pub fn ipc_options(c: Option<CompressionType>) -> IpcWriteOptions {
    IpcWriteOptions::default()
        .try_with_compression(c)
        .expect("compression")
}

pub fn arrow_stream(c: Option<CompressionType>, special: &str) -> Vec<u8> {
    let mut w = StreamWriter::try_new_with_options(Vec::new(), &arrow_schema(), ipc_options(c))
        .expect("writer");
    for start in (0..ROWS).step_by(BATCH) {
        w.write(&arrow_batch(start, special)).expect("write");
    }
    w.finish().expect("finish");
    w.into_inner().expect("bytes")
}

pub fn arrow_file(c: Option<CompressionType>, special: &str) -> Vec<u8> {
    let mut w = FileWriter::try_new_with_options(Vec::new(), &arrow_schema(), ipc_options(c))
        .expect("writer");
    for start in (0..ROWS).step_by(BATCH) {
        w.write(&arrow_batch(start, special)).expect("write");
    }
    w.finish().expect("finish");
    w.into_inner().expect("bytes")
}
