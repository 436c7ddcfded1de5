//! The airgate bundle format: an in-toto statement in a DSSE envelope at the front of a
//! tar (or tar.zst), followed by the payload files. See `docs/bundle-format.md`.

pub mod statement;
pub mod version;

pub use statement::{Predicate, Statement, Subject};
pub use version::Version;
