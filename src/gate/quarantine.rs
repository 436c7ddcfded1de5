//! Quarantine: the original bundle, unchanged (a hard link to the same file, or a fsynced copy
//! across file systems), plus `report.json` and `arrival.json` (the bundle's sha256 and the
//! identity of the file it came from), published atomically as
//! `quarantine/<timestamp>-<sha256 prefix>/`. `arrival.json` lets a re-run after a crash
//! recognise a copy it already made, so a bundle admitted from outside the gate is
//! quarantined once.

use super::fsutil::{self, io};
use super::GateError;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// File name of the report inside a quarantine folder.
pub const REPORT_FILE: &str = "report.json";
/// File name of the arrival record inside a quarantine folder.
pub const ARRIVAL_FILE: &str = "arrival.json";

/// Where a quarantined bundle came from: written into its folder before it is published.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArrivalRecord {
    /// sha256 of the bundle (and so of the kept file).
    pub sha256: String,
    /// [`file_id`] of the input file the kept file was made from.
    pub source_id: String,
    /// The kept file's name inside the folder.
    pub kept: String,
    /// Whether the kept file is a hard link to the input (else a copy).
    pub linked: bool,
}

/// Largest arrival record read.
const MAX_ARRIVAL_BYTES: u64 = 64 * 1024;
/// Hex digits of the bundle sha256 in a quarantine folder's name.
pub const PREFIX_LEN: usize = 16;

/// `<device>:<inode>:<birth time ns>` of a file: identifies the very file that arrived across
/// renames and hard links, and tells it from a later file that reuses the inode number (the
/// birth time, or the modification time where the file system keeps none).
pub fn file_id(path: &Path) -> Result<String, GateError> {
    let m = std::fs::metadata(path).map_err(io("stat", path))?;
    Ok(id_of(&m))
}

fn id_of(m: &std::fs::Metadata) -> String {
    let born = m
        .created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i128)
        .unwrap_or_else(|| m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128);
    format!("{}:{}:{born}", m.dev(), m.ino())
}

/// `YYYYMMDDTHHMMSSZ-<sha prefix>`.
pub fn folder_name(now: i64, sha256: &str) -> String {
    let ts = jiff::Timestamp::from_second(now)
        .map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|_| now.to_string());
    let prefix: String = sha256.chars().take(PREFIX_LEN).collect();
    format!("{ts}-{prefix}")
}

/// A quarantine folder already holding this very file (same device and inode), left by a run
/// that stopped before removing the input.
pub fn find_same_file(
    quarantine: &Path,
    sha256: &str,
    id: &str,
) -> Result<Option<PathBuf>, GateError> {
    let prefix: String = sha256.chars().take(PREFIX_LEN).collect();
    let suffix = format!("-{prefix}");
    let entries = match std::fs::read_dir(quarantine) {
        Ok(e) => e,
        Err(e) => return Err(io("read", quarantine)(e)),
    };
    for e in entries {
        let e = e.map_err(io("read", quarantine))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.contains(&suffix) {
            continue;
        }
        let Ok(inner) = std::fs::read_dir(e.path()) else {
            continue;
        };
        for f in inner.flatten() {
            if f.file_name() == REPORT_FILE || f.file_name() == ARRIVAL_FILE {
                continue;
            }
            if let Ok(m) = std::fs::symlink_metadata(f.path()) {
                if m.is_file() && id_of(&m) == id {
                    return Ok(Some(e.path()));
                }
            }
        }
    }
    Ok(None)
}

/// A quarantine folder holding a copy this gate made of the file `source_id` with content
/// `sha256` (left by an earlier run of the same admit, maybe killed before it recorded it):
/// its `arrival.json` names both, and the kept copy still hashes to `sha256`.
pub fn find_copy(
    quarantine: &Path,
    sha256: &str,
    source_id: &str,
) -> Result<Option<PathBuf>, GateError> {
    let prefix: String = sha256.chars().take(PREFIX_LEN).collect();
    let suffix = format!("-{prefix}");
    let entries = std::fs::read_dir(quarantine).map_err(io("read", quarantine))?;
    let mut found = Vec::new();
    for e in entries {
        let e = e.map_err(io("read", quarantine))?;
        if !e.file_name().to_string_lossy().contains(&suffix) {
            continue;
        }
        let Some(rec) = read_arrival(&e.path()) else {
            continue;
        };
        if rec.sha256 != sha256 || rec.source_id != source_id || rec.kept.contains('/') {
            continue;
        }
        let kept = e.path().join(&rec.kept);
        let same = crate::util::hash_file(&kept).is_ok_and(|(h, _)| h == sha256);
        if same {
            found.push(e.path());
        }
    }
    // the earliest, should several exist (from before this check)
    found.sort();
    Ok(found.into_iter().next())
}

fn read_arrival(folder: &Path) -> Option<ArrivalRecord> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(folder.join(ARRIVAL_FILE))
        .ok()?
        .take(MAX_ARRIVAL_BYTES)
        .read_to_end(&mut bytes)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Build the quarantine folder in `tmp` (inside `work/`) and publish it under `quarantine`.
/// `bundle` is left where it is; the caller removes it once the outcome is recorded. With
/// `link`, the kept file is a hard link to the input (the very file, for inputs the gate owns);
/// otherwise, and across file systems, a fsynced copy.
#[allow(clippy::too_many_arguments)]
pub fn quarantine(
    quarantine: &Path,
    tmp: &Path,
    bundle: &Path,
    file_name: &str,
    report_json: &[u8],
    sha256: &str,
    now: i64,
    link: bool,
) -> Result<PathBuf, GateError> {
    fsutil::create_dirs_durable(tmp)?;
    let safe_name = if file_name.is_empty()
        || file_name.starts_with('.')
        || file_name.contains('/')
        || file_name == REPORT_FILE
    {
        "bundle".to_string()
    } else {
        file_name.to_string()
    };
    let source_id = file_id(bundle)?;
    let kept = tmp.join(&safe_name);
    let linked = if link {
        match std::fs::hard_link(bundle, &kept) {
            Ok(()) => true,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EXDEV) | Some(libc::EPERM)) => false,
            Err(e) => return Err(io("link bundle into", &kept)(e)),
        }
    } else {
        false
    };
    if !linked {
        fsutil::fault("write")?;
        std::fs::copy(bundle, &kept).map_err(io("copy bundle to", &kept))?;
    }
    fsutil::sync_path(&kept)?;
    fsutil::write_new(&tmp.join(REPORT_FILE), report_json, 0o444)?;
    let arrival = ArrivalRecord {
        sha256: sha256.to_string(),
        source_id,
        kept: safe_name,
        linked,
    };
    let arrival_json = serde_json::to_vec_pretty(&arrival).map_err(|e| GateError::Damaged {
        path: tmp.join(ARRIVAL_FILE),
        message: e.to_string(),
    })?;
    fsutil::write_new(&tmp.join(ARRIVAL_FILE), &arrival_json, 0o444)?;
    fsutil::sync_path(tmp)?;
    fsutil::pause_point("quarantine-copied");
    let base = folder_name(now, sha256);
    let mut n = 0u32;
    loop {
        let dest = if n == 0 {
            quarantine.join(&base)
        } else {
            quarantine.join(format!("{base}.{n}"))
        };
        match fsutil::rename_noreplace(tmp, &dest) {
            Ok(()) => {
                fsutil::sync_path(quarantine)?;
                return Ok(dest);
            }
            Err(GateError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 =>
            {
                n += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_keeps_the_same_file_and_is_found_again() {
        let d = tempfile::tempdir().unwrap();
        let q = d.path().join("quarantine");
        std::fs::create_dir(&q).unwrap();
        let b = d.path().join("b.tar.zst");
        std::fs::write(&b, b"bundle bytes").unwrap();
        let sha = "ab".repeat(32);
        let dest = quarantine(
            &q,
            &d.path().join("w1"),
            &b,
            "b.tar.zst",
            b"{}",
            &sha,
            0,
            true,
        )
        .unwrap();
        assert_eq!(
            std::fs::read(dest.join("b.tar.zst")).unwrap(),
            b"bundle bytes"
        );
        assert!(dest.join(REPORT_FILE).is_file());
        assert!(dest
            .file_name()
            .unwrap()
            .to_string_lossy()
            .ends_with(&sha[..16]));
        let id = file_id(&b).unwrap();
        assert_eq!(find_same_file(&q, &sha, &id).unwrap(), Some(dest.clone()));
        // a copy with the same bytes is a different file
        let c = d.path().join("c");
        std::fs::copy(&b, &c).unwrap();
        assert_eq!(
            find_same_file(&q, &sha, &file_id(&c).unwrap()).unwrap(),
            None
        );
        // same second, same sha: a second folder, not a clash
        let dest2 = quarantine(&q, &d.path().join("w2"), &c, "c", b"{}", &sha, 0, false).unwrap();
        assert_ne!(dest, dest2);
    }

    #[test]
    fn a_copy_is_found_again_by_its_source_and_content() {
        let d = tempfile::tempdir().unwrap();
        let q = d.path().join("quarantine");
        std::fs::create_dir(&q).unwrap();
        let b = d.path().join("outside.tar.zst");
        std::fs::write(&b, b"hostile bundle").unwrap();
        let sha = crate::util::hash_file(&b).unwrap().0;
        let id = file_id(&b).unwrap();
        assert_eq!(find_copy(&q, &sha, &id).unwrap(), None);
        let dest = quarantine(
            &q,
            &d.path().join("w"),
            &b,
            "outside.tar.zst",
            b"{}",
            &sha,
            0,
            false,
        )
        .unwrap();
        assert_eq!(find_copy(&q, &sha, &id).unwrap(), Some(dest.clone()));
        // near misses: another file with the same bytes, or the same file changed since
        let other = d.path().join("other");
        std::fs::copy(&b, &other).unwrap();
        assert_eq!(
            find_copy(&q, &sha, &file_id(&other).unwrap()).unwrap(),
            None
        );
        assert_eq!(find_copy(&q, &"0".repeat(64), &id).unwrap(), None);
        // a kept copy that no longer hashes to the recorded sha256 is not taken for one
        let kept = dest.join("outside.tar.zst");
        let mut perms = std::fs::metadata(&kept).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&kept, perms).unwrap();
        std::fs::write(&kept, b"changed").unwrap();
        assert_eq!(find_copy(&q, &sha, &id).unwrap(), None);
    }
}
