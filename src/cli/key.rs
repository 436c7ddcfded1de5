//! `airgate key show FILE`: the key id, algorithm and public key of a private or public key
//! file (never any private key bytes).

use super::common::{PlainFormat, ResultExt};
use airgate::trust::{describe_key_file, KeyKind};
use std::path::PathBuf;

/// Arguments of `airgate key`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: KeyCommand,
}

/// `airgate key` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum KeyCommand {
    /// Print the key id, algorithm and public key of a private (PKCS#8) or public (SPKI)
    /// Ed25519 key file.
    Show(ShowArgs),
}

/// Arguments of `airgate key show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// The key file (PEM).
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: PlainFormat,
}

/// Run `airgate key`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    match a.command {
        KeyCommand::Show(s) => show(s),
    }
}

fn show(a: ShowArgs) -> anyhow::Result<i32> {
    let info = describe_key_file(&a.file).config()?;
    let (kind, version) = match info.kind {
        KeyKind::Private { pkcs8_version } => ("private", Some(pkcs8_version)),
        KeyKind::Public => ("public", None),
    };
    let pem = info.public.to_pem();
    if a.format == PlainFormat::Json {
        let v = serde_json::json!({
            "file": a.file,
            "kind": kind,
            "pkcs8_version": version,
            "algorithm": info.algorithm,
            "key_id": info.public.id(),
            "public_key_pem": pem,
            "public_key_hex": hex::encode(info.public.verifying().as_bytes()),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    let holds = match version {
        Some(v) => format!("an {} private key (PKCS#8 version {v})", info.algorithm),
        None => format!("an {} public key (SPKI)", info.algorithm),
    };
    println!("file:       {}", a.file.display());
    println!("holds:      {holds}");
    println!("algorithm:  {}", info.algorithm);
    println!("key id:     {}", info.public.id());
    println!("public key:");
    print!("{pem}");
    Ok(0)
}
