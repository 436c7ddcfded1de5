//! The inspectors' parts one by one, for the fuzz targets (`fuzz/`) and the benchmarks
//! (`examples/`): each parser of untrusted bytes callable on a byte slice, one namespace per
//! format. Verifying a bundle needs none of this: [`Engine`](super::Engine) runs them all.

/// GGUF (llama.cpp weights): the header and tensor-table parser and its streaming inspector.
pub mod gguf {
    pub use crate::inspect::models::gguf::{
        check_tensors, parse_header, GgufError, GgufHeader, GgufScan, TensorInfo,
    };
}

/// NumPy `.npy` arrays: the header parser and the streaming inspector.
pub mod npy {
    pub use crate::inspect::models::npy::{parse_header, NpyHeader, NpyScan};
}

/// ONNX models and TensorFlow SavedModels: sniffing and the streaming inspector.
pub mod onnx {
    pub use crate::inspect::models::onnx::{looks_like_onnx, OnnxScan};
    pub use crate::inspect::models::savedmodel::looks_like_saved_model;
}

/// Python pickles: sniffing, the opcode scanner over a whole buffer and the streaming
/// inspector.
pub mod pickle {
    pub use crate::inspect::models::pickle::{looks_like_pickle, scan_pickle_bytes, PickleScan};
}

/// safetensors: the header parser and the streaming inspector.
pub mod safetensors {
    pub use crate::inspect::models::safetensors::{
        parse_header, Header, SafetensorsScan, TensorEntry,
    };
}

/// Model configuration files: JSON configs and the chat templates they carry.
pub mod config {
    pub use crate::inspect::models::config::check_json_text;
    pub use crate::inspect::models::template::{check_template, Marker};
}

/// Zip-based model containers (PyTorch `.pt`, Keras, NumPy `.npz`): the streaming inspector.
pub mod zip {
    pub use crate::inspect::models::zip::ZipScan;
}

/// Datasets (Parquet, Arrow IPC): opening a layer by kind, Parquet page walking, file
/// sources.
pub mod datasets {
    pub use crate::inspect::datasets::parquet::{inspect as inspect_parquet, page_data};
    pub use crate::inspect::datasets::source::{FileSource, Source};
    pub use crate::inspect::datasets::{open, scan_file, Coverage, Kind};
}

/// Nested archives: the budget shared by every layer and the nesting context.
pub mod nested {
    pub use crate::inspect::nested::{Budget, Layer, Nest};
}

/// Package and compression formats (ar, cpio, rpm; xz, lzma, lz4): the fuzz drivers.
pub mod formats {
    pub use crate::inspect::formats::fuzz::{layers, reader, Which};
}

/// Text rules: rule files, host allow-lists, the keyword prefilter and printable spans.
pub mod text {
    pub use crate::inspect::text::gitleaks::{parse as parse_gitleaks, Loaded, PathRule, Scope};
    pub use crate::inspect::text::host::{
        classify, parse_authority, AllowError, AllowList, HostKind,
    };
    pub use crate::inspect::text::keywords::{Hit, KeywordError, Keywords};
    pub use crate::inspect::text::matcher::{spans, RawMatch};
    pub use crate::inspect::text::rules::{load as load_rules, Rule, RuleError};
    pub use crate::inspect::text::{looks_text, ScannerError};
}
