//! cpio archives in the "newc" form (`070701`, and `070702` with checksums: what RPM
//! payloads and Linux initramfs use) and the portable "odc" form (`070707`). Each entry is a
//! header of ASCII numbers (hex for newc, octal for odc), the name, then the data; newc pads
//! name and data to 4 bytes. Regular files are members; directories, links and devices are
//! walked past. After the `TRAILER!!!` entry, zero padding may follow, then another archive
//! (initramfs images are concatenated archives). The old binary form is refused.

use super::{Gather, Members, Problem, Reader};

/// Longest entry name accepted (Linux PATH_MAX).
pub const MAX_NAME: u64 = 4096;

const NEWC_LEN: usize = 110;
const ODC_LEN: usize = 76;

/// Whether `head` starts a cpio archive this reader reads (newc or odc).
pub fn sniff(head: &[u8]) -> bool {
    head.len() >= ODC_LEN
        && (head.starts_with(b"070701")
            || head.starts_with(b"070702")
            || head.starts_with(b"070707"))
}

enum State {
    /// The first 6 bytes of a header (the magic says which form follows).
    Magic,
    Header {
        odc: bool,
    },
    Name {
        n: usize,
        size: u64,
        file: bool,
        odc: bool,
    },
    Data {
        left: u64,
        pad: usize,
    },
    Skip {
        left: usize,
    },
    /// After a trailer: zero padding, maybe another archive.
    Between,
    Done,
}

/// The cpio reader.
pub struct CpioReader {
    state: State,
    gather: Gather,
    magic: Vec<u8>,
    entries: u64,
    open: bool,
}

impl Default for CpioReader {
    fn default() -> Self {
        CpioReader::new()
    }
}

fn hex(f: &[u8]) -> Option<u64> {
    u64::from_str_radix(std::str::from_utf8(f).ok()?, 16).ok()
}

fn oct(f: &[u8]) -> Option<u64> {
    u64::from_str_radix(std::str::from_utf8(f).ok()?, 8).ok()
}

impl CpioReader {
    pub fn new() -> CpioReader {
        CpioReader {
            state: State::Magic,
            gather: Gather::default(),
            magic: Vec::new(),
            entries: 0,
            open: false,
        }
    }

    fn stop(&mut self, out: &mut dyn Members, p: Problem) {
        self.close(out);
        out.problem(p);
        self.state = State::Done;
    }

    fn close(&mut self, out: &mut dyn Members) {
        if self.open {
            self.open = false;
            out.end();
        }
    }

    fn header(&mut self, h: &[u8], odc: bool, out: &mut dyn Members) {
        // h excludes the 6-byte magic
        let fields = if odc {
            // dev ino mode uid gid nlink rdev (6 each), mtime 11, namesize 6, filesize 11
            (oct(&h[12..18]), oct(&h[53..59]), oct(&h[59..70]))
        } else {
            // ino mode uid gid nlink mtime filesize devmaj devmin rdevmaj rdevmin namesize check
            (hex(&h[8..16]), hex(&h[88..96]), hex(&h[48..56]))
        };
        let (Some(mode), Some(namesize), Some(size)) = fields else {
            return self.stop(
                out,
                Problem::Corrupt(format!(
                    "cpio header #{} holds a field that is not a number: the entries from \
                     here on cannot be found",
                    self.entries + 1
                )),
            );
        };
        if namesize == 0 || namesize > MAX_NAME {
            return self.stop(
                out,
                Problem::Limit(format!(
                    "cpio entry #{} has a name of {namesize} bytes (limit {MAX_NAME}): the \
                     entries from here on cannot be followed",
                    self.entries + 1
                )),
            );
        }
        self.entries += 1;
        let n = namesize as usize;
        let pad = if odc { 0 } else { (4 - (NEWC_LEN + n) % 4) % 4 };
        let file = mode & 0o170000 == 0o100000;
        self.state = State::Name {
            n: n + pad,
            size,
            file,
            odc,
        };
    }

    fn named(&mut self, raw: &[u8], size: u64, file: bool, odc: bool, out: &mut dyn Members) {
        let name = match raw.iter().position(|&b| b == 0) {
            Some(p) => &raw[..p],
            None => raw,
        };
        let pad = if odc {
            0
        } else {
            ((4 - size % 4) % 4) as usize
        };
        if name == b"TRAILER!!!" {
            self.state = State::Between;
            return;
        }
        if file {
            self.open = out.begin(name, Some(size));
        }
        self.state = State::Data { left: size, pad };
        if size == 0 {
            self.close(out);
            self.state = State::Skip { left: pad };
        }
    }
}

impl Reader for CpioReader {
    fn format(&self) -> &'static str {
        "cpio"
    }

    fn push(&mut self, mut data: &[u8], out: &mut dyn Members) {
        while !data.is_empty() {
            match &mut self.state {
                State::Done => return,
                State::Between => {
                    let zeros = data.iter().take_while(|&&b| b == 0).count();
                    data = &data[zeros..];
                    if !data.is_empty() {
                        self.state = State::Magic;
                    }
                }
                State::Magic => {
                    if let Some(m) = self.gather.fill(&mut data, 6) {
                        let odc = m.as_slice() == b"070707";
                        if !(odc || m.as_slice() == b"070701" || m.as_slice() == b"070702") {
                            let what = if self.entries == 0 {
                                "not a newc or odc cpio archive".to_string()
                            } else {
                                format!(
                                    "bytes after cpio entry #{} are not a cpio header: the \
                                     rest cannot be read",
                                    self.entries
                                )
                            };
                            self.stop(out, Problem::Corrupt(what));
                        } else {
                            self.magic = m;
                            self.state = State::Header { odc };
                        }
                    }
                }
                State::Header { odc } => {
                    let odc = *odc;
                    let len = if odc { ODC_LEN } else { NEWC_LEN } - 6;
                    if let Some(h) = self.gather.fill(&mut data, len) {
                        self.header(&h, odc, out);
                    }
                }
                State::Name { n, size, file, odc } => {
                    let (n, size, file, odc) = (*n, *size, *file, *odc);
                    if let Some(raw) = self.gather.fill(&mut data, n) {
                        self.named(&raw, size, file, odc, out);
                    }
                }
                State::Data { left, pad } => {
                    let take = (*left).min(data.len() as u64) as usize;
                    *left -= take as u64;
                    let (done, pad) = (*left == 0, *pad);
                    if self.open {
                        out.data(&data[..take]);
                    }
                    data = &data[take..];
                    if done {
                        self.close(out);
                        self.state = State::Skip { left: pad };
                    }
                }
                State::Skip { left } => {
                    let take = (*left).min(data.len());
                    *left -= take;
                    data = &data[take..];
                    if *left == 0 {
                        self.state = State::Magic;
                    }
                }
            }
            if let State::Skip { left: 0 } = self.state {
                self.state = State::Magic;
            }
        }
    }

    fn end(&mut self, out: &mut dyn Members) {
        match &self.state {
            State::Done | State::Between => {}
            State::Magic if self.gather.len() == 0 && self.entries > 0 => {
                self.stop(
                    out,
                    Problem::Truncated("cpio archive ends without its trailer entry".into()),
                );
            }
            State::Skip { .. } => self.stop(
                out,
                Problem::Truncated("cpio archive ends without its trailer entry".into()),
            ),
            State::Data { left, .. } => {
                let left = *left;
                self.stop(
                    out,
                    Problem::Truncated(format!(
                        "cpio archive ends {left} bytes short inside an entry"
                    )),
                )
            }
            _ => self.stop(
                out,
                Problem::Truncated("cpio archive ends inside an entry header".into()),
            ),
        }
        self.close(out);
        self.state = State::Done;
    }
}

#[cfg(test)]
mod tests {
    use super::super::Collect;
    use super::*;

    fn newc(name: &str, mode: u32, data: &[u8]) -> Vec<u8> {
        let n = name.len() + 1;
        let mut e = format!(
            "070701{:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{n:08x}{:08x}",
            1, 0, 0, 1, 0, data.len(), 0, 0, 0, 0, 0
        )
        .into_bytes();
        e.extend_from_slice(name.as_bytes());
        e.push(0);
        while e.len() % 4 != 0 {
            e.push(0);
        }
        e.extend_from_slice(data);
        while e.len() % 4 != 0 {
            e.push(0);
        }
        e
    }

    #[test]
    fn newc_files_only_in_any_chunking() {
        let mut a = newc("./etc", 0o040755, b"");
        a.extend(newc("./etc/app.conf", 0o100644, b"key=value\n"));
        a.extend(newc("./etc/link", 0o120777, b"app.conf"));
        a.extend(newc("./usr/bin/x", 0o100755, b"\x7fELF"));
        a.extend(newc("TRAILER!!!", 0, b""));
        a.extend([0u8; 300]);
        // a second archive after the padding (initramfs)
        a.extend(newc("second", 0o100644, b"2"));
        a.extend(newc("TRAILER!!!", 0, b""));
        assert!(sniff(&a));
        for step in [1, 3, 110, 4096] {
            let c = Collect::run(&mut CpioReader::new(), &a, step);
            assert!(c.problems.is_empty(), "{step}: {:?}", c.problems);
            let names: Vec<_> = c.members.iter().map(|m| m.0.as_str()).collect();
            assert_eq!(names, ["./etc/app.conf", "./usr/bin/x", "second"]);
            assert_eq!(c.get("./etc/app.conf"), Some(&b"key=value\n"[..]));
        }
    }

    #[test]
    fn odc_entries() {
        let mut a = Vec::new();
        for (name, data) in [("a.txt", &b"hello"[..]), ("TRAILER!!!", &b""[..])] {
            a.extend(
                format!(
                    "070707{:06o}{:06o}{:06o}{:06o}{:06o}{:06o}{:06o}{:011o}{:06o}{:011o}",
                    0,
                    1,
                    0o100644,
                    0,
                    0,
                    1,
                    0,
                    0,
                    name.len() + 1,
                    data.len()
                )
                .into_bytes(),
            );
            a.extend_from_slice(name.as_bytes());
            a.push(0);
            a.extend_from_slice(data);
        }
        let c = Collect::run(&mut CpioReader::new(), &a, 5);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(c.get("a.txt"), Some(&b"hello"[..]));
    }

    #[test]
    fn broken_archives_are_problems() {
        let mut a = newc("f", 0o100644, b"0123456789");
        let c = Collect::run(&mut CpioReader::new(), &a[..a.len() - 4], 7);
        assert!(matches!(c.problems[..], [Problem::Truncated(_)]));
        let c = Collect::run(&mut CpioReader::new(), &a, 7);
        assert!(
            matches!(c.problems[..], [Problem::Truncated(_)]),
            "no trailer"
        );
        a.extend(b"garbage-after-an-entry-that-is-not-a-header".repeat(3));
        let c = Collect::run(&mut CpioReader::new(), &a, 7);
        assert!(matches!(c.problems[..], [Problem::Corrupt(_)]));
        let mut long = newc("f", 0o100644, b"");
        long[94..102].copy_from_slice(b"00100000");
        let c = Collect::run(&mut CpioReader::new(), &long, 64);
        assert!(matches!(c.problems[..], [Problem::Limit(_)]));
    }
}
