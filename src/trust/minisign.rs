//! minisign signatures: parsing `.minisig` files and verifying them over a file, prehashed
//! (`ED`, BLAKE2b-512 of the file, streamed) or legacy (`Ed`, the raw file, bounded in
//! size), with the trusted comment checked against the global signature.

use super::detached::{
    decode_fixed, malformed, read_bounded, read_limited, untrusted_comment, KeyId, Lines,
    PublicKey, SigError, DEFAULT_MAX_RAW_MESSAGE, MAX_SIG_FILE, MAX_TRUSTED_COMMENT,
    TRUSTED_PREFIX,
};
pub use super::minisign_sign::{default_trusted_comment, public_key_file, sign_reader};
use blake2::{Blake2b512, Digest};
use std::io::Read;
use std::path::Path;

const WHAT: &str = "minisign signature";

/// What a minisign signature signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// `ED`: the BLAKE2b-512 digest of the file (minisign's default since 0.8).
    Prehashed,
    /// `Ed`: the raw file (`minisign -l`).
    Legacy,
}

impl Algorithm {
    /// `prehashed` or `legacy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Prehashed => "prehashed",
            Algorithm::Legacy => "legacy",
        }
    }
}

/// A parsed `.minisig` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    algorithm: Algorithm,
    key_id: KeyId,
    sig: [u8; 64],
    untrusted_comment: String,
    trusted_comment: Vec<u8>,
    global_sig: [u8; 64],
}

/// A signature that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The id of the key that verified.
    pub key_id: KeyId,
    /// Legacy (Ed25519 over the file) or prehashed (over its BLAKE2b-512).
    pub algorithm: Algorithm,
    /// The trusted comment (signed); invalid UTF-8 is shown with replacement characters.
    pub trusted_comment: String,
    /// Bytes of the file read.
    pub bytes: u64,
}

/// Verification settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Largest file accepted for a legacy signature (it is read into memory).
    pub max_legacy_bytes: u64,
    /// Refuse legacy signatures outright (as `minisign -V -H`).
    pub require_prehashed: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_legacy_bytes: DEFAULT_MAX_RAW_MESSAGE,
            require_prehashed: false,
        }
    }
}

impl Signature {
    /// Parse a signature file: untrusted comment, signature line, `trusted comment:` line,
    /// global signature line; nothing but blank lines after.
    pub fn parse(bytes: &[u8]) -> Result<Signature, SigError> {
        if bytes.len() as u64 > MAX_SIG_FILE {
            return Err(SigError::TooLarge {
                what: WHAT,
                limit: MAX_SIG_FILE,
            });
        }
        let lines = Lines::new(bytes);
        let untrusted_comment = untrusted_comment(lines.get(0), WHAT)?;
        let sig_line = lines
            .get(1)
            .ok_or_else(|| malformed(WHAT, "no signature line after the comment"))?;
        let raw: [u8; 74] = decode_fixed(sig_line, WHAT)?;
        let algorithm = match &raw[..2] {
            b"ED" => Algorithm::Prehashed,
            b"Ed" => Algorithm::Legacy,
            other => {
                return Err(SigError::UnknownAlgorithm {
                    what: WHAT,
                    tool: "minisign",
                    alg: String::from_utf8_lossy(other).into_owned(),
                })
            }
        };
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&raw[2..10]);
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&raw[10..]);

        let trusted_line = lines.get(2).ok_or_else(|| {
            malformed(
                WHAT,
                "no trusted comment line (is this a signify signature?)",
            )
        })?;
        let trusted_comment = trusted_line
            .strip_prefix(TRUSTED_PREFIX.as_bytes())
            .ok_or_else(|| {
                malformed(WHAT, "the third line must start with \"trusted comment: \"")
            })?;
        if trusted_comment.len() > MAX_TRUSTED_COMMENT {
            return Err(malformed(
                WHAT,
                &format!("the trusted comment is over {MAX_TRUSTED_COMMENT} bytes"),
            ));
        }
        let global_line = lines
            .get(3)
            .ok_or_else(|| malformed(WHAT, "no global signature line after the trusted comment"))?;
        let global_sig: [u8; 64] = decode_fixed(global_line, WHAT)?;
        lines.only_blank_after(4, WHAT)?;
        Ok(Signature {
            algorithm,
            key_id: KeyId(key_id),
            sig,
            untrusted_comment,
            trusted_comment: trusted_comment.to_vec(),
            global_sig,
        })
    }

    /// Read and parse a signature file.
    pub fn load(path: &Path) -> Result<Signature, SigError> {
        Signature::parse(&read_limited(path, WHAT, true)?)
    }

    /// Legacy or prehashed, from the signature line.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The id of the key that made it.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The untrusted comment: not covered by any signature.
    pub fn untrusted_comment(&self) -> &str {
        &self.untrusted_comment
    }

    /// The trusted comment, as text (unverified until [`verify_reader`] succeeds).
    pub fn trusted_comment(&self) -> String {
        String::from_utf8_lossy(&self.trusted_comment).into_owned()
    }
}

/// Verify `sig` by `key` over everything `reader` yields. Checks, in order: the key id, the
/// global signature over (signature ‖ trusted comment), then the signature over the data.
pub fn verify_reader(
    sig: &Signature,
    key: &PublicKey,
    mut reader: impl Read,
    opts: &Options,
) -> Result<Verified, SigError> {
    if sig.key_id != key.id() {
        return Err(SigError::KeyIdMismatch {
            signature: sig.key_id,
            key: key.id(),
        });
    }
    let mut global_msg = Vec::with_capacity(64 + sig.trusted_comment.len());
    global_msg.extend_from_slice(&sig.sig);
    global_msg.extend_from_slice(&sig.trusted_comment);
    if !key.verify(&global_msg, &sig.global_sig) {
        return Err(SigError::BadTrustedComment);
    }
    let (ok, bytes) = match sig.algorithm {
        Algorithm::Prehashed => {
            let mut h = Blake2b512::new();
            let mut buf = vec![0u8; 256 * 1024];
            let mut total = 0u64;
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(SigError::Io(e)),
                };
                h.update(&buf[..n]);
                total += n as u64;
            }
            (key.verify(&h.finalize(), &sig.sig), total)
        }
        Algorithm::Legacy => {
            if opts.require_prehashed {
                return Err(SigError::LegacyRefused);
            }
            let msg = read_bounded(reader, opts.max_legacy_bytes, "legacy minisign")?;
            (key.verify(&msg, &sig.sig), msg.len() as u64)
        }
    };
    if !ok {
        return Err(SigError::BadSignature);
    }
    Ok(Verified {
        key_id: sig.key_id,
        algorithm: sig.algorithm,
        trusted_comment: sig.trusted_comment(),
        bytes,
    })
}

/// Verify `sig` by `key` over the file at `path` (streamed for prehashed signatures; a
/// legacy signature over a file larger than `opts.max_legacy_bytes` is refused unread).
pub fn verify_file(
    sig: &Signature,
    key: &PublicKey,
    path: &Path,
    opts: &Options,
) -> Result<Verified, SigError> {
    let read_err = |source| SigError::Read {
        what: "signed file",
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(read_err)?;
    if sig.algorithm == Algorithm::Legacy && !opts.require_prehashed {
        let len = f.metadata().map_err(read_err)?.len();
        if len > opts.max_legacy_bytes {
            return Err(SigError::MessageTooLarge {
                tool: "legacy minisign",
                limit: opts.max_legacy_bytes,
            });
        }
    }
    verify_reader(sig, key, f, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by minisign 0.11 (`-G -W`; `-S` and `-S -l` over "hello\n"); test key only.
    const PUB: &str = "untrusted comment: minisign public key 9CC2D6835FC0BB05\n\
        RWQFu8Bfg9bCnB6odcbk/jVa5QUlMwNEGS+gyAt56eeF/fZQlZdjyzut\n";
    const HASHED: &str = "untrusted comment: signature from minisign secret key\n\
        RUQFu8Bfg9bCnD3o8c573K1ks9sqKHOmbmqQCncuUNnNP6J/dwRcfWi2ogfmz2MsJvc+UZA5h41wojQQtSR9sZBb6a8EAjvoWwc=\n\
        trusted comment: timestamp:1795676574\tfile:f\thashed\n\
        K0Sgyp6WdJH9QZ+dU5UzuIpi/uh0omSGSi15EW3hSI1mV0vZ8JK2MugZy/i4bOTrYAY8mtZHhHaQGgoEo25ECA==\n";
    const LEGACY: &str = "untrusted comment: signature from minisign secret key\n\
        RWQFu8Bfg9bCnLwvGvyzKYJ7+0R2rJImk5noBigg/xieMqvtcr9qM7H6tUv+VJ2Hcmm5+Mli+zE0esdjAzFKgRU73uLpsL196wk=\n\
        trusted comment: timestamp:1795676574\tfile:f\n\
        T4sgase1uM7kuP4PjNYcGfNmlS5eB4VN7r6dZxMirsLqC2kvbpJhzQXI1lG/7eliqjYk4jS5A8K1qcd0/lQTDA==\n";

    fn key() -> PublicKey {
        PublicKey::parse(PUB.as_bytes()).unwrap()
    }

    #[test]
    fn prehashed_verifies_and_rejects_changes() {
        let sig = Signature::parse(HASHED.as_bytes()).unwrap();
        assert_eq!(sig.algorithm(), Algorithm::Prehashed);
        let v = verify_reader(&sig, &key(), &b"hello\n"[..], &Options::default()).unwrap();
        assert_eq!(v.trusted_comment, "timestamp:1795676574\tfile:f\thashed");
        assert_eq!(v.key_id.to_string(), "9CC2D6835FC0BB05");
        assert_eq!(v.bytes, 6);
        assert!(matches!(
            verify_reader(&sig, &key(), &b"hellp\n"[..], &Options::default()),
            Err(SigError::BadSignature)
        ));
    }

    #[test]
    fn legacy_verifies_within_its_limit() {
        let sig = Signature::parse(LEGACY.as_bytes()).unwrap();
        assert_eq!(sig.algorithm(), Algorithm::Legacy);
        assert!(verify_reader(&sig, &key(), &b"hello\n"[..], &Options::default()).is_ok());
        assert!(matches!(
            verify_reader(&sig, &key(), &b"Hello\n"[..], &Options::default()),
            Err(SigError::BadSignature)
        ));
        let small = Options {
            max_legacy_bytes: 5,
            ..Options::default()
        };
        assert!(matches!(
            verify_reader(&sig, &key(), &b"hello\n"[..], &small),
            Err(SigError::MessageTooLarge { .. })
        ));
        let strict = Options {
            require_prehashed: true,
            ..Options::default()
        };
        assert!(matches!(
            verify_reader(&sig, &key(), &b"hello\n"[..], &strict),
            Err(SigError::LegacyRefused)
        ));
    }

    #[test]
    fn trusted_comment_is_covered() {
        let tampered = HASHED.replace("file:f\thashed", "file:g\thashed");
        let sig = Signature::parse(tampered.as_bytes()).unwrap();
        assert!(matches!(
            verify_reader(&sig, &key(), &b"hello\n"[..], &Options::default()),
            Err(SigError::BadTrustedComment)
        ));
    }

    #[test]
    fn algorithm_swap_is_caught() {
        // Relabel the prehashed signature as legacy: the key id and comment still verify,
        // but the signature is over the digest, not the raw file.
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let line = HASHED.lines().nth(1).unwrap();
        let mut raw = b64.decode(line).unwrap();
        raw[1] = b'd';
        let swapped = HASHED.replace(line, &b64.encode(&raw));
        let sig = Signature::parse(swapped.as_bytes()).unwrap();
        assert_eq!(sig.algorithm(), Algorithm::Legacy);
        assert!(verify_reader(&sig, &key(), &b"hello\n"[..], &Options::default()).is_err());
        raw[0] = b'X';
        let unknown = HASHED.replace(line, &b64.encode(&raw));
        assert!(matches!(
            Signature::parse(unknown.as_bytes()),
            Err(SigError::UnknownAlgorithm { .. })
        ));
    }

    #[test]
    fn key_id_must_match() {
        let other = "untrusted comment: other\n\
            RWQvLn2Q3KFPgisPvkdxV2jL4q7GZygoCdTMTkVGq2iTIm0jpas9Ulh1\n";
        let other = PublicKey::parse(other.as_bytes()).unwrap();
        let sig = Signature::parse(HASHED.as_bytes()).unwrap();
        assert!(matches!(
            verify_reader(&sig, &other, &b"hello\n"[..], &Options::default()),
            Err(SigError::KeyIdMismatch { .. })
        ));
    }

    #[test]
    fn parse_rejects_bad_shapes() {
        let three: String = HASHED.lines().take(3).map(|l| format!("{l}\n")).collect();
        assert!(matches!(
            Signature::parse(three.as_bytes()),
            Err(SigError::Malformed { .. })
        ));
        let two: String = HASHED.lines().take(2).map(|l| format!("{l}\n")).collect();
        assert!(matches!(
            Signature::parse(two.as_bytes()),
            Err(SigError::Malformed { .. })
        ));
        let no_prefix = HASHED.replace("trusted comment: timestamp", "timestamp");
        assert!(Signature::parse(no_prefix.as_bytes()).is_err());
        let extra = format!("{HASHED}junk\n");
        assert!(Signature::parse(extra.as_bytes()).is_err());
        let long = HASHED.replace("hashed", &"h".repeat(MAX_TRUSTED_COMMENT));
        assert!(Signature::parse(long.as_bytes()).is_err());
        let crlf = HASHED.replace('\n', "\r\n");
        let sig = Signature::parse(crlf.as_bytes()).unwrap();
        assert!(verify_reader(&sig, &key(), &b"hello\n"[..], &Options::default()).is_ok());
    }
}
