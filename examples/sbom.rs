//! Release tool: a CycloneDX 1.5 JSON SBOM of every crate compiled into the airgate
//! executable for one target, from `cargo tree` (what the resolver compiles for that target,
//! with features), `cargo metadata` (licenses, descriptions, sources) and `Cargo.lock`
//! (checksums). Deterministic: no clock (the time is `SOURCE_DATE_EPOCH`), no paths, sorted.
//!
//! Components reached from airgate through normal dependencies are linked in (`scope:
//! required`); those reached only through a build dependency or a proc-macro run at build
//! time and are listed with `scope: excluded` and the property `cargo:build-only`.
//! Dev-dependencies and crates for other platforms are not compiled, so not listed.
//!
//! Usage: `cargo run --example sbom -- [--target TRIPLE] > airgate.cdx.json`
//! (run from the repository root; `make dist` does).

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn main() {
    if let Err(e) = run() {
        eprintln!("sbom: {e}");
        std::process::exit(1);
    }
}

/// License, description and source of a package, from `cargo metadata`.
type Facts = (Option<String>, Option<String>, Option<String>);

struct Pkg {
    name: String,
    version: String,
    features: BTreeSet<String>,
    /// Linked into the executable (not only run at build time).
    linked: bool,
}

/// `cargo tree` for `target` with the given edge kinds, prefix and format.
fn cargo_tree(
    cargo: &str,
    target: &str,
    edges: &str,
    prefix: &str,
    format: &str,
) -> Result<String, String> {
    let out = Command::new(cargo)
        .args(["tree", "--locked", "--target", target, "-e", edges])
        .args(["--prefix", prefix, "--format", format])
        .output()
        .map_err(|e| format!("cannot run cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

fn run() -> Result<(), String> {
    let mut target = String::from("x86_64-unknown-linux-gnu");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--target" => target = args.next().ok_or("--target needs a value")?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .args(["--filter-platform", &target])
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let lock_text =
        std::fs::read_to_string("Cargo.lock").map_err(|e| format!("Cargo.lock: {e}"))?;
    let lock: toml::Table = toml::from_str(&lock_text).map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut checksums: BTreeMap<(String, String), String> = BTreeMap::new();
    for p in lock
        .get("package")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
    {
        let s = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_string);
        if let (Some(n), Some(v), Some(c)) = (s("name"), s("version"), s("checksum")) {
            checksums.insert((n, v), c);
        }
    }

    let str_of = |v: &Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    // Package facts by name@version (cargo metadata's resolve graph unifies features with
    // dev-dependencies, so which crates are compiled comes from `cargo tree` below).
    let mut info: BTreeMap<String, Facts> = BTreeMap::new();
    for p in meta["packages"].as_array().ok_or("no packages")? {
        let key = format!(
            "{}@{}",
            str_of(p, "name").unwrap_or_default(),
            str_of(p, "version").unwrap_or_default()
        );
        info.insert(
            key,
            (
                str_of(p, "license"),
                str_of(p, "description"),
                str_of(p, "source"),
            ),
        );
    }

    // The compiled graph as the resolver builds it for `target`: one line per node with its
    // depth, its features, and `(*)` where a subtree was shown before.
    let compiled = cargo_tree(&cargo, &target, "normal,build", "depth", "{p}|{f}")?;
    let mut pkgs: BTreeMap<String, Pkg> = BTreeMap::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack: Vec<String> = Vec::new();
    let mut root = String::new();
    for line in compiled.lines() {
        let digits = line.bytes().take_while(u8::is_ascii_digit).count();
        let depth: usize = line[..digits]
            .parse()
            .map_err(|_| format!("bad tree line {line:?}"))?;
        let (p, f) = line[digits..]
            .split_once('|')
            .unwrap_or((&line[digits..], ""));
        let mut words = p.split_whitespace();
        let (Some(name), Some(v)) = (words.next(), words.next()) else {
            return Err(format!("bad tree line {line:?}"));
        };
        let version = v.trim_start_matches('v').to_string();
        let key = format!("{name}@{version}");
        let f = f.trim_end_matches(" (*)").trim();
        let entry = pkgs.entry(key.clone()).or_insert_with(|| Pkg {
            name: name.to_string(),
            version,
            features: BTreeSet::new(),
            linked: false,
        });
        entry
            .features
            .extend(f.split(',').filter(|x| !x.is_empty()).map(str::to_string));
        stack.truncate(depth);
        if let Some(parent) = stack.last() {
            edges.entry(parent.clone()).or_default().insert(key.clone());
        } else {
            root = key.clone();
        }
        stack.push(key);
    }
    // Linked in: reached through normal edges without passing through a proc-macro.
    for line in cargo_tree(&cargo, &target, "normal,no-proc-macro", "none", "{p}")?.lines() {
        let mut words = line.split_whitespace();
        if let (Some(n), Some(v)) = (words.next(), words.next()) {
            if let Some(p) = pkgs.get_mut(&format!("{n}@{}", v.trim_start_matches('v'))) {
                p.linked = true;
            }
        }
    }
    if root.is_empty() {
        return Err("cargo tree printed nothing".into());
    }

    let bom_ref = |p: &Pkg| format!("pkg:cargo/{}@{}", p.name, p.version);
    let mut components = Vec::new();
    let mut dependencies = Vec::new();
    for (key, p) in &pkgs {
        let deps: Vec<String> = edges
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|d| pkgs.get(d).map(bom_ref))
            .collect();
        dependencies.push(json!({"ref": bom_ref(p), "dependsOn": deps}));
        if *key == root {
            continue;
        }
        let (license, description, source) = info.get(key).cloned().unwrap_or_default();
        let mut c = json!({
            "type": "library",
            "bom-ref": bom_ref(p),
            "name": p.name,
            "version": p.version,
            "purl": bom_ref(p),
            "scope": if p.linked { "required" } else { "excluded" },
        });
        if let Some(d) = description {
            c["description"] = json!(d.trim());
        }
        if let Some(l) = license {
            c["licenses"] = json!([{"expression": l}]);
        }
        if let Some(sum) = checksums.get(&(p.name.clone(), p.version.clone())) {
            c["hashes"] = json!([{"alg": "SHA-256", "content": sum}]);
        }
        let feats: Vec<&str> = p.features.iter().map(String::as_str).collect();
        let mut props = vec![json!({"name": "cargo:features", "value": feats.join(",")})];
        if !p.linked {
            props.push(json!({"name": "cargo:build-only", "value": "true"}));
        }
        if let Some(src) = source {
            props.push(json!({"name": "cargo:source", "value": src}));
        }
        c["properties"] = json!(props);
        components.push(c);
    }
    let root_pkg = pkgs.get(&root).ok_or("root package missing")?;
    let root_license = info.get(&root).and_then(|i| i.0.clone());
    let time = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|t| jiff::Timestamp::from_second(t).ok())
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    let mut metadata = json!({
        "tools": {"components": [{"type": "application", "name": "airgate examples/sbom.rs"}]},
        "component": {
            "type": "application",
            "bom-ref": bom_ref(root_pkg),
            "name": root_pkg.name,
            "version": root_pkg.version,
            "licenses": root_license.map(|l| json!([{"expression": l}])),
        },
        "properties": [{"name": "cargo:target", "value": target}],
    });
    if let Some(t) = time {
        metadata["timestamp"] = json!(t);
    }
    let body = json!({"components": components, "dependencies": dependencies});
    let digest = sha2_hex(&serde_json::to_vec(&body).map_err(|e| e.to_string())?);
    let bom = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": uuid_from(&digest),
        "version": 1,
        "metadata": metadata,
        "components": body["components"],
        "dependencies": body["dependencies"],
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&bom).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn sha2_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A stable `urn:uuid:` (RFC 9562 version 8, custom) from a hex digest of the content.
fn uuid_from(hex: &str) -> String {
    let h: Vec<char> = hex.chars().take(32).collect();
    let mut s: String = h.iter().collect();
    s.replace_range(12..13, "8");
    let variant = u8::from_str_radix(&s[16..17], 16).unwrap_or(0) & 0x3 | 0x8;
    s.replace_range(16..17, &format!("{variant:x}"));
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &s[..8],
        &s[8..12],
        &s[12..16],
        &s[16..20],
        &s[20..32]
    )
}
