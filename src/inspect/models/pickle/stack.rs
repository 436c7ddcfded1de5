//! The machine's stack and memo: pushing, popping and memoizing symbolic values within the
//! byte and count budgets of [`Limits`](super::machine::Limits), and the small dicts it
//! keeps.

use super::machine::{fail, limit, Machine, MAX_DICT};
use super::ops::{Op, OpError};
use super::value::{size_of, V};
use std::sync::Arc;

impl Machine {
    pub(super) fn push(&mut self, op: &Op, v: V) -> Result<(), OpError> {
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

    pub(super) fn pop(&mut self, op: &Op) -> Result<V, OpError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(fail(op, "stack underflow"));
        }
        self.stack.pop().ok_or_else(|| fail(op, "stack underflow"))
    }

    pub(super) fn pop_mark(&mut self, op: &Op) -> Result<Vec<V>, OpError> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| fail(op, "no MARK on the stack"))?;
        if m > self.stack.len() {
            return Err(fail(op, "MARK above the stack top"));
        }
        Ok(self.stack.split_off(m))
    }

    pub(super) fn top(&self, op: &Op) -> Result<&V, OpError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(fail(op, "stack underflow"));
        }
        self.stack.last().ok_or_else(|| fail(op, "stack underflow"))
    }

    pub(super) fn memo_put(&mut self, op: &Op, idx: u64, v: V) -> Result<(), OpError> {
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

    /// Add key/value items to the dict on top of the stack (kept while small).
    pub(super) fn dict_add(&mut self, items: Vec<V>) {
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
