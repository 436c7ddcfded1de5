//! `airgate scan PATH`: inspect a file, a folder or a bundle (read as an archive, without
//! trust checks) for secrets, reachback and unsafe model files; same report, formats and
//! exit codes as `verify`.

use super::common::Classed;
use super::common::{print_report, usage, Format, Input};
use airgate::decide::Verdict;
use airgate::inspect::build_engine_parts;
use airgate::inspect::{scan_path, ScanOptions};
use airgate::policy::Policy;
use airgate::report::{Report, Timings};
use std::path::PathBuf;

/// Arguments of `airgate scan`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// File, folder, or bundle (.tar / .tar.zst) to inspect; `-` reads a file from standard
    /// input.
    pub path: PathBuf,
    /// Policy file (default: built-in rules, no internal domains, block at high).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Without --policy: a domain inside the enclave (and its subdomains; IPv4 CIDR allowed)
    /// whose URLs are not reachback; repeatable. With a policy, list them in its
    /// [inspect] internal_domains instead.
    #[arg(long = "allow-host", value_name = "DOMAIN")]
    pub allow_host: Vec<String>,
    /// Extra rule file (gitleaks format `[[rules]]`, or airgate's `[[rule]]`), run beside
    /// the built-in rules; repeatable. Adds to the policy's `[inspect] rule_files`.
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// Run `airgate scan`.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let started = std::time::Instant::now();
    if args.policy.is_some() && !args.allow_host.is_empty() {
        return Err(usage(
            "--allow-host would widen the internal domains that --policy sets (fewer URLs \
             reported as reachback); add them to the policy's [inspect] internal_domains instead",
        ));
    }
    let mut policy = match &args.policy {
        Some(p) => super::policy::load_checked(p)?,
        None => Policy::default(),
    };
    let input = Input::open(&args.path)?;
    policy
        .inspect
        .internal_domains
        .extend(args.allow_host.iter().cloned());
    super::common::add_rule_files(&mut policy, &args.rules)?;
    let (engine, text) = build_engine_parts(&policy).classed()?;
    let engine = engine.counting();
    let opts = ScanOptions {
        bundle_limits: policy.limits.clone(),
        ..ScanOptions::default()
    };
    let out = scan_path(&engine, &text, input.path(), &opts).classed()?;
    let mut report = Report::new("scan");
    report.findings = out.findings;
    airgate::decide::judge(&mut report, &policy);
    report.policy_sha256 = policy.digest();
    report.timings = Timings::from(started.elapsed(), out.bytes, out.files);
    report.coverage = Some(engine.coverage().report());
    input.rename_in(&mut report);
    report.base_uri = input.base_uri(false);
    print_report(&report, args.format)?;
    let code = match report.verdict {
        Verdict::Accept => 0,
        Verdict::Reject => 1,
    };
    // The process ends next: the operating system takes the memory back at once, where
    // freeing a large report finding by finding, and the rules' compiled state, would
    // cost tens of milliseconds after the answer is out.
    std::mem::forget((report, engine, text));
    Ok(code)
}
