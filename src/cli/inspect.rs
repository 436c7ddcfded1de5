//! `airgate inspect`: what a bundle claims, without verifying anything.

use super::common::Classed;
use super::common::{PlainFormat, ResultExt};
use airgate::bundle::open;
use airgate::bundle::Statement;
use airgate::policy::Limits;
use airgate::{Classified, ErrorClass};
use std::path::PathBuf;

/// Arguments of `airgate inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The bundle; `-` reads it from standard input.
    pub bundle: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: PlainFormat,
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
    let input = super::common::Input::open(&a.bundle)?;
    let opened = match open(input.path(), &Limits::default()) {
        Ok(o) => o,
        Err(e) if e.class() != ErrorClass::Rejected => return Err(e).classed(),
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
    if a.format == PlainFormat::Json {
        let v = serde_json::json!({
            "verified": false,
            "kind": null_if_empty(&p.kind), "name": null_if_empty(&p.name),
            "version": null_if_empty(&p.version), "created": null_if_empty(&p.created),
            "publisher": null_if_empty(&p.publisher),
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
    let or_none = |s: &str| {
        if s.is_empty() {
            "(none)".to_string()
        } else {
            s.to_string()
        }
    };
    println!("  kind:      {}", or_none(&p.kind));
    println!("  name:      {}", or_none(&p.name));
    println!("  version:   {}", or_none(&p.version));
    println!("  created:   {}", or_none(&p.created));
    println!("  publisher: {}", or_none(&p.publisher));
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

/// A JSON string, or null for an empty one.
fn null_if_empty(s: &str) -> serde_json::Value {
    if s.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::Value::String(s.to_string())
    }
}
