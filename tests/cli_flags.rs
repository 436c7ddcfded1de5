//! Issue "no silent weakening", parts 1 and 2: flags never weaken a policy, every flag that
//! does not apply to the input is refused with a reason, and a policy that loads means what
//! it says (in verify, scan, init, admit and watch alike), with `policy check` to show it.

mod common;

use common::{end, entry, envelope, key, policy, run, statement};
use std::path::{Path, PathBuf};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A plain-tar bundle of kind weights with one file, signed by `signers`.
fn bundle(dir: &Path, name: &str, signers: &[&airgate::trust::PrivateKey]) -> PathBuf {
    let st = statement("weights", "1", &[("f", b"data")]);
    let mut tar = envelope(&st, signers);
    entry(&mut tar, b"f", b'0', b"data", 0o644);
    end(&mut tar);
    let p = dir.join(name);
    std::fs::write(&p, tar).unwrap();
    p
}

#[test]
fn key_with_policy_is_refused_and_add_key_counts_under_the_threshold() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (a, pa) = key(d, "a");
    let (_b, pb) = key(d, "b");
    let (c, pc) = key(d, "c");
    let pol = policy(d, "weights", &[&pa, &pb], 2, "");
    let by_a = bundle(d, "a.tar", &[&a]);
    // the policy's 2-of-2 rejects one signature
    let (code, out, _) = run(&["verify", s(&by_a), "--policy", s(&pol)]);
    assert_eq!(code, 1, "{out}");
    // before, --key replaced the policy with 1-of-1 and this was accepted
    let (code, _, err) = run(&["verify", s(&by_a), "--policy", s(&pol), "--key", s(&pa)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--key replaces the trust") && err.contains("--add-key"),
        "{err}"
    );
    // --add-key: c is trusted as well, the threshold stays 2
    let (code, out, err) = run(&["verify", s(&by_a), "--policy", s(&pol), "--add-key", s(&pc)]);
    assert_eq!(code, 1, "{out}{err}");
    let by_a_c = bundle(d, "ac.tar", &[&a, &c]);
    let (code, out, err) = run(&[
        "verify",
        s(&by_a_c),
        "--policy",
        s(&pol),
        "--add-key",
        s(&pc),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    // the near miss: without --add-key, c does not count
    let (code, _, _) = run(&["verify", s(&by_a_c), "--policy", s(&pol)]);
    assert_eq!(code, 1);
    // --add-key needs a policy to add to
    let (code, _, err) = run(&["verify", s(&by_a), "--add-key", s(&pc)]);
    assert_eq!(code, 2);
    assert!(err.contains("--add-key adds a key to a policy"), "{err}");
    // a revoked key added by flag still never counts
    let revoked = format!("revoked = [\"{}\"]\n", c.public().id());
    let pol_r = policy(d, "weights", &[&pa, &pb], 2, &revoked);
    let (code, out, _) = run(&[
        "verify",
        s(&by_a_c),
        "--policy",
        s(&pol_r),
        "--add-key",
        s(&pc),
    ]);
    assert_eq!(code, 1, "{out}");
}

/// Every trust flag against every input kind: refused (exit 2, naming the flag and why)
/// where it does not apply, and never refused for that reason where it does.
#[test]
fn each_flag_is_refused_where_it_does_not_apply() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (_a, pa) = key(d, "a");
    let pol = policy(d, "weights", &[&pa], 1, "");
    let file = d.join("file.bin");
    std::fs::write(&file, b"x").unwrap();
    let sig = d.join("file.sig");
    std::fs::write(&sig, b"x").unwrap();
    let kinds: [(&str, Vec<&str>); 4] = [
        ("bundle", vec![]),
        ("detached", vec!["--signature", s(&sig)]),
        ("sigstore", vec!["--sigstore-bundle", s(&sig)]),
        ("model", vec!["--model-signature", s(&sig)]),
    ];
    // (flags, input kinds where they apply without a policy)
    let flags: [(Vec<&str>, &[&str]); 6] = [
        (vec!["--key", s(&pa), "--threshold", "1"], &["bundle"]),
        (
            vec!["--trusted-root", "/nonexistent/root.json"],
            &["sigstore", "model"],
        ),
        (
            vec!["--certificate-identity", "a@b"],
            &["sigstore", "model"],
        ),
        (
            vec!["--certificate-oidc-issuer", "https://i"],
            &["sigstore", "model"],
        ),
        (vec!["--ca-cert", s(&pa)], &["model"]),
        (vec!["--ignore-path", "x"], &["model"]),
    ];
    for (kind, kind_args) in &kinds {
        for (flag_args, applies) in &flags {
            let mut args = vec!["verify", s(&file)];
            args.extend(kind_args.iter().copied());
            args.extend(flag_args.iter().copied());
            if *kind == "detached" && !flag_args.contains(&"--key") {
                args.extend(["--key", s(&pa)]);
            }
            let (code, out, err) = run(&args);
            let flag = flag_args
                .iter()
                .rev()
                .find(|a| a.starts_with("--"))
                .unwrap();
            let refused = err.contains(&format!("{flag} does not apply"));
            if applies.contains(kind) {
                assert!(!refused, "{kind} + {flag_args:?} was refused: {err}");
            } else {
                assert_eq!(code, 2, "{kind} + {flag_args:?}: {out}{err}");
                assert!(refused, "{kind} + {flag_args:?}: {err}");
            }
        }
        // with a policy, flags that would replace its trust are refused on every kind
        for flag_args in [
            vec!["--threshold", "1"],
            vec!["--trusted-root", "/nonexistent/root.json"],
            vec!["--certificate-identity", "a@b"],
            vec!["--ca-cert", s(&pa)],
            vec!["--key", s(&pa)],
        ] {
            let mut args = vec!["verify", s(&file), "--policy", s(&pol)];
            args.extend(kind_args.iter().copied());
            args.extend(flag_args.iter().copied());
            let (code, _, err) = run(&args);
            assert_eq!(code, 2, "{kind} + --policy + {flag_args:?}: {err}");
        }
    }
    // --threshold with a minisign signature used to accept one signature
    let (code, _, err) = run(&[
        "verify",
        s(&file),
        "--signature",
        s(&sig),
        "--key",
        s(&pa),
        "--threshold",
        "2",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--threshold does not apply") && err.contains("one signature"),
        "{err}"
    );
}

#[test]
fn scan_allow_host_does_not_widen_a_policy() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (_a, pa) = key(d, "a");
    let pol = policy(d, "weights", &[&pa], 1, "");
    let f = d.join("c.yaml");
    std::fs::write(&f, "endpoint: https://telemetry.example.com/v1\n").unwrap();
    let (code, _, err) = run(&[
        "scan",
        s(&f),
        "--policy",
        s(&pol),
        "--allow-host",
        "example.com",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("internal_domains"), "{err}");
    // the near miss: without a policy the flag is how a domain is allowed
    let (code, out, err) = run(&[
        "scan",
        s(&f),
        "--allow-host",
        "example.com",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
}

/// Policy entries that would do nothing, or less than they say, are configuration errors.
#[test]
fn a_policy_that_loads_means_what_it_says() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (a, pa) = key(d, "a");
    let (_b, pb) = key(d, "b");
    let by_a = bundle(d, "a.tar", &[&a]);
    let keys = format!(
        "[[keys]]\nname = \"a\"\npath = \"{}\"\n[[keys]]\nname = \"b\"\npath = \"{}\"\n",
        pa.display(),
        pb.display()
    );
    let cases = [
        (
            format!("{keys}[trust.weigths]\nkeys = [\"a\"]\nthreshold = 1\n"),
            "unknown artifact kind \"weigths\"",
        ),
        (
            format!(
                "revoked = [\"nothex\"]\n{keys}[trust.weights]\nkeys = [\"a\"]\nthreshold = 1\n"
            ),
            "is not a key id",
        ),
        (
            format!(
                "revoked = [\"{}\"]\n{keys}[trust.weights]\nkeys = [\"a\"]\nthreshold = 1\n",
                &a.public().id()[..16]
            ),
            "is not a key id",
        ),
        (
            format!("{keys}[trust.weights]\nkeys = [\"a\", \"a\"]\nthreshold = 1\n"),
            "lists \"a\" twice",
        ),
        (
            format!(
                "[[keys]]\nname = \"a\"\npath = \"{0}\"\n[[keys]]\nname = \"a2\"\npath = \"{0}\"\n\
                 [trust.weights]\nkeys = [\"a\", \"a2\"]\nthreshold = 2\n",
                pa.display()
            ),
            "are the same key",
        ),
        (
            format!(
                "revoked = [\"{}\"]\n{keys}[trust.weights]\nkeys = [\"a\", \"b\"]\nthreshold = 2\n",
                a.public().id()
            ),
            "can never be met",
        ),
        (
            format!("{keys}[trust.weights]\nkeys = [\"a\"]\nthreshold = 2\n"),
            "threshold is 2 but only 1 keys",
        ),
    ];
    let gate_env = d.join("gates");
    std::fs::create_dir_all(&gate_env).unwrap();
    for (i, (text, want)) in cases.iter().enumerate() {
        let p = d.join(format!("p{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let f = d.join("clean.txt");
        std::fs::write(&f, "hello\n").unwrap();
        let gate = gate_env.join(format!("g{i}"));
        for args in [
            vec!["verify", s(&by_a), "--policy", s(&p)],
            vec!["scan", s(&f), "--policy", s(&p)],
            vec!["init", s(&gate), "--policy", s(&p)],
            vec!["policy", "check", s(&p)],
        ] {
            let (code, out, err) = run(&args);
            assert_eq!(code, 2, "case {i} {args:?}: {out}{err}");
            assert!(err.contains(want), "case {i} {args:?}: {err}");
        }
        assert!(!gate.exists(), "case {i}: init left {}", gate.display());
    }
    // watch and admit read the gate's copy of the policy: a gate whose policy was edited
    // into one of these refuses to run
    let good = d.join("good.toml");
    std::fs::write(
        &good,
        format!("{keys}[trust.weights]\nkeys = [\"a\"]\nthreshold = 1\n"),
    )
    .unwrap();
    let gate = d.join("gate");
    let (code, _, err) = run(&["init", s(&gate), "--policy", s(&good)]);
    assert_eq!(code, 0, "{err}");
    let copy = gate.join("policy/policy.toml");
    let edited = std::fs::read_to_string(&copy)
        .unwrap()
        .replace("trust.weights", "trust.weigths");
    std::fs::write(&copy, edited).unwrap();
    for args in [
        vec!["watch", "--gate", s(&gate), "--once"],
        vec!["admit", s(&by_a), "--gate", s(&gate)],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("unknown artifact kind"), "{args:?}: {err}");
    }
}

#[test]
fn policy_check_prints_what_is_enforced_in_words_and_json() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let (a, pa) = key(d, "a");
    let (_b, pb) = key(d, "b");
    let p = d.join("p.toml");
    std::fs::write(
        &p,
        format!(
            "[[keys]]\nname = \"alice\"\npath = \"{}\"\n[[keys]]\nname = \"bob\"\npath = \"{}\"\n\
             expires = \"2001-01-01T00:00:00Z\"\n[trust.weights]\nkeys = [\"alice\", \"bob\"]\n\
             threshold = 1\n[inspect]\ndisabled_rules = [\"secret.generic-api-key\"]\n",
            pa.display(),
            pb.display()
        ),
    )
    .unwrap();
    let (code, out, err) = run(&["policy", "check", s(&p)]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("weights: 1 distinct trusted signature required"),
        "{out}"
    );
    assert!(
        out.contains(&format!("key \"alice\" id {}", a.public().id())),
        "{out}"
    );
    assert!(out.contains("EXPIRED 2001-01-01T00:00:00Z"), "{out}");
    assert!(out.contains("patch: not configured"), "{out}");
    assert!(
        out.contains("disabled rules (not checked): secret.generic-api-key"),
        "{out}"
    );
    let (code, out, _) = run(&["policy", "check", s(&p), "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let w = v["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "weights")
        .unwrap();
    assert_eq!(w["threshold"], 1);
    assert_eq!(w["keys"].as_array().unwrap().len(), 2);
    let bob = w["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "bob")
        .unwrap();
    assert_eq!(bob["expired"], true);
    assert_eq!(v["disabled_rules"][0], "secret.generic-api-key");
}
