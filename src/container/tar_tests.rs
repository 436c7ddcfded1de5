//! Unit tests for the strict tar reader: one hostile archive per rule.

use super::*;

fn limits() -> TarLimits {
    TarLimits::from(&crate::policy::Limits::default())
}

/// A raw ustar header with `name`, `typeflag`, `size`, `mode`.
fn header(name: &[u8], typeflag: u8, size: u64, mode: u32) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name);
    h[100..107].copy_from_slice(format!("{mode:07o}").as_bytes());
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    fix_checksum(&mut h);
    h
}

fn fix_checksum(h: &mut [u8; BLOCK]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| b as u64).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
}

fn entry(out: &mut Vec<u8>, name: &[u8], typeflag: u8, data: &[u8], mode: u32) {
    out.extend_from_slice(&header(name, typeflag, data.len() as u64, mode));
    out.extend_from_slice(data);
    out.resize(out.len() + pad(data.len() as u64) as usize, 0);
}

fn pax(out: &mut Vec<u8>, records: &[(&str, &str)], typeflag: u8) {
    let mut body = Vec::new();
    for (k, v) in records {
        let base = k.len() + v.len() + 3;
        let mut len = base + 1;
        while len.to_string().len() + base != len {
            len = len.to_string().len() + base;
        }
        body.extend_from_slice(format!("{len} {k}={v}\n").as_bytes());
    }
    entry(out, b"pax", typeflag, &body, 0o644);
}

fn end(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0u8; BLOCK * 2]);
}

fn read_all(data: &[u8]) -> Result<Vec<(Entry, Vec<u8>)>, TarError> {
    let mut r = TarReader::new(data, limits());
    let mut out = Vec::new();
    while let Some(e) = r.next_entry()? {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 100];
        loop {
            let n = r.read_data(&mut chunk)?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        out.push((e, buf));
    }
    Ok(out)
}

#[test]
fn reads_files_and_dirs() {
    let mut t = Vec::new();
    entry(&mut t, b"dir/", b'5', b"", 0o755);
    entry(&mut t, b"dir/a.txt", b'0', b"hello", 0o644);
    entry(&mut t, b"b", 0, &[7u8; 1000], 0o644);
    end(&mut t);
    let got = read_all(&t).unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].0.kind, EntryKind::Dir);
    assert_eq!(got[0].0.path, "dir");
    assert_eq!(got[1].1, b"hello");
    assert_eq!(got[2].1.len(), 1000);
}

#[test]
fn reads_what_the_tar_crate_writes() {
    let mut b = tar::Builder::new(Vec::new());
    let long = format!("{}/file.bin", "d".repeat(150));
    for (name, data) in [("x.txt", &b"abc"[..]), (long.as_str(), &b"long"[..])] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    }
    let t = b.into_inner().unwrap();
    let got = read_all(&t).unwrap();
    assert_eq!(got[1].0.path, long);
    assert_eq!(got[1].1, b"long");
}

fn rejects(t: &[u8]) -> TarError {
    match read_all(t) {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn rejects_dotdot_and_absolute() {
    for name in [
        &b"../etc/passwd"[..],
        b"a/../../b",
        b"/etc/passwd",
        b"a/./b",
        b"a//b",
        b"a\\b",
    ] {
        let mut t = Vec::new();
        entry(&mut t, name, b'0', b"x", 0o644);
        end(&mut t);
        assert!(
            matches!(rejects(&t), TarError::BadPath { .. }),
            "{:?}",
            String::from_utf8_lossy(name)
        );
    }
}

#[test]
fn rejects_non_utf8_and_control_names() {
    let mut t = Vec::new();
    entry(&mut t, b"caf\xe9", b'0', b"x", 0o644);
    end(&mut t);
    assert!(matches!(rejects(&t), TarError::BadPath { .. }));
    let mut t = Vec::new();
    entry(&mut t, b"a\nb", b'0', b"x", 0o644);
    end(&mut t);
    assert!(matches!(rejects(&t), TarError::BadPath { .. }));
}

#[test]
fn rejects_links_devices_fifos_sparse() {
    for ty in [b'1', b'2', b'3', b'4', b'6', b'S', b'K', b'7', b'V'] {
        let mut t = Vec::new();
        entry(&mut t, b"x", ty, b"", 0o644);
        end(&mut t);
        assert!(
            matches!(rejects(&t), TarError::BadType { .. }),
            "type {}",
            ty as char
        );
    }
}

#[test]
fn rejects_symlink_then_dir_trick() {
    // RUSTSEC-2021-0080 shape: a symlink to .. followed by a directory through it.
    let mut t = Vec::new();
    entry(&mut t, b"up", b'2', b"", 0o777);
    entry(&mut t, b"up/x", b'5', b"", 0o755);
    end(&mut t);
    assert!(matches!(rejects(&t), TarError::BadType { .. }));
}

#[test]
fn rejects_duplicates() {
    let mut t = Vec::new();
    entry(&mut t, b"a", b'0', b"1", 0o644);
    entry(&mut t, b"a", b'0', b"2", 0o644);
    end(&mut t);
    assert!(matches!(rejects(&t), TarError::Duplicate(_)));
    // after normalisation: "d/" and "d"
    let mut t = Vec::new();
    entry(&mut t, b"d/", b'5', b"", 0o755);
    entry(&mut t, b"d", b'5', b"", 0o755);
    end(&mut t);
    assert!(matches!(rejects(&t), TarError::Duplicate(_)));
}

#[test]
fn rejects_setuid_setgid_sticky() {
    for mode in [0o4755, 0o2755, 0o1755] {
        let mut t = Vec::new();
        entry(&mut t, b"x", b'0', b"", mode);
        end(&mut t);
        assert!(matches!(rejects(&t), TarError::SpecialMode { .. }));
    }
}

#[test]
fn rejects_pax_global_and_size_disagreement() {
    let mut t = Vec::new();
    pax(&mut t, &[("comment", "hi")], b'g');
    entry(&mut t, b"a", b'0', b"x", 0o644);
    end(&mut t);
    assert!(matches!(rejects(&t), TarError::PaxGlobal));

    // CVE-2026-33055 / TARmageddon: PAX says 512 bytes, ustar says 1.
    let mut t = Vec::new();
    pax(&mut t, &[("size", "512")], b'x');
    entry(&mut t, b"a", b'0', b"x", 0o644);
    end(&mut t);
    assert!(matches!(rejects(&t), TarError::SizeDisagreement { .. }));

    // agreeing PAX size and a PAX path are fine
    let mut t = Vec::new();
    pax(&mut t, &[("size", "1"), ("path", "long/name.txt")], b'x');
    entry(&mut t, b"a", b'0', b"x", 0o644);
    end(&mut t);
    let got = read_all(&t).unwrap();
    assert_eq!(got[0].0.path, "long/name.txt");
}

#[test]
fn rejects_pax_linkpath_and_sparse() {
    for rec in [("linkpath", "/etc"), ("GNU.sparse.map", "0,1")] {
        let mut t = Vec::new();
        pax(&mut t, &[rec], b'x');
        entry(&mut t, b"a", b'0', b"x", 0o644);
        end(&mut t);
        assert!(matches!(rejects(&t), TarError::Malformed { .. }));
    }
}

#[test]
fn rejects_bad_checksum_truncation_and_trailing_data() {
    let mut t = Vec::new();
    entry(&mut t, b"a", b'0', b"hello", 0o644);
    end(&mut t);
    let mut bad = t.clone();
    bad[0] = b'b';
    assert!(matches!(rejects(&bad), TarError::Checksum(_)));
    assert!(matches!(rejects(&t[..600]), TarError::Truncated(_)));
    assert!(matches!(rejects(&t[..1024]), TarError::Truncated(_)));
    let mut trailing = t.clone();
    entry(&mut trailing, b"hidden", b'0', b"after the end", 0o644);
    assert!(matches!(rejects(&trailing), TarError::TrailingData));
}

#[test]
fn enforces_limits() {
    let mut t = Vec::new();
    for i in 0..5 {
        entry(&mut t, format!("f{i}").as_bytes(), b'0', b"x", 0o644);
    }
    end(&mut t);
    let mut l = limits();
    l.max_entries = 4;
    let mut r = TarReader::new(&t[..], l);
    let mut err = None;
    for _ in 0..6 {
        match r.next_entry() {
            Err(e) => {
                err = Some(e);
                break;
            }
            Ok(None) => break,
            Ok(Some(_)) => {}
        }
    }
    assert!(matches!(err, Some(TarError::Limit(_))));

    let mut l = limits();
    l.max_file_bytes = 2;
    let mut t = Vec::new();
    entry(&mut t, b"big", b'0', b"abc", 0o644);
    end(&mut t);
    assert!(matches!(
        TarReader::new(&t[..], l).next_entry(),
        Err(TarError::Limit(_))
    ));
}

#[test]
fn base256_numbers() {
    let mut f = [0u8; 12];
    f[0] = 0x80;
    f[10] = 0x01;
    f[11] = 0x00;
    assert_eq!(parse_number(&f, "size").unwrap(), 256);
    assert!(parse_number(b"12x4\0", "size").is_err());
    assert_eq!(parse_number(b"  0017 \0", "size").unwrap(), 15);
}
