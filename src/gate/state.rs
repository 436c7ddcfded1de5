//! Rollback and replay state (`state/state.json`): per (kind, name) the highest version staged,
//! and every bundle sha256 staged. Replaced atomically (temp file, fsync, rename, fsync dir).

use super::fsutil;
use super::GateError;
use crate::bundle::Version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Largest state file we read.
const MAX_STATE_BYTES: u64 = 256 << 20;
/// File name inside `state/`.
pub const STATE_FILE: &str = "state.json";

/// Where a staged bundle went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StagedRef {
    pub kind: String,
    pub name: String,
    pub version: String,
    /// RFC 3339 time of staging.
    pub time: String,
}

/// The whole state file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// `"<kind>/<name>"` → highest version staged.
    pub highest: BTreeMap<String, String>,
    /// bundle sha256 → where it was staged.
    pub staged: BTreeMap<String, StagedRef>,
}

/// The result of checking a candidate against the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Newer than anything staged, never seen.
    Fresh,
    /// This exact bundle was staged before.
    Replay(StagedRef),
    /// Not newer than the highest version staged for its (kind, name).
    Rollback { highest: String },
}

fn key(kind: &str, name: &str) -> String {
    format!("{kind}/{name}")
}

impl State {
    /// Path of the state file in a gate's `state/` folder.
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(STATE_FILE)
    }

    /// Load the state (empty when the file does not exist yet).
    pub fn load(state_dir: &Path) -> Result<State, GateError> {
        let path = State::path(state_dir);
        let bytes = match crate::util::read_file_bounded(&path, MAX_STATE_BYTES) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
            Err(e) if crate::util::is_too_large(&e) => {
                return Err(GateError::Damaged {
                    path,
                    message: e.to_string(),
                })
            }
            Err(e) => return Err(fsutil::io("read", &path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| GateError::Damaged {
            path,
            message: e.to_string(),
        })
    }

    /// Write the state durably.
    pub fn save(&self, state_dir: &Path) -> Result<(), GateError> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| GateError::Damaged {
            path: State::path(state_dir),
            message: e.to_string(),
        })?;
        bytes.push(b'\n');
        fsutil::replace_atomic(&State::path(state_dir), &bytes)
    }

    /// The highest version recorded for (kind, name), if any.
    pub fn highest(&self, kind: &str, name: &str) -> Option<&str> {
        self.highest.get(&key(kind, name)).map(String::as_str)
    }

    /// Check a candidate. `also_staged` lists versions found in `staging/` (so a state file
    /// that lags behind a crash still protects against rollback).
    pub fn check(
        &self,
        kind: &str,
        name: &str,
        version: &Version,
        sha256: &str,
        also_staged: &[String],
    ) -> Check {
        if let Some(prev) = self.staged.get(sha256) {
            return Check::Replay(prev.clone());
        }
        let known = self
            .highest(kind, name)
            .map(str::to_string)
            .into_iter()
            .chain(also_staged.iter().cloned());
        for v in known {
            // A recorded version that does not parse, or a scheme switch, is not "older".
            let newer = Version::parse(&v)
                .map(|old| version.is_newer_than(&old))
                .unwrap_or(false);
            if !newer {
                return Check::Rollback { highest: v };
            }
        }
        Check::Fresh
    }

    /// Record a staged bundle (raises the highest version when newer).
    pub fn record(&mut self, kind: &str, name: &str, version: &Version, sha256: &str, time: &str) {
        let k = key(kind, name);
        let raise = match self.highest.get(&k).map(|v| Version::parse(v)) {
            Some(Ok(old)) => version.is_newer_than(&old),
            _ => true,
        };
        if raise {
            self.highest.insert(k, version.to_string());
        }
        self.staged.insert(
            sha256.to_string(),
            StagedRef {
                kind: kind.into(),
                name: name.into(),
                version: version.to_string(),
                time: time.into(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn rollback_and_replay() {
        let mut s = State::default();
        assert_eq!(
            s.check("weights", "m", &v("1.0.0"), "aa", &[]),
            Check::Fresh
        );
        s.record("weights", "m", &v("1.0.0"), "aa", "t");
        assert!(matches!(
            s.check("weights", "m", &v("1.0.0"), "aa", &[]),
            Check::Replay(_)
        ));
        assert_eq!(
            s.check("weights", "m", &v("1.0.0"), "bb", &[]),
            Check::Rollback {
                highest: "1.0.0".into()
            }
        );
        assert!(matches!(
            s.check("weights", "m", &v("0.9.0"), "cc", &[]),
            Check::Rollback { .. }
        ));
        // scheme switch is not newer
        assert!(matches!(
            s.check("weights", "m", &v("7"), "dd", &[]),
            Check::Rollback { .. }
        ));
        assert_eq!(
            s.check("weights", "m", &v("1.0.1"), "ee", &[]),
            Check::Fresh
        );
        // another name or kind is independent
        assert_eq!(s.check("patch", "m", &v("0.1.0"), "ff", &[]), Check::Fresh);
        assert_eq!(
            s.check("weights", "n", &v("0.1.0"), "ff", &[]),
            Check::Fresh
        );
    }

    #[test]
    fn staged_dirs_protect_when_state_lags() {
        let s = State::default();
        assert!(matches!(
            s.check("weights", "m", &v("2.0.0"), "aa", &["2.0.0".into()]),
            Check::Rollback { .. }
        ));
        assert_eq!(
            s.check("weights", "m", &v("2.0.1"), "aa", &["2.0.0".into()]),
            Check::Fresh
        );
    }

    #[test]
    fn save_load_round_trip_and_damage() {
        let d = tempfile::tempdir().unwrap();
        let mut s = State::default();
        s.record("weights", "m", &v("3"), "aa", "t");
        s.save(d.path()).unwrap();
        let l = State::load(d.path()).unwrap();
        assert_eq!(l.highest("weights", "m"), Some("3"));
        assert!(l.staged.contains_key("aa"));
        std::fs::write(State::path(d.path()), b"{not json").unwrap();
        assert!(matches!(
            State::load(d.path()),
            Err(GateError::Damaged { .. })
        ));
    }

    #[test]
    fn lower_version_does_not_lower_highest() {
        let mut s = State::default();
        s.record("weights", "m", &v("2"), "aa", "t");
        s.record("weights", "m", &v("1"), "bb", "t");
        assert_eq!(s.highest("weights", "m"), Some("2"));
    }
}
