//! End-to-end tests of `airgate watch`: two watchers racing on 50 bundles process each exactly
//! once; `.part` files and missing `.ready` markers are left alone; start-up recovery returns
//! a dead watcher's claim and cleans its work folder; SIGTERM stops the daemon cleanly and
//! abandons a bundle still being verified back to intake.

mod gate_util;

use gate_util::*;
use std::collections::BTreeSet;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn spawn_watch(env: &Env, extra: &[&str]) -> Child {
    bin()
        .args([
            "watch",
            "--gate",
            env.gate_s(),
            "--rescan-secs",
            "1",
            "--format",
            "json",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn term(child: &Child) {
    let st = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Wait (bounded, as a safety net only) until `done` holds.
fn wait_until(mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "gave up waiting"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_watchers_process_each_of_50_bundles_exactly_once() {
    let env = Env::new("");
    let mut bundles = Vec::new();
    for i in 0..50 {
        let name = format!("b{i:02}");
        if i % 5 == 4 {
            // every fifth is unsigned: quarantined
            bundles.push(env.bundle(&name, "1", &[("f", name.clone().into_bytes())], false));
        } else {
            bundles.push(env.small(&name, "1"));
        }
    }
    let shas: BTreeSet<String> = bundles.iter().map(|b| sha256_file(b)).collect();
    assert_eq!(shas.len(), 50);
    let w1 = spawn_watch(&env, &[]);
    let w2 = spawn_watch(&env, &[]);
    for b in &bundles {
        env.drop_in(b);
    }
    wait_until(|| {
        env.audit().iter().filter(|r| r["event"] == "admit").count() >= 50
            && env.intake().is_empty()
            && names(&env.gate.join("work/claims")).is_empty()
    });
    term(&w1);
    term(&w2);
    let o1 = w1.wait_with_output().unwrap();
    let o2 = w2.wait_with_output().unwrap();
    assert_eq!(code(&o1), 0, "{}", text(&o1));
    assert_eq!(code(&o2), 0, "{}", text(&o2));
    let lines1 = String::from_utf8_lossy(&o1.stdout).lines().count();
    let lines2 = String::from_utf8_lossy(&o2.stdout).lines().count();
    assert_eq!(lines1 + lines2, 50, "each bundle reported once in total");

    let admits: Vec<_> = env
        .audit()
        .into_iter()
        .filter(|r| r["event"] == "admit")
        .collect();
    assert_eq!(admits.len(), 50, "exactly one decision per bundle");
    let recorded: BTreeSet<String> = admits
        .iter()
        .map(|r| r["bundle"]["sha256"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(recorded, shas);
    assert_eq!(env.staged().len(), 40);
    assert_eq!(env.quarantined().len(), 10);
    assert!(admits.iter().all(|r| r["outcome"] != "quarantined"
        || r["reasons"].to_string().contains("signature")
        || !r["findings"].as_array().unwrap().is_empty()));
    assert!(!env.audit().iter().any(|r| r["event"] == "error"));
    assert_eq!(env.audit_verify().0, 0);
}

#[test]
fn part_files_wait_and_once_processes_the_rest() {
    let env = Env::new("");
    let b = env.small("m", "1");
    std::fs::copy(&b, env.gate.join("intake/m.tar.zst.part")).unwrap();
    let o = run(&["watch", "--gate", env.gate_s(), "--once"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(
        env.intake(),
        vec!["m.tar.zst.part"],
        "a .part file is not touched"
    );
    assert!(env.staged().is_empty());
    std::fs::rename(
        env.gate.join("intake/m.tar.zst.part"),
        env.gate.join("intake/m.tar.zst"),
    )
    .unwrap();
    let o = run(&["watch", "--gate", env.gate_s(), "--once"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(env.intake().is_empty());
    assert_eq!(env.staged().len(), 1);
}

#[test]
fn ready_markers_are_required_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::in_dir(dir, "");
    // re-create the gate with markers required
    let gate2 = env.path().join("gate2");
    let o = run(&[
        "init",
        gate2.to_str().unwrap(),
        "--policy",
        env.path().join("policy.toml").to_str().unwrap(),
        "--require-ready",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let b = env.small("m", "1");
    std::fs::copy(&b, gate2.join("intake/m.tar.zst")).unwrap();
    let o = run(&["watch", "--gate", gate2.to_str().unwrap(), "--once"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(
        names(&gate2.join("intake")),
        ["m.tar.zst"],
        "no marker: waits"
    );
    std::fs::write(gate2.join("intake/m.tar.zst.ready"), b"").unwrap();
    let o = run(&["watch", "--gate", gate2.to_str().unwrap(), "--once"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        names(&gate2.join("intake")).is_empty(),
        "bundle and marker consumed"
    );
    assert_eq!(dirs(&gate2.join("staging/weights/m")).len(), 1);
}

#[test]
fn startup_recovers_dead_claims_and_cleans_work() {
    let env = Env::new("");
    let b = env.small("m", "1");
    // a claim and a half-written work folder left by a process that no longer exists
    let dead = "4194999"; // above the default pid_max range used here: never alive
    std::fs::copy(
        &b,
        env.gate.join(format!("work/claims/{dead}-0123--m.tar.zst")),
    )
    .unwrap();
    let junk = env.gate.join(format!("work/{dead}-abcd/stage/files"));
    std::fs::create_dir_all(&junk).unwrap();
    std::fs::write(junk.join("half"), b"partial").unwrap();
    let w = spawn_watch(&env, &[]);
    wait_until(|| env.staged().len() == 1 && env.intake().is_empty());
    term(&w);
    let o = w.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("recovered claims 1"), "{}", text(&o));
    assert_eq!(names(&env.gate.join("work")), ["claims"]);
    assert!(names(&env.gate.join("work/claims")).is_empty());
    assert_eq!(receipt_sha(&env.staged()[0]), sha256_file(&b));
}

#[test]
fn sigterm_with_nothing_to_do_exits_zero() {
    let env = Env::new("");
    let w = spawn_watch(&env, &[]);
    std::thread::sleep(Duration::from_millis(300));
    term(&w);
    let o = w.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("stopped"), "{}", text(&o));
}

/// Every regular file under `dir`, with its size.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u64)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(e.path()),
                Ok(t) if t.is_file() => {
                    out.push((e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)))
                }
                _ => {}
            }
        }
    }
    out
}

#[test]
fn sigterm_mid_verification_abandons_the_bundle_back_to_intake() {
    let env = Env::new("");
    // 64 MiB that zstd cannot shrink (a 4 MiB pseudo-random block, repeated beyond the
    // compressor's window): a while to decode, hash and extract
    const SIZE: u64 = 64 << 20;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let block: Vec<u8> = (0..4 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let data = block.repeat((SIZE >> 22) as usize);
    let b = env.bundle("big", "1", &[("w.bin", data)], true);
    let w = spawn_watch(&env, &[]);
    env.drop_in(&b);
    // Wait until the payload is being extracted but less than half of it is written. The
    // reader runs at most 12 MiB ahead of the writer, so the bundle is still being verified
    // when the signal lands: no decision can have been made.
    let work = env.gate.join("work");
    let start = Instant::now();
    let seen = loop {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "gave up waiting"
        );
        assert!(
            env.staged().is_empty(),
            "staged before it was seen in flight"
        );
        let w_bin: Vec<u64> = files_under(&work)
            .into_iter()
            .filter(|(p, _)| p.ends_with("w.bin"))
            .map(|(_, n)| n)
            .collect();
        if let Some(&n) = w_bin.first() {
            if n > 0 {
                break n;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    assert!(seen < SIZE / 2, "caught too late to be sure: {seen} bytes");
    term(&w);
    let o = w.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("abandoned 1"), "{}", text(&o));
    // abandoned, not decided: back in intake unchanged, nothing staged or quarantined, no
    // work left behind, and the audit log says so
    assert!(env.staged().is_empty(), "{}", text(&o));
    assert!(env.quarantined().is_empty(), "{}", text(&o));
    assert_eq!(env.intake(), ["big-1.tar.zst"]);
    assert_eq!(
        sha256_file(&env.gate.join("intake/big-1.tar.zst")),
        sha256_file(&b)
    );
    assert_eq!(names(&work), ["claims"]);
    assert!(names(&work.join("claims")).is_empty());
    let audit = env.audit();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["event"], "abandoned");
    assert_eq!(env.audit_verify().0, 0);

    // the next start admits it
    let o = run(&["watch", "--gate", env.gate_s(), "--once"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(env.staged().len(), 1, "{}", text(&o));
    assert_eq!(receipt_sha(&env.staged()[0]), sha256_file(&b));
    assert!(env.intake().is_empty());
}
