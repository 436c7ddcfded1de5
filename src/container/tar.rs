//! A strict, streaming tar reader. It reads headers itself (never `tar::Archive::unpack`) and
//! accepts only regular files and directories with clean relative UTF-8 paths; everything
//! else (links, devices, sparse files, PAX globals, size disagreements, duplicates, setuid
//! bits, trailing data) is refused with a reason.

use std::collections::BTreeSet;
use std::io::{self, Read};

/// Tar block size.
pub const BLOCK: usize = 512;
/// Largest PAX extended header or GNU long-name body accepted.
pub const MAX_EXT_HEADER: u64 = 64 * 1024;
/// Most trailing zero bytes read after the end-of-archive marker.
const MAX_TRAILER: u64 = 1 << 20;

/// Limits applied while reading.
#[derive(Clone, Debug)]
pub struct TarLimits {
    pub max_entries: u64,
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
    pub max_path_bytes: usize,
    pub max_path_depth: usize,
}

impl From<&crate::policy::Limits> for TarLimits {
    fn from(l: &crate::policy::Limits) -> Self {
        TarLimits {
            max_entries: l.max_entries,
            max_file_bytes: l.max_file_bytes,
            max_total_bytes: l.max_total_bytes,
            max_path_bytes: l.max_path_bytes,
            max_path_depth: l.max_path_depth,
        }
    }
}

/// Why an archive was refused. Every variant is a rejection of the input (exit 1), except
/// `Io`, which may also be an operational error from the underlying reader.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    #[error("{}", describe_io(.0))]
    Io(#[from] io::Error),
    #[error("archive ends in the middle of {0}")]
    Truncated(&'static str),
    #[error("tar header checksum does not match at entry {0}")]
    Checksum(u64),
    #[error("entry {path:?}: {reason}")]
    BadPath { path: String, reason: &'static str },
    #[error("entry {path:?}: type {kind} is not allowed (only regular files and directories)")]
    BadType { path: String, kind: String },
    #[error("entry {path:?}: mode {mode:o} has setuid, setgid or sticky bits")]
    SpecialMode { path: String, mode: u32 },
    #[error("entry {0:?} appears more than once")]
    Duplicate(String),
    #[error("entry {path:?}: PAX size {pax} disagrees with header size {ustar}")]
    SizeDisagreement { path: String, pax: u64, ustar: u64 },
    #[error("PAX global headers are not allowed")]
    PaxGlobal,
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("limit exceeded: {0}")]
    Limit(String),
    #[error("non-zero data after the end-of-archive marker")]
    TrailingData,
}

/// The kind of an accepted entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
}

/// One accepted entry header. Its data must be consumed with [`TarReader::read_data`] (or
/// skipped with [`TarReader::skip_data`]) before the next call to [`TarReader::next_entry`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Clean relative path, `/`-separated, no trailing slash.
    pub path: String,
    pub kind: EntryKind,
    pub size: u64,
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
    seen: BTreeSet<String>,
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
            seen: BTreeSet::new(),
            done: false,
        }
    }

    /// The next accepted entry, or `None` at a clean end of archive.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, TarError> {
        if self.done {
            return Ok(None);
        }
        self.skip_data()?;
        let mut long_name: Option<String> = None;
        let mut pax_path: Option<String> = None;
        let mut pax_size: Option<u64> = None;
        loop {
            let mut hdr = [0u8; BLOCK];
            if !read_block(&mut self.inner, &mut hdr)? {
                return Err(TarError::Truncated("the end-of-archive marker"));
            }
            if hdr.iter().all(|&b| b == 0) {
                if long_name.is_some() || pax_path.is_some() || pax_size.is_some() {
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
            check_checksum(&hdr, self.entries)?;
            let typeflag = hdr[156];
            let size = parse_number(&hdr[124..136], "size")?;
            match typeflag {
                b'x' => {
                    let body = self.read_ext(size, "PAX header")?;
                    let (p, s) = parse_pax(&body)?;
                    if p.is_some() {
                        pax_path = p;
                    }
                    if s.is_some() {
                        pax_size = s;
                    }
                    continue;
                }
                b'L' => {
                    let body = self.read_ext(size, "GNU long name")?;
                    let end = body.iter().position(|&b| b == 0).unwrap_or(body.len());
                    let name =
                        String::from_utf8(body[..end].to_vec()).map_err(|_| TarError::BadPath {
                            path: String::from_utf8_lossy(&body[..end]).into_owned(),
                            reason: "name is not UTF-8",
                        })?;
                    long_name = Some(name);
                    continue;
                }
                b'g' => return Err(TarError::PaxGlobal),
                _ => {}
            }
            let raw_name = match (pax_path.take(), long_name.take()) {
                (Some(p), _) => p,
                (None, Some(l)) => l,
                (None, None) => header_name(&hdr)?,
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
            let size = match pax_size.take() {
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
            let mode = parse_number(&hdr[100..108], "mode")? as u32;
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
            if !self.seen.insert(path.clone()) {
                return Err(TarError::Duplicate(path));
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

fn check_checksum(hdr: &[u8; BLOCK], n: u64) -> Result<(), TarError> {
    let stored = parse_number(&hdr[148..156], "checksum").map_err(|_| TarError::Checksum(n))?;
    let sum: u64 = hdr
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u64
            }
        })
        .sum();
    if stored != sum {
        return Err(TarError::Checksum(n));
    }
    Ok(())
}

/// Parse an octal (NUL/space terminated) or GNU base-256 numeric field.
pub fn parse_number(field: &[u8], what: &'static str) -> Result<u64, TarError> {
    if let Some(&first) = field.first() {
        if first & 0x80 != 0 {
            if first & 0x40 != 0 {
                return Err(TarError::Malformed {
                    what,
                    detail: "negative base-256 number".into(),
                });
            }
            let mut v: u64 = (first & 0x3f) as u64;
            for &b in &field[1..] {
                v = v
                    .checked_mul(256)
                    .and_then(|v| v.checked_add(b as u64))
                    .ok_or_else(|| TarError::Malformed {
                        what,
                        detail: "base-256 number overflows".into(),
                    })?;
            }
            return Ok(v);
        }
    }
    let s: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|&b| b != 0 && b != b' ')
        .collect();
    if s.is_empty() {
        return Ok(0);
    }
    let mut v: u64 = 0;
    for b in s {
        if !(b'0'..=b'7').contains(&b) {
            return Err(TarError::Malformed {
                what,
                detail: format!("byte {b:#x} in an octal field"),
            });
        }
        v = v
            .checked_mul(8)
            .and_then(|v| v.checked_add((b - b'0') as u64))
            .ok_or_else(|| TarError::Malformed {
                what,
                detail: "octal number overflows".into(),
            })?;
    }
    Ok(v)
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn header_name(hdr: &[u8; BLOCK]) -> Result<String, TarError> {
    let name = cstr(&hdr[0..100]);
    let is_ustar = &hdr[257..262] == b"ustar";
    let prefix = if is_ustar {
        cstr(&hdr[345..500])
    } else {
        &[][..]
    };
    let mut full = Vec::with_capacity(prefix.len() + name.len() + 1);
    if !prefix.is_empty() {
        full.extend_from_slice(prefix);
        full.push(b'/');
    }
    full.extend_from_slice(name);
    String::from_utf8(full).map_err(|e| TarError::BadPath {
        path: String::from_utf8_lossy(e.as_bytes()).into_owned(),
        reason: "name is not UTF-8",
    })
}

/// Parse PAX records `"<len> <key>=<value>\n"`; returns (path, size).
fn parse_pax(body: &[u8]) -> Result<(Option<String>, Option<u64>), TarError> {
    let bad = |d: &str| TarError::Malformed {
        what: "PAX header",
        detail: d.to_string(),
    };
    let mut path = None;
    let mut size = None;
    let mut rest = body;
    while !rest.is_empty() {
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let sp = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| bad("record without length"))?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("record length is not a number"))?;
        if len <= sp + 1 || len > rest.len() {
            return Err(bad("record length out of range"));
        }
        let rec = &rest[sp + 1..len];
        let rec = rec
            .strip_suffix(b"\n")
            .ok_or_else(|| bad("record does not end in a newline"))?;
        let eq = rec
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| bad("record without '='"))?;
        let (key, value) = (&rec[..eq], &rec[eq + 1..]);
        match key {
            b"path" => {
                let v = String::from_utf8(value.to_vec()).map_err(|_| TarError::BadPath {
                    path: String::from_utf8_lossy(value).into_owned(),
                    reason: "name is not UTF-8",
                })?;
                if path.replace(v).is_some() {
                    return Err(bad("path given twice"));
                }
            }
            b"size" => {
                let v: u64 = std::str::from_utf8(value)
                    .ok()
                    .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad("size is not a number"))?;
                if size.replace(v).is_some() {
                    return Err(bad("size given twice"));
                }
            }
            b"linkpath" => return Err(bad("linkpath records are not allowed")),
            k if k.starts_with(b"GNU.sparse") => return Err(bad("sparse records are not allowed")),
            _ => {}
        }
        rest = &rest[len..];
    }
    Ok((path, size))
}

/// Check and normalise an entry path: relative, UTF-8, no NUL, no `..`, `.` or empty
/// components, no backslashes or control characters, within the length and depth limits.
pub fn clean_path(raw: &str, limits: &TarLimits) -> Result<String, TarError> {
    let bad = |reason| TarError::BadPath {
        path: raw.to_string(),
        reason,
    };
    let p = raw.strip_suffix('/').unwrap_or(raw);
    if p.is_empty() {
        return Err(bad("empty name"));
    }
    if p.len() > limits.max_path_bytes {
        return Err(bad("name is too long"));
    }
    if p.starts_with('/') {
        return Err(bad("absolute path"));
    }
    if p.contains('\0') {
        return Err(bad("name contains NUL"));
    }
    if p.contains('\\') {
        return Err(bad("name contains a backslash"));
    }
    if p.chars().any(char::is_control) {
        return Err(bad("name contains a control character"));
    }
    let mut depth = 0;
    for comp in p.split('/') {
        match comp {
            "" => return Err(bad("empty path component (//)")),
            "." => return Err(bad("'.' path component")),
            ".." => return Err(bad("'..' path component")),
            _ => depth += 1,
        }
    }
    if depth > limits.max_path_depth {
        return Err(bad("path is nested too deeply"));
    }
    Ok(p.to_string())
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
