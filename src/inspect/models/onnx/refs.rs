//! ONNX external tensor data references: whether a `location` stays inside the model folder,
//! the path it names from the bundle root (or inside the archive holding the model), and the
//! cross-file check that each reference names a regular file and a range inside it.

use crate::inspect::{Category, Finding, Severity};

/// Whether `location` (an external-data path) stays inside the model's folder.
pub fn location_problem(location: &str) -> Option<&'static str> {
    if location.is_empty() {
        return Some("is empty");
    }
    if location.contains('\0') {
        return Some("contains NUL");
    }
    if location.starts_with('/')
        || location.starts_with('\\')
        || location.as_bytes().get(1) == Some(&b':')
    {
        return Some("is absolute");
    }
    if location.split(['/', '\\']).any(|c| c == "..") {
        return Some("climbs out of the model folder with '..'");
    }
    if location.contains("://") {
        return Some("is a URL");
    }
    None
}

/// The path (from the bundle root, `/`-separated) that `location` names for a model at
/// `model`: relative to the model's folder, `\\` taken as a separator, `.` and empty
/// components dropped. `None` when the location is one [`location_problem`] refuses (that
/// check reports it).
pub fn resolve(model: &str, location: &str) -> Option<String> {
    if location_problem(location).is_some() {
        return None;
    }
    let dir = model.rsplit_once('/').map_or("", |(d, _)| d);
    let parts: Vec<&str> = dir
        .split('/')
        .chain(location.split(['/', '\\']))
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    // (A location of only `.` names the folder itself: no regular file has that path, so
    // the cross-file check flags it.)
    Some(parts.join("/"))
}

/// The reference a model at `model` (a nested path, `outer!inner`) makes with `location`:
/// resolved inside the innermost container, so it reads `outer!target`. `None` when the
/// location is refused (see [`resolve`]).
pub fn reference(model: &str, location: &str) -> Option<String> {
    match model.rsplit_once('!') {
        Some((outer, inner)) => resolve(inner, location).map(|t| format!("{outer}!{t}")),
        None => resolve(model, location),
    }
}

/// Cross-file check of a bundle (or scanned folder): every external-data reference among
/// `findings` to one of its own files (a path without `!`) must name one of its regular
/// files (`size_of` gives a file's size, `None` when there is no such regular file), and its
/// byte range must lie inside it. A missing file is the dangerous case: the signature does
/// not cover it, and at load time the runtime reads whatever file sits at that path beside
/// the model. References into archives are checked by the archive's layer
/// ([`check_members`]).
///
/// The new findings are appended to `findings`.
pub fn cross_check(findings: &mut Vec<Finding>, size_of: impl Fn(&str) -> Option<u64>) {
    check_scope(findings, 0, None, size_of);
}

/// The cross-file check inside an archive at `archive` (a zip or tar layer's path) whose
/// regular members are `size_of`: the references among `findings[from..]` that name one of
/// its members (`archive!name`, `name` without `!`). Call it only with the archive's full
/// member list; a listing cut short by a limit would make present files look missing.
pub fn check_members(
    findings: &mut Vec<Finding>,
    from: usize,
    archive: &str,
    size_of: impl Fn(&str) -> Option<u64>,
) {
    check_scope(findings, from, Some(archive), size_of);
}

/// A model decoded from a single compressed file (`container`, e.g. `m/x.onnx.gz`) sits, once
/// decompressed, beside that file: its references (`container!target`) among `findings` are
/// moved to the container's own folder (`m/target`), where the enclosing scope checks them.
pub fn rebase_to_sibling(findings: &mut [Finding], container: &str) {
    let cut = container.rfind(['/', '!']).map_or(0, |i| i + 1);
    for f in findings.iter_mut() {
        let Some(r) = f.refers_to.as_mut() else {
            continue;
        };
        let Some(name) = r
            .path
            .strip_prefix(container)
            .and_then(|rest| rest.strip_prefix('!'))
        else {
            continue;
        };
        if name.contains('!') {
            continue;
        }
        r.path = format!("{}{name}", &container[..cut]);
    }
}

fn check_scope(
    findings: &mut Vec<Finding>,
    from: usize,
    scope: Option<&str>,
    size_of: impl Fn(&str) -> Option<u64>,
) {
    let mut out = Vec::new();
    for f in findings.iter().skip(from) {
        let Some(r) = &f.refers_to else { continue };
        let name = match scope {
            None => Some(r.path.as_str()),
            Some(s) => r.path.strip_prefix(s).and_then(|x| x.strip_prefix('!')),
        };
        let Some(name) = name.filter(|n| !n.contains('!')) else {
            continue;
        };
        match size_of(name) {
            None => out.push(Finding::new(
                &f.path,
                "onnx.external-data-missing",
                Category::Integrity,
                Severity::High,
                format!(
                    "tensor {:?} reads its data from {:?}, which is not a regular file in the \
                     bundle: at load time the runtime would read whatever unsigned file is at \
                     that path",
                    r.by, r.path
                ),
                r.path.as_bytes(),
            )),
            Some(size) => {
                let end = match r.length {
                    Some(len) => r.offset.checked_add(len),
                    None => Some(r.offset),
                };
                if end.is_none_or(|e| e > size) {
                    out.push(Finding::new(
                        &f.path,
                        "onnx.external-data-range",
                        Category::Integrity,
                        Severity::High,
                        format!(
                            "tensor {:?} reads bytes {}..{} of {:?}, which holds only {size} \
                             bytes",
                            r.by,
                            r.offset,
                            end.map_or_else(|| "(overflow)".to_string(), |e| e.to_string()),
                            r.path
                        ),
                        format!("{}:{}:{:?}", r.path, r.offset, r.length).as_bytes(),
                    ));
                }
            }
        }
    }
    findings.append(&mut out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::DataRef;

    #[test]
    fn references_resolve_from_the_model_folder() {
        assert_eq!(resolve("m.onnx", "w.bin").as_deref(), Some("w.bin"));
        assert_eq!(
            resolve("a/b/m.onnx", "./data\\w.bin").as_deref(),
            Some("a/b/data/w.bin")
        );
        assert_eq!(
            resolve("a/m.onnx", "d//w.bin").as_deref(),
            Some("a/d/w.bin")
        );
        for bad in ["../w.bin", "/etc/passwd", "C:w.bin", "http://x/w", ""] {
            assert_eq!(resolve("a/m.onnx", bad), None, "{bad}");
        }
        // names the folder itself, which no regular file matches
        assert_eq!(resolve("a/m.onnx", ".").as_deref(), Some("a"));
        assert_eq!(resolve("m.onnx", "./").as_deref(), Some(""));
    }

    fn ref_finding(offset: u64, length: Option<u64>) -> Finding {
        Finding::new(
            "a/m.onnx",
            "onnx.external-data-ref",
            Category::Format,
            Severity::Info,
            "",
            b"",
        )
        .referring_to(DataRef {
            path: "a/w.bin".into(),
            by: "w".into(),
            offset,
            length,
        })
    }

    /// The findings `cross_check` adds to `given`.
    fn cross(mut given: Vec<Finding>, size_of: impl Fn(&str) -> Option<u64>) -> Vec<Finding> {
        let n = given.len();
        cross_check(&mut given, size_of);
        given.split_off(n)
    }

    #[test]
    fn cross_check_flags_missing_files_and_ranges_past_the_end() {
        let sizes = |p: &str| (p == "a/w.bin").then_some(100u64);
        let rules = |f: Vec<Finding>| f.into_iter().map(|x| x.rule).collect::<Vec<_>>();
        // inside, to the end, and whole
        for (off, len) in [(0, Some(100)), (40, Some(60)), (100, None), (0, None)] {
            assert!(
                cross(vec![ref_finding(off, len)], sizes).is_empty(),
                "{off} {len:?}"
            );
        }
        for (off, len) in [
            (0, Some(101)),
            (99, Some(2)),
            (101, None),
            (u64::MAX, Some(2)),
        ] {
            assert_eq!(
                rules(cross(vec![ref_finding(off, len)], sizes)),
                ["onnx.external-data-range"],
                "{off} {len:?}"
            );
        }
        assert_eq!(
            rules(cross(vec![ref_finding(0, Some(1))], |_| None)),
            ["onnx.external-data-missing"]
        );
        // findings without a reference are not looked at
        let plain = Finding::new("x", "r", Category::Format, Severity::Info, "", b"");
        assert!(cross(vec![plain], |_| None).is_empty());
    }

    #[test]
    fn nested_references_resolve_inside_their_container() {
        assert_eq!(
            reference("a.zip!m/x.onnx", "w.bin").as_deref(),
            Some("a.zip!m/w.bin")
        );
        assert_eq!(
            reference("a.zip!b.tar!x.onnx", "d/w.bin").as_deref(),
            Some("a.zip!b.tar!d/w.bin")
        );
        assert_eq!(reference("m/x.onnx", "w.bin").as_deref(), Some("m/w.bin"));
        assert_eq!(reference("a.zip!x.onnx", "../w.bin"), None);
    }

    fn at(path: &str) -> Finding {
        let mut f = ref_finding(0, Some(1));
        if let Some(r) = f.refers_to.as_mut() {
            r.path = path.into();
        }
        f
    }

    fn ref_paths(f: &[Finding]) -> Vec<&str> {
        f.iter()
            .filter_map(|x| x.refers_to.as_ref().map(|r| r.path.as_str()))
            .collect()
    }

    #[test]
    fn a_decompressed_model_refers_beside_its_compressed_file() {
        let mut f = vec![
            at("m/x.onnx.gz!w.bin"),
            at("a.zip!x.onnx.gz!d/w.bin"),
            at("x.onnx.gz!w.bin"),
            // not this container's, or one level further in: left alone
            at("m/y.gz!w.bin"),
            at("m/x.onnx.gz!in.tar!w.bin"),
        ];
        for c in ["m/x.onnx.gz", "a.zip!x.onnx.gz", "x.onnx.gz"] {
            rebase_to_sibling(&mut f, c);
        }
        assert_eq!(
            ref_paths(&f),
            [
                "m/w.bin",
                "a.zip!d/w.bin",
                "w.bin",
                "m/y.gz!w.bin",
                "m/x.onnx.gz!in.tar!w.bin"
            ]
        );
    }

    #[test]
    fn each_scope_checks_only_its_own_references() {
        let rules = |f: &[Finding]| f.iter().map(|x| x.rule.clone()).collect::<Vec<_>>();
        let given = vec![
            at("a/w.bin"),
            at("a.zip!w.bin"),
            at("a.zip!b.tar!w.bin"),
            at("other.zip!w.bin"),
        ];
        // the bundle's scope sees only its own files
        let mut f = given.clone();
        cross_check(&mut f, |_| None);
        assert_eq!(rules(&f[4..]), ["onnx.external-data-missing"]);
        assert_eq!(f[4].path, "a/m.onnx");
        // an archive's scope sees only references to its direct members, from `from` on
        let mut f = given.clone();
        check_members(&mut f, 0, "a.zip", |_| None);
        assert_eq!(f.len(), 5);
        let mut f = given.clone();
        check_members(&mut f, 2, "a.zip", |_| None);
        assert_eq!(f.len(), 4, "a reference before `from` is not looked at");
        let mut f = given;
        check_members(&mut f, 0, "a.zip!b.tar", |n| (n == "w.bin").then_some(1));
        assert_eq!(f.len(), 4, "present and in range");
    }

    #[test]
    fn locations() {
        assert!(location_problem("weights.bin").is_none());
        assert!(location_problem("sub/w.bin").is_none());
        assert!(location_problem("../../etc/shadow").is_some());
        assert!(location_problem("subdir/../../x").is_some());
        assert!(location_problem("/etc/passwd").is_some());
        assert!(location_problem("C:\\x").is_some());
    }
}
