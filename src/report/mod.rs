//! Renderers for the one [`Report`] shape (defined in [`crate::vocab`]): human text, JSON
//! (the report's own serialisation) and SARIF.

pub mod human;
pub mod sarif;

pub use crate::vocab::report::{
    BundleInfo, Report, SignatureReport, SignatureStatus, Timings, ToolInfo,
};
