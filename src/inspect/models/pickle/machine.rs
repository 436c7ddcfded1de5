//! The symbolic pickle machine: executes opcodes on a stack and memo of symbolic values,
//! recording every import and call without importing or calling anything. Its bounded
//! stack and memo are in [`super::stack`], what it records of imports and calls in
//! [`super::calls`].

pub use super::calls::is_dotted_identifier;
use super::joblib;
use super::ops::{Arg, Op, OpError};
use super::value::{describe, tuple};
pub use super::value::{Record, V};
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
pub(super) const MAX_DICT: usize = 32;

/// Outer pickle state saved while an inline (joblib object array) pickle runs.
type Saved = (Vec<V>, Vec<usize>, HashMap<u64, V>);

/// The machine. Feed it opcodes with [`Machine::exec`].
pub struct Machine {
    pub(super) limits: Limits,
    pub(super) stack: Vec<V>,
    pub(super) marks: Vec<usize>,
    pub(super) memo: HashMap<u64, V>,
    pub(super) memo_bytes: usize,
    /// String/bytes value bytes pushed in the current pickle (see `max_pushed_bytes`).
    pub(super) pushed_bytes: usize,
    pub(super) ops: u64,
    pub(super) import_index: HashMap<(String, String), usize>,
    /// Opcodes executed in the current pickle.
    pub(super) ops_in_pickle: u64,
    pub(super) saved: Vec<Saved>,
    pub rec: Record,
}

pub(super) fn fail(op: &Op, msg: impl Into<String>) -> OpError {
    OpError {
        offset: op.offset,
        msg: msg.into(),
        limit: false,
    }
}

/// One of the machine's own limits (see [`OpError::limit`]).
pub(super) fn limit(op: &Op, msg: impl Into<String>) -> OpError {
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
                let b = match &op.arg {
                    Arg::Bytes(b) => b.clone(),
                    _ => Arc::from(&[][..]),
                };
                self.text(op.offset, &b);
                self.maybe_nested(op.offset, &b, false);
                self.push(&op, V::Bytes(b))?;
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
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
