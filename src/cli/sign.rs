//! `airgate sign`: add one signature to a bundle.

use super::common::ResultExt;
use airgate::bundle::sign::{sign, SignError, SignOutcome};
use airgate::trust::keys::PrivateKey;
use std::path::PathBuf;

/// Arguments of `airgate sign`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle to sign (changed in place, atomically).
    pub bundle: PathBuf,
    /// PKCS#8 PEM Ed25519 private key.
    #[arg(long)]
    pub key: PathBuf,
}

/// Run `airgate sign`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let key = PrivateKey::load(&a.key).config()?;
    match sign(&a.bundle, &key) {
        Ok(SignOutcome::Added { key_id, total }) => {
            println!(
                "signed {} with key {key_id} ({total} signature(s))",
                a.bundle.display()
            );
            Ok(0)
        }
        Ok(SignOutcome::AlreadySigned { key_id }) => {
            println!(
                "{} is already signed by key {key_id}; unchanged",
                a.bundle.display()
            );
            Ok(0)
        }
        Err(e @ SignError::Invalid(..)) => {
            eprintln!("airgate: {e}");
            Ok(1)
        }
        Err(e) => Err(e).operational(),
    }
}
