//! Shared parts of minisign and signify files: line and base64 parsing with size limits,
//! the common Ed25519 public key file, key ids, errors, and telling a file's format from
//! its content.

use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest key or signature file read (a minisign signature with the longest trusted
/// comment minisign writes is about 10 KiB). Signify reads only the first two lines, so a
/// larger signify file is read up to this many bytes and the rest ignored.
pub const MAX_SIG_FILE: u64 = 16 * 1024;
/// Longest untrusted comment line, prefix included (signify's `COMMENTMAXLEN`).
pub const MAX_UNTRUSTED_COMMENT: usize = 1024;
/// Longest trusted comment, prefix excluded (minisign's `TRUSTEDCOMMENTMAXBYTES`).
pub const MAX_TRUSTED_COMMENT: usize = 8192;
/// Most bytes of a file signed over its raw content (minisign legacy `Ed` and signify),
/// which must be held in memory to verify. Prehashed minisign (`ED`) has no limit.
pub const DEFAULT_MAX_RAW_MESSAGE: u64 = 256 << 20;

/// Prefix of the first line of every minisign and signify file.
pub const UNTRUSTED_PREFIX: &str = "untrusted comment: ";
/// Prefix of the third line of a minisign signature.
pub const TRUSTED_PREFIX: &str = "trusted comment: ";

/// Which tool's format a file is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// minisign (Ed25519, legacy or prehashed with BLAKE2b-512).
    Minisign,
    /// OpenBSD signify (Ed25519 over the file).
    Signify,
}

impl Tool {
    /// `minisign` or `signify`, as used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Tool::Minisign => "minisign",
            Tool::Signify => "signify",
        }
    }
}

/// Errors reading or verifying minisign and signify files.
#[derive(Debug, thiserror::Error)]
pub enum SigError {
    /// A signature or key file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    Read {
        /// Which file: the signature or the public key.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The signed file could not be read.
    #[error("cannot read the signed data: {0}")]
    Io(#[source] std::io::Error),
    /// A file is over its size limit.
    #[error("{what} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// Which file.
        what: &'static str,
        /// The limit in bytes.
        limit: u64,
    },
    /// A file does not have its tool's layout.
    #[error("{what} is malformed: {message}")]
    Malformed {
        /// Which file.
        what: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The algorithm bytes name no algorithm of the tool.
    #[error("{what} uses algorithm {alg:?}, which is not one {tool} defines")]
    UnknownAlgorithm {
        /// Which file.
        what: &'static str,
        /// `minisign` or `signify`.
        tool: &'static str,
        /// The algorithm bytes as found.
        alg: String,
    },
    /// The signature names another key than the one given.
    #[error("signature was made by key id {signature}, but the public key has id {key}")]
    KeyIdMismatch {
        /// Key id in the signature.
        signature: KeyId,
        /// Key id of the public key.
        key: KeyId,
    },
    /// The signature is for other bytes than the file's.
    #[error("signature does not verify: the file was changed, or the signature is corrupt")]
    BadSignature,
    /// minisign's global signature over the signature and trusted comment fails.
    #[error("trusted comment does not verify: the comment or its global signature was changed")]
    BadTrustedComment,
    /// A legacy minisign or a signify signature over a file larger than what is read into
    /// memory.
    #[error(
        "signed file is over {limit} bytes; {tool} signatures over the raw file need it all in \
         memory, so larger files are refused (re-sign it with minisign's default prehashed mode)"
    )]
    MessageTooLarge {
        /// `minisign` or `signify`.
        tool: &'static str,
        /// Largest file verified this way, in bytes.
        limit: u64,
    },
    /// A legacy minisign signature where the options require prehashed ones.
    #[error(
        "legacy (non-prehashed) minisign signature refused: prehashed signatures are required"
    )]
    LegacyRefused,
}

/// The 8-byte key id (signify calls it the key number) stored in keys and signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; 8]);

impl std::fmt::Display for KeyId {
    /// As minisign prints it: the bytes read as a little-endian integer in upper-case hex,
    /// without leading zeros (`minisign public key 9CC2D6835FC0BB05`; minisign formats it
    /// with `%llX`, so an id starting with a zero nibble has 15 digits).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:X}", u64::from_le_bytes(self.0))
    }
}

/// An Ed25519 public key file. minisign and signify use the same layout: an untrusted
/// comment line, then base64 of `"Ed"` ‖ key id (8) ‖ key (32).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    id: KeyId,
    key: VerifyingKey,
    comment: String,
}

impl PublicKey {
    /// Parse a key file's bytes (two lines; trailing blank lines allowed).
    pub fn parse(bytes: &[u8]) -> Result<PublicKey, SigError> {
        const WHAT: &str = "minisign/signify public key";
        if bytes.len() as u64 > MAX_SIG_FILE {
            return Err(SigError::TooLarge {
                what: WHAT,
                limit: MAX_SIG_FILE,
            });
        }
        let lines = Lines::new(bytes);
        let comment = untrusted_comment(lines.get(0), WHAT)?;
        let key_line = lines
            .get(1)
            .ok_or_else(|| malformed(WHAT, "no key line after the comment"))?;
        lines.only_blank_after(2, WHAT)?;
        let mut key = PublicKey::from_base64_line(key_line, WHAT)?;
        key.comment = comment;
        Ok(key)
    }

    /// Parse the bare base64 form (`minisign -P RWQ...`).
    pub fn from_base64(text: &str) -> Result<PublicKey, SigError> {
        PublicKey::from_base64_line(text.trim().as_bytes(), "minisign/signify public key")
    }

    fn from_base64_line(line: &[u8], what: &'static str) -> Result<PublicKey, SigError> {
        let raw: [u8; 42] = decode_fixed(line, what)?;
        if &raw[..2] != b"Ed" {
            return Err(SigError::UnknownAlgorithm {
                what,
                tool: "minisign or signify",
                alg: String::from_utf8_lossy(&raw[..2]).into_owned(),
            });
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&raw[2..10]);
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&raw[10..]);
        let key = VerifyingKey::from_bytes(&pk)
            .map_err(|_| malformed(what, "the key bytes are not a valid Ed25519 point"))?;
        Ok(PublicKey {
            id: KeyId(id),
            key,
            comment: String::new(),
        })
    }

    /// Read and parse a key file.
    pub fn load(path: &Path) -> Result<PublicKey, SigError> {
        let bytes = read_limited(path, "public key file", true)?;
        PublicKey::parse(&bytes)
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The untrusted comment (empty for the bare base64 form).
    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// Strict Ed25519 check of `sig` over `msg`.
    pub(crate) fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        self.key.verify_strict(msg, &sig).is_ok()
    }
}

/// What a minisign/signify-style (or other) key or signature file is, judged from content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// Four lines with a `trusted comment:` third line (or algorithm `ED`).
    MinisignSignature,
    /// Untrusted comment and an `Ed` signature line, without a trusted comment.
    SignifySignature,
    /// A minisign or signify public key (the layouts are identical and either verifies
    /// either tool's signatures); `made_by` is what the untrusted comment claims.
    PublicKey {
        /// Which tool the untrusted comment says made it; `None` when it does not say.
        made_by: Option<Tool>,
    },
    /// A secret key: the caller should be given the public one.
    SecretKey(Tool),
    /// PEM text (`-----BEGIN ...`), e.g. an SPKI public key.
    Pem,
    /// JSON (e.g. a Sigstore bundle).
    Json,
    /// None of the above.
    Unknown,
}

/// Tell the format of a key or signature file from its first bytes (at most
/// [`MAX_SIG_FILE`] are looked at). Never fails: anything unrecognised is `Unknown`.
pub fn detect(bytes: &[u8]) -> FileFormat {
    let bytes = &bytes[..bytes.len().min(MAX_SIG_FILE as usize)];
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let body = &bytes[start..];
    if body.starts_with(b"-----BEGIN ") {
        return FileFormat::Pem;
    }
    if body.starts_with(b"{") {
        return FileFormat::Json;
    }
    let lines = Lines::new(bytes);
    let Some(first) = lines.get(0) else {
        return FileFormat::Unknown;
    };
    if !first.starts_with(UNTRUSTED_PREFIX.as_bytes()) {
        return FileFormat::Unknown;
    }
    let Some(raw) = lines
        .get(1)
        .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok())
    else {
        return FileFormat::Unknown;
    };
    let alg = raw.get(..2);
    match (raw.len(), alg) {
        (42, Some(b"Ed")) => {
            let comment = String::from_utf8_lossy(first).to_ascii_lowercase();
            let made_by = if comment.contains("minisign") {
                Some(Tool::Minisign)
            } else if comment.contains("signify") {
                Some(Tool::Signify)
            } else {
                None
            };
            FileFormat::PublicKey { made_by }
        }
        (74, Some(b"ED")) => FileFormat::MinisignSignature,
        (74, Some(b"Ed")) => {
            let trusted = lines
                .get(2)
                .is_some_and(|l| l.starts_with(TRUSTED_PREFIX.as_bytes()));
            if trusted {
                FileFormat::MinisignSignature
            } else {
                FileFormat::SignifySignature
            }
        }
        // minisign: "Ed" kdf(2) chk(2) salt(32) opslimit(8) memlimit(8) keynum_sk(104)
        (158, Some(b"Ed")) => FileFormat::SecretKey(Tool::Minisign),
        // signify: "Ed" "BK" rounds(4) salt(16) checksum(8) keynum(8) seckey(64)
        (104, Some(b"Ed")) if raw.get(2..4) == Some(b"BK") => FileFormat::SecretKey(Tool::Signify),
        _ => FileFormat::Unknown,
    }
}

/// Read at most `MAX_SIG_FILE` bytes of `path`. With `whole`, a longer file is an error;
/// without, the rest is not read (signify only looks at the first two lines).
pub fn read_limited(path: &Path, what: &'static str, whole: bool) -> Result<Vec<u8>, SigError> {
    let err = |source| SigError::Read {
        what,
        path: path.to_path_buf(),
        source,
    };
    if whole {
        return crate::util::read_file_bounded(path, MAX_SIG_FILE).map_err(|e| {
            if crate::util::is_too_large(&e) {
                SigError::TooLarge {
                    what,
                    limit: MAX_SIG_FILE,
                }
            } else {
                err(e)
            }
        });
    }
    // only the head is looked at: the rest is never read
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SIG_FILE).read_to_end(&mut buf))
        .map_err(err)?;
    Ok(buf)
}

/// Read all of `reader` into memory, refusing more than `limit` bytes.
pub(crate) fn read_bounded(
    reader: impl Read,
    limit: u64,
    tool: &'static str,
) -> Result<Vec<u8>, SigError> {
    crate::util::read_bounded(reader, limit).map_err(|e| {
        if crate::util::is_too_large(&e) {
            SigError::MessageTooLarge { tool, limit }
        } else {
            SigError::Io(e)
        }
    })
}

/// Lines of a file split on `\n`, each without its `\r\n` / `\n` ending.
pub(crate) struct Lines<'a> {
    lines: Vec<&'a [u8]>,
}

impl<'a> Lines<'a> {
    /// Split at most the first 8 lines (no format here has more); the 8th holds the rest.
    pub(crate) fn new(bytes: &'a [u8]) -> Lines<'a> {
        let lines = bytes
            .splitn(8, |b| *b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .collect();
        Lines { lines }
    }

    /// Line `i` (0-based), if present.
    pub(crate) fn get(&self, i: usize) -> Option<&'a [u8]> {
        self.lines.get(i).copied()
    }

    /// Error unless every line from `i` on is blank.
    pub(crate) fn only_blank_after(&self, i: usize, what: &'static str) -> Result<(), SigError> {
        let extra = self
            .lines
            .iter()
            .skip(i)
            .any(|l| l.iter().any(|b| !b.is_ascii_whitespace()));
        if extra {
            return Err(malformed(
                what,
                &format!("unexpected content after line {i}"),
            ));
        }
        Ok(())
    }
}

/// The text of an untrusted comment line (after the prefix), checked for prefix and length.
pub(crate) fn untrusted_comment(
    line: Option<&[u8]>,
    what: &'static str,
) -> Result<String, SigError> {
    let line = line.ok_or_else(|| malformed(what, "the file is empty"))?;
    if line.len() > MAX_UNTRUSTED_COMMENT {
        return Err(malformed(
            what,
            &format!("the untrusted comment is over {MAX_UNTRUSTED_COMMENT} bytes"),
        ));
    }
    let rest = line
        .strip_prefix(UNTRUSTED_PREFIX.as_bytes())
        .ok_or_else(|| {
            malformed(
                what,
                "the first line must start with \"untrusted comment: \"",
            )
        })?;
    Ok(String::from_utf8_lossy(rest).into_owned())
}

/// Decode a standard (padded) base64 line into exactly `N` bytes.
pub(crate) fn decode_fixed<const N: usize>(
    line: &[u8],
    what: &'static str,
) -> Result<[u8; N], SigError> {
    // Base64 of N bytes is at most 4 * ceil(N / 3) characters; refuse longer before decoding.
    if line.len() > N.div_ceil(3) * 4 {
        return Err(malformed(
            what,
            &format!("the base64 line is too long for {N} bytes"),
        ));
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(line)
        .map_err(|e| malformed(what, &format!("invalid base64: {e}")))?;
    raw.try_into().map_err(|raw: Vec<u8>| {
        malformed(
            what,
            &format!("decodes to {} bytes, expected {N}", raw.len()),
        )
    })
}

pub(crate) fn malformed(what: &'static str, message: &str) -> SigError {
    SigError::Malformed {
        what,
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by `minisign -G` and `signify-openbsd -G` (test keys, never used elsewhere).
    const MINISIGN_PUB: &str = "untrusted comment: minisign public key 9CC2D6835FC0BB05\n\
        RWQFu8Bfg9bCnB6odcbk/jVa5QUlMwNEGS+gyAt56eeF/fZQlZdjyzut\n";
    const SIGNIFY_PUB: &str = "untrusted comment: signify public key\n\
        RWQvLn2Q3KFPgisPvkdxV2jL4q7GZygoCdTMTkVGq2iTIm0jpas9Ulh1\n";

    #[test]
    fn key_id_prints_like_minisign() {
        let k = PublicKey::parse(MINISIGN_PUB.as_bytes()).unwrap();
        assert_eq!(k.id().to_string(), "9CC2D6835FC0BB05");
        assert_eq!(k.comment(), "minisign public key 9CC2D6835FC0BB05");
        let bare =
            PublicKey::from_base64("RWQFu8Bfg9bCnB6odcbk/jVa5QUlMwNEGS+gyAt56eeF/fZQlZdjyzut");
        assert_eq!(bare.unwrap().id(), k.id());
    }

    #[test]
    fn key_parse_rejects_bad_shapes() {
        let no_prefix = MINISIGN_PUB.replacen("untrusted comment: ", "comment: ", 1);
        assert!(matches!(
            PublicKey::parse(no_prefix.as_bytes()),
            Err(SigError::Malformed { .. })
        ));
        let short = MINISIGN_PUB.replacen("RWQF", "RWQ", 1);
        assert!(matches!(
            PublicKey::parse(short.as_bytes()),
            Err(SigError::Malformed { .. })
        ));
        let extra = format!("{MINISIGN_PUB}more\n");
        assert!(matches!(
            PublicKey::parse(extra.as_bytes()),
            Err(SigError::Malformed { .. })
        ));
        // Same bytes with another algorithm tag: "Ex".
        let raw = base64::engine::general_purpose::STANDARD
            .decode("RWQFu8Bfg9bCnB6odcbk/jVa5QUlMwNEGS+gyAt56eeF/fZQlZdjyzut")
            .unwrap();
        let mut other = raw.clone();
        other[1] = b'x';
        let line = base64::engine::general_purpose::STANDARD.encode(&other);
        let text = format!("untrusted comment: x\n{line}\n");
        assert!(matches!(
            PublicKey::parse(text.as_bytes()),
            Err(SigError::UnknownAlgorithm { .. })
        ));
        // CRLF endings and a trailing blank line are fine.
        let crlf = MINISIGN_PUB.replace('\n', "\r\n") + "\r\n";
        assert!(PublicKey::parse(crlf.as_bytes()).is_ok());
        let long = format!("untrusted comment: {}\n", "x".repeat(MAX_UNTRUSTED_COMMENT));
        assert!(PublicKey::parse(long.as_bytes()).is_err());
    }

    #[test]
    fn detect_formats() {
        assert_eq!(
            detect(MINISIGN_PUB.as_bytes()),
            FileFormat::PublicKey {
                made_by: Some(Tool::Minisign)
            }
        );
        assert_eq!(
            detect(SIGNIFY_PUB.as_bytes()),
            FileFormat::PublicKey {
                made_by: Some(Tool::Signify)
            }
        );
        let renamed = SIGNIFY_PUB.replace("signify public key", "release key");
        assert_eq!(
            detect(renamed.as_bytes()),
            FileFormat::PublicKey { made_by: None }
        );
        let minisig = "untrusted comment: signature from minisign secret key\n\
            RUQFu8Bfg9bCnD3o8c573K1ks9sqKHOmbmqQCncuUNnNP6J/dwRcfWi2ogfmz2MsJvc+UZA5h41wojQQtSR9sZBb6a8EAjvoWwc=\n\
            trusted comment: timestamp:1795676574\tfile:f\thashed\n\
            K0Sgyp6WdJH9QZ+dU5UzuIpi/uh0omSGSi15EW3hSI1mV0vZ8JK2MugZy/i4bOTrYAY8mtZHhHaQGgoEo25ECA==\n";
        assert_eq!(detect(minisig.as_bytes()), FileFormat::MinisignSignature);
        let sig = "untrusted comment: verify with s.pub\n\
            RWQvLn2Q3KFPggjs5uXDIc8Z98VO3SHGJnUgGI/oTHHfXboLEZhNL/9IoVtmw/gABrxeQNWC2d0QruNJa4o9V106XoXNPc//QQw=\n";
        assert_eq!(detect(sig.as_bytes()), FileFormat::SignifySignature);
        // Embedded signify signature: the message follows the two lines.
        assert_eq!(
            detect(format!("{sig}hello\n").as_bytes()),
            FileFormat::SignifySignature
        );
        assert_eq!(
            detect(b"-----BEGIN PUBLIC KEY-----\nMCow\n"),
            FileFormat::Pem
        );
        assert_eq!(detect(b"  {\"mediaType\": 1}"), FileFormat::Json);
        assert_eq!(
            detect(b"untrusted comment: x\nnot base64!\n"),
            FileFormat::Unknown
        );
        assert_eq!(detect(b"hello"), FileFormat::Unknown);
        assert_eq!(detect(b""), FileFormat::Unknown);
        let sk = format!(
            "untrusted comment: signify secret key\n{}\n",
            base64::engine::general_purpose::STANDARD
                .encode([b"EdBK".as_slice(), &[0u8; 100]].concat())
        );
        assert_eq!(detect(sk.as_bytes()), FileFormat::SecretKey(Tool::Signify));
    }

    #[test]
    fn read_limits() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, vec![b'a'; MAX_SIG_FILE as usize + 10]).unwrap();
        assert!(matches!(
            read_limited(&p, "x", true),
            Err(SigError::TooLarge { .. })
        ));
        assert_eq!(
            read_limited(&p, "x", false).unwrap().len(),
            MAX_SIG_FILE as usize
        );
        assert!(matches!(
            read_limited(&dir.path().join("missing"), "x", true),
            Err(SigError::Read { .. })
        ));
        assert_eq!(read_bounded(&b"abc"[..], 3, "t").unwrap(), b"abc");
        assert!(matches!(
            read_bounded(&b"abcd"[..], 3, "t"),
            Err(SigError::MessageTooLarge { .. })
        ));
    }
}
