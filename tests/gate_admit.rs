//! End-to-end tests of `airgate init` + `admit` on the real binary: stage and quarantine,
//! rollback and replay, injected fsync/rename failures, a full disk during extraction, and
//! `reverify` of staged trees.

mod gate_util;

use gate_util::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

#[test]
fn accept_stages_and_reject_quarantines() {
    let env = Env::new("");
    let good = env.small("m", "1.0.0");
    let bad = env.bundle("evil", "1.0.0", &[("a.txt", b"hello".to_vec())], false);
    let good_in = env.drop_in(&good);
    let o = env.admit(&good_in);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let staged = env.gate.join("staging/weights/m/1.0.0");
    assert_eq!(env.staged(), vec![staged.clone()]);
    assert_eq!(
        std::fs::read(staged.join("files/config.json")).unwrap(),
        br#"{"name": "m", "v": "1.0.0"}"#
    );
    let mode = std::fs::metadata(staged.join("files/sub/w.bin"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o7777,
        0o444,
        "staged files are read-only, no setuid/setgid"
    );
    assert_eq!(receipt_sha(&staged), sha256_file(&good));
    assert!(env.intake().is_empty(), "staged bundle left intake");
    assert_eq!(reverify(&staged).0, 0);

    let bad_sha = sha256_file(&bad);
    let bad_in = env.drop_in(&bad);
    let o = env.admit(&bad_in);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(env.intake().is_empty());
    let q = env.quarantined();
    assert_eq!(q.len(), 1);
    let qname = q[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(qname.ends_with(&bad_sha[..16]), "{qname}");
    // the original bundle, byte for byte, and the report
    assert_eq!(sha256_file(&q[0].join("evil-1.0.0.tar.zst")), bad_sha);
    assert_eq!(quarantine_sha(&q[0]), bad_sha);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(q[0].join("report.json")).unwrap()).unwrap();
    assert_eq!(report["verdict"], "reject");
    // nothing of the rejected bundle was staged
    assert_eq!(env.staged().len(), 1);

    let a = env.audit();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0]["outcome"], "staged");
    assert_eq!(a[0]["verdict"], "accept");
    assert_eq!(a[0]["bundle"]["name"], "m");
    assert_eq!(a[0]["signers"].as_array().unwrap().len(), 1);
    assert_eq!(a[1]["outcome"], "quarantined");
    assert_eq!(a[1]["verdict"], "reject");
    assert_eq!(a[1]["bundle"]["sha256"], bad_sha.as_str());
    assert_eq!(a[1]["prev"].as_str().unwrap().len(), 64);
    assert!(!a[1]["findings"].as_array().unwrap().is_empty());
    let (c, out) = env.audit_verify();
    assert_eq!(c, 0, "{out}");

    // status sees both
    let o = run(&["status", "--gate", env.gate_s(), "--format", "json"]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["staged"], 1);
    assert_eq!(s["quarantined"], 1);
    assert_eq!(s["recent"].as_array().unwrap().len(), 2);
}

#[test]
fn bundle_outside_intake_is_left_in_place() {
    let env = Env::new("");
    let bad = env.bundle("evil", "1.0.0", &[("a.txt", b"x".to_vec())], false);
    let o = env.admit(&bad);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(bad.is_file());
    let q = env.quarantined();
    assert_eq!(
        sha256_file(&q[0].join("evil-1.0.0.tar.zst")),
        sha256_file(&bad)
    );
}

#[test]
fn rollback_and_replay_are_quarantined() {
    let env = Env::new("");
    let v2 = env.small("m", "2.0.0");
    let v1 = env.small("m", "1.0.0");
    assert_eq!(code(&env.admit(&env.drop_in(&v2))), 0);
    // older, validly signed: rollback
    let o = env.admit(&env.drop_in(&v1));
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("rollback"), "{}", text(&o));
    // the same bundle again: replay
    let o = env.admit(&env.drop_in(&v2));
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("replay"), "{}", text(&o));
    // a newer one still stages, another name is independent
    assert_eq!(code(&env.admit(&env.drop_in(&env.small("m", "2.0.1")))), 0);
    assert_eq!(
        code(&env.admit(&env.drop_in(&env.small("other", "0.0.1")))),
        0
    );
    assert!(env.intake().is_empty());
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.gate.join("state/state.json")).unwrap()).unwrap();
    assert_eq!(state["highest"]["weights/m"], "2.0.1");
    let outcomes: Vec<String> = env
        .audit()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        outcomes,
        ["staged", "quarantined", "quarantined", "staged", "staged"]
    );
    assert_eq!(env.audit_verify().0, 0);
}

#[test]
fn rollback_protection_survives_a_lost_state_file() {
    let env = Env::new("");
    assert_eq!(code(&env.admit(&env.drop_in(&env.small("m", "3")))), 0);
    std::fs::remove_file(env.gate.join("state/state.json")).unwrap();
    // the staged tree itself still says 3 is there
    let o = env.admit(&env.drop_in(&env.small("m", "2")));
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("rollback"));
}

fn admit_with_fault(env: &Env, bundle: &Path, fault: &str) -> std::process::Output {
    bin()
        .args(["admit", bundle.to_str().unwrap(), "--gate", env.gate_s()])
        .env("AIRGATE_TEST_FAULT", fault)
        .output()
        .unwrap()
}

#[test]
fn fsync_or_rename_failure_keeps_the_input_and_exits_3() {
    let env = Env::new("");
    let b = env.small("m", "1.0.0");
    let sha = sha256_file(&b);
    for fault in ["fsync", "rename", "write", "audit-append"] {
        let inb = env.drop_in(&b);
        let o = admit_with_fault(&env, &inb, fault);
        assert_eq!(code(&o), 3, "{fault}: {}", text(&o));
        assert_eq!(env.intake(), vec!["m-1.0.0.tar.zst"], "{fault}");
        assert_eq!(sha256_file(&inb), sha);
        assert!(
            names(&env.gate.join("work")) == ["claims"],
            "{fault}: work/ cleaned"
        );
        // even a failure after the publish rename (audit append) takes the tree back out
        assert!(env.staged().is_empty(), "{fault}: nothing staged");
        assert!(env.quarantined().is_empty(), "{fault}");
        assert!(
            !env.audit().iter().any(|r| r["event"] == "admit"),
            "{fault}"
        );
    }
    // the same file admitted again without faults stages normally (not a replay)
    let o = env.admit(&env.gate.join("intake/m-1.0.0.tar.zst"));
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(env.intake().is_empty());
    assert_eq!(env.staged().len(), 1);
    assert!(env.quarantined().is_empty());
    assert_eq!(env.audit_verify().0, 0);
    // a rejected bundle whose record cannot be written is not left in quarantine either
    let bad = env.drop_in(&env.bundle("evil", "1", &[("x", b"x".to_vec())], false));
    let o = admit_with_fault(&env, &bad, "audit-append");
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(env.quarantined().is_empty());
    assert!(bad.is_file());
}

#[test]
fn failure_removing_the_input_is_finished_by_a_rerun() {
    let env = Env::new("");
    let b = env.small("m", "1.0.0");
    let inb = env.drop_in(&b);
    let o = admit_with_fault(&env, &inb, "remove-input");
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(inb.is_file());
    let o = env.admit(&inb);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("interrupted"), "{}", text(&o));
    let staged: Vec<_> = env
        .audit()
        .into_iter()
        .filter(|r| r["outcome"] == "staged")
        .collect();
    assert_eq!(staged.len(), 1, "recorded once");
    // and a genuine second copy afterwards is a replay
    let o = env.admit(&env.drop_in(&b));
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("replay"), "{}", text(&o));
}

struct Mount(std::path::PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn disk_full_during_extraction_leaves_nothing_half_staged() {
    let base = tempfile::tempdir().unwrap();
    let mnt = base.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=1m",
            "tmpfs",
            mnt.to_str().unwrap(),
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let _guard = mounted.then(|| Mount(mnt.clone()));
    // A bundle that is small on disk (zeros compress well) but does not fit once extracted.
    let env = if mounted {
        Env::with_gate(
            tempfile::tempdir().unwrap(),
            mnt.join("gate"),
            "[limits]\nmax_ratio = 100000000\n",
        )
    } else {
        Env::new("[limits]\nmax_ratio = 100000000\n")
    };
    let big = env.bundle("big", "1.0.0", &[("zeros.bin", vec![0u8; 3 << 20])], true);
    let inb = env.drop_in(&big);
    let sha = sha256_file(&inb);
    let o = if mounted {
        env.admit(&inb)
    } else {
        // no tmpfs here: inject the write failure at the gate's first write after extraction
        eprintln!("mount refused: falling back to an injected ENOSPC");
        admit_with_fault(&env, &inb, "write")
    };
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert_eq!(env.intake(), vec!["big-1.0.0.tar.zst"]);
    assert_eq!(sha256_file(&inb), sha);
    assert!(env.staged().is_empty());
    assert!(
        names(&env.gate.join("staging")).is_empty(),
        "no half-made folders in staging/"
    );
    assert!(env.quarantined().is_empty());
    assert_eq!(names(&env.gate.join("work")), ["claims"]);
    // the space is free again: a small bundle still goes through
    assert_eq!(code(&env.admit(&env.drop_in(&env.small("m", "1.0.0")))), 0);
    if mounted {
        // Once a newer "big" is staged, the waiting 1.0.0 is a rollback: it is verified
        // without extracting anything, so it is quarantined (1) instead of filling the disk (3).
        let newer = env.bundle("big", "2.0.0", &[("small.bin", vec![1u8; 1000])], true);
        assert_eq!(code(&env.admit(&env.drop_in(&newer))), 0);
        let o = env.admit(&inb);
        assert_eq!(code(&o), 1, "{}", text(&o));
        assert!(text(&o).contains("rollback"), "{}", text(&o));
        assert!(env.intake().is_empty());
    }
    drop(env);
}

#[test]
fn reverify_finds_changed_added_missing_and_edited_receipt() {
    let env = Env::new("");
    assert_eq!(code(&env.admit(&env.drop_in(&env.small("m", "1.0.0")))), 0);
    let st = env.gate.join("staging/weights/m/1.0.0");
    assert_eq!(reverify(&st).0, 0);
    let w = st.join("files/sub/w.bin");
    let orig = std::fs::read(&w).unwrap();
    let ro = std::fs::metadata(&w).unwrap().permissions();

    let mut changed = orig.clone();
    changed[10] ^= 1;
    std::fs::write(&w, &changed).unwrap();
    let (c, out) = reverify(&st);
    assert_eq!(c, 1);
    assert!(out.contains("changed: sub/w.bin"), "{out}");
    std::fs::write(&w, &orig).unwrap();
    std::fs::set_permissions(&w, ro.clone()).unwrap();
    assert_eq!(reverify(&st).0, 0, "restored");

    std::fs::write(st.join("files/extra.py"), b"import os").unwrap();
    let (c, out) = reverify(&st);
    assert_eq!(c, 1);
    assert!(out.contains("added: extra.py"), "{out}");
    std::fs::remove_file(st.join("files/extra.py")).unwrap();

    std::fs::remove_file(st.join("files/config.json")).unwrap();
    let (c, out) = reverify(&st);
    assert_eq!(c, 1);
    assert!(out.contains("missing: config.json"), "{out}");

    let r = std::fs::read_to_string(st.join("receipt.json")).unwrap();
    std::fs::write(
        st.join("receipt.json"),
        r.replace("\"name\": \"m\"", "\"name\": \"n\""),
    )
    .unwrap();
    let (c, out) = reverify(&st);
    assert_eq!(c, 1);
    assert!(out.contains("signature bad"), "{out}");
}

#[test]
fn admit_outside_a_gate_is_a_config_error() {
    let env = Env::new("");
    let b = env.small("m", "1.0.0");
    let o = run(&[
        "admit",
        b.to_str().unwrap(),
        "--gate",
        env.path().to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2, "{}", text(&o));
}
