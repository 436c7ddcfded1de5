//! Pickles carried inside another pickle's strings: binary, base64 or hex.

use std::sync::Arc;

/// If `b` is a binary pickle, or the base64 or hex text of one, return the pickle bytes.
pub fn embedded_pickle(b: &[u8]) -> Option<Arc<[u8]>> {
    let is_bin = |x: &[u8]| {
        x.len() >= 4 && x[0] == 0x80 && (2..=5).contains(&x[1]) && x.last() == Some(&b'.')
    };
    if is_bin(b) {
        return Some(Arc::from(b));
    }
    if b.len() >= 8 && b.starts_with(b"gA") && matches!(b[2], b'J' | b'N' | b'R' | b'S' | b'V') {
        use base64::Engine as _;
        let t: Vec<u8> = b
            .iter()
            .copied()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        if let Ok(d) = base64::engine::general_purpose::STANDARD.decode(&t) {
            if is_bin(&d) {
                return Some(Arc::from(d));
            }
        }
    }
    if b.len() >= 8 && (b.starts_with(b"800") || b.starts_with(b"\\x80")) {
        let t: Vec<u8> = b
            .iter()
            .copied()
            .filter(|c| c.is_ascii_hexdigit())
            .collect();
        if let Ok(d) = hex::decode(&t) {
            if is_bin(&d) {
                return Some(Arc::from(d));
            }
        }
    }
    None
}
