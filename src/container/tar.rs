//! A strict, streaming tar reader. It reads headers itself (never `tar::Archive::unpack`) and
//! accepts only regular files and directories with clean relative UTF-8 paths; everything
//! else (links, devices, sparse files, PAX globals, size disagreements, duplicates, names
//! that collide by case or normalisation, setuid bits, trailing data, headers that tar
//! readers disagree on) is refused with a reason. `docs/archive-safety.md` lists every check.

use super::tar_fields::{self, Pax};
use super::tar_names::{Collisions, Tree};
use std::io::{self, Read};

pub use super::tar_fields::parse_number;
pub use super::tar_names::clean_path;

/// Tar block size.
pub const BLOCK: usize = 512;
/// Largest PAX extended header or GNU long-name body accepted.
pub const MAX_EXT_HEADER: u64 = 64 * 1024;
/// Most trailing zero bytes read after the end-of-archive marker.
const MAX_TRAILER: u64 = 1 << 20;

/// Limits applied while reading.
#[derive(Clone, Debug)]
pub struct TarLimits {
    /// Most entries (files and folders) read; one more is a limit error.
    pub max_entries: u64,
    /// Largest single file, in bytes.
    pub max_file_bytes: u64,
    /// Most file bytes over the whole archive.
    pub max_total_bytes: u64,
    /// Longest entry path, in bytes.
    pub max_path_bytes: usize,
    /// Deepest entry path, in `/`-separated components.
    pub max_path_depth: usize,
    /// Refuse names that differ only by case or Unicode normalisation (they become one file
    /// on macOS and Windows file systems); `[limits] allow_name_collisions` turns this off.
    pub refuse_name_collisions: bool,
}

impl From<&crate::policy::Limits> for TarLimits {
    fn from(l: &crate::policy::Limits) -> Self {
        TarLimits {
            max_entries: l.max_entries,
            max_file_bytes: l.max_file_bytes,
            max_total_bytes: l.max_total_bytes,
            max_path_bytes: l.max_path_bytes,
            max_path_depth: l.max_path_depth,
            refuse_name_collisions: !l.allow_name_collisions,
        }
    }
}

/// Why an archive was refused. Every variant is a rejection of the input (exit 1), except
/// `Io`, which may also be an operational error from the underlying reader.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    /// Reading the underlying stream failed (also a decoding limit of the zstd layer).
    #[error("{}", describe_io(.0))]
    Io(#[from] io::Error),
    /// The archive ends inside the named structure.
    #[error("archive ends in the middle of {0}")]
    Truncated(&'static str),
    /// A header's checksum is wrong; the entry's index.
    #[error("tar header checksum does not match at entry {0}")]
    Checksum(u64),
    /// A header's checksum matches only as signed bytes; the entry's index.
    #[error(
        "tar header checksum at entry {0} is right only as a signed sum (an old writer's bug \
         that tar readers treat differently)"
    )]
    SignedChecksum(u64),
    /// A name that is not a clean relative path (absolute, `..`, empty component, control
    /// character).
    #[error("entry {path:?}: {reason}")]
    BadPath {
        /// The name as stored.
        path: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// An entry type other than a regular file or a folder (link, device, FIFO).
    #[error("entry {path:?}: type {kind} is not allowed (only regular files and directories)")]
    BadType {
        /// The entry's name.
        path: String,
        /// The type found.
        kind: String,
    },
    /// Mode bits setuid, setgid or sticky are set.
    #[error("entry {path:?}: mode {mode:o} has setuid, setgid or sticky bits")]
    SpecialMode {
        /// The entry's name.
        path: String,
        /// The mode as stored.
        mode: u32,
    },
    /// The same path twice; the path.
    #[error("entry {0:?} appears more than once")]
    Duplicate(String),
    /// One path used both as a file and as a folder; the path.
    #[error(
        "{0:?} is both a file and a folder in this archive (it cannot be extracted as listed)"
    )]
    FileAndFolder(String),
    /// Two names that are the same file on a case- or Unicode-folding file system.
    #[error(
        "entry {path:?} collides with {other:?} by case or Unicode normalisation (one file on \
         macOS and Windows; `[limits] allow_name_collisions = true` admits such bundles)"
    )]
    NameCollision {
        /// The later name.
        path: String,
        /// The earlier name it folds to.
        other: String,
    },
    /// A PAX `size` record that disagrees with the header's size field.
    #[error("entry {path:?}: PAX size {pax} disagrees with header size {ustar}")]
    SizeDisagreement {
        /// The entry's name.
        path: String,
        /// Size from the PAX record.
        pax: u64,
        /// Size from the header.
        ustar: u64,
    },
    /// A PAX global header (it would change how later entries read).
    #[error("PAX global headers are not allowed")]
    PaxGlobal,
    /// A header field or extension record that does not parse.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// The field or record.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A [`TarLimits`] limit was reached; which one and its value.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// Bytes other than zeros after the two end-of-archive blocks.
    #[error("non-zero data after the end-of-archive marker")]
    TrailingData,
}

/// The kind of an accepted entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
}

/// One accepted entry header. Its data must be consumed with [`TarReader::read_data`] (or
/// skipped with [`TarReader::skip_data`]) before the next call to [`TarReader::next_entry`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Clean relative path, `/`-separated, no trailing slash.
    pub path: String,
    /// File or folder.
    pub kind: EntryKind,
    /// Size in bytes (0 for a folder).
    pub size: u64,
    /// Permission bits as stored (never setuid, setgid or sticky).
    pub mode: u32,
}

/// Streaming strict tar reader over any byte source.
pub struct TarReader<R: Read> {
    inner: R,
    limits: TarLimits,
    entries: u64,
    total: u64,
    /// Data bytes left in the current entry, and padding after them.
    remaining: u64,
    padding: u64,
    tree: Tree,
    collisions: Collisions,
    done: bool,
}

impl<R: Read> TarReader<R> {
    /// A reader over `inner`.
    pub fn new(inner: R, limits: TarLimits) -> Self {
        TarReader {
            inner,
            limits,
            entries: 0,
            total: 0,
            remaining: 0,
            padding: 0,
            tree: Tree::default(),
            collisions: Collisions::default(),
            done: false,
        }
    }

    /// The next accepted entry, or `None` at a clean end of archive.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, TarError> {
        if self.done {
            return Ok(None);
        }
        self.skip_data()?;
        let mut ext = Ext::default();
        loop {
            let mut hdr = [0u8; BLOCK];
            if !read_block(&mut self.inner, &mut hdr)? {
                return Err(TarError::Truncated("the end-of-archive marker"));
            }
            if hdr.iter().all(|&b| b == 0) {
                if ext.any() {
                    return Err(TarError::Malformed {
                        what: "archive",
                        detail: "extended header not followed by an entry".into(),
                    });
                }
                let mut second = [0u8; BLOCK];
                if !read_block(&mut self.inner, &mut second)? {
                    return Err(TarError::Truncated("the end-of-archive marker"));
                }
                if second.iter().any(|&b| b != 0) {
                    return Err(TarError::Malformed {
                        what: "archive",
                        detail: "a zero block followed by a non-zero block".into(),
                    });
                }
                self.check_trailer()?;
                self.done = true;
                return Ok(None);
            }
            self.entries += 1;
            if self.entries > self.limits.max_entries {
                return Err(TarError::Limit(format!(
                    "more than {} entries",
                    self.limits.max_entries
                )));
            }
            tar_fields::check_checksum(&hdr, self.entries)?;
            let typeflag = hdr[156];
            let size = parse_number(&hdr[124..136], "size")?;
            match typeflag {
                b'x' => {
                    let body = self.read_ext(size, "PAX header")?;
                    ext.add_pax(tar_fields::parse_pax(&body)?)?;
                    continue;
                }
                b'L' => {
                    let body = self.read_ext(size, "GNU long name")?;
                    ext.add_long_name(tar_fields::long_name(&body)?)?;
                    continue;
                }
                b'g' => return Err(TarError::PaxGlobal),
                _ => {}
            }
            tar_fields::check_prefix_field(&hdr)?;
            let raw_name = match (ext.pax.path.take(), ext.long_name.take()) {
                (Some(p), _) => p,
                (None, Some(l)) => l,
                (None, None) => tar_fields::header_name(&hdr)?,
            };
            let kind = match typeflag {
                b'0' | 0 => EntryKind::File,
                b'5' => EntryKind::Dir,
                other => {
                    return Err(TarError::BadType {
                        path: raw_name,
                        kind: type_name(other),
                    })
                }
            };
            if kind == EntryKind::File && raw_name.ends_with('/') {
                return Err(TarError::BadPath {
                    path: raw_name,
                    reason: "a regular file whose name ends in '/' (old readers make it a folder)",
                });
            }
            let size = match ext.pax.size.take() {
                Some(p) if p != size => {
                    return Err(TarError::SizeDisagreement {
                        path: raw_name,
                        pax: p,
                        ustar: size,
                    })
                }
                _ => size,
            };
            let path = clean_path(&raw_name, &self.limits)?;
            let mode = parse_number(&hdr[100..108], "mode")?;
            if mode > tar_fields::MAX_MODE {
                return Err(TarError::Malformed {
                    what: "mode",
                    detail: format!("{path:?} has mode {mode:#o}, beyond a ustar mode field"),
                });
            }
            let mode = mode as u32;
            if mode & 0o7000 != 0 {
                return Err(TarError::SpecialMode { path, mode });
            }
            if kind == EntryKind::Dir && size != 0 {
                return Err(TarError::Malformed {
                    what: "directory entry",
                    detail: format!("{path:?} has a non-zero size"),
                });
            }
            if size > self.limits.max_file_bytes {
                return Err(TarError::Limit(format!(
                    "{path:?} is {size} bytes, over the per-file limit of {}",
                    self.limits.max_file_bytes
                )));
            }
            self.total = self.total.saturating_add(size);
            if self.total > self.limits.max_total_bytes {
                return Err(TarError::Limit(format!(
                    "payload over the total limit of {} bytes",
                    self.limits.max_total_bytes
                )));
            }
            let new = self.tree.add(&path, kind)?;
            if self.limits.refuse_name_collisions {
                self.collisions.check(&path, new)?;
            }
            self.remaining = size;
            self.padding = pad(size);
            return Ok(Some(Entry {
                path,
                kind,
                size,
                mode,
            }));
        }
    }

    /// Read from the current entry's data; `Ok(0)` at its end.
    pub fn read_data(&mut self, buf: &mut [u8]) -> Result<usize, TarError> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(TarError::Truncated("an entry's data"));
        }
        self.remaining -= n as u64;
        Ok(n)
    }

    /// Skip the rest of the current entry's data and its padding.
    pub fn skip_data(&mut self) -> Result<(), TarError> {
        let n = self.remaining + self.padding;
        if n > 0 {
            let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
            if copied != n {
                return Err(TarError::Truncated("an entry's data"));
            }
        }
        self.remaining = 0;
        self.padding = 0;
        Ok(())
    }

    /// Data bytes not yet read from the current entry.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Give back the underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn read_ext(&mut self, size: u64, what: &'static str) -> Result<Vec<u8>, TarError> {
        if size > MAX_EXT_HEADER {
            return Err(TarError::Limit(format!("{what} of {size} bytes")));
        }
        let mut body = vec![0u8; size as usize];
        self.inner
            .read_exact(&mut body)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => TarError::Truncated(what),
                _ => TarError::Io(e),
            })?;
        let p = pad(size);
        let copied = io::copy(&mut (&mut self.inner).take(p), &mut io::sink())?;
        if copied != p {
            return Err(TarError::Truncated(what));
        }
        Ok(body)
    }

    fn check_trailer(&mut self) -> Result<(), TarError> {
        let mut buf = [0u8; 8192];
        let mut seen = 0u64;
        loop {
            let n = self.inner.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            if buf[..n].iter().any(|&b| b != 0) {
                return Err(TarError::TrailingData);
            }
            seen += n as u64;
            if seen > MAX_TRAILER {
                return Err(TarError::Limit(
                    "more than 1 MiB of padding after the archive".into(),
                ));
            }
        }
    }
}

/// The extension headers (GNU long name, PAX) read for the entry that follows them. One of
/// each at most, and never a GNU long name beside a PAX `path` or `size`: tar readers
/// disagree on which applies (and on whether a PAX size applies to the long-name header
/// itself), so such an archive extracts differently elsewhere.
#[derive(Default)]
struct Ext {
    long_name: Option<String>,
    pax: Pax,
    had_pax: bool,
}

impl Ext {
    fn any(&self) -> bool {
        self.long_name.is_some() || self.had_pax
    }

    fn add_pax(&mut self, pax: Pax) -> Result<(), TarError> {
        if self.had_pax {
            return Err(ext_conflict("two PAX headers for one entry"));
        }
        if self.long_name.is_some() && (pax.path.is_some() || pax.size.is_some()) {
            return Err(ext_conflict(
                "a PAX path or size after a GNU long name for one entry",
            ));
        }
        self.had_pax = true;
        self.pax = pax;
        Ok(())
    }

    fn add_long_name(&mut self, name: String) -> Result<(), TarError> {
        if self.long_name.is_some() {
            return Err(ext_conflict("two GNU long names for one entry"));
        }
        if self.pax.path.is_some() || self.pax.size.is_some() {
            return Err(ext_conflict(
                "a GNU long name after a PAX path or size for one entry",
            ));
        }
        self.long_name = Some(name);
        Ok(())
    }
}

fn ext_conflict(detail: &str) -> TarError {
    TarError::Malformed {
        what: "extension headers",
        detail: format!("{detail} (tar readers disagree on which applies)"),
    }
}

/// Say what an I/O error while reading an archive means for the archive.
fn describe_io(e: &io::Error) -> String {
    match crate::container::zstd::bomb_reason(e) {
        Some(b) => b,
        None => format!("the data is corrupt or truncated: {e}"),
    }
}

/// Fill `buf` fully; `Ok(false)` on a clean EOF before the first byte.
fn read_block<R: Read>(r: &mut R, buf: &mut [u8; BLOCK]) -> Result<bool, TarError> {
    let mut got = 0;
    while got < BLOCK {
        match r.read(&mut buf[got..]) {
            Ok(0) => {
                return if got == 0 {
                    Ok(false)
                } else {
                    Err(TarError::Truncated("a header block"))
                }
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

fn pad(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

fn type_name(t: u8) -> String {
    match t {
        b'1' => "hard link".into(),
        b'2' => "symbolic link".into(),
        b'3' => "character device".into(),
        b'4' => "block device".into(),
        b'6' => "FIFO".into(),
        b'7' => "contiguous file".into(),
        b'S' => "GNU sparse file".into(),
        b'K' => "GNU long link name".into(),
        b'V' => "volume header".into(),
        b'M' => "multi-volume continuation".into(),
        other if other.is_ascii_graphic() => format!("'{}'", other as char),
        other => format!("{other:#04x}"),
    }
}

#[cfg(test)]
#[path = "tar_tests.rs"]
mod tests;
