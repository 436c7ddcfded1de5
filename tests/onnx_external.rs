//! ONNX external tensor data across a bundle's files: a model whose data file is missing
//! from the signed bundle (the runtime would read whatever unsigned file sits there), or
//! whose byte range runs past that file, is rejected by `verify` and flagged by `scan`. A
//! model inside a zip or tar is checked against that archive's members; a model in a
//! gzip file against the files beside it.

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
        let got = airgate::gate::extract_model_tar(&tar_path, &dest, &policy.limits, &engine, None)
            .unwrap()
            .unwrap();
        let missing = got
            .findings
            .iter()
            .any(|f| f.rule == "onnx.external-data-missing" && f.path == "m.onnx");
        assert_eq!(missing, flagged, "{:#?}", got.findings);
    }
}

/// Gzip `data`.
fn gz(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A zip of `files`.
fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in files {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// A tar of `files`.
fn tar_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        entry(&mut out, name.as_bytes(), b'0', data, 0o644);
    }
    end(&mut out);
    out
}

/// The model (reading 16 bytes of `w.bin` beside it) and, when given, `w.bin` of that size,
/// under `dir/` inside an archive.
fn model_files(dir: &str, data_len: Option<usize>) -> Vec<(String, Vec<u8>)> {
    let mut v = vec![(
        format!("{dir}m.onnx"),
        model_support::onnx_external("w.bin", 0, 16),
    )];
    if let Some(n) = data_len {
        v.push((format!("{dir}w.bin"), vec![0x3cu8; n]));
    }
    v
}

fn borrowed(v: &[(String, Vec<u8>)]) -> Vec<(&str, Vec<u8>)> {
    v.iter().map(|(n, d)| (n.as_str(), d.clone())).collect()
}

/// The onnx.external-data-* findings other than the reference itself, as (rule, path).
fn problems(v: &serde_json::Value) -> Vec<(String, String)> {
    rules(v)
        .into_iter()
        .filter(|(r, _)| r.starts_with("onnx.external-data-") && r != "onnx.external-data-ref")
        .collect()
}

fn scan(path: &Path) -> (i32, serde_json::Value) {
    run_json(&["scan", path.to_str().unwrap(), "--format", "json"])
}

fn pair(rule: &str, path: &str) -> Vec<(String, String)> {
    vec![(rule.to_string(), path.to_string())]
}

#[test]
fn a_model_in_a_zip_is_checked_against_the_zip_members() {
    let t = tempfile::tempdir().unwrap();
    for (data_len, want) in [
        (Some(16), vec![]),
        (
            None,
            pair("onnx.external-data-missing", "pkg.zip!model/m.onnx"),
        ),
        (
            Some(8),
            pair("onnx.external-data-range", "pkg.zip!model/m.onnx"),
        ),
    ] {
        let dir = t.path().join(format!("case-{data_len:?}"));
        std::fs::create_dir_all(&dir).unwrap();
        let files = model_files("model/", data_len);
        std::fs::write(dir.join("pkg.zip"), zip_of(&borrowed(&files))).unwrap();
        // a data file beside the zip is not what the model reads once unzipped elsewhere
        std::fs::create_dir_all(dir.join("model")).unwrap();
        std::fs::write(dir.join("model/w.bin"), [0u8; 16]).unwrap();
        let (code, v) = scan(&dir);
        assert_eq!(problems(&v), want, "{v:#}");
        assert_eq!(code, if want.is_empty() { 0 } else { 1 }, "{v:#}");
        assert!(
            has(&v, "onnx.external-data-ref", "pkg.zip!model/m.onnx"),
            "{v:#}"
        );
    }
}

#[test]
fn a_model_in_a_tar_inside_a_signed_bundle_is_checked_against_the_tar() {
    for (data_len, want_code) in [(Some(16), 0), (None, 1)] {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        let files = model_files("", data_len);
        std::fs::write(src.join("model.tar"), tar_of(&borrowed(&files))).unwrap();
        let (code, v) = pack_and_verify(t.path(), &src);
        assert_eq!(code, want_code, "{v:#}");
        let want = if data_len.is_some() {
            vec![]
        } else {
            pair("onnx.external-data-missing", "model.tar!m.onnx")
        };
        assert_eq!(problems(&v), want, "{v:#}");
    }
}

#[test]
fn a_gzipped_model_reads_the_files_beside_the_gzip_file() {
    let t = tempfile::tempdir().unwrap();
    let model = gz(&model_support::onnx_external("w.bin", 0, 16));
    // at the top of a folder
    for with_data in [true, false] {
        let dir = t.path().join(format!("top-{with_data}"));
        std::fs::create_dir_all(dir.join("model")).unwrap();
        std::fs::write(dir.join("model/m.onnx.gz"), &model).unwrap();
        if with_data {
            std::fs::write(dir.join("model/w.bin"), [0u8; 16]).unwrap();
        }
        let (code, v) = scan(&dir);
        let want = if with_data {
            vec![]
        } else {
            pair("onnx.external-data-missing", "model/m.onnx.gz!m.onnx")
        };
        assert_eq!(problems(&v), want, "{v:#}");
        assert_eq!(code, i32::from(!with_data), "{v:#}");
    }
    // inside a zip, beside its data member
    for with_data in [true, false] {
        let dir = t.path().join(format!("zip-{with_data}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut files = vec![("model/m.onnx.gz", model.clone())];
        if with_data {
            files.push(("model/w.bin", vec![0u8; 16]));
        }
        std::fs::write(dir.join("pkg.zip"), zip_of(&files)).unwrap();
        let (_, v) = scan(&dir);
        let want = if with_data {
            vec![]
        } else {
            pair(
                "onnx.external-data-missing",
                "pkg.zip!model/m.onnx.gz!m.onnx",
            )
        };
        assert_eq!(problems(&v), want, "{v:#}");
    }
}

#[test]
fn a_tar_whose_listing_is_cut_short_does_not_call_present_files_missing() {
    // the model, then a damaged header, then the data: the data may well be there, but the
    // reader cannot tell; the damage is reported, not a missing file
    let files = model_files("", Some(16));
    let mut bytes = Vec::new();
    entry(&mut bytes, files[0].0.as_bytes(), b'0', &files[0].1, 0o644);
    let damaged_at = bytes.len();
    entry(&mut bytes, files[1].0.as_bytes(), b'0', &files[1].1, 0o644);
    bytes[damaged_at + 148] ^= 0x01; // checksum field
    end(&mut bytes);
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("model.tar"), &bytes).unwrap();
    let (_, v) = scan(t.path());
    assert!(has(&v, "archive.corrupt", "model.tar"), "{v:#}");
    assert_eq!(problems(&v), vec![], "{v:#}");
}
