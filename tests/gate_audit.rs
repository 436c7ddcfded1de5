//! End-to-end tests of the audit log on the real binary: a clean log verifies; an edited,
//! deleted, swapped, inserted or truncated record is detected, with the gate's stored
//! checkpoint and with an exported one.

mod gate_util;

use gate_util::*;
use std::path::Path;

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(p: &Path, l: &[String]) {
    std::fs::write(p, l.iter().map(|s| format!("{s}\n")).collect::<String>()).unwrap();
}

fn gate_with_log() -> Env {
    let env = Env::new("");
    assert_eq!(code(&env.admit(&env.drop_in(&env.small("a", "1")))), 0);
    let bad = env.bundle("b", "1", &[("x", b"x".to_vec())], false);
    assert_eq!(code(&env.admit(&env.drop_in(&bad))), 1);
    assert_eq!(code(&env.admit(&env.drop_in(&env.small("c", "1")))), 0);
    assert_eq!(code(&env.admit(&env.drop_in(&env.small("d", "1")))), 0);
    env
}

#[test]
fn tampering_is_detected() {
    let env = gate_with_log();
    let log = env.gate.join("audit/log.jsonl");
    let (c, out) = env.audit_verify();
    assert_eq!(c, 0, "{out}");
    assert!(out.contains("4 records"), "{out}");
    let orig = lines(&log);
    assert_eq!(orig.len(), 4);

    let cases: Vec<(&str, Vec<String>)> = vec![
        ("edit", {
            let mut l = orig.clone();
            l[1] = l[1].replace("\"quarantined\"", "\"staged\"");
            assert_ne!(l[1], orig[1]);
            l
        }),
        ("edit last", {
            let mut l = orig.clone();
            l[3] = l[3].replace("\"name\":\"d\"", "\"name\":\"e\"");
            assert_ne!(l[3], orig[3]);
            l
        }),
        ("delete", {
            let mut l = orig.clone();
            l.remove(1);
            l
        }),
        ("swap", {
            let mut l = orig.clone();
            l.swap(1, 2);
            l
        }),
        ("insert", {
            let mut l = orig.clone();
            l.insert(2, orig[1].clone());
            l
        }),
        ("truncate", orig[..3].to_vec()),
        ("truncate to empty", Vec::new()),
    ];
    for (what, l) in cases {
        write_lines(&log, &l);
        let (c, out) = env.audit_verify();
        assert_eq!(c, 1, "{what} not detected: {out}");
        assert!(out.contains("FAILED"), "{what}: {out}");
    }
    // a torn final line (partial write) is reported too
    let mut torn: String = orig.iter().map(|s| format!("{s}\n")).collect();
    torn.push_str("{\"seq\":4,");
    std::fs::write(&log, torn).unwrap();
    assert_eq!(env.audit_verify().0, 1);
    // the original verifies again
    write_lines(&log, &orig);
    assert_eq!(env.audit_verify().0, 0);
}

#[test]
fn exported_checkpoint_catches_truncation_even_without_the_stored_one() {
    let env = gate_with_log();
    let log = env.gate.join("audit/log.jsonl");
    let cp = env.path().join("exported-checkpoint.json");
    let o = run(&[
        "audit",
        "checkpoint",
        "--gate",
        env.gate_s(),
        "-o",
        cp.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let c: serde_json::Value = serde_json::from_slice(&std::fs::read(&cp).unwrap()).unwrap();
    assert_eq!(c["size"], 4);
    // later records keep the exported checkpoint valid
    assert_eq!(code(&env.admit(&env.drop_in(&env.small("e", "1")))), 0);
    let args = |cp: &Path| {
        let o = run(&[
            "audit",
            "verify",
            "--gate",
            env.gate_s(),
            "--checkpoint",
            cp.to_str().unwrap(),
            "--format",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (code(&o), v)
    };
    let (c, v) = args(&cp);
    assert_eq!(c, 0, "{v}");
    assert_eq!(v["checkpoints_checked"], 2);
    // an attacker truncates to 3 records and replaces the stored checkpoint with a fresh one
    // signed by... nobody: they delete it. The exported one still catches it.
    let l = lines(&log);
    write_lines(&log, &l[..3]);
    std::fs::remove_file(env.gate.join("audit/checkpoint.json")).unwrap();
    let (c, v) = args(&cp);
    assert_eq!(c, 1, "{v}");
    let problems = v["problems"].to_string();
    assert!(problems.contains("truncation"), "{problems}");
    // a forged checkpoint (edited size) fails its signature
    let mut forged: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cp).unwrap()).unwrap();
    forged["size"] = serde_json::json!(3);
    let fp = env.path().join("forged.json");
    std::fs::write(&fp, forged.to_string()).unwrap();
    write_lines(&log, &l);
    let (c, v) = args(&fp);
    assert_eq!(c, 1, "{v}");
    assert!(v["problems"].to_string().contains("signature"), "{v}");
}

#[test]
fn audit_records_never_carry_finding_messages() {
    let env = gate_with_log();
    let text = std::fs::read_to_string(env.gate.join("audit/log.jsonl")).unwrap();
    for r in env.audit() {
        for f in r["findings"].as_array().unwrap() {
            assert!(
                f.get("message").is_none() && f.get("redacted").is_none(),
                "{f}"
            );
            assert!(f["rule"].is_string() && f["fingerprint"].is_string());
        }
        assert_eq!(r["policy_sha256"].as_str().unwrap().len(), 64);
        assert!(r["tool"].as_str().unwrap().starts_with("airgate "));
    }
    assert!(text.contains("\"seq\":3"));
}

#[test]
fn a_policy_change_is_a_trust_record() {
    let env = Env::new("");
    assert_eq!(code(&env.admit(&env.drop_in(&env.small("a", "1")))), 0);
    assert_eq!(code(&env.admit(&env.drop_in(&env.small("b", "1")))), 0);
    assert!(
        !env.audit().iter().any(|r| r["event"] == "trust"),
        "no change yet"
    );
    let pol = env.gate.join("policy/policy.toml");
    let text = std::fs::read_to_string(&pol).unwrap();
    std::fs::write(&pol, format!("[decide]\nblock_at = \"medium\"\n{text}")).unwrap();
    assert_eq!(code(&env.admit(&env.drop_in(&env.small("c", "1")))), 0);
    let a = env.audit();
    let events: Vec<&str> = a.iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["admit", "admit", "trust", "admit"]);
    assert_eq!(a[2]["outcome"], "policy-changed");
    assert_ne!(a[1]["policy_sha256"], a[3]["policy_sha256"]);
    assert_eq!(env.audit_verify().0, 0);
}

/// The next admit must not re-sign a tampered log into a valid checkpoint: it refuses
/// (exit 3, the bundle stays in intake) and `audit verify` still reports the tampering. This
/// holds for a truncation and for an edit whose later `prev` hashes were recomputed. The
/// near-miss: on an untouched log the next admit records and signs as usual.
#[test]
fn the_next_admit_does_not_launder_a_tampered_log() {
    use sha2::{Digest, Sha256};
    // recompute every record's `prev` after line `from` (the hashes are unkeyed)
    let rechain = |l: &mut Vec<String>, from: usize| {
        for i in from + 1..l.len() {
            let prev = hex::encode(Sha256::digest(l[i - 1].as_bytes()));
            let mut v: serde_json::Value = serde_json::from_str(&l[i]).unwrap();
            v["prev"] = serde_json::Value::String(prev);
            l[i] = serde_json::to_string(&v).unwrap();
        }
    };
    for case in ["truncate", "edit and rechain"] {
        let env = gate_with_log();
        let log = env.gate.join("audit/log.jsonl");
        let mut l = lines(&log);
        if case == "truncate" {
            l.truncate(2);
        } else {
            l[1] = l[1].replace("\"quarantined\"", "\"staged\"");
            rechain(&mut l, 1);
        }
        write_lines(&log, &l);
        assert_eq!(env.audit_verify().0, 1, "{case}: detected before");
        let b = env.small("late", "1");
        let o = env.admit(&env.drop_in(&b));
        assert_eq!(code(&o), 3, "{case}: {}", text(&o));
        assert!(text(&o).contains("audit verify"), "{case}: {}", text(&o));
        assert_eq!(env.intake(), ["late-1.tar.zst"], "{case}");
        let (c, out) = env.audit_verify();
        assert_eq!(c, 1, "{case}: laundered: {out}");
    }
    // the near-miss: an untouched log goes on
    let env = gate_with_log();
    let b = env.small("late", "1");
    let o = env.admit(&env.drop_in(&b));
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(env.audit_verify().0, 0);
}

/// A record appended outside the gate, with a correct chain (the hashes are unkeyed), is
/// not signed into the next checkpoint: `audit verify` reports it, the next admit refuses to
/// record (exit 3, the bundle stays in intake) until an operator accepts the record with
/// `audit checkpoint --accept-unsigned-records`, which is itself recorded; then admits go on.
#[test]
fn a_record_appended_outside_the_gate_is_refused_until_accepted() {
    use sha2::{Digest, Sha256};
    let env = gate_with_log();
    let log = env.gate.join("audit/log.jsonl");
    let mut l = lines(&log);
    let last: serde_json::Value = serde_json::from_str(&l[l.len() - 1]).unwrap();
    let mut forged = last.clone();
    forged["seq"] = serde_json::json!(last["seq"].as_u64().unwrap() + 1);
    forged["prev"] =
        serde_json::Value::String(hex::encode(Sha256::digest(l[l.len() - 1].as_bytes())));
    forged["bundle"]["name"] = serde_json::json!("never-admitted");
    l.push(serde_json::to_string(&forged).unwrap());
    write_lines(&log, &l);
    let (c, out) = env.audit_verify();
    assert_eq!(c, 1, "{out}");
    assert!(out.contains("appended outside the gate"), "{out}");
    let b = env.small("late", "1");
    let o = env.admit(&env.drop_in(&b));
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert_eq!(env.intake(), ["late-1.tar.zst"]);
    assert_eq!(lines(&log).len(), 5, "nothing recorded");
    // the operator reviewed it and accepts it
    let g = env.gate.to_str().unwrap();
    let o = run(&["audit", "checkpoint", "--gate", g]);
    assert_eq!(code(&o), 3, "plain checkpoint refuses too: {}", text(&o));
    let o = run(&[
        "audit",
        "checkpoint",
        "--gate",
        g,
        "--accept-unsigned-records",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let after = lines(&log);
    assert_eq!(after.len(), 6);
    assert!(after[5].contains("unsigned-accepted"), "{}", after[5]);
    assert_eq!(env.audit_verify().0, 0);
    let o = env.admit(&env.gate.join("intake/late-1.tar.zst"));
    assert_eq!(code(&o), 0, "{}", text(&o));
}
