//! Entry names: the clean-path check every archive name passes, and the key under which two
//! names collide once copied to a file system that ignores case or Unicode normalisation
//! (macOS, Windows shares).

use super::tar::{TarError, TarLimits};
use std::collections::HashMap;
use unicode_normalization::UnicodeNormalization;

/// Check and normalise an entry path: relative, UTF-8, no NUL, no `..`, `.` or empty
/// components, no backslashes, control characters or Windows drive prefixes, within the
/// length and depth limits.
pub fn clean_path(raw: &str, limits: &TarLimits) -> Result<String, TarError> {
    let bad = |reason| TarError::BadPath {
        path: raw.to_string(),
        reason,
    };
    let p = raw.strip_suffix('/').unwrap_or(raw);
    if p.is_empty() {
        return Err(bad("empty name"));
    }
    if p.len() > limits.max_path_bytes {
        return Err(bad("name is too long"));
    }
    if p.starts_with('/') {
        return Err(bad("absolute path"));
    }
    if p.contains('\0') {
        return Err(bad("name contains NUL"));
    }
    if p.split(['/', '\\']).any(|c| c == "..") {
        return Err(bad("'..' path component"));
    }
    if p.contains('\\') {
        return Err(bad("name contains a backslash"));
    }
    if p.chars().any(char::is_control) {
        return Err(bad("name contains a control character"));
    }
    let b = p.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Err(bad("Windows drive prefix"));
    }
    let mut depth = 0;
    for comp in p.split('/') {
        match comp {
            "" => return Err(bad("empty path component (//)")),
            "." => return Err(bad("'.' path component")),
            _ => depth += 1,
        }
    }
    if depth > limits.max_path_depth {
        return Err(bad("path is nested too deeply"));
    }
    Ok(p.to_string())
}

/// The collision key of a name: NFC, lower case, NFC again. Two names with one key are one
/// file on a case-insensitive or normalisation-insensitive file system.
pub fn fold(name: &str) -> String {
    let lowered: String = name.nfc().collect::<String>().to_lowercase();
    lowered.nfc().collect()
}

/// The names seen so far, by collision key, with every folder a name implies.
#[derive(Default)]
pub struct Collisions {
    seen: HashMap<String, String>,
}

impl Collisions {
    /// Record `path` (a clean path) and the folders above it; refuse it when it, or a folder
    /// it implies, folds to the key of a differently spelled name already seen.
    pub fn check(&mut self, path: &str) -> Result<(), TarError> {
        let ends = path
            .match_indices('/')
            .map(|(i, _)| i)
            .chain(std::iter::once(path.len()));
        for end in ends {
            let spelled = &path[..end];
            match self.seen.get(&fold(spelled)) {
                Some(other) if other != spelled => {
                    return Err(TarError::NameCollision {
                        path: path.to_string(),
                        other: other.clone(),
                    })
                }
                Some(_) => {}
                None => {
                    self.seen.insert(fold(spelled), spelled.to_string());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_and_normalisation() {
        assert_eq!(fold("README.md"), fold("readme.MD"));
        assert_eq!(fold("caf\u{e9}"), fold("cafe\u{301}"));
        assert_eq!(fold("CAF\u{c9}"), fold("cafe\u{301}"));
        assert_ne!(fold("a"), fold("b"));
        // compatibility forms stay apart: macOS and Windows do not merge them either
        assert_ne!(fold("\u{fb01}le"), fold("file"));
    }

    #[test]
    fn collisions_through_implied_folders() {
        let mut c = Collisions::default();
        c.check("Model/a.bin").unwrap();
        c.check("Model/b.bin").unwrap();
        assert!(matches!(
            c.check("model/c.bin"),
            Err(TarError::NameCollision { .. })
        ));
        let mut c = Collisions::default();
        c.check("x").unwrap();
        assert!(c.check("X/y").is_err());
        // the same spelling twice is the duplicate check's business, not a collision
        let mut c = Collisions::default();
        c.check("d").unwrap();
        c.check("d/e").unwrap();
    }
}
