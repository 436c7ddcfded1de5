//! Builders shared by the model inspector tests: pickles in several protocols, zips laid out
//! like PyTorch writes them, npy, safetensors, GGUF and ONNX bytes.
#![allow(dead_code)]

use airgate::inspect::{model_inspectors, Engine, Finding, ScanContext, Severity, TextScan};
use std::sync::{Arc, Mutex};

/// Run `data` as file `name` through the model inspectors, in chunks of `chunk` bytes.
pub fn scan_with(name: &str, data: &[u8], chunk: usize, ctx: ScanContext) -> Vec<Finding> {
    let engine = Engine::new(model_inspectors(), ctx);
    let mut s = engine.begin_file(name, Some(data.len() as u64), 0);
    for c in data.chunks(chunk.max(1)) {
        s.update(c);
    }
    s.finish()
}

/// Scan with the default context, whole and in 3-byte chunks; both must agree on the worst severity.
pub fn scan(name: &str, data: &[u8]) -> Vec<Finding> {
    let a = scan_with(name, data, 1 << 16, ScanContext::default());
    let b = scan_with(name, data, 3, ScanContext::default());
    assert_eq!(
        worst(&a),
        worst(&b),
        "chunking changed the result for {name}: {a:#?} vs {b:#?}"
    );
    a
}

pub fn worst(f: &[Finding]) -> Option<Severity> {
    f.iter().map(|x| x.severity).max()
}

pub fn has(f: &[Finding], rule: &str, min: Severity) -> bool {
    f.iter()
        .any(|x| x.rule.starts_with(rule) && x.severity >= min)
}

pub fn assert_clean(name: &str, data: &[u8]) {
    let f = scan(name, data);
    assert!(
        worst(&f) < Some(Severity::Medium),
        "{name} should be clean: {f:#?}"
    );
}

/// Records every string handed to the text rules.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<String>>);

impl TextScan for Recorder {
    fn scan_text(&self, _path: &str, _offset: Option<u64>, text: &[u8], _out: &mut Vec<Finding>) {
        if let Ok(mut v) = self.0.lock() {
            v.push(String::from_utf8_lossy(text).into_owned());
        }
    }
}

pub fn recorded(name: &str, data: &[u8]) -> Vec<String> {
    let rec = Arc::new(Recorder::default());
    let ctx = ScanContext { text: rec.clone() };
    scan_with(name, data, 4096, ctx);
    let v = rec.0.lock().unwrap().clone();
    v
}

// ---------- pickles ----------

/// Protocol-0 text of a string.
fn p0_str(s: &str) -> Vec<u8> {
    format!("S'{s}'\n").into_bytes()
}

fn bin_str(s: &str, proto: u8) -> Vec<u8> {
    let b = s.as_bytes();
    if proto >= 4 && b.len() < 256 {
        let mut v = vec![0x8c, b.len() as u8];
        v.extend_from_slice(b);
        v
    } else {
        let mut v = vec![b'X'];
        v.extend_from_slice(&(b.len() as u32).to_le_bytes());
        v.extend_from_slice(b);
        v
    }
}

/// Push the global `module.name` in the idiom of `proto` (GLOBAL below 4, STACK_GLOBAL from 4).
pub fn global(module: &str, name: &str, proto: u8) -> Vec<u8> {
    if proto < 4 {
        format!("c{module}\n{name}\n").into_bytes()
    } else {
        let mut v = bin_str(module, proto);
        v.push(0x94);
        v.extend(bin_str(name, proto));
        v.push(0x94);
        v.push(0x93);
        v
    }
}

/// Push a string argument.
pub fn string(s: &str, proto: u8) -> Vec<u8> {
    if proto == 0 {
        p0_str(s)
    } else {
        bin_str(s, proto)
    }
}

/// Push bytes.
pub fn bytes(b: &[u8], proto: u8) -> Vec<u8> {
    if proto >= 3 {
        let mut v = vec![b'B'];
        v.extend_from_slice(&(b.len() as u32).to_le_bytes());
        v.extend_from_slice(b);
        v
    } else {
        // Protocol 0-2 have no bytes type: latin-1 text through _codecs.encode, as Python does.
        let text: String = b.iter().map(|&c| c as char).collect();
        let mut v = global("_codecs", "encode", proto);
        v.extend(b"(");
        v.extend(
            format!(
                "V{}\n",
                text.chars()
                    .map(|c| if (c as u32) < 0x20 || (c as u32) > 0x7e || c == '\\' {
                        format!("\\u{:04x}", c as u32)
                    } else {
                        c.to_string()
                    })
                    .collect::<String>()
            )
            .into_bytes(),
        );
        v.extend(string("latin1", proto));
        v.extend(b"tR");
        v
    }
}

/// Wrap a body in the protocol header and STOP.
pub fn wrap(body: Vec<u8>, proto: u8) -> Vec<u8> {
    let mut v = Vec::new();
    if proto >= 2 {
        v.extend([0x80, proto]);
    }
    if proto >= 4 {
        v.push(0x95);
        v.extend_from_slice(&((body.len() + 1) as u64).to_le_bytes());
    }
    v.extend(body);
    v.push(b'.');
    v
}

/// `module.name(arg)` as a complete pickle.
pub fn call_pickle(module: &str, name: &str, arg: &str, proto: u8) -> Vec<u8> {
    let mut b = global(module, name, proto);
    b.extend(b"(");
    b.extend(string(arg, proto));
    b.extend(b"tR");
    wrap(b, proto)
}

/// A benign state dict pickle: OrderedDict of one tensor rebuilt by torch._utils.
pub fn torch_state_dict_pickle() -> Vec<u8> {
    let mut b = global("collections", "OrderedDict", 2);
    b.extend(b")R");
    b.extend(string("weight", 2));
    b.extend(global("torch._utils", "_rebuild_tensor_v2", 2));
    b.extend(b"(");
    // persistent id tuple ('storage', torch.FloatStorage, '0', 'cpu', 4)
    b.extend(b"(");
    b.extend(string("storage", 2));
    b.extend(global("torch", "FloatStorage", 2));
    b.extend(string("0", 2));
    b.extend(string("cpu", 2));
    b.extend(b"K\x04tQ");
    b.extend(b"K\x00K\x04\x85K\x01\x85\x89");
    b.extend(global("collections", "OrderedDict", 2));
    b.extend(b")RtR");
    b.extend(b"s");
    wrap(b, 2)
}

// ---------- zips ----------

/// One member to put in a zip.
pub struct Member<'a> {
    pub name: &'a str,
    pub data: &'a [u8],
    pub deflate: bool,
}

/// Build a zip. `descriptor`: write sizes in trailing data descriptors (as PyTorch does).
pub fn zip(members: &[Member<'_>], descriptor: bool) -> Vec<u8> {
    zip_ext(members, descriptor, false)
}

/// Like [`zip`], with zip64 (8-byte size) data descriptors when `wide`.
pub fn zip_ext(members: &[Member<'_>], descriptor: bool, wide: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for m in members {
        let crc = {
            let mut c = flate2::Crc::new();
            c.update(m.data);
            c.sum()
        };
        let body = if m.deflate {
            use std::io::Write;
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(m.data).unwrap();
            e.finish().unwrap()
        } else {
            m.data.to_vec()
        };
        let method: u16 = if m.deflate { 8 } else { 0 };
        let flags: u16 = if descriptor { 0x0808 } else { 0x0800 };
        let off = out.len() as u32;
        out.extend(b"PK\x03\x04");
        out.extend(20u16.to_le_bytes());
        out.extend(flags.to_le_bytes());
        out.extend(method.to_le_bytes());
        out.extend([0u8; 4]);
        let (lc, ls, lu) = if descriptor {
            (0, 0, 0)
        } else {
            (crc, body.len() as u32, m.data.len() as u32)
        };
        out.extend(lc.to_le_bytes());
        out.extend(ls.to_le_bytes());
        out.extend(lu.to_le_bytes());
        out.extend((m.name.len() as u16).to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(m.name.as_bytes());
        out.extend(&body);
        if descriptor {
            out.extend(b"PK\x07\x08");
            out.extend(crc.to_le_bytes());
            if wide {
                out.extend((body.len() as u64).to_le_bytes());
                out.extend((m.data.len() as u64).to_le_bytes());
            } else {
                out.extend((body.len() as u32).to_le_bytes());
                out.extend((m.data.len() as u32).to_le_bytes());
            }
        }
        central.extend(b"PK\x01\x02");
        central.extend(20u16.to_le_bytes());
        central.extend(20u16.to_le_bytes());
        central.extend(flags.to_le_bytes());
        central.extend(method.to_le_bytes());
        central.extend([0u8; 4]);
        central.extend(crc.to_le_bytes());
        central.extend((body.len() as u32).to_le_bytes());
        central.extend((m.data.len() as u32).to_le_bytes());
        central.extend((m.name.len() as u16).to_le_bytes());
        central.extend([0u8; 12]);
        central.extend(off.to_le_bytes());
        central.extend(m.name.as_bytes());
    }
    let cd_off = out.len() as u32;
    out.extend(&central);
    out.extend(b"PK\x05\x06");
    out.extend([0u8; 4]);
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(cd_off.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// A PyTorch-style checkpoint zip around `pkl`.
pub fn torch_zip(pkl: &[u8]) -> Vec<u8> {
    zip(
        &[
            Member {
                name: "archive/data.pkl",
                data: pkl,
                deflate: false,
            },
            Member {
                name: "archive/data/0",
                data: &[0u8; 16],
                deflate: false,
            },
            Member {
                name: "archive/version",
                data: b"3\n",
                deflate: false,
            },
        ],
        true,
    )
}

/// A `.npy` file with the given descr and shape, followed by `body`.
pub fn npy(descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend((h.len() as u16).to_le_bytes());
    v.extend(h.as_bytes());
    v.extend(body);
    v
}

/// A safetensors file from header JSON and data.
pub fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend(header.as_bytes());
    v.extend(data);
    v
}

// ---------- GGUF ----------

pub fn gguf_string(v: &mut Vec<u8>, s: &str) {
    v.extend((s.len() as u64).to_le_bytes());
    v.extend(s.as_bytes());
}

/// A GGUF v3 file with string metadata and one F32 tensor of `n` elements.
pub fn gguf(kv: &[(&str, &str)], n: u64) -> Vec<u8> {
    let mut v = b"GGUF".to_vec();
    v.extend(3u32.to_le_bytes());
    v.extend(1u64.to_le_bytes());
    v.extend((kv.len() as u64).to_le_bytes());
    for (k, s) in kv {
        gguf_string(&mut v, k);
        v.extend(8u32.to_le_bytes());
        gguf_string(&mut v, s);
    }
    gguf_string(&mut v, "w");
    v.extend(1u32.to_le_bytes());
    v.extend(n.to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend(0u64.to_le_bytes());
    while v.len() % 32 != 0 {
        v.push(0);
    }
    v.extend(vec![0u8; (n * 4) as usize]);
    v
}

// ---------- protobuf / ONNX ----------

pub fn varint(v: &mut Vec<u8>, mut x: u64) {
    loop {
        let b = (x & 0x7f) as u8;
        x >>= 7;
        if x == 0 {
            v.push(b);
            return;
        }
        v.push(b | 0x80);
    }
}

pub fn field_bytes(v: &mut Vec<u8>, field: u32, data: &[u8]) {
    varint(v, u64::from(field) << 3 | 2);
    varint(v, data.len() as u64);
    v.extend(data);
}

pub fn field_varint(v: &mut Vec<u8>, field: u32, x: u64) {
    varint(v, u64::from(field) << 3);
    varint(v, x);
}

/// An ONNX model with one node (`domain`, `op`), one initializer whose data is external at
/// `location` (if any), and a metadata property.
pub fn onnx(domain: &str, op: &str, location: Option<&str>, meta: (&str, &str)) -> Vec<u8> {
    onnx_with(domain, op, location.map(|l| (l, None)), meta)
}

/// An ONNX model whose one tensor reads its data from `location`, and when given, from
/// `offset` for `length` bytes.
pub fn onnx_external(location: &str, offset: u64, length: u64) -> Vec<u8> {
    onnx_with(
        "",
        "Relu",
        Some((location, Some((offset, length)))),
        ("k", "v"),
    )
}

fn onnx_with(
    domain: &str,
    op: &str,
    location: Option<(&str, Option<(u64, u64)>)>,
    meta: (&str, &str),
) -> Vec<u8> {
    let mut node = Vec::new();
    field_bytes(&mut node, 1, b"x");
    field_bytes(&mut node, 2, b"y");
    field_bytes(&mut node, 4, op.as_bytes());
    field_bytes(&mut node, 7, domain.as_bytes());
    let mut tensor = Vec::new();
    field_varint(&mut tensor, 1, 4);
    field_varint(&mut tensor, 2, 1);
    field_bytes(&mut tensor, 8, b"w");
    match location {
        Some((loc, range)) => {
            let mut e = Vec::new();
            field_bytes(&mut e, 1, b"location");
            field_bytes(&mut e, 2, loc.as_bytes());
            field_bytes(&mut tensor, 13, &e);
            if let Some((offset, length)) = range {
                for (k, v) in [("offset", offset), ("length", length)] {
                    let mut e = Vec::new();
                    field_bytes(&mut e, 1, k.as_bytes());
                    field_bytes(&mut e, 2, v.to_string().as_bytes());
                    field_bytes(&mut tensor, 13, &e);
                }
            }
            field_varint(&mut tensor, 14, 1);
        }
        None => field_bytes(&mut tensor, 9, &[0u8; 16]),
    }
    let mut graph = Vec::new();
    field_bytes(&mut graph, 1, &node);
    field_bytes(&mut graph, 2, b"g");
    field_bytes(&mut graph, 5, &tensor);
    let mut m = Vec::new();
    field_bytes(&mut m, 1, meta.0.as_bytes());
    field_bytes(&mut m, 2, meta.1.as_bytes());
    let mut model = Vec::new();
    field_varint(&mut model, 1, 8);
    field_bytes(&mut model, 2, b"test");
    field_bytes(&mut model, 7, &graph);
    let mut opset = Vec::new();
    field_varint(&mut opset, 2, 17);
    field_bytes(&mut model, 8, &opset);
    field_bytes(&mut model, 14, &m);
    model
}
