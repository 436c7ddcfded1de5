//! The engine's side of a format reader (`inspect::formats`): each member the reader yields
//! becomes a nested scan (path `outer!member`), each problem a finding. This is the one
//! place where ar, cpio and RPM meet the engine.

use super::{clean_name, Layer, Nest};
use crate::inspect::engine::FileScan;
use crate::inspect::formats::{Members, Problem, Reader};
use crate::inspect::{Category, Finding, Severity};

/// A format reader behind the [`Layer`] trait.
pub struct ReaderLayer {
    reader: Box<dyn Reader>,
    sink: NestSink,
}

struct NestSink {
    nest: Nest,
    child: Option<FileScan>,
    found: Vec<Finding>,
    /// Past the member limit: nothing more is opened.
    full: bool,
}

impl ReaderLayer {
    pub fn new(nest: Nest, reader: Box<dyn Reader>) -> ReaderLayer {
        ReaderLayer {
            reader,
            sink: NestSink {
                nest,
                child: None,
                found: Vec::new(),
                full: false,
            },
        }
    }
}

impl Members for NestSink {
    fn begin(&mut self, name: &[u8], size: Option<u64>) -> bool {
        if self.full {
            return false;
        }
        let name = clean_name(name);
        if let Err(f) = self.nest.count_member() {
            self.full = true;
            self.found.push(*f);
            return false;
        }
        match self.nest.child(&name, size) {
            Ok(c) => {
                self.child = Some(c);
                true
            }
            Err(f) => {
                self.found.push(*f);
                false
            }
        }
    }

    fn data(&mut self, bytes: &[u8]) {
        if let Some(c) = self.child.as_mut() {
            c.update(bytes);
        }
    }

    fn end(&mut self) {
        if let Some(c) = self.child.take() {
            self.nest.keep(c.finish(), &mut self.found);
        }
    }

    fn problem(&mut self, p: Problem) {
        let f = match &p {
            Problem::Corrupt(m) | Problem::Truncated(m) => self.nest.finding(
                "archive.corrupt",
                Category::Archive,
                Severity::High,
                format!("{m}: what follows is not read, so the file is refused"),
            ),
            Problem::Limit(m) => self.nest.cut("the reader's limits", m.clone()),
            Problem::Unsupported(m) => self.nest.cut("a variant airgate does not read", m.clone()),
        };
        self.found.push(f);
    }
}

impl Layer for ReaderLayer {
    fn format(&self) -> &'static str {
        self.reader.format()
    }

    fn update(&mut self, data: &[u8], _out: &mut Vec<Finding>) {
        self.reader.push(data, &mut self.sink);
    }

    fn finish(mut self: Box<Self>, out: &mut Vec<Finding>) {
        self.reader.end(&mut self.sink);
        self.sink.end();
        out.append(&mut self.sink.found);
    }
}
