//! Issue "no silent weakening", parts 3 to 6: writing commands are all or nothing, messages
//! are honest, the command line behaves like a Unix tool (SIGPIPE, `-`, -q/-v, JSON errors,
//! one exit code per failure), and reports have no blank fields.

mod common;

use common::{end, entry, key, pack_weights, run};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_airgate"))
}

/// Names in `dir` that start with `.airgate-`.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".airgate-"))
        .collect()
}

/// A packed (unsigned) bundle of a small tree.
fn packed(d: &Path) -> PathBuf {
    let src = d.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.txt"), vec![b'a'; 300_000]).unwrap();
    std::fs::write(src.join("b.txt"), b"b").unwrap();
    let out = d.join("m.tar.zst");
    pack_weights(&src, &out);
    out
}

#[test]
fn sign_refuses_a_truncated_or_corrupt_bundle_and_writes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (_, _) = key(d, "k");
    let good = packed(d);
    let bytes = std::fs::read(&good).unwrap();
    let truncated = d.join("cut.tar.zst");
    std::fs::write(&truncated, &bytes[..bytes.len() - 200]).unwrap();
    let mut flipped = bytes.clone();
    let n = flipped.len();
    flipped[n - 300] ^= 0x55;
    let corrupt = d.join("bad.tar.zst");
    std::fs::write(&corrupt, &flipped).unwrap();
    for b in [&truncated, &corrupt] {
        let before = std::fs::read(b).unwrap();
        let (code, out, err) = run(&["sign", s(b), "--key", s(&d.join("k.key"))]);
        assert_eq!(code, 1, "{}: {out}{err}", b.display());
        assert!(
            err.contains("not a sound bundle") && err.contains("nothing was signed"),
            "{err}"
        );
        assert_eq!(
            std::fs::read(b).unwrap(),
            before,
            "{} was changed",
            b.display()
        );
    }
    // the near miss: the intact bundle signs
    let (code, out, err) = run(&["sign", s(&good), "--key", s(&d.join("k.key"))]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("(1 signature in all)"), "{out}");
    assert!(temporaries(d).is_empty());
}

#[test]
fn a_failed_init_leaves_nothing_and_can_be_run_again() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let p = d.join("p.toml");
    std::fs::write(
        &p,
        "[[keys]]\nname = \"a\"\npath = \"missing.pub\"\n[trust.weights]\nkeys = [\"a\"]\nthreshold = 1\n",
    )
    .unwrap();
    let gate = d.join("gate");
    let (code, _, err) = run(&["init", s(&gate), "--policy", s(&p)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("missing.pub"), "{err}");
    assert!(!gate.exists(), "a half-built gate was left");
    assert!(temporaries(d).is_empty(), "{:?}", temporaries(d));
    // fixed, the same command succeeds (an empty folder already there is fine too)
    let (_, pk) = key(d, "missing");
    assert!(pk.exists());
    std::fs::create_dir(&gate).unwrap();
    let (code, out, err) = run(&["init", s(&gate), "--policy", s(&p), "--require-ready"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("NAME.ready"), "{out}");
    let cfg = std::fs::read_to_string(gate.join("airgate.toml")).unwrap();
    assert!(cfg.contains("require_ready = true"), "{cfg}");
    assert!(temporaries(d).is_empty());
}

#[test]
fn audit_checkpoint_out_refuses_to_overwrite_without_force() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (_, pk) = key(d, "a");
    let p = d.join("p.toml");
    std::fs::write(
        &p,
        format!(
            "[[keys]]\nname = \"a\"\npath = \"{}\"\n[trust.weights]\nkeys = [\"a\"]\nthreshold = 1\n",
            pk.display()
        ),
    )
    .unwrap();
    let gate = d.join("gate");
    assert_eq!(run(&["init", s(&gate), "--policy", s(&p)]).0, 0);
    let out = d.join("precious.txt");
    std::fs::write(&out, "keep me").unwrap();
    let (code, _, err) = run(&["audit", "checkpoint", "--gate", s(&gate), "-o", s(&out)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    let (code, _, err) = run(&[
        "audit",
        "checkpoint",
        "--gate",
        s(&gate),
        "-o",
        s(&out),
        "--force",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read_to_string(&out).unwrap().contains("\"size\""));
    // a new file needs no --force
    let fresh = d.join("fresh.json");
    assert_eq!(
        run(&["audit", "checkpoint", "--gate", s(&gate), "-o", s(&fresh)]).0,
        0
    );
    assert!(fresh.is_file());
    assert!(temporaries(d).is_empty());
}

/// SIGTERM while `pack` writes: its temporary goes with it; a temporary left by a SIGKILL is
/// swept by the next run.
#[test]
fn pack_cleans_up_on_sigterm_and_sweeps_after_sigkill() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let src = d.join("src");
    std::fs::create_dir_all(&src).unwrap();
    // incompressible data at level 19: seconds of work, time to signal mid-way
    let mut x: u64 = 0x1234_5678;
    let mut data = vec![0u8; 24 << 20];
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(src.join("w.bin"), &data).unwrap();
    let pack = |out: &Path| {
        bin()
            .args([
                "pack",
                s(&src),
                "--kind",
                "weights",
                "--name",
                "m",
                "--version",
                "1",
                "--level",
                "19",
                "-o",
                s(out),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let wait_for_temp = || {
        for _ in 0..400 {
            if !temporaries(d).is_empty() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    };
    for (signal, want) in [("TERM", 143), ("INT", 130)] {
        let out = d.join(format!("{signal}.tar.zst"));
        let mut child = pack(&out);
        assert!(wait_for_temp(), "pack never started writing");
        let st = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(want), "SIG{signal}");
        assert!(
            temporaries(d).is_empty(),
            "SIG{signal} left {:?}",
            temporaries(d)
        );
        assert!(!out.exists());
    }
    // SIGKILL cannot be caught: the temporary stays until the next run sweeps it
    let mut child = pack(&d.join("k.tar.zst"));
    assert!(wait_for_temp());
    child.kill().unwrap();
    child.wait().unwrap();
    let left = temporaries(d);
    assert_eq!(left.len(), 1, "{left:?}");
    let small = d.join("small");
    std::fs::create_dir_all(&small).unwrap();
    std::fs::write(small.join("x"), b"x").unwrap();
    pack_weights(&small, &d.join("next.tar.zst"));
    assert!(temporaries(d).is_empty(), "{:?}", temporaries(d));
}

#[test]
fn a_second_admit_says_it_was_already_decided() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (_, pk) = key(d, "a");
    let p = d.join("p.toml");
    std::fs::write(
        &p,
        format!(
            "[[keys]]\nname = \"a\"\npath = \"{}\"\n[trust.weights]\nkeys = [\"a\"]\nthreshold = 1\n",
            pk.display()
        ),
    )
    .unwrap();
    let gate = d.join("gate");
    assert_eq!(run(&["init", s(&gate), "--policy", s(&p)]).0, 0);
    let b = packed(d);
    assert_eq!(run(&["sign", s(&b), "--key", s(&d.join("a.key"))]).0, 0);
    let (code, out, err) = run(&["admit", s(&b), "--gate", s(&gate)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("already"), "{out}");
    let records = || {
        std::fs::read_to_string(gate.join("audit/log.jsonl"))
            .unwrap()
            .lines()
            .count()
    };
    let n = records();
    let (code, out, err) = run(&["admit", s(&b), "--gate", s(&gate)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("already staged at") && out.contains("decided at"),
        "{out}"
    );
    assert!(!out.contains("interrupted"), "{out}");
    assert_eq!(records(), n, "no new decision was made");
    let (_, out, _) = run(&["admit", s(&b), "--gate", s(&gate), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["decided_before"].is_string(), "{v}");
    assert_eq!(v["resumed"], false);
}

#[test]
fn errors_name_the_path_and_cause_once_and_key_formats_by_name() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let missing = d.join("nope.tar.zst");
    let (code, _, err) = run(&["verify", s(&missing), "--key", s(&missing)]);
    assert!(code == 2 || code == 3, "{err}");
    for (args, want_code) in [
        (vec!["scan", s(&missing)], 3),
        (vec!["inspect", s(&missing)], 3),
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, want_code, "{args:?}: {err}");
        assert_eq!(err.matches("no such file or directory").count(), 1, "{err}");
        assert!(!err.contains("os error"), "{err}");
        assert!(err.contains("nope.tar.zst"), "{err}");
    }
    // an output folder that does not exist: named, and no temporary path shows
    let src = d.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("x"), b"x").unwrap();
    let out = d.join("no-such-dir/x.tar");
    let (code, _, err) = run(&[
        "pack",
        s(&src),
        "--kind",
        "weights",
        "--name",
        "m",
        "--version",
        "1",
        "-o",
        s(&out),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("no-such-dir") && !err.contains(".airgate-"),
        "{err}"
    );
    // a key in the wrong format is named as what it is
    let f = d.join("f.bin");
    std::fs::write(&f, b"x").unwrap();
    let p256 = d.join("p256.pem");
    let ok = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            s(&d.join("ec.key")),
        ])
        .status()
        .unwrap()
        .success()
        && Command::new("openssl")
            .args([
                "pkey",
                "-in",
                s(&d.join("ec.key")),
                "-pubout",
                "-out",
                s(&p256),
            ])
            .status()
            .unwrap()
            .success();
    assert!(ok, "openssl could not make a P-256 key");
    let cases: [(&str, &[u8], &str); 4] = [
        ("ssh.pub", b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me\n", "OpenSSH public key"),
        ("mini.pub", b"untrusted comment: minisign public key 1234\nRWQ0NUZBTkVaN1pGQkpTV0dQUVlXT0VORFVQSExJRkxGTg==\n", "minisign"),
        ("empty.pub", b"", "the file is empty"),
        ("p256.pem", b"", "ECDSA P-256"),
    ];
    let bundle = d.join("b.tar");
    let mut tar = Vec::new();
    entry(&mut tar, b"x", b'0', b"x", 0o644);
    end(&mut tar);
    std::fs::write(&bundle, tar).unwrap();
    for (name, text, want) in cases {
        let k = d.join(name);
        if !text.is_empty() || name == "empty.pub" {
            std::fs::write(&k, text).unwrap();
        }
        let (code, _, err) = run(&["verify", s(&bundle), "--key", s(&k)]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains(want), "{name}: {err}");
    }
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // well over a pipe's 64 KiB of report, so the writer meets the closed end
    for i in 0..3000 {
        std::fs::write(
            d.join(format!("f{i}.env")),
            format!("URL{i}=https://telemetry{i}.example.com/x\n"),
        )
        .unwrap();
    }
    for _ in 0..5 {
        let mut child = bin()
            .args(["scan", s(d)])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut first = [0u8; 16];
        let _ = out.read(&mut first);
        drop(out);
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            matches!(o.status.code(), Some(0) | Some(1) | Some(141)),
            "{:?} {err}",
            o.status
        );
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{err}"
        );
    }
}

#[test]
fn dash_reads_standard_input() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let feed = |args: &[&str], input: &[u8]| {
        let mut child = bin()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let o = child.wait_with_output().unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (code, out) = feed(
        &["scan", "-", "--format", "json"],
        b"aws_access_key_id = AKIA4WXFOGO6MVN6A6WF\n",
    );
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let path = v["findings"][0]["path"].as_str().unwrap();
    assert_eq!(path, "-", "the spool's temporary path must not show");
    let (code, _) = feed(&["scan", "-"], b"nothing to see\n");
    assert_eq!(code, 0);
    // a signed bundle verified from standard input
    let (_, pk) = key(d, "a");
    let b = packed(d);
    assert_eq!(run(&["sign", s(&b), "--key", s(&d.join("a.key"))]).0, 0);
    let (code, out) = feed(
        &["verify", "-", "--key", s(&pk)],
        &std::fs::read(&b).unwrap(),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("ACCEPTED: weights m 1.0.0 (-)"), "{out}");
}

#[test]
fn quiet_verbose_and_json_errors() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let f = d.join("a.txt");
    std::fs::write(&f, "aws_access_key_id = AKIA4WXFOGO6MVN6A6WF\n").unwrap();
    let (code, out, err) = run(&["scan", s(&f), "-q"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    let (code, out, _) = run(&["-v", "scan", s(&f)]);
    assert_eq!(code, 1);
    assert!(out.contains("policy sha256"), "{out}");
    // -q and -v are accepted by every command
    for cmd in [
        "keygen", "pack", "sign", "inspect", "verify", "scan", "init", "admit", "audit", "watch",
        "reverify", "status", "policy",
    ] {
        let (code, out, err) = run(&[cmd, "-q", "--help"]);
        assert_eq!(code, 0, "{cmd}: {err}");
        assert!(
            out.contains("--quiet") && out.contains("--verbose"),
            "{cmd}: {out}"
        );
        assert!(
            out.contains("Exit codes") && out.contains("141"),
            "{cmd}: {out}"
        );
    }
    // with --format json, an error is a JSON object on stdout with its code and class
    let missing = d.join("gone.bin");
    let (code, out, _) = run(&["scan", s(&missing), "--format", "json"]);
    assert_eq!(code, 3);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["exit_code"].as_i64(), v["class"].as_str()),
        (Some(3), Some("operational"))
    );
    assert!(v["error"].as_str().unwrap().contains("gone.bin"));
    let (code, out, _) = run(&["policy", "check", s(&missing), "--format", "json"]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["class"], "config");
}

/// The same failure gives the same exit code in every command: a missing input is 3.
#[test]
fn a_missing_input_is_exit_3_everywhere() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (_, pk) = key(d, "a");
    let p = d.join("p.toml");
    std::fs::write(
        &p,
        format!(
            "[[keys]]\nname = \"a\"\npath = \"{}\"\n[trust.weights]\nkeys = [\"a\"]\nthreshold = 1\n",
            pk.display()
        ),
    )
    .unwrap();
    let gate = d.join("gate");
    assert_eq!(run(&["init", s(&gate), "--policy", s(&p)]).0, 0);
    let m = d.join("missing");
    let ms = s(&m);
    let key = d.join("a.key");
    for args in [
        vec!["verify", ms, "--policy", s(&p)],
        vec!["verify", ms, "--key", s(&pk)],
        vec!["scan", ms],
        vec!["inspect", ms],
        vec!["sign", ms, "--key", s(&key)],
        vec![
            "pack",
            ms,
            "--kind",
            "weights",
            "--name",
            "x",
            "--version",
            "1",
            "-o",
            "/tmp/x.tar",
        ],
        vec!["admit", ms, "--gate", s(&gate)],
        vec!["reverify", ms],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 3, "{args:?}: {err}");
        assert!(
            err.contains("missing") && err.contains("no such file"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn help_lists_only_the_formats_a_command_supports() {
    for (cmd, sarif) in [
        ("verify", true),
        ("scan", true),
        ("admit", false),
        ("status", false),
        ("inspect", false),
        ("reverify", false),
        ("watch", false),
    ] {
        let (_, out, _) = run(&[cmd, "--help"]);
        assert_eq!(out.contains("sarif"), sarif, "{cmd}: {out}");
    }
    let (code, _, err) = run(&["admit", "x", "--gate", "g", "--format", "sarif"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid value 'sarif'"), "{err}");
}

#[test]
fn reports_have_no_blank_fields_and_plurals_are_right() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (_, pk) = key(d, "a");
    let empty = d.join("empty.tar.zst");
    std::fs::write(&empty, b"").unwrap();
    let (code, out, _) = run(&["verify", s(&empty), "--key", s(&pk)]);
    assert_eq!(code, 1, "{out}");
    let first = out.lines().next().unwrap();
    assert_eq!(first, format!("REJECTED: {}", empty.display()));
    let (_, out, _) = run(&["verify", s(&empty), "--key", s(&pk), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["bundle"]["name"].is_null() && v["bundle"]["kind"].is_null(),
        "{v}"
    );
    let src = d.join("one");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("x"), b"x").unwrap();
    let (code, out, _) = run(&[
        "pack",
        s(&src),
        "--kind",
        "weights",
        "--name",
        "m",
        "--version",
        "1",
        "-o",
        s(&d.join("o.tar")),
    ]);
    assert_eq!(code, 0);
    assert!(out.starts_with("packed 1 file (1 byte) into"), "{out}");
    // SARIF: a real informationUri and every location relative to a named base
    let f = d.join("k.txt");
    std::fs::write(&f, "aws_access_key_id = AKIA4WXFOGO6MVN6A6WF\n").unwrap();
    let (_, out, _) = run(&["scan", s(&f), "--format", "sarif"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let run0 = &v["runs"][0];
    assert_eq!(run0["tool"]["driver"]["informationUri"], "man:airgate(1)");
    let base = run0["originalUriBaseIds"]["INPUT"]["uri"].as_str().unwrap();
    assert!(
        base.starts_with("file:///") && base.ends_with('/'),
        "{base}"
    );
    let loc = &run0["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(loc["uriBaseId"], "INPUT");
}

#[test]
fn demo_prints_colour_only_on_a_terminal() {
    let script =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo.sh")).unwrap();
    // the escape codes are set only behind the terminal and NO_COLOR test
    let guard = script.lines().find(|l| l.contains("\\033[1m")).unwrap();
    assert!(
        guard.contains("[ -t 1 ]") && guard.contains("NO_COLOR"),
        "{guard}"
    );
    let out = Command::new("bash")
        .args([
            "-c",
            &format!(
                "{}\nstep hello",
                script
                    .lines()
                    .take_while(|l| !l.starts_with("expect()"))
                    .filter(|l| !l.starts_with("cd ")
                        && !l.starts_with("rm ")
                        && !l.starts_with("mkdir "))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("== hello") && !text.contains('\u{1b}'),
        "{text:?}"
    );
}
