//! `airgate admit`: verify and inspect one bundle, then stage or quarantine it in a gate.

use super::common::{print_report, Format, ResultExt};
use super::init::{check_format, gate_err, open};
use airgate::gate::verifier::BundleVerifier;
use airgate::gate::{admit, admit_intake, AdmitOptions};
use std::path::{Path, PathBuf};

/// Arguments of `airgate admit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle (a native bundle, a `trust` rotation bundle, or a plain tar of a model
    /// folder with its OpenSSF `model.sig` at the root). Inside the gate's intake/ it is
    /// removed once its outcome is durable; elsewhere it is left in place (and copied or
    /// linked into quarantine).
    pub bundle: PathBuf,
    /// The gate folder.
    #[arg(long)]
    pub gate: PathBuf,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// Whether `bundle` sits directly in `dir`.
pub fn is_inside(bundle: &Path, dir: &Path) -> bool {
    let parent = bundle.parent().map(|p| {
        if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        }
    });
    match (
        parent.and_then(|p| p.canonicalize().ok()),
        dir.canonicalize(),
    ) {
        (Some(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Run `airgate admit`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    check_format(a.format)?;
    let gate = open(&a.gate)?;
    let policy = gate.load_policy().map_err(gate_err)?;
    let engine = super::common::engine_for(&policy).config()?;
    let verifier = BundleVerifier { engine };
    let inside = is_inside(&a.bundle, &gate.intake());
    if inside {
        // an earlier run killed mid-way may still hold this bundle as a claim: return it first
        airgate::gate::claim::clean_dead_work(&gate).map_err(gate_err)?;
    }
    if !a.bundle.is_file() {
        return Err(super::common::usage(format!(
            "{} is not a file",
            a.bundle.display()
        )));
    }
    let opts = AdmitOptions {
        verifier: &verifier,
        now: airgate::util::now_secs(),
        consume_input: inside,
        file_name: None,
        cancel: None,
    };
    let r = if inside {
        let name = a
            .bundle
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        admit_intake(&gate, &policy, &name, &opts)
            .map_err(gate_err)?
            .ok_or_else(|| {
                anyhow::Error::from(super::common::CliError {
                    class: airgate::ErrorClass::Operational,
                    error: anyhow::anyhow!(
                        "{} was claimed by another process (a running `airgate watch`?)",
                        a.bundle.display()
                    ),
                })
            })?
    } else {
        admit(&gate, &policy, &a.bundle, &opts).map_err(gate_err)?
    };
    match a.format {
        Format::Json => {
            let v = serde_json::json!({
                "disposition": r.disposition.as_str(),
                "destination": r.destination,
                "sha256": r.sha256,
                "resumed": r.resumed,
                "report": r.report,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        _ => {
            print_report(&r.report, Format::Human)?;
            println!(
                "{}{}: {}",
                r.disposition.as_str(),
                if r.resumed {
                    " (finished an interrupted or repeated run: decided once)"
                } else {
                    ""
                },
                r.destination.display()
            );
        }
    }
    Ok(r.disposition.exit_code())
}
