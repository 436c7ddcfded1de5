//! Threshold edge cases: same key twice, revoked, expired, unknown, wrong kind, bad base64.

use super::*;
use crate::trust::dsse::{encode_sig, EnvelopeSignature};
use crate::trust::keys::PrivateKey;

fn env_signed_by(keys: &[&PrivateKey]) -> Envelope {
    let mut e = Envelope::new("application/vnd.in-toto+json", b"{}");
    let pae = e.signed_bytes().unwrap();
    for k in keys {
        e.signatures.push(EnvelopeSignature {
            keyid: k.public().id().into(),
            sig: encode_sig(&k.sign(&pae)),
        });
    }
    e
}

fn store(keys: &[&PrivateKey], threshold: usize) -> TrustStore {
    TrustStore::ad_hoc(keys.iter().map(|k| k.public()).collect(), threshold, &[])
}

#[test]
fn two_of_three() {
    let (a, b, c) = (
        PrivateKey::generate(),
        PrivateKey::generate(),
        PrivateKey::generate(),
    );
    let s = store(&[&a, &b, &c], 2);
    assert!(s.evaluate("weights", &env_signed_by(&[&a, &c]), 0).met());
    assert!(!s.evaluate("weights", &env_signed_by(&[&b]), 0).met());
}

#[test]
fn same_key_twice_counts_once() {
    let (a, b) = (PrivateKey::generate(), PrivateKey::generate());
    let s = store(&[&a, &b], 2);
    let r = s.evaluate("weights", &env_signed_by(&[&a, &a]), 0);
    assert!(!r.met());
    assert_eq!(r.signatures[1].status, SignatureStatus::Duplicate);
}

#[test]
fn keyid_hint_cannot_double_count() {
    // The same signature twice with a forged keyid hint still maps to the real key.
    let (a, b) = (PrivateKey::generate(), PrivateKey::generate());
    let s = store(&[&a, &b], 2);
    let mut e = env_signed_by(&[&a]);
    let mut forged = e.signatures[0].clone();
    forged.keyid = b.public().id().into();
    e.signatures.push(forged);
    let r = s.evaluate("weights", &e, 0);
    assert!(!r.met());
    assert_eq!(r.counted.len(), 1);
}

#[test]
fn unknown_key_never_counts() {
    let (a, stranger) = (PrivateKey::generate(), PrivateKey::generate());
    let s = store(&[&a], 1);
    let r = s.evaluate("weights", &env_signed_by(&[&stranger]), 0);
    assert!(!r.met());
    assert_eq!(r.signatures[0].status, SignatureStatus::Unknown);
}

#[test]
fn revoked_key_never_counts() {
    let a = PrivateKey::generate();
    let s = TrustStore::ad_hoc(vec![a.public()], 1, &[a.public().id().to_string()]);
    let r = s.evaluate("weights", &env_signed_by(&[&a]), 0);
    assert!(!r.met());
    assert_eq!(r.signatures[0].status, SignatureStatus::Revoked);
}

#[test]
fn expired_and_wrong_kind_from_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (PrivateKey::generate(), PrivateKey::generate());
    std::fs::write(dir.path().join("a.pub"), a.public().to_pem()).unwrap();
    std::fs::write(dir.path().join("b.pub"), b.public().to_pem()).unwrap();
    let policy_text = "
[[keys]]
name = \"a\"
path = \"a.pub\"
expires = \"2020-01-01T00:00:00Z\"
[[keys]]
name = \"b\"
path = \"b.pub\"
[trust.weights]
keys = [\"a\"]
threshold = 1
[trust.patch]
keys = [\"b\"]
threshold = 1
";
    std::fs::write(dir.path().join("p.toml"), policy_text).unwrap();
    let policy = Policy::load(&dir.path().join("p.toml")).unwrap();
    let s = TrustStore::from_policy(&policy).unwrap();
    let before = crate::util::parse_time("2019-06-01T00:00:00Z").unwrap();
    let after = crate::util::parse_time("2021-06-01T00:00:00Z").unwrap();
    assert!(s.evaluate("weights", &env_signed_by(&[&a]), before).met());
    let r = s.evaluate("weights", &env_signed_by(&[&a]), after);
    assert_eq!(r.signatures[0].status, SignatureStatus::Expired);
    assert!(!r.met());
    // b is trusted for patch, not weights
    let r = s.evaluate("weights", &env_signed_by(&[&b]), before);
    assert_eq!(r.signatures[0].status, SignatureStatus::Unknown);
    assert!(s.evaluate("patch", &env_signed_by(&[&b]), before).met());
    // no rule for dataset
    let r = s.evaluate("dataset", &env_signed_by(&[&b]), before);
    assert!(r.unconfigured.is_some() && !r.met());
}

#[test]
fn tampered_payload_and_bad_base64_are_invalid() {
    let a = PrivateKey::generate();
    let s = store(&[&a], 1);
    let mut e = env_signed_by(&[&a]);
    e.payload = crate::trust::dsse::encode_sig(b"{\"x\":1}");
    let r = s.evaluate("weights", &e, 0);
    assert_eq!(r.signatures[0].status, SignatureStatus::Invalid);
    let mut e = env_signed_by(&[&a]);
    e.signatures[0].sig = "!!!".into();
    assert_eq!(
        s.evaluate("weights", &e, 0).signatures[0].status,
        SignatureStatus::Invalid
    );
}

#[test]
fn policy_naming_missing_key_is_an_error() {
    let p = Policy::from_toml("[trust.weights]\nkeys = [\"nobody\"]\nthreshold = 1\n").unwrap();
    assert!(matches!(
        TrustStore::from_policy(&p),
        Err(StoreError::Policy(_))
    ));
}

/// A state: root {r} 1-of-1, weights {p, q} 1, p revoked, q expired at 1000.
fn rotated_state(r: &PrivateKey, p: &PrivateKey, q: &PrivateKey, w: &PrivateKey) -> TrustState {
    let key = |n: &str, k: &PrivateKey, extra: &str| {
        format!(
            "[[keys]]\nname = \"{n}\"\npem = \"\"\"\n{}\"\"\"\n{extra}\n",
            k.public().to_pem()
        )
    };
    let text = format!(
        "version = 3\nrevoked = [\"{}\"]\n[root]\nkeys = [\"r\"]\nthreshold = 1\n\
         [trust.weights]\nkeys = [\"p\", \"q\", \"w\"]\nthreshold = 1\n{}{}{}{}",
        p.public().id(),
        key("r", r, ""),
        key("p", p, ""),
        key("q", q, "expires = \"1970-01-01T00:16:40Z\""),
        key("w", w, ""),
    );
    TrustState::from_toml(&text).unwrap()
}

#[test]
fn from_state_evaluates_as_the_state_does() {
    let (r, p, q, w) = (
        PrivateKey::generate(),
        PrivateKey::generate(),
        PrivateKey::generate(),
        PrivateKey::generate(),
    );
    let state = rotated_state(&r, &p, &q, &w);
    let s = TrustStore::from_state(&state);
    let cases: [(&str, Vec<&PrivateKey>, bool); 6] = [
        ("weights", vec![&w], true),
        ("weights", vec![&p], false),
        ("weights", vec![&q], false),
        ("weights", vec![&r], false),
        ("trust", vec![&r], true),
        ("patch", vec![&w], false),
    ];
    for (kind, signers, met) in cases {
        let env = env_signed_by(&signers);
        let a = s.evaluate(kind, &env, 2000);
        let b = state.evaluate(kind, &env, 2000);
        assert_eq!(a.met(), met, "{kind}");
        assert_eq!(b.met(), met, "{kind}");
        assert_eq!(a.counted, b.counted);
        let st = |r: &ThresholdResult| r.signatures.iter().map(|s| s.status).collect::<Vec<_>>();
        if kind != "patch" {
            // (for a kind with no role the state lists no signatures; the store lists them
            // as unknown; neither counts any)
            assert_eq!(st(&a), st(&b), "{kind}");
        }
    }
    assert!(s
        .evaluate("patch", &env_signed_by(&[&w]), 2000)
        .unconfigured
        .is_some());
    let rev = s.evaluate("weights", &env_signed_by(&[&p]), 2000);
    assert_eq!(rev.signatures[0].status, SignatureStatus::Revoked);
    let exp = s.evaluate("weights", &env_signed_by(&[&q]), 2000);
    assert_eq!(exp.signatures[0].status, SignatureStatus::Expired);
    // before its expiry q counts
    assert!(s.evaluate("weights", &env_signed_by(&[&q]), 500).met());
}
