//! Claims: a watcher takes a bundle from `intake/` by renaming it into `work/claims/` under a
//! name carrying its process id, so of several watchers exactly one wins. Bundles still being
//! written (`*.part`, or without their `NAME.ready` marker when markers are required) are
//! left alone, and [`not_taken`] says so. At start, work left by dead processes is cleaned
//! and their claims returned; on a gate that requires markers a returned claim gets its
//! marker back (written before the rename), so no bundle is stranded in `intake/`.

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
    fsutil::pause_point("claim-renamed");
    let marker = gate.intake().join(format!("{name}{READY_SUFFIX}"));
    if marker.exists() {
        let _ = std::fs::remove_file(&marker);
    }
    fsutil::pause_point("claimed");
    Ok(Some(to))
}

/// A file in `intake/` that no watcher will take as it is, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NotTaken {
    /// The file's name in `intake/`.
    pub name: String,
    /// Why no watcher takes it: a hidden name, not a regular file, still being written, a
    /// marker without its bundle, or a missing `.ready` marker.
    pub reason: String,
}

/// Everything in `intake/` that is not a bundle ready to admit, with the reason, sorted by
/// name: files still being written, bundles waiting for a marker, markers without a bundle,
/// hidden names, folders and links.
pub fn not_taken(gate: &Gate) -> Result<Vec<NotTaken>, GateError> {
    let intake = gate.intake();
    let mut out = Vec::new();
    for e in std::fs::read_dir(&intake).map_err(io("read", &intake))? {
        let e = e.map_err(io("read", &intake))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let is_file = e.file_type().map(|t| t.is_file()).unwrap_or(false);
        let reason = if name.starts_with('.') {
            "a hidden name (starting with '.') is never admitted".to_string()
        } else if !is_file {
            "not a regular file".to_string()
        } else if let Some(base) = name.strip_suffix(PART_SUFFIX) {
            format!("still being written: rename it to {base} when it is complete")
        } else if let Some(base) = name.strip_suffix(READY_SUFFIX) {
            if intake.join(base).is_file() {
                continue;
            }
            format!("a marker without its bundle {base}")
        } else if gate.config.require_ready
            && !intake.join(format!("{name}{READY_SUFFIX}")).is_file()
        {
            format!("no {name}{READY_SUFFIX} marker (this gate requires one)")
        } else {
            continue;
        };
        out.push(NotTaken { name, reason });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
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

/// Put a claimed bundle back into `intake/` (same file, same inode), under its own name or,
/// if that is taken meanwhile, `NAME.returned-<nonce>`. On a gate that requires markers its
/// `.ready` marker is written (and made durable) first, so a crash between the two steps
/// leaves a marker and a claim that the next start returns again, never an unmarked bundle.
pub fn release(gate: &Gate, claim: &Path) -> Result<PathBuf, GateError> {
    let orig = original_name(claim);
    let returned = || format!("{orig}.returned-{}", fsutil::nonce());
    let first = if gate.intake().join(&orig).exists() {
        returned()
    } else {
        orig.clone()
    };
    let dest = match put_back(gate, claim, &first) {
        Ok(d) => d,
        Err(_) if first == orig => put_back(gate, claim, &returned())?,
        Err(e) => return Err(e),
    };
    fsutil::sync_path(&gate.intake())?;
    fsutil::sync_path(&gate.claims())?;
    Ok(dest)
}

/// Write the marker for `name` when the gate requires one, then rename the claim to it.
fn put_back(gate: &Gate, claim: &Path, name: &str) -> Result<PathBuf, GateError> {
    if gate.config.require_ready {
        let marker = gate.intake().join(format!("{name}{READY_SUFFIX}"));
        if !marker.exists() {
            std::fs::File::create(&marker).map_err(io("write marker", &marker))?;
            fsutil::sync_path(&marker)?;
        }
        fsutil::sync_path(&gate.intake())?;
        fsutil::pause_point("release-marker");
    }
    let dest = gate.intake().join(name);
    fsutil::rename_noreplace(claim, &dest)?;
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
    fn a_released_claim_gets_its_marker_back() {
        let (_d, mut g) = gate();
        g.config.require_ready = true;
        std::fs::write(g.intake().join("a"), b"x").unwrap();
        std::fs::write(g.intake().join("a.ready"), b"").unwrap();
        let c = claim(&g, "a").unwrap().unwrap();
        assert!(
            !g.intake().join("a.ready").exists(),
            "consumed by the claim"
        );
        assert_eq!(ready(&g).unwrap(), Vec::<String>::new());
        release(&g, &c).unwrap();
        assert_eq!(ready(&g).unwrap(), vec!["a"]);
        // returned under another name when its own is taken: that name gets the marker
        let c = claim(&g, "a").unwrap().unwrap();
        std::fs::write(g.intake().join("a"), b"newer").unwrap();
        let back = release(&g, &c).unwrap();
        let name = back.file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with("a.returned-"), "{name}");
        assert_eq!(ready(&g).unwrap(), vec![name]);
        // near miss: without required markers, none is written
        g.config.require_ready = false;
        let c = claim(&g, &ready(&g).unwrap()[0]).unwrap().unwrap();
        let back = release(&g, &c).unwrap();
        assert!(!PathBuf::from(format!("{}.ready", back.display())).exists());
    }

    #[test]
    fn not_taken_lists_what_waits_and_why() {
        let (_d, mut g) = gate();
        g.config.require_ready = true;
        for n in ["a", "b", "b.ready", "c.part", "d.ready", ".tmp"] {
            std::fs::write(g.intake().join(n), b"x").unwrap();
        }
        std::fs::create_dir(g.intake().join("folder")).unwrap();
        let got: Vec<(String, String)> = not_taken(&g)
            .unwrap()
            .into_iter()
            .map(|n| (n.name, n.reason))
            .collect();
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [".tmp", "a", "c.part", "d.ready", "folder"]);
        assert!(got[1].1.contains("no a.ready marker"));
        assert!(got[2].1.contains("still being written"));
        assert!(got[3].1.contains("without its bundle d"));
        // without required markers, a bundle without one is taken
        g.config.require_ready = false;
        assert!(!not_taken(&g).unwrap().iter().any(|n| n.name == "a"));
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
