//! Command definitions (clap) and the glue from arguments to library calls.

pub mod admit;
pub mod audit;
pub mod common;
pub mod init;
pub mod inspect;
pub mod key;
pub mod keygen;
pub mod pack;
pub mod reverify;
pub mod scan;
pub mod sign;
pub mod status;
pub mod verify;
pub mod verify_ext;
pub mod verify_sig;
pub mod watch;

pub use common::class_of;

use clap::{Parser, Subcommand};

/// airgate: verify signed bundles at an air-gap transfer gate, offline.
#[derive(Parser, Debug)]
#[command(name = "airgate", version, about, long_about = None)]
pub struct Cli {
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
    }
}
