//! The symbolic pickle machine: executes opcodes on a stack and memo of symbolic values,
//! recording every import and call without importing or calling anything.

use super::embedded::embedded_pickle;
use super::globals::{classify, is_unpickler, Verdict};
use super::joblib;
use super::ops::{Arg, Op, OpError};
use super::value::{clip, describe, size_of, tuple, MAX_NAME};
pub use super::value::{Global, Import, Nested, Record, V};
use std::collections::HashMap;
use std::sync::Arc;

/// Limits for one pickle stream (all pickles in one file together).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Opcodes executed.
    pub max_ops: u64,
    /// Values on the stack.
    pub max_stack: usize,
    /// Nested MARKs.
    pub max_marks: usize,
    /// Memo entries.
    pub max_memo: usize,
    /// Bytes of string/bytes values held in the memo.
    pub max_memo_bytes: usize,
    /// Bytes of string/bytes values pushed in one pickle and kept as values; past it they
    /// are kept as opaque (a name built from one is then unresolved, which is refused).
    pub max_pushed_bytes: usize,
    /// Consecutive pickles in one file.
    pub max_pickles: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_ops: 1 << 27,
            max_stack: 1 << 18,
            max_marks: 1 << 16,
            max_memo: 1 << 20,
            max_memo_bytes: 64 << 20,
            max_pushed_bytes: 256 << 20,
            max_pickles: 4096,
        }
    }
}

/// `torch.save`'s legacy magic number 0x1950a86a20f9469cfc6c, little-endian.
pub const TORCH_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/// Items kept per dict.
const MAX_DICT: usize = 32;

/// Outer pickle state saved while an inline (joblib object array) pickle runs.
type Saved = (Vec<V>, Vec<usize>, HashMap<u64, V>);

/// The machine. Feed it opcodes with [`Machine::exec`].
pub struct Machine {
    limits: Limits,
    stack: Vec<V>,
    marks: Vec<usize>,
    memo: HashMap<u64, V>,
    memo_bytes: usize,
    /// String/bytes value bytes pushed in the current pickle (see `max_pushed_bytes`).
    pushed_bytes: usize,
    ops: u64,
    import_index: HashMap<(String, String), usize>,
    /// Opcodes executed in the current pickle.
    ops_in_pickle: u64,
    saved: Vec<Saved>,
    pub rec: Record,
}

fn fail(op: &Op, msg: impl Into<String>) -> OpError {
    OpError {
        offset: op.offset,
        msg: msg.into(),
        limit: false,
    }
}

/// One of the machine's own limits (see [`OpError::limit`]).
fn limit(op: &Op, msg: impl Into<String>) -> OpError {
    OpError {
        limit: true,
        ..fail(op, msg)
    }
}

impl Machine {
    /// A fresh machine.
    pub fn new(limits: Limits) -> Machine {
        Machine {
            limits,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            memo_bytes: 0,
            pushed_bytes: 0,
            ops: 0,
            import_index: HashMap::new(),
            ops_in_pickle: 0,
            saved: Vec::new(),
            rec: Record::default(),
        }
    }

    /// Whether the machine is between pickles (nothing executed since the last STOP).
    pub fn at_boundary(&self) -> bool {
        self.ops_in_pickle == 0
    }

    fn push(&mut self, op: &Op, v: V) -> Result<(), OpError> {
        if self.stack.len() >= self.limits.max_stack {
            return Err(limit(
                op,
                format!("stack exceeds {} values", self.limits.max_stack),
            ));
        }
        let v = match v {
            V::Str(_) | V::Bytes(..) => {
                let sz = size_of(&v);
                if self.pushed_bytes + sz > self.limits.max_pushed_bytes {
                    V::Opaque
                } else {
                    self.pushed_bytes += sz;
                    v
                }
            }
            v => v,
        };
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self, op: &Op) -> Result<V, OpError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(fail(op, "stack underflow"));
        }
        self.stack.pop().ok_or_else(|| fail(op, "stack underflow"))
    }

    fn pop_mark(&mut self, op: &Op) -> Result<Vec<V>, OpError> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| fail(op, "no MARK on the stack"))?;
        if m > self.stack.len() {
            return Err(fail(op, "MARK above the stack top"));
        }
        Ok(self.stack.split_off(m))
    }

    fn top(&self, op: &Op) -> Result<&V, OpError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(fail(op, "stack underflow"));
        }
        self.stack.last().ok_or_else(|| fail(op, "stack underflow"))
    }

    fn memo_put(&mut self, op: &Op, idx: u64, v: V) -> Result<(), OpError> {
        if !self.memo.contains_key(&idx) && self.memo.len() >= self.limits.max_memo {
            return Err(limit(
                op,
                format!("memo exceeds {} entries", self.limits.max_memo),
            ));
        }
        let sz = size_of(&v);
        let v = if self.memo_bytes + sz > self.limits.max_memo_bytes {
            V::Opaque
        } else {
            v
        };
        self.memo_bytes += sz.min(16);
        if let V::Str(_) | V::Bytes(..) = v {
            self.memo_bytes += sz;
        }
        self.memo.insert(idx, v);
        Ok(())
    }

    /// Record an import. A name longer than [`MAX_NAME`] is no Python name: it is kept
    /// clipped and the import is unresolved (refused), so what is kept stays small however
    /// the names were built.
    fn import(&mut self, op: &Op, module: &str, name: &str, unresolved: bool) -> Arc<Global> {
        let too_long = module.len() > MAX_NAME || name.len() > MAX_NAME;
        let unresolved = unresolved || too_long;
        let (module, name) = if too_long {
            (clip(module), clip(name))
        } else {
            (module, name)
        };
        let key = (module.to_string(), name.to_string());
        if !self.import_index.contains_key(&key) {
            let verdict = if unresolved {
                Verdict::Denied(crate::inspect::Severity::High)
            } else {
                classify(module, name)
            };
            self.import_index
                .insert(key.clone(), self.rec.imports.len());
            self.rec.imports.push(Import {
                module: key.0,
                name: key.1,
                offset: op.offset,
                verdict,
                called: false,
                unresolved,
            });
        }
        Arc::new(Global {
            module: Arc::from(module),
            name: Arc::from(name),
        })
    }

    fn mark_called(&mut self, g: &Global) {
        let key = (g.module.to_string(), g.name.to_string());
        if let Some(&i) = self.import_index.get(&key) {
            if let Some(imp) = self.rec.imports.get_mut(i) {
                imp.called = true;
            }
        }
    }

    fn text(&mut self, offset: u64, b: &[u8]) {
        if b.len() >= 4 {
            self.rec.texts.push((offset, Arc::from(b)));
        }
    }

    /// Note a byte string that starts like a binary pickle (or its base64/hex text).
    fn maybe_nested(&mut self, offset: u64, b: &[u8], loaded: bool) {
        if let Some(inner) = embedded_pickle(b) {
            self.rec.nested.push(Nested {
                offset,
                data: inner,
                loaded,
            });
        }
    }

    /// Execute one opcode.
    pub fn exec(&mut self, op: Op) -> Result<(), OpError> {
        self.ops += 1;
        self.ops_in_pickle += 1;
        if self.ops > self.limits.max_ops {
            return Err(limit(
                &op,
                format!("more than {} opcodes", self.limits.max_ops),
            ));
        }
        match op.code {
            b'(' => {
                if self.marks.len() >= self.limits.max_marks {
                    return Err(limit(&op, "too many nested MARKs"));
                }
                self.marks.push(self.stack.len());
            }
            b'.' => {
                if self.stack.is_empty() {
                    return Err(fail(&op, "STOP with an empty stack"));
                }
                if let Some((stack, marks, memo)) = self.saved.pop() {
                    // End of a joblib inline pickle: back to the outer one.
                    self.stack = stack;
                    self.marks = marks;
                    self.memo = memo;
                    return Ok(());
                }
                if self.rec.pickles == 0 {
                    if let Some(V::Big(b)) = self.stack.last() {
                        self.rec.legacy_torch =
                            b.as_ref() == TORCH_MAGIC || b.as_ref() == b"119547037146038801333356";
                    }
                }
                self.rec.pickles += 1;
                if self.rec.pickles > self.limits.max_pickles {
                    return Err(limit(&op, "too many pickles in one file"));
                }
                self.stack.clear();
                self.marks.clear();
                self.memo.clear();
                self.memo_bytes = 0;
                self.pushed_bytes = 0;
                self.ops_in_pickle = 0;
            }
            b'0' => {
                let floor = self.marks.last().copied().unwrap_or(0);
                if self.stack.len() > floor {
                    self.stack.pop();
                } else {
                    self.pop_mark(&op)?;
                }
            }
            b'1' => {
                self.pop_mark(&op)?;
            }
            b'2' => {
                let v = self.top(&op)?.clone();
                self.push(&op, v)?;
            }
            0x80 => {
                if let Arg::Index(p) = op.arg {
                    if p > 5 {
                        return Err(fail(&op, format!("unsupported pickle protocol {p}")));
                    }
                }
            }
            0x95 | 0x98 => {}
            b'N' => self.push(&op, V::None)?,
            0x88 | 0x89 => self.push(&op, V::Int(i64::from(op.code == 0x88)))?,
            b'I' | b'J' | b'K' | b'M' | b'L' | 0x8a | 0x8b => {
                let v = match &op.arg {
                    Arg::Int(i) => V::Int(*i),
                    Arg::Big(b) => V::Big(b.clone()),
                    _ => V::Opaque,
                };
                self.push(&op, v)?;
            }
            b'F' | b'G' => self.push(&op, V::Float)?,
            b'S' | b'T' | b'U' | b'V' | b'X' | 0x8c | 0x8d => {
                let s = match &op.arg {
                    Arg::Text(s) => s.clone(),
                    _ => Arc::from(""),
                };
                self.text(op.offset, s.as_bytes());
                self.maybe_nested(op.offset, s.as_bytes(), false);
                self.push(&op, V::Str(s))?;
            }
            b'B' | b'C' | 0x8e | 0x96 => {
                let (b, n) = match &op.arg {
                    Arg::Bytes(b, n) => (b.clone(), *n),
                    _ => (Arc::from(&[][..]), 0),
                };
                self.text(op.offset, &b);
                self.maybe_nested(op.offset, &b, false);
                self.push(&op, V::Bytes(b, n))?;
            }
            0x97 => self.push(&op, V::Opaque)?,
            b'}' => self.push(&op, V::Dict(Arc::new(Vec::new())))?,
            b']' | 0x8f => self.push(&op, V::Container)?,
            b')' => self.push(&op, V::Tuple(Arc::new(Vec::new())))?,
            b'a' => {
                self.pop(&op)?;
                self.top(&op)?;
            }
            b's' => {
                let v = self.pop(&op)?;
                let k = self.pop(&op)?;
                self.top(&op)?;
                self.dict_add(vec![k, v]);
            }
            b'u' => {
                let items = self.pop_mark(&op)?;
                self.top(&op)?;
                self.dict_add(items);
            }
            b'e' | 0x90 => {
                self.pop_mark(&op)?;
                self.top(&op)?;
            }
            b'd' => {
                let items = self.pop_mark(&op)?;
                self.push(&op, V::Dict(Arc::new(Vec::new())))?;
                self.dict_add(items);
            }
            b'l' | 0x91 => {
                self.pop_mark(&op)?;
                self.push(&op, V::Container)?;
            }
            b't' => {
                let items = self.pop_mark(&op)?;
                self.push(&op, tuple(items))?;
            }
            0x85..=0x87 => {
                let n = usize::from(op.code - 0x84);
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.pop(&op)?);
                }
                items.reverse();
                self.push(&op, tuple(items))?;
            }
            b'c' => {
                let Arg::Pair(m, n) = &op.arg else {
                    return Err(fail(&op, "GLOBAL without names"));
                };
                if !is_dotted_identifier(m) || !is_dotted_identifier(n) {
                    return Err(fail(&op, "GLOBAL names are not Python identifiers"));
                }
                let g = self.import(&op, m, n, false);
                self.push(&op, V::Global(g))?;
            }
            0x93 => {
                let name = self.pop(&op)?;
                let module = self.pop(&op)?;
                let g = match (&module, &name) {
                    (V::Str(m), V::Str(n)) => self.import(&op, m, n, false),
                    _ => self.import(&op, &describe(&module), &describe(&name), true),
                };
                self.push(&op, V::Global(g))?;
            }
            0x82..=0x84 => {
                let code = if let Arg::Index(c) = op.arg { c } else { 0 };
                let g = self.import(&op, "copyreg.extension", &code.to_string(), true);
                self.push(&op, V::Global(g))?;
            }
            b'i' => {
                let Arg::Pair(m, n) = &op.arg else {
                    return Err(fail(&op, "INST without names"));
                };
                if !is_dotted_identifier(m) || !is_dotted_identifier(n) {
                    return Err(fail(&op, "INST names are not Python identifiers"));
                }
                self.pop_mark(&op)?;
                let g = self.import(&op, m, n, false);
                self.mark_called(&g);
                self.push(&op, V::Made(Some(g)))?;
            }
            b'o' => {
                let mut items = self.pop_mark(&op)?;
                if items.is_empty() {
                    return Err(fail(&op, "OBJ without a class"));
                }
                let cls = items.remove(0);
                let made = self.call(&op, &cls, None);
                self.push(&op, made)?;
            }
            b'R' | 0x81 => {
                let args = self.pop(&op)?;
                let f = self.pop(&op)?;
                let made = self.call(&op, &f, Some(&args));
                self.push(&op, made)?;
            }
            0x92 => {
                let _kwargs = self.pop(&op)?;
                let args = self.pop(&op)?;
                let f = self.pop(&op)?;
                let made = self.call(&op, &f, Some(&args));
                self.push(&op, made)?;
            }
            b'b' => {
                let state = self.pop(&op)?;
                if let V::Made(Some(g)) = self.top(&op)? {
                    if &*g.module == "joblib.numpy_pickle" && &*g.name == "NumpyArrayWrapper" {
                        self.rec.joblib_array = true;
                        match joblib::after_wrapper(&state) {
                            joblib::After::Raw { len, padded } => {
                                self.rec.raw = Some((len, padded))
                            }
                            joblib::After::InlinePickle if self.saved.len() < 8 => {
                                let saved = (
                                    std::mem::take(&mut self.stack),
                                    std::mem::take(&mut self.marks),
                                    std::mem::take(&mut self.memo),
                                );
                                self.saved.push(saved);
                            }
                            // joblib writes the array's bytes next; not knowing how many,
                            // the scan would read them as opcodes and lose step with the
                            // loader, so the file is refused
                            _ => {
                                return Err(limit(
                                    &op,
                                    "a joblib NumpyArrayWrapper whose array layout cannot be \
                                     worked out (or inline pickles nested over 8 deep): the \
                                     bytes after it cannot be followed",
                                ))
                            }
                        }
                    }
                }
            }
            b'P' => self.push(&op, V::PersId)?,
            b'Q' => {
                self.pop(&op)?;
                self.push(&op, V::PersId)?;
            }
            b'p' | b'q' | b'r' => {
                let Arg::Index(i) = op.arg else {
                    return Err(fail(&op, "PUT without an index"));
                };
                let v = self.top(&op)?.clone();
                self.memo_put(&op, i, v)?;
            }
            0x94 => {
                let v = self.top(&op)?.clone();
                let i = self.memo.len() as u64;
                self.memo_put(&op, i, v)?;
            }
            b'g' | b'h' | b'j' => {
                let Arg::Index(i) = op.arg else {
                    return Err(fail(&op, "GET without an index"));
                };
                let v = self
                    .memo
                    .get(&i)
                    .cloned()
                    .ok_or_else(|| fail(&op, format!("memo key {i} missing")))?;
                self.push(&op, v)?;
            }
            other => return Err(fail(&op, format!("unknown opcode 0x{other:02x}"))),
        }
        Ok(())
    }

    /// Symbolically call `f(args)`: records the call and returns the result value.
    fn call(&mut self, op: &Op, f: &V, args: Option<&V>) -> V {
        let V::Global(g) = f else {
            return V::Made(None);
        };
        self.mark_called(g);
        let first = match args {
            Some(V::Tuple(t)) => t.first().cloned(),
            _ => None,
        };
        if is_unpickler(&g.module, &g.name) {
            match &first {
                Some(V::Bytes(b, _)) => self.maybe_nested_loaded(op.offset, b),
                Some(V::Str(s)) => self.maybe_nested_loaded(op.offset, s.as_bytes()),
                _ => {}
            }
        }
        if matches!(
            &*g.module,
            "numpy" | "numpy.core.multiarray" | "numpy._core.multiarray"
        ) && &*g.name == "dtype"
        {
            if let Some(V::Str(s)) = &first {
                if let Some(size) = joblib::itemsize(s) {
                    return V::Dtype(size);
                }
            }
        }
        if &*g.module == "_codecs" && &*g.name == "encode" {
            if let Some(V::Str(s)) = &first {
                // latin-1 encoding of text made of code points < 256 (how protocol 2 stores bytes).
                let b: Vec<u8> = s.chars().map(|c| (u32::from(c) & 0xff) as u8).collect();
                self.maybe_nested(op.offset, &b, false);
                let n = b.len() as u64;
                return V::Bytes(Arc::from(b), n);
            }
        }
        V::Made(Some(g.clone()))
    }

    fn maybe_nested_loaded(&mut self, offset: u64, b: &[u8]) {
        let inner = embedded_pickle(b).unwrap_or_else(|| Arc::from(b));
        self.rec.nested.push(Nested {
            offset,
            data: inner,
            loaded: true,
        });
    }
}

/// A dotted Python identifier (`os.path`, `Bdb.run`): what `find_class` can resolve.
pub fn is_dotted_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            let mut c = part.chars();
            c.next().is_some_and(|f| f == '_' || f.is_alphabetic())
                && c.all(|x| x == '_' || x.is_alphanumeric())
        })
}

impl Machine {
    /// Add key/value items to the dict on top of the stack (kept while small).
    fn dict_add(&mut self, items: Vec<V>) {
        let Some(top) = self.stack.last_mut() else {
            return;
        };
        if let V::Dict(d) = top {
            if d.len() + items.len() / 2 > MAX_DICT {
                *top = V::Container;
                return;
            }
            let d = Arc::make_mut(d);
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                d.push((k, v));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ops::{Control, Tokenizer};
    use super::*;

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
}
