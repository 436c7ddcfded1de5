//! Tests of the symbolic pickle machine.

use super::super::ops::{Control, Tokenizer};
use super::*;
use crate::inspect::models::pickle::value::{size_of, MAX_NAME};

/// Run `data` through a machine with `limits`.
fn run(data: &[u8], limits: Limits) -> Machine {
    let mut m = Machine::new(limits);
    let mut t = Tokenizer::new(0);
    let _ = t.feed(data, &mut |op| match m.exec(op) {
        Ok(()) => Control::Continue,
        Err(_) => Control::Stop,
    });
    m
}

/// A chain of tuples each holding the previous one twice (DUP, TUPLE2, MEMOIZE) is small
/// but exponential to walk: sizing it for the memo budget used to hang on 123 bytes (40
/// steps). Now it is sized within a fixed number of visits and memoized as opaque. The
/// near miss: a short chain is sized exactly and memoized as it is.
#[test]
fn shared_tuple_chains_are_sized_in_bounded_time() {
    // 20 steps: before the fix this took 2^21 visits and memoized the chain whole (40
    // steps never finished); now sizing stops at the visit budget
    let mut p = vec![0x80, 0x04, b')'];
    for _ in 0..20 {
        p.extend_from_slice(&[b'2', 0x86, 0x94]); // DUP, TUPLE2, MEMOIZE
    }
    // (no STOP: the memo is looked at as the last opcode left it)
    let m = run(&p, Limits::default());
    assert_eq!(m.memo.len(), 20);
    assert!(
        m.memo.values().any(|v| matches!(v, V::Opaque)),
        "the deep chain is kept opaque"
    );
    assert_eq!(size_of(&V::Tuple(Arc::new(vec![]))), 16);
    let short = {
        let t0 = V::Tuple(Arc::new(vec![]));
        V::Tuple(Arc::new(vec![t0.clone(), t0]))
    };
    assert_eq!(size_of(&short), 48);
    let m = run(&[0x80, 0x04, b')', b'2', 0x86, 0x94], Limits::default());
    assert_eq!(m.memo.len(), 1);
    assert!(m.memo.values().all(|v| matches!(v, V::Tuple(_))));
}

/// Globals named after globals (DUP, STACK_GLOBAL, again and again) no longer double
/// their names at every step (24 steps made a 100 MB name; the fuzzer's 279 bytes asked
/// for 8 GB).
/// The names stay short and the globals are unresolved, so refused. The near miss: a
/// plain STACK_GLOBAL of two real names is resolved.
#[test]
fn globals_named_after_globals_stay_small() {
    let mut p = vec![0x80, 0x04];
    for name in ["os", "system"] {
        p.push(0x8c);
        p.push(name.len() as u8);
        p.extend_from_slice(name.as_bytes());
    }
    p.push(0x93);
    let plain = run(&p, Limits::default());
    assert!(
        plain.rec.imports.iter().all(|i| !i.unresolved),
        "{:?}",
        plain.rec.imports
    );
    for _ in 0..24 {
        p.push(b'2'); // DUP
        p.push(0x93); // STACK_GLOBAL of (global, global)
    }
    p.push(b'.');
    let m = run(&p, Limits::default());
    assert!(m.rec.imports.len() > 24, "{}", m.rec.imports.len());
    assert!(
        m.rec.imports[1..].iter().all(|i| i.unresolved
            && i.module.len() <= 3 * MAX_NAME
            && i.name.len() <= 3 * MAX_NAME),
        "names grew: {:?}",
        m.rec.imports.iter().map(|i| i.name.len()).max()
    );
    // a literal name too long to be a Python name is clipped and refused too
    let mut q = vec![0x80, 0x04, 0x8c, 2, b'o', b's', 0x8d];
    q.extend_from_slice(&5000u64.to_le_bytes());
    q.extend(std::iter::repeat_n(b'x', 5000));
    q.push(0x93);
    let m = run(&q, Limits::default());
    assert!(
        m.rec
            .imports
            .iter()
            .any(|i| i.unresolved && i.name.len() <= MAX_NAME),
        "{:?}",
        m.rec
            .imports
            .iter()
            .map(|i| (i.unresolved, i.name.len()))
            .collect::<Vec<_>>()
    );
}

/// Past the byte budget for pushed strings, values are opaque: memory stays bounded,
/// and a global whose name was built from such a value is unresolved, so refused.
#[test]
fn pushed_bytes_past_the_budget_become_opaque() {
    let mut p = vec![0x80, 0x04];
    for _ in 0..8 {
        // SHORT_BINUNICODE of 200 bytes, then POP
        p.push(0x8c);
        p.push(200);
        p.extend(std::iter::repeat_n(b'a', 200));
        p.push(b'0');
    }
    // then STACK_GLOBAL of two short names
    for name in ["os", "system"] {
        p.push(0x8c);
        p.push(name.len() as u8);
        p.extend_from_slice(name.as_bytes());
    }
    p.push(0x93);
    let small = Limits {
        max_pushed_bytes: 1000,
        ..Limits::default()
    };
    let m = run(&p, small);
    assert!(
        m.rec.imports.iter().any(|i| i.unresolved),
        "{:?}",
        m.rec.imports
    );
    // the near-miss: within the budget the same global is resolved, and denied
    let m = run(&p, Limits::default());
    assert!(
        m.rec
            .imports
            .iter()
            .any(|i| !i.unresolved && &*i.module == "os" && &*i.name == "system"),
        "{:?}",
        m.rec.imports
    );
}
