//! Base64 inside text: runs are found with a strided probe and measured a word at a time,
//! decoded (whole, in pieces, across streaming steps when the caller carries them) and the
//! decoded text rescanned by the text rules, a few levels deep.

use super::matcher::{self, le_word, word_at, HI, ONES};
use super::TextScanner;
use crate::inspect::{Category, Finding, Severity};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

/// Shortest base64 run that is decoded and rescanned.
pub(super) const MIN_B64: usize = 32;
/// Most encoded bytes of one base64 run that are decoded.
const MAX_B64: usize = 256 << 10;
/// Most nested base64 layers decoded and scanned; text found one layer deeper is refused
/// (`encoding.too-deep`), not ignored.
pub(super) const MAX_B64_DEPTH: u32 = 3;

/// Longest base64 run carried across steps to be decoded whole.
pub const MAX_RUN: usize = 64 << 20;

/// Whether `b` is in the base64 alphabets (standard or URL-safe).
pub fn b64_byte(b: u8) -> bool {
    TABLE[b as usize]
}

/// The finding for a run too long to carry.
pub fn run_too_long(path: &str, at: u64) -> Finding {
    Finding::new(
        path,
        "encoding.too-long",
        Category::Format,
        Severity::High,
        format!(
            "a base64 run longer than {} MiB: it is not decoded whole, so it is refused",
            MAX_RUN >> 20
        ),
        b"",
    )
    .at_offset(at)
}

/// The base64 alphabets (standard and URL-safe), by byte.
static TABLE: [bool; 256] = b64_table();

const fn b64_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_');
        b += 1;
    }
    t
}

impl TextScanner {
    /// Decode and scan one whole base64 run at file offset `at` (one that
    /// [`scan_region`](Self::scan_region) left open).
    pub fn scan_base64_run(&self, path: &str, run: &[u8], at: u64, out: &mut Vec<Finding>) {
        if run.len() >= MIN_B64 && mixed(run) {
            self.decode_run(path, run, at, 0, out);
        }
    }

    /// Decode base64 runs that start in `buf[from..to]` and rescan what decodes to text.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn scan_base64(
        &self,
        path: &str,
        buf: &[u8],
        from: usize,
        to: usize,
        base: u64,
        depth: u32,
        open: &mut Option<Option<usize>>,
        out: &mut Vec<Finding>,
    ) {
        let t = &TABLE;
        let n = buf.len();
        let end = to.min(n);
        // Probe every STRIDE-th byte. A run of at least MIN_B64 = STRIDE + REACH base64 bytes
        // holds its first probe p within its first STRIDE bytes, so all of buf[p..=p+REACH]
        // is base64: only where that holds is the run measured. (Prose and code fail the
        // test within a few bytes; a longer stride with a shorter reach costs fewer probes
        // but passes more often, and each pass measures a run.)
        const STRIDE: usize = 24;
        const REACH: usize = MIN_B64 - STRIDE;
        let mut p = from;
        while p < end {
            // the window's last byte alone turns most prose and code away; the rest of it is
            // tested a word at a time
            // Branch-free: in code and prose the two lone bytes pass about half the time,
            // which a branch per test would mispredict; all three together pass rarely.
            let whole = match buf.get(p..=p + REACH) {
                Some(win) => {
                    t[win[REACH] as usize]
                        & t[win[0] as usize]
                        & (b64_bad(le_word(&win[1..9])) == 0)
                }
                None => false,
            };
            if !whole {
                p += STRIDE;
                continue;
            }
            // measure the run a word at a time, then byte by byte near its ends
            let mut a = p;
            while a >= 8 {
                let m = word_at(buf, a - 8).map_or(HI, b64_bad);
                if m != 0 {
                    a -= (m.leading_zeros() / 8) as usize;
                    break;
                }
                a -= 8;
            }
            if a < 8 {
                while a > 0 && t[buf[a - 1] as usize] {
                    a -= 1;
                }
            }
            let mut b = p + REACH + 1;
            loop {
                match word_at(buf, b) {
                    Some(w) => {
                        let m = b64_bad(w);
                        if m != 0 {
                            b += (m.trailing_zeros() / 8) as usize;
                            break;
                        }
                        b += 8;
                    }
                    None => {
                        while b < n && t[buf[b] as usize] {
                            b += 1;
                        }
                        break;
                    }
                }
            }
            // a run that began before `from` belongs to the previous region
            if a >= from && b == n {
                if let Some(slot) = open.as_mut() {
                    // the run may go on past `buf`: the caller decodes it whole
                    *slot = Some(a);
                    p = b;
                    continue;
                }
            }
            if a >= from && b - a >= MIN_B64 && mixed(&buf[a..b]) {
                self.decode_run(path, &buf[a..b], base + a as u64, depth, out);
            }
            p = b;
        }
    }

    /// Decode a base64 run and text-scan what it holds, [`MAX_B64`] encoded bytes at a time
    /// with an overlap, so a long run is decoded to its end and a match across two pieces
    /// is whole in the first (each piece reports only matches that start in its own part).
    /// A piece that decodes to binary is skipped, but NUL bytes do not count towards that,
    /// so padding a payload with them does not hide it.
    fn decode_run(&self, path: &str, run: &[u8], at: u64, depth: u32, out: &mut Vec<Finding>) {
        let url = run.iter().any(|&b| b == b'-' || b == b'_');
        let cfg = GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent);
        let alphabet = if url {
            &base64::alphabet::URL_SAFE
        } else {
            &base64::alphabet::STANDARD
        };
        let engine = GeneralPurpose::new(alphabet, cfg);
        let inner = format!("{path}!base64@{at}");
        // encoded bytes of overlap: decodes to more than a match can span
        const B64_OVERLAP: usize = 4 * (matcher::OVERLAP / 3 + 1);
        let mut start = 0usize;
        while start < run.len() {
            let own = (run.len() - start).min(MAX_B64);
            let piece = &run[start..(start + own + B64_OVERLAP).min(run.len())];
            // a lone last character decodes to nothing
            let usable = piece.len() - usize::from(piece.len() % 4 == 1);
            let Ok(decoded) = engine.decode(&piece[..usable]) else {
                return;
            };
            if decoded.len() < 16 {
                return;
            }
            // binary (certificates, images) is not text; NUL bytes do not count either way,
            // so padding a script with them does not make it binary
            let printable = decoded
                .iter()
                .filter(|&&b| matcher::PRINTABLE[b as usize])
                .count();
            let non_nul = decoded.iter().filter(|&&b| b != 0).count();
            if printable * 10 < non_nul * 9 {
                start += own;
                continue;
            }
            if depth >= MAX_B64_DEPTH {
                out.push(
                    Finding::new(
                        path,
                        "encoding.too-deep",
                        Category::Format,
                        Severity::High,
                        format!(
                            "base64 nested more than {MAX_B64_DEPTH} levels deep decodes to \
                             text: it is not inspected, so it is refused"
                        ),
                        b"",
                    )
                    .at_offset(at),
                );
                return;
            }
            let own_decoded = (own / 4 * 3).min(decoded.len());
            self.scan_depth(
                &inner,
                &decoded,
                0,
                own_decoded,
                (start / 4 * 3) as u64,
                // lines are counted in the first piece (later ones would need the count)
                (start == 0).then_some(1),
                depth + 1,
                &mut None,
                out,
            );
            start += own;
        }
    }
}

/// Whether a base64-looking run mixes upper case, lower case and digits (prose and
/// identifiers rarely do).
fn mixed(run: &[u8]) -> bool {
    run.iter().any(u8::is_ascii_uppercase)
        && run.iter().any(u8::is_ascii_lowercase)
        && run.iter().any(u8::is_ascii_digit)
}

/// Bit 7 set in each byte of `w` that is not in the base64 alphabets (`A-Z a-z 0-9 + / - _`,
/// the same bytes as `b64_table`); exact and branch-free: every step works on 7-bit values,
/// so no carry crosses into the next byte.
#[inline(always)]
fn b64_bad(w: u64) -> u64 {
    const LOW7: u64 = ONES * 0x7f;
    let x = w & LOW7;
    // v >= lo and v <= hi, per byte, for 7-bit v
    let ge = |v: u64, lo: u64| (v + ONES * (0x80 - lo)) & HI;
    let le = |v: u64, hi: u64| !(v + ONES * (0x7f - hi)) & HI;
    let eq = |c: u8| {
        let y = x ^ (ONES * c as u64);
        !((y + LOW7) | y) & HI
    };
    // setting bit 5 folds A-Z onto a-z (and moves no other byte into a-z)
    let f = x | (ONES * 0x20);
    let alpha = ge(f, 0x61) & le(f, 0x7a);
    let digit = ge(x, 0x30) & le(x, 0x39);
    let good = (alpha | digit | eq(b'+') | eq(b'/') | eq(b'-') | eq(b'_')) & !(w & HI);
    !good & HI
}

#[cfg(test)]
mod b64_tests {
    use super::*;

    #[test]
    fn b64_mask_agrees_with_table() {
        let t = b64_table();
        for other in [b'a', b' ', 0x00, 0xff, b'_', 0x80, b'Z'] {
            for b in 0..=255u8 {
                for pos in 0..8 {
                    let mut bytes = [other; 8];
                    bytes[pos] = b;
                    let want = bytes
                        .iter()
                        .enumerate()
                        .filter(|(_, &c)| !t[c as usize])
                        .fold(0u64, |acc, (k, _)| acc | 0x80u64 << (8 * k));
                    assert_eq!(
                        b64_bad(u64::from_le_bytes(bytes)),
                        want,
                        "byte {b:#x} at {pos} among {other:#x}"
                    );
                }
            }
        }
    }
}
