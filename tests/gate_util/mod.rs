//! Helpers for the gate end-to-end tests: a gate with one trusted key, bundles packed and
//! signed by the real binary, and a look at where every bundle ended up.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The built binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_airgate"))
}

/// Run the binary with `args`; panics if it cannot start.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run airgate")
}

/// Exit code of an output.
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// stdout + stderr as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A test workspace: keys, policy and an initialised gate.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub gate: PathBuf,
    pub key: PathBuf,
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

impl Env {
    /// A gate under a fresh temp dir trusting one key for `weights` (extra policy text first).
    pub fn new(extra_policy: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        Env::in_dir(dir, extra_policy)
    }

    /// Same, inside an existing temp dir.
    pub fn in_dir(dir: tempfile::TempDir, extra_policy: &str) -> Env {
        let gate = dir.path().join("gate");
        Env::with_gate(dir, gate, extra_policy)
    }

    /// Keys, sources and bundles in `dir`, the gate at `gate` (e.g. on another file system).
    pub fn with_gate(dir: tempfile::TempDir, gate: PathBuf, extra_policy: &str) -> Env {
        let d = dir.path().to_path_buf();
        let o = run(&["keygen", "--out", s(&d.join("keys")), "--name", "pub"]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        std::fs::write(
            d.join("policy.toml"),
            format!(
                "{extra_policy}\n[[keys]]\nname = \"pub\"\npath = \"keys/pub.pub\"\n[trust.weights]\nkeys = [\"pub\"]\nthreshold = 1\n"
            ),
        )
        .unwrap();
        let o = run(&["init", s(&gate), "--policy", s(&d.join("policy.toml"))]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        Env {
            key: d.join("keys/pub.key"),
            gate,
            dir,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn gate_s(&self) -> &str {
        s(&self.gate)
    }

    /// Pack (and, when `signed`, sign) a bundle `name`@`version` with `files`; returns its path
    /// (outside the gate).
    pub fn bundle(
        &self,
        name: &str,
        version: &str,
        files: &[(&str, Vec<u8>)],
        signed: bool,
    ) -> PathBuf {
        let src = self.path().join(format!("src-{name}-{version}"));
        for (f, data) in files {
            let p = src.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        }
        let out = self.path().join(format!("{name}-{version}.tar.zst"));
        // packed and signed in-process (the same library code as `airgate pack`/`sign`; the
        // CLI round trip is covered by the bundle tests) to keep the many-bundle tests quick
        let opts = airgate::bundle::PackOptions {
            kind: "weights".into(),
            name: name.into(),
            version: version.into(),
            publisher: "gate tests".into(),
            created: Some(1_700_000_000),
            zstd_level: Some(3),
        };
        airgate::bundle::pack(&src, &out, &opts).unwrap();
        if signed {
            let key = airgate::trust::PrivateKey::load(&self.key).unwrap();
            airgate::trust::sign(&out, &key).unwrap();
        }
        out
    }

    /// A small signed bundle with content unique to (name, version).
    pub fn small(&self, name: &str, version: &str) -> PathBuf {
        self.bundle(
            name,
            version,
            &[
                (
                    "config.json",
                    format!("{{\"name\": \"{name}\", \"v\": \"{version}\"}}").into_bytes(),
                ),
                ("sub/w.bin", vec![version.len() as u8; 5000]),
            ],
            true,
        )
    }

    /// Copy a bundle into intake (as NAME.part, then rename); returns the intake path.
    pub fn drop_in(&self, bundle: &Path) -> PathBuf {
        let name = bundle.file_name().unwrap().to_str().unwrap();
        let part = self.gate.join("intake").join(format!("{name}.part"));
        std::fs::copy(bundle, &part).unwrap();
        let dest = self.gate.join("intake").join(name);
        std::fs::rename(&part, &dest).unwrap();
        dest
    }

    /// `airgate admit PATH --gate GATE [extra]`.
    pub fn admit(&self, bundle: &Path) -> Output {
        run(&["admit", s(bundle), "--gate", self.gate_s()])
    }

    pub fn intake(&self) -> Vec<String> {
        names(&self.gate.join("intake"))
    }

    /// Staged version folders (gate-relative `kind/name/version`).
    pub fn staged(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for k in dirs(&self.gate.join("staging")) {
            for n in dirs(&k) {
                out.extend(dirs(&n));
            }
        }
        out.sort();
        out
    }

    pub fn quarantined(&self) -> Vec<PathBuf> {
        let mut v = dirs(&self.gate.join("quarantine"));
        v.sort();
        v
    }

    /// Parsed audit records.
    pub fn audit(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.gate.join("audit/log.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `audit verify` exit code and output.
    pub fn audit_verify(&self) -> (i32, String) {
        let o = run(&["audit", "verify", "--gate", self.gate_s()]);
        (code(&o), text(&o))
    }
}

/// Entry names in a folder, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Sub-folders of a folder.
pub fn dirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Hex sha256 of a file.
pub fn sha256_file(p: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

/// The bundle sha256 recorded in a staged folder's receipt.
pub fn receipt_sha(staged: &Path) -> String {
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(staged.join("receipt.json")).unwrap()).unwrap();
    r["bundle_sha256"].as_str().unwrap().to_string()
}

/// The bundle sha256 in a quarantine folder's report.
pub fn quarantine_sha(q: &Path) -> String {
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(q.join("report.json")).unwrap()).unwrap();
    r["bundle"]["sha256"].as_str().unwrap().to_string()
}

/// `airgate reverify DIR` exit code.
pub fn reverify(staged: &Path) -> (i32, String) {
    let o = run(&["reverify", staged.to_str().unwrap()]);
    (code(&o), text(&o))
}
