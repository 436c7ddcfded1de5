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

/// A PAX header whose records are given raw (possibly malformed).
fn pax_raw(out: &mut Vec<u8>, body: &[u8]) {
    entry(out, b"pax", b'x', body, 0o644);
}

fn one(build: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut t = Vec::new();
    build(&mut t);
    entry(&mut t, b"f", b'0', b"x", 0o644);
    end(&mut t);
    t
}

fn reason(t: &[u8]) -> String {
    rejects(t).to_string()
}

#[test]
fn pax_records_are_plain_decimal_and_bounded() {
    let big = vec![b'a'; MAX_EXT_HEADER as usize + 1];
    assert!(reason(&one(|t| pax_raw(t, &big))).contains("PAX header of 65537 bytes"));
    for (body, want) in [
        (&b"30 path=x\n"[..], "record length out of range"),
        (b"-9 path=x\n", "record length is not a decimal number"),
        (b"+11 path=ab\n", "record length is not a decimal number"),
        (b"7 path\n", "record without '='"),
        (b"11 size=-1\n", "size is not a decimal number"),
        (b"11 size=+1\n", "size is not a decimal number"),
        (b"18 hdrcharset=BIN\n", "hdrcharset"),
    ] {
        let r = reason(&one(|t| pax_raw(t, body)));
        assert!(r.contains(want), "{:?}: {r}", String::from_utf8_lossy(body));
    }
    // the near miss: well-formed records of other keys pass
    let t = one(|t| pax(t, &[("mtime", "1700000000.5"), ("comment", "ok")], b'x'));
    assert_eq!(read_all(&t).unwrap()[0].0.path, "f");
}

#[test]
fn a_long_name_and_a_pax_path_or_size_for_one_entry_are_refused() {
    let long = |t: &mut Vec<u8>, name: &[u8]| {
        let mut body = name.to_vec();
        body.push(0);
        entry(t, b"././@LongLink", b'L', &body, 0o644);
    };
    for (build, want) in [
        (
            Box::new(|t: &mut Vec<u8>| {
                long(t, b"a");
                pax(t, &[("path", "b")], b'x');
            }) as Box<dyn Fn(&mut Vec<u8>)>,
            "PAX path or size after a GNU long name",
        ),
        (
            Box::new(|t: &mut Vec<u8>| {
                long(t, b"a");
                pax(t, &[("size", "1")], b'x');
            }),
            "PAX path or size after a GNU long name",
        ),
        (
            // GHSA-3cv2-h65g-fgmm shape: a PAX size before a long-name header
            Box::new(|t: &mut Vec<u8>| {
                pax(t, &[("size", "1")], b'x');
                long(t, b"a");
            }),
            "GNU long name after a PAX path or size",
        ),
        (
            Box::new(|t: &mut Vec<u8>| {
                long(t, b"a");
                long(t, b"b");
            }),
            "two GNU long names",
        ),
        (
            Box::new(|t: &mut Vec<u8>| {
                pax(t, &[("path", "a")], b'x');
                pax(t, &[("path", "b")], b'x');
            }),
            "two PAX headers",
        ),
    ] {
        let r = reason(&one(build));
        assert!(r.contains(want), "{r}");
    }
    // near misses: a long name alone, and a long name with a PAX header of other records
    let t = one(|t| long(t, b"dir/long"));
    assert_eq!(read_all(&t).unwrap()[0].0.path, "dir/long");
    let t = one(|t| {
        long(t, b"dir/long");
        pax(t, &[("mtime", "1")], b'x');
    });
    assert_eq!(read_all(&t).unwrap()[0].0.path, "dir/long");
}

#[test]
fn checksums_count_only_as_the_unsigned_sum() {
    let mut h = header("caf\u{e9}".as_bytes(), b'0', 1, 0o644);
    let signed: i64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                i64::from(b as i8)
            }
        })
        .sum();
    h[148..155].copy_from_slice(format!("{signed:06o}\0").as_bytes());
    let mut t = h.to_vec();
    t.extend_from_slice(&[b'x'; 512][..]);
    end(&mut t);
    assert!(matches!(rejects(&t), TarError::SignedChecksum(1)));
    // a base-256 checksum field is not a checksum
    let mut h = header(b"a", b'0', 0, 0o644);
    h[148] = 0x80;
    let mut t = h.to_vec();
    end(&mut t);
    assert!(matches!(rejects(&t), TarError::Checksum(1)));
    // the near miss: the same non-ASCII name with the right (unsigned) sum reads
    let mut t = Vec::new();
    entry(&mut t, "caf\u{e9}".as_bytes(), b'0', b"x", 0o644);
    end(&mut t);
    assert_eq!(read_all(&t).unwrap()[0].0.path, "caf\u{e9}");
}

#[test]
fn negative_and_oversized_base256_fields_are_refused() {
    for (at, what) in [(124..136, "size"), (100..108, "mode")] {
        let mut h = header(b"a", b'0', 0, 0o644);
        h[at.clone()].fill(0xff);
        fix_checksum(&mut h);
        let mut t = h.to_vec();
        end(&mut t);
        let r = reason(&t);
        assert!(r.contains(what) && r.contains("negative base-256"), "{r}");
    }
    // a positive base-256 mode beyond seven octal digits (would be cut to 0o644 as a u32)
    let mut h = header(b"a", b'0', 0, 0o644);
    h[100..108].copy_from_slice(&[0x80, 0, 0, 1, 0, 0, 0x01, 0xa4]);
    fix_checksum(&mut h);
    let mut t = h.to_vec();
    end(&mut t);
    assert!(reason(&t).contains("beyond a ustar mode field"));
}

#[test]
fn prefix_fields_count_only_in_posix_ustar_headers() {
    // GNU magic with a name in the prefix field: GNU tar reads times there, others a prefix
    let mut h = header(b"x", b'0', 0, 0o644);
    h[257..265].copy_from_slice(b"ustar  \0");
    h[345..348].copy_from_slice(b"etc");
    fix_checksum(&mut h);
    let mut t = h.to_vec();
    end(&mut t);
    assert!(reason(&t).contains("GNU header with a ustar prefix field"));
    // the near misses: a POSIX ustar prefix is part of the name; a GNU header without one reads
    let mut h = header(b"x", b'0', 0, 0o644);
    h[345..348].copy_from_slice(b"dir");
    fix_checksum(&mut h);
    let mut t = h.to_vec();
    end(&mut t);
    assert_eq!(read_all(&t).unwrap()[0].0.path, "dir/x");
    let mut h = header(b"x", b'0', 0, 0o644);
    h[257..265].copy_from_slice(b"ustar  \0");
    fix_checksum(&mut h);
    let mut t = h.to_vec();
    end(&mut t);
    assert_eq!(read_all(&t).unwrap()[0].0.path, "x");
}

#[test]
fn path_spellings_are_refused_with_their_reason() {
    for (name, want) in [
        (&b"////etc/x"[..], "absolute path"),
        (b"./../x", "'..' path component"),
        (b"C:..\\x", "backslash"),
        (b"C:x", "Windows drive prefix"),
        (b"x\\..\\..\\y", "'..' path component"),
        (b"a\rb", "control character"),
        (b"a\nb", "control character"),
        (b"a\0b", "bytes after its NUL"),
        (b"d/", "ends in '/'"),
    ] {
        let mut t = Vec::new();
        entry(&mut t, name, b'0', b"", 0o644);
        end(&mut t);
        let r = reason(&t);
        assert!(r.contains(want), "{:?}: {r}", String::from_utf8_lossy(name));
    }
    // NUL through the other two name sources
    let t = one(|t| pax(t, &[("path", "a\0b")], b'x'));
    assert!(reason(&t).contains("NUL"));
    let t = one(|t| entry(t, b"././@LongLink", b'L', b"a\0b\0", 0o644));
    assert!(reason(&t).contains("GNU long name holds bytes after its NUL"));
    // near misses: a colon later in a name, a folder entry with its slash
    let mut t = Vec::new();
    entry(&mut t, b"d/", b'5', b"", 0o755);
    entry(&mut t, b"d/a:b", b'0', b"", 0o644);
    end(&mut t);
    assert_eq!(read_all(&t).unwrap().len(), 2);
}

#[test]
fn names_colliding_by_case_or_normalisation_are_refused_unless_allowed() {
    for (a, b) in [
        ("README", "readme"),
        ("caf\u{e9}.txt", "cafe\u{301}.txt"),
        ("Dir/a", "dir/b"),
    ] {
        let mut t = Vec::new();
        entry(&mut t, a.as_bytes(), b'0', b"1", 0o644);
        entry(&mut t, b.as_bytes(), b'0', b"2", 0o644);
        end(&mut t);
        assert!(
            matches!(rejects(&t), TarError::NameCollision { .. }),
            "{a} / {b}"
        );
        let mut l = limits();
        l.refuse_name_collisions = false;
        let mut r = TarReader::new(&t[..], l);
        let mut n = 0;
        while r.next_entry().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 2, "allowed by the policy setting");
    }
}
