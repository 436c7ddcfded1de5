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

use super::Inspector;

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
