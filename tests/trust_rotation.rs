//! Trust-root rotation by `trust` bundles: a valid rotation, a skipped or repeated version,
//! a rotation signed only by the old or only by the new root keys, a leaked key revoked in
//! one bundle (its signatures stop counting), tampered payloads, and real packed bundles.

use airgate::bundle::{encode_sig, Envelope, EnvelopeSignature};
use airgate::bundle::{pack, PackOptions};
use airgate::bundle::{
    Predicate, Statement, Subject, PAYLOAD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE,
};
use airgate::policy::{Limits, Policy};
use airgate::report::SignatureStatus;
use airgate::trust::sign;
use airgate::trust::PrivateKey;
use airgate::trust::TrustState;
use airgate::trust::{apply_rotation, read_trust_bundle, RotationError, TRUST_FILE};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const NOW: i64 = 1_800_000_000;

fn keys_toml(keys: &[(&str, &PrivateKey)]) -> String {
    keys.iter()
        .map(|(n, k)| {
            format!(
                "[[keys]]\nname = \"{n}\"\npem = \"\"\"\n{}\"\"\"\n\n",
                k.public().to_pem()
            )
        })
        .collect()
}

/// A trust file: `root` names with threshold `rt`, weights signers `w` with threshold 1.
fn trust_toml(
    version: u64,
    all: &[(&str, &PrivateKey)],
    root: &[&str],
    rt: usize,
    weights: &[&str],
    revoked: &[&PrivateKey],
) -> String {
    let q = |v: &[&str]| {
        v.iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let revoked: Vec<String> = revoked
        .iter()
        .map(|k| format!("\"{}\"", k.public().id()))
        .collect();
    format!(
        "version = {version}\nrevoked = [{}]\n\n[root]\nkeys = [{}]\nthreshold = {rt}\n\n\
         [trust.weights]\nkeys = [{}]\nthreshold = 1\n\n{}",
        revoked.join(", "),
        q(root),
        q(weights),
        keys_toml(all)
    )
}

fn statement(kind: &str, version: &str, files: &[(&str, &[u8])]) -> Statement {
    Statement {
        type_: STATEMENT_TYPE.into(),
        subject: files
            .iter()
            .map(|(n, b)| Subject {
                name: n.to_string(),
                digest: BTreeMap::from([("sha256".to_string(), hex::encode(Sha256::digest(b)))]),
            })
            .collect(),
        predicate_type: PREDICATE_TYPE.into(),
        predicate: Predicate {
            kind: kind.into(),
            name: "gate-trust".into(),
            version: version.into(),
            created: "2027-01-01T00:00:00Z".into(),
            publisher: "enclave security".into(),
            sizes: files
                .iter()
                .map(|(n, b)| (n.to_string(), b.len() as u64))
                .collect(),
        },
    }
}

fn envelope(st: &Statement, signers: &[&PrivateKey]) -> Envelope {
    let mut e = Envelope::new(PAYLOAD_TYPE, &serde_json::to_vec(st).unwrap());
    let pae = e.signed_bytes().unwrap();
    for k in signers {
        e.signatures.push(EnvelopeSignature {
            keyid: k.public().id().into(),
            sig: encode_sig(&k.sign(&pae)),
        });
    }
    e
}

/// Rotation bundle parts for `toml` at `version`, signed by `signers`.
fn rotation(version: u64, toml: &str, signers: &[&PrivateKey]) -> (Envelope, Vec<u8>) {
    let st = statement(
        "trust",
        &version.to_string(),
        &[(TRUST_FILE, toml.as_bytes())],
    );
    (envelope(&st, signers), toml.as_bytes().to_vec())
}

/// Old root {a, b, c} 2-of-3, publisher p; new root {b, c, d} 2-of-3, publisher q.
struct World {
    a: PrivateKey,
    b: PrivateKey,
    c: PrivateKey,
    d: PrivateKey,
    p: PrivateKey,
    q: PrivateKey,
}

impl World {
    fn new() -> World {
        let g = PrivateKey::generate;
        World {
            a: g(),
            b: g(),
            c: g(),
            d: g(),
            p: g(),
            q: g(),
        }
    }
    fn v1(&self) -> TrustState {
        let all = [
            ("a", &self.a),
            ("b", &self.b),
            ("c", &self.c),
            ("p", &self.p),
        ];
        TrustState::from_toml(&trust_toml(1, &all, &["a", "b", "c"], 2, &["p"], &[])).unwrap()
    }
    /// v2: root {b, c, d}, publisher q, p and a revoked.
    fn v2_toml(&self, version: u64) -> String {
        let all = [
            ("a", &self.a),
            ("b", &self.b),
            ("c", &self.c),
            ("d", &self.d),
            ("p", &self.p),
            ("q", &self.q),
        ];
        trust_toml(
            version,
            &all,
            &["b", "c", "d"],
            2,
            &["q"],
            &[&self.a, &self.p],
        )
    }
}

#[test]
fn valid_rotation_replaces_keys_and_revokes_in_one_bundle() {
    let w = World::new();
    let v1 = w.v1();
    let (env, toml) = rotation(2, &w.v2_toml(2), &[&w.a, &w.b, &w.d]);
    let r = apply_rotation(&v1, &env, &toml, NOW).unwrap();
    assert_eq!(r.state.version(), 2);
    assert!(r.current_root.met() && r.new_root.met());
    // a counted for the old root, but is revoked in the new state: only b and d count there.
    assert_eq!(r.new_root.counted.len(), 2);
    assert!(
        r.changes.iter().any(|l| l.contains(w.p.public().id())),
        "{:?}",
        r.changes
    );
    // The persisted form parses back to the same state.
    let again = TrustState::from_toml(&r.state.to_toml().unwrap()).unwrap();
    assert_eq!(again, r.state);
}

#[test]
fn revoked_key_does_not_count_after_rotation() {
    let w = World::new();
    let v1 = w.v1();
    let weights = statement("weights", "1.0.0", &[("model.bin", b"weights")]);
    let by_p = envelope(&weights, &[&w.p]);
    // Before: p signs weights.
    assert!(v1.evaluate("weights", &by_p, NOW).met());
    let (env, toml) = rotation(2, &w.v2_toml(2), &[&w.b, &w.c]);
    let v2 = apply_rotation(&v1, &env, &toml, NOW).unwrap().state;
    // After: p's signature is reported as revoked and does not count; q's does.
    let r = v2.evaluate("weights", &by_p, NOW);
    assert!(!r.met());
    assert_eq!(r.signatures[0].status, SignatureStatus::Revoked);
    assert!(v2
        .evaluate("weights", &envelope(&weights, &[&w.q]), NOW)
        .met());
    // The leaked root key a cannot drive the next rotation, even with one good key.
    let all = [
        ("b", &w.b),
        ("c", &w.c),
        ("d", &w.d),
        ("q", &w.q),
        ("a", &w.a),
        ("p", &w.p),
    ];
    let v3 = trust_toml(3, &all, &["b", "c", "d"], 2, &["q"], &[&w.a, &w.p]);
    let (env, toml) = rotation(3, &v3, &[&w.a, &w.b]);
    match apply_rotation(&v2, &env, &toml, NOW) {
        Err(RotationError::CurrentRoot(m)) => assert!(m.contains("revoked"), "{m}"),
        other => panic!("expected CurrentRoot, got {other:?}"),
    }
    let (env, toml) = rotation(3, &v3, &[&w.c, &w.b]);
    assert!(apply_rotation(&v2, &env, &toml, NOW).is_ok());
}

#[test]
fn version_must_be_exactly_next() {
    let w = World::new();
    let v1 = w.v1();
    for v in [1u64, 3, 0] {
        let (env, toml) = rotation(v, &w.v2_toml(v), &[&w.a, &w.b, &w.c, &w.d]);
        let r = apply_rotation(&v1, &env, &toml, NOW);
        assert!(
            matches!(r, Err(RotationError::NotNextVersion { .. })),
            "version {v}: {r:?}"
        );
    }
    // A semantic version is not a trust version.
    let st = statement("trust", "2.0.0", &[(TRUST_FILE, w.v2_toml(2).as_bytes())]);
    let env = envelope(&st, &[&w.a, &w.b, &w.c, &w.d]);
    let r = apply_rotation(&v1, &env, w.v2_toml(2).as_bytes(), NOW);
    assert!(
        matches!(r, Err(RotationError::NotNextVersion { .. })),
        "{r:?}"
    );
    // The statement says 2 but the file inside says 5.
    let (env, toml) = rotation(2, &w.v2_toml(5), &[&w.a, &w.b, &w.c, &w.d]);
    let r = apply_rotation(&v1, &env, &toml, NOW);
    assert!(
        matches!(r, Err(RotationError::VersionMismatch { .. })),
        "{r:?}"
    );
}

#[test]
fn signed_only_by_old_or_only_by_new_root_is_refused() {
    let w = World::new();
    let v1 = w.v1();
    let toml = w.v2_toml(2);
    // Old root only: a and b are 2-of-3 of the old root; in the new root a is revoked and
    // b alone is 1 of 2.
    let (env, t) = rotation(2, &toml, &[&w.a, &w.b]);
    let r = apply_rotation(&v1, &env, &t, NOW);
    assert!(matches!(r, Err(RotationError::NewRoot(_))), "{r:?}");
    // New root only: d is new; c and d are 2-of-3 new but only c is old.
    let (env, t) = rotation(2, &toml, &[&w.c, &w.d]);
    let r = apply_rotation(&v1, &env, &t, NOW);
    assert!(matches!(r, Err(RotationError::CurrentRoot(_))), "{r:?}");
    // Entirely new keys (an attacker installing their own root) is refused.
    let (x, y) = (PrivateKey::generate(), PrivateKey::generate());
    let own = trust_toml(2, &[("x", &x), ("y", &y)], &["x", "y"], 2, &["x"], &[]);
    let (env, t) = rotation(2, &own, &[&x, &y]);
    assert!(matches!(
        apply_rotation(&v1, &env, &t, NOW),
        Err(RotationError::CurrentRoot(_))
    ));
    // Publisher keys are not root keys.
    let (env, t) = rotation(2, &toml, &[&w.p, &w.q]);
    assert!(matches!(
        apply_rotation(&v1, &env, &t, NOW),
        Err(RotationError::CurrentRoot(_))
    ));
    // The same key twice counts once.
    let (env, t) = rotation(2, &toml, &[&w.b, &w.b, &w.d]);
    assert!(matches!(
        apply_rotation(&v1, &env, &t, NOW),
        Err(RotationError::CurrentRoot(_))
    ));
    // The near miss: b (old and new), c (old and new) is enough for both.
    let (env, t) = rotation(2, &toml, &[&w.b, &w.c]);
    assert!(apply_rotation(&v1, &env, &t, NOW).is_ok());
}

#[test]
fn payload_must_match_the_signed_statement() {
    let w = World::new();
    let v1 = w.v1();
    let toml = w.v2_toml(2);
    let (env, _) = rotation(2, &toml, &[&w.b, &w.c]);
    // Same length, one byte changed (threshold 2 -> 3 would be a different file).
    let swapped = toml.replacen("threshold = 2", "threshold = 3", 1);
    let r = apply_rotation(&v1, &env, swapped.as_bytes(), NOW);
    assert!(matches!(r, Err(RotationError::Payload(_))), "{r:?}");
    let r = apply_rotation(&v1, &env, format!("{toml}\n").as_bytes(), NOW);
    assert!(matches!(r, Err(RotationError::Payload(_))), "{r:?}");
    // A second file, or a weights bundle, is not a rotation.
    let st = statement(
        "trust",
        "2",
        &[(TRUST_FILE, toml.as_bytes()), ("extra", b"x")],
    );
    let r = apply_rotation(&v1, &envelope(&st, &[&w.b, &w.c]), toml.as_bytes(), NOW);
    assert!(matches!(r, Err(RotationError::Payload(_))), "{r:?}");
    let st = statement("weights", "2", &[(TRUST_FILE, toml.as_bytes())]);
    let r = apply_rotation(&v1, &envelope(&st, &[&w.b, &w.c]), toml.as_bytes(), NOW);
    assert!(matches!(r, Err(RotationError::NotTrustKind(_))), "{r:?}");
    // A tampered signature.
    let (mut env, t) = rotation(2, &toml, &[&w.b, &w.c]);
    env.signatures[1].sig = encode_sig(&[0u8; 64]);
    assert!(matches!(
        apply_rotation(&v1, &env, &t, NOW),
        Err(RotationError::CurrentRoot(_))
    ));
}

#[test]
fn revocations_cannot_be_undone() {
    let w = World::new();
    let v1 = w.v1();
    let (env, toml) = rotation(2, &w.v2_toml(2), &[&w.b, &w.c]);
    let v2 = apply_rotation(&v1, &env, &toml, NOW).unwrap().state;
    let all = [
        ("b", &w.b),
        ("c", &w.c),
        ("d", &w.d),
        ("p", &w.p),
        ("q", &w.q),
    ];
    // v3 forgets that p (and a) were revoked.
    let v3 = trust_toml(3, &all, &["b", "c", "d"], 2, &["p"], &[]);
    let (env, t) = rotation(3, &v3, &[&w.b, &w.c]);
    let r = apply_rotation(&v2, &env, &t, NOW);
    assert!(matches!(r, Err(RotationError::Unrevoke(_))), "{r:?}");
}

#[test]
fn initial_state_from_policy_and_a_real_bundle() {
    let w = World::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (n, k) in [("a", &w.a), ("b", &w.b), ("c", &w.c), ("p", &w.p)] {
        std::fs::write(d.join(format!("{n}.pub")), k.public().to_pem()).unwrap();
    }
    let policy_text =
        "[[keys]]\nname = \"a\"\npath = \"a.pub\"\n[[keys]]\nname = \"b\"\npath = \"b.pub\"\n\
        [[keys]]\nname = \"c\"\npath = \"c.pub\"\n[[keys]]\nname = \"p\"\npath = \"p.pub\"\n\
        [trust.trust]\nkeys = [\"a\", \"b\", \"c\"]\nthreshold = 2\n\
        [trust.weights]\nkeys = [\"p\"]\nthreshold = 1\n";
    std::fs::write(d.join("policy.toml"), policy_text).unwrap();
    let policy = Policy::load(&d.join("policy.toml")).unwrap();
    let v1 = TrustState::from_policy(&policy, 1).unwrap();
    assert_eq!(v1, w.v1());

    // Pack a trust bundle with airgate's own pack and sign, then rotate from it.
    let src = d.join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join(TRUST_FILE), w.v2_toml(2)).unwrap();
    let opts = PackOptions {
        kind: "trust".into(),
        name: "gate-trust".into(),
        version: "2".into(),
        publisher: "enclave security".into(),
        created: Some(NOW),
        zstd_level: Some(3),
    };
    let bundle = d.join("trust-2.tar.zst");
    pack(&src, &bundle, &opts).unwrap();
    for k in [&w.b, &w.d] {
        sign(&bundle, k).unwrap();
    }
    let tb = read_trust_bundle(&bundle, &Limits::default()).unwrap();
    let r = apply_rotation(&v1, &tb.envelope, &tb.trust_toml, NOW);
    assert!(
        matches!(r, Err(RotationError::CurrentRoot(_))),
        "only b is an old root key: {r:?}"
    );
    sign(&bundle, &w.c).unwrap();
    let tb = read_trust_bundle(&bundle, &Limits::default()).unwrap();
    let r = apply_rotation(&v1, &tb.envelope, &tb.trust_toml, NOW).unwrap();
    assert_eq!(r.state.version(), 2);

    // A trust bundle with another file besides trust.toml is refused when read.
    std::fs::write(src.join("notes.txt"), "hi").unwrap();
    let extra = d.join("extra.tar.zst");
    pack(&src, &extra, &opts).unwrap();
    assert!(matches!(
        read_trust_bundle(&extra, &Limits::default()),
        Err(RotationError::Payload(_))
    ));
    assert!(matches!(
        read_trust_bundle(&d.join("missing.tar.zst"), &Limits::default()),
        Err(RotationError::Io(_))
    ));
}

#[test]
fn policy_without_root_role_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let k = PrivateKey::generate();
    std::fs::write(dir.path().join("p.pub"), k.public().to_pem()).unwrap();
    let text = "[[keys]]\nname = \"p\"\npath = \"p.pub\"\n[trust.weights]\nkeys = [\"p\"]\nthreshold = 1\n";
    std::fs::write(dir.path().join("policy.toml"), text).unwrap();
    let policy = Policy::load(&dir.path().join("policy.toml")).unwrap();
    assert!(TrustState::from_policy(&policy, 1).is_err());
}
