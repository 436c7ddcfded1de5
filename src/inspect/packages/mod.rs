//! Code that package managers run on install or at start-up, inspected as code: Python
//! `.pth` files (`pth`) and npm lifecycle scripts in `package.json` (`npm`). Maintainer
//! scripts of `.deb` packages and RPM scriptlets are members of their packages
//! (`inspect::formats`) and go through the text rules like any script.

pub mod npm;
pub mod pth;

use super::Inspector;

/// Every package-code inspector.
pub fn inspectors() -> Vec<Box<dyn Inspector>> {
    vec![Box::new(pth::PthInspector), Box::new(npm::NpmInspector)]
}

/// A whole small file gathered for an inspector that needs all of it, up to `max` bytes.
pub(crate) struct Held {
    pub bytes: Vec<u8>,
    pub max: usize,
    pub over: bool,
}

impl Held {
    pub(crate) fn new(max: usize) -> Held {
        Held {
            bytes: Vec::new(),
            max,
            over: false,
        }
    }

    pub(crate) fn push(&mut self, data: &[u8]) -> super::Flow {
        if self.bytes.len() + data.len() > self.max {
            self.over = true;
            self.bytes.clear();
            return super::Flow::Done;
        }
        self.bytes.extend_from_slice(data);
        super::Flow::More
    }
}
