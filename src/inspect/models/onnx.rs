//! ONNX models: external tensor data must name a relative path inside the model folder
//! (CVE-2022-25882, CVE-2024-27318), node domains outside the standard ones need native
//! custom-op libraries, and metadata/doc strings go through the text rules.

use super::proto::{ProtoStream, Schema, Want};
use crate::inspect::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
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
/// Distinct (domain, op) pairs and external references recorded.
const MAX_RECORDS: usize = 10_000;

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
        if matches!((kind, field), (MODEL, _) | (GRAPH, 10) | (META_ENTRY, _))
            && self.texts.len() < MAX_RECORDS
        {
            self.texts.push((offset, data.to_vec()));
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
            NODE if self.ops.len() < MAX_RECORDS => {
                self.ops
                    .insert((self.node_domain.clone(), self.node_op.clone()));
            }
            EXT_ENTRY => self.ext.push((self.key.clone(), self.val.clone())),
            TENSOR
                if (self.tensor_external || !self.ext.is_empty())
                    && self.external.len() < MAX_RECORDS =>
            {
                let get = |k: &str| {
                    self.ext
                        .iter()
                        .find(|e| e.0 == k)
                        .map(|e| e.1.clone())
                        .unwrap_or_default()
                };
                self.external.push((
                    self.tensor_name.clone(),
                    get("location"),
                    get("offset"),
                    get("length"),
                ));
            }
            FUNCTION => {
                self.functions
                    .insert((self.fn_domain.clone(), self.fn_name.clone()));
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
            out.push(Finding::new(
                path,
                "onnx.external-data-ref",
                Category::Format,
                Severity::Info,
                format!(
                    "tensor {name:?} data is in {loc:?} (must be a regular file inside the bundle)"
                ),
                loc.as_bytes(),
            ));
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
    fn locations() {
        assert!(location_problem("weights.bin").is_none());
        assert!(location_problem("sub/w.bin").is_none());
        assert!(location_problem("../../etc/shadow").is_some());
        assert!(location_problem("subdir/../../x").is_some());
        assert!(location_problem("/etc/passwd").is_some());
        assert!(location_problem("C:\\x").is_some());
    }
}
