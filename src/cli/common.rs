//! Shared CLI plumbing: error classes for exit codes, output format selection.

use airgate::ErrorClass;

/// An error tagged with the exit-code class it should produce.
#[derive(Debug)]
pub struct CliError {
    pub class: ErrorClass,
    pub error: anyhow::Error,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for CliError {}

/// Tag a result's error with an exit-code class.
pub trait ResultExt<T> {
    /// A usage or configuration error (exit 2).
    fn config(self) -> anyhow::Result<T>;
    /// An operational error where nothing was decided (exit 3).
    fn operational(self) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> ResultExt<T> for Result<T, E> {
    fn config(self) -> anyhow::Result<T> {
        self.map_err(|e| {
            CliError {
                class: ErrorClass::Config,
                error: e.into(),
            }
            .into()
        })
    }
    fn operational(self) -> anyhow::Result<T> {
        self.map_err(|e| {
            CliError {
                class: ErrorClass::Operational,
                error: e.into(),
            }
            .into()
        })
    }
}

/// A usage error with a message (exit 2).
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    CliError {
        class: ErrorClass::Config,
        error: anyhow::anyhow!(msg.into()),
    }
    .into()
}

/// The exit-code class of an error: the first tagged error in its chain, else operational.
pub fn class_of(e: &anyhow::Error) -> ErrorClass {
    for cause in e.chain() {
        if let Some(c) = cause.downcast_ref::<CliError>() {
            return c.class;
        }
    }
    ErrorClass::Operational
}

/// Report output formats shared by `verify`, `scan` and `admit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Sarif,
}

/// Add `--rules` files to the policy's rule files (made absolute: the policy resolves
/// relative paths against its own folder, these are relative to the working directory).
pub fn add_rule_files(
    policy: &mut airgate::policy::Policy,
    files: &[std::path::PathBuf],
) -> anyhow::Result<()> {
    for f in files {
        let abs =
            std::path::absolute(f).map_err(|e| usage(format!("--rules {}: {e}", f.display())))?;
        policy.inspect.rule_files.push(abs);
    }
    Ok(())
}

/// The inspection engine for a policy: text rules, model inspectors, nested containers.
pub fn engine_for(
    policy: &airgate::policy::Policy,
) -> Result<airgate::inspect::Engine, airgate::inspect::InspectError> {
    airgate::inspect::build_engine(policy)
}

/// Print a report in the chosen format on stdout.
pub fn print_report(r: &airgate::report::Report, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Human => print!("{}", airgate::report::human::render(r)),
        Format::Json => r.write_json(std::io::stdout().lock())?,
        Format::Sarif => println!("{}", airgate::report::sarif::render(r)),
    }
    Ok(())
}

/// A byte counter on stderr for large inputs (`total` is the file size); hidden when stderr
/// is not a terminal.
pub fn progress_bar(total: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() || total < (64 << 20) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {bytes} of payload verified ({bytes_per_sec})",
    ) {
        bar.set_style(style);
    }
    bar
}
