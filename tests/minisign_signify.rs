//! minisign and signify signatures made by the real tools (Debian packages `minisign` and
//! `signify-openbsd`, installed by CI), verified through the library and the CLI; changed
//! files, changed signatures, wrong keys and tampered trusted comments must be refused.
//! These tests fail, not skip, when the tools are missing.

use airgate::trust::detached::{self, FileFormat, PublicKey, SigError, Tool};
use airgate::trust::{minisign, signify};
use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Run a tool; panic (fail the test) if it is missing or fails.
fn run(dir: &Path, tool: &str, args: &[&str]) {
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {tool} ({e}): install the Debian packages minisign and signify-openbsd"
            )
        });
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Does the real tool accept this signature? (An independent oracle for the tamper cases.)
fn tool_accepts(dir: &Path, tool: &str, args: &[&str]) -> bool {
    Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .map(|o| o.status.success())
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"))
}

/// Deterministic, non-repeating content of `len` bytes.
fn content(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.p(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
    fn minisign_keys(&self, name: &str) {
        let (p, s) = (format!("{name}.pub"), format!("{name}.key"));
        run(
            self.dir.path(),
            "minisign",
            &["-G", "-W", "-p", &p, "-s", &s],
        );
    }
    fn signify_keys(&self, name: &str) {
        let (p, s) = (format!("{name}.pub"), format!("{name}.sec"));
        run(
            self.dir.path(),
            "signify-openbsd",
            &["-G", "-n", "-p", &p, "-s", &s],
        );
    }
}

fn mini_verify(
    s: &Setup,
    file: &str,
    sig: &str,
    key: &str,
) -> Result<minisign::Verified, SigError> {
    let sig = minisign::Signature::load(&s.p(sig))?;
    let key = PublicKey::load(&s.p(key))?;
    minisign::verify_file(&sig, &key, &s.p(file), &minisign::Options::default())
}

fn signify_verify(
    s: &Setup,
    file: &str,
    sig: &str,
    key: &str,
) -> Result<signify::Verified, SigError> {
    let sig = signify::Signature::load(&s.p(sig))?;
    let key = PublicKey::load(&s.p(key))?;
    signify::verify_file(&sig, &key, &s.p(file), signify::DEFAULT_MAX_RAW_MESSAGE)
}

/// Replace line `i` (0-based) of a text file.
fn replace_line(path: &Path, i: usize, new: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[i] = new.to_string();
    lines.join("\n") + "\n"
}

/// Line `i` of the file, base64-decoded, with bit `bit` of byte `byte` flipped, re-encoded.
fn flip_b64_line(path: &Path, i: usize, byte: usize, bit: u8) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let line = text.lines().nth(i).unwrap();
    let mut raw = B64.decode(line).unwrap();
    raw[byte] ^= 1 << bit;
    replace_line(path, i, &B64.encode(&raw))
}

#[test]
fn minisign_prehashed_and_legacy_verify() {
    let s = Setup::new();
    s.minisign_keys("k");
    for (len, legacy) in [
        (0usize, false),
        (1, false),
        (3 << 20, false),
        (0, true),
        (70_000, true),
    ] {
        s.write("f", &content(len));
        let mut args = vec![
            "-S",
            "-s",
            "k.key",
            "-m",
            "f",
            "-t",
            "release 1.2 for the gate",
        ];
        if legacy {
            args.push("-l");
        }
        run(s.dir.path(), "minisign", &args);
        assert_eq!(
            detached::detect(&std::fs::read(s.p("f.minisig")).unwrap()),
            FileFormat::MinisignSignature
        );
        let v = mini_verify(&s, "f", "f.minisig", "k.pub").unwrap();
        let want = if legacy {
            minisign::Algorithm::Legacy
        } else {
            minisign::Algorithm::Prehashed
        };
        assert_eq!(v.algorithm, want, "len {len}");
        assert_eq!(v.trusted_comment, "release 1.2 for the gate");
        assert_eq!(v.bytes, len as u64);
        // The key id as minisign prints it in the public key's comment.
        let pub_text = std::fs::read_to_string(s.p("k.pub")).unwrap();
        assert!(pub_text.contains(&v.key_id.to_string()), "{pub_text}");
    }
}

#[test]
fn minisign_refuses_flipped_file_bits() {
    let s = Setup::new();
    s.minisign_keys("k");
    let data = content(100_000);
    for legacy in [false, true] {
        s.write("f", &data);
        let mut args = vec!["-S", "-s", "k.key", "-m", "f"];
        if legacy {
            args.push("-l");
        }
        run(s.dir.path(), "minisign", &args);
        assert!(mini_verify(&s, "f", "f.minisig", "k.pub").is_ok());
        for pos in [0, 1, 4095, 65_536, 99_999] {
            let mut bad = data.clone();
            bad[pos] ^= 0x10;
            s.write("bad", &bad);
            let r = mini_verify(&s, "bad", "f.minisig", "k.pub");
            assert!(matches!(r, Err(SigError::BadSignature)), "pos {pos}: {r:?}");
        }
        let mut longer = data.clone();
        longer.push(0);
        s.write("bad", &longer);
        assert!(mini_verify(&s, "bad", "f.minisig", "k.pub").is_err());
        s.write("bad", &data[..data.len() - 1]);
        assert!(mini_verify(&s, "bad", "f.minisig", "k.pub").is_err());
    }
}

#[test]
fn minisign_refuses_flipped_signature_bits() {
    let s = Setup::new();
    s.minisign_keys("k");
    s.write("f", &content(5000));
    run(s.dir.path(), "minisign", &["-S", "-s", "k.key", "-m", "f"]);
    let sig = s.p("f.minisig");
    // Every byte of the signature line (algorithm, key id, signature) and of the global
    // signature: one flipped bit anywhere must be refused.
    for (line, len) in [(1usize, 74usize), (3, 64)] {
        for byte in 0..len {
            let bit = (byte % 8) as u8;
            s.write(
                "bad.minisig",
                flip_b64_line(&sig, line, byte, bit).as_bytes(),
            );
            let r = mini_verify(&s, "f", "bad.minisig", "k.pub");
            assert!(r.is_err(), "line {line} byte {byte} bit {bit} was accepted");
        }
    }
    // The near miss: the untrusted comment is unsigned, so changing it changes nothing
    // (minisign itself agrees).
    s.write(
        "c.minisig",
        replace_line(&sig, 0, "untrusted comment: anything").as_bytes(),
    );
    assert!(mini_verify(&s, "f", "c.minisig", "k.pub").is_ok());
    assert!(tool_accepts(
        s.dir.path(),
        "minisign",
        &["-V", "-p", "k.pub", "-m", "f", "-x", "c.minisig"]
    ));
}

#[test]
fn minisign_refuses_tampered_trusted_comment() {
    let s = Setup::new();
    s.minisign_keys("k");
    s.write("f", b"payload\n");
    run(
        s.dir.path(),
        "minisign",
        &["-S", "-s", "k.key", "-m", "f", "-t", "version 7"],
    );
    let tampered = replace_line(&s.p("f.minisig"), 2, "trusted comment: version 8");
    s.write("t.minisig", tampered.as_bytes());
    let r = mini_verify(&s, "f", "t.minisig", "k.pub");
    assert!(matches!(r, Err(SigError::BadTrustedComment)), "{r:?}");
    // The real tool refuses it too, and accepts the original: the fixture is sound.
    assert!(!tool_accepts(
        s.dir.path(),
        "minisign",
        &["-V", "-p", "k.pub", "-m", "f", "-x", "t.minisig"]
    ));
    assert!(tool_accepts(
        s.dir.path(),
        "minisign",
        &["-V", "-p", "k.pub", "-m", "f"]
    ));
    // Swapping in the trusted comment and global signature of another signature by the
    // same key does not work either: the global signature covers the file signature.
    s.write("g", b"other\n");
    run(
        s.dir.path(),
        "minisign",
        &["-S", "-s", "k.key", "-m", "g", "-t", "version 8"],
    );
    let other = std::fs::read_to_string(s.p("g.minisig")).unwrap();
    let other: Vec<&str> = other.lines().collect();
    let mixed = replace_line(&s.p("f.minisig"), 2, other[2]);
    s.write("m.minisig", mixed.as_bytes());
    let mixed = replace_line(&s.p("m.minisig"), 3, other[3]);
    s.write("m.minisig", mixed.as_bytes());
    assert!(matches!(
        mini_verify(&s, "f", "m.minisig", "k.pub"),
        Err(SigError::BadTrustedComment)
    ));
}

#[test]
fn minisign_refuses_wrong_key() {
    let s = Setup::new();
    s.minisign_keys("k");
    s.minisign_keys("other");
    s.write("f", b"payload\n");
    run(s.dir.path(), "minisign", &["-S", "-s", "k.key", "-m", "f"]);
    let r = mini_verify(&s, "f", "f.minisig", "other.pub");
    assert!(matches!(r, Err(SigError::KeyIdMismatch { .. })), "{r:?}");
    // Another key relabelled with the signer's key id: the id matches, the key does not.
    let mine = B64.decode(
        std::fs::read_to_string(s.p("k.pub"))
            .unwrap()
            .lines()
            .nth(1)
            .unwrap(),
    );
    let theirs = B64.decode(
        std::fs::read_to_string(s.p("other.pub"))
            .unwrap()
            .lines()
            .nth(1)
            .unwrap(),
    );
    let mut forged = theirs.unwrap();
    forged[2..10].copy_from_slice(&mine.unwrap()[2..10]);
    s.write(
        "forged.pub",
        format!("untrusted comment: x\n{}\n", B64.encode(&forged)).as_bytes(),
    );
    let r = mini_verify(&s, "f", "f.minisig", "forged.pub");
    assert!(matches!(r, Err(SigError::BadTrustedComment)), "{r:?}");
}

#[test]
fn signify_verifies_and_refuses_changes() {
    let s = Setup::new();
    s.signify_keys("k");
    s.signify_keys("other");
    let data = content(200_000);
    s.write("f", &data);
    run(
        s.dir.path(),
        "signify-openbsd",
        &["-S", "-s", "k.sec", "-m", "f"],
    );
    assert_eq!(
        detached::detect(&std::fs::read(s.p("f.sig")).unwrap()),
        FileFormat::SignifySignature
    );
    let v = signify_verify(&s, "f", "f.sig", "k.pub").unwrap();
    assert_eq!(v.bytes, data.len() as u64);
    // Flipped file bits.
    for pos in [0, 77, 199_999] {
        let mut bad = data.clone();
        bad[pos] ^= 1;
        s.write("bad", &bad);
        let r = signify_verify(&s, "bad", "f.sig", "k.pub");
        assert!(matches!(r, Err(SigError::BadSignature)), "pos {pos}: {r:?}");
    }
    // Every byte of the signature line.
    for byte in 0..74 {
        s.write(
            "bad.sig",
            flip_b64_line(&s.p("f.sig"), 1, byte, (byte % 8) as u8).as_bytes(),
        );
        assert!(
            signify_verify(&s, "f", "bad.sig", "k.pub").is_err(),
            "byte {byte}"
        );
    }
    // Wrong key.
    let r = signify_verify(&s, "f", "f.sig", "other.pub");
    assert!(matches!(r, Err(SigError::KeyIdMismatch { .. })), "{r:?}");
    // Near miss: the comment line is not signed.
    s.write(
        "c.sig",
        replace_line(&s.p("f.sig"), 0, "untrusted comment: hi").as_bytes(),
    );
    assert!(signify_verify(&s, "f", "c.sig", "k.pub").is_ok());
    // Over the in-memory limit: refused before reading.
    let sig = signify::Signature::load(&s.p("f.sig")).unwrap();
    let key = PublicKey::load(&s.p("k.pub")).unwrap();
    let r = signify::verify_file(&sig, &key, &s.p("f"), 1000);
    assert!(matches!(r, Err(SigError::MessageTooLarge { .. })), "{r:?}");
}

#[test]
fn signify_embedded_signature_reads_first_two_lines() {
    let s = Setup::new();
    s.signify_keys("k");
    s.write("f", b"line one\nline two\n");
    run(
        s.dir.path(),
        "signify-openbsd",
        &["-S", "-e", "-s", "k.sec", "-m", "f", "-x", "f.esig"],
    );
    assert!(signify_verify(&s, "f", "f.esig", "k.pub").is_ok());
}

#[test]
fn detect_real_tool_files() {
    let s = Setup::new();
    s.minisign_keys("m");
    s.signify_keys("s");
    let d = |n: &str| detached::detect(&std::fs::read(s.p(n)).unwrap());
    assert_eq!(
        d("m.pub"),
        FileFormat::PublicKey {
            made_by: Some(Tool::Minisign)
        }
    );
    assert_eq!(
        d("s.pub"),
        FileFormat::PublicKey {
            made_by: Some(Tool::Signify)
        }
    );
    assert_eq!(d("m.key"), FileFormat::SecretKey(Tool::Minisign));
    assert_eq!(d("s.sec"), FileFormat::SecretKey(Tool::Signify));
    // Both tools write the same public key layout, so one parser reads both; a secret key
    // is not a public key.
    assert!(PublicKey::load(&s.p("m.pub")).is_ok());
    assert!(PublicKey::load(&s.p("s.pub")).is_ok());
    assert!(PublicKey::load(&s.p("s.sec")).is_err());
}

// ----- CLI: `airgate verify FILE --signature SIG --key PUB` -----

fn airgate(s: &Setup, args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("airgate")
        .unwrap()
        .current_dir(s.dir.path())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_verify_minisign_and_signify() {
    let s = Setup::new();
    s.minisign_keys("m");
    s.signify_keys("s");
    s.write("f", &content(10_000));
    run(
        s.dir.path(),
        "minisign",
        &["-S", "-s", "m.key", "-m", "f", "-t", "cli check"],
    );
    run(
        s.dir.path(),
        "signify-openbsd",
        &["-S", "-s", "s.sec", "-m", "f"],
    );
    for (sig, key) in [("f.minisig", "m.pub"), ("f.sig", "s.pub")] {
        let out = airgate(&s, &["verify", "f", "--signature", sig, "--key", key]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{sig}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Both keys given: the right one is found.
        let out = airgate(
            &s,
            &[
                "verify",
                "f",
                "--signature",
                sig,
                "--key",
                "s.pub",
                "--key",
                "m.pub",
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{sig}");
        // The other tool's key: rejected.
        let wrong = if key == "m.pub" { "s.pub" } else { "m.pub" };
        let out = airgate(&s, &["verify", "f", "--signature", sig, "--key", wrong]);
        assert_eq!(out.status.code(), Some(1), "{sig} with {wrong}");
    }
    // A changed file is rejected.
    let mut bad = content(10_000);
    bad[5000] ^= 4;
    s.write("f", &bad);
    for (sig, key) in [("f.minisig", "m.pub"), ("f.sig", "s.pub")] {
        let out = airgate(&s, &["verify", "f", "--signature", sig, "--key", key]);
        assert_eq!(out.status.code(), Some(1), "{sig}");
    }
    // A tampered trusted comment is rejected.
    s.write("f", &content(10_000));
    s.write(
        "t.minisig",
        replace_line(&s.p("f.minisig"), 2, "trusted comment: cli checj").as_bytes(),
    );
    let out = airgate(
        &s,
        &["verify", "f", "--signature", "t.minisig", "--key", "m.pub"],
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn cli_verify_bad_key_is_config_error() {
    let s = Setup::new();
    s.minisign_keys("m");
    s.write("f", b"x");
    run(s.dir.path(), "minisign", &["-S", "-s", "m.key", "-m", "f"]);
    s.write("bad.pub", b"untrusted comment: x\nAAAA\n");
    for key in ["bad.pub", "missing.pub", "m.key"] {
        let out = airgate(
            &s,
            &["verify", "f", "--signature", "f.minisig", "--key", key],
        );
        assert_eq!(out.status.code(), Some(2), "{key}");
    }
}
