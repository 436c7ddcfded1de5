//! Members of containers (zip entries) are inspected by a nested engine running the model
//! inspectors, with paths `outer!member` and the depth one deeper.

use crate::inspect::{Engine, FileScan, Finding, ScanContext};

/// One member in flight.
pub struct MemberScan {
    scan: FileScan,
}

impl MemberScan {
    /// Start inspecting a member called `path` (already joined with `!`).
    pub fn new(path: &str, size: Option<u64>, depth: u32, ctx: ScanContext) -> MemberScan {
        let engine = Engine::new(super::inspectors(), ctx);
        MemberScan {
            scan: engine.begin_file(path, size, depth),
        }
    }

    /// Feed the member's next decompressed bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.scan.update(data);
    }

    /// End of the member.
    pub fn finish(self, out: &mut Vec<Finding>) {
        out.extend(self.scan.finish());
    }
}
