//! Tar header fields, read strictly: numbers (octal, or GNU base-256 but never negative), the
//! checksum (the unsigned sum only), the entry name (name + POSIX ustar prefix) and PAX
//! extended-header records. Wherever tar readers are known to disagree, the field is refused
//! rather than read one way: see `docs/archive-safety.md`.

use super::tar::{TarError, BLOCK};

/// Largest mode value: seven octal digits (what a ustar mode field holds).
pub const MAX_MODE: u64 = 0o7_777_777;

/// Check a header block's checksum: the unsigned sum of its bytes with the checksum field
/// read as spaces, stored as octal. A header right only as a signed sum (bytes over 0x7f
/// counted as negative, an old writers' bug some readers accept) is refused by its own name.
pub fn check_checksum(hdr: &[u8; BLOCK], n: u64) -> Result<(), TarError> {
    let stored = parse_octal(&hdr[148..156], "checksum").map_err(|_| TarError::Checksum(n))?;
    let mut unsigned: i64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in hdr.iter().enumerate() {
        let (u, s) = if (148..156).contains(&i) {
            (32, 32)
        } else {
            (i64::from(b), i64::from(b as i8))
        };
        unsigned += u;
        signed += s;
    }
    if u64::try_from(unsigned).ok() == Some(stored) {
        return Ok(());
    }
    if u64::try_from(signed).ok() == Some(stored) {
        return Err(TarError::SignedChecksum(n));
    }
    Err(TarError::Checksum(n))
}

/// Parse an octal (NUL/space terminated) or GNU base-256 numeric field. Negative base-256
/// numbers are refused.
pub fn parse_number(field: &[u8], what: &'static str) -> Result<u64, TarError> {
    if let Some(&first) = field.first() {
        if first & 0x80 != 0 {
            if first & 0x40 != 0 {
                return Err(TarError::Malformed {
                    what,
                    detail: "negative base-256 number".into(),
                });
            }
            let mut v: u64 = u64::from(first & 0x3f);
            for &b in &field[1..] {
                v = v
                    .checked_mul(256)
                    .and_then(|v| v.checked_add(u64::from(b)))
                    .ok_or_else(|| TarError::Malformed {
                        what,
                        detail: "base-256 number overflows".into(),
                    })?;
            }
            return Ok(v);
        }
    }
    parse_octal(field, what)
}

/// Parse an octal field only (leading spaces, then digits, then NUL or space).
pub fn parse_octal(field: &[u8], what: &'static str) -> Result<u64, TarError> {
    let s: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|&b| b != 0 && b != b' ')
        .collect();
    let mut v: u64 = 0;
    for b in s {
        if !(b'0'..=b'7').contains(&b) {
            return Err(TarError::Malformed {
                what,
                detail: format!("byte {b:#x} in an octal field"),
            });
        }
        v = v
            .checked_mul(8)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or_else(|| TarError::Malformed {
                what,
                detail: "octal number overflows".into(),
            })?;
    }
    Ok(v)
}

/// The bytes of a NUL-terminated field up to its NUL; refused when anything but NULs follows
/// the NUL (readers that stop at the NUL and readers that do not would see different names).
pub fn c_name<'a>(field: &'a [u8], what: &'static str) -> Result<&'a [u8], TarError> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    if field[end..].iter().any(|&b| b != 0) {
        return Err(TarError::BadPath {
            path: String::from_utf8_lossy(&field[..end]).into_owned(),
            reason: match what {
                "GNU long name" => "the GNU long name holds bytes after its NUL",
                _ => "the name field holds bytes after its NUL",
            },
        });
    }
    Ok(&field[..end])
}

/// Is this a POSIX ustar header (magic `ustar\0`, version `00`)?
fn is_posix_ustar(hdr: &[u8; BLOCK]) -> bool {
    &hdr[257..263] == b"ustar\0" && &hdr[263..265] == b"00"
}

/// Refuse a header that is not POSIX ustar but has bytes where ustar keeps its name prefix
/// (GNU headers keep times there; some readers prepend them to the name as a prefix anyway).
pub fn check_prefix_field(hdr: &[u8; BLOCK]) -> Result<(), TarError> {
    if !is_posix_ustar(hdr) && hdr[345] != 0 {
        let gnu = &hdr[257..265] == b"ustar  \0";
        return Err(TarError::Malformed {
            what: "tar header",
            detail: if gnu {
                "a GNU header with a ustar prefix field (GNU tar reads it as times, other \
                 readers as a path prefix)"
                    .into()
            } else {
                "a non-ustar header with a ustar prefix field".into()
            },
        });
    }
    Ok(())
}

/// The entry name of a header: the ustar prefix (POSIX ustar headers only), `/`, the name.
pub fn header_name(hdr: &[u8; BLOCK]) -> Result<String, TarError> {
    let name = c_name(&hdr[0..100], "name")?;
    let prefix = if is_posix_ustar(hdr) {
        c_name(&hdr[345..500], "name")?
    } else {
        &[][..]
    };
    let mut full = Vec::with_capacity(prefix.len() + name.len() + 1);
    if !prefix.is_empty() {
        full.extend_from_slice(prefix);
        full.push(b'/');
    }
    full.extend_from_slice(name);
    String::from_utf8(full).map_err(|e| TarError::BadPath {
        path: String::from_utf8_lossy(e.as_bytes()).into_owned(),
        reason: "name is not UTF-8",
    })
}

/// The GNU long name in an `L` entry's body.
pub fn long_name(body: &[u8]) -> Result<String, TarError> {
    let name = c_name(body, "GNU long name")?;
    String::from_utf8(name.to_vec()).map_err(|_| TarError::BadPath {
        path: String::from_utf8_lossy(name).into_owned(),
        reason: "name is not UTF-8",
    })
}

/// What a PAX extended header says about the next entry.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pax {
    pub path: Option<String>,
    pub size: Option<u64>,
}

/// Parse PAX records `"<len> <key>=<value>\n"`. Lengths and sizes are plain decimal digits;
/// `path` and `size` may appear once; link, sparse and charset-changing records are refused.
pub fn parse_pax(body: &[u8]) -> Result<Pax, TarError> {
    let bad = |d: &str| TarError::Malformed {
        what: "PAX header",
        detail: d.to_string(),
    };
    let digits = |s: &[u8]| -> Option<u64> {
        if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    let mut pax = Pax::default();
    let mut rest = body;
    while !rest.is_empty() {
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let sp = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| bad("record without length"))?;
        let len = digits(&rest[..sp])
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| bad("record length is not a decimal number"))?;
        if len <= sp + 1 || len > rest.len() {
            return Err(bad("record length out of range"));
        }
        let rec = rest[sp + 1..len]
            .strip_suffix(b"\n")
            .ok_or_else(|| bad("record does not end in a newline"))?;
        let eq = rec
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| bad("record without '='"))?;
        let (key, value) = (&rec[..eq], &rec[eq + 1..]);
        match key {
            b"path" => {
                let v = String::from_utf8(value.to_vec()).map_err(|_| TarError::BadPath {
                    path: String::from_utf8_lossy(value).into_owned(),
                    reason: "name is not UTF-8",
                })?;
                if pax.path.replace(v).is_some() {
                    return Err(bad("path given twice"));
                }
            }
            b"size" => {
                let v = digits(value).ok_or_else(|| bad("size is not a decimal number"))?;
                if pax.size.replace(v).is_some() {
                    return Err(bad("size given twice"));
                }
            }
            b"linkpath" => return Err(bad("linkpath records are not allowed")),
            b"hdrcharset" => return Err(bad("hdrcharset records are not allowed")),
            k if k.starts_with(b"GNU.sparse") => return Err(bad("sparse records are not allowed")),
            _ => {}
        }
        rest = &rest[len..];
    }
    Ok(pax)
}
