//! `airgate inspect`: what a bundle claims, without verifying anything.

use super::common::{Format, ResultExt};
use airgate::bundle::open::{open, OpenError};
use airgate::bundle::Statement;
use airgate::policy::Limits;
use std::path::PathBuf;

/// Arguments of `airgate inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    pub bundle: PathBuf,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Print the signed statement's exact bytes (what a Sigstore bundle attached with
    /// `airgate sign --sigstore-bundle` must sign, e.g. `cosign sign-blob`), nothing else.
    #[arg(long, conflicts_with = "format")]
    pub statement: bool,
    /// Print the exact bytes a bundle signature covers (the DSSE pre-authentication encoding
    /// of the statement), nothing else: sign them with any Ed25519 tool (e.g. `openssl
    /// pkeyutl -sign -rawin`) and attach the result with `airgate sign --signature-file`.
    #[arg(long, conflicts_with_all = ["format", "statement"])]
    pub signed_bytes: bool,
}

/// Run `airgate inspect`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let opened = match open(&a.bundle, &Limits::default()) {
        Ok(o) => o,
        Err(e @ OpenError::Io { .. }) => return Err(e).operational(),
        Err(e) => {
            eprintln!("airgate: {}: {e}", a.bundle.display());
            return Ok(1);
        }
    };
    if a.statement || a.signed_bytes {
        use std::io::Write;
        let bytes = if a.signed_bytes {
            opened.envelope.signed_bytes()
        } else {
            opened.envelope.payload_bytes()
        };
        let Ok(bytes) = bytes else {
            eprintln!(
                "airgate: {}: the envelope payload is not valid base64",
                a.bundle.display()
            );
            return Ok(1);
        };
        let mut out = std::io::stdout().lock();
        out.write_all(&bytes)
            .and_then(|()| out.flush())
            .operational()?;
        return Ok(0);
    }
    let st: Statement = match opened
        .envelope
        .payload_bytes()
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "airgate: {}: the statement cannot be parsed: {e}",
                a.bundle.display()
            );
            return Ok(1);
        }
    };
    let signers: Vec<&str> = opened
        .envelope
        .signatures
        .iter()
        .map(|s| s.keyid.as_str())
        .collect();
    let sigstore_bundles = opened.envelope.sigstore_bundles.len();
    let p = &st.predicate;
    if a.format == Format::Json {
        let v = serde_json::json!({
            "verified": false,
            "kind": p.kind, "name": p.name, "version": p.version,
            "created": p.created, "publisher": p.publisher,
            "files": st.subject.iter().map(|s| serde_json::json!({
                "path": s.name, "sha256": s.sha256(), "size": p.sizes.get(&s.name),
            })).collect::<Vec<_>>(),
            "signer_key_ids": signers,
            "signatures": opened.envelope.signatures,
            "sigstore_bundles": sigstore_bundles,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    println!(
        "UNVERIFIED claims of {} (nothing here has been checked)",
        a.bundle.display()
    );
    println!("  kind:      {}", p.kind);
    println!("  name:      {}", p.name);
    println!("  version:   {}", p.version);
    println!("  created:   {}", p.created);
    println!("  publisher: {}", p.publisher);
    println!("  signatures claimed by key ids:");
    for s in &signers {
        println!("    {s}");
    }
    if sigstore_bundles > 0 {
        println!("  Sigstore bundles carried: {sigstore_bundles}");
    }
    println!("  files ({}):", st.subject.len());
    for s in &st.subject {
        println!(
            "    {:>12}  {}  {}",
            p.sizes.get(&s.name).copied().unwrap_or(0),
            s.sha256().unwrap_or("-"),
            s.name
        );
    }
    Ok(0)
}
