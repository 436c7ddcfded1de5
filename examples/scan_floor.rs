//! Bench tool: the floor under `airgate scan` on a folder tree, measured on this machine.
//! `read`: walk the tree in parallel and read every file once into a per-worker buffer,
//! inspecting nothing. `keywords`: the same plus the one Aho-Corasick keyword pass over
//! every text file and the printable spans of every other file, and over the decoded bytes
//! of gzip files (the least text inspection the issue allows: no regexes, base64, zip or
//! tar members, or model inspectors). Prints
//! `<mode> <wall seconds> <files> <bytes>`. Used by `bench/scan.sh`, not by the tool.
//!
//! Usage: scan_floor read|keywords PATH

use airgate::inspect::parts::text::spans;
use airgate::inspect::parts::text::{load_rules, looks_text};
use airgate::inspect::parts::text::{Hit, Keywords};
use rayon::prelude::*;
use std::io::Read;
use std::path::Path;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The keyword pass over one file's bytes as the scan makes it: a text file whole, another
/// file's printable spans only.
fn walk_keywords(ac: &Keywords, buf: &[u8], hits: &mut Vec<Hit>) {
    let text = looks_text(&buf[..buf.len().min(4096)]);
    hits.clear();
    for (s, e) in spans(buf, 0, text) {
        ac.hits(&buf[s..e], hits);
    }
}

/// Files and bytes read under `dir` (the walk recurses through rayon tasks, as the scan's).
fn walk(dir: &Path, ac: Option<&Keywords>) -> Result<(u64, u64)> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    entries
        .par_iter()
        .map_init(
            || (Vec::new(), Vec::<Hit>::new()),
            |(buf, hits), e| -> Result<(u64, u64)> {
                let ty = e.file_type()?;
                if ty.is_dir() {
                    return walk(&e.path(), ac);
                }
                if !ty.is_file() {
                    return Ok((0, 0));
                }
                let mut f = std::fs::File::open(e.path())?;
                buf.clear();
                f.read_to_end(buf)?;
                if let Some(ac) = ac {
                    walk_keywords(ac, buf, hits);
                    // the issue asks for gzip files to be seen through, as the scan does
                    // (and Kingfisher, which extracts archives): decode and walk them too
                    if e.file_name().to_string_lossy().ends_with(".gz") {
                        let mut plain = Vec::new();
                        let mut d = flate2::read::MultiGzDecoder::new(&buf[..]);
                        if d.read_to_end(&mut plain).is_ok() {
                            walk_keywords(ac, &plain, hits);
                        }
                    }
                }
                Ok((1, buf.len() as u64))
            },
        )
        .try_reduce(|| (0, 0), |a, b| Ok((a.0 + b.0, a.1 + b.1)))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(path)) = (args.get(1), args.get(2)) else {
        return Err("usage: scan_floor read|keywords PATH".into());
    };
    let ac = match mode.as_str() {
        "read" => None,
        "keywords" => {
            let mut kws: Vec<String> = Vec::new();
            for r in load_rules(&[], &[], &[])? {
                for k in &r.def.keywords {
                    let k = k.to_ascii_lowercase();
                    if !kws.contains(&k) {
                        kws.push(k);
                    }
                }
            }
            Some(Keywords::new(&kws)?)
        }
        _ => return Err(format!("unknown mode {mode}").into()),
    };
    let t = std::time::Instant::now();
    let (files, bytes) = walk(Path::new(path), ac.as_ref())?;
    println!("{mode} {:.3} {files} {bytes}", t.elapsed().as_secs_f64());
    Ok(())
}
