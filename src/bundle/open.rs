//! Opening a bundle: sniff the compression, stream-decode it with limits, and read the
//! envelope entry that must come first. The returned reader is positioned at the payload.

use super::ENVELOPE_PATH;
use crate::container::tar::{EntryKind, TarError, TarLimits, TarReader};
use crate::container::zstd::{self as z, Compression};
use crate::policy::Limits;
use crate::trust::dsse::{DsseError, Envelope};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// The byte stream a bundle's tar is read from.
pub type Source = Box<dyn Read + Send>;

/// Why a bundle could not be opened. `Io` on the bundle file itself is operational; the rest
/// reject the bundle.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot read bundle {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("not a bundle: neither zstd nor tar data")]
    NotABundle,
    #[error("{0}")]
    Tar(#[from] TarError),
    #[error("the first entry must be {ENVELOPE_PATH}, found {0:?}")]
    NoEnvelope(String),
    #[error("signed envelope: {0}")]
    Envelope(#[from] DsseError),
}

/// An opened bundle: its envelope (raw and parsed) and the tar reader, positioned after it.
pub struct Opened {
    pub envelope: Envelope,
    pub envelope_raw: Vec<u8>,
    pub compression: Compression,
    pub tar: TarReader<Source>,
}

/// Open `path` with `limits`. `hasher_tap` receives every raw byte of the file as it is read
/// (for the bundle sha256, computed in the same pass).
pub fn open(
    path: &Path,
    limits: &Limits,
    tap: Option<Box<dyn FnMut(&[u8]) + Send>>,
) -> Result<Opened, OpenError> {
    let io_err = |source| OpenError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let mut raw = BufReader::with_capacity(1 << 20, Tap { inner: file, tap });
    let head = {
        use std::io::BufRead;
        raw.fill_buf().map_err(io_err)?.to_vec()
    };
    let compression = z::sniff(&head).ok_or(OpenError::NotABundle)?;
    let source: Source = match compression {
        Compression::Zstd => Box::new(
            z::decoder(
                raw,
                limits
                    .max_total_bytes
                    .saturating_add(limits.max_envelope_bytes + (1 << 20)),
                limits.max_ratio,
            )
            .map_err(io_err)?,
        ),
        Compression::None => Box::new(raw),
    };
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
    })
}

/// Passes every byte read to a callback.
struct Tap<R> {
    inner: R,
    tap: Option<Box<dyn FnMut(&[u8]) + Send>>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(t) = self.tap.as_mut() {
            t(&buf[..n]);
        }
        Ok(n)
    }
}
