//! `airgate watch`: the intake daemon. Admits bundles as they arrive in `GATE/intake/`;
//! SIGTERM or SIGINT stops it: a bundle still being verified is put back in intake
//! undecided, one already decided is finished first. A second signal exits at once (the
//! next start recovers the claim, as after a crash).

use super::common::Classed;
use super::common::{PlainFormat, ResultExt};
use super::init::{gate_err, open};
use airgate::gate::BundleVerifier;
use airgate::gate::{watch, WatchOptions};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `airgate watch`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The gate folder.
    #[arg(long)]
    pub gate: PathBuf,
    /// Seconds between full rescans of intake/ (fallback for missed file events).
    #[arg(long, default_value_t = 5)]
    pub rescan_secs: u64,
    /// Admit what is waiting, then exit.
    #[arg(long)]
    pub once: bool,
    /// Extra rule file (gitleaks format `[[rules]]`, or airgate's `[[rule]]`), run beside
    /// the built-in rules; repeatable. Adds to the policy's `[inspect] rule_files`.
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// One line per bundle: human text or JSON.
    #[arg(long, value_enum, default_value = "human")]
    pub format: PlainFormat,
}

/// Run `airgate watch`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    // first, so that a stop request during start-up (policy check, rule compilation) is seen
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // the first signal sets `stop`; a second one, with `stop` already set, exits
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))
            .operational()?;
        signal_hook::flag::register(sig, Arc::clone(&stop)).operational()?;
    }
    let gate = open(&a.gate)?;
    let mut policy = gate.load_policy().map_err(gate_err)?;
    super::policy::check(&policy)?;
    super::common::add_rule_files(&mut policy, &a.rules)?;
    let engine = super::common::engine_for(&policy).classed()?;
    let verifier = BundleVerifier { engine };
    let opts = WatchOptions {
        verifier: &verifier,
        rescan: Duration::from_secs(a.rescan_secs.max(1)),
        once: a.once,
        stop,
        on_not_taken: &|n| {
            eprintln!(
                "airgate watch: not taking intake/{}: {} (`airgate status` lists it too)",
                n.name, n.reason
            )
        },
    };
    let json = a.format == PlainFormat::Json;
    let mut print =
        |name: &str, res: &Result<airgate::gate::AdmitResult, airgate::gate::GateError>| {
            let line = match (res, json) {
                (Ok(r), true) => serde_json::json!({
                    "bundle": name, "disposition": r.disposition.as_str(),
                    "destination": r.destination, "sha256": r.sha256, "resumed": r.resumed,
                    "reasons": r.report.reasons,
                })
                .to_string(),
                (Err(e), true) => {
                    serde_json::json!({"bundle": name, "error": e.to_string()}).to_string()
                }
                (Ok(r), false) => format!(
                    "{name}: {} -> {}{}",
                    r.disposition.as_str(),
                    r.destination.display(),
                    r.report
                        .reasons
                        .first()
                        .map(|x| format!(" ({x})"))
                        .unwrap_or_default()
                ),
                (Err(airgate::gate::GateError::Abandoned), false) => {
                    format!("{name}: abandoned on stop request (left in intake, undecided)")
                }
                (Err(e), false) => format!("{name}: error (left in intake): {e}"),
            };
            println!("{line}");
        };
    let stats = watch(&gate, &policy, &opts, &mut print).map_err(gate_err)?;
    eprintln!(
        "airgate watch: stopped; staged {}, quarantined {}, errors {}, recovered claims {}, \
         abandoned {}",
        stats.staged, stats.quarantined, stats.errors, stats.recovered, stats.abandoned
    );
    Ok(0)
}
