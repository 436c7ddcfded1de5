//! `airgate pack`: pack a folder into a deterministic, unsigned bundle.

use super::common::usage;
use super::common::Classed;
use airgate::bundle::{pack, PackOptions};
use std::path::PathBuf;

/// Artifact kinds a payload bundle may declare.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Kind {
    /// Model weights and their configuration.
    Weights,
    /// Offline patch packages.
    Patch,
    /// Fine-tune and evaluation datasets.
    Dataset,
    /// A trust-root rotation (see docs/trust-rotation.md).
    Trust,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Weights => "weights",
            Kind::Patch => "patch",
            Kind::Dataset => "dataset",
            Kind::Trust => "trust",
        }
    }
}

/// Arguments of `airgate pack`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder to pack (regular files only; links and special files are refused).
    pub src: PathBuf,
    /// Artifact kind: which of the policy's [trust.<kind>] rules will apply.
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// Bundle name: letters, digits, '-', '_', '.'.
    #[arg(long)]
    pub name: String,
    /// A semantic version (1.2.3) or a plain integer (42).
    #[arg(long)]
    pub version: String,
    /// Output file: NAME.tar.zst (compressed) or NAME.tar. Never overwritten.
    #[arg(short = 'o', long = "out")]
    pub out: PathBuf,
    /// Publisher recorded in the statement.
    #[arg(long, default_value = "unspecified")]
    pub publisher: String,
    /// Creation time (RFC 3339). Default: $SOURCE_DATE_EPOCH, else the newest file's mtime.
    #[arg(long)]
    pub created: Option<String>,
    /// zstd level (1-19).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=19))]
    pub level: i32,
}

/// Run `airgate pack`.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let src = super::common::Input::open(&a.src)?;
    if src.is_stdin() {
        return Err(usage(
            "pack reads a folder, which cannot come from standard input",
        ));
    }
    let out_name = a.out.to_string_lossy();
    let zstd_level = if out_name.ends_with(".tar.zst") || out_name.ends_with(".zst") {
        Some(a.level)
    } else if out_name.ends_with(".tar") {
        None
    } else {
        return Err(usage("the output name must end in .tar.zst or .tar"));
    };
    let created = match (&a.created, std::env::var("SOURCE_DATE_EPOCH")) {
        (Some(c), _) => {
            Some(airgate::util::parse_time(c).map_err(|e| usage(format!("--created: {e}")))?)
        }
        (None, Ok(s)) => Some(
            s.trim()
                .parse::<i64>()
                .map_err(|_| usage("SOURCE_DATE_EPOCH is not an integer"))?,
        ),
        (None, Err(_)) => None,
    };
    let opts = PackOptions {
        kind: a.kind.as_str().into(),
        name: a.name,
        version: a.version,
        publisher: a.publisher,
        created,
        zstd_level,
    };
    super::signals::clean_up_on_signal(vec![super::signals::dir_of(&a.out)]);
    let st = match pack(src.path(), &a.out, &opts) {
        Ok(st) => st,
        Err(e) => return Err(e).classed(),
    };
    let total: u64 = st.predicate.sizes.values().sum();
    println!(
        "packed {} into {} (unsigned: run `airgate sign`)",
        super::common::count(st.subject.len() as u64, "file", "files")
            + &format!(" ({})", super::common::count(total, "byte", "bytes")),
        a.out.display()
    );
    Ok(0)
}
