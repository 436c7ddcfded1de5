//! `ar` archives and the Debian packages built on them (`.deb`, `.udeb`, `.ddeb`): the
//! `!<arch>\n` magic, then members, each a 60-byte header (name 16, mtime 12, uid 6, gid 6,
//! mode 8, decimal size 10, "`\n") and its data padded to an even length. GNU long names
//! (`//` table, `/N` references) and BSD long names (`#1/N`, the name in front of the data)
//! are understood; symbol tables (`/`, `/SYM64/`, `__.SYMDEF`) are walked past.

use super::{Gather, Members, Problem, Reader};

/// The global header.
pub const MAGIC: &[u8; 8] = b"!<arch>\n";
/// Largest GNU long-name table held.
pub const MAX_NAMES: u64 = 1 << 20;
/// Longest BSD long name.
pub const MAX_BSD_NAME: u64 = 4096;

const HEADER: usize = 60;

/// Whether `head` starts an ar archive, and whether it is a Debian package (its first
/// member is `debian-binary`).
pub fn sniff(head: &[u8]) -> Option<bool> {
    if !head.starts_with(MAGIC) {
        return None;
    }
    let first = head.get(8..8 + 16)?;
    Some(first.starts_with(b"debian-binary"))
}

enum State {
    Magic,
    Header,
    /// A BSD long name of this many bytes, then `left` bytes of data.
    BsdName {
        n: usize,
        left: u64,
        pad: bool,
    },
    /// Member data; `names`: it is the GNU long-name table being collected.
    Data {
        left: u64,
        pad: bool,
        names: bool,
    },
    Pad,
    Done,
}

/// The ar reader.
pub struct ArReader {
    format: &'static str,
    state: State,
    gather: Gather,
    /// The GNU long-name table (`//` member).
    names: Vec<u8>,
    /// Members seen.
    count: u64,
    /// A member was begun and not yet ended.
    open: bool,
}

impl ArReader {
    /// A reader; `deb`: the archive is a Debian package (only changes its reported name).
    pub fn new(deb: bool) -> ArReader {
        ArReader {
            format: if deb { "deb" } else { "ar" },
            state: State::Magic,
            gather: Gather::default(),
            names: Vec::new(),
            count: 0,
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

    /// The name a GNU `/N` reference points at in the long-name table.
    fn long_name(&self, at: &[u8]) -> Option<Vec<u8>> {
        let off: usize = std::str::from_utf8(at).ok()?.trim().parse().ok()?;
        let rest = self.names.get(off..)?;
        let end = rest
            .iter()
            .position(|&b| b == b'\n' || b == 0)
            .unwrap_or(rest.len());
        let name = &rest[..end];
        Some(name.strip_suffix(b"/").unwrap_or(name).to_vec())
    }

    fn header(&mut self, h: &[u8], out: &mut dyn Members) {
        if &h[58..60] != b"`\n" {
            return self.stop(
                out,
                Problem::Corrupt(format!(
                    "ar member header #{} has no end marker: the members from here on cannot \
                     be found",
                    self.count + 1
                )),
            );
        }
        let size = std::str::from_utf8(&h[48..58])
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        let Some(size) = size else {
            return self.stop(
                out,
                Problem::Corrupt(format!(
                    "ar member header #{} has no valid size: the members from here on cannot be \
                     found",
                    self.count + 1
                )),
            );
        };
        self.count += 1;
        let pad = size % 2 == 1;
        let raw = &h[..16];
        let trimmed = {
            let end = raw.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1);
            &raw[..end]
        };
        if trimmed == b"//" {
            if size > MAX_NAMES {
                return self.stop(
                    out,
                    Problem::Limit(format!(
                        "ar long-name table of {size} bytes is over the {MAX_NAMES}-byte limit: \
                         the members cannot be named"
                    )),
                );
            }
            self.names.clear();
            self.enter_data(size, pad, true, out);
            return;
        }
        if let Some(n) = trimmed.strip_prefix(b"#1/") {
            let n = std::str::from_utf8(n)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok());
            match n {
                Some(n) if n <= MAX_BSD_NAME && n <= size => {
                    self.state = State::BsdName {
                        n: n as usize,
                        left: size - n,
                        pad,
                    };
                    if n == 0 {
                        self.bsd_name(Vec::new(), size, pad, out);
                    }
                }
                _ => self.stop(
                    out,
                    Problem::Limit(format!(
                        "ar BSD long name of member #{} is invalid or over {MAX_BSD_NAME} bytes",
                        self.count
                    )),
                ),
            }
            return;
        }
        let symbols = trimmed == b"/" || trimmed == b"/SYM64/" || trimmed.starts_with(b"__.SYMDEF");
        let name = if symbols {
            None
        } else if let Some(at) = trimmed.strip_prefix(b"/") {
            match self.long_name(at) {
                Some(n) => Some(n),
                None => Some(trimmed.to_vec()),
            }
        } else {
            // GNU ends short names with '/'
            Some(trimmed.strip_suffix(b"/").unwrap_or(trimmed).to_vec())
        };
        match name {
            Some(name) => {
                // a member the sink does not want (a limit) is walked past unseen
                self.open = out.begin(&name, Some(size));
                self.enter_data(size, pad, false, out);
            }
            None => self.enter_data(size, pad, false, out),
        }
    }

    fn bsd_name(&mut self, name: Vec<u8>, left: u64, pad: bool, out: &mut dyn Members) {
        let name = match name.iter().position(|&b| b == 0) {
            Some(p) => name[..p].to_vec(),
            None => name,
        };
        if name.starts_with(b"__.SYMDEF") {
            self.enter_data(left, pad, false, out);
            return;
        }
        self.open = out.begin(&name, Some(left));
        self.enter_data(left, pad, false, out);
    }

    fn enter_data(&mut self, left: u64, pad: bool, names: bool, out: &mut dyn Members) {
        self.state = State::Data { left, pad, names };
        if left == 0 {
            self.end_data(pad, out);
        }
    }

    fn end_data(&mut self, pad: bool, out: &mut dyn Members) {
        self.close(out);
        self.state = if pad { State::Pad } else { State::Header };
    }
}

impl Reader for ArReader {
    fn format(&self) -> &'static str {
        self.format
    }

    fn push(&mut self, mut data: &[u8], out: &mut dyn Members) {
        while !data.is_empty() {
            match &mut self.state {
                State::Done => return,
                State::Magic => {
                    if let Some(m) = self.gather.fill(&mut data, MAGIC.len()) {
                        if m.as_slice() != MAGIC {
                            self.stop(out, Problem::Corrupt("not an ar archive".into()));
                        } else {
                            self.state = State::Header;
                        }
                    }
                }
                State::Header => {
                    if let Some(h) = self.gather.fill(&mut data, HEADER) {
                        self.header(&h, out);
                    }
                }
                State::BsdName { n, left, pad } => {
                    let (n, left, pad) = (*n, *left, *pad);
                    if let Some(name) = self.gather.fill(&mut data, n) {
                        self.bsd_name(name, left, pad, out);
                    }
                }
                State::Data { left, pad, names } => {
                    let take = (*left).min(data.len() as u64) as usize;
                    let (chunk, rest) = data.split_at(take);
                    *left -= take as u64;
                    let (done, pad) = (*left == 0, *pad);
                    if *names {
                        self.names.extend_from_slice(chunk);
                    } else if self.open {
                        out.data(chunk);
                    }
                    data = rest;
                    if done {
                        self.end_data(pad, out);
                    }
                }
                State::Pad => {
                    // one byte ("\n") after odd-sized data; some writers omit it at the end
                    data = &data[1..];
                    self.state = State::Header;
                }
            }
        }
    }

    fn end(&mut self, out: &mut dyn Members) {
        match self.state {
            State::Magic | State::Done | State::Pad => {}
            State::Header if self.gather.len() == 0 => {}
            State::Header | State::BsdName { .. } => self.stop(
                out,
                Problem::Truncated("ar archive ends inside a member header".into()),
            ),
            State::Data { left, .. } => self.stop(
                out,
                Problem::Truncated(format!(
                    "ar archive ends {left} bytes short inside a member"
                )),
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

    fn member(name: &str, data: &[u8]) -> Vec<u8> {
        let mut h = format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            0,
            0,
            0,
            644,
            data.len()
        )
        .into_bytes();
        h.extend_from_slice(data);
        if data.len() % 2 == 1 {
            h.push(b'\n');
        }
        h
    }

    #[test]
    fn reads_members_in_any_chunking() {
        let mut a = MAGIC.to_vec();
        a.extend(member("debian-binary", b"2.0\n"));
        a.extend(member("control.tar.gz", b"odd"));
        a.extend(member("data.tar.xz/", b"payload!"));
        assert_eq!(sniff(&a), Some(true));
        for step in [1, 7, 60, 4096] {
            let c = Collect::run(&mut ArReader::new(true), &a, step);
            assert!(c.problems.is_empty(), "{:?}", c.problems);
            let names: Vec<_> = c.members.iter().map(|m| m.0.as_str()).collect();
            assert_eq!(names, ["debian-binary", "control.tar.gz", "data.tar.xz"]);
            assert_eq!(c.get("control.tar.gz"), Some(&b"odd"[..]));
            assert_eq!(c.get("data.tar.xz"), Some(&b"payload!"[..]));
        }
    }

    #[test]
    fn gnu_and_bsd_long_names() {
        let mut a = MAGIC.to_vec();
        a.extend(member("//", b"a-very-long-member-name.txt/\n"));
        a.extend(member("/0", b"gnu"));
        let mut bsd = b"bsd-long-name-here.txt".to_vec();
        bsd.extend_from_slice(b"bsd data");
        a.extend(member("#1/22", &bsd));
        a.extend(member("/", b"symbols"));
        assert_eq!(sniff(&a), Some(false));
        let c = Collect::run(&mut ArReader::new(false), &a, 5);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(c.get("a-very-long-member-name.txt"), Some(&b"gnu"[..]));
        assert_eq!(c.get("bsd-long-name-here.txt"), Some(&b"bsd data"[..]));
        assert_eq!(c.members.len(), 2, "the symbol table is not a member");
    }

    #[test]
    fn truncation_and_corruption_are_problems() {
        let mut a = MAGIC.to_vec();
        a.extend(member("x", b"0123456789"));
        let c = Collect::run(&mut ArReader::new(false), &a[..a.len() - 3], 9);
        assert!(matches!(c.problems[..], [Problem::Truncated(_)]));
        let mut bad = a.clone();
        bad[8 + 58] = b'X';
        let c = Collect::run(&mut ArReader::new(false), &bad, 9);
        assert!(matches!(c.problems[..], [Problem::Corrupt(_)]));
        assert!(c.members.is_empty());
        let mut huge = MAGIC.to_vec();
        huge.extend(member("//", b""));
        huge[8 + 48..8 + 58].copy_from_slice(b"9999999999");
        let c = Collect::run(&mut ArReader::new(false), &huge, 64);
        assert!(matches!(c.problems[..], [Problem::Limit(_)]));
    }
}
