//! Recompute a model's manifest: walk the model directory without following symlinks out
//! of it, skip ignored paths, then hash every file (or shard) in parallel with rayon,
//! streaming each through a fixed buffer.

use super::payload::{ItemKey, Serialization};
use super::ModelError;
use blake2::Blake2b512;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Most files in a model.
pub const MAX_FILES: usize = 1_000_000;
/// Deepest directory nesting.
pub const MAX_DEPTH: usize = 64;
const BUF: usize = 1 << 20;

/// The recomputed manifest.
#[derive(Debug)]
pub struct Hashed {
    pub digests: BTreeMap<ItemKey, Vec<u8>>,
    pub files: u64,
    pub bytes: u64,
    /// Shard serialization: empty files, which have no shards, so no manifest can list
    /// them (or tell a signed one from one added later).
    pub unrecorded_empty: Vec<String>,
}

struct Work {
    key: ItemKey,
    open: PathBuf,
    /// Open with O_NOFOLLOW (a regular file found by the walk).
    nofollow: bool,
    start: u64,
    len: u64,
}

/// Hash the model at `root` (a directory, or a single file) as `ser` describes,
/// skipping `ignore` (paths relative to the root; a directory covers its contents).
pub fn hash_model(
    root: &Path,
    ser: &Serialization,
    ignore: &[String],
) -> Result<Hashed, ModelError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ModelError::ModelRead { path, source }
    };
    let root = std::fs::canonicalize(root).map_err(io(root))?;
    let mut files: Vec<(String, PathBuf, bool, u64)> = Vec::new();
    let meta = std::fs::symlink_metadata(&root).map_err(io(&root))?;
    if meta.is_file() {
        files.push((".".into(), root.clone(), true, meta.len()));
    } else {
        walk(&root, ser.allow_symlinks, ignore, &mut files)?;
    }
    let mut work = Vec::new();
    let mut unrecorded_empty = Vec::new();
    for (rel, open, nofollow, size) in &files {
        if ser.shard_size != 0 && *size == 0 {
            unrecorded_empty.push(rel.clone());
        }
        if ser.shard_size == 0 {
            work.push(Work {
                key: ItemKey {
                    path: rel.clone(),
                    range: None,
                },
                open: open.clone(),
                nofollow: *nofollow,
                start: 0,
                len: *size,
            });
            continue;
        }
        let mut start = 0;
        while start < *size {
            let end = start.saturating_add(ser.shard_size).min(*size);
            if work.len() >= super::payload::MAX_RESOURCES {
                return Err(ModelError::Limit(format!(
                    "model has more than {} shards",
                    super::payload::MAX_RESOURCES
                )));
            }
            work.push(Work {
                key: ItemKey {
                    path: rel.clone(),
                    range: Some((start, end)),
                },
                open: open.clone(),
                nofollow: *nofollow,
                start,
                len: end - start,
            });
            start = end;
        }
    }
    let blake = ser.hash_type == "blake2";
    let results: Vec<(ItemKey, Vec<u8>)> = work
        .par_iter()
        .map(|w| hash_one(w, blake).map(|d| (w.key.clone(), d)))
        .collect::<Result<_, _>>()?;
    Ok(Hashed {
        digests: results.into_iter().collect(),
        files: files.len() as u64,
        bytes: files.iter().map(|f| f.3).sum(),
        unrecorded_empty,
    })
}

fn ignored(rel: &str, ignore: &[String]) -> bool {
    ignore.iter().any(|i| {
        let i = i.trim_end_matches('/');
        rel == i || (rel.len() > i.len() && rel.starts_with(i) && rel.as_bytes()[i.len()] == b'/')
    })
}

fn walk(
    root: &Path,
    allow_symlinks: bool,
    ignore: &[String],
    out: &mut Vec<(String, PathBuf, bool, u64)>,
) -> Result<(), ModelError> {
    let mut stack: Vec<(PathBuf, String, usize)> = vec![(root.to_path_buf(), String::new(), 0)];
    while let Some((dir, rel_dir, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(ModelError::Limit(format!(
                "{rel_dir}: nested deeper than {MAX_DEPTH}"
            )));
        }
        let rd = std::fs::read_dir(&dir).map_err(|source| ModelError::ModelRead {
            path: dir.clone(),
            source,
        })?;
        for entry in rd {
            let entry = entry.map_err(|source| ModelError::ModelRead {
                path: dir.clone(),
                source,
            })?;
            let name = entry.file_name();
            let name = name.to_str().ok_or_else(|| {
                ModelError::Model(format!(
                    "{}: file name is not UTF-8",
                    entry.path().display()
                ))
            })?;
            let rel = if rel_dir.is_empty() {
                name.to_string()
            } else {
                format!("{rel_dir}/{name}")
            };
            if ignored(&rel, ignore) {
                continue;
            }
            let path = entry.path();
            let meta =
                std::fs::symlink_metadata(&path).map_err(|source| ModelError::ModelRead {
                    path: path.clone(),
                    source,
                })?;
            let ft = meta.file_type();
            if ft.is_dir() {
                stack.push((path, rel, depth + 1));
            } else if ft.is_file() {
                out.push((rel, path, true, meta.len()));
            } else if ft.is_symlink() {
                if !allow_symlinks {
                    return Err(ModelError::Model(format!(
                        "{rel} is a symlink and the signature does not allow symlinks"
                    )));
                }
                let target = std::fs::canonicalize(&path)
                    .map_err(|_| ModelError::Model(format!("{rel} is a broken symlink")))?;
                if !target.starts_with(root) {
                    return Err(ModelError::Model(format!(
                        "{rel} is a symlink that points outside the model"
                    )));
                }
                let tm = std::fs::metadata(&target).map_err(|source| ModelError::ModelRead {
                    path: target.clone(),
                    source,
                })?;
                if !tm.is_file() {
                    return Err(ModelError::Model(format!(
                        "{rel} is a symlink to a directory, which is not supported"
                    )));
                }
                out.push((rel, target, false, tm.len()));
            } else {
                return Err(ModelError::Model(format!(
                    "{rel} is not a regular file or directory"
                )));
            }
            if out.len() > MAX_FILES {
                return Err(ModelError::Limit(format!(
                    "model has more than {MAX_FILES} files"
                )));
            }
        }
    }
    Ok(())
}

fn open(w: &Work) -> std::io::Result<std::fs::File> {
    use rustix::fs::{Mode, OFlags};
    let mut flags = OFlags::RDONLY | OFlags::CLOEXEC;
    if w.nofollow {
        flags |= OFlags::NOFOLLOW;
    }
    let fd = rustix::fs::open(&w.open, flags, Mode::empty())?;
    Ok(std::fs::File::from(fd))
}

fn hash_one(w: &Work, blake: bool) -> Result<Vec<u8>, ModelError> {
    let err = |source| ModelError::ModelRead {
        path: w.open.clone(),
        source,
    };
    let mut f = open(w).map_err(err)?;
    if w.start > 0 {
        f.seek(SeekFrom::Start(w.start)).map_err(err)?;
    }
    let mut sha = Sha256::new();
    let mut b2 = Blake2b512::new();
    let mut buf = vec![0u8; BUF.min(w.len.max(1) as usize)];
    let mut left = w.len;
    while left > 0 {
        let want = buf.len().min(left as usize);
        let n = f.read(&mut buf[..want]).map_err(err)?;
        if n == 0 {
            return Err(ModelError::Model(format!(
                "{} changed while it was being hashed",
                w.key.path
            )));
        }
        if blake {
            b2.update(&buf[..n]);
        } else {
            sha.update(&buf[..n]);
        }
        left -= n as u64;
    }
    Ok(if blake {
        b2.finalize().to_vec()
    } else {
        sha.finalize().to_vec()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ser(shard: u64) -> Serialization {
        Serialization {
            method: if shard == 0 { "files" } else { "shards" }.into(),
            hash_type: "sha256".into(),
            allow_symlinks: false,
            shard_size: shard,
            ignore_paths: vec![],
        }
    }

    #[test]
    fn files_shards_and_ignores() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("sub/.git")).unwrap();
        std::fs::write(d.path().join("a"), b"hello world").unwrap();
        std::fs::write(d.path().join("sub/b"), b"").unwrap();
        std::fs::write(d.path().join("sub/.git/x"), b"x").unwrap();
        let h = hash_model(d.path(), &ser(0), &["sub/.git".into()]).unwrap();
        let keys: Vec<String> = h.digests.keys().map(|k| k.to_string()).collect();
        assert_eq!(keys, ["a", "sub/b"]);
        assert_eq!(
            h.digests[&ItemKey {
                path: "a".into(),
                range: None
            }],
            Sha256::digest(b"hello world").to_vec()
        );
        let h = hash_model(d.path(), &ser(4), &["sub".into()]).unwrap();
        let keys: Vec<String> = h.digests.keys().map(|k| k.to_string()).collect();
        assert_eq!(keys, ["a:0:4", "a:4:8", "a:8:11"]);
        assert_eq!(
            h.digests[&ItemKey {
                path: "a".into(),
                range: Some((8, 11))
            }],
            Sha256::digest(b"rld").to_vec()
        );
        // "su" must not ignore "sub"
        assert!(!ignored("sub/b", &["su".into()]));
        assert!(ignored("sub/b", &["sub/".into()]));
    }

    #[test]
    fn symlinks() {
        let d = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        std::fs::write(out.path().join("secret"), b"s").unwrap();
        std::fs::write(d.path().join("a"), b"a").unwrap();
        std::os::unix::fs::symlink(d.path().join("a"), d.path().join("in")).unwrap();
        let e = hash_model(d.path(), &ser(0), &[]).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
        let mut s = ser(0);
        s.allow_symlinks = true;
        let h = hash_model(d.path(), &s, &[]).unwrap();
        assert_eq!(h.digests.len(), 2);
        std::os::unix::fs::symlink(out.path().join("secret"), d.path().join("out")).unwrap();
        let e = hash_model(d.path(), &s, &[]).unwrap_err();
        assert!(e.to_string().contains("outside"), "{e}");
    }
}
