//! Verify a file against a detached minisign or signify signature (`airgate verify FILE
//! --signature SIG --key PUB...`), the format told from the signature file's content: the
//! signature report, and a verdict that accepts iff the signature verifies with one of the
//! given keys.

use super::detached::{self, FileFormat, PublicKey, SigError, Tool};
use super::{minisign, signify};
use crate::vocab::{Report, SignatureReport, SignatureStatus, Timings, Verdict};
use crate::ErrorClass;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why a detached check could not be made (a signature that does not verify is not an
/// error: it is a rejecting report).
#[derive(Debug, thiserror::Error)]
pub enum DetachedError {
    /// The call is wrong: no key, a key given as the signature, a JSON file (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A public key file is missing, unreadable or not a minisign/signify public key.
    #[error("key {path}: {message}")]
    Key {
        /// The public key file.
        /// The public key file.
        path: PathBuf,
        /// What is wrong with it.
        /// What is wrong with it.
        message: String,
    },
    /// The signed file or the signature file cannot be read: nothing was decided.
    #[error(transparent)]
    Read(SigError),
}

impl DetachedError {
    /// The exit-code class: usage and keys are configuration, reading is operational.
    pub fn class(&self) -> ErrorClass {
        match self {
            DetachedError::Usage(_) | DetachedError::Key { .. } => ErrorClass::Config,
            DetachedError::Read(_) => ErrorClass::Operational,
        }
    }
}

fn usage(m: impl Into<String>) -> DetachedError {
    DetachedError::Usage(m.into())
}

/// Verify `file` against the detached signature `sig` with any of `keys` (minisign or
/// signify public key files). Accept iff the signature verifies with one of the keys.
/// A missing or malformed key is a configuration error; an unreadable file or signature is
/// operational; a signature that is malformed, by an unknown key or invalid rejects.
pub fn verify_detached(file: &Path, sig: &Path, keys: &[PathBuf]) -> Result<Report, DetachedError> {
    let start = Instant::now();
    if keys.is_empty() {
        return Err(usage(
            "--signature needs at least one --key (a minisign or signify public key file)",
        ));
    }
    let keys = keys
        .iter()
        .map(|p| load_key(p).map(|k| (p.as_path(), k)))
        .collect::<Result<Vec<_>, _>>()?;
    let head = detached::read_limited(sig, "signature file", false).map_err(DetachedError::Read)?;
    let mut report = Report::new("verify");
    let entry = match detached::detect(&head) {
        FileFormat::MinisignSignature => check_minisign(file, sig, &keys)?,
        FileFormat::SignifySignature => match signify::Signature::parse(&head) {
            Ok(s) => check_signify(file, &s, &keys)?,
            Err(e) => malformed(Tool::Signify, &e),
        },
        FileFormat::PublicKey { .. } | FileFormat::SecretKey(_) | FileFormat::Pem => {
            return Err(usage(format!(
                "{} is a key, not a signature: pass the signature with --signature and the \
                 public key with --key",
                sig.display()
            )));
        }
        FileFormat::Json => {
            return Err(usage(format!(
                "{} is JSON, not a minisign or signify signature (a Sigstore bundle goes with \
                 --sigstore-bundle)",
                sig.display()
            )));
        }
        FileFormat::Unknown => SignatureReport {
            format: "unknown".into(),
            key_id: String::new(),
            identity: None,
            status: SignatureStatus::Invalid,
            reason: format!(
                "{} is neither a minisign nor a signify signature",
                sig.display()
            ),
        }
        .into(),
    };
    let Checked(entry, bytes) = entry;
    if entry.status != SignatureStatus::Counted {
        report.verdict = Verdict::Reject;
        report
            .reasons
            .push(format!("{} signature: {}", entry.format, entry.reason));
    }
    report.signatures.push(entry);
    report.timings = Timings::from(start.elapsed(), bytes, 1);
    Ok(report)
}

/// A signature entry and the bytes of the file read to reach it.
struct Checked(SignatureReport, u64);

impl From<SignatureReport> for Checked {
    fn from(r: SignatureReport) -> Checked {
        Checked(r, 0)
    }
}

fn load_key(path: &Path) -> Result<PublicKey, DetachedError> {
    let key_err = |message: String| DetachedError::Key {
        path: path.to_path_buf(),
        message,
    };
    let head = detached::read_limited(path, "public key file", true)
        .map_err(|e| key_err(e.to_string()))?;
    let hint = match detached::detect(&head) {
        FileFormat::PublicKey { .. } => None,
        FileFormat::SecretKey(tool) => Some(format!(
            "it is a {} secret key; give the public key (.pub) instead",
            tool.as_str()
        )),
        FileFormat::Pem => Some(
            "it is a PEM key; a minisign or signify signature needs a minisign or signify \
             public key"
                .to_string(),
        ),
        _ => None,
    };
    if let Some(hint) = hint {
        return Err(key_err(hint));
    }
    PublicKey::parse(&head).map_err(|e| key_err(e.to_string()))
}

fn entry(tool: Tool, key_id: String, status: SignatureStatus, reason: String) -> SignatureReport {
    SignatureReport {
        format: tool.as_str().into(),
        key_id,
        identity: None,
        status,
        reason,
    }
}

fn malformed(tool: Tool, e: &SigError) -> Checked {
    entry(tool, String::new(), SignatureStatus::Invalid, e.to_string()).into()
}

/// The keys whose id matches the signature's, or an `Unknown` entry naming those given.
fn matching<'a>(
    tool: Tool,
    id: detached::KeyId,
    keys: &'a [(&'a Path, PublicKey)],
) -> Result<Vec<&'a PublicKey>, Checked> {
    let found: Vec<&PublicKey> = keys
        .iter()
        .map(|(_, k)| k)
        .filter(|k| k.id() == id)
        .collect();
    if found.is_empty() {
        let given: Vec<String> = keys
            .iter()
            .map(|(p, k)| format!("{} ({})", k.id(), p.display()))
            .collect();
        return Err(entry(
            tool,
            id.to_string(),
            SignatureStatus::Unknown,
            format!(
                "signed by key id {id}, but no given key has it: {}",
                given.join(", ")
            ),
        )
        .into());
    }
    Ok(found)
}

/// Map a verification error: reading the signed file is operational, the rest rejects.
fn failed(tool: Tool, id: detached::KeyId, e: SigError) -> Result<Checked, DetachedError> {
    match e {
        SigError::Read { .. } | SigError::Io(_) => Err(DetachedError::Read(e)),
        other => Ok(entry(
            tool,
            id.to_string(),
            SignatureStatus::Invalid,
            other.to_string(),
        )
        .into()),
    }
}

fn check_minisign(
    file: &Path,
    sig: &Path,
    keys: &[(&Path, PublicKey)],
) -> Result<Checked, DetachedError> {
    let s = match minisign::Signature::load(sig) {
        Ok(s) => s,
        Err(e @ SigError::Read { .. }) => return Err(DetachedError::Read(e)),
        Err(e) => return Ok(malformed(Tool::Minisign, &e)),
    };
    let found = match matching(Tool::Minisign, s.key_id(), keys) {
        Ok(f) => f,
        Err(unknown) => return Ok(unknown),
    };
    let mut last = None;
    for key in found {
        match minisign::verify_file(&s, key, file, &minisign::Options::default()) {
            Ok(v) => {
                let reason = format!(
                    "verified ({}); trusted comment: {}",
                    v.algorithm.as_str(),
                    v.trusted_comment
                );
                return Ok(Checked(
                    entry(
                        Tool::Minisign,
                        v.key_id.to_string(),
                        SignatureStatus::Counted,
                        reason,
                    ),
                    v.bytes,
                ));
            }
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) => failed(Tool::Minisign, s.key_id(), e),
        None => Ok(malformed(Tool::Minisign, &SigError::BadSignature)),
    }
}

fn check_signify(
    file: &Path,
    s: &signify::Signature,
    keys: &[(&Path, PublicKey)],
) -> Result<Checked, DetachedError> {
    let found = match matching(Tool::Signify, s.key_id(), keys) {
        Ok(f) => f,
        Err(unknown) => return Ok(unknown),
    };
    let mut last = None;
    for key in found {
        match signify::verify_file(s, key, file, signify::DEFAULT_MAX_RAW_MESSAGE) {
            Ok(v) => {
                return Ok(Checked(
                    entry(
                        Tool::Signify,
                        v.key_id.to_string(),
                        SignatureStatus::Counted,
                        "verified".into(),
                    ),
                    v.bytes,
                ));
            }
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) => failed(Tool::Signify, s.key_id(), e),
        None => Ok(malformed(Tool::Signify, &SigError::BadSignature)),
    }
}

impl crate::Classified for DetachedError {
    fn class(&self) -> crate::ErrorClass {
        DetachedError::class(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test keys and signatures over "hello\n" made by minisign 0.11 and signify-openbsd 31.
    const MINI_PUB: &str = "untrusted comment: minisign public key 9CC2D6835FC0BB05\n\
        RWQFu8Bfg9bCnB6odcbk/jVa5QUlMwNEGS+gyAt56eeF/fZQlZdjyzut\n";
    const MINI_SIG: &str = "untrusted comment: signature from minisign secret key\n\
        RUQFu8Bfg9bCnD3o8c573K1ks9sqKHOmbmqQCncuUNnNP6J/dwRcfWi2ogfmz2MsJvc+UZA5h41wojQQtSR9sZBb6a8EAjvoWwc=\n\
        trusted comment: timestamp:1795676574\tfile:f\thashed\n\
        K0Sgyp6WdJH9QZ+dU5UzuIpi/uh0omSGSi15EW3hSI1mV0vZ8JK2MugZy/i4bOTrYAY8mtZHhHaQGgoEo25ECA==\n";
    const SIGNIFY_PUB: &str = "untrusted comment: signify public key\n\
        RWQvLn2Q3KFPgisPvkdxV2jL4q7GZygoCdTMTkVGq2iTIm0jpas9Ulh1\n";
    const SIGNIFY_SIG: &str = "untrusted comment: verify with s.pub\n\
        RWQvLn2Q3KFPggjs5uXDIc8Z98VO3SHGJnUgGI/oTHHfXboLEZhNL/9IoVtmw/gABrxeQNWC2d0QruNJa4o9V106XoXNPc//QQw=\n";

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new(content: &[u8]) -> Files {
            let dir = tempfile::tempdir().unwrap();
            for (name, text) in [
                ("mini.pub", MINI_PUB),
                ("f.minisig", MINI_SIG),
                ("signify.pub", SIGNIFY_PUB),
                ("f.sig", SIGNIFY_SIG),
            ] {
                std::fs::write(dir.path().join(name), text).unwrap();
            }
            std::fs::write(dir.path().join("f"), content).unwrap();
            Files { dir }
        }
        fn p(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }
    }

    #[test]
    fn accepts_either_format_with_its_key_among_others() {
        let f = Files::new(b"hello\n");
        let keys = [f.p("signify.pub"), f.p("mini.pub")];
        let r = verify_detached(&f.p("f"), &f.p("f.minisig"), &keys).unwrap();
        assert_eq!(r.verdict, Verdict::Accept, "{:?}", r.reasons);
        assert_eq!(r.signatures[0].format, "minisign");
        assert_eq!(r.signatures[0].key_id, "9CC2D6835FC0BB05");
        assert!(r.signatures[0].reason.contains("file:f"));
        let r = verify_detached(&f.p("f"), &f.p("f.sig"), &keys).unwrap();
        assert_eq!(r.verdict, Verdict::Accept, "{:?}", r.reasons);
        assert_eq!(r.signatures[0].format, "signify");
        assert_eq!(r.signatures[0].status, SignatureStatus::Counted);
    }

    #[test]
    fn rejects_changed_file_and_unknown_key() {
        let f = Files::new(b"hellO\n");
        let r = verify_detached(&f.p("f"), &f.p("f.minisig"), &[f.p("mini.pub")]).unwrap();
        assert_eq!(r.verdict, Verdict::Reject);
        assert_eq!(r.signatures[0].status, SignatureStatus::Invalid);
        let r = verify_detached(&f.p("f"), &f.p("f.sig"), &[f.p("signify.pub")]).unwrap();
        assert_eq!(r.verdict, Verdict::Reject);
        let f = Files::new(b"hello\n");
        let r = verify_detached(&f.p("f"), &f.p("f.minisig"), &[f.p("signify.pub")]).unwrap();
        assert_eq!(r.verdict, Verdict::Reject);
        assert_eq!(r.signatures[0].status, SignatureStatus::Unknown);
        assert!(r.reasons[0].contains("9CC2D6835FC0BB05"), "{:?}", r.reasons);
    }

    #[test]
    fn garbage_signature_rejects_and_bad_key_is_config() {
        let f = Files::new(b"hello\n");
        std::fs::write(f.p("junk.sig"), "not a signature\n").unwrap();
        let r = verify_detached(&f.p("f"), &f.p("junk.sig"), &[f.p("mini.pub")]).unwrap();
        assert_eq!(r.verdict, Verdict::Reject);
        std::fs::write(f.p("bad.pub"), "untrusted comment: x\nAAAA\n").unwrap();
        let e = verify_detached(&f.p("f"), &f.p("f.minisig"), &[f.p("bad.pub")]).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Config);
        let e = verify_detached(&f.p("f"), &f.p("f.minisig"), &[f.p("missing.pub")]).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Config);
        let e = verify_detached(&f.p("f"), &f.p("mini.pub"), &[f.p("mini.pub")]).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Config);
        let e = verify_detached(&f.p("f"), &f.p("f.minisig"), &[]).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Config);
        let e = verify_detached(&f.p("gone"), &f.p("f.minisig"), &[f.p("mini.pub")]).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Operational);
    }
}
