//! safetensors, GGUF, ONNX, Keras, chat templates and zip structure: each check catches its
//! case and stays quiet on the near miss; malformed and truncated inputs of every format give
//! a `format` finding without panicking.

mod model_support;

use airgate::inspect::{Category, Severity};
use model_support::*;

fn st_ok() -> Vec<u8> {
    safetensors(
        r#"{"__metadata__":{"format":"pt","note":"ghp_abcdefghijklmnopqrstuvwxyz0123456789"},"a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
        &[0u8; 12],
    )
}

#[test]
fn safetensors_valid_and_invalid() {
    assert_clean("model.safetensors", &st_ok());
    let seen = recorded("m.safetensors", &st_ok());
    assert!(
        seen.iter().any(|s| s.starts_with("ghp_")),
        "metadata not scanned: {seen:?}"
    );
    let bad = [
        ("trailing", {
            let mut v = st_ok();
            v.push(0);
            v
        }),
        ("short", {
            let v = st_ok();
            v[..v.len() - 1].to_vec()
        }),
        (
            "gap",
            safetensors(
                r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#,
                &[0, 0],
            ),
        ),
        (
            "overlap",
            safetensors(
                r#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#,
                &[0, 0],
            ),
        ),
        (
            "dup",
            safetensors(
                r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#,
                &[0, 0],
            ),
        ),
        (
            "size",
            safetensors(
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#,
                &[0; 4],
            ),
        ),
        (
            "dtype",
            safetensors(
                r#"{"a":{"dtype":"X9","shape":[1],"data_offsets":[0,1]}}"#,
                &[0],
            ),
        ),
        (
            "metadata",
            safetensors(r#"{"__metadata__":{"a":[1]}}"#, &[]),
        ),
    ];
    for (what, data) in bad {
        let f = scan("x.safetensors", &data);
        assert!(
            has(&f, "safetensors.malformed", Severity::High),
            "{what}: {f:#?}"
        );
    }
    // Header length beyond the limit, tiny file: no allocation, a finding.
    let mut huge = (200_000_000u64).to_le_bytes().to_vec();
    huge.extend(b"{\"a\":1}");
    assert!(has(
        &scan("h.safetensors", &huge),
        "safetensors.malformed",
        Severity::High
    ));
}

#[test]
fn gguf_templates_metadata_and_bounds() {
    let ok = gguf(
        &[
            ("general.name", "tiny"),
            (
                "tokenizer.chat_template",
                "{% for m in messages %}{{ m['content'] }}{% endfor %}",
            ),
        ],
        8,
    );
    assert_clean("model.gguf", &ok);
    let evil = gguf(
        &[(
            "tokenizer.chat_template",
            "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        )],
        8,
    );
    assert!(has(
        &scan("evil.gguf", &evil),
        "template.injection",
        Severity::Critical
    ));
    let seen = recorded(
        "m.gguf",
        &gguf(&[("general.url", "https://example.invalid/x")], 1),
    );
    assert!(
        seen.iter().any(|s| s.contains("example.invalid")),
        "{seen:?}"
    );
    // Tensor data missing at the end.
    let short = {
        let v = gguf(&[], 8);
        v[..v.len() - 4].to_vec()
    };
    assert!(has(&scan("s.gguf", &short), "gguf.tensor", Severity::High));
    // A string claiming 1 GiB in a tiny file: bounded by the bytes left.
    let mut big = b"GGUF".to_vec();
    big.extend(3u32.to_le_bytes());
    big.extend(0u64.to_le_bytes());
    big.extend(1u64.to_le_bytes());
    big.extend((1u64 << 30).to_le_bytes());
    big.extend(b"abc");
    assert!(has(
        &scan("big.gguf", &big),
        "gguf.malformed",
        Severity::High
    ));
    // Array with a huge count of elements.
    let mut arr = b"GGUF".to_vec();
    arr.extend(3u32.to_le_bytes());
    arr.extend(0u64.to_le_bytes());
    arr.extend(1u64.to_le_bytes());
    gguf_string(&mut arr, "k");
    arr.extend(9u32.to_le_bytes());
    arr.extend(8u32.to_le_bytes());
    arr.extend(u64::MAX.to_le_bytes());
    assert!(has(
        &scan("arr.gguf", &arr),
        "gguf.malformed",
        Severity::High
    ));
}

#[test]
fn onnx_external_data_and_domains() {
    assert_clean("model.onnx", &onnx("", "Relu", None, ("k", "v")));
    assert_clean(
        "model.onnx",
        &onnx("ai.onnx", "Relu", Some("weights/w.bin"), ("k", "v")),
    );
    for loc in [
        "../../etc/shadow",
        "/etc/shadow",
        "subdir/../../x",
        "C:\\Windows\\x",
    ] {
        let f = scan("m.onnx", &onnx("", "Relu", Some(loc), ("k", "v")));
        assert!(
            has(&f, "onnx.external-data", Severity::High),
            "{loc}: {f:#?}"
        );
    }
    let f = scan("m.onnx", &onnx("com.evil", "Backdoor", None, ("k", "v")));
    assert!(has(&f, "onnx.custom-op", Severity::High), "{f:#?}");
    let seen = recorded(
        "m.onnx",
        &onnx("", "Relu", None, ("source", "http://10.0.0.1/model")),
    );
    assert!(seen.iter().any(|s| s.contains("10.0.0.1")), "{seen:?}");
}

#[test]
fn keras_zip_and_templates() {
    let cfg = br#"{"class_name": "Functional", "config": {"layers": [{"class_name": "Dense", "config": {"units": 1}, "module": "keras.layers"}]}, "module": "keras.src.models.functional"}"#;
    let ok = zip(
        &[
            Member {
                name: "config.json",
                data: cfg,
                deflate: true,
            },
            Member {
                name: "metadata.json",
                data: b"{}",
                deflate: false,
            },
        ],
        false,
    );
    assert_clean("model.keras", &ok);
    let lambda = br#"{"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAA"}}}, "module": "keras.layers"}]}}"#;
    let bad = zip(
        &[Member {
            name: "config.json",
            data: lambda,
            deflate: true,
        }],
        false,
    );
    assert!(has(
        &scan("model.keras", &bad),
        "keras.lambda",
        Severity::Critical
    ));
    let foreign = br#"{"class_name": "Sequential", "config": {"layers": [{"class_name": "Evil", "config": {}, "module": "subprocess", "registered_name": "Popen"}]}}"#;
    let bad = zip(
        &[Member {
            name: "config.json",
            data: foreign,
            deflate: false,
        }],
        false,
    );
    assert!(has(
        &scan("model.keras", &bad),
        "keras.module",
        Severity::Critical
    ));
    let jinja = b"{% for m in messages %}{{ m.content }}{% endfor %}{{ lipsum.__globals__['os'].popen('id').read() }}";
    assert!(has(
        &scan("chat_template.jinja", jinja),
        "template.injection",
        Severity::Critical
    ));
    assert_clean(
        "chat_template.jinja",
        b"{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}",
    );
}

#[test]
fn zip_readers_that_disagree() {
    let pkl = torch_state_dict_pickle();
    let good = torch_zip(&pkl);
    assert_clean("ok.pt", &good);
    // Descriptors with 8-byte sizes, stored and deflated members.
    let members = [
        Member {
            name: "archive/data.pkl",
            data: &pkl,
            deflate: false,
        },
        Member {
            name: "archive/data/0",
            data: &[7u8; 300],
            deflate: true,
        },
    ];
    assert_clean("wide.pt", &zip_ext(&members, true, true));
    let evil = call_pickle("os", "system", "id", 2);
    let members = [
        Member {
            name: "archive/data/0",
            data: &[7u8; 30],
            deflate: false,
        },
        Member {
            name: "x",
            data: &evil,
            deflate: false,
        },
    ];
    assert_eq!(
        worst(&scan("wide_evil.pt", &zip_ext(&members, true, true))),
        Some(Severity::Critical)
    );
    // Extra leading bytes: the zip is found only by searching from the end.
    let mut lead = b"junk".to_vec();
    lead.extend(&good);
    assert!(has(
        &scan("lead.pt", &lead),
        "zip.leading-bytes",
        Severity::High
    ));
    // Local and central names differ.
    let mut renamed = zip(
        &[Member {
            name: "archive/data.pkl",
            data: &pkl,
            deflate: false,
        }],
        false,
    );
    let at = renamed
        .windows(16)
        .position(|w| w == b"archive/data.pkl")
        .unwrap();
    renamed[at] = b'X';
    assert!(has(
        &scan("r.pt", &renamed),
        "zip.header-mismatch",
        Severity::High
    ));
    // Duplicate names.
    let dup = zip(
        &[
            Member {
                name: "a/data.pkl",
                data: &pkl,
                deflate: false,
            },
            Member {
                name: "a/data.pkl",
                data: b"x",
                deflate: false,
            },
        ],
        false,
    );
    assert!(has(&scan("d.pt", &dup), "zip.duplicate", Severity::High));
    // A member present only in the local headers (hidden from central-directory readers).
    let two = zip(
        &[
            Member {
                name: "a",
                data: b"1",
                deflate: false,
            },
            Member {
                name: "b",
                data: b"2",
                deflate: false,
            },
        ],
        false,
    );
    let cd = two.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    let first_cd_len = 46 + 1;
    let mut hidden = two[..cd].to_vec();
    hidden.extend(&two[cd + first_cd_len..two.len() - 22]);
    let mut eocd = two[two.len() - 22..].to_vec();
    eocd[8] = 1;
    eocd[10] = 1;
    eocd[12..16].copy_from_slice(&47u32.to_le_bytes());
    eocd[16..20].copy_from_slice(&(cd as u32).to_le_bytes());
    hidden.extend(eocd);
    assert!(has(
        &scan("h.zip", &hidden),
        "zip.local-only",
        Severity::High
    ));
    // CRC that does not match the data.
    let mut crc = zip(
        &[Member {
            name: "a",
            data: b"hello",
            deflate: false,
        }],
        false,
    );
    let last = crc.windows(5).position(|w| w == b"hello").unwrap();
    crc[last] = b'j';
    assert!(has(&scan("c.zip", &crc), "zip.crc", Severity::High));
    // Path traversal in a member name.
    let trav = zip(
        &[Member {
            name: "../../etc/cron.d/x",
            data: b"x",
            deflate: false,
        }],
        false,
    );
    assert!(has(&scan("t.zip", &trav), "zip.path", Severity::High));
}

/// Every prefix of a valid file gives a finding of the format category (or is too short to
/// be recognised at all), and no input panics.
fn truncations(name: &str, data: &[u8], rule: &str, valid_cuts: &[usize]) {
    for cut in (1..data.len()).filter(|c| !valid_cuts.contains(c)) {
        let f = scan_with(name, &data[..cut], 1 << 16, Default::default());
        let recognised = f.iter().any(|x| x.rule.starts_with(rule));
        let format = f
            .iter()
            .any(|x| x.category == Category::Format || x.category == Category::Archive);
        assert!(!recognised || format, "{name} cut at {cut}: {f:#?}");
        if cut >= 16 {
            assert!(
                f.iter().any(|x| x.severity >= Severity::High),
                "{name} cut at {cut} passed silently: {f:#?}"
            );
        }
    }
}

/// Offsets between top-level protobuf fields: a message cut there is a valid, smaller message.
fn top_level_boundaries(d: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    let read = |i: &mut usize| -> u64 {
        let mut v = 0u64;
        let mut s = 0;
        while *i < d.len() {
            let b = d[*i];
            *i += 1;
            v |= u64::from(b & 0x7f) << s;
            s += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        v
    };
    while i < d.len() {
        let tag = read(&mut i);
        if tag & 7 == 2 {
            let len = read(&mut i) as usize;
            i += len;
        } else {
            read(&mut i);
        }
        out.push(i);
    }
    out
}

#[test]
fn truncated_inputs_fail_closed() {
    truncations(
        "p.pkl",
        &call_pickle("collections", "OrderedDict", "x", 4),
        "pickle",
        &[],
    );
    truncations("m.pt", &torch_zip(&torch_state_dict_pickle()), "zip", &[]);
    truncations("m.safetensors", &st_ok(), "safetensors", &[]);
    truncations("m.gguf", &gguf(&[("a", "b")], 4), "gguf", &[]);
    let o = onnx("", "Relu", None, ("k", "v"));
    truncations("m.onnx", &o, "onnx", &top_level_boundaries(&o));
    truncations("a.npy", &npy("<f4", "(2,)", &[0u8; 8]), "npy", &[]);
}

#[test]
fn corrupted_inputs_never_panic() {
    let samples = [
        call_pickle("os", "system", "id", 4),
        torch_zip(&torch_state_dict_pickle()),
        st_ok(),
        gguf(&[("a", "b")], 4),
        onnx("", "Relu", Some("w.bin"), ("k", "v")),
        npy(
            "|O",
            "(1,)",
            &call_pickle("collections", "OrderedDict", "x", 2),
        ),
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for s in &samples {
        for _ in 0..300 {
            let mut d = s.clone();
            for _ in 0..3 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed as usize) % d.len();
                d[i] = (seed >> 32) as u8;
            }
            let _ = scan_with("fuzz.bin", &d, 1 + (seed as usize % 97), Default::default());
        }
    }
}

#[test]
fn template_near_misses_stay_quiet() {
    // A tokenizer vocabulary holds `{{`, `}}` and dunder tokens as separate strings.
    let vocab = br#"{"model": {"vocab": {"{{": 1, "__init__": 2, "import": 3, "}}": 4, "{%": 5, "%}": 6}}}"#;
    assert_clean("tokenizer.json", vocab);
    // ...and the same with a chat template that does inject is caught.
    let evil = br#"{"chat_template": "{{ x.__init__.__globals__ }}", "vocab": {"{{": 1}}"#;
    assert!(has(
        &scan("tokenizer_config.json", evil),
        "template.injection",
        Severity::Critical
    ));
    // Python source that mentions dunders outside template blocks.
    let py = b"class A:\n    def __init__(self):\n        import os\n        s = f'{{{self.__class__}}}'\n";
    assert_clean("modeling_a.py", py);
    // The same bytes under a template's name are rendered by a loader, so they are checked.
    assert!(has(
        &scan("chat_template.jinja", py),
        "template.injection",
        Severity::Critical
    ));
    // Padding a block does not hide it.
    let padded = format!("{{{{ {} x.__class__ }}}}", " ".repeat(100_000));
    assert!(has(
        &scan("chat_template.jinja", padded.as_bytes()),
        "template.injection",
        Severity::Critical
    ));
}

fn saved_model(ops: &[&str]) -> Vec<u8> {
    let mut graph = Vec::new();
    for op in ops {
        let mut node = Vec::new();
        field_bytes(&mut node, 1, b"n");
        field_bytes(&mut node, 2, op.as_bytes());
        field_bytes(&mut graph, 1, &node);
    }
    let mut meta = Vec::new();
    field_bytes(&mut meta, 2, &graph);
    let mut sm = Vec::new();
    field_varint(&mut sm, 1, 1);
    field_bytes(&mut sm, 2, &meta);
    sm
}

#[test]
fn saved_model_ops() {
    assert_clean(
        "saved_model.pb",
        &saved_model(&["Const", "MatMul", "SaveV2", "RestoreV2"]),
    );
    let f = scan("saved_model.pb", &saved_model(&["Const", "PyFunc"]));
    assert!(has(&f, "savedmodel.op", Severity::Critical), "{f:#?}");
    let f = scan("saved_model.pb", &saved_model(&["ReadFile", "Const"]));
    assert!(has(&f, "savedmodel.op", Severity::High), "{f:#?}");
    // An op outside the allow-list is reported, below the blocking threshold.
    let f = scan("saved_model.pb", &saved_model(&["SomeNewOp"]));
    assert!(
        f.iter()
            .any(|x| x.rule == "savedmodel.op" && x.severity == Severity::Low),
        "{f:#?}"
    );
    let bad = saved_model(&["Const"]);
    let f = scan("saved_model.pb", &bad[..bad.len() - 2]);
    assert!(has(&f, "savedmodel.malformed", Severity::High), "{f:#?}");
}

#[test]
fn gguf_inside_a_torch_style_zip() {
    // Members written with data descriptors have no size in their local header.
    let g = gguf(&[("general.name", "x")], 4000);
    let z = zip(
        &[Member {
            name: "m.gguf",
            data: &g,
            deflate: false,
        }],
        true,
    );
    assert_clean("bundle.zip", &z);
    let evil = gguf(&[("tokenizer.chat_template", "{{ x.__globals__ }}")], 8);
    let z = zip(
        &[Member {
            name: "m.gguf",
            data: &evil,
            deflate: true,
        }],
        true,
    );
    assert!(has(
        &scan("bundle.zip", &z),
        "template.injection",
        Severity::Critical
    ));
}
