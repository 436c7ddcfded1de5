//! Datasets through the real binary: `scan` of Parquet and Arrow files on disk, and a Parquet
//! dataset inside a signed bundle, rejected by `verify` and quarantined by `admit` alike,
//! while its clean twin is accepted and staged.

mod common;
mod datasets_support;
mod gate_util;

use datasets_support::*;
use gate_util::{code, run, text, Env};
use parquet::basic::{Compression, ZstdLevel};

fn s(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn scan_reads_parquet_and_arrow_files_and_names_the_row() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("d.parquet");
    std::fs::write(
        &bad,
        parquet_dataset(&Pq::new(Compression::ZSTD(ZstdLevel::default())), KEY_ROW),
    )
    .expect("write");
    let o = run(&["scan", s(&bad), "--format", "json"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let want = format!("{}!rg0/col:text/row:12345", s(&bad));
    assert!(text(&o).contains(&want), "{}", text(&o));

    let arrow = dir.path().join("cache");
    std::fs::create_dir(&arrow).expect("mkdir");
    std::fs::write(
        arrow.join("data-00000-of-00001.arrow"),
        arrow_stream(Some(arrow_ipc::CompressionType::ZSTD), KEY_ROW),
    )
    .expect("write");
    let o = run(&["scan", s(&arrow), "--format", "json"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("data-00000-of-00001.arrow!batch:12/col:text/row:12345"),
        "{}",
        text(&o)
    );

    // the clean twins: nothing to report at medium or above, so the scan passes
    std::fs::write(
        &bad,
        parquet_dataset(
            &Pq::new(Compression::ZSTD(ZstdLevel::default())),
            NEAR_MISS_ROW,
        ),
    )
    .expect("write");
    std::fs::write(
        arrow.join("data-00000-of-00001.arrow"),
        arrow_stream(None, NEAR_MISS_ROW),
    )
    .expect("write");
    for p in [&bad, &arrow] {
        let o = run(&["scan", s(p)]);
        assert_eq!(code(&o), 0, "{}", text(&o));
    }
}

#[test]
fn verify_and_admit_reject_a_signed_bundle_holding_a_leaky_dataset() {
    let env = Env::new("");
    let pq = |row: &str| parquet_dataset(&Pq::new(Compression::GZIP(Default::default())), row);
    let bad = env.bundle(
        "ds",
        "1.0.0",
        &[
            ("data/train.parquet", pq(KEY_ROW)),
            ("README.md", b"a dataset\n".to_vec()),
        ],
        true,
    );
    let good = env.bundle(
        "ds",
        "1.0.1",
        &[
            ("data/train.parquet", pq(NEAR_MISS_ROW)),
            ("README.md", b"a dataset\n".to_vec()),
        ],
        true,
    );
    let policy = env.path().join("policy.toml");
    let where_ = "data/train.parquet!rg0/col:text/row:12345";

    let o = run(&[
        "verify",
        s(&bad),
        "--policy",
        s(&policy),
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains(where_), "{}", text(&o));
    let o = run(&["verify", s(&good), "--policy", s(&policy)]);
    assert_eq!(code(&o), 0, "{}", text(&o));

    let o = env.admit(&bad);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let q = env.quarantined();
    assert_eq!(q.len(), 1);
    let report = std::fs::read_to_string(q[0].join("report.json")).expect("report");
    assert!(report.contains(where_), "{report}");
    let o = env.admit(&good);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(env.staged().len(), 1);
}

#[test]
fn datasets_are_read_without_network() {
    if common::namespace_has_no_network() != Some(true) {
        eprintln!("skipped: cannot create a network namespace here");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let pq = dir.path().join("d.parquet");
    let ar = dir.path().join("t.arrow");
    std::fs::write(&pq, parquet_dataset(&Pq::new(Compression::SNAPPY), KEY_ROW)).expect("write");
    std::fs::write(
        &ar,
        arrow_file(Some(arrow_ipc::CompressionType::LZ4_FRAME), KEY_ROW),
    )
    .expect("write");
    for (p, want) in [
        (&pq, "!rg0/col:text/row:12345"),
        (&ar, "!batch:12/col:text/row:12345"),
    ] {
        let Some((code, out)) = common::airgate_offline(&["scan", s(p), "--format", "json"]) else {
            return;
        };
        assert_eq!(code, 1, "{out}");
        assert!(out.contains(want), "{out}");
    }
}
