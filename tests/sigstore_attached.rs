//! Sigstore bundles carried inside a native bundle: `airgate inspect --statement` gives the
//! bytes to sign, `airgate sign --sigstore-bundle` attaches the result, and `verify` counts
//! each distinct verified Sigstore signer once towards the kind's threshold when the policy
//! says `trust.<kind>.sigstore = true`. The Sigstore authority (log key, trusted root,
//! managed signing keys) is made on the spot, offline (see `sigstore_support`).

mod common;
mod sigstore_support;

use common::*;
use sigstore_support::{Authority, Signer};
use std::path::{Path, PathBuf};

struct Setup {
    dir: tempfile::TempDir,
    auth: Authority,
    signer: Signer,
    ed_key: PathBuf,
    bundle: PathBuf,
}

impl Setup {
    /// A packed (unsigned) weights bundle, an Ed25519 key pair `k`, a Sigstore authority and
    /// a managed signing key whose public half is `signer.pub`.
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("src")).unwrap();
        std::fs::write(d.join("src/weights.bin"), [7u8; 4096]).unwrap();
        let bundle = d.join("m.tar.zst");
        pack_weights(&d.join("src"), &bundle);
        key(d, "k");
        let auth = Authority::new();
        let signer = Signer::new();
        std::fs::write(d.join("trusted_root.json"), auth.trusted_root()).unwrap();
        std::fs::write(d.join("signer.pub"), signer.public_pem()).unwrap();
        Setup {
            ed_key: d.join("k.key"),
            dir,
            auth,
            signer,
            bundle,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(p: &Path) -> &str {
        p.to_str().unwrap()
    }

    /// A policy for kind weights: `keys` Ed25519 keys (k), `threshold`, `sigstore`.
    fn policy(&self, with_ed_key: bool, threshold: usize, sigstore: bool) -> PathBuf {
        let keys = if with_ed_key { "[\"k\"]" } else { "[]" };
        let text = format!(
            "[[keys]]\nname = \"k\"\npath = \"k.pub\"\n\n\
             [trust.weights]\nkeys = {keys}\nthreshold = {threshold}\nsigstore = {sigstore}\n\n\
             [sigstore]\ntrusted_root = \"trusted_root.json\"\n\n\
             [[sigstore.keys]]\nkinds = [\"weights\"]\npath = \"signer.pub\"\n"
        );
        let p = self.path("policy.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn statement(&self) -> Vec<u8> {
        let out = bin()
            .args(["inspect", Self::s(&self.bundle), "--statement"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        out.stdout
    }

    fn sign_ed(&self) {
        let (code, _, err) = run(&[
            "sign",
            Self::s(&self.bundle),
            "--key",
            Self::s(&self.ed_key),
        ]);
        assert_eq!(code, 0, "{err}");
    }

    /// Attach `json` as a Sigstore bundle: (exit code, stdout + stderr).
    fn attach(&self, json: &str, name: &str) -> (i32, String) {
        let p = self.path(name);
        std::fs::write(&p, json).unwrap();
        let (code, out, err) = run(&[
            "sign",
            Self::s(&self.bundle),
            "--sigstore-bundle",
            Self::s(&p),
        ]);
        (code, format!("{out}{err}"))
    }

    fn attach_ok(&self, json: &str, name: &str) {
        let (code, text) = self.attach(json, name);
        assert_eq!(code, 0, "{text}");
    }

    fn verify(&self, policy: &Path) -> (i32, serde_json::Value) {
        run_json(&[
            "verify",
            Self::s(&self.bundle),
            "--policy",
            Self::s(policy),
            "--format",
            "json",
        ])
    }
}

/// The report's sigstore signature lines: (status, reason).
fn sigstore_lines(v: &serde_json::Value) -> Vec<(String, String)> {
    v["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["format"] == "sigstore")
        .map(|s| {
            (
                s["status"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn statuses(v: &serde_json::Value) -> Vec<String> {
    sigstore_lines(v).into_iter().map(|(s, _)| s).collect()
}

#[test]
fn a_sigstore_signer_counts_towards_the_threshold() {
    let t = Setup::new();
    let policy = t.policy(true, 2, true);
    t.sign_ed();
    // one of two: refused before any payload byte
    let (code, v) = t.verify(&policy);
    assert_eq!(code, 1, "{v:#}");
    assert!(v["reasons"].to_string().contains("1 of 2"), "{v:#}");
    // the Sigstore bundle over the statement makes two
    let sb = t.auth.sign(&t.signer, &t.statement());
    t.attach_ok(&sb, "a.sigstore.json");
    let (code, v) = t.verify(&policy);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["verdict"], "accept");
    assert_eq!(statuses(&v), ["counted"], "{v:#}");
    // the same verdict with no network at all
    if namespace_has_no_network() == Some(true) {
        let args = ["verify", Setup::s(&t.bundle), "--policy", Setup::s(&policy)];
        let (code, out) = airgate_offline(&args).unwrap();
        assert_eq!(code, 0, "{out}");
    } else {
        eprintln!("skipped the offline re-run: no network namespace here");
    }
    // attaching the same bundle again changes nothing
    let (code, text) = t.attach(&sb, "a.sigstore.json");
    assert_eq!(code, 0);
    assert!(text.contains("already carries"), "{text}");
}

#[test]
fn a_sigstore_only_kind_verifies_with_no_ed25519_key() {
    let t = Setup::new();
    let policy = t.policy(false, 1, true);
    let (code, v) = t.verify(&policy);
    assert_eq!(code, 1, "{v:#}");
    t.attach_ok(&t.auth.sign(&t.signer, &t.statement()), "a.sigstore.json");
    let (code, v) = t.verify(&policy);
    assert_eq!(code, 0, "{v:#}");
}

#[test]
fn one_signer_counts_once_however_many_bundles_it_made() {
    let t = Setup::new();
    let policy = t.policy(true, 3, true);
    t.sign_ed();
    let st = t.statement();
    // two different bundles (fresh ECDSA signatures and log entries) by the same key
    t.attach_ok(&t.auth.sign(&t.signer, &st), "a.sigstore.json");
    t.attach_ok(&t.auth.sign(&t.signer, &st), "b.sigstore.json");
    let (code, v) = t.verify(&policy);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(statuses(&v), ["counted", "duplicate"], "{v:#}");
    assert!(v["reasons"].to_string().contains("2 of 3"), "{v:#}");
}

#[test]
fn untrusted_or_forged_sigstore_bundles_never_count() {
    let t = Setup::new();
    let policy = t.policy(true, 2, true);
    t.sign_ed();
    let st = t.statement();
    // a signer the policy does not name
    t.attach_ok(&t.auth.sign(&Signer::new(), &st), "stranger.sigstore.json");
    // a log the trusted root does not name
    t.attach_ok(
        &Authority::new().sign(&t.signer, &st),
        "other-log.sigstore.json",
    );
    // the right signer, but the log's signed entry timestamp forged
    let good = t.auth.sign(&t.signer, &st);
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let set = &mut v["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]
        ["signedEntryTimestamp"];
    let forged = t.auth.sign(&Signer::new(), b"something else");
    let fv: serde_json::Value = serde_json::from_str(&forged).unwrap();
    *set = fv["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"]
        .clone();
    t.attach_ok(&v.to_string(), "forged-set.sigstore.json");
    let (code, v) = t.verify(&policy);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(statuses(&v), ["invalid", "invalid", "invalid"], "{v:#}");
    let reasons = sigstore_lines(&v)
        .into_iter()
        .map(|(_, r)| r)
        .collect::<Vec<_>>();
    assert!(
        reasons[2].contains("SET") || reasons[2].contains("inclusion promise"),
        "{reasons:#?}"
    );
}

#[test]
fn without_the_policy_switch_a_carried_bundle_is_reported_not_counted() {
    let t = Setup::new();
    let policy = t.policy(true, 1, false);
    t.sign_ed();
    t.attach_ok(&t.auth.sign(&t.signer, &t.statement()), "a.sigstore.json");
    let (code, v) = t.verify(&policy);
    assert_eq!(code, 0, "{v:#}");
    let lines = sigstore_lines(&v);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].0, "unknown");
    assert!(lines[0].1.contains("trust.weights.sigstore"), "{lines:?}");
    // and a threshold above the Ed25519 keys is refused as a policy error
    let bad = t.policy(true, 2, false);
    let (code, _, err) = run(&["verify", Setup::s(&t.bundle), "--policy", Setup::s(&bad)]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn attaching_refuses_a_bundle_over_other_bytes_or_not_a_bundle() {
    let t = Setup::new();
    let (code, text) = t.attach(&t.auth.sign(&t.signer, b"{}"), "other.sigstore.json");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("not the SHA-256 of this bundle's statement"),
        "{text}"
    );
    let (code, text) = t.attach("{\"mediaType\": 1}", "junk.sigstore.json");
    assert_eq!(code, 1, "{text}");
    // nothing was attached
    let out = bin()
        .args(["inspect", Setup::s(&t.bundle), "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sigstore_bundles"], 0);
}

#[test]
fn a_policy_that_counts_sigstore_needs_a_root_and_a_signer() {
    let t = Setup::new();
    let p = t.path("p.toml");
    std::fs::write(
        &p,
        "[trust.weights]\nthreshold = 1\nsigstore = true\n[sigstore]\ntrusted_root = \"trusted_root.json\"\n",
    )
    .unwrap();
    let (code, _, err) = run(&["verify", Setup::s(&t.bundle), "--policy", Setup::s(&p)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("trust.weights.sigstore"), "{err}");
}

/// The policy key `k` (Ed25519) named both in `[[keys]]` and as a `[sigstore]` managed key.
fn same_key_policy(t: &Setup, threshold: usize, extra: &str) -> PathBuf {
    let text = format!(
        "{extra}[[keys]]\nname = \"k\"\npath = \"k.pub\"\n\n\
         [trust.weights]\nkeys = [\"k\"]\nthreshold = {threshold}\nsigstore = true\n\n\
         [sigstore]\ntrusted_root = \"trusted_root.json\"\n\n\
         [[sigstore.keys]]\nkinds = [\"weights\"]\npath = \"k.pub\"\n"
    );
    let p = t.path("same-key.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// k's Sigstore bundle, signed by the same key as its DSSE signature.
fn attach_same_key(t: &Setup) {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let sk =
        ed25519_dalek::SigningKey::from_pkcs8_pem(&std::fs::read_to_string(&t.ed_key).unwrap())
            .unwrap();
    let pem = std::fs::read_to_string(t.path("k.pub")).unwrap();
    t.attach_ok(
        &t.auth.sign_ed25519(&sk, &pem, &t.statement()),
        "same.sigstore.json",
    );
}

#[test]
fn one_key_counts_once_whether_it_signs_as_dsse_or_as_sigstore() {
    let t = Setup::new();
    let policy = same_key_policy(&t, 2, "");
    t.sign_ed();
    attach_same_key(&t);
    let (code, v) = t.verify(&policy);
    assert_eq!(code, 1, "one key met a 2-of-2 threshold: {v:#}");
    assert_eq!(statuses(&v), ["duplicate"], "{v:#}");
    // the near-miss: one of one is met by either signature alone
    let policy = same_key_policy(&t, 1, "");
    let (code, v) = t.verify(&policy);
    assert_eq!(code, 0, "{v:#}");
}

#[test]
fn a_revoked_or_expired_key_does_not_count_as_a_sigstore_managed_key() {
    let t = Setup::new();
    let pem = std::fs::read_to_string(t.path("k.pub")).unwrap();
    let id = airgate::trust::PublicKey::from_pem(&pem)
        .unwrap()
        .id()
        .to_string();
    attach_same_key(&t); // no DSSE signature: only the Sigstore bundle could count
    let revoked = same_key_policy(&t, 1, &format!("revoked = [\"{id}\"]\n"));
    let (code, v) = t.verify(&revoked);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(statuses(&v), ["revoked"], "{v:#}");
    let policy = same_key_policy(&t, 1, "");
    let expired = std::fs::read_to_string(&policy).unwrap().replace(
        "path = \"k.pub\"\n\n[trust",
        "path = \"k.pub\"\nexpires = \"2020-01-01T00:00:00Z\"\n\n[trust",
    );
    std::fs::write(&policy, expired).unwrap();
    let (code, v) = t.verify(&policy);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(statuses(&v), ["expired"], "{v:#}");
    // the near-miss: the same key, neither revoked nor expired, counts
    let fine = same_key_policy(&t, 1, "");
    let (code, v) = t.verify(&fine);
    assert_eq!(code, 0, "{v:#}");
}
