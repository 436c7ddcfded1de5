//! Small shared helpers: time parsing and formatting, temporaries beside outputs.

pub(crate) mod tmp;

pub use tmp::{
    prefix as temp_prefix, sweep_own as sweep_own_temps, sweep_stale as sweep_stale_temps,
};

/// Parse an RFC 3339 timestamp into seconds since the Unix epoch.
pub fn parse_time(s: &str) -> Result<i64, String> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|e| e.to_string())
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// RFC 3339 (UTC, seconds) for a Unix time.
pub fn format_time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| secs.to_string())
}

/// Hex SHA-256 and length of the file at `path`, read in 1 MiB blocks (never whole).
pub fn hash_file(path: &std::path::Path) -> std::io::Result<(String, u64)> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex::encode(h.finalize()), n))
}

/// Read all of `reader`, refusing more than `limit` bytes: a longer input is an error of
/// kind [`std::io::ErrorKind::FileTooLarge`] and nothing past `limit + 1` bytes is read.
pub fn read_bounded(reader: impl std::io::Read, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    reader.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than {limit} bytes"),
        ));
    }
    Ok(buf)
}

/// [`read_bounded`] of the file at `path`: the one way the crate reads a whole file it did
/// not write in this run (keys, signatures, receipts, state), so a file that grows between
/// a size check and the read cannot exhaust memory.
pub fn read_file_bounded(path: &std::path::Path, limit: u64) -> std::io::Result<Vec<u8>> {
    read_bounded(std::fs::File::open(path)?, limit)
}

/// Whether `e` is [`read_bounded`]'s refusal of an input over its limit.
pub fn is_too_large(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::FileTooLarge
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_round_trip() {
        let t = parse_time("2027-01-02T03:04:05Z").unwrap();
        assert_eq!(format_time(t), "2027-01-02T03:04:05Z");
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn hash_file_streams_past_one_block() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        // "abc" is the FIPS 180-2 example; a file over one read block hashes the same way
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            hash_file(&p).unwrap(),
            (
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
                3
            )
        );
        std::fs::write(&p, vec![b'a'; (1 << 20) + 7]).unwrap();
        let (h, n) = hash_file(&p).unwrap();
        assert_eq!(n, (1 << 20) + 7);
        use sha2::{Digest, Sha256};
        assert_eq!(h, hex::encode(Sha256::digest(vec![b'a'; (1 << 20) + 7])));
        assert!(hash_file(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn bounded_reads_stop_at_the_limit() {
        assert_eq!(read_bounded(&b"abcd"[..], 4).unwrap(), b"abcd");
        let e = read_bounded(&b"abcde"[..], 4).unwrap_err();
        assert!(is_too_large(&e), "{e}");
        assert!(e.to_string().contains("larger than 4 bytes"));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"12345678").unwrap();
        assert_eq!(read_file_bounded(&p, 8).unwrap().len(), 8);
        assert!(is_too_large(&read_file_bounded(&p, 7).unwrap_err()));
        let missing = read_file_bounded(&dir.path().join("no"), 7).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    }
}
