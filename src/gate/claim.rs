//! Claims: a watcher takes a bundle from `intake/` by renaming it into `work/claims/` under a
//! name carrying its process id, so of several watchers exactly one wins. Bundles still being
//! written (`*.part`, or without their `NAME.ready` marker when markers are required) are
//! left alone. At start, work left by dead processes is cleaned and their claims returned.

use super::fsutil::{self, io};
use super::layout::Gate;
use super::GateError;
use std::path::{Path, PathBuf};

/// Suffix of a bundle still being written.
pub const PART_SUFFIX: &str = ".part";
/// Suffix of a "this bundle is complete" marker.
pub const READY_SUFFIX: &str = ".ready";
/// Separator between the owner prefix and the original name of a claim.
const SEP: &str = "--";

fn owner_pid(name: &str) -> Option<u32> {
    name.split('-').next()?.parse().ok()
}

/// Bundles in `intake/` that are complete, sorted by name.
pub fn ready(gate: &Gate) -> Result<Vec<String>, GateError> {
    let intake = gate.intake();
    let mut out = Vec::new();
    for e in std::fs::read_dir(&intake).map_err(io("read", &intake))? {
        let e = e.map_err(io("read", &intake))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(PART_SUFFIX) || name.ends_with(READY_SUFFIX) {
            continue;
        }
        match e.file_type() {
            Ok(t) if t.is_file() => {}
            _ => continue,
        }
        if gate.config.require_ready && !intake.join(format!("{name}{READY_SUFFIX}")).is_file() {
            continue;
        }
        out.push(name);
    }
    out.sort();
    Ok(out)
}

/// Try to claim `intake/<name>`. `Ok(None)`: another process got it first.
pub fn claim(gate: &Gate, name: &str) -> Result<Option<PathBuf>, GateError> {
    let from = gate.intake().join(name);
    let to = gate.claims().join(format!(
        "{}-{}{SEP}{name}",
        std::process::id(),
        fsutil::nonce()
    ));
    match fsutil::rename_noreplace(&from, &to) {
        Ok(()) => {}
        Err(GateError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    }
    fsutil::sync_path(&gate.claims())?;
    fsutil::sync_path(&gate.intake())?;
    let marker = gate.intake().join(format!("{name}{READY_SUFFIX}"));
    if marker.exists() {
        let _ = std::fs::remove_file(&marker);
    }
    Ok(Some(to))
}

/// The original name of a claim file.
pub fn original_name(claim: &Path) -> String {
    let name = claim
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.split_once(SEP) {
        Some((_, orig)) => orig.to_string(),
        None => name,
    }
}

/// Put a claimed bundle back into `intake/` (same file, same inode).
pub fn release(gate: &Gate, claim: &Path) -> Result<PathBuf, GateError> {
    let orig = original_name(claim);
    let mut dest = gate.intake().join(&orig);
    if fsutil::rename_noreplace(claim, &dest).is_err() {
        dest = gate
            .intake()
            .join(format!("{orig}.returned-{}", fsutil::nonce()));
        fsutil::rename_noreplace(claim, &dest)?;
    }
    fsutil::sync_path(&gate.intake())?;
    fsutil::sync_path(&gate.claims())?;
    Ok(dest)
}

/// Remove work folders of processes that no longer run and return their claims to intake.
/// Returns how many claims were returned.
pub fn clean_dead_work(gate: &Gate) -> Result<usize, GateError> {
    // one cleaner at a time: two starting watchers must not both return the same claim
    let _lock = fsutil::GateLock::acquire(&gate.lock_path())?;
    let work = gate.work();
    let mut returned = 0;
    for e in std::fs::read_dir(&work).map_err(io("read", &work))? {
        let e = e.map_err(io("read", &work))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "claims" {
            continue;
        }
        match owner_pid(&name) {
            Some(pid) if fsutil::pid_alive(pid) => {}
            _ => {
                let p = e.path();
                fsutil::remove_tree(&p).map_err(io("remove leftover", &p))?;
            }
        }
    }
    let claims = gate.claims();
    for e in std::fs::read_dir(&claims).map_err(io("read", &claims))? {
        let e = e.map_err(io("read", &claims))?;
        let name = e.file_name().to_string_lossy().into_owned();
        match owner_pid(&name) {
            Some(pid) if fsutil::pid_alive(pid) => {}
            _ => {
                release(gate, &e.path())?;
                returned += 1;
            }
        }
    }
    fsutil::sync_path(&work)?;
    Ok(returned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> (tempfile::TempDir, Gate) {
        let d = tempfile::tempdir().unwrap();
        let pol = d.path().join("p.toml");
        std::fs::write(&pol, "").unwrap();
        let g = crate::gate::init(&d.path().join("g"), &pol).unwrap();
        (d, g)
    }

    #[test]
    fn ready_skips_partial_and_markers() {
        let (_d, mut g) = gate();
        for n in [
            "a.tar.zst",
            "b.tar.zst.part",
            ".hidden",
            "c.tar",
            "c.tar.ready",
        ] {
            std::fs::write(g.intake().join(n), b"x").unwrap();
        }
        assert_eq!(ready(&g).unwrap(), vec!["a.tar.zst", "c.tar"]);
        g.config.require_ready = true;
        assert_eq!(ready(&g).unwrap(), vec!["c.tar"]);
    }

    #[test]
    fn claim_once_and_release() {
        let (_d, g) = gate();
        std::fs::write(g.intake().join("a"), b"x").unwrap();
        let c = claim(&g, "a").unwrap().unwrap();
        assert!(claim(&g, "a").unwrap().is_none());
        assert_eq!(original_name(&c), "a");
        let back = release(&g, &c).unwrap();
        assert_eq!(back, g.intake().join("a"));
    }

    #[test]
    fn dead_claims_return_live_ones_stay() {
        let (_d, g) = gate();
        // pid 0 never names a live process in /proc; our own pid does
        std::fs::write(g.claims().join("0-abc--dead.tar"), b"x").unwrap();
        let live = format!("{}-abc--live.tar", std::process::id());
        std::fs::write(g.claims().join(&live), b"x").unwrap();
        std::fs::create_dir_all(g.work().join("0-def/stage")).unwrap();
        assert_eq!(clean_dead_work(&g).unwrap(), 1);
        assert!(g.intake().join("dead.tar").is_file());
        assert!(g.claims().join(&live).is_file());
        assert!(!g.work().join("0-def").exists());
    }
}
