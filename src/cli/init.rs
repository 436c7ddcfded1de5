//! `airgate init`: create a gate directory (folders, policy copy, audit key, airgate.toml).

use super::common::CliError;
use airgate::gate::{Gate, GateError};
use std::path::PathBuf;

/// Arguments of `airgate init`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The gate folder to create (must not exist, or be empty). It is built beside, in a
    /// temporary folder, and renamed into place only when complete.
    pub gate: PathBuf,
    /// The policy to copy into the gate (files it names by relative path are copied too); it
    /// is checked first, as `airgate policy check` does.
    #[arg(long)]
    pub policy: PathBuf,
    /// Admit a bundle in `intake/` only once a `NAME.ready` marker sits beside it.
    #[arg(long)]
    pub require_ready: bool,
}

/// A gate error as a CLI error carrying its exit-code class.
pub fn gate_err(e: GateError) -> anyhow::Error {
    CliError {
        class: e.class(),
        error: e.into(),
    }
    .into()
}

/// Open a gate, mapping errors to exit codes.
pub fn open(gate: &std::path::Path) -> anyhow::Result<Gate> {
    Gate::open(gate).map_err(gate_err)
}

/// Run `airgate init`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    super::signals::clean_up_on_signal(vec![super::signals::dir_of(&a.gate)]);
    let opts = airgate::gate::InitOptions {
        require_ready: a.require_ready,
    };
    let gate = airgate::gate::init_with(&a.gate, &a.policy, &opts).map_err(gate_err)?;
    println!("gate created at {}", gate.root.display());
    println!("  policy:    {}", gate.policy_path().display());
    println!(
        "  audit key: {} (id {})",
        gate.root.join(&gate.config.audit_pub).display(),
        gate.config.audit_key_id
    );
    if gate.config.require_ready {
        println!(
            "  drop bundles into {} and then a NAME.ready marker beside each",
            gate.intake().display()
        );
    } else {
        println!(
            "  drop bundles into {} (write as NAME.part, then rename)",
            gate.intake().display()
        );
    }
    Ok(0)
}
