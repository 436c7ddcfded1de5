//! Scanning files and folders outside a bundle (`airgate scan`): walk without following
//! symlinks, inspect files in parallel, and split large files into ranges whose text rules
//! run in parallel (with overlap) while the other inspectors read the file once in order.

use super::text::matcher::OVERLAP;
use super::text::{count_newlines, looks_text, TextScanner, TEXT_INSPECTOR};
use super::{Category, Engine, Finding, Severity, SNIFF_LEN};
use rayon::prelude::*;
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// How files are read and split.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Files at least this large are split into ranges for the text rules.
    pub split_at: u64,
    /// Size of one range.
    pub range: u64,
    /// Read size for sequential passes.
    pub read_buf: usize,
    /// Deepest folder nesting walked.
    pub max_dir_depth: usize,
    /// Structural limits when the input is an airgate bundle.
    pub bundle_limits: crate::policy::Limits,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            split_at: 32 << 20,
            // small enough that a range read stays in a core's L2 cache for the passes
            // over it (spans, keywords, base64)
            range: 1 << 20,
            read_buf: 1 << 20,
            max_dir_depth: 64,
            bundle_limits: crate::policy::Limits::default(),
        }
    }
}

/// An I/O failure while scanning (operational: nothing was decided).
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
pub struct ScanError {
    /// The file or folder.
    pub path: PathBuf,
    /// The operating system's error.
    pub source: std::io::Error,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ScanError + '_ {
    move |source| ScanError {
        path: path.to_path_buf(),
        source,
    }
}

/// What a scan found and how much it read.
#[derive(Debug, Default)]
pub struct ScanOutput {
    /// Every finding, in path order.
    pub findings: Vec<Finding>,
    /// Files scanned.
    pub files: u64,
    /// Bytes scanned.
    pub bytes: u64,
}

/// What a folder walk gathered: findings in path order as the pieces each file and folder
/// returned (moved up the tree whole, flattened once at the end, so a deep tree does not
/// copy its findings again at every level).
#[derive(Default)]
struct Gathered {
    pieces: Vec<Vec<Finding>>,
    files: u64,
    bytes: u64,
}

impl Gathered {
    fn one(findings: Vec<Finding>, files: u64, bytes: u64) -> Gathered {
        Gathered {
            // most files find nothing: no piece, so no allocation for them
            pieces: if findings.is_empty() {
                Vec::new()
            } else {
                vec![findings]
            },
            files,
            bytes,
        }
    }

    fn into_output(self) -> ScanOutput {
        let mut findings = Vec::with_capacity(self.pieces.iter().map(Vec::len).sum());
        for p in self.pieces {
            findings.extend(p);
        }
        ScanOutput {
            findings,
            files: self.files,
            bytes: self.bytes,
        }
    }
}

struct Item {
    shown: String,
    path: PathBuf,
    size: u64,
}

/// Scan a file or a folder tree. Findings name files relative to a folder root, or as given
/// for a single file.
///
/// A folder is walked in parallel: each folder is read once, its entries (sorted by name)
/// are opened relative to it without following links, and subfolders and files are scanned
/// as rayon tasks, so walking overlaps scanning. Findings come back in path order.
pub fn scan_path(
    engine: &Engine,
    text: &TextScanner,
    root: &Path,
    opts: &ScanOptions,
) -> Result<ScanOutput, ScanError> {
    let meta = std::fs::symlink_metadata(root).map_err(io_err(root))?;
    if meta.is_dir() {
        let dir = open_dir(rustix::fs::CWD, root).map_err(io_err(root))?;
        let walk = Walk {
            engine,
            text,
            opts,
            root,
        };
        let mut out = walk.dir(dir, "", 0)?.into_output();
        // files a model needs at load time must be regular files of the scanned folder
        super::models::onnx::cross_check(&mut out.findings, |p| regular_file_size(root, p));
        return Ok(out);
    }
    if !meta.is_file() {
        return Ok(ScanOutput {
            findings: vec![special(&root.display().to_string(), &meta)],
            ..ScanOutput::default()
        });
    }
    if let Some(out) = scan_bundle(engine, root, opts)? {
        return Ok(out);
    }
    let file = File::open(root).map_err(io_err(root))?;
    let it = Item {
        shown: root.display().to_string(),
        path: root.to_path_buf(),
        size: meta.len(),
    };
    let findings = scan_item(engine, text, file, &it, opts, &mut Vec::new())?;
    Ok(ScanOutput {
        findings,
        files: 1,
        bytes: it.size,
    })
}

fn scan_item(
    engine: &Engine,
    text: &TextScanner,
    file: File,
    it: &Item,
    opts: &ScanOptions,
    buf: &mut Vec<u8>,
) -> Result<Vec<Finding>, ScanError> {
    if it.size >= opts.split_at {
        scan_large(engine, text, file, it, opts)
    } else {
        scan_small(engine, file, it, opts, buf)
    }
}

/// An airgate bundle (tar or tar.zst whose first entry is the signed envelope), read WITHOUT
/// any trust check: every payload file is inspected under its path in the bundle. `None`
/// when `path` is not a bundle (then it is scanned as an ordinary file or archive).
pub fn scan_bundle(
    engine: &Engine,
    path: &Path,
    opts: &ScanOptions,
) -> Result<Option<ScanOutput>, ScanError> {
    let mut opened = match crate::bundle::open::open(path, &opts.bundle_limits) {
        Ok(o) => o,
        Err(crate::bundle::open::OpenError::Io { source, .. }) => return Err(io_err(path)(source)),
        Err(_) => return Ok(None),
    };
    let mut out = ScanOutput::default();
    let mut buf = vec![0u8; opts.read_buf];
    let mut sizes: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    loop {
        let entry = match opened.tar.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => {
                out.findings.push(Finding::new(
                    path.display().to_string(),
                    "archive.bundle-structure",
                    Category::Archive,
                    Severity::High,
                    format!("bundle structure is not valid ({e}): the rest is not inspected"),
                    b"",
                ));
                break;
            }
        };
        if entry.kind != crate::container::tar::EntryKind::File {
            continue;
        }
        let mut scan = engine.begin_file(&entry.path, Some(entry.size), 0);
        loop {
            match opened.tar.read_data(&mut buf) {
                Ok(0) => break,
                Ok(n) => scan.update(&buf[..n]),
                Err(e) => {
                    out.findings.push(Finding::new(
                        &entry.path,
                        "archive.bundle-structure",
                        Category::Archive,
                        Severity::High,
                        format!("bundle data cannot be read ({e})"),
                        b"",
                    ));
                    break;
                }
            }
        }
        out.files += 1;
        out.bytes += entry.size;
        out.findings.extend(scan.finish());
        sizes.insert(entry.path, entry.size);
    }
    super::models::onnx::cross_check(&mut out.findings, |p| sizes.get(p).copied());
    Ok(Some(out))
}

/// The size of `rel` (a `/`-separated path with no `..`, as ONNX references resolve) under
/// `root`, if it is a regular file reached through real folders only, as the walk saw them.
fn regular_file_size(root: &Path, rel: &str) -> Option<u64> {
    let mut at = root.to_path_buf();
    let mut parts = rel.split('/').peekable();
    while let Some(part) = parts.next() {
        at.push(part);
        let m = std::fs::symlink_metadata(&at).ok()?;
        if parts.peek().is_none() {
            return m.is_file().then_some(m.len());
        }
        if !m.is_dir() {
            return None;
        }
    }
    None
}

fn special(shown: &str, meta: &std::fs::Metadata) -> Finding {
    let (rule, msg) = if meta.file_type().is_symlink() {
        (
            "scan.symlink",
            "symbolic link: not followed, its target is not inspected",
        )
    } else {
        (
            "scan.special-file",
            "not a regular file or folder: not inspected",
        )
    };
    Finding::new(shown, rule, Category::Format, Severity::Low, msg, b"")
}

/// Open a folder (relative to `at`) for reading its entries, without following a link.
fn open_dir<Fd: std::os::fd::AsFd>(at: Fd, path: &Path) -> std::io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(at, path, flags, Mode::empty())?)
}

/// What kind of thing a folder entry is.
enum Kind {
    Dir,
    File,
    Other(std::fs::Metadata),
}

/// The shared state of one parallel folder walk.
struct Walk<'a> {
    engine: &'a Engine,
    text: &'a TextScanner,
    opts: &'a ScanOptions,
    root: &'a Path,
}

impl Walk<'_> {
    /// Scan everything under the open folder `dir`, shown as `rel`.
    fn dir(
        &self,
        dir: std::os::fd::OwnedFd,
        rel: &str,
        depth: usize,
    ) -> Result<Gathered, ScanError> {
        let here = self.root.join(rel);
        if depth > self.opts.max_dir_depth {
            let f = Finding::new(
                rel,
                "scan.too-deep",
                Category::Format,
                Severity::High,
                format!(
                    "folders nested deeper than {}: not inspected, so not passed",
                    self.opts.max_dir_depth
                ),
                b"",
            );
            return Ok(Gathered::one(vec![f], 0, 0));
        }
        let mut names = Vec::new();
        // the entries are read through the folder's own descriptor (no second open of it);
        // files are then opened relative to it, which does not depend on its read position
        let mut entries = rustix::fs::Dir::new(dir).map_err(|e| io_err(&here)(e.into()))?;
        for e in entries.by_ref() {
            let e = e.map_err(|e| io_err(&here)(e.into()))?;
            let name = e.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            names.push((
                std::ffi::OsStr::from_bytes(name).to_os_string(),
                e.file_type(),
            ));
        }
        names.sort_by(|a, b| a.0.cmp(&b.0));
        let dir = entries.fd().map_err(|e| io_err(&here)(e.into()))?;
        let parts: Vec<Result<Gathered, ScanError>> = names
            .par_iter()
            .map(|(name, ty)| {
                let shown = if rel.is_empty() {
                    name.to_string_lossy().into_owned()
                } else {
                    format!("{rel}/{}", name.to_string_lossy())
                };
                self.entry(dir, name, *ty, shown, depth)
            })
            .collect();
        let mut out = Gathered::default();
        for p in parts {
            let p = p?;
            out.pieces
                .extend(p.pieces.into_iter().filter(|v| !v.is_empty()));
            out.files += p.files;
            out.bytes += p.bytes;
        }
        Ok(out)
    }

    fn entry(
        &self,
        dir: std::os::fd::BorrowedFd<'_>,
        name: &std::ffi::OsStr,
        ty: rustix::fs::FileType,
        shown: String,
        depth: usize,
    ) -> Result<Gathered, ScanError> {
        use rustix::fs::FileType;
        let path = self.root.join(&shown);
        let kind = match ty {
            FileType::Directory => Kind::Dir,
            FileType::RegularFile => Kind::File,
            // the folder did not say (some file systems): ask without following a link
            _ => {
                let meta = std::fs::symlink_metadata(&path).map_err(io_err(&path))?;
                if meta.is_dir() {
                    Kind::Dir
                } else if meta.is_file() {
                    Kind::File
                } else {
                    Kind::Other(meta)
                }
            }
        };
        match kind {
            Kind::Dir => {
                let sub = open_dir(dir, Path::new(name)).map_err(io_err(&path))?;
                self.dir(sub, &shown, depth + 1)
            }
            Kind::Other(meta) => Ok(Gathered::one(vec![special(&shown, &meta)], 0, 0)),
            Kind::File => {
                use rustix::fs::{Mode, OFlags};
                // NOFOLLOW and NONBLOCK: a file swapped for a link or a FIFO since the folder
                // was read is not followed and cannot hang the scan; fstat then says what
                // was really opened.
                let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
                let fd = rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(|e| {
                    let e: std::io::Error = e.into();
                    io_err(&path)(e)
                })?;
                let file = File::from(fd);
                let meta = file.metadata().map_err(io_err(&path))?;
                if !meta.is_file() {
                    return Ok(Gathered::one(vec![special(&shown, &meta)], 0, 0));
                }
                let it = Item {
                    shown,
                    path,
                    size: meta.len(),
                };
                // the worker's read buffer, taken out while in use: a task this one waits
                // on that runs on the same worker gets a fresh one instead
                let mut buf = READ_BUF.take();
                let findings = scan_item(self.engine, self.text, file, &it, self.opts, &mut buf);
                READ_BUF.set(buf);
                Ok(Gathered::one(findings?, 1, it.size))
            }
        }
    }
}

thread_local! {
    /// Per worker: the buffer small files are read into (kept between files, so a file
    /// costs no allocation and no zeroing of fresh memory).
    static READ_BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// One pass over the file through the whole engine.
fn scan_small(
    engine: &Engine,
    mut f: File,
    it: &Item,
    opts: &ScanOptions,
    buf: &mut Vec<u8>,
) -> Result<Vec<Finding>, ScanError> {
    let mut scan = engine.begin_file(&it.shown, Some(it.size), 0);
    let want = opts.read_buf.min(it.size as usize + 1).max(SNIFF_LEN);
    if buf.len() < want {
        buf.resize(want, 0);
    }
    let buf = &mut buf[..want];
    let mut total = 0u64;
    loop {
        let n = f.read(buf).map_err(io_err(&it.path))?;
        if n == 0 {
            break;
        }
        if total == 0 && n < buf.len() && n as u64 == it.size {
            // The whole file came in one read (the common case): inspectors work on it
            // where it lies instead of copying it into buffers of their own.
            return Ok(scan.whole(&buf[..n]));
        }
        scan.update(&buf[..n]);
        total += n as u64;
        // A short read that reaches the size fstat gave is the end of a regular file: the
        // read that would return 0 is saved (one system call per file). A file that grew
        // fills the buffer and is read on.
        if n < buf.len() && total == it.size {
            break;
        }
    }
    Ok(scan.finish())
}

/// The base64 run starting at file offset `at`, read on to its first non-base64 byte (or
/// the end of the file); `None` when it is longer than [`super::text::MAX_RUN`].
fn read_run(file: &File, at: u64, size: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::os::unix::fs::FileExt;
    let mut run = Vec::new();
    let mut off = at;
    let mut buf = vec![0u8; 1 << 20];
    while off < size {
        let want = buf.len().min((size - off) as usize);
        file.read_exact_at(&mut buf[..want], off)?;
        let k = buf[..want]
            .iter()
            .position(|&b| !super::text::b64_byte(b))
            .unwrap_or(want);
        run.extend_from_slice(&buf[..k]);
        if run.len() > super::text::MAX_RUN {
            return Ok(None);
        }
        if k < want {
            break;
        }
        off += want as u64;
    }
    Ok(Some(run))
}

/// A large file: the text rules run over ranges in parallel; everything else (model
/// inspectors, containers) reads the file once, in order, and stops early when no
/// inspector wants more.
fn scan_large(
    engine: &Engine,
    text: &TextScanner,
    file: File,
    it: &Item,
    opts: &ScanOptions,
) -> Result<Vec<Finding>, ScanError> {
    let mut head = vec![0u8; SNIFF_LEN.min(it.size as usize)];
    file.read_exact_at(&mut head, 0).map_err(io_err(&it.path))?;
    // a large Parquet file is read in place (its index is at its end): no copy is held
    if engine.nests() && super::datasets::sniff(&head) == Some(super::datasets::Kind::Parquet) {
        if let Some((findings, _coverage)) =
            super::datasets::scan_file(engine, &it.shown, &file, it.size)
                .map_err(io_err(&it.path))?
        {
            return Ok(findings);
        }
    }
    let is_text = looks_text(&head);
    // A container's members are text-scanned by the sequential pass (as children); its raw
    // bytes are not scanned again.
    let container = engine.nests() && super::nested::sniff(&head).is_some();
    let (seq, ranges) = rayon::join(
        || -> Result<Vec<Finding>, ScanError> {
            let mut scan = engine.begin_file(&it.shown, Some(it.size), 0);
            scan.skip_inspector(TEXT_INSPECTOR);
            let mut buf = vec![0u8; opts.read_buf];
            let mut off = 0u64;
            while off < it.size {
                // inspectors that only want the file's end let the read jump there
                let Some(want) = scan.next_wanted() else {
                    break;
                };
                if want > off {
                    scan.skip_to(want);
                    off = want;
                }
                let n = file.read_at(&mut buf, off).map_err(io_err(&it.path))?;
                if n == 0 {
                    break;
                }
                scan.update(&buf[..n]);
                off += n as u64;
            }
            Ok(scan.finish())
        },
        || -> Result<Vec<(Vec<Finding>, u64, u64)>, ScanError> {
            let n = if container {
                0
            } else {
                it.size.div_ceil(opts.range)
            };
            (0..n)
                .into_par_iter()
                .map_init(Vec::new, |buf: &mut Vec<u8>, i| {
                    let start = i * opts.range;
                    let end = (start + opts.range).min(it.size);
                    let bstart = start.saturating_sub(256);
                    let bend = (end + OVERLAP as u64).min(it.size);
                    buf.resize((bend - bstart) as usize, 0);
                    file.read_exact_at(buf, bstart).map_err(io_err(&it.path))?;
                    let buf = &buf[..];
                    let from = (start - bstart) as usize;
                    let to = (end - bstart) as usize;
                    let mut out = Vec::new();
                    let line0 = is_text.then_some(1);
                    let more = bend < it.size;
                    let open =
                        text.scan_region(&it.shown, buf, from, to, bstart, line0, more, &mut out);
                    if let Some(a) = open {
                        // a base64 run past this range's buffer: read it on to its end
                        let at = bstart + a as u64;
                        match read_run(&file, at, it.size) {
                            Ok(Some(run)) => text.scan_base64_run(&it.shown, &run, at, &mut out),
                            Ok(None) => out.push(super::text::run_too_long(&it.shown, at)),
                            Err(e) => return Err(io_err(&it.path)(e)),
                        }
                    }
                    let (before, inside) = if is_text {
                        (
                            count_newlines(&buf[..from]) as u64,
                            count_newlines(&buf[from..to]) as u64,
                        )
                    } else {
                        (0, 0)
                    };
                    Ok((out, before, inside))
                })
                .collect()
        },
    );
    let mut findings = seq?;
    let mut lines_before = 0u64;
    for (out, before_in_buf, inside) in ranges? {
        for mut f in out {
            if f.path == it.shown {
                if let Some(l) = f.line.as_mut() {
                    *l = *l + lines_before - before_in_buf;
                }
            }
            findings.push(f);
        }
        lines_before += inside;
    }
    // the text rules ran outside the engine here: name-only rules and the sorting out of
    // facts two inspectors report are done as the engine does them
    text.path_findings(&it.shown, &mut findings);
    super::supersede::one_fact_one_finding(&mut findings);
    Ok(findings)
}

impl crate::Classified for ScanError {
    /// A file that could not be read while scanning: nothing was decided.
    fn class(&self) -> crate::ErrorClass {
        crate::ErrorClass::Operational
    }
}
