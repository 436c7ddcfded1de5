//! `airgate audit`: verify the gate's hash-chained audit log against its checkpoints, and
//! sign a checkpoint to export to another medium.

use super::common::{Format, ResultExt};
use super::init::{check_format, gate_err, open};
use airgate::gate::audit::verify_chain;
use airgate::gate::checkpoint::{self, Checkpoint};
use airgate::trust::keys::PublicKey;
use std::path::PathBuf;

/// Arguments of `airgate audit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

/// `audit` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Sub {
    /// Check the chain of records and every checkpoint; exit 1 when tampering is found.
    Verify {
        #[arg(long)]
        gate: PathBuf,
        /// An exported checkpoint to check as well (repeatable).
        #[arg(long = "checkpoint")]
        checkpoints: Vec<PathBuf>,
        /// The gate's audit public key from a trusted copy (default: the gate's own).
        #[arg(long)]
        key: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Sign the log's current size and head hash with the gate key.
    Checkpoint {
        #[arg(long)]
        gate: PathBuf,
        /// Also write the checkpoint here (for another medium).
        #[arg(short = 'o', long)]
        out: Option<PathBuf>,
    },
}

/// Run `airgate audit`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    match a.command {
        Sub::Verify {
            gate,
            checkpoints,
            key,
            format,
        } => verify(gate, checkpoints, key, format),
        Sub::Checkpoint { gate, out } => {
            let gate = open(&gate)?;
            let key = gate.load_audit_key().map_err(gate_err)?;
            let c = checkpoint::refresh(&gate.audit_dir(), &key).map_err(gate_err)?;
            if let Some(out) = out {
                std::fs::write(&out, c.to_json()).operational()?;
            }
            print!("{}", c.to_json());
            Ok(0)
        }
    }
}

fn verify(
    gate: PathBuf,
    extra: Vec<PathBuf>,
    key: Option<PathBuf>,
    format: Format,
) -> anyhow::Result<i32> {
    check_format(format)?;
    let gate = open(&gate)?;
    let key = match key {
        Some(k) => PublicKey::load(&k).config()?,
        None => gate.load_audit_pub().map_err(gate_err)?,
    };
    let chain = verify_chain(&gate.audit_log()).map_err(gate_err)?;
    let mut problems = chain.problems.clone();
    let stored = gate.audit_dir().join(checkpoint::LATEST);
    let mut checked = 0u64;
    if stored.exists() {
        let c = Checkpoint::load(&stored).map_err(gate_err)?;
        problems.extend(
            c.check(&key, &chain)
                .into_iter()
                .map(|p| format!("stored checkpoint: {p}")),
        );
        checked += 1;
    } else if chain.records > 0 {
        problems.push(format!(
            "the gate's stored checkpoint {} is missing",
            stored.display()
        ));
    }
    for p in &extra {
        let c = Checkpoint::load(p).map_err(gate_err)?;
        problems.extend(
            c.check(&key, &chain)
                .into_iter()
                .map(|m| format!("checkpoint {}: {m}", p.display())),
        );
        checked += 1;
    }
    let ok = problems.is_empty();
    match format {
        Format::Json => {
            let v = serde_json::json!({
                "ok": ok,
                "records": chain.records,
                "head": chain.head,
                "checkpoints_checked": checked,
                "problems": problems,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        _ => {
            if ok {
                println!(
                    "audit log OK: {} records, head {}, {checked} checkpoint(s) hold",
                    chain.records, chain.head
                );
            } else {
                println!(
                    "audit log FAILED verification ({} problems):",
                    problems.len()
                );
                for p in &problems {
                    println!("  - {p}");
                }
            }
        }
    }
    Ok(if ok { 0 } else { 1 })
}
