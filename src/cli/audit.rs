//! `airgate audit`: verify the gate's hash-chained audit log against its checkpoints, and
//! sign a checkpoint to export to another medium.

use super::common::{PlainFormat, ResultExt};
use super::init::{gate_err, open};
use airgate::gate::audit::{verify_chain, Record};
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
            let _lock =
                airgate::gate::fsutil::GateLock::acquire(&gate.lock_path()).map_err(gate_err)?;
            let c = if accept_unsigned_records {
                accept_unsigned(&gate, &key)?
            } else {
                checkpoint::refresh(&gate.audit_dir(), &key, false).map_err(gate_err)?
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
        .prefix(&airgate::util::tmp::prefix("checkpoint"))
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
fn accept_unsigned(
    gate: &airgate::gate::layout::Gate,
    key: &airgate::trust::keys::PrivateKey,
) -> anyhow::Result<Checkpoint> {
    let dir = gate.audit_dir();
    let before = Checkpoint::load(&dir.join(checkpoint::LATEST))
        .map(|c| c.size)
        .unwrap_or(0);
    let c = checkpoint::refresh(&dir, key, true).map_err(gate_err)?;
    if c.size == before {
        return Ok(c);
    }
    let policy = gate.load_policy().map_err(gate_err)?;
    let mut rec = Record::new("audit", "unsigned-accepted", &policy.digest());
    rec.reasons = vec![format!(
        "records {before}..{} followed the last signed checkpoint (not written by the gate, \
         or by a version that signed after writing) and were accepted by an operator",
        c.size - 1
    )];
    checkpoint::append(&dir, key, rec).map_err(gate_err)?;
    Checkpoint::load(&dir.join(checkpoint::LATEST)).map_err(gate_err)
}

fn verify(
    gate: PathBuf,
    extra: Vec<PathBuf>,
    key: Option<PathBuf>,
    format: PlainFormat,
) -> anyhow::Result<i32> {
    let gate = open(&gate)?;
    let key = match key {
        Some(k) => PublicKey::load(&k).config()?,
        None => gate.load_audit_pub().map_err(gate_err)?,
    };
    let chain = verify_chain(&gate.audit_log()).map_err(gate_err)?;
    let mut problems = chain.problems.clone();
    let stored = gate.audit_dir().join(checkpoint::LATEST);
    let mut checked = 0u64;
    // a write-ahead checkpoint that covers the whole log (a crash before its promotion)
    let pending = Checkpoint::load(&gate.audit_dir().join(checkpoint::PENDING))
        .ok()
        .filter(|p| p.size == chain.records && p.check(&key, &chain).is_empty());
    if stored.exists() {
        let c = Checkpoint::load(&stored).map_err(gate_err)?;
        problems.extend(
            c.check(&key, &chain)
                .into_iter()
                .map(|p| format!("stored checkpoint: {p}")),
        );
        if c.size < chain.records && pending.is_none() {
            // the gate signs a checkpoint before it writes a record
            problems.push(format!(
                "records {}..{} follow the stored checkpoint and no checkpoint signed by the \
                 gate covers them: they were appended outside the gate (after review, `audit \
                 checkpoint --accept-unsigned-records` signs them)",
                c.size,
                chain.records - 1
            ));
        }
        checked += 1;
    } else if chain.records > 0 && pending.is_none() {
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
        PlainFormat::Json => {
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
