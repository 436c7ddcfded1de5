//! Trust-root rotation through the gate, end to end with the real binary: a valid rotation
//! via `admit` (state/trust.toml replaced, staged with a receipt, audited); a skipped
//! version; rotations signed only by the old or only by the new root keys; a replayed and a
//! rolled-back trust bundle; after revoking publisher key P, a bundle signed by P is
//! quarantined while one signed by a still-trusted key is staged; `audit verify` passes.

mod gate_util;

use gate_util::{code, dirs, names, quarantine_sha, run, sha256_file, text};
use std::path::{Path, PathBuf};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Keys a, b, c (root 2-of-3 at version 1), p and q (weights publishers), d and e (spare).
struct World {
    dir: tempfile::TempDir,
    gate: PathBuf,
}

impl World {
    fn new(with_root: bool) -> World {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for k in ["a", "b", "c", "d", "e", "p", "q"] {
            let o = run(&["keygen", "--out", s(&d.join("keys")), "--name", k]);
            assert_eq!(code(&o), 0, "{}", text(&o));
        }
        let mut policy = String::new();
        for k in ["a", "b", "c", "p", "q"] {
            policy.push_str(&format!(
                "[[keys]]\nname = \"{k}\"\npath = \"keys/{k}.pub\"\n"
            ));
        }
        policy.push_str("[trust.weights]\nkeys = [\"p\", \"q\"]\nthreshold = 1\n");
        if with_root {
            policy.push_str("[trust.trust]\nkeys = [\"a\", \"b\", \"c\"]\nthreshold = 2\n");
        }
        std::fs::write(d.join("policy.toml"), policy).unwrap();
        let gate = d.join("gate");
        let o = run(&["init", s(&gate), "--policy", s(&d.join("policy.toml"))]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        World { dir, gate }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn pem(&self, k: &str) -> String {
        std::fs::read_to_string(self.path().join(format!("keys/{k}.pub"))).unwrap()
    }

    fn id(&self, k: &str) -> String {
        airgate::trust::PublicKey::load(&self.path().join(format!("keys/{k}.pub")))
            .unwrap()
            .id()
            .to_string()
    }

    /// A trust file embedding `keys`, root `root` (threshold `rt`), weights `weights`
    /// (threshold 1), revoking `revoked`.
    fn trust_toml(
        &self,
        version: u64,
        keys: &[&str],
        root: &[&str],
        rt: usize,
        weights: &[&str],
        revoked: &[&str],
    ) -> String {
        let q = |v: &[&str]| {
            v.iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let revoked: Vec<String> = revoked.iter().map(|k| self.id(k)).collect();
        let mut t = format!(
            "version = {version}\nrevoked = [{}]\n\n[root]\nkeys = [{}]\nthreshold = {rt}\n\n\
             [trust.weights]\nkeys = [{}]\nthreshold = 1\n\n",
            q(&revoked.iter().map(String::as_str).collect::<Vec<_>>()),
            q(root),
            q(weights)
        );
        for k in keys {
            t.push_str(&format!(
                "[[keys]]\nname = \"{k}\"\npem = \"\"\"\n{}\"\"\"\n\n",
                self.pem(k)
            ));
        }
        t
    }

    /// Pack `files` as a bundle of `kind` with the CLI and sign it with each of `signers`.
    fn bundle(
        &self,
        tag: &str,
        kind: &str,
        name: &str,
        version: &str,
        files: &[(&str, &[u8])],
        signers: &[&str],
    ) -> PathBuf {
        let src = self.path().join(format!("src-{tag}"));
        for (f, data) in files {
            std::fs::create_dir_all(&src).unwrap();
            std::fs::write(src.join(f), data).unwrap();
        }
        let out = self.path().join(format!("{tag}.tar.zst"));
        let o = run(&[
            "pack",
            s(&src),
            "--kind",
            kind,
            "--name",
            name,
            "--version",
            version,
            "--out",
            s(&out),
        ]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        for k in signers {
            let key = self.path().join(format!("keys/{k}.key"));
            let o = run(&["sign", s(&out), "--key", s(&key)]);
            assert_eq!(code(&o), 0, "{}", text(&o));
        }
        out
    }

    fn rotation(&self, tag: &str, version: &str, toml: &str, signers: &[&str]) -> PathBuf {
        self.bundle(
            tag,
            "trust",
            "gate-trust",
            version,
            &[("trust.toml", toml.as_bytes())],
            signers,
        )
    }

    fn weights(&self, tag: &str, version: &str, signers: &[&str]) -> PathBuf {
        let body = format!("{{\"model\": \"{tag}\"}}");
        self.bundle(
            tag,
            "weights",
            "model",
            version,
            &[("config.json", body.as_bytes())],
            signers,
        )
    }

    /// Copy a bundle into intake/ (as NAME.part, then renamed); returns the intake path.
    fn drop_in(&self, bundle: &Path) -> PathBuf {
        let name = bundle.file_name().unwrap().to_str().unwrap();
        let part = self.gate.join("intake").join(format!("{name}.part"));
        std::fs::copy(bundle, &part).unwrap();
        let dest = self.gate.join("intake").join(name);
        std::fs::rename(&part, &dest).unwrap();
        dest
    }

    fn intake(&self) -> Vec<String> {
        names(&self.gate.join("intake"))
    }

    fn admit(&self, bundle: &Path) -> (i32, String) {
        let o = run(&["admit", s(bundle), "--gate", s(&self.gate)]);
        (code(&o), text(&o))
    }

    /// The version in state/trust.toml.
    fn trust_version(&self) -> u64 {
        let t = std::fs::read_to_string(self.gate.join("state/trust.toml")).unwrap();
        let v: toml::Value = toml::from_str(&t).unwrap();
        v["version"].as_integer().unwrap() as u64
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.gate.join("audit/log.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn audit_verify(&self) -> (i32, String) {
        let o = run(&["audit", "verify", "--gate", s(&self.gate)]);
        (code(&o), text(&o))
    }

    /// The reasons in the report of the quarantine folder holding `bundle`.
    fn quarantine_reasons(&self, bundle: &Path) -> String {
        let sha = sha256_file(bundle);
        let q = dirs(&self.gate.join("quarantine"))
            .into_iter()
            .find(|q| quarantine_sha(q) == sha)
            .expect("bundle is quarantined");
        let r: serde_json::Value =
            serde_json::from_slice(&std::fs::read(q.join("report.json")).unwrap()).unwrap();
        r["reasons"].to_string()
    }

    /// Root 2-of-{b, c, d}, weights q only, a and p revoked (both stay embedded).
    fn v2(&self, version: u64) -> String {
        self.trust_toml(
            version,
            &["a", "b", "c", "d", "p", "q"],
            &["b", "c", "d"],
            2,
            &["q"],
            &["a", "p"],
        )
    }
}

#[test]
fn init_writes_trust_state_version_1() {
    let w = World::new(true);
    assert_eq!(w.trust_version(), 1);
    let without = World::new(false);
    assert!(!without.gate.join("state/trust.toml").exists());
}

#[test]
fn valid_rotation_revokes_publisher_key() {
    let w = World::new(true);
    // before the rotation, p is trusted for weights
    let (c, out) = w.admit(&w.weights("p-before", "1", &["p"]));
    assert_eq!(c, 0, "{out}");

    let rot = w.rotation("rot2", "2", &w.v2(2), &["b", "c"]);
    let (c, out) = w.admit(&rot);
    assert_eq!(c, 0, "{out}");
    assert_eq!(w.trust_version(), 2);
    let staged = w.gate.join("staging/trust/gate-trust/2");
    assert_eq!(
        std::fs::read(staged.join("files/trust.toml")).unwrap(),
        w.v2(2).as_bytes()
    );
    assert!(staged.join("receipt.json").is_file());
    assert!(staged.join("rotation.json").is_file());
    let o = run(&["reverify", s(&staged)]);
    assert_eq!(code(&o), 0, "{}", text(&o));

    // the audit log records the change, its versions and signers
    let recs = w.audit();
    let last = recs.last().unwrap();
    assert_eq!(last["event"], "trust", "{last}");
    assert_eq!(last["outcome"], "rotated");
    assert_eq!(last["bundle"]["kind"], "trust");
    assert_eq!(last["trust"]["from_version"], 1);
    assert_eq!(last["trust"]["to_version"], 2);
    let changes = last["trust"]["changes"].to_string();
    assert!(
        changes.contains(&format!("key revoked: {}", w.id("p"))),
        "{changes}"
    );
    assert!(
        changes.contains(&format!("key revoked: {}", w.id("a"))),
        "{changes}"
    );
    let signers = last["signers"].to_string();
    assert!(signers.contains(&w.id("b")) && signers.contains(&w.id("c")));
    let root_signers = last["trust"]["current_root_signers"].to_string();
    assert!(!root_signers.contains(&w.id("d")));

    // after it: p no longer counts, q does
    let p_after = w.weights("p-after", "2", &["p"]);
    let (c, out) = w.admit(&p_after);
    assert_eq!(c, 1, "{out}");
    assert!(out.contains("revoked"), "{out}");
    assert!(w.quarantine_reasons(&p_after).contains("threshold"));
    let (c, out) = w.admit(&w.weights("q-after", "3", &["q"]));
    assert_eq!(c, 0, "{out}");
    assert!(w
        .gate
        .join("staging/weights/model/3/receipt.json")
        .is_file());
    assert!(!w.gate.join("staging/weights/model/2").exists());

    // the revoked root key a cannot help sign the next rotation either
    let v3 = w.rotation("rot3-a", "3", &w.v2(3), &["a", "b"]);
    let (c, out) = w.admit(&v3);
    assert_eq!(c, 1, "{out}");
    assert_eq!(w.trust_version(), 2);
    assert!(w.quarantine_reasons(&v3).contains("current root"));
    // ... while b and d (both in the new root) can
    let v3 = w.rotation("rot3-bd", "3", &w.v2(3), &["b", "d"]);
    let (c, out) = w.admit(&v3);
    assert_eq!(c, 0, "{out}");
    assert_eq!(w.trust_version(), 3);

    let (c, out) = w.audit_verify();
    assert_eq!(c, 0, "{out}");
    assert!(names(&w.gate.join("work")).iter().all(|n| n == "claims"));
    let o = run(&["status", "--gate", s(&w.gate)]);
    assert!(text(&o).contains("trust: version 3"), "{}", text(&o));
}

#[test]
fn skipped_version_is_refused() {
    let w = World::new(true);
    let rot = w.rotation("rot3", "3", &w.v2(3), &["b", "c"]);
    let (c, out) = w.admit(&rot);
    assert_eq!(c, 1, "{out}");
    assert_eq!(w.trust_version(), 1);
    assert!(w.quarantine_reasons(&rot).contains("exactly 2"));
    assert!(!w.gate.join("staging/trust").exists());
    // the near miss: the same content at the next version is accepted
    let (c, out) = w.admit(&w.rotation("rot2", "2", &w.v2(2), &["b", "c"]));
    assert_eq!(c, 0, "{out}");
    let (c, out) = w.audit_verify();
    assert_eq!(c, 0, "{out}");
}

#[test]
fn old_only_or_new_only_signatures_are_refused() {
    let w = World::new(true);
    // new root 2-of-{d, e}: disjoint from the old root {a, b, c}
    let t = w.trust_toml(
        2,
        &["a", "b", "c", "d", "e", "p", "q"],
        &["d", "e"],
        2,
        &["p", "q"],
        &[],
    );
    let old_only = w.rotation("old-only", "2", &t, &["a", "b"]);
    let (c, out) = w.admit(&old_only);
    assert_eq!(c, 1, "{out}");
    assert!(
        w.quarantine_reasons(&old_only).contains("new root"),
        "{out}"
    );
    assert_eq!(w.trust_version(), 1);
    let new_only = w.rotation("new-only", "2", &t, &["d", "e"]);
    let (c, out) = w.admit(&new_only);
    assert_eq!(c, 1, "{out}");
    assert!(
        w.quarantine_reasons(&new_only).contains("current root"),
        "{out}"
    );
    assert_eq!(w.trust_version(), 1);
    // one old root key and one new: neither threshold is met
    let (c, out) = w.admit(&w.rotation("one-each", "2", &t, &["a", "d"]));
    assert_eq!(c, 1, "{out}");
    assert_eq!(w.trust_version(), 1);
    // signed by both thresholds: accepted
    let (c, out) = w.admit(&w.rotation("both", "2", &t, &["a", "b", "d", "e"]));
    assert_eq!(c, 0, "{out}");
    assert_eq!(w.trust_version(), 2);
    assert_eq!(
        w.audit().iter().filter(|r| r["event"] == "trust").count(),
        1
    );
    let (c, out) = w.audit_verify();
    assert_eq!(c, 0, "{out}");
}

#[test]
fn replay_and_rollback_of_trust_bundles_are_refused() {
    let w = World::new(true);
    let rot = w.rotation("rot2", "2", &w.v2(2), &["b", "c"]);
    let (c, out) = w.admit(&w.drop_in(&rot));
    assert_eq!(c, 0, "{out}");
    assert!(w.intake().is_empty());
    // the very same bundle arriving again
    let (c, out) = w.admit(&w.drop_in(&rot));
    assert_eq!(c, 1, "{out}");
    assert!(w.quarantine_reasons(&rot).contains("replay"), "{out}");
    assert!(w.intake().is_empty());
    // another validly signed bundle for the version already in force
    let other = w.trust_toml(
        2,
        &["b", "c", "d", "p", "q"],
        &["b", "c", "d"],
        2,
        &["p", "q"],
        &[],
    );
    let other = w.rotation("rot2-other", "2", &other, &["b", "c"]);
    let (c, out) = w.admit(&w.drop_in(&other));
    assert_eq!(c, 1, "{out}");
    assert!(w.quarantine_reasons(&other).contains("exactly 3"), "{out}");
    let q = w.audit();
    let last = q.last().unwrap();
    assert_eq!(last["outcome"], "quarantined");
    assert!(
        last["findings"].to_string().contains("gate.rollback"),
        "{last}"
    );
    assert_eq!(w.trust_version(), 2);
    let (c, out) = w.audit_verify();
    assert_eq!(c, 0, "{out}");
}

#[test]
fn gate_without_root_role_refuses_trust_bundles() {
    let w = World::new(false);
    let rot = w.rotation("rot2", "2", &w.v2(2), &["a", "b", "c"]);
    let (c, out) = w.admit(&rot);
    assert_eq!(c, 1, "{out}");
    assert!(w.quarantine_reasons(&rot).contains("no root role"), "{out}");
    assert!(!w.gate.join("state/trust.toml").exists());
    // ordinary bundles still verify against the policy's keys
    let (c, out) = w.admit(&w.weights("p", "1", &["p"]));
    assert_eq!(c, 0, "{out}");
}

#[test]
fn failed_steps_leave_the_old_trust_and_the_bundle_in_intake() {
    let w = World::new(true);
    let rot = w.rotation("rot2", "2", &w.v2(2), &["b", "c"]);
    let queued = w.drop_in(&rot);
    for point in ["trust-state", "audit-append"] {
        let o = gate_util::bin()
            .args(["admit", s(&queued), "--gate", s(&w.gate)])
            .env("AIRGATE_TEST_FAULT", point)
            .output()
            .unwrap();
        assert_eq!(code(&o), 3, "{point}: {}", text(&o));
        assert_eq!(w.trust_version(), 1, "{point}");
        assert!(queued.is_file(), "{point}");
        assert!(
            !w.gate.join("staging/trust/gate-trust/2").exists(),
            "{point}"
        );
        assert!(w.audit().iter().all(|r| r["event"] != "trust"), "{point}");
    }
    // with the faults gone the same bundle rotates
    let (c, out) = w.admit(&queued);
    assert_eq!(c, 0, "{out}");
    assert_eq!(w.trust_version(), 2);
    assert!(!queued.exists());
    let (c, out) = w.audit_verify();
    assert_eq!(c, 0, "{out}");
}

/// xorshift64*: reproducible delays without a dev-dependency.
fn next(x: &mut u64) -> u64 {
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// SIGKILL at pseudo-random moments of a chain of rotations; the restart (`watch --once`)
/// must finish each one exactly once (this reaches both resume paths: killed after the
/// publish but before `state/trust.toml` was replaced, and after it but before the record).
#[test]
fn sigkill_during_rotations_never_half_applies_one() {
    // calibrate on a separate gate: how long one uninterrupted rotation admit takes here
    // (the fastest of three, so a cold first start or a busy moment does not stretch the
    // kill window past the admits it should interrupt)
    let cal = World::new(true);
    let mut fastest = u64::MAX;
    for v in 2..=4u64 {
        let b =
            cal.drop_in(&cal.rotation(&format!("cal{v}"), &v.to_string(), &cal.v2(v), &["b", "c"]));
        let start = std::time::Instant::now();
        assert_eq!(cal.admit(&b).0, 0);
        fastest = fastest.min(start.elapsed().as_micros() as u64);
    }
    let span = (fastest * 3 / 2).max(1000);

    let w = World::new(true);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let rounds = 25u64;
    let mut killed = 0;
    for k in 1..=rounds {
        let next_v = k + 1;
        let bundle = w.rotation(
            &format!("rot{next_v}"),
            &next_v.to_string(),
            &w.v2(next_v),
            &["b", "c"],
        );
        let inb = w.drop_in(&bundle);
        let mut child = gate_util::bin()
            .args(["admit", s(&inb), "--gate", s(&w.gate)])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(next(&mut rng) % span));
        let _ = child.kill();
        if child.wait().unwrap().code().is_none() {
            killed += 1;
        }
        // right after the kill: the active trust is the old or the new version, never
        // anything else, and a staged rotation tree is complete
        let v = w.trust_version();
        assert!(v == k || v == next_v, "round {k}: trust version {v}");
        let staged = w.gate.join(format!("staging/trust/gate-trust/{next_v}"));
        if staged.exists() {
            let o = run(&["reverify", s(&staged)]);
            assert_eq!(code(&o), 0, "round {k}: {}", text(&o));
        }
        // restart recovery finishes the rotation
        let o = run(&["watch", "--gate", s(&w.gate), "--once"]);
        assert_eq!(code(&o), 0, "round {k}: {}", text(&o));
        assert_eq!(w.trust_version(), next_v, "round {k}");
        assert!(w.intake().is_empty(), "round {k}: {:?}", w.intake());
        assert!(staged.join("receipt.json").is_file(), "round {k}");
        let rotated = w
            .audit()
            .into_iter()
            .filter(|r| r["event"] == "trust" && r["trust"]["to_version"] == next_v)
            .count();
        assert_eq!(rotated, 1, "round {k}: recorded once");
    }
    assert!(dirs(&w.gate.join("quarantine")).is_empty());
    let (c, out) = w.audit_verify();
    assert_eq!(c, 0, "{out}");
    assert!(
        killed >= 3,
        "only {killed} of {rounds} runs were interrupted"
    );
}
