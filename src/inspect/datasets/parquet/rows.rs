//! Where a finding in a page lies in the dataset: the value it starts in, that value's level
//! entry, and the row that entry belongs to; then the finding's path is rewritten from the
//! column (`data.parquet!rg0/col:text`) to the row (`…/row:12345`) by
//! [`crate::inspect::datasets::cell::rewrite`].

use super::footer::Chunk;
use super::pages::{value_ranges, Decoded};
use crate::inspect::datasets::cell::scanned_offset;
use crate::inspect::Finding;

/// Where a finding of a page scan belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    /// In the value that starts at `cell` (an offset in the scanned bytes), of the page's
    /// `local`-th row (-1: the row the page continues from the previous page).
    Row { local: i64, cell: usize },
    /// In dictionary entry `entry`, which starts at `cell`.
    Dict { entry: u32, cell: usize },
    /// Somewhere no value can be named (levels, dictionary indices, packed booleans).
    Page,
}

/// A finding of a page scan, with where it belongs.
#[derive(Debug, Clone)]
pub struct Pending {
    pub f: Finding,
    pub loc: Loc,
}

/// Place each finding of a page scan (made with path `page_path`, base offset 0).
pub fn locate(chunk: &Chunk, d: &Decoded, page_path: &str, found: Vec<Finding>) -> Vec<Pending> {
    if found.is_empty() {
        return Vec::new();
    }
    let ranges = match value_ranges(chunk, d) {
        Ok(Some(r)) => r,
        _ => {
            return found
                .into_iter()
                .map(|f| Pending { f, loc: Loc::Page })
                .collect()
        }
    };
    // (finding index, value index)
    let mut hits: Vec<(usize, usize)> = Vec::new();
    for (i, f) in found.iter().enumerate() {
        let Some(o) = scanned_offset(f, page_path) else {
            continue;
        };
        let k = ranges.partition_point(|&(s, _)| s <= o);
        if k > 0 && o < ranges[k - 1].1 {
            hits.push((i, k - 1));
        }
    }
    let mut locs = vec![Loc::Page; found.len()];
    if d.is_dict {
        for (i, v) in hits {
            locs[i] = Loc::Dict {
                entry: v as u32,
                cell: ranges[v].0,
            };
        }
    } else {
        let mut wanted: Vec<usize> = hits.iter().map(|h| h.1).collect();
        wanted.sort_unstable();
        wanted.dedup();
        if let Ok(rows) = local_rows(chunk, d, &wanted) {
            for (i, v) in hits {
                if let Ok(k) = wanted.binary_search(&v) {
                    if let Some(local) = rows[k] {
                        locs[i] = Loc::Row {
                            local,
                            cell: ranges[v].0,
                        };
                    }
                }
            }
        }
    }
    found
        .into_iter()
        .zip(locs)
        .map(|(f, loc)| Pending { f, loc })
        .collect()
}

/// The page-local row of each value index in `wanted` (sorted, distinct): values exist only
/// for level entries at the maximum definition level, and a row starts at each entry whose
/// repetition level is 0.
fn local_rows(
    chunk: &Chunk,
    d: &Decoded,
    wanted: &[usize],
) -> Result<Vec<Option<i64>>, super::encoding::EncodingError> {
    let mut out = vec![None; wanted.len()];
    if d.num_values > super::encoding::MAX_VALUES {
        // too many level entries to walk: the findings stay at the page
        return Ok(out);
    }
    if chunk.max_def == 0 && chunk.max_rep == 0 {
        for (k, &v) in wanted.iter().enumerate() {
            out[k] = Some(v as i64);
        }
        return Ok(out);
    }
    let mut def = match &d.def {
        Some(s) => Some(d.level_iter(s, chunk.max_def)?),
        None => None,
    };
    let mut rep = match &d.rep {
        Some(s) => Some(d.level_iter(s, chunk.max_rep)?),
        None => None,
    };
    let max_def = u64::from(chunk.max_def);
    let (mut row, mut value, mut k) = (-1i64, 0usize, 0usize);
    for _ in 0..d.num_values {
        if k == wanted.len() {
            break;
        }
        let r = match rep.as_mut() {
            Some(l) => l.next_value()?.unwrap_or(0),
            None => 0,
        };
        let dl = match def.as_mut() {
            Some(l) => l.next_value()?.unwrap_or(0),
            None => max_def,
        };
        if r == 0 {
            row += 1;
        }
        if dl == max_def {
            if value == wanted[k] {
                out[k] = Some(row);
                k += 1;
            }
            value += 1;
        }
    }
    Ok(out)
}
