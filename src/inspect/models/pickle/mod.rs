//! Pickle inspection: recognise pickles by content, run them through the symbolic machine
//! and turn every non-allow-listed import, nested pickle and parse failure into findings.

mod calls;
mod embedded;
pub mod globals;
mod joblib;
pub mod machine;
pub mod ops;
mod stack;
mod value;

use crate::inspect::{
    Category, FileInspector, FileMeta, Finding, Flow, Inspector, ScanContext, Severity,
};
use globals::Verdict;
use machine::{Limits, Machine};
use ops::{Control, OpError, Tokenizer};

/// How deep pickles inside pickles are followed.
const MAX_NESTING: u32 = 3;

/// Whether `head` (the first bytes of a file) is the start of a pickle.
pub fn looks_like_pickle(head: &[u8]) -> bool {
    // A persistent id first is how a zip (`PK…`) parses; no loader accepts that as a pickle.
    if head.first() == Some(&b'P') {
        return false;
    }
    let proto = head.len() >= 2 && head[0] == 0x80 && (2..=5).contains(&head[1]);
    let mut t = Tokenizer::new(0);
    let mut m = Machine::new(Limits::default());
    let mut n = 0u32;
    let mut stopped = false;
    let mut failed = false;
    let mut kinds = [false; 256];
    let r = t.feed(head, &mut |op| {
        n += 1;
        kinds[usize::from(op.code)] = true;
        let stop = op.code == b'.';
        if m.exec(op).is_err() {
            failed = true;
            return Control::Stop;
        }
        if stop {
            stopped = true;
            return Control::Stop;
        }
        Control::Continue
    });
    let failed = failed || r.is_err();
    let imported = !m.rec.imports.is_empty();
    if proto {
        // Tensor bytes can start with 0x80 0x02..0x05 by chance; they stop parsing at once.
        // A real pickle parses, or at least imports something before it breaks.
        return !failed || stopped || n >= 16 || imported;
    }
    if stopped {
        return n >= 3;
    }
    // No error over a full sniff window: a long protocol-0/1 pickle, unless the window is one
    // opcode repeated without imports (a run of `(` or `N` bytes is filler, not a pickle).
    let distinct = kinds.iter().filter(|&&k| k).count();
    !failed && n >= 8 && (distinct >= 3 || imported) && head.len() >= crate::inspect::SNIFF_LEN
}

/// Streaming scan of one pickle stream (one or more pickles in a row).
pub struct PickleScan {
    path: String,
    ctx: ScanContext,
    depth: u32,
    tok: Tokenizer,
    m: Machine,
    error: Option<OpError>,
    trailing: Option<u64>,
    stream_proto: bool,
    done: bool,
    out: Vec<Finding>,
}

impl PickleScan {
    /// A scan of the pickle bytes starting at file offset `base` of `path`.
    pub fn new(path: &str, base: u64, ctx: ScanContext, depth: u32) -> PickleScan {
        PickleScan {
            path: path.to_string(),
            ctx,
            depth,
            tok: Tokenizer::new(base),
            m: Machine::new(Limits::default()),
            error: None,
            trailing: None,
            stream_proto: false,
            done: false,
            out: Vec::new(),
        }
    }

    /// Whether the scan needs no more bytes.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Feed the next bytes.
    pub fn feed(&mut self, data: &[u8]) -> Flow {
        if self.done {
            return Flow::Done;
        }
        let m = &mut self.m;
        let stream_proto = &mut self.stream_proto;
        let mut end_error: Option<OpError> = None;
        let mut legacy_done = false;
        let r = self.tok.feed(data, &mut |op| {
            if m.at_boundary() {
                *stream_proto = op.code == 0x80;
            }
            let stop = op.code == b'.';
            if let Err(e) = m.exec(op) {
                end_error = Some(e);
                return Control::Stop;
            }
            if stop && m.rec.legacy_torch && m.rec.pickles >= 5 {
                legacy_done = true;
                return Control::Stop;
            }
            if let Some((len, padded)) = m.rec.raw.take() {
                return Control::Raw { len, padded };
            }
            Control::Continue
        });
        let err = match r {
            Err(e) => Some(e),
            Ok(_) => end_error,
        };
        self.drain_texts();
        if let Some(e) = err {
            self.set_error(e);
            self.done = true;
        }
        if legacy_done {
            self.done = true;
        }
        if self.done {
            Flow::Done
        } else {
            Flow::More
        }
    }

    fn set_error(&mut self, e: OpError) {
        // Bytes after a complete pickle that do not start a new one are trailing data. A limit
        // error is not: the bytes ran as pickle ops that far, and Python's unpickler, which
        // has no such limits, would go on to what lies behind them.
        let later =
            !e.limit && self.m.rec.pickles > 0 && (self.m.at_boundary() || !self.stream_proto);
        if later {
            self.trailing = Some(e.offset);
        } else {
            self.error = Some(e);
        }
    }

    fn drain_texts(&mut self) {
        for (off, t) in self.m.rec.texts.drain(..) {
            self.ctx
                .text
                .scan_text(&self.path, Some(off), &t, &mut self.out);
        }
    }

    /// End of input: report everything.
    pub fn finish(mut self, out: &mut Vec<Finding>) {
        self.drain_texts();
        if !self.done && self.error.is_none() && (self.tok.mid_op() || !self.m.at_boundary()) {
            let at = self.tok.offset();
            if self.m.rec.pickles > 0 && !self.stream_proto {
                self.trailing = Some(at);
            } else {
                self.error = Some(OpError {
                    offset: at,
                    msg: "truncated: the pickle ends before its STOP opcode".into(),
                    limit: false,
                });
            }
        }
        let path = self.path.clone();
        for imp in &self.m.rec.imports {
            let Verdict::Denied(sev) = imp.verdict else {
                continue;
            };
            let what = format!("{}.{}", imp.module, imp.name);
            let (rule, msg) = if imp.unresolved {
                (
                    "pickle.global-unresolved",
                    format!("pickle imports a global whose name is not a constant ({what}); it cannot be checked"),
                )
            } else {
                let verb = if imp.called {
                    "imports and calls"
                } else {
                    "imports"
                };
                let why = if sev == Severity::Critical {
                    "it can execute code, touch files or reach the network when the file is loaded"
                } else {
                    "it is not on the weights-only allow-list"
                };
                ("pickle.global", format!("pickle {verb} {what}: {why}"))
            };
            out.push(
                Finding::new(&path, rule, Category::Code, sev, msg, what.as_bytes())
                    .at_offset(imp.offset),
            );
        }
        for n in &self.m.rec.nested {
            if self.depth + 1 > MAX_NESTING {
                out.push(
                    Finding::new(
                        &path,
                        "pickle.nesting",
                        Category::Format,
                        Severity::High,
                        format!("pickles nested more than {MAX_NESTING} deep cannot be inspected"),
                        b"",
                    )
                    .at_offset(n.offset),
                );
                continue;
            }
            let mut inner = Vec::new();
            scan_pickle_bytes(&path, &n.data, self.ctx.clone(), self.depth + 1, &mut inner);
            for mut f in inner {
                if f.category == Category::Secret || f.category == Category::Reachback {
                    f.offset = Some(n.offset);
                    out.push(f);
                    continue;
                }
                let how = if n.loaded {
                    "unpickled by the outer pickle"
                } else {
                    "carried as data"
                };
                f.message = format!(
                    "nested pickle at offset {} ({how}): {}",
                    n.offset, f.message
                );
                f.rule = format!("pickle.nested.{}", f.rule.trim_start_matches("pickle."));
                if !n.loaded && f.severity == Severity::Critical {
                    f.severity = Severity::High;
                }
                f.offset = Some(n.offset);
                f.fingerprint = crate::inspect::fingerprint(&f.rule, &f.path, f.message.as_bytes());
                out.push(f);
            }
        }
        if let Some(e) = &self.error {
            let e = if self.m.rec.joblib_array {
                OpError { offset: e.offset, msg: format!("{} (after a joblib NumpyArrayWrapper: joblib's inline array data is not followed)", e.msg), limit: e.limit }
            } else {
                e.clone()
            };
            out.push(
                Finding::new(&path, "pickle.malformed", Category::Format, Severity::High,
                    format!("malformed pickle at byte {}: {}; a loader may run part of it, so it cannot be passed", e.offset, e.msg),
                    e.msg.as_bytes())
                .at_offset(e.offset),
            );
        }
        if let Some(at) = self.trailing {
            out.push(
                Finding::new(
                    &path,
                    "pickle.trailing-data",
                    Category::Format,
                    Severity::Low,
                    format!(
                        "{} bytes after the last complete pickle are not a pickle",
                        "trailing"
                    ),
                    b"",
                )
                .at_offset(at),
            );
        }
        out.append(&mut self.out);
    }
}

/// Scan a whole pickle held in memory (fuzzing, nested pickles, tests).
pub fn scan_pickle_bytes(
    path: &str,
    data: &[u8],
    ctx: ScanContext,
    depth: u32,
    out: &mut Vec<Finding>,
) {
    let mut s = PickleScan::new(path, 0, ctx, depth);
    s.feed(data);
    s.finish(out);
}

/// The pickle inspector: any file whose content is a pickle (raw, legacy torch, joblib...).
pub struct PickleInspector;

struct PickleFile(PickleScan);

impl Inspector for PickleInspector {
    fn name(&self) -> &'static str {
        "pickle"
    }

    fn open(
        &self,
        meta: &FileMeta<'_>,
        head: &[u8],
        ctx: &ScanContext,
    ) -> Option<Box<dyn FileInspector>> {
        looks_like_pickle(head).then(|| {
            Box::new(PickleFile(PickleScan::new(meta.path, 0, ctx.clone(), 0)))
                as Box<dyn FileInspector>
        })
    }
}

impl FileInspector for PickleFile {
    fn update(&mut self, _offset: u64, data: &[u8], _out: &mut Vec<Finding>) -> Flow {
        self.0.feed(data)
    }

    fn finish(self: Box<Self>, _total: u64, out: &mut Vec<Finding>) {
        self.0.finish(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert!(looks_like_pickle(
            b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01."
        ));
        assert!(looks_like_pickle(b"cos\nsystem\n(S'ls'\ntR."));
        // Tensor bytes that happen to start like a protocol header.
        assert!(!looks_like_pickle(&[
            0x80, 0x03, 0xff, 0x12, 0x00, 0x77, 0x91, 0x3c
        ]));
        // Text and tiny accidental pickles are not pickles.
        assert!(!looks_like_pickle(b"N."));
        assert!(!looks_like_pickle(b"hello world\n"));
        assert!(!looks_like_pickle(b"PK\x03\x04"));
        // Filler made of one opcode byte (MARK, NONE) over a whole window.
        assert!(!looks_like_pickle(&[b'('; crate::inspect::SNIFF_LEN]));
        assert!(!looks_like_pickle(&[b'N'; crate::inspect::SNIFF_LEN]));
        // A text file whose lines pair up as GLOBAL arguments (a wheel RECORD file).
        let record = "cryptography/x.py,sha256=abc,12\n".repeat(200);
        assert!(!looks_like_pickle(
            &record.as_bytes()[..crate::inspect::SNIFF_LEN]
        ));
        assert!(looks_like_pickle(
            &"c__builtin__\nset\n".repeat(300).as_bytes()[..crate::inspect::SNIFF_LEN]
        ));
    }

    fn severe(data: &[u8]) -> Vec<String> {
        let policy = crate::policy::Policy::default();
        let engine = crate::inspect::build_engine(&policy).expect("engine");
        let mut f = engine.begin_file("pytorch_model.bin", Some(data.len() as u64), 0);
        for c in data.chunks(1 << 20) {
            f.update(c);
        }
        f.finish()
            .into_iter()
            .filter(|x| x.severity >= Severity::High)
            .map(|x| x.rule)
            .collect()
    }

    /// A second pickle (protocol 0, no PROTO opcode) that hits one of our limits before its
    /// GLOBAL must not be taken for trailing data: Python has no such limit and runs it.
    #[test]
    fn a_limit_hit_in_a_later_pickle_is_not_trailing_data() {
        // legacy torch: the magic number pickle first
        let mut first = vec![0x80, 0x02, 0x8a, 0x0a];
        first.extend_from_slice(&machine::TORCH_MAGIC);
        first.push(b'.');
        let evil = b"cos\nsystem\n(S'id'\ntR.";
        // the control: the same GLOBAL without the limit is caught
        let mut plain = first.clone();
        plain.extend_from_slice(evil);
        assert!(severe(&plain).contains(&"pickle.global".to_string()));
        // stack limit
        let mut a = first.clone();
        a.extend(std::iter::repeat_n(b'N', (1 << 18) + 1));
        a.extend_from_slice(evil);
        assert!(
            severe(&a).contains(&"pickle.malformed".to_string()),
            "{:?}",
            severe(&a)
        );
        // text line limit
        let mut b = first.clone();
        b.extend_from_slice(b"S'");
        b.extend(std::iter::repeat_n(b'A', ops::MAX_LINE + 10));
        b.extend_from_slice(b"'\n");
        b.extend_from_slice(evil);
        assert!(
            severe(&b).contains(&"pickle.malformed".to_string()),
            "{:?}",
            severe(&b)
        );
        // the near-miss: bytes after the pickle that stop at an unknown opcode stay trailing
        let mut c = first.clone();
        c.extend_from_slice(b"NN\xff\xfe");
        assert!(severe(&c).is_empty(), "{:?}", severe(&c));
    }

    fn short_unicode(s: &str) -> Vec<u8> {
        let mut v = vec![0x8c, s.len() as u8];
        v.extend_from_slice(s.as_bytes());
        v
    }

    /// A joblib file: a NumpyArrayWrapper of `dims` dimensions (all 1 but the last, 9) of
    /// dtype u1, so joblib writes 9 raw bytes after it; those 9 bytes are chosen to read, as
    /// opcodes, as a BINBYTES8 that would swallow the GLOBAL/REDUCE joblib runs next.
    fn joblib(dims: usize, alignment: Option<&[u8]>) -> Vec<u8> {
        let mut d = vec![0x80, 0x04];
        d.extend_from_slice(b"cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(");
        d.extend(short_unicode("dtype"));
        d.extend_from_slice(b"cnumpy\ndtype\n");
        d.extend(short_unicode("u1"));
        d.extend_from_slice(b"\x85R");
        d.extend(short_unicode("shape"));
        d.push(b'(');
        for _ in 1..dims {
            d.extend_from_slice(b"K\x01");
        }
        d.extend_from_slice(b"K\x09t");
        d.extend(short_unicode("order"));
        d.extend(short_unicode("C"));
        if let Some(a) = alignment {
            d.extend(short_unicode("numpy_array_alignment_bytes"));
            d.extend_from_slice(a);
        }
        d.extend_from_slice(b"ub");
        let evil: &[u8] = b"0cos\nsystem\n(S'id'\ntR.";
        d.push(0x8e);
        d.extend_from_slice(&(evil.len() as u64).to_le_bytes());
        d.extend_from_slice(evil);
        d.extend_from_slice(b".");
        d
    }

    #[test]
    fn joblib_array_bytes_are_stepped_over_exactly_or_the_file_is_refused() {
        // 17 dimensions (numpy allows 64): the layout is understood and the GLOBAL is seen
        for dims in [2, 17, 64] {
            let f = severe(&joblib(dims, None));
            assert!(f.contains(&"pickle.global".to_string()), "{dims}: {f:?}");
        }
        // more than the machine keeps: refused, not read out of step
        let f = severe(&joblib(65, None));
        assert!(f.contains(&"pickle.malformed".to_string()), "{f:?}");
        // an alignment entry that is not an integer: where the bytes start is unknown
        let f = severe(&joblib(2, Some(b"N")));
        assert!(f.contains(&"pickle.malformed".to_string()), "{f:?}");
    }
}
