//! Data-driven Sigstore verification: every case of the official client conformance suite
//! (`bundle-verify`, names ending `_fail` must be rejected, all others accepted) and the
//! real sigstore-python bundles, verified offline through `airgate::trust::sigstore`.

use airgate::trust::sigstore::{
    read_bundle, verify, Artifact, IdentityPolicy, ManagedKey, Matcher, Signer, Signers,
    SigstoreError, SigstoreRoot,
};
use std::path::{Path, PathBuf};

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

fn shared() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata");
    assert!(p.is_dir(), "shared test data missing at {}", p.display());
    p
}

fn read_trimmed(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Run one conformance case: Ok(description of signer) or Err(why rejected).
fn run_case(dir: &Path, production_root: &Path) -> Result<String, String> {
    let root_path = if dir.join("trusted_root.json").is_file() {
        dir.join("trusted_root.json")
    } else {
        production_root.to_path_buf()
    };
    let root = SigstoreRoot::load(&root_path).map_err(|e| e.to_string())?;
    let bundle = read_bundle(&dir.join("bundle.sigstore.json")).map_err(|e| e.to_string())?;
    let artifact_path = if dir.join("artifact").is_file() {
        dir.join("artifact")
    } else {
        dir.parent().unwrap().join("a.txt")
    };
    let artifact = std::fs::read(&artifact_path).unwrap();
    let mut signers = Signers::default();
    if dir.join("key.pub").is_file() {
        signers
            .keys
            .push(ManagedKey::load(&dir.join("key.pub")).map_err(|e| e.to_string())?);
    } else {
        let id = read_trimmed(&dir.join("identity")).unwrap_or_else(|| DEFAULT_IDENTITY.into());
        let iss = read_trimmed(&dir.join("issuer")).unwrap_or_else(|| DEFAULT_ISSUER.into());
        signers.identities.push(IdentityPolicy::exact(&id, &iss));
    }
    let v =
        verify(&root, &bundle, Artifact::Bytes(&artifact), &signers).map_err(|e| e.to_string())?;
    Ok(format!("{:?}", v.signer))
}

#[test]
fn conformance_bundle_verify_all_cases() {
    let base = shared().join("sigstore-conformance/bundle-verify");
    let production = shared().join("sigstore-python/trusted_root.production.json");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 70, "expected the 70 conformance cases");
    let mut mismatches = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let must_fail = name.ends_with("_fail");
        let got = run_case(dir, &production);
        match (&got, must_fail) {
            (Ok(_), false) => accepted += 1,
            (Err(_), true) => rejected += 1,
            (Ok(s), true) => mismatches.push(format!("{name:<60} ACCEPTED but must fail ({s})")),
            (Err(e), false) => mismatches.push(format!("{name:<60} REJECTED but must pass: {e}")),
        }
    }
    eprintln!(
        "conformance: {accepted} accepted, {rejected} rejected, {} mismatches",
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "conformance mismatches:\n{}",
        mismatches.join("\n")
    );
    assert_eq!(accepted + rejected, 70);
}

#[test]
fn failing_cases_fail_for_the_right_reason() {
    // Spot checks that rejections name the actual defect, not an unrelated error.
    let base = shared().join("sigstore-conformance/bundle-verify");
    let production = shared().join("sigstore-python/trusted_root.production.json");
    let e = run_case(&base.join("managed-key-wrong-key_fail"), &production).unwrap_err();
    assert!(e.contains("public key"), "{e}");
    let e = run_case(&base.join("bundle-malformed-json_fail"), &production).unwrap_err();
    assert!(e.contains("not a valid Sigstore bundle"), "{e}");
}

struct PyCase {
    artifact: &'static str,
    bundle: &'static str,
    root: &'static str,
    san: &'static str,
    issuer: &'static str,
    accept: bool,
}

const PY_CASES: &[PyCase] = &[
    PyCase { artifact: "bundle.txt", bundle: "bundle.txt.sigstore", root: "trusted_root.staging.json", san: "a@tny.town", issuer: "https://github.com/login/oauth", accept: true },
    PyCase { artifact: "bundle_v3.txt", bundle: "bundle_v3.txt.sigstore", root: "trusted_root.staging.json", san: "william@yossarian.net", issuer: "https://github.com/login/oauth", accept: true },
    PyCase { artifact: "bundle_v3_alt.txt", bundle: "bundle_v3_alt.txt.sigstore", root: "trusted_root.staging.json", san: "william@yossarian.net", issuer: "https://github.com/login/oauth", accept: true },
    PyCase { artifact: "bundle_v3_github.whl", bundle: "bundle_v3_github.whl.sigstore", root: "trusted_root.production.json", san: "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2", issuer: "https://token.actions.githubusercontent.com", accept: true },
    PyCase { artifact: "staging-rekor-v2.txt", bundle: "staging-rekor-v2.txt.sigstore.json", root: "trusted_root.staging.json", san: "jku@goto.fi", issuer: "https://github.com/login/oauth", accept: true },
    PyCase { artifact: "bundle_cve_2022_36056.txt", bundle: "bundle_cve_2022_36056.txt.sigstore", root: "trusted_root.staging.json", san: "william@yossarian.net", issuer: "https://github.com/login/oauth", accept: false },
];

#[test]
fn sigstore_python_bundles() {
    let base = shared().join("sigstore-python");
    let mut mismatches = Vec::new();
    for c in PY_CASES {
        let root = SigstoreRoot::load(&base.join(c.root)).unwrap();
        let bundle = read_bundle(&base.join(c.bundle)).unwrap();
        let signers = Signers {
            identities: vec![IdentityPolicy::exact(c.san, c.issuer)],
            keys: vec![],
        };
        let art = base.join(c.artifact);
        // Both the streamed-file path and the precomputed-digest path must agree.
        let by_file = verify(&root, &bundle, Artifact::File(&art), &signers);
        let digest: [u8; 32] = {
            use sha2::Digest;
            sha2::Sha256::digest(std::fs::read(&art).unwrap()).into()
        };
        let by_digest = verify(&root, &bundle, Artifact::Sha256(digest), &signers);
        for (how, r) in [("file", &by_file), ("digest", &by_digest)] {
            match (r, c.accept) {
                (Ok(v), true) => assert_eq!(
                    v.signer,
                    Signer::Certificate {
                        san: c.san.into(),
                        issuer: c.issuer.into()
                    }
                ),
                (Err(_), false) => {}
                (Ok(_), false) => {
                    mismatches.push(format!("{} ({how}): accepted, must be rejected", c.bundle))
                }
                (Err(e), true) => mismatches.push(format!("{} ({how}): rejected: {e}", c.bundle)),
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn identity_policy_is_enforced() {
    let base = shared().join("sigstore-python");
    let root = SigstoreRoot::load(&base.join("trusted_root.staging.json")).unwrap();
    let bundle = read_bundle(&base.join("bundle_v3.txt.sigstore")).unwrap();
    let art = std::fs::read(base.join("bundle_v3.txt")).unwrap();
    let check = |san: Matcher, issuer: Matcher| {
        let s = Signers {
            identities: vec![IdentityPolicy { san, issuer }],
            keys: vec![],
        };
        verify(&root, &bundle, Artifact::Bytes(&art), &s)
    };
    let ex = |s: &str| Matcher::Exact(s.into());
    assert!(check(
        ex("william@yossarian.net"),
        ex("https://github.com/login/oauth")
    )
    .is_ok());
    // wrong SAN, wrong issuer
    let e = check(
        ex("mallory@example.com"),
        ex("https://github.com/login/oauth"),
    )
    .unwrap_err();
    assert!(matches!(e, SigstoreError::IdentityNotAllowed { .. }), "{e}");
    assert!(check(
        ex("william@yossarian.net"),
        ex("https://accounts.google.com")
    )
    .is_err());
    // patterns: whole-value match only
    let re = |p: &str| Matcher::pattern(p).unwrap();
    assert!(check(re(".*@yossarian\\.net"), re("https://github\\.com/.*")).is_ok());
    assert!(check(re("yossarian"), re("https://github\\.com/.*")).is_err());
    // a tampered artifact
    let mut bad = art.clone();
    bad.push(b'!');
    let s = Signers {
        identities: vec![IdentityPolicy::exact(
            "william@yossarian.net",
            "https://github.com/login/oauth",
        )],
        keys: vec![],
    };
    assert!(verify(&root, &bundle, Artifact::Bytes(&bad), &s).is_err());
    // nothing trusted at all is a configuration error
    let e = verify(&root, &bundle, Artifact::Bytes(&art), &Signers::default()).unwrap_err();
    assert_eq!(e.class(), airgate::ErrorClass::Config);
}

#[test]
fn missing_trusted_root_is_a_config_error() {
    let e = SigstoreRoot::load(Path::new("/nonexistent/trusted_root.json"))
        .err()
        .unwrap();
    assert_eq!(e.class(), airgate::ErrorClass::Config);
    let e = SigstoreRoot::from_json("{\"not\": \"a root\"}").err();
    assert!(e.is_some());
}

/// Re-run `test` of this test binary inside a new network namespace with no interfaces
/// (`unshare -rn`); skipped with a message where the kernel refuses.
fn rerun_without_network(test: &str) {
    let exe = std::env::current_exe().unwrap();
    let out = match std::process::Command::new("unshare")
        .arg("-rn")
        .arg(&exe)
        .args(["--exact", test, "--test-threads", "1"])
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipped: unshare is not available: {e}");
            return;
        }
    };
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    if stderr.contains("unshare failed") || stderr.contains("Operation not permitted") {
        eprintln!("skipped: the kernel refused a network namespace: {stderr}");
        return;
    }
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}{stderr}"
    );
}

#[test]
fn conformance_inside_a_network_namespace() {
    rerun_without_network("conformance_bundle_verify_all_cases");
}
