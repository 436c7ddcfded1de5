//! Renderers for the one [`Report`] shape (defined in [`crate::vocab`]): human text, JSON
//! (the report's own serialisation) and SARIF.

mod human;
mod sarif;

pub use human::{plural, render as render_human, render_verbose as render_human_verbose};
pub use sarif::render as render_sarif;

pub use crate::vocab::report::{
    BundleInfo, Report, SignatureReport, SignatureStatus, Timings, ToolInfo,
};
