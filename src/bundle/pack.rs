//! `pack`: turn a folder into a deterministic bundle. Files are hashed in parallel, the
//! unsigned envelope goes in its own zstd frame at the front, the payload follows in
//! independent frames of bounded size.

use super::statement::{
    Predicate, Statement, Subject, PAYLOAD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE,
};
use super::{envelope_entry, RESERVED_PREFIX};
use crate::bundle::dsse::Envelope;
use crate::container::dir::{walk, WalkError, WalkedFile};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Uncompressed bytes per payload zstd frame.
pub const FRAME_BYTES: u64 = 8 << 20;
/// Most files a bundle may hold when packing.
pub const MAX_PACK_FILES: usize = 1_000_000;

/// What to pack.
#[derive(Clone, Debug)]
pub struct PackOptions {
    /// Artifact kind: `weights`, `patch`, `dataset` or `trust` (the policy's trust is per
    /// kind).
    pub kind: String,
    /// Bundle name; with the kind, what the gate's rollback and replay checks key on.
    pub name: String,
    /// Version: a plain integer or a semantic version (see
    /// [`Version::parse`](crate::bundle::Version::parse)).
    pub version: String,
    /// Who made the bundle, free text recorded in the statement.
    pub publisher: String,
    /// Creation time (seconds since the epoch); `None`: the newest file mtime (deterministic).
    pub created: Option<i64>,
    /// zstd level; `None` writes a plain `.tar`.
    pub zstd_level: Option<i32>,
}

/// Why packing failed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Walking the source folder failed or met a link, special file or non-UTF-8 name.
    #[error(transparent)]
    Walk(#[from] WalkError),
    /// The options are not valid (unknown kind, bad name or version); the reason.
    #[error("{0}")]
    Invalid(String),
    /// The output path exists; pack never overwrites.
    #[error("refusing to overwrite existing {0}")]
    Exists(PathBuf),
    /// Reading a source file or writing the bundle failed.
    #[error("{path}: {source}")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A source file's size or hash differed between hashing and writing: pack again once
    /// nothing writes into the folder.
    #[error("{0} changed while it was being packed")]
    Changed(PathBuf),
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> PackError + '_ {
    move |source| PackError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Build the statement for `files` (hashing them in parallel).
pub fn statement_for(files: &[WalkedFile], opts: &PackOptions) -> Result<Statement, PackError> {
    let hashed: Vec<(String, u64)> = files
        .par_iter()
        .map(|f| crate::util::hash_file(&f.path).map_err(io_at(&f.path)))
        .collect::<Result<_, _>>()?;
    let mut subject = Vec::with_capacity(files.len());
    let mut sizes = BTreeMap::new();
    for (f, (digest, size)) in files.iter().zip(hashed) {
        if size != f.size {
            return Err(PackError::Changed(f.path.clone()));
        }
        subject.push(Subject {
            name: f.rel.clone(),
            digest: BTreeMap::from([("sha256".to_string(), digest)]),
        });
        sizes.insert(f.rel.clone(), size);
    }
    let created = opts
        .created
        .or_else(|| files.iter().map(|f| f.mtime).max())
        .unwrap_or(0);
    let st = Statement {
        type_: STATEMENT_TYPE.into(),
        subject,
        predicate_type: PREDICATE_TYPE.into(),
        predicate: Predicate {
            kind: opts.kind.clone(),
            name: opts.name.clone(),
            version: opts.version.clone(),
            created: crate::util::format_time(created),
            publisher: opts.publisher.clone(),
            sizes,
        },
    };
    st.check().map_err(PackError::Invalid)?;
    Ok(st)
}

/// Pack `src` into a new bundle at `out` (never overwritten). Returns the statement.
pub fn pack(src: &Path, out: &Path, opts: &PackOptions) -> Result<Statement, PackError> {
    if out.exists() {
        return Err(PackError::Exists(out.to_path_buf()));
    }
    let files = walk(src, MAX_PACK_FILES)?;
    if files.is_empty() {
        return Err(PackError::Invalid(format!(
            "{} holds no files",
            src.display()
        )));
    }
    if let Some(f) = files.iter().find(|f| f.rel.starts_with(RESERVED_PREFIX)) {
        return Err(PackError::Invalid(format!(
            "{}: paths under {RESERVED_PREFIX} are reserved for airgate",
            f.rel
        )));
    }
    let limits = crate::container::tar::TarLimits::from(&crate::policy::Limits::default());
    for f in &files {
        crate::container::tar::clean_path(&f.rel, &limits)
            .map_err(|e| PackError::Invalid(e.to_string()))?;
    }
    let st = statement_for(&files, opts)?;
    let payload = serde_json::to_vec(&st).map_err(|e| PackError::Invalid(e.to_string()))?;
    let env = Envelope::new(PAYLOAD_TYPE, &payload);
    let env_json = serde_json::to_vec(&env).map_err(|e| PackError::Invalid(e.to_string()))?;

    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(&crate::util::tmp::prefix("pack"))
        .tempfile_in(dir)
        .map_err(|e| io_at(dir)(crate::util::tmp::plain(e)))?;
    {
        let file = tmp.as_file_mut();
        let mut w = io::BufWriter::with_capacity(1 << 20, file);
        let first = envelope_entry(&env_json);
        match opts.zstd_level {
            Some(level) => {
                let frame = zstd::stream::encode_all(&first[..], level).map_err(io_at(out))?;
                w.write_all(&frame).map_err(io_at(out))?;
                let fw = FrameWriter::new(&mut w, level);
                let fw = write_payload(fw, &files, &st)?;
                fw.finish().map_err(io_at(out))?;
            }
            None => {
                w.write_all(&first).map_err(io_at(out))?;
                write_payload(&mut w, &files, &st)?;
            }
        }
        w.flush().map_err(io_at(out))?;
    }
    tmp.as_file().sync_all().map_err(io_at(out))?;
    set_mode(tmp.path(), 0o644).map_err(io_at(out))?;
    tmp.persist_noclobber(out)
        .map_err(|e| match e.error.kind() {
            io::ErrorKind::AlreadyExists => PackError::Exists(out.to_path_buf()),
            _ => PackError::Io {
                path: out.to_path_buf(),
                source: e.error,
            },
        })?;
    Ok(st)
}

fn set_mode(p: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
}

/// Write payload entries and the end-of-archive marker.
/// Each file is hashed again as it is copied and checked against the statement, so a file
/// changed after hashing fails the pack instead of producing a bundle that cannot verify.
fn write_payload<W: Write>(w: W, files: &[WalkedFile], st: &Statement) -> Result<W, PackError> {
    let mut b = tar::Builder::new(w);
    b.mode(tar::HeaderMode::Deterministic);
    // `statement_for` lists the subjects in the same order as `files`.
    for (f, subject) in files.iter().zip(&st.subject) {
        let mut h = tar::Header::new_gnu();
        h.set_size(f.size);
        h.set_mode(if f.executable { 0o755 } else { 0o644 });
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        let file = File::open(&f.path).map_err(io_at(&f.path))?;
        let mut exact = ExactLen {
            inner: file.take(f.size),
            left: f.size,
            path: f.path.clone(),
            hasher: Sha256::new(),
        };
        b.append_data(&mut h, &f.rel, &mut exact)
            .map_err(io_at(&f.path))?;
        let signed = (subject.name == f.rel).then(|| subject.sha256()).flatten();
        if exact.left != 0 || signed != Some(hex::encode(exact.hasher.finalize()).as_str()) {
            return Err(PackError::Changed(f.path.clone()));
        }
    }
    b.into_inner().map_err(io_at(Path::new("bundle")))
}

/// Fails if the file is shorter than when it was hashed; hashes what it passes on.
struct ExactLen<R> {
    inner: R,
    left: u64,
    path: PathBuf,
    hasher: Sha256,
}

impl<R: Read> Read for ExactLen<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank while being packed", self.path.display()),
            ));
        }
        self.left -= n as u64;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Compresses into a series of independent zstd frames of about [`FRAME_BYTES`] each.
struct FrameWriter<W: Write> {
    enc: Option<zstd::stream::write::Encoder<'static, W>>,
    level: i32,
    in_frame: u64,
}

impl<W: Write> FrameWriter<W> {
    fn new(w: W, level: i32) -> FrameWriter<W> {
        FrameWriter {
            enc: zstd::stream::write::Encoder::new(w, level).ok(),
            level,
            in_frame: 0,
        }
    }

    fn finish(mut self) -> io::Result<W> {
        match self.enc.take() {
            Some(e) => e.finish(),
            None => Err(io::Error::other("zstd encoder failed to start")),
        }
    }
}

impl<W: Write> Write for FrameWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let enc = self
            .enc
            .as_mut()
            .ok_or_else(|| io::Error::other("zstd encoder failed to start"))?;
        let room = (FRAME_BYTES - self.in_frame) as usize;
        let n = enc.write(&buf[..buf.len().min(room)])?;
        self.in_frame += n as u64;
        if self.in_frame >= FRAME_BYTES {
            if let Some(e) = self.enc.take() {
                let w = e.finish()?;
                self.enc = Some(zstd::stream::write::Encoder::new(w, self.level)?);
            }
            self.in_frame = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.enc.as_mut() {
            Some(e) => e.flush(),
            None => Ok(()),
        }
    }
}

impl crate::Classified for PackError {
    /// Reading or writing failed: operational; a folder that cannot be packed as given, or
    /// an output that exists: usage.
    fn class(&self) -> crate::ErrorClass {
        match self {
            PackError::Io { .. }
            | PackError::Changed(_)
            | PackError::Walk(WalkError::Io { .. }) => crate::ErrorClass::Operational,
            _ => crate::ErrorClass::Config,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> PackOptions {
        PackOptions {
            kind: "dataset".into(),
            name: "t".into(),
            version: "1".into(),
            publisher: "tests".into(),
            created: Some(0),
            zstd_level: None,
        }
    }

    #[test]
    fn a_file_changed_after_hashing_fails_the_pack() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a"), b"first").unwrap();
        let files = walk(d.path(), 10).unwrap();
        let st = statement_for(&files, &opts()).unwrap();
        assert!(write_payload(Vec::new(), &files, &st).is_ok());
        // same size, other bytes: caught while copying
        std::fs::write(d.path().join("a"), b"FIRST").unwrap();
        assert!(matches!(
            write_payload(Vec::new(), &files, &st),
            Err(PackError::Changed(_))
        ));
        // shorter: caught too
        std::fs::write(d.path().join("a"), b"fir").unwrap();
        assert!(write_payload(Vec::new(), &files, &st).is_err());
    }
}
