//! Per-thread reuse of the large byte buffers inspectors hold for one file at a time (a text
//! file's scanning window, a JSON document), so that each file does not take fresh pages
//! from the kernel, which zeroes them, only to hand them back when it ends.

use std::cell::RefCell;

/// Buffers kept per thread.
const KEEP: usize = 4;
/// Smallest buffer worth keeping (smaller ones are cheap to allocate).
const MIN_KEPT: usize = 64 << 10;
/// Largest buffer kept (a larger one is returned to the allocator).
const MAX_KEPT: usize = 16 << 20;

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with room for at least `capacity` bytes, reused when one is free.
pub fn take(capacity: usize) -> Vec<u8> {
    let reused = FREE.with(|f| f.try_borrow_mut().ok().and_then(|mut f| f.pop()));
    match reused {
        Some(mut v) => {
            v.clear();
            v.reserve(capacity);
            v
        }
        None => Vec::with_capacity(capacity),
    }
}

/// Hand a buffer back for reuse on this thread (its contents are never read again).
pub fn give(v: Vec<u8>) {
    if !(MIN_KEPT..=MAX_KEPT).contains(&v.capacity()) {
        return;
    }
    FREE.with(|f| {
        if let Ok(mut f) = f.try_borrow_mut() {
            if f.len() < KEEP {
                f.push(v);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_and_large_enough() {
        let mut v = take(100 << 10);
        v.extend_from_slice(&[7u8; 1000]);
        let cap = v.capacity();
        let ptr = v.as_ptr();
        give(v);
        let w = take(10);
        assert!(w.is_empty(), "no old contents");
        assert_eq!((w.as_ptr(), w.capacity()), (ptr, cap), "the same buffer");
        give(w);
        let big = take(1 << 20);
        assert!(big.capacity() >= 1 << 20 && big.is_empty());
        // too small or too large to keep: not pooled
        give(Vec::with_capacity(100));
        give(Vec::with_capacity(MAX_KEPT + 1));
        assert!(FREE.with(|f| f
            .borrow()
            .iter()
            .all(|b| (MIN_KEPT..=MAX_KEPT).contains(&b.capacity()))));
    }
}
