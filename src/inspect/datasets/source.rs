//! Random access to a dataset file: the file itself when `scan` reads one from disk, or a
//! spool that holds a streamed file (in memory up to [`IN_MEMORY`] bytes, then in an
//! anonymous temporary file, never past the policy's `max_spool_bytes`), as the zip layer
//! does, because a Parquet file's index is at its end.

use std::io::Write;
use std::os::unix::fs::FileExt;

/// Bytes held in memory before spilling to a temporary file.
pub const IN_MEMORY: usize = 16 << 20;

/// Bytes that can be read at any offset, from several threads at once.
pub trait Source: Sync {
    /// Length in bytes.
    fn len(&self) -> u64;
    /// Fill `buf` from `offset`; an error if the source ends first.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()>;
    /// Whether the source holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn past_end() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "read past the end")
}

impl Source for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| past_end())?;
        let end = start.checked_add(buf.len()).ok_or_else(past_end)?;
        buf.copy_from_slice(self.get(start..end).ok_or_else(past_end)?);
        Ok(())
    }
}

/// A file of known length (not expected to change while it is read).
pub struct FileSource<'a> {
    /// The open file.
    pub file: &'a std::fs::File,
    /// Its length in bytes; reads past it fail.
    pub len: u64,
}

impl Source for FileSource<'_> {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        if offset
            .checked_add(buf.len() as u64)
            .is_none_or(|e| e > self.len)
        {
            return Err(past_end());
        }
        self.file.read_exact_at(buf, offset)
    }
}

/// Why a spool stopped taking bytes.
#[derive(Debug)]
pub enum SpoolError {
    /// More than the limit was offered.
    Over(u64),
    /// The temporary file could not be written.
    Io(std::io::Error),
}

/// A streamed file held for random access.
pub enum Spool {
    Mem(Vec<u8>),
    File(std::fs::File, u64),
    Stopped,
}

impl Default for Spool {
    fn default() -> Self {
        Spool::Mem(Vec::new())
    }
}

impl Spool {
    /// Append `data`; past `max` bytes in all, or on a write error, the spool stops (the
    /// error is returned once, later calls are no-ops).
    pub fn push(&mut self, data: &[u8], max: u64) -> Result<(), SpoolError> {
        let held = self.len();
        if matches!(self, Spool::Stopped) {
            return Ok(());
        }
        if held + data.len() as u64 > max {
            *self = Spool::Stopped;
            return Err(SpoolError::Over(max));
        }
        let result = match self {
            Spool::Mem(v) if v.len() + data.len() <= IN_MEMORY => {
                v.extend_from_slice(data);
                Ok(())
            }
            Spool::Mem(v) => tempfile::tempfile()
                .and_then(|mut f| {
                    f.write_all(v)?;
                    f.write_all(data)?;
                    Ok(f)
                })
                .map(|f| *self = Spool::File(f, held + data.len() as u64)),
            Spool::File(f, n) => f.write_all(data).map(|()| *n += data.len() as u64),
            Spool::Stopped => Ok(()),
        };
        result.map_err(|e| {
            *self = Spool::Stopped;
            SpoolError::Io(e)
        })
    }

    /// Bytes held.
    pub fn len(&self) -> u64 {
        match self {
            Spool::Mem(v) => v.len() as u64,
            Spool::File(_, n) => *n,
            Spool::Stopped => 0,
        }
    }

    /// Run `f` over the held bytes (`None` if the spool stopped).
    pub fn with_source<T>(&self, f: impl FnOnce(&dyn Source) -> T) -> Option<T> {
        match self {
            Spool::Mem(v) => Some(f(&v.as_slice())),
            Spool::File(file, n) => Some(f(&FileSource { file, len: *n })),
            Spool::Stopped => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_to_a_file_and_reads_back_at_any_offset() {
        let mut s = Spool::default();
        let chunk: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        for _ in 0..20 {
            s.push(&chunk, 1 << 30).expect("push");
        }
        assert!(matches!(s, Spool::File(..)));
        assert_eq!(s.len(), 20 << 20);
        let got = s
            .with_source(|src| {
                let mut b = [0u8; 8];
                src.read_at((17 << 20) + 5, &mut b).map(|()| b)
            })
            .expect("held")
            .expect("read");
        assert_eq!(got.to_vec(), chunk[5..13].to_vec());
        let past = s.with_source(|src| src.read_at(s.len() - 2, &mut [0u8; 4]).is_err());
        assert_eq!(past, Some(true));
    }

    #[test]
    fn stops_past_the_limit() {
        let mut s = Spool::default();
        s.push(&[1; 10], 15).expect("fits");
        assert!(matches!(s.push(&[1; 10], 15), Err(SpoolError::Over(15))));
        assert!(s.push(&[1; 1], 15).is_ok(), "later pushes are no-ops");
        assert!(s.with_source(|_| ()).is_none());
    }
}
