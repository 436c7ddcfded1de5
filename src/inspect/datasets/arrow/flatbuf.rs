//! FlatBuffers tables read with every offset checked against the buffer: a table's vtable,
//! its scalar fields, and the tables, vectors and strings it points to. Nothing is trusted:
//! a bad offset is an error, never a panic.

/// Why flatbuffer bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("flatbuffer offset {0} points outside the message")]
pub struct FlatError(pub usize);

type Result<T> = std::result::Result<T, FlatError>;

fn u16_at(b: &[u8], at: usize) -> Result<u16> {
    let s = b
        .get(at..at.checked_add(2).ok_or(FlatError(at))?)
        .ok_or(FlatError(at))?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32> {
    let s = b
        .get(at..at.checked_add(4).ok_or(FlatError(at))?)
        .ok_or(FlatError(at))?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The little-endian i64 at `at`.
pub fn i64_at(b: &[u8], at: usize) -> Result<i64> {
    let s = b
        .get(at..at.checked_add(8).ok_or(FlatError(at))?)
        .ok_or(FlatError(at))?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Ok(i64::from_le_bytes(a))
}

/// A table: its position and its vtable's.
#[derive(Debug, Clone, Copy)]
pub struct Table<'a> {
    buf: &'a [u8],
    pos: usize,
    vt: usize,
    vt_len: usize,
}

/// A vector: the position of its first element and its length.
#[derive(Debug, Clone, Copy)]
pub struct Vector<'a> {
    buf: &'a [u8],
    start: usize,
    pub len: usize,
}

impl<'a> Table<'a> {
    /// The root table of `buf`.
    pub fn root(buf: &'a [u8]) -> Result<Table<'a>> {
        let at = u32_at(buf, 0)? as usize;
        Table::at(buf, at)
    }

    fn at(buf: &'a [u8], pos: usize) -> Result<Table<'a>> {
        let soff = u32_at(buf, pos)? as i32 as i64;
        let vt = pos as i64 - soff;
        let vt = usize::try_from(vt).map_err(|_| FlatError(pos))?;
        let vt_len = u16_at(buf, vt)? as usize;
        if vt_len < 4 || vt.checked_add(vt_len).is_none_or(|e| e > buf.len()) {
            return Err(FlatError(vt));
        }
        Ok(Table {
            buf,
            pos,
            vt,
            vt_len,
        })
    }

    /// Where field `slot` lies, if present.
    fn field(&self, slot: usize) -> Result<Option<usize>> {
        let entry = 4 + 2 * slot;
        if entry + 2 > self.vt_len {
            return Ok(None);
        }
        let off = u16_at(self.buf, self.vt + entry)? as usize;
        if off == 0 {
            return Ok(None);
        }
        Ok(Some(self.pos.checked_add(off).ok_or(FlatError(self.pos))?))
    }

    fn bytes(&self, slot: usize, n: usize) -> Result<Option<&'a [u8]>> {
        match self.field(slot)? {
            Some(at) => Ok(Some(self.buf.get(at..at + n).ok_or(FlatError(at))?)),
            None => Ok(None),
        }
    }

    pub fn u8(&self, slot: usize, default: u8) -> Result<u8> {
        Ok(self.bytes(slot, 1)?.map_or(default, |b| b[0]))
    }

    pub fn bool(&self, slot: usize) -> Result<bool> {
        Ok(self.u8(slot, 0)? != 0)
    }

    pub fn i16(&self, slot: usize, default: i16) -> Result<i16> {
        Ok(self
            .bytes(slot, 2)?
            .map_or(default, |b| i16::from_le_bytes([b[0], b[1]])))
    }

    pub fn i32(&self, slot: usize, default: i32) -> Result<i32> {
        Ok(self
            .bytes(slot, 4)?
            .map_or(default, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    }

    pub fn i64(&self, slot: usize, default: i64) -> Result<i64> {
        match self.field(slot)? {
            Some(at) => i64_at(self.buf, at),
            None => Ok(default),
        }
    }

    /// Follow the offset stored in field `slot`.
    fn follow(&self, slot: usize) -> Result<Option<usize>> {
        match self.field(slot)? {
            Some(at) => {
                let rel = u32_at(self.buf, at)? as usize;
                Ok(Some(at.checked_add(rel).ok_or(FlatError(at))?))
            }
            None => Ok(None),
        }
    }

    /// The table in field `slot`.
    pub fn table(&self, slot: usize) -> Result<Option<Table<'a>>> {
        match self.follow(slot)? {
            Some(at) => Ok(Some(Table::at(self.buf, at)?)),
            None => Ok(None),
        }
    }

    /// The vector in field `slot`, whose elements take `elem` bytes each.
    pub fn vector(&self, slot: usize, elem: usize) -> Result<Option<Vector<'a>>> {
        let Some(at) = self.follow(slot)? else {
            return Ok(None);
        };
        let len = u32_at(self.buf, at)? as usize;
        let start = at + 4;
        let end = len
            .checked_mul(elem)
            .and_then(|n| start.checked_add(n))
            .ok_or(FlatError(at))?;
        if end > self.buf.len() {
            return Err(FlatError(at));
        }
        Ok(Some(Vector {
            buf: self.buf,
            start,
            len,
        }))
    }

    /// The string in field `slot` (its bytes, without the terminating NUL).
    pub fn string(&self, slot: usize) -> Result<Option<&'a [u8]>> {
        Ok(self
            .vector(slot, 1)?
            .map(|v| &v.buf[v.start..v.start + v.len]))
    }
}

impl<'a> Vector<'a> {
    /// Element `i` of a vector of tables.
    pub fn table(&self, i: usize) -> Result<Table<'a>> {
        let at = self.start + 4 * i;
        let rel = u32_at(self.buf, at)? as usize;
        Table::at(self.buf, at.checked_add(rel).ok_or(FlatError(at))?)
    }

    /// Element `i` of a vector of structs `size` bytes long.
    pub fn item(&self, i: usize, size: usize) -> &'a [u8] {
        let at = self.start + size * i;
        self.buf.get(at..at + size).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_refuses_wild_offsets() {
        // root offset 12 -> table at 12; vtable at 4: len 8, table len 8, slot0 at +4
        let mut b = vec![12, 0, 0, 0, 8, 0, 8, 0, 4, 0, 0, 0];
        b.extend_from_slice(&8i32.to_le_bytes()); // soffset: vtable = 12 - 8 = 4
        b.extend_from_slice(&77i32.to_le_bytes()); // slot 0
        let t = Table::root(&b).expect("root");
        assert_eq!(t.i32(0, 0).expect("slot 0"), 77);
        assert_eq!(t.i32(1, -1).expect("absent slot"), -1);
        assert!(t.table(0).is_err(), "77 points outside the buffer");
        let mut bad = b.clone();
        bad[12..16].copy_from_slice(&1000i32.to_le_bytes());
        assert!(Table::root(&bad).is_err());
        assert!(Table::root(&b[..3]).is_err());
    }
}
