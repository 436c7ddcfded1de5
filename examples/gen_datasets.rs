//! Dataset files for `make bench` and the fuzz seeds, written by the real writers:
//!
//! - `gen_datasets bench OUT.parquet MB`: a fine-tune-style Parquet dataset of at least MB
//!   megabytes (zstd pages, data page v1, dictionary with PLAIN fallback, 1 MiB pages, as
//!   pyarrow writes by default), with an AWS key pair planted in row 1,234,567.
//! - `gen_datasets pages IN.parquet OUT.zst`: the compressed data of every page of IN, end to
//!   end: zstd frames that `zstd -d` decodes, the floor the bench measures against.
//! - `gen_datasets seeds DIR`: small Parquet and Arrow IPC files for the fuzz corpora.

use airgate::inspect::parts::datasets::page_data;
use airgate::inspect::parts::datasets::FileSource;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::writer::SerializedFileWriter;
use std::io::Write;
use std::sync::Arc;

const PLANTED_ROW: u64 = 1_234_567;
const KEY: &str = "aws_access_key_id = AKIA4WXFOGO6MVN6A6WF aws_secret_access_key = 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";

/// A xorshift generator (deterministic data).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A vocabulary of made-up words from syllables, used with a skewed (Zipf-like) choice so
/// the text compresses about as natural language does.
fn vocabulary() -> Vec<String> {
    let syl = [
        "ka", "to", "re", "mi", "lan", "dor", "vi", "es", "un", "ther", "qua", "po", "sen", "al",
        "ri", "bo", "nel", "ou", "ix", "ma",
    ];
    let mut r = Rng(0x5eed);
    (0..8192)
        .map(|_| {
            let n = 1 + r.next() % 4;
            (0..n)
                .map(|_| syl[(r.next() % syl.len() as u64) as usize])
                .collect()
        })
        .collect()
}

fn sentence(r: &mut Rng, vocab: &[String], out: &mut String) {
    let n = 6 + r.next() % 18;
    for k in 0..n {
        // skewed: small indexes far more often
        let a = r.next() % vocab.len() as u64;
        let b = r.next() % (a + 1);
        if k > 0 {
            out.push(' ');
        }
        out.push_str(&vocab[b as usize]);
        if r.next() % 23 == 0 {
            out.push_str(&format!(" {}", r.next() % 10_000));
        }
    }
    out.push_str([". ", "? ", "! ", ", "][(r.next() % 4) as usize]);
}

fn bench(out: &str, mb: u64) {
    let schema = Arc::new(
        parquet::schema::parser::parse_message_type(
            "message m { required int64 id; required binary prompt (UTF8); optional binary response (UTF8); required binary source (UTF8); required double score; }",
        )
        .expect("schema"),
    );
    let props = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(250_000))
        .build();
    let file = std::fs::File::create(out).expect("create");
    let mut w = SerializedFileWriter::new(std::io::BufWriter::new(file), schema, Arc::new(props))
        .expect("writer");
    let vocab = vocabulary();
    let mut r = Rng(0x1234_5678);
    let mut row = 0u64;
    let target = mb * 1_000_000;
    loop {
        let n = 50_000;
        let (mut ids, mut prompts, mut responses, mut defs, mut sources, mut scores) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for _ in 0..n {
            ids.push(row as i64);
            let mut p = String::new();
            for _ in 0..1 + r.next() % 3 {
                sentence(&mut r, &vocab, &mut p);
            }
            prompts.push(ByteArray::from(p.as_str()));
            if r.next() % 50 == 0 {
                defs.push(0);
            } else {
                defs.push(1);
                let mut a = String::new();
                for _ in 0..3 + r.next() % 12 {
                    sentence(&mut r, &vocab, &mut a);
                }
                if row == PLANTED_ROW {
                    a = format!("{KEY} {a}");
                }
                responses.push(ByteArray::from(a.as_str()));
            }
            sources.push(ByteArray::from(
                ["web", "books", "code", "forums", "papers"][(r.next() % 5) as usize],
            ));
            scores.push((r.next() % 1000) as f64 / 1000.0);
            row += 1;
        }
        let mut rg = w.next_row_group().expect("row group");
        let mut k = 0;
        while let Some(mut col) = rg.next_column().expect("column") {
            match k {
                0 => drop(
                    col.typed::<Int64Type>()
                        .write_batch(&ids, None, None)
                        .expect("ids"),
                ),
                1 => drop(
                    col.typed::<ByteArrayType>()
                        .write_batch(&prompts, None, None)
                        .expect("prompts"),
                ),
                2 => drop(
                    col.typed::<ByteArrayType>()
                        .write_batch(&responses, Some(&defs), None)
                        .expect("responses"),
                ),
                3 => drop(
                    col.typed::<ByteArrayType>()
                        .write_batch(&sources, None, None)
                        .expect("sources"),
                ),
                _ => drop(
                    col.typed::<DoubleType>()
                        .write_batch(&scores, None, None)
                        .expect("scores"),
                ),
            }
            col.close().expect("close column");
            k += 1;
        }
        rg.close().expect("close row group");
        if w.bytes_written() as u64 >= target {
            break;
        }
    }
    w.close().expect("close");
    eprintln!("{out}: {row} rows");
}

fn pages(input: &str, out: &str) {
    let f = std::fs::File::open(input).expect("open");
    let len = f.metadata().expect("stat").len();
    let src = FileSource { file: &f, len };
    let ranges = page_data(&src).expect("pages");
    let mut o = std::io::BufWriter::new(std::fs::File::create(out).expect("create"));
    let mut buf = Vec::new();
    for (s, n) in &ranges {
        buf.resize(*n as usize, 0);
        std::os::unix::fs::FileExt::read_exact_at(&f, &mut buf, *s).expect("read");
        o.write_all(&buf).expect("write");
    }
    o.flush().expect("flush");
    eprintln!("{out}: {} pages", ranges.len());
}

fn seeds(dir: &str) {
    let d = std::path::Path::new(dir);
    std::fs::create_dir_all(d.join("parquet")).expect("mkdir");
    std::fs::create_dir_all(d.join("arrow_ipc")).expect("mkdir");
    let schema = Arc::new(
        parquet::schema::parser::parse_message_type(
            "message m { required int64 id; optional binary text (UTF8);
              optional group tags (LIST) { repeated group list { optional binary element (UTF8); } } }",
        )
        .expect("schema"),
    );
    let codecs = [
        Compression::UNCOMPRESSED,
        Compression::SNAPPY,
        Compression::GZIP(Default::default()),
        Compression::BROTLI(Default::default()),
        Compression::ZSTD(Default::default()),
        Compression::LZ4,
        Compression::LZ4_RAW,
    ];
    for (i, c) in codecs.iter().enumerate() {
        for v2 in [false, true] {
            let props = WriterProperties::builder()
                .set_compression(*c)
                .set_writer_version(if v2 {
                    WriterVersion::PARQUET_2_0
                } else {
                    WriterVersion::PARQUET_1_0
                })
                .set_dictionary_enabled(i % 2 == 0)
                .set_data_page_row_count_limit(8)
                .set_write_batch_size(8)
                .build();
            let mut buf = Vec::new();
            let mut w = SerializedFileWriter::new(&mut buf, schema.clone(), Arc::new(props))
                .expect("writer");
            let mut rg = w.next_row_group().expect("rg");
            let ids: Vec<i64> = (0..20).collect();
            let texts: Vec<ByteArray> = (0..18)
                .map(|j| ByteArray::from(if j == 9 { KEY } else { "some text" }))
                .collect();
            let defs: Vec<i16> = (0..20).map(|j| i16::from(j % 10 != 3)).collect();
            let tags: Vec<ByteArray> = (0..60)
                .map(|j| ByteArray::from(format!("t{j}").as_str()))
                .collect();
            let tdefs: Vec<i16> = vec![3; 60];
            let treps: Vec<i16> = (0..60).map(|j| i16::from(j % 3 != 0)).collect();
            let mut k = 0;
            while let Some(mut col) = rg.next_column().expect("col") {
                match k {
                    0 => drop(
                        col.typed::<Int64Type>()
                            .write_batch(&ids, None, None)
                            .expect("ids"),
                    ),
                    1 => drop(
                        col.typed::<ByteArrayType>()
                            .write_batch(&texts, Some(&defs), None)
                            .expect("texts"),
                    ),
                    _ => drop(
                        col.typed::<ByteArrayType>()
                            .write_batch(&tags, Some(&tdefs), Some(&treps))
                            .expect("tags"),
                    ),
                }
                col.close().expect("close");
                k += 1;
            }
            rg.close().expect("close");
            w.close().expect("close");
            std::fs::write(
                d.join(format!("parquet/{i}-v{}.parquet", 1 + usize::from(v2))),
                &buf,
            )
            .expect("write");
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, true),
    ]));
    for (i, c) in [
        None,
        Some(arrow_ipc::CompressionType::LZ4_FRAME),
        Some(arrow_ipc::CompressionType::ZSTD),
    ]
    .into_iter()
    .enumerate()
    {
        let opts = arrow_ipc::writer::IpcWriteOptions::default()
            .try_with_compression(c)
            .expect("options");
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef,
                Arc::new(StringArray::from(vec![Some("a"), None, Some(KEY)])),
            ],
        )
        .expect("batch");
        let mut s = arrow_ipc::writer::StreamWriter::try_new_with_options(
            Vec::new(),
            &schema,
            opts.clone(),
        )
        .expect("stream");
        s.write(&batch).expect("write");
        s.finish().expect("finish");
        std::fs::write(
            d.join(format!("arrow_ipc/{i}.stream")),
            s.into_inner().expect("bytes"),
        )
        .expect("write");
        let mut f = arrow_ipc::writer::FileWriter::try_new_with_options(Vec::new(), &schema, opts)
            .expect("file");
        f.write(&batch).expect("write");
        f.finish().expect("finish");
        std::fs::write(
            d.join(format!("arrow_ipc/{i}.file")),
            f.into_inner().expect("bytes"),
        )
        .expect("write");
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    match a.get(1).map(String::as_str) {
        Some("bench") if a.len() == 4 => bench(&a[2], a[3].parse().expect("MB")),
        Some("pages") if a.len() == 4 => pages(&a[2], &a[3]),
        Some("seeds") if a.len() == 3 => seeds(&a[2]),
        _ => {
            eprintln!(
                "usage: gen_datasets bench OUT.parquet MB | pages IN.parquet OUT.zst | seeds DIR"
            );
            std::process::exit(2);
        }
    }
}
