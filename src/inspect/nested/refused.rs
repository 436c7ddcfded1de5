//! Files in a format airgate recognises but does not open (7z, RAR, squashfs, ISO 9660,
//! CAB, MSI/OLE, XAR, ...: `formats::refuse`) get `archive.uninspectable`, at the severity
//! the policy gives that format (high by default). The raw bytes still go through the text
//! rules like any file's; the finding says the members were not read.

use super::refusal;
use crate::inspect::formats::refuse::{self, Refused, VOLUME_OFFSET};
use crate::inspect::{FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The inspector.
pub struct RefusedInspector {
    levels: Arc<BTreeMap<String, Severity>>,
}

impl RefusedInspector {
    /// `levels`: the policy's severities per refused format (`[inspect.uninspectable]`).
    pub fn new(levels: BTreeMap<String, Severity>) -> RefusedInspector {
        RefusedInspector {
            levels: Arc::new(levels),
        }
    }
}

struct Flag {
    levels: Arc<BTreeMap<String, Severity>>,
    path: String,
    found: Option<Refused>,
    /// Bytes of the volume identifier gathered at [`VOLUME_OFFSET`].
    volume: Vec<u8>,
}

impl Inspector for RefusedInspector {
    fn name(&self) -> &'static str {
        "refused"
    }

    fn open(
        &self,
        meta: &FileMeta<'_>,
        head: &[u8],
        _: &ScanContext,
    ) -> Option<Box<dyn FileInspector>> {
        let found = refuse::sniff(head);
        let may_be_volume = meta.size.is_none_or(|s| s >= VOLUME_OFFSET + 5);
        (found.is_some() || may_be_volume).then(|| {
            Box::new(Flag {
                levels: self.levels.clone(),
                path: meta.path.to_string(),
                found,
                volume: Vec::new(),
            }) as Box<dyn FileInspector>
        })
    }
}

impl FileInspector for Flag {
    fn update(&mut self, offset: u64, data: &[u8], _: &mut Vec<Finding>) -> Flow {
        if self.found.is_some() {
            return Flow::Done;
        }
        let end = offset + data.len() as u64;
        let want = VOLUME_OFFSET + self.volume.len() as u64;
        if end <= want {
            return Flow::More;
        }
        if offset > want {
            return Flow::Done; // skipped past it
        }
        let from = (want - offset) as usize;
        let take = (5 - self.volume.len()).min(data.len() - from);
        self.volume.extend_from_slice(&data[from..from + take]);
        if self.volume.len() < 5 {
            return Flow::More;
        }
        self.found = refuse::volume(&self.volume);
        Flow::Done
    }

    fn finish(self: Box<Self>, _: u64, out: &mut Vec<Finding>) {
        if let Some(r) = self.found {
            let severity = self.levels.get(r.name).copied().unwrap_or(Severity::High);
            out.push(refusal(
                &self.path,
                r.name,
                severity,
                format!(
                    "{}: airgate does not open this format, so its contents are not \
                     inspected and it is not passed (a policy may set another severity \
                     under [inspect.uninspectable])",
                    r.what
                ),
            ));
        }
    }
}
