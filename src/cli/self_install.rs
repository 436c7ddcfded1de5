//! `airgate self-install STAGED_DIR`: replace the airgate executable with a release the
//! gate staged, after checking it against the gate's signed receipt; `--rollback` swaps the
//! previous executable back.

use super::common::Classed;
use super::common::{usage, CliError, ResultExt};
use super::init::gate_err;
use airgate::gate::{
    check_staged_release, gate_of, install, previous_install_path, rollback_install, Gate,
    InstallError, InstallOptions,
};
use airgate::trust::PublicKey;
use std::path::{Path, PathBuf};

/// Arguments of `airgate self-install`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The staged release: `GATE/staging/patch/airgate/<version>` (after `airgate admit` of
    /// the release bundle).
    #[arg(required_unless_present = "rollback")]
    pub staged_dir: Option<PathBuf>,
    /// The executable to replace. Default: the running one.
    #[arg(long)]
    pub target: Option<PathBuf>,
    /// The gate audit public key that signed the receipt (default: the gate the staged
    /// folder sits in).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Install even if the release is not newer than the installed executable.
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Put back the executable that the last install replaced (kept as TARGET.previous);
    /// running it again goes forward again.
    #[arg(long, conflicts_with_all = ["staged_dir", "allow_downgrade", "key"])]
    pub rollback: bool,
}

fn install_err(e: InstallError) -> anyhow::Error {
    CliError {
        class: e.class(),
        error: e.into(),
    }
    .into()
}

/// Run `airgate self-install`. Exit 0 installed, 1 refused (nothing replaced), 2 usage, 3 I/O.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let running = std::env::current_exe().operational()?;
    let target = a.target.clone().unwrap_or_else(|| running.clone());
    if a.rollback {
        let (now, kept) = rollback_install(&target).map_err(install_err)?;
        println!(
            "rolled back {}: now {}; {} kept as {}",
            target.display(),
            now.as_deref().unwrap_or("(version unknown)"),
            kept.as_deref().unwrap_or("(version unknown)"),
            previous_install_path(&target).display()
        );
        return Ok(0);
    }
    let Some(staged) = &a.staged_dir else {
        return Err(usage("give STAGED_DIR (or --rollback)"));
    };
    let key = gate_key(staged, a.key.as_deref())?;
    let rel = match check_staged_release(staged, &key) {
        Ok(r) => r,
        Err(e @ InstallError::Refused(_)) => {
            eprintln!("airgate: self-install refused: {e}");
            return Ok(1);
        }
        Err(e) => return Err(install_err(e)),
    };
    let opts = InstallOptions {
        allow_downgrade: a.allow_downgrade,
        target_version: same_file(&target, &running).then(|| env!("CARGO_PKG_VERSION").into()),
    };
    match install(&rel, &target, &opts) {
        Ok(done) => {
            println!(
                "installed airgate {} at {} (was {}; bundle sha256 {}, signed by {})",
                done.version,
                done.target.display(),
                done.replaced
                    .as_deref()
                    .unwrap_or("not installed or unknown"),
                rel.bundle_sha256,
                rel.signers.join(", ")
            );
            if let Some(p) = &done.previous {
                println!("previous executable kept as {}", p.display());
            }
            Ok(0)
        }
        Err(e @ InstallError::Refused(_)) => {
            eprintln!("airgate: self-install refused: {e}");
            Ok(1)
        }
        Err(e) => Err(install_err(e)),
    }
}

/// The gate key: `--key`, else the key of the gate the staged folder sits in.
fn gate_key(staged: &Path, key: Option<&Path>) -> anyhow::Result<PublicKey> {
    if let Some(k) = key {
        return PublicKey::load(k).classed();
    }
    let Some(root) = gate_of(staged) else {
        return Err(usage(format!(
            "{} is not inside a gate; give the gate's audit public key with --key",
            staged.display()
        )));
    };
    let g = Gate::open(&root).map_err(gate_err)?;
    g.load_audit_pub().map_err(gate_err)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
