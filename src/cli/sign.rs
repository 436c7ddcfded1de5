//! `airgate sign`: add one signature to a bundle, or attach a Sigstore bundle made over its
//! statement.

use super::common::Classed;
use super::common::ResultExt;
use airgate::trust::{attach_signature, attach_sigstore, sign, AttachOutcome, SignOutcome};
use airgate::trust::{PrivateKey, PublicKey};
use airgate::{Classified, ErrorClass};
use std::path::PathBuf;

/// Arguments of `airgate sign`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle to sign (changed in place, atomically; its whole structure is checked
    /// first, and a truncated or corrupt bundle is refused with exit 1).
    pub bundle: PathBuf,
    /// PKCS#8 PEM Ed25519 private key to sign with.
    #[arg(
        long,
        required_unless_present_any = ["sigstore_bundle", "signature_file"],
        conflicts_with_all = ["sigstore_bundle", "signature_file"]
    )]
    pub key: Option<PathBuf>,
    /// Attach a signature made elsewhere instead: 64 raw bytes (what `openssl pkeyutl -sign
    /// -rawin` writes) or their base64, over exactly the bytes `airgate inspect BUNDLE
    /// --signed-bytes` prints. Checked against --public-key before it is attached.
    #[arg(long, requires = "public_key", conflicts_with = "sigstore_bundle")]
    pub signature_file: Option<PathBuf>,
    /// The SPKI PEM public key of the --signature-file signer.
    #[arg(long, requires = "signature_file")]
    pub public_key: Option<PathBuf>,
    /// Attach this Sigstore bundle instead: a message signature over the statement bytes that
    /// `airgate inspect BUNDLE --statement` prints (e.g. `cosign sign-blob --bundle`).
    #[arg(long)]
    pub sigstore_bundle: Option<PathBuf>,
}

/// Run `airgate sign`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let input = super::common::Input::open(&a.bundle)?;
    if input.is_stdin() {
        return Err(super::common::usage(
            "sign changes a bundle file in place; it cannot sign standard input",
        ));
    }
    // the key first: a wrong key is a configuration error whatever the bundle holds
    let key = match &a.key {
        Some(k) => Some(PrivateKey::load(k).classed()?),
        None => None,
    };
    super::signals::clean_up_on_signal(vec![super::signals::dir_of(&a.bundle)]);
    if !sound(&a.bundle)? {
        return Ok(1);
    }
    if let Some(sb) = &a.sigstore_bundle {
        return attach(&a.bundle, sb);
    }
    let outcome = match (key, &a.signature_file, &a.public_key) {
        (Some(key), _, _) => sign(&a.bundle, &key),
        (None, Some(sig_path), Some(pub_path)) => {
            let public = PublicKey::load(pub_path).classed()?;
            let sig = read_signature(sig_path)?;
            attach_signature(&a.bundle, &public, &sig)
        }
        _ => {
            return Err(super::common::usage(
                "give --key, --signature-file with --public-key, or --sigstore-bundle",
            ))
        }
    };
    match outcome {
        Ok(SignOutcome::Added { key_id, total }) => {
            println!(
                "signed {} with key {key_id} ({} in all)",
                a.bundle.display(),
                super::common::count(total as u64, "signature", "signatures")
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
        Err(e) if e.class() == ErrorClass::Rejected => {
            eprintln!("airgate: {e}");
            Ok(1)
        }
        Err(e) => Err(e).classed(),
    }
}

/// Check the whole bundle before writing anything: a truncated or corrupt bundle is
/// refused here (exit 1, listing what is wrong) instead of being signed.
fn sound(bundle: &std::path::Path) -> anyhow::Result<bool> {
    let problems = airgate::verify::check_structure(bundle, &airgate::policy::Limits::default())
        .map_err(|e| {
            let class = e.class();
            anyhow::Error::from(super::common::CliError {
                class,
                error: e.into(),
            })
        })?;
    for p in &problems {
        eprintln!(
            "airgate: {} is not a sound bundle: {}",
            bundle.display(),
            p.message
        );
    }
    if !problems.is_empty() {
        eprintln!("airgate: nothing was signed");
    }
    Ok(problems.is_empty())
}

/// A detached Ed25519 signature file: 64 raw bytes, or their standard base64.
fn read_signature(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut bytes))
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
        .config()?;
    if bytes.len() == 64 {
        return Ok(bytes);
    }
    let text = String::from_utf8_lossy(&bytes);
    match airgate::bundle::decode_sig(text.trim()) {
        Some(sig) if sig.len() == 64 => Ok(sig),
        _ => Err(super::common::usage(format!(
            "{} is neither a 64-byte Ed25519 signature nor its base64",
            path.display()
        ))),
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
                "attached {} to {} ({} in all)",
                sigstore.display(),
                bundle.display(),
                super::common::count(total as u64, "Sigstore bundle", "Sigstore bundles")
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
        Err(e) if e.class() == ErrorClass::Rejected => {
            eprintln!("airgate: {e}");
            Ok(1)
        }
        Err(e) => Err(e).classed(),
    }
}
