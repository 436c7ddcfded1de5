//! Crash test by phase (issue 18): `airgate watch` is SIGKILLed at each named phase of taking
//! a bundle (claim, verification, publish, state, audit record, input removal, and the
//! return of a dead claim), in both intake modes (`NAME.part` + rename, and `NAME.ready`
//! markers), for a bundle that stages and one that is quarantined; after a restart every
//! bundle is staged or quarantined exactly once, recorded once, and nothing is left in
//! `intake/` or `work/`. Also: what `watch` will not take is listed at start-up and in
//! `status`; a bundle admitted from outside the gate and killed after its copy into
//! `quarantine/` is quarantined once when the admit is re-run.
//!
//! The phases are the debug-build pause hook (`AIRGATE_TEST_PAUSE`, see `gate::fsutil`):
//! the process stops there and this test kills it with SIGKILL.

mod gate_util;

use gate_util::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A gate; with `markers`, one created with `init --require-ready`.
fn gate(markers: bool) -> Env {
    let env = Env::new("");
    if !markers {
        return env;
    }
    let Env { dir, key, .. } = env;
    let gate = dir.path().join("gate-markers");
    let pol = dir.path().join("policy.toml");
    let o = run(&[
        "init",
        gate.to_str().unwrap(),
        "--policy",
        pol.to_str().unwrap(),
        "--require-ready",
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    Env { dir, gate, key }
}

/// Deliver a bundle the way the intake mode expects: `NAME.part` then a rename, or the file
/// in place and then its `NAME.ready` marker.
fn deliver(env: &Env, bundle: &Path, markers: bool) -> PathBuf {
    if !markers {
        return env.drop_in(bundle);
    }
    let name = bundle.file_name().unwrap().to_str().unwrap();
    let dest = env.gate.join("intake").join(name);
    std::fs::copy(bundle, &dest).unwrap();
    std::fs::write(env.gate.join("intake").join(format!("{name}.ready")), b"").unwrap();
    dest
}

/// Spawn `args` with the pause hook set to `phase`; wait until it has paused there.
fn paused_at(args: &[&str], phase: &str, pause_file: &Path) -> Child {
    let _ = std::fs::remove_file(pause_file);
    let mut child = bin()
        .args(args)
        .env("AIRGATE_TEST_PAUSE", phase)
        .env("AIRGATE_TEST_PAUSE_FILE", pause_file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !pause_file.exists() {
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("{args:?} exited ({st}) before pausing at {phase}: {err}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "never paused at {phase}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

fn sigkill(mut child: Child) {
    child.kill().unwrap();
    let st = child.wait().unwrap();
    assert_eq!(st.code(), None, "killed by a signal");
}

/// After a restart: the bundle is in exactly the expected place, recorded once, and intake,
/// claims and work hold nothing.
fn check_settled(env: &Env, sha: &str, staged: bool, what: &str) {
    let in_staging = env
        .staged()
        .iter()
        .filter(|s| receipt_sha(s) == sha)
        .count();
    let in_quarantine = env
        .quarantined()
        .iter()
        .filter(|q| quarantine_sha(q) == sha)
        .count();
    let want = if staged { (1, 0) } else { (0, 1) };
    assert_eq!((in_staging, in_quarantine), want, "{what}");
    let records = env
        .audit()
        .into_iter()
        .filter(|r| r["event"] == "admit" && r["bundle"]["sha256"] == sha)
        .count();
    assert_eq!(records, 1, "{what}: recorded once");
    assert!(env.intake().is_empty(), "{what}: intake {:?}", env.intake());
    assert_eq!(names(&env.gate.join("work")), ["claims"], "{what}");
    assert!(names(&env.gate.join("work/claims")).is_empty(), "{what}");
}

fn watch_once(env: &Env) -> String {
    let o = run(&["watch", "--gate", env.gate_s(), "--once"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    text(&o)
}

const COMMON: [&str; 6] = [
    "claim-renamed",
    "claimed",
    "verified",
    "published",
    "recorded",
    "input-removed",
];

fn phases_in(markers: bool) {
    let env = gate(markers);
    let pause = env.path().join("paused");
    let watch_args = ["watch", "--gate", env.gate_s(), "--rescan-secs", "1"];
    let mut n = 0;
    for staged in [true, false] {
        let mut phases: Vec<&str> = COMMON.to_vec();
        phases.push(if staged {
            "state-saved"
        } else {
            "quarantine-copied"
        });
        for phase in phases {
            n += 1;
            let name = format!("b{n:02}");
            let b = if staged {
                env.small(&name, "1")
            } else {
                env.bundle(&name, "1", &[("f", name.clone().into_bytes())], false)
            };
            let sha = sha256_file(&b);
            deliver(&env, &b, markers);
            sigkill(paused_at(&watch_args, phase, &pause));
            let restart = watch_once(&env);
            let what = format!("markers {markers}, killed at {phase}, staged {staged}\n{restart}");
            check_settled(&env, &sha, staged, &what);
        }
    }
    // a second kill while start-up returns the first one's claim (marker gates write the
    // marker before the rename back)
    if markers {
        for staged in [true, false] {
            n += 1;
            let name = format!("b{n:02}");
            let b = if staged {
                env.small(&name, "1")
            } else {
                env.bundle(&name, "1", &[("f", name.clone().into_bytes())], false)
            };
            let sha = sha256_file(&b);
            deliver(&env, &b, markers);
            sigkill(paused_at(&watch_args, "claimed", &pause));
            sigkill(paused_at(&watch_args, "release-marker", &pause));
            let restart = watch_once(&env);
            let what = format!("killed at claimed, then at release-marker\n{restart}");
            check_settled(&env, &sha, staged, &what);
        }
    }
    let (c, out) = env.audit_verify();
    assert_eq!(c, 0, "{out}");
}

#[test]
fn sigkill_at_each_phase_with_part_files() {
    phases_in(false);
}

#[test]
fn sigkill_at_each_phase_with_ready_markers() {
    phases_in(true);
}

/// The experiment: kills at random moments of a watch on a marker gate.
#[test]
fn random_kills_on_a_marker_gate_strand_nothing() {
    let env = gate(true);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..20 {
        let name = format!("r{i:02}");
        let staged = i % 4 != 3;
        let b = if staged {
            env.small(&name, "1")
        } else {
            env.bundle(&name, "1", &[("f", name.clone().into_bytes())], false)
        };
        let sha = sha256_file(&b);
        deliver(&env, &b, true);
        let mut child = bin()
            .args(["watch", "--gate", env.gate_s(), "--rescan-secs", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // 0-1.2 s: from before the claim to after the decision
        std::thread::sleep(Duration::from_millis(x % 1200));
        child.kill().unwrap();
        child.wait().unwrap();
        let restart = watch_once(&env);
        check_settled(&env, &sha, staged, &format!("trial {i}\n{restart}"));
    }
}

#[test]
fn watch_and_status_list_what_will_not_be_taken() {
    let env = gate(true);
    let waiting = env.small("waiting", "1");
    let taken = env.small("taken", "1");
    // no marker; a .part; a marker whose bundle never came; one complete delivery
    std::fs::copy(&waiting, env.gate.join("intake/waiting-1.tar.zst")).unwrap();
    std::fs::copy(&waiting, env.gate.join("intake/late.tar.zst.part")).unwrap();
    std::fs::write(env.gate.join("intake/gone.tar.zst.ready"), b"").unwrap();
    deliver(&env, &taken, true);
    let o = run(&["watch", "--gate", env.gate_s(), "--once"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let log = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        log.contains("not taking intake/waiting-1.tar.zst: no waiting-1.tar.zst.ready marker"),
        "{log}"
    );
    assert!(
        log.contains("not taking intake/late.tar.zst.part: still being written"),
        "{log}"
    );
    assert!(
        log.contains("not taking intake/gone.tar.zst.ready: a marker without its bundle"),
        "{log}"
    );
    // the near miss: the complete delivery was taken, and is not listed
    assert!(!log.contains("taken-1"), "{log}");
    assert_eq!(env.staged().len(), 1);

    let o = run(&["status", "--gate", env.gate_s(), "--format", "json"]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let listed: Vec<&str> = s["not_taken"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            "gone.tar.zst.ready",
            "late.tar.zst.part",
            "waiting-1.tar.zst"
        ]
    );
    let o = run(&["status", "--gate", env.gate_s()]);
    assert!(
        text(&o).contains("not taken: waiting-1.tar.zst (no waiting-1.tar.zst.ready marker"),
        "{}",
        text(&o)
    );
}

/// `admit` of a bundle outside the gate, paused at `phase`, killed, then re-run.
fn outside_admit_killed_at(env: &Env, bundle: &Path, phase: &str) {
    let sha = sha256_file(bundle);
    let pause = env.path().join("paused-admit");
    let args = ["admit", bundle.to_str().unwrap(), "--gate", env.gate_s()];
    sigkill(paused_at(&args, phase, &pause));
    if phase == "published" {
        // killed between publishing the folder and recording it: status says so
        let o = run(&["status", "--gate", env.gate_s(), "--format", "json"]);
        let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(
            s["unrecorded_quarantine"].as_array().unwrap().len(),
            1,
            "{s}"
        );
    }
    let o = env.admit(bundle);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let folders: Vec<PathBuf> = env
        .quarantined()
        .into_iter()
        .filter(|q| quarantine_sha(q) == sha)
        .collect();
    assert_eq!(folders.len(), 1, "killed at {phase}: {}", text(&o));
    let dest = folders[0]
        .strip_prefix(&env.gate)
        .unwrap()
        .display()
        .to_string();
    let records: Vec<_> = env
        .audit()
        .into_iter()
        .filter(|r| r["event"] == "admit" && r["bundle"]["sha256"] == sha.as_str())
        .collect();
    assert_eq!(records.len(), 1, "killed at {phase}");
    assert_eq!(records[0]["destination"], dest.as_str());
    assert!(
        bundle.is_file(),
        "a bundle outside the gate is left in place"
    );
}

#[test]
fn a_bundle_admitted_from_outside_is_quarantined_once_after_kills() {
    let env = Env::new("");
    for (i, phase) in ["quarantine-copied", "published", "recorded"]
        .into_iter()
        .enumerate()
    {
        let b = env.bundle(&format!("o{i}"), "1", &[("f", vec![i as u8; 10])], false);
        outside_admit_killed_at(&env, &b, phase);
    }
    // every quarantine folder has its audit record
    let o = run(&["status", "--gate", env.gate_s(), "--format", "json"]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        s["unrecorded_quarantine"].as_array().unwrap().is_empty(),
        "{s}"
    );
    assert_eq!(env.quarantined().len(), 3);

    // admitting the same file again decides nothing new
    let b = env.path().join("o0-1.tar.zst");
    let o = env.admit(&b);
    assert_eq!(code(&o), 1);
    assert!(
        text(&o).contains("already quarantined") && text(&o).contains("nothing done again"),
        "{}",
        text(&o)
    );
    assert_eq!(env.quarantined().len(), 3);
    // the near miss: a copy of it in another file is another arrival, quarantined on its own
    let copy = env.path().join("copy.tar.zst");
    std::fs::copy(&b, &copy).unwrap();
    assert_eq!(code(&env.admit(&copy)), 1);
    assert_eq!(env.quarantined().len(), 4);
    let (c, out) = env.audit_verify();
    assert_eq!(c, 0, "{out}");
}

#[test]
fn random_kills_of_an_outside_admit_quarantine_once() {
    let env = Env::new("");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..30 {
        let b = env.bundle(
            &format!("z{i:02}"),
            "1",
            &[("f", vec![i as u8; 3000])],
            false,
        );
        let sha = sha256_file(&b);
        let mut child = Command::new(env!("CARGO_BIN_EXE_airgate"))
            .args(["admit", b.to_str().unwrap(), "--gate", env.gate_s()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::thread::sleep(Duration::from_micros(x % 400_000));
        let _ = child.kill();
        child.wait().unwrap();
        assert_eq!(code(&env.admit(&b)), 1);
        let folders = env
            .quarantined()
            .iter()
            .filter(|q| quarantine_sha(q) == sha)
            .count();
        let records = env
            .audit()
            .into_iter()
            .filter(|r| r["event"] == "admit" && r["bundle"]["sha256"] == sha.as_str())
            .count();
        assert_eq!((folders, records), (1, 1), "trial {i}");
    }
    let o = run(&["status", "--gate", env.gate_s(), "--format", "json"]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        s["unrecorded_quarantine"].as_array().unwrap().is_empty(),
        "{s}"
    );
}
