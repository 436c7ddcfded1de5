//! lz4 frames (`04 22 4D 18`) and the legacy format (`02 21 4C 18`), decoded in push mode:
//! the frame walk is ours, each block goes through `lz4_flex`'s safe block decoder. A frame
//! descriptor declares the largest block (64 KiB to 4 MiB); linked blocks are decoded with
//! the previous 64 KiB of output as their dictionary; legacy blocks decode to at most
//! 8 MiB. Concatenated and skippable frames are walked. Checksums are skipped, not checked
//! (a damaged block is still caught by the block decoder's bounds; what it yields is what
//! is inspected). A frame that needs a preset dictionary is refused.

use std::io::Write;

/// Frame magic (little-endian 0x184D2204).
pub const FRAME_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];
/// Legacy magic (0x184C2102).
pub const LEGACY_MAGIC: [u8; 4] = [0x02, 0x21, 0x4c, 0x18];
/// Output of one legacy block.
pub const LEGACY_BLOCK: usize = 8 << 20;
const WINDOW: usize = 64 << 10;

/// Whether `head` starts an lz4 frame (with a valid descriptor) or a legacy stream.
pub fn sniff(head: &[u8]) -> bool {
    if head.starts_with(&LEGACY_MAGIC) {
        return head.len() >= 8;
    }
    head.len() >= 7
        && head.starts_with(&FRAME_MAGIC)
        && head[4] >> 6 == 1
        && head[4] & 2 == 0
        && matches!(head[5], 0x40 | 0x50 | 0x60 | 0x70)
}

#[derive(Clone, Copy, Debug)]
enum State {
    /// Between frames: the next 4 bytes say what follows.
    Magic,
    /// Frame descriptor: FLG and BD.
    Descriptor,
    /// The rest of the descriptor (content size, dictionary id, header checksum).
    DescriptorRest(usize),
    BlockSize,
    Block {
        len: usize,
        raw: bool,
    },
    /// Bytes to pass over (checksums, skippable frames).
    Skip(u64),
    LegacySize,
    LegacyBlock(usize),
    Failed,
}

/// The decoder: encoded bytes in through [`Write`], decoded bytes out into `W`.
pub struct Lz4Decoder<W: Write> {
    out: W,
    state: State,
    held: Vec<u8>,
    block_max: usize,
    linked: bool,
    block_sum: bool,
    content_sum: bool,
    /// The last output, the dictionary of linked blocks.
    window: Vec<u8>,
    buf: Vec<u8>,
    frames: u64,
}

fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

impl<W: Write> Lz4Decoder<W> {
    pub fn new(out: W) -> Lz4Decoder<W> {
        Lz4Decoder {
            out,
            state: State::Magic,
            held: Vec::new(),
            block_max: 0,
            linked: false,
            block_sum: false,
            content_sum: false,
            window: Vec::new(),
            buf: Vec::new(),
            frames: 0,
        }
    }

    /// The output.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// End of input: an error unless it ends between frames (or after legacy blocks).
    pub fn finish(&mut self) -> std::io::Result<()> {
        match self.state {
            State::Magic if self.held.is_empty() && self.frames > 0 => Ok(()),
            State::LegacySize if self.held.is_empty() => Ok(()),
            State::Failed => Err(bad("lz4 stream is corrupt")),
            _ => Err(bad("lz4 stream is truncated")),
        }
    }

    /// Take bytes from `data` until `want` are held.
    fn take(&mut self, data: &mut &[u8], want: usize) -> Option<Vec<u8>> {
        let n = want.saturating_sub(self.held.len()).min(data.len());
        self.held.extend_from_slice(&data[..n]);
        *data = &data[n..];
        (self.held.len() >= want).then(|| std::mem::take(&mut self.held))
    }

    fn emit(&mut self, decoded: usize, linked: bool) -> std::io::Result<()> {
        let d = &self.buf[..decoded];
        if linked {
            if d.len() >= WINDOW {
                self.window.clear();
                self.window.extend_from_slice(&d[d.len() - WINDOW..]);
            } else {
                let drop = (self.window.len() + d.len()).saturating_sub(WINDOW);
                self.window.drain(..drop);
                self.window.extend_from_slice(d);
            }
        }
        self.out.write_all(&self.buf[..decoded])
    }

    fn step(&mut self, data: &mut &[u8]) -> std::io::Result<()> {
        match self.state {
            State::Failed => {
                *data = &[];
                Err(bad("lz4 stream is corrupt"))
            }
            State::Magic => {
                let Some(m) = self.take(data, 4) else {
                    return Ok(());
                };
                if m == FRAME_MAGIC {
                    self.state = State::Descriptor;
                } else if m == LEGACY_MAGIC {
                    self.frames += 1;
                    self.state = State::LegacySize;
                } else if m[1..] == [0x2a, 0x4d, 0x18] && m[0] & 0xf0 == 0x50 {
                    self.held.clear();
                    self.state = State::DescriptorRest(usize::MAX); // skippable: size next
                } else {
                    self.state = State::Failed;
                    return Err(bad("bytes after an lz4 frame are not another frame"));
                }
                Ok(())
            }
            State::Descriptor => {
                let Some(d) = self.take(data, 2) else {
                    return Ok(());
                };
                let (flg, bd) = (d[0], d[1]);
                if flg >> 6 != 1 || flg & 2 != 0 || bd & 0x8f != 0 || bd >> 4 < 4 {
                    self.state = State::Failed;
                    return Err(bad("lz4 frame descriptor is not valid"));
                }
                if flg & 1 != 0 {
                    self.state = State::Failed;
                    return Err(bad(
                        "lz4 frame needs a preset dictionary, which the file does not carry",
                    ));
                }
                self.block_max = 1 << (8 + 2 * usize::from(bd >> 4));
                self.linked = flg & 0x20 == 0;
                self.block_sum = flg & 0x10 != 0;
                self.content_sum = flg & 4 != 0;
                self.window.clear();
                self.frames += 1;
                let rest = if flg & 8 != 0 { 8 } else { 0 } + 1;
                self.state = State::DescriptorRest(rest);
                Ok(())
            }
            State::DescriptorRest(usize::MAX) => {
                let Some(s) = self.take(data, 4) else {
                    return Ok(());
                };
                self.state = State::Skip(u64::from(u32::from_le_bytes([s[0], s[1], s[2], s[3]])));
                Ok(())
            }
            State::DescriptorRest(n) => {
                if self.take(data, n).is_some() {
                    self.state = State::BlockSize;
                }
                Ok(())
            }
            State::BlockSize => {
                let Some(s) = self.take(data, 4) else {
                    return Ok(());
                };
                let v = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                if v == 0 {
                    self.block_max = 0; // end mark: a skip from here is past the frame
                    self.state = if self.content_sum {
                        State::Skip(4)
                    } else {
                        State::Magic
                    };
                    return Ok(());
                }
                let (len, raw) = ((v & 0x7fff_ffff) as usize, v & 0x8000_0000 != 0);
                if len > self.block_max {
                    self.state = State::Failed;
                    return Err(bad(format!(
                        "lz4 block of {len} bytes is larger than the frame's {} limit",
                        self.block_max
                    )));
                }
                self.state = State::Block { len, raw };
                Ok(())
            }
            State::Block { len, raw } => {
                let Some(block) = self.take(data, len) else {
                    return Ok(());
                };
                let after = if self.block_sum {
                    State::Skip(4)
                } else {
                    State::BlockSize
                };
                if raw {
                    self.buf.clear();
                    self.buf.extend_from_slice(&block);
                    self.state = after;
                    let linked = self.linked;
                    return self.emit(block.len(), linked);
                }
                self.buf.resize(self.block_max, 0);
                let r = if self.linked && !self.window.is_empty() {
                    lz4_flex::block::decompress_into_with_dict(&block, &mut self.buf, &self.window)
                } else {
                    lz4_flex::block::decompress_into(&block, &mut self.buf)
                };
                match r {
                    Ok(n) => {
                        // Skip(4) after a block checksum returns to BlockSize, see below
                        self.state = after;
                        let linked = self.linked;
                        self.emit(n, linked)
                    }
                    Err(e) => {
                        self.state = State::Failed;
                        Err(bad(format!("lz4 block does not decode ({e})")))
                    }
                }
            }
            State::Skip(n) => {
                let k = n.min(data.len() as u64);
                *data = &data[k as usize..];
                let left = n - k;
                self.state = if left > 0 {
                    State::Skip(left)
                } else if self.in_frame_after_skip() {
                    State::BlockSize
                } else {
                    State::Magic
                };
                Ok(())
            }
            State::LegacySize => {
                let Some(s) = self.take(data, 4) else {
                    return Ok(());
                };
                if s == LEGACY_MAGIC {
                    return Ok(()); // another legacy stream
                }
                if s == FRAME_MAGIC {
                    self.state = State::Descriptor;
                    return Ok(());
                }
                let len = u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize;
                // LZ4_compressBound(8 MiB)
                if len == 0 || len > LEGACY_BLOCK + LEGACY_BLOCK / 255 + 16 {
                    self.state = State::Failed;
                    return Err(bad(format!("lz4 legacy block size {len} is not valid")));
                }
                self.state = State::LegacyBlock(len);
                Ok(())
            }
            State::LegacyBlock(len) => {
                let Some(block) = self.take(data, len) else {
                    return Ok(());
                };
                self.buf.resize(LEGACY_BLOCK, 0);
                match lz4_flex::block::decompress_into(&block, &mut self.buf) {
                    Ok(n) => {
                        self.state = State::LegacySize;
                        self.emit(n, false)
                    }
                    Err(e) => {
                        self.state = State::Failed;
                        Err(bad(format!("lz4 legacy block does not decode ({e})")))
                    }
                }
            }
        }
    }

    /// A pending skip is a block checksum (inside a frame) rather than a content checksum
    /// or a skippable frame: tracked by `block_max` being set until the end mark.
    fn in_frame_after_skip(&self) -> bool {
        self.block_max != 0
    }
}

impl<W: Write> Write for Lz4Decoder<W> {
    fn write(&mut self, mut data: &[u8]) -> std::io::Result<usize> {
        let n = data.len();
        while !data.is_empty() {
            self.step(&mut data)?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(enc: &[u8], step: usize) -> std::io::Result<Vec<u8>> {
        let mut d = Lz4Decoder::new(Vec::new());
        for c in enc.chunks(step) {
            d.write_all(c)?;
        }
        d.finish()?;
        Ok(std::mem::take(d.get_mut()))
    }

    /// A frame by hand: independent blocks, no checksums, one compressed block.
    fn frame(data: &[u8]) -> Vec<u8> {
        let mut f = FRAME_MAGIC.to_vec();
        f.extend([0x60, 0x40, 0x00]); // version 1, independent; 64 KiB blocks; HC (unchecked)
        for chunk in data.chunks(64 << 10) {
            let c = lz4_flex::block::compress(chunk);
            f.extend((c.len() as u32).to_le_bytes());
            f.extend(c);
        }
        f.extend([0, 0, 0, 0]);
        f
    }

    #[test]
    fn frames_in_any_chunking_and_concatenated() {
        let data = b"AKIA and more text that repeats; ".repeat(5000);
        let mut two = frame(&data);
        assert!(sniff(&two));
        two.extend(frame(b"second frame"));
        for step in [1, 5, 4096, 1 << 20] {
            let mut want = data.clone();
            want.extend_from_slice(b"second frame");
            assert_eq!(decode(&two, step).expect("decodes"), want);
        }
    }

    #[test]
    fn truncated_and_corrupt_frames_are_errors() {
        let f = frame(&b"abc".repeat(1000));
        assert!(decode(&f[..f.len() - 6], 7).is_err());
        let mut big = f.clone();
        big[7..11].copy_from_slice(&(1u32 << 20).to_le_bytes());
        assert!(decode(&big, 64).is_err(), "block over the frame's limit");
        let mut dict = f.clone();
        dict[4] |= 1;
        assert!(decode(&dict, 64).is_err(), "preset dictionary");
        assert!(!sniff(b"\x04\x22\x4d\x18\xff\xffxx"), "bad descriptor");
    }
}
