//! Temporary files and folders that writing commands (`pack`, `sign`, `init`) make beside
//! their output: named `.airgate-OP-PID-…` so that a signal handler can remove this
//! process's own, and the next run can sweep those left by a process that no longer exists.

use std::path::{Path, PathBuf};

/// The name prefix of this process's temporaries for operation `op` (`pack`, `sign`, `init`).
pub fn prefix(op: &str) -> String {
    format!(".airgate-{op}-{}-", std::process::id())
}

/// An I/O error from making a temporary, without the temporary's own path (which the
/// `tempfile` crate adds to its messages): reports name the output, never a temporary.
pub fn plain(e: std::io::Error) -> std::io::Error {
    // tempfile wraps the OS error in its own error, which names the path
    let os = e.raw_os_error().or_else(|| {
        let inner = e.get_ref()?;
        let source = std::error::Error::source(inner)?;
        source.downcast_ref::<std::io::Error>()?.raw_os_error()
    });
    match os {
        Some(code) => std::io::Error::from_raw_os_error(code),
        None => std::io::Error::from(e.kind()),
    }
}

/// The process id a temporary's name carries, if it has the `.airgate-OP-PID-` form.
fn owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(".airgate-")?;
    let (_op, rest) = rest.split_once('-')?;
    let (pid, _) = rest.split_once('-')?;
    pid.parse().ok()
}

/// Whether a process with this id exists (Linux: `/proc/PID`). When `/proc` is not mounted,
/// every process is taken to be alive, so nothing is swept that might still be in use.
fn alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Remove temporaries in `dir` that `keep` selects by (name, owner pid); returns the paths
/// removed. Errors are ignored: sweeping is best effort and never blocks the command.
fn sweep(dir: &Path, keep: impl Fn(&str, u32) -> bool) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = owner(name) else { continue };
        if !keep(name, pid) {
            continue;
        }
        let path = e.path();
        let gone = match e.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path).is_ok(),
            Ok(_) => std::fs::remove_file(&path).is_ok(),
            Err(_) => false,
        };
        if gone {
            removed.push(path);
        }
    }
    removed
}

/// Remove temporaries in `dir` left by processes that no longer exist.
pub fn sweep_stale(dir: &Path) -> Vec<PathBuf> {
    sweep(dir, |_, pid| pid != std::process::id() && !alive(pid))
}

/// Remove this process's own temporaries in `dir` (from a signal handler, before exiting).
pub fn sweep_own(dir: &Path) -> Vec<PathBuf> {
    let me = std::process::id();
    sweep(dir, |_, pid| pid == me)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_owner() {
        assert_eq!(owner(".airgate-pack-123-abc"), Some(123));
        assert_eq!(
            owner(&format!("{}x", prefix("sign"))),
            Some(std::process::id())
        );
        assert_eq!(
            owner(".airgate-pack-abc"),
            None,
            "the old form names no owner"
        );
        assert_eq!(owner("airgate-pack-1-x"), None);
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_swept_and_live_ones_kept() {
        let d = tempfile::tempdir().unwrap();
        // pid 4194304 is above Linux's pid_max limit: no such process can exist
        let dead = d.path().join(".airgate-pack-4194304-x");
        let mine = d.path().join(format!("{}y", prefix("pack")));
        let other = d.path().join("bundle.tar.zst");
        let dead_dir = d.path().join(".airgate-init-4194304-z");
        for f in [&dead, &mine, &other] {
            std::fs::write(f, b"partial").unwrap();
        }
        std::fs::create_dir_all(dead_dir.join("sub")).unwrap();
        let removed = sweep_stale(d.path());
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert!(!dead.exists() && !dead_dir.exists());
        assert!(mine.exists(), "a live process's temporary is kept");
        assert!(other.exists());
        assert_eq!(sweep_own(d.path()), vec![mine.clone()]);
        assert!(!mine.exists() && other.exists());
    }
}
