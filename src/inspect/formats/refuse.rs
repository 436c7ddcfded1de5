//! Formats airgate recognises but does not open: their magic bytes, so such a file is
//! refused by name instead of passing as opaque bytes. ISO 9660 and UDF images are known by
//! a volume descriptor 32 KiB in ([`VOLUME_OFFSET`]); the rest by their first bytes.

/// A refused format: the name a policy uses for it, and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    pub name: &'static str,
    pub what: &'static str,
}

/// Refused formats known by their first bytes.
pub const BY_HEAD: &[(&[u8], Refused)] = &[
    (
        b"7z\xbc\xaf\x27\x1c",
        Refused {
            name: "7z",
            what: "7z archive",
        },
    ),
    (
        b"Rar!\x1a\x07\x01\x00",
        Refused {
            name: "rar5",
            what: "RAR 5 archive",
        },
    ),
    (
        b"Rar!\x1a\x07\x00",
        Refused {
            name: "rar4",
            what: "RAR 4 archive",
        },
    ),
    (
        b"hsqs",
        Refused {
            name: "squashfs",
            what: "squashfs image",
        },
    ),
    (
        b"sqsh",
        Refused {
            name: "squashfs",
            what: "squashfs image (big-endian)",
        },
    ),
    (
        b"MSCF\0\0\0\0",
        Refused {
            name: "cab",
            what: "Microsoft cabinet (CAB)",
        },
    ),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        Refused {
            name: "ole",
            what: "OLE compound file (MSI, legacy Office)",
        },
    ),
    (
        b"xar!",
        Refused {
            name: "xar",
            what: "XAR archive (macOS .pkg)",
        },
    ),
    (
        b"MSWIM\0\0\0",
        Refused {
            name: "wim",
            what: "Windows imaging (WIM) archive",
        },
    ),
    (
        b"!<thin>\n",
        Refused {
            name: "ar-thin",
            what: "thin ar archive (members are paths to other files)",
        },
    ),
    (
        b"\xc7\x71",
        Refused {
            name: "cpio-binary",
            what: "old binary cpio archive",
        },
    ),
    (
        b"\x71\xc7",
        Refused {
            name: "cpio-binary",
            what: "old binary cpio archive",
        },
    ),
];

/// Where ISO 9660 and UDF put their first volume descriptor's identifier.
pub const VOLUME_OFFSET: u64 = 0x8001;

/// Refused formats known by the 5 bytes at [`VOLUME_OFFSET`].
pub const BY_VOLUME: &[(&[u8; 5], Refused)] = &[
    (
        b"CD001",
        Refused {
            name: "iso9660",
            what: "ISO 9660 disc image",
        },
    ),
    (
        b"BEA01",
        Refused {
            name: "udf",
            what: "UDF disc image",
        },
    ),
];

/// Every refused format's policy name (for checking `[inspect.uninspectable]`), plus the
/// names the nested readers use for what they refuse inside archives.
pub fn names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = BY_HEAD
        .iter()
        .map(|r| r.1.name)
        .chain(BY_VOLUME.iter().map(|r| r.1.name))
        .chain(["zip-encrypted", "zip-method", "rpm-signature"])
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The refused format `head` starts with, if any (the binary cpio magic only with a
/// plausible header behind it: two bytes alone are too common).
pub fn sniff(head: &[u8]) -> Option<Refused> {
    let (_, r) = BY_HEAD.iter().find(|(m, _)| head.starts_with(m))?;
    if r.name == "cpio-binary" && head.len() < 26 {
        return None;
    }
    if r.name == "cpio-binary" {
        // namesize (bytes 20..22) is small and nonzero, the name is NUL-terminated
        let le = head[0] == 0xc7;
        let n = if le {
            u16::from_le_bytes([head[20], head[21]])
        } else {
            u16::from_be_bytes([head[20], head[21]])
        } as usize;
        let ok = (1..=1024).contains(&n) && head.get(26 + n - 1) == Some(&0);
        return ok.then_some(*r);
    }
    Some(*r)
}

/// The refused format whose volume identifier is `id` (the bytes at [`VOLUME_OFFSET`]).
pub fn volume(id: &[u8]) -> Option<Refused> {
    BY_VOLUME
        .iter()
        .find(|(m, _)| id.starts_with(*m))
        .map(|r| r.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_and_near_misses() {
        assert_eq!(
            sniff(b"7z\xbc\xaf\x27\x1c\0\x04").map(|r| r.name),
            Some("7z")
        );
        assert_eq!(
            sniff(b"Rar!\x1a\x07\x01\x00xx").map(|r| r.name),
            Some("rar5")
        );
        assert_eq!(sniff(b"Rar!\x1a\x07\x00xx").map(|r| r.name), Some("rar4"));
        assert_eq!(sniff(b"Rar! is a word"), None);
        assert_eq!(sniff(b"7z is a tool"), None);
        assert_eq!(sniff(b"MSCF is not enough"), None);
        assert_eq!(sniff(b"\xc7\x71 two bytes of a binary file"), None);
        assert_eq!(volume(b"CD001\x01").map(|r| r.name), Some("iso9660"));
        assert_eq!(volume(b"CD002"), None);
        assert!(names().contains(&"iso9660"));
    }
}
