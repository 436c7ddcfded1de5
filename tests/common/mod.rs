//! Shared helpers for the end-to-end tests: running the binary, making keys, and building
//! signed bundles with hand-made (possibly hostile) tar entries.
#![allow(dead_code)]

use airgate::bundle::envelope_entry;
use airgate::bundle::{encode_sig, Envelope, EnvelopeSignature};
use airgate::bundle::{
    Predicate, Statement, Subject, PAYLOAD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE,
};
use airgate::trust::{write_keypair, PrivateKey};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The built binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_airgate"))
}

/// Run the binary; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().expect("run airgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run the binary with `args` (which ask for `--format json`); returns (exit code, report).
pub fn run_json(args: &[&str]) -> (i32, serde_json::Value) {
    let (code, out, err) = run(args);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}{err}"));
    (code, v)
}

/// `airgate pack SRC -o OUT` as weights `m` version 1.0.0; panics unless it succeeds.
pub fn pack_weights(src: &Path, out: &Path) {
    let (code, _, err) = run(&[
        "pack",
        src.to_str().unwrap(),
        "--kind",
        "weights",
        "--name",
        "m",
        "--version",
        "1.0.0",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
}

/// Make key pair NAME in DIR; returns (private key, public key path).
pub fn key(dir: &Path, name: &str) -> (PrivateKey, PathBuf) {
    let (_, sk, pk) = write_keypair(dir, name).unwrap();
    (PrivateKey::load(&sk).unwrap(), pk)
}

/// A statement for `files` of `kind`.
pub fn statement(kind: &str, version: &str, files: &[(&str, &[u8])]) -> Statement {
    let mut sizes = BTreeMap::new();
    let subject = files
        .iter()
        .map(|(n, d)| {
            sizes.insert(n.to_string(), d.len() as u64);
            Subject {
                name: n.to_string(),
                digest: BTreeMap::from([("sha256".to_string(), hex::encode(Sha256::digest(d)))]),
            }
        })
        .collect();
    Statement {
        type_: STATEMENT_TYPE.into(),
        subject,
        predicate_type: PREDICATE_TYPE.into(),
        predicate: Predicate {
            kind: kind.into(),
            name: "test".into(),
            version: version.into(),
            created: "2026-01-01T00:00:00Z".into(),
            publisher: "tests".into(),
            sizes,
        },
    }
}

/// The envelope tar entry for `st`, signed by `keys` (a key may repeat).
pub fn envelope(st: &Statement, keys: &[&PrivateKey]) -> Vec<u8> {
    let mut env = Envelope::new(PAYLOAD_TYPE, &serde_json::to_vec(st).unwrap());
    let pae = env.signed_bytes().unwrap();
    for k in keys {
        env.signatures.push(EnvelopeSignature {
            keyid: k.public().id().into(),
            sig: encode_sig(&k.sign(&pae)),
        });
    }
    envelope_entry(&serde_json::to_vec(&env).unwrap())
}

/// A raw ustar header.
pub fn header(name: &[u8], typeflag: u8, size: u64, mode: u32) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    h[100..107].copy_from_slice(format!("{mode:07o}").as_bytes());
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| b as u64).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// Append a raw entry (header, data, padding).
pub fn entry(out: &mut Vec<u8>, name: &[u8], typeflag: u8, data: &[u8], mode: u32) {
    out.extend_from_slice(&header(name, typeflag, data.len() as u64, mode));
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// A PAX extended header entry with `records`.
pub fn pax(out: &mut Vec<u8>, records: &[(&str, &str)], typeflag: u8) {
    let mut body = Vec::new();
    for (k, v) in records {
        let base = k.len() + v.len() + 3;
        let mut len = base + 1;
        while len.to_string().len() + base != len {
            len = len.to_string().len() + base;
        }
        body.extend_from_slice(format!("{len} {k}={v}\n").as_bytes());
    }
    entry(out, b"PaxHeader", typeflag, &body, 0o644);
}

/// End-of-archive marker.
pub fn end(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0u8; 1024]);
}

/// A policy file trusting `pubs` for `kind` with `threshold`, plus `extra` TOML.
pub fn policy(dir: &Path, kind: &str, pubs: &[&Path], threshold: usize, extra: &str) -> PathBuf {
    // `extra` goes first so it may hold top-level keys (`revoked = [...]`) as well as tables.
    let mut s = format!("{extra}\n");
    let mut names = Vec::new();
    for (i, p) in pubs.iter().enumerate() {
        s.push_str(&format!(
            "[[keys]]\nname = \"k{i}\"\npath = \"{}\"\n",
            p.display()
        ));
        names.push(format!("\"k{i}\""));
    }
    s.push_str(&format!(
        "[trust.{kind}]\nkeys = [{}]\nthreshold = {threshold}\n",
        names.join(", ")
    ));
    let path = dir.join("policy.toml");
    std::fs::write(&path, s).unwrap();
    path
}

/// Run airgate with `args` inside a fresh network namespace; `None` if namespaces are refused.
pub fn airgate_offline(args: &[&str]) -> Option<(i32, String)> {
    let out = std::process::Command::new("unshare")
        .arg("-rn")
        .arg(env!("CARGO_BIN_EXE_airgate"))
        .args(args)
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if stderr.contains("unshare failed") || stderr.contains("Operation not permitted") {
        eprintln!("skipped: the kernel refused a network namespace: {stderr}");
        return None;
    }
    Some((
        out.status.code().unwrap_or(-1),
        format!("{}{stderr}", String::from_utf8_lossy(&out.stdout)),
    ))
}

/// Check the namespace really has no usable network: only a down loopback.
pub fn namespace_has_no_network() -> Option<bool> {
    let out = std::process::Command::new("unshare")
        .args(["-rn", "cat", "/proc/net/dev"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // header (2 lines) + at most "lo"
    Some(
        text.lines()
            .skip(2)
            .all(|l| l.trim_start().starts_with("lo:")),
    )
}
