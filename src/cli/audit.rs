//! `airgate audit`: verify the gate's hash-chained audit log against its checkpoints, and
//! sign a checkpoint to export to another medium.

use super::common::Classed;
use super::common::{PlainFormat, ResultExt};
use super::init::{gate_err, open};
use airgate::trust::PublicKey;
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
        /// The gate folder.
        #[arg(long)]
        gate: PathBuf,
        /// An exported checkpoint to check as well (repeatable).
        #[arg(long = "checkpoint")]
        checkpoints: Vec<PathBuf>,
        /// The gate's audit public key from a trusted copy (default: the gate's own).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: PlainFormat,
    },
    /// Sign the log's current size and head hash with the gate key.
    Checkpoint {
        /// The gate folder.
        #[arg(long)]
        gate: PathBuf,
        /// Also write the checkpoint here (for another medium); an existing file is kept
        /// unless --force is given.
        #[arg(short = 'o', long)]
        out: Option<PathBuf>,
        /// With -o: replace an existing file.
        #[arg(long, requires = "out")]
        force: bool,
        /// Also sign records that follow the last signed checkpoint (the gate refuses to
        /// record anything while they are there: it signs every record before writing it).
        /// Review them first with `audit verify`; the acceptance is itself recorded.
        #[arg(long)]
        accept_unsigned_records: bool,
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
        Sub::Checkpoint {
            gate,
            out,
            force,
            accept_unsigned_records,
        } => {
            if let Some(o) = &out {
                if !force && std::fs::symlink_metadata(o).is_ok() {
                    return Err(super::common::usage(format!(
                        "refusing to overwrite existing {} (give --force to replace it)",
                        o.display()
                    )));
                }
            }
            let gate = open(&gate)?;
            let key = gate.load_audit_key().map_err(gate_err)?;
            let _lock = airgate::gate::GateLock::acquire(&gate.lock_path()).map_err(gate_err)?;
            let c = if accept_unsigned_records {
                airgate::gate::accept_unsigned(&gate, &key).map_err(gate_err)?
            } else {
                airgate::gate::refresh_checkpoint(&gate.audit_dir(), &key, false)
                    .map_err(gate_err)?
            };
            if let Some(out) = out {
                write_out(&out, c.to_json().as_bytes(), force)?;
            }
            print!("{}", c.to_json());
            Ok(0)
        }
    }
}

/// Write `bytes` to `out` atomically (a temporary beside it, then a rename); without
/// `force`, never over an existing file.
fn write_out(out: &std::path::Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = super::signals::dir_of(out);
    let mut tmp = tempfile::Builder::new()
        .prefix(&airgate::util::temp_prefix("checkpoint"))
        .tempfile_in(&dir)
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot write in {}: {}",
                dir.display(),
                super::common::io_cause(&e)
            )
        })
        .operational()?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot write {}: {}",
                out.display(),
                super::common::io_cause(&e)
            )
        })
        .operational()?;
    let persisted = if force {
        tmp.persist(out).map(|_| ())
    } else {
        tmp.persist_noclobber(out).map(|_| ())
    };
    match persisted {
        Ok(()) => Ok(()),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(super::common::usage(format!(
                "refusing to overwrite existing {} (give --force to replace it)",
                out.display()
            )))
        }
        Err(e) => Err(anyhow::anyhow!(
            "cannot write {}: {}",
            out.display(),
            super::common::io_cause(&e.error)
        ))
        .operational(),
    }
}

impl Args {
    /// Whether JSON output was asked for.
    pub fn wants_json(&self) -> bool {
        matches!(
            self.command,
            Sub::Verify {
                format: PlainFormat::Json,
                ..
            }
        )
    }
}

/// Sign the records after the last checkpoint, then record that an operator accepted them.
fn verify(
    gate: PathBuf,
    extra: Vec<PathBuf>,
    key: Option<PathBuf>,
    format: PlainFormat,
) -> anyhow::Result<i32> {
    let gate = open(&gate)?;
    let key = match key {
        Some(k) => PublicKey::load(&k).classed()?,
        None => gate.load_audit_pub().map_err(gate_err)?,
    };
    let check = airgate::gate::verify_log(&gate, &key, &extra).map_err(gate_err)?;
    let (chain_records, head, checked, problems) = (
        check.records,
        check.head.clone(),
        check.checkpoints_checked,
        check.problems.clone(),
    );
    let ok = problems.is_empty();
    match format {
        PlainFormat::Json => {
            let v = serde_json::json!({
                "ok": ok,
                "records": chain_records,
                "head": head,
                "checkpoints_checked": checked,
                "problems": problems,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        _ => {
            if ok {
                println!(
                    "audit log OK: {} records, head {}, {checked} checkpoint(s) hold",
                    chain_records, head
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
