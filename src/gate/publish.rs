//! Atomic publish of a staged tree: make every payload file read-only (no setuid/setgid),
//! fsync files then directories bottom-up, write the receipt, then
//! `renameat2(RENAME_NOREPLACE)` into `staging/<kind>/<name>/<version>/` and fsync the parent.

use super::fsutil::{self, io};
use super::receipt::{Receipt, PAYLOAD_DIR, RECEIPT_FILE};
use super::GateError;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Most entries sealed in one tree.
const MAX_ENTRIES: usize = 2_000_000;
/// Deepest nesting sealed.
const MAX_DEPTH: usize = 64;

/// Mode of staged files: read-only for everyone, never setuid/setgid/sticky or executable.
pub const FILE_MODE: u32 = 0o444;
/// Mode of staged folders.
pub const DIR_MODE: u32 = 0o555;

/// One path component of the staging destination; refuses anything that could leave it.
fn component(s: &str) -> Result<&str, GateError> {
    if s.is_empty()
        || s == "."
        || s == ".."
        || s.starts_with('.')
        || s.len() > 255
        || s.bytes().any(|b| b == b'/' || b == 0)
    {
        return Err(GateError::Damaged {
            path: PathBuf::from(s),
            message: "not usable as a staging folder name".into(),
        });
    }
    Ok(s)
}

/// `staging/<kind>/<name>/<version>`.
pub(crate) fn destination(
    staging: &Path,
    kind: &str,
    name: &str,
    version: &str,
) -> Result<PathBuf, GateError> {
    Ok(staging
        .join(component(kind)?)
        .join(component(name)?)
        .join(component(version)?))
}

/// Seal `tree` (holding `files/` as extracted): fix modes, fsync every file and folder
/// bottom-up, then write `receipt.json` and fsync `tree`.
pub(crate) fn seal(tree: &Path, receipt: &Receipt) -> Result<(), GateError> {
    let mut count = 0usize;
    seal_dir(&tree.join(PAYLOAD_DIR), 0, &mut count)?;
    fsutil::write_new(&tree.join(RECEIPT_FILE), &receipt.to_json(), FILE_MODE)?;
    fsutil::sync_path(tree)
}

fn seal_dir(dir: &Path, depth: usize, count: &mut usize) -> Result<(), GateError> {
    if depth > MAX_DEPTH {
        return Err(GateError::Damaged {
            path: dir.to_path_buf(),
            message: format!("extracted tree nests deeper than {MAX_DEPTH}"),
        });
    }
    for entry in std::fs::read_dir(dir).map_err(io("read", dir))? {
        let entry = entry.map_err(io("read", dir))?;
        *count += 1;
        if *count > MAX_ENTRIES {
            return Err(GateError::Damaged {
                path: dir.to_path_buf(),
                message: format!("extracted tree has more than {MAX_ENTRIES} entries"),
            });
        }
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).map_err(io("stat", &path))?;
        if meta.is_dir() {
            seal_dir(&path, depth + 1, count)?;
        } else if meta.is_file() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(FILE_MODE))
                .map_err(io("chmod", &path))?;
            fsutil::sync_path(&path)?;
        } else {
            // verify only ever writes regular files and folders; anything else is not ours
            return Err(GateError::Damaged {
                path,
                message: "extracted tree holds something that is not a regular file or folder"
                    .into(),
            });
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
        .map_err(io("chmod", dir))?;
    fsutil::sync_path(dir)
}

/// Move the sealed `tree` to `dest` without replacing anything, make it durable, and make
/// the top folder read-only. Fails (and leaves `tree` in place) if `dest` exists.
pub(crate) fn publish(tree: &Path, dest: &Path) -> Result<(), GateError> {
    if let Some(parent) = dest.parent() {
        fsutil::create_dirs_durable(parent)?;
    }
    fsutil::rename_noreplace(tree, dest)?;
    let made_durable = fsutil::sync_parent(dest).and_then(|()| {
        std::fs::set_permissions(dest, std::fs::Permissions::from_mode(DIR_MODE))
            .map_err(io("chmod", dest))?;
        fsutil::sync_path(dest)
    });
    if let Err(e) = made_durable {
        // a failed fsync is not retried: take the tree back out so it never counts as staged
        let _ = unpublish(dest, tree);
        return Err(e);
    }
    Ok(())
}

/// Move a just-published tree at `dest` back to `back_to` (outside `staging/`), after a later
/// step of the same admit failed. Best effort: the caller reports the original error.
pub(crate) fn unpublish(dest: &Path, back_to: &Path) -> Result<(), GateError> {
    // moving a folder to another parent needs write permission on the folder itself
    let _ = std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755));
    rustix::fs::renameat_with(
        rustix::fs::CWD,
        dest,
        rustix::fs::CWD,
        back_to,
        rustix::fs::RenameFlags::NOREPLACE,
    )
    .map_err(|e| io("move back out of staging", dest)(e.into()))?;
    fsutil::sync_parent(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_refuses_escapes() {
        let s = Path::new("/g/staging");
        assert!(destination(s, "weights", "m", "1.0.0").is_ok());
        for (k, n, v) in [
            ("weights", "..", "1"),
            ("weights", "a/b", "1"),
            ("weights", "m", ""),
            ("..", "m", "1"),
            ("weights", ".hidden", "1"),
        ] {
            assert!(destination(s, k, n, v).is_err(), "{k} {n} {v}");
        }
    }

    #[test]
    fn seal_strips_setuid_and_write_bits() {
        let d = tempfile::tempdir().unwrap();
        let tree = d.path().join("t");
        std::fs::create_dir_all(tree.join("files/sub")).unwrap();
        let f = tree.join("files/sub/x");
        std::fs::write(&f, b"x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o6755)).unwrap();
        let mut count = 0;
        seal_dir(&tree.join("files"), 0, &mut count).unwrap();
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, FILE_MODE);
        let dmode = std::fs::metadata(tree.join("files/sub"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(dmode, DIR_MODE);
        fsutil::remove_tree(&tree).unwrap();
    }

    #[test]
    fn seal_refuses_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let tree = d.path().join("t");
        std::fs::create_dir_all(tree.join("files")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", tree.join("files/l")).unwrap();
        let mut count = 0;
        assert!(seal_dir(&tree.join("files"), 0, &mut count).is_err());
    }

    #[test]
    fn publish_never_replaces() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        let b = d.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let dest = d.path().join("staging/weights/m/1");
        publish(&a, &dest).unwrap();
        assert!(dest.is_dir() && !a.exists());
        assert!(publish(&b, &dest).is_err());
        assert!(b.exists());
        unpublish(&dest, &a).unwrap();
        assert!(a.is_dir() && !dest.exists());
    }
}
