//! ONNX models: external tensor data must name a relative path inside the model folder
//! (CVE-2022-25882, CVE-2024-27318), node domains outside the standard ones need native
//! custom-op libraries, and metadata/doc strings go through the text rules.

use super::proto::{ProtoStream, Schema, Want};
use crate::inspect::{
    Category, DataRef, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
};
use std::collections::BTreeSet;

const MODEL: u8 = 0;
const GRAPH: u8 = 1;
const NODE: u8 = 2;
const ATTR: u8 = 3;
const TENSOR: u8 = 4;
const EXT_ENTRY: u8 = 5;
const META_ENTRY: u8 = 6;
const FUNCTION: u8 = 8;
const SPARSE: u8 = 9;
/// Distinct (domain, op) pairs, functions and strings recorded.
const MAX_RECORDS: usize = 10_000;
/// Tensors with external data recorded (a large model may keep every tensor in its own file).
const MAX_EXTERNAL: usize = 100_000;
/// Bytes of metadata and doc strings held for the text rules.
const MAX_TEXT_BYTES: usize = 64 << 20;

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

/// What the schema collected.
#[derive(Default)]
pub struct OnnxRecord {
    /// (domain, op_type) of every node.
    pub ops: BTreeSet<(String, String)>,
    /// (domain, name) of model-local functions.
    pub functions: BTreeSet<(String, String)>,
    /// External data: (tensor name, location, offset text, length text).
    pub external: Vec<(String, String, String, String)>,
    /// Strings for the text rules: (offset, bytes).
    pub texts: Vec<(u64, Vec<u8>)>,
    /// What had more entries than is recorded: the rest went unchecked, so the model is
    /// refused (`onnx.too-large-to-check`) rather than passed.
    pub overflow: BTreeSet<&'static str>,
    text_bytes: usize,
    node_domain: String,
    node_op: String,
    fn_domain: String,
    fn_name: String,
    tensor_name: String,
    tensor_external: bool,
    ext: Vec<(String, String)>,
    key: String,
    val: String,
}

impl Schema for OnnxRecord {
    fn want(&mut self, kind: u8, field: u32) -> Want {
        match (kind, field) {
            (MODEL, 7) => Want::Descend(GRAPH),
            (MODEL, 14) => Want::Descend(META_ENTRY),
            (MODEL, 25) => Want::Descend(FUNCTION),
            (MODEL, 2 | 3 | 4 | 6) => Want::Capture,
            (GRAPH, 1) => Want::Descend(NODE),
            (GRAPH, 5) => Want::Descend(TENSOR),
            (GRAPH, 15) => Want::Descend(SPARSE),
            (GRAPH, 10) => Want::Capture,
            (NODE, 4 | 7) => Want::Capture,
            (NODE, 5) => Want::Descend(ATTR),
            (ATTR, 6 | 11) => Want::Descend(GRAPH),
            (ATTR, 5 | 12) => Want::Descend(TENSOR),
            (ATTR, 15) => Want::Descend(SPARSE),
            (TENSOR, 8) => Want::Capture,
            (TENSOR, 13) => Want::Descend(EXT_ENTRY),
            (EXT_ENTRY | META_ENTRY, 1 | 2) => Want::Capture,
            (FUNCTION, 1 | 10) => Want::Capture,
            (FUNCTION, 7) => Want::Descend(NODE),
            (SPARSE, 1 | 2) => Want::Descend(TENSOR),
            _ => Want::Skip,
        }
    }

    fn varint(&mut self, kind: u8, field: u32, v: u64) {
        if kind == TENSOR && field == 14 && v == 1 {
            self.tensor_external = true;
        }
    }

    fn bytes(&mut self, kind: u8, field: u32, data: &[u8], _full: u64, offset: u64) {
        let s = String::from_utf8_lossy(data).into_owned();
        match (kind, field) {
            (NODE, 4) => self.node_op = s,
            (NODE, 7) => self.node_domain = s,
            (TENSOR, 8) => self.tensor_name = s,
            (EXT_ENTRY | META_ENTRY, 1) => self.key = s,
            (EXT_ENTRY | META_ENTRY, 2) => self.val = s,
            (FUNCTION, 1) => self.fn_name = s,
            (FUNCTION, 10) => self.fn_domain = s,
            _ => {}
        }
        if matches!((kind, field), (MODEL, _) | (GRAPH, 10) | (META_ENTRY, _)) {
            if self.texts.len() < MAX_RECORDS && self.text_bytes + data.len() <= MAX_TEXT_BYTES {
                self.text_bytes += data.len();
                self.texts.push((offset, data.to_vec()));
            } else {
                self.overflow.insert("metadata and doc strings");
            }
        }
    }

    fn enter(&mut self, kind: u8) {
        match kind {
            NODE => {
                self.node_domain.clear();
                self.node_op.clear();
            }
            TENSOR => {
                self.tensor_name.clear();
                self.tensor_external = false;
                self.ext.clear();
            }
            EXT_ENTRY | META_ENTRY => {
                self.key.clear();
                self.val.clear();
            }
            FUNCTION => {
                self.fn_domain.clear();
                self.fn_name.clear();
            }
            _ => {}
        }
    }

    fn exit(&mut self, kind: u8) {
        match kind {
            NODE => {
                let pair = (self.node_domain.clone(), self.node_op.clone());
                if self.ops.len() < MAX_RECORDS {
                    self.ops.insert(pair);
                } else if !self.ops.contains(&pair) {
                    self.overflow.insert("distinct operators");
                }
            }
            EXT_ENTRY => self.ext.push((self.key.clone(), self.val.clone())),
            TENSOR
                if (self.tensor_external || !self.ext.is_empty())
                    && self.external.len() >= MAX_EXTERNAL =>
            {
                self.overflow.insert("tensors with external data");
            }
            TENSOR if self.tensor_external || !self.ext.is_empty() => {
                // the last entry of a key wins, as in onnx and onnxruntime; a repeated
                // `location` is checked whole: any refused one is the one reported
                let get = |k: &str| {
                    self.ext
                        .iter()
                        .rev()
                        .find(|e| e.0 == k)
                        .map(|e| e.1.clone())
                        .unwrap_or_default()
                };
                let location = self
                    .ext
                    .iter()
                    .find(|e| e.0 == "location" && location_problem(&e.1).is_some())
                    .map_or_else(|| get("location"), |e| e.1.clone());
                self.external.push((
                    self.tensor_name.clone(),
                    location,
                    get("offset"),
                    get("length"),
                ));
            }
            FUNCTION => {
                let f = (self.fn_domain.clone(), self.fn_name.clone());
                if self.functions.len() < MAX_RECORDS {
                    self.functions.insert(f);
                } else if !self.functions.contains(&f) {
                    self.overflow.insert("model-local functions");
                }
            }
            _ => {}
        }
    }
}

fn standard_domain(d: &str) -> bool {
    matches!(
        d,
        "" | "ai.onnx" | "ai.onnx.ml" | "ai.onnx.training" | "ai.onnx.preview.training"
    )
}

/// Findings for a parsed model.
pub fn findings(path: &str, rec: &OnnxRecord, out: &mut Vec<Finding>) {
    for what in &rec.overflow {
        out.push(Finding::new(
            path,
            "onnx.too-large-to-check",
            Category::Format,
            Severity::High,
            format!(
                "the model has more {what} than airgate records (limits: {MAX_RECORDS} \
                 operators, functions and strings, {MAX_TEXT_BYTES} bytes of strings, \
                 {MAX_EXTERNAL} external tensors): the rest were not checked, so the model is \
                 refused rather than passed unchecked"
            ),
            what.as_bytes(),
        ));
    }
    for (name, loc, off, len) in &rec.external {
        if let Some(why) = location_problem(loc) {
            out.push(Finding::new(path, "onnx.external-data", Category::Archive, Severity::High,
                format!("tensor {name:?} reads its data from {loc:?}, which {why}: loading would read a file outside the model"), loc.as_bytes()));
        } else if [off, len]
            .iter()
            .any(|v| !v.is_empty() && v.parse::<u64>().is_err())
        {
            out.push(Finding::new(
                path,
                "onnx.external-data",
                Category::Format,
                Severity::High,
                format!("tensor {name:?} has a non-numeric external data offset or length"),
                name.as_bytes(),
            ));
        } else {
            let f = Finding::new(
                path,
                "onnx.external-data-ref",
                Category::Format,
                Severity::Info,
                format!(
                    "tensor {name:?} data is in {loc:?} (must be a regular file inside the bundle)"
                ),
                loc.as_bytes(),
            );
            // A model inside an archive refers into that archive; its layer checks it.
            out.push(match reference(path, loc) {
                Some(target) => f.referring_to(DataRef {
                    path: target,
                    by: name.clone(),
                    offset: off.parse().unwrap_or(0),
                    length: len.parse().ok(),
                }),
                None => f,
            });
        }
    }
    let mut flagged = BTreeSet::new();
    for (domain, op) in &rec.ops {
        if standard_domain(domain)
            || rec.functions.contains(&(domain.clone(), op.clone()))
            || !flagged.insert(domain.clone())
        {
            continue;
        }
        let (sev, why) = if domain.starts_with("com.microsoft") {
            (Severity::Medium, "an ONNX Runtime contrib domain")
        } else {
            (
                Severity::High,
                "a custom domain that needs a native custom-op library",
            )
        };
        out.push(Finding::new(
            path,
            "onnx.custom-op",
            Category::Code,
            sev,
            format!("node {op:?} uses op domain {domain:?}, {why}"),
            domain.as_bytes(),
        ));
    }
}

/// Whether `head` starts like an ONNX ModelProto (ir_version first, then valid fields).
pub fn looks_like_onnx(head: &[u8]) -> bool {
    if head.len() < 4 || head[0] != 0x08 || !(3..=15).contains(&head[1]) {
        return false;
    }
    let mut p = ProtoStream::new(OnnxRecord::default(), MODEL);
    p.feed(head);
    p.ok()
}

/// Streaming ONNX scan.
pub struct OnnxScan {
    path: String,
    ctx: ScanContext,
    p: ProtoStream<OnnxRecord>,
}

impl OnnxScan {
    /// A scan of `path`.
    pub fn new(path: &str, ctx: ScanContext) -> OnnxScan {
        OnnxScan {
            path: path.into(),
            ctx,
            p: ProtoStream::new(OnnxRecord::default(), MODEL),
        }
    }

    /// Feed bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.p.feed(data);
    }

    /// End of file.
    pub fn finish(mut self, out: &mut Vec<Finding>) {
        self.p.finish();
        if let Some((at, msg)) = self.p.error() {
            out.push(
                Finding::new(
                    &self.path,
                    "onnx.malformed",
                    Category::Format,
                    Severity::High,
                    format!("malformed ONNX model at byte {at}: {msg}"),
                    msg.as_bytes(),
                )
                .at_offset(*at),
            );
        }
        for (off, t) in &self.p.schema.texts {
            self.ctx.text.scan_text(&self.path, Some(*off), t, out);
        }
        findings(&self.path, &self.p.schema, out);
    }
}

/// ONNX models by content.
pub struct OnnxInspector;

struct OnnxFile(OnnxScan);

impl Inspector for OnnxInspector {
    fn name(&self) -> &'static str {
        "onnx"
    }

    fn open(
        &self,
        meta: &FileMeta<'_>,
        head: &[u8],
        ctx: &ScanContext,
    ) -> Option<Box<dyn FileInspector>> {
        looks_like_onnx(head).then(|| {
            Box::new(OnnxFile(OnnxScan::new(meta.path, ctx.clone()))) as Box<dyn FileInspector>
        })
    }
}

impl FileInspector for OnnxFile {
    fn update(&mut self, _offset: u64, data: &[u8], _out: &mut Vec<Finding>) -> Flow {
        self.0.feed(data);
        Flow::More
    }

    fn finish(self: Box<Self>, _total: u64, out: &mut Vec<Finding>) {
        self.0.finish(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Protobuf field `tag` holding `body` (length-delimited).
    fn field(out: &mut Vec<u8>, tag: u32, body: &[u8]) {
        let mut key = u64::from(tag << 3 | 2);
        let mut len = body.len() as u64;
        for v in [&mut key, &mut len] {
            while *v >= 0x80 {
                out.push((*v as u8) | 0x80);
                *v >>= 7;
            }
            out.push(*v as u8);
        }
        out.extend_from_slice(body);
    }

    /// A model whose graph holds `graph` (already encoded graph fields).
    fn model(graph: &[u8]) -> Vec<u8> {
        let mut m = vec![0x08, 0x07];
        field(&mut m, 7, graph);
        m
    }

    fn node(op: &str, domain: &str) -> Vec<u8> {
        let mut n = Vec::new();
        field(&mut n, 4, op.as_bytes());
        field(&mut n, 7, domain.as_bytes());
        let mut g = Vec::new();
        field(&mut g, 1, &n);
        g
    }

    fn scan(bytes: &[u8]) -> Vec<Finding> {
        let policy = crate::policy::Policy::default();
        let engine = crate::inspect::build_engine(&policy).expect("engine");
        let mut f = engine.begin_file("m.onnx", Some(bytes.len() as u64), 0);
        f.update(bytes);
        f.finish()
    }

    fn rules_of(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|x| x.rule.as_str()).collect()
    }

    #[test]
    fn past_the_record_limits_a_model_is_refused_not_passed_half_checked() {
        // MAX_RECORDS distinct standard operators, then one in a custom domain
        let mut g = Vec::new();
        for i in 0..MAX_RECORDS {
            g.extend(node(&format!("Op{i}"), ""));
        }
        let at_limit = scan(&model(&g));
        assert!(
            !rules_of(&at_limit).contains(&"onnx.too-large-to-check"),
            "{at_limit:?}"
        );
        // the same operators again: nothing new to record
        let mut again = g.clone();
        again.extend(node("Op0", ""));
        assert!(!rules_of(&scan(&model(&again))).contains(&"onnx.too-large-to-check"));
        // one more distinct: it cannot be checked, so the model is refused
        g.extend(node("Evil", "com.attacker"));
        let over = scan(&model(&g));
        assert!(
            over.iter()
                .any(|f| f.rule == "onnx.too-large-to-check" && f.severity == Severity::High),
            "{:?}",
            rules_of(&over)
        );
    }

    #[test]
    fn every_location_entry_is_checked() {
        let entry = |k: &str, v: &str| {
            let mut e = Vec::new();
            field(&mut e, 1, k.as_bytes());
            field(&mut e, 2, v.as_bytes());
            e
        };
        let model_with = |locations: &[&str]| {
            let mut t = Vec::new();
            field(&mut t, 8, b"w");
            for l in locations {
                field(&mut t, 13, &entry("location", l));
            }
            let mut g = Vec::new();
            field(&mut g, 5, &t);
            model(&g)
        };
        // a harmless first entry must not hide the one the runtime uses
        let f = scan(&model_with(&["w.bin", "../../etc/shadow"]));
        assert!(
            f.iter()
                .any(|x| x.rule == "onnx.external-data" && x.severity == Severity::High),
            "{:?}",
            rules_of(&f)
        );
        // ... nor the other way round
        let f = scan(&model_with(&["../../etc/shadow", "w.bin"]));
        assert!(
            rules_of(&f).contains(&"onnx.external-data"),
            "{:?}",
            rules_of(&f)
        );
        // the near-miss: harmless entries only
        let f = scan(&model_with(&["w.bin", "data/w.bin"]));
        assert!(
            !rules_of(&f).contains(&"onnx.external-data"),
            "{:?}",
            rules_of(&f)
        );
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
