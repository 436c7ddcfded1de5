//! The gate: stage accepted bundles atomically, quarantine the rest, keep state and audit.
//!
//! Layout, receipt and audit formats are described in `docs/gate.md`.

mod admissible;
pub mod admit;
#[cfg(test)]
mod admit_tests;
pub mod audit;
pub mod audit_check;
pub mod checkpoint;
pub mod claim;
pub mod fsutil;
pub mod install;
#[cfg(test)]
mod install_tests;
pub mod layout;
pub mod model;
pub mod model_check;
pub mod publish;
pub mod quarantine;
pub mod receipt;
pub mod rotate;
pub mod state;
pub mod status;
mod tail;
pub mod trust;
pub mod verifier;
pub mod watch;

pub use admissible::Admissible;
pub use admit::{admit, admit_intake, AdmitOptions, AdmitResult, Disposition};
pub use layout::{init, init_with, Gate, GateConfig, InitOptions};

use crate::ErrorClass;
use std::path::PathBuf;

/// Errors of gate operations. Nothing about a bundle's content is an error: a hostile bundle
/// is quarantined. Errors mean nothing was decided (or a decision could not be made durable).
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The gate or its policy is misconfigured (exit 2).
    #[error("{message}")]
    Config { message: String },
    /// An I/O step failed; the input stays where it was (exit 3).
    #[error("{what} {path}: {source}")]
    Io {
        what: String,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A gate file (state, log, receipt) is not what the gate wrote (exit 3).
    #[error("{path} is damaged: {message}")]
    Damaged { path: PathBuf, message: String },
    /// The verifier could not decide (exit 2 or 3, by its class).
    #[error("verification did not complete: {message}")]
    Verify { message: String, class: ErrorClass },
    /// The bundle was abandoned on request (SIGTERM) before anything was decided.
    #[error("abandoned on request before a decision")]
    Abandoned,
}

impl GateError {
    /// The exit-code class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            GateError::Config { .. } => ErrorClass::Config,
            GateError::Verify { class, .. } => *class,
            _ => ErrorClass::Operational,
        }
    }
}
