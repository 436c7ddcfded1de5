//! Opening a bundle: sniff the compression, start the parallel decoding stream (which also
//! hashes the raw file), and read the envelope entry that must come first. The returned
//! reader is positioned at the payload.

use super::ENVELOPE_PATH;
use crate::bundle::dsse::{DsseError, Envelope};
use crate::container::stream::{self, Decoded, RawDigest, StreamLimits};
use crate::container::tar::{EntryKind, TarError, TarLimits, TarReader};
use crate::container::zstd::{self as z, Compression};
use crate::policy::Limits;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// Why a bundle could not be opened. `Io` on the bundle file itself is operational; the rest
/// reject the bundle.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The bundle file could not be opened or read (exit class operational).
    #[error("cannot read bundle {path}: {source}")]
    Io {
        /// The bundle's path as given.
        path: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// The first bytes are neither a zstd frame nor a tar header.
    #[error("not a bundle: neither zstd nor tar data")]
    NotABundle,
    /// The tar stream broke a rule of the strict reader (names, types, sizes, limits).
    #[error("{0}")]
    Tar(#[from] TarError),
    /// The first entry is not the envelope; the name found instead.
    #[error("the first entry must be {ENVELOPE_PATH}, found {0:?}")]
    NoEnvelope(String),
    /// The envelope entry is there but is not a valid DSSE envelope.
    #[error("signed envelope: {0}")]
    Envelope(#[from] DsseError),
}

/// An opened bundle: its envelope (raw and parsed) and the tar reader, positioned after it.
pub struct Opened {
    /// The parsed envelope: payload and signatures, not yet checked against any key.
    pub envelope: Envelope,
    /// The envelope entry's bytes exactly as stored (what the audit log hashes).
    pub envelope_raw: Vec<u8>,
    /// Whether the file is zstd-compressed or a plain tar.
    pub compression: Compression,
    /// The payload entries, read in order after the envelope, through the decoding limits.
    pub tar: TarReader<Decoded>,
    /// The bundle file's sha256, computed from the raw bytes as they are read. Drop `tar`
    /// first, then call [`RawDigest::finish`].
    pub digest: RawDigest,
}

/// Open `path` with `limits`: decoding (zstd frames in parallel) and hashing of the raw file
/// start at once, and the envelope entry is read and parsed.
pub fn open(path: &Path, limits: &Limits) -> Result<Opened, OpenError> {
    let io_err = |source| OpenError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let mut head = Vec::with_capacity(512);
    (&file).take(512).read_to_end(&mut head).map_err(io_err)?;
    let compression = z::sniff(&head).ok_or(OpenError::NotABundle)?;
    let file = File::open(path).map_err(io_err)?;
    let (source, digest) = stream::start(
        BufReader::with_capacity(1 << 20, file),
        compression == Compression::Zstd,
        StreamLimits {
            max_output: limits
                .max_total_bytes
                .saturating_add(limits.max_envelope_bytes)
                .saturating_add(limits.max_entries.saturating_mul(1536)),
            max_ratio: limits.max_ratio,
            // frames decoded ahead: enough to keep every core busy, bounded for memory
            ahead: rayon::current_num_threads().clamp(2, 8),
        },
    );
    let mut tar = TarReader::new(source, TarLimits::from(limits));
    let first = tar
        .next_entry()?
        .ok_or_else(|| OpenError::NoEnvelope("(empty archive)".into()))?;
    if first.path != ENVELOPE_PATH || first.kind != EntryKind::File {
        return Err(OpenError::NoEnvelope(first.path));
    }
    if first.size > limits.max_envelope_bytes {
        return Err(DsseError::TooLarge(
            usize::try_from(first.size).unwrap_or(usize::MAX),
            usize::try_from(limits.max_envelope_bytes).unwrap_or(usize::MAX),
        )
        .into());
    }
    let mut envelope_raw = vec![0u8; first.size as usize];
    let mut got = 0;
    while got < envelope_raw.len() {
        let n = tar.read_data(&mut envelope_raw[got..])?;
        got += n;
    }
    let envelope = Envelope::parse(
        &envelope_raw,
        usize::try_from(limits.max_envelope_bytes).unwrap_or(usize::MAX),
    )?;
    Ok(Opened {
        envelope,
        envelope_raw,
        compression,
        tar,
        digest,
    })
}

impl crate::Classified for OpenError {
    /// The bundle file could not be read: operational; anything else is the input's fault.
    fn class(&self) -> crate::ErrorClass {
        match self {
            OpenError::Io { .. } => crate::ErrorClass::Operational,
            _ => crate::ErrorClass::Rejected,
        }
    }
}
