//! Format readers: one module per archive or compression format airgate opens (ar and
//! Debian packages, RPM, cpio, xz/lzma, lz4) and the table of those it refuses. A reader
//! takes the file's bytes as they stream past and yields members and their bytes to a
//! [`Members`] sink; it knows nothing of rules, findings or verdicts. The engine's side
//! (`inspect::nested::members`) turns each member into a nested scan and each [`Problem`]
//! into a finding.
//!
//! Every reader has explicit limits (sizes, counts) and a fuzz target (`fuzz/`).

pub mod ar;
pub mod cpio;
pub mod fuzz;
pub mod lz4;
pub mod refuse;
pub mod rpm;
pub mod xz;

/// Why a reader stopped reading, or what it could not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The structure is broken: what follows cannot be found, so it is not read.
    #[error("{0}")]
    Corrupt(String),
    /// The file ends inside a structure (a header or a member).
    #[error("{0}")]
    Truncated(String),
    /// A reader limit (header size, entry count, name length) was reached.
    #[error("{0}")]
    Limit(String),
    /// Valid, but a variant this reader does not decode.
    #[error("{0}")]
    Unsupported(String),
}

/// Where a reader puts what it finds.
pub trait Members {
    /// A member begins: its name as stored and its size when known. Returns whether its
    /// bytes are wanted: if not, the reader walks past them and calls neither `data` nor
    /// `end` for it.
    fn begin(&mut self, name: &[u8], size: Option<u64>) -> bool;
    /// The next bytes of the member begun last.
    fn data(&mut self, bytes: &[u8]);
    /// The member begun last is complete (or cut short: a [`Problem`] says so first).
    fn end(&mut self);
    /// Something could not be read.
    fn problem(&mut self, p: Problem);
}

/// A push-mode reader of one container format.
pub trait Reader: Send {
    /// The format's short name (`ar`, `deb`, `rpm`, `cpio`), for reports.
    fn format(&self) -> &'static str;
    /// The next bytes of the file.
    fn push(&mut self, data: &[u8], out: &mut dyn Members);
    /// The file ended: close an open member, report a truncation.
    fn end(&mut self, out: &mut dyn Members);
}

/// A sink that keeps every member whole, for tests and fuzzing.
#[derive(Debug, Default)]
pub struct Collect {
    pub members: Vec<(String, Option<u64>, Vec<u8>)>,
    pub problems: Vec<Problem>,
    /// Most bytes kept per member (the rest are counted but dropped).
    pub keep: usize,
    open: bool,
}

impl Collect {
    /// A collector keeping up to `keep` bytes of each member.
    pub fn new(keep: usize) -> Collect {
        Collect {
            keep,
            ..Collect::default()
        }
    }

    /// Feed `data` to `reader` in chunks of `step` bytes, then end it.
    #[cfg(test)]
    pub fn run(reader: &mut dyn Reader, data: &[u8], step: usize) -> Collect {
        let mut c = Collect::new(1 << 20);
        for chunk in data.chunks(step.max(1)) {
            reader.push(chunk, &mut c);
        }
        reader.end(&mut c);
        c
    }

    /// The kept bytes of the member called `name`.
    #[cfg(test)]
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.members
            .iter()
            .find(|m| m.0 == name)
            .map(|m| m.2.as_slice())
    }
}

impl Members for Collect {
    fn begin(&mut self, name: &[u8], size: Option<u64>) -> bool {
        assert!(!self.open, "a member begins before the last one ended");
        self.open = true;
        self.members
            .push((String::from_utf8_lossy(name).into_owned(), size, Vec::new()));
        true
    }
    fn data(&mut self, bytes: &[u8]) {
        assert!(self.open, "member data outside a member");
        if let Some(m) = self.members.last_mut() {
            let room = self.keep.saturating_sub(m.2.len());
            m.2.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }
    fn end(&mut self) {
        assert!(self.open, "a member ends that did not begin");
        self.open = false;
    }
    fn problem(&mut self, p: Problem) {
        self.problems.push(p);
    }
}

/// Bytes gathered until a fixed-size structure is complete.
#[derive(Debug, Default)]
pub(crate) struct Gather {
    buf: Vec<u8>,
}

impl Gather {
    /// Take from `data` until `want` bytes are held; `Some(held)` once they are (the
    /// buffer is then emptied for the next structure).
    pub(crate) fn fill(&mut self, data: &mut &[u8], want: usize) -> Option<Vec<u8>> {
        let take = want.saturating_sub(self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..take]);
        *data = &data[take..];
        (self.buf.len() >= want).then(|| std::mem::take(&mut self.buf))
    }

    /// Bytes held so far.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }
}
