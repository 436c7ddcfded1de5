//! The release: `scripts/dist.sh` (what `make dist` runs after its static build) run on this
//! build's executable, and the result checked with independent tools: completions and man
//! pages for every subcommand, `version --json`, the SBOM against `Cargo.lock` and `cargo
//! tree`, the release bundle with `airgate verify`, the minisign signature with the real
//! `minisign`, `SHA256SUMS` with `sha256sum`. When `make dist` has left a dist/ in the
//! checkout, its static executable is checked too (`ldd`). The byte-for-byte
//! reproducibility of the static build is `make repro-check` (two cold builds: too slow here).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_airgate");
const VERSION: &str = env!("CARGO_PKG_VERSION");
const TRIPLE: &str = "x86_64-unknown-linux-gnu";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn out(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e} (minisign and coreutils are in .ci/run)")
    })
}

fn ok(cmd: &mut Command) -> String {
    let o = out(cmd);
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The `sbom` example of this profile, built if `cargo test` did not build examples.
fn sbom_tool() -> PathBuf {
    let tool = Path::new(BIN).parent().unwrap().join("examples/sbom");
    if !tool.exists() {
        ok(Command::new(env!("CARGO")).current_dir(root()).args([
            "build",
            "--locked",
            "--example",
            "sbom",
        ]));
    }
    tool
}

/// Subcommand names listed in `--help` of `args` (without `help`).
fn subcommands(args: &[&str]) -> Vec<String> {
    let help = ok(Command::new(BIN).args(args).arg("--help"));
    let mut names = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line.starts_with("Commands:") {
            inside = true;
        } else if inside && line.trim().is_empty() {
            break;
        } else if inside {
            if let Some(name) = line.split_whitespace().next() {
                if name != "help" {
                    names.push(name.to_string());
                }
            }
        }
    }
    names
}

#[test]
fn dist_parts_from_this_build() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    ok(Command::new(BIN)
        .args(["keygen", "--name", "rel", "--out"])
        .arg(tmp.path()));
    let script = root().join("scripts/dist.sh");
    let log = ok(Command::new(&script)
        .args(["--bin", BIN, "--sbom-tool"])
        .arg(sbom_tool())
        .arg("--out")
        .arg(&dist)
        .env("RELEASE_KEY", tmp.path().join("rel.key"))
        .env("DIST_ZSTD_LEVEL", "1"));
    let name = format!("airgate-{VERSION}-x86_64-linux");
    check_dist(&dist, &name, &log);
}

#[test]
fn a_dist_from_make_dist_is_static_and_checks_out() {
    let dist = root().join("dist");
    let name = format!("airgate-{VERSION}-x86_64-linux");
    let exe = dist.join(&name);
    if !exe.exists() {
        eprintln!("no dist/ from `make dist` in this checkout: only the parts test ran");
        return;
    }
    let ldd = out(Command::new("ldd").arg(&exe));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&ldd.stdout),
        String::from_utf8_lossy(&ldd.stderr)
    );
    assert!(
        said.contains("not a dynamic executable") || said.contains("statically linked"),
        "{said}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&ok(Command::new(&exe).args(["version", "--json"]))).unwrap();
    assert_eq!(v["linkage"], "static");
    assert_eq!(v["build"], "release");
    check_dist(&dist, &name, "");
}

fn check_dist(dist: &Path, name: &str, log: &str) {
    let exe = dist.join(name);

    // version --json
    let v: serde_json::Value =
        serde_json::from_str(&ok(Command::new(&exe).args(["version", "--json"]))).unwrap();
    assert_eq!(v["name"], "airgate");
    assert_eq!(v["version"], VERSION);
    assert!(!v["commit"].as_str().unwrap().is_empty());
    assert!(v["features"].is_array() && v["target"] == TRIPLE, "{v}");
    let long = ok(Command::new(&exe).arg("--version"));
    assert!(
        long.contains("commit:") && long.contains("build date:") && long.contains("features:"),
        "{long}"
    );

    // Completions name every subcommand; a man page for each, nested ones included.
    let commands = subcommands(&[]);
    assert!(
        commands.len() >= 15 && commands.contains(&"self-install".to_string()),
        "{commands:?}"
    );
    for (file, marker) in [
        ("completions/airgate.bash", "complete -F"),
        ("completions/_airgate", "#compdef airgate"),
        ("completions/airgate.fish", "complete -c airgate"),
    ] {
        let text = std::fs::read_to_string(dist.join(file)).unwrap();
        assert!(text.contains(marker), "{file}");
        for c in &commands {
            assert!(text.contains(c.as_str()), "{file} lacks {c}");
        }
    }
    let man = dist.join("man");
    assert!(man.join("airgate.1").is_file());
    for c in &commands {
        let page = std::fs::read_to_string(man.join(format!("airgate-{c}.1")))
            .unwrap_or_else(|_| panic!("no man page for {c}"));
        assert!(page.contains(&format!(".TH airgate-{c} 1")), "{c}");
        for nested in subcommands(&[c.as_str()]) {
            assert!(
                man.join(format!("airgate-{c}-{nested}.1")).is_file(),
                "{c} {nested}"
            );
        }
    }
    assert!(man.join("airgate-audit-verify.1").is_file());

    check_sbom(&dist.join(format!("airgate-{VERSION}.cdx.json")));

    // The release bundle verifies with airgate against the release key, and holds the
    // executable, completions, man pages and SBOM.
    let bundle = dist.join(format!("{name}.bundle.tar.zst"));
    let pubkey = dist.join("airgate-release.pub");
    let report = ok(Command::new(BIN)
        .arg("verify")
        .arg(&bundle)
        .arg("--key")
        .arg(&pubkey)
        .args(["--format", "json"]));
    let r: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(r["verdict"], "accept", "{report}");
    let inspect = ok(Command::new(BIN).arg("inspect").arg(&bundle));
    for part in [
        name,
        "completions/airgate.bash",
        "man/airgate-self-install.1",
        ".cdx.json",
        "patch",
    ] {
        assert!(
            inspect.contains(part),
            "{part} not in the bundle: {inspect}"
        );
    }
    // A bundle signed by another key does not verify against the release key.
    let other = tempfile::tempdir().unwrap();
    ok(Command::new(BIN)
        .args(["keygen", "--name", "x", "--out"])
        .arg(other.path()));
    let o = out(Command::new(BIN)
        .arg("verify")
        .arg(&bundle)
        .arg("--key")
        .arg(other.path().join("x.pub")));
    assert_eq!(o.status.code(), Some(1));

    // The minisign signature verifies with the real minisign; a changed byte does not.
    let mpub = dist.join("airgate-release.minisign.pub");
    let said = ok(Command::new("minisign")
        .arg("-Vm")
        .arg(&exe)
        .arg("-p")
        .arg(&mpub));
    assert!(said.contains(&format!("file:{name}")), "{said}");
    let copy = other.path().join(name);
    let mut bytes = std::fs::read(&exe).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&copy, &bytes).unwrap();
    std::fs::copy(
        dist.join(format!("{name}.minisig")),
        other.path().join(format!("{name}.minisig")),
    )
    .unwrap();
    let o = out(Command::new("minisign")
        .arg("-Vm")
        .arg(&copy)
        .arg("-p")
        .arg(&mpub));
    assert!(!o.status.success());
    let o = out(Command::new(BIN)
        .arg("verify")
        .arg(&copy)
        .arg("--signature")
        .arg(other.path().join(format!("{name}.minisig")))
        .arg("--key")
        .arg(&mpub));
    assert_eq!(o.status.code(), Some(1));

    // SHA256SUMS covers every other file, and sha256sum agrees.
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    let listed: BTreeSet<&str> = sums
        .lines()
        .filter_map(|l| l.split_once("  ").map(|x| x.1))
        .collect();
    let mut files = BTreeSet::new();
    walk(dist, dist, &mut files);
    files.remove("SHA256SUMS");
    assert_eq!(listed, files.iter().map(String::as_str).collect());
    ok(Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(dist));
    let _ = log;
}

fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(base, &p, out);
        } else {
            out.insert(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
        }
    }
}

/// Every component is a crate of Cargo.lock with its checksum; the components are exactly
/// what `cargo tree` says is compiled for the target; every direct dependency is linked in.
fn check_sbom(path: &Path) {
    let bom: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["metadata"]["component"]["name"], "airgate");
    let lock: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.lock")).unwrap()).unwrap();
    let mut locked: BTreeMap<String, Option<String>> = BTreeMap::new();
    for p in lock["package"].as_array().unwrap() {
        locked.insert(
            format!(
                "{}@{}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            ),
            p.get("checksum")
                .and_then(|c| c.as_str())
                .map(str::to_string),
        );
    }
    let mut listed = BTreeSet::new();
    let mut scope = BTreeMap::new();
    for c in bom["components"].as_array().unwrap() {
        let key = format!(
            "{}@{}",
            c["name"].as_str().unwrap(),
            c["version"].as_str().unwrap()
        );
        let sum = locked
            .get(&key)
            .unwrap_or_else(|| panic!("{key} is not in Cargo.lock"));
        let hash = c["hashes"][0]["content"].as_str().map(str::to_string);
        assert_eq!(&hash, sum, "{key}: checksum differs from Cargo.lock");
        assert_eq!(c["purl"], format!("pkg:cargo/{key}"));
        scope.insert(c["name"].as_str().unwrap().to_string(), c["scope"].clone());
        listed.insert(key);
    }
    let tree = ok(Command::new(env!("CARGO")).current_dir(root()).args([
        "tree",
        "--locked",
        "-e",
        "normal,build",
        "--target",
        TRIPLE,
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]));
    let compiled: BTreeSet<String> = tree
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some(format!(
                "{}@{}",
                w.next()?,
                w.next()?.trim_start_matches('v')
            ))
        })
        .filter(|k| !k.starts_with("airgate@"))
        .collect();
    assert_eq!(listed, compiled, "SBOM components differ from cargo tree");
    assert!(listed.len() > 100, "{}", listed.len());
    // Cargo.lock holds more (dev-dependencies, other platforms), never fewer.
    assert!(locked.len() > listed.len());
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    for dep in manifest["dependencies"].as_table().unwrap().keys() {
        assert_eq!(
            scope.get(dep),
            Some(&serde_json::json!("required")),
            "{dep}"
        );
    }
    assert_eq!(scope.get("syn"), Some(&serde_json::json!("excluded")));
}
