//! Walking a source folder for packing or scanning: regular files only, sorted, no symlinks
//! followed, special files refused.

use std::path::{Path, PathBuf};

/// One regular file found by [`walk`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkedFile {
    /// `/`-separated path relative to the root.
    pub rel: String,
    pub path: PathBuf,
    pub size: u64,
    pub executable: bool,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
}

/// Why a folder cannot be walked.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// A folder or file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A symbolic link: refused, never followed.
    #[error("{0} is a symbolic link; airgate never follows links")]
    Symlink(PathBuf),
    /// A device, FIFO or socket: refused.
    #[error("{0} is not a regular file or folder (device, FIFO or socket)")]
    Special(PathBuf),
    /// A file name that is not UTF-8 (the statement lists names as UTF-8).
    #[error("{0}: file name is not UTF-8")]
    NotUtf8(PathBuf),
    /// More files than the limit given to the walk; the limit.
    #[error("more than {0} files")]
    TooMany(usize),
}

/// All regular files under `root`, sorted by relative path. Symlinks and special files are
/// errors (so a packed bundle never silently drops or dereferences anything).
pub fn walk(root: &Path, max_files: usize) -> Result<Vec<WalkedFile>, WalkError> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|source| WalkError::Io {
            path: dir.clone(),
            source,
        })?;
        for ent in rd {
            let ent = ent.map_err(|source| WalkError::Io {
                path: dir.clone(),
                source,
            })?;
            let path = ent.path();
            let name = ent
                .file_name()
                .into_string()
                .map_err(|_| WalkError::NotUtf8(path.clone()))?;
            let child_rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let meta = std::fs::symlink_metadata(&path).map_err(|source| WalkError::Io {
                path: path.clone(),
                source,
            })?;
            let ft = meta.file_type();
            if ft.is_symlink() {
                return Err(WalkError::Symlink(path));
            } else if ft.is_dir() {
                stack.push((path, child_rel));
            } else if ft.is_file() {
                use std::os::unix::fs::MetadataExt;
                out.push(WalkedFile {
                    rel: child_rel,
                    path,
                    size: meta.len(),
                    executable: meta.mode() & 0o111 != 0,
                    mtime: meta.mtime(),
                });
                if out.len() > max_files {
                    return Err(WalkError::TooMany(max_files));
                }
            } else {
                return Err(WalkError::Special(path));
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_refuses_links() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("b/c")).unwrap();
        std::fs::write(d.path().join("b/c/z"), b"1").unwrap();
        std::fs::write(d.path().join("a"), b"22").unwrap();
        let files = walk(d.path(), 10).unwrap();
        let rels: Vec<_> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["a", "b/c/z"]);
        assert_eq!(files[0].size, 2);
        assert!(matches!(walk(d.path(), 1), Err(WalkError::TooMany(1))));
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("link")).unwrap();
        assert!(matches!(walk(d.path(), 10), Err(WalkError::Symlink(_))));
    }
}
