//! Keys interoperate with the real `openssl` CLI (OpenSSL 3.0 and later) both ways: an
//! `airgate keygen` key signs a bundle's signed bytes with `openssl pkeyutl -sign -rawin` and
//! `airgate verify` accepts the attached signature; an `openssl genpkey` key signs with
//! `airgate sign` and `openssl pkeyutl -verify` accepts the signature. `airgate key show`
//! reports the same key id for either half.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn openssl(args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl CLI (see .ci/run)")
}

fn ok(o: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{text}");
    text
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A packed, unsigned bundle of a small folder.
fn packed(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("config.json"), br#"{"layers": 2}"#).unwrap();
    std::fs::write(src.join("sub/w.bin"), [3u8; 4096]).unwrap();
    let b = dir.join("b.tar.zst");
    pack_weights(&src, &b);
    b
}

/// `airgate inspect BUNDLE FLAG` written to `out`.
fn inspect_to(bundle: &Path, flag: &str, out: &Path) {
    let o = bin().args(["inspect", s(bundle), flag]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    std::fs::write(out, o.stdout).unwrap();
}

fn key_show(file: &Path) -> serde_json::Value {
    let (code, v) = run_json(&["key", "show", s(file), "--format", "json"]);
    assert_eq!(code, 0, "{v}");
    v
}

#[test]
fn an_airgate_key_signs_with_openssl_and_airgate_verify_accepts() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (code, out, err) = run(&["keygen", "--out", s(d), "--name", "k"]);
    assert_eq!(code, 0, "{out}{err}");
    let (key, public) = (d.join("k.key"), d.join("k.pub"));
    // OpenSSL reads the private key and derives the same public key airgate wrote
    let derived = ok(&openssl(&["pkey", "-in", s(&key), "-pubout"]));
    assert_eq!(derived, std::fs::read_to_string(&public).unwrap());
    let shown = key_show(&key);
    assert_eq!(shown["kind"], "private");
    assert_eq!(shown["pkcs8_version"], 1);
    assert_eq!(shown["key_id"], key_show(&public)["key_id"]);

    let b = packed(d);
    let (pae, statement, sig) = (d.join("pae.bin"), d.join("st.json"), d.join("sig.bin"));
    inspect_to(&b, "--signed-bytes", &pae);
    inspect_to(&b, "--statement", &statement);
    assert!(std::fs::read(&pae).unwrap().starts_with(b"DSSEv1 "));

    // near miss first: a valid signature, but over the statement rather than the signed
    // bytes, is refused before it is attached
    ok(&openssl(&[
        "pkeyutl",
        "-sign",
        "-rawin",
        "-inkey",
        s(&key),
        "-in",
        s(&statement),
        "-out",
        s(&sig),
    ]));
    let (code, out, err) = run(&[
        "sign",
        s(&b),
        "--signature-file",
        s(&sig),
        "--public-key",
        s(&public),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("not a valid Ed25519 signature"), "{err}");
    let (code, _, _) = run(&["verify", s(&b), "--key", s(&public)]);
    assert_eq!(code, 1, "still unsigned");

    ok(&openssl(&[
        "pkeyutl",
        "-sign",
        "-rawin",
        "-inkey",
        s(&key),
        "-in",
        s(&pae),
        "-out",
        s(&sig),
    ]));
    assert_eq!(std::fs::metadata(&sig).unwrap().len(), 64);
    let (code, out, err) = run(&[
        "sign",
        s(&b),
        "--signature-file",
        s(&sig),
        "--public-key",
        s(&public),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(shown["key_id"].as_str().unwrap()), "{out}");
    let (code, out, err) = run(&["verify", s(&b), "--key", s(&public)]);
    assert_eq!(code, 0, "{out}{err}");

    // the same signature in base64 is recognised as already there
    let b64 = ok(&openssl(&["base64", "-A", "-in", s(&sig)]));
    std::fs::write(d.join("sig.b64"), b64).unwrap();
    let (code, out, _) = run(&[
        "sign",
        s(&b),
        "--signature-file",
        s(&d.join("sig.b64")),
        "--public-key",
        s(&public),
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("already signed"), "{out}");
}

#[test]
fn an_openssl_key_signs_with_airgate_and_openssl_verify_accepts() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (key, public) = (d.join("o.key"), d.join("o.pub"));
    ok(&openssl(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        s(&key),
    ]));
    ok(&openssl(&[
        "pkey",
        "-in",
        s(&key),
        "-pubout",
        "-out",
        s(&public),
    ]));
    let shown = key_show(&key);
    assert_eq!(shown["algorithm"], "Ed25519");
    assert_eq!(shown["key_id"], key_show(&public)["key_id"]);

    let b = packed(d);
    let (code, out, err) = run(&["sign", s(&b), "--key", s(&key)]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, v) = run_json(&["inspect", s(&b), "--format", "json"]);
    assert_eq!(code, 0);
    let sigs = v["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 1);
    assert_eq!(sigs[0]["keyid"], shown["key_id"]);
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(sigs[0]["sig"].as_str().unwrap())
        .unwrap();
    let (pae, statement, sig) = (d.join("pae.bin"), d.join("st.json"), d.join("sig.bin"));
    std::fs::write(&sig, raw).unwrap();
    inspect_to(&b, "--signed-bytes", &pae);
    inspect_to(&b, "--statement", &statement);
    let verified = ok(&openssl(&[
        "pkeyutl",
        "-verify",
        "-rawin",
        "-pubin",
        "-inkey",
        s(&public),
        "-in",
        s(&pae),
        "-sigfile",
        s(&sig),
    ]));
    assert!(
        verified.contains("Signature Verified Successfully"),
        "{verified}"
    );
    // near miss: the signature does not cover the bare statement
    let o = openssl(&[
        "pkeyutl",
        "-verify",
        "-rawin",
        "-pubin",
        "-inkey",
        s(&public),
        "-in",
        s(&statement),
        "-sigfile",
        s(&sig),
    ]);
    assert!(!o.status.success());
    let (code, out, err) = run(&["verify", s(&b), "--key", s(&public)]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn key_show_refuses_what_is_not_an_ed25519_key() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let ec = d.join("ec.key");
    ok(&openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        s(&ec),
    ]));
    let (code, _, err) = run(&["key", "show", s(&ec)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("1.2.840.10045.2.1 is not Ed25519"), "{err}");
    std::fs::write(d.join("junk"), "not a key").unwrap();
    let (code, _, err) = run(&["key", "show", s(&d.join("junk"))]);
    assert_eq!(code, 2, "{err}");
}
