//! Crash test: `admit` is killed with SIGKILL at 100 pseudo-random moments. After each kill,
//! staging/ holds only complete trees that match their receipts and the bundle is not lost;
//! after a restart (`watch --once` start-up recovery, or re-running `admit`) the bundle is in
//! exactly one of staging (by receipt) or quarantine, recorded exactly once, intake is empty
//! and work/ is clean.

mod gate_util;

use airgate::gate::{reverify, Receipt};
use gate_util::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// xorshift64*: reproducible delays without a dev-dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Every staged version folder, checked: receipt present, tree matches it.
fn check_staging(gate: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for kind in dirs(&gate.join("staging")) {
        for name in dirs(&kind) {
            for entry in names(&name) {
                let v = name.join(&entry);
                assert!(v.is_dir(), "stray file {} in staging", v.display());
                let r = Receipt::load(&v).unwrap_or_else(|e| panic!("{}: {e}", v.display()));
                let rv = reverify(&v, None).unwrap();
                assert!(rv.clean(), "{}: {rv:?}", v.display());
                out.push((v, r.bundle_sha256));
            }
        }
    }
    out
}

/// What the gate knows about one bundle, printed when an assertion about it fails: the
/// quarantine report's reasons, the audit records naming its sha256, its state.json entry
/// and what the restart printed.
fn diagnose(env: &Env, sha: &str, restart: &str) -> String {
    let mut out = String::new();
    for q in dirs(&env.gate.join("quarantine")) {
        if quarantine_sha(&q) != sha {
            continue;
        }
        let r: serde_json::Value =
            serde_json::from_slice(&std::fs::read(q.join("report.json")).unwrap()).unwrap();
        out += &format!("\nquarantined {}: reasons {}", q.display(), r["reasons"]);
    }
    // read leniently: right after a kill the last record may be torn
    let log = std::fs::read_to_string(env.gate.join("audit/log.jsonl")).unwrap_or_default();
    for line in log.lines().filter(|l| l.contains(sha)) {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(r) => out += &format!("\naudit: {r}"),
            Err(_) => out += &format!("\naudit (torn): {line}"),
        }
    }
    let state: serde_json::Value = std::fs::read(env.gate.join("state/state.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    out += &format!("\nstate.json entry: {}", state["staged"][sha]);
    out += &format!("\nstaged: {:?}", env.staged());
    out += &format!("\nrestart output:\n{restart}");
    out
}

fn quarantined_shas(gate: &Path) -> Vec<String> {
    dirs(&gate.join("quarantine"))
        .iter()
        .map(|q| quarantine_sha(q))
        .collect()
}

/// Uninterrupted admits timed to set the kill delays (each staged).
const CALIBRATIONS: usize = 5;

#[test]
fn sigkill_at_100_points_never_loses_or_half_stages_a_bundle() {
    let env = Env::new("");
    let n = 100;
    let mut bundles = Vec::new();
    for i in 0..n {
        let name = format!("c{i:03}");
        // Filler bytes stay below 0x20: no pickle opcode lives there. A long run of, say,
        // b'(' (MARK) or b')' is a protocol-0 pickle without STOP to the model inspector,
        // which then quarantines the signed bundle as `pickle.malformed` (fail-closed).
        let fill = |k: usize| ((i + k) % 0x20) as u8;
        let files: Vec<(&str, Vec<u8>)> = vec![
            ("config.json", format!("{{\"i\": {i}}}").into_bytes()),
            ("a/w1.bin", vec![fill(0); 150_000]),
            ("a/b/w2.bin", vec![fill(1); 60_000]),
            ("tok.txt", name.clone().into_bytes()),
        ];
        // every seventh is unsigned, so the quarantine path is crashed too
        let signed = i % 7 != 3;
        bundles.push((env.bundle(&name, "1", &files, signed), signed));
    }
    // Calibrate: how long an uninterrupted admit of a bundle of this shape takes here (the
    // median of five, so one run slowed by a busy machine does not stretch the delays past
    // the admit); the kill delays then cover 0 to 1.5 times that. Not a timing assertion.
    let mut took = Vec::new();
    for c in 0..CALIBRATIONS as u8 {
        let cal = env.bundle(
            &format!("calibrate{c}"),
            "1",
            &[
                ("a/w1.bin", vec![c; 150_000]),
                ("a/b/w2.bin", vec![8u8; 60_000]),
            ],
            true,
        );
        let inb = env.drop_in(&cal);
        let start = std::time::Instant::now();
        assert_eq!(code(&env.admit(&inb)), 0);
        took.push(start.elapsed().as_micros() as u64);
    }
    took.sort_unstable();
    let span = (took[took.len() / 2] * 3 / 2).max(1000);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut killed_mid_way = 0;
    // where the kills landed: before any outcome, between publish and input removal, after
    let mut landed = [0u32; 3];
    for (i, (b, signed)) in bundles.iter().enumerate() {
        let sha = sha256_file(b);
        let inb = env.drop_in(b);
        let mut child = bin()
            .args(["admit", inb.to_str().unwrap(), "--gate", env.gate_s()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let delay = rng.next() % span;
        std::thread::sleep(Duration::from_micros(delay));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.code().is_none() {
            killed_mid_way += 1;
        }

        // Right after the kill: staging holds only complete, verified trees; nothing is lost.
        let staged = check_staging(&env.gate);
        let in_staging = staged.iter().filter(|(_, s)| *s == sha).count();
        let in_quarantine = quarantined_shas(&env.gate)
            .iter()
            .filter(|s| **s == sha)
            .count();
        // a killed run may still hold it as a claim (returned to intake on the next start)
        let claimed = names(&env.gate.join("work/claims"))
            .iter()
            .any(|c| c.ends_with(&format!("--{}", inb.file_name().unwrap().to_str().unwrap())));
        let in_intake = (inb.exists() || claimed) as usize;
        assert!(
            in_staging + in_quarantine + in_intake >= 1,
            "bundle {i} lost"
        );
        assert!(in_staging <= 1 && in_quarantine <= 1);
        let was_decided = in_staging + in_quarantine;
        let before = diagnose(&env, &sha, "(not yet)");
        landed[match (in_intake, in_staging + in_quarantine) {
            (1, 0) => 0,
            (1, _) => 1,
            _ => 2,
        }] += 1;

        // Restart: alternate between watch start-up recovery and re-running admit.
        let restart = if i % 2 == 0 {
            let o = run(&["watch", "--gate", env.gate_s(), "--once"]);
            assert_eq!(code(&o), 0, "{}{}", text(&o), diagnose(&env, &sha, ""));
            text(&o)
        } else if in_intake == 1 {
            let o = env.admit(&inb);
            let want = if *signed { 0 } else { 1 };
            assert_eq!(code(&o), want, "{}", diagnose(&env, &sha, &text(&o)));
            text(&o)
        } else {
            // admit's own start-up cleanup runs on the next admit; run it via watch as well
            let o = run(&["watch", "--gate", env.gate_s(), "--once"]);
            assert_eq!(code(&o), 0, "{}{}", text(&o), diagnose(&env, &sha, ""));
            text(&o)
        };

        // After the restart: exactly one place, recorded once, nothing left behind.
        assert!(
            env.intake().is_empty(),
            "bundle {i}: intake {:?}",
            env.intake()
        );
        assert_eq!(names(&env.gate.join("work")), ["claims"], "bundle {i}");
        assert!(names(&env.gate.join("work/claims")).is_empty());
        let staged = check_staging(&env.gate);
        let in_staging = staged.iter().filter(|(_, s)| *s == sha).count();
        let in_quarantine = quarantined_shas(&env.gate)
            .iter()
            .filter(|s| **s == sha)
            .count();
        let want = if *signed { (1, 0) } else { (0, 1) };
        assert_eq!(
            (in_staging, in_quarantine),
            want,
            "bundle {i} (killed after {delay} us; (in intake, decided) after the kill {:?})\n\
             BEFORE the restart:{before}\nAFTER:{}",
            (in_intake, was_decided),
            diagnose(&env, &sha, &restart)
        );
        let records = env
            .audit()
            .into_iter()
            .filter(|r| r["event"] == "admit" && r["bundle"]["sha256"] == sha.as_str())
            .count();
        assert_eq!(
            records,
            1,
            "bundle {i} recorded once{}",
            diagnose(&env, &sha, &restart)
        );
    }
    assert_eq!(env.audit_verify().0, 0);
    assert_eq!(
        env.staged().len(),
        CALIBRATIONS + bundles.iter().filter(|b| b.1).count()
    );
    // the delays must actually have interrupted a good share of the runs
    assert!(
        killed_mid_way >= 10,
        "only {killed_mid_way} runs were interrupted"
    );
    eprintln!(
        "{killed_mid_way} of {n} admits killed before exiting (delays 0-{span} us); after the kill: \
         {} undecided, {} decided but input not yet removed, {} finished",
        landed[0], landed[1], landed[2]
    );
}
