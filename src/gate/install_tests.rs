//! Tests of `install`: receipt checks, version order, the atomic replacement and rollback,
//! with small shell scripts standing in for airgate executables.

use super::install::*;
use super::receipt::{Receipt, FORMAT, PAYLOAD_DIR};
use crate::bundle::statement::{Predicate, Statement, Subject, PREDICATE_TYPE, STATEMENT_TYPE};
use crate::trust::keys::PrivateKey;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A script that answers `version --json` as airgate `version` would.
fn stub(version: &str) -> Vec<u8> {
    format!(
        "#!/bin/sh\n[ \"$1 $2\" = \"version --json\" ] && echo '{{\"name\":\"airgate\",\"version\":\"{version}\"}}'\n"
    )
    .into_bytes()
}

fn write_exec(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A staged release folder with `bytes` as the executable of `version`, its receipt signed
/// by `gate`; `kind` lets a test stage something else.
fn staged(root: &Path, kind: &str, version: &str, bytes: &[u8], gate: &PrivateKey) -> PathBuf {
    let dir = root.join(format!("staged-{kind}-{version}"));
    let files = dir.join(PAYLOAD_DIR);
    std::fs::create_dir_all(&files).unwrap();
    let name = executable_name(version);
    write_exec(&files.join(&name), bytes);
    let mut digest = BTreeMap::new();
    digest.insert("sha256".to_string(), sha(bytes));
    let mut sizes = BTreeMap::new();
    sizes.insert(name.clone(), bytes.len() as u64);
    let statement = Statement {
        type_: STATEMENT_TYPE.into(),
        subject: vec![Subject { name, digest }],
        predicate_type: PREDICATE_TYPE.into(),
        predicate: Predicate {
            kind: kind.into(),
            name: "airgate".into(),
            version: version.into(),
            created: "2026-11-26T00:00:00Z".into(),
            publisher: "test".into(),
            sizes,
        },
    };
    let mut r = Receipt {
        format: FORMAT.into(),
        bundle_sha256: "00".repeat(32),
        bundle_file: "airgate.tar.zst".into(),
        arrival_id: String::new(),
        kind: kind.into(),
        name: "airgate".into(),
        version: version.into(),
        statement,
        signers: vec!["k".into()],
        findings: vec![],
        waived: vec![],
        policy_sha256: String::new(),
        staged_at: "2026-11-26T00:00:00Z".into(),
        tool: "airgate test".into(),
        gate_key_id: String::new(),
        gate_signature: String::new(),
    };
    r.sign(gate);
    std::fs::write(dir.join("receipt.json"), r.to_json()).unwrap();
    dir
}

#[test]
fn order_moves_forward_only_unless_allowed() {
    assert!(check_order("0.2.0", Some("0.1.0"), false).is_ok());
    assert!(check_order("0.1.0", Some("0.1.0"), false).is_err());
    assert!(check_order("0.1.0", Some("0.2.0"), false).is_err());
    assert!(check_order("0.1.0", Some("0.2.0"), true).is_ok());
    assert!(check_order("0.2.0", None, false).is_err());
    assert!(check_order("0.2.0", Some("garbage"), false).is_err());
    assert!(check_order("0.2.0", None, true).is_ok());
}

#[test]
fn names() {
    assert_eq!(
        executable_name("1.2.3"),
        format!("airgate-1.2.3-{}-linux", std::env::consts::ARCH)
    );
    assert_eq!(
        previous_path(Path::new("/usr/bin/airgate")),
        PathBuf::from("/usr/bin/airgate.previous")
    );
}

#[test]
fn receipt_checks() {
    let d = tempfile::tempdir().unwrap();
    let gate = PrivateKey::generate();
    let dir = staged(d.path(), "patch", "0.2.0", &stub("0.2.0"), &gate);
    let rel = check_staged(&dir, &gate.public()).unwrap();
    assert_eq!(rel.version, "0.2.0");
    assert_eq!(rel.sha256, sha(&stub("0.2.0")));

    // Another gate's key, or a receipt edited after signing: refused.
    let other = PrivateKey::generate();
    assert!(matches!(
        check_staged(&dir, &other.public()),
        Err(InstallError::Refused(_))
    ));
    let path = dir.join("receipt.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace(&sha(&stub("0.2.0")), &"ab".repeat(32))).unwrap();
    assert!(matches!(
        check_staged(&dir, &gate.public()),
        Err(InstallError::Refused(_))
    ));

    // A signed receipt of something that is not an airgate release.
    let weights = staged(d.path(), "weights", "0.2.0", b"w", &gate);
    let e = check_staged(&weights, &gate.public()).unwrap_err();
    assert!(e.to_string().contains("not an airgate release"), "{e}");
}

#[test]
fn installs_atomically_keeps_previous_and_rolls_back() {
    let d = tempfile::tempdir().unwrap();
    let gate = PrivateKey::generate();
    let target = d.path().join("bin/airgate");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    write_exec(&target, &stub("0.1.0"));
    let rel = check_staged(
        &staged(d.path(), "patch", "0.2.0", &stub("0.2.0"), &gate),
        &gate.public(),
    )
    .unwrap();
    let done = install(&rel, &target, &InstallOptions::default()).unwrap();
    assert_eq!(done.replaced.as_deref(), Some("0.1.0"));
    assert_eq!(std::fs::read(&target).unwrap(), stub("0.2.0"));
    assert_eq!(
        std::fs::read(previous_path(&target)).unwrap(),
        stub("0.1.0")
    );
    assert_eq!(query_version(&target).unwrap().version, "0.2.0");
    // Nothing but the two executables is left in the folder.
    let left: Vec<_> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");

    // The same release again is not newer.
    assert!(matches!(
        install(&rel, &target, &InstallOptions::default()),
        Err(InstallError::Refused(_))
    ));

    let (now, kept) = rollback(&target).unwrap();
    assert_eq!(
        (now.as_deref(), kept.as_deref()),
        (Some("0.1.0"), Some("0.2.0"))
    );
    assert_eq!(std::fs::read(&target).unwrap(), stub("0.1.0"));
}

#[test]
fn changed_staged_file_or_lying_executable_replaces_nothing() {
    let d = tempfile::tempdir().unwrap();
    let gate = PrivateKey::generate();
    let target = d.path().join("airgate");
    write_exec(&target, &stub("0.1.0"));
    let dir = staged(d.path(), "patch", "0.2.0", &stub("0.2.0"), &gate);
    let rel = check_staged(&dir, &gate.public()).unwrap();
    // Changed after staging (same length).
    let mut bad = stub("0.2.0");
    let n = bad.len();
    bad[n - 2] = b'X';
    write_exec(&rel.executable, &bad);
    let e = install(&rel, &target, &InstallOptions::default()).unwrap_err();
    assert!(e.to_string().contains("changed after staging"), "{e}");
    assert_eq!(std::fs::read(&target).unwrap(), stub("0.1.0"));
    assert!(!previous_path(&target).exists());

    // Signed as 0.3.0 but the executable says 0.2.5.
    let lying = staged(d.path(), "patch", "0.3.0", &stub("0.2.5"), &gate);
    let rel = check_staged(&lying, &gate.public()).unwrap();
    let e = install(&rel, &target, &InstallOptions::default()).unwrap_err();
    assert!(e.to_string().contains("says it is airgate 0.2.5"), "{e}");
    assert_eq!(std::fs::read(&target).unwrap(), stub("0.1.0"));
    let names: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".airgate"))
        .collect();
    assert!(names.is_empty(), "temporary files left: {names:?}");
}

#[test]
fn links_are_not_targets_and_downgrades_need_the_flag() {
    let d = tempfile::tempdir().unwrap();
    let gate = PrivateKey::generate();
    let real = d.path().join("airgate-real");
    write_exec(&real, &stub("0.5.0"));
    let link = d.path().join("airgate");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let rel = check_staged(
        &staged(d.path(), "patch", "0.4.0", &stub("0.4.0"), &gate),
        &gate.public(),
    )
    .unwrap();
    assert!(matches!(
        install(&rel, &link, &InstallOptions::default()),
        Err(InstallError::Usage(_))
    ));
    assert!(matches!(
        install(&rel, &real, &InstallOptions::default()),
        Err(InstallError::Refused(_))
    ));
    let opts = InstallOptions {
        allow_downgrade: true,
        ..InstallOptions::default()
    };
    install(&rel, &real, &opts).unwrap();
    assert_eq!(query_version(&real).unwrap().version, "0.4.0");
}
