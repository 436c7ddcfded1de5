//! One hostile bundle per rejection rule, each built by the test, each rejected (exit 1)
//! with its own reason; and the threshold edge cases through a policy file.

mod common;

use common::*;
use std::path::{Path, PathBuf};

struct Fixture {
    _t: tempfile::TempDir,
    dir: PathBuf,
    key: airgate::trust::PrivateKey,
    pubkey: PathBuf,
}

fn fixture() -> Fixture {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().to_path_buf();
    let (key, pubkey) = key(&dir, "a");
    Fixture {
        _t: t,
        dir,
        key,
        pubkey,
    }
}

/// Write a bundle: a valid envelope over `listed`, then `body` as the payload tar stream.
fn write(f: &Fixture, listed: &[(&str, &[u8])], body: &[u8], zstd: bool) -> PathBuf {
    let st = statement("weights", "1.0.0", listed);
    let mut tar = envelope(&st, &[&f.key]);
    tar.extend_from_slice(body);
    let (path, bytes) = if zstd {
        // The format's rule: payload frames decompress to at most 64 MiB; write 8 MiB frames.
        let mut z = Vec::new();
        for part in tar.chunks(8 << 20) {
            z.extend(zstd::stream::encode_all(part, 3).unwrap());
        }
        (f.dir.join("b.tar.zst"), z)
    } else {
        (f.dir.join("b.tar"), tar)
    };
    std::fs::write(&path, bytes).unwrap();
    path
}

fn verify(f: &Fixture, bundle: &Path, extra_policy: &str) -> (i32, String) {
    let pol = policy(&f.dir, "weights", &[&f.pubkey], 1, extra_policy);
    let (code, out, err) = run(&[
        "verify",
        bundle.to_str().unwrap(),
        "--policy",
        pol.to_str().unwrap(),
    ]);
    (code, format!("{out}{err}"))
}

fn assert_rejected(f: &Fixture, bundle: &Path, extra_policy: &str, needle: &str) {
    let (code, out) = verify(f, bundle, extra_policy);
    assert_eq!(code, 1, "expected rejection containing {needle:?}:\n{out}");
    assert!(out.contains(needle), "expected {needle:?} in:\n{out}");
}

#[test]
fn good_bundle_is_accepted() {
    let f = fixture();
    let mut body = Vec::new();
    entry(&mut body, b"a.txt", b'0', b"hello", 0o644);
    end(&mut body);
    let b = write(&f, &[("a.txt", b"hello")], &body, true);
    assert_eq!(verify(&f, &b, "").0, 0);
}

#[test]
fn path_traversal_and_absolute_paths() {
    for (name, needle) in [
        (&b"../evil"[..], "'..' path component"),
        (b"a/../../evil", "'..' path component"),
        (b"/etc/cron.d/evil", "absolute path"),
        (b"caf\xe9", "not UTF-8"),
    ] {
        let f = fixture();
        let mut body = Vec::new();
        entry(&mut body, name, b'0', b"x", 0o644);
        end(&mut body);
        let b = write(&f, &[("a", b"x")], &body, false);
        assert_rejected(&f, &b, "", needle);
    }
}

#[test]
fn links_devices_fifos_and_sparse_entries() {
    for (ty, needle) in [
        (b'2', "symbolic link"),
        (b'1', "hard link"),
        (b'3', "character device"),
        (b'4', "block device"),
        (b'6', "FIFO"),
        (b'S', "sparse"),
    ] {
        let f = fixture();
        let mut body = Vec::new();
        entry(&mut body, b"x", ty, b"", 0o644);
        end(&mut body);
        let b = write(&f, &[("x", b"")], &body, false);
        assert_rejected(&f, &b, "", needle);
    }
}

#[test]
fn pax_global_and_size_disagreement() {
    let f = fixture();
    let mut body = Vec::new();
    pax(&mut body, &[("comment", "x")], b'g');
    entry(&mut body, b"a", b'0', b"x", 0o644);
    end(&mut body);
    let b = write(&f, &[("a", b"x")], &body, false);
    assert_rejected(&f, &b, "", "PAX global");

    let f = fixture();
    let mut body = Vec::new();
    pax(&mut body, &[("size", "1024")], b'x');
    entry(&mut body, b"a", b'0', b"x", 0o644);
    end(&mut body);
    let b = write(&f, &[("a", b"x")], &body, false);
    assert_rejected(&f, &b, "", "PAX size 1024 disagrees");
}

#[test]
fn duplicate_names_and_setuid() {
    let f = fixture();
    let mut body = Vec::new();
    entry(&mut body, b"a", b'0', b"x", 0o644);
    entry(&mut body, b"a", b'0', b"x", 0o644);
    end(&mut body);
    let b = write(&f, &[("a", b"x")], &body, false);
    assert_rejected(&f, &b, "", "more than once");

    let f = fixture();
    let mut body = Vec::new();
    entry(&mut body, b"a", b'0', b"x", 0o4755);
    end(&mut body);
    let b = write(&f, &[("a", b"x")], &body, false);
    assert_rejected(&f, &b, "", "setuid");
}

#[test]
fn extra_missing_and_out_of_size_entries() {
    let f = fixture();
    let mut body = Vec::new();
    entry(&mut body, b"a", b'0', b"x", 0o644);
    entry(&mut body, b"extra", b'0', b"y", 0o644);
    end(&mut body);
    let b = write(&f, &[("a", b"x")], &body, false);
    assert_rejected(&f, &b, "", "not in the signed statement");

    let f = fixture();
    let mut body = Vec::new();
    entry(&mut body, b"a", b'0', b"x", 0o644);
    end(&mut body);
    let b = write(&f, &[("a", b"x"), ("b", b"y")], &body, false);
    assert_rejected(&f, &b, "", "not in the archive");

    let f = fixture();
    let mut body = Vec::new();
    entry(&mut body, b"a", b'0', b"xx", 0o644);
    end(&mut body);
    let b = write(&f, &[("a", b"x")], &body, false);
    assert_rejected(&f, &b, "", "is 2 bytes in the archive but 1");
}

#[test]
fn limits_entries_total_and_ratio() {
    let f = fixture();
    let mut body = Vec::new();
    for n in ["a", "b", "c"] {
        entry(&mut body, n.as_bytes(), b'0', b"x", 0o644);
    }
    end(&mut body);
    let b = write(&f, &[("a", b"x"), ("b", b"x"), ("c", b"x")], &body, false);
    assert_rejected(&f, &b, "[limits]\nmax_entries = 3\n", "more than 3 entries");
    assert_rejected(&f, &b, "[limits]\nmax_total_bytes = 2\n", "total limit");

    // a decompression bomb: 64 MiB of zeros, ratio far above 100:1
    let f = fixture();
    let zeros = vec![0u8; 64 << 20];
    let mut body = Vec::new();
    entry(&mut body, b"z", b'0', &zeros, 0o644);
    end(&mut body);
    let b = write(&f, &[("z", &zeros)], &body, true);
    assert_rejected(&f, &b, "[limits]\nmax_ratio = 100\n", "ratio");

    // a single zstd frame that decompresses to more than the per-frame cap
    let f = fixture();
    let big = vec![0u8; 65 << 20];
    let mut tar = envelope(&statement("weights", "1.0.0", &[("z", &big)]), &[&f.key]);
    entry(&mut tar, b"z", b'0', &big, 0o644);
    end(&mut tar);
    let b = f.dir.join("one-frame.tar.zst");
    std::fs::write(&b, zstd::stream::encode_all(&tar[..], 1).unwrap()).unwrap();
    assert_rejected(&f, &b, "", "more than 67108864 bytes");
}

#[test]
fn truncated_and_corrupt_bundles() {
    let f = fixture();
    let mut body = Vec::new();
    entry(&mut body, b"a", b'0', &[5u8; 5000], 0o644);
    end(&mut body);
    let b = write(&f, &[("a", &[5u8; 5000])], &body, true);
    let bytes = std::fs::read(&b).unwrap();
    std::fs::write(&b, &bytes[..bytes.len() - 20]).unwrap();
    assert_rejected(&f, &b, "", "corrupt or truncated");
    std::fs::write(&b, b"definitely not a bundle").unwrap();
    assert_rejected(&f, &b, "", "not a bundle");
}

#[test]
fn threshold_edge_cases_via_policy() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (a, pa) = key(d, "a");
    let (b, pb) = key(d, "b");
    let (stranger, _) = key(d, "s");
    let mut body = Vec::new();
    entry(&mut body, b"f", b'0', b"data", 0o644);
    end(&mut body);
    let make = |signers: &[&airgate::trust::PrivateKey]| {
        let st = statement("weights", "1", &[("f", b"data")]);
        let mut tar = envelope(&st, signers);
        tar.extend_from_slice(&body);
        let p = d.join("b.tar");
        std::fs::write(&p, tar).unwrap();
        p
    };
    let check = |bundle: &Path, extra: &str, threshold: usize| {
        let pol = policy(d, "weights", &[&pa, &pb], threshold, extra);
        let (code, out, _) = run(&[
            "verify",
            bundle.to_str().unwrap(),
            "--policy",
            pol.to_str().unwrap(),
            "--format",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let statuses: Vec<String> = v["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["status"].as_str().unwrap().to_string())
            .collect();
        (code, statuses)
    };
    // same key twice: counted once
    assert_eq!(
        check(&make(&[&a, &a]), "", 2),
        (1, vec!["counted".into(), "duplicate".into()])
    );
    assert_eq!(check(&make(&[&a, &b]), "", 2).0, 0);
    // revoked: never counts (1-of-2 still met by a)
    let revoked = format!("revoked = [\"{}\"]\n", b.public().id());
    assert_eq!(
        check(&make(&[&a, &b]), &revoked, 1),
        (0, vec!["counted".into(), "revoked".into()])
    );
    // and a 2-of-2 that needs the revoked key can never be met: a configuration error
    let pol = policy(d, "weights", &[&pa, &pb], 2, &revoked);
    let (code, _, err) = run(&[
        "verify",
        make(&[&a, &b]).to_str().unwrap(),
        "--policy",
        pol.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("can never be met"), "{err}");
    // unknown key
    assert_eq!(
        check(&make(&[&stranger]), "", 1),
        (1, vec!["unknown".into()])
    );
    // expired key (policy with expiry on k1 = b)
    let pol_text = format!(
        "[[keys]]\nname = \"a\"\npath = \"{}\"\n[[keys]]\nname = \"b\"\npath = \"{}\"\nexpires = \"2001-01-01T00:00:00Z\"\n[trust.weights]\nkeys = [\"a\", \"b\"]\nthreshold = 2\n",
        pa.display(),
        pb.display()
    );
    let pol = d.join("exp.toml");
    std::fs::write(&pol, pol_text).unwrap();
    let (code, out, _) = run(&[
        "verify",
        make(&[&a, &b]).to_str().unwrap(),
        "--policy",
        pol.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("expired"), "{out}");
}
