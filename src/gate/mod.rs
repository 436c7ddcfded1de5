//! The gate: stage accepted bundles atomically, quarantine the rest, keep state and audit.
//!
//! Layout, receipt and audit formats are described in `docs/gate.md`.

mod admissible;
pub(crate) mod admit;
#[cfg(test)]
mod admit_tests;
pub(crate) mod audit;
pub(crate) mod audit_check;
pub(crate) mod checkpoint;
pub(crate) mod claim;
pub(crate) mod fsutil;
pub(crate) mod install;
#[cfg(test)]
mod install_tests;
pub(crate) mod layout;
pub(crate) mod model;
pub(crate) mod model_check;
pub(crate) mod publish;
pub(crate) mod quarantine;
pub(crate) mod receipt;
pub(crate) mod rotate;
pub(crate) mod state;
pub(crate) mod status;
mod tail;
pub(crate) mod trust;
pub(crate) mod verifier;
pub(crate) mod watch;

pub use admissible::Admissible;
pub use admit::{admit, admit_intake, AdmitOptions, AdmitResult, Disposition};
pub use audit::ChainCheck;
pub use audit_check::{accept_unsigned, verify_log, LogCheck};
pub use checkpoint::{refresh as refresh_checkpoint, Checkpoint};
pub use claim::{clean_dead_work, NotTaken};
pub use fsutil::GateLock;
pub use install::{
    check_staged as check_staged_release, install, previous_path as previous_install_path,
    rollback as rollback_install, InstallError, InstallOptions, Installed, StagedRelease,
};
pub use layout::{init, init_with, Gate, GateConfig, InitOptions};
pub use model_check::extract as extract_model_tar;
pub use receipt::{gate_of, reverify, Arrival, Receipt, Reverify};
pub use status::{status, Recent, Status};
pub use verifier::{BundleVerifier, Candidate, Verifier};
pub use watch::{watch, OnResult, WatchOptions, WatchStats};

use crate::ErrorClass;
use std::path::PathBuf;

/// Errors of gate operations. Nothing about a bundle's content is an error: a hostile bundle
/// is quarantined. Errors mean nothing was decided (or a decision could not be made durable).
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The gate or its policy is misconfigured (exit 2).
    #[error("{message}")]
    Config {
        /// What to fix.
        message: String,
    },
    /// An I/O step failed; the input stays where it was (exit 3).
    #[error("{what} {path}: {source}")]
    Io {
        /// The step that failed.
        what: String,
        /// The file or folder it acted on.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A gate file (state, log, receipt) is not what the gate wrote (exit 3).
    #[error("{path} is damaged: {message}")]
    Damaged {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The verifier could not decide (exit 2 or 3, by its class).
    #[error("verification did not complete: {message}")]
    Verify {
        /// Why verification stopped.
        message: String,
        /// Configuration or operational, for the exit code.
        class: ErrorClass,
    },
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

impl crate::Classified for GateError {
    fn class(&self) -> crate::ErrorClass {
        GateError::class(self)
    }
}
