//! HDF5 Keras models (`.h5`): best-effort search of the file's bytes for the `model_config`
//! attribute's JSON, then the Keras checks on it.

use super::config::check_json;
use crate::inspect::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
};
use aho_corasick::AhoCorasick;
use std::sync::OnceLock;

const MAGIC: &[u8] = b"\x89HDF\r\n\x1a\n";
/// Largest config captured.
const MAX_CONFIG: usize = 16 << 20;
/// Configs examined per file.
const MAX_CONFIGS: usize = 16;
const NEEDLE: &[u8] = b"{\"class_name\"";

fn finder() -> Option<&'static AhoCorasick> {
    static F: OnceLock<Option<AhoCorasick>> = OnceLock::new();
    F.get_or_init(|| AhoCorasick::new([NEEDLE]).ok()).as_ref()
}

/// HDF5 files (magic at 0 or after a 512/1024/2048-byte user block).
pub struct Hdf5Inspector;

struct H5 {
    path: String,
    carry: Vec<u8>,
    capture: Option<Capture>,
    configs: usize,
    out: Vec<Finding>,
}

struct Capture {
    buf: Vec<u8>,
    depth: i64,
    in_str: bool,
    esc: bool,
    at: u64,
}

impl Inspector for Hdf5Inspector {
    fn name(&self) -> &'static str {
        "hdf5-keras"
    }

    fn open(
        &self,
        meta: &FileMeta<'_>,
        head: &[u8],
        _ctx: &ScanContext,
    ) -> Option<Box<dyn FileInspector>> {
        let hit = [0usize, 512, 1024, 2048]
            .iter()
            .any(|&o| head.get(o..o + 8) == Some(MAGIC));
        hit.then(|| {
            Box::new(H5 {
                path: meta.path.into(),
                carry: Vec::new(),
                capture: None,
                configs: 0,
                out: Vec::new(),
            }) as Box<dyn FileInspector>
        })
    }
}

impl H5 {
    /// Continue a JSON capture over `data`; returns bytes used.
    fn capture(&mut self, data: &[u8]) -> usize {
        let Some(c) = self.capture.as_mut() else {
            return 0;
        };
        for (i, &b) in data.iter().enumerate() {
            c.buf.push(b);
            if c.in_str {
                if c.esc {
                    c.esc = false;
                } else if b == b'\\' {
                    c.esc = true;
                } else if b == b'"' {
                    c.in_str = false;
                }
            } else if b == b'"' {
                c.in_str = true;
            } else if b == b'{' || b == b'[' {
                c.depth += 1;
            } else if b == b'}' || b == b']' {
                c.depth -= 1;
                if c.depth == 0 {
                    self.done_capture();
                    return i + 1;
                }
            } else if b == 0 {
                self.done_capture();
                return i + 1;
            }
            if c.buf.len() > MAX_CONFIG {
                self.done_capture();
                return i + 1;
            }
        }
        data.len()
    }

    fn done_capture(&mut self) {
        let Some(c) = self.capture.take() else { return };
        self.configs += 1;
        match serde_json::from_slice::<serde_json::Value>(&c.buf) {
            Ok(v) => check_json(&self.path, &v, &mut self.out),
            Err(_) => self.out.push(
                Finding::new(&self.path, "hdf5.model-config", Category::Format, Severity::Medium,
                    "a Keras model_config attribute could not be parsed; its layers were not checked", b"")
                .at_offset(c.at),
            ),
        }
    }
}

impl FileInspector for H5 {
    fn update(&mut self, offset: u64, data: &[u8], _out: &mut Vec<Finding>) -> Flow {
        let mut data = data;
        let mut offset = offset;
        if self.capture.is_some() {
            let used = self.capture(data);
            data = &data[used..];
            offset += used as u64;
        }
        if self.configs >= MAX_CONFIGS {
            return Flow::Done;
        }
        let Some(ac) = finder() else {
            return Flow::Done;
        };
        // Search carry + data so a needle across chunks is found.
        let keep = NEEDLE.len() - 1;
        let mut joined = std::mem::take(&mut self.carry);
        let base = offset - joined.len() as u64;
        joined.extend_from_slice(data);
        if let Some(m) = ac.find(&joined[..]) {
            let start = m.start();
            self.capture = Some(Capture {
                buf: Vec::new(),
                depth: 0,
                in_str: false,
                esc: false,
                at: base + start as u64,
            });
            let rest = joined[start..].to_vec();
            let used = self.capture(&rest);
            if self.capture.is_none() && used < rest.len() {
                return self.update(base + (start + used) as u64, &rest[used..], _out);
            }
            return Flow::More;
        }
        let cut = joined.len().saturating_sub(keep);
        self.carry = joined[cut..].to_vec();
        Flow::More
    }

    fn finish(mut self: Box<Self>, _total: u64, out: &mut Vec<Finding>) {
        if self.capture.is_some() {
            self.done_capture();
        }
        out.append(&mut self.out);
    }
}
