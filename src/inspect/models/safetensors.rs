//! safetensors: full header validation (huggingface/safetensors rules): header size limit,
//! JSON object with no duplicate keys, known dtypes, shape × dtype size = byte length
//! (overflow-checked), offsets tiling the data exactly, no trailing bytes; `__metadata__`
//! values go through the text rules.

use crate::inspect::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// Largest header accepted (the reference implementation's limit).
pub const MAX_HEADER: u64 = 100_000_000;

/// A validated tensor entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorEntry {
    /// Tensor name.
    pub name: String,
    /// Element type as written (`F32`, `BF16`, ...).
    pub dtype: String,
    /// First byte of its data, relative to the end of the header.
    pub begin: u64,
    /// One past its last byte, relative to the end of the header.
    pub end: u64,
}

/// The parsed header: tensors, metadata and the data length they need.
#[derive(Clone, Debug, Default)]
pub struct Header {
    /// Every tensor, sorted by where its data begins.
    pub tensors: Vec<TensorEntry>,
    /// The `__metadata__` string pairs, as (key, value).
    pub metadata: Vec<(String, String)>,
    /// Bytes of data the tensors tile.
    pub data_len: u64,
}

/// JSON object entries in document order, keeping duplicates so they can be rejected.
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = m.next_entry::<String, Value>()? {
                    if v.len() > 1_000_000 {
                        return Err(serde::de::Error::custom("too many entries"));
                    }
                    v.push((k, x));
                }
                Ok(Entries(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// Size of one element in bits.
fn dtype_bits(d: &str) -> Option<u64> {
    Some(match d {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "F64" | "I64" | "U64" | "C64" => 64,
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        _ => return None,
    })
}

/// Validate the header JSON text.
pub fn parse_header(text: &[u8]) -> Result<Header, String> {
    if text.first() != Some(&b'{') {
        return Err("header does not start with '{'".into());
    }
    let entries: Entries =
        serde_json::from_slice(text).map_err(|e| format!("header is not a JSON object: {e}"))?;
    let mut seen = std::collections::HashSet::new();
    let mut h = Header::default();
    for (k, v) in entries.0 {
        if !seen.insert(k.clone()) {
            return Err(format!("duplicate key {k:?}"));
        }
        if k == "__metadata__" {
            let m = v.as_object().ok_or("__metadata__ is not an object")?;
            for (mk, mv) in m {
                let s = mv
                    .as_str()
                    .ok_or_else(|| format!("__metadata__ value {mk:?} is not a string"))?;
                h.metadata.push((mk.clone(), s.to_string()));
            }
            continue;
        }
        let o = v
            .as_object()
            .ok_or_else(|| format!("tensor {k:?} is not an object"))?;
        let dtype = o
            .get("dtype")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("tensor {k:?} has no dtype"))?;
        let bits =
            dtype_bits(dtype).ok_or_else(|| format!("tensor {k:?} has unknown dtype {dtype:?}"))?;
        let shape = o
            .get("shape")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("tensor {k:?} has no shape"))?;
        let mut n: u64 = 1;
        for d in shape {
            let d = d
                .as_u64()
                .ok_or_else(|| format!("tensor {k:?} has a non-integer dimension"))?;
            n = n
                .checked_mul(d)
                .ok_or_else(|| format!("tensor {k:?} shape overflows"))?;
        }
        let total_bits = n
            .checked_mul(bits)
            .ok_or_else(|| format!("tensor {k:?} size overflows"))?;
        if total_bits % 8 != 0 {
            return Err(format!("tensor {k:?} does not fill whole bytes"));
        }
        let offs = o
            .get("data_offsets")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("tensor {k:?} has no data_offsets"))?;
        let (Some(b), Some(e), 2) = (
            offs.first().and_then(Value::as_u64),
            offs.get(1).and_then(Value::as_u64),
            offs.len(),
        ) else {
            return Err(format!("tensor {k:?} data_offsets is not two integers"));
        };
        if e < b {
            return Err(format!("tensor {k:?} ends before it begins"));
        }
        if e - b != total_bits / 8 {
            return Err(format!(
                "tensor {k:?} is {} bytes but its shape and dtype need {}",
                e - b,
                total_bits / 8
            ));
        }
        h.tensors.push(TensorEntry {
            name: k,
            dtype: dtype.to_string(),
            begin: b,
            end: e,
        });
    }
    let mut sorted: Vec<&TensorEntry> = h.tensors.iter().collect();
    sorted.sort_by_key(|t| (t.begin, t.end));
    let mut at = 0u64;
    for t in sorted {
        if t.begin != at {
            return Err(if t.begin < at {
                format!("tensor {:?} overlaps the previous tensor", t.name)
            } else {
                format!("gap of {} bytes before tensor {:?}", t.begin - at, t.name)
            });
        }
        at = t.end;
    }
    h.data_len = at;
    Ok(h)
}

/// Streaming safetensors scan.
pub struct SafetensorsScan {
    path: String,
    ctx: ScanContext,
    buf: Vec<u8>,
    header_len: Option<u64>,
    parsed: Option<Header>,
    failed: bool,
    out: Vec<Finding>,
}

impl SafetensorsScan {
    /// A scan of `path`.
    pub fn new(path: &str, ctx: ScanContext) -> SafetensorsScan {
        SafetensorsScan {
            path: path.into(),
            ctx,
            buf: Vec::new(),
            header_len: None,
            parsed: None,
            failed: false,
            out: Vec::new(),
        }
    }

    fn fail(&mut self, msg: String) {
        self.out.push(Finding::new(
            &self.path,
            "safetensors.malformed",
            Category::Format,
            Severity::High,
            format!("invalid safetensors file: {msg}"),
            msg.as_bytes(),
        ));
        self.failed = true;
    }

    /// Feed bytes (all of them, so the total length is known at the end).
    pub fn feed(&mut self, data: &[u8]) {
        if self.failed || self.parsed.is_some() {
            return;
        }
        let want = match self.header_len {
            None => 8,
            Some(n) => 8 + n as usize,
        };
        let take = want.saturating_sub(self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..take]);
        if self.buf.len() < want {
            return;
        }
        if self.header_len.is_none() {
            let mut a = [0u8; 8];
            a.copy_from_slice(&self.buf[..8]);
            let n = u64::from_le_bytes(a);
            if n > MAX_HEADER {
                self.fail(format!(
                    "header length {n} exceeds the {MAX_HEADER}-byte limit"
                ));
                return;
            }
            self.header_len = Some(n);
            return self.feed(&data[take..]);
        }
        match parse_header(&self.buf[8..]) {
            Ok(h) => {
                for (k, v) in &h.metadata {
                    self.ctx
                        .text
                        .scan_text(&self.path, None, k.as_bytes(), &mut self.out);
                    self.ctx
                        .text
                        .scan_text(&self.path, None, v.as_bytes(), &mut self.out);
                }
                self.parsed = Some(h);
            }
            Err(e) => self.fail(e),
        }
        self.buf = Vec::new();
    }

    /// End of file: the data must end exactly where the last tensor does.
    pub fn finish(mut self, total: u64, out: &mut Vec<Finding>) {
        if !self.failed {
            match (&self.parsed, self.header_len) {
                (Some(h), Some(n)) => {
                    let want = 8 + n + h.data_len;
                    if want != total {
                        let msg = if total > want {
                            format!("{} bytes after the last tensor", total - want)
                        } else {
                            format!("file is {} bytes short of its last tensor", want - total)
                        };
                        self.fail(msg);
                    }
                }
                _ => self.fail("file ends inside the header".into()),
            }
        }
        out.append(&mut self.out);
    }
}

/// Whether `head` starts like a safetensors file: a plausible header length and `{`.
pub fn looks_like_safetensors(head: &[u8], size: Option<u64>) -> bool {
    if head.len() < 10 {
        return false;
    }
    let mut a = [0u8; 8];
    a.copy_from_slice(&head[..8]);
    let n = u64::from_le_bytes(a);
    // A length whose high bytes are zero (text would put printable bytes there), then `{`.
    // A length past the end of the file is still recognised, so truncation is reported.
    let _ = size;
    head[8] == b'{'
        && (head[9] == b'"' || head[9] == b'}' || head[9].is_ascii_whitespace())
        && (2..1 << 40).contains(&n)
}

/// safetensors files by content.
pub struct SafetensorsInspector;

struct StFile(SafetensorsScan);

impl Inspector for SafetensorsInspector {
    fn name(&self) -> &'static str {
        "safetensors"
    }

    fn open(
        &self,
        meta: &FileMeta<'_>,
        head: &[u8],
        ctx: &ScanContext,
    ) -> Option<Box<dyn FileInspector>> {
        looks_like_safetensors(head, meta.size).then(|| {
            Box::new(StFile(SafetensorsScan::new(meta.path, ctx.clone()))) as Box<dyn FileInspector>
        })
    }
}

impl FileInspector for StFile {
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

    #[test]
    fn header_rules() {
        let ok = br#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}}"#;
        assert_eq!(parse_header(ok).unwrap().data_len, 22);
        let dup = br#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#;
        assert!(parse_header(dup).unwrap_err().contains("duplicate"));
        let gap = br#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#;
        assert!(parse_header(gap).unwrap_err().contains("gap"));
        let overlap = br#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#;
        assert!(parse_header(overlap).unwrap_err().contains("overlaps"));
        let size = br#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#;
        assert!(parse_header(size).is_err());
        let overflow =
            br#"{"a":{"dtype":"F32","shape":[18446744073709551615,2],"data_offsets":[0,4]}}"#;
        assert!(parse_header(overflow).unwrap_err().contains("overflow"));
        assert!(parse_header(br#" {}"#).is_err());
        assert!(parse_header(br#"{"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,1]}}"#).is_err());
        let meta = br#"{"__metadata__":{"x":1}}"#;
        assert!(parse_header(meta).is_err());
    }
}
