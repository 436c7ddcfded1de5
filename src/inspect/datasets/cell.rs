//! Moving a finding from the column it was scanned in to the cell it lies in: the path gains
//! the cell's place (`/row:12345`), the offset becomes relative to the cell, and the
//! fingerprint covers the new path.

use crate::inspect::{fingerprint, Finding};

/// Values copied out of the layout that stores them, each followed by a NUL, so the text
/// rules never match across two of them (formats store strings back to back, or split
/// them), with each value's range in `bytes`.
#[derive(Debug, Default)]
pub struct Apart {
    pub bytes: Vec<u8>,
    pub ranges: Vec<(usize, usize)>,
}

impl Apart {
    /// The values at `ranges` of `buf` (each range inside `buf`).
    pub fn gather(buf: &[u8], ranges: &[(usize, usize)]) -> Apart {
        let total: usize = ranges.iter().map(|(s, e)| e - s + 1).sum();
        let mut out = Apart {
            bytes: Vec::with_capacity(total),
            ranges: Vec::with_capacity(ranges.len()),
        };
        for &(s, e) in ranges {
            out.push([&buf[s..e], &[]]);
        }
        out
    }

    /// Append one value made of two parts.
    pub fn push(&mut self, parts: [&[u8]; 2]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(parts[0]);
        self.bytes.extend_from_slice(parts[1]);
        self.ranges.push((start, self.bytes.len()));
        self.bytes.push(0);
    }

    /// The value an offset of `bytes` lies in: (index, value start).
    pub fn value_at(&self, o: usize) -> Option<(usize, usize)> {
        let k = self.ranges.partition_point(|&(s, _)| s <= o);
        let (s, e) = *self.ranges.get(k.checked_sub(1)?)?;
        (o < e).then_some((k - 1, s))
    }
}

/// The parts of `0..len` that no range covers.
pub fn uncovered(len: usize, ranges: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut r: Vec<(usize, usize)> = ranges.iter().copied().filter(|(s, e)| s < e).collect();
    r.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0;
    for (s, e) in r {
        if s > at {
            out.push((at, s.min(len)));
        }
        at = at.max(e);
    }
    if at < len {
        out.push((at, len));
    }
    out
}

/// The scanned-bytes offset a finding of a scan made with path `scan_path` (base offset 0)
/// points at: its own offset, or for a finding inside a decoded base64 run
/// (`<scan path>!base64@N…`) the run's start `N`.
pub fn scanned_offset(f: &Finding, scan_path: &str) -> Option<usize> {
    let rest = f.path.strip_prefix(scan_path)?;
    if rest.is_empty() {
        return f.offset.and_then(|o| usize::try_from(o).ok());
    }
    let n = rest.strip_prefix("!base64@")?;
    let end = n.find(|c: char| !c.is_ascii_digit()).unwrap_or(n.len());
    n[..end].parse().ok()
}

/// `f` (from a scan with path `scan_path`) moved to `scan_path/seg`, its offsets made
/// relative to `cell` when given. The fingerprint covers the old one (rule, column path,
/// value) and the new path, so the same value in two cells has two fingerprints.
pub fn rewrite(mut f: Finding, scan_path: &str, seg: &str, cell: Option<usize>) -> Finding {
    let rest = f.path.get(scan_path.len()..).unwrap_or("").to_string();
    let rest = match (rest.strip_prefix("!base64@"), cell) {
        (Some(n), Some(c)) => {
            let end = n.find(|ch: char| !ch.is_ascii_digit()).unwrap_or(n.len());
            match n[..end].parse::<usize>() {
                Ok(at) => format!("!base64@{}{}", at.saturating_sub(c), &n[end..]),
                Err(_) => rest,
            }
        }
        _ => rest,
    };
    if rest.is_empty() {
        if let (Some(o), Some(c)) = (f.offset, cell) {
            f.offset = Some(o.saturating_sub(c as u64));
        }
    }
    let path = format!("{scan_path}/{seg}{rest}");
    f.fingerprint = fingerprint(&f.rule, &path, f.fingerprint.as_bytes());
    f.path = path;
    f.line = None;
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::{Category, Severity};

    #[test]
    fn rewrites_direct_and_base64_findings_to_the_cell() {
        let p = "d.parquet!rg0/col:text";
        let f = Finding::new(p, "r", Category::Secret, Severity::High, "m", b"v").at_offset(130);
        let g = rewrite(f.clone(), p, "row:7", Some(100));
        assert_eq!(g.path, "d.parquet!rg0/col:text/row:7");
        assert_eq!(g.offset, Some(30));
        assert_ne!(g.fingerprint, f.fingerprint);
        assert_eq!(scanned_offset(&f, p), Some(130));
        let path = format!("{p}!base64@150");
        let b = Finding::new(path, "r", Category::Secret, Severity::High, "m", b"v").at_offset(3);
        assert_eq!(scanned_offset(&b, p), Some(150));
        let g = rewrite(b, p, "row:7", Some(100));
        assert_eq!(g.path, "d.parquet!rg0/col:text/row:7!base64@50");
        assert_eq!(g.offset, Some(3), "the offset inside the decoded run stays");
        // the same value in another row gets another fingerprint
        let h = rewrite(f.clone(), p, "row:8", Some(100));
        assert_ne!(h.fingerprint, rewrite(f, p, "row:7", Some(100)).fingerprint);
    }
}
