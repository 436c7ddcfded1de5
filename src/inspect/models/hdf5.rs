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
/// Configs examined per file; one more is refused (`hdf5.too-many-configs`), not ignored.
const MAX_CONFIGS: usize = 64;
/// A config object's first key; the object starts at the `{` before it (whitespace may
/// come between, as `json.loads` allows).
const NEEDLE: &[u8] = b"\"class_name\"";
/// Whitespace kept across chunks between a `{` and the key.
const MAX_GAP: usize = 1 << 20;

/// Where the object holding a key found at `at` starts: the `{` before it, past whitespace.
fn object_start(b: &[u8], at: usize) -> Option<usize> {
    let ws = b[..at]
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_whitespace())
        .count();
    let brace = at.checked_sub(ws + 1)?;
    (b[brace] == b'{').then_some(brace)
}

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
    /// Cut off at [`MAX_CONFIG`] bytes.
    cut: bool,
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
                c.cut = true;
                self.done_capture();
                return i + 1;
            }
        }
        data.len()
    }

    fn done_capture(&mut self) {
        let Some(c) = self.capture.take() else { return };
        self.configs += 1;
        if c.cut {
            // padding a config past the limit must not hide the layers after it
            self.out.push(
                Finding::new(&self.path, "hdf5.model-config", Category::Code, Severity::High,
                    format!("a Keras model config is larger than {MAX_CONFIG} bytes: its layers cannot all be checked, so the model is refused"), b"too-large")
                .at_offset(c.at),
            );
            return;
        }
        match serde_json::from_slice::<serde_json::Value>(&c.buf) {
            Ok(v) => check_json(&self.path, &v, &mut self.out),
            // Python's json takes NaN, 1e400 and deeper nesting: Keras would load a config
            // this parser cannot check
            Err(_) => self.out.push(
                Finding::new(&self.path, "hdf5.model-config", Category::Code, Severity::High,
                    "a Keras model config could not be parsed as strict JSON (NaN, an out-of-range number or very deep nesting?): its layers cannot be checked, so the model is refused", b"")
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
        let Some(ac) = finder() else {
            return Flow::Done;
        };
        // Search carry + data so a needle across chunks is found.
        let keep = NEEDLE.len() - 1;
        let mut joined = std::mem::take(&mut self.carry);
        let base = offset - joined.len() as u64;
        joined.extend_from_slice(data);
        let found = ac
            .find_iter(&joined[..])
            .find_map(|m| object_start(&joined, m.start()));
        if let Some(start) = found {
            if self.configs >= MAX_CONFIGS {
                // decoys first, the real config later: refuse rather than stop looking
                self.out.push(
                    Finding::new(&self.path, "hdf5.too-many-configs", Category::Code, Severity::High,
                        format!("more than {MAX_CONFIGS} Keras model configs in one file: the rest cannot be checked, so the model is refused"), b"")
                    .at_offset(base + start as u64),
                );
                return Flow::Done;
            }
            self.capture = Some(Capture {
                buf: Vec::new(),
                depth: 0,
                in_str: false,
                esc: false,
                at: base + start as u64,
                cut: false,
            });
            let rest = joined[start..].to_vec();
            let used = self.capture(&rest);
            if self.capture.is_none() && used < rest.len() {
                return self.update(base + (start + used) as u64, &rest[used..], _out);
            }
            return Flow::More;
        }
        // keep a possible `{` and the whitespace after it too
        let mut cut = joined.len().saturating_sub(keep);
        while cut > 0
            && joined.len() - cut < MAX_GAP
            && (joined[cut - 1].is_ascii_whitespace() || joined[cut - 1] == b'{')
        {
            cut -= 1;
            if joined[cut] == b'{' {
                break;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    const LAMBDA: &str = r#"{"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAA"}}}, "module": "keras.layers"}]}}"#;
    const DECOY: &str = r#"{"class_name": "Dense", "config": {"units": 1}}"#;

    /// Findings for an HDF5-looking file holding `configs` one after another.
    fn scan(configs: &[String]) -> Vec<Finding> {
        let mut data = MAGIC.to_vec();
        data.extend_from_slice(&[0u8; 64]);
        for c in configs {
            data.extend_from_slice(c.as_bytes());
            data.extend_from_slice(&[0u8; 16]);
        }
        let insp = Hdf5Inspector;
        let meta = FileMeta {
            path: "m.h5",
            size: Some(data.len() as u64),
            depth: 0,
        };
        let ctx = ScanContext::default();
        let mut f = insp.open(&meta, &data, &ctx).expect("sniffed");
        let mut out = Vec::new();
        for (i, c) in data.chunks(4096).enumerate() {
            let _ = f.update(i as u64 * 4096, c, &mut out);
        }
        f.finish(data.len() as u64, &mut out);
        out
    }

    fn high_rules(f: &[Finding]) -> Vec<&str> {
        f.iter()
            .filter(|x| x.severity >= Severity::High)
            .map(|x| x.rule.as_str())
            .collect()
    }

    #[test]
    fn decoy_configs_cannot_push_the_real_one_out_of_sight() {
        let mut configs: Vec<String> = vec![DECOY.to_string(); 10];
        configs.push(LAMBDA.to_string());
        let near_miss = scan(&configs);
        assert!(
            high_rules(&near_miss).iter().any(|r| r.contains("lambda")),
            "{near_miss:?}"
        );
        assert!(!high_rules(&near_miss).contains(&"hdf5.too-many-configs"));

        let mut configs: Vec<String> = vec![DECOY.to_string(); MAX_CONFIGS];
        configs.push(LAMBDA.to_string());
        let flooded = scan(&configs);
        assert!(
            high_rules(&flooded).contains(&"hdf5.too-many-configs"),
            "{flooded:?}"
        );
        // whitespace between the brace and the key, as json.loads allows
        let spaced = LAMBDA.replacen("{\"class_name\"", "{ \n  \"class_name\"", 1);
        let f = scan(&[spaced]);
        assert!(high_rules(&f).iter().any(|r| r.contains("lambda")), "{f:?}");
        // NaN (json.dumps writes it; serde_json refuses it): refused, not skipped
        let nan = LAMBDA.replacen("\"name\": \"l\"", "\"name\": \"l\", \"rate\": NaN", 1);
        let f = scan(&[nan]);
        assert!(high_rules(&f).contains(&"hdf5.model-config"), "{f:?}");
        // a file with only harmless configs is not refused
        assert!(high_rules(&scan(&vec![DECOY.to_string(); 5])).is_empty());
    }

    #[test]
    fn a_config_padded_past_the_limit_is_refused() {
        let padded = LAMBDA.replacen(
            r#""name": "l""#,
            &format!(r#""name": "{}""#, "x".repeat(MAX_CONFIG)),
            1,
        );
        let f = scan(&[padded]);
        assert!(
            f.iter().any(|x| x.rule == "hdf5.model-config"
                && x.severity == Severity::High
                && x.message.contains("larger than")),
            "{f:?}"
        );
    }
}
