//! numpy `.npy` arrays: header validation, and the pickle that object-dtype arrays carry.

use super::pickle::PickleScan;
use crate::inspect::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
};

const MAGIC: &[u8] = b"\x93NUMPY";
/// Largest header accepted.
const MAX_HEADER: usize = 1 << 20;

/// What the header says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// The dtype string (`descr`), e.g. `<f4`; `|O` for Python objects.
    pub descr: String,
    /// Whether the dtype holds Python objects (so the data is a pickle).
    pub object: bool,
    /// The array's dimensions.
    pub shape: Vec<u64>,
    /// Bytes per element when the dtype is simple.
    pub itemsize: Option<u64>,
}

/// Parse the header dict text, e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
pub fn parse_header(text: &str) -> Result<NpyHeader, String> {
    let t = text.trim();
    if !t.starts_with('{') || !t.ends_with('}') {
        return Err("header is not a dict literal".into());
    }
    let descr_at = t.find("'descr':").ok_or("header has no 'descr'")?;
    let rest = t[descr_at + 8..].trim_start();
    let descr = if let Some(r) = rest.strip_prefix('\'') {
        r.split('\'').next().unwrap_or("").to_string()
    } else if rest.starts_with('[') {
        // Structured dtype: keep the field list text.
        let end = rest.find("]").ok_or("unterminated structured descr")?;
        rest[..=end].to_string()
    } else {
        return Err("unrecognised descr".into());
    };
    // numpy takes `O`, `O8`, `object`, `Object`...: every dtype string starting with o/O
    // (no other dtype does) is an object array, whose data is a pickle
    let is_object = |d: &str| {
        d.trim_start_matches(['<', '>', '|', '='])
            .starts_with(['O', 'o'])
    };
    let object = if descr.starts_with('[') {
        // each field is ('name', 'dtype'[, shape]): look at the quoted item after a comma
        descr.match_indices(',').any(|(i, _)| {
            descr[i + 1..]
                .trim_start()
                .strip_prefix('\'')
                .is_some_and(is_object)
        })
    } else {
        is_object(&descr)
    };
    let shape_at = t.find("'shape':").ok_or("header has no 'shape'")?;
    let srest = t[shape_at + 8..].trim_start();
    let inner = srest
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or("shape is not a tuple")?;
    let mut shape = Vec::new();
    for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let v = part
            .trim_end_matches('L')
            .parse::<u64>()
            .map_err(|_| format!("bad shape dimension {part:?}"))?;
        shape.push(v);
    }
    if shape.len() > 64 {
        return Err("more than 64 dimensions".into());
    }
    let itemsize = if object || descr.starts_with('[') {
        None
    } else {
        simple_itemsize(&descr)
    };
    Ok(NpyHeader {
        descr,
        object,
        shape,
        itemsize,
    })
}

fn simple_itemsize(d: &str) -> Option<u64> {
    let d = d.trim_start_matches(['<', '>', '|', '=']);
    let kind = d.chars().next()?;
    let digits: String = d[kind.len_utf8()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let n: u64 = digits.parse().ok()?;
    match kind {
        'U' => n.checked_mul(4),
        'b' | 'i' | 'u' | 'f' | 'c' | 'S' | 'V' | 'm' | 'M' | 'a' => Some(n),
        '?' => Some(1),
        _ => None,
    }
}

enum Phase {
    Header(Vec<u8>),
    Data { header_end: u64, hdr: NpyHeader },
    Failed,
}

/// Streaming `.npy` scan.
pub struct NpyScan {
    path: String,
    ctx: ScanContext,
    phase: Phase,
    pickle: Option<PickleScan>,
    out: Vec<Finding>,
}

impl NpyScan {
    /// A scan of the `.npy` file `path`.
    pub fn new(path: &str, ctx: ScanContext) -> NpyScan {
        NpyScan {
            path: path.into(),
            ctx,
            phase: Phase::Header(Vec::new()),
            pickle: None,
            out: Vec::new(),
        }
    }

    fn fail(&mut self, msg: String) {
        self.out.push(Finding::new(
            &self.path,
            "npy.malformed",
            Category::Format,
            Severity::High,
            format!("malformed .npy file: {msg}"),
            msg.as_bytes(),
        ));
        self.phase = Phase::Failed;
    }

    /// Feed bytes.
    pub fn feed(&mut self, data: &[u8]) -> Flow {
        match &mut self.phase {
            Phase::Failed => Flow::Done,
            Phase::Data { .. } => match self.pickle.as_mut() {
                Some(p) => p.feed(data),
                None => Flow::More,
            },
            Phase::Header(buf) => {
                let want = 12usize.saturating_sub(buf.len()).min(data.len());
                buf.extend_from_slice(&data[..want]);
                let mut rest = &data[want..];
                if buf.len() < 10 {
                    return Flow::More;
                }
                let major = buf[6];
                let (len_w, hlen) = match major {
                    1 => (2, usize::from(u16::from_le_bytes([buf[8], buf[9]]))),
                    2 | 3 if buf.len() >= 12 => (
                        4,
                        u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]) as usize,
                    ),
                    2 | 3 => return Flow::More,
                    v => {
                        self.fail(format!("unsupported format version {v}"));
                        return Flow::Done;
                    }
                };
                if hlen > MAX_HEADER {
                    self.fail(format!(
                        "header of {hlen} bytes exceeds the {MAX_HEADER}-byte limit"
                    ));
                    return Flow::Done;
                }
                let total = 8 + len_w + hlen;
                let take = total.saturating_sub(buf.len()).min(rest.len());
                buf.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                if buf.len() < total {
                    return Flow::More;
                }
                // Bytes read past the header when `len_w` is 2.
                let extra: Vec<u8> = buf.split_off(total);
                let text = String::from_utf8_lossy(&buf[8 + len_w..]).into_owned();
                match parse_header(&text) {
                    Err(e) => {
                        self.fail(e);
                        Flow::Done
                    }
                    Ok(hdr) => {
                        if hdr.object {
                            self.out.push(Finding::new(&self.path, "npy.object-dtype", Category::Code, Severity::Low,
                                "object array: loading needs allow_pickle=True; its pickle is inspected", b""));
                            self.pickle = Some(PickleScan::new(
                                &self.path,
                                total as u64,
                                self.ctx.clone(),
                                0,
                            ));
                        }
                        self.phase = Phase::Data {
                            header_end: total as u64,
                            hdr,
                        };
                        let mut flow = Flow::More;
                        if let Some(p) = self.pickle.as_mut() {
                            p.feed(&extra);
                            flow = p.feed(rest);
                        }
                        flow
                    }
                }
            }
        }
    }

    /// End of file.
    pub fn finish(mut self, total: u64, out: &mut Vec<Finding>) {
        match &self.phase {
            Phase::Header(_) => self.fail("file ends inside the header".into()),
            Phase::Data { header_end, hdr } => {
                if let Some(size) = hdr.itemsize {
                    let n = hdr.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
                    let want = n
                        .and_then(|n| n.checked_mul(size))
                        .and_then(|b| b.checked_add(*header_end));
                    if want != Some(total) {
                        let msg = format!(
                            "array data is {} bytes, its header implies {}",
                            total - header_end,
                            want.map_or("an overflowing size".into(), |w| (w - header_end)
                                .to_string())
                        );
                        self.out.push(Finding::new(
                            &self.path,
                            "npy.size",
                            Category::Format,
                            Severity::High,
                            msg.clone(),
                            msg.as_bytes(),
                        ));
                    }
                }
            }
            Phase::Failed => {}
        }
        if let Some(p) = self.pickle.take() {
            p.finish(out);
        }
        out.append(&mut self.out);
    }
}

/// `.npy` files by their magic.
pub struct NpyInspector;

struct NpyFile(NpyScan);

impl Inspector for NpyInspector {
    fn name(&self) -> &'static str {
        "npy"
    }

    fn open(
        &self,
        meta: &FileMeta<'_>,
        head: &[u8],
        ctx: &ScanContext,
    ) -> Option<Box<dyn FileInspector>> {
        head.starts_with(MAGIC).then(|| {
            Box::new(NpyFile(NpyScan::new(meta.path, ctx.clone()))) as Box<dyn FileInspector>
        })
    }
}

impl FileInspector for NpyFile {
    fn update(&mut self, _offset: u64, data: &[u8], _out: &mut Vec<Finding>) -> Flow {
        self.0.feed(data);
        Flow::More
    }

    fn finish(self: Box<Self>, total: u64, out: &mut Vec<Finding>) {
        self.0.finish(total, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `make fuzz-long` (npy target, 2026-11-27): a dtype starting with a
    /// multi-byte character made the item size parser slice inside that character (a panic).
    #[test]
    fn a_non_ascii_dtype_is_no_panic_and_has_no_known_item_size() {
        let h = parse_header("{'descr': '<\u{2cb}8', 'fortran_order': False, 'shape': (2, 2), }")
            .unwrap();
        assert_eq!(h.itemsize, None);
        // the near miss: an ASCII kind with the same digits is sized
        let h =
            parse_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }").unwrap();
        assert_eq!(h.itemsize, Some(8));
        // and the fuzzer's input itself, through the streaming scan
        let input = b"\x93NUMPY\x01\x00v\x00{'descr': '<\x9d\xcb', 'fortran_orer'd: Fahsl'e s,ape': (2, 2), }";
        let mut s = NpyScan::new("f.npy", ScanContext::default());
        s.feed(input);
        let mut out = Vec::new();
        s.finish(input.len() as u64, &mut out);
    }

    #[test]
    fn headers() {
        let h =
            parse_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }").unwrap();
        assert_eq!(h.shape, vec![2, 3]);
        assert_eq!(h.itemsize, Some(4));
        assert!(!h.object);
        let o = parse_header("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }").unwrap();
        assert!(o.object);
        for d in ["object", "O8", "<O", "Object"] {
            let h = format!("{{'descr': '{d}', 'fortran_order': False, 'shape': (1,), }}");
            assert!(parse_header(&h).unwrap().object, "{d}");
        }
        let s = parse_header(
            "{'descr': [('id', '<i4'), ('payload', 'object')], 'fortran_order': False, 'shape': (), }",
        )
        .unwrap();
        assert!(s.object);
        // a field merely named like an object dtype is not one
        let s = parse_header(
            "{'descr': [('object_id', '<i4'), ('o', '<f8')], 'fortran_order': False, 'shape': (), }",
        )
        .unwrap();
        assert!(!s.object);
        let s = parse_header(
            "{'descr': [('a', '<i4'), ('b', '|O')], 'fortran_order': False, 'shape': (), }",
        )
        .unwrap();
        assert!(s.object);
        assert!(parse_header("{'shape': (1,)}").is_err());
        assert!(parse_header("{'descr': '<f4', 'shape': (x,)}").is_err());
    }
}
