//! `airgate reverify`: re-hash a staged tree against its receipt (for incident responders).

use super::common::Classed;
use super::common::{PlainFormat, ResultExt};
use super::init::gate_err;
use airgate::gate::Gate;
use airgate::gate::{gate_of, reverify};
use airgate::trust::PublicKey;
use std::path::PathBuf;

/// Arguments of `airgate reverify`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A staged version folder (`GATE/staging/<kind>/<name>/<version>`).
    pub staged_dir: PathBuf,
    /// The gate audit public key that signed the receipt (default: the gate it sits in).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: PlainFormat,
}

/// Run `airgate reverify`. Exit 0 when the tree matches its receipt, 1 otherwise.
pub fn run(a: Args) -> anyhow::Result<i32> {
    if !a.staged_dir.is_dir() {
        return Err(anyhow::anyhow!(
            "cannot read {}: {}",
            a.staged_dir.display(),
            match std::fs::metadata(&a.staged_dir) {
                Ok(_) => "not a folder".to_string(),
                Err(e) => super::common::io_cause(&e),
            }
        ))
        .operational();
    }
    let key = match &a.key {
        Some(k) => Some(PublicKey::load(k).classed()?),
        None => match gate_of(&a.staged_dir) {
            Some(root) => {
                let g = Gate::open(&root).map_err(gate_err)?;
                Some(g.load_audit_pub().map_err(gate_err)?)
            }
            None => None,
        },
    };
    let r = reverify(&a.staged_dir, key.as_ref()).map_err(gate_err)?;
    match a.format {
        PlainFormat::Json => println!("{}", serde_json::to_string_pretty(&r)?),
        _ => {
            println!(
                "{}: {} ({} files, {} bytes re-hashed; receipt signature {})",
                r.staged_dir,
                if r.clean() {
                    "matches its receipt"
                } else {
                    "DIFFERS from its receipt"
                },
                r.files_checked,
                r.bytes_checked,
                r.receipt_signature
            );
            for (label, list) in [
                ("changed", &r.changed),
                ("added", &r.added),
                ("missing", &r.missing),
                ("problem", &r.problems),
            ] {
                for x in list {
                    println!("  {label}: {x}");
                }
            }
        }
    }
    Ok(if r.clean() { 0 } else { 1 })
}
