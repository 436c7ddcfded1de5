//! The library's module graph flows one way. Every `crate::` and `super::` path in `src/`
//! (comments aside) is resolved to the top-level module it names; a module may only use
//! the modules below it in [`ORDER`]. A new top-level module must be placed in the order,
//! so the graph cannot grow a cycle unnoticed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Bottom to top: the shared vocabulary and configuration first, then the pipeline in the
/// order bytes flow through it, then the renderers and the gate that uses them all.
const ORDER: &[&str] = &[
    "util",      // small helpers with no knowledge of the pipeline
    "vocab",     // Finding, Severity, Verdict, Report, SignatureReport, coverage, kinds
    "policy",    // the policy file's schema and checks
    "container", // tar / tar.zst / directory readers
    "bundle",    // the bundle format: statement, DSSE envelope, pack, open
    "trust",     // keys, signatures, thresholds, signing
    "inspect",   // content inspectors, formats, the engine
    "verify",    // hash and size against the signed statement, inspection in one pass
    "decide",    // findings and policy to a verdict; the only maker of `Accepted`
    "report",    // renderers: human, JSON, SARIF
    "gate",      // stage, quarantine, state, audit, watch
];

/// The binary's modules (`src/cli`, `src/main.rs`) use the library through its public
/// API, as any other caller does; they are not part of the library graph.
const OUTSIDE: &[&str] = &["cli", "main", "lib"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file: `src/a/b.rs` is `[a, b]`, `src/a/mod.rs` and `src/a.rs` are
/// `[a]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

fn ident_at(s: &str) -> Option<&str> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (end > 0).then(|| &s[..end])
}

/// Top-level modules a line of code names through `crate::` (also `crate::{a, b}`) or a
/// chain of `super::` from `module`.
fn targets(line: &str, module: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + 7..];
        if let Some(group) = after.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(
                inner
                    .split(',')
                    .filter_map(|x| ident_at(x.trim()).map(String::from)),
            );
        } else if let Some(id) = ident_at(after) {
            out.push(id.to_string());
        }
        rest = after;
    }
    let mut rest = line;
    while let Some(i) = rest.find("super::") {
        // only a chain's start: `super::super::x` is one reference
        let before = &rest[..i];
        let mut n = 0;
        let mut after = &rest[i..];
        while let Some(a) = after.strip_prefix("super::") {
            n += 1;
            after = a;
        }
        if !before.ends_with("::") && n <= module.len() {
            let base = &module[..module.len() - n];
            match base.first() {
                Some(top) => out.push(top.clone()),
                None => {
                    if let Some(id) = ident_at(after) {
                        out.push(id.to_string());
                    }
                }
            }
        }
        rest = after;
    }
    out
}

#[test]
fn the_module_graph_flows_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let tops: BTreeSet<String> = files
        .iter()
        .map(|f| module_path(&src, f))
        .filter_map(|m| m.first().cloned())
        .collect();
    for t in &tops {
        assert!(
            ORDER.contains(&t.as_str()) || OUTSIDE.contains(&t.as_str()),
            "top-level module {t} is not placed in ORDER"
        );
    }
    let rank = |m: &str| ORDER.iter().position(|x| *x == m);
    let mut bad = BTreeSet::new();
    let mut edges = BTreeSet::new();
    for f in &files {
        let module = module_path(&src, f);
        let Some(from) = module.first() else { continue };
        let Some(rf) = rank(from) else { continue };
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for to in targets(code, &module) {
                let Some(rt) = rank(&to) else { continue };
                if to == *from {
                    continue;
                }
                edges.insert(format!("{from} -> {to}"));
                if rt > rf {
                    bad.insert(format!(
                        "{from} -> {to} ({}:{})",
                        f.strip_prefix(&src).unwrap().display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "edges against the order {ORDER:?}:\n{}",
        bad.into_iter().collect::<Vec<_>>().join("\n")
    );
    // the graph is not trivially empty: the pipeline's layers do use each other
    for e in [
        "verify -> trust",
        "decide -> verify",
        "gate -> decide",
        "inspect -> policy",
    ] {
        assert!(edges.contains(e), "expected edge {e}; edges: {edges:?}");
    }
}

#[test]
fn the_checker_sees_edges_against_the_order() {
    let m = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        targets("use crate::decide::Verdict;", &m(&["verify"])),
        ["decide"]
    );
    assert_eq!(
        targets(
            "use crate::{policy::Limits, util};",
            &m(&["bundle", "open"])
        ),
        ["policy", "util"]
    );
    // from src/trust/mod.rs, `super::` is the crate root
    assert_eq!(targets("use super::report::X;", &m(&["trust"])), ["report"]);
    // from src/trust/store.rs, `super::` is `trust`
    assert_eq!(
        targets("use super::keys::Key;", &m(&["trust", "store"])),
        ["trust"]
    );
    assert_eq!(
        targets("use super::super::gate::X;", &m(&["inspect", "text"])),
        ["gate"]
    );
}
