//! Command definitions (clap) and the glue from arguments to library calls.

pub mod admit;
pub mod audit;
pub mod common;
pub mod completions;
pub mod init;
pub mod inspect;
pub mod key;
pub mod keygen;
pub mod pack;
pub mod policy;
pub mod reverify;
pub mod scan;
pub mod self_install;
pub mod sign;
pub mod sign_file;
pub mod signals;
pub mod status;
pub mod verify;
pub mod verify_ext;
pub mod version;
pub mod watch;

pub use common::class_of;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// The exit code of a process whose standard output was closed (128 + SIGPIPE).
pub const EXIT_SIGPIPE: i32 = 141;

/// airgate: verify signed bundles at an air-gap transfer gate, offline.
#[derive(Parser, Debug)]
#[command(name = "airgate", version = version::short(), long_version = version::long(), about, long_about = None)]
pub struct Cli {
    /// Print nothing on standard output (errors still go to standard error; the exit code
    /// tells the outcome).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more: the policy in force, waived findings one by one, each step on standard
    /// error.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Make an Ed25519 key pair (PKCS#8 PEM private key, SPKI PEM public key).
    Keygen(keygen::Args),
    /// Show what a key file holds (`key show FILE`): key id, algorithm, public key.
    Key(key::Args),
    /// Pack a folder into a deterministic bundle (.tar.zst or .tar).
    Pack(pack::Args),
    /// Add one signature to a bundle (run again with other keys for k-of-n).
    Sign(sign::Args),
    /// Show what a bundle claims, without verifying it.
    Inspect(inspect::Args),
    /// Verify a bundle (or a file with a detached signature) against offline trust roots.
    Verify(verify::Args),
    /// Inspect a file, folder or bundle for secrets, reachback and unsafe model files.
    Scan(scan::Args),
    /// Create a gate directory.
    Init(init::Args),
    /// Verify a bundle and stage or quarantine it.
    Admit(admit::Args),
    /// Work with the gate's tamper-evident audit log.
    Audit(audit::Args),
    /// Watch a gate's intake folder and admit bundles as they arrive.
    Watch(watch::Args),
    /// Re-hash a staged tree against its receipt.
    Reverify(reverify::Args),
    /// Show a gate's counts, recent decisions and waiting bundles.
    Status(status::Args),
    /// Check a policy file and print what it enforces.
    Policy(policy::Args),
    /// Replace the airgate executable with a release the gate staged (checked against its receipt).
    SelfInstall(self_install::Args),
    /// Write a minisign signature of a file with an airgate key (checked by `minisign -V`).
    SignFile(sign_file::Args),
    /// Print the version, git commit, build date and features.
    Version(version::Args),
    /// Print a shell completion script.
    Completions(completions::Args),
    /// Write man pages for airgate and every subcommand.
    Man(completions::ManArgs),
}

impl Command {
    /// Whether the command was asked for JSON output (then errors come out as JSON too).
    fn wants_json(&self) -> bool {
        use common::{Format, PlainFormat};
        let plain = |f: PlainFormat| f == PlainFormat::Json;
        match self {
            Command::Verify(a) => a.format == Format::Json,
            Command::Scan(a) => a.format == Format::Json,
            Command::Inspect(a) => plain(a.format),
            Command::Admit(a) => plain(a.format),
            Command::Watch(a) => plain(a.format),
            Command::Reverify(a) => plain(a.format),
            Command::Status(a) => plain(a.format),
            Command::Audit(a) => a.wants_json(),
            Command::Policy(policy::Args {
                command: policy::Sub::Check { format, .. },
            }) => plain(*format),
            Command::Version(a) => a.json,
            Command::Key(key::Args {
                command: key::KeyCommand::Show(s),
            }) => plain(s.format),
            Command::Keygen(_)
            | Command::Pack(_)
            | Command::Sign(_)
            | Command::Init(_)
            | Command::SelfInstall(_)
            | Command::SignFile(_)
            | Command::Completions(_)
            | Command::Man(_) => false,
        }
    }
}

/// Put the exit-code table under the help of `cmd` and of every subcommand below it.
fn with_exit_codes(cmd: clap::Command) -> clap::Command {
    cmd.after_help(common::EXIT_CODES)
        .mut_subcommands(with_exit_codes)
}

/// Parse the command line (usage errors exit 2, as clap does). Returns the arguments and
/// whether errors should be reported as JSON. Records `-q`/`-v`; with `-q`, standard
/// output goes to /dev/null.
pub fn parse() -> (Cli, bool) {
    let matches = with_exit_codes(Cli::command()).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    common::set_verbosity(common::Verbosity {
        quiet: cli.quiet,
        verbose: cli.verbose,
    });
    if cli.quiet {
        if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
            let _ = rustix::stdio::dup2_stdout(&null);
        }
    }
    let json = cli.command.wants_json();
    (cli, json)
}

/// Whether the error is a write to a closed standard output.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Report an error (on stderr, and as a JSON object on stdout when JSON was asked for);
/// returns its exit code.
pub fn report_error(e: &anyhow::Error, json: bool) -> i32 {
    let class = class_of(e);
    let code = class.exit_code();
    let message = common::render_error(e);
    if json && !common::verbosity().quiet {
        let v = serde_json::json!({
            "error": message,
            "exit_code": code,
            "class": match class {
                airgate::ErrorClass::Rejected => "rejected",
                airgate::ErrorClass::Config => "config",
                airgate::ErrorClass::Operational => "operational",
            },
        });
        println!("{v}");
    }
    eprintln!("airgate: error: {message}");
    code
}

/// Run one command; returns the exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Keygen(a) => keygen::run(a),
        Command::Key(a) => key::run(a),
        Command::Pack(a) => pack::run(a),
        Command::Sign(a) => sign::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Scan(a) => scan::run(a),
        Command::Init(a) => init::run(a),
        Command::Admit(a) => admit::run(a),
        Command::Audit(a) => audit::run(a),
        Command::Watch(a) => watch::run(a),
        Command::Reverify(a) => reverify::run(a),
        Command::Status(a) => status::run(a),
        Command::Policy(a) => policy::run(a),
        Command::SelfInstall(a) => self_install::run(a),
        Command::SignFile(a) => sign_file::run(a),
        Command::Version(a) => version::run(a),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => completions::run_man(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option and positional argument of every command says what it is for in
    /// `--help`, and the exit-code table is under every command.
    #[test]
    fn every_argument_is_described() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {} (no about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "airgate", &mut missing);
        assert!(missing.is_empty(), "undescribed: {missing:#?}");
        let cmd = with_exit_codes(Cli::command());
        for sub in cmd.get_subcommands() {
            let help = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(help.contains("Exit codes"), "{}", sub.get_name());
        }
    }
}
