//! OpenSSF model signing: every fixture in ../shared/testdata/model-signing verifies with its
//! method and the expected signer facts (FIELD-NOTES §2), and tampered copies (a changed
//! byte, a renamed file, an extra file, another key or CA or identity, a symlink out of the
//! model) are rejected.

use airgate::trust::model_signing::Cert;
use airgate::trust::model_signing::EcKey;
use airgate::trust::model_signing::{
    verify_model, Method, ModelError, ModelSigner, ModelVerified, Options,
};
use airgate::trust::sigstore::{IdentityPolicy, Signer, Signers, SigstoreRoot};
use sha2::Digest;
use std::path::{Path, PathBuf};

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

fn signing_key() -> EcKey {
    EcKey::from_pem(
        &std::fs::read_to_string(fixtures().join("keys/certificate/signing-key-pub.pem")).unwrap(),
    )
    .unwrap()
}

fn ca() -> Vec<Cert> {
    Cert::all_from_pem(
        &std::fs::read_to_string(fixtures().join("keys/certificate/ca-cert.pem")).unwrap(),
    )
    .unwrap()
}

fn root() -> SigstoreRoot {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/testdata/sigstore-python/trusted_root.production.json");
    SigstoreRoot::load(&p).unwrap()
}

fn ibm() -> Signers {
    Signers {
        identities: vec![IdentityPolicy::exact(SAN, ISSUER)],
        keys: vec![],
    }
}

/// The model path for a fixture: early elliptic-key fixtures signed the single file.
fn model_of(dir: &Path) -> PathBuf {
    let name = dir.file_name().unwrap().to_str().unwrap();
    if name == "v0.3.1-elliptic-key" || name == "v1.0.0-elliptic-key" {
        dir.join("signme-1")
    } else {
        dir.to_path_buf()
    }
}

fn ignores(dir: &Path) -> Vec<String> {
    if dir.join("ignore-me").exists() {
        vec!["ignore-me".into()]
    } else {
        vec![]
    }
}

fn run(dir: &Path, method: Method<'_>, ignore: Vec<String>) -> Result<ModelVerified, ModelError> {
    let mut o = Options::new(method);
    o.ignore = ignore;
    verify_model(&model_of(dir), &dir.join("model.sig"), &o)
}

fn run_fixture(dir: &Path) -> Result<ModelVerified, ModelError> {
    let name = dir.file_name().unwrap().to_str().unwrap().to_string();
    let (key, cas, root, signers) = ([signing_key()], ca(), root(), ibm());
    let method = if name.ends_with("-sigstore") {
        Method::Sigstore {
            root: &root,
            signers: &signers,
        }
    } else if name.ends_with("-elliptic-key") {
        Method::Key(&key)
    } else {
        Method::Certificate(&cas)
    };
    run(dir, method, ignores(dir))
}

#[test]
fn every_fixture_verifies_with_expected_signer() {
    let key_id = signing_key().key_id();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with('v'))
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 13, "13 fixtures: 5 versions × methods");
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        match run_fixture(dir) {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok(v) => {
                let want_format = if name.starts_with("v0.2.0") {
                    "v0.2"
                } else {
                    "v1.0"
                };
                assert_eq!(v.format, want_format, "{name}");
                assert_eq!(v.pae_v02, name.starts_with("v0.2.0"), "{name}: PAE variant");
                match (&v.signer, name.rsplit_once('-').unwrap().1) {
                    (ModelSigner::Sigstore(Signer::Certificate { san, issuer }), "sigstore") => {
                        assert_eq!((san.as_str(), issuer.as_str()), (SAN, ISSUER), "{name}");
                        assert!(v.integrated_time.is_some(), "{name}: signing time");
                    }
                    (ModelSigner::Key { key_id: k, curve }, "key") => {
                        assert_eq!((k.as_str(), *curve), (key_id.as_str(), "P-384"), "{name}");
                    }
                    (
                        ModelSigner::Certificate {
                            subject,
                            key_id: k,
                            curve,
                            anchor,
                        },
                        "certificate",
                    ) => {
                        assert_eq!(subject, "CN=intermediate-ca", "{name}");
                        assert_eq!(anchor, "CN=root-ca", "{name}");
                        assert_eq!((k.as_str(), *curve), (key_id.as_str(), "P-384"), "{name}");
                    }
                    (s, m) => failures.push(format!("{name}: signer {s:?} for method {m}")),
                }
                assert!(v.files >= 1 && v.resources >= 1, "{name}");
                let r = v.report();
                assert_eq!(r.format, "model-signing");
                assert_eq!(r.status, airgate::report::SignatureStatus::Counted);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "fixtures that failed:\n{}",
        failures.join("\n")
    );
}

/// A writable copy of a fixture directory.
fn copy(name: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let dst = t.path().join(name);
    std::fs::create_dir(&dst).unwrap();
    for e in std::fs::read_dir(fixtures().join(name)).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        std::fs::write(&to, std::fs::read(e.path()).unwrap()).unwrap();
    }
    t
}

fn integrity(r: Result<ModelVerified, ModelError>) -> String {
    match r {
        Err(ModelError::Integrity(d)) => d.to_string(),
        Err(e) => panic!("expected an integrity failure, got: {e}"),
        Ok(_) => panic!("tampered model was accepted"),
    }
}

#[test]
fn tampered_copies_are_rejected_for_every_method() {
    let (key, cas, root, signers) = ([signing_key()], ca(), root(), ibm());
    for name in [
        "v1.1.0-sigstore",
        "v1.1.0-elliptic-key",
        "v1.1.0-certificate",
        "v0.2.0-certificate",
        "v1.0.1-elliptic-key",
    ] {
        let method = if name.ends_with("-sigstore") {
            Method::Sigstore {
                root: &root,
                signers: &signers,
            }
        } else if name.ends_with("-elliptic-key") {
            Method::Key(&key)
        } else {
            Method::Certificate(&cas)
        };
        // the untouched copy verifies (the copy itself is not the problem)
        let t = copy(name);
        let dir = t.path().join(name);
        run(&dir, method, ignores(&dir)).unwrap_or_else(|e| panic!("{name} copy: {e}"));

        // a changed byte
        let mut b = std::fs::read(dir.join("signme-2")).unwrap();
        b[0] ^= 1;
        std::fs::write(dir.join("signme-2"), &b).unwrap();
        let msg = integrity(run(&dir, method, ignores(&dir)));
        assert!(msg.contains("changed: signme-2"), "{name}: {msg}");

        // a renamed file
        let t = copy(name);
        let dir = t.path().join(name);
        std::fs::rename(dir.join("signme-2"), dir.join("signme-3")).unwrap();
        let msg = integrity(run(&dir, method, ignores(&dir)));
        assert!(
            msg.contains("missing: signme-2") && msg.contains("not in the signature: signme-3"),
            "{name}: {msg}"
        );

        // an extra file; and the same file inside an ignored .git folder is fine
        let t = copy(name);
        let dir = t.path().join(name);
        std::fs::create_dir(dir.join(".git")).unwrap();
        std::fs::write(dir.join(".git/HEAD"), b"ref").unwrap();
        run(&dir, method, ignores(&dir)).unwrap_or_else(|e| panic!("{name} with .git: {e}"));
        std::fs::write(dir.join("extra.bin"), b"payload").unwrap();
        let msg = integrity(run(&dir, method, ignores(&dir)));
        assert!(
            msg.contains("not in the signature: extra.bin"),
            "{name}: {msg}"
        );

        // a symlink (to a file outside the model) is never followed
        let t = copy(name);
        let dir = t.path().join(name);
        std::os::unix::fs::symlink("/etc/hostname", dir.join("link")).unwrap();
        let e = run(&dir, method, ignores(&dir)).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{name}: {e}");

        // a tampered signature file
        let t = copy(name);
        let dir = t.path().join(name);
        let sig = std::fs::read_to_string(dir.join("model.sig")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&sig).unwrap();
        let p = v["dsseEnvelope"]["payload"].as_str().unwrap().to_string();
        let mut raw = base64_decode(&p);
        let i = raw.iter().position(|&c| c == b'0').unwrap();
        raw[i] = b'1';
        let sig = sig.replace(&p, &base64_encode(&raw));
        std::fs::write(dir.join("model.sig"), sig).unwrap();
        assert!(
            run(&dir, method, ignores(&dir)).is_err(),
            "{name}: tampered payload accepted"
        );
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn another_key_ca_or_identity_is_rejected() {
    let f = fixtures();
    // another P-384 key (no hint in v1.0.1, hint in v1.1.0) and another P-256 key
    use p384::pkcs8::EncodePublicKey;
    let other = p384::ecdsa::SigningKey::from_slice(&[3u8; 48]).unwrap();
    let other = EcKey::from_spki_der(
        other
            .verifying_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    for name in [
        "v1.0.1-elliptic-key",
        "v1.1.0-elliptic-key",
        "v0.3.1-elliptic-key",
    ] {
        let e = run(
            &f.join(name),
            Method::Key(std::slice::from_ref(&other)),
            ignores(&f.join(name)),
        )
        .unwrap_err();
        assert!(matches!(e, ModelError::Signature(_)), "{name}: {e}");
    }
    let e = run(
        &f.join("v1.1.0-elliptic-key"),
        Method::Key(std::slice::from_ref(&other)),
        vec![],
    )
    .unwrap_err();
    assert!(e.to_string().contains("key mismatch"), "{e}");
    // the right key among others is found
    let both = [other.clone(), signing_key()];
    run(&f.join("v1.1.0-elliptic-key"), Method::Key(&both), vec![]).unwrap();

    // another CA: the leaf certificate is not a trust anchor for itself
    let wrong_ca = Cert::all_from_pem(
        &std::fs::read_to_string(f.join("keys/certificate/signing-key-cert.pem")).unwrap(),
    )
    .unwrap();
    for name in ["v1.1.0-certificate", "v0.2.0-certificate"] {
        let e = run(
            &f.join(name),
            Method::Certificate(&wrong_ca),
            ignores(&f.join(name)),
        )
        .unwrap_err();
        assert!(matches!(e, ModelError::Signature(_)), "{name}: {e}");
    }
    // a key-signed model with the certificate method, and the reverse
    let e = run(
        &f.join("v1.1.0-certificate"),
        Method::Key(&[signing_key()]),
        ignores(&f.join("v1.1.0-certificate")),
    )
    .unwrap_err();
    assert!(e.to_string().contains("certificate"), "{e}");
    assert!(run(
        &f.join("v1.1.0-elliptic-key"),
        Method::Certificate(&ca()),
        vec![]
    )
    .is_err());
    let e = run(
        &f.join("v1.1.0-sigstore"),
        Method::Key(&[signing_key()]),
        vec![],
    )
    .unwrap_err();
    assert!(e.to_string().contains("keyless Sigstore bundle"), "{e}");

    // another identity or issuer for the Sigstore method
    let r = root();
    for (san, iss) in [
        ("mallory@example.com", ISSUER),
        (SAN, "https://accounts.google.com"),
    ] {
        let s = Signers {
            identities: vec![IdentityPolicy::exact(san, iss)],
            keys: vec![],
        };
        let e = run(
            &f.join("v1.1.0-sigstore"),
            Method::Sigstore {
                root: &r,
                signers: &s,
            },
            vec!["ignore-me".into()],
        )
        .unwrap_err();
        assert_eq!(e.class(), airgate::ErrorClass::Rejected, "{e}");
    }
}

#[test]
fn ignore_paths_behave_like_model_signing() {
    let f = fixtures();
    // v1.0.1 does not record ignore paths: without --ignore-path the extra file rejects
    let d = f.join("v1.0.1-certificate");
    let msg = integrity(run(&d, Method::Certificate(&ca()), vec![]));
    assert!(msg.contains("ignore-me"), "{msg}");
    // v1.1.0 records them in the signed predicate
    run(
        &f.join("v1.1.0-certificate"),
        Method::Certificate(&ca()),
        vec![],
    )
    .unwrap();
    // ignoring a signed file makes it missing
    let msg = integrity(run(
        &d,
        Method::Certificate(&ca()),
        vec!["ignore-me".into(), "signme-1".into()],
    ));
    assert!(msg.contains("missing: signme-1"), "{msg}");
}

#[test]
fn digests_are_recomputed() {
    // The reported byte count is the sum of the real file sizes.
    let f = fixtures();
    let v = run_fixture(&f.join("v1.1.0-certificate")).unwrap();
    let want: u64 = ["signme-1", "signme-2"]
        .iter()
        .map(|n| {
            std::fs::metadata(f.join("v1.1.0-certificate").join(n))
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!((v.files, v.bytes), (2, want));
    let root = v.root_digest.unwrap();
    let mut h = sha2::Sha256::new();
    for n in ["signme-1", "signme-2"] {
        h.update(sha2::Sha256::digest(
            std::fs::read(f.join("v1.1.0-certificate").join(n)).unwrap(),
        ));
    }
    assert_eq!(root, hex::encode(h.finalize()));
}

/// Sign `statement` as model_signing 1.1 does with an EC key (hint = SHA-256 of the PEM).
fn write_sig(
    path: &Path,
    statement: &serde_json::Value,
    sign: impl Fn(&[u8]) -> Vec<u8>,
    hint: &str,
) {
    let payload = serde_json::to_vec(statement).unwrap();
    let pae = airgate::bundle::pae("application/vnd.in-toto+json", &payload);
    let sig = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64_encode(&payload),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": base64_encode(&sign(&pae)), "keyid": ""}]
        }
    });
    std::fs::write(path, serde_json::to_vec(&sig).unwrap()).unwrap();
}

/// A statement over `resources` (name, digest bytes) with `serialization`.
fn statement(
    resources: &[(String, Vec<u8>)],
    serialization: serde_json::Value,
    algorithm: &str,
) -> serde_json::Value {
    let mut root = sha2::Sha256::new();
    let res: Vec<serde_json::Value> = resources
        .iter()
        .map(|(n, d)| {
            root.update(d);
            serde_json::json!({"name": n, "algorithm": algorithm, "digest": hex::encode(d)})
        })
        .collect();
    serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "model", "digest": {"sha256": hex::encode(root.finalize())}}],
        "predicateType": "https://model_signing/signature/v1.0",
        "predicate": {"serialization": serialization, "resources": res}
    })
}

#[test]
fn shards_serialization_with_a_p256_key() {
    use ecdsa::signature::hazmat::PrehashSigner;
    use p256::pkcs8::EncodePublicKey;
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("model");
    std::fs::create_dir_all(m.join("sub")).unwrap();
    let w: Vec<u8> = (0u8..10).collect();
    std::fs::write(m.join("sub/w.bin"), &w).unwrap();
    std::fs::write(m.join("empty"), b"").unwrap(); // empty files have no shards
    let shards: Vec<(String, Vec<u8>)> = [(0usize, 4usize), (4, 8), (8, 10)]
        .iter()
        .map(|&(s, e)| {
            (
                format!("sub/w.bin:{s}:{e}"),
                sha2::Sha256::digest(&w[s..e]).to_vec(),
            )
        })
        .collect();
    let ser = serde_json::json!({"method": "shards", "hash_type": "sha256", "shard_size": 4, "allow_symlinks": false, "ignore_paths": ["model.sig"]});
    let sk = p256::ecdsa::SigningKey::from_slice(&[0x22; 32]).unwrap();
    let key =
        EcKey::from_spki_der(sk.verifying_key().to_public_key_der().unwrap().as_bytes()).unwrap();
    let sign = |pae: &[u8]| {
        let s: p256::ecdsa::Signature = sk.sign_prehash(&sha2::Sha256::digest(pae)).unwrap();
        s.to_der().as_bytes().to_vec()
    };
    write_sig(
        &m.join("model.sig"),
        &statement(&shards, ser.clone(), "sha256"),
        sign,
        &key.pem_hint(),
    );
    let keys = [key.clone()];
    let v = run(&m, Method::Key(&keys), vec![]).unwrap();
    assert_eq!(
        (v.serialization.as_str(), v.resources, v.files),
        ("shards", 3, 2)
    );
    // the empty file has no shards: the signature cannot speak for it, and it is reported
    assert_eq!(v.unrecorded_empty, ["empty"]);
    let f = v.unrecorded_findings("model");
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].rule.as_str(), f[0].path.as_str()),
        ("model-signing.unsigned-empty-file", "model/empty")
    );
    // the near miss: without it, nothing is reported
    std::fs::remove_file(m.join("empty")).unwrap();
    let v = run(&m, Method::Key(&keys), vec![]).unwrap();
    assert!(v.unrecorded_empty.is_empty());
    assert!(v.unrecorded_findings("model").is_empty());
    assert_eq!(
        v.signer,
        ModelSigner::Key {
            key_id: key.key_id(),
            curve: "P-256"
        }
    );

    // one changed byte names exactly its shard
    let mut w2 = w.clone();
    w2[5] ^= 0xff;
    std::fs::write(m.join("sub/w.bin"), &w2).unwrap();
    let msg = integrity(run(&m, Method::Key(&keys), vec![]));
    assert_eq!(msg, "changed: sub/w.bin:4:8");
    // a truncated file: its shard boundaries no longer match
    std::fs::write(m.join("sub/w.bin"), &w[..7]).unwrap();
    let msg = integrity(run(&m, Method::Key(&keys), vec![]));
    assert_eq!(
        msg,
        "missing: sub/w.bin:4:8, sub/w.bin:8:10; not in the signature: sub/w.bin:4:7"
    );
}

#[test]
fn blake2_files_with_a_p521_key() {
    use ecdsa::signature::hazmat::PrehashSigner;
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("model");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(m.join("a.safetensors"), b"tensor bytes").unwrap();
    let d = {
        use blake2::Digest as _;
        blake2::Blake2b512::digest(b"tensor bytes").to_vec()
    };
    let ser =
        serde_json::json!({"method": "files", "hash_type": "blake2", "allow_symlinks": false});
    let mut scalar = [0x33u8; 66];
    scalar[0] = 0;
    let sk = p521::ecdsa::SigningKey::from_slice(&scalar).unwrap();
    let point = p521::ecdsa::VerifyingKey::from(&sk).to_encoded_point(false);
    let spki = spki::SubjectPublicKeyInfoOwned {
        algorithm: spki::AlgorithmIdentifierOwned {
            oid: "1.2.840.10045.2.1".parse().unwrap(),
            parameters: Some(der::asn1::Any::from(
                "1.3.132.0.35"
                    .parse::<der::asn1::ObjectIdentifier>()
                    .unwrap(),
            )),
        },
        subject_public_key: der::asn1::BitString::from_bytes(point.as_bytes()).unwrap(),
    };
    let key = EcKey::from_spki_der(&der::Encode::to_der(&spki).unwrap()).unwrap();
    let sign = |pae: &[u8]| {
        let s: p521::ecdsa::Signature = sk.sign_prehash(&sha2::Sha512::digest(pae)).unwrap();
        s.to_der().as_bytes().to_vec()
    };
    let sig = t.path().join("model.sig"); // outside the model folder
    write_sig(
        &sig,
        &statement(&[("a.safetensors".into(), d)], ser, "blake2b"),
        sign,
        &key.pem_hint(),
    );
    let keys = [key];
    let mut o = Options::new(Method::Key(&keys));
    o.ignore = vec![];
    let v = verify_model(&m, &sig, &o).unwrap();
    assert_eq!((v.hash_type.as_str(), v.resources), ("blake2", 1));
    std::fs::write(m.join("a.safetensors"), b"tensor bytez").unwrap();
    assert!(matches!(
        verify_model(&m, &sig, &o),
        Err(ModelError::Integrity(_))
    ));
}

#[test]
fn hostile_statements_are_rejected() {
    use ecdsa::signature::hazmat::PrehashSigner;
    use p256::pkcs8::EncodePublicKey;
    let t = tempfile::tempdir().unwrap();
    let m = t.path().join("model");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(m.join("f"), b"x").unwrap();
    let sk = p256::ecdsa::SigningKey::from_slice(&[0x44; 32]).unwrap();
    let key =
        EcKey::from_spki_der(sk.verifying_key().to_public_key_der().unwrap().as_bytes()).unwrap();
    let sign = |pae: &[u8]| {
        let s: p256::ecdsa::Signature = sk.sign_prehash(&sha2::Sha256::digest(pae)).unwrap();
        s.to_der().as_bytes().to_vec()
    };
    let keys = [key.clone()];
    let files =
        serde_json::json!({"method": "files", "hash_type": "sha256", "allow_symlinks": false});
    let dx = sha2::Sha256::digest(b"x").to_vec();
    let sig = t.path().join("model.sig");
    // a resource name escaping the model folder
    write_sig(
        &sig,
        &statement(&[("../f".into(), dx.clone())], files.clone(), "sha256"),
        sign,
        &key.pem_hint(),
    );
    let e = verify_model(&m, &sig, &Options::new(Method::Key(&keys))).unwrap_err();
    assert!(matches!(e, ModelError::Statement(_)), "{e}");
    // an unsupported hash type
    let b3 = serde_json::json!({"method": "files", "hash_type": "blake3", "allow_symlinks": false});
    write_sig(
        &sig,
        &statement(&[("f".into(), dx.clone())], b3, "blake3"),
        sign,
        &key.pem_hint(),
    );
    let e = verify_model(&m, &sig, &Options::new(Method::Key(&keys))).unwrap_err();
    assert!(e.to_string().contains("blake3"), "{e}");
    // the same statement is fine when well formed (the near miss)
    write_sig(
        &sig,
        &statement(&[("f".into(), dx)], files, "sha256"),
        sign,
        &key.pem_hint(),
    );
    verify_model(&m, &sig, &Options::new(Method::Key(&keys))).unwrap();
    // garbage signature files
    std::fs::write(&sig, b"not json").unwrap();
    assert!(matches!(
        verify_model(&m, &sig, &Options::new(Method::Key(&keys))),
        Err(ModelError::SigParse(_))
    ));
    let e = verify_model(
        &m,
        &t.path().join("absent.sig"),
        &Options::new(Method::Key(&keys)),
    )
    .unwrap_err();
    assert_eq!(e.class(), airgate::ErrorClass::Operational);
}

#[test]
fn fixtures_verify_inside_a_network_namespace() {
    let exe = std::env::current_exe().unwrap();
    let out = match std::process::Command::new("unshare")
        .arg("-rn")
        .arg(&exe)
        .args([
            "--exact",
            "every_fixture_verifies_with_expected_signer",
            "--test-threads",
            "1",
        ])
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipped: unshare is not available: {e}");
            return;
        }
    };
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    if stderr.contains("unshare failed") || stderr.contains("Operation not permitted") {
        eprintln!("skipped: the kernel refused a network namespace: {stderr}");
        return;
    }
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}{stderr}"
    );
}
