//! Model-file inspectors: what loading a model would execute (pickle, PyTorch, numpy,
//! safetensors, GGUF, ONNX, Keras).

pub mod pickle;

use super::Inspector;

/// Every model-format inspector, in the order they run.
pub fn inspectors() -> Vec<Box<dyn Inspector>> {
    vec![Box::new(pickle::PickleInspector)]
}
