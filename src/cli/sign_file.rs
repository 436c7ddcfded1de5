//! `airgate sign-file`: a minisign signature of any file, made with an airgate key, that
//! the real `minisign -V` and `airgate verify --signature` both check.

use super::common::Classed;
use super::common::{usage, ResultExt};
use airgate::trust::minisign::{default_trusted_comment, public_key_file, sign_reader};
use airgate::trust::PrivateKey;
use std::path::{Path, PathBuf};

/// Arguments of `airgate sign-file`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The file to sign (read, never changed).
    pub file: PathBuf,
    /// PKCS#8 PEM Ed25519 private key (`airgate keygen`).
    #[arg(long)]
    pub key: PathBuf,
    /// Signature file to write. Default: FILE.minisig. Never overwritten.
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
    /// Trusted comment (signed). Default: minisign's `timestamp:T<TAB>file:NAME<TAB>hashed`,
    /// with T from $SOURCE_DATE_EPOCH when set (reproducible), else now.
    #[arg(long)]
    pub trusted_comment: Option<String>,
    /// Also write the key's public half in minisign's format here (for `minisign -V -p`).
    /// Never overwritten.
    #[arg(long)]
    pub public_key_out: Option<PathBuf>,
}

/// Run `airgate sign-file`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let key = PrivateKey::load(&a.key).classed()?;
    let name = a
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| usage("FILE must name a file"))?;
    let comment = match a.trusted_comment {
        Some(c) => c,
        None => {
            let t = match std::env::var("SOURCE_DATE_EPOCH") {
                Ok(s) => s
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| usage("SOURCE_DATE_EPOCH is not an integer"))?,
                Err(_) => airgate::util::now_secs(),
            };
            default_trusted_comment(t, &name)
        }
    };
    let out = a
        .out
        .unwrap_or_else(|| PathBuf::from(format!("{}.minisig", a.file.display())));
    let f = std::fs::File::open(&a.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", a.file.display()))
        .config()?;
    let text = sign_reader(&key, std::io::BufReader::new(f), &comment).config()?;
    write_new(&out, &text)?;
    println!("wrote {}", out.display());
    if let Some(p) = &a.public_key_out {
        write_new(p, &public_key_file(&key.public()))?;
        println!("wrote {} (minisign public key)", p.display());
    }
    Ok(0)
}

/// Create `path` (never replacing a file) with `text`, fsynced.
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))
        .config()?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
        .operational()
}
