//! Checking an OpenSSF-signed model tar for the gate: detect it (a plain tar with `model.sig`
//! at its root and no airgate envelope), extract it with the strict tar reader while hashing
//! and inspecting every file, then verify `model.sig` over the extracted folder with the
//! model-signing library against the policy's `[sigstore]` trust for kind `weights`.

use super::fsutil;
use super::GateError;
use crate::inspect::{Category, Engine, Finding, Severity};
use crate::policy::{Limits, Policy};
use crate::trust::model_signing::{
    self as ms, ec::EcKey, material_of, x509::Cert, Material, ModelVerified,
};
use crate::trust::sigstore::{Signers, SigstoreRoot};
use crate::ErrorClass;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufReader, Read, Write};
use std::path::Path;

use crate::container::tar::{EntryKind, TarError, TarLimits, TarReader};

/// The signature file at the root of a model tar.
pub const SIG_FILE: &str = "model.sig";
/// The artifact kind whose `[sigstore]` trust applies to models.
pub use crate::verify::model::MODEL_KIND;
/// Largest PEM key or CA file read from the policy.
const MAX_PEM: u64 = 1 << 20;

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
    pub files: BTreeMap<String, (String, u64)>,
    pub findings: Vec<Finding>,
    pub bytes: u64,
}

/// Extract the tar at `tar_path` into the existing empty folder `dest` with the strict reader,
/// hashing and inspecting each file as it streams. `Ok(Err(reason))`: the archive is refused;
/// `Err(GateError::Abandoned)`: `cancel` was set (checked between reads).
pub fn extract(
    tar_path: &Path,
    dest: &Path,
    limits: &Limits,
    engine: &Engine,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<Result<Extracted, String>, GateError> {
    let cancelled = || cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst));
    let f = std::fs::File::open(tar_path).map_err(fsutil::io("read", tar_path))?;
    let mut tar = TarReader::new(BufReader::new(f), TarLimits::from(limits));
    let mut out = Extracted::default();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        if cancelled() {
            return Err(GateError::Abandoned);
        }
        let entry = match tar.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(TarError::Io(e)) => return Err(fsutil::io("read", tar_path)(e)),
            Err(e) => return Ok(Err(format!("the model tar is refused: {e}"))),
        };
        let target = dest.join(&entry.path);
        if entry.kind == EntryKind::Dir {
            fsutil::create_dirs_durable(&target)?;
            continue;
        }
        if let Some(parent) = target.parent() {
            fsutil::create_dirs_durable(parent)?;
        }
        let mut file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&target)
                .map_err(fsutil::io("create", &target))?
        };
        let mut hasher = Sha256::new();
        let mut scan = engine.begin_file(&entry.path, Some(entry.size), 0);
        let mut got = 0u64;
        loop {
            let n = match tar.read_data(&mut buf) {
                Ok(n) => n,
                Err(TarError::Io(e)) => return Err(fsutil::io("read", tar_path)(e)),
                Err(e) => return Ok(Err(format!("the model tar is refused: {e}"))),
            };
            if n == 0 {
                break;
            }
            if cancelled() {
                return Err(GateError::Abandoned);
            }
            file.write_all(&buf[..n])
                .map_err(fsutil::io("write", &target))?;
            hasher.update(&buf[..n]);
            scan.update(&buf[..n]);
            got += n as u64;
        }
        if got != entry.size {
            return Ok(Err(format!("{} is cut short in the model tar", entry.path)));
        }
        fsutil::fault("fsync")?;
        file.sync_all().map_err(fsutil::io("fsync", &target))?;
        out.findings.extend(scan.finish());
        out.bytes += got;
        out.files
            .insert(entry.path, (hex::encode(hasher.finalize()), entry.size));
    }
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

fn config(m: String) -> GateError {
    GateError::Config { message: m }
}

fn read_pem(path: &Path) -> Result<String, GateError> {
    let f = std::fs::File::open(path)
        .map_err(|e| config(format!("cannot read {}: {e}", path.display())))?;
    let mut s = String::new();
    f.take(MAX_PEM + 1)
        .read_to_string(&mut s)
        .map_err(|e| config(format!("cannot read {}: {e}", path.display())))?;
    if s.len() as u64 > MAX_PEM {
        return Err(config(format!(
            "{} is larger than {MAX_PEM} bytes",
            path.display()
        )));
    }
    Ok(s)
}

/// Verify `dir/model.sig` over `dir` with the policy's trust for kind `weights`, the
/// method chosen by the signature's material. `Ok(Err(reason))`: the model is rejected.
pub fn verify(dir: &Path, policy: &Policy) -> Result<Result<ModelVerified, String>, GateError> {
    if let Some(refused) = threshold_refusal(policy) {
        return Ok(Err(refused));
    }
    let sig = dir.join(SIG_FILE);
    let section = policy.sigstore.as_ref();
    let keys: Vec<EcKey>;
    let cas: Vec<Cert>;
    let root: SigstoreRoot;
    let signers: Signers;
    let method = match material_of(&sig) {
        Material::Key => {
            let paths: Vec<_> = section
                .map(|s| s.keys_for(MODEL_KIND).map(|p| policy.resolve(p)).collect())
                .unwrap_or_default();
            keys = paths
                .iter()
                .map(|p| {
                    EcKey::from_pem(&read_pem(p)?).map_err(|e| {
                        config(format!(
                            "{} is not an ECDSA P-256/384/521 public key: {e}",
                            p.display()
                        ))
                    })
                })
                .collect::<Result<_, _>>()?;
            if keys.is_empty() {
                return Ok(Err(format!(
                    "{SIG_FILE} is signed with a key, and the policy trusts no [[sigstore.keys]] for kind {MODEL_KIND:?}"
                )));
            }
            ms::Method::Key(&keys)
        }
        Material::Certificate => {
            let mut all = Vec::new();
            for p in section
                .map(|s| {
                    s.ca_certs_for(MODEL_KIND)
                        .map(|p| policy.resolve(p))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
            {
                all.extend(Cert::all_from_pem(&read_pem(&p)?).map_err(|e| {
                    config(format!(
                        "{} holds no usable CA certificate: {e}",
                        p.display()
                    ))
                })?);
            }
            cas = all;
            if cas.is_empty() {
                return Ok(Err(format!(
                    "{SIG_FILE} is signed with a certificate, and the policy trusts no [[sigstore.ca_certs]] for kind {MODEL_KIND:?}"
                )));
            }
            ms::Method::Certificate(&cas)
        }
        Material::Sigstore => {
            let Some(path) = section.and_then(|s| s.trusted_root.as_ref()) else {
                return Ok(Err(format!(
                    "{SIG_FILE} is a Sigstore signature, and the policy sets no [sigstore].trusted_root"
                )));
            };
            root = SigstoreRoot::load(&policy.resolve(path)).map_err(|e| config(e.to_string()))?;
            signers =
                Signers::from_policy(policy, MODEL_KIND).map_err(|e| config(e.to_string()))?;
            if signers.is_empty() {
                return Ok(Err(format!(
                    "the policy trusts no Sigstore identity or key for kind {MODEL_KIND:?}"
                )));
            }
            ms::Method::Sigstore {
                root: &root,
                signers: &signers,
            }
        }
        Material::Unknown => {
            return Ok(Err(format!(
                "{SIG_FILE} is not an OpenSSF model signature bundle"
            )))
        }
    };
    match ms::verify_model(dir, &sig, &ms::Options::new(method)) {
        Ok(v) => Ok(Ok(v)),
        Err(e) if e.class() == ErrorClass::Rejected => Ok(Err(e.to_string())),
        Err(e) => Err(GateError::Verify {
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
