//! `airgate keygen`: make an Ed25519 key pair in standard PEM.

use super::common::Classed;
use std::path::PathBuf;

/// Arguments of `airgate keygen`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder for NAME.key (PKCS#8, mode 0600) and NAME.pub (SPKI).
    #[arg(long)]
    pub out: PathBuf,
    /// Base name of the key files.
    #[arg(long)]
    pub name: String,
}

/// Run `airgate keygen`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    if a.name.is_empty() || a.name.contains('/') || a.name.starts_with('.') {
        return Err(super::common::usage("--name must be a plain file name"));
    }
    let (pk, sk_path, pk_path) = airgate::trust::write_keypair(&a.out, &a.name).classed()?;
    println!("private key: {}", sk_path.display());
    println!("public key:  {}", pk_path.display());
    println!("key id:      {}", pk.id());
    Ok(0)
}
