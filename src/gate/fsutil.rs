//! Durable file-system steps for the gate: fsync of files and directories, atomic replace of a
//! small file (temp + fsync + rename + fsync parent), no-replace rename, the gate lock, and a
//! test-only fault hook. A failed fsync is never retried: the caller treats it as fatal.

use super::GateError;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Name of the environment variable of the fault hook (honoured only in debug builds).
pub const FAULT_ENV: &str = "AIRGATE_TEST_FAULT";

/// A named step at which the test-only fault hook can inject an I/O error.
/// In release builds this always returns `Ok`.
pub fn fault(point: &str) -> Result<(), GateError> {
    if cfg!(debug_assertions) {
        if let Ok(v) = std::env::var(FAULT_ENV) {
            if v.split(',').any(|p| p == point) {
                return Err(GateError::Io {
                    what: format!("injected fault at {point}"),
                    path: PathBuf::from(point),
                    source: std::io::Error::from_raw_os_error(libc::ENOSPC),
                });
            }
        }
    }
    Ok(())
}

/// Name of the environment variable of the pause hook (honoured only in debug builds).
pub const PAUSE_ENV: &str = "AIRGATE_TEST_PAUSE";
/// File the pause hook creates (holding the process id) once it has paused.
pub const PAUSE_FILE_ENV: &str = "AIRGATE_TEST_PAUSE_FILE";

/// A named phase at which a crash test can stop the process: in debug builds, when
/// `AIRGATE_TEST_PAUSE` names this phase, write our pid to `AIRGATE_TEST_PAUSE_FILE` and wait
/// there until killed, so a test can SIGKILL the process at exactly this point. In release
/// builds this does nothing.
pub fn pause_point(point: &str) {
    if !cfg!(debug_assertions) {
        return;
    }
    if std::env::var(PAUSE_ENV).ok().as_deref() != Some(point) {
        return;
    }
    if let Ok(f) = std::env::var(PAUSE_FILE_ENV) {
        let _ = std::fs::write(f, std::process::id().to_string());
    }
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Wrap an I/O error with what was being done and where.
pub fn io<'a>(what: &str, path: &'a Path) -> impl FnOnce(std::io::Error) -> GateError + 'a {
    let what = what.to_string();
    move |source| GateError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// fsync one file or directory by path.
pub fn sync_path(path: &Path) -> Result<(), GateError> {
    fault("fsync")?;
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io("fsync", path))
}

/// fsync the directory holding `path`.
pub fn sync_parent(path: &Path) -> Result<(), GateError> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => sync_path(p),
        _ => sync_path(Path::new(".")),
    }
}

/// Create `dir` and any missing parents, fsyncing each new directory's parent so the new
/// entries are durable.
pub fn create_dirs_durable(dir: &Path) -> Result<(), GateError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        if !parent.as_os_str().is_empty() {
            create_dirs_durable(parent)?;
        }
    }
    match std::fs::create_dir(dir) {
        Ok(()) => sync_parent(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(io("create directory", dir)(e)),
    }
}

/// Rename `from` to `to`, failing if `to` exists (`renameat2(RENAME_NOREPLACE)`).
pub fn rename_noreplace(from: &Path, to: &Path) -> Result<(), GateError> {
    fault("rename")?;
    rustix::fs::renameat_with(
        rustix::fs::CWD,
        from,
        rustix::fs::CWD,
        to,
        rustix::fs::RenameFlags::NOREPLACE,
    )
    .map_err(|e| GateError::Io {
        what: format!("rename {} (no replace) to", from.display()),
        path: to.to_path_buf(),
        source: e.into(),
    })
}

/// Write `bytes` to a new file `path` (must not exist) with `mode`, and fsync it.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), GateError> {
    fault("write")?;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io("create", path))?;
    f.write_all(bytes).map_err(io("write", path))?;
    fault("fsync")?;
    f.sync_all().map_err(io("fsync", path))
}

/// Replace `path` atomically with `bytes`: write a temporary sibling, fsync it, rename it over
/// `path`, fsync the directory.
pub fn replace_atomic(path: &Path, bytes: &[u8]) -> Result<(), GateError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", nonce()));
    if let Err(e) = write_new(&tmp, bytes, 0o644) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    fault("rename")?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("rename into place", path)(e));
    }
    sync_parent(path)
}

/// A random 64-bit value in hex, for unique temporary names.
pub fn nonce() -> String {
    use rand_core::RngCore;
    format!("{:016x}", rand_core::OsRng.next_u64())
}

/// Whether a process with this id is alive (Linux `/proc`).
pub fn pid_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// An exclusive lock on the gate (flock on `state/gate.lock`), released on drop.
pub struct GateLock {
    _file: File,
}

impl GateLock {
    /// Block until the lock at `path` is held.
    pub fn acquire(path: &Path) -> Result<GateLock, GateError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(io("open lock", path))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| io("lock", path)(e.into()))?;
        Ok(GateLock { _file: file })
    }
}

/// Remove a tree even where directories were made read-only.
pub fn remove_tree(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if meta.is_dir() {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
        for entry in std::fs::read_dir(path)? {
            remove_tree(&entry?.path())?;
        }
        std::fs::remove_dir(path)
    } else {
        std::fs::remove_file(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noreplace_refuses_existing_target() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a");
        let b = d.path().join("b");
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        assert!(rename_noreplace(&a, &b).is_err());
        assert!(a.exists());
        let c = d.path().join("c");
        rename_noreplace(&a, &c).unwrap();
        assert!(!a.exists() && c.exists());
    }

    #[test]
    fn replace_atomic_overwrites_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.json");
        replace_atomic(&p, b"one").unwrap();
        replace_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn remove_tree_handles_read_only_dirs() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("t/u");
        std::fs::create_dir_all(&t).unwrap();
        std::fs::write(t.join("f"), b"x").unwrap();
        std::fs::set_permissions(&t, std::fs::Permissions::from_mode(0o555)).unwrap();
        remove_tree(&d.path().join("t")).unwrap();
        assert!(!d.path().join("t").exists());
    }
}
