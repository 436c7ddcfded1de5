//! Updating airgate through the gate, end to end with the real binary: version N (this
//! build, 0.1.0) admits a release N+1 and installs it; a replayed N is refused by the gate
//! and by self-install; a tampered N+2 is quarantined and nothing is replaced; a staged
//! executable or receipt changed after staging is refused.
//!
//! Releases are packed and signed with the CLI as `make dist` does. N carries this very
//! executable; N+1 and N+2 carry small scripts that answer `version --json` as airgate does
//! (building a second airgate with another version number would take minutes).

mod gate_util;

use gate_util::{code, run, sha256_file, text, Env};
use std::path::{Path, PathBuf};

const ARCH: &str = std::env::consts::ARCH;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stub(version: &str) -> Vec<u8> {
    format!(
        "#!/bin/sh\nif [ \"$1 $2\" = \"version --json\" ]; then echo '{{\"name\":\"airgate\",\"version\":\"{version}\"}}'; else echo \"stub airgate {version}\"; fi\n"
    )
    .into_bytes()
}

/// Pack and sign a release bundle of `version` holding `exe` as its executable.
fn release(env: &Env, version: &str, exe: &[u8]) -> PathBuf {
    release_as(env, version, exe, "tar.zst")
}

/// The same, as `.tar.zst` (what `make dist` writes) or plain `.tar`.
fn release_as(env: &Env, version: &str, exe: &[u8], ext: &str) -> PathBuf {
    let src = env.path().join(format!("release-{version}"));
    std::fs::create_dir_all(src.join("completions")).unwrap();
    std::fs::write(src.join(format!("airgate-{version}-{ARCH}-linux")), exe).unwrap();
    std::fs::write(
        src.join("completions/airgate.bash"),
        b"complete -F _airgate airgate\n",
    )
    .unwrap();
    let out = env.path().join(format!("airgate-{version}.bundle.{ext}"));
    let o = run(&[
        "pack",
        s(&src),
        "--kind",
        "patch",
        "--name",
        "airgate",
        "--version",
        version,
        "--level",
        "1",
        "-o",
        s(&out),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = run(&["sign", s(&out), "--key", s(&env.key)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    out
}

fn staged(env: &Env, version: &str) -> PathBuf {
    env.gate.join("staging/patch/airgate").join(version)
}

fn self_install(dir: &Path, target: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["self-install", s(dir), "--target", s(target)];
    args.extend_from_slice(extra);
    run(&args)
}

fn installed_version(target: &Path) -> String {
    let o = std::process::Command::new(target)
        .args(["version", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["version"].as_str().unwrap().to_string()
}

#[test]
fn update_through_the_gate() {
    let env = Env::new("[trust.patch]\nkeys = [\"pub\"]\nthreshold = 1\n");
    // This executable without its debug info (as a release is), to keep the test quick.
    let stripped = env.path().join("airgate-stripped");
    let o = std::process::Command::new("strip")
        .args([
            "--strip-debug",
            "-o",
            s(&stripped),
            env!("CARGO_BIN_EXE_airgate"),
        ])
        .output()
        .expect("run strip (binutils)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let me = std::fs::read(&stripped).unwrap();
    let n = env!("CARGO_PKG_VERSION");
    let n1 = "0.1.1";
    let n2 = "0.1.2";
    assert_eq!(n, "0.1.0", "this test numbers N+1 and N+2 after 0.1.0");

    // The installed airgate: version N, this build.
    let target = env.path().join("bin/airgate");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::copy(&stripped, &target).unwrap();
    let original = sha256_file(&target);

    // Release N through the gate (the real executable passes the gate's inspection).
    let bundle_n = release(&env, n, &me);
    let o = env.admit(&bundle_n);
    assert_eq!(code(&o), 0, "{}", text(&o));
    // Installing the version already installed is not moving forward.
    let o = self_install(&staged(&env, n), &target, &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("not newer"), "{}", text(&o));
    assert_eq!(sha256_file(&target), original);

    // N admits N+1 and installs it; N is kept for rollback.
    let bundle_n1 = release(&env, n1, &stub(n1));
    let o = env.admit(&bundle_n1);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = self_install(&staged(&env, n1), &target, &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(installed_version(&target), n1);
    let previous = env.path().join("bin/airgate.previous");
    assert_eq!(sha256_file(&previous), original);
    let after_n1 = sha256_file(&target);

    // N replayed: the gate refuses it (it was staged before, and it is older than N+1)...
    let replay = env.path().join("replayed.tar.zst");
    std::fs::copy(&bundle_n, &replay).unwrap();
    let o = env.admit(&replay);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("gate.r"), "{}", text(&o)); // gate.replay / gate.rollback
                                                          // ... and self-install will not go back to N's staged tree unless told to.
    let o = self_install(&staged(&env, n), &target, &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("only move forward"), "{}", text(&o));
    assert_eq!(sha256_file(&target), after_n1);
    let o = self_install(&staged(&env, n), &target, &["--allow-downgrade"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(sha256_file(&target), original);
    assert_eq!(installed_version(&target), n);
    // --rollback swaps the kept executable back: N+1 again.
    let o = run(&["self-install", "--rollback", "--target", s(&target)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(sha256_file(&target), after_n1);

    // A tampered N+2 (one byte of its executable changed after signing; an uncompressed
    // bundle, so the change is in the executable's bytes and nowhere else): quarantined
    // at the gate, nothing staged, nothing replaced.
    let bundle_n2 = release_as(&env, n2, &stub(n2), "tar");
    let mut bytes = std::fs::read(&bundle_n2).unwrap();
    let needle = format!("stub airgate {n2}").into_bytes();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle.as_slice())
        .unwrap();
    bytes[at] = b'S';
    std::fs::write(&bundle_n2, &bytes).unwrap();
    let o = env.admit(&bundle_n2);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("verify.sha256"), "{}", text(&o));
    assert!(!staged(&env, n2).exists());
    assert!(env
        .quarantined()
        .iter()
        .any(|q| gate_util::quarantine_sha(q) == sha256_file(&bundle_n2)));
    let o = self_install(&staged(&env, n2), &target, &[]);
    assert_ne!(code(&o), 0, "{}", text(&o));
    assert_eq!(sha256_file(&target), after_n1);
}

#[test]
fn changes_after_staging_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new("[trust.patch]\nkeys = [\"pub\"]\nthreshold = 1\n");
    let target = env.path().join("airgate");
    std::fs::write(&target, stub("0.1.0")).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = sha256_file(&target);
    let o = env.admit(&release(&env, "0.2.0", &stub("0.2.0")));
    assert_eq!(code(&o), 0, "{}", text(&o));
    let dir = staged(&env, "0.2.0");

    // The staged executable rewritten (by someone who can write the staging area).
    let exe = dir.join(format!("files/airgate-0.2.0-{ARCH}-linux"));
    let good = std::fs::read(&exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&exe, stub("0.2.0").repeat(2)).unwrap();
    let o = self_install(&dir, &target, &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("changed after staging"), "{}", text(&o));
    assert_eq!(sha256_file(&target), before);
    std::fs::write(&exe, &good).unwrap();

    // The receipt edited to point at other bytes: its gate signature no longer verifies.
    let receipt = dir.join("receipt.json");
    let original = std::fs::read_to_string(&receipt).unwrap();
    std::fs::set_permissions(&receipt, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&receipt, original.replace("\"0.2.0\"", "\"0.3.0\"")).unwrap();
    let o = self_install(&dir, &target, &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("does not verify"), "{}", text(&o));
    assert_eq!(sha256_file(&target), before);

    // Restored, it installs (the near miss: the checks above refuse only the changes).
    std::fs::write(&receipt, original).unwrap();
    let o = self_install(&dir, &target, &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(installed_version(&target), "0.2.0");

    // A staged folder outside any gate needs the gate key.
    let o = run(&["self-install", s(env.path()), "--target", s(&target)]);
    assert_eq!(code(&o), 2, "{}", text(&o));
}
