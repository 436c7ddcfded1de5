//! Known pickle-scanner bypasses, built in code in several protocols and containers: each
//! must be caught; benign PyTorch and numpy files must stay quiet.

mod model_support;

use airgate::inspect::Severity;
use model_support::*;

const PROTOS: [u8; 4] = [0, 2, 4, 5];

/// Put a pickle in every container the tests cover, named so extensions never help.
fn containers(pkl: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut odd = Vec::new();
    odd.extend(zip(
        &[Member {
            name: "weights/blob.bin",
            data: pkl,
            deflate: true,
        }],
        false,
    ));
    vec![
        ("model.txt", pkl.to_vec()),
        ("model.safetensors", torch_zip(pkl)),
        ("archive.dat", odd),
        ("array.bin", npy("|O", "(1,)", pkl)),
    ]
}

fn assert_flagged(what: &str, pkl: &[u8], min: Severity) {
    for (name, data) in containers(pkl) {
        let f = scan(name, &data);
        assert!(
            worst(&f) >= Some(min),
            "{what} in {name}: expected {min} or worse, got {f:#?}"
        );
    }
}

#[test]
fn plain_dangerous_import_every_protocol_and_container() {
    for p in PROTOS {
        assert_flagged(
            &format!("os.system p{p}"),
            &call_pickle("os", "system", "id", p),
            Severity::Critical,
        );
        assert_flagged(
            &format!("posix.system p{p}"),
            &call_pickle("posix", "system", "id", p),
            Severity::Critical,
        );
    }
}

#[test]
fn unknown_global_is_high_not_suspicious() {
    for p in PROTOS {
        let pkl = call_pickle("mycompany.models", "Net", "x", p);
        assert_flagged("unknown global", &pkl, Severity::High);
        let f = scan("m", &pkl);
        assert!(
            f.iter().all(|x| x.severity < Severity::Critical),
            "unknown globals are high: {f:#?}"
        );
    }
}

#[test]
fn dotted_name_reaches_os_system() {
    for p in [4u8, 5] {
        let pkl = call_pickle("pathlib", "os.system", "id", p);
        assert_flagged("pathlib + os.system", &pkl, Severity::Critical);
    }
    // Allowed module, dotted attribute walk out of it.
    assert_flagged(
        "torch + dotted",
        &call_pickle("torch", "FloatStorage.__reduce__", "x", 4),
        Severity::Critical,
    );
}

#[test]
fn memoised_strings_feed_stack_global() {
    // Strings stored in the memo long before STACK_GLOBAL (picklescan scans backwards for them).
    for (put, get) in [
        (b"p0\n0".to_vec(), b"g0\n".to_vec()),
        (b"q\x00".to_vec(), b"h\x00".to_vec()),
    ] {
        let mut b = b"\x80\x04".to_vec();
        b.extend(b"Vos\n");
        b.extend(&put);
        if put[0] == b'q' {
            b.push(b'0');
        }
        b.extend(b"Vtorch\n0Vsystem\np9\n0");
        b.extend(&get);
        b.extend(b"g9\n\x93(Vid\ntR.");
        assert_flagged("memoised STACK_GLOBAL", &b, Severity::Critical);
    }
    // MEMOIZE in protocol 5, names fetched with BINGET after decoys.
    let mut b = vec![0x80, 5];
    b.extend(string("subprocess", 5));
    b.push(0x94);
    b.extend(string("check_output", 5));
    b.push(0x94);
    b.extend(b"00");
    b.extend(string("collections", 5));
    b.extend(string("OrderedDict", 5));
    b.extend(b"00h\x00h\x01\x93(Vid\ntR.");
    assert_flagged("MEMOIZE STACK_GLOBAL", &b, Severity::Critical);
}

#[test]
fn discarded_call_result() {
    for p in PROTOS {
        let mut b = global("os", "system", p);
        b.extend(b"(");
        b.extend(string("id", p));
        b.extend(b"tR0N");
        assert_flagged("POPped call", &wrap(b, p), Severity::Critical);
    }
}

#[test]
fn field_notes_gadgets() {
    let gadgets = [
        ("importlib", "import_module"),
        ("inspect", "getattr_static"),
        ("marshal", "loads"),
        ("types", "FunctionType"),
        ("torch.utils.collect_env", "run"),
        ("multiprocessing.util", "spawnv_passfds"),
        ("mailcap", "findmatch"),
        ("_posixsubprocess", "fork_exec"),
        ("_pickle", "loads"),
        ("builtins", "getattr"),
        ("__builtin__", "eval"),
        ("operator", "attrgetter"),
        ("numpy.testing._private.utils", "runstring"),
        ("torch.serialization", "load"),
    ];
    for p in PROTOS {
        for (m, n) in gadgets {
            assert_flagged(
                &format!("{m}.{n} p{p}"),
                &call_pickle(m, n, "x", p),
                Severity::Critical,
            );
        }
    }
    // importlib.import_module("os") then inspect.getattr_static(<module>, "system")("id").
    let mut b = global("inspect", "getattr_static", 4);
    b.extend(b"(");
    b.extend(global("importlib", "import_module", 4));
    b.extend(b"(");
    b.extend(string("os", 4));
    b.extend(b"tR");
    b.extend(string("system", 4));
    b.extend(b"tR(");
    b.extend(string("id", 4));
    b.extend(b"tR");
    let f = scan("chain.pkl", &wrap(b, 4));
    assert!(
        f.iter()
            .filter(|x| x.severity == Severity::Critical)
            .count()
            >= 2,
        "{f:#?}"
    );
}

#[test]
fn nested_pickles_loaded_and_carried() {
    let inner = call_pickle("os", "system", "id", 2);
    for p in PROTOS {
        // pickle.loads(b"...") - the call and the inner import are both critical.
        let mut b = global("pickle", "loads", p);
        b.extend(b"(");
        b.extend(bytes(&inner, p));
        b.extend(b"tR");
        let pkl = wrap(b, p);
        assert_flagged("pickle.loads", &pkl, Severity::Critical);
        let f = scan("n.pkl", &pkl);
        assert!(
            has(&f, "pickle.nested.global", Severity::Critical),
            "inner import not seen p{p}: {f:#?}"
        );
    }
    // Carried as data (bytes constant / base64 text): the inner import is still high.
    let mut b = b"}(".to_vec();
    b.extend(string("blob", 4));
    b.extend(bytes(&inner, 4));
    b.extend(string("b64", 4));
    use base64::Engine as _;
    b.extend(string(
        &base64::engine::general_purpose::STANDARD.encode(call_pickle("builtins", "exec", "x", 4)),
        4,
    ));
    b.extend(b"u");
    let f = scan("carried.pkl", &wrap(b, 4));
    assert!(
        f.iter()
            .filter(|x| x.rule == "pickle.nested.global" && x.severity == Severity::High)
            .count()
            >= 2,
        "{f:#?}"
    );
}

#[test]
fn non_constant_global_names_fail_closed() {
    // STACK_GLOBAL whose name is the result of a call.
    let mut b = string("os", 4);
    b.extend(global("builtins", "str", 4));
    b.extend(b"(");
    b.extend(string("system", 4));
    b.extend(b"tR\x93N0N");
    let f = scan("x.pkl", &wrap(b, 4));
    assert!(
        has(&f, "pickle.global-unresolved", Severity::High),
        "{f:#?}"
    );
}

#[test]
fn several_pickles_in_one_stream() {
    for p in [2u8, 4] {
        let mut data = wrap(b"K\x01".to_vec(), p);
        data.extend(call_pickle("os", "system", "id", p));
        assert!(
            worst(&scan("multi.bin", &data)) == Some(Severity::Critical),
            "second pickle p{p} missed"
        );
    }
    // Legacy torch layout: magic, version, sys info, model, storage keys, then raw bytes.
    let magic = wrap(
        [
            0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
        ]
        .to_vec(),
        2,
    );
    let mut legacy = magic.clone();
    legacy.extend(wrap(b"M\xe9\x03".to_vec(), 2));
    legacy.extend(wrap(b"}".to_vec(), 2));
    legacy.extend(torch_state_dict_pickle());
    legacy.extend(wrap(b"]".to_vec(), 2));
    legacy.extend([0xe2u8; 64]);
    assert_clean("legacy.pt", &legacy);
    let mut evil = magic;
    evil.extend(wrap(b"M\xe9\x03".to_vec(), 2));
    evil.extend(wrap(b"}".to_vec(), 2));
    evil.extend(call_pickle("posix", "system", "id", 2));
    evil.extend(wrap(b"]".to_vec(), 2));
    assert_eq!(
        worst(&scan("legacy_evil.pt", &evil)),
        Some(Severity::Critical)
    );
}

#[test]
fn benign_torch_and_numpy_stay_quiet() {
    let sd = torch_state_dict_pickle();
    assert_clean("pytorch_model.bin", &torch_zip(&sd));
    assert_clean("state.pkl", &sd);
    let f4 = npy("<f4", "(2, 3)", &[0u8; 24]);
    assert_clean("a.npy", &f4);
    let npz = zip(
        &[
            Member {
                name: "a.npy",
                data: &f4,
                deflate: true,
            },
            Member {
                name: "b.npy",
                data: &f4,
                deflate: false,
            },
        ],
        false,
    );
    assert_clean("arrays.npz", &npz);
    // numpy array pickle (object dtype) rebuilt by numpy functions only.
    let mut b = global("numpy.core.multiarray", "_reconstruct", 2);
    b.extend(b"(");
    b.extend(global("numpy", "ndarray", 2));
    b.extend(b"K\x00\x85");
    b.extend(bytes(b"b", 2));
    b.extend(b"tR(K\x01K\x01\x85");
    b.extend(global("numpy", "dtype", 2));
    b.extend(b"(");
    b.extend(string("O8", 2));
    b.extend(b"\x89\x88tR(K\x03");
    b.extend(string("|", 2));
    b.extend(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb\x89]K\x07atb");
    let obj = npy("|O", "(1,)", &wrap(b, 2));
    assert_clean("obj.npy", &obj);
}

#[test]
fn npy_object_array_with_gadget() {
    let obj = npy(
        "|O",
        "(1,)",
        &call_pickle("ssl", "get_server_certificate", "x", 4),
    );
    assert_eq!(worst(&scan("x.npy", &obj)), Some(Severity::Critical));
    // A numeric array whose size does not match its header is malformed.
    let short = npy("<f4", "(2, 3)", &[0u8; 20]);
    assert!(has(&scan("s.npy", &short), "npy.size", Severity::High));
}

#[test]
fn pickle_strings_reach_the_text_rules() {
    let pkl = call_pickle("collections", "OrderedDict", "AKIAIOSFODNN7EXAMPLE", 4);
    let seen = recorded("m.pkl", &torch_zip(&pkl));
    assert!(
        seen.iter().any(|s| s.contains("AKIAIOSFODNN7EXAMPLE")),
        "{seen:?}"
    );
}

/// A joblib-style pickle: a list holding one NumpyArrayWrapper whose array bytes follow its
/// BUILD inline (after alignment padding), then `tail` (more list items) before the end.
fn joblib_pickle(dtype: &str, inline: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut b = b"]\x94(".to_vec();
    b.extend(global("joblib.numpy_pickle", "NumpyArrayWrapper", 4));
    b.extend(b")\x81}(");
    for (k, v) in [
        ("subclass", global("numpy", "ndarray", 4)),
        ("shape", b"K\x03\x85".to_vec()),
        ("order", string("C", 4)),
        ("dtype", {
            let mut d = global("numpy", "dtype", 4);
            d.extend(b"(");
            d.extend(string(dtype, 4));
            d.extend(b"\x89\x88tR(K\x03");
            d.extend(string("<", 4));
            d.extend(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb");
            d
        }),
        ("allow_mmap", b"\x89".to_vec()),
        ("numpy_array_alignment_bytes", b"K\x10".to_vec()),
    ] {
        b.extend(string(k, 4));
        b.extend(v);
    }
    b.extend(b"ub");
    b.extend(inline);
    b.extend(tail);
    b.extend(b"e");
    wrap(b, 4)
}

#[test]
fn joblib_inline_arrays_are_stepped_over() {
    // int64 array of 3: padding length byte, padding, 24 raw bytes (here: opcode-like junk).
    let raw: Vec<u8> = [
        vec![5u8],
        vec![0xff; 5],
        b"cos\nsystem\n(S'x'\ntR.".to_vec(),
        vec![0u8; 4],
    ]
    .concat();
    assert_eq!(raw.len() - 6, 24);
    assert_clean("model.joblib", &joblib_pickle("i8", &raw, b""));
    // Something dangerous after the array data is still seen.
    let mut tail = global("os", "system", 4);
    tail.extend(b"(");
    tail.extend(string("id", 4));
    tail.extend(b"tR");
    assert_eq!(
        worst(&scan("evil.joblib", &joblib_pickle("i8", &raw, &tail))),
        Some(Severity::Critical)
    );
    // Object arrays: joblib writes a whole protocol-2 pickle inline.
    let inner = wrap(b"]K\x01a".to_vec(), 2);
    assert_clean("obj.joblib", &joblib_pickle("O8", &inner, b""));
    let inner_evil = call_pickle("subprocess", "Popen", "id", 2);
    assert_eq!(
        worst(&scan(
            "obj_evil.joblib",
            &joblib_pickle("O8", &inner_evil, b"")
        )),
        Some(Severity::Critical)
    );
    // Array data shorter than the wrapper says: the file is malformed.
    let short = joblib_pickle("i8", &raw[..20], b"");
    assert!(has(
        &scan("short.joblib", &short),
        "pickle.malformed",
        Severity::High
    ));
}
