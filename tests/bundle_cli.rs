//! End-to-end tests of keygen, pack, sign, inspect and verify on the real binary: round
//! trips, determinism, threshold edge cases and one hostile bundle per rejection rule.

mod common;

use common::*;
use std::path::Path;

fn sample_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("config.json"), br#"{"hidden_size": 8}"#).unwrap();
    std::fs::write(dir.join("sub/weights.bin"), vec![7u8; 300_000]).unwrap();
}

#[test]
fn round_trip_two_of_three() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    sample_tree(&d.join("src"));
    let (_, pa) = key(d, "a");
    let (_, pb) = key(d, "b");
    let (_, pc) = key(d, "c");
    let b = d.join("m.tar.zst");
    let b_s = b.to_str().unwrap();
    let (code, _, err) = run(&[
        "pack",
        d.join("src").to_str().unwrap(),
        "--kind",
        "weights",
        "--name",
        "m",
        "--version",
        "1.2.3",
        "-o",
        b_s,
    ]);
    assert_eq!(code, 0, "{err}");
    for k in ["a", "b"] {
        assert_eq!(
            run(&[
                "sign",
                b_s,
                "--key",
                d.join(format!("{k}.key")).to_str().unwrap()
            ])
            .0,
            0
        );
    }
    let pol = policy(d, "weights", &[&pa, &pb, &pc], 2, "");
    let (code, out, err) = run(&[
        "verify",
        b_s,
        "--policy",
        pol.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "accept");
    assert_eq!(v["bundle"]["name"], "m");
    assert_eq!(v["bundle"]["version"], "1.2.3");
    assert_eq!(v["signatures"].as_array().unwrap().len(), 2);
    assert_eq!(v["timings"]["files"], 2);
    // the same with ad-hoc keys
    let (code, _, _) = run(&[
        "verify",
        b_s,
        "--key",
        pa.to_str().unwrap(),
        "--key",
        pc.to_str().unwrap(),
        "--threshold",
        "1",
    ]);
    assert_eq!(code, 0);
    // under-signed for 3-of-3
    let pol3 = policy(d, "weights", &[&pa, &pb, &pc], 3, "");
    let (code, out, _) = run(&["verify", b_s, "--policy", pol3.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("threshold not met: 2 of 3"), "{out}");
    // inspect shows claims, marked unverified
    let (code, out, _) = run(&["inspect", b_s]);
    assert_eq!(code, 0);
    assert!(out.contains("UNVERIFIED") && out.contains("sub/weights.bin"));
}

#[test]
fn plain_tar_round_trip_and_tamper() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    sample_tree(&d.join("src"));
    let (_, pa) = key(d, "a");
    let b = d.join("m.tar");
    let b_s = b.to_str().unwrap();
    assert_eq!(
        run(&[
            "pack",
            d.join("src").to_str().unwrap(),
            "--kind",
            "patch",
            "--name",
            "m",
            "--version",
            "7",
            "-o",
            b_s
        ])
        .0,
        0
    );
    assert_eq!(
        run(&["sign", b_s, "--key", d.join("a.key").to_str().unwrap()]).0,
        0
    );
    assert_eq!(run(&["verify", b_s, "--key", pa.to_str().unwrap()]).0, 0);
    // flip one payload byte (inside sub/weights.bin, well past the envelope)
    let mut bytes = std::fs::read(&b).unwrap();
    let n = bytes.len();
    bytes[n - 4096] ^= 1;
    std::fs::write(&b, &bytes).unwrap();
    let (code, out, _) = run(&["verify", b_s, "--key", pa.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        out.contains("verify.sha256") && out.contains("sub/weights.bin"),
        "{out}"
    );
}

#[test]
fn pack_is_deterministic() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    sample_tree(&d.join("src"));
    let mut outs = Vec::new();
    for i in 0..2 {
        let b = d.join(format!("m{i}.tar.zst"));
        pack_weights(&d.join("src"), &b);
        outs.push(std::fs::read(&b).unwrap());
    }
    assert_eq!(outs[0], outs[1]);
    // and pack refuses to overwrite
    let (code, _, err) = run(&[
        "pack",
        d.join("src").to_str().unwrap(),
        "--kind",
        "weights",
        "--name",
        "m",
        "--version",
        "1.0.0",
        "-o",
        d.join("m0.tar.zst").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn signing_keeps_payload_frames_untouched() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    sample_tree(&d.join("src"));
    key(d, "a");
    let b = d.join("m.tar.zst");
    assert_eq!(
        run(&[
            "pack",
            d.join("src").to_str().unwrap(),
            "--kind",
            "weights",
            "--name",
            "m",
            "--version",
            "1.0.0",
            "-o",
            b.to_str().unwrap()
        ])
        .0,
        0
    );
    let before = std::fs::read(&b).unwrap();
    let f1 = airgate::container::frame_len(&before, usize::MAX).unwrap();
    assert_eq!(
        run(&[
            "sign",
            b.to_str().unwrap(),
            "--key",
            d.join("a.key").to_str().unwrap()
        ])
        .0,
        0
    );
    let after = std::fs::read(&b).unwrap();
    let g1 = airgate::container::frame_len(&after, usize::MAX).unwrap();
    assert_eq!(
        &before[f1..],
        &after[g1..],
        "payload frames must be copied byte for byte"
    );
    assert_ne!(&before[..f1], &after[..g1]);
}

#[test]
fn keygen_refuses_overwrite_and_interoperates_with_openssl() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().to_str().unwrap();
    assert_eq!(run(&["keygen", "--out", d, "--name", "k"]).0, 0);
    assert_eq!(run(&["keygen", "--out", d, "--name", "k"]).0, 2);
    // A key made by openssl signs bundles airgate verifies.
    let sk = t.path().join("o.key");
    let st = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "ed25519",
            "-out",
            sk.to_str().unwrap(),
        ])
        .status()
        .expect("openssl is installed");
    assert!(st.success());
    let pk = t.path().join("o.pub");
    assert!(std::process::Command::new("openssl")
        .args([
            "pkey",
            "-in",
            sk.to_str().unwrap(),
            "-pubout",
            "-out",
            pk.to_str().unwrap()
        ])
        .status()
        .unwrap()
        .success());
    // and openssl reads airgate's public key
    assert!(std::process::Command::new("openssl")
        .args([
            "pkey",
            "-pubin",
            "-in",
            t.path().join("k.pub").to_str().unwrap(),
            "-noout"
        ])
        .status()
        .unwrap()
        .success());
    let src = t.path().join("src");
    sample_tree(&src);
    let b = t.path().join("b.tar");
    assert_eq!(
        run(&[
            "pack",
            src.to_str().unwrap(),
            "--kind",
            "dataset",
            "--name",
            "x",
            "--version",
            "1",
            "-o",
            b.to_str().unwrap()
        ])
        .0,
        0
    );
    assert_eq!(
        run(&["sign", b.to_str().unwrap(), "--key", sk.to_str().unwrap()]).0,
        0
    );
    assert_eq!(
        run(&["verify", b.to_str().unwrap(), "--key", pk.to_str().unwrap()]).0,
        0
    );
}

#[test]
fn usage_and_config_errors_exit_2() {
    let t = tempfile::tempdir().unwrap();
    let missing = t.path().join("nope.pub");
    let b = t.path().join("b.tar");
    std::fs::write(&b, b"x").unwrap();
    assert_eq!(
        run(&[
            "verify",
            b.to_str().unwrap(),
            "--key",
            missing.to_str().unwrap()
        ])
        .0,
        2
    );
    assert_eq!(run(&["verify", b.to_str().unwrap()]).0, 2);
    let bad = t.path().join("bad.toml");
    std::fs::write(&bad, "[trust.weights]\nkeys=[]\nthreshold=1\n").unwrap();
    assert_eq!(
        run(&[
            "verify",
            b.to_str().unwrap(),
            "--policy",
            bad.to_str().unwrap()
        ])
        .0,
        2
    );
    // the shipped default policy trusts nothing: a usage error, not an accept
    let def = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/default.toml");
    assert_eq!(
        run(&[
            "verify",
            b.to_str().unwrap(),
            "--policy",
            def.to_str().unwrap()
        ])
        .0,
        2
    );
    // a missing bundle is operational
    let (_, pk) = key(t.path(), "a");
    assert_eq!(
        run(&[
            "verify",
            t.path().join("gone.tar").to_str().unwrap(),
            "--key",
            pk.to_str().unwrap()
        ])
        .0,
        3
    );
}
