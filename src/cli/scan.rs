//! `airgate scan PATH`: inspect a file, a folder or a bundle (read as an archive, without
//! trust checks) for secrets, reachback and unsafe model files; same report, formats and
//! exit codes as `verify`.

use super::common::{Format, ResultExt};
use airgate::decide::{apply_waivers, verdict, Verdict};
use airgate::inspect::build_engine_parts;
use airgate::inspect::scan::{scan_path, ScanOptions};
use airgate::policy::Policy;
use airgate::report::{human, sarif, Report, Timings};
use std::path::PathBuf;

/// Arguments of `airgate scan`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// File, folder, or bundle (.tar / .tar.zst) to inspect.
    pub path: PathBuf,
    /// Policy file (default: built-in rules, no internal domains, block at high).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Domain inside the enclave (and its subdomains; IPv4 CIDR allowed); repeatable.
    #[arg(long = "allow-host", value_name = "DOMAIN")]
    pub allow_host: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// Run `airgate scan`.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let started = std::time::Instant::now();
    let mut policy = match &args.policy {
        Some(p) => Policy::load(p).config()?,
        None => Policy::default(),
    };
    policy
        .inspect
        .internal_domains
        .extend(args.allow_host.iter().cloned());
    let (engine, text) = build_engine_parts(&policy).config()?;
    let engine = engine.counting();
    let opts = ScanOptions {
        bundle_limits: policy.limits.clone(),
        ..ScanOptions::default()
    };
    let out = scan_path(&engine, &text, &args.path, &opts).operational()?;
    let findings: Vec<_> = out
        .findings
        .into_iter()
        .filter(|f| !policy.inspect.disabled_rules.contains(&f.rule))
        .collect();
    let (kept, waived) = apply_waivers(findings, &policy);
    let mut report = Report::new("scan");
    report.verdict = verdict(&kept, &policy);
    let blocking = kept
        .iter()
        .filter(|f| f.severity >= policy.decide.block_at)
        .count();
    if blocking > 0 {
        report.reasons.push(format!(
            "{blocking} finding(s) at or above {} severity",
            policy.decide.block_at
        ));
    }
    report.findings = kept;
    report.waived = waived;
    report.policy_sha256 = policy.digest();
    report.timings = Timings::from(started.elapsed(), out.bytes, out.files);
    report.coverage = Some(engine.coverage().report());
    report.sort();
    match args.format {
        Format::Human => println!("{}", human::render(&report).trim_end()),
        Format::Json => report.write_json(std::io::stdout().lock())?,
        Format::Sarif => println!("{}", sarif::render(&report).trim_end()),
    }
    Ok(match report.verdict {
        Verdict::Accept => 0,
        Verdict::Reject => 1,
    })
}
