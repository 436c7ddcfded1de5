//! Model-file inspectors: what loading a model would execute (pickle, PyTorch, numpy,
//! safetensors, GGUF, ONNX, Keras).

pub mod config;
pub mod gguf;
pub mod hdf5;
pub mod keras;
pub mod member;
pub mod npy;
pub mod onnx;
pub mod opaque;
pub mod pickle;
pub mod proto;
pub mod safetensors;
pub mod savedmodel;
pub mod template;
pub mod zip;

use super::{Finding, Inspector};

/// Every model-format inspector, in the order they run.
pub fn inspectors() -> Vec<Box<dyn Inspector>> {
    vec![
        Box::new(pickle::PickleInspector),
        Box::new(zip::ZipInspector),
        Box::new(npy::NpyInspector),
        Box::new(opaque::OpaqueInspector),
        Box::new(config::ConfigInspector),
        Box::new(hdf5::Hdf5Inspector),
        Box::new(safetensors::SafetensorsInspector),
        Box::new(gguf::GgufInspector),
        Box::new(onnx::OnnxInspector),
        Box::new(savedmodel::SavedModelInspector),
    ]
}

/// Drop findings whose fingerprint already occurred (the same finding reported by a container
/// inspector and by engine recursion into the same member).
pub fn dedup(findings: &mut Vec<Finding>) {
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| seen.insert(f.fingerprint.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::{Category, Severity};

    #[test]
    fn dedup_drops_only_identical_fingerprints() {
        let a = Finding::new(
            "m.pt!archive/data.pkl",
            "pickle.global",
            Category::Code,
            Severity::Critical,
            "x",
            b"os.system",
        );
        let b = Finding::new(
            "m.pt!archive/data.pkl",
            "pickle.global",
            Category::Code,
            Severity::Critical,
            "x",
            b"posix.system",
        );
        let mut v = vec![a.clone(), b.clone(), a.clone()];
        dedup(&mut v);
        assert_eq!(v, vec![a, b]);
    }
}
