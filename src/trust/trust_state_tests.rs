//! Trust file parsing, checks, TOML round trip, evaluation and change summaries.

use super::*;
use crate::trust::dsse::{encode_sig, EnvelopeSignature};
use crate::trust::keys::PrivateKey;
use crate::vocab::SignatureStatus;

fn key_toml(name: &str, k: &PrivateKey, extra: &str) -> String {
    format!(
        "[[keys]]\nname = \"{name}\"\npem = \"\"\"\n{}\"\"\"\n{extra}\n",
        k.public().to_pem()
    )
}

fn signed(keys: &[&PrivateKey]) -> Envelope {
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

struct Fixture {
    r1: PrivateKey,
    r2: PrivateKey,
    p: PrivateKey,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            r1: PrivateKey::generate(),
            r2: PrivateKey::generate(),
            p: PrivateKey::generate(),
        }
    }
    fn text(&self, extra_top: &str, p_extra: &str) -> String {
        format!(
            "version = 1\n{extra_top}\n[root]\nkeys = [\"r1\", \"r2\"]\nthreshold = 2\n\n\
             [trust.weights]\nkeys = [\"p\"]\nthreshold = 1\n\n{}{}{}",
            key_toml("r1", &self.r1, ""),
            key_toml("r2", &self.r2, ""),
            key_toml("p", &self.p, p_extra)
        )
    }
}

#[test]
fn parses_and_round_trips() {
    let f = Fixture::new();
    let s = TrustState::from_toml(&f.text("", "expires = \"2030-01-01T00:00:00Z\"")).unwrap();
    assert_eq!(s.version(), 1);
    assert_eq!(s.root().threshold, 2);
    assert_eq!(s.role("weights").unwrap().key_ids.len(), 1);
    assert_eq!(s.role("trust"), Some(s.root()));
    assert!(s.role("patch").is_none());
    let text = s.to_toml().unwrap();
    let back = TrustState::from_toml(&text).unwrap();
    assert_eq!(back, s);
    assert!(
        text.contains("expires = \"2030-01-01T00:00:00Z\""),
        "{text}"
    );
}

#[test]
fn rejects_inconsistent_files() {
    let f = Fixture::new();
    let bad = |t: &str| TrustState::from_toml(t).unwrap_err();
    // Unknown field.
    assert!(matches!(
        bad(&f.text("colour = 1", "")),
        StateError::Parse(_)
    ));
    // No root role.
    let no_root = f
        .text("", "")
        .replace("[root]\nkeys = [\"r1\", \"r2\"]\nthreshold = 2\n", "");
    assert!(matches!(bad(&no_root), StateError::Parse(_)));
    // Root threshold over its keys, or zero.
    assert!(matches!(
        bad(&f.text("", "").replace("threshold = 2", "threshold = 3")),
        StateError::Invalid(_)
    ));
    assert!(matches!(
        bad(&f.text("", "").replace("threshold = 2", "threshold = 0")),
        StateError::Invalid(_)
    ));
    // A revoked root key makes threshold 2 unreachable.
    let rid = f.r1.public().id().to_string();
    assert!(matches!(
        bad(&f.text(&format!("revoked = [\"{rid}\"]"), "")),
        StateError::Invalid(_)
    ));
    // ... but revoking the publisher key of a kind with another key is fine elsewhere; here
    // weights has only that key, so it is refused too.
    let pid = f.p.public().id().to_string();
    assert!(matches!(
        bad(&f.text(&format!("revoked = [\"{pid}\"]"), "")),
        StateError::Invalid(_)
    ));
    // Malformed revoked id.
    assert!(matches!(
        bad(&f.text("revoked = [\"abc\"]", "")),
        StateError::Invalid(_)
    ));
    // Role naming a missing key; a key id mismatch; an unknown kind; [trust.trust].
    assert!(matches!(
        bad(&f.text("", "").replace("[\"p\"]", "[\"q\"]")),
        StateError::Invalid(_)
    ));
    assert!(matches!(
        bad(&f.text("", &format!("id = \"{rid}\""))),
        StateError::Invalid(_)
    ));
    assert!(matches!(
        bad(&f.text("", "").replace("[trust.weights]", "[trust.gizmo]")),
        StateError::Invalid(_)
    ));
    assert!(matches!(
        bad(&f.text("", "").replace("[trust.weights]", "[trust.trust]")),
        StateError::Invalid(_)
    ));
    // Same key under two names.
    let twice = format!("{}{}", f.text("", ""), key_toml("p2", &f.p, ""));
    assert!(matches!(bad(&twice), StateError::Invalid(_)));
    // Bad PEM and oversize input.
    let garbled = f.text("", "").replacen("MCow", "MCox", 1);
    assert!(matches!(bad(&garbled), StateError::Invalid(_)));
    assert!(matches!(
        TrustState::from_bytes(&vec![b' '; MAX_TRUST_FILE + 1]),
        Err(StateError::TooLarge(_))
    ));
    // The near miss: the same file with a valid id parses.
    assert!(TrustState::from_toml(&f.text("", &format!("id = \"{pid}\""))).is_ok());
}

#[test]
fn evaluate_counts_by_role_revocation_and_expiry() {
    let f = Fixture::new();
    let s = TrustState::from_toml(&f.text("", "expires = \"2030-01-01T00:00:00Z\"")).unwrap();
    let before = crate::util::parse_time("2029-12-31T00:00:00Z").unwrap();
    let after = crate::util::parse_time("2030-01-02T00:00:00Z").unwrap();
    assert!(s.evaluate("weights", &signed(&[&f.p]), before).met());
    let r = s.evaluate("weights", &signed(&[&f.p]), after);
    assert!(!r.met());
    assert_eq!(r.signatures[0].status, SignatureStatus::Expired);
    // A root key is not a weights key.
    let r = s.evaluate("weights", &signed(&[&f.r1]), before);
    assert_eq!(r.signatures[0].status, SignatureStatus::Unknown);
    // Root: two distinct keys, the same one twice does not do.
    assert!(s.evaluate("trust", &signed(&[&f.r1, &f.r2]), before).met());
    let r = s.evaluate("trust", &signed(&[&f.r1, &f.r1]), before);
    assert!(!r.met());
    assert_eq!(r.signatures[1].status, SignatureStatus::Duplicate);
    assert!(s
        .evaluate("patch", &signed(&[&f.p]), before)
        .unconfigured
        .is_some());
}

#[test]
fn change_summary() {
    let f = Fixture::new();
    let a = TrustState::from_toml(&f.text("", "")).unwrap();
    let q = PrivateKey::generate();
    let pid = f.p.public().id().to_string();
    let text = format!(
        "version = 2\nrevoked = [\"{pid}\"]\n[root]\nkeys = [\"r1\", \"r2\"]\nthreshold = 2\n\n\
         [trust.weights]\nkeys = [\"q\"]\nthreshold = 1\n\n{}{}{}{}",
        key_toml("r1", &f.r1, ""),
        key_toml("r2", &f.r2, ""),
        key_toml("p", &f.p, ""),
        key_toml("q", &q, "")
    );
    let b = TrustState::from_toml(&text).unwrap();
    let c = a.changes(&b);
    assert_eq!(c[0], "version 1 -> 2");
    assert!(c.iter().any(|l| l.starts_with("key added: \"q\"")), "{c:?}");
    assert!(
        c.iter().any(|l| l == &format!("key revoked: {pid}")),
        "{c:?}"
    );
    assert!(c.iter().any(|l| l.starts_with("role weights:")), "{c:?}");
    assert!(!c.iter().any(|l| l.starts_with("role root")), "{c:?}");
}
