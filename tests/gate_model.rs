//! `admit` of an OpenSSF-signed model: a plain tar of a model folder with its `model.sig`
//! (the shared model-signing fixtures, key method), staged with a receipt naming the signer;
//! tampered copies (a changed byte, an extra file), another key, a signature kind the policy
//! does not trust, a symlink in the tar, and a replay are quarantined; so is every model tar
//! when `[trust.weights]` asks for more than one signer, unless it opts in with
//! `single_model_signature`.

mod gate_util;

use gate_util::{code, dirs, quarantine_sha, run, sha256_file, text};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/model-signing");
    assert!(
        p.is_dir(),
        "shared model-signing fixtures missing at {}",
        p.display()
    );
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A gate whose policy trusts `key_pem` for model-signing `weights` signatures.
fn gate(dir: &Path, key_pem: &str) -> PathBuf {
    gate_with(dir, key_pem, "keys = [\"pub\"]\nthreshold = 1\n")
}

/// [`gate`] with `weights` (the body of `[trust.weights]`, over keys `pub` and `pub2`).
fn gate_with(dir: &Path, key_pem: &str, weights: &str) -> PathBuf {
    for name in ["pub", "pub2"] {
        let o = run(&["keygen", "--out", s(&dir.join("keys")), "--name", name]);
        assert_eq!(code(&o), 0, "{}", text(&o));
    }
    std::fs::write(dir.join("keys/model-key.pem"), key_pem).unwrap();
    std::fs::write(
        dir.join("policy.toml"),
        format!(
            "[[keys]]\nname = \"pub\"\npath = \"keys/pub.pub\"\n\
             [[keys]]\nname = \"pub2\"\npath = \"keys/pub2.pub\"\n[trust.weights]\n{weights}\
             [[sigstore.keys]]\nkinds = [\"weights\"]\npath = \"keys/model-key.pem\"\n"
        ),
    )
    .unwrap();
    let g = dir.join("gate");
    let o = run(&["init", s(&g), "--policy", s(&dir.join("policy.toml"))]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    g
}

fn fixture_key() -> String {
    std::fs::read_to_string(fixtures().join("keys/certificate/signing-key-pub.pem")).unwrap()
}

/// A tar at `out` of the files `(name, bytes)`, in order.
fn tar_of(out: &Path, files: &[(String, Vec<u8>)]) {
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    b.finish().unwrap();
}

/// The files of a fixture folder (sorted).
fn fixture_files(name: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fixtures().join(name);
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_str().unwrap().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn admit(gate: &Path, tar: &Path) -> (i32, String) {
    let o = run(&["admit", s(tar), "--gate", s(gate)]);
    (code(&o), text(&o))
}

/// Reasons in the quarantine report for `tar`.
fn reasons(gate: &Path, tar: &Path) -> String {
    let sha = sha256_file(tar);
    let q = dirs(&gate.join("quarantine"))
        .into_iter()
        .find(|q| quarantine_sha(q) == sha)
        .expect("quarantined");
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(q.join("report.json")).unwrap()).unwrap();
    r["reasons"].to_string()
}

fn staged_models(gate: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for n in dirs(&gate.join("staging/model-signing")) {
        out.extend(dirs(&n));
    }
    out
}

#[test]
fn signed_model_tar_is_staged_with_its_signer() {
    let d = tempfile::tempdir().unwrap();
    let g = gate(d.path(), &fixture_key());
    let files = fixture_files("v1.1.0-elliptic-key");
    let t = d.path().join("model.tar");
    tar_of(&t, &files);
    let (c, out) = admit(&g, &t);
    assert_eq!(c, 0, "{out}");
    let staged = staged_models(&g);
    assert_eq!(staged.len(), 1, "{staged:?}");
    let tree = &staged[0];
    for (name, data) in &files {
        let at = tree.join("files").join(name);
        if name == "ignore-me" {
            // the signature ignores it (the signer's ignore paths): not staged
            assert!(!at.exists(), "{name} staged");
        } else {
            assert_eq!(&std::fs::read(at).unwrap(), data);
        }
    }
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tree.join("receipt.json")).unwrap()).unwrap();
    assert_eq!(r["kind"], "weights");
    assert_eq!(r["bundle_sha256"], sha256_file(&t).as_str());
    let signer = r["signers"][0].as_str().unwrap();
    assert_eq!(signer.len(), 64, "{signer}");
    assert!(r["statement"]["predicate"]["publisher"]
        .as_str()
        .unwrap()
        .contains("model signing (key)"));
    let o = run(&["reverify", s(tree)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let audit = std::fs::read_to_string(g.join("audit/log.jsonl")).unwrap();
    assert!(audit.contains(signer));
    let o = run(&["audit", "verify", "--gate", s(&g)]);
    assert_eq!(code(&o), 0, "{}", text(&o));

    // the same tar arriving again is a replay
    let again = d.path().join("again.tar");
    std::fs::copy(&t, &again).unwrap();
    let (c, out) = admit(&g, &again);
    assert_eq!(c, 1, "{out}");
    assert!(reasons(&g, &again).contains("replay"), "{out}");
    // and so is the same model in other tar bytes (zero blocks appended after the end)
    let padded = d.path().join("padded.tar");
    let mut bytes = std::fs::read(&t).unwrap();
    bytes.extend_from_slice(&[0u8; 512]);
    std::fs::write(&padded, bytes).unwrap();
    let (c, out) = admit(&g, &padded);
    assert_eq!(c, 1, "{out}");
    assert!(reasons(&g, &padded).contains("replay"), "{out}");
    assert_eq!(staged_models(&g).len(), 1);
}

#[test]
fn tampered_model_tars_are_quarantined() {
    let d = tempfile::tempdir().unwrap();
    let g = gate(d.path(), &fixture_key());
    let good = fixture_files("v1.1.0-elliptic-key");
    // a changed byte in a signed file
    let mut changed = good.clone();
    let f = changed
        .iter_mut()
        .find(|(n, _)| n == "signme-1")
        .expect("fixture file");
    f.1[0] ^= 1;
    // an extra file the signature does not list
    let mut extra = good.clone();
    extra.push(("extra.bin".into(), b"not signed".to_vec()));
    for (tag, files, why) in [
        ("changed", changed, "changed"),
        ("extra", extra, "not in the signature"),
    ] {
        let t = d.path().join(format!("{tag}.tar"));
        tar_of(&t, &files);
        let (c, out) = admit(&g, &t);
        assert_eq!(c, 1, "{tag}: {out}");
        assert!(reasons(&g, &t).contains(why), "{tag}: {}", reasons(&g, &t));
    }
    assert!(staged_models(&g).is_empty());
    // the near miss: the untouched model is staged
    let t = d.path().join("good.tar");
    tar_of(&t, &good);
    assert_eq!(admit(&g, &t).0, 0);
}

#[test]
fn a_weights_threshold_above_one_refuses_model_tars_unless_the_policy_says_otherwise() {
    // two signers required for weights: one model signature cannot meet that
    let d = tempfile::tempdir().unwrap();
    let g = gate_with(
        d.path(),
        &fixture_key(),
        "keys = [\"pub\", \"pub2\"]\nthreshold = 2\n",
    );
    let t = d.path().join("model.tar");
    tar_of(&t, &fixture_files("v1.1.0-elliptic-key"));
    let (c, out) = admit(&g, &t);
    assert_eq!(c, 1, "{out}");
    let why = reasons(&g, &t);
    assert!(why.contains("single_model_signature"), "{why}");
    assert!(staged_models(&g).is_empty());
    // the near miss: the same policy with the explicit opt-in stages the model
    let d = tempfile::tempdir().unwrap();
    let g = gate_with(
        d.path(),
        &fixture_key(),
        "keys = [\"pub\", \"pub2\"]\nthreshold = 2\nsingle_model_signature = true\n",
    );
    let t = d.path().join("model.tar");
    tar_of(&t, &fixture_files("v1.1.0-elliptic-key"));
    let (c, out) = admit(&g, &t);
    assert_eq!(c, 0, "{out}");
    assert_eq!(staged_models(&g).len(), 1);
}

#[test]
fn other_key_or_untrusted_method_is_refused() {
    use p256::pkcs8::EncodePublicKey;
    let d = tempfile::tempdir().unwrap();
    let other = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let pem = p256::ecdsa::VerifyingKey::from(&other)
        .to_public_key_pem(p256::pkcs8::LineEnding::LF)
        .unwrap();
    let g = gate(d.path(), &pem);
    let t = d.path().join("model.tar");
    tar_of(&t, &fixture_files("v1.1.0-elliptic-key"));
    let (c, out) = admit(&g, &t);
    assert_eq!(c, 1, "{out}");
    assert!(reasons(&g, &t).contains("model-signing.signature"), "{out}");
    // a certificate-signed model, and the policy trusts no CA for weights
    let t = d.path().join("cert.tar");
    tar_of(&t, &fixture_files("v1.1.0-certificate"));
    let (c, out) = admit(&g, &t);
    assert_eq!(c, 1, "{out}");
    assert!(reasons(&g, &t).contains("ca_certs"), "{}", reasons(&g, &t));
    assert!(staged_models(&g).is_empty());
}

#[test]
fn symlink_in_model_tar_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let g = gate(d.path(), &fixture_key());
    let t = d.path().join("link.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&t).unwrap());
    for (name, data) in fixture_files("v1.1.0-elliptic-key") {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, &name, data.as_slice()).unwrap();
    }
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "escape", "/etc/passwd").unwrap();
    b.finish().unwrap();
    let (c, out) = admit(&g, &t);
    assert_eq!(c, 1, "{out}");
    assert!(
        reasons(&g, &t).contains("model.archive"),
        "{}",
        reasons(&g, &t)
    );
    assert!(!g.join("staging/model-signing").exists() || staged_models(&g).is_empty());
}

/// Files the model signature does not cover (git paths, which model_signing ignores by
/// default) are never staged: `.git/config` could run a command (core.fsmonitor) in the
/// staged folder. The model itself still is, with a receipt of exactly the signed files.
#[test]
fn files_the_signature_ignores_are_not_staged() {
    let d = tempfile::tempdir().unwrap();
    let g = gate(d.path(), &fixture_key());
    let mut files = fixture_files("v1.1.0-elliptic-key");
    files.push((
        ".git/config".into(),
        b"[core]\n\tfsmonitor = touch /tmp/x\n".to_vec(),
    ));
    files.push((".gitattributes".into(), b"* filter=evil\n".to_vec()));
    files.push((".github/workflows/x.yml".into(), b"on: push\n".to_vec()));
    let t = d.path().join("model.tar");
    tar_of(&t, &files);
    let (c, out) = admit(&g, &t);
    assert_eq!(c, 0, "{out}");
    let tree = &staged_models(&g)[0];
    for gone in [".git", ".gitattributes", ".github", "ignore-me"] {
        assert!(!tree.join("files").join(gone).exists(), "{gone} staged");
    }
    for kept in ["signme-1", "signme-2", "model.sig"] {
        assert!(tree.join("files").join(kept).is_file(), "{kept} missing");
    }
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tree.join("receipt.json")).unwrap()).unwrap();
    let listed = r["statement"]["subject"].as_array().map_or(0, Vec::len);
    assert_eq!(listed, 3, "{r:#}");
    let o = run(&["reverify", s(tree)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}
