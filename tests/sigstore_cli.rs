//! End to end: `airgate verify FILE --sigstore-bundle B --trusted-root R
//! --certificate-identity ID --certificate-oidc-issuer ISS` on the real binary: exit 0
//! accepted, 1 rejected, 2 configuration error; JSON report; and the same run inside a
//! network namespace with no interfaces.

use std::path::{Path, PathBuf};
use std::process::Command;

const WHL_SAN: &str =
    "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2";
const GH_ISSUER: &str = "https://token.actions.githubusercontent.com";

fn py() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/sigstore-python");
    assert!(p.is_dir(), "shared test data missing at {}", p.display());
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn airgate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_airgate"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn whl_args(artifact: &Path, san: &str) -> Vec<String> {
    let p = py();
    [
        "verify",
        s(artifact),
        "--sigstore-bundle",
        s(&p.join("bundle_v3_github.whl.sigstore")),
        "--trusted-root",
        s(&p.join("trusted_root.production.json")),
        "--certificate-identity",
        san,
        "--certificate-oidc-issuer",
        GH_ISSUER,
        "--format",
        "json",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect()
}

fn run_owned(args: &[String]) -> (i32, String, String) {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    airgate(&a)
}

#[test]
fn accepts_with_identity_and_reports_json() {
    let (code, out, err) = run_owned(&whl_args(&py().join("bundle_v3_github.whl"), WHL_SAN));
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "accept");
    assert_eq!(v["command"], "verify");
    assert_eq!(v["signatures"][0]["format"], "sigstore");
    assert_eq!(v["signatures"][0]["status"], "counted");
    assert!(v["signatures"][0]["identity"]
        .as_str()
        .unwrap()
        .contains(WHL_SAN));
}

#[test]
fn rejects_wrong_identity_and_tampered_artifact() {
    let (code, out, _) = run_owned(&whl_args(
        &py().join("bundle_v3_github.whl"),
        "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main",
    ));
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "reject");
    assert!(
        v["reasons"][0].as_str().unwrap().contains("not allowed"),
        "{out}"
    );
    assert_eq!(v["signatures"][0]["status"], "invalid");

    let t = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(py().join("bundle_v3_github.whl")).unwrap();
    bytes[100] ^= 0x40;
    let art = t.path().join("bundle_v3_github.whl");
    std::fs::write(&art, bytes).unwrap();
    let (code, out, _) = run_owned(&whl_args(&art, WHL_SAN));
    assert_eq!(code, 1, "{out}");
}

#[test]
fn rejects_cve_2022_36056_bundle() {
    let p = py();
    let (code, out, err) = airgate(&[
        "verify",
        s(&p.join("bundle_cve_2022_36056.txt")),
        "--sigstore-bundle",
        s(&p.join("bundle_cve_2022_36056.txt.sigstore")),
        "--trusted-root",
        s(&p.join("trusted_root.staging.json")),
        "--certificate-identity",
        "william@yossarian.net",
        "--certificate-oidc-issuer",
        "https://github.com/login/oauth",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("REJECTED"), "{out}");
}

#[test]
fn managed_key_bundle_with_key_flag() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/testdata/sigstore-conformance/bundle-verify");
    let ok = case.join("managed-key-happy-path");
    let args = |key: &Path| {
        vec![
            "verify".to_string(),
            s(&case.join("a.txt")).into(),
            "--sigstore-bundle".into(),
            s(&ok.join("bundle.sigstore.json")).into(),
            "--trusted-root".into(),
            s(&py().join("trusted_root.production.json")).into(),
            "--key".into(),
            s(key).into(),
        ]
    };
    let (code, out, err) = run_owned(&args(&ok.join("key.pub")));
    assert_eq!(code, 0, "{out}{err}");
    // another, valid P-256 key: rejected
    use p256::pkcs8::{EncodePublicKey, LineEnding};
    let t = tempfile::tempdir().unwrap();
    let other = p256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap();
    let pem = other
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    std::fs::write(t.path().join("other.pub"), pem).unwrap();
    let (code, out, _) = run_owned(&args(&t.path().join("other.pub")));
    assert_eq!(code, 1, "{out}");
    // the conformance suite's deliberately corrupt key file is a configuration error
    let (code, _, err) = run_owned(&args(&case.join("managed-key-wrong-key_fail/key.pub")));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn configuration_errors_exit_2() {
    let p = py();
    let art = p.join("bundle_v3_github.whl");
    let mut args = whl_args(&art, WHL_SAN);
    // missing trusted root file
    args[5] = s(&p.join("no-such-root.json")).into();
    let (code, _, err) = run_owned(&args);
    assert_eq!(code, 2, "{err}");
    // identity without issuer
    let (code, _, err) = airgate(&[
        "verify",
        s(&art),
        "--sigstore-bundle",
        s(&p.join("bundle_v3_github.whl.sigstore")),
        "--trusted-root",
        s(&p.join("trusted_root.production.json")),
        "--certificate-identity",
        WHL_SAN,
    ]);
    assert_eq!(code, 2, "{err}");
    // no identity at all
    let (code, _, err) = airgate(&[
        "verify",
        s(&art),
        "--sigstore-bundle",
        s(&p.join("bundle_v3_github.whl.sigstore")),
        "--trusted-root",
        s(&p.join("trusted_root.production.json")),
    ]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn verifies_without_any_network_interface() {
    let mut args = vec!["-rn".to_string(), env!("CARGO_BIN_EXE_airgate").to_string()];
    args.extend(whl_args(&py().join("bundle_v3_github.whl"), WHL_SAN));
    let out = match Command::new("unshare").args(&args).output() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipped: unshare is not available: {e}");
            return;
        }
    };
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("unshare failed") || err.contains("Operation not permitted") {
        eprintln!("skipped: the kernel refused a network namespace: {err}");
        return;
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{err}",
        String::from_utf8_lossy(&out.stdout)
    );
}
