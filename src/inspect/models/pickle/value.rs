//! The values the symbolic pickle machine keeps (strings, tuples, globals, what calling a
//! global made, opaque values) and what it records about a file (imports, nested pickles).

use super::globals::Verdict;
use std::sync::Arc;

/// A global as the pickle names it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Global {
    pub module: Arc<str>,
    pub name: Arc<str>,
}

/// A symbolic value.
#[derive(Clone, Debug)]
pub enum V {
    None,
    Int(i64),
    Big(Arc<[u8]>),
    Float,
    Str(Arc<str>),
    /// Bytes (a prefix when the pickle held more, see `ops::Arg::Bytes`).
    Bytes(Arc<[u8]>),
    Global(Arc<Global>),
    /// Result of calling or instantiating a global (`None`: callee unknown).
    Made(Option<Arc<Global>>),
    /// A short tuple whose items are kept (call arguments).
    Tuple(Arc<Vec<V>>),
    Container,
    /// A small dict whose items are kept (joblib wrapper state).
    Dict(Arc<Vec<(V, V)>>),
    /// A numpy dtype: bytes per element, `None` for object dtypes.
    Dtype(Option<u64>),
    PersId,
    Opaque,
}

/// One imported global and what the pickle did with it.
#[derive(Clone, Debug)]
pub struct Import {
    pub module: String,
    pub name: String,
    pub offset: u64,
    pub verdict: Verdict,
    pub called: bool,
    /// The names came from non-constant values (could not be resolved).
    pub unresolved: bool,
}

/// A byte string that is itself a pickle.
#[derive(Clone, Debug)]
pub struct Nested {
    pub offset: u64,
    pub data: Arc<[u8]>,
    /// Passed to an unpickling function (`pickle.loads`...), not just carried as data.
    pub loaded: bool,
}

/// What the machine saw.
#[derive(Default, Debug)]
pub struct Record {
    pub imports: Vec<Import>,
    pub nested: Vec<Nested>,
    /// String constants, for the text rules: (offset, bytes).
    pub texts: Vec<(u64, Arc<[u8]>)>,
    /// Complete pickles seen (STOP executed).
    pub pickles: u32,
    /// The first pickle was the legacy torch magic number.
    pub legacy_torch: bool,
    /// A joblib `NumpyArrayWrapper` was built: joblib writes raw array bytes right after it.
    pub joblib_array: bool,
    /// Raw bytes (length, padded) the tokenizer must step over now.
    pub raw: Option<(u64, bool)>,
}

/// Values looked at when sizing one value. Tuples share their items (DUP, memo), so a chain
/// of tuples each holding the last one twice is small in memory but exponential to walk:
/// past this many values the size is taken as too large (the value is then kept opaque).
const SIZE_VISITS: usize = 4096;

/// Bytes a value accounts for (strings and bytes by length, everything else 16), or a size
/// over any limit when it holds more than [`SIZE_VISITS`] values, counting shared ones again.
pub(super) fn size_of(v: &V) -> usize {
    let mut budget = SIZE_VISITS;
    sized(v, &mut budget)
}

fn sized(v: &V, budget: &mut usize) -> usize {
    const TOO_LARGE: usize = usize::MAX / 4;
    if *budget == 0 {
        return TOO_LARGE;
    }
    *budget -= 1;
    match v {
        V::Str(s) => s.len(),
        V::Bytes(b) => b.len(),
        V::Tuple(t) => t
            .iter()
            .fold(16usize, |a, x| a.saturating_add(sized(x, budget)))
            .min(TOO_LARGE),
        _ => 16,
    }
}

/// Items of a tuple kept as a value (numpy arrays have at most 64 dimensions).
const MAX_TUPLE: usize = 64;

pub(super) fn tuple(items: Vec<V>) -> V {
    if items.len() <= MAX_TUPLE {
        V::Tuple(Arc::new(items))
    } else {
        V::Container
    }
}

/// Longest module or attribute name taken as it is. Real ones are short; a longer one
/// (or one built from another global's description) is only described, clipped to this
/// length, and the global is unresolved, so refused. Without the clip, describing globals
/// named after globals doubles the name at every step: a few hundred bytes of pickle asked
/// for gigabytes.
pub(super) const MAX_NAME: usize = 256;

/// `s` cut to at most [`MAX_NAME`] bytes (on a character boundary), marked when cut.
pub(super) fn clip(s: &str) -> &str {
    if s.len() <= MAX_NAME {
        return s;
    }
    let mut end = MAX_NAME;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A short description of a value used where a name was expected (at most a few times
/// [`MAX_NAME`] bytes, whatever the value).
pub(super) fn describe(v: &V) -> String {
    let cut = |s: &str| {
        if s.len() > MAX_NAME {
            format!("{}...", clip(s))
        } else {
            s.to_string()
        }
    };
    match v {
        V::Str(s) => cut(s),
        V::Opaque => "<value dropped at memo limit>".into(),
        V::Made(Some(g)) => format!("<result of {}.{}>", cut(&g.module), cut(&g.name)),
        V::Global(g) => format!("<{}.{}>", cut(&g.module), cut(&g.name)),
        _ => "<non-string>".into(),
    }
}
