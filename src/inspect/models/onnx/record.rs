//! What the ONNX schema walk collects from a model: operators, model-local functions,
//! external-data references and strings for the text rules, within record limits that fail
//! closed (`overflow`).

use super::super::proto::{Schema, Want};
use super::refs::location_problem;
use std::collections::BTreeSet;

pub(super) const MODEL: u8 = 0;
const GRAPH: u8 = 1;
const NODE: u8 = 2;
const ATTR: u8 = 3;
const TENSOR: u8 = 4;
const EXT_ENTRY: u8 = 5;
const META_ENTRY: u8 = 6;
const FUNCTION: u8 = 8;
const SPARSE: u8 = 9;
/// Distinct (domain, op) pairs, functions and strings recorded.
pub(super) const MAX_RECORDS: usize = 10_000;
/// Tensors with external data recorded (a large model may keep every tensor in its own file).
pub(super) const MAX_EXTERNAL: usize = 100_000;
/// Bytes of metadata and doc strings held for the text rules.
pub(super) const MAX_TEXT_BYTES: usize = 64 << 20;

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
