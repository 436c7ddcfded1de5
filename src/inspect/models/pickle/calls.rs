//! What the machine records of imports and calls: each global with its verdict (names
//! bounded, built ones unresolved), which were called, strings that may be code, and
//! pickles embedded in or loaded from byte strings.

use super::embedded::embedded_pickle;
use super::globals::{classify, is_unpickler, Verdict};
use super::joblib;
use super::machine::Machine;
use super::ops::Op;
use super::value::{clip, Global, Import, Nested, MAX_NAME, V};
use std::sync::Arc;

impl Machine {
    /// Record an import. A name longer than [`MAX_NAME`] is no Python name: it is kept
    /// clipped and the import is unresolved (refused), so what is kept stays small however
    /// the names were built.
    pub(super) fn import(
        &mut self,
        op: &Op,
        module: &str,
        name: &str,
        unresolved: bool,
    ) -> Arc<Global> {
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

    pub(super) fn mark_called(&mut self, g: &Global) {
        let key = (g.module.to_string(), g.name.to_string());
        if let Some(&i) = self.import_index.get(&key) {
            if let Some(imp) = self.rec.imports.get_mut(i) {
                imp.called = true;
            }
        }
    }

    pub(super) fn text(&mut self, offset: u64, b: &[u8]) {
        if b.len() >= 4 {
            self.rec.texts.push((offset, Arc::from(b)));
        }
    }

    /// Note a byte string that starts like a binary pickle (or its base64/hex text).
    pub(super) fn maybe_nested(&mut self, offset: u64, b: &[u8], loaded: bool) {
        if let Some(inner) = embedded_pickle(b) {
            self.rec.nested.push(Nested {
                offset,
                data: inner,
                loaded,
            });
        }
    }

    /// Symbolically call `f(args)`: records the call and returns the result value.
    pub(super) fn call(&mut self, op: &Op, f: &V, args: Option<&V>) -> V {
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
                Some(V::Bytes(b)) => self.maybe_nested_loaded(op.offset, b),
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
                return V::Bytes(Arc::from(b));
            }
        }
        V::Made(Some(g.clone()))
    }

    pub(super) fn maybe_nested_loaded(&mut self, offset: u64, b: &[u8]) {
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
