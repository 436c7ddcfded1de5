//! The payload pass: the calling thread reads the tar stream into pooled buffers; worker
//! threads hash, inspect and extract each file. Memory is bounded by the buffer pool,
//! whatever the bundle's size.

use super::{reject, VerifyError, VerifyOptions};
use crate::bundle::Statement;
use crate::container::tar::{EntryKind, TarReader};
use crate::vocab::{Category, Finding, Severity};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

/// Bytes per buffer.
const CHUNK: usize = 1 << 20;
/// Buffers in the pool: the bound on payload bytes in flight.
const POOL: usize = 12;

/// What the pass found.
pub struct Pass {
    pub findings: Vec<Finding>,
    /// True when the file set, sizes and hashes all matched and the archive was clean.
    pub structural_ok: bool,
    pub bytes: u64,
    pub files: u64,
}

struct Job {
    path: String,
    size: u64,
    sha256: String,
    mode: u32,
    chunks: Receiver<Vec<u8>>,
}

struct FileResult {
    findings: Vec<Finding>,
    ok: bool,
    error: Option<VerifyError>,
}

/// Run the payload pass over `tar` (positioned after the envelope).
pub fn run<R: Read>(
    tar: &mut TarReader<R>,
    statement: &Statement,
    opts: &VerifyOptions<'_>,
) -> Result<Pass, VerifyError> {
    let expected: BTreeMap<&str, (&str, u64)> = statement
        .subject
        .iter()
        .map(|s| {
            let size = statement.predicate.sizes.get(&s.name).copied().unwrap_or(0);
            (s.name.as_str(), (s.sha256().unwrap_or(""), size))
        })
        .collect();
    let mut seen: BTreeMap<&str, bool> = BTreeMap::new();
    let mut findings = Vec::new();
    let mut structural_ok = true;
    let mut bytes = 0u64;
    let mut files = 0u64;
    let mut cancelled = false;

    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 16);
    let (free_tx, free_rx) = mpsc::sync_channel::<Vec<u8>>(POOL);
    for _ in 0..POOL {
        let _ = free_tx.send(Vec::with_capacity(CHUNK));
    }
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(workers * 2);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let results: Mutex<Vec<FileResult>> = Mutex::new(Vec::new());

    std::thread::scope(|scope| {
        for _ in 0..workers {
            let job_rx = job_rx.clone();
            let free_tx = free_tx.clone();
            let results = &results;
            scope.spawn(move || loop {
                let job = match job_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                let r = process(job, opts, &free_tx);
                if let Ok(mut v) = results.lock() {
                    v.push(r);
                }
            });
        }
        drop(free_tx);

        // The reading loop, on this thread.
        let send_job = |job: Job| job_tx.send(job).is_ok();
        loop {
            // A file cut off by a cancel ends here too: its worker sees a short file.
            if is_cancelled(opts) {
                cancelled = true;
                break;
            }
            let entry = match tar.next_entry() {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(e) => {
                    findings.push(structure_finding(&e));
                    structural_ok = false;
                    break;
                }
            };
            if entry.kind == EntryKind::Dir {
                continue;
            }
            let Some(&(sha, listed)) = expected.get(entry.path.as_str()) else {
                findings.push(integrity(
                    &entry.path,
                    "verify.extra-file",
                    "is in the archive but not in the signed statement".into(),
                ));
                structural_ok = false;
                break;
            };
            // The tar reader already refuses duplicate names; this guards the statement map.
            if seen
                .insert(expected_key(&expected, &entry.path), true)
                .is_some()
            {
                findings.push(integrity(
                    &entry.path,
                    "verify.duplicate",
                    "appears twice".into(),
                ));
                structural_ok = false;
                break;
            }
            if entry.size != listed {
                findings.push(integrity(
                    &entry.path,
                    "verify.size",
                    format!(
                        "is {} bytes in the archive but {listed} in the signed statement",
                        entry.size
                    ),
                ));
                structural_ok = false;
                break;
            }
            let (chunk_tx, chunk_rx) = mpsc::sync_channel::<Vec<u8>>(POOL);
            if !send_job(Job {
                path: entry.path.clone(),
                size: entry.size,
                sha256: sha.to_string(),
                mode: entry.mode,
                chunks: chunk_rx,
            }) {
                break;
            }
            files += 1;
            if let Err(e) = pump(tar, entry.size, &free_rx, &chunk_tx, &mut bytes, opts) {
                findings.push(structure_finding(&e));
                structural_ok = false;
                break;
            }
        }
        drop(job_tx);
    });
    if cancelled {
        return Err(VerifyError::Cancelled);
    }

    for name in expected.keys() {
        if structural_ok && !seen.contains_key(name) {
            findings.push(integrity(
                name,
                "verify.missing-file",
                "is in the signed statement but not in the archive".into(),
            ));
            structural_ok = false;
        }
    }
    let results = results.into_inner().unwrap_or_default();
    for r in results {
        if let Some(e) = r.error {
            return Err(e);
        }
        structural_ok &= r.ok;
        findings.extend(r.findings);
    }
    // Files a model needs at load time must be among the signed ones.
    crate::inspect::models::onnx::cross_check(&mut findings, |p| {
        expected.get(p).map(|&(_, size)| size)
    });
    if structural_ok {
        if let Some(dir) = opts.extract_to {
            sync_dirs(dir).map_err(|source| VerifyError::Extract {
                path: dir.to_path_buf(),
                source,
            })?;
        }
    }
    Ok(Pass {
        findings,
        structural_ok,
        bytes,
        files,
    })
}

fn is_cancelled(opts: &VerifyOptions<'_>) -> bool {
    opts.cancel.is_some_and(|c| c.load(Ordering::SeqCst))
}

fn expected_key<'a>(expected: &BTreeMap<&'a str, (&str, u64)>, path: &str) -> &'a str {
    expected.get_key_value(path).map_or("", |(k, _)| *k)
}

/// Read `size` bytes of the current entry into pooled buffers and send them to the worker.
fn pump<R: Read>(
    tar: &mut TarReader<R>,
    size: u64,
    free: &Receiver<Vec<u8>>,
    out: &SyncSender<Vec<u8>>,
    bytes: &mut u64,
    opts: &VerifyOptions<'_>,
) -> Result<(), crate::container::tar::TarError> {
    let mut left = size;
    while left > 0 {
        if is_cancelled(opts) {
            return Ok(());
        }
        let Ok(mut buf) = free.recv() else {
            return Ok(());
        };
        let want = CHUNK.min(usize::try_from(left).unwrap_or(CHUNK));
        buf.resize(want, 0);
        let mut got = 0;
        while got < want {
            let n = tar.read_data(&mut buf[got..want])?;
            got += n;
        }
        left -= want as u64;
        *bytes += want as u64;
        if let Some(p) = opts.progress {
            p(*bytes);
        }
        if out.send(buf).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// Hash, inspect and (optionally) extract one file.
fn process(job: Job, opts: &VerifyOptions<'_>, free: &SyncSender<Vec<u8>>) -> FileResult {
    let mut hasher = Sha256::new();
    let mut scan = opts.engine.begin_file(&job.path, Some(job.size), 0);
    let mut seen = 0u64;
    let mut out = None;
    let mut error = None;
    if let Some(dir) = opts.extract_to {
        match create_file(dir, &job.path, job.mode) {
            Ok(f) => {
                out = Some((
                    std::io::BufWriter::with_capacity(CHUNK, f),
                    dir.join(&job.path),
                ))
            }
            Err((path, source)) => error = Some(VerifyError::Extract { path, source }),
        }
    }
    for buf in job.chunks.iter() {
        hasher.update(&buf);
        scan.update(&buf);
        seen += buf.len() as u64;
        if let Some((w, path)) = out.as_mut() {
            if error.is_none() {
                if let Err(source) = w.write_all(&buf) {
                    error = Some(VerifyError::Extract {
                        path: path.clone(),
                        source,
                    });
                }
            }
        }
        let _ = free.send(buf);
    }
    let mut findings = scan.finish();
    let mut ok = true;
    if seen != job.size {
        // The reader stopped early (a structural problem reported elsewhere).
        ok = false;
    } else {
        let digest = hex::encode(hasher.finalize());
        if digest != job.sha256 {
            ok = false;
            findings.push(integrity(
                &job.path,
                "verify.sha256",
                format!(
                    "has sha256 {digest}, but the signed statement says {}",
                    job.sha256
                ),
            ));
        }
    }
    if let (Some((w, path)), None, true) = (out, error.as_ref(), ok) {
        let r = w
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all());
        if let Err(source) = r {
            error = Some(VerifyError::Extract { path, source });
        }
    }
    FileResult {
        findings,
        ok,
        error,
    }
}

fn create_file(
    dir: &Path,
    rel: &str,
    mode: u32,
) -> Result<std::fs::File, (PathBuf, std::io::Error)> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| (parent.to_path_buf(), e))?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if mode & 0o111 != 0 { 0o755 } else { 0o644 })
        .open(&path)
        .map_err(|e| (path, e))
}

/// fsync every folder under `dir`, deepest first, then `dir` itself.
pub(super) fn sync_dirs(dir: &Path) -> std::io::Result<()> {
    let mut dirs = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < dirs.len() {
        for e in std::fs::read_dir(&dirs[i])? {
            let e = e?;
            if e.file_type()?.is_dir() {
                dirs.push(e.path());
            }
        }
        i += 1;
    }
    for d in dirs.iter().rev() {
        std::fs::File::open(d)?.sync_all()?;
    }
    Ok(())
}

fn integrity(path: &str, rule: &str, what: String) -> Finding {
    Finding::new(
        path,
        rule,
        Category::Integrity,
        Severity::Critical,
        format!("{path} {what}"),
        what.as_bytes(),
    )
}

fn structure_finding(e: &crate::container::tar::TarError) -> Finding {
    reject("bundle.structure", Category::Archive, e.to_string())
}
