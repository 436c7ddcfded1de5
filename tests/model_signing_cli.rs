//! End to end: `airgate verify MODEL_DIR --model-signature model.sig` with `--key`,
//! `--ca-cert`, or `--trusted-root --certificate-identity --certificate-oidc-issuer`, and
//! `--ignore-path`: every fixture accepted (exit 0), tampered copies rejected (1), bad
//! trust configuration (2), and a run inside a network namespace with no interfaces.

use std::path::{Path, PathBuf};
use std::process::Command;

const SAN: &str = "stefanb@us.ibm.com";
const ISSUER: &str = "https://sigstore.verify.ibm.com/oauth2";

fn fixtures() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/model-signing");
    assert!(
        p.is_dir(),
        "shared model-signing fixtures missing at {}",
        p.display()
    );
    p
}

fn airgate(args: &[String]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_airgate"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `verify` arguments for fixture directory `dir` (possibly a copy named like one).
fn args_for(dir: &Path) -> Vec<String> {
    let f = fixtures();
    let name = dir.file_name().unwrap().to_str().unwrap().to_string();
    let model = if name == "v0.3.1-elliptic-key" || name == "v1.0.0-elliptic-key" {
        dir.join("signme-1")
    } else {
        dir.to_path_buf()
    };
    let mut a: Vec<String> = vec![
        "verify".into(),
        model.to_str().unwrap().into(),
        "--model-signature".into(),
        dir.join("model.sig").to_str().unwrap().into(),
        "--format".into(),
        "json".into(),
    ];
    let trust: Vec<String> = if name.ends_with("-sigstore") {
        vec![
            "--trusted-root".into(),
            f.join("../sigstore-python/trusted_root.production.json")
                .to_str()
                .unwrap()
                .into(),
            "--certificate-identity".into(),
            SAN.into(),
            "--certificate-oidc-issuer".into(),
            ISSUER.into(),
        ]
    } else if name.ends_with("-elliptic-key") {
        vec![
            "--key".into(),
            f.join("keys/certificate/signing-key-pub.pem")
                .to_str()
                .unwrap()
                .into(),
        ]
    } else {
        vec![
            "--ca-cert".into(),
            f.join("keys/certificate/ca-cert.pem")
                .to_str()
                .unwrap()
                .into(),
        ]
    };
    a.extend(trust);
    if dir.join("ignore-me").exists() {
        a.push("--ignore-path".into());
        a.push(dir.join("ignore-me").to_str().unwrap().into());
    }
    a
}

fn fixture_dirs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with('v'))
        .collect();
    v.sort();
    assert_eq!(v.len(), 13);
    v
}

#[test]
fn every_fixture_is_accepted() {
    let mut bad = Vec::new();
    for d in fixture_dirs() {
        let (code, out, err) = airgate(&args_for(&d));
        if code != 0 {
            bad.push(format!("{}: exit {code}: {out}{err}", d.display()));
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["verdict"], "accept");
        assert_eq!(v["signatures"][0]["format"], "model-signing");
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

fn copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let dst = t.path().join(name);
    std::fs::create_dir(&dst).unwrap();
    for e in std::fs::read_dir(fixtures().join(name)).unwrap() {
        let e = e.unwrap();
        std::fs::write(dst.join(e.file_name()), std::fs::read(e.path()).unwrap()).unwrap();
    }
    (t, dst)
}

#[test]
fn tampered_copies_exit_1() {
    for name in [
        "v1.1.0-sigstore",
        "v1.1.0-elliptic-key",
        "v1.1.0-certificate",
        "v0.2.0-certificate",
    ] {
        let (_t, d) = copy(name);
        assert_eq!(airgate(&args_for(&d)).0, 0, "{name} copy");
        std::fs::write(d.join("signme-1"), b"changed!").unwrap();
        let (code, out, _) = airgate(&args_for(&d));
        assert_eq!(code, 1, "{name}: {out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(
            v["reasons"][0].as_str().unwrap().contains("signme-1"),
            "{out}"
        );

        let (_t, d) = copy(name);
        std::fs::write(d.join("extra.bin"), b"x").unwrap();
        assert_eq!(airgate(&args_for(&d)).0, 1, "{name}: extra file");

        let (_t, d) = copy(name);
        std::fs::rename(d.join("signme-2"), d.join("renamed")).unwrap();
        assert_eq!(airgate(&args_for(&d)).0, 1, "{name}: renamed file");
    }
}

#[test]
fn another_key_exits_1_and_bad_trust_exits_2() {
    let f = fixtures();
    let d = f.join("v1.1.0-elliptic-key");
    let t = tempfile::tempdir().unwrap();
    // another P-256 key
    let other = t.path().join("other.pem");
    std::fs::write(&other, "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAExRRST79+PsrRBnGAI4cMu6Omz2Jh\nfwlMW+gIutNKVRaMyS4rQKvgngc5p8UbLj55pVHhIoAxi/SRgURZI0J3Xw==\n-----END PUBLIC KEY-----\n").unwrap();
    let mut a = args_for(&d);
    let i = a.iter().position(|x| x == "--key").unwrap();
    a[i + 1] = other.to_str().unwrap().into();
    assert_eq!(airgate(&a).0, 1);
    // an unreadable key file
    a[i + 1] = t.path().join("missing.pem").to_str().unwrap().into();
    assert_eq!(airgate(&a).0, 2);
    // no trust at all
    let bare: Vec<String> = vec![
        "verify".into(),
        d.to_str().unwrap().into(),
        "--model-signature".into(),
        d.join("model.sig").to_str().unwrap().into(),
    ];
    assert_eq!(airgate(&bare).0, 2);
    // the wrong CA (the leaf is not its own trust anchor)
    let c = f.join("v1.1.0-certificate");
    let mut a = args_for(&c);
    let i = a.iter().position(|x| x == "--ca-cert").unwrap();
    a[i + 1] = f
        .join("keys/certificate/signing-key-cert.pem")
        .to_str()
        .unwrap()
        .into();
    assert_eq!(airgate(&a).0, 1);
}

#[test]
fn ignore_path_relative_to_current_directory() {
    // As in model_signing's own test: run inside the model folder with `--ignore-path ignore-me`.
    let d = fixtures().join("v1.0.1-certificate");
    let ca = fixtures().join("keys/certificate/ca-cert.pem");
    let out = Command::new(env!("CARGO_BIN_EXE_airgate"))
        .current_dir(&d)
        .args([
            "verify",
            ".",
            "--model-signature",
            "model.sig",
            "--ca-cert",
            ca.to_str().unwrap(),
            "--ignore-path",
            "ignore-me",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_airgate"))
        .current_dir(&d)
        .args([
            "verify",
            ".",
            "--model-signature",
            "model.sig",
            "--ca-cert",
            ca.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn verifies_without_any_network_interface() {
    for name in [
        "v1.1.0-sigstore",
        "v1.1.0-elliptic-key",
        "v1.1.0-certificate",
    ] {
        let mut args = vec!["-rn".to_string(), env!("CARGO_BIN_EXE_airgate").to_string()];
        args.extend(args_for(&fixtures().join(name)));
        let out = match Command::new("unshare").args(&args).output() {
            Ok(o) => o,
            Err(e) => {
                eprintln!("skipped: unshare is not available: {e}");
                return;
            }
        };
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("unshare failed") || err.contains("Operation not permitted") {
            eprintln!("skipped: the kernel refused a network namespace: {err}");
            return;
        }
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}{err}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
