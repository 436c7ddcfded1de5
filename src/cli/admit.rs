//! `airgate admit`: verify and inspect one bundle, then stage or quarantine it in a gate.

use super::common::Classed;
use super::common::{print_report, Format, PlainFormat, ResultExt};
use super::init::{gate_err, open};
use airgate::gate::BundleVerifier;
use airgate::gate::{admit, admit_intake, AdmitOptions};
use std::path::{Path, PathBuf};

/// Arguments of `airgate admit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle (a native bundle, a `trust` rotation bundle, or a plain tar of a model
    /// folder with its OpenSSF `model.sig` at the root). Inside the gate's intake/ it is
    /// removed once its outcome is durable; elsewhere it is left in place (and copied or
    /// linked into quarantine).
    /// `-` reads the bundle from standard input.
    pub bundle: PathBuf,
    /// The gate folder.
    #[arg(long)]
    pub gate: PathBuf,
    /// Extra rule file (gitleaks format `[[rules]]`, or airgate's `[[rule]]`), run beside
    /// the built-in rules; repeatable. Adds to the policy's `[inspect] rule_files`.
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: PlainFormat,
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
    let gate = open(&a.gate)?;
    let mut policy = gate.load_policy().map_err(gate_err)?;
    super::policy::check(&policy)?;
    super::common::add_rule_files(&mut policy, &a.rules)?;
    let engine = super::common::engine_for(&policy).classed()?;
    let verifier = BundleVerifier { engine };
    let inside = a.bundle.as_os_str() != "-" && is_inside(&a.bundle, &gate.intake());
    if inside {
        // an earlier run killed mid-way may still hold this bundle as a claim: return it first
        airgate::gate::clean_dead_work(&gate).map_err(gate_err)?;
    }
    let input = super::common::Input::open(&a.bundle)?;
    if !input.path().is_file() {
        return Err(anyhow::anyhow!(
            "cannot admit {}: it is not a file",
            a.bundle.display()
        ))
        .operational();
    }
    let opts = AdmitOptions {
        verifier: &verifier,
        now: airgate::util::now_secs(),
        consume_input: inside,
        file_name: input.is_stdin().then(|| "stdin".to_string()),
        cancel: None,
    };
    let mut r = if inside {
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
        admit(&gate, &policy, input.path(), &opts).map_err(gate_err)?
    };
    input.rename_in(&mut r.report);
    match a.format {
        PlainFormat::Json => {
            let v = serde_json::json!({
                "disposition": r.disposition.as_str(),
                "destination": r.destination,
                "sha256": r.sha256,
                "resumed": r.resumed,
                "decided_before": r.decided_before,
                "report": r.report,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        PlainFormat::Human => match &r.decided_before {
            Some(when) => println!(
                "already {} at {}, decided at {when}; {}",
                r.disposition.as_str(),
                r.destination.display(),
                if r.resumed {
                    "this run finished the interrupted one (removed the bundle from intake)"
                } else {
                    "nothing done again"
                }
            ),
            None => {
                print_report(&r.report, Format::Human)?;
                println!(
                    "{}{}: {}",
                    r.disposition.as_str(),
                    if r.resumed {
                        " (finished an interrupted run)"
                    } else {
                        ""
                    },
                    r.destination.display()
                );
            }
        },
    }
    Ok(r.disposition.exit_code())
}
