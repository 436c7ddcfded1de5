//! Shared CLI plumbing: error classes for exit codes, output format selection.

use airgate::ErrorClass;
use std::path::{Path, PathBuf};

/// An error tagged with the exit-code class it should produce.
#[derive(Debug)]
pub struct CliError {
    pub class: ErrorClass,
    pub error: anyhow::Error,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&render_error(&self.error))
    }
}

/// An error and its causes on one line, each cause said once: library errors often put
/// their source in their own message, and the chain would repeat it. The "(os error N)"
/// suffix of I/O errors is left out.
pub fn render_error(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = strip_os_error(&cause.to_string());
        if text.is_empty() || msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

/// `text` without any " (os error N)" it carries.
fn strip_os_error(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(" (os error ") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + " (os error ".len()..];
        match tail.find(')') {
            Some(j) if tail[..j].bytes().all(|b| b.is_ascii_digit()) => rest = &tail[j + 1..],
            _ => {
                out.push_str(" (os error ");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
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

/// Tag a library error with the exit-code class it carries.
pub trait Classed<T> {
    /// The error's own class ([`airgate::Classified`]).
    fn classed(self) -> anyhow::Result<T>;
}

impl<T, E> Classed<T> for Result<T, E>
where
    E: airgate::Classified + Into<anyhow::Error>,
{
    fn classed(self) -> anyhow::Result<T> {
        self.map_err(|e| {
            CliError {
                class: e.class(),
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

/// Report formats of the commands that write findings reports (`verify`, `scan`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for a person.
    Human,
    /// One JSON object (errors too, with their exit code and class).
    Json,
    /// SARIF 2.1.0, for code-scanning tools.
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

/// Output formats of the commands that write no findings report of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlainFormat {
    /// Text for a person.
    Human,
    /// JSON (errors too, with their exit code and class).
    Json,
}

impl From<PlainFormat> for Format {
    fn from(f: PlainFormat) -> Format {
        match f {
            PlainFormat::Human => Format::Human,
            PlainFormat::Json => Format::Json,
        }
    }
}

/// The exit-code contract, shown under every command's `--help`.
pub const EXIT_CODES: &str = "\
Exit codes (the same failure gives the same code in every command):
  0  accepted (or the command did what it was asked)
  1  rejected: a verification failure, a blocking finding, a corrupt or truncated input
  2  usage or configuration error: a bad flag or flag combination, a bad policy, a missing
     or malformed key, no trust configured
  3  operational error where nothing was decided: a missing or unreadable input file,
     a permission error, a full disk (the input is kept)
141  standard output was closed early (e.g. piped into `head`)";

/// `-q` / `-v`, given on any command.
#[derive(Clone, Copy, Debug, Default)]
pub struct Verbosity {
    pub quiet: bool,
    pub verbose: u8,
}

static VERBOSITY: std::sync::OnceLock<Verbosity> = std::sync::OnceLock::new();

/// Record `-q`/`-v` for the run (once, at start-up).
pub fn set_verbosity(v: Verbosity) {
    let _ = VERBOSITY.set(v);
}

/// The run's `-q`/`-v`.
pub fn verbosity() -> Verbosity {
    VERBOSITY.get().copied().unwrap_or_default()
}

/// A note on stderr shown with `-v` only.
pub fn note(msg: impl std::fmt::Display) {
    if verbosity().verbose > 0 {
        eprintln!("airgate: {msg}");
    }
}

/// The inspection engine for a policy: text rules, model inspectors, nested containers.
pub fn engine_for(
    policy: &airgate::policy::Policy,
) -> Result<airgate::inspect::Engine, airgate::inspect::InspectError> {
    airgate::inspect::build_engine(policy)
}

/// Print a report in the chosen format on stdout.
pub fn print_report(r: &airgate::report::Report, format: Format) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Human => {
            let text = if verbosity().verbose > 0 {
                airgate::report::render_human_verbose(r)
            } else {
                airgate::report::render_human(r)
            };
            out.write_all(text.as_bytes())?
        }
        Format::Json => r.write_json(&mut out)?,
        Format::Sarif => writeln!(out, "{}", airgate::report::render_sarif(r))?,
    }
    out.flush()?;
    Ok(())
}

/// A byte counter on stderr for large inputs (`total` is the file size); hidden when stderr
/// is not a terminal.
pub fn progress_bar(total: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() || total < (64 << 20) || verbosity().quiet {
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

/// An input named on the command line: a path, or `-` for standard input (spooled to a
/// private temporary file first, since a bundle is read twice: once to sniff, once to
/// stream). Reports name it as `-`, never by the temporary path.
pub struct Input {
    path: PathBuf,
    /// Keeps the spool alive (and removes it when dropped).
    _spool: Option<tempfile::TempDir>,
}

impl Input {
    /// Open `arg`: `-` spools standard input; anything else must exist (a missing or
    /// unreadable input is an operational error, exit 3, in every command).
    pub fn open(arg: &Path) -> anyhow::Result<Input> {
        if arg.as_os_str() == "-" {
            let dir = tempfile::Builder::new()
                .prefix(&airgate::util::temp_prefix("stdin"))
                .tempdir()
                .map_err(|e| {
                    anyhow::anyhow!("cannot make a temporary file for standard input: {e}")
                })
                .operational()?;
            let path = dir.path().join("stdin");
            let mut out = std::fs::File::create(&path)
                .map_err(|e| anyhow::anyhow!("cannot spool standard input: {e}"))
                .operational()?;
            std::io::copy(&mut std::io::stdin().lock(), &mut out)
                .map_err(|e| anyhow::anyhow!("cannot read standard input: {e}"))
                .operational()?;
            return Ok(Input {
                path,
                _spool: Some(dir),
            });
        }
        if let Err(e) = std::fs::metadata(arg) {
            return Err(anyhow::anyhow!(
                "cannot read {}: {}",
                arg.display(),
                io_cause(&e)
            ))
            .operational();
        }
        Ok(Input {
            path: arg.to_path_buf(),
            _spool: None,
        })
    }

    /// The path to read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this is standard input.
    pub fn is_stdin(&self) -> bool {
        self._spool.is_some()
    }

    /// The absolute `file:` URI finding paths are relative to: the folder itself, the
    /// bundle (`inside` its members), or the working folder for a file named relatively.
    pub fn base_uri(&self, inside: bool) -> Option<String> {
        if self.is_stdin() {
            return None;
        }
        let abs = std::path::absolute(&self.path).ok()?;
        let base = if self.path.is_dir() || inside {
            abs
        } else if self.path.is_absolute() {
            PathBuf::from("/")
        } else {
            std::env::current_dir().ok()?
        };
        let mut s = String::from("file://");
        for b in base.to_string_lossy().bytes() {
            if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
                s.push(b as char);
            } else {
                s.push_str(&format!("%{b:02X}"));
            }
        }
        if !s.ends_with('/') {
            s.push('/');
        }
        Some(s)
    }

    /// Rewrite the spool's path in a report to `-`.
    pub fn rename_in(&self, r: &mut airgate::report::Report) {
        if !self.is_stdin() {
            return;
        }
        let tmp = self.path.display().to_string();
        let fix = |s: &mut String| {
            if let Some(rest) = s.strip_prefix(&tmp) {
                *s = format!("-{rest}");
            }
        };
        if let Some(b) = r.bundle.as_mut() {
            fix(&mut b.path);
        }
        for f in r.findings.iter_mut().chain(r.waived.iter_mut()) {
            fix(&mut f.path);
        }
    }
}

/// The cause of an I/O error in words, without the "(os error N)" suffix.
pub fn io_cause(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

pub use airgate::report::plural as count;
