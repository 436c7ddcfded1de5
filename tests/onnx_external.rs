//! ONNX external tensor data across a bundle's files: a model whose data file is missing
//! from the signed bundle (the runtime would read whatever unsigned file sits there), or
//! whose byte range runs past that file, is rejected by `verify` and flagged by `scan`.

mod common;
mod model_support;

use common::*;
use std::path::Path;

/// A tree with `model/m.onnx` reading 16 bytes at offset 0 of `model/w.bin`, and `w.bin`
/// holding `data_len` bytes (no file when `None`).
fn tree(dir: &Path, data_len: Option<usize>) {
    std::fs::create_dir_all(dir.join("model")).unwrap();
    std::fs::write(
        dir.join("model/m.onnx"),
        model_support::onnx_external("w.bin", 0, 16),
    )
    .unwrap();
    if let Some(n) = data_len {
        std::fs::write(dir.join("model/w.bin"), vec![0x3cu8; n]).unwrap();
    }
    std::fs::write(dir.join("README.txt"), b"an ONNX model and its weights\n").unwrap();
}

/// Pack and sign `src`, verify it with the signer's key: (exit code, JSON report).
fn pack_and_verify(d: &Path, src: &Path) -> (i32, serde_json::Value) {
    let (_, pubkey) = key(d, "k");
    let b = d.join("m.tar.zst");
    let b_s = b.to_str().unwrap();
    pack_weights(src, &b);
    let (code, _, err) = run(&["sign", b_s, "--key", d.join("k.key").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    run_json(&[
        "verify",
        b_s,
        "--key",
        pubkey.to_str().unwrap(),
        "--threshold",
        "1",
        "--format",
        "json",
    ])
}

fn rules(v: &serde_json::Value) -> Vec<(String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn has(v: &serde_json::Value, rule: &str, path: &str) -> bool {
    rules(v).contains(&(rule.to_string(), path.to_string()))
}

#[test]
fn verify_accepts_a_model_whose_data_is_in_the_bundle() {
    let t = tempfile::tempdir().unwrap();
    tree(&t.path().join("src"), Some(16));
    let (code, v) = pack_and_verify(t.path(), &t.path().join("src"));
    assert_eq!(code, 0, "{v:#}");
    assert!(has(&v, "onnx.external-data-ref", "model/m.onnx"), "{v:#}");
    assert!(
        !rules(&v)
            .iter()
            .any(|(r, _)| r.starts_with("onnx.external-data-") && r != "onnx.external-data-ref"),
        "{v:#}"
    );
}

#[test]
fn verify_rejects_a_model_whose_data_is_not_in_the_bundle() {
    let t = tempfile::tempdir().unwrap();
    tree(&t.path().join("src"), None);
    let (code, v) = pack_and_verify(t.path(), &t.path().join("src"));
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["verdict"], "reject");
    assert!(
        has(&v, "onnx.external-data-missing", "model/m.onnx"),
        "{v:#}"
    );
}

#[test]
fn verify_rejects_a_range_past_the_data_file() {
    let t = tempfile::tempdir().unwrap();
    tree(&t.path().join("src"), Some(8));
    let (code, v) = pack_and_verify(t.path(), &t.path().join("src"));
    assert_eq!(code, 1, "{v:#}");
    assert!(has(&v, "onnx.external-data-range", "model/m.onnx"), "{v:#}");
    assert!(
        !has(&v, "onnx.external-data-missing", "model/m.onnx"),
        "{v:#}"
    );
}

/// `scan PATH`: exits 1 and flags the missing data file exactly when `missing`.
fn scan_flags_missing(path: &Path, missing: bool) {
    let (code, v) = run_json(&["scan", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, if missing { 1 } else { 0 }, "{v:#}");
    assert_eq!(
        has(&v, "onnx.external-data-missing", "model/m.onnx"),
        missing,
        "{v:#}"
    );
}

#[test]
fn scan_of_a_folder_checks_the_data_file() {
    let t = tempfile::tempdir().unwrap();
    let ok = t.path().join("ok");
    tree(&ok, Some(16));
    scan_flags_missing(&ok, false);

    let missing = t.path().join("missing");
    tree(&missing, None);
    scan_flags_missing(&missing, true);

    // a link to the data is not a regular file of the folder
    let linked = t.path().join("linked");
    tree(&linked, None);
    std::os::unix::fs::symlink(ok.join("model/w.bin"), linked.join("model/w.bin")).unwrap();
    scan_flags_missing(&linked, true);
}

#[test]
fn scan_of_a_bundle_checks_the_data_file() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    tree(&d.join("src"), None);
    let b = d.join("m.tar.zst");
    pack_weights(&d.join("src"), &b);
    scan_flags_missing(&b, true);
}

/// Model admission (a plain tar with `model.sig`) extracts and inspects every file; its
/// cross-file check uses the tar's own file list. (The signature itself is checked after
/// extraction and is not what this test is about.)
#[test]
fn model_tar_extraction_checks_the_data_file() {
    let policy = airgate::policy::Policy::default();
    let engine = airgate::inspect::build_engine(&policy).unwrap();
    for (with_data, flagged) in [(true, false), (false, true)] {
        let t = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            b.append_data(&mut h, name, data).unwrap();
        };
        add("model.sig", b"{}");
        add("m.onnx", &model_support::onnx_external("w.bin", 0, 16));
        if with_data {
            add("w.bin", &[0u8; 16]);
        }
        let tar_path = t.path().join("m.tar");
        std::fs::write(&tar_path, b.into_inner().unwrap()).unwrap();
        let dest = t.path().join("out");
        std::fs::create_dir(&dest).unwrap();
        let got =
            airgate::gate::model_check::extract(&tar_path, &dest, &policy.limits, &engine, None)
                .unwrap()
                .unwrap();
        let missing = got
            .findings
            .iter()
            .any(|f| f.rule == "onnx.external-data-missing" && f.path == "m.onnx");
        assert_eq!(missing, flagged, "{:#?}", got.findings);
    }
}
