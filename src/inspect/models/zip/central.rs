//! Strict reading of a zip's end record and central directory, compared with what the
//! streaming walk of local headers saw.

use super::{u16le, u32le, u64le, zip64_extra, ZipScan, CENTRAL, EOCD};
use crate::inspect::{Category, Severity};
use std::collections::{HashMap, HashSet};

struct CdEntry {
    name: String,
    flags: u16,
    method: u16,
    crc: u32,
    csize: u64,
    usize: u64,
    offset: u64,
}

/// Find the end-of-central-directory record in `tail` (the last bytes of the file).
fn find_eocd(tail: &[u8]) -> Option<usize> {
    if tail.len() < 22 {
        return None;
    }
    let lo = tail.len().saturating_sub(22 + 65535);
    (lo..=tail.len() - 22)
        .rev()
        .find(|&i| tail[i..i + 4] == EOCD[..])
}

pub(super) fn compare(z: &mut ZipScan, total: u64) {
    let tail = std::mem::take(&mut z.tail);
    let base = z.tail_start;
    let Some(e) = find_eocd(&tail) else {
        let msg = if z.tail_dropped {
            "central directory is larger than the inspection limit".to_string()
        } else {
            "no end-of-central-directory record: the archive is truncated or not a zip".to_string()
        };
        z.finding(
            "zip.no-central-directory",
            Category::Format,
            Severity::High,
            msg,
            b"",
            total,
        );
        return;
    };
    let comment_len = usize::from(u16le(&tail, e + 20));
    if e + 22 + comment_len != tail.len() {
        z.finding("zip.trailing-bytes", Category::Archive, Severity::High,
            "bytes after the end-of-central-directory record: readers disagree on where the archive ends".into(), b"", base + e as u64);
    }
    let disk = u16le(&tail, e + 4);
    let cd_disk = u16le(&tail, e + 6);
    let mut count = u64::from(u16le(&tail, e + 10));
    let mut cd_size = u64::from(u32le(&tail, e + 12));
    let mut cd_off = u64::from(u32le(&tail, e + 16));
    if disk != 0 || cd_disk != 0 {
        z.finding(
            "zip.multi-disk",
            Category::Archive,
            Severity::High,
            "multi-disk archive".into(),
            b"",
            base + e as u64,
        );
    }
    // ZIP64: locator just before the end record.
    if e >= 20 && tail[e - 20..e - 16] == b"PK\x06\x07"[..] {
        let rec = u64le(&tail, e - 12);
        if let Some(r) = rec.checked_sub(base).map(|r| r as usize) {
            if r + 56 <= tail.len() && tail[r..r + 4] == b"PK\x06\x06"[..] {
                count = u64le(&tail, r + 32);
                cd_size = u64le(&tail, r + 40);
                cd_off = u64le(&tail, r + 48);
            }
        }
    }
    if cd_off != base && !z.tail_dropped {
        z.finding("zip.central-offset", Category::Archive, Severity::High,
            format!("the end record puts the central directory at {cd_off}, but the members end at {base}: prepended or hidden data"),
            b"", cd_off);
    }
    let Some(start) = cd_off
        .checked_sub(base)
        .map(|s| s as usize)
        .filter(|&s| s <= e)
    else {
        z.finding(
            "zip.central-offset",
            Category::Format,
            Severity::High,
            "central directory lies outside the bytes that follow the members".into(),
            b"",
            cd_off,
        );
        return;
    };
    if start as u64 + cd_size != e as u64 && !(e >= 76 && start as u64 + cd_size + 76 == e as u64) {
        z.finding(
            "zip.central-size",
            Category::Archive,
            Severity::High,
            "central directory size in the end record does not match its position".into(),
            b"",
            cd_off,
        );
    }
    let mut entries = Vec::new();
    let mut i = start;
    while i + 46 <= e && tail[i..i + 4] == CENTRAL[..] {
        let nlen = usize::from(u16le(&tail, i + 28));
        let xlen = usize::from(u16le(&tail, i + 30));
        let clen = usize::from(u16le(&tail, i + 32));
        let end = i + 46 + nlen + xlen + clen;
        if end > e {
            break;
        }
        let mut csize = u64::from(u32le(&tail, i + 20));
        let mut usize_ = u64::from(u32le(&tail, i + 24));
        let mut offset = u64::from(u32le(&tail, i + 42));
        zip64_extra(
            &tail[i + 46 + nlen..i + 46 + nlen + xlen],
            &mut [&mut usize_, &mut csize, &mut offset],
        );
        entries.push(CdEntry {
            name: String::from_utf8_lossy(&tail[i + 46..i + 46 + nlen]).into_owned(),
            flags: u16le(&tail, i + 8),
            method: u16le(&tail, i + 10),
            crc: u32le(&tail, i + 16),
            csize,
            usize: usize_,
            offset,
        });
        i = end;
    }
    if entries.len() as u64 != count {
        z.finding(
            "zip.entry-count",
            Category::Archive,
            Severity::High,
            format!(
                "end record announces {count} members, the central directory holds {}",
                entries.len()
            ),
            b"",
            cd_off,
        );
    }
    let locals: HashMap<u64, usize> = z
        .locals
        .iter()
        .enumerate()
        .map(|(k, l)| (l.offset, k))
        .collect();
    let mut names = HashSet::new();
    let mut referenced = HashSet::new();
    let mut issues = Vec::new();
    for c in &entries {
        if !names.insert(c.name.clone()) {
            issues.push((
                "zip.duplicate",
                format!(
                    "member name {} appears twice in the central directory",
                    c.name
                ),
                c.name.clone(),
                c.offset,
            ));
        }
        let Some(&k) = locals.get(&c.offset) else {
            issues.push(("zip.central-only", format!("member {} is listed in the central directory at offset {} but the local headers do not contain it: it was not inspected", c.name, c.offset), c.name.clone(), c.offset));
            continue;
        };
        referenced.insert(k);
        let l = &z.locals[k];
        let mut diffs = Vec::new();
        if l.name != c.name {
            diffs.push(format!("name {:?} vs {:?}", l.name, c.name));
        }
        if l.method != c.method {
            diffs.push(format!("method {} vs {}", l.method, c.method));
        }
        if l.crc != c.crc {
            diffs.push("CRC".to_string());
        }
        if l.csize != c.csize || l.usize != c.usize {
            diffs.push(format!(
                "sizes {}/{} vs {}/{}",
                l.csize, l.usize, c.csize, c.usize
            ));
        }
        if (l.flags ^ c.flags) & 0x69 != 0 {
            diffs.push(format!("flags 0x{:04x} vs 0x{:04x}", l.flags, c.flags));
        }
        if !diffs.is_empty() {
            issues.push((
                "zip.header-mismatch",
                format!(
                    "local and central headers of member {} disagree ({})",
                    c.name,
                    diffs.join(", ")
                ),
                c.name.clone(),
                c.offset,
            ));
        }
    }
    let mut local_names = HashSet::new();
    for (k, l) in z.locals.iter().enumerate() {
        if !local_names.insert(l.name.clone()) {
            issues.push((
                "zip.duplicate",
                format!("member name {} appears twice in the local headers", l.name),
                l.name.clone(),
                l.offset,
            ));
        }
        if !referenced.contains(&k) {
            issues.push(("zip.local-only", format!("member {} has a local header but is not in the central directory: readers disagree on the archive's contents", l.name), l.name.clone(), l.offset));
        }
    }
    for (rule, msg, key, at) in issues {
        z.finding(
            rule,
            Category::Archive,
            Severity::High,
            msg,
            key.as_bytes(),
            at,
        );
    }
}
