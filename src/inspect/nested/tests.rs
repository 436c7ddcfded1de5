//! Every rule's first example planted in every container and encoding: the finding must name
//! the nesting and the exact offset. Plus the nesting limits.

use crate::inspect::text::rule_tests::{scanner, TEST_INTERNAL};
use crate::inspect::{build_engine, Engine, Finding};
use crate::policy::Policy;
use std::io::Write;

fn engine(p: Option<Policy>) -> Engine {
    let mut p = p.unwrap_or_default();
    p.inspect.internal_domains = vec![TEST_INTERNAL.into()];
    build_engine(&p).unwrap()
}

fn scan(e: &Engine, path: &str, data: &[u8], chunk: usize) -> Vec<Finding> {
    let mut f = e.begin_file(path, Some(data.len() as u64), 0);
    for c in data.chunks(chunk.max(1)) {
        f.update(c);
    }
    f.finish()
}

fn gz(d: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}
fn zst(d: &[u8]) -> Vec<u8> {
    zstd::encode_all(d, 3).unwrap()
}
fn bz(d: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    e.write_all(d).unwrap();
    e.finish().unwrap()
}
fn tar(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, d) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *d).unwrap();
    }
    b.into_inner().unwrap()
}
fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, d) in members {
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file(*name, o).unwrap();
        w.write_all(d).unwrap();
    }
    w.finish().unwrap().into_inner()
}
fn utf16(d: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(d);
    let mut v = vec![0xff, 0xfe];
    v.extend(s.encode_utf16().flat_map(|u| u.to_le_bytes()));
    v
}
fn b64(d: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(d)
}

const PREFIX: &str = "# planted config\n";

/// (outer file name, bytes, path of the innermost text, offset shift of the text in it)
fn wrappings(text: &[u8]) -> Vec<(String, Vec<u8>, String, u64)> {
    let mut v = vec![
        ("plain.yaml".into(), text.to_vec(), "plain.yaml".into(), 0),
        ("c.yaml.gz".into(), gz(text), "c.yaml.gz!c.yaml".into(), 0),
        (
            "c.yaml.zst".into(),
            zst(text),
            "c.yaml.zst!c.yaml".into(),
            0,
        ),
        ("c.yaml.bz2".into(), bz(text), "c.yaml.bz2!c.yaml".into(), 0),
        (
            "a.tar".into(),
            tar(&[("junk.bin", &[0u8; 700]), ("inner/config.yaml", text)]),
            "a.tar!inner/config.yaml".into(),
            0,
        ),
        (
            "data/archive.zip".into(),
            zip(&[("other.txt", b"hello"), ("inner/config.yaml", text)]),
            "data/archive.zip!inner/config.yaml".into(),
            0,
        ),
        (
            "b.tar.gz".into(),
            gz(&tar(&[("x/config.yaml", text)])),
            "b.tar.gz!b.tar!x/config.yaml".into(),
            0,
        ),
        (
            "z.zip".into(),
            zip(&[("nested.zip", &zip(&[("deep/c.json", text)]))]),
            "z.zip!nested.zip!deep/c.json".into(),
            0,
        ),
        ("u16.txt".into(), utf16(text), "u16.txt!utf-16".into(), 0),
        (
            "t.tar.zst".into(),
            zst(&tar(&[("p/in.zip", &zip(&[("c.yaml", text)]))])),
            "t.tar.zst!t.tar!p/in.zip!c.yaml".into(),
            0,
        ),
    ];
    let enc = b64(text);
    let doc = format!("kind: Secret\ndata:\n  blob: {enc}\n");
    let at = doc.find(&enc).unwrap();
    v.push((
        "k8s.yaml".into(),
        doc.into_bytes(),
        format!("k8s.yaml!base64@{at}"),
        0,
    ));
    v
}

#[test]
fn every_rule_is_found_in_every_container_and_encoding() {
    let e = engine(None);
    let s = scanner();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (ri, r) in s.rules().iter().enumerate() {
        let ex = &r.def.examples[0];
        let text = format!("{PREFIX}{ex}\n# end\n");
        let m = s.raw(text.as_bytes(), 0, text.len());
        let Some(m) = m.iter().find(|m| m.rule == ri) else {
            problems.push(format!(
                "{}: example not found even in plain text",
                r.def.id
            ));
            continue;
        };
        // a finding is placed at its match's first byte that is not a blank
        let want_off =
            crate::inspect::text::first_text_byte(text.as_bytes(), m.start, m.end) as u64;
        for (name, bytes, path, shift) in wrappings(text.as_bytes()) {
            let f = scan(&e, &name, &bytes, 4096);
            checked += 1;
            let hit = f.iter().any(|f| {
                f.rule == r.def.id && f.path == path && f.offset == Some(want_off + shift)
            });
            if !hit {
                let got: Vec<_> = f
                    .iter()
                    .map(|f| (f.rule.as_str(), f.path.as_str(), f.offset))
                    .collect();
                problems.push(format!(
                    "{} in {name}: want {path}@{want_off}, got {got:?}",
                    r.def.id
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(checked, s.rules().len() * 11);
}

#[test]
fn too_deep_is_reported() {
    let mut d = b"HF_HUB_OFFLINE=0\n".to_vec();
    for _ in 0..7 {
        d = gz(&d);
    }
    let f = scan(&engine(None), "x.gz", &d, 1 << 16);
    assert!(
        f.iter()
            .any(|f| f.rule == "archive.uninspectable" && f.message.contains("max_depth")),
        "{f:?}"
    );
    assert!(!f.iter().any(|f| f.rule.starts_with("reachback")), "{f:?}");
    // within the depth limit the same file is seen through
    let mut d = b"HF_HUB_OFFLINE=0\n".to_vec();
    for _ in 0..4 {
        d = gz(&d);
    }
    let f = scan(&engine(None), "x.gz", &d, 1 << 16);
    assert!(
        f.iter().any(|f| f.rule == "reachback.hf-offline-disabled"),
        "{f:?}"
    );
    assert!(!f.iter().any(|f| f.rule.starts_with("archive.")), "{f:?}");
}

#[test]
fn decompression_bomb_is_stopped() {
    let zeros = vec![0u8; 64 << 20];
    // a bomb is made with the best compression (zlib-ng's fastest level stores long runs
    // far less densely, under the ratio limit)
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&zeros).unwrap();
    let bomb = e.finish().unwrap();
    assert!(bomb.len() < (64 << 20) / 1000, "{}", bomb.len());
    let f = scan(&engine(None), "bomb.gz", &bomb, 1 << 16);
    assert!(
        f.iter()
            .any(|f| f.rule == "archive.uninspectable" && f.message.contains("max_ratio")),
        "{f:?}"
    );
    let f = scan(&engine(None), "bomb.zip", &zip(&[("z", &zeros)]), 1 << 16);
    assert!(
        f.iter()
            .any(|f| f.rule == "archive.uninspectable" && f.message.contains("max_ratio")),
        "{f:?}"
    );
    // an ordinary compressible file is fine
    let text = b"ordinary log line with some words in it\n".repeat(10_000);
    let f = scan(&engine(None), "log.gz", &gz(&text), 1 << 16);
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn member_count_and_size_limits_from_policy() {
    let mut p = Policy::default();
    p.inspect.limits.max_members = 3;
    let members: Vec<(String, Vec<u8>)> =
        (0..5).map(|i| (format!("m{i}"), b"x".to_vec())).collect();
    let refs: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let f = scan(&engine(Some(p.clone())), "many.tar", &tar(&refs), 512);
    assert!(
        f.iter()
            .any(|f| f.rule == "archive.uninspectable" && f.message.contains("max_members")),
        "{f:?}"
    );
    let f = scan(&engine(Some(p)), "many.zip", &zip(&refs), 512);
    assert!(
        f.iter()
            .any(|f| f.rule == "archive.uninspectable" && f.message.contains("max_members")),
        "{f:?}"
    );
    let mut p = Policy::default();
    p.inspect.limits.max_spool_bytes = 100;
    let f = scan(&engine(Some(p)), "big.zip", &zip(&refs), 512);
    assert!(
        f.iter().any(|f| f.rule == "archive.too-large-to-open"
            && f.severity >= crate::inspect::Severity::High),
        "{f:?}"
    );
}

#[test]
fn corrupt_streams_are_reported_not_fatal() {
    let mut d = gz(b"hello world\n".repeat(1000).as_slice());
    d.truncate(d.len() / 2);
    let f = scan(&engine(None), "t.gz", &d, 100);
    assert!(f.iter().any(|f| f.rule == "archive.corrupt"), "{f:?}");
    let f = scan(
        &engine(None),
        "t.zip",
        b"PK\x03\x04 not a zip: HF_HUB_OFFLINE=0",
        100,
    );
    assert!(f.iter().any(|f| f.rule == "archive.corrupt"), "{f:?}");
    // a file that only looks like a zip is still text-scanned
    assert!(
        f.iter().any(|f| f.rule == "reachback.hf-offline-disabled"
            && f.path == "t.zip"
            && f.offset == Some(16)),
        "{f:?}"
    );
}

#[test]
fn clean_containers_give_nothing() {
    let text = b"model_type: llama\nhidden_size: 4096\nurl: https://models.corp.lan/llama\n";
    for (name, bytes, _, _) in wrappings(text) {
        let f = scan(&engine(None), &name, &bytes, 1000);
        assert!(f.is_empty(), "{name}: {f:?}");
    }
}

/// Decoded streams up to `HOLD` bytes are scanned whole, longer ones streamed once they pass
/// it: a key planted at the start, across the hold limit and at the end is found at its exact
/// offset either way, in gzip, zstd and bzip2.
#[test]
fn held_and_streamed_decodes_find_the_same() {
    use super::stream::HOLD;
    let e = engine(None);
    let key = b"AKIA2OGYBAH6QW7BZ5JX";
    for len in [4_000, HOLD - 100, HOLD + 100, 3 * HOLD] {
        let mut text = b"x = 1\n".repeat(len / 6 + 1);
        text.truncate(len);
        // at line starts (the rule wants a word boundary on both sides)
        let line = |p: usize| p / 6 * 6;
        let at = [
            0,
            line((HOLD - 10).min(len - key.len() - 6)),
            line(len - key.len() - 6),
        ];
        for &a in &at {
            text[a..a + key.len()].copy_from_slice(key);
        }
        for (name, enc) in [
            ("k.txt.gz", gz(&text)),
            ("k.txt.zst", zst(&text)),
            ("k.txt.bz2", bz(&text)),
        ] {
            let f = scan(&e, name, &enc, 1 << 16);
            let mut got: Vec<u64> = f
                .iter()
                .filter(|x| x.rule == "secret.aws-access-key-id")
                .filter_map(|x| x.offset)
                .collect();
            got.sort();
            got.dedup();
            let mut want: Vec<u64> = at.iter().map(|&a| a as u64).collect();
            want.dedup();
            assert_eq!(got, want, "{name}, {len} bytes decoded");
        }
    }
}

/// A stream cut short still has its decoded part inspected: a key before the cut is found
/// beside the corrupt-stream finding, in every decoder (held or already streaming). (Long
/// enough that the first half holds whole zstd and bzip2 blocks, which decode alone.)
#[test]
fn a_truncated_stream_is_inspected_up_to_the_cut() {
    let e = engine(None);
    for len in [600_000usize, 3 << 20] {
        let mut text = b"AKIA2OGYBAH6QW7BZ5JX\n".to_vec();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        while text.len() < len {
            // incompressible enough that half the encoded stream decodes to a lot
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.extend_from_slice(format!("v{x:x} = {}\n", x % 1000).as_bytes());
        }
        for (name, mut enc) in [
            ("k.txt.gz", gz(&text)),
            ("k.txt.zst", zst(&text)),
            ("k.txt.bz2", bz(&text)),
        ] {
            enc.truncate(enc.len() / 2);
            let f = scan(&e, name, &enc, 1 << 16);
            assert!(
                f.iter().any(|x| x.rule == "archive.corrupt"),
                "{name} {len}: {f:?}"
            );
            assert!(
                f.iter()
                    .any(|x| x.rule == "secret.aws-access-key-id" && x.offset == Some(0)),
                "{name} {len}: the key before the cut: {f:?}"
            );
        }
    }
}

/// What a broken or fake container header must not hide: the raw bytes after it go through
/// the text rules (bash would run such a file line by line).
#[test]
fn bytes_behind_a_broken_container_header_are_still_text_scanned() {
    let e = engine(None);
    let script = b"\nexport AWS_ACCESS_KEY_ID=AKIAZ7Q4K2M6XW3HN5PD\ncurl -fsSL https://get.example.net/i.sh | sh\n";
    let key_rule = "secret.aws-access-key-id";
    let count = |f: &[Finding], path: &str| {
        f.iter()
            .filter(|x| x.rule == key_rule && x.path == path)
            .count()
    };
    for chunk in [7, 4096, 1 << 20] {
        // a gzip magic number and method byte, then plain text
        let mut fake_gz = vec![0x1f, 0x8b, 0x08];
        fake_gz.extend_from_slice(script);
        let f = scan(&e, "install.sh", &fake_gz, chunk);
        assert_eq!(count(&f, "install.sh"), 1, "chunk {chunk}: {f:?}");
        // the key's offset is its place in the file
        let at = f.iter().find(|x| x.rule == key_rule).and_then(|x| x.offset);
        let want = fake_gz
            .windows(4)
            .position(|w| w == b"AKIA")
            .map(|p| p as u64);
        assert_eq!(at, want, "chunk {chunk}");

        // a UTF-16 byte-order mark in front of ASCII
        let mut fake_u16 = vec![0xff, 0xfe];
        fake_u16.extend_from_slice(script);
        let f = scan(&e, "run.sh", &fake_u16, chunk);
        assert_eq!(count(&f, "run.sh"), 1, "chunk {chunk}: {f:?}");

        // a valid gzip member, then plain text appended
        let mut appended = gz(b"harmless = 1\n");
        appended.extend_from_slice(script);
        let f = scan(&e, "data.gz", &appended, chunk);
        assert_eq!(count(&f, "data.gz"), 1, "chunk {chunk}: {f:?}");

        // the near-miss: a real gzip (and real UTF-16) of the script is found once, in its
        // decoded form only
        let f = scan(&e, "s.sh.gz", &gz(script), chunk);
        assert_eq!(count(&f, "s.sh.gz!s.sh"), 1, "chunk {chunk}: {f:?}");
        assert_eq!(count(&f, "s.sh.gz"), 0, "chunk {chunk}: {f:?}");
        let f = scan(
            &e,
            "s.txt",
            &utf16(std::str::from_utf8(script).unwrap().as_bytes()),
            chunk,
        );
        assert_eq!(count(&f, "s.txt!utf-16"), 1, "chunk {chunk}: {f:?}");
        assert_eq!(count(&f, "s.txt"), 0, "chunk {chunk}: {f:?}");
    }
    // past what is held for a rescan: the key is still found, or the file is refused
    let mut big = vec![0x1f, 0x8b, 0x08];
    big.extend(std::iter::repeat_n(b"# padding line of a long shell script\n", 60_000).flatten());
    big.extend_from_slice(script);
    let f = scan(&e, "big.sh", &big, 1 << 16);
    assert!(
        f.iter()
            .any(|x| x.severity >= crate::inspect::Severity::High
                && (x.rule == key_rule || x.rule == "archive.undecodable")),
        "{f:?}"
    );
    // whole-file scans take the same path
    let mut fake_gz = vec![0x1f, 0x8b, 0x08];
    fake_gz.extend_from_slice(script);
    let f = e
        .begin_file("install.sh", Some(fake_gz.len() as u64), 0)
        .whole(&fake_gz);
    assert_eq!(count(&f, "install.sh"), 1, "{f:?}");
}

/// A ustar header block for `name` with `size` bytes of data and typeflag `kind`.
fn tar_header(name: &str, size: u64, kind: u8) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

fn tar_member(out: &mut Vec<u8>, name: &str, data: &[u8], kind: u8) {
    out.extend(tar_header(name, data.len() as u64, kind));
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// What tar extracts, airgate inspects: members after a junk block (tar skips to the next
/// header), members of unknown or sparse typeflags (tar writes them as files), and an
/// oversized PAX header refuses the archive instead of hiding what follows it.
#[test]
fn tar_members_that_tar_extracts_are_inspected() {
    let e = engine(None);
    let secret = b"aws_key = AKIAZ7Q4K2M6XW3HN5PD\n";
    let key = |f: &[Finding], path: &str| {
        f.iter()
            .any(|x| x.rule == "secret.aws-access-key-id" && x.path == path)
    };
    // a junk block between two members
    let mut t = Vec::new();
    tar_member(&mut t, "a.txt", b"hello\n", b'0');
    t.extend(std::iter::repeat_n(0x41u8, 512));
    tar_member(&mut t, "b.txt", secret, b'0');
    t.extend([0u8; 1024]);
    let f = scan(&e, "x.tar", &t, 4096);
    assert!(key(&f, "x.tar!b.txt"), "{f:?}");
    assert!(f.iter().any(|x| x.rule == "archive.corrupt"), "{f:?}");
    // unknown ('Z') and GNU sparse ('S') typeflags hold file data
    for kind in [b'Z', b'S', b'M'] {
        let mut t = Vec::new();
        tar_member(&mut t, "c.txt", secret, kind);
        t.extend([0u8; 1024]);
        let f = scan(&e, "y.tar", &t, 4096);
        assert!(key(&f, "y.tar!c.txt"), "{}: {f:?}", kind as char);
    }
    // the near-miss: a symlink's (empty) data and a directory are not files
    let mut t = Vec::new();
    tar_member(&mut t, "d/", b"", b'5');
    tar_member(&mut t, "l", b"", b'2');
    t.extend([0u8; 1024]);
    let f = scan(&e, "z.tar", &t, 4096);
    assert!(f.is_empty(), "{f:?}");
    // a PAX header over the metadata limit: refused
    let mut t = Vec::new();
    let pax = vec![b'#'; (1 << 20) + 10];
    tar_member(&mut t, "PaxHeader", &pax, b'x');
    tar_member(&mut t, "e.txt", secret, b'0');
    t.extend([0u8; 1024]);
    let f = scan(&e, "p.tar", &t, 1 << 16);
    assert!(
        f.iter()
            .any(|x| x.rule == "archive.corrupt" && x.severity >= crate::inspect::Severity::High),
        "{f:?}"
    );
}

/// A zstd frame with a window over our cap is valid (`zstd --long=30` decodes it): refused,
/// not passed as merely corrupt. The near-miss: a normal frame decodes and is inspected.
#[test]
fn a_zstd_window_over_the_cap_is_refused() {
    let e = engine(None);
    let text = b"aws_key = AKIAZ7Q4K2M6XW3HN5PD\n";
    let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
    enc.long_distance_matching(true).unwrap();
    enc.window_log(30).unwrap();
    enc.include_contentsize(false).unwrap();
    enc.write_all(text).unwrap();
    let big_window = enc.finish().unwrap();
    let f = scan(&e, "w.txt.zst", &big_window, 4096);
    assert!(
        f.iter().any(|x| x.rule == "archive.uninspectable"
            && x.message.contains("window cap")
            && x.severity >= crate::inspect::Severity::High),
        "{f:?}"
    );
    let f = scan(&e, "n.txt.zst", &zst(text), 4096);
    assert!(
        f.iter().any(|x| x.rule == "secret.aws-access-key-id"),
        "{f:?}"
    );
    assert!(
        !f.iter()
            .any(|x| x.rule == "archive.uninspectable" && x.message.contains("window cap")),
        "{f:?}"
    );
}

/// The frame header parse agrees with what the zstd library writes, and on its own tells a
/// window over the cap from one under it (so the refusal does not hang on the library's
/// error text).
#[test]
fn zstd_frame_headers_declare_their_window() {
    use super::stream::zstd_window;
    for (log, single) in [
        (20u32, false),
        (27, false),
        (28, false),
        (30, false),
        (0, true),
    ] {
        let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        if !single {
            enc.window_log(log).unwrap();
        }
        if log > 27 {
            enc.long_distance_matching(true).unwrap();
        }
        enc.include_contentsize(false).unwrap();
        enc.write_all(&vec![b'a'; 300]).unwrap();
        let z = if single {
            // one-shot compression knows the size up front: a single-segment frame
            zstd::bulk::compress(&[b'a'; 300], 3).unwrap()
        } else {
            enc.finish().unwrap()
        };
        let w = zstd_window(&z).expect("a frame header");
        if single {
            // a small frame with its size known is one segment: the window is its size
            assert_eq!(w, 300, "single segment");
        } else {
            assert_eq!(w, 1u64 << log, "window log {log}");
        }
        assert_eq!(
            super::stream::refused_for_window("", &z),
            log > 27,
            "log {log}"
        );
    }
    assert_eq!(zstd_window(b"\x28\xb5\x2f"), None, "cut short");
    assert_eq!(zstd_window(b"PK\x03\x04\x14\x00"), None, "not zstd");
    // window descriptor 0x89: exponent 17, mantissa 1 -> 2^27 + 2^24
    assert_eq!(
        zstd_window(&[0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x89]),
        Some((1 << 27) + (1 << 24))
    );
}

/// Base64 does not hide a secret by length, by NUL padding, or by nesting: a long run is
/// decoded to its end, NUL bytes do not make text binary, and text nested past the decode
/// limit is refused. The near-miss: base64 of binary data gives nothing.
#[test]
fn base64_is_decoded_whole_and_nested_text_past_the_limit_is_refused() {
    let e = engine(None);
    let key = "AKIAZ7Q4K2M6XW3HN5PD";
    let rule = "secret.aws-access-key-id";
    let has = |f: &[Finding]| f.iter().any(|x| x.rule == rule);
    // a key 300 KiB into one run
    let mut text = "lorem ipsum dolor sit amet\n".repeat(300 * 1024 / 27);
    text.push_str(&format!("aws_key = {key}\n"));
    let doc = format!("blob: {}\n", b64(text.as_bytes()));
    let f = scan(&e, "long.yaml", doc.as_bytes(), 1 << 16);
    assert!(has(&f), "{f:?}");
    let at = f.iter().find(|x| x.rule == rule).and_then(|x| x.offset);
    assert_eq!(
        at,
        text.find(key).map(|p| p as u64),
        "offset in the decoded text"
    );
    // NUL-padded
    let mut padded = vec![0u8; 4096];
    padded.extend_from_slice(format!("export AWS_ACCESS_KEY_ID={key}\n").as_bytes());
    padded.extend(vec![0u8; 4096]);
    let doc = format!("payload = \"{}\"\n", b64(&padded));
    assert!(has(&scan(&e, "nul.py", doc.as_bytes(), 4096)));
    // nested three times: found; four times: refused
    let mut enc = format!("aws_key = {key} and some more words to pad the text out\n");
    for _ in 0..3 {
        enc = format!("v = {}\n", b64(enc.as_bytes()));
    }
    assert!(has(&scan(&e, "n3.txt", enc.as_bytes(), 4096)));
    let four = format!("v = {}\n", b64(enc.as_bytes()));
    let f = scan(&e, "n4.txt", four.as_bytes(), 4096);
    assert!(
        f.iter()
            .any(|x| x.rule == "encoding.too-deep" && x.severity >= crate::inspect::Severity::High),
        "{f:?}"
    );
    // the near-miss: base64 of binary data (one nesting level too)
    let mut x: u32 = 7;
    let bin: Vec<u8> = (0..50_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect();
    let doc = format!("img = \"{}\"\n", b64(&bin));
    let f = scan(&e, "img.py", doc.as_bytes(), 4096);
    assert!(f.is_empty(), "{f:?}");
}

/// A base64 run longer than a streaming step is decoded whole, wherever the steps fall.
#[test]
fn a_base64_run_across_streaming_steps_is_decoded_whole() {
    let e = engine(None);
    let key = "AKIAZ7Q4K2M6XW3HN5PD";
    // about 3 MiB of base64, the key in the decoded text at about 1.5 MiB and at the end
    let filler = "lorem ipsum dolor sit amet, consectetur adipiscing\n".repeat(22_000);
    let text = format!("{filler}aws_key = {key}\n{filler}second = {key}\n");
    let doc = format!("data: {}\nend\n", b64(text.as_bytes()));
    for chunk in [1 << 16, 1 << 20, 3_333_333] {
        let f = scan(&e, "big.yaml", doc.as_bytes(), chunk);
        let offsets: Vec<u64> = f
            .iter()
            .filter(|x| x.rule == "secret.aws-access-key-id")
            .filter_map(|x| x.offset)
            .collect();
        let first = text.find(key).unwrap() as u64;
        let last = text.rfind(key).unwrap() as u64;
        assert!(offsets.contains(&first), "chunk {chunk}: {offsets:?}");
        assert!(offsets.contains(&last), "chunk {chunk}: {offsets:?}");
    }
}

/// Findings held from nested archives are bounded per payload file: past the limit the
/// file is refused and the rest dropped. The near-miss: the same archive under the limit
/// lists every finding.
#[test]
fn findings_from_nested_archives_are_bounded() {
    let line = "u = \"https://telemetry-collector.net/p\"\n";
    let member = line.repeat(40);
    let names: Vec<String> = (0..30).map(|i| format!("m{i}.py")).collect();
    let members: Vec<(&str, &[u8])> = names
        .iter()
        .map(|n| (n.as_str(), member.as_bytes()))
        .collect();
    let archive = tar(&members);
    let mut p = Policy::default();
    p.inspect.limits.max_findings = 200;
    let f = scan(&engine(Some(p)), "many.tar", &archive, 4096);
    assert!(
        f.iter().any(|x| x.rule == "archive.too-many-findings"
            && x.severity >= crate::inspect::Severity::High),
        "{}",
        f.len()
    );
    assert!(f.len() <= 250, "{}", f.len());
    let f = scan(&engine(None), "many.tar", &archive, 4096);
    assert_eq!(
        f.iter().filter(|x| x.rule == "reachback.url").count(),
        30 * 40
    );
    assert!(!f.iter().any(|x| x.rule == "archive.too-many-findings"));
}
