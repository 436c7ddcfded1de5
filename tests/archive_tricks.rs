//! Archive tricks (issue 18), end to end: each hostile archive is built here from raw tar
//! headers, signed correctly, and must be refused with its own reason by `verify` and by
//! `admit` (quarantined, the reason in the report), as a plain tar and as a tar.zst. zstd
//! framing tricks apply to tar.zst only. Each has a near miss that is accepted.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Keys, a policy and a gate trusting the key; bundles are written beside them.
struct Fixture {
    _t: tempfile::TempDir,
    dir: PathBuf,
    key: airgate::trust::PrivateKey,
    gate: PathBuf,
}

fn fixture(extra_policy: &str) -> Fixture {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().to_path_buf();
    let (key, pubkey) = key(&dir, "a");
    let pol = policy(&dir, "weights", &[&pubkey], 1, extra_policy);
    let gate = dir.join("gate");
    let (code, out, err) = run(&["init", s(&gate), "--policy", s(&pol)]);
    assert_eq!(code, 0, "{out}{err}");
    Fixture {
        _t: t,
        dir,
        key,
        gate,
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The tar bytes of a signed bundle: the envelope over `listed`, then `body`.
fn bundle_tar(f: &Fixture, listed: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut tar = envelope(&statement("weights", "1.0.0", listed), &[&f.key]);
    tar.extend_from_slice(body);
    tar
}

/// zstd frames of at most 8 MiB of input each, written by the zstd library.
fn frames(tar: &[u8]) -> Vec<u8> {
    let mut z = Vec::new();
    for part in tar.chunks(8 << 20) {
        z.extend(zstd::stream::encode_all(part, 3).unwrap());
    }
    z
}

fn write(f: &Fixture, name: &str, bytes: &[u8]) -> PathBuf {
    let p = f.dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// `verify` refuses `bundle` (exit 1) naming `needle`.
fn verify_refuses(f: &Fixture, bundle: &Path, needle: &str) {
    let pol = f.dir.join("policy.toml");
    let (code, out, err) = run(&["verify", s(bundle), "--policy", s(&pol)]);
    assert_eq!(code, 1, "verify {}: {out}{err}", bundle.display());
    assert!(
        format!("{out}{err}").contains(needle),
        "verify {}: {needle:?} not in\n{out}{err}",
        bundle.display()
    );
}

/// `admit` quarantines `bundle` (exit 1), its report naming `needle`.
fn admit_refuses(f: &Fixture, bundle: &Path, needle: &str) {
    let (code, out, err) = run(&["admit", s(bundle), "--gate", s(&f.gate), "--format", "json"]);
    assert_eq!(code, 1, "admit {}: {out}{err}", bundle.display());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["disposition"], "quarantined");
    let report =
        std::fs::read_to_string(Path::new(v["destination"].as_str().unwrap()).join("report.json"))
            .unwrap();
    assert!(
        report.contains(needle),
        "admit {}: {needle:?} not in the quarantine report\n{report}",
        bundle.display()
    );
}

fn accepted(f: &Fixture, bundle: &Path) {
    let pol = f.dir.join("policy.toml");
    let (code, out, err) = run(&["verify", s(bundle), "--policy", s(&pol)]);
    assert_eq!(code, 0, "verify {}: {out}{err}", bundle.display());
    let (code, out, err) = run(&["admit", s(bundle), "--gate", s(&f.gate)]);
    assert_eq!(code, 0, "admit {}: {out}{err}", bundle.display());
}

/// Refused as a .tar and as a .tar.zst, by verify and by admit. The statement lists
/// `listed` (each with content `x`), so that nothing but the trick can be the reason.
fn refused_both_ways(f: &Fixture, case: &str, body: &[u8], listed: &[&str], needle: &str) {
    let listed: Vec<(&str, &[u8])> = listed.iter().map(|n| (*n, &b"x"[..])).collect();
    let tar = bundle_tar(f, &listed, body);
    let plain = write(f, &format!("{case}.tar"), &tar);
    let packed = write(f, &format!("{case}.tar.zst"), &frames(&tar));
    for b in [&plain, &packed] {
        verify_refuses(f, b, needle);
        admit_refuses(f, b, needle);
    }
}

/// Recompute a raw header's checksum (unsigned sum, as tar writes it).
fn seal(h: &mut [u8; 512]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
}

fn raw(out: &mut Vec<u8>, mut h: [u8; 512], data: &[u8]) {
    seal(&mut h);
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// A PAX extended header with a raw body.
fn pax_body(out: &mut Vec<u8>, body: &[u8]) {
    entry(out, b"PaxHeader", b'x', body, 0o644);
}

/// A GNU long-name extension header for `name`.
fn long_name(out: &mut Vec<u8>, name: &[u8]) {
    let mut body = name.to_vec();
    body.push(0);
    entry(out, b"././@LongLink", b'L', &body, 0o644);
}

/// A symbolic link entry `name` -> `target`.
fn symlink(out: &mut Vec<u8>, name: &[u8], target: &[u8]) {
    let mut h = header(name, b'2', 0, 0o777);
    h[157..157 + target.len()].copy_from_slice(target);
    raw(out, h, b"");
}

fn file(out: &mut Vec<u8>, name: &[u8]) {
    entry(out, name, b'0', b"x", 0o644);
}

/// One trick: its name, the payload tar, the names the statement lists, the reason.
type Case = (&'static str, Vec<u8>, Vec<&'static str>, &'static str);

/// Every tar-level trick.
fn tar_cases() -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    let mut add = |name, build: &dyn Fn(&mut Vec<u8>), needle| {
        let mut t = Vec::new();
        build(&mut t);
        end(&mut t);
        let listed = match name {
            "case-collision" => vec!["Model.bin", "model.bin"],
            "nfc-nfd-collision" => vec!["caf\u{e9}", "cafe\u{301}"],
            "file-over-folder" | "folder-under-file" => vec!["x", "x/y"],
            _ => vec!["f"],
        };
        cases.push((name, t, listed, needle));
    };
    // PAX records
    add(
        "pax-oversized",
        &|t| pax_body(t, &vec![b'a'; 70_000]),
        "PAX header of 70000 bytes",
    );
    add(
        "pax-malformed",
        &|t| {
            pax_body(t, b"30 path=x\n");
            file(t, b"f");
        },
        "record length out of range",
    );
    add(
        "pax-negative-size",
        &|t| {
            pax_body(t, b"11 size=-1\n");
            file(t, b"f");
        },
        "size is not a decimal number",
    );
    add(
        "pax-negative-length",
        &|t| {
            pax_body(t, b"-9 path=x\n");
            file(t, b"f");
        },
        "record length is not a decimal number",
    );
    add(
        "pax-size-override",
        &|t| {
            pax(t, &[("size", "2048")], b'x');
            file(t, b"f");
        },
        "PAX size 2048 disagrees with header size 1",
    );
    add(
        "pax-path-after-long-name",
        &|t| {
            long_name(t, b"f");
            pax(t, &[("path", "other")], b'x');
            file(t, b"f");
        },
        "a PAX path or size after a GNU long name",
    );
    add(
        "pax-size-after-long-name",
        &|t| {
            long_name(t, b"f");
            pax(t, &[("size", "1")], b'x');
            file(t, b"f");
        },
        "a PAX path or size after a GNU long name",
    );
    add(
        "long-name-after-pax-size",
        &|t| {
            pax(t, &[("size", "1")], b'x');
            long_name(t, b"f");
            file(t, b"f");
        },
        "a GNU long name after a PAX path or size",
    );
    // checksums and numbers
    add(
        "checksum-wrong",
        &|t| {
            let mut h = header(b"f", b'0', 1, 0o644);
            h[0] = b'g';
            t.extend_from_slice(&h);
            t.extend_from_slice(&[b'x'; 512]);
        },
        "checksum does not match",
    );
    add(
        "checksum-signed-only",
        &|t| {
            let mut h = header("f\u{e9}".as_bytes(), b'0', 1, 0o644);
            h[148..156].copy_from_slice(b"        ");
            let signed: i64 = h.iter().map(|&b| i64::from(b as i8)).sum();
            h[148..155].copy_from_slice(format!("{signed:06o}\0").as_bytes());
            t.extend_from_slice(&h);
            t.extend_from_slice(&[b'x'; 512]);
        },
        "right only as a signed sum",
    );
    add(
        "base256-negative-size",
        &|t| {
            let mut h = header(b"f", b'0', 0, 0o644);
            h[124..136].fill(0xff);
            raw(t, h, b"");
        },
        "negative base-256 number",
    );
    add(
        "base256-negative-mode",
        &|t| {
            let mut h = header(b"f", b'0', 0, 0o644);
            h[100..108].fill(0xff);
            raw(t, h, b"");
        },
        "negative base-256 number",
    );
    add(
        "gnu-magic-with-prefix",
        &|t| {
            let mut h = header(b"f", b'0', 1, 0o644);
            h[257..265].copy_from_slice(b"ustar  \0");
            h[345..348].copy_from_slice(b"etc");
            raw(t, h, b"x");
        },
        "GNU header with a ustar prefix field",
    );
    // path spellings
    for (case, name, needle) in [
        ("slashes-etc", &b"////etc/x"[..], "absolute path"),
        ("dot-dotdot", b"./../x", "'..' path component"),
        ("drive-dotdot-backslash", b"C:..\\x", "backslash"),
        ("drive-prefix", b"C:x", "Windows drive prefix"),
        ("backslash-dotdot", b"x\\..\\..\\y", "'..' path component"),
        ("carriage-return", b"a\rb", "control character"),
        ("line-feed", b"a\nb", "control character"),
        ("nul-in-name-field", b"a\0b", "bytes after its NUL"),
    ] {
        add(case, &|t| file(t, name), needle);
    }
    add(
        "nul-in-pax-path",
        &|t| {
            pax(t, &[("path", "a\0b")], b'x');
            file(t, b"f");
        },
        "name contains NUL",
    );
    add(
        "nul-in-long-name",
        &|t| {
            entry(t, b"././@LongLink", b'L', b"f\0../../x\0", 0o644);
            file(t, b"f");
        },
        "GNU long name holds bytes after its NUL",
    );
    // names that become one file on macOS and Windows
    add(
        "case-collision",
        &|t| {
            file(t, b"Model.bin");
            file(t, b"model.bin");
        },
        "collides with",
    );
    add(
        "nfc-nfd-collision",
        &|t| {
            file(t, "caf\u{e9}".as_bytes());
            file(t, "cafe\u{301}".as_bytes());
        },
        "by case or Unicode normalisation",
    );
    // links
    add(
        "dir-then-symlink",
        &|t| {
            entry(t, b"d/", b'5', b"", 0o755);
            symlink(t, b"d", b"/etc");
        },
        "type symbolic link is not allowed",
    );
    add(
        "symlink-chain",
        &|t| {
            // deeper than the kernel's 40-link resolver limit
            for i in 0..41 {
                let next = format!("l{}", i + 1);
                symlink(t, format!("l{i}").as_bytes(), next.as_bytes());
            }
            file(t, b"l41");
        },
        "type symbolic link is not allowed",
    );
    // one name as a file and as a folder: verify would pass it, extraction cannot
    add(
        "file-over-folder",
        &|t| {
            file(t, b"x/y");
            file(t, b"x");
        },
        "is both a file and a folder",
    );
    add(
        "folder-under-file",
        &|t| {
            file(t, b"x");
            file(t, b"x/y");
        },
        "is both a file and a folder",
    );
    add(
        "file-with-trailing-slash",
        &|t| entry(t, b"d/", b'0', b"", 0o644),
        "ends in '/'",
    );
    cases
}

#[test]
fn every_tar_trick_is_refused_with_its_reason_in_verify_and_admit() {
    let f = fixture("");
    let cases = tar_cases();
    for (case, body, listed, needle) in &cases {
        refused_both_ways(&f, case, body, listed, needle);
    }
    // every refused bundle was quarantined once (two formats each) and recorded
    let q = std::fs::read_dir(f.gate.join("quarantine"))
        .unwrap()
        .count();
    assert_eq!(q, cases.len() * 2);
    let (code, out, err) = run(&["audit", "verify", "--gate", s(&f.gate)]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn near_misses_of_the_tar_tricks_are_accepted() {
    let f = fixture("");
    let mut body = Vec::new();
    // a GNU long name alone, with an unrelated PAX record
    let long = format!("{}/w.bin", "d".repeat(120));
    long_name(&mut body, long.as_bytes());
    pax(&mut body, &[("mtime", "1700000000")], b'x');
    file(&mut body, &long.as_bytes()[..100]);
    // PAX path and an agreeing size
    pax(&mut body, &[("path", "p/long.txt"), ("size", "1")], b'x');
    file(&mut body, b"ignored");
    // a POSIX ustar prefix, a GNU header without one, a non-ASCII name, a colon inside
    let mut h = header(b"x", b'0', 1, 0o644);
    h[345..350].copy_from_slice(b"ustar");
    raw(&mut body, h, b"x");
    let mut h = header(b"g", b'0', 1, 0o644);
    h[257..265].copy_from_slice(b"ustar  \0");
    raw(&mut body, h, b"x");
    file(&mut body, "caf\u{e9}".as_bytes());
    file(&mut body, b"ab:c");
    end(&mut body);
    let listed: Vec<(&str, &[u8])> = vec![
        (long.as_str(), b"x"),
        ("p/long.txt", b"x"),
        ("ustar/x", b"x"),
        ("g", b"x"),
        ("caf\u{e9}", b"x"),
        ("ab:c", b"x"),
    ];
    let tar = bundle_tar(&f, &listed, &body);
    accepted(&f, &write(&f, "near.tar", &tar));
    let mut tar2 = envelope(&statement("weights", "1.0.1", &listed), &[&f.key]);
    tar2.extend_from_slice(&body);
    accepted(&f, &write(&f, "near.tar.zst", &frames(&tar2)));
}

#[test]
fn name_collisions_are_admitted_only_where_the_policy_allows_them() {
    let f = fixture("[limits]\nallow_name_collisions = true\n");
    let mut body = Vec::new();
    file(&mut body, b"Model.bin");
    file(&mut body, b"model.bin");
    end(&mut body);
    let tar = bundle_tar(&f, &[("Model.bin", b"x"), ("model.bin", b"x")], &body);
    accepted(&f, &write(&f, "case.tar", &tar));
    // exact duplicates stay refused whatever the setting
    let mut body = Vec::new();
    file(&mut body, b"m");
    file(&mut body, b"m");
    end(&mut body);
    let tar = bundle_tar(&f, &[("m", b"x")], &body);
    let b = write(&f, "dup.tar", &tar);
    verify_refuses(&f, &b, "appears more than once");
    admit_refuses(&f, &b, "appears more than once");
}

/// A skippable zstd frame (magic 0x184D2A5x) holding `data`.
fn skippable(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x50, 0x2A, 0x4D, 0x18];
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// The `zstd` CLI reading a pipe: its frame cannot declare a content size.
fn zstd_cli_from_pipe(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("zstd")
        .args(["-q", "-c", "-3"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the zstd CLI (see .ci/run)");
    let mut stdin = child.stdin.take().unwrap();
    let owned = data.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&owned).unwrap());
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// Does a zstd frame header declare the content size?
fn declares_content_size(frame: &[u8]) -> bool {
    let fhd = frame[4];
    fhd >> 6 != 0 || fhd & 0x20 != 0
}

#[test]
fn zstd_framing_tricks_are_refused_with_their_reason() {
    let f = fixture("");
    let mut body = Vec::new();
    entry(&mut body, b"f", b'0', b"x", 0o644);
    end(&mut body);
    let env = envelope(&statement("weights", "1.0.0", &[("f", b"x")]), &[&f.key]);
    let env_frame = zstd::stream::encode_all(&env[..], 3).unwrap();
    let body_frame = zstd::stream::encode_all(&body[..], 3).unwrap();

    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    let hidden = b"payload that no decompressor returns";
    let mut first = skippable(hidden);
    first.extend_from_slice(&env_frame);
    first.extend_from_slice(&body_frame);
    cases.push((
        "skippable-first",
        first,
        "skippable zstd frames are not allowed",
    ));
    let mut middle = env_frame.clone();
    middle.extend(skippable(hidden));
    middle.extend_from_slice(&body_frame);
    cases.push((
        "skippable-middle",
        middle,
        "skippable zstd frames are not allowed",
    ));
    let mut last = env_frame.clone();
    last.extend_from_slice(&body_frame);
    last.extend(skippable(hidden));
    cases.push((
        "skippable-last",
        last,
        "skippable zstd frames are not allowed",
    ));

    // one frame with no declared content size that decodes past the 64 MiB frame limit
    let big = vec![7u8; (64 << 20) + 4096];
    let mut big_tar = Vec::new();
    entry(&mut big_tar, b"big", b'0', &big, 0o644);
    end(&mut big_tar);
    let no_size = zstd_cli_from_pipe(&big_tar);
    assert!(!declares_content_size(&no_size));
    let mut unsized_big = env_frame.clone();
    unsized_big.extend_from_slice(&no_size);
    cases.push((
        "no-content-size-over-frame-limit",
        unsized_big,
        "decompresses to more than 67108864 bytes",
    ));

    // an extreme ratio: 48 MiB of zeros from a few KiB (default limit 1000:1)
    let zeros = vec![0u8; 48 << 20];
    let mut bomb_tar = Vec::new();
    entry(&mut bomb_tar, b"z", b'0', &zeros, 0o644);
    end(&mut bomb_tar);
    let mut bomb = env_frame.clone();
    bomb.extend(zstd::stream::encode_all(&bomb_tar[..], 19).unwrap());
    cases.push(("extreme-ratio", bomb, "decompression ratio exceeds 1000:1"));

    for (case, bytes, needle) in &cases {
        let b = write(&f, &format!("{case}.tar.zst"), bytes);
        verify_refuses(&f, &b, needle);
        admit_refuses(&f, &b, needle);
    }

    // near miss: frames without a declared content size, within the limits, are fine
    let env_no_size = zstd_cli_from_pipe(&env);
    let body_no_size = zstd_cli_from_pipe(&body);
    assert!(!declares_content_size(&env_no_size) && !declares_content_size(&body_no_size));
    let mut ok = env_no_size;
    ok.extend(body_no_size);
    accepted(&f, &write(&f, "no-content-size.tar.zst", &ok));
}
