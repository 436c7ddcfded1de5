//! `sign`: add one signature (or attach one Sigstore bundle) to a bundle's envelope. Only the
//! envelope entry (the first zstd frame, or the first tar entry) is rewritten; every payload
//! byte is copied untouched, never re-hashed or recompressed.

use super::keys::{PrivateKey, PublicKey};
use crate::bundle::dsse::{
    encode_sig, Envelope, EnvelopeSignature, MAX_SIGNATURES, MAX_SIGSTORE_BUNDLES,
};
use crate::bundle::{envelope_entry, ENVELOPE_PATH};
use crate::container::tar::{EntryKind, TarLimits, TarReader};
use crate::container::zstd::{self as z, Compression};
use crate::policy::Limits;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// What signing did.
#[derive(Debug, PartialEq, Eq)]
pub enum SignOutcome {
    /// A signature by this key id was added; the envelope now has `total` signatures.
    Added {
        /// Hex id of the signing key.
        key_id: String,
        /// Signatures in the envelope after adding.
        total: usize,
    },
    /// The key had already signed; nothing changed.
    AlreadySigned {
        /// Hex id of the signing key.
        key_id: String,
    },
}

/// Why signing failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// Reading or rewriting the bundle failed; the bundle is left as it was.
    #[error("{path}: {source}")]
    Io {
        /// The bundle file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file is not a bundle airgate can sign (path, then why).
    #[error("{0} is not a valid bundle: {1}")]
    Invalid(PathBuf, String),
    /// The Sigstore bundle does not parse, or does not cover this bundle's statement.
    #[error("the Sigstore bundle cannot be attached: {0}")]
    Sigstore(String),
    /// The detached signature does not verify over the statement with the given key.
    #[error("the signature cannot be attached: {0}")]
    Signature(String),
}

/// A bundle's envelope, as read for rewriting: where its region ends and how it is stored.
struct Held {
    env: Envelope,
    region_len: u64,
    compression: Compression,
}

/// Read the envelope of the bundle at `path` (the first zstd frame or tar entry only).
fn read_envelope(path: &Path) -> Result<Held, SignError> {
    let io_err = |source| SignError::Io {
        path: path.to_path_buf(),
        source,
    };
    let invalid = |m: String| SignError::Invalid(path.to_path_buf(), m);
    let limits = Limits::default();
    let cap = usize::try_from(limits.max_envelope_bytes).unwrap_or(usize::MAX) + (1 << 20);
    let mut f = File::open(path).map_err(io_err)?;
    let mut head = Vec::new();
    (&mut f)
        .take(cap as u64)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    let compression = z::sniff(&head).ok_or_else(|| invalid("neither zstd nor tar data".into()))?;
    // The first region: the bytes holding exactly the envelope entry.
    let (region_len, entry_bytes) = match compression {
        Compression::Zstd => {
            let n =
                z::frame_len(&head, cap).map_err(|e| invalid(format!("first zstd frame: {e}")))?;
            let mut out = Vec::new();
            z::decoder(&head[..n], cap as u64, u64::MAX)
                .and_then(|mut d| d.read_to_end(&mut out))
                .map_err(|e| invalid(format!("first zstd frame: {e}")))?;
            (n, out)
        }
        Compression::None => (0, head.clone()),
    };
    let mut tar = TarReader::new(&entry_bytes[..], TarLimits::from(&limits));
    let first = tar
        .next_entry()
        .map_err(|e| invalid(e.to_string()))?
        .ok_or_else(|| invalid("empty archive".into()))?;
    if first.path != ENVELOPE_PATH || first.kind != EntryKind::File {
        return Err(invalid(format!(
            "the first entry is {:?}, not {ENVELOPE_PATH}",
            first.path
        )));
    }
    let mut json = vec![0u8; usize::try_from(first.size).unwrap_or(usize::MAX).min(cap)];
    let mut got = 0;
    while got < json.len() {
        let k = tar
            .read_data(&mut json[got..])
            .map_err(|e| invalid(e.to_string()))?;
        got += k;
    }
    let entry_len = 512 + first.size.div_ceil(512) * 512;
    let region_len = match compression {
        Compression::Zstd => {
            if entry_bytes.len() as u64 != entry_len {
                return Err(invalid(
                    "the first zstd frame must hold exactly the envelope entry".into(),
                ));
            }
            region_len as u64
        }
        Compression::None => entry_len,
    };
    let env = Envelope::parse(&json, cap).map_err(|e| invalid(e.to_string()))?;
    Ok(Held {
        env,
        region_len,
        compression,
    })
}

/// Write `held.env` back over the bundle's first region, copying every later byte.
fn write_envelope(path: &Path, held: &Held) -> Result<(), SignError> {
    let io_err = |source| SignError::Io {
        path: path.to_path_buf(),
        source,
    };
    let new_json = serde_json::to_vec(&held.env)
        .map_err(|e| SignError::Invalid(path.to_path_buf(), e.to_string()))?;
    let new_entry = envelope_entry(&new_json);
    let new_region = match held.compression {
        Compression::Zstd => zstd::stream::encode_all(&new_entry[..], 19).map_err(io_err)?,
        Compression::None => new_entry,
    };
    replace_prefix(path, held.region_len, &new_region).map_err(io_err)
}

/// Add a signature by `key` to the bundle at `path`, in place (atomically replaced).
pub fn sign(path: &Path, key: &PrivateKey) -> Result<SignOutcome, SignError> {
    add_signature(path, &key.public(), |pae| Ok(key.sign(pae).to_vec()))
}

/// Attach a signature made elsewhere (e.g. by `openssl pkeyutl -sign -rawin` over the bytes
/// `airgate inspect --signed-bytes` prints) by the key `public`. It is checked first: a
/// signature that does not verify over the bundle's signed bytes is refused.
pub fn attach_signature(
    path: &Path,
    public: &PublicKey,
    signature: &[u8],
) -> Result<SignOutcome, SignError> {
    add_signature(path, public, |pae| {
        if public.verify(pae, signature) {
            Ok(signature.to_vec())
        } else {
            Err(SignError::Signature(format!(
                "it is not a valid Ed25519 signature by key {} over the bundle's signed bytes \
                 (sign exactly what `airgate inspect --signed-bytes` prints)",
                public.id()
            )))
        }
    })
}

fn add_signature(
    path: &Path,
    public: &PublicKey,
    make: impl FnOnce(&[u8]) -> Result<Vec<u8>, SignError>,
) -> Result<SignOutcome, SignError> {
    let invalid = |m: String| SignError::Invalid(path.to_path_buf(), m);
    let mut held = read_envelope(path)?;
    let env = &mut held.env;
    let pae = env.signed_bytes().map_err(|e| invalid(e.to_string()))?;
    let key_id = public.id().to_string();
    if env.signatures.iter().any(|s| {
        s.keyid == key_id
            && crate::trust::dsse::decode_sig(&s.sig).is_some_and(|sig| public.verify(&pae, &sig))
    }) {
        return Ok(SignOutcome::AlreadySigned { key_id });
    }
    if env.signatures.len() >= MAX_SIGNATURES {
        return Err(invalid(format!("already {MAX_SIGNATURES} signatures")));
    }
    let sig = make(&pae)?;
    env.signatures.push(EnvelopeSignature {
        keyid: key_id.clone(),
        sig: encode_sig(&sig),
    });
    let total = env.signatures.len();
    write_envelope(path, &held)?;
    Ok(SignOutcome::Added { key_id, total })
}

/// What attaching a Sigstore bundle did.
#[derive(Debug, PartialEq, Eq)]
pub enum AttachOutcome {
    /// Attached; the envelope now carries `total` Sigstore bundles.
    Attached {
        /// Sigstore bundles in the envelope after attaching.
        total: usize,
    },
    /// This very Sigstore bundle was already attached; nothing changed.
    AlreadyAttached,
}

/// Attach a Sigstore bundle (JSON, e.g. from `cosign sign-blob --bundle` over the statement
/// that `airgate inspect --statement` prints) to the bundle at `path`, in place. Only its
/// shape is checked here (a message signature whose digest is the statement's SHA-256):
/// whether it counts is decided at verification, against the verifier's trusted root and
/// policy.
pub fn attach_sigstore(path: &Path, sigstore_json: &[u8]) -> Result<AttachOutcome, SignError> {
    let refuse = |m: String| SignError::Sigstore(m);
    let bundle =
        crate::trust::sigstore::parse_bundle(sigstore_json).map_err(|e| refuse(e.to_string()))?;
    let value: serde_json::Value =
        serde_json::from_slice(sigstore_json).map_err(|e| refuse(e.to_string()))?;
    let mut held = read_envelope(path)?;
    let statement = held
        .env
        .payload_bytes()
        .map_err(|e| SignError::Invalid(path.to_path_buf(), e.to_string()))?;
    crate::trust::sigstore::covers(&bundle, &statement).map_err(refuse)?;
    let env = &mut held.env;
    if env.sigstore_bundles.contains(&value) {
        return Ok(AttachOutcome::AlreadyAttached);
    }
    if env.sigstore_bundles.len() >= MAX_SIGSTORE_BUNDLES {
        return Err(refuse(format!(
            "the bundle already carries {MAX_SIGSTORE_BUNDLES} Sigstore bundles"
        )));
    }
    env.sigstore_bundles.push(value);
    let total = env.sigstore_bundles.len();
    write_envelope(path, &held)?;
    Ok(AttachOutcome::Attached { total })
}

/// Atomically replace the first `old_len` bytes of `path` with `new_prefix`, copying the rest.
fn replace_prefix(path: &Path, old_len: u64, new_prefix: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mode = std::fs::metadata(path)?.permissions().mode();
    let mut tmp = tempfile::Builder::new()
        .prefix(&crate::util::tmp::prefix("sign"))
        .tempfile_in(dir)
        .map_err(crate::util::tmp::plain)?;
    {
        let mut src = File::open(path)?;
        src.seek(SeekFrom::Start(old_len))?;
        let mut w = io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        w.write_all(new_prefix)?;
        io::copy(&mut src, &mut w)?;
        w.flush()?;
    }
    tmp.as_file().sync_all()?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode & 0o777))?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = File::open(dir) {
        d.sync_all()?;
    }
    Ok(())
}

impl crate::Classified for SignError {
    /// Reading or writing failed: operational; a bundle, signature or Sigstore bundle that
    /// is refused: rejected.
    fn class(&self) -> crate::ErrorClass {
        match self {
            SignError::Io { .. } => crate::ErrorClass::Operational,
            _ => crate::ErrorClass::Rejected,
        }
    }
}
