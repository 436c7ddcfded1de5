//! The gate: stage accepted bundles atomically, quarantine the rest, keep state and audit.
