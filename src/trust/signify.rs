//! signify (OpenBSD) signatures: parsing `.sig` files (only the first two lines, as signify
//! does) and verifying them over a file. signify signs the raw file with Ed25519, so the
//! file is read into memory, up to a limit.

use super::detached::{
    decode_fixed, malformed, read_bounded, read_limited, untrusted_comment, KeyId, Lines,
    PublicKey, SigError, MAX_SIG_FILE,
};
use std::io::Read;
use std::path::Path;

pub use super::detached::DEFAULT_MAX_RAW_MESSAGE;

const WHAT: &str = "signify signature";

/// A parsed signify signature (`untrusted comment: ...` and base64 of `"Ed"` ‖ key
/// number (8) ‖ Ed25519 signature (64)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    key_id: KeyId,
    sig: [u8; 64],
    comment: String,
}

/// A signature that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The id of the key that verified.
    pub key_id: KeyId,
    /// The untrusted comment, for display only (signify signs no comment).
    pub untrusted_comment: String,
    /// Bytes of the file read.
    pub bytes: u64,
}

impl Signature {
    /// Parse the first two lines of a signature file. Anything after them (an embedded
    /// message from `signify -S -e`, or the checksum list of a `-C` file) is ignored here.
    pub fn parse(bytes: &[u8]) -> Result<Signature, SigError> {
        let bytes = &bytes[..bytes.len().min(MAX_SIG_FILE as usize)];
        let lines = Lines::new(bytes);
        let comment = untrusted_comment(lines.get(0), WHAT)?;
        let sig_line = lines
            .get(1)
            .ok_or_else(|| malformed(WHAT, "no signature line after the comment"))?;
        if lines.get(2).is_none() {
            // signify writes "\n" after the signature line; a file cut short lacks it.
            return Err(malformed(
                WHAT,
                "the signature line does not end with a newline",
            ));
        }
        let raw: [u8; 74] = decode_fixed(sig_line, WHAT)?;
        if &raw[..2] != b"Ed" {
            return Err(SigError::UnknownAlgorithm {
                what: WHAT,
                tool: "signify",
                alg: String::from_utf8_lossy(&raw[..2]).into_owned(),
            });
        }
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&raw[2..10]);
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&raw[10..]);
        Ok(Signature {
            key_id: KeyId(key_id),
            sig,
            comment,
        })
    }

    /// Read (at most [`MAX_SIG_FILE`] bytes of) a signature file and parse it.
    pub fn load(path: &Path) -> Result<Signature, SigError> {
        Signature::parse(&read_limited(path, WHAT, false)?)
    }

    /// The key number of the key that made it.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The untrusted comment (signify writes `verify with KEY.pub`).
    pub fn comment(&self) -> &str {
        &self.comment
    }
}

/// Verify `sig` by `key` over everything `reader` yields, refusing more than `max_bytes`.
/// The key number must match (signify: "checked against wrong key").
pub fn verify_reader(
    sig: &Signature,
    key: &PublicKey,
    reader: impl Read,
    max_bytes: u64,
) -> Result<Verified, SigError> {
    if sig.key_id != key.id() {
        return Err(SigError::KeyIdMismatch {
            signature: sig.key_id,
            key: key.id(),
        });
    }
    let msg = read_bounded(reader, max_bytes, "signify")?;
    if !key.verify(&msg, &sig.sig) {
        return Err(SigError::BadSignature);
    }
    Ok(Verified {
        key_id: sig.key_id,
        untrusted_comment: sig.comment.clone(),
        bytes: msg.len() as u64,
    })
}

/// Verify `sig` by `key` over the file at `path`; a file over `max_bytes` is refused unread.
pub fn verify_file(
    sig: &Signature,
    key: &PublicKey,
    path: &Path,
    max_bytes: u64,
) -> Result<Verified, SigError> {
    let read_err = |source| SigError::Read {
        what: "signed file",
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(read_err)?;
    if f.metadata().map_err(read_err)?.len() > max_bytes {
        return Err(SigError::MessageTooLarge {
            tool: "signify",
            limit: max_bytes,
        });
    }
    verify_reader(sig, key, f, max_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by signify-openbsd 31 (`-G -n`, `-S` over "hello\n"); test key only.
    const PUB: &str = "untrusted comment: signify public key\n\
        RWQvLn2Q3KFPgisPvkdxV2jL4q7GZygoCdTMTkVGq2iTIm0jpas9Ulh1\n";
    const SIG: &str = "untrusted comment: verify with s.pub\n\
        RWQvLn2Q3KFPggjs5uXDIc8Z98VO3SHGJnUgGI/oTHHfXboLEZhNL/9IoVtmw/gABrxeQNWC2d0QruNJa4o9V106XoXNPc//QQw=\n";

    fn key() -> PublicKey {
        PublicKey::parse(PUB.as_bytes()).unwrap()
    }

    #[test]
    fn verifies_and_rejects_changes() {
        let sig = Signature::parse(SIG.as_bytes()).unwrap();
        let v = verify_reader(&sig, &key(), &b"hello\n"[..], DEFAULT_MAX_RAW_MESSAGE).unwrap();
        assert_eq!(v.bytes, 6);
        assert_eq!(v.untrusted_comment, "verify with s.pub");
        assert!(matches!(
            verify_reader(&sig, &key(), &b"hello"[..], DEFAULT_MAX_RAW_MESSAGE),
            Err(SigError::BadSignature)
        ));
        assert!(matches!(
            verify_reader(&sig, &key(), &b"hello\n"[..], 5),
            Err(SigError::MessageTooLarge { .. })
        ));
    }

    #[test]
    fn only_first_two_lines_count() {
        // An embedded signature (`signify -S -e`) parses the same; the comment is unsigned.
        let embedded = format!("{SIG}hello\n");
        let sig = Signature::parse(embedded.as_bytes()).unwrap();
        assert!(verify_reader(&sig, &key(), &b"hello\n"[..], 100).is_ok());
        let recommented = SIG.replace("verify with s.pub", "anything at all");
        let sig = Signature::parse(recommented.as_bytes()).unwrap();
        assert!(verify_reader(&sig, &key(), &b"hello\n"[..], 100).is_ok());
    }

    #[test]
    fn parse_rejects_bad_shapes() {
        let cut = SIG.trim_end();
        assert!(matches!(
            Signature::parse(cut.as_bytes()),
            Err(SigError::Malformed { .. })
        ));
        let no_prefix = SIG.replace("untrusted comment: ", "");
        assert!(Signature::parse(no_prefix.as_bytes()).is_err());
        let short = SIG.replace("RWQv", "RWQ");
        assert!(Signature::parse(short.as_bytes()).is_err());
        // A minisign prehashed signature line has algorithm "ED": not signify's.
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let line = SIG.lines().nth(1).unwrap();
        let mut raw = b64.decode(line).unwrap();
        raw[1] = b'D';
        let ed = SIG.replace(line, &b64.encode(&raw));
        assert!(matches!(
            Signature::parse(ed.as_bytes()),
            Err(SigError::UnknownAlgorithm { .. })
        ));
    }

    #[test]
    fn wrong_key_number() {
        let mini = "untrusted comment: minisign public key 9CC2D6835FC0BB05\n\
            RWQFu8Bfg9bCnB6odcbk/jVa5QUlMwNEGS+gyAt56eeF/fZQlZdjyzut\n";
        let other = PublicKey::parse(mini.as_bytes()).unwrap();
        let sig = Signature::parse(SIG.as_bytes()).unwrap();
        assert!(matches!(
            verify_reader(&sig, &other, &b"hello\n"[..], 100),
            Err(SigError::KeyIdMismatch { .. })
        ));
    }
}
