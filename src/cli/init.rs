//! `airgate init`: create a gate directory (folders, policy copy, audit key, airgate.toml).

use super::common::{CliError, Format};
use airgate::gate::{Gate, GateError};
use std::path::PathBuf;

/// Arguments of `airgate init`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The gate folder to create (must not exist, or be empty).
    pub gate: PathBuf,
    /// The policy to copy into the gate (files it names by relative path are copied too).
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

/// Human or JSON only (SARIF is for findings reports).
pub fn check_format(f: Format) -> anyhow::Result<()> {
    if f == Format::Sarif {
        return Err(super::common::usage(
            "--format sarif is not available for this command",
        ));
    }
    Ok(())
}

/// Run `airgate init`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let mut gate = airgate::gate::init(&a.gate, &a.policy).map_err(gate_err)?;
    if a.require_ready {
        gate.config.require_ready = true;
        let text =
            toml::to_string(&gate.config).map_err(|e| super::common::usage(e.to_string()))?;
        airgate::gate::fsutil::replace_atomic(
            &gate.root.join(airgate::gate::layout::CONFIG_FILE),
            format!("# airgate gate configuration (written by `airgate init`)\n{text}").as_bytes(),
        )
        .map_err(gate_err)?;
    }
    println!("gate created at {}", gate.root.display());
    println!("  policy:    {}", gate.policy_path().display());
    println!(
        "  audit key: {} (id {})",
        gate.root.join(&gate.config.audit_pub).display(),
        gate.config.audit_key_id
    );
    println!(
        "  drop bundles into {} (write as NAME.part, then rename)",
        gate.intake().display()
    );
    Ok(0)
}
