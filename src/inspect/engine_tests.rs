//! Unit tests for the inspection engine: chunking, nesting, coverage and limits.

use super::*;
use crate::inspect::{Category, Severity};

/// Flags every file whose first byte is `!`, and counts bytes seen.
struct Bang;
struct BangFile {
    seen: u64,
    path: String,
}
impl Inspector for Bang {
    fn name(&self) -> &'static str {
        "bang"
    }
    fn open(
        &self,
        m: &FileMeta<'_>,
        head: &[u8],
        _: &ScanContext,
    ) -> Option<Box<dyn FileInspector>> {
        (head.first() == Some(&b'!')).then(|| {
            Box::new(BangFile {
                seen: 0,
                path: m.path.to_string(),
            }) as Box<dyn FileInspector>
        })
    }
}
impl FileInspector for BangFile {
    fn update(&mut self, _: u64, data: &[u8], _: &mut Vec<Finding>) -> Flow {
        self.seen += data.len() as u64;
        Flow::More
    }
    fn finish(self: Box<Self>, total: u64, out: &mut Vec<Finding>) {
        assert_eq!(self.seen, total);
        out.push(Finding::new(
            &self.path,
            "bang",
            Category::Format,
            Severity::Low,
            "bang",
            b"",
        ));
    }
}

#[test]
fn sniffs_and_sees_every_byte() {
    let e = Engine::new(vec![Box::new(Bang)], ScanContext::default());
    let mut s = e.begin_file("a", None, 0);
    s.update(b"!");
    s.update(&vec![0u8; 10_000]);
    let f = s.finish();
    assert_eq!(f.len(), 1);
    let mut s = e.begin_file("b", None, 0);
    s.update(b"?!");
    assert!(s.finish().is_empty());
    // short file: sniffed at finish
    let mut s = e.begin_file("c", None, 0);
    s.update(b"!x");
    assert_eq!(s.finish().len(), 1);
}

/// Stops after its first chunk and reports the total it is finished with.
struct Early;
struct EarlyFile;
impl Inspector for Early {
    fn name(&self) -> &'static str {
        "early"
    }
    fn open(&self, _: &FileMeta<'_>, _: &[u8], _: &ScanContext) -> Option<Box<dyn FileInspector>> {
        Some(Box::new(EarlyFile))
    }
}
impl FileInspector for EarlyFile {
    fn update(&mut self, _: u64, _: &[u8], _: &mut Vec<Finding>) -> Flow {
        Flow::Done
    }
    fn finish(self: Box<Self>, total: u64, out: &mut Vec<Finding>) {
        let f = Finding::new("e", "early", Category::Format, Severity::Info, "", b"");
        out.push(f.at_offset(total));
    }
}

#[test]
fn an_inspector_that_stops_early_still_learns_the_file_length() {
    let e = Engine::new(vec![Box::new(Early)], ScanContext::default());
    let mut s = e.begin_file("a", None, 0);
    for _ in 0..5 {
        s.update(&[7u8; SNIFF_LEN]);
    }
    let f = s.finish();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].offset, Some(5 * SNIFF_LEN as u64));
}

/// Wants only the last 10 bytes; records the offsets it was fed at.
struct TailOnly;
struct TailFile(std::sync::Arc<std::sync::Mutex<Vec<u64>>>);
impl Inspector for TailOnly {
    fn name(&self) -> &'static str {
        "tail"
    }
    fn open(&self, _: &FileMeta<'_>, _: &[u8], _: &ScanContext) -> Option<Box<dyn FileInspector>> {
        Some(Box::new(TailFile(SEEN.with(|s| s.clone()))))
    }
}
thread_local! {
    static SEEN: std::sync::Arc<std::sync::Mutex<Vec<u64>>> = Default::default();
}
impl FileInspector for TailFile {
    fn update(&mut self, offset: u64, _: &[u8], _: &mut Vec<Finding>) -> Flow {
        if let Ok(mut v) = self.0.lock() {
            v.push(offset);
        }
        Flow::Tail(10)
    }
    fn finish(self: Box<Self>, _: u64, _: &mut Vec<Finding>) {}
}

#[test]
fn a_reader_may_skip_to_the_tail_only_when_every_inspector_allows_it() {
    let chunk = vec![b'x'; SNIFF_LEN];
    let size = 10 * SNIFF_LEN as u64;
    let e = Engine::new(vec![Box::new(TailOnly)], ScanContext::default());
    let mut s = e.begin_file("a", Some(size), 0);
    assert_eq!(
        s.next_wanted(),
        Some(0),
        "nothing is skipped before sniffing"
    );
    s.update(&chunk);
    assert_eq!(s.next_wanted(), Some(size - 10));
    s.skip_to(size); // past what is wanted: refused
    s.skip_to(size - 10);
    s.update(&chunk[..10]);
    assert_eq!(
        SEEN.with(|v| v.lock().map(|v| v.clone()).unwrap_or_default()),
        vec![0, size - 10]
    );
    drop(s.finish());

    // an inspector that wants every byte (Bang) holds the reader at its position
    let e = Engine::new(
        vec![Box::new(TailOnly), Box::new(Bang)],
        ScanContext::default(),
    );
    let mut s = e.begin_file("b", Some(size), 0);
    s.update(b"!");
    s.update(&chunk);
    assert_eq!(s.next_wanted(), Some(1 + SNIFF_LEN as u64));
    s.skip_to(size - 10);
    assert_eq!(s.next_wanted(), Some(1 + SNIFF_LEN as u64), "skip refused");
    drop(s.finish());

    // without a known size there is no tail to jump to
    let e = Engine::new(vec![Box::new(TailOnly)], ScanContext::default());
    let mut s = e.begin_file("c", None, 0);
    s.update(&chunk);
    assert_eq!(s.next_wanted(), Some(SNIFF_LEN as u64));
}

/// The default policy's whole engine: `whole` reports exactly what streaming reports,
/// for text with secrets, JSON configs, templates, gzip layers, binary data, an empty
/// file, and a text larger than one streaming step (which takes the streaming path).
#[test]
fn whole_equals_streamed_on_the_full_engine() {
    use std::io::Write;
    let engine =
        crate::inspect::build_engine(&crate::policy::Policy::default()).expect("default engine");
    let py = b"import requests\nKEY = 'AKIA2OGYBAH6QW7BZ5JX'\nrequests.get('https://telemetry.vendor.io/v1')\n".to_vec();
    let cfg =
        br#"{"auto_map": {"AutoModel": "evil/repo--modeling.Model"}, "trust_remote_code": true}"#
            .to_vec();
    let tpl = b"{% for m in messages %}{{ m.__class__.__mro__ }}{% endfor %}\n".to_vec();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&py).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let mut bin: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    bin[9_000..9_020].copy_from_slice(b"AKIA2OGYBAH6QW7BZ5JX");
    let mut big = b"x = 1\n".repeat(300_000);
    big.extend_from_slice(&py);
    let key = |f: Vec<Finding>| {
        let mut v: Vec<String> = f
            .iter()
            .map(|x| format!("{} {:?} {:?} {}", x.rule, x.offset, x.line, x.fingerprint))
            .collect();
        v.sort();
        v
    };
    for (name, data) in [
        ("a.py", &py),
        ("config.json", &cfg),
        ("chat_template.jinja", &tpl),
        ("a.py.gz", &gz),
        ("blob.bin", &bin),
        ("empty", &Vec::new()),
        ("big.py", &big),
    ] {
        let whole = engine
            .begin_file(name, Some(data.len() as u64), 0)
            .whole(data);
        let mut s = engine.begin_file(name, Some(data.len() as u64), 0);
        for c in data.chunks(4099) {
            s.update(c);
        }
        let streamed = s.finish();
        if name != "empty" {
            assert!(!whole.is_empty(), "{name}: the planted content is found");
        }
        assert_eq!(key(whole), key(streamed), "{name}");
    }
}
