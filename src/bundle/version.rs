//! Bundle versions: a plain integer or a semantic version. Each (kind, name) keeps one scheme;
//! integers order numerically, semantic versions by SemVer precedence, and the two schemes
//! never compare (a switch is refused as not newer).

use std::cmp::Ordering;

/// A parsed version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Version {
    /// A plain integer version, ordered numerically.
    Integer(u64),
    /// A semantic version (no build metadata), ordered by SemVer precedence.
    Semver(semver::Version),
}

impl Version {
    /// Parse `"42"` or `"1.2.3"` (`"1.2.3-rc.1"`; build metadata is refused since SemVer
    /// ignores it for ordering, which would allow two different bundles with equal versions).
    pub fn parse(s: &str) -> Result<Version, String> {
        if s.is_empty() || s.len() > 64 {
            return Err(format!("version {s:?} must be 1-64 characters"));
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            if s.len() > 1 && s.starts_with('0') {
                return Err(format!("integer version {s:?} has a leading zero"));
            }
            return s
                .parse::<u64>()
                .map(Version::Integer)
                .map_err(|e| format!("version {s:?}: {e}"));
        }
        let v = semver::Version::parse(s).map_err(|e| {
            format!("version {s:?} is neither an integer nor a semantic version: {e}")
        })?;
        if !v.build.is_empty() {
            return Err(format!(
                "version {s:?}: build metadata (+...) is not allowed"
            ));
        }
        Ok(Version::Semver(v))
    }

    /// Order within one scheme; `None` across schemes.
    pub fn compare(&self, other: &Version) -> Option<Ordering> {
        match (self, other) {
            (Version::Integer(a), Version::Integer(b)) => Some(a.cmp(b)),
            (Version::Semver(a), Version::Semver(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// True when `self` is strictly newer than `other` in the same scheme.
    pub fn is_newer_than(&self, other: &Version) -> bool {
        self.compare(other) == Some(Ordering::Greater)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Version::Integer(n) => write!(f, "{n}"),
            Version::Semver(v) => write!(f, "{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering() {
        let v = |s| Version::parse(s).unwrap();
        assert!(v("10").is_newer_than(&v("9")));
        assert!(v("1.10.0").is_newer_than(&v("1.9.9")));
        assert!(v("1.0.0").is_newer_than(&v("1.0.0-rc.1")));
        assert!(!v("1.0.0").is_newer_than(&v("1.0.0")));
        assert!(!v("2").is_newer_than(&v("1.0.0")));
        assert!(!v("1.0.0").is_newer_than(&v("2")));
    }

    #[test]
    fn rejects_bad() {
        for s in ["", "01", "1.0", "v1", "1.0.0+build", "-1", "1.0.0.0"] {
            assert!(Version::parse(s).is_err(), "{s}");
        }
    }
}
