//! `airgate policy check FILE`: load a policy with every file it names and print what it
//! enforces, per artifact kind, in words or JSON. Exit 0 when it holds, 2 when it does not.

use super::common::Classed;
use super::common::PlainFormat;
use airgate::policy::Policy;
use std::path::{Path, PathBuf};

/// Arguments of `airgate policy`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

/// `policy` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Sub {
    /// Check a policy and the files it names; print what it enforces per artifact kind.
    Check {
        /// The policy file (TOML; see docs/policy.md).
        file: PathBuf,
        /// Output format: human (default) or json.
        #[arg(long, value_enum, default_value = "human")]
        format: PlainFormat,
    },
}

/// Load the policy at `path` and check it against the files it names (keys, trusted root, CA
/// certificates): a policy that loads is one that means what it says. Configuration errors
/// (exit 2) otherwise.
pub fn load_checked(path: &Path) -> anyhow::Result<Policy> {
    let p = Policy::load(path).classed()?;
    check(&p)?;
    Ok(p)
}

/// Check an already loaded policy against the files it names.
pub fn check(p: &Policy) -> anyhow::Result<airgate::trust::Enforced> {
    airgate::trust::check_enforced(p, airgate::util::now_secs()).classed()
}

/// Run `airgate policy`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    match a.command {
        Sub::Check { file, format } => {
            let p = Policy::load(&file).classed()?;
            let e = check(&p)?;
            match format {
                PlainFormat::Json => println!("{}", serde_json::to_string_pretty(&e)?),
                _ => print!("{}", e.describe()),
            }
            Ok(0)
        }
    }
}
