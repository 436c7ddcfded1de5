//! ONNX models: external tensor data must name a relative path inside the model folder
//! (CVE-2022-25882, CVE-2024-27318), node domains outside the standard ones need native
//! custom-op libraries, and metadata/doc strings go through the text rules.

mod record;
mod refs;

pub use record::OnnxRecord;
pub use refs::{check_members, cross_check, location_problem, rebase_to_sibling, reference};

use super::proto::ProtoStream;
use crate::inspect::{
    Category, DataRef, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
};
use record::{MAX_EXTERNAL, MAX_RECORDS, MAX_TEXT_BYTES, MODEL};
use std::collections::BTreeSet;

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
    use super::super::proto::test_field as field;
    use super::*;

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
}
