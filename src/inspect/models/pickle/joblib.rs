//! joblib pickles: after each `NumpyArrayWrapper` is built, joblib writes the array's raw
//! bytes (after an optional alignment padding) or, for object arrays, a whole inline pickle,
//! straight into the stream. The machine computes how many raw bytes to step over from the
//! wrapper's state (shape, dtype, alignment).

use super::machine::V;

/// What follows a wrapper's BUILD in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// `len` raw bytes; `padded`: a padding-length byte and that many bytes come first.
    Raw { len: u64, padded: bool },
    /// A complete pickle of an object array.
    InlinePickle,
    /// The state could not be understood.
    Unknown,
}

/// Bytes per element of a numpy dtype string as `numpy.dtype(...)` receives it when
/// unpickled (`"f8"`, `"<i4"`, `"U5"`, `"O8"`); `Some(None)` for object dtypes.
pub fn itemsize(descr: &str) -> Option<Option<u64>> {
    let d = descr.trim_start_matches(['<', '>', '|', '=']);
    let kind = d.chars().next()?;
    if kind == 'O' {
        return Some(None);
    }
    if kind == '?' {
        return Some(Some(1));
    }
    let digits: String = d[kind.len_utf8()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let n: u64 = digits.parse().ok()?;
    match kind {
        'U' => n.checked_mul(4).map(Some),
        'b' | 'i' | 'u' | 'f' | 'c' | 'S' | 'V' | 'm' | 'M' | 'a' => Some(Some(n)),
        _ => None,
    }
}

fn get<'a>(state: &'a [(V, V)], key: &str) -> Option<&'a V> {
    state
        .iter()
        .find(|(k, _)| matches!(k, V::Str(s) if &**s == key))
        .map(|(_, v)| v)
}

/// Interpret a wrapper's state dict.
pub fn after_wrapper(state: &V) -> After {
    let V::Dict(d) = state else {
        return After::Unknown;
    };
    let size = match get(d, "dtype") {
        Some(V::Dtype(s)) => *s,
        _ => return After::Unknown,
    };
    let Some(size) = size else {
        return After::InlinePickle;
    };
    let Some(V::Tuple(shape)) = get(d, "shape") else {
        return After::Unknown;
    };
    let mut n: u64 = 1;
    for dim in shape.iter() {
        let V::Int(x) = dim else {
            return After::Unknown;
        };
        let Ok(x) = u64::try_from(*x) else {
            return After::Unknown;
        };
        let Some(m) = n.checked_mul(x) else {
            return After::Unknown;
        };
        n = m;
    }
    let Some(len) = n.checked_mul(size) else {
        return After::Unknown;
    };
    let padded = match get(d, "numpy_array_alignment_bytes") {
        None => false,
        Some(V::Int(_)) => true,
        // present but not understood: where the raw bytes start is unknown
        Some(_) => return After::Unknown,
    };
    After::Raw { len, padded }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_sizes() {
        assert_eq!(itemsize("f8"), Some(Some(8)));
        assert_eq!(itemsize("<i4"), Some(Some(4)));
        assert_eq!(itemsize("U5"), Some(Some(20)));
        assert_eq!(itemsize("O8"), Some(None));
        assert_eq!(itemsize("b1"), Some(Some(1)));
        assert_eq!(itemsize("x"), None);
    }
}
