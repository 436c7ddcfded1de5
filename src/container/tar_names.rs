//! Entry names: the clean-path check every archive name passes, the tree of names seen (no
//! duplicates, no name that is both a file and a folder), and the key under which two names
//! collide once copied to a file system that ignores case or Unicode normalisation (macOS,
//! Windows shares).

use super::tar::{EntryKind, TarError, TarLimits};
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

/// What a name is in the archive so far.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    File,
    Dir,
    /// A folder only because a later name lies inside it.
    Implied,
}

/// The names of an archive as a tree: every entry, and every folder an entry implies.
#[derive(Default)]
pub struct Tree {
    names: HashMap<String, Seen>,
}

impl Tree {
    /// Record entry `path` of `kind`. Refused: a name given twice (RUSTSEC-2018-0002), a file
    /// where a folder is (given or implied by an earlier name), and a name inside a file. Such
    /// an archive cannot be extracted as listed: which entry wins depends on the extractor.
    /// Returns how many names are new: `path` itself (unless it was a folder implied before)
    /// and the folders above it recorded now, nearest first.
    pub fn add(&mut self, path: &str, kind: EntryKind) -> Result<usize, TarError> {
        let mut new = match (self.names.get(path), kind) {
            (None, _) => 1,
            (Some(Seen::Implied), EntryKind::Dir) => 0,
            (Some(Seen::Implied), EntryKind::File) => {
                return Err(TarError::FileAndFolder(path.to_string()))
            }
            (Some(_), _) => return Err(TarError::Duplicate(path.to_string())),
        };
        self.names.insert(
            path.to_string(),
            match kind {
                EntryKind::File => Seen::File,
                EntryKind::Dir => Seen::Dir,
            },
        );
        // the folders above it, from the deepest up, until one already known as a folder
        let mut end = path.len();
        while let Some(i) = path[..end].rfind('/') {
            end = i;
            let folder = &path[..end];
            match self.names.get(folder) {
                Some(Seen::File) => return Err(TarError::FileAndFolder(folder.to_string())),
                Some(_) => break,
                None => {
                    self.names.insert(folder.to_string(), Seen::Implied);
                    new += 1;
                }
            }
        }
        Ok(new)
    }
}

/// The collision key of a name: NFC, lower case, NFC again. Two names with one key are one
/// file on a case-insensitive or normalisation-insensitive file system. (ASCII is its own
/// NFC: only its case is folded.)
pub fn fold(name: &str) -> String {
    if name.is_ascii() {
        return name.to_ascii_lowercase();
    }
    let lowered: String = name.nfc().collect::<String>().to_lowercase();
    lowered.nfc().collect()
}

/// The names seen so far (and every folder a name implies), by collision key.
#[derive(Default)]
pub struct Collisions {
    /// collision key -> the spelling seen first
    keys: HashMap<String, String>,
}

impl Collisions {
    /// Check the `new` names [`Tree::add`] just recorded for `path` (it, then the folders
    /// above it, nearest first): refused when one folds to the key of a differently spelled
    /// name seen before. Names seen before were checked then, so each name costs one key,
    /// however many files share its folders.
    pub fn check(&mut self, path: &str, new: usize) -> Result<(), TarError> {
        let mut end = path.len();
        for _ in 0..new {
            let spelled = &path[..end];
            let key = fold(spelled);
            match self.keys.get(&key) {
                Some(other) if other == spelled => {}
                Some(other) => {
                    return Err(TarError::NameCollision {
                        path: path.to_string(),
                        other: other.clone(),
                    })
                }
                None => {
                    self.keys.insert(key, spelled.to_string());
                }
            }
            match spelled.rfind('/') {
                Some(i) => end = i,
                None => break,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_a_file_or_a_folder_never_both() {
        let mut t = Tree::default();
        t.add("x/y", EntryKind::File).unwrap();
        assert!(matches!(
            t.add("x", EntryKind::File),
            Err(TarError::FileAndFolder(p)) if p == "x"
        ));
        let mut t = Tree::default();
        t.add("x", EntryKind::File).unwrap();
        assert!(matches!(
            t.add("x/y/z", EntryKind::File),
            Err(TarError::FileAndFolder(p)) if p == "x"
        ));
        let mut t = Tree::default();
        t.add("d", EntryKind::Dir).unwrap();
        assert!(matches!(
            t.add("d", EntryKind::Dir),
            Err(TarError::Duplicate(_))
        ));
        assert!(matches!(
            t.add("d", EntryKind::File),
            Err(TarError::Duplicate(_))
        ));
        // near misses: a folder entry after names inside it, files beside each other
        let mut t = Tree::default();
        t.add("d/a", EntryKind::File).unwrap();
        t.add("d", EntryKind::Dir).unwrap();
        t.add("d/b", EntryKind::File).unwrap();
        t.add("d/e/f", EntryKind::File).unwrap();
        t.add("d/e", EntryKind::Dir).unwrap();
    }

    #[test]
    fn folds_case_and_normalisation() {
        assert_eq!(fold("README.md"), fold("readme.MD"));
        assert_eq!(fold("caf\u{e9}"), fold("cafe\u{301}"));
        assert_eq!(fold("CAF\u{c9}"), fold("cafe\u{301}"));
        assert_ne!(fold("a"), fold("b"));
        // compatibility forms stay apart: macOS and Windows do not merge them either
        assert_ne!(fold("\u{fb01}le"), fold("file"));
    }

    /// Names through the tree and the collision check, as the reader does.
    fn names(paths: &[&str]) -> Result<(), TarError> {
        let (mut t, mut c) = (Tree::default(), Collisions::default());
        for p in paths {
            let new = t.add(p, EntryKind::File)?;
            c.check(p, new)?;
        }
        Ok(())
    }

    #[test]
    fn collisions_through_implied_folders() {
        assert!(names(&["Model/a.bin", "Model/b.bin"]).is_ok());
        assert!(matches!(
            names(&["Model/a.bin", "Model/b.bin", "model/c.bin"]),
            Err(TarError::NameCollision { .. })
        ));
        assert!(names(&["x", "X/y"]).is_err());
        assert!(names(&["d/e", "d/f/g"]).is_ok());
        // a collision in a folder recorded long before is still found
        assert!(names(&["A/b/c", "A/b/d", "A/x"]).is_ok());
        assert!(names(&["A/b/c", "A/b/d", "A/x", "a/y"]).is_err());
        assert!(names(&["A/b/c", "A/b/d", "A/x", "A/B/z"]).is_err());
    }
}
