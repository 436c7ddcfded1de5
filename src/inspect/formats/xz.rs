//! xz and lzma-alone streams, found by their headers, decoded by liblzma (the decoder
//! `xz -d` runs) with a memory limit that caps the dictionary.
//!
//! xz has a magic (`FD 37 7A 58 5A 00`, then stream flags whose first byte is 0). The
//! lzma-alone format has none: a properties byte (lc + lp * 9 + pb * 45, with lc + lp <= 4
//! and pb <= 4), a 4-byte dictionary size, an 8-byte uncompressed size (or all ones for
//! "unknown"), then the range coder whose first byte is always 0. [`lzma_alone`] accepts
//! only headers that liblzma's strict mode accepts (a dictionary of 2^n or 2^n + 2^(n-1)
//! bytes, a known size below 2^38), and further only dictionaries of 64 KiB or more and
//! known sizes above zero, so zero-filled binary headers do not pass for lzma.

use std::io::Write;

/// Largest dictionary decoded (what `xz -9` and `xz --format=lzma -9` use).
pub const MAX_DICT: u32 = 64 << 20;
/// liblzma's memory limit: the dictionary plus the decoder's own state.
pub const MEMLIMIT: u64 = MAX_DICT as u64 + (16 << 20);

/// xz stream magic.
pub const XZ_MAGIC: &[u8; 6] = &[0xfd, b'7', b'z', b'X', b'Z', 0];

/// Whether `head` starts an xz stream.
pub fn is_xz(head: &[u8]) -> bool {
    head.len() >= 12 && head.starts_with(XZ_MAGIC) && head[6] == 0 && head[7] & 0xf0 == 0
}

/// An lzma-alone header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LzmaHeader {
    pub dict: u32,
    /// Uncompressed size, when the header states it.
    pub size: Option<u64>,
}

/// Parse and validate an lzma-alone header at the start of `head`.
pub fn lzma_alone(head: &[u8]) -> Option<LzmaHeader> {
    if head.len() < 14 {
        return None;
    }
    let props = head[0];
    if props >= 9 * 5 * 5 {
        return None;
    }
    let (lc, lp, pb) = (props % 9, (props / 9) % 5, props / 45);
    if lc + lp > 4 || pb > 4 {
        return None;
    }
    let dict = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
    // (liblzma takes 4 KiB; every encoder preset uses 64 KiB or more, and the tighter floor
    // keeps zero-filled binary headers from passing for lzma)
    if dict == u32::MAX || dict < 64 << 10 {
        return None;
    }
    let n = 31 - dict.leading_zeros();
    if dict != 1 << n && (n == 0 || dict != (1 << n) + (1 << (n - 1))) {
        return None;
    }
    let mut s = [0u8; 8];
    s.copy_from_slice(&head[5..13]);
    let size = u64::from_le_bytes(s);
    let size = if size == u64::MAX {
        None
    } else if size == 0 || size >= 1 << 38 {
        return None;
    } else {
        Some(size)
    };
    // the range decoder's first input byte is always zero
    if head[13] != 0 {
        return None;
    }
    Some(LzmaHeader { dict, size })
}

/// An xz decoder writing into `w`: concatenated streams, dictionary capped by [`MEMLIMIT`].
pub fn xz_decoder<W: Write>(w: W) -> std::io::Result<liblzma::write::XzDecoder<W>> {
    let s = liblzma::stream::Stream::new_stream_decoder(MEMLIMIT, liblzma::stream::CONCATENATED)?;
    Ok(liblzma::write::XzDecoder::new_stream(w, s))
}

/// An lzma-alone decoder writing into `w`, dictionary capped by [`MEMLIMIT`].
pub fn lzma_decoder<W: Write>(w: W) -> std::io::Result<liblzma::write::XzDecoder<W>> {
    let s = liblzma::stream::Stream::new_lzma_decoder(MEMLIMIT)?;
    Ok(liblzma::write::XzDecoder::new_stream(w, s))
}

/// Whether a decoder error is liblzma refusing a dictionary over the memory limit.
pub fn is_memlimit(e: &std::io::Error) -> bool {
    e.get_ref()
        .and_then(|x| x.downcast_ref::<liblzma::stream::Error>())
        .is_some_and(|x| matches!(x, liblzma::stream::Error::MemLimit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_lzma(data: &[u8], dict: u32) -> Vec<u8> {
        let mut o = liblzma::stream::LzmaOptions::new_preset(1).expect("preset");
        o.dict_size(dict);
        let s = liblzma::stream::Stream::new_lzma_encoder(&o).expect("encoder");
        let mut e = liblzma::write::XzEncoder::new_stream(Vec::new(), s);
        e.write_all(data).expect("write");
        e.finish().expect("finish")
    }

    #[test]
    fn lzma_alone_headers() {
        let enc = encode_lzma(b"hello hello hello", 1 << 20);
        let h = lzma_alone(&enc).expect("valid header");
        assert_eq!(h.dict, 1 << 20);
        // near misses: a text file, a bad properties byte, an odd dictionary size
        assert_eq!(lzma_alone(b"]\0\0\x80\0hello world, this is text"), None);
        let mut bad = enc.clone();
        bad[0] = 225;
        assert_eq!(lzma_alone(&bad), None);
        let mut odd = enc.clone();
        odd[1..5].copy_from_slice(&(1_000_000u32).to_le_bytes());
        assert_eq!(lzma_alone(&odd), None);
        let mut nz = enc.clone();
        nz[13] = 1;
        assert_eq!(lzma_alone(&nz), None);
        // a zero-filled binary header (props 0, 4 KiB, size 0) is not lzma
        let mut zeros = vec![0u8; 64];
        zeros[2] = 0x10;
        assert_eq!(lzma_alone(&zeros), None);
    }

    #[test]
    fn decodes_and_caps_the_dictionary() {
        let data = b"some text to compress ".repeat(100);
        let enc = encode_lzma(&data, 1 << 20);
        let mut d = lzma_decoder(Vec::new()).expect("decoder");
        d.write_all(&enc).expect("decode");
        assert_eq!(d.finish().expect("finish"), data);
        // a header that asks for a 1.5 GiB dictionary is refused by the memory limit
        let mut big = enc.clone();
        big[1..5].copy_from_slice(&(3u32 << 29).to_le_bytes());
        assert!(
            lzma_alone(&big).is_some(),
            "the header itself is well formed"
        );
        let mut d = lzma_decoder(Vec::new()).expect("decoder");
        let e = d.write_all(&big).expect_err("over the limit");
        assert!(is_memlimit(&e), "{e}");
    }
}
