//! Arrow IPC written by the `arrow-ipc` crate at test time, stream and file forms, with
//! uncompressed, LZ4_FRAME and ZSTD bodies: string, large string, string view, list and
//! dictionary columns, each with a planted key pair in one known row (or dictionary entry);
//! the clean twins stay quiet.

mod datasets_support;

use arrow_ipc::CompressionType;
use datasets_support::*;

const PLACES: [&str; 6] = [
    "!batch:12/col:text/row:12345",
    "!batch:19/col:large/row:19999",
    "!batch:15/col:view/row:15000",
    "!batch:0/col:tags.item/row:777",
    "!dictionary:0/col:label/entry:2",
    "",
];

#[test]
fn every_form_and_compression_finds_the_planted_values_in_their_rows() {
    for c in [
        None,
        Some(CompressionType::LZ4_FRAME),
        Some(CompressionType::ZSTD),
    ] {
        for (form, make) in [
            ("stream", arrow_stream as fn(_, _) -> _),
            ("file", arrow_file),
        ] {
            let what = format!("{form} {c:?}");
            let data = make(c, KEY_ROW);
            let f = scan_stream("t.arrow", &data, 1 << 20);
            for p in PLACES.iter().filter(|p| !p.is_empty()) {
                let path = format!("t.arrow{p}");
                for rule in ["secret.aws-access-key-id", "secret.aws-secret-access-key"] {
                    assert!(
                        f.iter().any(|x| x.rule == rule && x.path == path),
                        "{what}: no {rule} at {path}:\n{}",
                        show(&f)
                    );
                }
            }
            let clean = make(c, NEAR_MISS_ROW);
            let f = scan_stream("t.arrow", &clean, 65_521);
            assert!(serious(&f).is_empty(), "{what}: clean twin:\n{}", show(&f));
        }
    }
}

#[test]
fn broken_streams_never_panic_and_never_pass_silently() {
    let data = arrow_stream(Some(CompressionType::ZSTD), KEY_ROW);
    for cut in [200, data.len() / 3, data.len() - 9] {
        let f = scan_stream("t.arrow", &data[..cut], 4096);
        assert!(
            !serious(&f).is_empty(),
            "cut at {cut}: nothing said:\n{}",
            show(&f)
        );
    }
    for at in (8..data.len() - 64).step_by(data.len() / 30) {
        let mut d = data.clone();
        for b in &mut d[at..at + 8] {
            *b ^= 0xa5;
        }
        let f = scan_stream("c.arrow", &d, 1 << 16);
        assert!(!f.is_empty(), "damage at {at}: nothing said");
    }
}

#[test]
fn a_file_footer_listing_a_batch_outside_the_stream_is_refused() {
    let mut data = arrow_file(None, NEAR_MISS_ROW);
    let n = data.len();
    let flen = i32::from_le_bytes([data[n - 10], data[n - 9], data[n - 8], data[n - 7]]) as usize;
    let footer = n - 10 - flen;
    let parsed = arrow_ipc::root_as_footer(&data[footer..n - 10]).expect("footer");
    let off = parsed.recordBatches().expect("batches").get(3).offset();
    // point the fourth batch's block 16 bytes further, into the middle of its message
    let pat = off.to_le_bytes();
    let at = footer
        + data[footer..n - 10]
            .windows(8)
            .position(|w| w == pat)
            .expect("block offset");
    data[at..at + 8].copy_from_slice(&(off + 16).to_le_bytes());
    let f = scan_stream("f.arrow", &data, 1 << 20);
    let refused: Vec<_> = f
        .iter()
        .filter(|x| x.rule == "archive.uninspectable")
        .collect();
    assert_eq!(refused.len(), 1, "only the moved block:\n{}", show(&f));
    let want = format!("offset {} that is not in its message sequence", off + 16);
    assert!(refused[0].message.contains(&want), "{}", refused[0].message);
    // the untouched file passes
    let f = scan_stream("f.arrow", &arrow_file(None, NEAR_MISS_ROW), 1 << 20);
    assert!(serious(&f).is_empty(), "{}", show(&f));
}

#[test]
fn an_oversized_message_is_refused_not_skipped() {
    // the end-of-stream marker turned into a message claiming 2 GiB of metadata
    let mut data = arrow_stream(None, NEAR_MISS_ROW);
    let n = data.len();
    assert_eq!(data[n - 8..], [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    data[n - 4..].copy_from_slice(&0x7fff_0000i32.to_le_bytes());
    let f = scan_stream("o.arrow", &data, 1 << 20);
    let r = f
        .iter()
        .find(|x| x.rule == "archive.uninspectable")
        .unwrap_or_else(|| panic!("{}", show(&f)));
    assert!(r.message.contains("metadata"), "{}", r.message);
}
