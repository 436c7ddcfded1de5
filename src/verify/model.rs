//! OpenSSF-signed model tars (a plain tar of a model folder with `model.sig` at its root and
//! no airgate envelope), read by [`verify`](super::verify) as
//! [`Input::ModelTar`](super::Input::ModelTar): it extracts the tar with the strict reader while
//! hashing and inspecting every file, verifies `model.sig` over the extracted folder with the
//! model-signing library against the policy's `[sigstore]` trust for kind `weights`, leaves
//! out what the signature does not cover, and returns the [`Outcome`] with a
//! [`VerifiedBundle`] whose statement lists every file left (and `model.sig`).

use super::{Evidence, Outcome, VerifiedBundle, VerifyError, VerifyOptions};
use crate::bundle::statement::{Predicate, Statement, Subject, PREDICATE_TYPE, STATEMENT_TYPE};
use crate::bundle::Version;
use crate::container::tar::{EntryKind, TarError, TarLimits, TarReader};
use crate::inspect::Engine;
use crate::policy::{Limits, Policy};
use crate::trust::model_signing::{self as ms, choose, ModelSigner, ModelVerified};
use crate::trust::sigstore::Signer;
use crate::vocab::{BundleInfo, Category, Finding, Report, Severity, Timings};
use crate::ErrorClass;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Write};
use std::path::Path;

/// The signature file at the root of a model tar.
pub const SIG_FILE: &str = "model.sig";
/// The artifact kind whose `[sigstore]` trust applies to models.
pub const MODEL_KIND: &str = "weights";

fn extract_err(path: &Path) -> impl Fn(std::io::Error) -> VerifyError + '_ {
    move |source| VerifyError::Extract {
        path: path.to_path_buf(),
        source,
    }
}

/// `create_dir_all`; the folders are fsynced once the tar is extracted.
fn create_dirs(dir: &Path) -> Result<(), VerifyError> {
    std::fs::create_dir_all(dir).map_err(extract_err(dir))
}

/// Verify the model tar at `path` (shown in the report as `shown_as`), extracting it under
/// `opts.extract_to`, which is required: the signature is checked over the extracted folder.
/// `Err` only when nothing could be decided (I/O, trust configuration, a cancel request).
pub(super) fn verify_model(
    path: &Path,
    shown_as: &str,
    opts: &VerifyOptions<'_>,
) -> Result<Outcome, VerifyError> {
    let started = std::time::Instant::now();
    let policy = opts.policy;
    let Some(dir) = opts.extract_to else {
        return Err(VerifyError::Extract {
            path: path.to_path_buf(),
            source: std::io::Error::other(
                "a model tar is verified over its extracted folder, and none was given",
            ),
        });
    };
    // this run's own coverage count, whoever else shares the engine
    let engine = opts.engine.counting();
    // the tar's own digest comes from the extraction pass: the file is read once
    let (extracted, sha) = extract_hashed(path, dir, &policy.limits, &engine, opts.cancel)?;
    let label = format!("sha256-{}", &sha[..16.min(sha.len())]);
    let mut report = Report::new("verify");
    report.policy_sha256 = policy.digest();
    let mut info = BundleInfo {
        kind: MODEL_KIND.into(),
        version: label.clone(),
        sha256: sha.clone(),
        path: shown_as.to_string(),
        ..BundleInfo::default()
    };
    let mut verified = None;
    match extracted {
        Err(why) => report
            .findings
            .push(trust_finding(shown_as, "model.archive", &why)),
        Ok(ex) => {
            report.findings.extend(ex.findings);
            report.timings = Timings::from(started.elapsed(), ex.bytes, ex.files.len() as u64);
            let mut files = ex.files;
            match check_signature(dir, policy)? {
                Ok(v) => {
                    report.signatures.push(v.report());
                    info.name = v.model_name.clone();
                    // what the signature ignored (git paths, the signer's ignore paths) is
                    // not staged: staging holds exactly the signed files and model.sig
                    for p in leave_out_unsigned(dir, &mut files, &v.covered)? {
                        report.findings.push(Finding::new(
                            &p,
                            "model.not-staged",
                            Category::Integrity,
                            Severity::Info,
                            "not covered by the model signature (an ignored path): left out \
                             of the staged model",
                            p.as_bytes(),
                        ));
                    }
                    verified = Some(verified_bundle(&v, &files, &label, &sha, dir, opts.now));
                }
                Err(why) => {
                    report
                        .signatures
                        .push(crate::trust::sigstore::rejected_report(
                            "model-signing",
                            &why,
                        ));
                    report
                        .findings
                        .push(trust_finding(SIG_FILE, "model-signing.signature", &why))
                }
            }
        }
    }
    if engine.nests() {
        report.coverage = Some(engine.coverage().report());
    }
    report.bundle = Some(info);
    // the policy's verdict is `decide`'s: until then the report fails closed
    report.verdict = crate::vocab::Verdict::Reject;
    Ok(super::Outcome { report, verified })
}

/// Remove from the extracted model at `dir` (and from `files`) every file the signature
/// does not cover, except the signature itself, and the folders left empty; returns their
/// paths.
fn leave_out_unsigned(
    dir: &Path,
    files: &mut BTreeMap<String, (String, u64)>,
    covered: &BTreeSet<String>,
) -> Result<Vec<String>, VerifyError> {
    let out: Vec<String> = files
        .keys()
        .filter(|p| p.as_str() != SIG_FILE && !covered.contains(*p))
        .cloned()
        .collect();
    for p in &out {
        let full = dir.join(p);
        std::fs::remove_file(&full).map_err(extract_err(&full))?;
        files.remove(p);
        // folders it leaves empty (`.git/`) go too
        let mut parent = full.parent();
        while let Some(d) = parent.filter(|d| *d != dir && d.starts_with(dir)) {
            if std::fs::remove_dir(d).is_err() {
                break; // not empty
            }
            parent = d.parent();
        }
    }
    Ok(out)
}

/// Whether `path` is a plain tar holding `model.sig` at its root whose first entry is not an
/// airgate envelope. Reads headers only; any problem means "not a model tar" (the file then
/// takes the native bundle path, which rejects what it cannot read).
pub fn is_model_tar(path: &Path, limits: &Limits) -> bool {
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let mut tar = TarReader::new(BufReader::new(f), TarLimits::from(limits));
    let mut first = true;
    while let Ok(Some(e)) = tar.next_entry() {
        if first && e.path == crate::bundle::ENVELOPE_PATH {
            return false;
        }
        first = false;
        if e.path == SIG_FILE && e.kind == EntryKind::File {
            return true;
        }
    }
    false
}

/// The extracted files: path → (sha256, size), plus inspection findings.
#[derive(Debug, Default)]
pub struct Extracted {
    /// Path → (hex SHA-256, size in bytes) of every extracted file.
    pub files: BTreeMap<String, (String, u64)>,
    /// What inspection found while extracting.
    pub findings: Vec<Finding>,
    /// Bytes extracted in all.
    pub bytes: u64,
}

/// Extract the tar at `tar_path` into the existing empty folder `dest` with the strict reader,
/// hashing and inspecting each file as it streams. `Ok(Err(reason))`: the archive is refused;
/// `Err(VerifyError::Cancelled)`: `cancel` was set (checked between reads).
pub fn extract(
    tar_path: &Path,
    dest: &Path,
    limits: &Limits,
    engine: &Engine,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<Result<Extracted, String>, VerifyError> {
    extract_hashed(tar_path, dest, limits, engine, cancel).map(|(ex, _)| ex)
}

/// A reader that hashes every byte read through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: std::io::Read> std::io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// [`extract`], and the hex SHA-256 of the whole tar file, taken from the same reads: the
/// bytes the tar reader did not need (after a refusal, or past the archive's end) are read
/// on only to be hashed, so every byte is read once.
pub(crate) fn extract_hashed(
    tar_path: &Path,
    dest: &Path,
    limits: &Limits,
    engine: &Engine,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<(Result<Extracted, String>, String), VerifyError> {
    let read = |source| VerifyError::Io {
        path: tar_path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(tar_path).map_err(read)?;
    let hashing = Hashing {
        inner: f,
        hasher: Sha256::new(),
    };
    let mut tar = TarReader::new(BufReader::new(hashing), TarLimits::from(limits));
    let extracted = extract_entries(&mut tar, tar_path, dest, engine, cancel)?;
    // what the buffer held was hashed when it was read; the rest of the file is read on
    let mut rest = tar.into_inner().into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).map_err(read)?;
    Ok((extracted, hex::encode(rest.hasher.finalize())))
}

/// The extraction loop of [`extract_hashed`] over `tar`.
fn extract_entries<R: std::io::Read>(
    tar: &mut TarReader<R>,
    tar_path: &Path,
    dest: &Path,
    engine: &Engine,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<Result<Extracted, String>, VerifyError> {
    let cancelled = || cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst));
    let read = |source| VerifyError::Io {
        path: tar_path.to_path_buf(),
        source,
    };
    let mut out = Extracted::default();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        if cancelled() {
            return Err(VerifyError::Cancelled);
        }
        let entry = match tar.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(TarError::Io(e)) => return Err(read(e)),
            Err(e) => return Ok(Err(format!("the model tar is refused: {e}"))),
        };
        let target = dest.join(&entry.path);
        if entry.kind == EntryKind::Dir {
            create_dirs(&target)?;
            continue;
        }
        if let Some(parent) = target.parent() {
            create_dirs(parent)?;
        }
        let mut file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&target)
                .map_err(extract_err(&target))?
        };
        let mut hasher = Sha256::new();
        let mut scan = engine.begin_file(&entry.path, Some(entry.size), 0);
        let mut got = 0u64;
        loop {
            let n = match tar.read_data(&mut buf) {
                Ok(n) => n,
                Err(TarError::Io(e)) => return Err(read(e)),
                Err(e) => return Ok(Err(format!("the model tar is refused: {e}"))),
            };
            if n == 0 {
                break;
            }
            if cancelled() {
                return Err(VerifyError::Cancelled);
            }
            file.write_all(&buf[..n]).map_err(extract_err(&target))?;
            hasher.update(&buf[..n]);
            scan.update(&buf[..n]);
            got += n as u64;
        }
        if got != entry.size {
            return Ok(Err(format!("{} is cut short in the model tar", entry.path)));
        }
        file.sync_all().map_err(extract_err(&target))?;
        out.findings.extend(scan.finish());
        out.bytes += got;
        out.files
            .insert(entry.path, (hex::encode(hasher.finalize()), entry.size));
    }
    super::pipeline::sync_dirs(dest).map_err(extract_err(dest))?;
    if !out.files.contains_key(SIG_FILE) {
        return Ok(Err(format!("the model tar has no {SIG_FILE} at its root")));
    }
    // files a model needs at load time must be in the tar
    let files = &out.files;
    crate::inspect::models::onnx::cross_check(&mut out.findings, |p| {
        files.get(p).map(|&(_, size)| size)
    });
    Ok(Ok(out))
}

fn config(m: String) -> VerifyError {
    VerifyError::Config(m)
}

/// Verify `dir/model.sig` over `dir` with the policy's trust for kind `weights`, the
/// method chosen by the signature's material. `Ok(Err(reason))`: the model is rejected.
pub fn check_signature(
    dir: &Path,
    policy: &Policy,
) -> Result<Result<ModelVerified, String>, VerifyError> {
    if let Some(refused) = threshold_refusal(policy) {
        return Ok(Err(refused));
    }
    let sig = dir.join(SIG_FILE);
    // the one choice of trust for a model signature, shared with `airgate verify`
    let trust = match choose::choose(&sig, Some(policy), MODEL_KIND, &choose::Explicit::default()) {
        Ok(t) => t,
        Err(choose::ChooseError::NoTrust(why)) => return Ok(Err(why)),
        Err(choose::ChooseError::Config(m)) => return Err(config(m)),
    };
    let method = trust.method();
    match ms::verify_model(dir, &sig, &ms::Options::new(method)) {
        Ok(v) => Ok(Ok(v)),
        Err(e) if e.class() == ErrorClass::Rejected => Ok(Err(e.to_string())),
        Err(e) => Err(VerifyError::Model {
            message: e.to_string(),
            class: e.class(),
        }),
    }
}

/// Why the policy cannot admit a model tar at all: `[trust.weights]` asks for more than one
/// signer (a model signature has one) and does not say `single_model_signature = true`.
pub fn threshold_refusal(policy: &Policy) -> Option<String> {
    let t = policy.trust.get(MODEL_KIND)?;
    (t.threshold > 1 && !t.single_model_signature).then(|| {
        format!(
            "the policy requires {} distinct signers for kind {MODEL_KIND:?} \
             ([trust.{MODEL_KIND}].threshold), and an OpenSSF model signature has exactly one \
             signer; to admit model tars on one signature, set \
             [trust.{MODEL_KIND}].single_model_signature = true",
            t.threshold
        )
    })
}

/// The finding for a refused model signature or archive.
pub fn trust_finding(file: &str, rule: &str, why: &str) -> Finding {
    Finding::new(
        file,
        rule,
        Category::Trust,
        Severity::Critical,
        why,
        why.as_bytes(),
    )
}

/// A name usable as one staging folder component.
fn folder_name(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if clean.is_empty() || clean.starts_with('.') {
        "model".into()
    } else {
        clean
    }
}

/// Who signed, as one line (key id, or certificate identity).
fn signer_id(v: &ModelVerified) -> String {
    match &v.signer {
        ModelSigner::Sigstore(Signer::Certificate { san, issuer }) => format!("{san} ({issuer})"),
        ModelSigner::Sigstore(Signer::Key { key_id }) => key_id.clone(),
        ModelSigner::Key { key_id, .. } => key_id.clone(),
        ModelSigner::Certificate {
            subject, key_id, ..
        } => format!("{key_id} ({subject})"),
    }
}

/// The verified model extracted at `extracted`: `files` (path → sha256, size) are the files
/// left there (those the signature covers, and `model.sig`), `label` its staging version,
/// `sha256` the tar's digest. The model signature has no version to order: the version is 0.
fn verified_bundle(
    v: &ModelVerified,
    files: &BTreeMap<String, (String, u64)>,
    label: &str,
    sha256: &str,
    extracted: &Path,
    now: i64,
) -> VerifiedBundle {
    let signer = signer_id(v);
    let statement = Statement {
        type_: STATEMENT_TYPE.into(),
        subject: files
            .iter()
            .map(|(n, (d, _))| Subject {
                name: n.clone(),
                digest: BTreeMap::from([("sha256".to_string(), d.clone())]),
            })
            .collect(),
        predicate_type: PREDICATE_TYPE.into(),
        predicate: Predicate {
            kind: MODEL_KIND.into(),
            name: folder_name(&v.model_name),
            version: label.to_string(),
            created: crate::util::format_time(now),
            publisher: format!("OpenSSF model signing ({}): {signer}", v.method),
            sizes: files.iter().map(|(n, (_, s))| (n.clone(), *s)).collect(),
        },
    };
    VerifiedBundle {
        statement,
        version: Version::Integer(0),
        signers: vec![signer.clone()],
        sha256: sha256.to_string(),
        extracted: Some(extracted.to_path_buf()),
        evidence: Evidence::ModelSignature {
            method: v.method.to_string(),
            signer,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::folder_name;

    #[test]
    fn folder_names_cannot_leave_their_folder() {
        assert_eq!(folder_name("org/model v1"), "org_model_v1");
        assert_eq!(folder_name(".."), "model");
        assert_eq!(folder_name(""), "model");
        assert_eq!(folder_name("bert-base_1.0"), "bert-base_1.0");
    }
}

#[cfg(test)]
mod verified_tests {
    use super::*;
    use crate::trust::model_signing::ModelSigner;

    #[test]
    fn a_verified_model_lists_the_files_left_and_names_its_signature() {
        let v = ModelVerified {
            method: "key",
            signer: ModelSigner::Key {
                key_id: "k1".into(),
                curve: "P-256",
            },
            format: "v1.0",
            pae_v02: false,
            model_name: "org/bert".into(),
            root_digest: None,
            serialization: "files".into(),
            hash_type: "sha256".into(),
            resources: 1,
            files: 1,
            bytes: 3,
            integrated_time: None,
            covered: ["w.bin".to_string()].into(),
            unrecorded_empty: vec![],
        };
        let files = BTreeMap::from([
            ("model.sig".to_string(), ("aa".repeat(32), 10)),
            ("w.bin".to_string(), ("bb".repeat(32), 3)),
        ]);
        let vb = verified_bundle(&v, &files, "sha256-0123", "cc", Path::new("/w/files"), 0);
        assert_eq!((vb.kind(), vb.name()), (MODEL_KIND, "org_bert"));
        assert_eq!(vb.statement().predicate.version, "sha256-0123");
        assert_eq!(vb.statement().subject.len(), 2);
        assert_eq!(vb.statement().predicate.sizes.get("w.bin"), Some(&3));
        assert_eq!(vb.signers(), ["k1"]);
        assert_eq!(vb.extracted(), Some(Path::new("/w/files")));
        assert!(
            matches!(vb.evidence(), Evidence::ModelSignature { method, signer }
                if method == "key" && signer == "k1"),
            "{:?}",
            vb.evidence()
        );
    }
}

#[cfg(test)]
mod digest_tests {
    use super::*;

    fn tar_of(files: &[(&str, Vec<u8>)], after_end: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, data.as_slice()).unwrap();
        }
        let mut v = b.into_inner().unwrap();
        v.extend_from_slice(after_end);
        v
    }

    /// The tar's digest is taken from the extraction's own reads and is the whole file's,
    /// bytes after the archive's end included, whether the tar is extracted or refused.
    #[test]
    fn the_tar_digest_is_the_whole_files_from_the_extraction_pass() {
        let work = tempfile::tempdir().unwrap();
        let policy = Policy::default();
        let engine = crate::inspect::build_engine(&policy).unwrap();
        let weights: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let signed = vec![("model.sig", b"{}".to_vec()), ("w.bin", weights.clone())];
        let signed_copy = signed.clone();
        let cases = [
            // extracted: more than one read buffer of data, zero padding after the end
            (signed.clone(), vec![0; 30_000], true),
            // refused (data after the end, no model.sig): hashed whole all the same
            (signed, vec![0x5a; 3000], false),
            (vec![("w.bin", weights)], Vec::new(), false),
            // refused at its second header (checksum), 300 KB before the end: the rest is
            // read on for the digest
            (Vec::new(), Vec::new(), false),
        ];
        for (i, (files, after, extracted)) in cases.into_iter().enumerate() {
            let path = work.path().join(format!("m{i}.tar"));
            let bytes = if files.is_empty() {
                let mut t = tar_of(&signed_copy, &[]);
                t[1024] ^= 0x20;
                t
            } else {
                tar_of(&files, &after)
            };
            std::fs::write(&path, bytes).unwrap();
            let dest = work.path().join(format!("x{i}"));
            std::fs::create_dir(&dest).unwrap();
            let (ex, sha) = extract_hashed(&path, &dest, &policy.limits, &engine, None).unwrap();
            assert_eq!(ex.is_ok(), extracted, "case {i}: {:?}", ex.err());
            assert_eq!(sha, crate::util::hash_file(&path).unwrap().0, "case {i}");
        }
    }
}
