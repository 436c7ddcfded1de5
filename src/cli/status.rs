//! `airgate status`: a gate's counts, its last decisions and the bundles waiting.

use super::common::PlainFormat;
use super::init::{gate_err, open};
use std::path::PathBuf;

/// Arguments of `airgate status`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The gate folder.
    #[arg(long)]
    pub gate: PathBuf,
    /// How many recent decisions to show.
    #[arg(long, default_value_t = 10)]
    pub last: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: PlainFormat,
}

/// Run `airgate status`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let gate = open(&a.gate)?;
    let s = airgate::gate::status(&gate, a.last).map_err(gate_err)?;
    match a.format {
        PlainFormat::Json => println!("{}", serde_json::to_string_pretty(&s)?),
        _ => {
            println!("gate {}", s.gate);
            println!(
                "  staged {}  quarantined {}  waiting {}  incomplete {}  in flight {}  audit records {}",
                s.staged,
                s.quarantined,
                s.waiting.len(),
                s.incomplete,
                s.in_flight,
                s.audit_records
            );
            match s.trust_version {
                Some(v) => println!("  trust: version {v} (state/trust.toml)"),
                None => println!("  trust: the policy's keys (no root role, no rotation)"),
            }
            for w in &s.waiting {
                println!("  waiting: {w}");
            }
            for n in &s.not_taken {
                println!("  not taken: {} ({})", n.name, n.reason);
            }
            for q in &s.unrecorded_quarantine {
                println!("  quarantined without an audit record: {q} (admit the bundle again)");
            }
            if !s.recent.is_empty() {
                println!("  last decisions:");
            }
            for r in &s.recent {
                println!(
                    "  #{} {} {:<11} {}/{}/{} ({}){}",
                    r.seq,
                    r.time,
                    r.outcome,
                    r.kind,
                    r.name,
                    r.version,
                    r.file,
                    if r.reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", r.reason)
                    }
                );
            }
        }
    }
    Ok(0)
}
