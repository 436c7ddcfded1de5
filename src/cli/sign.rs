//! `airgate sign`: add one signature to a bundle, or attach a Sigstore bundle made over its
//! statement.

use super::common::ResultExt;
use airgate::bundle::sign::{attach_sigstore, sign, AttachOutcome, SignError, SignOutcome};
use airgate::trust::keys::PrivateKey;
use std::path::PathBuf;

/// Arguments of `airgate sign`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle to sign (changed in place, atomically).
    pub bundle: PathBuf,
    /// PKCS#8 PEM Ed25519 private key.
    #[arg(
        long,
        required_unless_present = "sigstore_bundle",
        conflicts_with = "sigstore_bundle"
    )]
    pub key: Option<PathBuf>,
    /// Attach this Sigstore bundle instead: a message signature over the statement bytes that
    /// `airgate inspect BUNDLE --statement` prints (e.g. `cosign sign-blob --bundle`).
    #[arg(long)]
    pub sigstore_bundle: Option<PathBuf>,
}

/// Run `airgate sign`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    if let Some(sb) = &a.sigstore_bundle {
        return attach(&a.bundle, sb);
    }
    let Some(key_path) = &a.key else {
        anyhow::bail!("give --key or --sigstore-bundle");
    };
    let key = PrivateKey::load(key_path).config()?;
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

fn attach(bundle: &std::path::Path, sigstore: &std::path::Path) -> anyhow::Result<i32> {
    let limit = airgate::trust::sigstore::MAX_BUNDLE_BYTES;
    let json = {
        use std::io::Read;
        let mut buf = Vec::new();
        std::fs::File::open(sigstore)
            .and_then(|f| f.take(limit + 1).read_to_end(&mut buf))
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", sigstore.display()))
            .operational()?;
        buf
    };
    match attach_sigstore(bundle, &json) {
        Ok(AttachOutcome::Attached { total }) => {
            println!(
                "attached {} to {} ({total} Sigstore bundle(s))",
                sigstore.display(),
                bundle.display()
            );
            Ok(0)
        }
        Ok(AttachOutcome::AlreadyAttached) => {
            println!(
                "{} already carries {}; unchanged",
                bundle.display(),
                sigstore.display()
            );
            Ok(0)
        }
        Err(e @ (SignError::Invalid(..) | SignError::Sigstore(_))) => {
            eprintln!("airgate: {e}");
            Ok(1)
        }
        Err(e) => Err(e).operational(),
    }
}
