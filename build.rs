//! Build script: records what `airgate version` reports (git commit, build date, features,
//! target, compiler) and writes the built-in rule files without their test examples, so the
//! executable does not carry sample secrets and reachback lines that its own gate would
//! find (the examples stay in `policies/rules/` for the tests).
//!
//! Reproducible by design: nothing here reads the clock or a path. The build date comes
//! from `SOURCE_DATE_EPOCH` (the Makefile sets it to the commit time), else from the commit
//! time git reports, else it is `unknown`; the commit from `AIRGATE_GIT_COMMIT`, else git,
//! else `unknown` (a source tarball without `.git` still builds).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The built-in rule files (`src/inspect/text/rules.rs` embeds the stripped copies).
const RULE_FILES: &[&str] = &[
    "secrets-cloud.toml",
    "secrets-ai.toml",
    "secrets-dev.toml",
    "secrets-saas.toml",
    "secrets-keys.toml",
    "secrets-vendors.toml",
    "secrets-cli.toml",
    "secrets-providers.toml",
    "reachback.toml",
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    version_info(&manifest);
    strip_rules(&manifest, &out);
}

fn version_info(manifest: &Path) {
    println!("cargo:rerun-if-env-changed=AIRGATE_GIT_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // Only a checkout of this very tree counts (not an outer repository around an unpacked
    // source tarball).
    let top = git(manifest, &["rev-parse", "--show-toplevel"]);
    let ours = match (top.map(PathBuf::from), manifest.canonicalize()) {
        (Some(t), Ok(m)) => t.canonicalize().is_ok_and(|t| t == m),
        _ => false,
    };
    let git_dir = if ours {
        git(manifest, &["rev-parse", "--absolute-git-dir"])
    } else {
        None
    };
    if let Some(dir) = &git_dir {
        // Rerun when HEAD moves: HEAD itself, the branch it names, and packed refs.
        let dir = PathBuf::from(dir);
        watch(&dir.join("HEAD"));
        if let Some(common) = git(manifest, &["rev-parse", "--git-common-dir"]) {
            let common = manifest.join(common);
            watch(&common.join("packed-refs"));
            if let Some(head_ref) = git(manifest, &["symbolic-ref", "-q", "HEAD"]) {
                watch(&common.join(head_ref));
            }
        }
    }
    let commit = env_nonempty("AIRGATE_GIT_COMMIT")
        .or_else(|| {
            git_dir
                .as_ref()
                .and_then(|_| git(manifest, &["rev-parse", "HEAD"]))
        })
        .unwrap_or_else(|| "unknown".into());
    let epoch = match env_nonempty("SOURCE_DATE_EPOCH") {
        Some(s) => {
            if s.parse::<i64>().is_err() {
                panic!("SOURCE_DATE_EPOCH must be an integer (seconds since 1970), got {s:?}");
            }
            s
        }
        None => git_dir
            .as_ref()
            .and_then(|_| git(manifest, &["log", "-1", "--format=%ct"]))
            .filter(|s| s.parse::<i64>().is_ok())
            .unwrap_or_default(),
    };
    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| k.strip_prefix("CARGO_FEATURE_").map(str::to_string))
        .map(|f| f.to_lowercase().replace('_', "-"))
        .collect();
    features.sort();
    let target_features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let linkage = if target_features.split(',').any(|f| f == "crt-static") {
        "static"
    } else {
        "dynamic"
    };
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let set = |k: &str, v: &str| println!("cargo:rustc-env={k}={v}");
    set("AIRGATE_GIT_COMMIT", &commit);
    set("AIRGATE_SOURCE_DATE_EPOCH", &epoch);
    set("AIRGATE_FEATURES", &features.join(","));
    set(
        "AIRGATE_TARGET",
        &std::env::var("TARGET").unwrap_or_default(),
    );
    set("AIRGATE_LINKAGE", linkage);
    set("AIRGATE_RUSTC", &rustc_version);
}

/// Copy each rule file to `OUT_DIR/rules/` without comment lines and without its
/// `examples` / `negative_examples` arrays. Each such array must sit on one line (they all
/// do); anything else stops the build rather than embed a half-stripped file. A unit test
/// in `src/inspect/text/` checks that the stripped rules equal the originals in every other
/// field.
fn strip_rules(manifest: &Path, out: &Path) {
    let dir = out.join("rules");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {e}", dir.display());
    }
    for name in RULE_FILES {
        let src = manifest.join("policies/rules").join(name);
        println!("cargo:rerun-if-changed={}", src.display());
        let text = match std::fs::read_to_string(&src) {
            Ok(t) => t,
            Err(e) => panic!("cannot read {}: {e}", src.display()),
        };
        let mut kept = String::with_capacity(text.len());
        for (i, line) in text.lines().enumerate() {
            let t = line.trim_start();
            if t.starts_with('#') {
                continue;
            }
            let key = t.split(['=', ' ']).next().unwrap_or("");
            if key == "examples" || key == "negative_examples" {
                if !(t.contains('[') && t.trim_end().ends_with(']')) {
                    panic!(
                        "{}:{}: keep `{key}` on one line (`{key} = [...]`) so the build can \
                         leave it out of the executable",
                        src.display(),
                        i + 1
                    );
                }
                continue;
            }
            kept.push_str(line);
            kept.push('\n');
        }
        let dst = dir.join(name);
        if std::fs::read_to_string(&dst).ok().as_deref() != Some(kept.as_str()) {
            if let Err(e) = std::fs::write(&dst, kept) {
                panic!("cannot write {}: {e}", dst.display());
            }
        }
    }
}

fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn env_nonempty(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.trim().is_empty())
}

/// Run git in `dir`; its trimmed stdout when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let o = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !o.status.success() {
        return None;
    }
    let s = String::from_utf8(o.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}
