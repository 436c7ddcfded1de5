//! Little-endian field readers for zip headers (short reads give 0) and the zip64
//! extra field.

pub(crate) fn u16le(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |x| u16::from_le_bytes([x[0], x[1]]))
}
pub(crate) fn u32le(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |x| u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
}
pub(crate) fn u64le(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |x| {
        let mut a = [0u8; 8];
        a.copy_from_slice(x);
        u64::from_le_bytes(a)
    })
}

/// Read zip64 sizes/offset out of an extra field, for the values that were 0xFFFFFFFF.
pub(crate) fn zip64_extra(extra: &[u8], want: &mut [&mut u64]) {
    let mut i = 0;
    while i + 4 <= extra.len() {
        let id = u16le(extra, i);
        let len = usize::from(u16le(extra, i + 2));
        let body = extra.get(i + 4..i + 4 + len).unwrap_or(&[]);
        if id == 1 {
            let mut at = 0;
            for w in want.iter_mut() {
                if **w == 0xffff_ffff {
                    if at + 8 <= body.len() {
                        **w = u64le(body, at);
                    }
                    at += 8;
                }
            }
            return;
        }
        i += 4 + len;
    }
}
