//! TensorFlow SavedModel `saved_model.pb`: every op in the graphs and function library must be
//! on an allow-list; Python callbacks and file or network ops are findings.

use super::proto::{ProtoStream, Schema, Want};
use crate::inspect::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
};
use std::collections::BTreeSet;

const SAVED: u8 = 20;
const META: u8 = 21;
const GRAPH: u8 = 22;
const LIB: u8 = 23;
const FUNC: u8 = 24;
const NODE: u8 = 25;

/// Ops that run Python or arbitrary native code.
const CODE_OPS: &[&str] = &["PyFunc", "PyFuncStateless", "EagerPyFunc", "LoadLibrary"];
/// Ops that read or write files or talk to the network.
const IO_OPS: &[&str] = &[
    "ReadFile",
    "WriteFile",
    "MatchingFiles",
    "Save",
    "SaveSlices",
    "Restore",
    "RestoreSlice",
    "ImmutableConst",
    "CreateSummaryFileWriter",
    "WriteSummary",
    "WriteScalarSummary",
    "WriteTextSummary",
    "DebugIdentityV2",
    "DebugIdentityV3",
    "PrintV2",
    "Print",
    "FixedLengthRecordDataset",
    "TFRecordDataset",
    "TextLineDataset",
    "DatasetToTFRecord",
    "ExperimentalSqlDataset",
    "SqlDataset",
    "LMDBDataset",
    "InitializeTableFromTextFile",
    "InitializeTableFromTextFileV2",
    "ShardedFilespec",
    "RpcCall",
    "Rpc",
    "TryRpc",
    "SaveDataset",
    "LoadDataset",
    "SnapshotDataset",
    "CSVDataset",
];
/// Ops a SavedModel normally contains.
const ALLOWED: &[&str] = &[
    "Const",
    "Placeholder",
    "PlaceholderWithDefault",
    "Identity",
    "IdentityN",
    "NoOp",
    "VarHandleOp",
    "ReadVariableOp",
    "AssignVariableOp",
    "AssignAddVariableOp",
    "AssignSubVariableOp",
    "VariableV2",
    "Variable",
    "Assign",
    "VarIsInitializedOp",
    "SaveV2",
    "RestoreV2",
    "MergeV2Checkpoints",
    "ShardedFilename",
    "StringJoin",
    "StaticRegexFullMatch",
    "Select",
    "SelectV2",
    "StatefulPartitionedCall",
    "PartitionedCall",
    "MatMul",
    "BatchMatMul",
    "BatchMatMulV2",
    "BatchMatMulV3",
    "Add",
    "AddV2",
    "AddN",
    "Sub",
    "Mul",
    "Div",
    "RealDiv",
    "FloorDiv",
    "FloorMod",
    "Maximum",
    "Minimum",
    "Pow",
    "Sqrt",
    "Rsqrt",
    "Square",
    "SquaredDifference",
    "Exp",
    "Log",
    "Log1p",
    "Neg",
    "Abs",
    "Sign",
    "Tanh",
    "Sigmoid",
    "Relu",
    "Relu6",
    "Elu",
    "Selu",
    "LeakyRelu",
    "Softmax",
    "LogSoftmax",
    "Softplus",
    "Softsign",
    "Erf",
    "Conv2D",
    "Conv3D",
    "DepthwiseConv2dNative",
    "Conv2DBackpropInput",
    "BiasAdd",
    "MaxPool",
    "AvgPool",
    "MaxPool3D",
    "AvgPool3D",
    "FusedBatchNorm",
    "FusedBatchNormV3",
    "Reshape",
    "Shape",
    "ShapeN",
    "Size",
    "Rank",
    "Squeeze",
    "ExpandDims",
    "Transpose",
    "ConcatV2",
    "Pack",
    "Unpack",
    "Split",
    "SplitV",
    "Slice",
    "StridedSlice",
    "Gather",
    "GatherV2",
    "GatherNd",
    "ScatterNd",
    "Tile",
    "Pad",
    "PadV2",
    "MirrorPad",
    "Fill",
    "ZerosLike",
    "OnesLike",
    "Range",
    "Cast",
    "Mean",
    "Sum",
    "Max",
    "Min",
    "Prod",
    "All",
    "Any",
    "ArgMax",
    "ArgMin",
    "Equal",
    "NotEqual",
    "Less",
    "LessEqual",
    "Greater",
    "GreaterEqual",
    "LogicalAnd",
    "LogicalOr",
    "LogicalNot",
    "Where",
    "TopKV2",
    "OneHot",
    "Cumsum",
    "Einsum",
    "ResizeBilinear",
    "ResizeNearestNeighbor",
    "BroadcastTo",
    "BroadcastArgs",
    "Cos",
    "Sin",
    "Floor",
    "Ceil",
    "Round",
    "Reciprocal",
    "ClipByValue",
    "StopGradient",
    "PreventGradient",
    "CheckNumerics",
    "Assert",
    "If",
    "StatelessIf",
    "While",
    "StatelessWhile",
    "Case",
    "StatelessCase",
    "TensorListReserve",
    "TensorListFromTensor",
    "TensorListGetItem",
    "TensorListSetItem",
    "TensorListStack",
    "TensorListLength",
    "TensorListElementShape",
    "Merge",
    "Switch",
    "Enter",
    "Exit",
    "NextIteration",
    "LoopCond",
    "MutableHashTableV2",
    "HashTableV2",
    "LookupTableFindV2",
    "LookupTableImportV2",
    "LookupTableExportV2",
    "LookupTableSizeV2",
    "StringToHashBucketFast",
    "EnsureShape",
    "DivNoNan",
    "MulNoNan",
    "Einsum",
    "Rsqrt",
    "Square",
    "Conv1D",
    "LayerNorm",
    "MatrixBandPart",
    "Cumprod",
    "BatchToSpaceND",
    "SpaceToBatchND",
    "DepthToSpace",
    "SpaceToDepth",
    "ReverseV2",
    "Unique",
    "Bucketize",
    "SparseToDense",
    "RandomUniform",
    "RandomStandardNormal",
    "TruncatedNormal",
    "StatelessRandomUniformV2",
    "StatelessRandomNormalV2",
    "StatelessTruncatedNormalV2",
    "DisableCopyOnRead",
    "Bitcast",
    "Relu6Grad",
    "ResourceGather",
    "ResourceScatterAdd",
    "ResourceScatterUpdate",
    "NonMaxSuppressionV3",
    "NonMaxSuppressionV4",
    "NonMaxSuppressionV5",
    "CropAndResize",
    "StringFormat",
    "RegexReplace",
    "StringSplitV2",
    "StringLower",
    "Substr",
    "StringLength",
];

/// Distinct op names recorded (code and I/O ops always are).
const MAX_OPS: usize = 100_000;

/// The ops seen.
#[derive(Default)]
pub struct OpRecord {
    pub ops: BTreeSet<String>,
}

impl Schema for OpRecord {
    fn want(&mut self, kind: u8, field: u32) -> Want {
        match (kind, field) {
            (SAVED, 2) => Want::Descend(META),
            (META, 2) => Want::Descend(GRAPH),
            (GRAPH, 1) => Want::Descend(NODE),
            (GRAPH, 2) => Want::Descend(LIB),
            (LIB, 1) => Want::Descend(FUNC),
            (FUNC, 3) => Want::Descend(NODE),
            (NODE, 2) => Want::Capture,
            _ => Want::Skip,
        }
    }

    fn bytes(&mut self, kind: u8, field: u32, data: &[u8], _full: u64, _offset: u64) {
        if kind != NODE || field != 2 {
            return;
        }
        let op = String::from_utf8_lossy(data);
        // Code and I/O ops are always recorded (a fixed, short list): decoy ops must not
        // push them out. Other names are kept up to a cap; past it they are only low.
        let dangerous = grade(&op).is_some_and(|s| s >= Severity::High);
        if dangerous || self.ops.len() < MAX_OPS {
            self.ops.insert(op.into_owned());
        }
    }
}

/// Grade one op: `None` when allowed.
pub fn grade(op: &str) -> Option<Severity> {
    if CODE_OPS.contains(&op) {
        Some(Severity::Critical)
    } else if IO_OPS.contains(&op) {
        Some(Severity::High)
    } else if ALLOWED.contains(&op) {
        None
    } else {
        Some(Severity::Low)
    }
}

/// Whether `head` starts like a SavedModel proto (schema version 1, then a MetaGraphDef).
pub fn looks_like_saved_model(head: &[u8]) -> bool {
    if !head.starts_with(&[0x08, 0x01, 0x12]) {
        return false;
    }
    let mut p = ProtoStream::new(OpRecord::default(), SAVED);
    p.feed(head);
    p.ok()
}

/// SavedModel protos by content.
pub struct SavedModelInspector;

struct SmFile {
    path: String,
    p: ProtoStream<OpRecord>,
}

impl Inspector for SavedModelInspector {
    fn name(&self) -> &'static str {
        "saved-model"
    }

    fn open(
        &self,
        meta: &FileMeta<'_>,
        head: &[u8],
        _ctx: &ScanContext,
    ) -> Option<Box<dyn FileInspector>> {
        looks_like_saved_model(head).then(|| {
            Box::new(SmFile {
                path: meta.path.into(),
                p: ProtoStream::new(OpRecord::default(), SAVED),
            }) as Box<dyn FileInspector>
        })
    }
}

impl FileInspector for SmFile {
    fn update(&mut self, _offset: u64, data: &[u8], _out: &mut Vec<Finding>) -> Flow {
        self.p.feed(data);
        Flow::More
    }

    fn finish(mut self: Box<Self>, _total: u64, out: &mut Vec<Finding>) {
        self.p.finish();
        if let Some((at, msg)) = self.p.error() {
            out.push(
                Finding::new(
                    &self.path,
                    "savedmodel.malformed",
                    Category::Format,
                    Severity::High,
                    format!("malformed saved_model.pb at byte {at}: {msg}"),
                    msg.as_bytes(),
                )
                .at_offset(*at),
            );
        }
        for op in &self.p.schema.ops {
            if let Some(sev) = grade(op) {
                let why = match sev {
                    Severity::Critical => "runs Python or native code",
                    Severity::High => "reads or writes files or the network",
                    _ => "is outside the allow-list",
                };
                out.push(Finding::new(
                    &self.path,
                    "savedmodel.op",
                    Category::Code,
                    sev,
                    format!("graph uses op {op:?}, which {why}"),
                    op.as_bytes(),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::proto::test_field as field;
    use super::*;

    /// saved_model.pb bytes whose one graph has a node per op name.
    fn saved_model(ops: &[String]) -> Vec<u8> {
        let mut graph = Vec::new();
        for op in ops {
            let mut node = Vec::new();
            field(&mut node, 2, op.as_bytes());
            field(&mut graph, 1, &node);
        }
        let mut meta = Vec::new();
        field(&mut meta, 2, &graph);
        let mut pb = vec![0x08, 0x01];
        field(&mut pb, 2, &meta);
        pb
    }

    fn worst(pb: &[u8]) -> Option<Severity> {
        let insp = SavedModelInspector;
        let meta = FileMeta {
            path: "saved_model.pb",
            size: Some(pb.len() as u64),
            depth: 0,
        };
        let mut f = insp
            .open(&meta, pb, &ScanContext::default())
            .expect("sniffed");
        let mut out = Vec::new();
        let _ = f.update(0, pb, &mut out);
        f.finish(pb.len() as u64, &mut out);
        out.iter().map(|x| x.severity).max()
    }

    #[test]
    fn decoy_ops_cannot_push_a_code_op_out() {
        let mut ops: Vec<String> = (0..MAX_OPS + 5).map(|i| format!("Decoy{i}")).collect();
        ops.push("PyFunc".into());
        assert_eq!(worst(&saved_model(&ops)), Some(Severity::Critical));
        // the near-miss: decoys alone are only outside the allow-list
        ops.pop();
        assert_eq!(worst(&saved_model(&ops)), Some(Severity::Low));
    }
}
