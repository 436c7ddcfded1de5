//! Unit tests for the matcher: printable spans, the packed keyword walk, the non-text mask.

use super::*;

/// Every printable run of MIN_SPAN or more bytes, byte by byte.
fn runs(buf: &[u8], from: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut s = from;
    for i in from..=buf.len() {
        if i == buf.len() || !PRINTABLE[buf[i] as usize] {
            if i >= s + MIN_SPAN {
                out.push((s, i));
            }
            s = i + 1;
        }
    }
    out
}

fn covered(spans: &[(usize, usize)], run: (usize, usize)) -> bool {
    spans.iter().any(|&(a, b)| a <= run.0 && run.1 <= b)
}

#[test]
fn spans_skip_binary() {
    let mut buf = vec![0x80u8; 4096];
    buf[1000..1029].copy_from_slice(b"token = ghp_abcdefghijklmnopq");
    let spans = text_spans(&buf, 0);
    assert_eq!(spans, vec![(1000, 1029)]);
    assert!(text_spans(&[0xffu8; 100], 0).is_empty());
    let text = b"hello world, this is text\n".repeat(3);
    assert_eq!(text_spans(&text, 0), vec![(0, text.len())]);
    // printable tail shorter than a block at the very end of the buffer
    let mut b = vec![0u8; 64];
    b.extend_from_slice(b"AKIAABCDEFGHIJKLMNOP");
    let spans = text_spans(&b, 0);
    assert_eq!(spans, vec![(64, 84)]);
    // a short run is not worth a span
    let mut b = vec![0xc3u8; 64];
    b[20..30].copy_from_slice(b"0123456789");
    assert!(text_spans(&b, 0).is_empty());
}

#[test]
fn every_long_run_is_inside_a_span() {
    // pseudo-random mixes of binary, control and printable bytes, runs of every length,
    // at every alignment
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..300 {
        let n = 100 + (next() % 900) as usize;
        let mut buf = Vec::with_capacity(n);
        while buf.len() < n {
            let len = 1 + (next() % 40) as usize;
            let kind = next() % 4;
            for _ in 0..len {
                let r = next() as u8;
                buf.push(match kind {
                    0 => 0x80 | r,
                    1 => [0u8, 7, 0x1b, 0x7f, 9, 10, 13][(r % 7) as usize],
                    _ => 0x20 + r % 0x5f,
                });
            }
        }
        buf.truncate(n);
        let from = (round * 7) % 50;
        let spans = text_spans(&buf, from);
        for run in runs(&buf, from) {
            assert!(
                covered(&spans, run),
                "round {round}: run {run:?} not in {spans:?}"
            );
        }
        assert!(spans.windows(2).all(|w| w[0].1 < w[1].0), "ordered, apart");
        // spans stay inside the region and are long enough to matter
        for &(a, b) in &spans {
            assert!(a >= from && b <= buf.len() && b - a >= MIN_SPAN);
        }
    }
}

#[test]
fn packed_walk_finds_exactly_the_span_hits() {
    let ac = Keywords::new(&["token", "akia", "host", "http://"]).expect("build");
    let mut x: u64 = 0x1234_5678_9abc_def1;
    for round in 0..200 {
        let mut buf = Vec::new();
        while buf.len() < 3000 + round * 37 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 5 {
                0 => buf.extend_from_slice(b"token"),
                1 => buf.extend_from_slice(b"http://host"),
                2 => buf.push(0x80 | (x >> 8) as u8),
                3 => buf.push(b'\0'),
                _ => buf.extend_from_slice(b"AKIA x"),
            }
        }
        let spans = text_spans(&buf, 0);
        assert_eq!(
            hits_packed(&ac, &buf, &spans),
            hits_per_span(&ac, &buf, &spans),
            "round {round}"
        );
    }
}

#[test]
fn mask_agrees_with_table() {
    for nb in [b'a', 0x00, 0xff, 0x7f, 0x1f, 0x20, 0x80, b'\n'] {
        for b in 0..=255u8 {
            for pos in 0..8 {
                let mut bytes = [nb; 8];
                bytes[pos] = b;
                let m = nontext_mask(u64::from_le_bytes(bytes));
                let want = bytes
                    .iter()
                    .enumerate()
                    .filter(|(_, &c)| !PRINTABLE[c as usize])
                    .fold(0u64, |acc, (k, _)| acc | 0x80u64 << (8 * k));
                assert_eq!(m, want, "byte {b:#x} at {pos} among {nb:#x}");
            }
        }
    }
}
