//! airgate: a transfer-gate import verifier. Bytes flow one way through
//! `container` → `trust` → `verify` → `inspect` → `decide` → `gate` → `report`.
#![forbid(unsafe_code)]

pub mod bundle;
pub mod container;
pub mod decide;
pub mod gate;
pub mod inspect;
pub mod policy;
pub mod report;
pub mod trust;
pub mod util;
pub mod verify;
pub mod vocab;

/// How an error should be reported to a script: the process exit code contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The input was examined and refused (exit 1).
    Rejected,
    /// Usage or configuration is wrong: missing key file, bad policy (exit 2).
    Config,
    /// Operational failure where nothing was decided: I/O, disk full (exit 3).
    Operational,
}

impl ErrorClass {
    /// The process exit code for this class of error.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorClass::Rejected => 1,
            ErrorClass::Config => 2,
            ErrorClass::Operational => 3,
        }
    }
}
